//! Reading and validating variables: one typed parser per [`Kind`], applied to the value
//! from the environment or to the declared default.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Kind, VarSpec};

/// A snapshot of the environment. Libraries receive it instead of reading the process
/// environment, so tests pass exactly the variables they mean.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

/// A `LOGPIPE_*` variable no role declares, with the declared name it most resembles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVar {
    pub name: String,
    pub closest: Option<&'static str>,
}

const PREFIX: &str = "LOGPIPE_";
/// Names closer than this (normalized Levenshtein similarity) are suggested.
const SUGGESTION_SIMILARITY: f64 = 0.7;

impl Env {
    pub fn from_process() -> Self {
        Env::from_pairs(std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        }))
    }

    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }

    /// A variable that is not logpipe's own (`KUBECONFIG`); `None` when unset or empty.
    pub fn foreign(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Whether the variable is present (even when empty).
    pub fn is_set(&self, spec: &VarSpec) -> bool {
        self.vars.contains_key(spec.name)
    }

    /// Variables whose names start with `prefix`, with the prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .filter_map(|(name, value)| {
                name.strip_prefix(prefix)
                    .filter(|rest| !rest.is_empty())
                    .map(|rest| (rest.to_owned(), value.clone()))
            })
            .collect()
    }

    /// The clouds' credential and endpoint variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`),
    /// whole, as object storage clients read them.
    pub fn cloud_variables(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter(|(name, _)| {
                ["AWS_", "GOOGLE_", "AZURE_"]
                    .iter()
                    .any(|cloud| name.len() > cloud.len() && name.starts_with(cloud))
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    /// Every `LOGPIPE_*` variable that is neither declared in `known` nor starts with one
    /// of `known_prefixes`.
    pub fn unknown_vars(&self, known: &[&VarSpec], known_prefixes: &[&str]) -> Vec<UnknownVar> {
        self.vars
            .keys()
            .filter(|name| name.starts_with(PREFIX))
            .filter(|name| !known.iter().any(|spec| spec.name == name.as_str()))
            .filter(|name| !known_prefixes.iter().any(|prefix| name.starts_with(prefix)))
            .map(|name| UnknownVar {
                name: name.clone(),
                closest: known
                    .iter()
                    .map(|spec| (spec.name, strsim::normalized_levenshtein(name, spec.name)))
                    .filter(|(_, similarity)| *similarity >= SUGGESTION_SIMILARITY)
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(name, _)| name),
            })
            .collect()
    }

    /// The value to parse: the variable's, else the declared default.
    fn value(&self, spec: &VarSpec) -> Option<&str> {
        self.vars
            .get(spec.name)
            .map(String::as_str)
            .or(spec.default)
    }

    fn invalid(spec: &VarSpec, value: &str) -> ConfigError {
        ConfigError::Invalid {
            var: spec.name.to_owned(),
            value: if spec.secret {
                "***".to_owned()
            } else {
                value.to_owned()
            },
            expected: spec.expected(),
        }
    }

    fn required<'a>(&'a self, spec: &VarSpec) -> Result<&'a str, ConfigError> {
        self.value(spec).ok_or_else(|| ConfigError::Missing {
            var: spec.name.to_owned(),
            expected: spec.expected(),
        })
    }

    fn parse<T>(
        &self,
        spec: &VarSpec,
        kind_matches: bool,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        assert!(kind_matches, "{} is declared as {:?}", spec.name, spec.kind);
        match self.value(spec) {
            None => Ok(None),
            Some(value) => parse(value)
                .map(Some)
                .ok_or_else(|| Self::invalid(spec, value)),
        }
    }

    fn require<T>(&self, spec: &VarSpec, parsed: Option<T>) -> Result<T, ConfigError> {
        match parsed {
            Some(value) => Ok(value),
            None => self
                .required(spec)
                .map(|_| unreachable!("a value parses or errors")),
        }
    }

    /// Text; `None` when unset without default.
    pub fn text_opt(&self, spec: &VarSpec) -> Result<Option<String>, ConfigError> {
        self.parse(spec, spec.kind == Kind::Text, |value| {
            Some(value.to_owned())
        })
    }

    /// Non-empty text.
    pub fn text(&self, spec: &VarSpec) -> Result<String, ConfigError> {
        let value = self.required(spec)?;
        if value.trim().is_empty() {
            return Err(ConfigError::Invalid {
                var: spec.name.to_owned(),
                value: value.to_owned(),
                expected: "non-empty text".to_owned(),
            });
        }
        Ok(value.to_owned())
    }

    pub fn path(&self, spec: &VarSpec) -> Result<PathBuf, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::Path, parse_path)?;
        self.require(spec, parsed)
    }

    pub fn path_opt(&self, spec: &VarSpec) -> Result<Option<PathBuf>, ConfigError> {
        self.parse(spec, spec.kind == Kind::Path, parse_path)
    }

    pub fn duration(&self, spec: &VarSpec) -> Result<Duration, ConfigError> {
        let unit = bare_number_unit(spec.name);
        let parsed = self.parse(spec, spec.kind == Kind::Duration, |value| {
            parse_duration(value, unit)
        })?;
        self.require(spec, parsed)
    }

    pub fn size(&self, spec: &VarSpec) -> Result<u64, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::Size, parse_size)?;
        self.require(spec, parsed)
    }

    /// A size of at least one byte, as a `usize`.
    pub fn positive_size(&self, spec: &VarSpec) -> Result<usize, ConfigError> {
        match self.size(spec)? {
            0 => Err(ConfigError::Invalid {
                var: spec.name.to_owned(),
                value: "0".into(),
                expected: "a size above zero".into(),
            }),
            size => Ok(usize::try_from(size).unwrap_or(usize::MAX)),
        }
    }

    pub fn size_opt(&self, spec: &VarSpec) -> Result<Option<u64>, ConfigError> {
        self.parse(spec, spec.kind == Kind::Size, parse_size)
    }

    pub fn url(&self, spec: &VarSpec) -> Result<url::Url, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::Url, parse_url)?;
        self.require(spec, parsed)
    }

    pub fn port(&self, spec: &VarSpec) -> Result<u16, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::Port, |value| {
            value.trim().parse().ok()
        })?;
        self.require(spec, parsed)
    }

    pub fn bool(&self, spec: &VarSpec) -> Result<bool, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::Bool, parse_bool)?;
        self.require(spec, parsed)
    }

    pub fn list(&self, spec: &VarSpec) -> Result<Vec<String>, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::List, parse_list)?;
        self.require(spec, parsed)
    }

    pub fn host_ports(&self, spec: &VarSpec) -> Result<Vec<String>, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::HostPorts, |value| {
            let items = parse_list(value)?;
            items.iter().all(|item| is_host_port(item)).then_some(items)
        })?;
        self.require(spec, parsed)
    }

    pub fn integer(&self, spec: &VarSpec) -> Result<i64, ConfigError> {
        let Kind::Integer { min, max } = spec.kind else {
            panic!("{} is declared as {:?}", spec.name, spec.kind);
        };
        let parsed = self.parse(spec, true, |value| {
            value
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
        })?;
        self.require(spec, parsed)
    }

    pub fn ip_addr(&self, spec: &VarSpec) -> Result<IpAddr, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::IpAddr, |value| {
            value.trim().parse().ok()
        })?;
        self.require(spec, parsed)
    }

    pub fn log_filter(&self, spec: &VarSpec) -> Result<String, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::LogFilter, |value| {
            let value = value.trim();
            (!value.is_empty() && tracing_subscriber::EnvFilter::try_new(value).is_ok())
                .then(|| value.to_owned())
        })?;
        self.require(spec, parsed)
    }

    pub fn topic(&self, spec: &VarSpec) -> Result<String, ConfigError> {
        let parsed = self.parse(spec, spec.kind == Kind::Topic, |value| {
            let valid = (1..=249).contains(&value.len())
                && value != "."
                && value != ".."
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            valid.then(|| value.to_owned())
        })?;
        self.require(spec, parsed)
    }
}

/// The unit of a bare number for a duration variable, from its name's suffix.
fn bare_number_unit(name: &str) -> Option<Duration> {
    if name.ends_with("_MS") {
        Some(Duration::from_millis(1))
    } else if name.ends_with("_SECS") {
        Some(Duration::from_secs(1))
    } else {
        None
    }
}

fn parse_path(value: &str) -> Option<PathBuf> {
    (!value.trim().is_empty()).then(|| PathBuf::from(value))
}

fn parse_duration(value: &str, bare_unit: Option<Duration>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(number) = value.parse::<u32>() {
        return bare_unit.map(|unit| unit * number);
    }
    humantime::parse_duration(value).ok()
}

fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(bytes) = value.parse::<u64>() {
        return Some(bytes);
    }
    value
        .parse::<bytesize::ByteSize>()
        .ok()
        .map(|size| size.as_u64())
}

fn parse_url(value: &str) -> Option<url::Url> {
    let parsed = url::Url::parse(value.trim()).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.has_host()).then_some(parsed)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_list(value: &str) -> Option<Vec<String>> {
    let items: Vec<String> = value
        .split(',')
        .map(|item| item.trim().to_owned())
        .collect();
    (!items.iter().any(String::is_empty)).then_some(items)
}

fn is_host_port(item: &str) -> bool {
    let Some((host, port)) = item.rsplit_once(':') else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    !host.is_empty()
        && !host.contains(char::is_whitespace)
        && !host.contains('/')
        && port.parse::<u16>().is_ok_and(|port| port > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DURATION: VarSpec = VarSpec::new("LOGPIPE_T_GRACE", Kind::Duration, Some("10s"), "");
    const DURATION_MS: VarSpec = VarSpec::new("LOGPIPE_T_INTERVAL_MS", Kind::Duration, None, "");
    const SIZE: VarSpec = VarSpec::new("LOGPIPE_T_MAX_BYTES", Kind::Size, Some("1MiB"), "");
    const URL: VarSpec = VarSpec::new("LOGPIPE_T_URL", Kind::Url, None, "");
    const PORT: VarSpec = VarSpec::new("PORT", Kind::Port, Some("8080"), "");
    const BOOL: VarSpec = VarSpec::new("LOGPIPE_T_ENABLED", Kind::Bool, Some("true"), "");
    const LIST: VarSpec = VarSpec::new("LOGPIPE_T_ITEMS", Kind::List, None, "");
    const BROKERS: VarSpec = VarSpec::new(
        "LOGPIPE_T_BROKERS",
        Kind::HostPorts,
        Some("127.0.0.1:9092"),
        "",
    );
    const SECRET: VarSpec = VarSpec::new("LOGPIPE_T_PORT_SECRET", Kind::Port, None, "").secret();

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    fn invalid_var(result: Result<impl std::fmt::Debug, ConfigError>) -> String {
        let error = result.unwrap_err();
        let ConfigError::Invalid { .. } = &error else {
            panic!("expected invalid, got {error:?}");
        };
        error.to_string()
    }

    #[test]
    fn duration() {
        assert_eq!(
            env(&[]).duration(&DURATION).unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(
            env(&[("LOGPIPE_T_GRACE", "1m30s")])
                .duration(&DURATION)
                .unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            env(&[("LOGPIPE_T_INTERVAL_MS", "250")])
                .duration(&DURATION_MS)
                .unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            env(&[("LOGPIPE_T_INTERVAL_MS", "2s")])
                .duration(&DURATION_MS)
                .unwrap(),
            Duration::from_secs(2)
        );
        let message = invalid_var(env(&[("LOGPIPE_T_GRACE", "10")]).duration(&DURATION));
        assert_eq!(
            message,
            "invalid LOGPIPE_T_GRACE=\"10\": expected a duration such as 500ms, 10s, 2m or 1h30m"
        );
        invalid_var(env(&[("LOGPIPE_T_GRACE", "soon")]).duration(&DURATION));
        let missing = env(&[]).duration(&DURATION_MS).unwrap_err();
        assert!(matches!(missing, ConfigError::Missing { .. }));
    }

    #[test]
    fn size() {
        assert_eq!(env(&[]).size(&SIZE).unwrap(), 1 << 20);
        assert_eq!(
            env(&[("LOGPIPE_T_MAX_BYTES", "64KiB")])
                .size(&SIZE)
                .unwrap(),
            65_536
        );
        assert_eq!(
            env(&[("LOGPIPE_T_MAX_BYTES", "10MB")]).size(&SIZE).unwrap(),
            10_000_000
        );
        assert_eq!(
            env(&[("LOGPIPE_T_MAX_BYTES", "512")]).size(&SIZE).unwrap(),
            512
        );
        let message = invalid_var(env(&[("LOGPIPE_T_MAX_BYTES", "lots")]).size(&SIZE));
        assert!(
            message.contains("LOGPIPE_T_MAX_BYTES=\"lots\""),
            "{message}"
        );
        invalid_var(env(&[("LOGPIPE_T_MAX_BYTES", "-1")]).size(&SIZE));
    }

    #[test]
    fn url() {
        let parsed = env(&[("LOGPIPE_T_URL", "http://127.0.0.1:8080/")])
            .url(&URL)
            .unwrap();
        assert_eq!(parsed.port(), Some(8080));
        for bad in ["127.0.0.1:8080", "ftp://host/", "http://", "not a url"] {
            let message = invalid_var(env(&[("LOGPIPE_T_URL", bad)]).url(&URL));
            assert!(
                message.contains("expected an absolute http:// or https:// URL"),
                "{message}"
            );
        }
    }

    #[test]
    fn port() {
        assert_eq!(env(&[]).port(&PORT).unwrap(), 8080);
        assert_eq!(env(&[("PORT", "0")]).port(&PORT).unwrap(), 0);
        let message = invalid_var(env(&[("PORT", "abc")]).port(&PORT));
        assert_eq!(
            message,
            "invalid PORT=\"abc\": expected a TCP port number from 0 to 65535"
        );
        invalid_var(env(&[("PORT", "65536")]).port(&PORT));
    }

    #[test]
    fn bool() {
        assert!(env(&[]).bool(&BOOL).unwrap());
        assert!(!env(&[("LOGPIPE_T_ENABLED", "off")]).bool(&BOOL).unwrap());
        assert!(env(&[("LOGPIPE_T_ENABLED", "YES")]).bool(&BOOL).unwrap());
        let message = invalid_var(env(&[("LOGPIPE_T_ENABLED", "maybe")]).bool(&BOOL));
        assert!(message.ends_with("expected true or false"), "{message}");
    }

    #[test]
    fn list() {
        assert_eq!(
            env(&[("LOGPIPE_T_ITEMS", "a, b,c")]).list(&LIST).unwrap(),
            ["a", "b", "c"]
        );
        invalid_var(env(&[("LOGPIPE_T_ITEMS", "")]).list(&LIST));
        invalid_var(env(&[("LOGPIPE_T_ITEMS", "a,,b")]).list(&LIST));
        assert_eq!(env(&[]).host_ports(&BROKERS).unwrap(), ["127.0.0.1:9092"]);
        assert_eq!(
            env(&[("LOGPIPE_T_BROKERS", "kafka-0.kafka:9092,[::1]:9093")])
                .host_ports(&BROKERS)
                .unwrap(),
            ["kafka-0.kafka:9092", "[::1]:9093"]
        );
        for bad in ["", "kafka", "kafka:abc", "kafka:0", "a:1,"] {
            invalid_var(env(&[("LOGPIPE_T_BROKERS", bad)]).host_ports(&BROKERS));
        }
    }

    #[test]
    fn secrets_are_masked_in_errors() {
        let message = invalid_var(env(&[("LOGPIPE_T_PORT_SECRET", "hunter2")]).port(&SECRET));
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("\"***\""), "{message}");
    }

    #[test]
    fn unknown_vars_suggest_the_closest() {
        let known = [&DURATION, &SIZE, &BROKERS];
        let unknown = env(&[
            ("LOGPIPE_T_BROKER", "x"),
            ("LOGPIPE_T_GRACE", "1s"),
            ("LOGPIPE_KAFKA_PROPERTY_security.protocol", "ssl"),
            ("LOGPIPE_SOMETHING_ELSE_ENTIRELY", "x"),
            ("HOME", "/root"),
        ])
        .unknown_vars(&known, &["LOGPIPE_KAFKA_PROPERTY_"]);
        assert_eq!(
            unknown,
            [
                UnknownVar {
                    name: "LOGPIPE_SOMETHING_ELSE_ENTIRELY".into(),
                    closest: None
                },
                UnknownVar {
                    name: "LOGPIPE_T_BROKER".into(),
                    closest: Some("LOGPIPE_T_BROKERS")
                },
            ]
        );
    }
}
