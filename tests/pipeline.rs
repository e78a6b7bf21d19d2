//! The whole pipeline with the real binary, each role in its own process on a real broker:
//! `logpipe generate` writes container logs, the collector ships them, the indexer makes
//! them searchable (its search API and `logpipe search`), the alerting role calls a real
//! webhook receiver. The drill kills every role with SIGKILL and stops the broker for 30 s
//! while logs are written; afterwards no line is missing or repeated and no alert is lost
//! or repeated.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use logpipe_alerting::notify::{Secret, verify_at};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::kube_api::{namespace, owned, pod as kube_pod};
use logpipe_common::testkit::{FakeApiServer, TestBroker, env_number, free_port};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{Calls, Rng, Running, run, webhook_receiver};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NODE: &str = "pipeline-node";
/// Longest wait for the pipeline to catch up after the input stops; generous because CI
/// runs tests side by side on two cores.
const CATCH_UP: Duration = Duration::from_secs(150);

/// A broker, a webhook receiver and the files the roles read, in one scratch directory.
pub struct Pipeline {
    /// Serves the webhook receiver and the API server.
    runtime: tokio::runtime::Runtime,
    pub broker: TestBroker,
    pub calls: Calls,
    pub dir: tempfile::TempDir,
    pub pods: PathBuf,
    pub rules: PathBuf,
    pub notifiers: PathBuf,
    pub indexer_port: u16,
    /// The time range searched: events carry their own times, real audit events old ones.
    pub since: &'static str,
    /// Longest wait for search to find every event once the input stopped.
    pub catch_up: Duration,
}

impl Pipeline {
    /// `rule` is the YAML of the one alert rule, notifying `oncall`.
    pub fn new(rule: &str) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (hook, calls) = webhook_receiver(&runtime);
        let broker = TestBroker::start().unwrap();
        runtime
            .block_on(broker.create_topics(&[
                TopicSpec::new("logs", 3),
                TopicSpec::new("alerts", 1),
                TopicSpec::new("logs-dlq", 1),
            ]))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pods = dir.path().join("pods");
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&pods).unwrap();
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(rules.join("rule.yaml"), rule).unwrap();
        let notifiers = dir.path().join("notifiers.yaml");
        std::fs::write(
            &notifiers,
            format!(
                "oncall:\n  url: http://{hook}/hook\n  format: alertmanager\n  secret_env: ONCALL_SECRET\n"
            ),
        )
        .unwrap();
        Pipeline {
            runtime,
            broker,
            calls,
            pods,
            rules,
            notifiers,
            indexer_port: free_port().unwrap(),
            since: "2h",
            catch_up: CATCH_UP,
            dir,
        }
    }

    fn role(&self, role: &str, extra: &[(&str, &str)]) -> Running {
        let bootstrap = self.broker.bootstrap();
        let data = self.dir.path().join(role);
        let mut env = vec![
            ("LOGPIPE_KAFKA_BROKERS", bootstrap.as_str()),
            ("LOGPIPE_DATA_DIR", data.to_str().unwrap()),
            ("LOGPIPE_NODE_NAME", NODE),
            ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1"),
            ("LOGPIPE_LOG_LEVEL", "info"),
            ("PORT", "0"),
        ];
        env.extend_from_slice(extra);
        Running::start(&[role], &env)
    }

    pub fn collector(&self) -> Running {
        self.collector_with(&[])
    }

    pub fn collector_with(&self, extra: &[(&str, &str)]) -> Running {
        let mut env = vec![
            ("LOGPIPE_COLLECTOR_PODS_DIR", self.pods.to_str().unwrap()),
            ("LOGPIPE_COLLECTOR_CHECKPOINT_INTERVAL_MS", "200"),
        ];
        env.extend_from_slice(extra);
        let process = self.role("collector", &env);
        process.wait_for_message("listening", Duration::from_secs(60));
        process
    }

    pub fn indexer(&self) -> Running {
        let port = self.indexer_port.to_string();
        let process = self.role("indexer", &[("PORT", &port)]);
        process.wait_for_message("listening", Duration::from_secs(60));
        process
    }

    pub fn alerting(&self) -> Running {
        let process = self.role(
            "alerting",
            &[
                ("LOGPIPE_ALERTING_RULES_DIR", self.rules.to_str().unwrap()),
                (
                    "LOGPIPE_ALERTING_NOTIFIERS_FILE",
                    self.notifiers.to_str().unwrap(),
                ),
                ("LOGPIPE_ALERTING_WEBHOOK_ALLOW", "127.0.0.0/8"),
                ("LOGPIPE_ALERTING_CHECKPOINT_INTERVAL_MS", "200"),
                ("ONCALL_SECRET", SECRET),
            ],
        );
        process.wait_for_message("listening", Duration::from_secs(60));
        process
    }

    pub fn query_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.indexer_port)
    }

    pub fn get(&self, path_and_query: &str) -> Option<String> {
        self.get_within(path_and_query, Duration::from_secs(30))
    }

    fn get_within(&self, path_and_query: &str, timeout: Duration) -> Option<String> {
        let response = reqwest::blocking::Client::new()
            .get(format!("{}{path_and_query}", self.query_url()))
            .timeout(timeout)
            .send()
            .ok()?;
        response
            .status()
            .is_success()
            .then(|| response.text().ok())
            .flatten()
    }

    /// Waits until search finds `expected` events (and no more), then returns every
    /// event through the export endpoint.
    pub fn wait_for_events(&self, expected: u64, roles: &[&Running]) -> Vec<Value> {
        let deadline = Instant::now() + self.catch_up;
        let mut last = 0;
        loop {
            if let Some(body) =
                self.get(&format!("/api/v1/search?q=*&since={}&limit=1", self.since))
            {
                let total = serde_json::from_str::<Value>(&body).unwrap()["total"]
                    .as_u64()
                    .unwrap();
                assert!(
                    total <= expected,
                    "{total} events found, {expected} written"
                );
                if total == expected {
                    break;
                }
                last = total;
            }
            if Instant::now() >= deadline {
                for role in roles {
                    for line in role.lines() {
                        if line["level"] != "INFO" || line["message"] != "effective configuration" {
                            eprintln!("{line}");
                        }
                    }
                }
                let log = self.broker.log();
                let lines: Vec<&str> = log.lines().collect();
                let first = lines.iter().position(|l| l.contains("ERROR")).unwrap_or(0);
                eprintln!(
                    "broker log from before its first error:\n{}",
                    lines[first.saturating_sub(30)..(first + 10).min(lines.len())].join("\n")
                );
                panic!(
                    "{last} of {expected} events searchable after {:?}",
                    self.catch_up
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        // A full-size drill exports half a million events.
        let body = self
            .get_within(
                &format!("/api/v1/export?q=*&since={}", self.since),
                Duration::from_secs(600),
            )
            .expect("the export");
        body.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Webhook calls so far: (webhook-id, payload), each signature verified.
    pub fn alerts(&self) -> Vec<(String, Value)> {
        let secret = Secret::parse(SECRET).unwrap();
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(headers, body, received)| {
                // Checked as the receiver would have on arrival: the drill may end long
                // after the first alerts.
                verify_at(&secret, headers, body, *received)
                    .expect("a valid Standard Webhooks signature");
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                (id, serde_json::from_slice(body).unwrap())
            })
            .collect()
    }

    /// Distinct notifications on the `alerts` topic, read until `expected` were seen or
    /// the topic stays quiet.
    pub fn recorded_alerts(&self, expected: usize) -> Vec<Value> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::message::Message;
        let consumer: BaseConsumer = self
            .broker
            .settings()
            .consumer("pipeline-test-alerts")
            .create()
            .unwrap();
        consumer.subscribe(&["alerts"]).unwrap();
        let mut recorded: BTreeMap<String, Value> = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while recorded.len() < expected && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                let value: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
                recorded.insert(value["id"].as_str().unwrap().to_owned(), value);
            }
        }
        recorded.into_values().collect()
    }

    pub fn wait_for_alert(&self, status: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.alerts().iter().any(|(_, p)| p["status"] == status) {
            assert!(
                Instant::now() < deadline,
                "no {status} alert within {timeout:?}: {:?}",
                self.alerts()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Runs `logpipe generate` into `pods` to completion and returns its summary.
fn generate(pods: &Path, args: &[&str]) -> Value {
    let mut all = vec!["generate", pods.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = run(&all, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The sequence number an entry carries: `seq` of a JSON line, `seq=N` in text.
fn seq(event: &Value) -> Option<u64> {
    if let Some(n) = event["attributes"]["seq"].as_u64() {
        return Some(n);
    }
    let message = event["message"].as_str()?;
    let start = message.find("seq=")? + 4;
    let digits: String = message[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Every line the generator wrote is found exactly once, with its pod's metadata.
fn assert_every_line_once(summary: &Value, events: &[Value]) {
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    let mut by_container: BTreeMap<(String, String, String), Vec<&Value>> = BTreeMap::new();
    for event in events {
        let k8s = &event["k8s"];
        let key = |field: &str| k8s[field].as_str().unwrap_or_default().to_owned();
        by_container
            .entry((key("namespace"), key("pod"), key("container")))
            .or_default()
            .push(event);
    }
    let containers = summary["containers"].as_array().unwrap();
    assert_eq!(
        by_container.len(),
        containers.len(),
        "{:?}",
        by_container.keys()
    );
    for container in containers {
        let name = |field: &str| container[field].as_str().unwrap().to_owned();
        let key = (name("namespace"), name("pod"), name("container"));
        let found = by_container.get(&key).cloned().unwrap_or_default();
        let records = container["records"].as_u64().unwrap();
        let entries = container["entries"].as_u64().unwrap();
        assert_eq!(found.len() as u64, records, "lines of {key:?}");
        let mut seqs = BTreeSet::new();
        for event in &found {
            assert_eq!(event["k8s"]["pod_uid"], container["pod_uid"], "{event}");
            assert_eq!(event["k8s"]["node"], NODE, "{event}");
            assert_eq!(event["source"]["kind"], "file", "{event}");
            if let Some(n) = seq(event) {
                assert!(seqs.insert(n), "entry {n} of {key:?} found twice");
            }
        }
        assert_eq!(seqs.len() as u64, entries, "entries of {key:?}");
        assert_eq!(seqs.last().copied(), entries.checked_sub(1), "{key:?}");
    }
}

const RULE: &str = "\
name: checkout-errors
type: threshold
query: 'k8s.labels.app:checkout AND k8s.container:api AND level:error'
window: 10s
threshold: 5
group_by: [k8s.pod, k8s.workload]
severity: critical
summary: '{{ count }} errors in {{ group.k8s.pod }}'
notify: [oncall]
realert: 1h
lateness: 5s
";

/// An API server that knows two of the generator's pods: checkout through its
/// ReplicaSet and Deployment, the payments worker through its own.
fn api_server(runtime: &tokio::runtime::Runtime) -> FakeApiServer {
    let api = runtime.block_on(FakeApiServer::start());
    api.apply("namespaces", namespace("shop", &[("team", "storefront")]));
    for (namespace, pod, uid, replica_set, deployment, app) in [
        (
            "shop",
            "checkout-7d9f8b6c5-x2k4p",
            "6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7",
            "checkout-7d9f8b6c5",
            "checkout",
            "checkout",
        ),
        (
            "payments",
            "payments-worker-6b7c8d9f4-mn3zx",
            "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
            "payments-worker-6b7c8d9f4",
            "payments-worker",
            "payments",
        ),
    ] {
        api.apply(
            "replicasets",
            owned(
                "replicasets",
                namespace,
                replica_set,
                ("Deployment", deployment),
            ),
        );
        api.apply(
            "pods",
            kube_pod(
                namespace,
                pod,
                uid,
                NODE,
                &[("app", app)],
                Some(("ReplicaSet", replica_set)),
            ),
        );
    }
    api
}

#[test]
fn generated_logs_are_searchable_once_and_a_threshold_rule_fires_once_and_resolves() {
    let pipeline = Pipeline::new(RULE);
    let api = api_server(&pipeline.runtime);
    let kubeconfig = api.kubeconfig().display().to_string();
    let _collector = pipeline.collector_with(&[
        ("LOGPIPE_COLLECTOR_METADATA", "api"),
        ("KUBECONFIG", &kubeconfig),
    ]);
    let _indexer = pipeline.indexer();
    let _alerting = pipeline.alerting();
    // Small files so that rotation happens while the collector reads.
    let summary = generate(
        &pipeline.pods,
        &[
            "--rate",
            "2000",
            "--lines",
            "4000",
            "--rotate-size",
            "128KiB",
            "--keep-rotated",
            "100",
            "--seed",
            "7",
        ],
    );
    assert!(summary["rotations"].as_u64().unwrap() > 0);
    let events = pipeline.wait_for_events(
        summary["records"].as_u64().unwrap(),
        &[&_collector, &_indexer, &_alerting],
    );
    assert_every_line_once(&summary, &events);

    // The CLI finds the same events.
    let payments = events
        .iter()
        .filter(|e| e["k8s"]["namespace"] == "payments")
        .count();
    let url = pipeline.query_url();
    let output = run(
        &[
            "search",
            "k8s.namespace:payments",
            "--since",
            "2h",
            "--limit",
            "10000",
            "--output",
            "json",
        ],
        &[("LOGPIPE_QUERY_URL", &url)],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed.lines().count(), payments);
    assert!(printed.lines().all(|line| {
        serde_json::from_str::<Value>(line).unwrap()["k8s"]["pod"]
            == "payments-worker-6b7c8d9f4-mn3zx"
    }));

    // Pod metadata from the API server: searched, counted; pods it does not know are
    // flagged.
    let checkout = events
        .iter()
        .filter(|e| e["k8s"]["pod"] == "checkout-7d9f8b6c5-x2k4p")
        .count();
    let unknown = events
        .iter()
        .filter(|e| {
            ![
                "checkout-7d9f8b6c5-x2k4p",
                "payments-worker-6b7c8d9f4-mn3zx",
            ]
            .contains(&e["k8s"]["pod"].as_str().unwrap_or(""))
        })
        .count();
    assert!(checkout > 0 && unknown > 0);
    let total = |query: &str| {
        let body = pipeline
            .get(&format!(
                "/api/v1/search?q={}&since=2h&limit=1",
                url_encode(query)
            ))
            .unwrap();
        serde_json::from_str::<Value>(&body).unwrap()["total"]
            .as_u64()
            .unwrap() as usize
    };
    assert_eq!(total("k8s.labels.app:checkout"), checkout);
    assert_eq!(
        total("k8s.workload:checkout AND k8s.workload_kind:Deployment"),
        checkout
    );
    assert_eq!(total("k8s.workload:payments-worker"), payments);
    assert_eq!(
        total("k8s.namespace_labels.team:storefront AND NOT k8s.labels.app:*"),
        {
            events
                .iter()
                .filter(|e| {
                    e["k8s"]["namespace"] == "shop" && e["k8s"]["pod"] != "checkout-7d9f8b6c5-x2k4p"
                })
                .count()
        }
    );
    assert_eq!(total("flags:k8s_metadata_missing"), unknown);
    let values: Value = serde_json::from_str(
        &pipeline
            .get("/api/v1/fields/k8s.workload/values?q=*&since=2h")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        values["values"][0],
        serde_json::json!({"value": "checkout", "count": checkout}),
        "{values}"
    );

    // The generator's content with this seed: enough checkout errors within seconds.
    let errors = events
        .iter()
        .filter(|e| e["k8s"]["container"] == "api" && e["level"] == "error")
        .count();
    assert!(errors >= 5, "seed 7 writes {errors} checkout errors");
    pipeline.wait_for_alert("firing", Duration::from_secs(60));
    pipeline.wait_for_alert("resolved", Duration::from_secs(120));
    let alerts = pipeline.alerts();
    let firing: Vec<_> = alerts
        .iter()
        .filter(|(_, p)| p["status"] == "firing")
        .collect();
    let resolved: Vec<_> = alerts
        .iter()
        .filter(|(_, p)| p["status"] == "resolved")
        .collect();
    assert_eq!(firing.len(), 1, "{alerts:?}");
    assert_eq!(resolved.len(), 1, "{alerts:?}");
    assert_ne!(firing[0].0, resolved[0].0);
    let recorded: BTreeSet<String> = pipeline
        .recorded_alerts(2)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        recorded,
        BTreeSet::from([firing[0].0.clone(), resolved[0].0.clone()])
    );
    let alert = &firing[0].1["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "checkout-errors");
    assert_eq!(alert["labels"]["k8s.pod"], "checkout-7d9f8b6c5-x2k4p");
    assert_eq!(alert["labels"]["k8s.workload"], "checkout");
    // One pod watch for the node, one get per ReplicaSet.
    let requests = api.requests();
    assert_eq!(
        requests.iter().filter(|r| *r == "get replicasets").count(),
        2,
        "{requests:?}"
    );
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const DRILL_RULE: &str = "\
name: checkout-errors
type: threshold
query: 'k8s.namespace:shop AND k8s.container:api AND level:error'
window: 1m
threshold: 5
group_by: [k8s.pod]
severity: critical
summary: '{{ count }} errors in {{ group.k8s.pod }}'
notify: [oncall]
realert: 1h
lateness: 3m
";

/// Sleeps until `at` after `start`.
fn sleep_until(start: Instant, at: Duration) {
    std::thread::sleep(at.saturating_sub(start.elapsed()));
}

#[test]
fn drill_kill_every_role_and_stop_the_broker_loses_and_repeats_nothing() {
    let generate_secs: u64 = env_number("LOGPIPE_DRILL_GENERATE_SECS", 45);
    let rate: u64 = env_number("LOGPIPE_DRILL_RATE", 800);
    let outage = Duration::from_secs(env_number("LOGPIPE_DRILL_OUTAGE_SECS", 30));
    let mut rng = Rng::from_time();
    let mut pipeline = Pipeline::new(DRILL_RULE);
    // A longer run leaves a longer backlog behind its outage.
    pipeline.catch_up = CATCH_UP.max(Duration::from_secs(generate_secs / 2));
    let mut collector = pipeline.collector();
    let mut indexer = pipeline.indexer();
    let mut alerting = pipeline.alerting();

    // The generator runs in the background: checkout errors burst from 10 s to 30 s.
    let pods = pipeline.pods.clone();
    let (rate_arg, duration_arg) = (rate.to_string(), format!("{generate_secs}s"));
    let generator = std::thread::spawn(move || {
        generate(
            &pods,
            &[
                "--rate",
                &rate_arg,
                "--duration",
                &duration_arg,
                "--rotate-size",
                "1MiB",
                "--keep-rotated",
                "1000",
                "--seed",
                "11",
            ],
        )
    });
    let start = Instant::now();
    // Random moments at fixed fractions of the run, so a longer run spreads them out.
    let at = |from: f64, to: f64, rng: &mut Rng| {
        let span = generate_secs as f64 * 1000.0;
        let offset = rng.below(((to - from) * span) as u64 + 1);
        Duration::from_millis((from * span) as u64 + offset)
    };
    let kill_collector = at(0.05, 0.15, &mut rng);
    let kill_indexer = at(0.15, 0.27, &mut rng);
    let kill_alerting = at(0.30, 0.45, &mut rng);
    let stop_broker = at(0.45, 0.55, &mut rng);
    eprintln!(
        "drill: collector killed at {kill_collector:?}, indexer at {kill_indexer:?}, alerting at {kill_alerting:?}, broker stopped at {stop_broker:?} for {outage:?}"
    );
    sleep_until(start, kill_collector);
    collector.signal(Signal::SIGKILL);
    collector.wait(Duration::from_secs(10));
    collector = pipeline.collector();
    sleep_until(start, kill_indexer);
    indexer.signal(Signal::SIGKILL);
    indexer.wait(Duration::from_secs(10));
    indexer = pipeline.indexer();
    sleep_until(start, kill_alerting);
    alerting.signal(Signal::SIGKILL);
    alerting.wait(Duration::from_secs(10));
    alerting = pipeline.alerting();
    sleep_until(start, stop_broker);
    // Stopped as a crash stops it: in-flight requests unanswered.
    pipeline.broker.kill();
    std::thread::sleep(outage);
    pipeline.broker.restart().unwrap();

    let summary = generator.join().unwrap();
    let events = pipeline.wait_for_events(
        summary["records"].as_u64().unwrap(),
        &[&collector, &indexer, &alerting],
    );
    assert_every_line_once(&summary, &events);
    pipeline.wait_for_alert("firing", Duration::from_secs(120));
    // Deliveries still in flight when the drill ends are given time to arrive.
    std::thread::sleep(Duration::from_secs(3));
    let alerts = pipeline.alerts();
    let firing: BTreeSet<&str> = alerts
        .iter()
        .filter(|(_, p)| p["status"] == "firing")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(firing.len(), 1, "one firing alert: {alerts:?}");
    // A retry repeats a webhook-id (the receiver drops it); a repeated alert would carry
    // another.
    let distinct: BTreeSet<&str> = alerts.iter().map(|(id, _)| id.as_str()).collect();
    assert!(distinct.len() <= 2, "{alerts:?}");
    // The alerts topic, the audit trail of what was sent, holds the same alerts.
    let recorded = pipeline.recorded_alerts(distinct.len());
    let recorded: BTreeSet<&str> = recorded.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(recorded, distinct);
    for process in [&mut collector, &mut indexer, &mut alerting] {
        process.signal(Signal::SIGTERM);
        assert!(process.wait(Duration::from_secs(30)).is_some());
    }
}
