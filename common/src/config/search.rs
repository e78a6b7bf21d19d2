//! Where clients of the query service (`logpipe search`, `logpipe alerting backtest`)
//! find it, and the token they present.

use crate::config::{ConfigError, Env, Kind, VarSpec};

pub const URL: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_URL",
    Kind::Url,
    Some("http://127.0.0.1:8080"),
    "Query service that `logpipe search` talks to.",
);
pub const TOKEN: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_TOKEN",
    Kind::Text,
    None,
    "Bearer token `logpipe search` sends; its scope decides which namespaces are visible.",
)
.secret();

pub const SEARCH_VARS: [&VarSpec; 2] = [&URL, &TOKEN];

/// The query service's address and the bearer token to send it.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    pub url: url::Url,
    pub token: Option<String>,
}

impl SearchConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        Ok(SearchConfig {
            url: env.url(&URL)?,
            token: env.text_opt(&TOKEN)?.filter(|token| !token.is_empty()),
        })
    }
}
