//! OTLP/HTTP logs → collector → tansu, with the OpenTelemetry SDK's own OTLP/HTTP log
//! exporter as the client (protobuf and JSON), tokens, partial success, and every kind of
//! bad payload answered with a clear error and nothing taken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use logpipe_common::{Level, LogEvent, SourceKind};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Compression, Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as ProtoValue, KeyValue as ProtoKeyValue, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLoggerProvider};
use prost::Message;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::{Collected, Collector, assert_exactly, broker};

const WAIT: Duration = Duration::from_secs(60);
/// 2026-11-27T05:00:00Z.
const BASE_NANOS: u64 = 1_795_755_600_000_000_000;

/// The SDK's exporter, with what each of its exports returned.
#[derive(Debug)]
struct Recorded<E> {
    inner: E,
    results: Arc<Mutex<Vec<Result<(), String>>>>,
}

impl<E: LogExporter> LogExporter for Recorded<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.results
            .lock()
            .unwrap()
            .push(result.as_ref().map(|_| ()).map_err(ToString::to_string));
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Serves the collector's router on a loopback port; returns its `/v1/logs` URL.
async fn serve(collector: &Collector) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = collector.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/v1/logs")
}

/// Exports what `emit` logs through the SDK's batch processor and OTLP/HTTP exporter, with
/// the given resource attributes and headers; returns what each export returned. Runs
/// on a blocking thread, as the SDK's exporter and its blocking HTTP client expect.
async fn export(
    endpoint: &str,
    (protocol, gzip): (Protocol, bool),
    headers: &[(&str, &str)],
    resource: Vec<KeyValue>,
    emit: fn(&opentelemetry_sdk::logs::SdkLogger),
) -> Vec<Result<(), String>> {
    let endpoint = endpoint.to_owned();
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut builder = opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_secs(30))
            .with_headers(headers);
        if gzip {
            builder = builder.with_compression(Compression::Gzip);
        }
        let exporter = builder.build().unwrap();
        let results = Arc::new(Mutex::new(Vec::new()));
        let provider = SdkLoggerProvider::builder()
            .with_resource(Resource::builder_empty().with_attributes(resource).build())
            .with_batch_exporter(Recorded {
                inner: exporter,
                results: results.clone(),
            })
            .build();
        let logger = provider.logger_with_scope(
            InstrumentationScope::builder("checkout.payments")
                .with_version("1.4.2")
                .build(),
        );
        emit(&logger);
        // A failed export is in `results`; flushing reports it too.
        let _ = provider.force_flush();
        let _ = provider.shutdown();
        results.lock().unwrap().clone()
    })
    .await
    .unwrap()
}

fn shop_resource(service: &str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("service.name", service.to_owned()),
        KeyValue::new("k8s.namespace.name", "shop"),
        KeyValue::new("k8s.pod.name", "api-7d9f-x2"),
        KeyValue::new("k8s.pod.uid", "uid-1"),
        KeyValue::new("k8s.container.name", "api"),
        KeyValue::new("deployment.environment", "prod"),
    ]
}

const SEVERITIES: [(Severity, &str, Level); 6] = [
    (Severity::Trace, "TRACE", Level::Trace),
    (Severity::Debug2, "DEBUG", Level::Debug),
    (Severity::Info, "INFO", Level::Info),
    (Severity::Warn4, "WARN", Level::Warn),
    (Severity::Error, "ERROR", Level::Error),
    (Severity::Fatal3, "FATAL", Level::Fatal),
];

fn trace_id(n: u64) -> TraceId {
    TraceId::from_bytes(u128::from(n + 1).to_be_bytes())
}

/// Twenty text records of every severity, a key-value list body and an array body.
fn orders(logger: &opentelemetry_sdk::logs::SdkLogger) {
    for n in 0..20u64 {
        let mut record = logger.create_log_record();
        let (severity, text, _) = SEVERITIES[n as usize % SEVERITIES.len()];
        record.set_severity_number(severity);
        record.set_severity_text(text);
        record.set_timestamp(SystemTime::UNIX_EPOCH + Duration::from_nanos(BASE_NANOS + n));
        record.set_body(AnyValue::from(format!("order {n}")));
        record.add_attribute("order", n as i64);
        record.add_attribute("http.response.status_code", 502);
        if n % 2 == 0 {
            record.set_trace_context(
                trace_id(n),
                SpanId::from_bytes([0xab; 8]),
                Some(TraceFlags::SAMPLED),
            );
        }
        logger.emit(record);
    }
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Warn);
    record.set_body(AnyValue::Map(Box::new(HashMap::from([
        ("message".into(), AnyValue::from("cart abandoned")),
        ("items".into(), AnyValue::from(3)),
    ]))));
    logger.emit(record);
    let mut record = logger.create_log_record();
    record.set_body(AnyValue::ListAny(Box::new(vec![
        AnyValue::from("a"),
        AnyValue::from(true),
    ])));
    record.add_attribute("kind", "list");
    logger.emit(record);
}

/// The OpenTelemetry SDK exports over OTLP/HTTP in protobuf, in JSON and gzipped; every record
/// arrives once, with its resource's Kubernetes metadata, its severity, time, body,
/// attributes, scope and trace context mapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_exports_arrive_once_with_their_fields_mapped() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;
    let endpoint = serve(&collector).await;
    const SERVICES: [(Protocol, bool, &str); 3] = [
        (Protocol::HttpBinary, false, "checkout-protobuf"),
        (Protocol::HttpJson, false, "checkout-json"),
        (Protocol::HttpBinary, true, "checkout-gzip"),
    ];
    for (protocol, gzip, service) in SERVICES {
        let results = export(
            &endpoint,
            (protocol, gzip),
            &[],
            shop_resource(service),
            orders,
        )
        .await;
        assert!(!results.is_empty(), "{service}: nothing was exported");
        assert!(results.iter().all(Result::is_ok), "{service}: {results:?}");
    }

    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| events.len() >= 66).await;
    collected.settle(Duration::from_secs(1)).await;
    assert_eq!(collected.events.len(), 66, "each record once");
    for (_, _, service) in SERVICES {
        let events: Vec<LogEvent> = collected
            .events
            .iter()
            .filter(|event| event.source.name.as_deref() == Some(service))
            .cloned()
            .collect();
        assert_eq!(events.len(), 22, "{service}");
        let mut expected: Vec<String> = (0..20).map(|n| format!("order {n}")).collect();
        expected.push("cart abandoned".into());
        let by_message = assert_exactly(&events, &expected);
        for n in 0..20u64 {
            let event = &by_message[&format!("order {n}")];
            assert_eq!(event.level, SEVERITIES[n as usize % 6].2, "{service} {n}");
            assert_eq!(event.ts.unix_nanos() as u64, BASE_NANOS + n);
            assert!(event.observed_ts.unix_nanos() as u64 > BASE_NANOS);
            assert_eq!(event.k8s.namespace.as_deref(), Some("shop"));
            assert_eq!(event.k8s.pod.as_deref(), Some("api-7d9f-x2"));
            assert_eq!(event.k8s.pod_uid.as_deref(), Some("uid-1"));
            assert_eq!(event.k8s.container.as_deref(), Some("api"));
            assert_eq!(event.k8s.node, "node-1");
            assert_eq!(event.source.kind, SourceKind::Http);
            assert_eq!(event.source.via, None, "anonymous on loopback");
            assert_eq!(event.attributes["order"], n);
            assert_eq!(event.attributes["http.response.status_code"], 502);
            assert_eq!(
                event.attributes["resource"],
                json!({"service.name": service, "deployment.environment": "prod"})
            );
            // The SDK names the scope by the record's target and leaves its version out
            // (the mapping of a version is a unit test's).
            assert_eq!(
                event.attributes["scope"],
                json!({"name": "checkout.payments"})
            );
            if n % 2 == 0 {
                assert_eq!(
                    event.attributes["trace_id"],
                    format!("{:032x}", n + 1),
                    "{service} {n}"
                );
                assert_eq!(event.attributes["span_id"], "abababababababab");
                assert_eq!(event.attributes["trace_flags"], 1);
            } else {
                assert!(event.attributes.get("trace_id").is_none());
            }
        }
        let cart = &by_message["cart abandoned"];
        assert_eq!(cart.level, Level::Warn);
        assert_eq!(cart.attributes["body"], json!({"items": 3}));
        let list = events
            .iter()
            .find(|event| event.attributes.get("kind") == Some(&json!("list")))
            .expect("the array body arrived");
        assert_eq!(list.attributes["body"], json!(["a", true]));
        assert_eq!(list.message, "");
        assert_eq!(list.level, Level::Unknown);
        // Ids are distinct within and across the requests.
        let ids: std::collections::HashSet<_> = events.iter().map(|event| event.id).collect();
        assert_eq!(ids.len(), events.len());
    }
    collector.stop().await;
}

/// OTLP pushes take push ingest's tokens: none is 401 to the OTLP client, a service the
/// token is not bound to is 403, and a request mixing services is taken for the ones the
/// token may write, the rest counted in `partial_success` (the audit log's name is never
/// granted by a glob).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_exports_need_a_token_bound_to_their_service() {
    use sha2::Digest;
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let hash = |token: &str| hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let tokens = data.path().join("ingest-tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "- name: otel-relay\n  token_sha256: {}\n  sources: [\"checkout-*\"]\n",
            hash("relay-token")
        ),
    )
    .unwrap();
    let tokens_path = tokens.display().to_string();
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[("LOGPIPE_COLLECTOR_INGEST_TOKENS_FILE", tokens_path.as_str())],
    )
    .await;
    let endpoint = serve(&collector).await;
    fn one(logger: &opentelemetry_sdk::logs::SdkLogger) {
        let mut record = logger.create_log_record();
        record.set_severity_number(Severity::Info);
        record.set_body(AnyValue::from("relayed"));
        logger.emit(record);
    }
    let bearer = [("Authorization", "Bearer relay-token")];
    for protocol in [Protocol::HttpBinary, Protocol::HttpJson] {
        let results = export(
            &endpoint,
            (protocol, false),
            &[],
            shop_resource("checkout-eu"),
            one,
        )
        .await;
        assert!(!results.is_empty());
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.contains("401"))),
            "{results:?}"
        );
        let results = export(
            &endpoint,
            (protocol, false),
            &[("Authorization", "Bearer wrong")],
            shop_resource("checkout-eu"),
            one,
        )
        .await;
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.contains("401"))),
            "{results:?}"
        );
        let results = export(
            &endpoint,
            (protocol, false),
            &bearer,
            shop_resource("payments"),
            one,
        )
        .await;
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.contains("403"))),
            "{results:?}"
        );
    }
    let results = export(
        &endpoint,
        (Protocol::HttpBinary, true),
        &bearer,
        shop_resource("checkout-eu"),
        one,
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // One request, two resources: the token writes checkout-us, not kube-audit.
    let request = ExportLogsServiceRequest {
        resource_logs: vec![
            resource_logs("checkout-us", &["us 1", "us 2"]),
            resource_logs("kube-audit", &["forged"]),
        ],
    };
    let response = collector
        .router
        .clone()
        .oneshot(
            Request::post("/v1/logs")
                .header("Content-Type", "application/x-protobuf")
                .header("Authorization", "Bearer relay-token")
                .body(Body::from(request.encode_to_vec()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let answer = ExportLogsServiceResponse::decode(body).unwrap();
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("kube-audit"), "{partial:?}");

    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| events.len() >= 3).await;
    collected.settle(Duration::from_millis(500)).await;
    assert_eq!(collected.events.len(), 3, "nothing refused reached Kafka");
    assert!(collected.events.iter().all(|event| {
        event.source.via.as_deref() == Some("otel-relay")
            && event
                .source
                .name
                .as_deref()
                .is_some_and(|name| name.starts_with("checkout-"))
    }));
    collector.stop().await;
}

fn resource_logs(service: &str, messages: &[&str]) -> ResourceLogs {
    ResourceLogs {
        resource: Some(ProtoResource {
            attributes: vec![ProtoKeyValue {
                key: "service.name".into(),
                value: Some(text(service)),
            }],
            ..ProtoResource::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: messages
                .iter()
                .map(|message| LogRecord {
                    severity_number: 9,
                    body: Some(text(message)),
                    ..LogRecord::default()
                })
                .collect(),
            ..ScopeLogs::default()
        }],
        schema_url: String::new(),
    }
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn text(value: &str) -> ProtoValue {
    ProtoValue {
        value: Some(any_value::Value::StringValue(value.into())),
    }
}

/// Every kind of bad payload gets a clear 4xx in the request's encoding and nothing of it
/// reaches Kafka; logpipe's own NDJSON and JSON arrays still work at `/v1/logs` under their
/// content types, and at `/v1/push`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_otlp_payloads_are_refused_with_clear_errors() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[("LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES", "4KiB")],
    )
    .await;
    let post = |path: &'static str, headers: Vec<(&'static str, &'static str)>, body: Vec<u8>| {
        let router = collector.router.clone();
        async move {
            let mut request = Request::post(path);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = router
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (
                status,
                content_type,
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
    };
    let protobuf = vec![("Content-Type", "application/x-protobuf")];
    let json_type = vec![("Content-Type", "application/json")];
    let valid = ExportLogsServiceRequest {
        resource_logs: vec![resource_logs("checkout", &["valid-marker", "second"])],
    }
    .encode_to_vec();

    // Truncated protobuf.
    let (status, content_type, body) = post(
        "/v1/logs",
        protobuf.clone(),
        valid[..valid.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(content_type, "application/x-protobuf");
    assert!(
        body.contains("not an OTLP ExportLogsServiceRequest in protobuf"),
        "{body}"
    );

    // Invalid UTF-8 in a string of the protobuf.
    let marker = valid
        .windows(12)
        .position(|window| window == b"valid-marker")
        .unwrap();
    let mut invalid = valid.clone();
    invalid[marker + 5] = 0xff;
    let (status, _, body) = post("/v1/logs", protobuf.clone(), invalid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("UTF-8"), "{body}");

    // Invalid UTF-8 in OTLP JSON.
    let mut invalid =
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"caf"#.to_vec();
    invalid.extend_from_slice(b"\xe9\"}}]}]}]}");
    let (status, _, body) = post("/v1/logs", json_type.clone(), invalid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["code"], 3);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("body is not JSON"),
        "{body}"
    );

    // JSON that is not OTLP.
    for (payload, expected) in [
        (
            &br#"{"resourceLogs":{"scopeLogs":[]}}"#[..],
            "resourceLogs: invalid type: map, expected a sequence",
        ),
        (
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}"#,
            "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano",
        ),
        (br#"{"msg":"hello"}"#, "/v1/push"),
    ] {
        let (status, content_type, body) =
            post("/v1/logs", json_type.clone(), payload.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(content_type, "application/json");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert!(
            answer["message"].as_str().unwrap().contains(expected),
            "{body}"
        );
    }

    // Content types and encodings not served.
    for content_type in ["application/grpc", "text/xml"] {
        let (status, _, body) = post(
            "/v1/logs",
            vec![("Content-Type", content_type)],
            valid.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        assert!(body.contains("is not served"), "{body}");
    }
    let (status, _, body) = post("/v1/push", protobuf.clone(), valid.clone()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let mut brotli = protobuf.clone();
    brotli.push(("Content-Encoding", "br"));
    let (status, _, body) = post("/v1/logs", brotli, valid.clone()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body.contains("`br` is not served"), "{body}");

    // gzip that is not gzip, and gzip that decompresses past the limit.
    let mut gzip = protobuf.clone();
    gzip.push(("Content-Encoding", "gzip"));
    let (status, _, body) = post("/v1/logs", gzip.clone(), valid.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("not valid gzip"), "{body}");
    let bomb = gzipped(
        &ExportLogsServiceRequest {
            resource_logs: vec![resource_logs("checkout", &[&"x".repeat(64 * 1024)])],
        }
        .encode_to_vec(),
    );
    assert!(bomb.len() < 1024);
    let (status, _, body) = post("/v1/logs", gzip.clone(), bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body.contains("decompresses to more than 4096 bytes"),
        "{body}"
    );

    // A body over the limit.
    let huge = ExportLogsServiceRequest {
        resource_logs: vec![resource_logs("checkout", &[&"x".repeat(8 * 1024)])],
    }
    .encode_to_vec();
    let (status, content_type, _) = post("/v1/logs", protobuf.clone(), huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(content_type, "application/x-protobuf");

    // logpipe's own format, as before and at its own path.
    for (path, headers, body) in [
        ("/v1/logs", vec![], &b"{\"msg\":\"ndjson untyped\"}\n"[..]),
        (
            "/v1/logs",
            vec![("Content-Type", "application/x-ndjson")],
            b"{\"msg\":\"ndjson typed\"}\n",
        ),
        (
            "/v1/logs",
            json_type.clone(),
            b"[{\"msg\":\"array at logs\"}]",
        ),
        (
            "/v1/push",
            json_type.clone(),
            b"{\"msg\":\"json at push\"}\n",
        ),
    ] {
        let (status, _, answer) = post(path, headers, body.to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap()["accepted"],
            1
        );
    }
    // And a valid OTLP request, to show the refused ones were not mistaken.
    let (status, _, _) = post("/v1/logs", protobuf.clone(), valid.clone()).await;
    assert_eq!(status, StatusCode::OK);

    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| events.len() >= 6).await;
    collected.settle(Duration::from_millis(500)).await;
    let expected: Vec<String> = [
        "ndjson untyped",
        "ndjson typed",
        "array at logs",
        "json at push",
        "valid-marker",
        "second",
    ]
    .map(String::from)
    .to_vec();
    assert_exactly(&collected.events, &expected);
    assert_eq!(
        collected.events.len(),
        6,
        "nothing from the refused payloads"
    );
    collector.stop().await;
}
