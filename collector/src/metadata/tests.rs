use std::collections::BTreeMap;
use std::time::Duration;

use globset::{Glob, GlobSetBuilder};
use logpipe_common::event::K8s;

use super::*;

fn metadata(retain: Duration) -> Metadata {
    let mut globs = GlobSetBuilder::new();
    globs.add(Glob::new("app.kubernetes.io/*").unwrap());
    Metadata::new(globs.build().unwrap(), Duration::from_secs(2), retain)
}

fn info(name: &str, app: &str) -> PodInfo {
    PodInfo {
        namespace: "shop".into(),
        name: name.into(),
        labels: [("app".to_string(), app.to_string())].into(),
        annotations: BTreeMap::new(),
        workload: Some(("Deployment".into(), app.into())),
    }
}

fn k8s(uid: &str) -> K8s {
    K8s {
        namespace: Some("shop".into()),
        pod: Some("p".into()),
        pod_uid: Some(uid.into()),
        node: "node-1".into(),
        ..K8s::default()
    }
}

#[test]
fn a_known_pod_gets_its_labels_workload_and_namespace_labels() {
    let metadata = metadata(Duration::from_secs(60));
    assert_eq!(metadata.lookup("u1"), Lookup::Pending);
    metadata.apply("u1".into(), info("api-1", "api"), None);
    metadata.set_namespace("shop".into(), [("team".into(), "payments".into())].into());
    let mut event = k8s("u1");
    assert!(metadata.enrich(&mut event));
    assert_eq!(event.workload.as_deref(), Some("api"));
    assert_eq!(event.workload_kind.as_deref(), Some("Deployment"));
    assert_eq!(event.labels.get("app").map(String::as_str), Some("api"));
    assert_eq!(
        event.namespace_labels.get("team").map(String::as_str),
        Some("payments")
    );
    // A pod not known yet still gets its namespace's labels.
    let mut unknown = k8s("u2");
    assert!(!metadata.enrich(&mut unknown));
    assert!(unknown.labels.is_empty() && unknown.workload.is_none());
    assert_eq!(unknown.namespace_labels, event.namespace_labels);
}

#[test]
fn a_deleted_pod_keeps_its_metadata_for_the_retention_time_only() {
    let metadata = metadata(Duration::from_millis(200));
    metadata.apply("u1".into(), info("api-1", "api"), None);
    metadata.delete("u1");
    assert_eq!(metadata.lookup("u1"), Lookup::Found);
    std::thread::sleep(Duration::from_millis(250));
    // Expiry happens on the next change.
    metadata.apply("u2".into(), info("api-2", "api"), None);
    assert_eq!(metadata.lookup("u1"), Lookup::Pending);
    assert_eq!(metadata.lookup("u2"), Lookup::Found);
}

#[test]
fn a_relist_marks_the_pods_it_no_longer_names_as_deleted() {
    let metadata = metadata(Duration::ZERO);
    metadata.apply("u1".into(), info("api-1", "api"), None);
    metadata.apply("u2".into(), info("api-2", "api"), None);
    metadata.begin_relist();
    metadata.apply("u2".into(), info("api-2", "api-v2"), None);
    metadata.end_relist();
    assert_eq!(metadata.lookup("u1"), Lookup::Pending);
    let mut event = k8s("u2");
    assert!(metadata.enrich(&mut event));
    assert_eq!(event.labels.get("app").map(String::as_str), Some("api-v2"));
}

#[test]
fn an_unreachable_api_server_is_not_waited_for() {
    let metadata = metadata(Duration::from_secs(60));
    metadata.set_reachable(false);
    assert_eq!(metadata.lookup("u1"), Lookup::Unavailable);
    metadata.apply("u1".into(), info("api-1", "api"), None);
    assert_eq!(metadata.lookup("u1"), Lookup::Found);
}

#[test]
fn a_static_pod_is_found_by_its_kubelet_uid() {
    let metadata = metadata(Duration::from_secs(60));
    metadata.apply(
        "mirror-uid".into(),
        info("etcd-node-1", "etcd"),
        Some("kubelet-hash".into()),
    );
    let mut event = k8s("kubelet-hash");
    assert!(metadata.enrich(&mut event));
    assert_eq!(event.labels.get("app").map(String::as_str), Some("etcd"));
}

#[test]
fn annotations_are_taken_by_the_allow_list_and_bounded() {
    let metadata = metadata(Duration::from_secs(60));
    let annotations: BTreeMap<String, String> = [
        ("app.kubernetes.io/version".to_string(), "1.4.2".to_string()),
        (
            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
            "{}".to_string(),
        ),
        ("app.kubernetes.io/blob".to_string(), "x".repeat(4096)),
    ]
    .into();
    let allowed = metadata.allowed_annotations(&annotations);
    assert_eq!(
        allowed.into_iter().collect::<Vec<_>>(),
        vec![("app.kubernetes.io/version".to_string(), "1.4.2".to_string())]
    );
    let many: BTreeMap<String, String> = (0..500).map(|n| (format!("k{n}"), "v".into())).collect();
    assert_eq!(bounded_labels(Some(&many)).len(), 64);
}
