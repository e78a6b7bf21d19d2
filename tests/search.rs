//! Search end to end with the real binary: events on Kafka, two `logpipe indexer`
//! processes each serving search over its partition, `logpipe query` fanning out to both,
//! and the `logpipe search` CLI with a namespace-scoped token.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logpipe_common::Timestamp;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, produce_all, sample_event};
use nix::sys::signal::Signal;

use crate::util::{BIN, Running, run};

const TOPIC: &str = "logs";
const EVENTS: u64 = 400;

fn sha256_hex(text: &str) -> String {
    let output = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_string()
}

fn search(url: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut env = vec![("LOGPIPE_QUERY_URL", url)];
    if let Some(token) = token {
        env.push(("LOGPIPE_QUERY_TOKEN", token));
    }
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    let output = run(&all, &env);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn the_search_cli_finds_events_through_query_and_indexers() {
    let broker = TestBroker::start().unwrap();
    let bootstrap = broker.bootstrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(broker.create_topics(&[TopicSpec::new(TOPIC, 2)]))
        .unwrap();
    let now = Timestamp::now();
    let events: Vec<_> = (0..EVENTS)
        .map(|n| {
            sample_event(
                n,
                Timestamp::from_unix_nanos(now.unix_nanos() - n as i64 * 1_000_000_000),
            )
        })
        .collect();
    produce_all(
        &broker.settings(),
        TOPIC,
        events
            .iter()
            .map(|e| (e.kafka_key(), serde_json::to_vec(e).unwrap())),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "- name: shop\n  token_sha256: {}\n  namespaces: [shop]\n",
            sha256_hex("shop-token")
        ),
    )
    .unwrap();
    let tokens = tokens.to_str().unwrap();
    let indexer = |partition: &str, data: &std::path::Path| {
        Running::start(
            &["indexer"],
            &[
                ("LOGPIPE_KAFKA_BROKERS", &bootstrap),
                ("LOGPIPE_DATA_DIR", data.to_str().unwrap()),
                ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1"),
                ("LOGPIPE_QUERY_TOKENS_FILE", tokens),
                ("LOGPIPE_INDEXER_PARTITIONS", partition),
                ("LOGPIPE_LOG_LEVEL", "warn,logpipe_common=info"),
                ("PORT", "0"),
            ],
        )
    };
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let indexer_a = indexer("0", &data_a);
    let mut indexer_b = indexer("1", &data_b);
    let indexers = format!(
        "http://127.0.0.1:{}/,http://127.0.0.1:{}/",
        indexer_a.port(),
        indexer_b.port()
    );
    let query = Running::start(
        &["query"],
        &[
            ("LOGPIPE_KAFKA_BROKERS", &bootstrap),
            (
                "LOGPIPE_DATA_DIR",
                dir.path().join("query").to_str().unwrap(),
            ),
            ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1"),
            ("LOGPIPE_QUERY_TOKENS_FILE", tokens),
            ("LOGPIPE_QUERY_INDEXERS", &indexers),
            ("LOGPIPE_LOG_LEVEL", "warn,logpipe_common=info"),
            ("PORT", "0"),
        ],
    );
    let url = format!("http://127.0.0.1:{}", query.port());
    let token = Some("shop-token");

    // Every shop event becomes searchable: 100 of 400.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, stdout, stderr) = search(
            &url,
            token,
            &["*", "--since", "1h", "--limit", "1000", "--output", "json"],
        );
        if code == 0 && stdout.lines().count() == 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{code} {stderr} {}",
            stdout.lines().count()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // --output json: one LogEvent per line, newest first, only the token's namespace.
    let (code, stdout, _) = search(
        &url,
        token,
        &["level:error", "--since", "1h", "--output", "json"],
    );
    assert_eq!(code, 0);
    let hits: Vec<logpipe_common::LogEvent> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 25);
    assert!(
        hits.iter()
            .all(|e| e.k8s.namespace.as_deref() == Some("shop") && e.level.as_str() == "error")
    );
    assert!(hits.windows(2).all(|w| w[0].ts >= w[1].ts));
    assert_eq!(hits[0], events[0]);

    // raw and table; no colours when not on a terminal.
    let (code, stdout, _) = search(&url, token, &["id:".to_owned().as_str(), "--since", "1h"]);
    assert_eq!(code, 2, "an empty value is a syntax error: {stdout}");
    let (code, stdout, _) = search(
        &url,
        token,
        &["\"request 16\"", "--since", "1h", "--output", "raw"],
    );
    assert_eq!(code, 0);
    assert_eq!(stdout, "GET /cart answered 502 for request 16\n");
    let (code, stdout, _) = search(&url, token, &["\"request 16\"", "--since", "1h"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(" error shop/shop-api-6 GET /cart answered 502 for request 16"),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{1b}'));

    // Grep's exit codes: 1 with no hits (another namespace is invisible), 2 on errors.
    let (code, stdout, _) = search(&url, token, &["k8s.namespace:payments", "--since", "1h"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    let (code, _, stderr) = search(&url, token, &["level:", "--since", "1h"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("expected word") && stderr.contains("at character 6"),
        "{stderr}"
    );
    let (code, _, stderr) = search(&url, None, &["*"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("401"), "{stderr}");
    let (code, _, stderr) = search(&url, Some("wrong"), &["*"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not valid"), "{stderr}");
    let (code, _, stderr) = search("http://127.0.0.1:1", token, &["*"]);
    assert_eq!(code, 2, "{stderr}");

    // --follow: the page, then new matching events as they arrive.
    let mut follow = Command::new(BIN)
        .args([
            "search",
            "level:error",
            "--since",
            "1h",
            "--output",
            "json",
            "--follow",
        ])
        .env("LOGPIPE_QUERY_URL", &url)
        .env("LOGPIPE_QUERY_TOKEN", "shop-token")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let first: Vec<String> = (0..25)
        .map(|_| lines.recv_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    let oldest: logpipe_common::LogEvent = serde_json::from_str(&first[0]).unwrap();
    assert_eq!(oldest, events[384], "oldest first when following");
    // New errors in shop, one a second, until the tail (subscribed after the page) shows one.
    let mut sent = Vec::new();
    let next = loop {
        assert!(sent.len() < 30, "no live event arrived");
        let fresh = sample_event(EVENTS * 16 + 16 * sent.len() as u64, Timestamp::now());
        produce_all(
            &broker.settings(),
            TOPIC,
            [(fresh.kafka_key(), serde_json::to_vec(&fresh).unwrap())],
        )
        .unwrap();
        sent.push(fresh.id);
        if let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) {
            break serde_json::from_str::<logpipe_common::LogEvent>(&line).unwrap();
        }
    };
    assert!(sent.contains(&next.id), "{next:?}");
    assert_eq!(next.k8s.namespace.as_deref(), Some("shop"));
    follow.kill().unwrap();
    let _ = follow.wait();

    // An indexer down: the answer is partial, and says which.
    indexer_b.signal(Signal::SIGKILL);
    indexer_b.wait(Duration::from_secs(10));
    let (code, stdout, stderr) = search(
        &url,
        token,
        &["*", "--since", "1h", "--limit", "1000", "--output", "json"],
    );
    assert_eq!(code, 0);
    assert!(stdout.lines().count() <= 100, "{}", stdout.lines().count());
    assert!(stderr.contains("partial results"), "{stderr}");
    drop(query);
    drop(indexer_a);
}
