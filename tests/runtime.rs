//! Roles as processes against a real broker: startup lines, ops endpoints, SIGTERM.

use std::time::{Duration, Instant};

use logpipe_common::testkit::TestBroker;
use nix::sys::signal::Signal;

use crate::util::{Running, children, get, wait_for_status};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The bound for exiting after SIGTERM: the default drain window (5 s, serving while not
/// ready) and 10 s to stop.
const EXIT_AFTER_SIGTERM: Duration = Duration::from_secs(15);
/// The drain window of the test that checks it for every role.
const DRAIN: Duration = Duration::from_millis(1500);

fn stop_within_bound(process: &mut Running) {
    let asked = Instant::now();
    process.signal(Signal::SIGTERM);
    let status = process
        .wait(EXIT_AFTER_SIGTERM)
        .expect("exited within 15 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "after {:?}", asked.elapsed());
    process.wait_for_message("stopped", Duration::from_secs(1));
}

/// SIGTERM with a drain window of `DRAIN`: `/readyz` fails at once while the port goes
/// on answering, and the process exits 0 once the window is over.
fn stop_after_draining(process: &mut Running, port: u16) {
    let asked = Instant::now();
    process.signal(Signal::SIGTERM);
    let body = wait_for_status(port, "/readyz", 503, DRAIN / 2);
    assert!(body.contains("shutting down"), "{body}");
    assert_eq!(get(port, "/healthz").0, 200, "serving in the drain window");
    assert_eq!(get(port, "/metrics").0, 200, "serving in the drain window");
    assert!(asked.elapsed() < DRAIN, "checked within the window");
    let status = process
        .wait(EXIT_AFTER_SIGTERM)
        .expect("exited within 15 s of SIGTERM");
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "after {took:?}");
    assert!(
        took >= DRAIN,
        "exited after {took:?}, before the drain window ended"
    );
    let shutting_down = process.wait_for_message("shutting down", Duration::from_secs(1));
    assert_eq!(shutting_down["drain_ms"], DRAIN.as_millis() as u64);
    process.wait_for_message("stopped", Duration::from_secs(1));
}

#[test]
fn every_role_starts_reports_readiness_and_stops_on_sigterm() {
    let broker = TestBroker::start().unwrap();
    let bootstrap = broker.bootstrap();
    for role in ["collector", "indexer", "query", "alerting"] {
        let data = tempfile::tempdir().unwrap();
        let mut process = Running::start(
            &[role],
            &[
                ("LOGPIPE_KAFKA_BROKERS", &bootstrap),
                ("LOGPIPE_DATA_DIR", data.path().to_str().unwrap()),
                ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1"),
                ("PORT", "0"),
                ("LOGPIPE_KAFKA_BROKER", "typo"),
                ("LOGPIPE_KAFKA_PROPERTY_sasl.password", "hunter2"),
                ("LOGPIPE_SHUTDOWN_DRAIN_MS", &DRAIN.as_millis().to_string()),
            ],
        );
        let config = process.wait_for_message("effective configuration", Duration::from_secs(10));
        assert_eq!(config["role"], role);
        let shown: serde_json::Value =
            serde_json::from_str(config["config"].as_str().unwrap()).unwrap();
        assert_eq!(shown["shared"]["kafka"]["brokers"][0], bootstrap.as_str());
        assert_eq!(
            shown["shared"]["kafka"]["properties"]["sasl.password"],
            "***"
        );
        let warning =
            process.wait_for_message("unknown configuration variable", Duration::from_secs(5));
        assert_eq!(warning["variable"], "LOGPIPE_KAFKA_BROKER");
        assert_eq!(warning["closest"], "LOGPIPE_KAFKA_BROKERS");

        let port = process.port();
        assert_eq!(get(port, "/healthz").0, 200);
        wait_for_status(port, "/readyz", 200, READY_TIMEOUT);
        let reached = process.wait_for_message("backing service reached", Duration::from_secs(1));
        assert_eq!(reached["service"], "kafka");
        let (status, metrics) = get(port, "/metrics");
        assert_eq!(status, 200);
        assert!(
            metrics.is_empty()
                || metrics.contains("# TYPE")
                || metrics.lines().all(|l| !l.is_empty())
        );
        stop_after_draining(&mut process, port);
        let all = serde_json::to_string(&process.lines()).unwrap();
        assert!(!all.contains("hunter2"), "secret in logs");
    }
}

#[test]
fn role_is_not_ready_while_the_broker_is_unreachable() {
    let mut broker = TestBroker::start().unwrap();
    let bootstrap = broker.bootstrap();
    broker.stop();
    let data = tempfile::tempdir().unwrap();
    let mut process = Running::start(
        &["indexer"],
        &[
            ("LOGPIPE_KAFKA_BROKERS", &bootstrap),
            ("LOGPIPE_KAFKA_REQUEST_TIMEOUT_MS", "1000"),
            ("LOGPIPE_DATA_DIR", data.path().to_str().unwrap()),
            ("PORT", "0"),
        ],
    );
    let port = process.port();
    assert_eq!(get(port, "/healthz").0, 200, "alive without its broker");
    let body = wait_for_status(port, "/readyz", 503, READY_TIMEOUT);
    assert!(body.contains("kafka"), "{body}");
    process.wait_for_message("backing service unreachable", READY_TIMEOUT);
    broker.restart().unwrap();
    wait_for_status(port, "/readyz", 200, READY_TIMEOUT);
    stop_within_bound(&mut process);
}

/// Events `first..first + 50` of `sample_event` produced to standalone's broker: with
/// `first` a multiple of 4, 13 of them are in the namespace `shop`.
fn produce_samples(broker_port: &str, first: u64) {
    let now = logpipe_common::Timestamp::now();
    let events: Vec<_> = (first..first + 50)
        .map(|n| logpipe_common::testkit::sample_event(n, now))
        .collect();
    logpipe_common::testkit::produce_all(
        &logpipe_common::kafka::KafkaSettings::for_brokers(format!("127.0.0.1:{broker_port}")),
        "logs",
        events
            .iter()
            .map(|e| (e.kafka_key(), serde_json::to_vec(e).unwrap())),
    )
    .unwrap();
}

fn wait_for_shop_total(port: u16, total: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(port, "/api/v1/search?q=k8s.namespace:shop&since=1h");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status == 200 && body["total"] == total {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn standalone_embeds_its_broker_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let broker_port = logpipe_common::testkit::free_port().unwrap().to_string();
    let mut process = Running::start(
        &["standalone"],
        &[
            ("LOGPIPE_DATA_DIR", data.path().to_str().unwrap()),
            ("LOGPIPE_STANDALONE_BROKER_PORT", &broker_port),
            ("LOGPIPE_STANDALONE_DEMO", "off"),
            ("PORT", "0"),
        ],
    );
    process.wait_for_message("effective configuration", Duration::from_secs(10));
    let started = process.wait_for_message("embedded broker started", READY_TIMEOUT);
    assert_eq!(started["bootstrap"], format!("127.0.0.1:{broker_port}"));
    let port = process.port();
    assert_eq!(get(port, "/healthz").0, 200);
    wait_for_status(port, "/readyz", 200, READY_TIMEOUT);
    process.wait_for_message("backing service reached", Duration::from_secs(1));
    assert!(data.path().join("broker/tansu.db").exists());

    // Events on the topic are searchable through the co-located query service, which
    // reads the indexer's catalog directly.
    produce_samples(&broker_port, 0);
    wait_for_shop_total(port, 13);
    stop_within_bound(&mut process);
    process.wait_for_message("embedded broker stopped", Duration::from_secs(1));
}

/// The first run on a machine where no broker was ever installed: nothing on `PATH`, no
/// broker process started, and the demo's events are searchable through the broker built
/// into the binary.
#[test]
fn standalone_needs_no_broker_installed() {
    let data = tempfile::tempdir().unwrap();
    let nothing = data.path().join("empty-path");
    std::fs::create_dir(&nothing).unwrap();
    let broker_port = logpipe_common::testkit::free_port().unwrap().to_string();
    let mut process = Running::start(
        &["standalone"],
        &[
            ("PATH", nothing.to_str().unwrap()),
            ("LOGPIPE_DATA_DIR", data.path().to_str().unwrap()),
            ("LOGPIPE_STANDALONE_BROKER_PORT", &broker_port),
            ("LOGPIPE_STANDALONE_DEMO", "on"),
            ("PORT", "0"),
        ],
    );
    process.wait_for_message("embedded broker started", READY_TIMEOUT);
    let port = process.port();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(port, "/api/v1/search?q=k8s.namespace:shop&since=15m");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status == 200 && body["total"].as_u64().is_some_and(|total| total > 0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        children(process.pid()),
        Vec::<i32>::new(),
        "no broker process"
    );
    // The broker's crates log each record they decode at info: kept at warn.
    let chatty = process
        .lines()
        .iter()
        .filter(|line| {
            line["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("tansu"))
        })
        .filter(|line| line["level"] == "INFO" || line["level"] == "DEBUG")
        .count();
    assert_eq!(chatty, 0, "broker lines below warn on stdout");
    assert!(data.path().join("broker/tansu.db").exists());
    stop_within_bound(&mut process);
}

/// `kill -9` of standalone takes its broker with it (the same process); the next start
/// opens the same broker data on the same port and carries on.
#[test]
fn standalone_after_kill_9_restarts_on_its_broker_data() {
    let data = tempfile::tempdir().unwrap();
    let broker_port = logpipe_common::testkit::free_port().unwrap().to_string();
    let env = [
        ("LOGPIPE_DATA_DIR", data.path().to_str().unwrap()),
        ("LOGPIPE_STANDALONE_BROKER_PORT", broker_port.as_str()),
        ("LOGPIPE_STANDALONE_DEMO", "off"),
        ("PORT", "0"),
    ];
    let mut first = Running::start(&["standalone"], &env);
    first.wait_for_message("embedded broker started", READY_TIMEOUT);
    let port = first.port();
    wait_for_status(port, "/readyz", 200, READY_TIMEOUT);
    produce_samples(&broker_port, 0);
    wait_for_shop_total(port, 13);
    first.signal(nix::sys::signal::Signal::SIGKILL);
    first.wait(Duration::from_secs(10)).unwrap();

    let mut second = Running::start(&["standalone"], &env);
    second.wait_for_message("embedded broker started", READY_TIMEOUT);
    let port = second.port();
    wait_for_status(port, "/readyz", 200, READY_TIMEOUT);
    produce_samples(&broker_port, 100);
    wait_for_shop_total(port, 26);
    stop_within_bound(&mut second);
}

/// A newcomer's first run: no pods on the machine, so standalone writes its demo workload;
/// live data from every demo namespace is searchable within seconds and the demo rule
/// fires to the log.
#[test]
fn standalone_without_pods_runs_the_demo_and_its_rule_fires() {
    let data = tempfile::tempdir().unwrap();
    let broker_port = logpipe_common::testkit::free_port().unwrap().to_string();
    let empty = data.path().join("no-pods-here");
    let mut process = Running::start(
        &["standalone"],
        &[
            ("LOGPIPE_DATA_DIR", data.path().to_str().unwrap()),
            ("LOGPIPE_STANDALONE_BROKER_PORT", &broker_port),
            ("LOGPIPE_COLLECTOR_PODS_DIR", empty.to_str().unwrap()),
            ("PORT", "0"),
        ],
    );
    let demo = process.wait_for_message("demo workload started", READY_TIMEOUT);
    assert_eq!(
        demo["pods_dir"],
        data.path().join("demo/pods").to_str().unwrap()
    );
    let port = process.port();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(port, "/api/v1/fields/k8s.namespace/values?since=15m");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let namespaces = body["values"].as_array().map_or(0, Vec::len);
        if status == 200 && namespaces == 5 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The checkout errors burst 10 s after the start.
    let alert = process.wait_for("demo alert", Duration::from_secs(90), |line| {
        line["message"] == "alert" && line["rule"] == "checkout-errors"
    });
    assert_eq!(alert["status"], "firing");
    stop_within_bound(&mut process);
}
