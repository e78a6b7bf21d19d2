//! `POST /v1/audit`: the Kubernetes API server's audit webhook backend. The body is an
//! `audit.k8s.io/v1` `EventList`; each item becomes an event of the source `kube-audit`
//! shaped exactly as a line of the audit log file is (the item's members as attributes,
//! `requestReceivedTimestamp` as its time), so one rule serves both.
//!
//! The answer is 200 only after Kafka acknowledged every event. The API server retries a
//! batch that failed, possibly through another collector: an event's id derives from its
//! `auditID` and `stage` alone, so a retried batch carries the same ids wherever it lands
//! and is deduplicated downstream.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use logpipe_common::event::EventId;
use logpipe_common::{K8s, LogEvent, RawRecord, Source, SourceKind, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use xxhash_rust::xxh3::xxh3_128;

use super::{Admitted, IngestState, MAX_REPORTED_LINES, deliver, error_response};

/// The source name of audit events, the same as the audit log file's.
pub(crate) const AUDIT_SOURCE: &str = "kube-audit";
/// What audit event ids derive from in place of a node: the API server, whichever
/// collector received the batch.
const ID_ORIGIN: &str = "kube-apiserver";

/// The webhook's body: an `EventList`, its items left raw.
#[derive(Debug, Deserialize)]
struct EventList<'a> {
    kind: Option<String>,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
}

/// `POST /v1/audit`: an `EventList` from the API server's audit webhook.
pub(crate) async fn audit(
    State(state): State<IngestState>,
    Extension(admitted): Extension<Admitted>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let list: EventList<'_> = match serde_json::from_slice(&body) {
        Ok(list) => list,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("not an audit EventList: {e}"),
                Value::Null,
            );
        }
    };
    if list.kind.as_deref() != Some("EventList")
        || !list
            .api_version
            .as_deref()
            .is_some_and(|v| v.starts_with("audit.k8s.io/"))
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            format!(
                "expected kind EventList of apiVersion audit.k8s.io/v1, got kind {:?} of {:?}",
                list.kind.as_deref().unwrap_or(""),
                list.api_version.as_deref().unwrap_or("")
            ),
            Value::Null,
        );
    }
    let api_version = list.api_version.clone().unwrap_or_default();
    let mut items = Vec::with_capacity(list.items.len());
    let mut bad = Vec::new();
    for (index, raw) in list.items.iter().enumerate() {
        match serde_json::from_str::<Map<String, Value>>(raw.get()) {
            Ok(item) => items.push((index, raw.get(), item)),
            Err(_) => bad.push(index + 1),
        }
    }
    if !bad.is_empty() {
        let count = bad.len();
        bad.truncate(MAX_REPORTED_LINES);
        return error_response(
            StatusCode::BAD_REQUEST,
            format!("{count} items are not audit events (JSON objects); nothing was accepted"),
            json!({"bad_items": bad}),
        );
    }
    if items.is_empty() {
        return (StatusCode::OK, Json(json!({"accepted": 0}))).into_response();
    }
    let observed_ts = Timestamp::now();
    let pusher = admitted.pusher;
    let events: Vec<LogEvent> = items
        .into_iter()
        .map(|(index, raw, mut item)| {
            let id = event_id(&item, raw, index);
            // An item of a list may leave its type out; the log file writes it.
            item.entry("kind").or_insert_with(|| json!("Event"));
            item.entry("apiVersion")
                .or_insert_with(|| json!(api_version));
            let payload = Value::Object(item).to_string();
            let line = index as u64 + 1;
            let mut event = LogEvent::from_raw(RawRecord {
                payload: payload.as_bytes(),
                runtime_ts: None,
                observed_ts,
                stream: None,
                k8s: K8s {
                    node: state.node.clone(),
                    ..K8s::default()
                },
                source: Source {
                    kind: SourceKind::Http,
                    name: Some(AUDIT_SOURCE.to_owned()),
                    path: None,
                    offset: Some(line),
                    via: pusher.as_ref().map(|p| p.name.clone()),
                },
                identity: "",
                offset: line,
                truncated: false,
            });
            event.id = id;
            event
        })
        .collect();
    match deliver(&state, events.into_iter()).await {
        Ok(accepted) => (StatusCode::OK, Json(json!({"accepted": accepted}))).into_response(),
        Err(message) => error_response(StatusCode::SERVICE_UNAVAILABLE, message, Value::Null),
    }
}

/// An audit event's id: from its `auditID` and `stage` (one request has an event per
/// stage), or, for an item without an `auditID`, from its text and place in the batch.
fn event_id(item: &Map<String, Value>, raw: &str, index: usize) -> EventId {
    match item.get("auditID").and_then(Value::as_str) {
        Some(audit_id) => {
            let stage = item.get("stage").and_then(Value::as_str).unwrap_or("");
            EventId::derive(ID_ORIGIN, &format!("audit:{audit_id}:{stage}"), 0)
        }
        None => EventId::derive(
            ID_ORIGIN,
            &format!("audit-body:{:032x}", xxh3_128(raw.as_bytes())),
            index as u64,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn ids_follow_the_audit_id_and_stage_only() {
        let a = r#"{"auditID":"a1","stage":"ResponseComplete","verb":"get"}"#;
        let same_elsewhere = r#"{"stage":"ResponseComplete","auditID":"a1","verb":"get","x":1}"#;
        let other_stage = r#"{"auditID":"a1","stage":"ResponseStarted","verb":"get"}"#;
        assert_eq!(
            event_id(&item(a), a, 0),
            event_id(&item(same_elsewhere), same_elsewhere, 7)
        );
        assert_ne!(
            event_id(&item(a), a, 0),
            event_id(&item(other_stage), other_stage, 0)
        );
        let anonymous = r#"{"kind":"Event"}"#;
        assert_eq!(
            event_id(&item(anonymous), anonymous, 2),
            event_id(&item(anonymous), anonymous, 2)
        );
        assert_ne!(
            event_id(&item(anonymous), anonymous, 2),
            event_id(&item(anonymous), anonymous, 3)
        );
    }
}
