//! A Sigma `detection` compiled: its named searches (maps of field conditions, lists of
//! them, keyword lists), its condition over them, and the log source's own query, all
//! evaluated against one event.

use serde_json::{Map, Value};

use logpipe_language::{EventView, Predicate, Query};

use super::condition::{self, Cond};
use super::logsource::{Field, Mapping};
use super::value::{Matcher, Modifiers, scalar_text};

/// Field conditions, keywords and values one rule may hold, so that a hostile file cannot
/// make each event expensive.
const MAX_CONDITIONS: usize = 4096;

/// A compiled detection.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    /// The log source's events.
    source: Predicate,
    searches: Vec<Search>,
    condition: Cond,
    /// Attribute paths read; `None` when keywords read every string attribute.
    paths: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
enum Search {
    /// A map: every field condition holds.
    AllOf(Vec<FieldTest>),
    /// A list of maps: one of them holds.
    AnyOf(Vec<Search>),
    /// Keywords: one value (every value, with `|all`) is found in the message or in a
    /// string attribute.
    Keywords {
        groups: Vec<Vec<Matcher>>,
        all: bool,
    },
}

#[derive(Debug, Clone)]
struct FieldTest {
    field: Field,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    /// One value matches (one per group, with `all`), or none does (`neq`).
    Values {
        groups: Vec<Vec<Matcher>>,
        all: bool,
        neq: bool,
    },
    Exists(bool),
    /// The value equals (or, with `neq`, differs from) that of another field.
    FieldRef {
        others: Vec<Field>,
        neq: bool,
    },
}

/// A problem found while compiling, with the search identifier it is under.
pub(crate) struct Problem {
    pub search: String,
    pub message: String,
}

impl Detection {
    /// Compiles a rule's `detection` for the events of `mapping`.
    pub(crate) fn compile(
        detection: &Map<String, Value>,
        mapping: &Mapping,
    ) -> Result<Detection, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut budget = MAX_CONDITIONS;
        let mut names = Vec::new();
        let mut searches = Vec::new();
        let mut keywords = false;
        let mut paths = Vec::new();
        for (name, body) in detection {
            if name == "condition" || name == "timeframe" {
                continue;
            }
            let mut problem = |message: String| {
                problems.push(Problem {
                    search: name.clone(),
                    message,
                })
            };
            match search(body, mapping, &mut budget, &mut paths) {
                Ok(search) => {
                    keywords |= search.has_keywords();
                    names.push(name.clone());
                    searches.push(search);
                }
                Err(message) => problem(message),
            }
        }
        if detection.contains_key("timeframe") {
            problems.push(Problem {
                search: "timeframe".into(),
                message: "`timeframe` belongs to correlation rules, which are not supported".into(),
            });
        }
        let condition = match detection.get("condition") {
            Some(Value::String(text)) => condition::parse(text, &names),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => condition::parse(text, &names),
                    _ => Err("a condition is a string".into()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Cond::Or),
            Some(_) => Err("a condition is a string or a list of strings".into()),
            None => Err("the detection has no `condition`".into()),
        };
        let condition = match condition {
            Ok(condition) if problems.is_empty() => condition,
            Ok(_) => return Err(problems),
            Err(message) => {
                problems.push(Problem {
                    search: "condition".into(),
                    message,
                });
                return Err(problems);
            }
        };
        let source = Query::parse(mapping.query).map_err(|e| {
            vec![Problem {
                search: "logsource".into(),
                message: e.message,
            }]
        })?;
        paths.sort();
        paths.dedup();
        Ok(Detection {
            source: Predicate::new(&source),
            searches,
            condition,
            paths: (!keywords).then_some(paths),
        })
    }

    /// The attribute paths the detection reads; `None` when it reads every string
    /// attribute.
    pub(crate) fn attribute_paths(&self) -> Option<Vec<String>> {
        self.paths.clone()
    }

    pub(crate) fn matches_in(&self, view: &EventView<'_>) -> bool {
        self.source.matches_in(view) && self.holds(&self.condition, view)
    }

    fn holds(&self, cond: &Cond, view: &EventView<'_>) -> bool {
        match cond {
            Cond::Search(i) => self.searches[*i].matches(view),
            Cond::And(parts) => parts.iter().all(|part| self.holds(part, view)),
            Cond::Or(parts) => parts.iter().any(|part| self.holds(part, view)),
            Cond::Not(inner) => !self.holds(inner, view),
        }
    }
}

fn search(
    body: &Value,
    mapping: &Mapping,
    budget: &mut usize,
    paths: &mut Vec<String>,
) -> Result<Search, String> {
    match body {
        Value::Object(map) => {
            let mut tests = Vec::new();
            let mut keywords = None;
            for (key, values) in map {
                let mut parts = key.split('|');
                let name = parts.next().unwrap_or_default().trim();
                let modifiers = Modifiers::parse(&parts.collect::<Vec<_>>())
                    .map_err(|e| format!("`{key}`: {e}"))?;
                if name.is_empty() {
                    if keywords.is_some() {
                        return Err("two keyword lists in one map".into());
                    }
                    keywords = Some(keyword_search(values, &modifiers, budget)?);
                    continue;
                }
                let field = mapping.field(name)?;
                paths.extend(field.attribute_paths());
                tests.push(FieldTest {
                    test: test(values, &modifiers, mapping, budget, paths)
                        .map_err(|e| format!("`{key}`: {e}"))?,
                    field,
                });
            }
            match (keywords, tests.is_empty()) {
                (Some(keywords), true) => Ok(keywords),
                (Some(_), false) => Err("a map mixes keywords with fields".into()),
                (None, true) => Err("an empty search".into()),
                (None, false) => Ok(Search::AllOf(tests)),
            }
        }
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => items
            .iter()
            .map(|item| search(item, mapping, budget, paths))
            .collect::<Result<Vec<_>, _>>()
            .map(Search::AnyOf),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            keyword_search(body, &Modifiers::default(), budget)
        }
        Value::String(_) | Value::Number(_) => keyword_search(body, &Modifiers::default(), budget),
        _ => Err("a search is a map of fields, a list of maps or a list of keywords".into()),
    }
}

fn spend(budget: &mut usize, n: usize) -> Result<(), String> {
    *budget = budget
        .checked_sub(n)
        .ok_or_else(|| format!("more than {MAX_CONDITIONS} values in one rule"))?;
    Ok(())
}

/// The values of one key: a scalar or a list of scalars.
fn listed(values: &Value) -> Result<Vec<&Value>, String> {
    match values {
        Value::Array(items) if items.is_empty() => Err("an empty list of values".into()),
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Object(_) => Err("a value must be a string, a number, a boolean or null".into()),
        scalar => Ok(vec![scalar]),
    }
}

fn groups(
    values: &Value,
    modifiers: &Modifiers,
    budget: &mut usize,
) -> Result<Vec<Vec<Matcher>>, String> {
    let values = listed(values)?;
    if modifiers.all && values.len() < 2 {
        return Err("`all` needs a list of values".into());
    }
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        let matchers = modifiers.matchers(value)?;
        spend(budget, matchers.len())?;
        out.push(matchers);
    }
    Ok(out)
}

fn keyword_search(
    values: &Value,
    modifiers: &Modifiers,
    budget: &mut usize,
) -> Result<Search, String> {
    if modifiers.neq || modifiers.exists || modifiers.fieldref {
        return Err("keywords take no `neq`, `exists` or `fieldref`".into());
    }
    let groups = groups(values, &modifiers.for_keywords(), budget)?;
    if groups
        .iter()
        .flatten()
        .any(|m| !matches!(m, Matcher::Text(_) | Matcher::Regex(_)))
    {
        return Err("keywords are strings or regular expressions".into());
    }
    Ok(Search::Keywords {
        groups,
        all: modifiers.all,
    })
}

fn test(
    values: &Value,
    modifiers: &Modifiers,
    mapping: &Mapping,
    budget: &mut usize,
    paths: &mut Vec<String>,
) -> Result<Test, String> {
    if modifiers.exists {
        return match values {
            Value::Bool(b) => Ok(Test::Exists(*b)),
            _ => Err("`exists` takes true or false".into()),
        };
    }
    if modifiers.fieldref {
        let mut others = Vec::new();
        for value in listed(values)? {
            let Value::String(name) = value else {
                return Err("`fieldref` takes field names".into());
            };
            let other = mapping.field(name)?;
            paths.extend(other.attribute_paths());
            others.push(other);
        }
        spend(budget, others.len())?;
        return Ok(Test::FieldRef {
            others,
            neq: modifiers.neq,
        });
    }
    let groups = groups(values, modifiers, budget)?;
    if groups.iter().flatten().any(|m| matches!(m, Matcher::Null)) && groups.len() > 1 {
        return Err("null cannot be one of a list of values".into());
    }
    Ok(Test::Values {
        groups,
        all: modifiers.all,
        neq: modifiers.neq,
    })
}

impl Search {
    fn has_keywords(&self) -> bool {
        match self {
            Search::Keywords { .. } => true,
            Search::AnyOf(items) => items.iter().any(Search::has_keywords),
            Search::AllOf(_) => false,
        }
    }

    fn matches(&self, view: &EventView<'_>) -> bool {
        match self {
            Search::AllOf(tests) => tests.iter().all(|test| test.matches(view)),
            Search::AnyOf(items) => items.iter().any(|item| item.matches(view)),
            Search::Keywords { groups, all } => {
                let found = |matchers: &Vec<Matcher>| {
                    let text = |text: &str| {
                        let value = Value::String(text.to_string());
                        matchers.iter().any(|m| m.matches(Some(&value)))
                    };
                    text(view.message()) || view.any_attribute_text(text)
                };
                if *all {
                    groups.iter().all(found)
                } else {
                    groups.iter().any(found)
                }
            }
        }
    }
}

impl FieldTest {
    fn matches(&self, view: &EventView<'_>) -> bool {
        let values = self.field.values(view);
        match &self.test {
            Test::Exists(wanted) => values.is_some() == *wanted,
            Test::Values { groups, all, neq } => {
                let group_holds = |matchers: &Vec<Matcher>| match &values {
                    None => matchers.iter().any(|m| m.matches(None)),
                    Some(values) if values.is_empty() => matchers.iter().any(|m| m.matches(None)),
                    Some(values) => values
                        .iter()
                        .any(|value| matchers.iter().any(|m| m.matches(Some(*value)))),
                };
                let hit = if *all {
                    groups.iter().all(group_holds)
                } else {
                    groups.iter().any(group_holds)
                };
                hit != *neq
            }
            Test::FieldRef { others, neq } => {
                let texts = |values: Option<Vec<&Value>>| -> Vec<String> {
                    values
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(scalar_text)
                        .map(|t| t.to_lowercase())
                        .collect()
                };
                let mine = texts(values);
                let hit = others.iter().any(|other| {
                    let theirs = texts(other.values(view));
                    mine.iter().any(|m| theirs.contains(m))
                });
                hit != *neq
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use logpipe_common::testkit::event_with;
    use serde_json::json;

    use super::super::logsource::{LogSource, resolve};
    use super::*;

    fn audit() -> &'static Mapping {
        resolve(&LogSource {
            product: Some("kubernetes".into()),
            service: Some("audit".into()),
            category: None,
        })
        .unwrap()
    }

    fn compile(detection: Value) -> Result<Detection, String> {
        let Value::Object(map) = detection else {
            panic!("a map")
        };
        Detection::compile(&map, audit()).map_err(|problems| {
            problems
                .iter()
                .map(|p| format!("{}: {}", p.search, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn audit_event(attributes: Value) -> logpipe_common::LogEvent {
        let mut event = event_with("", attributes);
        event.source.name = Some("kube-audit".into());
        event
    }

    fn hit(detection: &Detection, attributes: Value) -> bool {
        detection.matches_in(&EventView::new(&audit_event(attributes)))
    }

    #[test]
    fn maps_are_and_lists_are_or_and_lists_of_maps_are_or() {
        let rule = compile(json!({
            "selection": {"verb": ["create", "update"], "objectRef.resource": "secrets"},
            "filter": [{"user.username": "system:admin"}, {"user.groups": "system:masters"}],
            "condition": "selection and not filter"
        }))
        .unwrap();
        assert!(hit(
            &rule,
            json!({"verb": "UPDATE", "objectRef": {"resource": "secrets"}})
        ));
        assert!(!hit(
            &rule,
            json!({"verb": "get", "objectRef": {"resource": "secrets"}})
        ));
        assert!(!hit(
            &rule,
            json!({"verb": "create", "objectRef": {"resource": "pods"}})
        ));
        // A list-valued field matches by any item.
        assert!(!hit(
            &rule,
            json!({"verb": "create", "objectRef": {"resource": "secrets"},
                   "user": {"username": "bob", "groups": ["dev", "system:masters"]}})
        ));
        // Only events of the log source.
        let mut other =
            audit_event(json!({"verb": "create", "objectRef": {"resource": "secrets"}}));
        other.source.name = Some("app".into());
        assert!(!rule.matches_in(&EventView::new(&other)));
    }

    #[test]
    fn pod_spec_names_reach_into_lists() {
        let rule = compile(json!({
            "selection": {"verb": "create", "hostPath": "*"},
            "condition": "selection"
        }))
        .unwrap();
        let pod = |volumes: Value| json!({"verb": "create", "requestObject": {"spec": {"volumes": volumes}}});
        assert!(hit(
            &rule,
            pod(
                json!([{"name": "a", "emptyDir": {}}, {"name": "b", "hostPath": {"path": "/etc"}}])
            )
        ));
        assert!(!hit(&rule, pod(json!([{"name": "a", "emptyDir": {}}]))));
        assert!(!hit(&rule, json!({"verb": "create"})));
    }

    #[test]
    fn all_exists_neq_null_and_fieldref() {
        let all = compile(json!({
            "s": {"requestURI|contains|all": ["exec", "command=bash"]},
            "condition": "s"
        }))
        .unwrap();
        assert!(hit(
            &all,
            json!({"requestURI": "/api/v1/x/exec?command=bash"})
        ));
        assert!(!hit(
            &all,
            json!({"requestURI": "/api/v1/x/exec?command=ls"})
        ));
        let exists =
            compile(json!({"s": {"impersonatedUser|exists": true}, "condition": "s"})).unwrap();
        assert!(hit(&exists, json!({"impersonatedUser": {"username": "x"}})));
        assert!(!hit(&exists, json!({"verb": "get"})));
        let neq = compile(json!({"s": {"verb|neq": ["get", "list"]}, "condition": "s"})).unwrap();
        assert!(hit(&neq, json!({"verb": "delete"})));
        assert!(!hit(&neq, json!({"verb": "list"})));
        let null =
            compile(json!({"s": {"objectRef.subresource": null}, "condition": "s"})).unwrap();
        assert!(hit(&null, json!({"objectRef": {"resource": "pods"}})));
        assert!(!hit(&null, json!({"objectRef": {"subresource": "exec"}})));
        let same = compile(json!({
            "s": {"user.username|fieldref": "objectRef.name"},
            "condition": "s"
        }))
        .unwrap();
        assert!(hit(
            &same,
            json!({"user": {"username": "Bob"}, "objectRef": {"name": "bob"}})
        ));
        assert!(!hit(
            &same,
            json!({"user": {"username": "bob"}, "objectRef": {"name": "alice"}})
        ));
    }

    #[test]
    fn keywords_are_found_in_the_message_or_any_string_attribute() {
        let rule =
            compile(json!({"keywords": ["trufflehog", "azurehound"], "condition": "keywords"}))
                .unwrap();
        assert!(rule.attribute_paths().is_none());
        assert!(hit(&rule, json!({"userAgent": "TruffleHog/3.0"})));
        assert!(!hit(&rule, json!({"userAgent": "kubectl/1.29"})));
        let all = compile(json!({"k": {"|all": ["exec", "bash"]}, "condition": "k"})).unwrap();
        assert!(hit(&all, json!({"requestURI": "/exec?command=bash"})));
        assert!(!hit(&all, json!({"requestURI": "/exec?command=sh"})));
    }

    #[test]
    fn what_cannot_be_evaluated_is_refused_naming_the_search() {
        for (detection, reason) in [
            (
                json!({"s": {"Image|endswith": "/bash"}, "condition": "s"}),
                "s: field `Image` is not a field",
            ),
            (
                json!({"s": {"verb|expand": "%x%"}, "condition": "s"}),
                "s: `verb|expand`: modifier `expand`",
            ),
            (
                json!({"s": {"verb|all": "get"}, "condition": "s"}),
                "`all` needs a list",
            ),
            (
                json!({"s": {"verb": []}, "condition": "s"}),
                "an empty list",
            ),
            (
                json!({"s": {"verb": {"a": 1}}, "condition": "s"}),
                "a value must be",
            ),
            (
                json!({"s": {"verb": "get"}}),
                "condition: the detection has no `condition`",
            ),
            (
                json!({"s": {"verb": "get"}, "condition": "s | count() > 3"}),
                "correlation",
            ),
            (
                json!({"s": {"verb": "get"}, "timeframe": "5m", "condition": "s"}),
                "timeframe",
            ),
            (
                json!({"s": {"verb": [null, "get"]}, "condition": "s"}),
                "null cannot be one",
            ),
        ] {
            let error = compile(detection.clone()).unwrap_err();
            assert!(error.contains(reason), "{detection}: {error}");
        }
        let huge: Vec<String> = (0..5000).map(|i| format!("v{i}")).collect();
        let error = compile(json!({"s": {"verb": huge}, "condition": "s"})).unwrap_err();
        assert!(error.contains("more than 4096 values"), "{error}");
    }
}
