//! One builder for every Kafka client: producers get acks=all, idempotence and zstd;
//! consumers get manual offset handling; operators add librdkafka properties (TLS, SASL)
//! through `LOGPIPE_KAFKA_PROPERTY_<name>`.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use serde::{Serialize, Serializer};

use crate::config::ConfigError;

/// Properties logpipe sets itself because its delivery guarantees depend on them; a
/// pass-through property may not override them.
pub const FIXED_PROPERTIES: [&str; 5] = [
    "acks",
    "enable.idempotence",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "bootstrap.servers",
];

/// Longest a broker may hold a fetch that found too little data (librdkafka's default
/// is 500 ms). A broker that answers only when the wait is over, as tansu does, adds it
/// to every event's way from Kafka into the index and to the alerts; with Kafka it only
/// sets how often an idle partition is asked again.
pub const FETCH_WAIT_MAX_MS: &str = "100";

/// Most a consumer asks for per fetch unless told otherwise. Kafka answers at most 1 MB
/// per partition anyway. tansu answers across partitions up to 5 MiB, builds the answer
/// record by record, and scans everything not yet fetched for each one: a consumer that
/// fell behind catches up at about 4 MB/s with 1 MiB answers, 6.5 MB/s with 2 MiB and
/// 10 MB/s with 4 MiB, while the larger answers hold back the first of their events
/// longer (at 10,000 events/s, append-to-searchable p99 1.4 s, 1.6 s and 1.5–2.0 s).
pub const FETCH_MAX_BYTES: u64 = 2 << 20;

/// Property names containing these are secrets: masked in logs and errors.
const SECRET_MARKERS: [&str; 6] = [
    "password",
    "secret",
    "jaas",
    "key",
    "pem",
    "oauthbearer.config",
];

#[derive(Debug, Clone, Serialize)]
pub struct KafkaSettings {
    pub brokers: Vec<String>,
    /// librdkafka property → (the variable it came from, value).
    #[serde(serialize_with = "serialize_masked")]
    pub properties: BTreeMap<String, (String, String)>,
    pub message_max_bytes: u64,
    #[serde(with = "crate::config::duration_serde::human")]
    pub request_timeout: Duration,
}

impl KafkaSettings {
    /// Settings for the given brokers with every default.
    pub fn for_brokers(brokers: impl Into<String>) -> Self {
        KafkaSettings {
            brokers: brokers.into().split(',').map(str::to_owned).collect(),
            properties: BTreeMap::new(),
            message_max_bytes: 1 << 20,
            request_timeout: Duration::from_secs(10),
        }
    }

    pub fn bootstrap_servers(&self) -> String {
        self.brokers.join(",")
    }

    /// Checks every pass-through property against librdkafka itself, so a typo fails at
    /// startup naming the variable instead of at the first client.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (property, (var, value)) in &self.properties {
            let shown = if is_secret(property) {
                "***".to_owned()
            } else {
                value.clone()
            };
            if FIXED_PROPERTIES.contains(&property.as_str()) {
                return Err(ConfigError::Invalid {
                    var: var.clone(),
                    value: shown,
                    expected: format!(
                        "a librdkafka property other than {} (logpipe sets these for its delivery guarantees)",
                        FIXED_PROPERTIES.join(", ")
                    ),
                });
            }
            let mut config = ClientConfig::new();
            config.set(property, value);
            if let Err(error) = config.create_native_config() {
                let reason = match error {
                    KafkaError::ClientConfig(_, description, _, _) => description,
                    other => other.to_string(),
                };
                let reason = if is_secret(property) {
                    reason.replace(value.as_str(), "***")
                } else {
                    reason
                };
                return Err(ConfigError::Invalid {
                    var: var.clone(),
                    value: shown,
                    expected: format!("a property and value librdkafka accepts ({reason})"),
                });
            }
        }
        Ok(())
    }

    /// Settings every client shares, with the operator's pass-through properties.
    pub fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap_servers())
            .set("message.max.bytes", self.message_max_bytes.to_string())
            .set(
                "socket.connection.setup.timeout.ms",
                self.request_timeout.as_millis().to_string(),
            )
            .set("log_level", "4");
        for (property, (_, value)) in &self.properties {
            config.set(property, value);
        }
        config
    }

    /// A producer that never drops a message: acks from all in-sync replicas,
    /// idempotent (no duplicates from retries, order kept), zstd, and no delivery timeout
    /// (`message.timeout.ms=0`), so an outage delays delivery instead of losing data.
    /// Callers that must give up (an HTTP request waiting on its batch) set their own
    /// timeout on the returned config.
    pub fn producer(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("compression.type", "zstd")
            .set("message.timeout.ms", "0")
            .set("linger.ms", "5");
        for (property, (_, value)) in &self.properties {
            if !FIXED_PROPERTIES.contains(&property.as_str()) {
                config.set(property, value);
            }
        }
        config
    }

    /// A consumer in `group` that stores and commits offsets only when told to, starting
    /// from the earliest offset when the group has none, with fetches held at most
    /// [`FETCH_WAIT_MAX_MS`].
    ///
    /// Unless the operator sets `fetch.max.bytes`, a fetch is answered with at most
    /// [`FETCH_MAX_BYTES`], or `message.max.bytes` where that is larger (librdkafka's
    /// default is 50 MB).
    pub fn consumer(&self, group: &str) -> ClientConfig {
        let mut config = self.base();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS);
        for (property, (_, value)) in &self.properties {
            if !FIXED_PROPERTIES.contains(&property.as_str()) {
                config.set(property, value);
            }
        }
        if !self.properties.contains_key("fetch.max.bytes") {
            let message_max = config
                .get("message.max.bytes")
                .and_then(|value| value.parse().ok())
                .unwrap_or(self.message_max_bytes);
            config.set(
                "fetch.max.bytes",
                message_max.max(FETCH_MAX_BYTES).to_string(),
            );
        }
        config
    }

    pub fn admin(&self) -> ClientConfig {
        self.base()
    }
}

pub(crate) fn is_secret(property: &str) -> bool {
    let property = property.to_ascii_lowercase();
    SECRET_MARKERS
        .iter()
        .any(|marker| property.contains(marker))
}

fn serialize_masked<S: Serializer>(
    properties: &BTreeMap<String, (String, String)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(properties.iter().map(|(property, (_, value))| {
        let shown = if is_secret(property) {
            "***"
        } else {
            value.as_str()
        };
        (property, shown)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_property(property: &str, value: &str) -> KafkaSettings {
        let mut settings = KafkaSettings::for_brokers("127.0.0.1:9092");
        settings.properties.insert(
            property.into(),
            (format!("LOGPIPE_KAFKA_PROPERTY_{property}"), value.into()),
        );
        settings
    }

    #[test]
    fn producer_guarantees() {
        let config = KafkaSettings::for_brokers("a:1,b:2").producer();
        assert_eq!(config.get("bootstrap.servers"), Some("a:1,b:2"));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("compression.type"), Some("zstd"));
        assert_eq!(config.get("message.timeout.ms"), Some("0"));
        config.create_native_config().unwrap();
    }

    #[test]
    fn consumer_offsets_are_manual() {
        let config = KafkaSettings::for_brokers("a:1").consumer("logpipe-indexer");
        assert_eq!(config.get("group.id"), Some("logpipe-indexer"));
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("fetch.wait.max.ms"), Some(FETCH_WAIT_MAX_MS));
        assert_eq!(
            config.get("fetch.max.bytes"),
            Some(FETCH_MAX_BYTES.to_string().as_str())
        );
        config.create_native_config().unwrap();
    }

    #[test]
    fn pass_through_overrides_tuning_but_not_guarantees() {
        let settings = with_property("linger.ms", "50");
        settings.validate().unwrap();
        assert_eq!(settings.producer().get("linger.ms"), Some("50"));
        let settings = with_property("fetch.wait.max.ms", "500");
        settings.validate().unwrap();
        assert_eq!(
            settings
                .consumer("logpipe-alerting")
                .get("fetch.wait.max.ms"),
            Some("500")
        );
        let settings = with_property("message.max.bytes", "16777216");
        settings.validate().unwrap();
        let config = settings.consumer("logpipe-indexer");
        assert_eq!(config.get("fetch.max.bytes"), Some("16777216"));
        config.create_native_config().unwrap();
        let error = with_property("acks", "1").validate().unwrap_err();
        assert_eq!(error.var(), "LOGPIPE_KAFKA_PROPERTY_acks");
    }

    #[test]
    fn invalid_property_value_is_reported_masked() {
        let error = with_property("ssl.key.password", "").validate();
        assert!(error.is_ok(), "an empty password is a valid value");
        let error = with_property("security.protocol", "carrier-pigeon")
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("carrier-pigeon"), "{error}");
        let masked = serde_json::to_string(&with_property("sasl.password", "hunter2")).unwrap();
        assert!(!masked.contains("hunter2"));
    }
}
