//! Who may push events over HTTP, and as what: the tokens of
//! `LOGPIPE_COLLECTOR_INGEST_TOKENS_FILE`, stored only as the hex SHA-256 of the token,
//! each bound to the source names it may write (globs) and optionally to a namespace its
//! events are placed in:
//!
//! ```yaml
//! - name: billing-batch
//!   token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!   sources: ["billing", "billing-*"]
//!   namespace: billing
//! ```
//!
//! Names the collector reads itself (`kube-audit` and every host file's name) are written
//! by no token that does not list them by their exact name: a glob such as `*` does not
//! grant them, so no pod can forge the API server's audit log. Without a tokens file,
//! pushes are taken only on a loopback listener, and never for those names.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use globset::{Glob, GlobMatcher};
use logpipe_common::tokens;
use serde::Deserialize;

/// The source name of the API server's audit log, protected whatever the host files are.
pub(crate) const AUDIT_SOURCE: &str = "kube-audit";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token_sha256: String,
    sources: Vec<String>,
    #[serde(default)]
    namespace: Option<String>,
}

/// What an accepted token may do.
#[derive(Debug, Clone)]
pub(crate) struct Pusher {
    /// The token's name, recorded in each event's `source.via`.
    pub name: String,
    /// The namespace its events are placed in, if any.
    pub namespace: Option<String>,
    sources: Vec<(String, GlobMatcher)>,
}

/// Why a push is refused: 401 for the first two, 403 for the others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("a bearer token is required (Authorization: Bearer <token>)")]
    Missing,
    #[error("the bearer token is not valid")]
    Unknown,
    #[error("{0}")]
    Off(String),
    #[error("this token may not write source `{0}`")]
    Source(String),
}

impl Refusal {
    pub(crate) fn is_unauthenticated(&self) -> bool {
        matches!(self, Refusal::Missing | Refusal::Unknown)
    }
}

/// The pushers of the tokens file, or the rule without one.
#[derive(Debug, Clone)]
pub(crate) struct IngestTokens {
    by_hash: HashMap<[u8; 32], Pusher>,
    /// Without a tokens file: every push is anonymous, or refused for this reason.
    anonymous: Result<(), String>,
    configured: bool,
    /// Source names only an exact listing grants.
    protected: BTreeSet<String>,
}

impl IngestTokens {
    /// No tokens file: pushes are anonymous when the listener is on loopback, refused
    /// otherwise.
    pub(crate) fn none(loopback: bool, protected: BTreeSet<String>) -> Self {
        IngestTokens {
            by_hash: HashMap::new(),
            anonymous: if loopback {
                Ok(())
            } else {
                Err("push ingest is off: the collector listens beyond loopback and LOGPIPE_COLLECTOR_INGEST_TOKENS_FILE is unset".to_owned())
            },
            configured: false,
            protected,
        }
    }

    /// Reads the tokens file at `path`.
    pub(crate) fn load(path: &Path, protected: BTreeSet<String>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("reading {}: {error}", path.display()))?;
        Self::parse(&text, protected).map_err(|error| format!("{}: {error}", path.display()))
    }

    pub(crate) fn parse(text: &str, protected: BTreeSet<String>) -> Result<Self, String> {
        let entries: Vec<Entry> = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        let mut by_hash = HashMap::new();
        for (n, entry) in entries.into_iter().enumerate() {
            let context = format!("token {} ({})", n + 1, entry.name);
            let digest = tokens::stored_digest(&entry.token_sha256)
                .ok_or_else(|| format!("{context}: token_sha256 must be 64 hexadecimal digits"))?;
            if entry.sources.is_empty() {
                return Err(format!("{context}: sources lists no source name"));
            }
            let sources = entry
                .sources
                .into_iter()
                .map(|glob| {
                    Glob::new(&glob)
                        .map(|compiled| (glob.clone(), compiled.compile_matcher()))
                        .map_err(|error| format!("{context}: source glob `{glob}`: {error}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let pusher = Pusher {
                name: entry.name,
                namespace: entry.namespace.filter(|ns| !ns.is_empty()),
                sources,
            };
            if by_hash.insert(digest, pusher).is_some() {
                return Err(format!("{context}: the same token is listed twice"));
            }
        }
        Ok(IngestTokens {
            by_hash,
            anonymous: Ok(()),
            configured: true,
            protected,
        })
    }

    /// Who may push `source` with this `Authorization` header value; `None` for an
    /// anonymous push (no tokens file, loopback).
    #[cfg(test)]
    pub(crate) fn authorize(
        &self,
        authorization: Option<&str>,
        source: &str,
    ) -> Result<Option<&Pusher>, Refusal> {
        let pusher = self.authenticate(authorization)?;
        self.permits(pusher, source)?;
        Ok(pusher)
    }

    /// Who pushes with this `Authorization` header value, whatever the source: `None` for
    /// an anonymous push (no tokens file, loopback). An OTLP push is authenticated before
    /// its body is read and its resources' source names are checked with `permits` after.
    pub(crate) fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Option<&Pusher>, Refusal> {
        if !self.configured {
            self.anonymous.clone().map_err(Refusal::Off)?;
            return Ok(None);
        }
        let token = tokens::bearer(authorization).ok_or(Refusal::Missing)?;
        self.by_hash
            .get(&tokens::digest(token))
            .map(Some)
            .ok_or(Refusal::Unknown)
    }

    /// Whether the pusher `authenticate` found may write `source`: a protected name only
    /// when listed exactly, and never anonymously.
    pub(crate) fn permits(&self, pusher: Option<&Pusher>, source: &str) -> Result<(), Refusal> {
        let protected = self.protected.contains(source);
        let allowed = match pusher {
            None => !self.configured && !protected,
            Some(pusher) if protected => {
                pusher.sources.iter().any(|(written, _)| written == source)
            }
            Some(pusher) => pusher.sources.iter().any(|(_, glob)| glob.is_match(source)),
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal::Source(source.to_owned()))
        }
    }
}

/// The names only an exact listing grants: the audit log's and every host file's.
pub(crate) fn protected_sources<'a>(
    host_files: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = host_files.into_iter().map(str::to_owned).collect();
    names.insert(AUDIT_SOURCE.to_owned());
    names
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn hash(token: &str) -> String {
        tokens::token_hash(token)
    }

    fn tokens() -> IngestTokens {
        let text = format!(
            "- name: billing-batch\n  token_sha256: {}\n  sources: [\"billing\", \"billing-*\"]\n  namespace: billing\n\
             - name: everything\n  token_sha256: {}\n  sources: [\"*\"]\n\
             - name: audit-relay\n  token_sha256: {}\n  sources: [\"kube-audit\"]\n",
            hash("b-secret"),
            hash("all-secret"),
            hash("audit-secret")
        );
        IngestTokens::parse(&text, protected_sources(["node-syslog"])).unwrap()
    }

    /// The manifests ship the collector's ingest tokens as an empty list: the collector
    /// starts, and every push is refused until the operator lists a token.
    #[test]
    fn the_shipped_tokens_file_refuses_every_push() {
        let path = logpipe_common::testkit::package_dir(env!("CARGO_MANIFEST_DIR"))
            .join("../config/kubernetes/secrets.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let shipped = serde_norway::Deserializer::from_str(&text)
            .map(|document| serde_norway::Value::deserialize(document).unwrap())
            .find(|secret| secret["metadata"]["name"] == "logpipe-ingest-tokens")
            .expect("secrets.yaml has logpipe-ingest-tokens");
        let file = shipped["stringData"]["tokens.yaml"].as_str().unwrap();
        let tokens = IngestTokens::parse(file, protected_sources(["node-syslog"])).unwrap();
        for source in ["billing", "kube-audit", "node-syslog"] {
            for header in [None, Some("Bearer anything")] {
                assert!(
                    tokens
                        .authorize(header, source)
                        .unwrap_err()
                        .is_unauthenticated(),
                    "{source} {header:?}"
                );
            }
        }
    }

    #[test]
    fn a_token_writes_the_sources_it_is_bound_to() {
        let tokens = tokens();
        let pusher = tokens
            .authorize(Some("Bearer b-secret"), "billing-eu")
            .unwrap()
            .unwrap();
        assert_eq!(pusher.name, "billing-batch");
        assert_eq!(pusher.namespace.as_deref(), Some("billing"));
        assert_eq!(
            tokens
                .authorize(Some("Bearer b-secret"), "payments")
                .unwrap_err(),
            Refusal::Source("payments".into())
        );
        assert_eq!(
            tokens.authorize(None, "billing").unwrap_err(),
            Refusal::Missing
        );
        assert_eq!(
            tokens
                .authorize(Some("Bearer nope"), "billing")
                .unwrap_err(),
            Refusal::Unknown
        );
    }

    #[test]
    fn the_audit_log_and_host_files_need_an_exact_listing() {
        let tokens = tokens();
        for protected in [AUDIT_SOURCE, "node-syslog"] {
            assert_eq!(
                tokens
                    .authorize(Some("Bearer all-secret"), protected)
                    .unwrap_err(),
                Refusal::Source(protected.into()),
                "a glob does not grant {protected}"
            );
        }
        assert!(
            tokens
                .authorize(Some("Bearer all-secret"), "anything-else")
                .is_ok()
        );
        assert!(
            tokens
                .authorize(Some("Bearer audit-relay"), AUDIT_SOURCE)
                .is_err(),
            "the token's name is not the token"
        );
        assert!(
            tokens
                .authorize(Some("Bearer audit-secret"), AUDIT_SOURCE)
                .is_ok()
        );
    }

    #[test]
    fn without_a_tokens_file_pushes_are_loopback_only_and_never_protected() {
        let open = IngestTokens::none(true, protected_sources([]));
        assert!(open.authorize(None, "billing").unwrap().is_none());
        assert_eq!(
            open.authorize(None, AUDIT_SOURCE).unwrap_err(),
            Refusal::Source(AUDIT_SOURCE.into())
        );
        let off = IngestTokens::none(false, protected_sources([]));
        assert!(matches!(
            off.authorize(None, "billing").unwrap_err(),
            Refusal::Off(_)
        ));
    }

    #[test]
    fn bad_files_are_refused_with_the_token_named() {
        let protected = protected_sources([]);
        for (text, expected) in [
            (
                "- name: a\n  token_sha256: xyz\n  sources: [b]\n",
                "token 1 (a): token_sha256",
            ),
            (
                &format!("- name: a\n  token_sha256: {}\n  sources: []\n", hash("t")) as &str,
                "sources lists no source name",
            ),
            (
                &format!(
                    "- name: a\n  token_sha256: {}\n  sources: [\"[\"]\n",
                    hash("t")
                ),
                "source glob",
            ),
            ("- name: a\n  tokens: 1\n", "unknown field"),
        ] {
            let error = IngestTokens::parse(text, protected.clone()).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
