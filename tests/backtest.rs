//! `logpipe alerting backtest` end to end: a real day index on disk, `logpipe query`
//! serving it, and the backtest reading its history through the export API.

use logpipe_common::testkit::{TestBroker, sample_event};
use logpipe_common::tokens::token_hash;
use logpipe_common::{LogEvent, Timestamp};

use crate::util::{Running, run, write_index};

const TOKEN: &str = "backtest-token";
const RULE: &str = "name: checkout-errors\ntype: threshold\nquery: 'k8s.namespace:shop AND level:error'\n\
    window: 1m\nthreshold: 5\ngroup_by: [k8s.pod]\nseverity: critical\n\
    summary: '{{ count }} errors in {{ group.k8s.pod }}'\nnotify: [oncall]\nrealert: 10m\n";

/// 2026-11-20T12:00:00Z plus `seconds`.
fn at(seconds: i64) -> Timestamp {
    let base = Timestamp::parse_rfc3339("2026-11-20T12:00:00Z").unwrap();
    Timestamp::from_unix_nanos(base.unix_nanos() + seconds * 1_000_000_000)
}

/// Six errors in five seconds from shop's api-1, two from api-2, info lines in shop, a
/// burst in payments, and four api-1 errors before the replayed range.
fn history() -> Vec<LogEvent> {
    let mut n = 0;
    let mut event = |seconds: i64, namespace: &str, pod: &str, error: bool| {
        n += 1;
        let mut event = sample_event(n, at(seconds));
        event.k8s.namespace = Some(namespace.into());
        event.k8s.pod = Some(pod.into());
        event.level = if error {
            logpipe_common::event::Level::Error
        } else {
            logpipe_common::event::Level::Info
        };
        event
    };
    let mut events = Vec::new();
    for s in -50..-46 {
        events.push(event(s, "shop", "api-1", true));
    }
    for s in 0..6 {
        events.push(event(s, "shop", "api-1", true));
        events.push(event(s, "payments", "pay-1", true));
    }
    for s in [10, 20] {
        events.push(event(s, "shop", "api-2", true));
    }
    for s in (0..300).step_by(15) {
        events.push(event(s, "shop", "api-1", false));
    }
    events
}

#[test]
fn backtest_replays_the_history_of_the_query_service_through_the_rules() {
    let broker = TestBroker::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_index(&data, &history());
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "- name: backtest\n  token_sha256: {}\n  namespaces: [\"*\"]\n",
            token_hash(TOKEN)
        ),
    )
    .unwrap();
    let query = Running::start(
        &["query"],
        &[
            ("LOGPIPE_KAFKA_BROKERS", &broker.bootstrap()),
            ("LOGPIPE_DATA_DIR", data.to_str().unwrap()),
            ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1"),
            ("LOGPIPE_QUERY_TOKENS_FILE", tokens.to_str().unwrap()),
            ("LOGPIPE_LOG_LEVEL", "warn,logpipe_common=info"),
            ("PORT", "0"),
        ],
    );
    let url = format!("http://127.0.0.1:{}", query.port());
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("checkout.yaml"), RULE).unwrap();
    let (from, to) = (at(-30).to_string(), at(600).to_string());
    let backtest = |rules: &std::path::Path, token: Option<&str>, output: &str| {
        let mut env = vec![("LOGPIPE_QUERY_URL", url.as_str())];
        if let Some(token) = token {
            env.push(("LOGPIPE_QUERY_TOKEN", token));
        }
        let output = run(
            &[
                "alerting",
                "backtest",
                rules.to_str().unwrap(),
                "--from",
                &from,
                "--to",
                &to,
                "--output",
                output,
            ],
            &env,
        );
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };

    // api-1 reaches five errors at its fifth second in range (the four before the range
    // are not replayed) and resolves once the minute has passed; api-2 never does.
    let (code, stdout, stderr) = backtest(&rules, Some(TOKEN), "json");
    assert_eq!(code, Some(0), "{stderr}");
    let alerts: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(alerts.len(), 2, "{stdout}");
    let (firing, resolved) = (&alerts[0], &alerts[1]);
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["rule"], "checkout-errors");
    assert_eq!(firing["group"], serde_json::json!({"k8s.pod": "api-1"}));
    assert_eq!(firing["count"], 5);
    assert_eq!(firing["summary"], "5 errors in api-1");
    assert_eq!(firing["starts_at"], at(4).to_string());
    assert_eq!(firing["ends_at"], serde_json::Value::Null);
    assert_eq!(firing["id"].as_str().unwrap().len(), 32);
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["starts_at"], firing["starts_at"]);
    assert!(resolved["ends_at"].as_str().unwrap() > firing["starts_at"].as_str().unwrap());
    assert_ne!(resolved["id"], firing["id"]);
    assert!(
        stderr.ends_with("8 events, 2 alerts\n"),
        "the shop errors in range only: {stderr}"
    );

    let (code, stdout, _) = backtest(&rules, Some(TOKEN), "text");
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout.lines().next().unwrap(),
        format!(
            "{} firing checkout-errors k8s.pod=api-1 5 errors in api-1",
            at(4)
        )
    );

    // The query service refusing the request is exit status 2.
    let (code, stdout, stderr) = backtest(&rules, None, "json");
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert!(stderr.contains("401"), "{stderr}");

    // A rule error is `file:line: message` and exit status 1, before any request.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    let file = broken.join("checkout.yaml");
    std::fs::write(&file, RULE.replace("level:error'", "level:'")).unwrap();
    let (code, stdout, stderr) = backtest(&broken, Some(TOKEN), "json");
    assert_eq!((code, stdout.as_str()), (Some(1), ""));
    assert!(
        stderr.contains(&format!("{}:3: query:", file.display())),
        "{stderr}"
    );
    drop(query);
}
