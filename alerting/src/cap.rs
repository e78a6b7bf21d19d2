//! A bound on how many alerts one rule sends per window of wall-clock time. Past the
//! bound a rule's alerts are counted instead of sent, and when the window ends one
//! summary alert says how many were held back, so a noisy rule (or a burst of forged
//! events) cannot page hundreds of times.
//!
//! Windows are aligned to multiples of their length, and a summary's id derives from the
//! rule and the window: a summary raised again after a restart has the id it had.

use std::collections::BTreeMap;
use std::time::Duration;

use logpipe_common::Timestamp;

use crate::engine::Alert;
use crate::notify::{Notification, Status};

/// The label a summary carries, so receivers can route or silence summaries.
pub(crate) const SUPPRESSED_LABEL: &str = "logpipe_suppressed";

/// Alerts admitted per rule and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    /// At most this many alerts per rule in one window; 0 for no limit.
    pub max_alerts: u32,
    pub window: Duration,
}

#[derive(Debug)]
struct RuleWindow {
    /// Nanoseconds since the epoch.
    start: i64,
    sent: u32,
    held: u64,
    /// The first alert held back: where the summary goes and what it is labelled.
    first_held: Option<Alert>,
}

#[derive(Debug)]
pub(crate) struct AlertCap {
    limit: Limit,
    window_nanos: i64,
    rules: BTreeMap<String, RuleWindow>,
}

impl AlertCap {
    pub(crate) fn new(limit: Limit) -> Self {
        AlertCap {
            limit,
            window_nanos: i64::try_from(limit.window.as_nanos())
                .unwrap_or(i64::MAX)
                .max(1),
            rules: BTreeMap::new(),
        }
    }

    /// Whether `alert` may be sent now; when not, it is counted for its rule's summary.
    pub(crate) fn admit(&mut self, alert: &Alert, now: Timestamp) -> bool {
        if self.limit.max_alerts == 0 {
            return true;
        }
        let start = self.window_start(now);
        let window = self
            .rules
            .entry(alert.notification.rule.clone())
            .or_insert(RuleWindow {
                start,
                sent: 0,
                held: 0,
                first_held: None,
            });
        if window.start != start && window.held == 0 {
            *window = RuleWindow {
                start,
                sent: 0,
                held: 0,
                first_held: None,
            };
        }
        if window.start == start && window.sent < self.limit.max_alerts {
            window.sent += 1;
            return true;
        }
        // Over the limit, or a window that ended with alerts held back and whose summary
        // is not out yet: held back as well, and summarized with them.
        window.held += 1;
        window.first_held.get_or_insert_with(|| alert.clone());
        false
    }

    /// One summary per rule whose window ended with alerts held back.
    pub(crate) fn summaries(&mut self, now: Timestamp) -> Vec<Alert> {
        let current = self.window_start(now);
        let mut out = Vec::new();
        for (rule, window) in &mut self.rules {
            if window.start >= current || window.held == 0 {
                continue;
            }
            if let Some(first) = window.first_held.take() {
                out.push(summary(
                    rule,
                    &first,
                    window.start,
                    window.start.saturating_add(self.window_nanos),
                    window.held,
                    self.limit,
                ));
            }
            *window = RuleWindow {
                start: current,
                sent: 0,
                held: 0,
                first_held: None,
            };
        }
        self.rules.retain(|_, window| window.start >= current);
        out
    }

    fn window_start(&self, now: Timestamp) -> i64 {
        let now = now.unix_nanos();
        now - now.rem_euclid(self.window_nanos)
    }
}

fn summary(rule: &str, first: &Alert, start: i64, end: i64, held: u64, limit: Limit) -> Alert {
    let id = xxhash_rust::xxh3::xxh3_128(format!("{rule}\u{0}{start}\u{0}suppressed").as_bytes());
    let mut labels = first.notification.labels.clone();
    labels.insert(SUPPRESSED_LABEL.to_owned(), "true".to_owned());
    Alert {
        notification: Notification {
            id: format!("{id:032x}"),
            rule: rule.to_owned(),
            status: Status::Firing,
            severity: first.notification.severity.clone(),
            summary: format!(
                "{held} more alerts of {rule} were held back between {} and {} (at most {} per {})",
                Timestamp::from_unix_nanos(start),
                Timestamp::from_unix_nanos(end),
                limit.max_alerts,
                humantime::format_duration(limit.window),
            ),
            group: BTreeMap::new(),
            count: held,
            starts_at: Timestamp::from_unix_nanos(start),
            ends_at: Some(Timestamp::from_unix_nanos(end)),
            event: None,
            labels,
            search: None,
        },
        notify: first.notify.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, n: u64) -> Alert {
        Alert {
            notification: Notification {
                id: format!("{rule}-{n}"),
                rule: rule.to_owned(),
                status: Status::Firing,
                severity: "critical".to_owned(),
                summary: format!("alert {n}"),
                group: BTreeMap::new(),
                count: 1,
                starts_at: Timestamp::from_unix_nanos(0),
                ends_at: None,
                event: None,
                labels: BTreeMap::from([("team".to_owned(), "shop".to_owned())]),
                search: None,
            },
            notify: vec!["oncall".to_owned()],
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_nanos(seconds * 1_000_000_000)
    }

    #[test]
    fn past_the_limit_alerts_are_held_and_summarized_once_the_window_ends() {
        let limit = Limit {
            max_alerts: 3,
            window: Duration::from_secs(60),
        };
        let mut cap = AlertCap::new(limit);
        let admitted = (0..50)
            .filter(|&n| cap.admit(&alert("noisy", n), at(600 + n as i64 / 10)))
            .count();
        assert_eq!(admitted, 3);
        assert!(
            cap.admit(&alert("quiet", 0), at(601)),
            "another rule has its own count"
        );
        assert!(
            cap.summaries(at(659)).is_empty(),
            "the window has not ended"
        );
        let summaries = cap.summaries(at(660));
        assert_eq!(summaries.len(), 1);
        let summary = &summaries[0].notification;
        assert_eq!(summary.rule, "noisy");
        assert_eq!(summary.count, 47);
        assert_eq!(summary.labels[SUPPRESSED_LABEL], "true");
        assert_eq!(summary.starts_at, at(600));
        assert_eq!(summary.ends_at, Some(at(660)));
        assert_eq!(summaries[0].notify, ["oncall"]);
        assert!(cap.summaries(at(720)).is_empty(), "said once");
        // The next window admits again.
        assert!(cap.admit(&alert("noisy", 99), at(721)));
    }

    #[test]
    fn a_summary_has_the_same_id_when_raised_again() {
        let limit = Limit {
            max_alerts: 1,
            window: Duration::from_secs(60),
        };
        let ids: Vec<String> = (0..2)
            .map(|_| {
                let mut cap = AlertCap::new(limit);
                for n in 0..5 {
                    cap.admit(&alert("noisy", n), at(605));
                }
                cap.summaries(at(700))[0].notification.id.clone()
            })
            .collect();
        assert_eq!(ids[0], ids[1]);
    }

    #[test]
    fn no_limit_admits_everything() {
        let mut cap = AlertCap::new(Limit {
            max_alerts: 0,
            window: Duration::from_secs(60),
        });
        assert!((0..1_000).all(|n| cap.admit(&alert("noisy", n), at(1))));
        assert!(cap.summaries(at(1_000)).is_empty());
    }
}
