//! Pod metadata from an API server that speaks the watch protocol (the test kit's
//! `FakeApiServer`): labels, allowed annotations, workloads through ReplicaSets and Jobs,
//! namespace labels; new pods waited for within the bound, deleted pods remembered, a
//! relist after `410 Gone`, a dropped watch, bookmarks and an outage.

use std::path::Path;
use std::time::Duration;

use logpipe_common::LogEvent;
use logpipe_common::event::Flag;
use logpipe_common::testkit::FakeApiServer;
use logpipe_common::testkit::kube_api::{namespace, owned, pod};

use crate::harness::{Collected, Collector, append, broker, container_dir, cri_line};

const WAIT: Duration = Duration::from_secs(30);

fn log(pods: &Path, pod: &str, lines: &[&str]) {
    let dir = container_dir(pods, "shop", pod, "app");
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(n, line)| cri_line(n, "stdout", "F", line))
        .collect();
    append(&dir.join("0.log"), text.as_bytes());
}

fn event<'a>(events: &'a [LogEvent], message: &str) -> &'a LogEvent {
    events
        .iter()
        .find(|e| e.message == message)
        .unwrap_or_else(|| panic!("no event {message}"))
}

fn has(events: &[LogEvent], messages: &[&str]) -> bool {
    messages
        .iter()
        .all(|m| events.iter().any(|e| e.message == *m))
}

fn label<'a>(event: &'a LogEvent, key: &str) -> Option<&'a str> {
    event.k8s.labels.get(key).map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_metadata_follows_the_api_server_through_relists_drops_and_outages() {
    let api = FakeApiServer::start().await;
    api.apply("namespaces", namespace("shop", &[("team", "payments")]));
    api.apply(
        "replicasets",
        owned(
            "replicasets",
            "shop",
            "checkout-7d9f",
            ("Deployment", "checkout"),
        ),
    );
    api.apply(
        "jobs",
        owned("jobs", "shop", "backup-29001", ("CronJob", "backup")),
    );
    let mut checkout = pod(
        "shop",
        "checkout-7d9f-a",
        "uid-checkout-7d9f-a",
        "node-1",
        &[("app", "checkout"), ("pod-template-hash", "7d9f")],
        Some(("ReplicaSet", "checkout-7d9f")),
    );
    checkout["metadata"]["annotations"] = serde_json::json!({
        "app.kubernetes.io/version": "1.4.2",
        "kubectl.kubernetes.io/last-applied-configuration": "{\"huge\":true}",
    });
    api.apply("pods", checkout.clone());
    api.apply(
        "pods",
        pod(
            "shop",
            "checkout-7d9f-b",
            "uid-checkout-7d9f-b",
            "node-1",
            &[("app", "checkout")],
            Some(("ReplicaSet", "checkout-7d9f")),
        ),
    );
    api.apply(
        "pods",
        pod(
            "shop",
            "backup-29001-x",
            "uid-backup-29001-x",
            "node-1",
            &[("app", "backup")],
            Some(("Job", "backup-29001")),
        ),
    );
    api.apply(
        "pods",
        pod(
            "shop",
            "db-0",
            "uid-db-0",
            "node-1",
            &[("app", "db")],
            Some(("StatefulSet", "db")),
        ),
    );
    // Another node's pod: the field selector keeps it out of this node's cache.
    api.apply(
        "pods",
        pod(
            "shop",
            "elsewhere",
            "uid-elsewhere",
            "node-2",
            &[("app", "elsewhere")],
            None,
        ),
    );

    let broker = broker().await;
    let pods = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig().display().to_string();
    let collector = Collector::start(
        &broker.bootstrap(),
        pods.path(),
        data.path(),
        &[
            ("LOGPIPE_COLLECTOR_METADATA", "api"),
            ("KUBECONFIG", kubeconfig.as_str()),
            ("LOGPIPE_COLLECTOR_METADATA_WAIT_MS", "5000"),
            ("LOGPIPE_COLLECTOR_METADATA_RETAIN_MS", "60000"),
        ],
    )
    .await;
    let mut collected = Collected::new(&broker);

    // Pods known from the first list.
    log(pods.path(), "checkout-7d9f-a", &["a1"]);
    log(pods.path(), "checkout-7d9f-b", &["b1"]);
    log(pods.path(), "backup-29001-x", &["x1"]);
    log(pods.path(), "db-0", &["d1"]);
    log(pods.path(), "elsewhere", &["e1"]);
    let events = collected
        .until(WAIT, |e| has(e, &["a1", "b1", "x1", "d1"]))
        .await
        .to_vec();
    let a1 = event(&events, "a1");
    assert_eq!(a1.k8s.workload.as_deref(), Some("checkout"));
    assert_eq!(a1.k8s.workload_kind.as_deref(), Some("Deployment"));
    assert_eq!(label(a1, "app"), Some("checkout"));
    assert_eq!(
        a1.k8s.annotations.keys().collect::<Vec<_>>(),
        vec!["app.kubernetes.io/version"],
        "only the allowed annotations"
    );
    assert_eq!(
        a1.k8s.namespace_labels.get("team").map(String::as_str),
        Some("payments")
    );
    assert!(a1.flags.is_empty(), "{:?}", a1.flags);
    let x1 = event(&events, "x1");
    assert_eq!(
        (x1.k8s.workload_kind.as_deref(), x1.k8s.workload.as_deref()),
        (Some("CronJob"), Some("backup"))
    );
    let d1 = event(&events, "d1");
    assert_eq!(
        (d1.k8s.workload_kind.as_deref(), d1.k8s.workload.as_deref()),
        (Some("StatefulSet"), Some("db"))
    );

    // A pod the API server tells about after its first lines are written: the file is
    // held back until the pod is known.
    log(pods.path(), "checkout-7d9f-c", &["c1"]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    api.apply(
        "pods",
        pod(
            "shop",
            "checkout-7d9f-c",
            "uid-checkout-7d9f-c",
            "node-1",
            &[("app", "checkout")],
            Some(("ReplicaSet", "checkout-7d9f")),
        ),
    );
    let events = collected.until(WAIT, |e| has(e, &["c1"])).await.to_vec();
    let c1 = event(&events, "c1");
    assert_eq!(label(c1, "app"), Some("checkout"), "{c1:?}");
    assert!(c1.flags.is_empty());

    // Labels changed: later lines carry the new ones.
    checkout["metadata"]["labels"]["version"] = serde_json::json!("2");
    api.apply("pods", checkout.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    log(pods.path(), "checkout-7d9f-a", &["a2"]);
    let events = collected.until(WAIT, |e| has(e, &["a2"])).await.to_vec();
    assert_eq!(label(event(&events, "a2"), "version"), Some("2"));

    // Deleted, and its last lines read afterwards: the metadata is kept.
    api.delete("pods", "shop/checkout-7d9f-b");
    tokio::time::sleep(Duration::from_millis(500)).await;
    log(pods.path(), "checkout-7d9f-b", &["b2"]);
    let events = collected.until(WAIT, |e| has(e, &["b2"])).await.to_vec();
    assert_eq!(
        event(&events, "b2").k8s.workload.as_deref(),
        Some("checkout")
    );

    // 410 Gone: the watch lists again, and what changed meanwhile is seen.
    let lists_before = count(&api.requests(), "list pods");
    api.expire();
    api.wait_for_requests(|r| count(r, "list pods") > lists_before, WAIT)
        .await;
    api.apply(
        "pods",
        pod(
            "shop",
            "late-0",
            "uid-late-0",
            "node-1",
            &[("app", "late")],
            None,
        ),
    );
    log(pods.path(), "late-0", &["l1"]);
    let events = collected.until(WAIT, |e| has(e, &["l1"])).await.to_vec();
    assert_eq!(label(event(&events, "l1"), "app"), Some("late"));

    // Bookmarks and a dropped connection: the watch resumes without missing a change.
    api.bookmark();
    let watches_before = count(&api.requests(), "watch pods");
    api.disconnect();
    api.wait_for_requests(|r| count(r, "watch pods") > watches_before, WAIT)
        .await;
    api.apply(
        "pods",
        pod(
            "shop",
            "later-0",
            "uid-later-0",
            "node-1",
            &[("app", "later")],
            None,
        ),
    );
    log(pods.path(), "later-0", &["m1"]);
    let events = collected.until(WAIT, |e| has(e, &["m1"])).await.to_vec();
    assert_eq!(label(event(&events, "m1"), "app"), Some("later"));

    // An outage: a new pod's lines are not held back for the whole bound, they ship
    // flagged; once the API server is back, its later lines get the metadata.
    let before = api.requests().len();
    api.set_down(true);
    api.wait_for_requests(|r| r[before..].iter().any(|q| q.ends_with(" pods")), WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    log(pods.path(), "dark-0", &["o1"]);
    let events = collected.until(WAIT, |e| has(e, &["o1"])).await.to_vec();
    let o1 = event(&events, "o1");
    assert!(o1.flags.contains(&Flag::K8sMetadataMissing), "{o1:?}");
    assert!(o1.k8s.labels.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "held back {:?} although the API server was down",
        started.elapsed()
    );
    api.apply(
        "pods",
        pod(
            "shop",
            "dark-0",
            "uid-dark-0",
            "node-1",
            &[("app", "dark")],
            None,
        ),
    );
    api.set_down(false);
    let mut recovered = None;
    for n in 0..60 {
        let message = format!("o2-{n}");
        log(pods.path(), "dark-0", &[message.as_str()]);
        let events = collected
            .until(WAIT, |e| has(e, &[message.as_str()]))
            .await
            .to_vec();
        let o2 = event(&events, &message);
        if label(o2, "app") == Some("dark") {
            assert!(o2.flags.is_empty());
            recovered = Some(n);
            break;
        }
        assert!(o2.flags.contains(&Flag::K8sMetadataMissing));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(recovered.is_some(), "the metadata never came back");

    // The other node's pod was never in this node's view.
    let events = collected.until(WAIT, |e| has(e, &["e1"])).await.to_vec();
    let e1 = event(&events, "e1");
    assert!(e1.k8s.labels.is_empty());
    assert!(e1.flags.contains(&Flag::K8sMetadataMissing));

    // One get per ReplicaSet and Job, however many pods they have.
    let requests = api.requests();
    assert_eq!(count(&requests, "get replicasets"), 1, "{requests:?}");
    assert_eq!(count(&requests, "get jobs"), 1, "{requests:?}");
    collector.stop().await;
}

fn count(requests: &[String], what: &str) -> usize {
    requests.iter().filter(|r| r.as_str() == what).count()
}

/// Metadata asked for with a kubeconfig that is not one: the collector does not start,
/// and says which setting and file are wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_kubeconfig_stops_the_collector_with_a_clear_error() {
    use logpipe_collector::CollectorConfig;
    use logpipe_common::config::Env;
    use logpipe_common::service::{self, Service, ServiceContext};

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(&kubeconfig, "clusters: [this is not: a kubeconfig\n").unwrap();
    let env = Env::from_pairs([
        ("LOGPIPE_KAFKA_BROKERS", "127.0.0.1:1"),
        ("LOGPIPE_DATA_DIR", dir.path().to_str().unwrap()),
        ("LOGPIPE_COLLECTOR_PODS_DIR", dir.path().to_str().unwrap()),
        ("LOGPIPE_COLLECTOR_METADATA", "api"),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
    ]);
    let (shared, config) = service::load::<CollectorConfig>(&env).unwrap();
    let ctx = ServiceContext::new(shared);
    let error = config.start(ctx.clone()).await.unwrap_err();
    let text = format!("{error:#}");
    ctx.shutdown.cancel();
    assert!(text.contains("LOGPIPE_COLLECTOR_METADATA"), "{text}");
}
