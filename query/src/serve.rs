//! The search API over one catalog of day indexes, as `logpipe indexer` serves it beside
//! its own routes so that the query service can fan out to it. Tokens are read from the
//! same variables as the query service's, and so are the `Host` names it answers to.

use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec};
use logpipe_common::hosts::{self, ALLOWED_HOSTS};
use logpipe_common::tokens::TOKENS_FILE;
use logpipe_store::Catalog;

use crate::QueryConfig;
use crate::api::{self, ApiState};
use crate::backend::Backend;
use crate::config::{MAX_PAGE_BYTES, TIME_LIMIT_MS};

/// The variables the search API reads.
pub const VARS: [&VarSpec; 4] = [
    &TOKENS_FILE,
    &ALLOWED_HOSTS,
    &TIME_LIMIT_MS,
    &MAX_PAGE_BYTES,
];

/// The search API's settings.
#[derive(Debug, Clone)]
pub struct SearchApi {
    config: QueryConfig,
}

impl SearchApi {
    pub fn load(env: &Env, shared: &SharedConfig) -> Result<Self, ConfigError> {
        Ok(SearchApi {
            config: QueryConfig::load_for_indexer(env, shared)?,
        })
    }

    /// The effective settings, for the startup log line.
    pub fn effective(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    /// The search API's routes over `catalog` (no web UI, no live tail), refusing
    /// requests for a `Host` that is not allowed, counted in the same metrics as the
    /// query service's.
    pub fn router(&self, catalog: Catalog) -> Router {
        api::api(ApiState {
            backend: Backend::Local(catalog),
            tokens: self.config.tokens.clone(),
            allowed_hosts: self.config.allowed_hosts.clone(),
            time_limit: self.config.time_limit,
            max_page_bytes: self.config.max_page_bytes,
            tail: None,
        })
        .layer(axum::middleware::from_fn_with_state(
            self.config.allowed_hosts.clone(),
            hosts::check_host,
        ))
        .layer(axum::middleware::from_fn(crate::telemetry::track))
    }
}
