//! `POST /v1/logs` and `POST /v1/push`: events pushed over HTTP by sources outside
//! containers. `/v1/push` takes logpipe's own format, NDJSON or a JSON array of objects;
//! `/v1/logs` takes OTLP/HTTP logs (`application/x-protobuf`, or `application/json` whose
//! body is an object: `otlp`) and logpipe's format under any other accepted type
//! (and a JSON array under `application/json`), as it always did. The answer is 200 only
//! after Kafka acknowledged every event of the batch, 400 naming the bad line numbers
//! (nothing is sent then), 413 above the size limit.
//!
//! `POST /v1/audit` takes the API server's audit webhook (`audit`).
//!
//! Event ids: a request with an `Idempotency-Key` header (the IETF HTTP API draft) gets
//! ids derived from the key and the body, so a retry of it (same key, same body) is
//! deduplicated downstream; a request without one gets ids of its own, so a new batch
//! that happens to repeat an earlier body is kept, and a retry of it may be stored twice.

mod audit;
mod otlp;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use logpipe_common::kafka::KafkaSettings;
use logpipe_common::{K8s, LogEvent, RawRecord, Source, SourceKind, Timestamp};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{instrument, warn};
use xxhash_rust::xxh3::xxh3_128;

use crate::events;
use crate::ingest_tokens::{IngestTokens, Pusher, Refusal};
use crate::redact::{KeyLines, Redactor};
use crate::telemetry;
use otlp::{BodyKind, Encoding};

/// Source name of pushed events unless the request names one.
const DEFAULT_SOURCE: &str = "http";
/// Line numbers listed in a 400 answer, at most.
const MAX_REPORTED_LINES: usize = 100;
/// The header a client names a request with, so that its retries keep their event ids.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Longest idempotency key accepted, in bytes.
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// How long a push waits before offering an event again to a full producer queue.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);

/// Requests answered by this process, for ids of requests without a key.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

#[derive(Clone)]
pub(crate) struct IngestState {
    producer: FutureProducer,
    topic: String,
    pub(crate) node: String,
    redactor: Arc<Redactor>,
    message_max_bytes: usize,
    /// How long a push may wait for Kafka.
    timeout: Duration,
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
            timeout,
            message_max_bytes: usize::try_from(settings.message_max_bytes).unwrap_or(usize::MAX),
        })
    }
}

/// How much a push may send, and all pushes together hold at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    pub max_body_bytes: usize,
    pub max_in_flight_bytes: usize,
}

pub(crate) fn router(state: IngestState, tokens: IngestTokens, limits: BodyLimits) -> Router {
    let admission = Admission {
        tokens: Arc::new(tokens),
        permits: Arc::new(Semaphore::new(
            limits
                .max_in_flight_bytes
                .div_ceil(1024)
                .min(Semaphore::MAX_PERMITS),
        )),
        max_body_bytes: limits.max_body_bytes,
    };
    Router::new()
        .route("/v1/logs", post(logs))
        .route("/v1/push", post(push))
        .route("/v1/audit", post(audit::audit))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(admission, admit))
        .with_state(state)
}

/// What is checked before a push's body is read: who pushes, and whether its bytes fit
/// in what all pushes together may hold (in KiB permits).
#[derive(Debug, Clone)]
struct Admission {
    tokens: Arc<IngestTokens>,
    permits: Arc<Semaphore>,
    max_body_bytes: usize,
}

/// A push admitted: the token that pushed it (none for an anonymous push on loopback),
/// the source name it was admitted for, and how its body is written.
#[derive(Debug, Clone)]
pub(crate) struct Admitted {
    /// The source name checked before the body was read: the `source` parameter, or
    /// logpipe's default for a push of its own format. `None` when the names come from
    /// the body (an OTLP resource's `service.name`) and are checked once it is read.
    pub source: Option<String>,
    pub pusher: Option<Pusher>,
    pub kind: BodyKind,
    /// The largest body, also once decompressed.
    pub max_body_bytes: usize,
    tokens: Arc<IngestTokens>,
    permits: Arc<Semaphore>,
}

impl Admitted {
    /// Whether the push's token may write `source` (checked for names read from the body).
    pub fn may_write(&self, source: &str) -> Result<(), Refusal> {
        self.tokens.permits(self.pusher.as_ref(), source)
    }

    /// Reserves `bytes` more of the in-flight budget (for a body as it is decompressed),
    /// until the permit is dropped; `None` when the budget has no room now.
    pub fn reserve(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        self.permits.clone().try_acquire_many_owned(kib).ok()
    }
}

/// Admits a push before its body is read: its token must be valid (401 otherwise) and
/// allow its source when the request names it (403 otherwise), and its body (its
/// `Content-Length`, or the largest body when it does not say) must fit in the budget
/// now (503 with `Retry-After` otherwise). Nothing of a refused push is read or taken;
/// the reservation lasts until the answer.
async fn admit(State(admission): State<Admission>, mut request: Request, next: Next) -> Response {
    let kind = match BodyKind::of(request.uri().path(), request.headers()) {
        Ok(kind) => kind,
        Err(message) => {
            return error_for(BodyKind::Push, StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
        }
    };
    let named = match Query::<IngestParams>::try_from_uri(request.uri()) {
        Ok(Query(params)) => params.source,
        Err(rejection) => {
            return error_for(kind, StatusCode::BAD_REQUEST, rejection.body_text());
        }
    };
    // A push of logpipe's own format writes the default source unless it names one; an
    // OTLP push takes its names from its resources, checked once the body is read; the
    // audit webhook writes the audit log's source.
    let source = if kind == BodyKind::Audit {
        if named.is_some() {
            return error_for(
                kind,
                StatusCode::BAD_REQUEST,
                format!(
                    "the audit webhook writes the source {}; it takes no `source`",
                    audit::AUDIT_SOURCE
                ),
            );
        }
        Some(audit::AUDIT_SOURCE.to_owned())
    } else {
        named.or_else(|| (kind == BodyKind::Push).then(|| DEFAULT_SOURCE.to_owned()))
    };
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let checked = admission
        .tokens
        .authenticate(authorization)
        .and_then(|pusher| {
            if let Some(source) = &source {
                admission.tokens.permits(pusher, source)?;
            }
            Ok(pusher.cloned())
        });
    let pusher = match checked {
        Ok(pusher) => pusher,
        Err(refusal) => {
            warn!(source = source.as_deref().unwrap_or(""), %refusal, "ingest refused");
            return refused(kind, &refusal);
        }
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let bytes = declared
        .unwrap_or(admission.max_body_bytes)
        .min(admission.max_body_bytes);
    let kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let Ok(_reservation) = admission.permits.clone().try_acquire_many_owned(kib) else {
        telemetry::ingest_busy();
        return with_header(
            error_for(
                kind,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many pushes in flight (LOGPIPE_COLLECTOR_INGEST_MAX_IN_FLIGHT_BYTES); nothing was taken, retry shortly",
            ),
            header::RETRY_AFTER,
            "1",
        );
    };
    request.extensions_mut().insert(Admitted {
        source,
        pusher,
        kind,
        max_body_bytes: admission.max_body_bytes,
        tokens: admission.tokens.clone(),
        permits: admission.permits.clone(),
    });
    next.run(request).await
}

/// The answer to a refused token or source: 401 with a challenge, or 403.
pub(crate) fn refused(kind: BodyKind, refusal: &Refusal) -> Response {
    telemetry::ingest_refused(refusal.is_unauthenticated());
    if refusal.is_unauthenticated() {
        with_header(
            error_for(kind, StatusCode::UNAUTHORIZED, refusal.to_string()),
            header::WWW_AUTHENTICATE,
            "Bearer",
        )
    } else {
        error_for(kind, StatusCode::FORBIDDEN, refusal.to_string())
    }
}

/// An error in the form the client reads: logpipe's `{"error": …}`, or an OTLP `Status`
/// (which a JSON body carries as well as `error`, for either kind of client).
fn error_for(kind: BodyKind, status: StatusCode, message: impl Into<String>) -> Response {
    match kind {
        BodyKind::Push | BodyKind::Audit => error_response(status, message, Value::Null),
        BodyKind::OtlpProtobuf => otlp::error(Encoding::Protobuf, status, message),
        BodyKind::Json => otlp::error(Encoding::Json, status, message),
    }
}

pub(crate) fn with_header(
    mut response: Response,
    name: header::HeaderName,
    value: &'static str,
) -> Response {
    response
        .headers_mut()
        .insert(name, header::HeaderValue::from_static(value));
    response
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

/// The request's idempotency key: a Structured Field string (`"…"`), or a bare token as
/// many clients send; at most `MAX_IDEMPOTENCY_KEY_BYTES` of visible ASCII.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, String> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("send one Idempotency-Key header, not several".to_owned());
    }
    let text = value
        .to_str()
        .map_err(|_| "the Idempotency-Key header is not visible ASCII".to_owned())?
        .trim();
    let key = match text.strip_prefix('"') {
        Some(quoted) => quoted
            .strip_suffix('"')
            .filter(|inner| !inner.contains('"') && !inner.contains('\\'))
            .ok_or_else(|| "the Idempotency-Key header is not a quoted string".to_owned())?,
        None => text,
    };
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(format!(
            "the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} characters"
        ));
    }
    if !key
        .bytes()
        .all(|byte| byte.is_ascii_graphic() || byte == b' ')
    {
        return Err("the Idempotency-Key header is not visible ASCII".to_owned());
    }
    Ok(Some(key.to_owned()))
}

/// What a request's event ids derive from (with each event's line number): the key and
/// the body when the client named the request, else something no other request has.
pub(crate) fn request_identity(
    source: &str,
    key: Option<&str>,
    body: &[u8],
    observed: Timestamp,
) -> String {
    match key {
        Some(key) => format!(
            "http:{source}:key:{:032x}:{:032x}",
            xxh3_128(key.as_bytes()),
            xxh3_128(body)
        ),
        None => format!(
            "http:{source}:request:{}:{}:{:016x}",
            observed.unix_nanos(),
            REQUESTS.fetch_add(1, Ordering::Relaxed),
            fastrand::u64(..)
        ),
    }
}

/// `POST /v1/logs`: OTLP, or logpipe's own format as before OTLP was served here.
async fn logs(
    State(state): State<IngestState>,
    Extension(admitted): Extension<Admitted>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = match admitted.kind {
        // `/v1/logs` is never an audit push.
        BodyKind::Push | BodyKind::Audit => None,
        BodyKind::OtlpProtobuf => Some(Encoding::Protobuf),
        BodyKind::Json => match &body {
            // An OTLP request is a JSON object; logpipe's JSON form is an array.
            Ok(bytes) if bytes.trim_ascii_start().first() == Some(&b'[') => None,
            _ => Some(Encoding::Json),
        },
    };
    match encoding {
        Some(encoding) => otlp::export(state, admitted, encoding, headers, body).await,
        None => push(State(state), Extension(admitted), headers, body).await,
    }
}

/// `POST /v1/push`: logpipe's own format, NDJSON or a JSON array of objects.
#[instrument(skip_all, fields(bytes = body.as_ref().map_or(0, Bytes::len)))]
async fn push(
    State(state): State<IngestState>,
    Extension(admitted): Extension<Admitted>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    // `application/json` at `/v1/logs` is admitted without a source check: it may be OTLP.
    let source_name = match admitted.source.clone() {
        Some(source) => source,
        None => {
            if let Err(refusal) = admitted.may_write(DEFAULT_SOURCE) {
                return refused(BodyKind::Push, &refusal);
            }
            DEFAULT_SOURCE.to_owned()
        }
    };
    let pusher = admitted.pusher;
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message, Value::Null),
    };
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
    let observed_ts = Timestamp::now();
    let identity = request_identity(&source_name, key.as_deref(), &body, observed_ts);
    let events = objects.iter().enumerate().map(|(index, object)| {
        let line = index as u64 + 1;
        LogEvent::from_raw(RawRecord {
            payload: object.as_bytes(),
            runtime_ts: None,
            observed_ts,
            stream: None,
            k8s: K8s {
                node: state.node.clone(),
                namespace: pusher.as_ref().and_then(|p| p.namespace.clone()),
                ..K8s::default()
            },
            source: Source {
                kind: SourceKind::Http,
                name: Some(source_name.clone()),
                path: None,
                offset: Some(line),
                via: pusher.as_ref().map(|p| p.name.clone()),
            },
            identity: &identity,
            offset: line,
            truncated: false,
        })
    });
    match deliver(&state, events).await {
        Ok(accepted) => (StatusCode::OK, Json(json!({"accepted": accepted}))).into_response(),
        Err(message) => error_response(StatusCode::SERVICE_UNAVAILABLE, message, Value::Null),
    }
}

/// Redacts, encodes and produces a batch's events, and waits until Kafka acknowledged
/// every one. Returns how many were delivered, or why the batch must be retried.
pub(crate) async fn deliver(
    state: &IngestState,
    events: impl ExactSizeIterator<Item = LogEvent>,
) -> Result<usize, String> {
    let total = events.len();
    let mut deliveries = Vec::with_capacity(total);
    let queued_by = std::time::Instant::now();
    // A private key pushed a line per event is masked across the batch's events.
    let mut key_lines = KeyLines::default();
    for mut event in events {
        let masked = state
            .redactor
            .mask_key_lines(&mut event.message, &mut key_lines);
        telemetry::redacted(masked + state.redactor.redact_event(&mut event));
        let payload = events::encode(&mut event, state.message_max_bytes);
        let key = event.kafka_key();
        let mut record = FutureRecord::to(&state.topic).key(&key).payload(&payload);
        // A full producer queue is waited out (up to the timeout) rather than answered
        // with a 503 after part of the batch was queued.
        loop {
            match state.producer.send_result(record) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned))
                    if queued_by.elapsed() < state.timeout =>
                {
                    record = returned;
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err((error, _)) => {
                    warn!(%error, queued = deliveries.len(), "ingest batch not queued");
                    return Err(format!(
                        "kafka producer refused the batch after {} of {total} events ({error}); retry the request with the same Idempotency-Key",
                        deliveries.len(),
                    ));
                }
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
        return Err(format!(
            "kafka did not acknowledge {failed} of {total} events; retry the request"
        ));
    }
    telemetry::ingest(total as u64);
    Ok(total)
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

    fn key_of(values: &[&str]) -> Result<Option<String>, String> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(IDEMPOTENCY_KEY, value.parse().unwrap());
        }
        idempotency_key(&headers)
    }

    #[test]
    fn idempotency_keys_are_read_as_the_draft_writes_them() {
        assert_eq!(key_of(&[]), Ok(None));
        assert_eq!(
            key_of(&["\"8e03978e-40d5\""]),
            Ok(Some("8e03978e-40d5".into()))
        );
        assert_eq!(key_of(&["batch-17"]), Ok(Some("batch-17".into())));
        assert!(key_of(&["\"\""]).is_err());
        assert!(key_of(&["\"open"]).is_err());
        assert!(key_of(&["a", "b"]).is_err());
        assert!(key_of(&[&"k".repeat(256)]).is_err());
    }

    #[test]
    fn requests_without_a_key_never_share_an_identity() {
        let now = Timestamp::from_unix_nanos(1);
        let first = request_identity("billing", None, b"{}", now);
        let second = request_identity("billing", None, b"{}", now);
        assert_ne!(first, second);
        let keyed = request_identity("billing", Some("k"), b"{}", now);
        assert_eq!(
            keyed,
            request_identity("billing", Some("k"), b"{}", Timestamp::now())
        );
        assert_ne!(keyed, request_identity("billing", Some("k"), b"{ }", now));
        assert_ne!(keyed, request_identity("billing", Some("j"), b"{}", now));
    }
}
