//! The fields a query can name: the event contract's names, which the index schema uses
//! too (`logpipe-store`'s `schema`), and what each one is.

use crate::error::QueryError;

pub const ID: &str = "id";
pub const TS: &str = "ts";
pub const OBSERVED_TS: &str = "observed_ts";
pub const LEVEL: &str = "level";
pub const STREAM: &str = "stream";
pub const NAMESPACE: &str = "k8s.namespace";
pub const POD: &str = "k8s.pod";
pub const POD_UID: &str = "k8s.pod_uid";
pub const CONTAINER: &str = "k8s.container";
pub const NODE: &str = "k8s.node";
/// The pod's workload (a Deployment, StatefulSet, DaemonSet, CronJob, …) and its kind.
pub const WORKLOAD: &str = "k8s.workload";
pub const WORKLOAD_KIND: &str = "k8s.workload_kind";
/// The pod's labels, its allowed annotations and its namespace's labels: `k8s.labels.<key>`.
pub const LABELS: &str = "k8s.labels";
pub const ANNOTATIONS: &str = "k8s.annotations";
pub const NAMESPACE_LABELS: &str = "k8s.namespace_labels";
pub const SOURCE_KIND: &str = "source.kind";
pub const SOURCE_NAME: &str = "source.name";
/// The push ingest token that sent the event.
pub const SOURCE_VIA: &str = "source.via";
pub const SOURCE_PATH: &str = "source.path";
pub const MESSAGE: &str = "message";
pub const ATTRIBUTES: &str = "attributes";
/// Every string value of `attributes`, one field value each, so that a word searched
/// without a field finds it under any attribute path.
pub const ATTRIBUTE_TEXT: &str = "attribute_text";
pub const FLAGS: &str = "flags";

/// What a query condition looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    /// No field given: `message` or any string attribute.
    Default,
    Message,
    /// Any string attribute (`attributes` without a path).
    AttributeText,
    /// One attribute path, e.g. `http.status` for `attributes.http.status`.
    Attribute(String),
    Keyword(Keyword),
    Time(TimeField),
    /// One key of a map of strings from the API server, matched by its exact value:
    /// `k8s.labels.app`.
    Label(LabelMap, String),
}

/// The maps of strings the collector takes from the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelMap {
    Labels,
    Annotations,
    NamespaceLabels,
}

impl LabelMap {
    pub const ALL: [LabelMap; 3] = [
        LabelMap::Labels,
        LabelMap::Annotations,
        LabelMap::NamespaceLabels,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LabelMap::Labels => LABELS,
            LabelMap::Annotations => ANNOTATIONS,
            LabelMap::NamespaceLabels => NAMESPACE_LABELS,
        }
    }
}

/// Fields matched by their exact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    Id,
    Level,
    Stream,
    Namespace,
    Pod,
    PodUid,
    Container,
    Node,
    Workload,
    WorkloadKind,
    SourceKind,
    SourceName,
    SourcePath,
    SourceVia,
    Flags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeField {
    Ts,
    ObservedTs,
}

impl Keyword {
    pub const ALL: [Keyword; 15] = [
        Keyword::Id,
        Keyword::Level,
        Keyword::Stream,
        Keyword::Namespace,
        Keyword::Pod,
        Keyword::PodUid,
        Keyword::Container,
        Keyword::Node,
        Keyword::Workload,
        Keyword::WorkloadKind,
        Keyword::SourceKind,
        Keyword::SourceName,
        Keyword::SourcePath,
        Keyword::SourceVia,
        Keyword::Flags,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Keyword::Id => ID,
            Keyword::Level => LEVEL,
            Keyword::Stream => STREAM,
            Keyword::Namespace => NAMESPACE,
            Keyword::Pod => POD,
            Keyword::PodUid => POD_UID,
            Keyword::Container => CONTAINER,
            Keyword::Node => NODE,
            Keyword::Workload => WORKLOAD,
            Keyword::WorkloadKind => WORKLOAD_KIND,
            Keyword::SourceKind => SOURCE_KIND,
            Keyword::SourceName => SOURCE_NAME,
            Keyword::SourcePath => SOURCE_PATH,
            Keyword::SourceVia => SOURCE_VIA,
            Keyword::Flags => FLAGS,
        }
    }

    /// Whether the field has a fast column (needed for `field:*` and top values).
    pub fn is_fast(self) -> bool {
        self != Keyword::SourcePath
    }

    /// Values that logpipe always writes in lower case are matched case-insensitively.
    pub fn normalize(self, value: String) -> String {
        match self {
            Keyword::Level
            | Keyword::Stream
            | Keyword::SourceKind
            | Keyword::Flags
            | Keyword::Id => value.to_lowercase(),
            _ => value,
        }
    }
}

impl TimeField {
    pub fn name(self) -> &'static str {
        match self {
            TimeField::Ts => TS,
            TimeField::ObservedTs => OBSERVED_TS,
        }
    }
}

const ATTRIBUTES_PREFIX: &str = "attributes.";

impl FieldRef {
    /// The field named `name` in a query.
    pub fn resolve(name: &str) -> Result<FieldRef, QueryError> {
        let name = name.trim();
        if name == MESSAGE {
            return Ok(FieldRef::Message);
        }
        if name == ATTRIBUTES {
            return Ok(FieldRef::AttributeText);
        }
        if let Some(path) = name.strip_prefix(ATTRIBUTES_PREFIX) {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(QueryError::new(format!(
                    "`{name}` is not an attribute path; write attributes.<key>.<key>"
                )));
            }
            return Ok(FieldRef::Attribute(path.to_string()));
        }
        for map in LabelMap::ALL {
            if let Some(key) = name
                .strip_prefix(map.name())
                .and_then(|rest| rest.strip_prefix('.'))
            {
                if key.is_empty() {
                    return Err(QueryError::new(format!(
                        "`{name}` names no key; write {}.<key>",
                        map.name()
                    )));
                }
                return Ok(FieldRef::Label(map, key.to_string()));
            }
        }
        if name == TS {
            return Ok(FieldRef::Time(TimeField::Ts));
        }
        if name == OBSERVED_TS {
            return Ok(FieldRef::Time(TimeField::ObservedTs));
        }
        if let Some(keyword) = Keyword::ALL.into_iter().find(|k| k.name() == name) {
            return Ok(FieldRef::Keyword(keyword));
        }
        let known = known_fields();
        let closest = known
            .iter()
            .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let hint = match closest {
            Some((_, candidate)) => format!("did you mean {candidate}? "),
            None => String::new(),
        };
        Err(QueryError::new(format!(
            "unknown field `{name}`; {hint}fields are {}, attributes.<path>, k8s.labels.<key>, k8s.annotations.<key> and k8s.namespace_labels.<key>",
            known.join(", ")
        )))
    }

    pub fn name(&self) -> String {
        match self {
            FieldRef::Default => String::new(),
            FieldRef::Message => MESSAGE.to_string(),
            FieldRef::AttributeText => ATTRIBUTES.to_string(),
            FieldRef::Attribute(path) => format!("{ATTRIBUTES_PREFIX}{path}"),
            FieldRef::Keyword(keyword) => keyword.name().to_string(),
            FieldRef::Time(time) => time.name().to_string(),
            FieldRef::Label(map, key) => format!("{}.{key}", map.name()),
        }
    }
}

fn known_fields() -> Vec<&'static str> {
    let mut names = vec![MESSAGE, TS, OBSERVED_TS];
    names.extend(Keyword::ALL.iter().map(|k| k.name()));
    names.push(ATTRIBUTES);
    names
}
