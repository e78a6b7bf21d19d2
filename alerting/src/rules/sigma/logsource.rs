//! Which events a Sigma rule's `logsource` names, and where each of its field names is
//! found in them. A log source logpipe does not collect leaves the rule out (with the
//! reason); a field it cannot place refuses the rule.

use serde::Deserialize;
use serde_json::Value;

use logpipe_language::EventView;

/// A rule's `logsource`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
}

impl LogSource {
    fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}: {v}")))
        .collect();
        if parts.is_empty() {
            "no logsource".into()
        } else {
            parts.join(", ")
        }
    }
}

/// A log source logpipe collects: the query selecting its events and its fields.
#[derive(Debug)]
pub(crate) struct Mapping {
    /// The events of the log source, in the search language.
    pub query: &'static str,
    field: fn(&str) -> Result<Field, String>,
}

/// Where a Sigma field is read: one or more attribute paths, any of which may hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    paths: Vec<Vec<Step>>,
    /// Of each path, the dotted attribute path before its first list and its key count.
    heads: Vec<(String, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    /// Every item of a list.
    Each,
}

/// The Kubernetes API server's audit events (`audit.k8s.io/v1` `Event`), as the
/// `kube-audit` host file source carries them: the event's members are attributes.
const KUBERNETES_AUDIT: Mapping = Mapping {
    query: "source.name:kube-audit",
    field: audit_field,
};

/// The top-level members of an audit event, all kept as attributes (its level, `Metadata`
/// to `RequestResponse`, is no log level, and its time is also read into `ts`).
const AUDIT_MEMBERS: [&str; 18] = [
    "kind",
    "level",
    "requestReceivedTimestamp",
    "apiVersion",
    "auditID",
    "stage",
    "requestURI",
    "verb",
    "user",
    "impersonatedUser",
    "sourceIPs",
    "userAgent",
    "objectRef",
    "responseStatus",
    "requestObject",
    "responseObject",
    "stageTimestamp",
    "annotations",
];

fn audit_field(name: &str) -> Result<Field, String> {
    let pod_spec = |list: &str, rest: &str| {
        let mut steps = keys(&format!("requestObject.spec.{list}"));
        steps.push(Step::Each);
        steps.extend(keys(rest));
        steps
    };
    match name {
        // Names the Sigma rules for Kubernetes use beside the audit event's own paths.
        "apiGroup" => Ok(Field::at("objectRef.apiGroup")),
        "hostPath" => Ok(Field::new(vec![pod_spec("volumes", "hostPath")])),
        "capabilities" => Ok(Field::new(
            ["containers", "initContainers", "ephemeralContainers"]
                .into_iter()
                .map(|list| pod_spec(list, "securityContext.capabilities"))
                .collect(),
        )),
        _ => {
            let top = name.split('.').next().unwrap_or(name);
            if AUDIT_MEMBERS.contains(&top) {
                Ok(Field::at(name))
            } else {
                Err(format!(
                    "field `{name}` is not a field of Kubernetes audit events"
                ))
            }
        }
    }
}

fn keys(dotted: &str) -> Vec<Step> {
    dotted
        .split('.')
        .map(|k| Step::Key(k.to_string()))
        .collect()
}

/// The mapping of a rule's `logsource`, or why no collected events are of it.
pub(crate) fn resolve(logsource: &LogSource) -> Result<&'static Mapping, String> {
    let lower = |v: &Option<String>| v.as_deref().map(str::to_ascii_lowercase);
    match (
        lower(&logsource.product).as_deref(),
        lower(&logsource.service).as_deref(),
    ) {
        (Some("kubernetes"), Some("audit")) => Ok(&KUBERNETES_AUDIT),
        _ => Err(format!(
            "logsource {{{}}} is not a source logpipe collects",
            logsource.describe()
        )),
    }
}

impl Mapping {
    pub(crate) fn field(&self, name: &str) -> Result<Field, String> {
        (self.field)(name)
    }
}

impl Field {
    fn new(paths: Vec<Vec<Step>>) -> Field {
        let heads = paths.iter().map(|steps| head(steps)).collect();
        Field { paths, heads }
    }

    fn at(dotted: &str) -> Field {
        Field::new(vec![vec![Step::Key(dotted.to_string())]])
    }

    /// The attribute paths read, for the view's walk.
    pub(crate) fn attribute_paths(&self) -> impl Iterator<Item = String> + '_ {
        self.heads.iter().map(|(path, _)| path.clone())
    }

    /// The values of the field in `view`, a list's items one by one; `None` when the
    /// event does not have the field.
    pub(crate) fn values<'v>(&self, view: &'v EventView<'_>) -> Option<Vec<&'v Value>> {
        let mut values: Option<Vec<&Value>> = None;
        for (steps, (path, keys)) in self.paths.iter().zip(&self.heads) {
            let Some(root) = view.attribute_ref(path) else {
                continue;
            };
            let mut found = Vec::new();
            walk(root, &steps[*keys..], &mut found);
            for value in found {
                let out = values.get_or_insert_with(Vec::new);
                match value {
                    Value::Array(items) => out.extend(items.iter()),
                    other => out.push(other),
                }
            }
        }
        values
    }
}

/// The dotted attribute path of the keys before a path's first list, and how many keys
/// that is.
fn head(steps: &[Step]) -> (String, usize) {
    let keys: Vec<&str> = steps
        .iter()
        .map_while(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Each => None,
        })
        .collect();
    (keys.join("."), keys.len())
}

fn walk<'v>(value: &'v Value, steps: &[Step], out: &mut Vec<&'v Value>) {
    match steps.split_first() {
        None => out.push(value),
        Some((Step::Each, rest)) => {
            if let Value::Array(items) = value {
                for item in items {
                    walk(item, rest, out);
                }
            }
        }
        Some((Step::Key(key), rest)) => {
            if let Some(next) = value.get(key) {
                walk(next, rest, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_fields_are_placed_or_refused_by_name() {
        let audit = resolve(&LogSource {
            product: Some("kubernetes".into()),
            service: Some("audit".into()),
            category: Some("application".into()),
        })
        .unwrap();
        assert_eq!(audit.field("verb").unwrap(), Field::at("verb"));
        assert_eq!(
            audit.field("objectRef.resource").unwrap(),
            Field::at("objectRef.resource")
        );
        assert_eq!(
            audit.field("apiGroup").unwrap(),
            Field::at("objectRef.apiGroup")
        );
        assert!(audit.field("Image").unwrap_err().contains("not a field"));
        assert_eq!(audit.field("level").unwrap(), Field::at("level"));
        let linux = resolve(&LogSource {
            product: Some("linux".into()),
            category: Some("process_creation".into()),
            service: None,
        })
        .unwrap_err();
        assert_eq!(
            linux,
            "logsource {product: linux, category: process_creation} is not a source logpipe collects"
        );
    }
}
