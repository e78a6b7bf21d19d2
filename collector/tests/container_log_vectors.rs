//! Conformance with the upstream container log vectors in
//! `container-log-formats/container_log_format_vectors.json` (kubelet, containerd,
//! nerdctl, moby, Vector and Fluent Bit test suites), read as a reader sees them.
//!
//! Where our documented semantics differ from one upstream, the test asserts ours and
//! says so next to the vector id. The differences:
//! - the content of a full line never keeps its `\n` (kubelet keeps it for CRI `F` lines
//!   and Fluent Bit for docker lines; Vector strips it, as we do);
//! - a docker `log` without a trailing `\n` is partial (moby writes `\n` after every full
//!   message; Vector only calls a record of exactly 16 KiB partial);
//! - a line not in its file's format is an error that the caller keeps whole, and it
//!   neither ends nor flushes a record being joined (Fluent Bit flushes);
//! - docker records need a `stdout`/`stderr` stream and a time within 1677–2262.

use logpipe_collector::FormatError;
use logpipe_collector::format::{Format, Fragment};
use logpipe_common::event::{Stream, Timestamp};
use serde_json::Value;

use crate::util::{Item, MAX_RECORD_BYTES, Reader, expand, hex, line_bytes, texts, vectors};

/// Vectors, or parts of vectors, that describe nothing a reader does.
const SKIPPED: [(&str, &str); 2] = [
    (
        "k8s-readlogs-file: every option but `default`",
        "tailLines, limitBytes, sinceTime and follow are options of kubelet's ReadLogs \
         (kubectl logs), not of a log reader",
    ),
    (
        "moby-rotation",
        "rotation and compression of old files are the tailer's concern; each line has \
         the moby-basic form, which is tested",
    ),
];

const SECTIONS: [&str; 10] = [
    "_about",
    "format_summary",
    "cri_parse_vectors",
    "cri_writer_split_vectors",
    "cri_multiline_reassembly_vectors",
    "docker_json_parse_vectors",
    "docker_json_invalid_vectors",
    "docker_json_writer_vectors",
    "docker_json_escaping_vectors",
    "docker_time_vectors",
];

#[test]
fn every_section_is_tested() {
    let vectors = vectors();
    let sections: Vec<&str> = vectors
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sections, SECTIONS, "a section was added or removed");
    for (what, why) in SKIPPED {
        assert!(!why.is_empty(), "{what} needs a reason");
    }
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap_or_else(|| panic!("bad timestamp {text}"))
}

fn stream(name: &str) -> Stream {
    match name {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        other => panic!("bad stream {other}"),
    }
}

fn parse<'a>(format: Format, line: &'a [u8], id: &str) -> Fragment<'a> {
    format
        .parse(line)
        .unwrap_or_else(|error| panic!("{id}: {error}"))
}

#[test]
fn cri_parse_vectors() {
    let vectors = vectors();
    for vector in vectors["cri_parse_vectors"].as_array().unwrap() {
        let id = vector["id"].as_str().unwrap();
        let expect = &vector["expect"];
        let line = line_bytes(vector);

        if expect["error"] == true {
            assert_eq!(Format::detect(&line), None, "{id}");
            assert_eq!(
                Format::Cri.parse(&line),
                Err(FormatError::InvalidTimestamp),
                "{id}"
            );
            assert!(Format::DockerJson.parse(&line).is_err(), "{id}");
            continue;
        }

        assert_eq!(Format::detect(&line), Some(Format::Cri), "{id}");
        let fragment = parse(Format::Cri, &line, id);
        if let Some(Value::String(text)) = expect.get("timestamp") {
            assert_eq!(fragment.runtime_ts, ts(text), "{id}");
        }
        assert_eq!(
            fragment.stream,
            stream(expect["stream"].as_str().unwrap()),
            "{id}"
        );
        assert_eq!(fragment.partial, expect["partial"] == true, "{id}");
        if let Some(tags) = expect.get("tags") {
            // k8s-cri-partial-multitag: tags after the first are tolerated, not exposed.
            assert_eq!(tags[0] == "P", fragment.partial, "{id}");
        }

        let content = if let Some(text) = expect.get("content_kubelet") {
            // k8s-cri-stdout-F, k8s-cri-stderr-F: kubelet keeps the `\n` of an F line in
            // the content; the line end is not content for us.
            let text = expand(text);
            text.strip_suffix('\n').unwrap_or(&text).as_bytes().to_vec()
        } else if let Some(text) = expect.get("content") {
            expand(text).into_bytes()
        } else if let Some(text) = expect.get("message") {
            expand(text).into_bytes()
        } else {
            hex(expect["message_hex"].as_str().expect("an expected content"))
        };
        assert_eq!(&*fragment.content, &content[..], "{id}");
    }
}

/// nerdctl-cri-offset-tz: 10000 P fragments '0'..'9999' and an empty F, twice, are two
/// records, each ending in '9999'.
#[test]
fn cri_many_fragments_with_offset_timestamps() {
    let ts = "2022-10-29T16:10:22.592603036-05:00";
    let mut file = String::new();
    for _ in 0..2 {
        for i in 0..10_000 {
            file.push_str(&format!("{ts} stdout P {i}\n"));
        }
        file.push_str(&format!("{ts} stdout F \n"));
    }
    let mut reader = Reader::new(MAX_RECORD_BYTES);
    let items = reader.file(file.as_bytes());
    let expected: String = (0..10_000).map(|i| i.to_string()).collect();
    assert_eq!(texts(&items), [expected.clone(), expected]);
    let Item::Record(second) = &items[1] else {
        panic!("not a record")
    };
    assert_eq!(second.end, file.len() as u64);
    assert_eq!(
        second.runtime_ts.to_string(),
        "2022-10-29T21:10:22.592603036Z"
    );
}

/// containerd's writer output (the vector's `out`/`out_a`) read back gives the lines
/// that went in.
#[test]
fn cri_writer_split_vectors() {
    let vectors = vectors();
    let section = &vectors["cri_writer_split_vectors"];
    for case in section["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let stream = case
            .get("stream")
            .and_then(Value::as_str)
            .unwrap_or("stdout");

        let (out, expected): (Vec<(String, String)>, Vec<String>) =
            if let Some(out) = case.get("out") {
                let out = out
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|pair| (expand(&pair[0]), expand(&pair[1])))
                    .collect();
                let input = case["input"].as_str().unwrap();
                let lines = input.strip_suffix('\n').unwrap_or(input);
                (out, lines.split('\n').map(str::to_owned).collect())
            } else {
                let a = |count: &Value| "a".repeat(count.as_u64().unwrap() as usize);
                let out = case["out_a"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|pair| (expand(&pair[0]), a(&pair[1])))
                    .collect();
                // input_a_lines_crlf: the writer strips the `\r\n`, so the content is the
                // `a`s alone.
                let input = case
                    .get("input_a_lines")
                    .or_else(|| case.get("input_a_lines_crlf"))
                    .unwrap();
                (out, input.as_array().unwrap().iter().map(a).collect())
            };

        let file: String = out
            .iter()
            .enumerate()
            .map(|(i, (tag, content))| {
                format!("2026-11-27T05:00:00.{i:09}+01:00 {stream} {tag} {content}\n")
            })
            .collect();
        let mut reader = Reader::new(MAX_RECORD_BYTES);
        let mut records: Vec<String> = texts(&reader.file(file.as_bytes()));
        // "log ends without newline": the writer's last fragment is P, and stays pending
        // until the file is rotated away or the flush timeout passes.
        if name == "log ends without newline" {
            assert!(reader.pending_offset().is_some(), "{name}");
        }
        records.extend(
            reader
                .flush()
                .into_iter()
                .map(|record| String::from_utf8(record.payload).unwrap()),
        );
        assert_eq!(records, expected, "{name}");
    }
}

/// Joined records over the limit keep their beginning, and the records after them are
/// whole: containerd's 32 KiB lines read with a 5000-byte limit.
#[test]
fn cri_writer_split_records_over_the_limit() {
    let mut file = String::new();
    for (tag, count) in [
        ("P", 16384),
        ("F", 16384),
        ("P", 16384),
        ("P", 16384),
        ("F", 1),
    ] {
        file.push_str(&format!(
            "2026-11-27T05:00:00Z stdout {tag} {}\n",
            "a".repeat(count)
        ));
    }
    file.push_str("2026-11-27T05:00:00Z stdout F short\n");
    let mut reader = Reader::new(5000);
    let items = reader.file(file.as_bytes());
    let records: Vec<_> = items
        .iter()
        .map(|item| match item {
            Item::Record(record) => (record.payload.len(), record.truncated),
            Item::Invalid { error, .. } => panic!("{error}"),
        })
        .collect();
    assert_eq!(records, [(5000, true), (5000, true), (5, false)]);
}

/// Fluent Bit's built-in `cri` and `docker` multiline parsers.
#[test]
fn cri_multiline_reassembly_vectors() {
    let vectors = vectors();
    let section = vectors["cri_multiline_reassembly_vectors"]
        .as_object()
        .unwrap();
    for (name, case) in section {
        if name == "_about" {
            continue;
        }
        let input: Vec<String> = case["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(expand)
            .collect();
        let upstream: Vec<String> = case["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(expand)
            .collect();
        let expected: Vec<String> = match name.as_str() {
            // docker: "cc\n" is written with a raw newline inside the JSON string; we read
            // it as Fluent Bit does. The non-JSON line is kept whole but, unlike in Fluent
            // Bit, does not flush the pending stderr "dd", which its next fragment "ee\n"
            // completes.
            "docker" => [
                "aa",
                "aa",
                "bbcc",
                "single line to force pending flush of the previous line",
                "ddee",
            ]
            .map(str::to_owned)
            .to_vec(),
            // Everywhere else only the `\n` that Fluent Bit keeps at the end differs.
            _ => upstream
                .iter()
                .map(|text| text.strip_suffix('\n').unwrap_or(text).to_owned())
                .collect(),
        };
        let mut reader = Reader::new(MAX_RECORD_BYTES).per_line();
        let items = reader.lines(input.iter().map(String::as_bytes));
        assert_eq!(texts(&items), expected, "{name}");
        assert_eq!(reader.pending_offset(), None, "{name}");
        if name == "docker" {
            assert!(matches!(items[3], Item::Invalid { .. }));
        }
    }
}

#[test]
fn docker_json_parse_vectors() {
    let vectors = vectors();
    for vector in vectors["docker_json_parse_vectors"].as_array().unwrap() {
        let id = vector["id"].as_str().unwrap();
        let expect = vector.get("expect");
        if let Some(lines) = vector.get("file_lines") {
            docker_file_lines(id, lines, &vector["expect_by_option"]);
            continue;
        }
        let expect = expect.unwrap();
        let line = line_bytes(vector);
        assert_eq!(Format::detect(&line), Some(Format::DockerJson), "{id}");
        let fragment = parse(Format::DockerJson, &line, id);
        if let Some(Value::String(text)) = expect.get("timestamp") {
            assert_eq!(fragment.runtime_ts, ts(text), "{id}");
        }
        if let Some(Value::String(name)) = expect.get("stream") {
            assert_eq!(fragment.stream, stream(name), "{id}");
        }
        let content = expect
            .get("content")
            .or_else(|| expect.get("message"))
            .unwrap();
        assert_eq!(&*fragment.content, expand(content).as_bytes(), "{id}");
        let partial = match id {
            // vector-docker-2: Vector calls a `log` without `\n` full unless it is exactly
            // 16 KiB; moby never writes a full message without `\n`, so it is partial.
            // k8s-docker-stdout, k8s-docker-stderr: kubelet does not look; the same holds.
            "vector-docker-2" | "k8s-docker-stdout" | "k8s-docker-stderr" => true,
            _ => expect["partial"].as_bool().expect("an expected partial"),
        };
        assert_eq!(fragment.partial, partial, "{id}");
    }
}

/// k8s-readlogs-file: kubelet's default read of the file is every record with its `\n`.
fn docker_file_lines(id: &str, lines: &Value, expect_by_option: &Value) {
    let file: String = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|line| format!("{}\n", expand(line)))
        .collect();
    let mut reader = Reader::new(MAX_RECORD_BYTES);
    let joined: String = texts(&reader.file(file.as_bytes()))
        .iter()
        .map(|text| format!("{text}\n"))
        .collect();
    assert_eq!(
        joined,
        expect_by_option["default"].as_str().unwrap(),
        "{id}"
    );
}

#[test]
fn docker_json_invalid_vectors() {
    let vectors = vectors();
    let section = &vectors["docker_json_invalid_vectors"];
    let lines = section["lines"].as_array().unwrap();
    let comments = section["comments"].as_array().unwrap();
    assert_eq!(lines.len(), comments.len());
    for (line, comment) in lines.iter().zip(comments) {
        let comment = comment.as_str().unwrap();
        let line = expand(line);
        let error = Format::DockerJson.parse(line.as_bytes()).unwrap_err();
        match comment {
            "empty timestamp" | "invalid timestamp" => {
                assert_eq!(error, FormatError::InvalidTimestamp, "{comment}");
            }
            _ => assert!(
                error
                    .to_string()
                    .starts_with("not a docker json-file record: "),
                "{comment}: {error}"
            ),
        }
    }
}

/// What moby writes for a record, read back. The vectors give the serialized prefix up to
/// `"time":`; a time (and a stream, which we require) completes the line.
#[test]
fn docker_json_escaping_vectors() {
    let vectors = vectors();
    let cases = vectors["docker_json_escaping_vectors"]["cases"]
        .as_array()
        .unwrap();
    for case in cases {
        let line = if let Some(exact) = case.get("expected_exact") {
            expand(exact)
        } else {
            let prefix = expand(&case["expected_prefix"]);
            let mut body = prefix.strip_suffix("\"time\":").unwrap().to_owned();
            if !body.contains("\"stream\"") {
                body.push_str("\"stream\":\"stdout\",");
            }
            format!("{body}\"time\":\"2017-09-01T01:01:01.000000001Z\"}}")
        };
        let log = match (case.get("log"), case.get("log_hex")) {
            (Some(log), _) => Some(expand(log).into_bytes()),
            // log_hex af: moby replaced the invalid byte, so the reader sees U+FFFD.
            (None, Some(Value::String(bytes))) if bytes == "af" => {
                Some("\u{fffd}".as_bytes().to_vec())
            }
            (None, Some(Value::String(bytes))) => Some(hex(bytes)),
            _ => None,
        };
        match log {
            Some(log) => {
                let fragment = parse(Format::DockerJson, line.as_bytes(), &line);
                assert_eq!(&*fragment.content, &log[..], "{line}");
                assert!(fragment.partial, "{line}");
                assert_eq!(
                    fragment.runtime_ts.to_string(),
                    "2017-09-01T01:01:01.000000001Z"
                );
            }
            // Records without `log` (a stream alone, an empty record) are not container
            // output, as in docker_json_invalid_vectors "no log field".
            None => assert!(Format::DockerJson.parse(line.as_bytes()).is_err(), "{line}"),
        }
    }
}

#[test]
fn docker_time_vectors() {
    let vectors = vectors();
    // The times of the vectors in UTC: Paris is at +02:00 in May.
    let utc = [
        (
            "\"2015-05-29T11:01:02.000000003Z\"",
            "2015-05-29T11:01:02.000000003Z",
        ),
        (
            "\"2015-05-29T11:01:02.000000003+02:00\"",
            "2015-05-29T09:01:02.000000003Z",
        ),
    ];
    for case in vectors["docker_time_vectors"]["cases"].as_array().unwrap() {
        let Some(json) = case.get("json") else {
            // "year outside of range": moby refuses to write such a time; a reader
            // rejects one, and also moby's zero time, outside the years 1677–2262 that
            // an event timestamp holds.
            assert_eq!(case["error"], "year outside of range");
            for time in [
                "10000-01-01T00:00:00Z",
                "-0001-01-01T00:00:00Z",
                "0001-01-01T00:00:00Z",
            ] {
                let line = format!(r#"{{"log":"x\n","stream":"stdout","time":"{time}"}}"#);
                assert_eq!(
                    Format::DockerJson.parse(line.as_bytes()),
                    Err(FormatError::InvalidTimestamp),
                    "{time}"
                );
            }
            continue;
        };
        let json = json.as_str().unwrap();
        let expected = utc
            .iter()
            .find(|(k, _)| *k == json)
            .expect("a known time")
            .1;
        let line = format!(r#"{{"log":"x\n","stream":"stdout","time":{json}}}"#);
        let fragment = parse(Format::DockerJson, line.as_bytes(), json);
        assert_eq!(fragment.runtime_ts.to_string(), expected);
    }
}

#[test]
fn docker_json_writer_vectors() {
    let vectors = vectors();
    for vector in vectors["docker_json_writer_vectors"].as_array().unwrap() {
        let id = vector["id"].as_str().unwrap();
        match id {
            "moby-basic" | "moby-tag-attrs" => moby_test_file(id, vector),
            "moby-labels-env-attrs" => {
                // The attrs moby adds are ignored by the reader.
                let attrs = &vector["expected_attrs"];
                let line = format!(
                    r#"{{"log":"line1\n","stream":"stdout","attrs":{attrs},"time":"2017-09-01T01:01:01Z"}}"#
                );
                let fragment = parse(Format::DockerJson, line.as_bytes(), id);
                assert_eq!(&*fragment.content, b"line1");
            }
            _ => assert!(
                SKIPPED.iter().any(|(skipped, _)| *skipped == id),
                "{id} is neither tested nor skipped"
            ),
        }
    }
}

/// moby's test files use sources `src1`.. and the zero time, which no container log
/// holds: a reader rejects those lines (and the tailer keeps them whole). With a real
/// stream and time, the same lines read back as what was logged.
fn moby_test_file(id: &str, vector: &Value) {
    let file = expand(&vector["expected_file"]);
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 3, "{id}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            Format::DockerJson.parse(line.as_bytes()),
            Err(FormatError::UnexpectedStream),
            "{id}"
        );
        let line = line.replace(&format!("\"src{}\"", i + 1), "\"stdout\"");
        assert_eq!(
            Format::DockerJson.parse(line.as_bytes()),
            Err(FormatError::InvalidTimestamp),
            "{id}"
        );
    }
    let fixed = file
        .replace("0001-01-01T00:00:00Z", "2017-09-01T01:01:01Z")
        .replace("\"src1\"", "\"stdout\"")
        .replace("\"src2\"", "\"stderr\"")
        .replace("\"src3\"", "\"stdout\"");
    let mut reader = Reader::new(MAX_RECORD_BYTES);
    let items = reader.file(fixed.as_bytes());
    assert_eq!(texts(&items), ["line1", "line2", "line3"], "{id}");
    let Item::Record(second) = &items[1] else {
        panic!("{id}: not a record")
    };
    assert_eq!(second.stream, Stream::Stderr);
    assert_eq!(second.offset, fixed.find('\n').unwrap() as u64 + 1);
}
