use k8s_openapi::api::events::v1::Event;
use logpipe_common::testkit::kube_api;
use logpipe_common::{Level, SourceKind};

use super::convert::log_event;

fn event(value: serde_json::Value) -> Event {
    serde_json::from_value(value).unwrap()
}

#[test]
fn an_event_about_a_pod_becomes_a_warning_of_that_pod() {
    let mut value = kube_api::event(
        "shop",
        "checkout-1.17f",
        ("Pod", "checkout-1"),
        "Warning",
        "BackOff",
        "Back-off restarting failed container api",
    );
    value["metadata"]["resourceVersion"] = "42".into();
    value["deprecatedSource"] = serde_json::json!({"component": "kubelet", "host": "node-7"});
    let converted = log_event(&event(value.clone()), "node-1");
    assert_eq!(converted.level, Level::Warn);
    assert_eq!(
        converted.message,
        "Back-off restarting failed container api"
    );
    assert_eq!(converted.k8s.namespace.as_deref(), Some("shop"));
    assert_eq!(converted.k8s.pod.as_deref(), Some("checkout-1"));
    assert_eq!(converted.k8s.pod_uid.as_deref(), Some("uid-checkout-1"));
    assert_eq!(converted.k8s.node, "node-7");
    assert_eq!(converted.source.kind, SourceKind::K8sEvent);
    assert_eq!(converted.ts.to_string(), "2026-12-05T10:00:00.123456000Z");
    assert_eq!(converted.attributes["reason"], "BackOff");
    assert_eq!(converted.attributes["regarding"]["kind"], "Pod");
    assert!(!converted.attributes.contains_key("note"));
    // The same version read by another collector is the same event; a new version is not.
    assert_eq!(log_event(&event(value.clone()), "node-2").id, converted.id);
    value["metadata"]["resourceVersion"] = "43".into();
    assert_ne!(log_event(&event(value), "node-1").id, converted.id);
}

#[test]
fn an_event_about_a_node_has_no_pod_and_normal_is_info() {
    let value = kube_api::event(
        "default",
        "node-1.17a",
        ("Node", "node-1"),
        "Normal",
        "NodeReady",
        "",
    );
    let converted = log_event(&event(value), "node-3");
    assert_eq!(converted.level, Level::Info);
    assert_eq!(converted.message, "NodeReady", "no note: the reason");
    assert_eq!(converted.k8s.pod, None);
    assert_eq!(converted.k8s.node, "node-3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_candidate_holds_the_lease_until_it_stops_renewing_or_gives_it_up() {
    use std::time::{Duration, Instant};

    use logpipe_common::testkit::FakeApiServer;

    use super::lease::Lease;

    let api = FakeApiServer::start().await;
    let client = crate::metadata::connect(Some(&api.kubeconfig()))
        .await
        .unwrap();
    // Long enough that a busy machine does not stall a renewal past it.
    let duration = Duration::from_secs(3);
    let mut a = Lease::new(client.clone(), "logpipe", "events", "node-a", duration);
    let mut b = Lease::new(client.clone(), "logpipe", "events", "node-b", duration);
    let holder = || api.get("leases", "logpipe/events").unwrap()["spec"]["holderIdentity"].clone();
    assert!(
        a.try_hold().await.unwrap(),
        "the first candidate creates it"
    );
    assert!(!b.try_hold().await.unwrap());
    // Renewals keep it, however long the other waits.
    let until = Instant::now() + duration * 2;
    let mut renewed = Instant::now();
    while Instant::now() < until {
        assert!(a.try_hold().await.unwrap());
        renewed = Instant::now();
        assert!(!b.try_hold().await.unwrap(), "taken while renewed");
        tokio::time::sleep(duration / 4).await;
    }
    assert_eq!(holder(), "node-a");
    // The holder stops renewing: the other takes over once it has seen no renewal for
    // the lease's duration, by its own clock.
    while !b.try_hold().await.unwrap() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(renewed.elapsed() >= duration, "{:?}", renewed.elapsed());
    assert_eq!(holder(), "node-b");
    assert!(!a.try_hold().await.unwrap(), "the old holder sees it taken");
    // Given up: taken at once.
    b.release().await;
    assert!(a.try_hold().await.unwrap());
    assert_eq!(holder(), "node-a");
    let requests = api.requests();
    assert_eq!(
        requests.iter().filter(|r| *r == "create leases").count(),
        1,
        "{requests:?}"
    );
}
