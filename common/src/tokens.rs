//! Bearer tokens from `LOGPIPE_QUERY_TOKENS_FILE`, each scoped to namespace globs and
//! stored only as the hex SHA-256 of the token:
//!
//! ```yaml
//! - name: shop-auditors
//!   token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!   namespaces: ["shop", "shop-*"]
//!   # Optional: only events of pods whose labels satisfy this Kubernetes label selector.
//!   labels: "app in (checkout,cart),!canary"
//! ```
//!
//! The query service, an indexer's search API and the alerting role's rules endpoint read
//! the same file. What a token grants is the caller's type `S` (the search language's
//! `Scope`), built from the globs when the file is read: this crate knows the file, the
//! hashing and the `Authorization` header, not what a scope means.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Env, Kind, VarSpec};

pub const TOKENS_FILE: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_TOKENS_FILE",
    Kind::Path,
    None,
    "YAML list of bearer tokens (name, token_sha256, namespaces globs, optionally a `labels` selector on the pods' labels) for the search API and the alert rules endpoint. Unset: no access control, allowed only when bound to loopback (beyond it the query service refuses to start, and an indexer's search API and the rules endpoint refuse every request).",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token_sha256: String,
    namespaces: Vec<String>,
    /// A label selector the events' pod labels must satisfy.
    #[serde(default)]
    labels: Option<String>,
}

/// Who a request is, once its token is accepted, and what it may see.
#[derive(Debug, Clone)]
pub struct Caller<S> {
    pub name: String,
    pub scope: S,
}

/// The configured tokens; with none configured every caller is anonymous and sees what
/// the `everything` scope given to [`Tokens::open`] allows.
#[derive(Debug, Clone)]
pub struct Tokens<S> {
    by_hash: HashMap<[u8; 32], Caller<S>>,
    /// The caller of every request when no tokens are configured.
    anonymous: Option<Caller<S>>,
    /// Every request is refused, for this reason.
    refused: Option<String>,
}

/// Why a request's token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("a bearer token is required (Authorization: Bearer <token>)")]
    Missing,
    #[error("the bearer token is not valid")]
    Unknown,
    #[error("{0}")]
    Refused(String),
}

impl<S: Clone> Tokens<S> {
    /// No access control: every caller sees `everything`. Only for a service bound to
    /// loopback.
    pub fn open(everything: S) -> Self {
        Tokens {
            by_hash: HashMap::new(),
            anonymous: Some(Caller {
                name: "anonymous".into(),
                scope: everything,
            }),
            refused: None,
        }
    }

    /// Refuses every request with `reason`.
    pub fn refuse_all(reason: impl Into<String>) -> Self {
        Tokens {
            by_hash: HashMap::new(),
            anonymous: None,
            refused: Some(reason.into()),
        }
    }

    /// Reads the tokens file at `path`; `scope` turns a token's globs and label selector
    /// into what it grants and says why when they are not valid.
    pub fn load(
        path: &Path,
        scope: impl Fn(Vec<String>, Option<&str>) -> Result<S, String>,
    ) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("reading {}: {error}", path.display()))?;
        Self::parse(&text, scope).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// The tokens of a file's text (see [`Tokens::load`]).
    pub fn parse(
        text: &str,
        scope: impl Fn(Vec<String>, Option<&str>) -> Result<S, String>,
    ) -> Result<Self, String> {
        let entries: Vec<Entry> =
            serde_norway::from_str(text).map_err(|error| error.to_string())?;
        let mut by_hash = HashMap::new();
        for (n, entry) in entries.into_iter().enumerate() {
            let context = format!("token {} ({})", n + 1, entry.name);
            let digest = stored_digest(&entry.token_sha256)
                .ok_or_else(|| format!("{context}: token_sha256 must be 64 hexadecimal digits"))?;
            let scope = scope(entry.namespaces, entry.labels.as_deref())
                .map_err(|error| format!("{context}: {error}"))?;
            let caller = Caller {
                name: entry.name,
                scope,
            };
            if by_hash.insert(digest, caller).is_some() {
                return Err(format!("{context}: the same token hash appears twice"));
            }
        }
        if by_hash.is_empty() {
            return Err("the file lists no tokens".into());
        }
        Ok(Tokens {
            by_hash,
            anonymous: None,
            refused: None,
        })
    }

    /// The tokens `LOGPIPE_QUERY_TOKENS_FILE` names, with the file's path; unset: no
    /// access control, every caller seeing `everything`.
    pub fn from_env(
        env: &Env,
        everything: S,
        scope: impl Fn(Vec<String>, Option<&str>) -> Result<S, String>,
    ) -> Result<(Option<PathBuf>, Self), ConfigError> {
        let path = env.path_opt(&TOKENS_FILE)?;
        let tokens = match &path {
            Some(path) => Tokens::load(path, scope).map_err(|error| ConfigError::Invalid {
                var: TOKENS_FILE.name.to_owned(),
                value: path.display().to_string(),
                expected: format!("a readable tokens file ({error})"),
            })?,
            None => Tokens::open(everything),
        };
        Ok((path, tokens))
    }

    /// Whether requests need a token (or are all refused): false only for [`Tokens::open`].
    pub fn enabled(&self) -> bool {
        self.anonymous.is_none()
    }

    /// Why every request is refused, for [`Tokens::refuse_all`].
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// The caller presenting `authorization` (the header's value).
    pub fn authorize(&self, authorization: Option<&str>) -> Result<Caller<S>, Denied> {
        if let Some(reason) = &self.refused {
            return Err(Denied::Refused(reason.clone()));
        }
        if let Some(anonymous) = &self.anonymous {
            return Ok(anonymous.clone());
        }
        let token = bearer(authorization).ok_or(Denied::Missing)?;
        self.by_hash
            .get(&digest(token))
            .cloned()
            .ok_or(Denied::Unknown)
    }
}

/// The token of an `Authorization: Bearer <token>` header value (the scheme in any case).
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
        .filter(|token| !token.is_empty())
}

/// The SHA-256 of a presented token, to look it up among the stored ones.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A tokens file's `token_sha256`: 64 hexadecimal digits, or `None`.
pub fn stored_digest(text: &str) -> Option<[u8; 32]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
}

/// The hex SHA-256 of `token`, as the tokens file stores it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for a scope: the globs as given, refusing `|`, then the selector.
    fn globs(mut globs: Vec<String>, labels: Option<&str>) -> Result<Vec<String>, String> {
        if let Some(glob) = globs.iter().find(|glob| glob.contains('|')) {
            return Err(format!("`{glob}` is not a namespace glob"));
        }
        globs.extend(labels.map(|l| format!("labels {l}")));
        Ok(globs)
    }

    fn tokens() -> Tokens<Vec<String>> {
        Tokens::parse(
            &format!(
                "- name: shop-auditors\n  token_sha256: {}\n  namespaces: [\"shop\", \"shop-*\"]\n  labels: \"app=checkout\"\n\
                 - name: admins\n  token_sha256: {}\n  namespaces: [\"*\"]\n",
                token_hash("shop-secret"),
                token_hash("admin-secret")
            ),
            globs,
        )
        .unwrap()
    }

    #[test]
    fn a_token_is_known_by_its_hash_only() {
        let tokens = tokens();
        assert!(tokens.enabled());
        let caller = tokens.authorize(Some("Bearer shop-secret")).unwrap();
        assert_eq!(caller.name, "shop-auditors");
        assert_eq!(caller.scope, ["shop", "shop-*", "labels app=checkout"]);
        assert_eq!(
            tokens.authorize(Some("bearer admin-secret")).unwrap().scope,
            ["*"]
        );
        assert_eq!(tokens.authorize(None).unwrap_err(), Denied::Missing);
        assert_eq!(
            tokens.authorize(Some("Basic abc")).unwrap_err(),
            Denied::Missing
        );
        assert_eq!(
            tokens.authorize(Some("Bearer ")).unwrap_err(),
            Denied::Missing
        );
        assert_eq!(
            tokens.authorize(Some("Bearer nope")).unwrap_err(),
            Denied::Unknown
        );
    }

    #[test]
    fn open_and_refused_tokens_need_no_header() {
        let open = Tokens::open(vec!["everything".to_owned()]);
        assert!(!open.enabled());
        let caller = open.authorize(None).unwrap();
        assert_eq!((caller.name.as_str(), caller.scope.len()), ("anonymous", 1));
        let refused = Tokens::<Vec<String>>::refuse_all("off");
        assert!(refused.enabled());
        assert_eq!(refused.refused(), Some("off"));
        assert_eq!(open.refused(), None);
        assert_eq!(
            refused.authorize(Some("Bearer x")).unwrap_err(),
            Denied::Refused("off".into())
        );
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        let parse = |text: &str| Tokens::parse(text, globs).unwrap_err();
        assert!(
            parse("- name: a\n  token_sha256: abc\n  namespaces: [x]\n")
                .contains("64 hexadecimal digits")
        );
        assert!(parse("- name: a\n  token: abc\n").contains("unknown field"));
        assert!(parse("[]").contains("no tokens"));
        let bad_glob = format!(
            "- name: a\n  token_sha256: {}\n  namespaces: [\"a|b\"]\n",
            token_hash("x")
        );
        assert!(parse(&bad_glob).contains("token 1 (a): `a|b` is not a namespace glob"));
        let twice = format!(
            "- name: a\n  token_sha256: {0}\n  namespaces: [a]\n- name: b\n  token_sha256: {0}\n  namespaces: [b]\n",
            token_hash("x")
        );
        assert!(parse(&twice).contains("appears twice"));
        assert!(Tokens::parse("{{{", globs).is_err());
    }

    #[test]
    fn the_variable_names_the_file_it_could_not_read() {
        let env = Env::from_pairs([(TOKENS_FILE.name, "/nonexistent/tokens.yaml")]);
        let error = Tokens::from_env(&env, Vec::new(), globs).unwrap_err();
        assert_eq!(error.var(), TOKENS_FILE.name);
        let (path, tokens) = Tokens::from_env(&Env::default(), Vec::new(), globs).unwrap();
        assert!(path.is_none() && !tokens.enabled());
    }
}
