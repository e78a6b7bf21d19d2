//! The alerting service end to end: events on Kafka, a threshold rule, a webhook
//! receiver; the alert fires once, resolves, is produced to the alerts topic, and a
//! restart from the checkpoint neither loses nor repeats it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use logpipe_alerting::AlertingConfig;
use logpipe_common::config::Env;
use logpipe_common::event::{Level, LogEvent, Timestamp};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{self, Service, ServiceContext};
use logpipe_common::testkit::{TestBroker, produce_all, sample_event};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

const TOPIC: &str = "logs";

pub(crate) type Received = Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>;

pub(crate) async fn receiver() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    async fn hook(
        State(received): State<Received>,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let body = serde_json::from_slice(&body).unwrap_or_default();
        received.lock().unwrap().push((headers, body));
        "ok"
    }
    let router = Router::new()
        .route("/hook", post(hook))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, received)
}

/// A threshold rule (5 errors in `window`) notifying a generic webhook at `hook`.
fn write_config(dir: &Path, hook: SocketAddr, window: &str) {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("checkout.yaml"),
        format!(
            "name: checkout-errors\ntype: threshold\nquery: 'k8s.namespace:shop AND level:error'\n\
             window: {window}\nthreshold: 5\ngroup_by: [k8s.pod]\nseverity: critical\n\
             summary: '{{{{ count }}}} errors in {{{{ group.k8s.pod }}}}'\nnotify: [oncall]\nrealert: 1m\nlateness: 10s\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("notifiers.yaml"),
        format!("oncall:\n  url: http://{hook}/hook\n  format: generic\n  timeout: 2s\n"),
    )
    .unwrap();
}

async fn start(broker: &TestBroker, dir: &Path) -> ServiceContext {
    start_with_routes(broker, dir).await.0
}

/// The service with its HTTP routes, configured from the files under `dir`.
async fn start_with_routes(broker: &TestBroker, dir: &Path) -> (ServiceContext, Router) {
    start_with_env(broker, dir, &[]).await
}

/// The service configured from the files under `dir` and the variables `extra`.
pub(crate) async fn start_with_env(
    broker: &TestBroker,
    dir: &Path,
    extra: &[(&str, &str)],
) -> (ServiceContext, Router) {
    let mut pairs = vec![
        ("LOGPIPE_KAFKA_BROKERS", broker.bootstrap()),
        ("LOGPIPE_DATA_DIR", dir.join("data").display().to_string()),
        (
            "LOGPIPE_ALERTING_RULES_DIR",
            dir.join("rules").display().to_string(),
        ),
        (
            "LOGPIPE_ALERTING_NOTIFIERS_FILE",
            dir.join("notifiers.yaml").display().to_string(),
        ),
        ("LOGPIPE_ALERTING_WEBHOOK_ALLOW", "127.0.0.0/8".to_string()),
        // Without a tokens file, GET /api/v1/rules answers only on loopback.
        ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1".to_string()),
        ("LOGPIPE_ALERTING_CHECKPOINT_INTERVAL_MS", "200".to_string()),
        ("LOGPIPE_ALERTING_RELOAD_INTERVAL_MS", "100".to_string()),
    ];
    pairs.extend(extra.iter().map(|(name, value)| (*name, value.to_string())));
    let env = Env::from_pairs(pairs);
    let (shared, config) = service::load::<AlertingConfig>(&env).unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 2), TopicSpec::new("alerts", 1)])
        .await
        .unwrap();
    let ctx = ServiceContext::new(shared);
    let router = config.start(ctx.clone()).await.unwrap();
    (ctx, router)
}

pub(crate) async fn stop(ctx: ServiceContext) {
    ctx.shutdown.cancel();
    ctx.tasks.close();
    tokio::time::timeout(Duration::from_secs(30), ctx.tasks.wait())
        .await
        .expect("stops within 30 s");
    assert!(!ctx.failed());
}

/// Error `n` in shop, pod `pod`, now.
pub(crate) fn error(n: u64, pod: &str) -> LogEvent {
    let mut event = sample_event(n, Timestamp::now());
    event.level = Level::Error;
    event.k8s.namespace = Some("shop".into());
    event.k8s.pod = Some(pod.into());
    event
}

pub(crate) async fn produce(broker: &TestBroker, events: Vec<LogEvent>) {
    let settings = broker.settings();
    let messages: Vec<_> = events
        .iter()
        .map(|e| (e.kafka_key(), serde_json::to_vec(e).unwrap()))
        .collect();
    tokio::task::spawn_blocking(move || produce_all(&settings, TOPIC, messages))
        .await
        .unwrap()
        .unwrap();
}

pub(crate) async fn wait_for(
    received: &Received,
    count: usize,
    timeout: Duration,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let bodies: Vec<_> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect();
        if bodies.len() >= count || Instant::now() > deadline {
            return bodies;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the service's consumer is assigned (it starts at the topic's end).
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_fires_once_resolves_and_is_recorded_on_the_alerts_topic() {
    let broker = TestBroker::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = receiver().await;
    write_config(dir.path(), hook, "2s");
    let ctx = start(&broker, dir.path()).await;
    settle().await;

    // Seven errors in api-1, two in api-2 (below the threshold), and noise elsewhere.
    let mut events: Vec<_> = (0..7).map(|n| error(n, "api-1")).collect();
    events.extend((10..12).map(|n| error(n, "api-2")));
    events.extend((20..30).map(|n| sample_event(n * 4 + 1, Timestamp::now())));
    produce(&broker, events).await;

    let fired = wait_for(&received, 1, Duration::from_secs(60)).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["status"], "firing");
    assert_eq!(fired[0]["rule"], "checkout-errors");
    assert_eq!(fired[0]["group"]["k8s.pod"], "api-1");
    assert_eq!(fired[0]["summary"], "5 errors in api-1");
    let (headers, _) = received.lock().unwrap()[0].clone();
    assert_eq!(
        headers["webhook-id"].to_str().unwrap(),
        fired[0]["id"].as_str().unwrap()
    );

    // Quiet: the window passes and the alert resolves, with another id.
    let all = wait_for(&received, 2, Duration::from_secs(90)).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["status"], "resolved");
    assert_ne!(all[1]["id"], all[0]["id"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(received.lock().unwrap().len(), 2, "nothing else");

    // Both are on the alerts topic, with what each notifier answered.
    let consumer: BaseConsumer = broker.settings().consumer("test-alerts").create().unwrap();
    consumer.subscribe(&["alerts"]).unwrap();
    let mut recorded = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorded.len() < 2 && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let value: serde_json::Value =
                serde_json::from_slice(message.payload().unwrap()).unwrap();
            recorded.push(value);
        }
    }
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded
            .iter()
            .all(|r| r["notifiers"]["oncall"]["delivered"] == true),
        "{recorded:?}"
    );
    stop(ctx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_window_fires_exactly_once() {
    let broker = TestBroker::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = receiver().await;
    write_config(dir.path(), hook, "10m");
    let ctx = start(&broker, dir.path()).await;
    settle().await;
    produce(&broker, (0..3).map(|n| error(n, "api-1")).collect()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop(ctx).await;
    assert!(received.lock().unwrap().is_empty());

    // The window is still open: two more errors make five, counted with the three
    // remembered from before the restart.
    let ctx = start(&broker, dir.path()).await;
    produce(&broker, (3..5).map(|n| error(n, "api-1")).collect()).await;
    let fired = wait_for(&received, 1, Duration::from_secs(60)).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["count"], 5);
    stop(ctx).await;

    // A second restart replays nothing already delivered.
    let ctx = start(&broker, dir.path()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let firings = received
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, b)| b["status"] == "firing")
        .count();
    assert_eq!(firings, 1);
    stop(ctx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_listed_and_an_invalid_change_keeps_the_previous_rules() {
    let broker = TestBroker::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (hook, _) = receiver().await;
    write_config(dir.path(), hook, "10m");
    let (ctx, router) = start_with_routes(&broker, dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let names = || async move {
        let body: serde_json::Value = reqwest::get(format!("http://{address}/api/v1/rules"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut names: Vec<String> = body["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let wait_for = |expected: Vec<&'static str>| async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = names().await;
            if found == expected || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(wait_for(vec!["checkout-errors"]).await, ["checkout-errors"]);

    // A broken file: the rules in force stay.
    let rules = dir.path().join("rules");
    std::fs::write(
        rules.join("broken.yaml"),
        "name: broken\ntype: threshold\nquery: 'level:'\nnotify: [oncall]\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(names().await, ["checkout-errors"]);

    // Fixed: both are in force.
    std::fs::write(
        rules.join("broken.yaml"),
        "name: heartbeat\ntype: absence\nquery: 'message:heartbeat'\nwindow: 5m\nnotify: [oncall]\n",
    )
    .unwrap();
    assert_eq!(
        wait_for(vec!["checkout-errors", "heartbeat"]).await,
        ["checkout-errors", "heartbeat"]
    );
    stop(ctx).await;
}

/// One burst of matching events in 30 pods: a rule sends at most its limit per window, and
/// the rest arrive as one summary counting them, instead of 30 pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_sends_at_most_the_limit_and_one_summary() {
    let broker = TestBroker::start().unwrap();
    let (hook, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), hook, "1m");
    std::fs::write(
        dir.path().join("rules/checkout.yaml"),
        "name: checkout-errors\ntype: match\nquery: 'k8s.namespace:shop AND level:error'\n\
         group_by: [k8s.pod]\nseverity: critical\nnotify: [oncall]\nrealert: 1m\nlateness: 1s\n",
    )
    .unwrap();
    let (ctx, _) = start_with_env(
        &broker,
        dir.path(),
        &[
            ("LOGPIPE_ALERTING_MAX_ALERTS_PER_RULE", "3"),
            ("LOGPIPE_ALERTING_ALERT_LIMIT_WINDOW_MS", "5s"),
        ],
    )
    .await;
    settle().await;
    produce(
        &broker,
        (0..30)
            .map(|n| error(n, &format!("checkout-{n}")))
            .collect(),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (alerts, held) = loop {
        let bodies = wait_for(&received, 0, Duration::ZERO).await;
        let summaries: Vec<_> = bodies
            .iter()
            .filter(|b| b["labels"]["logpipe_suppressed"] == "true")
            .collect();
        let held: u64 = summaries.iter().map(|b| b["count"].as_u64().unwrap()).sum();
        let alerts = bodies.len() - summaries.len();
        if alerts as u64 + held >= 30 || Instant::now() > deadline {
            break (alerts, held);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The burst may straddle two windows: at most the limit in each.
    assert!(alerts <= 6, "{alerts} alerts sent");
    assert_eq!(alerts as u64 + held, 30, "every alert sent or counted");
    stop(ctx).await;
}
