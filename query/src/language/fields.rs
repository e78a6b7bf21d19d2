//! The fields a query can name, resolved against the index schema.

use logpipe_indexer::schema;

use super::QueryError;

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
    SourceKind,
    SourceName,
    SourcePath,
    Flags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeField {
    Ts,
    ObservedTs,
}

impl Keyword {
    pub const ALL: [Keyword; 12] = [
        Keyword::Id,
        Keyword::Level,
        Keyword::Stream,
        Keyword::Namespace,
        Keyword::Pod,
        Keyword::PodUid,
        Keyword::Container,
        Keyword::Node,
        Keyword::SourceKind,
        Keyword::SourceName,
        Keyword::SourcePath,
        Keyword::Flags,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Keyword::Id => schema::ID,
            Keyword::Level => schema::LEVEL,
            Keyword::Stream => schema::STREAM,
            Keyword::Namespace => schema::NAMESPACE,
            Keyword::Pod => schema::POD,
            Keyword::PodUid => schema::POD_UID,
            Keyword::Container => schema::CONTAINER,
            Keyword::Node => schema::NODE,
            Keyword::SourceKind => schema::SOURCE_KIND,
            Keyword::SourceName => schema::SOURCE_NAME,
            Keyword::SourcePath => schema::SOURCE_PATH,
            Keyword::Flags => schema::FLAGS,
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
            TimeField::Ts => schema::TS,
            TimeField::ObservedTs => schema::OBSERVED_TS,
        }
    }
}

const ATTRIBUTES_PREFIX: &str = "attributes.";

impl FieldRef {
    /// The field named `name` in a query.
    pub fn resolve(name: &str) -> Result<FieldRef, QueryError> {
        let name = name.trim();
        if name == schema::MESSAGE {
            return Ok(FieldRef::Message);
        }
        if name == schema::ATTRIBUTES {
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
        if name == schema::TS {
            return Ok(FieldRef::Time(TimeField::Ts));
        }
        if name == schema::OBSERVED_TS {
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
            "unknown field `{name}`; {hint}fields are {} and attributes.<path>",
            known.join(", ")
        )))
    }

    pub fn name(&self) -> String {
        match self {
            FieldRef::Default => String::new(),
            FieldRef::Message => schema::MESSAGE.to_string(),
            FieldRef::AttributeText => schema::ATTRIBUTES.to_string(),
            FieldRef::Attribute(path) => format!("{ATTRIBUTES_PREFIX}{path}"),
            FieldRef::Keyword(keyword) => keyword.name().to_string(),
            FieldRef::Time(time) => time.name().to_string(),
        }
    }
}

fn known_fields() -> Vec<&'static str> {
    let mut names = vec![schema::MESSAGE, schema::TS, schema::OBSERVED_TS];
    names.extend(Keyword::ALL.iter().map(|k| k.name()));
    names.push(schema::ATTRIBUTES);
    names
}
