//! A rule file as written, before any check: its YAML form, where a key stands in it, and
//! the problem type every check reports as `file:line: message`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// A problem in a rules or notifiers file, shown as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub(crate) file: PathBuf,
    /// 1-based; 0 when the whole file is concerned.
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            self.file.display(),
            self.line.max(1),
            self.message
        )
    }
}

/// A rule file as written, before any check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub query: String,
    pub window: Option<String>,
    pub threshold: Option<f64>,
    #[serde(default)]
    pub group_by: Vec<String>,
    pub severity: Option<String>,
    pub summary: Option<String>,
    pub notify: Vec<String>,
    pub realert: Option<String>,
    pub lateness: Option<String>,
    pub denominator: Option<String>,
    pub min_events: Option<u64>,
    pub field: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The 1-based line where `key:` is first written at the start of a line, 0 if nowhere.
pub(super) fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let trimmed = line.trim_start().trim_start_matches("- ");
            trimmed.starts_with(key) && trimmed[key.len()..].trim_start().starts_with(':')
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}
