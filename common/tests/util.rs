//! Helpers shared by the integration tests.

use logpipe_common::{K8s, RawRecord, Source, SourceKind, Stream, Timestamp};

/// A raw record as the collector would build it for a container log line.
pub fn container_record<'a>(
    payload: &'a [u8],
    runtime_ts: Option<Timestamp>,
    offset: u64,
) -> RawRecord<'a> {
    RawRecord {
        payload,
        runtime_ts,
        observed_ts: Timestamp::from_unix_nanos(1_764_219_600_000_000_000),
        stream: Some(Stream::Stdout),
        k8s: K8s {
            namespace: Some("shop".into()),
            pod: Some("api-0".into()),
            pod_uid: Some("0b1c".into()),
            container: Some("api".into()),
            node: "node-1".into(),
            ..K8s::default()
        },
        source: Source {
            kind: SourceKind::File,
            name: None,
            path: Some("/var/log/pods/shop_api-0_0b1c/api/0.log".into()),
            offset: Some(offset),
            via: None,
        },
        identity: "dev=1,ino=1",
        offset,
        truncated: false,
    }
}

/// A raw record from a named host file (e.g. the API server's audit log).
pub fn host_file_record<'a>(payload: &'a [u8], name: &str, offset: u64) -> RawRecord<'a> {
    RawRecord {
        payload,
        runtime_ts: None,
        observed_ts: Timestamp::from_unix_nanos(1_764_219_600_000_000_000),
        stream: None,
        k8s: K8s {
            node: "node-1".into(),
            ..K8s::default()
        },
        source: Source {
            kind: SourceKind::File,
            name: Some(name.into()),
            path: Some("/var/log/kubernetes/audit/audit.log".into()),
            offset: Some(offset),
            via: None,
        },
        identity: "dev=1,ino=2",
        offset,
        truncated: false,
    }
}

/// Every non-empty line of every file under `dir` (recursively) with a name ending in
/// `suffix`, with the file it came from.
pub fn lines_under(dir: &std::path::Path, suffix: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
            lines.push((file.display().to_string(), line.to_vec()));
        }
    }
    lines
}
