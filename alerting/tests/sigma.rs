//! Sigma rules read by the running service straight from a checkout of rules
//! (`../shared/data/sigma-rules`): an audit event on Kafka raises one alert, carrying the
//! rule's title, id and author, and events the rules do not describe raise none.

use std::time::Duration;

use logpipe_common::event::Timestamp;
use logpipe_common::testkit::{TestBroker, audit_events, shared_data};

use crate::service::{produce, receiver, settle, start_with_env, stop, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigma_rule_alerts_with_its_title_id_and_author() {
    let broker = TestBroker::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = receiver().await;
    std::fs::write(
        dir.path().join("notifiers.yaml"),
        format!("oncall:\n  url: http://{hook}/hook\n  format: generic\n  timeout: 2s\n"),
    )
    .unwrap();
    let rules = shared_data().join("sigma-rules/rules");
    let (ctx, _) = start_with_env(
        &broker,
        dir.path(),
        &[
            ("LOGPIPE_ALERTING_RULES_DIR", rules.to_str().unwrap()),
            ("LOGPIPE_ALERTING_SIGMA_NOTIFY", "oncall"),
        ],
    )
    .await;
    settle().await;

    let traces = shared_data().join("falco-k8s-audit/trace_files/k8s_audit");
    // An exec into a pod; an attach and an ordinary pod creation, which no rule describes.
    let mut events = Vec::new();
    for file in [
        "attach_pod.json",
        "create_nginx_pod_unprivileged.json",
        "exec_pod.json",
    ] {
        for mut event in audit_events(&traces.join(file)) {
            event.ts = Timestamp::now();
            events.push(event);
        }
    }
    produce(&broker, events).await;

    let fired = wait_for(&received, 1, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = wait_for(&received, 2, Duration::ZERO).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let alert = &fired[0];
    assert_eq!(alert["rule"], "kubernetes_audit_exec_into_container");
    assert_eq!(alert["severity"], "warning");
    assert_eq!(
        alert["summary"],
        "Potential Remote Command Execution In Pod Container (Sigma rule by Leo Tsaousis (@laripping))"
    );
    let labels = &alert["labels"];
    assert_eq!(labels["sigma_id"], "a1b0ca4e-7835-413e-8471-3ff2b8a66be6");
    assert_eq!(labels["sigma_author"], "Leo Tsaousis (@laripping)");
    assert_eq!(labels["sigma_level"], "medium");
    assert_eq!(labels["sigma_tags"], "attack.t1609,attack.execution");
    assert_eq!(
        alert["event"]["attributes"]["objectRef"]["subresource"],
        "exec"
    );
    stop(ctx).await;
}
