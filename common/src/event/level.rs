//! Severity levels normalized from the many spellings applications use.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    Unknown,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
        Level::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
            Level::Unknown => "unknown",
        }
    }

    /// Normalizes a level name: case-insensitive words (`WARNING`, `err`, `critical`,
    /// `notice`, ...), single letters (`E`, `W`), and numbers as text.
    pub fn from_name(name: &str) -> Option<Level> {
        let name = name.trim();
        if let Ok(number) = name.parse::<i64>() {
            return Level::from_number(number);
        }
        let level = match name.to_ascii_lowercase().as_str() {
            "trace" | "trc" | "t" | "finest" | "finer" | "verbose" => Level::Trace,
            "debug" | "dbg" | "d" | "fine" | "config" => Level::Debug,
            "info" | "inf" | "i" | "information" | "informational" | "notice" | "ok" => Level::Info,
            "warn" | "warning" | "wrn" | "w" => Level::Warn,
            "error" | "err" | "eror" | "erro" | "e" | "severe" => Level::Error,
            "fatal" | "ftl" | "f" | "crit" | "critical" | "alert" | "emerg" | "emergency"
            | "panic" | "dpanic" => Level::Fatal,
            _ => return None,
        };
        Some(level)
    }

    /// Numeric levels: syslog severities 0–7 (0 = emergency, 7 = debug) and the
    /// bunyan/pino scale 10–60 (10 = trace, 60 = fatal). Nothing else is guessed.
    pub fn from_number(number: i64) -> Option<Level> {
        let level = match number {
            0..=2 => Level::Fatal,
            3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            10 => Level::Trace,
            20 => Level::Debug,
            30 => Level::Info,
            40 => Level::Warn,
            50 => Level::Error,
            60 => Level::Fatal,
            _ => return None,
        };
        Some(level)
    }

    /// A level from an application's JSON value; `None` when the value is not a level
    /// (a Kubernetes audit event's `"level": "Metadata"` is an audit level, not a severity).
    pub fn from_json(value: &serde_json::Value) -> Option<Level> {
        match value {
            serde_json::Value::String(name) => Level::from_name(name),
            serde_json::Value::Number(number) => number.as_i64().and_then(Level::from_number),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spellings() {
        let cases = [
            ("WARNING", Level::Warn),
            ("Warn", Level::Warn),
            ("err", Level::Error),
            ("ERROR", Level::Error),
            ("critical", Level::Fatal),
            ("CRIT", Level::Fatal),
            ("emerg", Level::Fatal),
            ("notice", Level::Info),
            ("informational", Level::Info),
            ("dbg", Level::Debug),
            ("TRACE", Level::Trace),
            (" info ", Level::Info),
            ("3", Level::Error),
        ];
        for (name, level) in cases {
            assert_eq!(Level::from_name(name), Some(level), "{name}");
        }
        assert_eq!(Level::from_name("Metadata"), None);
        assert_eq!(Level::from_name("RequestResponse"), None);
    }

    #[test]
    fn syslog_and_pino_numbers() {
        let syslog = [
            Level::Fatal,
            Level::Fatal,
            Level::Fatal,
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Info,
            Level::Debug,
        ];
        for (severity, level) in syslog.into_iter().enumerate() {
            assert_eq!(Level::from_json(&json!(severity)), Some(level));
        }
        assert_eq!(Level::from_json(&json!(50)), Some(Level::Error));
        assert_eq!(Level::from_json(&json!(8)), None);
        assert_eq!(Level::from_json(&json!(4.5)), None);
        assert_eq!(Level::from_json(&json!(null)), None);
    }
}
