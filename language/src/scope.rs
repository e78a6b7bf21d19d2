//! What a caller may see: the Kubernetes namespaces its token is scoped to, as globs
//! (`shop`, `shop-*`). An event without a namespace (a host file such as the audit log)
//! is visible only to a scope with a glob that matches everything (`*`).

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
    fn the_scope_query_means_the_same_as_allows() {
        let scope = Scope::namespaces(vec!["shop".into(), "a?c".into()]).unwrap();
        let text = scope.query().to_string();
        assert_eq!(text, "k8s.namespace:/shop/ OR k8s.namespace:/a.c/");
    }
}
