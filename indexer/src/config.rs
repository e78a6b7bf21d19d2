//! Indexer settings.

use std::time::Duration;

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use serde::Serialize;

pub const COMMIT_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_COMMIT_INTERVAL_MS",
    Kind::Duration,
    Some("1000"),
    "Time from the start of one index commit to the next: an event becomes searchable within this and one commit's duration.",
);
pub const COMMIT_DOCS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_COMMIT_DOCS",
    Kind::Integer {
        min: 1,
        max: 10_000_000,
    },
    Some("200000"),
    "Events taken since the last commit that trigger a commit before the interval is up.",
);
pub const DLQ_TOPIC: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_DLQ_TOPIC",
    Kind::Topic,
    Some("logs-dlq"),
    "Topic receiving events the indexer could not take, with the reason in headers.",
);
pub const RETENTION_DAYS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_RETENTION_DAYS",
    Kind::Integer {
        min: 0,
        max: 36_500,
    },
    Some("30"),
    "Whole UTC days kept, today included; older day indexes are removed. 0 keeps every day.",
);
pub const RETENTION_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_RETENTION_BYTES",
    Kind::Size,
    None,
    "Byte budget for all day indexes; the oldest days are removed first to stay under it (today's is never removed). Unset: no budget.",
);
pub const RETENTION_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_RETENTION_INTERVAL_MS",
    Kind::Duration,
    Some("5m"),
    "How often retention runs (it also runs at startup).",
);
pub const TS_MAX_PAST: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_TS_MAX_PAST",
    Kind::Duration,
    Some("7d"),
    "An event whose `ts` is further before its `observed_ts` than this is placed by `observed_ts` and flagged `ts_out_of_bounds`.",
);
pub const TS_MAX_FUTURE: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_TS_MAX_FUTURE",
    Kind::Duration,
    Some("1h"),
    "An event whose `ts` is further after its `observed_ts` than this is placed by `observed_ts` and flagged `ts_out_of_bounds`.",
);
pub const WRITER_MEMORY: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_WRITER_MEMORY",
    Kind::Size,
    Some("64MiB"),
    "Indexing memory of each open day index (at least 15MiB); a full buffer is flushed to a segment.",
);
pub const MAX_OPEN_DAYS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_MAX_OPEN_DAYS",
    Kind::Integer { min: 1, max: 64 },
    Some("3"),
    "Day indexes open for writing at once; late events for another day close the least recently written one.",
);
pub const DEDUP_WINDOW_MS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_DEDUP_WINDOW_MS",
    Kind::Duration,
    Some("24h"),
    "How far back (in observation time) an event the collector delivered twice is still dropped by its id; the ids are loaded from the index at startup.",
);
pub const DEDUP_MAX_IDS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_DEDUP_MAX_IDS",
    Kind::Integer {
        min: 0,
        max: 100_000_000,
    },
    Some("2000000"),
    "Most event ids remembered for deduplication, whatever the window (about 64 bytes each: 2000000 take about 128 MB); 0 turns it off. At a rate where the window holds more, the window is shorter: logpipe_indexer_dedup_window_seconds shows it.",
);

pub const INSTANCE_ID: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_INSTANCE_ID",
    Kind::Text,
    None,
    "Static consumer-group membership (`group.instance.id`), e.g. the StatefulSet pod name: a restarted indexer with the same id gets its partitions back at once instead of waiting for the broker to evict its former self, while an indexer that stops for good keeps its partitions until the broker's session timeout (tansu 0.6 never evicts a static member). Must differ between indexers. Unset: derived from the host name and the data directory. `none`: dynamic membership.",
);

/// `LOGPIPE_INDEXER_INSTANCE_ID` value asking for dynamic group membership.
pub const DYNAMIC_MEMBERSHIP: &str = "none";

pub const PARTITIONS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_PARTITIONS",
    Kind::List,
    None,
    "Partitions this indexer reads without consumer-group rebalancing: `all`, or partition numbers such as `0,1,2` (one list per StatefulSet replica). Unset: partitions are shared through the consumer group.",
);

pub const DIGEST_KEY: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_DIGEST_KEY",
    Kind::Text,
    None,
    "Ed25519 key (base64 of its 32-byte seed, e.g. `openssl rand -base64 32`) that signs the digests of the ledger; the indexer logs its public key, which `logpipe verify --public-key` takes. Unset: the ledger is kept, no digest is signed.",
)
.secret();
pub const DIGEST_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_DIGEST_INTERVAL_MS",
    Kind::Duration,
    Some("1h"),
    "How often a signed digest of the ledger is written (also at each UTC day's end and at shutdown), under the index's digests/ and to LOGPIPE_INDEXER_DIGEST_TOPIC.",
);
pub const DIGEST_TOPIC: VarSpec = VarSpec::new(
    "LOGPIPE_INDEXER_DIGEST_TOPIC",
    Kind::Topic,
    Some("audit-digests"),
    "Topic every signed digest is also produced to, so that a copy lives outside the index volume.",
);

pub const STORE_URL: VarSpec = VarSpec::new(
    "LOGPIPE_STORE_URL",
    Kind::Text,
    None,
    "Object storage the index is copied to, under a prefix named after the host (the StatefulSet pod): `s3://bucket/prefix`, `gs://…`, `az://…` or `file:///dir`; credentials and endpoints from the cloud's usual variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, `GOOGLE_*`, `AZURE_*`). An indexer started on an empty volume restores its days from there. Unset: the index lives on its volume alone.",
);
pub const STORE_SYNC_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_STORE_SYNC_INTERVAL_MS",
    Kind::Duration,
    Some("10000"),
    "How often what the indexer committed is copied to LOGPIPE_STORE_URL.",
);
pub const STORE_MAX_LAG_MS: VarSpec = VarSpec::new(
    "LOGPIPE_STORE_MAX_LAG_MS",
    Kind::Duration,
    Some("300000"),
    "Object storage this far behind the index (uploads failing) is reported by /readyz as `archive` not ready (the indexer stays ready: indexing goes on) and by logpipe_indexer_archive_lag_seconds.",
);
pub const STORE_LOCAL_DAYS: VarSpec = VarSpec::new(
    "LOGPIPE_STORE_LOCAL_DAYS",
    Kind::Integer {
        min: 0,
        max: 36_500,
    },
    Some("0"),
    "With LOGPIPE_STORE_URL: whole UTC days kept on the indexer's volume, today included. Older days, once object storage has all of them, are evicted from the volume (recorded in the ledger) and kept in object storage alone, where the query service searches them, until LOGPIPE_INDEXER_RETENTION_DAYS removes them; late events for an evicted day fetch it back first. 0 keeps every day on the volume.",
);

pub const VARS: [&VarSpec; 21] = [
    &STORE_URL,
    &STORE_SYNC_INTERVAL_MS,
    &STORE_MAX_LAG_MS,
    &STORE_LOCAL_DAYS,
    &DIGEST_KEY,
    &DIGEST_INTERVAL_MS,
    &DIGEST_TOPIC,
    &COMMIT_INTERVAL_MS,
    &COMMIT_DOCS,
    &DLQ_TOPIC,
    &RETENTION_DAYS,
    &RETENTION_BYTES,
    &RETENTION_INTERVAL_MS,
    &TS_MAX_PAST,
    &TS_MAX_FUTURE,
    &WRITER_MEMORY,
    &MAX_OPEN_DAYS,
    &DEDUP_WINDOW_MS,
    &DEDUP_MAX_IDS,
    &INSTANCE_ID,
    &PARTITIONS,
];

/// Tantivy's smallest indexing memory per writer thread.
const MIN_WRITER_MEMORY: u64 = 15 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct IndexerConfig {
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub commit_interval: Duration,
    pub commit_docs: usize,
    pub dlq_topic: String,
    /// 0 keeps every day.
    pub retention_days: u32,
    pub retention_bytes: Option<u64>,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub retention_interval: Duration,
    #[serde(with = "logpipe_common::config::duration_serde::human")]
    pub ts_max_past: Duration,
    #[serde(with = "logpipe_common::config::duration_serde::human")]
    pub ts_max_future: Duration,
    pub writer_memory: u64,
    pub max_open_days: usize,
    #[serde(with = "logpipe_common::config::duration_serde::human")]
    pub dedup_window: Duration,
    pub dedup_max_ids: usize,
    pub instance_id: Option<String>,
    pub partitions: Assignment,
    /// The digest signing key, base64; never shown.
    #[serde(skip)]
    pub digest_key: Option<String>,
    #[serde(with = "logpipe_common::config::duration_serde::human")]
    pub digest_interval: Duration,
    pub digest_topic: String,
    pub store_url: Option<String>,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub store_sync_interval: Duration,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub store_max_lag: Duration,
    pub store_local_days: u32,
    /// The `AWS_*`, `GOOGLE_*` and `AZURE_*` variables, for object storage; never shown.
    #[serde(skip)]
    pub store_options: Vec<(String, String)>,
}

/// How the indexer gets its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Shared with the other indexers of the consumer group.
    Group,
    /// Every partition of the topic, assigned directly.
    All,
    /// These partitions, assigned directly.
    Fixed(Vec<i32>),
}

impl IndexerConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let writer_memory = env.size(&WRITER_MEMORY)?;
        if writer_memory < MIN_WRITER_MEMORY {
            return Err(ConfigError::Invalid {
                var: WRITER_MEMORY.name.to_owned(),
                value: env.text(&WRITER_MEMORY)?,
                expected: "a size of at least 15MiB".to_owned(),
            });
        }
        let partitions = match env.list(&PARTITIONS) {
            Ok(items) if items.len() == 1 && items[0] == "all" => Assignment::All,
            Ok(items) => {
                let numbers: Option<Vec<i32>> = items
                    .iter()
                    .map(|item| item.parse().ok().filter(|n: &i32| *n >= 0))
                    .collect();
                match numbers {
                    Some(numbers) => Assignment::Fixed(numbers),
                    None => {
                        return Err(ConfigError::Invalid {
                            var: PARTITIONS.name.to_owned(),
                            value: items.join(","),
                            expected: "`all` or comma-separated partition numbers".to_owned(),
                        });
                    }
                }
            }
            Err(ConfigError::Missing { .. }) => Assignment::Group,
            Err(error) => return Err(error),
        };
        let digest_key = env.text_opt(&DIGEST_KEY)?.filter(|k| !k.trim().is_empty());
        if let Some(key) = &digest_key
            && let Err(reason) = logpipe_store::digest::DigestKey::from_base64(key)
        {
            return Err(ConfigError::Invalid {
                var: DIGEST_KEY.name.to_owned(),
                value: "***".to_owned(),
                expected: format!("base64 of a 32-byte Ed25519 seed ({reason})"),
            });
        }
        let store_url = env.text_opt(&STORE_URL)?.filter(|u| !u.trim().is_empty());
        if let Some(url) = &store_url {
            let scheme = url::Url::parse(url).map(|u| u.scheme().to_owned());
            if !matches!(
                scheme.as_deref(),
                Ok("s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "azure" | "file" | "https")
            ) {
                return Err(ConfigError::Invalid {
                    var: STORE_URL.name.to_owned(),
                    value: url.clone(),
                    expected: "a URL such as s3://bucket/prefix, gs://bucket/prefix, az://container/prefix or file:///dir".to_owned(),
                });
            }
        }
        let store_local_days = env.integer(&STORE_LOCAL_DAYS)? as u32;
        if store_local_days > 0 && store_url.is_none() {
            return Err(ConfigError::Invalid {
                var: STORE_LOCAL_DAYS.name.to_owned(),
                value: store_local_days.to_string(),
                expected: "0 unless LOGPIPE_STORE_URL is set: evicted days live in object storage"
                    .to_owned(),
            });
        }
        let store_options = env.cloud_variables();
        Ok(IndexerConfig {
            store_url,
            store_sync_interval: env.duration(&STORE_SYNC_INTERVAL_MS)?,
            store_max_lag: env.duration(&STORE_MAX_LAG_MS)?,
            store_local_days,
            store_options,
            digest_key,
            digest_interval: env.duration(&DIGEST_INTERVAL_MS)?,
            digest_topic: env.topic(&DIGEST_TOPIC)?,
            partitions,
            commit_interval: env.duration(&COMMIT_INTERVAL_MS)?,
            commit_docs: env.integer(&COMMIT_DOCS)? as usize,
            dlq_topic: env.topic(&DLQ_TOPIC)?,
            retention_days: env.integer(&RETENTION_DAYS)? as u32,
            retention_bytes: env.size_opt(&RETENTION_BYTES)?,
            retention_interval: env.duration(&RETENTION_INTERVAL_MS)?,
            ts_max_past: env.duration(&TS_MAX_PAST)?,
            ts_max_future: env.duration(&TS_MAX_FUTURE)?,
            writer_memory,
            max_open_days: env.integer(&MAX_OPEN_DAYS)? as usize,
            dedup_window: env.duration(&DEDUP_WINDOW_MS)?,
            dedup_max_ids: env.integer(&DEDUP_MAX_IDS)? as usize,
            instance_id: env
                .text_opt(&INSTANCE_ID)?
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load() {
        let config = IndexerConfig::load(&Env::from_pairs(Vec::<(String, String)>::new())).unwrap();
        assert_eq!(config.commit_interval, Duration::from_secs(1));
        assert_eq!(config.retention_days, 30);
        assert_eq!(config.retention_bytes, None);
        assert_eq!(config.ts_max_past, Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn writer_memory_below_tantivy_minimum_is_refused() {
        let env = Env::from_pairs([("LOGPIPE_INDEXER_WRITER_MEMORY", "1MiB")]);
        let error = IndexerConfig::load(&env).unwrap_err().to_string();
        assert!(error.contains("LOGPIPE_INDEXER_WRITER_MEMORY"), "{error}");
        assert!(error.contains("15MiB"), "{error}");
    }

    #[test]
    fn partitions_are_all_a_list_or_the_group() {
        let load = |value: &str| {
            IndexerConfig::load(&Env::from_pairs([("LOGPIPE_INDEXER_PARTITIONS", value)]))
        };
        assert_eq!(load("all").unwrap().partitions, Assignment::All);
        assert_eq!(
            load("0, 2").unwrap().partitions,
            Assignment::Fixed(vec![0, 2])
        );
        let error = load("0,x").unwrap_err().to_string();
        assert!(error.contains("LOGPIPE_INDEXER_PARTITIONS"), "{error}");
        let unset = IndexerConfig::load(&Env::from_pairs(Vec::<(String, String)>::new())).unwrap();
        assert_eq!(unset.partitions, Assignment::Group);
    }

    #[test]
    fn retention_bytes_takes_sizes() {
        let env = Env::from_pairs([("LOGPIPE_INDEXER_RETENTION_BYTES", "10GiB")]);
        let config = IndexerConfig::load(&env).unwrap();
        assert_eq!(config.retention_bytes, Some(10 << 30));
    }
}
