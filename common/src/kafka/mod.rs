//! Kafka client settings shared by every producer and consumer, topic creation at
//! startup, and the readiness probe that keeps checking the brokers.

mod probe;
mod settings;
mod topics;

pub use probe::{CHECK, spawn_probe};
pub use settings::{FIXED_PROPERTIES, KafkaSettings};
pub use topics::{TopicSpec, ensure_topics, fetch_metadata};
