//! Indexer settings.

use std::time::Duration;

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use serde::Serialize;

pub const COMMIT_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_COMMIT_INTERVAL_MS",
    Kind::Duration,
    Some("1000"),
    "Longest time between index commits: events become searchable within this.",
);
pub const DLQ_TOPIC: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_DLQ_TOPIC",
    Kind::Topic,
    Some("logs-dlq"),
    "Topic receiving events the indexer could not take, with the reason.",
);

pub const VARS: [&VarSpec; 2] = [&COMMIT_INTERVAL_MS, &DLQ_TOPIC];

#[derive(Debug, Clone, Serialize)]
pub struct IndexerConfig {
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub commit_interval: Duration,
    pub dlq_topic: String,
}

impl IndexerConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        Ok(IndexerConfig {
            commit_interval: env.duration(&COMMIT_INTERVAL_MS)?,
            dlq_topic: env.topic(&DLQ_TOPIC)?,
        })
    }
}
