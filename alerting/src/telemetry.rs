//! Alerting's metrics, from one place, with bounded label sets (rule and notifier names
//! come from the configuration).

use metrics::{counter, gauge};

use crate::notify::Status;

/// An alert raised by `rule`, counted before replays of delivered ones are skipped.
pub(crate) fn alert_raised(rule: &str, status: Status) {
    counter!(
        "logpipe_alerting_alerts_total",
        "rule" => rule.to_owned(),
        "status" => status.as_str()
    )
    .increment(1);
}

/// Events of `rule` older than its watermark when they came, so far (counted, not
/// evaluated).
pub(crate) fn late_events(rule: &str, count: u64) {
    gauge!("logpipe_alerting_late_events", "rule" => rule.to_owned()).set(count as f64);
}

/// Events routed to the rules; of the rules, those whose required terms the events had
/// (their queries consulted) and those the events matched. Checked per event against
/// the rule count tells how well the rules' terms route.
pub(crate) fn routed(events: u64, checked: u64, matched: u64) {
    counter!("logpipe_alerting_events_routed_total").increment(events);
    counter!("logpipe_alerting_rules_checked_total").increment(checked);
    counter!("logpipe_alerting_rules_matched_total").increment(matched);
}

/// A change of the rules or notifiers files put in force.
pub(crate) fn reload_applied() {
    counter!("logpipe_alerting_reloads_total", "result" => "applied").increment(1);
}

/// A change of the rules or notifiers files refused; the previous rules stay in force.
pub(crate) fn reload_refused() {
    counter!("logpipe_alerting_reloads_total", "result" => "refused").increment(1);
}

/// A notification accepted by the receiver (2xx).
pub(crate) fn notification_delivered(notifier: &str) {
    counter!("logpipe_alerting_notifications_delivered_total", "notifier" => notifier.to_owned())
        .increment(1);
}

/// An attempt that failed and is followed by another.
pub(crate) fn notification_retried(notifier: &str) {
    counter!("logpipe_alerting_notifications_retried_total", "notifier" => notifier.to_owned())
        .increment(1);
}

/// A notification given up on.
pub(crate) fn notification_failed(notifier: &str) {
    counter!("logpipe_alerting_notifications_failed_total", "notifier" => notifier.to_owned())
        .increment(1);
}

/// An alert of `rule` held back by the per-rule limit (summarized later).
pub(crate) fn alert_held(rule: &str) {
    counter!("logpipe_alerting_alerts_held_total", "rule" => rule.to_owned()).increment(1);
}

/// Alerts raised and not yet delivered to every notifier.
pub(crate) fn pending_alerts(count: usize) {
    gauge!("logpipe_alerting_pending_alerts").set(count as f64);
}

/// Alerts being delivered right now.
pub(crate) fn deliveries_in_flight(count: usize) {
    gauge!("logpipe_alerting_deliveries_in_flight").set(count as f64);
}

/// Firing alerts posted again to a notifier that forgets them otherwise (Alertmanager),
/// and accepted.
pub(crate) fn alerts_renewed(notifier: &str, count: usize) {
    counter!("logpipe_alerting_alerts_renewed_total", "notifier" => notifier.to_owned())
        .increment(count as u64);
}
