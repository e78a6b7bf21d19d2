//! Request bodies: one [`Notification`] rendered as the receiver expects it.
//!
//! - `alertmanager`: Prometheus Alertmanager's webhook payload, version 4, so receivers
//!   and routing written for Alertmanager (PagerDuty bridges, Karma, custom routers) take
//!   logpipe alerts unchanged.
//! - `alertmanager-api`: alerts posted to Alertmanager itself (see `alertmanager`).
//! - `slack`: a Slack incoming-webhook message.
//! - `generic`: the notification itself as JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::alertmanager::{self, Context};
use super::notification::{Notification, Status};

/// Alertmanager's `endsAt` for an alert that has not ended (Go's zero time).
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Slack rejects a section text over 3000 characters and a field over 2000 with 400, which
/// is not retried: long summaries are cut below those limits.
const SLACK_TEXT_CHARS: usize = 2900;
const SLACK_FIELD_CHARS: usize = 1900;
/// Slack allows at most 10 fields in a section.
const SLACK_FIELDS: usize = 10;

/// How a notifier's receiver wants the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Alertmanager,
    /// Alertmanager's `/api/v2/alerts`: the notifier's `url` is Alertmanager's base.
    AlertmanagerApi,
    Slack,
    Generic,
}

/// Every format, in the order the notifiers file lists them.
pub(crate) const FORMATS: [Format; 4] = [
    Format::Alertmanager,
    Format::AlertmanagerApi,
    Format::Slack,
    Format::Generic,
];

impl Format {
    /// The name used in the notifiers file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Alertmanager => "alertmanager",
            Format::AlertmanagerApi => "alertmanager-api",
            Format::Slack => "slack",
            Format::Generic => "generic",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Format> {
        FORMATS.into_iter().find(|format| format.name() == name)
    }

    /// The JSON body; `receiver` is the notifier's name, which Alertmanager payloads carry.
    pub(crate) fn render(
        self,
        receiver: &str,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            Format::Alertmanager => {
                serde_json::to_vec(&alertmanager(receiver, notification, context))
            }
            Format::AlertmanagerApi => {
                serde_json::to_vec(&alertmanager::alerts(&[notification], context))
            }
            Format::Slack => serde_json::to_vec(&slack(notification)),
            Format::Generic => serde_json::to_vec(notification),
        }
    }
}

fn alertmanager(receiver: &str, notification: &Notification, context: &Context<'_>) -> Value {
    let labels = notification.alert_labels();
    let mut group_labels = notification.group.clone();
    group_labels.insert("alertname".into(), notification.rule.clone());
    let annotations = BTreeMap::from([
        ("summary", notification.summary.clone()),
        ("count", notification.count.to_string()),
    ]);
    let ends_at = match notification.ends_at {
        Some(ends_at) => ends_at.to_string(),
        None => ZERO_TIME.to_string(),
    };
    let until = notification.ends_at.unwrap_or(context.now).min(context.now);
    let generator_url =
        alertmanager::generator_url(notification, context.ui_url, until).unwrap_or_default();
    json!({
        "version": "4",
        "groupKey": group_key(&group_labels),
        "truncatedAlerts": 0,
        "status": notification.status.as_str(),
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [{
            "status": notification.status.as_str(),
            "labels": labels,
            "annotations": annotations,
            "startsAt": notification.starts_at.to_string(),
            "endsAt": ends_at,
            "generatorURL": generator_url,
            "fingerprint": notification.fingerprint(),
        }],
    })
}

/// Alertmanager's group key: the route's matchers (none here) and the group labels,
/// `{}:{alertname="x", pod="y"}`.
fn group_key(group_labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = group_labels
        .iter()
        .map(|(name, value)| format!("{name}={}", Value::String(value.clone())))
        .collect();
    format!("{{}}:{{{}}}", pairs.join(", "))
}

fn slack(notification: &Notification) -> Value {
    let state = match notification.status {
        Status::Firing => "FIRING",
        Status::Resolved => "RESOLVED",
    };
    let rule = escape(&notification.rule);
    let summary = escape(&truncate(&notification.summary, SLACK_TEXT_CHARS));
    let severity = escape(&notification.severity);
    let mut headline = format!("*[{state}] {rule}*");
    if !severity.is_empty() {
        headline.push_str(&format!(" ({severity})"));
    }
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("{headline}\n{summary}")},
    })];
    if !notification.group.is_empty() {
        let fields: Vec<Value> = notification
            .group
            .iter()
            .take(SLACK_FIELDS)
            .map(|(name, value)| {
                let text = format!("*{}*\n{}", escape(name), escape(value));
                json!({"type": "mrkdwn", "text": truncate(&text, SLACK_FIELD_CHARS)})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let mut context = format!(
        "{} events · since {}",
        notification.count, notification.starts_at
    );
    if let Some(ends_at) = notification.ends_at {
        context.push_str(&format!(" · ended {ends_at}"));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": context}],
    }));
    json!({
        "text": format!("[{state}] {rule}: {summary}"),
        "attachments": [{
            "color": colour(notification),
            "blocks": blocks,
        }],
    })
}

/// The attachment bar: green once resolved, else by severity.
fn colour(notification: &Notification) -> &'static str {
    if notification.status == Status::Resolved {
        return "#2eb886";
    }
    match notification.severity.to_ascii_lowercase().as_str() {
        "critical" | "fatal" | "error" | "high" | "page" => "#d00000",
        "warning" | "warn" | "medium" => "#daa038",
        _ => "#439fe0",
    }
}

/// Slack's mrkdwn gives `&`, `<` and `>` meaning (links, mentions); text from log events
/// must not ping `<!channel>`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use logpipe_common::Timestamp;

    use super::*;
    use crate::notify::notification::tests::sample;

    fn rendered(format: Format, notification: &Notification) -> Value {
        let context = Context {
            now: Timestamp::from_unix_nanos(1_700_000_100_000_000_000),
            lease: std::time::Duration::from_secs(240),
            ui_url: None,
        };
        serde_json::from_slice(&format.render("oncall", notification, &context).unwrap()).unwrap()
    }

    #[test]
    fn alertmanager_payload_has_every_version_4_field_with_its_type() {
        let body = rendered(Format::Alertmanager, &sample());
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["receiver"], "oncall");
        assert_eq!(body["truncatedAlerts"], 0);
        assert_eq!(
            body["groupKey"],
            r#"{}:{alertname="checkout-errors", k8s.pod="checkout-7d9f"}"#
        );
        assert_eq!(
            body["groupLabels"],
            json!({"alertname": "checkout-errors", "k8s.pod": "checkout-7d9f"})
        );
        let labels = json!({
            "alertname": "checkout-errors",
            "severity": "critical",
            "k8s.pod": "checkout-7d9f",
            "team": "shop",
        });
        let annotations = json!({"summary": "5 errors in checkout-7d9f", "count": "5"});
        assert_eq!(body["commonLabels"], labels);
        assert_eq!(body["commonAnnotations"], annotations);
        assert!(body["externalURL"].is_string());
        let alerts = body["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(alert["status"], "firing");
        assert_eq!(alert["labels"], labels);
        assert_eq!(alert["annotations"], annotations);
        assert_eq!(alert["startsAt"], "2023-11-14T22:13:20.123000000Z");
        assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
        assert!(alert["generatorURL"].is_string());
        let fingerprint = alert["fingerprint"].as_str().unwrap();
        assert_eq!(fingerprint.len(), 16);
        assert!(fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
        // Every label and annotation value is a string, as Alertmanager's are.
        for map in [&body["commonLabels"], &body["commonAnnotations"]] {
            assert!(map.as_object().unwrap().values().all(Value::is_string));
        }
    }

    #[test]
    fn alertmanager_resolved_alert_carries_its_end() {
        let mut notification = sample();
        notification.status = Status::Resolved;
        notification.ends_at = Some(Timestamp::from_unix_nanos(1_700_000_060_000_000_000));
        let body = rendered(Format::Alertmanager, &notification);
        assert_eq!(body["status"], "resolved");
        assert_eq!(body["alerts"][0]["status"], "resolved");
        assert_eq!(
            body["alerts"][0]["endsAt"],
            "2023-11-14T22:14:20.000000000Z"
        );
        assert!(Timestamp::parse_rfc3339(body["alerts"][0]["endsAt"].as_str().unwrap()).is_some());
    }

    #[test]
    fn slack_message_has_fallback_text_colour_and_blocks() {
        let body = rendered(Format::Slack, &sample());
        assert_eq!(
            body["text"],
            "[FIRING] checkout-errors: 5 errors in checkout-7d9f"
        );
        let attachment = &body["attachments"][0];
        assert_eq!(attachment["color"], "#d00000");
        let blocks = attachment["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        assert_eq!(
            blocks[0]["text"]["text"],
            "*[FIRING] checkout-errors* (critical)\n5 errors in checkout-7d9f"
        );
        assert_eq!(blocks[1]["fields"][0]["text"], "*k8s.pod*\ncheckout-7d9f");
        assert_eq!(blocks[2]["type"], "context");
    }

    #[test]
    fn slack_escapes_mentions_and_cuts_long_summaries() {
        let mut notification = sample();
        notification.summary = format!("<!channel> a & b {}", "x".repeat(5000));
        let body = rendered(Format::Slack, &notification);
        let text = body["attachments"][0]["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap();
        assert!(text.contains("&lt;!channel&gt; a &amp; b"));
        assert!(!text.contains("<!channel>"));
        assert!(text.chars().count() < 3000);
    }

    #[test]
    fn slack_resolved_is_green() {
        let mut notification = sample();
        notification.status = Status::Resolved;
        let body = rendered(Format::Slack, &notification);
        assert_eq!(body["attachments"][0]["color"], "#2eb886");
        assert!(body["text"].as_str().unwrap().starts_with("[RESOLVED]"));
    }

    #[test]
    fn generic_is_the_notification_itself() {
        let notification = sample();
        let body = rendered(Format::Generic, &notification);
        assert_eq!(body["id"], "checkout-errors-7f3a9c");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["count"], 5);
        assert_eq!(body["starts_at"], "2023-11-14T22:13:20.123000000Z");
        assert_eq!(body["ends_at"], Value::Null);
        assert_eq!(body["event"]["message"], "payment failed");
        let back: Notification = serde_json::from_value(body).unwrap();
        assert_eq!(back, notification);
    }

    #[test]
    fn format_names_round_trip() {
        for format in FORMATS {
            assert_eq!(Format::from_name(format.name()), Some(format));
        }
        assert_eq!(Format::from_name("pagerduty"), None);
    }
}
