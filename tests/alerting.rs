//! Alerting drill with the real binary: a threshold window open when the process is
//! killed with SIGKILL; after the restart the alert fires exactly once, signed, and a
//! second kill after the delivery does not repeat it.

use std::time::{Duration, Instant};

use logpipe_alerting::notify::{Secret, verify};
use logpipe_common::event::{Level, LogEvent, Timestamp};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, produce_all, sample_event};
use nix::sys::signal::Signal;

use crate::util::{Running, webhook_receiver};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn error(n: u64) -> LogEvent {
    let mut event = sample_event(n, Timestamp::now());
    event.level = Level::Error;
    event.k8s.namespace = Some("shop".into());
    event.k8s.pod = Some("api-1".into());
    event
}

fn produce(broker: &TestBroker, events: &[LogEvent]) {
    produce_all(
        &broker.settings(),
        "logs",
        events
            .iter()
            .map(|e| (e.kafka_key(), serde_json::to_vec(e).unwrap())),
    )
    .unwrap();
}

#[test]
fn alerting_killed_mid_window_fires_exactly_once_signed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (hook, calls) = webhook_receiver(&runtime);
    let broker = TestBroker::start().unwrap();
    runtime
        .block_on(broker.create_topics(&[TopicSpec::new("logs", 2), TopicSpec::new("alerts", 1)]))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("checkout.yaml"),
        "name: checkout-errors\ntype: threshold\nquery: 'k8s.namespace:shop AND level:error'\n\
         window: 10m\nthreshold: 5\ngroup_by: [k8s.pod]\nnotify: [oncall]\nrealert: 1h\n",
    )
    .unwrap();
    let notifiers = dir.path().join("notifiers.yaml");
    std::fs::write(
        &notifiers,
        format!("oncall:\n  url: http://{hook}/hook\n  format: alertmanager\n  secret_env: ONCALL_SECRET\n"),
    )
    .unwrap();
    let bootstrap = broker.bootstrap();
    let data = dir.path().join("data");
    let start = || {
        Running::start(
            &["alerting"],
            &[
                ("LOGPIPE_KAFKA_BROKERS", bootstrap.as_str()),
                ("LOGPIPE_DATA_DIR", data.to_str().unwrap()),
                ("LOGPIPE_ALERTING_RULES_DIR", rules.to_str().unwrap()),
                (
                    "LOGPIPE_ALERTING_NOTIFIERS_FILE",
                    notifiers.to_str().unwrap(),
                ),
                ("LOGPIPE_ALERTING_WEBHOOK_ALLOW", "127.0.0.0/8"),
                ("LOGPIPE_ALERTING_CHECKPOINT_INTERVAL_MS", "200"),
                ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1"),
                (
                    "LOGPIPE_LOG_LEVEL",
                    "warn,logpipe_alerting=info,logpipe_common=info",
                ),
                ("PORT", "0"),
                ("ONCALL_SECRET", SECRET),
            ],
        )
    };

    let mut process = start();
    process.wait_for_message("alerting consumer assigned", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    produce(&broker, &(0..3).map(error).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_millis(1000));
    process.signal(Signal::SIGKILL);
    process.wait(Duration::from_secs(10));
    assert!(
        calls.lock().unwrap().is_empty(),
        "three of five: nothing yet"
    );

    let mut process = start();
    process.wait_for_message("alerting consumer assigned", Duration::from_secs(30));
    produce(&broker, &(3..5).map(error).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(60);
    while calls.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the alert fired after the restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    process.signal(Signal::SIGKILL);
    process.wait(Duration::from_secs(10));

    // A third run replays from the last checkpoint; nothing is sent again.
    let mut process = start();
    process.wait_for_message("alerting consumer assigned", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(3));
    process.signal(Signal::SIGTERM);
    process.wait(Duration::from_secs(10));

    let calls = calls.lock().unwrap();
    assert_eq!(
        calls.len(),
        1,
        "exactly once: {:?}",
        calls
            .iter()
            .map(|(_, b, _)| String::from_utf8_lossy(b).to_string())
            .collect::<Vec<_>>()
    );
    let (headers, body, _) = &calls[0];
    verify(&Secret::parse(SECRET).unwrap(), headers, body)
        .expect("a valid Standard Webhooks signature");
    let payload: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(
        payload["alerts"][0]["labels"]["alertname"],
        "checkout-errors"
    );
    assert_eq!(payload["alerts"][0]["labels"]["k8s.pod"], "api-1");
}
