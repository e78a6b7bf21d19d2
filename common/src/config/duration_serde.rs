//! How durations appear in the effective configuration logged at startup.

use std::time::Duration;

use serde::Serializer;

/// As humantime text: `8s`, `1m 30s`.
pub mod human {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }
}

/// As a number of milliseconds, for variables whose names end in `_MS`.
pub mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u128(value.as_millis())
    }
}
