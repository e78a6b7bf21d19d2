//! Why a query was refused.

/// Why a query was refused, with the character position it refers to when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub message: String,
    /// Character offset into the query.
    pub position: Option<usize>,
}

impl QueryError {
    pub fn new(message: impl Into<String>) -> Self {
        QueryError {
            message: message.into(),
            position: None,
        }
    }

    pub(crate) fn at(mut self, position: Option<usize>) -> Self {
        self.position = self.position.or(position);
        self
    }
}
