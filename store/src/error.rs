//! Errors of the audit store.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
}

impl StoreError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn tantivy(path: &Path, source: tantivy::TantivyError) -> Self {
        StoreError::Tantivy {
            path: path.to_owned(),
            source,
        }
    }
}
