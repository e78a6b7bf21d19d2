//! Rule files: the YAML of one rule read into a `Rule`, a directory of them loaded whole
//! or not at all, and every problem reported as `file:line: message`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use logpipe_language::Predicate;

use super::rule::{DEFAULT_LATENESS, DEFAULT_REALERT, DEFAULT_SEVERITY, Matcher, Rule, RuleKind};
use super::sigma::{self, Outcome};
use super::source::{FileError, RuleFile, line_of};
use super::validate::{self, Problems};

/// Parses one rule file; every problem found, each with its line.
pub fn parse_rule(text: &str, file: &Path) -> Result<Rule, Vec<FileError>> {
    let raw: RuleFile = serde_norway::from_str(text).map_err(|e| {
        vec![FileError {
            file: file.to_path_buf(),
            line: e.location().map(|l| l.line()).unwrap_or(0),
            message: e.to_string(),
        }]
    })?;
    let mut problems = Problems::new(file, text);
    let name = validate::name(&mut problems, &raw.name);
    let query = validate::query(&mut problems, &raw.query);
    let window = validate::window(&mut problems, &raw);
    let realert = validate::duration_or(
        &mut problems,
        "realert",
        raw.realert.as_deref(),
        DEFAULT_REALERT,
    );
    let lateness = validate::duration_or(
        &mut problems,
        "lateness",
        raw.lateness.as_deref(),
        DEFAULT_LATENESS,
    );
    let group_by = validate::group_by(&mut problems, &raw.group_by);
    let kind = validate::kind(&mut problems, &raw);
    let summary = validate::summary(&mut problems, &raw);

    let (Some(kind), Some(query), Some(window), Some(summary)) = (kind, query, window, summary)
    else {
        return Err(problems.into_errors());
    };
    problems.finish()?;
    let denominator = match &kind {
        RuleKind::Ratio { denominator, .. } => Some(Predicate::new(denominator)),
        _ => None,
    };
    Ok(Rule {
        name,
        predicate: Matcher::Query(Predicate::new(&query)),
        denominator,
        kind,
        query_text: query.to_string(),
        query,
        window,
        group_by,
        severity: raw.severity.unwrap_or_else(|| DEFAULT_SEVERITY.into()),
        summary,
        notify: raw.notify,
        realert,
        lateness,
        labels: raw.labels,
        file: file.to_path_buf(),
        sigma: false,
    })
}

/// Directory levels under the rules directory that are read.
const MAX_DIR_DEPTH: usize = 8;

/// A Sigma rule left out of the rules, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: PathBuf,
    pub reason: String,
}

/// The rules of a directory, and the Sigma rules it holds that were left out.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    pub skipped: Vec<Skipped>,
}

/// Every `*.yaml`/`*.yml` file in `dir` and its subdirectories (as deep as
/// `MAX_DIR_DEPTH`), sorted; names starting with `.` are passed over, as are the
/// `..data` links of a mounted Kubernetes ConfigMap.
pub fn rule_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            if path.is_dir() {
                if depth < MAX_DIR_DEPTH {
                    // A subdirectory that cannot be read is a problem of its files.
                    walk(&path, depth + 1, out)?;
                }
            } else if path.is_file()
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                )
            {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out)?;
    out.sort();
    Ok(out)
}

/// Parses one rule file, a logpipe rule or a Sigma rule.
fn parse_file(text: &str, file: &Path) -> Result<Outcome, Vec<FileError>> {
    let document: serde_json::Value = serde_norway::from_str(text).map_err(|e| {
        vec![FileError {
            file: file.to_path_buf(),
            line: e.location().map(|l| l.line()).unwrap_or(0),
            message: e.to_string(),
        }]
    })?;
    if sigma::is_sigma(&document) {
        sigma::parse(sigma::rule_name(file), document, text, file)
    } else {
        parse_rule(text, file).map(|rule| Outcome::Loaded(Box::new(rule)))
    }
}

/// Every rule file in `dir` (see `rule_files`): all rules, or every problem of every
/// file.
pub fn load_dir(dir: &Path) -> Result<Vec<Rule>, Vec<FileError>> {
    load_tree(dir).map(|loaded| loaded.rules)
}

/// The same, with the Sigma rules left out and why.
pub fn load_tree(dir: &Path) -> Result<Loaded, Vec<FileError>> {
    let paths = rule_files(dir).map_err(|e| {
        vec![FileError {
            file: dir.to_path_buf(),
            line: 0,
            message: format!("reading the rules directory: {e}"),
        }]
    })?;
    let mut loaded = Loaded::default();
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
        match parse_file(&text, &path) {
            Ok(Outcome::Loaded(rule)) => {
                if !names.insert(rule.name.clone()) {
                    let key = if rule.sigma { "title" } else { "name" };
                    errors.push(FileError {
                        file: path.clone(),
                        line: line_of(&text, key),
                        message: format!("another rule file already names a rule `{}`", rule.name),
                    });
                } else {
                    loaded.rules.push(*rule);
                }
            }
            Ok(Outcome::Skipped(reason)) => loaded.skipped.push(Skipped { file: path, reason }),
            Err(found) => errors.extend(found),
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

/// A problem per `notify` name of `rules` that `notifiers` does not define; `where_`
/// says where the notifiers were looked for.
pub(crate) fn undefined_notifiers(
    rules: &[Rule],
    notifiers: Option<&crate::notify::Notifiers>,
    where_: &str,
) -> Vec<FileError> {
    let mut errors = Vec::new();
    // Sigma rules' notifiers are a setting, checked where it is read.
    for rule in rules.iter().filter(|rule| !rule.sigma) {
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

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rules::template::Context;

    pub(in crate::rules) const THRESHOLD: &str = "name: checkout-errors
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

    pub(in crate::rules) fn parse(text: &str) -> Result<Rule, Vec<FileError>> {
        parse_rule(text, Path::new("rules/r.yaml"))
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
    fn a_summary_reads_fields_of_the_event_as_written() {
        let rule = parse(&THRESHOLD.replace(
            "summary: '{{ count }} errors in {{ group.k8s.pod }}'",
            "summary: '{{ event.message }} {{ event.attributes.http.status }} {{ event.nope.x }}'",
        ))
        .unwrap();
        let event = crate::notify::EventJson::from(serde_json::json!({
            "message": "payment \"failed\"",
            "attributes": {"http": {"status": 502}},
        }));
        let summary = rule.summary.render(&Context {
            rule: "checkout-errors",
            severity: "critical",
            count: 7,
            group: &[Some("api-1".into())],
            event: Some(&event),
        });
        assert_eq!(summary, "payment \"failed\" 502 -");
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
}
