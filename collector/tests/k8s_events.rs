//! The cluster's Kubernetes Events, collected once: two collectors compete for the Lease
//! on an API server that speaks the watch protocol (the test kit's `FakeApiServer`), the
//! holder ships every Event version once to a real broker; when it stops, the other takes
//! over, and what it lists again keeps its ids.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use logpipe_common::testkit::FakeApiServer;
use logpipe_common::testkit::kube_api::event;
use logpipe_common::{Level, LogEvent, SourceKind};

use crate::harness::{Collected, Collector, broker};

const WAIT: Duration = Duration::from_secs(30);
const LEASE: &str = "logpipe/logpipe-k8s-events";

fn messages(events: &[LogEvent]) -> BTreeSet<String> {
    events.iter().map(|e| e.message.clone()).collect()
}

fn has(events: &[LogEvent], wanted: &[&str]) -> bool {
    let seen = messages(events);
    wanted.iter().all(|w| seen.contains(*w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_holder_ships_each_event_once_and_another_collector_takes_over() {
    let api = FakeApiServer::start().await;
    for (name, pod, kind, reason, note) in [
        (
            "a.1",
            "checkout-1",
            "Warning",
            "BackOff",
            "back-off restarting checkout",
        ),
        (
            "a.2",
            "checkout-2",
            "Warning",
            "OOMKilling",
            "memory limit reached",
        ),
        ("a.3", "web-0", "Normal", "Pulled", "image pulled"),
    ] {
        api.apply(
            "events",
            event("shop", name, ("Pod", pod), kind, reason, note),
        );
    }
    let broker = broker().await;
    let kubeconfig = api.kubeconfig().display().to_string();
    let start = |node: &'static str| {
        let bootstrap = broker.bootstrap();
        let kubeconfig = kubeconfig.clone();
        async move {
            let pods = tempfile::tempdir().unwrap();
            let data = tempfile::tempdir().unwrap();
            let collector = Collector::start(
                &bootstrap,
                pods.path(),
                data.path(),
                &[
                    ("LOGPIPE_NODE_NAME", node),
                    ("LOGPIPE_COLLECTOR_K8S_EVENTS", "true"),
                    ("LOGPIPE_COLLECTOR_K8S_EVENTS_LEASE_MS", "4000"),
                    ("KUBECONFIG", kubeconfig.as_str()),
                ],
            )
            .await;
            (collector, pods, data)
        }
    };
    let mut collected = Collected::new(&broker);
    let first = start("node-1").await;
    let second = start("node-2").await;
    let events = collected
        .until(WAIT, |e| {
            has(
                e,
                &[
                    "back-off restarting checkout",
                    "memory limit reached",
                    "image pulled",
                ],
            )
        })
        .await
        .to_vec();
    let oom = events
        .iter()
        .find(|e| e.message == "memory limit reached")
        .unwrap();
    assert_eq!(oom.source.kind, SourceKind::K8sEvent);
    assert_eq!(oom.source.name.as_deref(), Some("k8s-events"));
    assert_eq!(oom.level, Level::Warn);
    assert_eq!(oom.k8s.namespace.as_deref(), Some("shop"));
    assert_eq!(oom.k8s.pod.as_deref(), Some("checkout-2"));
    assert_eq!(oom.attributes["reason"], "OOMKilling");
    let holder = api.get("leases", LEASE).unwrap()["spec"]["holderIdentity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(holder == "node-1" || holder == "node-2", "{holder}");

    // New Events and a new version of one (its count grown) arrive while it holds.
    api.apply(
        "events",
        event(
            "shop",
            "a.4",
            ("Pod", "checkout-3"),
            "Warning",
            "FailedScheduling",
            "0/3 nodes are available",
        ),
    );
    let mut again = event(
        "shop",
        "a.2",
        ("Pod", "checkout-2"),
        "Warning",
        "OOMKilling",
        "memory limit reached again",
    );
    again["deprecatedCount"] = 2.into();
    api.apply("events", again);
    collected
        .until(WAIT, |e| {
            has(
                e,
                &["0/3 nodes are available", "memory limit reached again"],
            )
        })
        .await;
    collected.settle(Duration::from_secs(2)).await;
    // One holder: each version once.
    assert_eq!(
        collected.events.len(),
        5,
        "{:?}",
        messages(&collected.events)
    );

    // The holder stops (giving the lease up): the other takes over, lists the Events
    // again (the same versions, the same ids) and ships what comes next.
    let ((leader, _leader_pods, _leader_data), (follower, _pods, _data)) = if holder == "node-1" {
        (first, second)
    } else {
        (second, first)
    };
    leader.stop().await;
    api.apply(
        "events",
        event(
            "shop",
            "a.5",
            ("Pod", "web-1"),
            "Warning",
            "Unhealthy",
            "readiness probe failed",
        ),
    );
    collected
        .until(WAIT, |e| has(e, &["readiness probe failed"]))
        .await;
    collected.settle(Duration::from_secs(2)).await;
    let new_holder = api.get("leases", LEASE).unwrap()["spec"]["holderIdentity"].clone();
    assert_ne!(new_holder, holder.as_str());
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for event in &collected.events {
        ids.entry(event.message.clone())
            .or_default()
            .insert(event.id.to_string());
    }
    assert_eq!(ids.len(), 6, "{ids:?}");
    for (message, ids) in &ids {
        assert_eq!(
            ids.len(),
            1,
            "{message}: one id whichever collector shipped it"
        );
    }
    follower.stop().await;
}
