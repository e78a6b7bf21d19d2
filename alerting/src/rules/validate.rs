//! The checks of a rule file, key by key and per rule type: each turns a raw value into
//! its typed form or records why it cannot, at the line of the key concerned, so that one
//! pass reports every problem of the file.

use std::path::Path;
use std::time::Duration;

use logpipe_language::{FieldRef, Query};

use super::rule::{DEFAULT_SUMMARY, RuleKind};
use super::source::{FileError, RuleFile, line_of};
use super::template::Template;

/// The problems found in one rule file, in the order they were found.
#[derive(Debug)]
pub(super) struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    found: Vec<FileError>,
}

impl<'a> Problems<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str) -> Self {
        Problems {
            file,
            text,
            found: Vec::new(),
        }
    }

    /// Records `message` at the line where `key` is written (line 0 when it is not).
    fn at(&mut self, key: &str, message: impl Into<String>) {
        self.found.push(FileError {
            file: self.file.to_path_buf(),
            line: line_of(self.text, key),
            message: message.into(),
        });
    }

    /// `Ok` when nothing was found.
    pub(super) fn finish(self) -> Result<(), Vec<FileError>> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(self.found)
        }
    }

    pub(super) fn into_errors(self) -> Vec<FileError> {
        self.found
    }
}

/// `name`, trimmed: letters, digits, `-`, `_` and `.` only.
pub(super) fn name(problems: &mut Problems<'_>, raw: &str) -> String {
    let name = raw.trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        problems.at(
            "name",
            format!("`{name}` is not a rule name (letters, digits, `-`, `_`, `.`)"),
        );
    }
    name
}

pub(super) fn query(problems: &mut Problems<'_>, text: &str) -> Option<Query> {
    match Query::parse(text) {
        Ok(query) => Some(query),
        Err(e) => {
            let position = e
                .position
                .map(|p| format!(" (at character {p})"))
                .unwrap_or_default();
            problems.at("query", format!("query: {}{position}", e.message));
            None
        }
    }
}

/// `window`: required, and not zero, for the types that count over time; zero for
/// `match` and `new_value`, which do not.
pub(super) fn window(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<Duration> {
    let needed = !matches!(raw.kind.as_str(), "match" | "new_value");
    let default = (!needed).then_some(Duration::ZERO);
    match raw.window.as_deref() {
        Some(text) => duration(problems, "window", text, false).or(default),
        None if needed => {
            problems.at("type", format!("type {} needs `window`", raw.kind));
            None
        }
        None => default,
    }
}

/// A duration a rule may leave out; zero is a choice (no lateness, no suppression).
pub(super) fn duration_or(
    problems: &mut Problems<'_>,
    key: &str,
    value: Option<&str>,
    default: Duration,
) -> Duration {
    value
        .and_then(|text| duration(problems, key, text, true))
        .unwrap_or(default)
}

fn duration(problems: &mut Problems<'_>, key: &str, text: &str, zero_ok: bool) -> Option<Duration> {
    match humantime::parse_duration(text) {
        Ok(d) if zero_ok || !d.is_zero() => Some(d),
        _ => {
            problems.at(
                key,
                format!("`{key}: {text}` is not a duration such as 30s, 5m or 1h"),
            );
            None
        }
    }
}

/// `group_by`: keyword fields and attribute paths only.
pub(super) fn group_by(problems: &mut Problems<'_>, names: &[String]) -> Vec<FieldRef> {
    let mut group_by = Vec::new();
    for name in names {
        match FieldRef::resolve(name) {
            Ok(FieldRef::Keyword(k)) => group_by.push(FieldRef::Keyword(k)),
            Ok(field @ (FieldRef::Attribute(_) | FieldRef::Label(..))) => group_by.push(field),
            Ok(_) => problems.at(
                "group_by",
                format!(
                    "group_by takes keyword fields, attributes.<path> or k8s.labels.<key>, not `{name}`"
                ),
            ),
            Err(e) => problems.at("group_by", format!("group_by: {}", e.message)),
        }
    }
    group_by
}

/// `type` and the keys that type needs.
pub(super) fn kind(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<RuleKind> {
    match raw.kind.as_str() {
        "match" => Some(RuleKind::Match),
        "threshold" => threshold_kind(problems, raw),
        "absence" => Some(RuleKind::Absence),
        "ratio" => ratio_kind(problems, raw),
        "new_value" => new_value_kind(problems, raw),
        "cardinality" => cardinality_kind(problems, raw),
        other => {
            problems.at(
                "type",
                format!(
                    "unknown rule type `{other}`; types are match, threshold, absence, ratio, new_value, cardinality"
                ),
            );
            None
        }
    }
}

fn threshold_kind(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<RuleKind> {
    let threshold = threshold(problems, raw, true)?;
    Some(RuleKind::Threshold {
        threshold: threshold as u64,
    })
}

fn ratio_kind(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<RuleKind> {
    let denominator = denominator(problems, raw);
    let threshold = threshold(problems, raw, false);
    Some(RuleKind::Ratio {
        denominator: Box::new(denominator?),
        threshold: threshold?,
        min_events: raw.min_events.unwrap_or(1).max(1),
    })
}

fn new_value_kind(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<RuleKind> {
    let field = field(problems, raw)?;
    Some(RuleKind::NewValue { field })
}

fn cardinality_kind(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<RuleKind> {
    let field = field(problems, raw);
    let threshold = threshold(problems, raw, true);
    Some(RuleKind::Cardinality {
        field: field?,
        threshold: threshold? as u64,
    })
}

/// `threshold`: above 0, and a whole number when it counts events or values.
fn threshold(problems: &mut Problems<'_>, raw: &RuleFile, whole: bool) -> Option<f64> {
    match raw.threshold {
        Some(t) if t > 0.0 && (!whole || t.fract() == 0.0) => Some(t),
        Some(t) => {
            let expected = if whole {
                "a whole number above 0"
            } else {
                "above 0"
            };
            problems.at("threshold", format!("`threshold: {t}` must be {expected}"));
            None
        }
        None => {
            problems.at("type", format!("type {} needs `threshold`", raw.kind));
            None
        }
    }
}

/// A ratio's `denominator`, the query the ratio is over.
fn denominator(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<Query> {
    match raw.denominator.as_deref().map(Query::parse) {
        Some(Ok(query)) => Some(query),
        Some(Err(e)) => {
            problems.at("denominator", format!("denominator: {}", e.message));
            None
        }
        None => {
            problems.at(
                "type",
                "a ratio rule needs `denominator`, the query the ratio is over",
            );
            None
        }
    }
}

/// `field` of `new_value` and `cardinality`: a keyword field or an attribute path.
fn field(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<FieldRef> {
    match raw.field.as_deref().map(FieldRef::resolve) {
        None => {
            problems.at("type", format!("type {} needs `field`", raw.kind));
            None
        }
        Some(Ok(field @ (FieldRef::Keyword(_) | FieldRef::Attribute(_) | FieldRef::Label(..)))) => {
            Some(field)
        }
        Some(Ok(_)) => {
            problems.at(
                "field",
                "`field` must be a keyword field, attributes.<path> or k8s.labels.<key>",
            );
            None
        }
        Some(Err(e)) => {
            problems.at("field", format!("field: {}", e.message));
            None
        }
    }
}

/// `summary`, or the default, as a template over the rule's `group_by`.
pub(super) fn summary(problems: &mut Problems<'_>, raw: &RuleFile) -> Option<Template> {
    let text = raw.summary.as_deref().unwrap_or(DEFAULT_SUMMARY);
    Template::parse(text, &raw.group_by)
        .map_err(|message| problems.at("summary", format!("summary: {message}")))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::super::file::tests::{THRESHOLD, parse};

    fn messages(text: &str) -> Vec<String> {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn every_type_parses_with_its_keys() {
        for text in [
            "name: a\ntype: match\nquery: level:error\nnotify: [x]\n",
            "name: a\ntype: absence\nquery: 'message:heartbeat'\nwindow: 5m\ngroup_by: [k8s.pod]\nnotify: [x]\n",
            "name: a\ntype: ratio\nquery: level:error\ndenominator: '*'\nthreshold: 0.1\nwindow: 5m\nnotify: [x]\n",
            "name: a\ntype: new_value\nquery: '*'\nfield: attributes.user\nnotify: [x]\n",
            "name: a\ntype: cardinality\nquery: '*'\nfield: attributes.ip\nthreshold: 100\nwindow: 1h\nnotify: [x]\n",
        ] {
            parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        }
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let bad_query = THRESHOLD.replace("'k8s.namespace:shop AND level:error'", "'level:'");
        assert_eq!(
            messages(&bad_query),
            ["rules/r.yaml:3: query: syntax error at position 6: expected word (at character 6)"]
        );

        let bad_window = THRESHOLD.replace("window: 1m", "window: soon");
        assert_eq!(
            messages(&bad_window),
            ["rules/r.yaml:4: `window: soon` is not a duration such as 30s, 5m or 1h"]
        );

        let bad_type = THRESHOLD.replace("type: threshold", "type: spike");
        assert!(messages(&bad_type)[0].starts_with("rules/r.yaml:2: unknown rule type `spike`"));

        let bad_group = THRESHOLD.replace("group_by: [k8s.pod]", "group_by: [k8s.pood]");
        assert!(
            messages(&bad_group)[0]
                .starts_with("rules/r.yaml:6: group_by: unknown field `k8s.pood`"),
            "{:?}",
            messages(&bad_group)
        );

        let bad_summary = THRESHOLD.replace("group.k8s.pod", "group.k8s.node");
        assert!(messages(&bad_summary)[0].starts_with("rules/r.yaml:8: summary:"));

        let unknown_key = format!("{THRESHOLD}treshold: 5\n");
        assert!(
            messages(&unknown_key)[0].contains("unknown field `treshold`"),
            "{:?}",
            messages(&unknown_key)
        );

        let not_yaml = "name: [unclosed\n";
        assert!(
            messages(not_yaml)[0].starts_with("rules/r.yaml:"),
            "{:?}",
            messages(not_yaml)
        );

        let missing = "name: a\ntype: threshold\nquery: '*'\nnotify: [x]\n";
        let found = messages(missing);
        assert!(
            found.iter().any(|m| m.contains("needs `window`")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|m| m.contains("needs `threshold`")),
            "{found:?}"
        );
    }
}
