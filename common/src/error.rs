//! Errors of the shared runtime.

use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("kafka request failed: {0}")]
    KafkaRequest(String),
    #[error("timed out after {timeout_ms} ms waiting for {what}")]
    Timeout { what: String, timeout_ms: u128 },
    #[error("broker process: {0}")]
    Broker(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
