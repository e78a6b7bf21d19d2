//! Errors of the indexer library.

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error(transparent)]
    Store(#[from] logpipe_store::StoreError),
    #[error("{0} dead-letter messages could not be delivered")]
    DeadLetter(u64),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}
