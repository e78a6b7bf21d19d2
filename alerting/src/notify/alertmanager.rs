//! Alertmanager's own API as a receiver (`format: alertmanager-api`): alerts posted to
//! `/api/v2/alerts` as a JSON array of `{labels, annotations, startsAt, endsAt,
//! generatorURL}`, so Alertmanager's routing, grouping, silences and inhibition apply to
//! logpipe alerts as they do to Prometheus's.
//!
//! Alertmanager resolves an alert by itself once its `endsAt` has passed. A firing alert
//! is posted with `endsAt` a lease ahead ([`LEASE_RESENDS`] times the notifier's
//! `resend`), and posted again every `resend` while it fires; its resolution is posted
//! with `endsAt` at its end. An alert without an end (`match`, `new_value`) lapses one
//! lease after it was posted.

use std::collections::BTreeMap;
use std::time::Duration;

use logpipe_common::Timestamp;
use serde_json::{Map, Value, json};
use url::Url;

use super::notification::{EventJson, Notification, Status};

/// The path of the alerts endpoint under the Alertmanager base URL.
pub(crate) const ALERTS_PATH: &str = "api/v2/alerts";
/// A posted alert stays firing for this many resend periods without a renewal, so a
/// renewal or two may be lost without the alert lapsing (Prometheus uses the same factor).
pub(crate) const LEASE_RESENDS: u32 = 4;
/// The `sample` annotation holds at most this many characters of the triggering event.
const SAMPLE_CHARS: usize = 1024;

/// Where a notifier's alerts go: `<base>/api/v2/alerts`, a path prefix of the base kept
/// (an Alertmanager behind `--web.route-prefix`); a URL naming the endpoint already is
/// taken as it is.
pub(crate) fn alerts_endpoint(base: &Url) -> Url {
    let mut url = base.clone();
    let path = url.path().trim_end_matches('/').to_string();
    if !path.ends_with(&format!("/{ALERTS_PATH}")) {
        url.set_path(&format!("{path}/{ALERTS_PATH}"));
    }
    url
}

/// What a body says beyond its notifications: when it is sent, for how long a firing
/// alert holds, and where the web UI is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub now: Timestamp,
    pub lease: Duration,
    pub ui_url: Option<&'a Url>,
}

/// The body posted to `/api/v2/alerts`.
pub(crate) fn alerts(notifications: &[&Notification], context: &Context<'_>) -> Value {
    Value::Array(
        notifications
            .iter()
            .map(|notification| alert(notification, context))
            .collect(),
    )
}

fn alert(notification: &Notification, context: &Context<'_>) -> Value {
    let labels: BTreeMap<String, String> = notification
        .alert_labels()
        .into_iter()
        .map(|(name, value)| (label_name(&name), value))
        .collect();
    let mut annotations = Map::new();
    annotations.insert("summary".into(), notification.summary.clone().into());
    annotations.insert("count".into(), notification.count.to_string().into());
    if let Some(search) = &notification.search {
        annotations.insert("query".into(), search.query.clone().into());
    }
    if let Some(event) = &notification.event {
        annotations.insert("sample".into(), sample(event).into());
    }
    let ends_at = ends_at(notification, context);
    let mut alert = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": notification.starts_at.to_string(),
        "endsAt": ends_at.to_string(),
    });
    if let Some(url) = generator_url(notification, context.ui_url, ends_at.min(context.now)) {
        alert["generatorURL"] = url.into();
    }
    alert
}

/// A firing alert holds for a lease from now; a resolved one ended at its end, or now if
/// that is still ahead. Never before the start: Alertmanager refuses such an alert.
fn ends_at(notification: &Notification, context: &Context<'_>) -> Timestamp {
    let now = context.now.unix_nanos();
    let end = match (notification.status, notification.ends_at) {
        (Status::Resolved, Some(ended)) => ended.unix_nanos().min(now),
        (Status::Resolved, None) => now,
        (Status::Firing, _) => {
            now.saturating_add(i64::try_from(context.lease.as_nanos()).unwrap_or(i64::MAX))
        }
    };
    Timestamp::from_unix_nanos(end.max(notification.starts_at.unix_nanos()))
}

/// A Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`, which Alertmanager requires): any
/// other character becomes `_`, and a leading digit gets a `_` before it, so the group
/// field `k8s.pod` is the label `k8s_pod`.
pub(crate) fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The triggering event as compact JSON, cut to [`SAMPLE_CHARS`].
fn sample(event: &EventJson) -> String {
    let text = event.text();
    match text.char_indices().nth(SAMPLE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The web UI's search for the alert's events, as the UI encodes its view in the URL
/// (`?q=…&from=…&to=…`, instants to the second): from the window that raised the alert to
/// `until` (its end, or now while it fires).
pub(crate) fn generator_url(
    notification: &Notification,
    ui_url: Option<&Url>,
    until: Timestamp,
) -> Option<String> {
    let ui_url = ui_url?;
    let search = notification.search.as_ref()?;
    const SECOND: i64 = 1_000_000_000;
    let from = search.from.unix_nanos().div_euclid(SECOND) * SECOND;
    // The end rounded up, and past the alert's start: the UI's range must not be empty.
    let until = until.unix_nanos().max(notification.starts_at.unix_nanos());
    let to = (until.div_euclid(SECOND) + 1) * SECOND;
    let mut url = ui_url.clone();
    url.set_fragment(None);
    url.query_pairs_mut()
        .clear()
        .append_pair("q", &search.query)
        .append_pair("from", &seconds(from))
        .append_pair("to", &seconds(to));
    Some(url.to_string())
}

/// RFC 3339 to the second, as the web UI writes instants: `2026-11-27T10:00:00Z`.
fn seconds(nanos: i64) -> String {
    let text = Timestamp::from_unix_nanos(nanos).to_string();
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::notification::tests::sample as notification;

    const NOW: i64 = 1_700_000_100_000_000_000;

    fn context(ui_url: Option<&Url>) -> Context<'_> {
        Context {
            now: Timestamp::from_unix_nanos(NOW),
            lease: Duration::from_secs(240),
            ui_url,
        }
    }

    #[test]
    fn endpoint_is_under_the_base_and_keeps_a_route_prefix() {
        for (base, expected) in [
            ("http://am:9093", "http://am:9093/api/v2/alerts"),
            ("http://am:9093/", "http://am:9093/api/v2/alerts"),
            (
                "https://ops.example.com/alertmanager/",
                "https://ops.example.com/alertmanager/api/v2/alerts",
            ),
            (
                "http://am:9093/api/v2/alerts",
                "http://am:9093/api/v2/alerts",
            ),
        ] {
            assert_eq!(
                alerts_endpoint(&Url::parse(base).unwrap()).as_str(),
                expected
            );
        }
    }

    #[test]
    fn a_firing_alert_has_valid_labels_annotations_and_a_lease() {
        let ui = Url::parse("https://logs.example.com/").unwrap();
        let body = alerts(&[&notification()], &context(Some(&ui)));
        let alerts = body.as_array().unwrap();
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(
            alert["labels"],
            json!({
                "alertname": "checkout-errors",
                "severity": "critical",
                "k8s_pod": "checkout-7d9f",
                "team": "shop",
            })
        );
        assert_eq!(alert["annotations"]["summary"], "5 errors in checkout-7d9f");
        assert_eq!(alert["annotations"]["count"], "5");
        assert_eq!(
            alert["annotations"]["query"],
            r#"k8s.namespace:shop AND level:error AND k8s.pod:"checkout-7d9f""#
        );
        let sample: Value =
            serde_json::from_str(alert["annotations"]["sample"].as_str().unwrap()).unwrap();
        assert_eq!(sample["message"], "payment failed");
        assert_eq!(alert["startsAt"], "2023-11-14T22:13:20.123000000Z");
        // Four minutes after now.
        assert_eq!(alert["endsAt"], "2023-11-14T22:19:00.000000000Z");
        let url = Url::parse(alert["generatorURL"].as_str().unwrap()).unwrap();
        assert_eq!(url.host_str(), Some("logs.example.com"));
        let pairs: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs["q"],
            r#"k8s.namespace:shop AND level:error AND k8s.pod:"checkout-7d9f""#
        );
        assert_eq!(pairs["from"], "2023-11-14T22:12:20Z");
        assert_eq!(pairs["to"], "2023-11-14T22:15:01Z");
        // Alertmanager takes only Prometheus label names, and string values.
        for map in [&alert["labels"], &alert["annotations"]] {
            for (name, value) in map.as_object().unwrap() {
                assert!(value.is_string(), "{name}");
                assert!(
                    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !name.starts_with(|c: char| c.is_ascii_digit()),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn a_resolved_alert_ends_at_its_end_never_later_than_now_nor_before_its_start() {
        let mut resolved = notification();
        resolved.status = Status::Resolved;
        resolved.ends_at = Some(Timestamp::from_unix_nanos(1_700_000_060_000_000_000));
        let body = alerts(&[&resolved], &context(None));
        assert_eq!(body[0]["endsAt"], "2023-11-14T22:14:20.000000000Z");
        assert!(body[0].get("generatorURL").is_none(), "no UI, no link");

        resolved.ends_at = Some(Timestamp::from_unix_nanos(NOW + 3_600_000_000_000));
        assert_eq!(
            alerts(&[&resolved], &context(None))[0]["endsAt"],
            "2023-11-14T22:15:00.000000000Z"
        );

        // Event time ahead of the clock: the end is the start, not before it.
        resolved.starts_at = Timestamp::from_unix_nanos(NOW + 10_000_000_000);
        resolved.ends_at = Some(Timestamp::from_unix_nanos(NOW + 20_000_000_000));
        let body = alerts(&[&resolved], &context(None));
        assert_eq!(body[0]["endsAt"], body[0]["startsAt"]);
    }

    #[test]
    fn label_names_become_prometheus_label_names() {
        assert_eq!(label_name("k8s.pod"), "k8s_pod");
        assert_eq!(
            label_name("attributes.http.status"),
            "attributes_http_status"
        );
        assert_eq!(label_name("alertname"), "alertname");
        assert_eq!(label_name("5xx"), "_5xx");
        assert_eq!(label_name("é-x"), "__x");
        assert_eq!(label_name(""), "_");
    }

    #[test]
    fn a_long_sample_is_cut() {
        let mut long = notification();
        long.event = Some(json!({"message": "x".repeat(5000)}).into());
        let body = alerts(&[&long], &context(None));
        let sample = body[0]["annotations"]["sample"].as_str().unwrap();
        assert_eq!(sample.chars().count(), SAMPLE_CHARS + 1);
        assert!(sample.ends_with('…'));
    }
}
