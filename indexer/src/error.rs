//! Errors of the indexer library.

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error(transparent)]
    Store(#[from] logpipe_store::StoreError),
    /// Dead letters the broker has not acknowledged yet (an outage, or references it
    /// refuses): they are offered again, and the offsets past them wait.
    #[error("{0} dead letters not yet acknowledged by the broker")]
    DeadLetterPending(u64),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Object storage could not give back a day evicted to it.
    #[error("object storage: {0}")]
    Archive(String),
}
