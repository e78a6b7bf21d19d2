//! Errors of the collector.

use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("io on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid glob: {0}")]
    Glob(#[from] globset::Error),
    #[error("file watcher: {0}")]
    Watch(#[from] notify::Error),
    #[error("shutting down")]
    ShuttingDown,
}

impl CollectorError {
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        CollectorError::Io {
            path: path.to_string(),
            source,
        }
    }
}
