//! OTLP/HTTP logs at `POST /v1/logs`: an `ExportLogsServiceRequest` in protobuf
//! (`application/x-protobuf`) or in OTLP's JSON form (`application/json`), answered as
//! the OTLP/HTTP specification says: an `ExportLogsServiceResponse` in the request's
//! encoding once Kafka acknowledged every event taken (with `partial_success` when the
//! records of some resources were refused), a `google.rpc.Status` with 400 for a payload
//! that cannot be decoded (nothing is taken), 401/403 for the token, 413 above the size
//! limit (compressed or, for a gzip body, decompressed), 415 for an encoding not served,
//! and 503 with `Retry-After` when the byte budget is spent or Kafka did not acknowledge:
//! the statuses an OTLP exporter retries.
//!
//! Admission (token, budget, `Idempotency-Key`, event ids) is push ingest's; each
//! resource's source name is the `source` parameter, else its `service.name`, else
//! `otlp`, and the token must be bound to it.

use std::collections::BTreeMap;
use std::io::Read;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use logpipe_common::Timestamp;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use prost::Message;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{instrument, warn};

use super::{self as ingest, Admitted, IngestState};
use crate::ingest_tokens::Refusal;
use crate::otlp_map::{self, Origin};
use crate::telemetry;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// Content types of logpipe's own format (and none at all, as curl and older clients
/// send); anything else is answered 415.
const PUSH_TYPES: [&str; 6] = [
    "application/x-ndjson",
    "application/jsonl",
    "text/plain",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    JSON,
];
/// Said with every JSON payload refused: a logpipe client may have sent its NDJSON as
/// `application/json`, which `/v1/logs` now reads as OTLP.
const NDJSON_HINT: &str = " (logpipe's own NDJSON goes to /v1/push, or as application/x-ndjson)";
/// How much of a gzip body is decompressed (and reserved in the budget) at a time.
const INFLATE_CHUNK_BYTES: usize = 64 * 1024;
/// Source refusals named in a `partial_success` message, at most.
const MAX_REPORTED_SOURCES: usize = 10;

/// How a push's body is written, told from its path and `Content-Type` before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// logpipe's own format: NDJSON or a JSON array of objects.
    Push,
    /// An OTLP `ExportLogsServiceRequest` in protobuf.
    OtlpProtobuf,
    /// `application/json` at `/v1/logs`: OTLP's JSON form when the body is an object,
    /// logpipe's JSON array when it is an array.
    Json,
    /// An audit `EventList` at `/v1/audit`.
    Audit,
}

impl BodyKind {
    /// The kind of a request to `path`, or why its content type is not served (415).
    pub(crate) fn of(path: &str, headers: &HeaderMap) -> Result<BodyKind, String> {
        let otlp = path == "/v1/logs";
        let audit = path == "/v1/audit";
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Ok(if audit {
                BodyKind::Audit
            } else {
                BodyKind::Push
            });
        };
        let media = value
            .to_str()
            .ok()
            .and_then(|text| text.split(';').next())
            .map(|media| media.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if otlp && media == PROTOBUF {
            return Ok(BodyKind::OtlpProtobuf);
        }
        if otlp && media == JSON {
            return Ok(BodyKind::Json);
        }
        if audit {
            return if media == JSON {
                Ok(BodyKind::Audit)
            } else {
                Err(format!(
                    "content type `{}` is not served; the audit webhook sends application/json",
                    value.to_str().unwrap_or("(not visible ASCII)")
                ))
            };
        }
        if PUSH_TYPES.contains(&media.as_str()) {
            return Ok(BodyKind::Push);
        }
        let served = if otlp {
            "application/x-protobuf or application/json (OTLP/HTTP logs), or application/x-ndjson (logpipe's NDJSON)"
        } else {
            "application/x-ndjson or application/json (logpipe's NDJSON or JSON array)"
        };
        Err(if media.starts_with("application/grpc") {
            format!("gRPC is not served here; send OTLP/HTTP with content type {served}")
        } else {
            format!(
                "content type `{}` is not served; send {served}",
                value.to_str().unwrap_or("(not visible ASCII)")
            )
        })
    }
}

/// The encoding of an OTLP request, and so of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body of every OTLP/HTTP error answer.
#[derive(Clone, PartialEq, Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The gRPC code that goes with an HTTP status, for `Status.code`.
fn grpc_code(status: StatusCode) -> i32 {
    match status {
        StatusCode::BAD_REQUEST => 3,             // INVALID_ARGUMENT
        StatusCode::UNAUTHORIZED => 16,           // UNAUTHENTICATED
        StatusCode::FORBIDDEN => 7,               // PERMISSION_DENIED
        StatusCode::PAYLOAD_TOO_LARGE => 8,       // RESOURCE_EXHAUSTED
        StatusCode::UNSUPPORTED_MEDIA_TYPE => 12, // UNIMPLEMENTED
        StatusCode::TOO_MANY_REQUESTS => 8,       // RESOURCE_EXHAUSTED
        StatusCode::SERVICE_UNAVAILABLE => 14,    // UNAVAILABLE
        _ => 2,                                   // UNKNOWN
    }
}

/// An OTLP error answer. In JSON it also carries logpipe's `error` member, since a JSON
/// request refused before its body was read may be either kind of client's.
pub(crate) fn error(
    encoding: Encoding,
    status: StatusCode,
    message: impl Into<String>,
) -> Response {
    let message = message.into();
    let code = grpc_code(status);
    match encoding {
        Encoding::Protobuf => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
            Status { code, message }.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            status,
            axum::Json(serde_json::json!({"code": code, "message": message, "error": message})),
        )
            .into_response(),
    }
}

/// The success answer: an `ExportLogsServiceResponse`, with `partial_success` only when
/// records were refused.
fn success(encoding: Encoding, rejected: i64, error_message: String) -> Response {
    let response = ExportLogsServiceResponse {
        partial_success: (rejected > 0).then_some(ExportLogsPartialSuccess {
            rejected_log_records: rejected,
            error_message,
        }),
    };
    match encoding {
        Encoding::Protobuf => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
            response.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (StatusCode::OK, axum::Json(response)).into_response(),
    }
}

/// Decodes a request body, or says why it is not an `ExportLogsServiceRequest`.
pub(crate) fn decode(encoding: Encoding, body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body)
            .map_err(|error| format!("not an OTLP ExportLogsServiceRequest in protobuf: {error}")),
        Encoding::Json => {
            let mut value: Value = serde_json::from_slice(body)
                .map_err(|error| format!("body is not JSON: {error}{NDJSON_HINT}"))?;
            match &value {
                // An empty request is answered with success, as OTLP asks.
                Value::Object(members) if members.is_empty() => {
                    return Ok(ExportLogsServiceRequest::default());
                }
                Value::Object(_) => {}
                _ => {
                    return Err(format!(
                        "an OTLP JSON request is an object with `resourceLogs`{NDJSON_HINT}"
                    ));
                }
            }
            normalize_json(&mut value);
            serde_path_to_error::deserialize(value).map_err(|error| {
                format!("not an OTLP ExportLogsServiceRequest in JSON: {error}{NDJSON_HINT}")
            })
        }
    }
}

/// Brings what the OTLP JSON encoding allows, and the generated types do not read, to the
/// form they read: 64-bit times as numbers (the protobuf JSON mapping accepts numbers and
/// strings) and severities by enum name.
fn normalize_json(request: &mut Value) {
    let records = request
        .get_mut("resourceLogs")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|resource| resource.get_mut("scopeLogs")?.as_array_mut())
        .flatten()
        .filter_map(|scope| scope.get_mut("logRecords")?.as_array_mut())
        .flatten()
        .filter_map(Value::as_object_mut);
    for record in records {
        for field in ["timeUnixNano", "observedTimeUnixNano"] {
            if let Some(value) = record.get_mut(field)
                && let Value::Number(number) = value
            {
                *value = Value::String(number.to_string());
            }
        }
        if let Some(value) = record.get_mut("severityNumber")
            && let Some(number) = value.as_str().and_then(SeverityNumber::from_str_name)
        {
            *value = Value::from(number as i32);
        }
    }
}

/// Answers an OTLP push: decodes it, checks each resource's source name against the
/// token, maps the records of the allowed ones to events and delivers them.
#[instrument(skip_all, fields(bytes = body.as_ref().map_or(0, Bytes::len)))]
pub(crate) async fn export(
    state: IngestState,
    admitted: Admitted,
    encoding: Encoding,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error(encoding, rejection.status(), rejection.body_text()),
    };
    let coding = headers
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("").trim().to_ascii_lowercase());
    // Held until the answer: the decompressed body's share of the in-flight budget.
    let mut _decompressed = None;
    let body = match coding.as_deref() {
        None | Some("identity") => body,
        Some("gzip") => {
            let admitted = admitted.clone();
            let inflated = tokio::task::spawn_blocking(move || gunzip(&body, &admitted)).await;
            match inflated {
                Ok(Ok((body, reservation))) => {
                    _decompressed = Some(reservation);
                    body
                }
                Ok(Err((status, message))) => {
                    let response = error(encoding, status, message);
                    return if status == StatusCode::SERVICE_UNAVAILABLE {
                        ingest::with_header(response, header::RETRY_AFTER, "1")
                    } else {
                        response
                    };
                }
                Err(_) => {
                    return error(
                        encoding,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "decompressing the body failed",
                    );
                }
            }
        }
        Some(other) => {
            return error(
                encoding,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding `{other}` is not served; send gzip or no compression"),
            );
        }
    };
    let key = match ingest::idempotency_key(&headers) {
        Ok(key) => key,
        Err(message) => return error(encoding, StatusCode::BAD_REQUEST, message),
    };
    let request = match decode(encoding, &body) {
        Ok(request) => request,
        Err(message) => {
            warn!(%message, "otlp push refused");
            return error(encoding, StatusCode::BAD_REQUEST, message);
        }
    };
    let observed_ts = Timestamp::now();
    let label = admitted
        .source
        .as_deref()
        .unwrap_or(otlp_map::DEFAULT_SOURCE);
    let identity = ingest::request_identity(label, key.as_deref(), &body, observed_ts);
    let origin = Origin {
        node: &state.node,
        namespace: admitted
            .pusher
            .as_ref()
            .and_then(|p| p.namespace.as_deref()),
        via: admitted.pusher.as_ref().map(|p| p.name.as_str()),
        source: admitted.source.as_deref(),
        identity: &identity,
        observed_ts,
    };
    let mut events = Vec::new();
    // Records refused, by the refusal (one per source name the token may not write).
    let mut refusals: BTreeMap<String, (Refusal, i64)> = BTreeMap::new();
    let mut offset = 0;
    for resource_logs in request.resource_logs {
        let records: u64 = resource_logs
            .scope_logs
            .iter()
            .map(|scope| scope.log_records.len() as u64)
            .sum();
        let name = otlp_map::source_name(resource_logs.resource.as_ref(), origin.source);
        match admitted.may_write(&name) {
            Ok(()) => events.extend(otlp_map::resource_events(resource_logs, &origin, offset)),
            Err(refusal) => {
                refusals
                    .entry(refusal.to_string())
                    .or_insert((refusal, 0))
                    .1 += records as i64;
            }
        }
        offset += records;
    }
    let rejected: i64 = refusals.values().map(|(_, records)| records).sum();
    if !refusals.is_empty() {
        let sources: Vec<&str> = refusals.keys().map(String::as_str).collect();
        warn!(
            ?sources,
            rejected,
            taken = events.len(),
            "otlp resources refused"
        );
    }
    if events.is_empty()
        && let Some((refusal, _)) = refusals.values().next()
    {
        // Nothing the token may write: refused as a push for that source would be.
        return ingest::refused(admitted.kind, refusal);
    }
    if !refusals.is_empty() {
        telemetry::ingest_refused(false);
    }
    match ingest::deliver(&state, events.into_iter()).await {
        Ok(_) => success(encoding, rejected, refusal_message(refusals.values())),
        Err(message) => ingest::with_header(
            error(encoding, StatusCode::SERVICE_UNAVAILABLE, message),
            header::RETRY_AFTER,
            "1",
        ),
    }
}

/// Decompresses a gzip body, at most `LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES` of it
/// (413 beyond), reserving what it takes of the in-flight budget as it goes (503 when
/// the budget has no room), so a small compressed push cannot hold more than it may.
fn gunzip(
    body: &[u8],
    admitted: &Admitted,
) -> Result<(Bytes, Vec<OwnedSemaphorePermit>), (StatusCode, String)> {
    let mut decoder = flate2::read::MultiGzDecoder::new(body);
    let mut inflated = Vec::new();
    let mut reservations = Vec::new();
    let mut chunk = vec![0u8; INFLATE_CHUNK_BYTES];
    loop {
        let read = decoder.read(&mut chunk).map_err(|error| {
            (
                StatusCode::BAD_REQUEST,
                format!("the body is not valid gzip: {error}"),
            )
        })?;
        if read == 0 {
            return Ok((Bytes::from(inflated), reservations));
        }
        if inflated.len() + read > admitted.max_body_bytes {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body decompresses to more than {} bytes (LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES)",
                    admitted.max_body_bytes
                ),
            ));
        }
        let reservation = admitted.reserve(read).ok_or_else(|| {
            telemetry::ingest_busy();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many pushes in flight (LOGPIPE_COLLECTOR_INGEST_MAX_IN_FLIGHT_BYTES); nothing was taken, retry shortly"
                    .to_owned(),
            )
        })?;
        reservations.push(reservation);
        inflated.extend_from_slice(&chunk[..read]);
    }
}

/// `partial_success.error_message`: which sources were refused and why.
fn refusal_message<'a>(refusals: impl ExactSizeIterator<Item = &'a (Refusal, i64)>) -> String {
    let count = refusals.len();
    let mut parts: Vec<String> = refusals
        .take(MAX_REPORTED_SOURCES)
        .map(|(refusal, records)| format!("{refusal} ({records} records)"))
        .collect();
    if count > MAX_REPORTED_SOURCES {
        parts.push(format!("and {} more sources", count - MAX_REPORTED_SOURCES));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(path: &str, content_type: Option<&str>) -> Result<BodyKind, String> {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
        }
        BodyKind::of(path, &headers)
    }

    #[test]
    fn content_types_pick_the_decoder() {
        assert_eq!(kind("/v1/logs", None), Ok(BodyKind::Push));
        assert_eq!(
            kind("/v1/logs", Some("application/x-protobuf")),
            Ok(BodyKind::OtlpProtobuf)
        );
        assert_eq!(
            kind("/v1/logs", Some("Application/JSON; charset=utf-8")),
            Ok(BodyKind::Json)
        );
        assert_eq!(
            kind("/v1/logs", Some("application/x-ndjson")),
            Ok(BodyKind::Push)
        );
        assert_eq!(
            kind("/v1/push", Some("application/json")),
            Ok(BodyKind::Push)
        );
        let error = kind("/v1/push", Some("application/x-protobuf")).unwrap_err();
        assert!(error.contains("is not served"), "{error}");
        let error = kind("/v1/logs", Some("application/grpc")).unwrap_err();
        assert!(error.contains("gRPC is not served"), "{error}");
        let error = kind("/v1/logs", Some("text/xml")).unwrap_err();
        assert!(error.contains("`text/xml`"), "{error}");
    }

    #[test]
    fn json_times_as_numbers_or_strings_and_severities_by_name() {
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"timeUnixNano":1700000000000000001,"observedTimeUnixNano":"1700000000000000002",
             "severityNumber":"SEVERITY_NUMBER_WARN","body":{"stringValue":"a"}},
            {"severityNumber":17,"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}
        ]}]}]}"#;
        let request = decode(Encoding::Json, body).unwrap();
        let records = &request.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(records[0].time_unix_nano, 1_700_000_000_000_000_001);
        assert_eq!(
            records[0].observed_time_unix_nano,
            1_700_000_000_000_000_002
        );
        assert_eq!(records[0].severity_number, 13);
        assert_eq!(records[1].severity_number, 17);
        assert_eq!(records[1].trace_id.len(), 16);
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        for (encoding, body, expected) in [
            (Encoding::Json, &b"[1]"[..], "object with `resourceLogs`"),
            (
                Encoding::Json,
                b"{\"msg\": \"a\"}\n{\"msg\": \"b\"}",
                "/v1/push",
            ),
            (Encoding::Json, b"{\"resourceLogs\": 5}", "invalid type"),
            (
                Encoding::Json,
                b"{\"msg\": \"hello\"}",
                "missing field `resourceLogs`",
            ),
            (Encoding::Json, b"{\"resourceLogs\": [", "body is not JSON"),
            (
                Encoding::Json,
                br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#,
                "resourceLogs[0].scopeLogs[0].logRecords[0].traceId: odd number of digits",
            ),
            (
                Encoding::Json,
                b"{\"resourceLogs\": [], \"x\": \"\xff\"}",
                "body is not JSON",
            ),
            (Encoding::Protobuf, b"\x0a\x05\x12\x03", "protobuf"),
        ] {
            let error = decode(encoding, body).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn empty_requests_are_requests() {
        for (encoding, body) in [
            (Encoding::Json, &b" {} "[..]),
            (Encoding::Json, b"{\"resourceLogs\": []}"),
            (Encoding::Protobuf, b""),
        ] {
            assert!(decode(encoding, body).unwrap().resource_logs.is_empty());
        }
    }

    #[test]
    fn answers_are_in_the_request_encoding() {
        let response = success(Encoding::Protobuf, 0, String::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROTOBUF);
        let response = error(Encoding::Json, StatusCode::BAD_REQUEST, "bad");
        assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
        assert_eq!(grpc_code(StatusCode::SERVICE_UNAVAILABLE), 14);
    }
}
