//! What a caller may see: the Kubernetes namespaces its token is scoped to, as globs
//! (`shop`, `shop-*`). An event without a namespace (a host file such as the audit log)
//! is visible only to a scope with a glob that matches everything (`*`).
//!
//! A query's own namespaces are known only from what it says: `k8s.namespace:` values and
//! prefixes joined by AND and OR. `covers` uses that to tell whether everything a query can
//! match (an alert rule's events) lies inside a scope; anything else (a NOT, a regular
//! expression, no namespace term) is not provably inside any scope but everything.

use crate::ast::{Leaf, Op, Query};
use crate::fields::{FieldRef, Keyword};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `None`: every event.
    globs: Option<Vec<String>>,
}

impl Scope {
    pub fn all() -> Self {
        Scope { globs: None }
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
        Ok(Scope { globs: Some(globs) })
    }

    pub fn is_all(&self) -> bool {
        self.globs.is_none()
    }

    pub fn globs(&self) -> Option<&[String]> {
        self.globs.as_deref()
    }

    /// The scope as a query: events of an allowed namespace.
    pub fn query(&self) -> Query {
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
    pub fn covers(&self, query: &Query) -> bool {
        let Some(globs) = &self.globs else {
            return true;
        };
        if globs.iter().any(|glob| glob.chars().all(|c| c == '*')) {
            return true;
        }
        self.confines(globs, query)
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

    pub fn allows(&self, namespace: Option<&str>) -> bool {
        let Some(globs) = &self.globs else {
            return true;
        };
        let namespace = namespace.unwrap_or("");
        globs.iter().any(|glob| glob_matches(glob, namespace))
    }

    /// Whether the stored event JSON `bytes` is visible.
    pub fn allows_stored(&self, bytes: &[u8]) -> bool {
        if self.globs.is_none() {
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
        }
        match serde_json::from_slice::<Stored>(bytes) {
            Ok(stored) => self.allows(stored.k8s.namespace.as_deref()),
            Err(_) => false,
        }
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
    fn the_scope_query_means_the_same_as_allows() {
        let scope = Scope::namespaces(vec!["shop".into(), "a?c".into()]).unwrap();
        let text = scope.query().to_string();
        assert_eq!(text, "k8s.namespace:/shop/ OR k8s.namespace:/a.c/");
    }
}
