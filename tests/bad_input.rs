//! Bad input through the whole pipeline: binary garbage, invalid UTF-8, a 10 MB line,
//! malformed JSON, a broken docker json-file record and the malformed Kubernetes audit
//! event of `../shared/data/falco-k8s-audit` are all searchable afterwards, flagged, and
//! the lines after them are searched and alerted on as usual.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use logpipe_common::testkit::shared_data;
use serde_json::Value;

use crate::pipeline::Pipeline;

const RULE: &str = "\
name: after-bad-input
type: match
query: 'message:sentinel'
group_by: [k8s.container]
severity: warning
summary: 'sentinel seen in {{ group.k8s.container }}'
notify: [oncall]
realert: 1h
lateness: 5s
";

fn append(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}

fn cri(content: &str) -> String {
    format!("{} stdout F {content}\n", logpipe_common::Timestamp::now())
}

fn flags(event: &Value) -> Vec<&str> {
    event["flags"]
        .as_array()
        .map(|flags| flags.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn bad_input_is_searchable_flagged_and_stalls_nothing() {
    let mut pipeline = Pipeline::new(RULE);
    // The audit events are from 2019.
    pipeline.since = "3650d";
    let audit_dir = pipeline.dir.path().join("audit");
    std::fs::create_dir_all(&audit_dir).unwrap();
    let host_files = format!("kube-audit={}/*.log", audit_dir.display());
    let _collector = pipeline.collector_with(&[
        ("LOGPIPE_COLLECTOR_HOST_FILES", &host_files),
        ("LOGPIPE_COLLECTOR_MAX_LINE_BYTES", "64KiB"),
    ]);
    let _indexer = pipeline.indexer();
    let _alerting = pipeline.alerting();

    // A CRI container: every kind of bad line, then a good one.
    let cri_file = pipeline.pods.join("shop_api-1_uid-1/api/0.log");
    let mut text = Vec::new();
    text.extend_from_slice(cri("first").as_bytes());
    let huge = "x".repeat(10 * 1024 * 1024);
    let pieces: Vec<&[u8]> = huge.as_bytes().chunks(16 * 1024).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let tag = if i + 1 == pieces.len() { "F" } else { "P" };
        text.extend_from_slice(
            format!(
                "{} stdout {tag} {}\n",
                logpipe_common::Timestamp::now(),
                std::str::from_utf8(piece).unwrap()
            )
            .as_bytes(),
        );
    }
    text.extend_from_slice(b"2026-11-27T05:00:02Z stdout F caf\xe9 \xff\xfe\n");
    text.extend_from_slice(b"\x00\x01\x02\x89PNG\r\x1a\x00\n");
    text.extend_from_slice(cri("{\"level\": \"error\", \"msg\": \"unterminated").as_bytes());
    text.extend_from_slice(cri("sentinel after bad input").as_bytes());
    append(&cri_file, &text);

    // A docker json-file container: a record that is not JSON, then a good one.
    let docker_file = pipeline.pods.join("shop_web-1_uid-2/web/0.log");
    let now = logpipe_common::Timestamp::now();
    let mut text = Vec::new();
    text.extend_from_slice(
        format!("{{\"log\":\"ok\\n\",\"stream\":\"stdout\",\"time\":\"{now}\"}}\n").as_bytes(),
    );
    text.extend_from_slice(b"{\"log\":\"cut off\n");
    text.extend_from_slice(
        format!(
            "{{\"log\":\"sentinel after bad input\\n\",\"stream\":\"stdout\",\"time\":\"{now}\"}}\n"
        )
        .as_bytes(),
    );
    append(&docker_file, &text);

    // The API server's audit log, the malformed event among the real ones.
    let mut audit = String::new();
    let mut audit_lines: u64 = 0;
    let dir = shared_data().join("falco-k8s-audit/trace_files/k8s_audit");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            if !line.trim().is_empty() {
                audit.push_str(line);
                audit.push('\n');
                audit_lines += 1;
            }
        }
    }
    assert!(audit.contains("{\"kind\": 0}"), "the malformed audit event");
    append(&audit_dir.join("audit.log"), audit.as_bytes());

    let expected = 6 + 3 + audit_lines;
    let events = pipeline.wait_for_events(expected, &[&_collector, &_indexer, &_alerting]);
    let by_message = |text: &str| {
        events
            .iter()
            .filter(|e| e["message"].as_str().is_some_and(|m| m.starts_with(text)))
            .collect::<Vec<_>>()
    };

    let huge = by_message("xxxx");
    assert_eq!(huge.len(), 1);
    assert!(
        flags(huge[0]).contains(&"truncated"),
        "{:?}",
        flags(huge[0])
    );
    assert_eq!(huge[0]["message"].as_str().unwrap().len(), 64 * 1024);
    let invalid = by_message("caf\u{fffd}");
    assert_eq!(invalid.len(), 1);
    assert!(flags(invalid[0]).contains(&"invalid_utf8"));
    let garbage: Vec<_> = events
        .iter()
        .filter(|e| e["k8s"]["container"] == "api" && flags(e).contains(&"unparsed"))
        .collect();
    assert_eq!(garbage.len(), 1, "the binary garbage line");
    let malformed = by_message("{\"level\": \"error\", \"msg\": \"unterminated");
    assert_eq!(malformed.len(), 1, "malformed JSON is kept whole");
    let cut_off = events
        .iter()
        .filter(|e| e["k8s"]["container"] == "web" && flags(e).contains(&"unparsed"))
        .count();
    assert_eq!(cut_off, 1, "the broken docker record");
    assert_eq!(by_message("sentinel after bad input").len(), 2);

    let audit_events: Vec<_> = events
        .iter()
        .filter(|e| e["source"]["name"] == "kube-audit")
        .collect();
    assert_eq!(audit_events.len(), audit_lines as usize);
    assert!(
        audit_events
            .iter()
            .any(|e| e["attributes"]["kind"] == 0 || e["message"] == "{\"kind\": 0}"),
        "the malformed audit event is searchable"
    );

    // The alerting role read past all of it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while pipeline.alerts().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "one alert per container: {:?}",
            pipeline.alerts()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
