//! Settings every role shares: Kafka, data directory, logging, the ops port, shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{ConfigError, Env, Kind, VarSpec};
use crate::kafka::KafkaSettings;

/// Variables with this prefix pass librdkafka properties through (TLS, SASL, tuning):
/// `LOGPIPE_KAFKA_PROPERTY_security.protocol=SASL_SSL`, or with underscores for shells
/// that refuse dots in names: `LOGPIPE_KAFKA_PROPERTY_SECURITY_PROTOCOL=SASL_SSL`.
pub const KAFKA_PROPERTY_PREFIX: &str = "LOGPIPE_KAFKA_PROPERTY_";

pub const KAFKA_BROKERS: VarSpec = VarSpec::new(
    "LOGPIPE_KAFKA_BROKERS",
    Kind::HostPorts,
    Some("127.0.0.1:9092"),
    "Kafka bootstrap brokers. `logpipe standalone` runs its own broker in-process unless this is set.",
);
pub const KAFKA_TOPIC: VarSpec = VarSpec::new(
    "LOGPIPE_KAFKA_TOPIC",
    Kind::Topic,
    Some("logs"),
    "Topic carrying log events.",
);
pub const KAFKA_TOPIC_PARTITIONS: VarSpec = VarSpec::new(
    "LOGPIPE_KAFKA_TOPIC_PARTITIONS",
    Kind::Integer {
        min: 1,
        max: 10_000,
    },
    Some("3"),
    "Partitions of topics created at startup when missing; existing topics are left as they are.",
);
pub const KAFKA_CREATE_TOPICS: VarSpec = VarSpec::new(
    "LOGPIPE_KAFKA_CREATE_TOPICS",
    Kind::Bool,
    Some("true"),
    "Create missing topics at startup; turn off where ACLs forbid it and topics are provisioned otherwise.",
);
pub const KAFKA_MESSAGE_MAX_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_KAFKA_MESSAGE_MAX_BYTES",
    Kind::Size,
    Some("1MiB"),
    "Largest Kafka message produced (librdkafka message.max.bytes), and the least a consumer asks for per fetch (fetch.max.bytes, 2 MiB unless larger or set with LOGPIPE_KAFKA_PROPERTY_fetch.max.bytes); keep it at or below the broker's limit.",
);
pub const KAFKA_REQUEST_TIMEOUT_MS: VarSpec = VarSpec::new(
    "LOGPIPE_KAFKA_REQUEST_TIMEOUT_MS",
    Kind::Duration,
    Some("10000"),
    "Timeout of metadata and admin requests (readiness probes, topic creation).",
);
pub const DATA_DIR: VarSpec = VarSpec::new(
    "LOGPIPE_DATA_DIR",
    Kind::Path,
    Some("./data"),
    "Directory for durable state: checkpoints, indexes, alert state, the standalone broker.",
);
pub const LOG_LEVEL: VarSpec = VarSpec::new(
    "LOGPIPE_LOG_LEVEL",
    Kind::LogFilter,
    Some("info"),
    "Level of logpipe's own JSON logs on stdout, or tracing directives.",
);
pub const LISTEN_ADDRESS: VarSpec = VarSpec::new(
    "LOGPIPE_LISTEN_ADDRESS",
    Kind::IpAddr,
    Some("0.0.0.0"),
    "Address the HTTP port binds to.",
);
pub const PORT: VarSpec = VarSpec::new(
    "PORT",
    Kind::Port,
    Some("8080"),
    "HTTP port: /healthz, /readyz, /metrics and the role's own API. 0 picks a free port.",
);
pub const SHUTDOWN_DRAIN_MS: VarSpec = VarSpec::new(
    "LOGPIPE_SHUTDOWN_DRAIN_MS",
    Kind::Duration,
    Some("5000"),
    "On SIGTERM, how long the process goes on serving and working with /readyz failing before it stops, so that load balancers and Kubernetes endpoints take it out of rotation first (a pod's terminationGracePeriodSeconds must cover this plus LOGPIPE_SHUTDOWN_GRACE_MS). SIGINT and a second signal skip it.",
);
pub const SHUTDOWN_GRACE_MS: VarSpec = VarSpec::new(
    "LOGPIPE_SHUTDOWN_GRACE_MS",
    Kind::Duration,
    Some("8000"),
    "After the drain window, how long the role gets to finish open requests, flush and commit before exiting anyway.",
);
pub const NODE_NAME: VarSpec = VarSpec::new(
    "LOGPIPE_NODE_NAME",
    Kind::Text,
    None,
    "Kubernetes node this process runs on (from the downward API's spec.nodeName); defaults to the host name.",
);

pub const SHARED_VARS: [&VarSpec; 13] = [
    &KAFKA_BROKERS,
    &KAFKA_TOPIC,
    &KAFKA_TOPIC_PARTITIONS,
    &KAFKA_CREATE_TOPICS,
    &KAFKA_MESSAGE_MAX_BYTES,
    &KAFKA_REQUEST_TIMEOUT_MS,
    &DATA_DIR,
    &LOG_LEVEL,
    &LISTEN_ADDRESS,
    &PORT,
    &SHUTDOWN_DRAIN_MS,
    &SHUTDOWN_GRACE_MS,
    &NODE_NAME,
];

pub fn vars() -> &'static [&'static VarSpec] {
    &SHARED_VARS
}

/// Validated shared settings.
#[derive(Debug, Clone, Serialize)]
pub struct SharedConfig {
    pub kafka: KafkaSettings,
    /// Whether `LOGPIPE_KAFKA_BROKERS` was given (standalone embeds a broker if not).
    pub kafka_brokers_given: bool,
    pub topic: String,
    pub topic_partitions: i32,
    pub create_topics: bool,
    pub data_dir: PathBuf,
    pub log_level: String,
    pub listen: SocketAddr,
    /// How long a process goes on serving, not ready, after SIGTERM.
    #[serde(with = "super::duration_serde::human")]
    pub shutdown_drain: Duration,
    #[serde(with = "super::duration_serde::human")]
    pub shutdown_grace: Duration,
    pub node_name: String,
}

impl SharedConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let properties = kafka_properties(env);
        let kafka = KafkaSettings {
            brokers: env.host_ports(&KAFKA_BROKERS)?,
            properties,
            message_max_bytes: env.size(&KAFKA_MESSAGE_MAX_BYTES)?,
            request_timeout: env.duration(&KAFKA_REQUEST_TIMEOUT_MS)?,
        };
        kafka.validate()?;
        let topic_partitions = env.integer(&KAFKA_TOPIC_PARTITIONS)?;
        Ok(SharedConfig {
            kafka,
            kafka_brokers_given: env.is_set(&KAFKA_BROKERS),
            topic: env.topic(&KAFKA_TOPIC)?,
            topic_partitions: i32::try_from(topic_partitions).unwrap_or(i32::MAX),
            create_topics: env.bool(&KAFKA_CREATE_TOPICS)?,
            data_dir: env.path(&DATA_DIR)?,
            log_level: env.log_filter(&LOG_LEVEL)?,
            listen: SocketAddr::new(env.ip_addr(&LISTEN_ADDRESS)?, env.port(&PORT)?),
            shutdown_drain: env.duration(&SHUTDOWN_DRAIN_MS)?,
            shutdown_grace: env.duration(&SHUTDOWN_GRACE_MS)?,
            node_name: match env.text_opt(&NODE_NAME)? {
                Some(name) if !name.trim().is_empty() => name,
                _ => host_name(),
            },
        })
    }
}

/// `LOGPIPE_KAFKA_PROPERTY_<name>` variables as librdkafka properties. A name with a dot
/// is taken as written; otherwise it is lowercased and underscores become dots.
fn kafka_properties(env: &Env) -> std::collections::BTreeMap<String, (String, String)> {
    env.with_prefix(KAFKA_PROPERTY_PREFIX)
        .into_iter()
        .map(|(suffix, value)| {
            let property = if suffix.contains('.') {
                suffix.clone()
            } else {
                suffix.to_ascii_lowercase().replace('_', ".")
            };
            (
                property,
                (format!("{KAFKA_PROPERTY_PREFIX}{suffix}"), value),
            )
        })
        .collect()
}

/// This machine's host name (a pod's name in Kubernetes).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-node".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = SharedConfig::load(&Env::default()).unwrap();
        assert_eq!(config.kafka.brokers, ["127.0.0.1:9092"]);
        assert_eq!(config.topic, "logs");
        assert_eq!(config.listen.port(), 8080);
        assert!(!config.kafka_brokers_given);
        assert!(!config.node_name.is_empty());
    }

    #[test]
    fn empty_brokers_is_invalid() {
        let error =
            SharedConfig::load(&Env::from_pairs([("LOGPIPE_KAFKA_BROKERS", "")])).unwrap_err();
        assert_eq!(error.var(), "LOGPIPE_KAFKA_BROKERS");
    }

    #[test]
    fn kafka_properties_pass_through() {
        let env = Env::from_pairs([
            ("LOGPIPE_KAFKA_PROPERTY_security.protocol", "SASL_SSL"),
            ("LOGPIPE_KAFKA_PROPERTY_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("LOGPIPE_KAFKA_PROPERTY_sasl.password", "hunter2"),
        ]);
        let config = SharedConfig::load(&env).unwrap();
        let base = config.kafka.base();
        let properties = base.config_map();
        assert_eq!(
            properties.get("security.protocol").copied(),
            Some("SASL_SSL")
        );
        assert_eq!(
            properties.get("sasl.mechanism").copied(),
            Some("SCRAM-SHA-512")
        );
        let shown = serde_json::to_string(&config).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("SCRAM-SHA-512"), "{shown}");
    }

    #[test]
    fn unknown_kafka_property_names_the_variable() {
        let env = Env::from_pairs([("LOGPIPE_KAFKA_PROPERTY_no.such.thing", "1")]);
        let error = SharedConfig::load(&env).unwrap_err();
        assert_eq!(error.var(), "LOGPIPE_KAFKA_PROPERTY_no.such.thing");
    }
}
