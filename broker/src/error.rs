//! Errors of starting and running the broker.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the broker's data directory {dir} cannot be used: {reason}")]
    DataDir { dir: PathBuf, reason: String },
    #[error("starting the broker's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// tansu's own error, in its debug form (that is how tansu displays it).
    #[error("broker: {0}")]
    Tansu(String),
    #[error("the broker did not accept connections on {address} within {timeout_ms} ms")]
    Timeout { address: String, timeout_ms: u128 },
    #[error("the broker stopped unexpectedly")]
    Stopped,
}

impl From<tansu_broker::Error> for Error {
    fn from(error: tansu_broker::Error) -> Self {
        Error::Tansu(error.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
