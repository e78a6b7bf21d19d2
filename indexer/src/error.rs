//! Errors of the indexer library.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index at {path}: {source}")]
    Tantivy {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("{path} is unreadable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "index at {path} was written with schema version {found}; this logpipe reads version {expected}"
    )]
    SchemaVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("{0} dead-letter messages could not be delivered")]
    DeadLetter(u64),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

impl IndexerError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        IndexerError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn tantivy(path: &Path, source: tantivy::TantivyError) -> Self {
        IndexerError::Tantivy {
            path: path.to_owned(),
            source,
        }
    }
}
