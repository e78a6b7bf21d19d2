//! Settings of the query service.

use std::time::Duration;

use logpipe_common::config::{ConfigError, Env, Kind, SharedConfig, VarSpec};
use logpipe_common::hosts::{ALLOWED_HOSTS, AllowedHosts};
use logpipe_common::tokens::{TOKENS_FILE, Tokens};
use logpipe_language::Scope;
use serde::Serialize;
pub const INDEXERS: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_INDEXERS",
    Kind::List,
    None,
    "Indexers to fan searches out to: base URLs, or one http://NAME:PORT whose DNS name resolves to every indexer pod. Unset: read the index under LOGPIPE_DATA_DIR directly.",
);
pub const TIME_LIMIT_MS: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_TIME_LIMIT_MS",
    Kind::Duration,
    Some("10s"),
    "Longest a search, histogram or top-values request may run before it is answered with an error.",
);

pub const MAX_TAIL_SUBSCRIBERS: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_MAX_TAIL_SUBSCRIBERS",
    Kind::Integer {
        min: 1,
        max: 10_000,
    },
    Some("64"),
    "Live tails open at once; one more is answered 503 until one ends.",
);

pub const MAX_PAGE_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_MAX_PAGE_BYTES",
    Kind::Size,
    Some("16MiB"),
    "Most bytes of events one page of search or export holds, whatever its `limit`; a page that reaches it ends early with a cursor to the rest (one larger event still makes a page of one).",
);

pub const TAIL_BUFFER_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_TAIL_BUFFER_BYTES",
    Kind::Size,
    Some("8MiB"),
    "Most bytes of matching events a live tail holds for a client that reads slower than they arrive; beyond it the oldest are dropped and the client is told how many it missed.",
);

pub const STORE_URL: VarSpec = VarSpec::new(
    "LOGPIPE_STORE_URL",
    Kind::Text,
    None,
    "Object storage the indexers copy their index to (as they are given it). Days the indexers evicted from their volumes (LOGPIPE_STORE_LOCAL_DAYS) are searched from there, fetched into a cache on local disk. Unset: only the indexers' days are searched.",
);

pub const STORE_CACHE_DIR: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_STORE_CACHE_DIR",
    Kind::Path,
    None,
    "Where days fetched from LOGPIPE_STORE_URL are cached (emptied at startup). Unset: `store-cache` under LOGPIPE_DATA_DIR.",
);

pub const STORE_CACHE_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_QUERY_STORE_CACHE_BYTES",
    Kind::Size,
    Some("8GiB"),
    "Most bytes of days fetched from object storage kept on local disk; the least recently searched go first. A search that needs more days than fit is answered `partial`, naming the days left out.",
);

pub const VARS: [&VarSpec; 10] = [
    &TOKENS_FILE,
    &ALLOWED_HOSTS,
    &INDEXERS,
    &STORE_URL,
    &STORE_CACHE_DIR,
    &STORE_CACHE_BYTES,
    &TIME_LIMIT_MS,
    &MAX_PAGE_BYTES,
    &MAX_TAIL_SUBSCRIBERS,
    &TAIL_BUFFER_BYTES,
];

#[derive(Debug, Clone, Serialize)]
pub struct QueryConfig {
    pub tokens_file: Option<std::path::PathBuf>,
    #[serde(skip)]
    pub tokens: Tokens<Scope>,
    /// The `Host` names requests may carry.
    pub allowed_hosts: AllowedHosts,
    #[serde(serialize_with = "urls")]
    pub indexers: Vec<url::Url>,
    #[serde(with = "humantime_serde_ms")]
    pub time_limit: Duration,
    pub max_page_bytes: usize,
    pub max_tail_subscribers: usize,
    pub tail_buffer_bytes: usize,
    /// Object storage holding days evicted from the indexers' volumes.
    pub store_url: Option<String>,
    #[serde(skip)]
    pub store_options: Vec<(String, String)>,
    pub store_cache_dir: Option<std::path::PathBuf>,
    pub store_cache_bytes: u64,
    /// The index of a co-located indexer (standalone), read directly.
    #[serde(skip)]
    pub local: Option<logpipe_store::Catalog>,
}

fn urls<S: serde::Serializer>(urls: &[url::Url], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(urls.iter().map(url::Url::as_str))
}

mod humantime_serde_ms {
    pub fn serialize<S: serde::Serializer>(
        value: &std::time::Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }
}

impl QueryConfig {
    pub fn load(env: &Env, shared: &SharedConfig) -> Result<Self, ConfigError> {
        let config = Self::load_tokens_optional(env)?;
        if !config.tokens.enabled() && !shared.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                var: TOKENS_FILE.name.to_owned(),
                value: String::new(),
                expected: format!(
                    "a tokens file: the query service listens on {} (not loopback), so it needs access control",
                    shared.listen
                ),
            });
        }
        Ok(config)
    }

    /// For an indexer's copy of the search API: without tokens beyond loopback, the API
    /// refuses every request instead of the indexer refusing to start.
    pub fn load_for_indexer(env: &Env, shared: &SharedConfig) -> Result<Self, ConfigError> {
        let mut config = Self::load_tokens_optional(env)?;
        if !config.tokens.enabled() && !shared.listen.ip().is_loopback() {
            tracing::warn!(
                listen = %shared.listen,
                "search API refused: the indexer listens beyond loopback and LOGPIPE_QUERY_TOKENS_FILE is unset"
            );
            config.tokens = Tokens::refuse_all(format!(
                "this indexer listens on {} without LOGPIPE_QUERY_TOKENS_FILE, so its search API is off",
                shared.listen
            ));
            // A refused request hears why, whatever its Host.
            config.allowed_hosts = AllowedHosts::from_env(env, true)?;
        }
        Ok(config)
    }

    fn load_tokens_optional(env: &Env) -> Result<Self, ConfigError> {
        let (tokens_file, tokens) = Tokens::from_env(env, Scope::all(), Scope::token)?;
        let allowed_hosts = AllowedHosts::from_env(env, tokens.enabled())?;
        let indexers = if env.is_set(&INDEXERS) {
            env.list(&INDEXERS)?
                .into_iter()
                .map(|text| {
                    url::Url::parse(&text)
                        .ok()
                        .filter(|url| {
                            matches!(url.scheme(), "http" | "https") && url.host().is_some()
                        })
                        .ok_or_else(|| ConfigError::Invalid {
                            var: INDEXERS.name.to_owned(),
                            value: text.clone(),
                            expected: "http:// or https:// base URLs of indexers".into(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        let store_url = env.text_opt(&STORE_URL)?.filter(|u| !u.trim().is_empty());
        if let Some(url) = &store_url
            && url::Url::parse(url).is_err()
        {
            return Err(ConfigError::Invalid {
                var: STORE_URL.name.to_owned(),
                value: url.clone(),
                expected: "a URL such as s3://bucket/prefix or file:///dir".to_owned(),
            });
        }
        let store_options = env.cloud_variables();
        Ok(QueryConfig {
            store_url,
            store_options,
            store_cache_dir: env.path_opt(&STORE_CACHE_DIR)?,
            store_cache_bytes: env.size(&STORE_CACHE_BYTES)?,
            tokens_file,
            tokens,
            allowed_hosts,
            indexers,
            time_limit: env.duration(&TIME_LIMIT_MS)?,
            max_page_bytes: env.positive_size(&MAX_PAGE_BYTES)?,
            max_tail_subscribers: env.integer(&MAX_TAIL_SUBSCRIBERS)? as usize,
            tail_buffer_bytes: env.positive_size(&TAIL_BUFFER_BYTES)?,
            local: None,
        })
    }
}
