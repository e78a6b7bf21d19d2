//! Bearer tokens from `LOGPIPE_QUERY_TOKENS_FILE`, each scoped to namespace globs and
//! stored only as the hex SHA-256 of the token:
//!
//! ```yaml
//! - name: shop-auditors
//!   token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!   namespaces: ["shop", "shop-*"]
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use logpipe_language::Scope;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token_sha256: String,
    namespaces: Vec<String>,
}

/// Who a request is, once its token is accepted.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub scope: Scope,
}

/// The configured tokens; with none configured every caller sees everything.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_hash: HashMap<[u8; 32], Caller>,
    enabled: bool,
    /// Every request is refused, for this reason.
    refused: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("a bearer token is required (Authorization: Bearer <token>)")]
    Missing,
    #[error("the bearer token is not valid")]
    Unknown,
    #[error("{0}")]
    Refused(String),
}

impl Tokens {
    /// No access control: only for a service bound to loopback.
    pub fn open() -> Self {
        Tokens::default()
    }

    /// Refuses every request with `reason`.
    pub fn refuse_all(reason: impl Into<String>) -> Self {
        Tokens {
            by_hash: HashMap::new(),
            enabled: true,
            refused: Some(reason.into()),
        }
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("reading {}: {error}", path.display()))?;
        Self::parse(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let entries: Vec<Entry> =
            serde_norway::from_str(text).map_err(|error| error.to_string())?;
        let mut by_hash = HashMap::new();
        for (n, entry) in entries.into_iter().enumerate() {
            let context = format!("token {} ({})", n + 1, entry.name);
            let digest = hex::decode(entry.token_sha256.trim())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| format!("{context}: token_sha256 must be 64 hexadecimal digits"))?;
            let scope = Scope::namespaces(entry.namespaces)
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
            enabled: true,
            refused: None,
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The caller presenting `authorization` (the header's value).
    pub fn authorize(&self, authorization: Option<&str>) -> Result<Caller, Denied> {
        if let Some(reason) = &self.refused {
            return Err(Denied::Refused(reason.clone()));
        }
        if !self.enabled {
            return Ok(Caller {
                name: "anonymous".into(),
                scope: Scope::all(),
            });
        }
        let token = authorization
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then_some(token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(Denied::Missing)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_hash.get(&digest).cloned().ok_or(Denied::Unknown)
    }
}

/// The hex SHA-256 of `token`, as the tokens file stores it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::parse(&format!(
            "- name: shop-auditors\n  token_sha256: {}\n  namespaces: [\"shop\", \"shop-*\"]\n\
             - name: admins\n  token_sha256: {}\n  namespaces: [\"*\"]\n",
            token_hash("shop-secret"),
            token_hash("admin-secret")
        ))
        .unwrap()
    }

    #[test]
    fn a_token_is_known_by_its_hash_only() {
        let tokens = tokens();
        let caller = tokens.authorize(Some("Bearer shop-secret")).unwrap();
        assert_eq!(caller.name, "shop-auditors");
        assert!(caller.scope.allows(Some("shop-eu")));
        assert!(!caller.scope.allows(Some("billing")));
        assert!(
            tokens
                .authorize(Some("bearer admin-secret"))
                .unwrap()
                .scope
                .allows(None)
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
    fn broken_files_say_what_is_wrong() {
        assert!(
            Tokens::parse("- name: a\n  token_sha256: abc\n  namespaces: [x]\n")
                .unwrap_err()
                .contains("64 hexadecimal digits")
        );
        assert!(
            Tokens::parse("- name: a\n  token: abc\n")
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(Tokens::parse("[]").unwrap_err().contains("no tokens"));
        let bad_glob = format!(
            "- name: a\n  token_sha256: {}\n  namespaces: [\"a b\"]\n",
            token_hash("x")
        );
        assert!(
            Tokens::parse(&bad_glob)
                .unwrap_err()
                .contains("not a namespace glob")
        );
        assert!(Tokens::parse("{{{").is_err());
    }
}
