//! Alert rules: one YAML file per rule in `LOGPIPE_ALERTING_RULES_DIR`, validated as a
//! whole so that a bad change is reported with `file:line` and never half-applied.
//!
//! ```yaml
//! name: checkout-errors
//! type: threshold            # match | threshold | absence | ratio | new_value | cardinality
//! query: 'k8s.namespace:shop AND level:error'
//! window: 1m
//! threshold: 5
//! group_by: [k8s.pod]
//! severity: critical
//! summary: '{{ count }} errors in {{ group.k8s.pod }}'
//! notify: [oncall]
//! realert: 10m
//! ```
//!
//! `notify` is required; an explicit `notify: []` keeps a rule's alerts to the log and
//! the alerts topic.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use logpipe_language::{EventView, FieldRef, Predicate, Query, TimeField};
use serde::Deserialize;

/// Allowed lateness when a rule does not say.
pub const DEFAULT_LATENESS: Duration = Duration::from_secs(30);
/// Suppression of repeated alerts for a group when a rule does not say.
pub const DEFAULT_REALERT: Duration = Duration::from_secs(300);

/// A problem in a rules or notifiers file, shown as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: PathBuf,
    /// 1-based; 0 when the whole file is concerned.
    pub line: usize,
    pub message: String,
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

/// What a rule watches for.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Each matching event, suppressed per group for `realert`.
    Match,
    /// At least `threshold` matching events within `window`, per group.
    Threshold { threshold: u64 },
    /// No matching event for `window`, per group seen before.
    Absence,
    /// Matches of `query` over matches of `denominator` within `window` reach `threshold`
    /// (with at least `min_events` in the denominator).
    Ratio {
        denominator: Box<Query>,
        threshold: f64,
        min_events: u64,
    },
    /// A value of `field` never seen before.
    NewValue { field: FieldRef },
    /// At least `threshold` distinct values of `field` within `window`, per group.
    Cardinality { field: FieldRef, threshold: u64 },
}

impl RuleKind {
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Match => "match",
            RuleKind::Threshold { .. } => "threshold",
            RuleKind::Absence => "absence",
            RuleKind::Ratio { .. } => "ratio",
            RuleKind::NewValue { .. } => "new_value",
            RuleKind::Cardinality { .. } => "cardinality",
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub kind: RuleKind,
    pub query: Query,
    pub predicate: Predicate,
    /// The denominator's predicate of a ratio rule.
    pub denominator: Option<Predicate>,
    pub window: Duration,
    pub group_by: Vec<FieldRef>,
    pub severity: String,
    pub summary: Template,
    pub notify: Vec<String>,
    pub realert: Duration,
    pub lateness: Duration,
    pub labels: BTreeMap<String, String>,
    pub file: PathBuf,
}

impl Rule {
    /// The group an event belongs to: the values of `group_by`, `None` for a missing one.
    pub fn group_of(&self, view: &EventView<'_>) -> Vec<Option<String>> {
        self.group_by
            .iter()
            .map(|field| field_value(view, field))
            .collect()
    }

    /// The attribute paths the rule looks at; `None` when it looks at every string
    /// attribute (a word without a field, `attribute_text`).
    pub fn attribute_paths(&self) -> Option<Vec<String>> {
        let mut fields = self.query.fields();
        match &self.kind {
            RuleKind::Ratio { denominator, .. } => fields.extend(denominator.fields()),
            RuleKind::NewValue { field } | RuleKind::Cardinality { field, .. } => {
                fields.push(field)
            }
            _ => {}
        }
        fields.extend(&self.group_by);
        let mut paths = Vec::new();
        for field in fields {
            match field {
                FieldRef::Default | FieldRef::AttributeText => return None,
                FieldRef::Attribute(path) => paths.push(path.clone()),
                _ => {}
            }
        }
        Some(paths)
    }

    /// Names of the `group_by` fields, as written.
    pub fn group_names(&self) -> Vec<String> {
        self.group_by.iter().map(FieldRef::name).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    query: String,
    window: Option<String>,
    threshold: Option<f64>,
    #[serde(default)]
    group_by: Vec<String>,
    severity: Option<String>,
    summary: Option<String>,
    notify: Vec<String>,
    realert: Option<String>,
    lateness: Option<String>,
    denominator: Option<String>,
    min_events: Option<u64>,
    field: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses one rule file; every problem found, each with its line.
pub fn parse_rule(text: &str, file: &Path) -> Result<Rule, Vec<FileError>> {
    let error = |line: usize, message: String| FileError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let raw: RuleFile = serde_norway::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(0);
        vec![error(line, e.to_string())]
    })?;
    let at = |key: &str| line_of(text, key);
    let mut errors = Vec::new();

    let name = raw.name.trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errors.push(error(
            at("name"),
            format!("`{name}` is not a rule name (letters, digits, `-`, `_`, `.`)"),
        ));
    }
    let query = match Query::parse(&raw.query) {
        Ok(query) => Some(query),
        Err(e) => {
            let position = e
                .position
                .map(|p| format!(" (at character {p})"))
                .unwrap_or_default();
            errors.push(error(
                at("query"),
                format!("query: {}{position}", e.message),
            ));
            None
        }
    };
    let mut duration =
        |key: &str, value: &Option<String>, default: Option<Duration>| -> Option<Duration> {
            // A window must have a length; no lateness or no suppression is a choice.
            let zero_ok = key != "window";
            match value {
                None => {
                    if default.is_none() {
                        errors.push(error(
                            at("type"),
                            format!("type {} needs `{key}`", raw.kind),
                        ));
                    }
                    default
                }
                Some(text) => match humantime::parse_duration(text) {
                    Ok(d) if zero_ok || !d.is_zero() => Some(d),
                    _ => {
                        errors.push(error(
                            at(key),
                            format!("`{key}: {text}` is not a duration such as 30s, 5m or 1h"),
                        ));
                        default
                    }
                },
            }
        };
    let needs_window = !matches!(raw.kind.as_str(), "match" | "new_value");
    let window = duration(
        "window",
        &raw.window,
        (!needs_window).then_some(Duration::ZERO),
    );
    let realert = duration("realert", &raw.realert, Some(DEFAULT_REALERT));
    let lateness = duration("lateness", &raw.lateness, Some(DEFAULT_LATENESS));

    let mut group_by = Vec::new();
    for name in &raw.group_by {
        match FieldRef::resolve(name) {
            Ok(FieldRef::Keyword(k)) => group_by.push(FieldRef::Keyword(k)),
            Ok(FieldRef::Attribute(path)) => group_by.push(FieldRef::Attribute(path)),
            Ok(_) => errors.push(error(
                at("group_by"),
                format!("group_by takes keyword fields or attributes.<path>, not `{name}`"),
            )),
            Err(e) => errors.push(error(at("group_by"), format!("group_by: {}", e.message))),
        }
    }
    let mut single_field = |key: &str| -> Option<FieldRef> {
        match raw.field.as_deref().map(FieldRef::resolve) {
            None => {
                errors.push(error(
                    at("type"),
                    format!("type {} needs `field`", raw.kind),
                ));
                None
            }
            Some(Ok(field @ (FieldRef::Keyword(_) | FieldRef::Attribute(_)))) => Some(field),
            Some(Ok(_)) => {
                errors.push(error(
                    at(key),
                    "`field` must be a keyword field or attributes.<path>".into(),
                ));
                None
            }
            Some(Err(e)) => {
                errors.push(error(at(key), format!("field: {}", e.message)));
                None
            }
        }
    };
    let threshold = |errors: &mut Vec<FileError>, integer: bool| -> Option<f64> {
        match raw.threshold {
            Some(t) if t > 0.0 && (!integer || t.fract() == 0.0) => Some(t),
            Some(t) => {
                errors.push(error(
                    at("threshold"),
                    format!(
                        "`threshold: {t}` must be {}",
                        if integer {
                            "a whole number above 0"
                        } else {
                            "above 0"
                        }
                    ),
                ));
                None
            }
            None => {
                errors.push(error(
                    at("type"),
                    format!("type {} needs `threshold`", raw.kind),
                ));
                None
            }
        }
    };
    let kind = match raw.kind.as_str() {
        "match" => Some(RuleKind::Match),
        "threshold" => threshold(&mut errors, true).map(|t| RuleKind::Threshold {
            threshold: t as u64,
        }),
        "absence" => Some(RuleKind::Absence),
        "ratio" => {
            let denominator = match raw.denominator.as_deref().map(Query::parse) {
                Some(Ok(query)) => Some(query),
                Some(Err(e)) => {
                    errors.push(error(
                        at("denominator"),
                        format!("denominator: {}", e.message),
                    ));
                    None
                }
                None => {
                    errors.push(error(
                        at("type"),
                        "a ratio rule needs `denominator`, the query the ratio is over".into(),
                    ));
                    None
                }
            };
            let t = threshold(&mut errors, false);
            match (denominator, t) {
                (Some(denominator), Some(threshold)) => Some(RuleKind::Ratio {
                    denominator: Box::new(denominator),
                    threshold,
                    min_events: raw.min_events.unwrap_or(1).max(1),
                }),
                _ => None,
            }
        }
        "new_value" => single_field("field").map(|field| RuleKind::NewValue { field }),
        "cardinality" => {
            let field = single_field("field");
            let t = threshold(&mut errors, true);
            match (field, t) {
                (Some(field), Some(t)) => Some(RuleKind::Cardinality {
                    field,
                    threshold: t as u64,
                }),
                _ => None,
            }
        }
        other => {
            errors.push(error(at("type"), format!(
                "unknown rule type `{other}`; types are match, threshold, absence, ratio, new_value, cardinality"
            )));
            None
        }
    };
    let summary_text = raw
        .summary
        .clone()
        .unwrap_or_else(|| "{{ rule }}: {{ count }} events".into());
    let summary = Template::parse(&summary_text, &raw.group_by)
        .map_err(|message| errors.push(error(at("summary"), format!("summary: {message}"))))
        .ok();
    let severity = raw.severity.clone().unwrap_or_else(|| "warning".into());

    match (
        errors.is_empty(),
        kind,
        query,
        window,
        realert,
        lateness,
        summary,
    ) {
        (
            true,
            Some(kind),
            Some(query),
            Some(window),
            Some(realert),
            Some(lateness),
            Some(summary),
        ) => {
            let denominator = match &kind {
                RuleKind::Ratio { denominator, .. } => Some(Predicate::new(denominator)),
                _ => None,
            };
            Ok(Rule {
                name,
                predicate: Predicate::new(&query),
                denominator,
                kind,
                query,
                window,
                group_by,
                severity,
                summary,
                notify: raw.notify,
                realert,
                lateness,
                labels: raw.labels,
                file: file.to_path_buf(),
            })
        }
        _ => Err(errors),
    }
}

/// Every `*.yaml`/`*.yml` rule file in `dir`: all rules, or every problem of every file.
pub fn load_dir(dir: &Path) -> Result<Vec<Rule>, Vec<FileError>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![FileError {
            file: dir.to_path_buf(),
            line: 0,
            message: format!("reading the rules directory: {e}"),
        }]
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                )
        })
        .collect();
    paths.sort();
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                errors.push(FileError {
                    file: path.clone(),
                    line: 0,
                    message: format!("reading: {e}"),
                });
                continue;
            }
        };
        match parse_rule(&text, &path) {
            Ok(rule) => {
                if !names.insert(rule.name.clone()) {
                    errors.push(FileError {
                        file: path.clone(),
                        line: line_of(&text, "name"),
                        message: format!("another rule file already names a rule `{}`", rule.name),
                    });
                } else {
                    rules.push(rule);
                }
            }
            Err(found) => errors.extend(found),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// A problem per `notify` name of `rules` that `notifiers` does not define; `where_`
/// says where the notifiers were looked for.
pub fn undefined_notifiers(
    rules: &[Rule],
    notifiers: Option<&crate::notify::Notifiers>,
    where_: &str,
) -> Vec<FileError> {
    let mut errors = Vec::new();
    for rule in rules {
        for name in &rule.notify {
            if notifiers.is_none_or(|n| n.get(name).is_none()) {
                let text = std::fs::read_to_string(&rule.file).unwrap_or_default();
                errors.push(FileError {
                    file: rule.file.clone(),
                    line: line_of(&text, "notify"),
                    message: format!("notifier `{name}` is not defined {where_}"),
                });
            }
        }
    }
    errors
}

/// The 1-based line where `key:` is first written at the start of a line, 0 if nowhere.
pub fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let trimmed = line.trim_start().trim_start_matches("- ");
            trimmed.starts_with(key) && trimmed[key.len()..].trim_start().starts_with(':')
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// The value of a keyword field or attribute path of `event`, as text.
pub fn field_value(view: &EventView<'_>, field: &FieldRef) -> Option<String> {
    match field {
        FieldRef::Keyword(keyword) => {
            // The first value: `flags` may have several.
            let mut first = None;
            view.keyword_any(*keyword, |value| {
                first = Some(value.to_string());
                true
            });
            first
        }
        FieldRef::Attribute(path) => {
            view.attribute(path)
                .and_then(|value| match value.into_owned() {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(text) => Some(text),
                    other => Some(other.to_string()),
                })
        }
        FieldRef::Message => Some(view.message().to_string()),
        FieldRef::Time(TimeField::Ts) => Some(view.ts().to_string()),
        FieldRef::Time(TimeField::ObservedTs) => Some(view.observed_ts().to_string()),
        FieldRef::Default | FieldRef::AttributeText => None,
    }
}

/// A summary template: text with `{{ count }}`, `{{ rule }}`, `{{ severity }}`,
/// `{{ group.<field> }}` and `{{ event.<path> }}` (a field of the triggering event).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Count,
    Rule,
    Severity,
    Group(usize),
    Event(Vec<String>),
}

/// What a template is filled with.
#[derive(Debug)]
pub struct Context<'a> {
    pub rule: &'a str,
    pub severity: &'a str,
    pub count: u64,
    pub group: &'a [Option<String>],
    pub event: Option<&'a serde_json::Value>,
}

impl Template {
    pub fn parse(text: &str, group_by: &[String]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| "`{{` without `}}`".to_string())?;
            let name = after[..close].trim();
            parts.push(match name {
                "count" => Part::Count,
                "rule" => Part::Rule,
                "severity" => Part::Severity,
                _ => {
                    if let Some(field) = name.strip_prefix("group.") {
                        let index = group_by.iter().position(|g| g == field).ok_or_else(|| {
                            format!("`{{{{ {name} }}}}`: `{field}` is not in group_by")
                        })?;
                        Part::Group(index)
                    } else if let Some(path) = name.strip_prefix("event.") {
                        Part::Event(path.split('.').map(str::to_string).collect())
                    } else {
                        return Err(format!(
                            "unknown `{{{{ {name} }}}}`; use count, rule, severity, group.<field> or event.<path>"
                        ));
                    }
                }
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub fn render(&self, context: &Context<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Count => out.push_str(&context.count.to_string()),
                Part::Rule => out.push_str(context.rule),
                Part::Severity => out.push_str(context.severity),
                Part::Group(index) => out.push_str(
                    context
                        .group
                        .get(*index)
                        .and_then(|v| v.as_deref())
                        .unwrap_or("-"),
                ),
                Part::Event(path) => {
                    let mut value = context.event;
                    for key in path {
                        value = value.and_then(|v| v.get(key));
                    }
                    match value {
                        Some(serde_json::Value::String(text)) => out.push_str(text),
                        Some(other) => out.push_str(&other.to_string()),
                        None => out.push('-'),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLD: &str = "name: checkout-errors
type: threshold
query: 'k8s.namespace:shop AND level:error'
window: 1m
threshold: 5
group_by: [k8s.pod]
severity: critical
summary: '{{ count }} errors in {{ group.k8s.pod }}'
notify: [oncall]
realert: 10m
";

    fn parse(text: &str) -> Result<Rule, Vec<FileError>> {
        parse_rule(text, Path::new("rules/r.yaml"))
    }

    fn messages(text: &str) -> Vec<String> {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn the_documented_rule_parses() {
        let rule = parse(THRESHOLD).unwrap();
        assert_eq!(rule.name, "checkout-errors");
        assert_eq!(rule.kind, RuleKind::Threshold { threshold: 5 });
        assert_eq!(rule.window, Duration::from_secs(60));
        assert_eq!(rule.realert, Duration::from_secs(600));
        assert_eq!(rule.group_names(), ["k8s.pod"]);
        let summary = rule.summary.render(&Context {
            rule: "checkout-errors",
            severity: "critical",
            count: 7,
            group: &[Some("api-1".into())],
            event: None,
        });
        assert_eq!(summary, "7 errors in api-1");
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

    #[test]
    fn a_directory_loads_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), THRESHOLD).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a rule").unwrap();
        assert_eq!(load_dir(dir.path()).unwrap().len(), 1);
        std::fs::write(dir.path().join("b.yml"), THRESHOLD).unwrap();
        let errors = load_dir(dir.path()).unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .contains("b.yml:1: another rule file already names"),
            "{errors:?}"
        );
    }

    #[test]
    fn field_values_reach_nested_and_dotted_attributes() {
        let mut event = logpipe_common::testkit::sample_event(16, logpipe_common::Timestamp::now());
        event
            .attributes
            .insert("a.b".into(), serde_json::json!("dotted"));
        let view = EventView::new(&event);
        let get = |name: &str| field_value(&view, &FieldRef::resolve(name).unwrap());
        assert_eq!(get("attributes.http.status").as_deref(), Some("502"));
        assert_eq!(get("attributes.http.path").as_deref(), Some("/cart"));
        assert_eq!(get("attributes.a.b").as_deref(), Some("dotted"));
        assert_eq!(get("k8s.pod").as_deref(), Some("shop-api-6"));
        assert_eq!(get("attributes.missing"), None);
    }
}
