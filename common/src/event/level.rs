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

/// How far into a text line a level is looked for: levels lead their lines, and a word
/// deeper in is part of the message ("retrying after ERROR from upstream").
const TEXT_PREFIX_BYTES: usize = 160;
/// Leading words of a text line that may hold its level.
const TEXT_LEVEL_WORDS: usize = 6;

impl Level {
    /// The level of a plain-text line, where the common formats put it: logfmt
    /// (`level=warn`, `lvl=`, `severity=`), klog's prefix (`E1127 10:00:00.123456`), a
    /// bracketed word (`[INFO]`, `[error]`), or an upper-case word among the first few
    /// (`2026-11-27 10:00:00 ERROR [main] …`, Python's `WARNING:root:…`). `None` when
    /// none of these is there; nothing deeper in the line is guessed.
    pub fn from_text(line: &str) -> Option<Level> {
        let mut end = line.len().min(TEXT_PREFIX_BYTES);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let head = &line[..end];
        if let Some(level) = klog(head) {
            return Some(level);
        }
        // Keys may be anywhere in the head, levels alone only among its first words; the
        // first found in word order wins. Most heads have no `=` and end the scan early.
        let has_keys = head.contains('=');
        for (i, word) in head.split_ascii_whitespace().enumerate() {
            if has_keys && matches!(word.as_bytes().first(), Some(b'l' | b's')) {
                for key in ["level=", "lvl=", "severity="] {
                    if let Some(value) = word.strip_prefix(key) {
                        return Level::from_name(value.trim_matches(|c| c == '"' || c == '\''));
                    }
                }
            }
            if i >= TEXT_LEVEL_WORDS {
                if has_keys {
                    continue;
                }
                break;
            }
            if let Some(inner) = word.strip_prefix('[').and_then(|w| w.strip_suffix(']'))
                && inner.len() >= 4
                && inner.chars().all(|c| c.is_ascii_alphabetic())
                && let Some(level) = Level::from_name(inner)
            {
                return Some(level);
            }
            let bare = word.split(':').next().unwrap_or(word);
            if bare.len() >= 4
                && bare.chars().all(|c| c.is_ascii_uppercase())
                && let Some(level) = Level::from_name(bare)
            {
                return Some(level);
            }
        }
        None
    }
}

/// klog (Kubernetes components): `Lmmdd hh:mm:ss.uuuuuu` with L one of I, W, E, F.
fn klog(head: &str) -> Option<Level> {
    let bytes = head.as_bytes();
    let prefixed = bytes.len() > 6
        && bytes[1..5].iter().all(u8::is_ascii_digit)
        && bytes[5] == b' '
        && bytes.get(8) == Some(&b':');
    if !prefixed {
        return None;
    }
    match bytes[0] {
        b'I' => Some(Level::Info),
        b'W' => Some(Level::Warn),
        b'E' => Some(Level::Error),
        b'F' => Some(Level::Fatal),
        _ => None,
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
    fn text_lines() {
        let cases = [
            (
                "ts=2026-11-27T10:00:00Z caller=scrape.go:1400 level=warn msg=\"too old\"",
                Some(Level::Warn),
            ),
            (
                "time=\"2026-11-27\" lvl=\"error\" msg=boom",
                Some(Level::Error),
            ),
            (
                "E1127 10:00:00.123456       1 controller.go:123] \"sync failed\"",
                Some(Level::Error),
            ),
            (
                "I1127 10:00:00.123456       1 reflector.go:359] watch",
                Some(Level::Info),
            ),
            (
                "[INFO] 10.244.1.7:51234 - 4312 \"A IN shop.svc. udp 56 false 512\" NOERROR",
                Some(Level::Info),
            ),
            ("[error] 42#42: *7 upstream timed out", Some(Level::Error)),
            (
                "2026-11-27 10:00:00.123 ERROR [report-worker-1] c.e.ReportJob - failed",
                Some(Level::Error),
            ),
            (
                "2026-11-27 10:00:00,123 WARNING:root:disk almost full",
                Some(Level::Warn),
            ),
            ("WARNING:root:disk almost full", Some(Level::Warn)),
            (
                "2026/11/27 10:00:00 [warn] 7#7: conflicting server name",
                Some(Level::Warn),
            ),
            // Not levels: a lower-case word in a sentence, a word past the leading ones,
            // access logs, stack frames, an all-caps word that is no level.
            ("no error was found", None),
            (
                "10.0.0.1 - - [27/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 500 12",
                None,
            ),
            ("\tat com.example.Pool.acquire(Pool.java:211)", None),
            ("one two three four five six seven ERROR", None),
            // A key counts anywhere in the head; the first level in word order wins.
            (
                "one two three four five six seven level=error",
                Some(Level::Error),
            ),
            ("x WARN y level=error", Some(Level::Warn)),
            (
                "GET /?q=a&level=info one two three four five six seven ERROR",
                None,
            ),
            ("GET /api/items NOERROR", None),
            ("", None),
        ];
        for (line, level) in cases {
            assert_eq!(Level::from_text(line), level, "{line}");
        }
        // Only the head of a long line is read, and a multi-byte character at the cut is
        // no problem.
        let long = format!("{} ERROR", "é".repeat(200));
        assert_eq!(Level::from_text(&long), None);
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
