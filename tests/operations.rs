//! Operating the query service: it stays ready and searches while Kafka is down, names
//! its build in `/metrics`, ends live tails cleanly on SIGTERM, and is restarted behind a
//! load balancer without a failed request.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logpipe_common::Timestamp;
use logpipe_common::testkit::{TestBroker, sample_event};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{Running, get, wait_for_status, write_index};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const EVENTS: u64 = 200;

/// A loopback address where no broker listens.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", listener.local_addr().unwrap().port())
}

/// A data directory holding a day index with `EVENTS` events of the last minutes.
fn indexed_data() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let now = Timestamp::now().unix_nanos();
    let events: Vec<_> = (0..EVENTS)
        .map(|n| {
            sample_event(
                n,
                Timestamp::from_unix_nanos(now - n as i64 * 1_000_000_000),
            )
        })
        .collect();
    write_index(data.path(), &events);
    data
}

/// `logpipe query` over the local index in `data`, on a port of its own.
fn query(data: &std::path::Path, brokers: &str, extra: &[(&str, &str)]) -> Running {
    let mut env = vec![
        ("LOGPIPE_KAFKA_BROKERS", brokers),
        ("LOGPIPE_KAFKA_REQUEST_TIMEOUT_MS", "1000"),
        ("LOGPIPE_DATA_DIR", data.to_str().unwrap()),
        ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1"),
        ("LOGPIPE_LOG_LEVEL", "warn,logpipe_common=info"),
        ("PORT", "0"),
    ];
    env.extend_from_slice(extra);
    Running::start(&["query"], &env)
}

const SEARCH: &str = "/api/v1/search?q=*&since=1h&limit=10";

/// Hits in a search answer's body.
fn hits(body: &str) -> usize {
    let answer: Value = serde_json::from_str(body).unwrap_or_default();
    answer["hits"].as_array().map_or(0, Vec::len)
}

fn git_head() -> String {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(logpipe_common::testkit::package_dir(env!(
            "CARGO_MANIFEST_DIR"
        )))
        .output()
        .expect("git runs");
    assert!(output.status.success(), "the tests run in a git checkout");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Search reads the indexes and live tail reads Kafka: with the broker down the query
/// service stays ready (so a Service keeps sending it searches), reports Kafka on
/// `/readyz` as not required, searches, and answers a tail 503 saying why.
#[test]
fn query_stays_ready_and_searches_while_kafka_is_down() {
    let data = indexed_data();
    let brokers = closed_port();
    let process = query(data.path(), &brokers, &[]);
    let port = process.port();
    process.wait_for_message("backing service unreachable", READY_TIMEOUT);
    let body = wait_for_status(port, "/readyz", 200, READY_TIMEOUT);
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ok"], true, "{body}");
    let kafka = report["checks"]["kafka"].as_str().unwrap();
    assert!(kafka.ends_with("(not required)"), "{body}");

    let (status, body) = get(port, SEARCH);
    assert_eq!(status, 200, "{body}");
    assert_eq!(hits(&body), 10, "{body}");

    let started = Instant::now();
    let (status, body) = get(port, "/api/v1/tail?q=*");
    assert_eq!(status, 503, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("Kafka") && message.contains("search is not affected"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once, not after a metadata timeout: {:?}",
        started.elapsed()
    );
    // Still ready after the refusal.
    assert_eq!(get(port, "/readyz").0, 200);
}

/// `/metrics` names the build: `logpipe_build_info` with the version, the commit of this
/// checkout, whether it was modified, the compiler and the role.
#[test]
fn metrics_expose_build_info() {
    let data = tempfile::tempdir().unwrap();
    let process = query(data.path(), &closed_port(), &[]);
    let port = process.port();
    let (status, metrics) = get(port, "/metrics");
    assert_eq!(status, 200);
    let line = metrics
        .lines()
        .find(|line| line.starts_with("logpipe_build_info{"))
        .unwrap_or_else(|| panic!("no logpipe_build_info in:\n{metrics}"));
    assert!(line.ends_with("} 1"), "{line}");
    let head = git_head();
    for label in [
        format!("version=\"{}\"", env!("CARGO_PKG_VERSION")),
        format!("commit=\"{head}\""),
        "role=\"query\"".to_owned(),
    ] {
        assert!(line.contains(&label), "{label} missing from {line}");
    }
    assert!(
        line.contains("dirty=\"true\"") || line.contains("dirty=\"false\""),
        "{line}"
    );
    assert!(line.contains("rustc=\"1."), "{line}");
    let startup = process.wait_for_message("effective configuration", Duration::from_secs(5));
    assert_eq!(startup["commit"], head.as_str(), "{startup}");
    assert_eq!(startup["version"], env!("CARGO_PKG_VERSION"));
}

/// On SIGTERM an open live tail keeps streaming through the drain window, then ends with
/// an `end` event and a properly closed response (not a reset connection), and the
/// process exits 0 without waiting on it.
#[test]
fn sigterm_ends_a_live_tail_with_an_end_event() {
    use std::io::{BufRead, BufReader};

    let broker = TestBroker::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut process = query(
        data.path(),
        &broker.bootstrap(),
        &[("LOGPIPE_SHUTDOWN_DRAIN_MS", "1500")],
    );
    let port = process.port();
    let deadline = Instant::now() + READY_TIMEOUT;
    while !get(port, "/readyz").1.contains(r#""kafka":"ok""#) {
        assert!(Instant::now() < deadline, "kafka never reached");
        std::thread::sleep(Duration::from_millis(100));
    }
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/api/v1/tail?q=*"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut lines = BufReader::new(response).lines();
    assert_eq!(lines.next().unwrap().unwrap(), ": live");

    let signalled = Instant::now();
    process.signal(Signal::SIGTERM);
    let rest: Vec<String> = lines
        .collect::<Result<_, _>>()
        .expect("the stream ends cleanly");
    let ended = signalled.elapsed();
    assert!(
        rest.iter().any(|line| line == "event: end"),
        "no end event: {rest:?}"
    );
    assert!(
        ended >= Duration::from_millis(1400),
        "the tail went on through the drain window, ended after {ended:?}"
    );
    let status = process.wait(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
    let stopped_at = signalled.elapsed();
    assert!(
        stopped_at < Duration::from_secs(8),
        "not held by the tail until the grace period ran out: {stopped_at:?}"
    );
}

/// The drain window is for load balancers: Ctrl-C at a terminal (SIGINT) skips it, and a
/// second SIGTERM cuts it short.
#[test]
fn sigint_and_a_second_sigterm_skip_the_drain_window() {
    let data = tempfile::tempdir().unwrap();
    let brokers = closed_port();
    let window = [("LOGPIPE_SHUTDOWN_DRAIN_MS", "20000")];
    for signals in [&[Signal::SIGINT][..], &[Signal::SIGTERM, Signal::SIGTERM]] {
        let mut process = query(data.path(), &brokers, &window);
        let port = process.port();
        wait_for_status(port, "/readyz", 200, READY_TIMEOUT);
        let asked = Instant::now();
        for signal in signals {
            process.signal(*signal);
            std::thread::sleep(Duration::from_millis(300));
        }
        let status = process
            .wait(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{signals:?} left the process in its drain window"));
        assert_eq!(status.code(), Some(0), "{signals:?}");
        assert!(asked.elapsed() < Duration::from_secs(10), "{signals:?}");
    }
}

/// What a Service's endpoints let through: the backends last seen ready. It polls each
/// backend's `/readyz` every `PROBE_PERIOD`, and a change reaches the client
/// `PROPAGATION` later, as an endpoint change reaches kube-proxy and ingresses a moment
/// after the kubelet or the endpoints controller sees it.
struct Endpoints {
    routable: Arc<Mutex<Vec<u16>>>,
    backends: Arc<Mutex<Vec<u16>>>,
    stop: Arc<AtomicBool>,
}

const PROBE_PERIOD: Duration = Duration::from_millis(250);
const PROPAGATION: Duration = Duration::from_millis(1000);

impl Endpoints {
    fn start() -> Self {
        let endpoints = Endpoints {
            routable: Arc::default(),
            backends: Arc::default(),
            stop: Arc::default(),
        };
        let (routable, backends, stop) = (
            endpoints.routable.clone(),
            endpoints.backends.clone(),
            endpoints.stop.clone(),
        );
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            // Seen ready now, applied at the instant it propagates.
            let mut pending: Vec<(Instant, Vec<u16>)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let ready: Vec<u16> = backends
                    .lock()
                    .unwrap()
                    .clone()
                    .into_iter()
                    .filter(|port| {
                        client
                            .get(format!("http://127.0.0.1:{port}/readyz"))
                            .send()
                            .is_ok_and(|r| r.status().is_success())
                    })
                    .collect();
                pending.push((Instant::now() + PROPAGATION, ready));
                while pending.first().is_some_and(|(at, _)| *at <= Instant::now()) {
                    *routable.lock().unwrap() = pending.remove(0).1;
                }
                std::thread::sleep(PROBE_PERIOD);
            }
        });
        endpoints
    }

    fn add(&self, port: u16) {
        self.backends.lock().unwrap().push(port);
    }

    fn wait_routable(&self, port: u16, routable: bool) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while self.routable.lock().unwrap().contains(&port) != routable {
            assert!(
                Instant::now() < deadline,
                "{port} never routable={routable}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A rolling restart as a Deployment does it: the new query process starts and becomes
/// ready, the old one gets SIGTERM, while a client searches in a loop through a load
/// balancer. No request fails.
///
/// The load balancer is modelled, not shared: each process has its own port, as each pod
/// has its own address, and [`Endpoints`] routes only to the processes last seen ready,
/// with the delay with which an endpoint change reaches the proxies in a cluster. That
/// delay is what the drain window is for: after SIGTERM the old process fails `/readyz`
/// at once but keeps serving for `LOGPIPE_SHUTDOWN_DRAIN_MS`, so the requests still
/// routed to it in the meantime are answered; only then does it stop accepting. The test
/// runs with the default window, 5 s, which outlasts a probe period, a probe's 2 s
/// timeout and the propagation delay. Without the window (`LOGPIPE_SHUTDOWN_DRAIN_MS=0`)
/// the old process closes its port at SIGTERM and the requests routed to it before the
/// change propagated are refused, which this test reports. One shared port with SO_REUSEPORT would not model a cluster (pods do not
/// share a port) and would lose connections of its own: the kernel resets those still
/// queued on a listener that closes.
#[test]
fn rolling_restart_of_the_query_service_fails_no_request() {
    let data = indexed_data();
    let brokers = closed_port();
    let mut old = query(data.path(), &brokers, &[]);
    let old_port = old.port();
    wait_for_status(old_port, "/readyz", 200, READY_TIMEOUT);
    let endpoints = Endpoints::start();
    endpoints.add(old_port);
    endpoints.wait_routable(old_port, true);

    // The client: one search after another, round robin over what the endpoints allow.
    let stop = Arc::new(AtomicBool::new(false));
    let signalled: Arc<Mutex<Option<Instant>>> = Arc::default();
    let served_after_sigterm = Arc::new(AtomicU64::new(0));
    let client = {
        let (routable, stop) = (endpoints.routable.clone(), stop.clone());
        let (signalled, served_after_sigterm) = (signalled.clone(), served_after_sigterm.clone());
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let (mut sent, mut failures, mut served_by) = (0u64, Vec::new(), BTreeSet::new());
            while !stop.load(Ordering::Relaxed) {
                let ports = routable.lock().unwrap().clone();
                let Some(&port) = ports.get(sent as usize % ports.len().max(1)) else {
                    failures.push("no endpoint routable".to_owned());
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                sent += 1;
                let sent_at = Instant::now();
                let outcome = http
                    .get(format!("http://127.0.0.1:{port}{SEARCH}"))
                    .send()
                    .and_then(|r| Ok((r.status().as_u16(), r.text()?)));
                match outcome {
                    Ok((200, body)) if hits(&body) == 10 => {
                        served_by.insert(port);
                        let after = signalled.lock().unwrap().is_some_and(|at| sent_at > at);
                        if after && port == old_port {
                            served_after_sigterm.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok((status, body)) => failures.push(format!("{port}: {status} {body}")),
                    Err(error) => failures.push(format!("{port}: {error}")),
                }
            }
            (sent, failures, served_by)
        })
    };

    std::thread::sleep(Duration::from_secs(1));
    let new = query(data.path(), &brokers, &[]);
    let new_port = new.port();
    endpoints.add(new_port);
    endpoints.wait_routable(new_port, true);
    std::thread::sleep(Duration::from_millis(500));

    *signalled.lock().unwrap() = Some(Instant::now());
    old.signal(Signal::SIGTERM);
    let status = old
        .wait(Duration::from_secs(15))
        .expect("the old process exits");
    assert_eq!(status.code(), Some(0));
    endpoints.wait_routable(old_port, false);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (sent, failures, served_by) = client.join().unwrap();

    eprintln!(
        "{sent} searches, {} answered by the old process after SIGTERM",
        served_after_sigterm.load(Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} searches failed: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert_eq!(
        served_by,
        BTreeSet::from([old_port, new_port]),
        "both processes answered"
    );
    assert!(
        served_after_sigterm.load(Ordering::Relaxed) > 0,
        "the old process answered searches routed to it after SIGTERM"
    );
    assert_eq!(get(new_port, "/readyz").0, 200);
}
