//! Rule evaluation on event time. Each rule has an `Evaluator` that takes events as they
//! arrive (`observe`) and the passing of time (`advance` to a watermark: no event older
//! than it is expected any more). Conditions that can fire on an event fire at once;
//! resolutions and absences wait for the watermark. Events older than the watermark are
//! counted as late and otherwise ignored.
//!
//! The state (`RuleState`) is plain data, serialized with the consumer offsets, and every
//! alert's id derives from the rule, the group and the event time it started at: a replay
//! after a crash produces the same ids, so a receiver can drop what it already has.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use logpipe_common::event::{LogEvent, Timestamp};
use logpipe_language::{EventView, Leaf, Op, Query};
use serde::{Deserialize, Serialize};

use crate::notify::{EventJson, Notification, Search, Status as AlertStatus};
use crate::rules::{Context, Rule, RuleKind, field_value};

/// A notification the engine asks for, and the notifiers it goes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its `id` is deterministic: the same alert after a replay has the same id.
    pub(crate) notification: Notification,
    pub(crate) notify: Vec<String>,
}

/// Everything an evaluator remembers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RuleState {
    /// Nanoseconds; events before it are late.
    pub watermark: i64,
    pub groups: Groups,
    /// `new_value`: every value seen.
    pub seen: BTreeSet<String>,
    pub late_events: u64,
}

/// The groups' states by key, serialized as one map. The group of the empty key (the
/// only one of a rule without `group_by`) is held inline: an event meeting one of
/// thousands of such rules reaches its state without a map lookup.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Groups {
    empty: Option<GroupState>,
    keyed: BTreeMap<String, Box<GroupState>>,
}

impl Groups {
    /// The state of `key`, made by `make` when it has none.
    fn get_or_insert_with(
        &mut self,
        key: &str,
        make: impl FnOnce() -> GroupState,
    ) -> &mut GroupState {
        if key.is_empty() {
            return self.empty.get_or_insert_with(make);
        }
        // Looked up by the borrowed key: a key is allocated only for a new group.
        if !self.keyed.contains_key(key) {
            self.keyed.insert(key.to_owned(), Box::new(make()));
        }
        self.keyed.get_mut(key).expect("inserted above")
    }

    /// By key, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &GroupState)> {
        let empty = self.empty.iter().map(|state| ("", state));
        empty.chain(
            self.keyed
                .iter()
                .map(|(key, state)| (key.as_str(), &**state)),
        )
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut GroupState)> {
        let empty = self.empty.iter_mut().map(|state| ("", state));
        empty.chain(
            self.keyed
                .iter_mut()
                .map(|(key, state)| (key.as_str(), &mut **state)),
        )
    }

    fn remove(&mut self, key: &str) {
        if key.is_empty() {
            self.empty = None;
        } else {
            self.keyed.remove(key);
        }
    }
}

impl Serialize for Groups {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Groups {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut keyed = BTreeMap::<String, Box<GroupState>>::deserialize(deserializer)?;
        let empty = keyed.remove("").map(|state| *state);
        Ok(Groups { empty, keyed })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupState {
    pub group: Vec<Option<String>>,
    /// Times of matching events within the window (threshold, ratio numerator).
    pub hits: VecDeque<i64>,
    /// Times of the ratio's denominator events within the window.
    pub totals: VecDeque<i64>,
    /// Distinct-value candidates within the window (cardinality).
    pub values: VecDeque<(i64, String)>,
    /// Absence: the last matching event.
    pub last_seen: Option<i64>,
    /// The start of the alert now firing.
    pub firing: Option<i64>,
    pub last_fired: Option<i64>,
    pub last_event: Option<EventJson>,
}

/// One rule's evaluation.
#[derive(Debug, Clone)]
pub struct Evaluator {
    rule: Arc<Rule>,
    hot: Hot,
    state: RuleState,
}

/// What taking an event or advancing the watermark reads of the rule, kept beside its
/// state: with thousands of rules, the rule itself is then read only for its groups and
/// its alerts.
#[derive(Debug, Clone)]
struct Hot {
    kind: RuleKind,
    grouped: bool,
    window: i64,
    realert: i64,
    lateness: i64,
}

impl Hot {
    fn of(rule: &Rule) -> Hot {
        Hot {
            kind: rule.kind.clone(),
            grouped: !rule.group_by.is_empty(),
            window: nanos(rule.window),
            realert: nanos(rule.realert),
            lateness: nanos(rule.lateness),
        }
    }
}

impl Evaluator {
    pub fn new(rule: Arc<Rule>) -> Self {
        Evaluator {
            hot: Hot::of(&rule),
            rule,
            state: RuleState {
                watermark: i64::MIN,
                ..RuleState::default()
            },
        }
    }

    /// Continues from a checkpointed state.
    pub(crate) fn restore(rule: Arc<Rule>, state: RuleState) -> Self {
        Evaluator {
            hot: Hot::of(&rule),
            rule,
            state,
        }
    }

    pub(crate) fn rule(&self) -> &Rule {
        &self.rule
    }

    pub(crate) fn state(&self) -> &RuleState {
        &self.state
    }

    /// Groups with an alert firing.
    pub(crate) fn firing(&self) -> impl Iterator<Item = &GroupState> {
        self.state
            .groups
            .iter()
            .map(|(_, g)| g)
            .filter(|g| g.firing.is_some())
    }

    /// The alerts firing now, each with the id it fired with and the count as of now:
    /// what is told again to receivers that forget an alert not re-sent (Alertmanager).
    /// `match` and `new_value` alerts have no end, so none of them is ever firing.
    pub(crate) fn firing_alerts(&self) -> Vec<Alert> {
        let rule: &Rule = &self.rule;
        let from = self.state.watermark.saturating_sub(nanos(rule.window));
        self.state
            .groups
            .iter()
            .filter_map(|(key, state)| {
                let started = state.firing?;
                let count = match &rule.kind {
                    RuleKind::Threshold { .. } | RuleKind::Ratio { .. } => {
                        count_in(&state.hits, from, i64::MAX)
                    }
                    RuleKind::Cardinality { .. } => distinct_in(&state.values, from, i64::MAX),
                    _ => 0,
                };
                Some(Self::alert(
                    rule,
                    AlertStatus::Firing,
                    &state.group,
                    key,
                    started,
                    None,
                    count,
                    state.last_event.clone(),
                    "fire",
                ))
            })
            .collect()
    }

    /// Takes one event.
    pub(crate) fn observe(&mut self, event: &LogEvent) -> Vec<Alert> {
        self.observe_in(&EventView::new(event))
    }

    /// Takes one event through a view shared with the other rules.
    pub fn observe_in(&mut self, view: &EventView<'_>) -> Vec<Alert> {
        let rule: &Rule = &self.rule;
        let hit = rule.predicate.matches_in(view);
        let total = rule
            .denominator
            .as_ref()
            .is_some_and(|d| d.matches_in(view));
        self.observe_matched(view, hit, total)
    }

    /// Takes one event whose matches are known already: `hit` of the rule's query,
    /// `total` of a ratio's denominator (as the router found them).
    pub fn observe_matched(&mut self, view: &EventView<'_>, hit: bool, total: bool) -> Vec<Alert> {
        let ts = view.ts().unix_nanos();
        let (rule, hot): (&Rule, &Hot) = (&self.rule, &self.hot);
        if !hit && !total {
            return Vec::new();
        }
        if ts < self.state.watermark {
            self.state.late_events += 1;
            return Vec::new();
        }
        let group = if hot.grouped {
            rule.group_of(view)
        } else {
            Vec::new()
        };
        let key = group_key(&group);
        let window = hot.window;
        let mut alerts = Vec::new();
        let json = || view.to_json().map(EventJson::new);

        if let RuleKind::NewValue { field } = &hot.kind {
            if let Some(value) = field_value(view, field)
                && !self.state.seen.contains(&value)
            {
                self.state.seen.insert(value);
                alerts.push(Self::alert(
                    rule,
                    AlertStatus::Firing,
                    &group,
                    &key,
                    ts,
                    None,
                    1,
                    json(),
                    "new",
                ));
            }
            return alerts;
        }

        let state = self.state.groups.get_or_insert_with(&key, || GroupState {
            group: group.clone(),
            ..GroupState::default()
        });
        // Threshold, ratio and cardinality: the count when their condition holds.
        let met = match &hot.kind {
            RuleKind::Match => {
                if realert_ok(state, ts, hot.realert) {
                    state.last_fired = Some(ts);
                    let id_part = view.id().to_string();
                    alerts.push(Self::alert(
                        rule,
                        AlertStatus::Firing,
                        &group,
                        &key,
                        ts,
                        None,
                        1,
                        json(),
                        &id_part,
                    ));
                }
                None
            }
            RuleKind::Absence => {
                state.last_seen = Some(state.last_seen.map_or(ts, |last| last.max(ts)));
                if let Some(started) = state.firing.take() {
                    alerts.push(Self::alert(
                        rule,
                        AlertStatus::Resolved,
                        &group,
                        &key,
                        started,
                        Some(ts),
                        1,
                        json(),
                        "fire",
                    ));
                }
                None
            }
            RuleKind::Threshold { threshold } => {
                insert_sorted(&mut state.hits, ts);
                let count = count_in(&state.hits, ts - window, ts);
                (count >= *threshold).then_some(count)
            }
            RuleKind::Ratio {
                threshold,
                min_events,
                ..
            } => {
                if hit {
                    insert_sorted(&mut state.hits, ts);
                }
                if total {
                    insert_sorted(&mut state.totals, ts);
                }
                let hits = count_in(&state.hits, ts - window, ts);
                let totals = count_in(&state.totals, ts - window, ts);
                (totals >= *min_events && hits as f64 / totals.max(1) as f64 >= *threshold)
                    .then_some(hits)
            }
            RuleKind::Cardinality { field, threshold } => {
                if let Some(value) = field_value(view, field) {
                    // Events mostly come in time order.
                    if state.values.back().is_none_or(|(last, _)| *last <= ts) {
                        state.values.push_back((ts, value));
                    } else {
                        let at = state.values.partition_point(|(t, _)| *t <= ts);
                        state.values.insert(at, (ts, value));
                    }
                }
                // Counted only when it could fire.
                // Fewer values kept than the threshold: none to count.
                let could = state.firing.is_none()
                    && state.values.len() as u64 >= *threshold
                    && realert_ok(state, ts, hot.realert)
                    && count_values(&state.values, ts - window, ts) >= *threshold;
                if could {
                    let distinct = distinct_in(&state.values, ts - window, ts);
                    (distinct >= *threshold).then_some(distinct)
                } else {
                    None
                }
            }
            RuleKind::NewValue { .. } => None,
        };
        if let Some(count) = met
            && state.firing.is_none()
            && realert_ok(state, ts, hot.realert)
        {
            state.firing = Some(ts);
            state.last_fired = Some(ts);
            // The event that fired it, told again when it resolves.
            let fired = json();
            state.last_event = fired.clone();
            alerts.push(Self::alert(
                rule,
                AlertStatus::Firing,
                &group,
                &key,
                ts,
                None,
                count,
                fired,
                "fire",
            ));
        }
        alerts
    }

    /// Time passes: no event before `watermark` (less the rule's allowed lateness) is
    /// expected any more. Windows slide, absences fire, cleared conditions resolve.
    pub fn advance(&mut self, watermark: Timestamp) -> Vec<Alert> {
        let (rule, hot): (&Rule, &Hot) = (&self.rule, &self.hot);
        let now = watermark.unix_nanos().saturating_sub(hot.lateness);
        if now <= self.state.watermark {
            return Vec::new();
        }
        let first = self.state.watermark == i64::MIN;
        self.state.watermark = now;
        let window = hot.window;
        if first && matches!(hot.kind, RuleKind::Absence) && !hot.grouped {
            // A rule without groups watches from its first moment, seen or not.
            let key = group_key(&[]);
            self.state.groups.get_or_insert_with(&key, || GroupState {
                last_seen: Some(now),
                ..GroupState::default()
            });
        }
        let mut alerts = Vec::new();
        let mut forget = Vec::new();
        for (key, state) in self.state.groups.iter_mut() {
            let from = now - window;
            prune(&mut state.hits, from);
            prune(&mut state.totals, from);
            while state.values.front().is_some_and(|(t, _)| *t <= from) {
                state.values.pop_front();
            }
            // The condition as of `now`: events newer than the watermark do not count yet.
            let hits = count_in(&state.hits, from, now);
            let cleared = || match &hot.kind {
                RuleKind::Threshold { threshold } => hits < *threshold,
                RuleKind::Ratio {
                    threshold,
                    min_events,
                    ..
                } => {
                    let totals = count_in(&state.totals, from, now);
                    totals < *min_events || (hits as f64 / totals.max(1) as f64) < *threshold
                }
                RuleKind::Cardinality { threshold, .. } => {
                    distinct_in(&state.values, from, now) < *threshold
                }
                _ => false,
            };
            // An alert resolves at the earliest as of its own start.
            if let Some(started) = state.firing
                && started <= now
                && cleared()
            {
                state.firing = None;
                let count = hits;
                alerts.push(Self::alert(
                    rule,
                    AlertStatus::Resolved,
                    &state.group,
                    key,
                    started,
                    Some(now),
                    count,
                    state.last_event.clone(),
                    "fire",
                ));
                continue;
            }
            if let RuleKind::Absence = hot.kind
                && state.firing.is_none()
                && let Some(last) = state.last_seen
                && now - last >= window
            {
                let started = last + window;
                state.firing = Some(started);
                state.last_fired = Some(started);
                alerts.push(Self::alert(
                    rule,
                    AlertStatus::Firing,
                    &state.group,
                    key,
                    started,
                    None,
                    0,
                    state.last_event.clone(),
                    "fire",
                ));
                continue;
            }
            // Forget groups with nothing left to remember.
            let idle = state.hits.is_empty()
                && state.totals.is_empty()
                && state.values.is_empty()
                && state.firing.is_none()
                && !matches!(hot.kind, RuleKind::Absence)
                && state
                    .last_fired
                    .is_none_or(|last| now - last >= hot.realert);
            if idle {
                forget.push(key.to_owned());
            }
        }
        for key in forget {
            self.state.groups.remove(&key);
        }
        alerts
    }

    #[allow(clippy::too_many_arguments)]
    fn alert(
        rule: &Rule,
        status: AlertStatus,
        group: &[Option<String>],
        key: &str,
        started: i64,
        ended: Option<i64>,
        count: u64,
        event: Option<EventJson>,
        salt: &str,
    ) -> Alert {
        let status_name = match status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        };
        let id = xxhash_rust::xxh3::xxh3_128(
            format!(
                "{}\u{0}{key}\u{0}{started}\u{0}{salt}\u{0}{status_name}",
                rule.name
            )
            .as_bytes(),
        );
        let summary = rule.summary.render(&Context {
            rule: &rule.name,
            severity: &rule.severity,
            count,
            group,
            event: event.as_ref(),
        });
        Alert {
            notification: Notification {
                id: format!("{id:032x}"),
                rule: rule.name.clone(),
                status,
                severity: rule.severity.clone(),
                summary,
                group: rule
                    .group_names()
                    .into_iter()
                    .zip(group)
                    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
                    .collect(),
                count,
                starts_at: Timestamp::from_unix_nanos(started),
                ends_at: ended.map(Timestamp::from_unix_nanos),
                event,
                labels: rule.labels.clone(),
                search: Some(search(rule, group, started)),
            },
            notify: rule.notify.clone(),
        }
    }
}

/// How far before an alert's start its search looks at least: a `match` alert has no
/// window, and its event is best seen among the ones before it.
const SEARCH_LOOKBACK: std::time::Duration = std::time::Duration::from_secs(60);

/// The search showing an alert's events: the rule's query, each group value required,
/// from the start of the window that ended at `started`.
fn search(rule: &Rule, group: &[Option<String>], started: i64) -> Search {
    let query = if group.iter().all(Option::is_none) {
        rule.query_text.clone()
    } else {
        let mut query = rule.query.clone();
        for (field, value) in rule.group_by.iter().zip(group) {
            if let Some(value) = value {
                query = query.and(Query::Leaf(Leaf {
                    field: field.clone(),
                    op: Op::Match(value.clone()),
                }));
            }
        }
        query.to_string()
    };
    let lookback = nanos(rule.window.max(SEARCH_LOOKBACK));
    Search {
        query,
        from: Timestamp::from_unix_nanos(started.saturating_sub(lookback)),
    }
}

/// The key a group's state is kept under: its values, a missing one distinct from any.
fn group_key(group: &[Option<String>]) -> String {
    let mut key = String::new();
    for (i, value) in group.iter().enumerate() {
        if i > 0 {
            key.push('\u{1f}');
        }
        match value {
            Some(value) => key.push_str(value),
            None => key.push('\u{0}'),
        }
    }
    key
}

fn nanos(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

fn realert_ok(state: &GroupState, ts: i64, realert: i64) -> bool {
    state
        .last_fired
        .is_none_or(|last| ts < last || ts - last >= realert)
}

fn insert_sorted(times: &mut VecDeque<i64>, ts: i64) {
    // Events mostly come in time order.
    if times.back().is_none_or(|last| *last <= ts) {
        times.push_back(ts);
        return;
    }
    let at = times.partition_point(|t| *t <= ts);
    times.insert(at, ts);
}

/// Events in `(from, to]`.
fn count_in(times: &VecDeque<i64>, from: i64, to: i64) -> u64 {
    let start = first_after(times, from);
    let end = if times.back().is_none_or(|last| *last <= to) {
        times.len()
    } else {
        times.partition_point(|t| *t <= to)
    };
    (end - start) as u64
}

/// Distinct values in `(from, to]`.
fn distinct_in(values: &VecDeque<(i64, String)>, from: i64, to: i64) -> u64 {
    let start = values.partition_point(|(t, _)| *t <= from);
    let end = values.partition_point(|(t, _)| *t <= to);
    let mut seen = HashSet::with_capacity(end.saturating_sub(start));
    values
        .range(start..end.max(start))
        .filter(|(_, v)| seen.insert(v.as_str()))
        .count() as u64
}

/// The index of the first time after `from`. Times before a window's start are pruned at
/// each watermark, so the answer is near the front: searched from there, doubling.
fn first_after(times: &VecDeque<i64>, from: i64) -> usize {
    let mut end = 1;
    while end < times.len() && times[end - 1] <= from {
        end *= 2;
    }
    let (mut low, mut high) = (end / 2, end.min(times.len()));
    while low < high {
        let middle = low + (high - low) / 2;
        if times[middle] <= from {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// Values in `(from, to]`, repeated ones included: an upper bound of the distinct ones.
fn count_values(values: &VecDeque<(i64, String)>, from: i64, to: i64) -> u64 {
    let start = values.partition_point(|(t, _)| *t <= from);
    let end = if values.back().is_none_or(|(last, _)| *last <= to) {
        values.len()
    } else {
        values.partition_point(|(t, _)| *t <= to)
    };
    end.saturating_sub(start) as u64
}

fn prune(times: &mut VecDeque<i64>, from: i64) {
    while times.front().is_some_and(|t| *t <= from) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use logpipe_common::event::Level;
    use logpipe_common::testkit::sample_event;

    use super::*;
    use crate::rules::parse_rule;

    const SECOND: i64 = 1_000_000_000;
    const T0: i64 = 1_790_000_000 * SECOND;

    fn evaluator(text: &str) -> Evaluator {
        Evaluator::new(Arc::new(parse_rule(text, Path::new("r.yaml")).unwrap()))
    }

    /// An error event of pod `pod` at `T0 + seconds`.
    fn error(n: u64, pod: &str, seconds: i64) -> LogEvent {
        let mut event = sample_event(n, Timestamp::from_unix_nanos(T0 + seconds * SECOND));
        event.level = Level::Error;
        event.k8s.namespace = Some("shop".into());
        event.k8s.pod = Some(pod.into());
        event
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_nanos(T0 + seconds * SECOND)
    }

    const THRESHOLD: &str = "name: checkout-errors\ntype: threshold\nquery: 'k8s.namespace:shop AND level:error'\n\
        window: 1m\nthreshold: 5\ngroup_by: [k8s.pod]\nsummary: '{{ count }} errors in {{ group.k8s.pod }}'\n\
        notify: [oncall]\nrealert: 10m\nlateness: 5s\n";

    #[test]
    fn groups_are_checkpointed_as_one_map_by_key_the_empty_key_included() {
        let mut groups = Groups::default();
        for (key, seen) in [("b", 2), ("", 1), ("a", 3)] {
            groups.get_or_insert_with(key, || GroupState {
                last_seen: Some(seen),
                ..GroupState::default()
            });
        }
        let json = serde_json::to_value(&groups).unwrap();
        let map = json.as_object().unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["", "a", "b"]);
        assert_eq!(map["a"]["last_seen"], 3);
        assert_eq!(map[""]["last_seen"], 1);
        // What a map of the states reads back as, and the other way round.
        let plain: BTreeMap<String, GroupState> = serde_json::from_value(json.clone()).unwrap();
        let read: Groups = serde_json::from_value(serde_json::to_value(&plain).unwrap()).unwrap();
        assert_eq!(read, groups);
        groups.remove("");
        groups.remove("a");
        let left: Vec<&str> = groups.iter().map(|(key, _)| key).collect();
        assert_eq!(left, ["b"]);
    }

    #[test]
    fn the_search_from_the_front_finds_what_a_binary_search_finds() {
        for len in 0..40 {
            let times: VecDeque<i64> = (0..len).map(|i| i / 3 * 10).collect();
            for from in -5..(len / 3 * 10 + 15) {
                assert_eq!(
                    first_after(&times, from),
                    times.partition_point(|t| *t <= from),
                    "{len} {from}"
                );
            }
        }
    }

    #[test]
    fn a_threshold_fires_once_per_group_and_resolves_when_the_window_clears() {
        let mut rule = evaluator(THRESHOLD);
        let mut fired = Vec::new();
        for i in 0..8 {
            fired.extend(rule.observe(&error(i, "api-1", i as i64)));
            fired.extend(rule.observe(&error(100 + i, "api-2", i as i64 * 20)));
        }
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].notification.summary, "5 errors in api-1");
        assert_eq!(fired[0].notification.group["k8s.pod"], "api-1");
        assert_eq!(fired[0].notification.starts_at, at(4));
        assert!(rule.advance(at(30)).is_empty(), "still within the window");
        let resolved = rule.advance(at(70));
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].notification.status, AlertStatus::Resolved);
        assert_eq!(
            resolved[0].notification.starts_at,
            fired[0].notification.starts_at
        );
        assert_ne!(resolved[0].notification.id, fired[0].notification.id);
        // Five more within realert of the first firing: suppressed.
        let again: Vec<_> = (0..5)
            .flat_map(|i| rule.observe(&error(200 + i, "api-1", 80 + i as i64)))
            .collect();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn firing_alerts_are_told_again_with_their_ids_until_they_resolve() {
        let mut rule = evaluator(THRESHOLD);
        assert!(rule.firing_alerts().is_empty());
        let fired: Vec<_> = (0..6)
            .flat_map(|i| rule.observe(&error(i, "api-1", i as i64)))
            .collect();
        assert_eq!(fired.len(), 1);
        let firing = rule.firing_alerts();
        assert_eq!(firing.len(), 1);
        let (again, first) = (&firing[0].notification, &fired[0].notification);
        assert_eq!(again.id, first.id);
        assert_eq!(again.status, AlertStatus::Firing);
        assert_eq!(again.starts_at, first.starts_at);
        assert_eq!(again.fingerprint(), first.fingerprint());
        assert_eq!(again.count, 6, "the count as of now");
        assert_eq!(again.summary, "6 errors in api-1");
        assert_eq!(firing[0].notify, ["oncall"]);
        assert_eq!(rule.advance(at(70)).len(), 1, "resolved");
        assert!(rule.firing_alerts().is_empty());

        let mut matches = evaluator("name: m\ntype: match\nquery: level:error\nnotify: [x]\n");
        assert_eq!(matches.observe(&error(1, "api-1", 1)).len(), 1);
        assert!(matches.firing_alerts().is_empty(), "a match has no end");
    }

    #[test]
    fn an_alert_links_to_its_rules_query_narrowed_to_its_group() {
        let mut rule = evaluator(THRESHOLD);
        let fired: Vec<_> = (0..5)
            .flat_map(|i| rule.observe(&error(i, "api-1", i as i64)))
            .collect();
        let search = fired[0].notification.search.clone().unwrap();
        assert_eq!(
            search.query,
            r#"k8s.namespace:shop AND level:error AND k8s.pod:"api-1""#
        );
        assert_eq!(search.from, at(4 - 60), "the window before the start");
        assert_eq!(
            Query::parse(&search.query).unwrap().to_string(),
            search.query
        );
    }

    #[test]
    fn late_events_are_counted_not_applied() {
        let mut rule = evaluator(THRESHOLD);
        rule.advance(at(100));
        assert!(rule.observe(&error(1, "api-1", 90)).is_empty());
        assert_eq!(
            rule.state().late_events,
            1,
            "older than the watermark less lateness"
        );
        assert!(rule.observe(&error(2, "api-1", 96)).is_empty());
        assert_eq!(rule.state().late_events, 1, "within the allowed lateness");
    }

    #[test]
    fn a_checkpointed_state_continues_with_the_same_ids() {
        let events: Vec<_> = (0..6).map(|i| error(i, "api-1", i as i64)).collect();
        let mut whole = evaluator(THRESHOLD);
        let uninterrupted: Vec<_> = events.iter().flat_map(|e| whole.observe(e)).collect();

        let mut first = evaluator(THRESHOLD);
        for event in &events[..3] {
            assert!(first.observe(event).is_empty());
        }
        let saved = serde_json::to_string(first.state()).unwrap();
        let mut resumed =
            Evaluator::restore(first.rule.clone(), serde_json::from_str(&saved).unwrap());
        let after: Vec<_> = events[3..]
            .iter()
            .flat_map(|e| resumed.observe(e))
            .collect();
        assert_eq!(after, uninterrupted);
    }

    #[test]
    fn an_absence_fires_when_a_heartbeat_stops_and_resolves_when_it_returns() {
        let mut rule = evaluator(
            "name: heartbeat\ntype: absence\nquery: 'message:heartbeat'\nwindow: 30s\ngroup_by: [k8s.pod]\nnotify: [x]\nlateness: 0s\n",
        );
        let beat = |n: u64, pod: &str, s: i64| {
            let mut event = error(n, pod, s);
            event.message = "heartbeat".into();
            event
        };
        for s in (0..60).step_by(10) {
            rule.observe(&beat(s as u64, "a", s));
            if s < 20 {
                rule.observe(&beat(1000 + s as u64, "b", s));
            }
        }
        assert!(
            rule.advance(at(45)).len() == 1,
            "b went silent at 10 s: fires at 40 s"
        );
        let fired = rule.advance(at(95));
        assert_eq!(fired.len(), 1, "a went silent at 50 s: {fired:?}");
        assert_eq!(fired[0].notification.group["k8s.pod"], "a");
        assert_eq!(fired[0].notification.starts_at, at(80));
        let resolved = rule.observe(&beat(99, "a", 100));
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].notification.status, AlertStatus::Resolved);
    }

    #[test]
    fn ratio_new_value_cardinality_and_match() {
        let mut ratio = evaluator(
            "name: error-rate\ntype: ratio\nquery: level:error\ndenominator: '*'\nthreshold: 0.5\nmin_events: 4\nwindow: 1m\nnotify: [x]\n",
        );
        let info = |n: u64, s: i64| {
            let mut event = error(n, "p", s);
            event.level = Level::Info;
            event
        };
        let mut fired = Vec::new();
        fired.extend(ratio.observe(&info(1, 0)));
        fired.extend(ratio.observe(&error(2, "p", 1)));
        fired.extend(ratio.observe(&info(3, 2)));
        assert!(fired.is_empty(), "too few events yet");
        fired.extend(ratio.observe(&error(4, "p", 3)));
        assert_eq!(fired.len(), 1, "2 of 4 is 0.5");

        let mut new_value =
            evaluator("name: new-user\ntype: new_value\nquery: '*'\nfield: k8s.pod\nnotify: [x]\n");
        let pods = ["a", "b", "a", "c", "b"];
        let fired: Vec<_> = pods
            .iter()
            .enumerate()
            .flat_map(|(i, pod)| new_value.observe(&error(i as u64, pod, i as i64)))
            .collect();
        assert_eq!(fired.len(), 3);

        let mut cardinality = evaluator(
            "name: many-pods\ntype: cardinality\nquery: '*'\nfield: k8s.pod\nthreshold: 3\nwindow: 10s\nnotify: [x]\n",
        );
        let fired: Vec<_> = pods
            .iter()
            .enumerate()
            .flat_map(|(i, pod)| cardinality.observe(&error(i as u64, pod, i as i64)))
            .collect();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].notification.count, 3);

        let mut each = evaluator(
            "name: each\ntype: match\nquery: level:error\nrealert: 10s\ngroup_by: [k8s.pod]\nnotify: [x]\nsummary: '{{ event.message }}'\n",
        );
        let fired: Vec<_> = (0..30)
            .flat_map(|s| each.observe(&error(s as u64, "p", s)))
            .collect();
        assert_eq!(fired.len(), 3, "one per 10 s of realert");
        assert_eq!(fired[0].notification.summary, error(0, "p", 0).message);
    }
}
