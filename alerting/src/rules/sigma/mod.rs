//! Sigma rules (the SigmaHQ detection format) as alert rules: a file with `logsource` and
//! `detection` in the rules directory (or under it) is read as Sigma.
//!
//! A rule for a log source logpipe does not collect (Windows, Linux process creation, …)
//! is left out with the reason, which `logpipe alerting check` lists. A rule for a source
//! it collects loads only when every field, modifier and condition can be evaluated
//! exactly; otherwise it is refused, naming what cannot, as any bad rule is.
//!
//! A loaded rule is a `match` rule over the log source's events: each event the detection
//! matches raises an alert (within the per-rule alert limit), whose labels carry the
//! rule's `title`, `id`, `level`, `tags`, `status` and `author` (the Detection Rule
//! License asks that the author be shown), and whose summary names the title and author.
//!
//! ```text
//! logsource → the events' query and field mapping (logsource)
//! detection → searches of field conditions (detection), their values and modifiers
//!             (value), the condition over them (condition)
//! ```

mod condition;
mod detection;
mod logsource;
#[cfg(test)]
mod tests;
mod value;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use logpipe_language::Query;

pub(crate) use detection::Detection;
use logsource::LogSource;

use super::rule::{DEFAULT_LATENESS, Matcher, Rule, RuleKind};
use super::source::{FileError, line_of};
use super::template::Template;

/// What became of one Sigma file.
#[derive(Debug)]
pub(crate) enum Outcome {
    Loaded(Box<Rule>),
    /// Not for a source logpipe collects, or not meant to alert: left out, with why.
    Skipped(String),
}

/// The members of a Sigma rule logpipe reads; the others (references, dates,
/// falsepositives, …) are documentation.
#[derive(Debug, Deserialize)]
struct SigmaFile {
    title: Option<String>,
    id: Option<String>,
    status: Option<String>,
    author: Option<String>,
    level: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    logsource: Option<LogSource>,
    detection: Option<serde_json::Map<String, Value>>,
    correlation: Option<Value>,
    filter: Option<Value>,
}

/// Whether a parsed YAML document is a Sigma rule rather than a logpipe rule.
pub(crate) fn is_sigma(document: &Value) -> bool {
    ["detection", "logsource", "correlation"]
        .iter()
        .any(|key| document.get(key).is_some())
}

/// Reads one Sigma rule named `name` from `document` (the parsed `text` of `file`).
pub(crate) fn parse(
    name: String,
    document: Value,
    text: &str,
    file: &Path,
) -> Result<Outcome, Vec<FileError>> {
    let error = |key: &str, message: String| FileError {
        file: file.to_path_buf(),
        line: line_of(text, key),
        message,
    };
    let sigma: SigmaFile = serde_json::from_value(document)
        .map_err(|e| vec![error("title", format!("not a Sigma rule: {e}"))])?;
    if sigma.correlation.is_some() {
        return Err(vec![error(
            "correlation",
            "Sigma correlation rules are not supported".into(),
        )]);
    }
    if sigma.filter.is_some() {
        return Err(vec![error(
            "filter",
            "Sigma filters are not supported".into(),
        )]);
    }
    if let Some(status @ ("deprecated" | "unsupported")) = sigma.status.as_deref() {
        return Ok(Outcome::Skipped(format!("status {status}")));
    }
    if sigma.level.as_deref() == Some("informational") {
        return Ok(Outcome::Skipped(
            "level informational: for enrichment, not for alerts".into(),
        ));
    }
    let mapping = match logsource::resolve(&sigma.logsource.unwrap_or_default()) {
        Ok(mapping) => mapping,
        Err(reason) => return Ok(Outcome::Skipped(reason)),
    };
    let Some(title) = sigma.title.filter(|t| !t.trim().is_empty()) else {
        return Err(vec![error("title", "a Sigma rule needs a `title`".into())]);
    };
    let Some(detection) = sigma.detection else {
        return Err(vec![error(
            "detection",
            "a Sigma rule needs a `detection`".into(),
        )]);
    };
    let detection = Detection::compile(&detection, mapping).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| error(&p.search, format!("detection.{}: {}", p.search, p.message)))
            .collect::<Vec<_>>()
    })?;
    let query = Query::parse(mapping.query).map_err(|e| {
        vec![error(
            "logsource",
            format!("logsource query: {}", e.message),
        )]
    })?;
    let author = sigma.author.unwrap_or_else(|| "unknown".into());
    let mut labels = BTreeMap::new();
    labels.insert("sigma_title".to_string(), title.clone());
    labels.insert("sigma_author".to_string(), author.clone());
    for (key, value) in [
        ("sigma_id", sigma.id),
        ("sigma_level", sigma.level.clone()),
        ("sigma_status", sigma.status),
    ] {
        if let Some(value) = value {
            labels.insert(key.to_string(), value);
        }
    }
    if !sigma.tags.is_empty() {
        labels.insert("sigma_tags".to_string(), sigma.tags.join(","));
    }
    Ok(Outcome::Loaded(Box::new(Rule {
        name,
        kind: RuleKind::Match,
        query_text: query.to_string(),
        query,
        predicate: Matcher::Sigma(Arc::new(detection)),
        denominator: None,
        window: Duration::ZERO,
        group_by: Vec::new(),
        severity: severity(sigma.level.as_deref()).to_string(),
        summary: Template::text(format!("{title} (Sigma rule by {author})")),
        notify: Vec::new(),
        // Every detection is an alert; the per-rule alert limit bounds a burst.
        realert: Duration::ZERO,
        lateness: DEFAULT_LATENESS,
        labels,
        file: file.to_path_buf(),
        sigma: true,
    })))
}

/// The severity of a Sigma level, in the words Alertmanager routes commonly use.
fn severity(level: Option<&str>) -> &'static str {
    match level {
        Some("critical" | "high") => "critical",
        Some("low") => "info",
        _ => "warning",
    }
}

/// A rule name from a file name: the stem, with anything but letters, digits, `-`, `_`
/// and `.` written as `_`.
pub(crate) fn rule_name(file: &Path) -> String {
    file.file_stem()
        .map(|stem| {
            stem.to_string_lossy()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .unwrap_or_else(|| "sigma".into())
}
