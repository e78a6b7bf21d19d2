//! Errors of the collector: what is wrong with a line that could not be read as its
//! container log format (the caller keeps such a line whole rather than drop it), and
//! failures of the collector's own machinery.

use rdkafka::error::KafkaError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("timestamp is not found")]
    TimestampNotFound,
    #[error("unexpected timestamp format")]
    InvalidTimestamp,
    #[error("stream type is not found")]
    StreamNotFound,
    #[error("unexpected stream type")]
    UnexpectedStream,
    #[error("log tag is not found")]
    TagNotFound,
    /// The line is not a JSON object with a string `log`, a `stream` and a `time`.
    #[error("not a docker json-file record: {0}")]
    NotDockerJson(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("the producer queue is full")]
    QueueFull,
}
