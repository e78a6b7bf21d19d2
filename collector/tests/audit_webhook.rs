//! The API server's audit webhook → collector → tansu: the falco audit traces posted as
//! the API server posts them (`EventList` batches), each event on Kafka exactly as the
//! same event tailed from the audit log file, a retried batch with the same ids, and every
//! refusal taking nothing.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use logpipe_common::testkit::shared_data;
use logpipe_common::{LogEvent, SourceKind};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::{Collected, Collector, append, broker};

const WAIT: Duration = Duration::from_secs(60);

async fn post(
    router: &Router,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = Request::post("/v1/audit").header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

fn event_list(items: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "metadata": {},
        "items": items,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_webhook_batches_arrive_once_in_the_audit_log_shape() {
    use sha2::Digest;
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let hash = |token: &str| hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let tokens = data.path().join("ingest-tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "- name: apiserver\n  token_sha256: {}\n  sources: [\"kube-audit\"]\n\
             - name: anything\n  token_sha256: {}\n  sources: [\"*\"]\n",
            hash("apiserver-token"),
            hash("wide-token")
        ),
    )
    .unwrap();
    let tokens_path = tokens.display().to_string();
    // The same events also arrive as the audit log file, tailed by the same collector.
    let audit_dir = tempfile::tempdir().unwrap();
    let host_files = format!("kube-audit={}/*.log", audit_dir.path().display());
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[
            ("LOGPIPE_COLLECTOR_INGEST_TOKENS_FILE", tokens_path.as_str()),
            ("LOGPIPE_COLLECTOR_HOST_FILES", host_files.as_str()),
        ],
    )
    .await;
    let router = &collector.router;

    // The traces as items of webhook batches (the API server leaves the type out of a
    // list's items), and as the audit log file writes them (with it).
    let traces = shared_data().join("falco-k8s-audit/trace_files/k8s_audit");
    let mut files: Vec<_> = std::fs::read_dir(&traces)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut items = Vec::new();
    for file in &files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            if !line.trim().is_empty() {
                items.push(serde_json::from_str::<Value>(line).unwrap());
            }
        }
    }
    let lines: Vec<String> = items
        .iter()
        .filter_map(|item| {
            let mut line = item.as_object()?.clone();
            line.entry("apiVersion").or_insert(json!("audit.k8s.io/v1"));
            line.entry("kind").or_insert(json!("Event"));
            Some(Value::Object(line).to_string())
        })
        .collect();
    append(
        &audit_dir.path().join("audit.log"),
        (lines.join("\n") + "\n").as_bytes(),
    );
    assert!(items.len() >= 51);
    // The malformed trace (`{"kind": 0}`) is a line of a file, not an event the API server
    // sends.
    items.retain(|item| item["kind"] == "Event");

    // Refused before anything is taken: no token, a token not listing kube-audit (a glob
    // never grants it), a source parameter, another content type, bodies that are not
    // an audit EventList.
    let batch = event_list(&items[..5]);
    for (token, content_type, body, status) in [
        (
            None,
            "application/json",
            batch.clone(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some("wide-token"),
            "application/json",
            batch.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            Some("apiserver-token"),
            "text/plain",
            batch.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("apiserver-token"),
            "application/json",
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("apiserver-token"),
            "application/json",
            serde_json::to_vec(&json!({"kind": "PodList", "apiVersion": "v1", "items": []}))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("apiserver-token"),
            "application/json",
            event_list(&[items[0].clone(), json!("not an event"), items[1].clone()]),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, body) = post(router, token, content_type, body).await;
        assert_eq!(got, status, "{token:?} {content_type}: {body}");
    }
    let (status, body) = post(
        router,
        Some("apiserver-token"),
        "application/json",
        event_list(&[items[0].clone(), json!(7)]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["bad_items"], json!([2]), "{body}");
    let response = router
        .clone()
        .oneshot(
            Request::post("/v1/audit?source=billing")
                .header("content-type", "application/json")
                .header("authorization", "Bearer apiserver-token")
                .body(Body::from(batch.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Batches of ten, as the API server's webhook backend sends them; the first again, as
    // a retry after a timeout would.
    for chunk in items.chunks(10) {
        let (status, body) = post(
            router,
            Some("apiserver-token"),
            "application/json",
            event_list(chunk),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["accepted"], chunk.len());
    }
    let (status, _) = post(
        router,
        Some("apiserver-token"),
        "application/json",
        event_list(&items[..10]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let mut collected = Collected::new(&broker);
    let expected = items.len() + 10 + lines.len();
    collected
        .until(WAIT, |events| events.len() >= expected)
        .await;
    collected.settle(Duration::from_millis(500)).await;
    assert_eq!(
        collected.events.len(),
        expected,
        "nothing from refused batches"
    );
    let (from_file, pushed): (Vec<LogEvent>, Vec<LogEvent>) = collected
        .events
        .iter()
        .cloned()
        .partition(|e| e.source.kind == SourceKind::File);
    assert_eq!(from_file.len(), lines.len());
    // Two traces record the same request (auditID and stage): one event, one id.
    let requests: HashSet<_> = items
        .iter()
        .map(|item| (item["auditID"].to_string(), item["stage"].to_string()))
        .collect();
    assert_eq!(requests.len(), items.len() - 2);
    let ids: HashSet<_> = pushed.iter().map(|e| e.id).collect();
    assert_eq!(
        ids.len(),
        requests.len(),
        "the retried batch has the same ids"
    );

    // Each event as the file gives it: the same attributes (redacted alike), time and
    // level; pushed by the API server's token.
    let shape = |events: &[LogEvent]| -> BTreeSet<String> {
        events
            .iter()
            .filter(|e| e.attributes.contains_key("auditID"))
            .map(|e| json!([e.attributes, e.ts, e.level]).to_string())
            .collect()
    };
    assert_eq!(shape(&pushed), shape(&from_file));
    assert_eq!(shape(&pushed).len(), items.len());
    for event in &pushed {
        assert_eq!(event.source.name.as_deref(), Some("kube-audit"));
        assert_eq!(event.source.via.as_deref(), Some("apiserver"));
    }
    collector.stop().await;
}
