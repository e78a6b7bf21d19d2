//! `POST /v1/logs`: events pushed over HTTP by sources outside containers. NDJSON or a
//! JSON array of objects; the answer is 200 only after Kafka acknowledged every event of
//! the batch, 400 naming the bad line numbers (nothing is sent then), 413 above the size
//! limit.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use logpipe_common::kafka::KafkaSettings;
use logpipe_common::{K8s, LogEvent, RawRecord, Source, SourceKind, Timestamp};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{instrument, warn};
use xxhash_rust::xxh3::xxh3_128;

use crate::events;
use crate::redact::Redactor;
use crate::telemetry;

/// Source name of pushed events unless the request names one.
const DEFAULT_SOURCE: &str = "http";
/// Line numbers listed in a 400 answer, at most.
const MAX_REPORTED_LINES: usize = 100;

#[derive(Clone)]
pub(crate) struct IngestState {
    producer: FutureProducer,
    topic: String,
    node: String,
    redactor: Arc<Redactor>,
    message_max_bytes: usize,
}

impl std::fmt::Debug for IngestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestState")
            .field("topic", &self.topic)
            .finish()
    }
}

impl IngestState {
    pub fn new(
        settings: &KafkaSettings,
        topic: &str,
        node: &str,
        redactor: Arc<Redactor>,
        timeout: Duration,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let mut config = settings.producer();
        // An HTTP client is waiting: give up after the timeout and let it retry, instead of
        // holding the request forever.
        config.set("message.timeout.ms", timeout.as_millis().to_string());
        Ok(IngestState {
            producer: config.create()?,
            topic: topic.to_owned(),
            node: node.to_owned(),
            redactor,
            message_max_bytes: usize::try_from(settings.message_max_bytes).unwrap_or(usize::MAX),
        })
    }
}

pub(crate) fn router(state: IngestState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/logs", post(ingest))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct IngestParams {
    /// Names the input in `source.name`.
    source: Option<String>,
}

fn error_response(status: StatusCode, message: impl Into<String>, extra: Value) -> Response {
    let mut body = json!({"error": message.into()});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    (status, Json(body)).into_response()
}

/// Splits the body into one JSON object per event: a JSON array of objects, or NDJSON.
/// Returns the objects' raw texts, or the 1-based numbers of the bad lines (array
/// elements count as lines).
fn split_body(body: &str) -> Result<Vec<String>, Vec<usize>> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('[') {
        let Ok(items) = serde_json::from_str::<Vec<Box<serde_json::value::RawValue>>>(trimmed)
        else {
            return Err(vec![1]);
        };
        let bad: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| !item.get().trim_start().starts_with('{'))
            .map(|(index, _)| index + 1)
            .collect();
        return if bad.is_empty() {
            Ok(items
                .into_iter()
                .map(|item| item.get().to_owned())
                .collect())
        } else {
            Err(bad)
        };
    }
    let mut objects = Vec::new();
    let mut bad = Vec::new();
    for (index, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(_)) => objects.push(line.to_owned()),
            _ => bad.push(index + 1),
        }
    }
    if bad.is_empty() {
        Ok(objects)
    } else {
        Err(bad)
    }
}

#[instrument(skip_all, fields(bytes = body.len()))]
async fn ingest(
    State(state): State<IngestState>,
    Query(params): Query<IngestParams>,
    body: Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "body is not valid UTF-8",
            Value::Null,
        );
    };
    let objects = match split_body(text) {
        Ok(objects) if objects.is_empty() => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "no events in the body",
                Value::Null,
            );
        }
        Ok(objects) => objects,
        Err(mut lines) => {
            let count = lines.len();
            lines.truncate(MAX_REPORTED_LINES);
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("{count} lines are not JSON objects; nothing was accepted"),
                json!({"bad_lines": lines}),
            );
        }
    };
    let source_name = params.source.unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
    // The same body sent again (a client retry) gives the same ids: later stages drop it.
    let identity = format!("http:{source_name}:{:032x}", xxh3_128(&body));
    let observed_ts = Timestamp::now();
    let mut deliveries = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        let line = index as u64 + 1;
        let mut event = LogEvent::from_raw(RawRecord {
            payload: object.as_bytes(),
            runtime_ts: None,
            observed_ts,
            stream: None,
            k8s: K8s {
                node: state.node.clone(),
                ..K8s::default()
            },
            source: Source {
                kind: SourceKind::Http,
                name: Some(source_name.clone()),
                path: None,
                offset: Some(line),
            },
            identity: &identity,
            offset: line,
            truncated: false,
        });
        telemetry::redacted(state.redactor.redact_event(&mut event));
        let payload = events::encode(&mut event, state.message_max_bytes);
        let key = event.kafka_key();
        let record = FutureRecord::to(&state.topic).key(&key).payload(&payload);
        match state.producer.send_result(record) {
            Ok(delivery) => deliveries.push(delivery),
            Err((error, _)) => {
                warn!(%error, "ingest batch not queued");
                return error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("kafka producer queue refused the batch ({error}); retry the request"),
                    Value::Null,
                );
            }
        }
    }
    let mut failed = 0;
    for delivery in deliveries {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => {
                warn!(%error, "ingest delivery failed");
                failed += 1;
            }
            Err(_) => failed += 1,
        }
    }
    if failed > 0 {
        telemetry::delivery_error();
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "kafka did not acknowledge {failed} of {} events; retry the request",
                objects.len()
            ),
            Value::Null,
        );
    }
    telemetry::ingest(objects.len() as u64);
    (StatusCode::OK, Json(json!({"accepted": objects.len()}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_and_arrays() {
        assert_eq!(split_body("{\"a\":1}\n\n{\"b\":2}\n").unwrap().len(), 2);
        assert_eq!(
            split_body("[{\"a\":1},{\"b\":2}]").unwrap(),
            ["{\"a\":1}", "{\"b\":2}"]
        );
        assert_eq!(
            split_body("{\"a\":1}\nnot json\n[1]\n{\"b\":2}").unwrap_err(),
            [2, 3]
        );
        assert_eq!(split_body("[{\"a\":1}, 5]").unwrap_err(), [2]);
        assert_eq!(split_body("[{\"a\":1}").unwrap_err(), [1]);
    }
}
