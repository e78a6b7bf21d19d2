//! A validated rule: what it watches for, over which events, grouped how, and what its
//! alerts say; the defaults a rule file may leave out.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[cfg(test)]
use logpipe_common::event::LogEvent;
use logpipe_language::{EventView, FieldRef, Predicate, Query, TimeField};

use super::sigma::Detection;
use super::template::Template;

/// Allowed lateness when a rule does not say.
pub(crate) const DEFAULT_LATENESS: Duration = Duration::from_secs(30);
/// Suppression of repeated alerts for a group when a rule does not say.
pub(crate) const DEFAULT_REALERT: Duration = Duration::from_secs(300);
/// Severity when a rule does not say.
pub(crate) const DEFAULT_SEVERITY: &str = "warning";
/// Summary template when a rule does not say.
pub(crate) const DEFAULT_SUMMARY: &str = "{{ rule }}: {{ count }} events";

/// What a rule watches for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RuleKind {
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
    pub(crate) fn name(&self) -> &'static str {
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

/// What tells whether an event matches a rule: its query, or a Sigma detection (which
/// holds the query of its log source besides).
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Query(Predicate),
    Sigma(Arc<Detection>),
}

impl Matcher {
    pub(crate) fn matches_in(&self, view: &EventView<'_>) -> bool {
        match self {
            Matcher::Query(predicate) => predicate.matches_in(view),
            Matcher::Sigma(detection) => detection.matches_in(view),
        }
    }

    #[cfg(test)]
    pub(crate) fn matches(&self, event: &LogEvent) -> bool {
        self.matches_in(&EventView::new(event))
    }
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) kind: RuleKind,
    /// The rule's query; of a Sigma rule, the events of its log source (the detection
    /// narrows them further).
    pub(crate) query: Query,
    /// The query as the search language writes it: what an alert without a group value
    /// searches for.
    pub(crate) query_text: String,
    pub(crate) predicate: Matcher,
    /// The denominator's predicate of a ratio rule.
    pub(crate) denominator: Option<Predicate>,
    pub(crate) window: Duration,
    pub(crate) group_by: Vec<FieldRef>,
    pub(crate) severity: String,
    pub(crate) summary: Template,
    pub(crate) notify: Vec<String>,
    pub(crate) realert: Duration,
    pub(crate) lateness: Duration,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) file: PathBuf,
    /// Read from a Sigma rule: its `notify` comes from the setting for Sigma rules.
    pub(crate) sigma: bool,
}

impl Rule {
    /// The group an event belongs to: the values of `group_by`, `None` for a missing one.
    pub(crate) fn group_of(&self, view: &EventView<'_>) -> Vec<Option<String>> {
        self.group_by
            .iter()
            .map(|field| field_value(view, field))
            .collect()
    }

    /// The attribute paths the rule looks at; `None` when it looks at every string
    /// attribute (a word without a field, `attribute_text`).
    pub(crate) fn attribute_paths(&self) -> Option<Vec<String>> {
        let mut paths = Vec::new();
        if let Matcher::Sigma(detection) = &self.predicate {
            paths = detection.attribute_paths()?;
        }
        let mut fields = self.query.fields();
        match &self.kind {
            RuleKind::Ratio { denominator, .. } => fields.extend(denominator.fields()),
            RuleKind::NewValue { field } | RuleKind::Cardinality { field, .. } => {
                fields.push(field)
            }
            _ => {}
        }
        fields.extend(&self.group_by);
        for field in fields {
            match field {
                FieldRef::Default | FieldRef::AttributeText => return None,
                FieldRef::Attribute(path) => paths.push(path.clone()),
                _ => {}
            }
        }
        Some(paths)
    }

    /// The queries whose matches the rule's alerts and status reveal: its query, and a
    /// ratio's denominator.
    pub(crate) fn queries(&self) -> Vec<&Query> {
        let mut queries = vec![&self.query];
        if let RuleKind::Ratio { denominator, .. } = &self.kind {
            queries.push(denominator);
        }
        queries
    }

    /// Names of the `group_by` fields, as written.
    pub(crate) fn group_names(&self) -> Vec<String> {
        self.group_by.iter().map(FieldRef::name).collect()
    }
}

/// The value of a keyword field or attribute path of `event`, as text.
pub(crate) fn field_value(view: &EventView<'_>, field: &FieldRef) -> Option<String> {
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
        FieldRef::Label(map, key) => view.label(*map, key).map(str::to_owned),
        FieldRef::Message => Some(view.message().to_string()),
        FieldRef::Time(TimeField::Ts) => Some(view.ts().to_string()),
        FieldRef::Time(TimeField::ObservedTs) => Some(view.observed_ts().to_string()),
        FieldRef::Default | FieldRef::AttributeText => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_reach_nested_and_dotted_attributes() {
        let mut event = logpipe_common::testkit::sample_event(16, logpipe_common::Timestamp::now());
        event
            .attributes
            .insert("a.b".into(), serde_json::json!("dotted"));
        event
            .k8s
            .labels
            .insert("app.kubernetes.io/name".into(), "shop".into());
        event.k8s.workload = Some("shop-api".into());
        let view = EventView::new(&event);
        let get = |name: &str| field_value(&view, &FieldRef::resolve(name).unwrap());
        assert_eq!(
            get("k8s.labels.app.kubernetes.io/name").as_deref(),
            Some("shop")
        );
        assert_eq!(get("k8s.labels.team"), None);
        assert_eq!(get("k8s.workload").as_deref(), Some("shop-api"));
        assert_eq!(get("attributes.http.status").as_deref(), Some("502"));
        assert_eq!(get("attributes.http.path").as_deref(), Some("/cart"));
        assert_eq!(get("attributes.a.b").as_deref(), Some("dotted"));
        assert_eq!(get("k8s.pod").as_deref(), Some("shop-api-6"));
        assert_eq!(get("attributes.missing"), None);
    }
}
