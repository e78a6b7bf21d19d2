//! Settings of the query service and of the search CLI.

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use serde::Serialize;

pub const SEARCH_URL: VarSpec = VarSpec::new(
    "LOGPIPE_SEARCH_URL",
    Kind::Url,
    Some("http://127.0.0.1:8080"),
    "Query service that `logpipe search` talks to.",
);
pub const SEARCH_TOKEN: VarSpec = VarSpec::new(
    "LOGPIPE_SEARCH_TOKEN",
    Kind::Text,
    None,
    "Bearer token `logpipe search` sends; its scope decides which namespaces are visible.",
)
.secret();

pub const VARS: [&VarSpec; 0] = [];
pub const SEARCH_VARS: [&VarSpec; 2] = [&SEARCH_URL, &SEARCH_TOKEN];

#[derive(Debug, Clone, Serialize)]
pub struct QueryConfig {}

impl QueryConfig {
    pub fn load(_env: &Env) -> Result<Self, ConfigError> {
        Ok(QueryConfig {})
    }
}
