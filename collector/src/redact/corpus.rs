//! The redaction corpus: lines with secrets and how they must be masked
//! (`tests/data/redaction/positive.tsv`), lines without secrets that must pass unchanged
//! (`tests/data/redaction/negative.txt`, and real third-party logs in `../shared/data`).
//! Each test checks every case and fails listing all that are wrong.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use logpipe_common::event::LogEvent;
use logpipe_common::testkit::shared_data;

use super::testing::{event_of, redact, redact_both_ways};

fn corpus_file(name: &str) -> PathBuf {
    logpipe_common::testkit::package_dir(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/redaction")
        .join(name)
}

/// The lines of a corpus file that are cases, with their line numbers.
fn cases(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| (index + 1, line.to_owned()))
        .collect()
}

fn is_json_object(line: &str) -> bool {
    line.starts_with('{') && serde_json::from_str::<serde_json::Map<_, _>>(line).is_ok()
}

/// What is wrong with redacting `input`, expected to become `expected`, as text and (for
/// a JSON object) as an event; `None` when nothing is.
fn check(input: &str, expected: &str) -> Option<String> {
    let mut problems = String::new();
    let (output, count) = redact(input);
    if output != expected {
        let _ = write!(
            problems,
            "\n    text: got   {output}\n          want  {expected}"
        );
    }
    if (count == 0) != (input == expected) {
        let _ = write!(problems, "\n    text: {count} values masked");
    }
    if is_json_object(input) {
        let want = event_of(expected);
        let [parsed, written] = redact_both_ways(input);
        for (path, (event, count)) in [("parsed", parsed), ("raw", written)] {
            if event != want {
                let _ = write!(
                    problems,
                    "\n    {path} event: got   {}\n          want  {}",
                    event_json(&event),
                    event_json(&want),
                );
            }
            if (count == 0) != (input == expected) {
                let _ = write!(problems, "\n    {path} event: {count} values masked");
            }
        }
    }
    (!problems.is_empty()).then_some(problems)
}

fn event_json(event: &LogEvent) -> String {
    serde_json::json!({"message": event.message, "attributes": event.attributes}).to_string()
}

/// Fails listing every case that went wrong.
fn report(file: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {total} cases of {file} are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn secrets_of_the_corpus_are_masked() {
    let path = corpus_file("positive.tsv");
    let cases = cases(&path);
    assert!(cases.len() >= 100, "{} positive cases", cases.len());
    let mut failures = Vec::new();
    for (line, case) in &cases {
        let Some((input, expected)) = case.split_once('\t') else {
            failures.push(format!("line {line}: expected input, a tab and the output"));
            continue;
        };
        if input == expected {
            failures.push(format!("line {line}: the output is the input"));
        } else if let Some(problems) = check(input, expected) {
            failures.push(format!("line {line}: {input}{problems}"));
        }
    }
    report("positive.tsv", cases.len(), &failures);
}

#[test]
fn lines_of_the_corpus_without_secrets_pass_unchanged() {
    let path = corpus_file("negative.txt");
    let cases = cases(&path);
    assert!(cases.len() >= 100, "{} negative cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(line, input)| {
            check(input, input).map(|problems| format!("line {line}: {input}{problems}"))
        })
        .collect();
    report("negative.txt", cases.len(), &failures);
}

/// Real logs of `../shared/data`, none of which holds a secret but for the one audit
/// trace that stores AWS keys in a ConfigMap (see below).
#[test]
fn shared_third_party_logs_pass_unchanged() {
    let data = shared_data();
    let mut files = vec![
        data.join("elastic-examples/apache_logs"),
        data.join("elastic-examples/nginxplus_json_logs.jsonl"),
    ];
    let audit = data.join("falco-k8s-audit/trace_files/k8s_audit");
    let mut traces: Vec<PathBuf> = std::fs::read_dir(&audit)
        .unwrap_or_else(|error| panic!("read {}: {error}", audit.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| !path.ends_with(SENSITIVE_TRACE))
        .collect();
    traces.sort();
    files.extend(traces);
    let mut total = 0;
    let mut failures = Vec::new();
    for path in &files {
        for (line, input) in cases(path) {
            total += 1;
            if let Some(problems) = check(&input, &input) {
                let name = path.strip_prefix(&data).unwrap_or(path).display();
                failures.push(format!("{name}:{line}: {input}{problems}"));
            }
        }
    }
    assert!(total > 10_000, "{total} lines");
    report("../shared/data", total, &failures);
}

/// The falco trace of ConfigMaps holding `aws_secret_access_key = MY-KEY` after an
/// access key id, a `password` or a `passphrase` (`= MY-ID`).
const SENSITIVE_TRACE: &str = "create_configmap_sensitive_values.json";

#[test]
fn the_audit_trace_with_aws_keys_is_masked() {
    let path = shared_data()
        .join("falco-k8s-audit/trace_files/k8s_audit")
        .join(SENSITIVE_TRACE);
    for (line, input) in cases(&path) {
        let expected = input
            .replace("= MY-KEY", "= ***")
            .replace("password = MY-ID", "password = ***")
            .replace("passphrase = MY-ID", "passphrase = ***");
        assert_ne!(expected, input, "line {line}");
        if let Some(problems) = check(&input, &expected) {
            panic!("line {line}: {problems}");
        }
    }
}
