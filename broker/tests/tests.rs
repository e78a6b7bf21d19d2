//! The `logpipe-broker` executable as every crate's tests run it, through
//! `logpipe_common::testkit::TestBroker`. This target also puts the executable into the
//! workspace's test build, beside the test executables where the test kit looks for it.

use std::time::Duration;

use logpipe_common::broker::{BROKER_BIN_VAR, locate_broker};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, messages_from_start, produce_all};
use rdkafka::Message;

const MESSAGES: usize = 2_000;

#[test]
fn the_test_kit_runs_the_executable_of_this_build() {
    if std::env::var_os(BROKER_BIN_VAR).is_some() {
        return;
    }
    assert_eq!(
        locate_broker().unwrap(),
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_logpipe-broker"))
    );
}

/// What the broker acknowledged is in its SQLite storage: a crash loses none of it, and
/// the restarted broker serves it in order from the same port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let mut broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new("logs", 1)])
        .await
        .unwrap();
    let settings = broker.settings();
    let sent = produce_all(
        &settings,
        "logs",
        (0..MESSAGES).map(|n| (format!("key-{n}"), format!("message {n}").into_bytes())),
    )
    .unwrap();
    assert_eq!(sent, MESSAGES);

    broker.kill();
    broker.restart().unwrap();
    let messages =
        messages_from_start(&settings, "logs", 0, MESSAGES, Duration::from_secs(60)).unwrap();
    let payloads: Vec<String> = messages
        .iter()
        .map(|message| String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned())
        .collect();
    let expected: Vec<String> = (0..MESSAGES).map(|n| format!("message {n}")).collect();
    assert!(
        payloads == expected,
        "{} messages back; broker log:\n{}",
        payloads.len(),
        broker.log()
    );
}
