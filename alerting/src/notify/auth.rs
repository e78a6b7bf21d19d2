//! Credentials a notifier sends in `Authorization`, for a receiver behind an
//! authenticating proxy (an Alertmanager behind oauth2-proxy or an ingress with basic
//! auth). Like signing secrets they stay in the environment, named in the notifiers file,
//! and are never shown.

use std::fmt;

use reqwest::RequestBuilder;

/// `Authorization` of every request to one notifier.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic <base64(user:password)>`.
    Basic { user: String, password: String },
}

impl Auth {
    /// A bearer token, from the value of `bearer_token_env`.
    pub(crate) fn bearer(value: &str) -> Result<Auth, &'static str> {
        let token = value.trim();
        if token.is_empty() {
            return Err("is empty");
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("holds whitespace: expected the token alone, without `Bearer`");
        }
        Ok(Auth::Bearer(token.to_string()))
    }

    /// A user and password, from the value of `basic_auth_env`: `user:password`.
    pub(crate) fn basic(value: &str) -> Result<Auth, &'static str> {
        let value = value.trim_end_matches(['\r', '\n']);
        match value.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok(Auth::Basic {
                user: user.to_string(),
                password: password.to_string(),
            }),
            _ => Err("is not in the user:password form"),
        }
    }

    pub(crate) fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer <redacted>"),
            Auth::Basic { .. } => f.write_str("Basic <redacted>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_and_never_shown() {
        let bearer = Auth::bearer("s3cr3t-t0ken\n").unwrap();
        assert_eq!(bearer, Auth::Bearer("s3cr3t-t0ken".into()));
        let basic = Auth::basic("ops:pa:ss").unwrap();
        assert_eq!(
            basic,
            Auth::Basic {
                user: "ops".into(),
                password: "pa:ss".into()
            }
        );
        for auth in [bearer, basic] {
            let shown = format!("{auth:?}");
            assert!(
                !shown.contains("s3cr3t") && !shown.contains("pa:ss"),
                "{shown}"
            );
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        assert!(Auth::bearer(" ").is_err());
        assert!(Auth::bearer("Bearer abc").is_err());
        assert!(Auth::basic("no-colon").is_err());
        assert!(Auth::basic(":password").is_err());
    }
}
