//! What a caller may see: the Kubernetes namespaces its token is scoped to, as globs
//! (`shop`, `shop-*`), and optionally a label selector on the pods' labels
//! (`app=checkout,tier in (web,api),!canary`), as Kubernetes writes selectors. An event
//! without a namespace (a host file such as the audit log) is visible only to a scope with
//! a glob that matches everything (`*`); with a selector, an event is visible only when
//! its pod's labels (`k8s.labels`) satisfy it.
//!
//! A query's own namespaces are known only from what it says: `k8s.namespace:` values and
//! prefixes joined by AND and OR. `covers` uses that to tell whether everything a query can
//! match (an alert rule's events) lies inside a scope; anything else (a NOT, a regular
//! expression, no namespace term) is not provably inside any scope but everything.

use std::collections::BTreeMap;

use crate::ast::{Leaf, Op, Query};
use crate::fields::{FieldRef, Keyword, LabelMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `None`: every event.
    globs: Option<Vec<String>>,
    /// Every requirement must hold of the event's pod labels.
    selector: Vec<Requirement>,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    /// `key=value`, `key==value`, `key in (a,b)`.
    In(String, Vec<String>),
    /// `key!=value`, `key notin (a,b)`: also true without the key, as in Kubernetes.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    Absent(String),
}

impl Requirement {
    fn allows(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(key, values) => !labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::Absent(key) => !labels.contains_key(key),
        }
    }

    fn query(&self) -> Query {
        let leaf = |key: &str, op: Op| {
            Query::Leaf(Leaf {
                field: FieldRef::Label(LabelMap::Labels, key.to_owned()),
                op,
            })
        };
        let any_of = |key: &str, values: &[String]| {
            let mut alternatives: Vec<Query> = values
                .iter()
                .map(|value| leaf(key, Op::Match(value.clone())))
                .collect();
            match alternatives.len() {
                1 => alternatives.pop().unwrap_or(Query::All),
                _ => Query::Or(alternatives),
            }
        };
        match self {
            Requirement::In(key, values) => any_of(key, values),
            Requirement::NotIn(key, values) => Query::Not(Box::new(any_of(key, values))),
            Requirement::Exists(key) => leaf(key, Op::Exists),
            Requirement::Absent(key) => Query::Not(Box::new(leaf(key, Op::Exists))),
        }
    }

    /// Whether a query leaf on `key` matching exactly `value` keeps to the requirement.
    fn keeps(&self, key: &str, value: &str) -> bool {
        match self {
            Requirement::In(k, values) => k == key && values.iter().any(|v| v == value),
            Requirement::Exists(k) => k == key,
            Requirement::NotIn(..) | Requirement::Absent(_) => false,
        }
    }
}

/// A Kubernetes label selector: comma-separated `key=value`, `key==value`, `key!=value`,
/// `key in (a,b)`, `key notin (a,b)`, `key`, `!key`.
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut requirements = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        // A comma inside parentheses belongs to a set.
        let end = match (rest.find('('), rest.find(',')) {
            (Some(open), Some(comma)) if open < comma => rest[open..]
                .find(')')
                .map(|close| open + close + 1)
                .ok_or_else(|| format!("`{rest}`: a set is not closed"))?,
            (_, Some(comma)) => comma,
            (_, None) => rest.len(),
        };
        let (item, after) = rest.split_at(end);
        rest = after.trim_start_matches(',').trim();
        let item = item.trim();
        let requirement = if let Some((key, value)) = item.split_once("!=") {
            Requirement::NotIn(label_key(key)?, vec![label_value(value)?])
        } else if let Some((key, value)) = item.split_once("==").or_else(|| item.split_once('=')) {
            Requirement::In(label_key(key)?, vec![label_value(value)?])
        } else if let Some((key, set)) = split_set(item, " notin ") {
            Requirement::NotIn(label_key(key)?, set?)
        } else if let Some((key, set)) = split_set(item, " in ") {
            Requirement::In(label_key(key)?, set?)
        } else if let Some(key) = item.strip_prefix('!') {
            Requirement::Absent(label_key(key)?)
        } else {
            Requirement::Exists(label_key(item)?)
        };
        requirements.push(requirement);
    }
    if requirements.is_empty() {
        return Err("the label selector is empty".into());
    }
    Ok(requirements)
}

fn split_set<'a>(item: &'a str, operator: &str) -> Option<(&'a str, Result<Vec<String>, String>)> {
    let (key, set) = item.split_once(operator)?;
    let values = set
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("`{item}`: a set is written (a,b)"))
        .and_then(|inner| inner.split(',').map(label_value).collect());
    Some((key, values))
}

/// A label key: an optional DNS prefix and `/`, then a name of letters, digits, `-`, `_`
/// and `.` (at most 63).
fn label_key(key: &str) -> Result<String, String> {
    let key = key.trim();
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    let valid = !name.is_empty()
        && name.len() <= 63
        && key.len() <= 316
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_owned())
    } else {
        Err(format!("`{key}` is not a label key"))
    }
}

fn label_value(value: &str) -> Result<String, String> {
    let value = value.trim();
    let valid = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!("`{value}` is not a label value"))
    }
}

impl Scope {
    pub fn all() -> Self {
        Scope {
            globs: None,
            selector: Vec::new(),
        }
    }

    /// A token's scope: its namespace globs and, when given, a label selector.
    pub fn token(globs: Vec<String>, selector: Option<&str>) -> Result<Self, String> {
        let mut scope = Scope::namespaces(globs)?;
        if let Some(selector) = selector {
            scope.selector = parse_selector(selector)?;
        }
        Ok(scope)
    }

    /// A scope of namespace globs; `*` matches any run of characters, `?` one.
    pub fn namespaces(globs: Vec<String>) -> Result<Self, String> {
        for glob in &globs {
            if glob.is_empty()
                || !glob
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '?'))
            {
                return Err(format!(
                    "`{glob}` is not a namespace glob (letters, digits, `-`, `.`, `*` and `?`)"
                ));
            }
        }
        Ok(Scope {
            globs: Some(globs),
            selector: Vec::new(),
        })
    }

    pub fn is_all(&self) -> bool {
        self.globs.is_none() && self.selector.is_empty()
    }

    pub fn globs(&self) -> Option<&[String]> {
        self.globs.as_deref()
    }

    /// The scope as a query: events of an allowed namespace whose pod labels satisfy the
    /// selector.
    pub fn query(&self) -> Query {
        let mut parts = vec![self.namespace_query()];
        parts.extend(self.selector.iter().map(Requirement::query));
        parts.retain(|part| *part != Query::All);
        match parts.len() {
            0 => Query::All,
            1 => parts.pop().unwrap_or(Query::All),
            _ => Query::And(parts),
        }
    }

    fn namespace_query(&self) -> Query {
        let Some(globs) = &self.globs else {
            return Query::All;
        };
        let mut alternatives: Vec<Query> = globs
            .iter()
            .map(|glob| {
                Query::Leaf(Leaf {
                    field: FieldRef::Keyword(Keyword::Namespace),
                    op: Op::Regex(glob_regex(glob)),
                })
            })
            .collect();
        if globs.iter().any(|glob| glob.chars().all(|c| c == '*')) {
            alternatives.push(Query::Not(Box::new(Query::Leaf(Leaf {
                field: FieldRef::Keyword(Keyword::Namespace),
                op: Op::Exists,
            }))));
        }
        match alternatives.len() {
            0 => Query::Not(Box::new(Query::All)),
            1 => alternatives.pop().unwrap_or(Query::All),
            _ => Query::Or(alternatives),
        }
    }

    /// Whether every event `query` can match is visible: always for a scope with a glob
    /// that matches everything; else the query must confine events to allowed namespaces
    /// by `k8s.namespace:` values (`shop`) or prefixes (`shop-*`, allowed by a glob `q*`
    /// whose `q` starts the prefix), at least one conjunct of each AND and every branch of
    /// each OR.
    ///
    /// With a label selector, the query must also keep to each requirement the same way:
    /// `k8s.labels.<key>:` values the requirement allows (a negative requirement, `!=`,
    /// `notin` or `!key`, is never provably kept).
    pub fn covers(&self, query: &Query) -> bool {
        let namespaces = match &self.globs {
            None => true,
            Some(globs) if globs.iter().any(|glob| glob.chars().all(|c| c == '*')) => true,
            Some(globs) => self.confines(globs, query),
        };
        namespaces
            && self
                .selector
                .iter()
                .all(|requirement| keeps_to(requirement, query))
    }

    fn confines(&self, globs: &[String], query: &Query) -> bool {
        match query {
            Query::And(children) => children.iter().any(|child| self.confines(globs, child)),
            Query::Or(children) => children.iter().all(|child| self.confines(globs, child)),
            Query::Leaf(Leaf {
                field: FieldRef::Keyword(Keyword::Namespace),
                op,
            }) => match op {
                Op::Match(value) => self.allows(Some(value)),
                Op::Prefix(prefix) => globs.iter().any(|glob| {
                    glob.strip_suffix('*')
                        .is_some_and(|head| !head.contains(['*', '?']) && prefix.starts_with(head))
                }),
                _ => false,
            },
            Query::All | Query::Not(_) | Query::Leaf(_) => false,
        }
    }

    /// Whether an event of `namespace` whose pod has `labels` is visible.
    pub fn allows_labelled(
        &self,
        namespace: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        self.allows(namespace) && self.selector.iter().all(|r| r.allows(labels))
    }

    /// Whether an event of `namespace` is visible, its labels aside.
    pub fn allows(&self, namespace: Option<&str>) -> bool {
        let Some(globs) = &self.globs else {
            return true;
        };
        let namespace = namespace.unwrap_or("");
        globs.iter().any(|glob| glob_matches(glob, namespace))
    }

    /// Whether the stored event JSON `bytes` is visible.
    pub fn allows_stored(&self, bytes: &[u8]) -> bool {
        if self.is_all() {
            return true;
        }
        #[derive(serde::Deserialize)]
        struct Stored {
            #[serde(default)]
            k8s: K8s,
        }
        #[derive(serde::Deserialize, Default)]
        struct K8s {
            namespace: Option<String>,
            #[serde(default)]
            labels: BTreeMap<String, String>,
        }
        match serde_json::from_slice::<Stored>(bytes) {
            Ok(stored) => self.allows_labelled(stored.k8s.namespace.as_deref(), &stored.k8s.labels),
            Err(_) => false,
        }
    }
}

/// Whether every event `query` can match keeps to `requirement`: at least one conjunct of
/// each AND and every branch of each OR names allowed values of its key.
fn keeps_to(requirement: &Requirement, query: &Query) -> bool {
    match query {
        Query::And(children) => children.iter().any(|child| keeps_to(requirement, child)),
        Query::Or(children) => children.iter().all(|child| keeps_to(requirement, child)),
        Query::Leaf(Leaf {
            field: FieldRef::Label(LabelMap::Labels, key),
            op,
        }) => match op {
            Op::Match(value) => requirement.keeps(key, value),
            Op::Exists => matches!(requirement, Requirement::Exists(k) if k == key),
            _ => false,
        },
        Query::All | Query::Not(_) | Query::Leaf(_) => false,
    }
}

fn glob_regex(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

fn glob_matches(glob: &str, text: &str) -> bool {
    regex::Regex::new(&format!("^(?:{})$", glob_regex(glob)))
        .map(|regex| regex.is_match(text))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_namespaces() {
        let scope = Scope::namespaces(vec!["shop".into(), "shop-*".into()]).unwrap();
        assert!(scope.allows(Some("shop")));
        assert!(scope.allows(Some("shop-eu")));
        assert!(!scope.allows(Some("shopping")));
        assert!(!scope.allows(Some("billing")));
        assert!(!scope.allows(None));
        assert!(Scope::namespaces(vec!["*".into()]).unwrap().allows(None));
        assert!(Scope::all().allows(None));
        assert!(!Scope::namespaces(vec![]).unwrap().allows(Some("shop")));
        assert!(Scope::namespaces(vec!["shop|billing".into()]).is_err());
    }

    #[test]
    fn a_query_is_covered_only_when_its_namespace_terms_confine_it() {
        let shop = Scope::namespaces(vec!["shop".into(), "shop-*".into()]).unwrap();
        let covered = |scope: &Scope, text: &str| scope.covers(&Query::parse(text).unwrap());
        for inside in [
            "k8s.namespace:shop",
            "k8s.namespace:shop AND level:error",
            "level:error AND (k8s.namespace:shop-eu OR k8s.namespace:shop)",
            "k8s.namespace:shop-* AND level:error",
            "k8s.namespace:shop-eu-*",
            "k8s.namespace:shop AND NOT k8s.namespace:billing",
            "+k8s.namespace:shop -level:debug",
        ] {
            assert!(covered(&shop, inside), "{inside}");
        }
        for outside in [
            "*",
            "level:error",
            "k8s.namespace:billing",
            "k8s.namespace:shop OR level:error",
            "k8s.namespace:(shop OR billing)",
            "NOT k8s.namespace:billing",
            "k8s.namespace:sho*",
            "k8s.namespace:/shop/",
            "k8s.namespace:*",
            "k8s.pod:shop",
            "message:\"k8s.namespace:shop\"",
        ] {
            assert!(!covered(&shop, outside), "{outside}");
        }
        let everything = Scope::namespaces(vec!["*".into()]).unwrap();
        assert!(covered(&everything, "level:error"));
        assert!(covered(&Scope::all(), "NOT k8s.namespace:shop"));
        let pattern = Scope::namespaces(vec!["shop-?u".into()]).unwrap();
        assert!(covered(&pattern, "k8s.namespace:shop-eu"));
        assert!(!covered(&pattern, "k8s.namespace:shop-e*"));
    }

    #[test]
    fn label_selectors_are_read_as_kubernetes_writes_them() {
        let scope = |s: &str| Scope::token(vec!["*".into()], Some(s));
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let checkout = labels(&[("app", "checkout"), ("tier", "web")]);
        let cart = labels(&[("app", "cart"), ("tier", "api"), ("canary", "true")]);
        let none = labels(&[]);
        for (selector, sees) in [
            ("app=checkout", [true, false, false]),
            ("app==checkout", [true, false, false]),
            ("app!=checkout", [false, true, true]),
            ("tier in (web, api)", [true, true, false]),
            ("tier notin (web)", [false, true, true]),
            ("canary", [false, true, false]),
            ("!canary", [true, false, true]),
            ("tier in (web,api),!canary", [true, false, false]),
            ("app.kubernetes.io/name", [false, false, false]),
        ] {
            let scope = scope(selector).unwrap();
            let seen = [&checkout, &cart, &none].map(|l| scope.allows_labelled(Some("shop"), l));
            assert_eq!(seen, sees, "{selector}");
        }
        for broken in [
            "",
            "app=a b",
            "tier in web",
            "tier in (web",
            "=x",
            "a/b/",
            "app=$(x)",
        ] {
            assert!(scope(broken).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn a_label_scoped_query_is_covered_only_when_it_keeps_to_the_selector() {
        let scope = Scope::token(vec!["shop".into()], Some("app in (checkout,cart)")).unwrap();
        let covered = |text: &str| scope.covers(&Query::parse(text).unwrap());
        assert!(covered("k8s.namespace:shop AND k8s.labels.app:checkout"));
        assert!(covered(
            "k8s.namespace:shop AND (k8s.labels.app:checkout OR k8s.labels.app:cart)"
        ));
        assert!(!covered("k8s.namespace:shop"));
        assert!(!covered("k8s.namespace:shop AND k8s.labels.app:payments"));
        assert!(!covered(
            "k8s.namespace:shop AND NOT k8s.labels.app:payments"
        ));
        assert!(!covered("k8s.labels.app:checkout"));
        let negative = Scope::token(vec!["*".into()], Some("!canary")).unwrap();
        assert!(!negative.covers(&Query::parse("level:error").unwrap()));
        assert_eq!(
            scope.query().to_string(),
            "k8s.namespace:/shop/ AND (k8s.labels.app:checkout OR k8s.labels.app:cart)"
        );
    }

    #[test]
    fn stored_events_are_allowed_by_their_labels() {
        let scope = Scope::token(vec!["shop".into()], Some("app=checkout")).unwrap();
        let stored = |k8s: &str| format!("{{\"k8s\": {k8s}}}").into_bytes();
        assert!(scope.allows_stored(&stored(
            r#"{"namespace": "shop", "node": "n", "labels": {"app": "checkout"}}"#
        )));
        assert!(!scope.allows_stored(&stored(
            r#"{"namespace": "shop", "node": "n", "labels": {"app": "cart"}}"#
        )));
        assert!(!scope.allows_stored(&stored(r#"{"namespace": "shop", "node": "n"}"#)));
        assert!(!scope.allows_stored(&stored(
            r#"{"namespace": "billing", "node": "n", "labels": {"app": "checkout"}}"#
        )));
    }

    #[test]
    fn the_scope_query_means_the_same_as_allows() {
        let scope = Scope::namespaces(vec!["shop".into(), "a?c".into()]).unwrap();
        let text = scope.query().to_string();
        assert_eq!(text, "k8s.namespace:/shop/ OR k8s.namespace:/a.c/");
    }
}
