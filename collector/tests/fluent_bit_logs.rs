//! Fluent Bit's Kubernetes test logs: real docker json-file container logs, every line of
//! which must read as a record.

use std::path::{Path, PathBuf};

use logpipe_collector::format::Format;

use crate::util::{Item, MAX_RECORD_BYTES, Reader, data_path};

fn log_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the test data") {
        let path = entry.expect("read the test data").path();
        if path.is_dir() {
            log_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "log") {
            found.push(path);
        }
    }
}

#[test]
fn every_line_of_the_fluent_bit_logs_reads() {
    let root = data_path("fluent-bit-k8s-testdata");
    let mut files = Vec::new();
    log_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 70, "found only {} log files", files.len());

    let mut lines = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let first_line = bytes.split(|&b| b == b'\n').next().unwrap();
        assert_eq!(
            Format::detect(first_line),
            Some(Format::DockerJson),
            "{}",
            path.display()
        );

        let mut reader = Reader::new(MAX_RECORD_BYTES);
        let items = reader.file(&bytes);
        for item in &items {
            if let Item::Invalid { line, error } = item {
                panic!(
                    "{}: {error}: {}",
                    path.display(),
                    String::from_utf8_lossy(line)
                );
            }
        }
        lines += bytes.iter().filter(|&&b| b == b'\n').count();
        // core_uat-myapp's only line has no `\n` in its `log`: partial until flushed.
        let flushed = reader.flush();
        assert!(items.len() + flushed.len() >= 1, "{}", path.display());
        let end = flushed.iter().map(|record| record.end).max();
        if let Some(end) = end {
            assert_eq!(end, bytes.len() as u64, "{}", path.display());
        }
    }
    assert!(lines >= 100, "read only {lines} lines");
}

/// A record written by an application in JSON, escaped in the docker `log` string,
/// comes back as the application's bytes.
#[test]
fn nested_json_payloads_are_unescaped() {
    let path = data_path("fluent-bit-k8s-testdata/log/core/core_unescaping_json.log");
    let bytes = std::fs::read(path).unwrap();
    let items = Reader::new(MAX_RECORD_BYTES).file(&bytes);
    let [Item::Record(record)] = &items[..] else {
        panic!("expected one record, got {items:?}")
    };
    let payload: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
    assert_eq!(
        payload["text"],
        r#"quoted "text with embedded quoted \"text\"""#
    );
    let inner: serde_json::Value =
        serde_json::from_str(payload["stringified-json"].as_str().unwrap()).unwrap();
    assert!(inner["stringified-json"].is_string());
}
