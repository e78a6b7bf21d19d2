//! Configuration errors: each names the variable, the value it got and the expected form.

/// The process exits with this status on invalid configuration.
pub const EXIT_INVALID_CONFIG: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {var}={value:?}: expected {expected}")]
    Invalid {
        var: String,
        /// The value as given, or `***` for secrets.
        value: String,
        expected: String,
    },
    #[error("{var} is required: expected {expected}")]
    Missing { var: String, expected: String },
}

impl ConfigError {
    pub fn var(&self) -> &str {
        match self {
            ConfigError::Invalid { var, .. } | ConfigError::Missing { var, .. } => var,
        }
    }

    pub const EXIT_CODE: u8 = EXIT_INVALID_CONFIG;
}
