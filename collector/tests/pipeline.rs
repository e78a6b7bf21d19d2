//! Files → collector → tansu: metadata, rotation, truncation, many files, bad input,
//! gaps, host files, HTTP ingest, redaction.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use logpipe_common::event::Flag;
use logpipe_common::testkit::shared_data;
use logpipe_common::{Level, Stream};
use tower::ServiceExt;

use crate::harness::{
    Collected, Collector, append, assert_exactly, broker, container_dir, cri_line,
};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cri_and_docker_logs_arrive_in_order_with_metadata() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cri = container_dir(pods.path(), "shop", "api-7d9f-x2", "api").join("0.log");
    let docker = container_dir(pods.path(), "kube-system", "coredns-1", "coredns").join("0.log");
    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;

    let mut expected = Vec::new();
    let mut cri_text = String::new();
    for n in 0..200 {
        let message = format!("cri line {n}");
        if n % 10 == 0 {
            let (a, b) = message.split_at(4);
            cri_text.push_str(&cri_line(n, "stderr", "P", a));
            cri_text.push_str(&cri_line(n, "stderr", "F", b));
        } else {
            cri_text.push_str(&cri_line(
                n,
                "stdout",
                "F",
                &format!(r#"{{"level":"warn","msg":"{message}","n":{n}}}"#),
            ));
        }
        expected.push(message);
    }
    append(&cri, cri_text.as_bytes());
    let mut docker_text = String::new();
    for n in 0..100 {
        let message = format!("docker line {n}");
        docker_text.push_str(&format!("{{\"log\":\"{message}\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-27T05:00:00.{n:09}Z\"}}\n"));
        expected.push(message);
    }
    append(&docker, docker_text.as_bytes());

    let mut collected = Collected::new(&broker);
    collected
        .until(WAIT, |events| events.len() >= expected.len())
        .await;
    let by_message = assert_exactly(&collected.events, &expected);
    let event = &by_message["cri line 3"];
    assert_eq!(event.level, Level::Warn);
    assert_eq!(event.attributes["n"], 3);
    assert_eq!(event.k8s.namespace.as_deref(), Some("shop"));
    assert_eq!(event.k8s.pod.as_deref(), Some("api-7d9f-x2"));
    assert_eq!(event.k8s.pod_uid.as_deref(), Some("uid-api-7d9f-x2"));
    assert_eq!(event.k8s.container.as_deref(), Some("api"));
    assert_eq!(event.k8s.node, "node-1");
    assert_eq!(event.stream, Some(Stream::Stdout));
    assert_eq!(event.ts.to_string(), "2026-11-27T05:00:03.000000003Z");
    let joined = &by_message["cri line 10"];
    assert_eq!(joined.stream, Some(Stream::Stderr));
    assert_eq!(
        by_message["docker line 7"].k8s.container.as_deref(),
        Some("coredns")
    );
    // One pod's lines keep their order.
    let order: Vec<u64> = collected
        .events
        .iter()
        .filter(|e| e.k8s.pod.as_deref() == Some("api-7d9f-x2"))
        .map(|e| e.source.offset.unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "offsets in order");
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_rename_every_1000_lines_loses_nothing() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = container_dir(pods.path(), "shop", "writer", "app");
    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;
    let expected: Vec<String> = (0..6_000).map(|n| format!("rotating line {n}")).collect();
    let writer_dir = dir.clone();
    let writer_lines = expected.clone();
    tokio::task::spawn_blocking(move || {
        let live = writer_dir.join("0.log");
        for (chunk_index, chunk) in writer_lines.chunks(1_000).enumerate() {
            for (i, message) in chunk.iter().enumerate() {
                append(
                    &live,
                    cri_line(chunk_index * 1000 + i, "stdout", "F", message).as_bytes(),
                );
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            std::fs::rename(
                &live,
                writer_dir.join(format!("0.log.2026112705{chunk_index:04}")),
            )
            .unwrap();
            // kubelet keeps one uncompressed rotated file; older ones are removed.
            if chunk_index >= 2 {
                let old = writer_dir.join(format!("0.log.2026112705{:04}", chunk_index - 2));
                std::thread::sleep(Duration::from_millis(300));
                let _ = std::fs::remove_file(old);
            }
        }
    })
    .await
    .unwrap();
    let mut collected = Collected::new(&broker);
    collected
        .until(WAIT, |events| events.len() >= expected.len())
        .await;
    collected.settle(Duration::from_secs(1)).await;
    assert_exactly(&collected.events, &expected);
    assert!(
        collected
            .events
            .iter()
            .all(|e| !e.flags.contains(&Flag::Gap)),
        "no gap"
    );
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_truncate_and_inode_reuse_are_followed() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = container_dir(pods.path(), "shop", "legacy", "app");
    let live = dir.join("0.log");
    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;
    let mut collected = Collected::new(&broker);

    let first: Vec<String> = (0..1_000).map(|n| format!("before truncate {n}")).collect();
    let text: String = first
        .iter()
        .enumerate()
        .map(|(n, m)| cri_line(n, "stdout", "F", m))
        .collect();
    append(&live, text.as_bytes());
    collected.until(WAIT, |events| events.len() >= 1_000).await;
    // copy-truncate: the content is copied away (and compressed, so not read again) and
    // the file truncated in place.
    std::fs::copy(&live, dir.join("0.log.1.gz")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    let second: Vec<String> = (0..500).map(|n| format!("after truncate {n}")).collect();
    let text: String = second
        .iter()
        .enumerate()
        .map(|(n, m)| cri_line(n + 5000, "stdout", "F", m))
        .collect();
    append(&live, text.as_bytes());
    collected.until(WAIT, |events| events.len() >= 1_500).await;

    // Delete and create again: the inode may be reused; the new file is new content.
    std::fs::remove_file(&live).unwrap();
    let third: Vec<String> = (0..500).map(|n| format!("recreated {n}")).collect();
    let text: String = third
        .iter()
        .enumerate()
        .map(|(n, m)| cri_line(n + 9000, "stdout", "F", m))
        .collect();
    append(&live, text.as_bytes());
    collected.until(WAIT, |events| events.len() >= 2_000).await;
    collected.settle(Duration::from_secs(1)).await;
    let all: Vec<String> = first.into_iter().chain(second).chain(third).collect();
    assert_exactly(&collected.events, &all);
    assert_eq!(collected.events.len(), 2_000, "nothing read twice");
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_files_at_once() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut expected = Vec::new();
    for pod in 0..500 {
        let file = container_dir(pods.path(), "load", &format!("pod-{pod}"), "app").join("0.log");
        let text: String = (0..10)
            .map(|n| {
                let message = format!("pod {pod} line {n}");
                let line = cri_line(n, "stdout", "F", &message);
                expected.push(message);
                line
            })
            .collect();
        append(&file, text.as_bytes());
    }
    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;
    let mut collected = Collected::new(&broker);
    collected
        .until(Duration::from_secs(120), |events| {
            events.len() >= expected.len()
        })
        .await;
    assert_exactly(&collected.events, &expected);
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_kept_and_never_stalls_the_file() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = container_dir(pods.path(), "shop", "noisy", "app").join("0.log");
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[("LOGPIPE_COLLECTOR_MAX_LINE_BYTES", "64KiB")],
    )
    .await;

    append(&file, cri_line(0, "stdout", "F", "first").as_bytes());
    // A 10 MB line, split by the runtime into 16 KiB partial fragments.
    let huge = "x".repeat(10 * 1024 * 1024);
    let mut text = Vec::new();
    for (i, piece) in huge.as_bytes().chunks(16 * 1024).enumerate() {
        let tag = if (i + 1) * 16 * 1024 >= huge.len() {
            "F"
        } else {
            "P"
        };
        text.extend_from_slice(
            cri_line(1, "stdout", tag, std::str::from_utf8(piece).unwrap()).as_bytes(),
        );
    }
    // A 10 MB physical line of garbage that is no CRI line at all.
    text.extend_from_slice(&vec![b'#'; 10 * 1024 * 1024]);
    text.push(b'\n');
    // Invalid UTF-8 in a CRI line, binary garbage, malformed JSON.
    text.extend_from_slice(b"2026-11-27T05:00:02Z stdout F caf\xe9 \xff\xfe\n");
    text.extend_from_slice(b"\x00\x01\x02\x89PNG\r\n");
    text.extend_from_slice(cri_line(3, "stdout", "F", "{\"msg\": \"unterminated").as_bytes());
    text.extend_from_slice(cri_line(4, "stdout", "F", "last").as_bytes());
    append(&file, &text);

    let mut collected = Collected::new(&broker);
    let events = collected
        .until(WAIT, |events| events.iter().any(|e| e.message == "last"))
        .await
        .to_vec();
    assert_eq!(
        events.len(),
        7,
        "{:#?}",
        events
            .iter()
            .map(|e| (e.message.chars().take(40).collect::<String>(), &e.flags))
            .collect::<Vec<_>>()
    );
    let huge_event = &events[1];
    assert!(huge_event.flags.contains(&Flag::Truncated));
    assert_eq!(huge_event.message.len(), 64 * 1024);
    assert!(
        events[2].flags.contains(&Flag::Truncated) && events[2].flags.contains(&Flag::Unparsed)
    );
    assert_eq!(events[3].message, "caf\u{fffd} \u{fffd}\u{fffd}");
    assert!(events[3].flags.contains(&Flag::InvalidUtf8));
    assert!(events[4].flags.contains(&Flag::Unparsed));
    assert_eq!(events[5].message, "{\"msg\": \"unterminated");
    collector.stop().await;
}

/// Bytes seen but not delivered when the file vanished while the collector was down are
/// reported as one gap event naming the file and size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_deleted_before_it_was_read_is_reported_as_a_gap() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = container_dir(pods.path(), "shop", "gone", "app").join("0.log");
    let text: String = (0..100)
        .map(|n| cri_line(n, "stdout", "F", &format!("never delivered {n}")))
        .collect();
    append(&file, text.as_bytes());
    // No broker reachable: nothing is delivered, the checkpoint stays at 0.
    let dead = format!(
        "127.0.0.1:{}",
        logpipe_common::testkit::free_port().unwrap()
    );
    let collector = Collector::start(
        &dead,
        pods.path(),
        data.path(),
        &[("LOGPIPE_SHUTDOWN_GRACE_MS", "2000")],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    collector.stop().await;
    std::fs::remove_file(&file).unwrap();

    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;
    let mut collected = Collected::new(&broker);
    let events = collected
        .until(WAIT, |events| !events.is_empty())
        .await
        .to_vec();
    collected.settle(Duration::from_secs(1)).await;
    assert_eq!(collected.events.len(), 1, "{:#?}", collected.events);
    let gap = &events[0];
    assert!(gap.flags.contains(&Flag::Gap));
    assert_eq!(gap.attributes["logpipe"]["gap"]["bytes"], text.len());
    assert_eq!(gap.source.path.as_deref(), Some(file.to_str().unwrap()));
    assert_eq!(gap.k8s.pod.as_deref(), Some("gone"));
    collector.stop().await;
}

/// The API server's audit log as a host file: events carry the source name and node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_audit_log_as_a_host_file() {
    let broker = broker().await;
    let (pods, data, host) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let audit_dir = host.path().join("kubernetes/audit");
    std::fs::create_dir_all(&audit_dir).unwrap();
    let mut lines = Vec::new();
    for entry in
        std::fs::read_dir(shared_data().join("falco-k8s-audit/trace_files/k8s_audit")).unwrap()
    {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    let host_files = format!("kube-audit={}/*.log", audit_dir.display());
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[("LOGPIPE_COLLECTOR_HOST_FILES", &host_files)],
    )
    .await;
    append(
        &audit_dir.join("audit.log"),
        (lines.join("\n") + "\n").as_bytes(),
    );
    let mut collected = Collected::new(&broker);
    collected
        .until(WAIT, |events| events.len() >= lines.len())
        .await;
    assert_eq!(collected.events.len(), lines.len());
    for event in &collected.events {
        assert_eq!(event.source.name.as_deref(), Some("kube-audit"));
        assert_eq!(event.k8s.node, "node-1");
        assert_eq!(event.k8s.namespace, None);
        // fal_01_003.json is the malformed one (`{"kind": 0}`): kept like the rest.
        let is_audit_event = event.attributes.get("kind") == Some(&serde_json::json!("Event"));
        assert!(
            !is_audit_event || event.attributes.contains_key("auditID"),
            "{event:?}"
        );
    }
    assert_eq!(
        collected
            .events
            .iter()
            .filter(|e| e.attributes.get("kind") == Some(&serde_json::json!(0)))
            .count(),
        1
    );
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ingest_answers_after_kafka_acknowledged() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[("LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES", "4KiB")],
    )
    .await;
    let post = |body: Vec<u8>| {
        let router = collector.router.clone();
        async move {
            let response = router
                .oneshot(
                    Request::post("/v1/logs?source=billing")
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default(),
            )
        }
    };
    let (status, body) = post(
        b"{\"msg\":\"invoice 1\",\"level\":\"info\"}\n{\"msg\":\"invoice 2\",\"token\":\"abc\"}\n"
            .to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 2);
    let (status, body) = post(b"[{\"msg\":\"invoice 3\"}]".to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        post(b"{\"msg\":\"ok\"}\nnot json\n{\"msg\":\"ok\"}\n[1]\n".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["bad_lines"], serde_json::json!([2, 4]));
    let (status, _) = post(vec![b' '; 8 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| events.len() >= 3).await;
    collected.settle(Duration::from_millis(500)).await;
    assert_eq!(collected.events.len(), 3, "nothing from rejected batches");
    let first = collected
        .events
        .iter()
        .find(|e| e.message == "invoice 1")
        .unwrap();
    assert_eq!(first.source.name.as_deref(), Some("billing"));
    assert_eq!(first.source.kind, logpipe_common::SourceKind::Http);
    assert_eq!(first.k8s.node, "node-1");
    collector.stop().await;
}

/// Push ingest with a tokens file: no token is 401, a source the token is not bound to is
/// 403 (the audit log's name is never granted by a glob), and an accepted event records
/// the token in `source.via` and is placed in the token's namespace. Nothing refused
/// reaches Kafka.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_need_a_token_bound_to_their_source() {
    use sha2::Digest;
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let hash = |token: &str| hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let tokens = data.path().join("ingest-tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "- name: billing-batch\n  token_sha256: {}\n  sources: [\"billing\"]\n  namespace: billing\n\
             - name: anything\n  token_sha256: {}\n  sources: [\"*\"]\n",
            hash("billing-token"),
            hash("wide-token")
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
    let post = |source: &'static str, token: Option<&'static str>| {
        let router = collector.router.clone();
        async move {
            let mut request = Request::post(format!("/v1/logs?source={source}"));
            if let Some(token) = token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let body = br#"{"msg":"user admin read secret db-password","verb":"get"}"#.to_vec();
            let response = router
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let challenge = response.headers().get("www-authenticate").cloned();
            let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            (status, challenge, body)
        }
    };
    let (status, challenge, body) = post("billing", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(challenge.unwrap(), "Bearer");
    let (status, _, _) = post("billing", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = post("payments", Some("billing-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("payments"),
        "{body}"
    );
    for token in ["billing-token", "wide-token"] {
        let (status, _, body) = post("kube-audit", Some(token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token}: {body}");
    }
    let (status, _, body) = post("billing", Some("billing-token")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| !events.is_empty()).await;
    collected.settle(Duration::from_millis(500)).await;
    assert_eq!(collected.events.len(), 1, "nothing from refused pushes");
    let event = &collected.events[0];
    assert_eq!(event.source.name.as_deref(), Some("billing"));
    assert_eq!(event.source.via.as_deref(), Some("billing-batch"));
    assert_eq!(event.k8s.namespace.as_deref(), Some("billing"));
    collector.stop().await;
}

/// Pushes in flight share one byte budget: while one push holds all of it (its body still
/// arriving), another is answered 503 with `Retry-After` before its body is read, and the
/// budget is free again once the first is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_beyond_the_in_flight_budget_are_turned_away_before_reading() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[
            ("LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES", "4KiB"),
            ("LOGPIPE_COLLECTOR_INGEST_MAX_IN_FLIGHT_BYTES", "4KiB"),
        ],
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = collector.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let head = |length: usize| {
        format!(
            "POST /v1/logs?source=budget HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        )
    };
    let status_of = |response: &str| response.split(' ').nth(1).unwrap_or_default().to_owned();
    let body = {
        let mut body = String::from("{\"msg\":\"");
        body.push_str(&"x".repeat(4096 - body.len() - 3));
        body.push_str("\"}\n");
        body
    };
    assert_eq!(body.len(), 4096);

    // The first push declares 4 KiB and sends only part of it.
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    slow.write_all(head(4096).as_bytes()).await.unwrap();
    slow.write_all(&body.as_bytes()[..100]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let small = "{\"msg\":\"small\"}\n";
    let mut other = tokio::net::TcpStream::connect(address).await.unwrap();
    other
        .write_all(format!("{}{small}", head(small.len())).as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    other.read_to_string(&mut response).await.unwrap();
    assert_eq!(status_of(&response), "503", "{response}");
    assert!(
        response.to_lowercase().contains("retry-after: 1"),
        "{response}"
    );
    // An OTLP push is turned away alike, answered in its own encoding.
    let mut otlp = tokio::net::TcpStream::connect(address).await.unwrap();
    otlp.write_all(
        "POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut response = String::new();
    otlp.read_to_string(&mut response).await.unwrap();
    assert_eq!(status_of(&response), "503", "{response}");
    let lower = response.to_lowercase();
    assert!(lower.contains("retry-after: 1"), "{response}");
    assert!(
        lower.contains("content-type: application/x-protobuf"),
        "{response}"
    );

    slow.write_all(&body.as_bytes()[100..]).await.unwrap();
    let mut response = String::new();
    slow.read_to_string(&mut response).await.unwrap();
    assert_eq!(status_of(&response), "200", "{response}");

    let mut again = tokio::net::TcpStream::connect(address).await.unwrap();
    again
        .write_all(format!("{}{small}", head(small.len())).as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    again.read_to_string(&mut response).await.unwrap();
    assert_eq!(status_of(&response), "200", "{response}");

    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| events.len() >= 2).await;
    collected.settle(Duration::from_millis(500)).await;
    assert_eq!(
        collected.events.len(),
        2,
        "nothing from the push turned away"
    );
    collector.stop().await;
}

/// The same body sent twice as two requests is two batches, each kept; a retry under one
/// `Idempotency-Key` keeps its ids, so it is dropped downstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_ingest_bodies_get_new_ids_unless_retried_under_one_key() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;
    let post = |key: Option<&'static str>| {
        let router = collector.router.clone();
        async move {
            let mut request = Request::post("/v1/logs?source=billing");
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            let body = b"{\"msg\":\"payment repeated\"}\n".to_vec();
            let response = router
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            response.status()
        }
    };
    for key in [
        None,
        None,
        Some("\"batch-1\""),
        Some("\"batch-1\""),
        Some("\"batch-2\""),
    ] {
        assert_eq!(post(key).await, StatusCode::OK, "{key:?}");
    }
    assert_eq!(post(Some("\"open")).await, StatusCode::BAD_REQUEST);

    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| events.len() >= 5).await;
    collected.settle(Duration::from_millis(500)).await;
    assert_eq!(
        collected.events.len(),
        5,
        "nothing from the refused request"
    );
    let ids: Vec<String> = collected.events.iter().map(|e| e.id.to_string()).collect();
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    // Two unkeyed requests, and batch-1 once, and batch-2: four events; the retry of
    // batch-1 repeats its id.
    assert_eq!(distinct.len(), 4, "{ids:?}");
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_redacted_before_leaving_the_node() {
    let broker = broker().await;
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = container_dir(pods.path(), "shop", "leaky", "app").join("0.log");
    let collector = Collector::start(&broker.bootstrap(), pods.path(), data.path(), &[]).await;
    append(&file, cri_line(0, "stdout", "F", r#"{"msg":"login password=hunter2 ok","card":"4111 1111 1111 1111","order":"1234567812345678"}"#).as_bytes());
    append(
        &file,
        cri_line(
            1,
            "stdout",
            "F",
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc key AKIAIOSFODNN7EXAMPLE",
        )
        .as_bytes(),
    );
    // A private key logged a line per record, then a line of the application again.
    let key_body = [
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
        "MgaKdfNh7s6tJXVoHOo7wPQ/Ks1pfGrEaRYN4ypHrV6nb4MEvZkPb0T3iAxhdE7z",
    ];
    let mut lines = vec!["-----BEGIN PRIVATE KEY-----"];
    lines.extend(key_body);
    lines.extend(["-----END PRIVATE KEY-----", "key loaded"]);
    for (n, line) in lines.iter().enumerate() {
        append(&file, cri_line(2 + n, "stdout", "F", line).as_bytes());
    }
    let mut collected = Collected::new(&broker);
    collected.until(WAIT, |events| events.len() >= 7).await;
    let all = serde_json::to_string(&collected.events).unwrap();
    for secret in [
        "hunter2",
        "4111 1111 1111 1111",
        "eyJhbGciOiJIUzI1NiJ9",
        "AKIAIOSFODNN7EXAMPLE",
        key_body[0],
        key_body[1],
    ] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
    assert!(all.contains("key loaded"), "the line after the key is kept");
    assert!(
        all.contains("1234567812345678"),
        "a number that fails the Luhn check is kept"
    );
    collector.stop().await;
}

/// A Java stack trace written as separate lines arrives as one event when a multi-line
/// rule names the container; other containers are left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_traces_are_joined_by_multiline_rules() {
    let broker = broker().await;
    let (pods, data, rules) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let rules_file = rules.path().join("multiline.rules");
    std::fs::write(&rules_file, "shop/*/api ^\\d{4}-\\d{2}-\\d{2} \n").unwrap();
    let java = container_dir(pods.path(), "shop", "api-1", "api").join("0.log");
    let other = container_dir(pods.path(), "shop", "web-1", "web").join("0.log");
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[
            (
                "LOGPIPE_COLLECTOR_MULTILINE_RULES_FILE",
                rules_file.to_str().unwrap(),
            ),
            ("LOGPIPE_COLLECTOR_MULTILINE_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let trace = [
        "2026-11-27 05:00:00 ERROR request failed",
        "java.lang.IllegalStateException: boom",
        "\tat com.shop.Api.pay(Api.java:42)",
        "\tat com.shop.Api.handle(Api.java:17)",
        "Caused by: java.io.IOException: closed",
        "\t... 2 more",
        "2026-11-27 05:00:01 INFO next request",
    ];
    let text: String = trace
        .iter()
        .enumerate()
        .map(|(n, line)| cri_line(n, "stderr", "F", line))
        .collect();
    append(&java, text.as_bytes());
    append(&other, text.as_bytes());
    let mut collected = Collected::new(&broker);
    collected
        .until(WAIT, |events| events.len() >= 2 + trace.len())
        .await;
    collected.settle(Duration::from_millis(800)).await;
    let api: Vec<&logpipe_common::LogEvent> = collected
        .events
        .iter()
        .filter(|e| e.k8s.container.as_deref() == Some("api"))
        .collect();
    assert_eq!(api.len(), 2, "{api:#?}");
    assert_eq!(api[0].message, trace[..6].join("\n"));
    assert_eq!(api[1].message, trace[6]);
    let web = collected
        .events
        .iter()
        .filter(|e| e.k8s.container.as_deref() == Some("web"))
        .count();
    assert_eq!(web, trace.len());
    collector.stop().await;
}
