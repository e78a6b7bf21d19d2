//! Which `Host` names a service answers to. Without tokens, a service on loopback trusts
//! whoever can reach it; a web page the user visits can reach it too, through DNS
//! rebinding (its own name made to resolve to 127.0.0.1), and read every answer. Such a
//! page's requests carry its own name as `Host`, so a tokenless service answers only to
//! loopback names and the names `LOGPIPE_QUERY_ALLOWED_HOSTS` lists.

use std::net::{IpAddr, Ipv6Addr};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::{ConfigError, Env, Kind, VarSpec};

pub const ALLOWED_HOSTS: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_ALLOWED_HOSTS",
    Kind::List,
    None,
    "Host names (no port) the search API, the web UI and the alert rules endpoint answer to besides loopback ones (localhost, 127.0.0.1, [::1]); a request for another Host gets a 421. Unset: any Host when LOGPIPE_QUERY_TOKENS_FILE is set, loopback names only when it is not (against DNS rebinding).",
);

/// The `Host` names requests may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    /// `None`: any name; else loopback names and these (normalized).
    names: Option<Vec<String>>,
}

/// As the effective configuration shows it: `"any"`, or `["loopback", names…]`.
impl Serialize for AllowedHosts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.names {
            None => serializer.serialize_str("any"),
            Some(names) => serializer
                .collect_seq(std::iter::once("loopback").chain(names.iter().map(String::as_str))),
        }
    }
}

impl AllowedHosts {
    /// Any name.
    pub fn any() -> Self {
        AllowedHosts { names: None }
    }

    /// Loopback names and addresses only.
    pub fn loopback() -> Self {
        AllowedHosts {
            names: Some(Vec::new()),
        }
    }

    /// Reads `LOGPIPE_QUERY_ALLOWED_HOSTS`. Set: loopback names and the listed ones.
    /// Unset: any name when `tokens_required`, loopback names only when not.
    pub fn from_env(env: &Env, tokens_required: bool) -> Result<Self, ConfigError> {
        if !env.is_set(&ALLOWED_HOSTS) {
            return Ok(if tokens_required {
                AllowedHosts::any()
            } else {
                AllowedHosts::loopback()
            });
        }
        let names = env
            .list(&ALLOWED_HOSTS)?
            .into_iter()
            .map(|entry| {
                allowed_name(&entry).ok_or_else(|| ConfigError::Invalid {
                    var: ALLOWED_HOSTS.name.to_owned(),
                    value: entry.clone(),
                    expected:
                        "comma-separated host names or IP addresses, without a port or wildcards"
                            .into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowedHosts { names: Some(names) })
    }

    /// Whether every name is allowed.
    pub fn is_any(&self) -> bool {
        self.names.is_none()
    }

    /// Whether a request whose `Host` is `host` (with or without a port) is answered.
    pub fn allows(&self, host: &str) -> bool {
        let Some(names) = &self.names else {
            return true;
        };
        let name = normalized(without_port(host.trim()));
        is_loopback(&name) || names.contains(&name)
    }
}

/// Middleware refusing requests for a `Host` the state does not allow, with a 421 and a
/// JSON error, before anything else runs.
pub async fn check_host(
    State(allowed): State<AllowedHosts>,
    request: Request,
    next: Next,
) -> Response {
    if allowed.is_any() {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(host) if allowed.allows(&host) => next.run(request).await,
        host => {
            tracing::debug!(
                host = host.as_deref().unwrap_or(""),
                "request refused: host not allowed"
            );
            let message = format!(
                "this service does not answer to the host name {:?}: it answers only to \
                 localhost, loopback addresses and the names in {}",
                host.unwrap_or_default(),
                ALLOWED_HOSTS.name
            );
            (
                StatusCode::MISDIRECTED_REQUEST,
                [(header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
                axum::Json(serde_json::json!({ "error": message })),
            )
                .into_response()
        }
    }
}

/// `name:port`, `[v6]:port` → the name.
fn without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Lower case, no trailing dot, IPv6 in brackets in its canonical form.
fn normalized(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<Ipv6Addr>() {
        Ok(address) => format!("[{address}]"),
        Err(_) => name,
    }
}

fn is_loopback(name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A list entry as compared with requests: a host name or an IP address (IPv6 with or
/// without brackets), with no port and no wildcard.
fn allowed_name(entry: &str) -> Option<String> {
    let entry = entry.trim();
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<Ipv6Addr>().is_ok() {
        return Some(normalized(bare));
    }
    let valid = !entry.is_empty()
        && entry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then(|| normalized(entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(value: &str) -> AllowedHosts {
        AllowedHosts::from_env(&Env::from_pairs([(ALLOWED_HOSTS.name, value)]), true).unwrap()
    }

    #[test]
    fn loopback_names_pass_with_any_port() {
        let loopback = AllowedHosts::loopback();
        for host in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.:80",
            "127.0.0.1",
            "127.0.0.1:3000",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8080",
            "[0:0::1]:8080",
        ] {
            assert!(loopback.allows(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:8080",
            "[::2]:80",
            "",
        ] {
            assert!(!loopback.allows(host), "{host}");
        }
    }

    #[test]
    fn listed_names_pass_besides_loopback() {
        let allowed = listed("logs.example.com, 10.0.0.7,fd00::1");
        assert!(allowed.allows("logs.example.com:8080"));
        assert!(allowed.allows("Logs.Example.Com"));
        assert!(allowed.allows("10.0.0.7"));
        assert!(allowed.allows("[fd00:0::1]:80"));
        assert!(allowed.allows("localhost:1"));
        assert!(!allowed.allows("example.com"));
        assert!(!allowed.allows("logs.example.com.evil.example"));
    }

    #[test]
    fn the_effective_configuration_shows_the_names() {
        assert_eq!(serde_json::to_value(AllowedHosts::any()).unwrap(), "any");
        assert_eq!(
            serde_json::to_value(listed("logs.example.com")).unwrap(),
            serde_json::json!(["loopback", "logs.example.com"])
        );
    }

    #[test]
    fn unset_means_any_host_only_with_tokens() {
        assert!(
            AllowedHosts::from_env(&Env::default(), true)
                .unwrap()
                .is_any()
        );
        assert_eq!(
            AllowedHosts::from_env(&Env::default(), false).unwrap(),
            AllowedHosts::loopback()
        );
    }

    #[test]
    fn entries_with_a_port_or_a_wildcard_are_refused() {
        for value in ["logs.example.com:8080", "*.example.com", "http://logs", ","] {
            let error =
                AllowedHosts::from_env(&Env::from_pairs([(ALLOWED_HOSTS.name, value)]), true)
                    .unwrap_err();
            assert_eq!(error.var(), ALLOWED_HOSTS.name, "{value}");
        }
    }
}
