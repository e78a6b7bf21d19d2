//! Alerting against a real Alertmanager (Debian's `prometheus-alertmanager`, installed by
//! `./dev setup`): alerts posted to its `/api/v2/alerts` with their labels, annotations
//! and link to the web UI, renewed before their lease runs out, silenced through its API,
//! routed to its webhook receiver, and resolved when the rule clears.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use logpipe_common::event::Timestamp;
use logpipe_common::testkit::TestBroker;
use serde_json::{Value, json};

use crate::service::{error, produce, receiver, settle, start_with_env, stop, wait_for};

const UI_URL: &str = "http://logs.example.test/";

/// An Alertmanager process on a free loopback port, clustering off, killed on drop.
struct Alertmanager {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (YAML) and waits until it is ready.
    async fn start(config: &str) -> Alertmanager {
        let binary = binary();
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("alertmanager.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("alertmanager.log");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut alertmanager = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = reqwest::get(format!("{}/-/ready", alertmanager.url)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return alertmanager;
            }
            if let Ok(Some(status)) = alertmanager.child.try_wait() {
                panic!("alertmanager exited with {status}: {}", alertmanager.logs());
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager not ready within 30 s: {}",
                alertmanager.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v2/alerts`: the alerts not yet ended, silenced ones included.
    async fn alerts(&self) -> Vec<Value> {
        let body: Value = reqwest::get(format!("{}/api/v2/alerts", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body.as_array().unwrap().clone()
    }

    /// Polls the alerts until `done` holds for them; what it saw last.
    async fn alerts_until(&self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let alerts = self.alerts().await;
            if done(&alerts) || Instant::now() > deadline {
                return alerts;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `prometheus-alertmanager` (Debian's name) or `alertmanager` on `PATH`, else Debian's
/// path.
fn binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["prometheus-alertmanager", "alertmanager"] {
        if let Some(found) = std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
        {
            return found;
        }
    }
    let debian = PathBuf::from("/usr/bin/prometheus-alertmanager");
    assert!(
        debian.is_file(),
        "Alertmanager is not installed: run ./dev setup (Debian package prometheus-alertmanager)"
    );
    debian
}

/// Alertmanager routing every alert, grouped by rule, to the webhook at `hook`.
fn alertmanager_config(hook: SocketAddr) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  \
         repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      \
         - url: http://{hook}/hook\n        send_resolved: true\n"
    )
}

/// A threshold rule (5 errors of a pod within `window`) notifying Alertmanager at `url`,
/// firing alerts renewed every `resend`.
fn write_config(dir: &Path, alertmanager: &str, window: &str, resend: &str) {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("checkout.yaml"),
        format!(
            "name: checkout-errors\ntype: threshold\nquery: 'k8s.namespace:shop AND level:error'\n\
             window: {window}\nthreshold: 5\ngroup_by: [k8s.pod]\nseverity: critical\n\
             summary: '{{{{ count }}}} errors in {{{{ group.k8s.pod }}}}'\nnotify: [alertmanager]\n\
             realert: 1m\nlateness: 1s\nlabels:\n  team: shop\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("notifiers.yaml"),
        format!(
            "alertmanager:\n  url: {alertmanager}\n  format: alertmanager-api\n  resend: {resend}\n  \
             timeout: 2s\n"
        ),
    )
    .unwrap();
}

fn rfc3339(value: &Value) -> i64 {
    Timestamp::parse_rfc3339(value.as_str().unwrap())
        .unwrap()
        .unix_nanos()
}

fn named<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == rule)
        .collect()
}

/// Alertmanager holds an alert only until its `endsAt`: the alert arrives with its labels,
/// annotations and link, stays one alert (same fingerprint) past several leases because it
/// is renewed, is routed to the receiver, and a silence made in Alertmanager mutes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_alertmanager_are_renewed_routed_and_silenced() {
    let broker = TestBroker::start().unwrap();
    let (hook, routed) = receiver().await;
    let alertmanager = Alertmanager::start(&alertmanager_config(hook)).await;
    let dir = tempfile::tempdir().unwrap();
    // A lease of 4 s; the window outlasts the test, so the alert fires throughout.
    write_config(dir.path(), &alertmanager.url, "10m", "1s");
    let (ctx, _) =
        start_with_env(&broker, dir.path(), &[("LOGPIPE_ALERTING_UI_URL", UI_URL)]).await;
    settle().await;
    let produced_at = Timestamp::now().unix_nanos();
    produce(&broker, (0..6).map(|n| error(n, "api-1")).collect()).await;

    let alerts = alertmanager
        .alerts_until(Duration::from_secs(60), |alerts| {
            !named(alerts, "checkout-errors").is_empty()
        })
        .await;
    let alert = named(&alerts, "checkout-errors")
        .first()
        .copied()
        .cloned()
        .unwrap_or_else(|| panic!("no alert in alertmanager: {alerts:?}"));
    let posted_at = Timestamp::now().unix_nanos();
    assert_eq!(
        alert["labels"],
        json!({
            "alertname": "checkout-errors",
            "severity": "critical",
            "k8s_pod": "api-1",
            "team": "shop",
        })
    );
    // Fired at the fifth error; a renewal counts the sixth too.
    let annotations = &alert["annotations"];
    let count = annotations["count"].as_str().unwrap();
    assert!(count == "5" || count == "6", "{alert}");
    assert_eq!(annotations["summary"], format!("{count} errors in api-1"));
    assert_eq!(
        annotations["query"],
        r#"k8s.namespace:shop AND level:error AND k8s.pod:"api-1""#
    );
    let sample: Value = serde_json::from_str(annotations["sample"].as_str().unwrap()).unwrap();
    assert_eq!(sample["k8s"]["pod"], "api-1");
    assert_eq!(sample["level"], "error");

    let starts_at = rfc3339(&alert["startsAt"]);
    let ends_at = rfc3339(&alert["endsAt"]);
    const SECOND: i64 = 1_000_000_000;
    assert!(
        (produced_at - 5 * SECOND..=posted_at).contains(&starts_at),
        "startsAt is the event time of the fifth error: {alert}"
    );
    assert!(
        ends_at > posted_at - SECOND && ends_at <= posted_at + 5 * SECOND,
        "endsAt is a lease (4 s) after the post: {alert}"
    );

    let link = url::Url::parse(alert["generatorURL"].as_str().unwrap()).unwrap();
    assert_eq!(link.host_str(), Some("logs.example.test"));
    let view: BTreeMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(
        view["q"],
        r#"k8s.namespace:shop AND level:error AND k8s.pod:"api-1""#
    );
    let from = rfc3339(&Value::from(view["from"].clone()));
    let to = rfc3339(&Value::from(view["to"].clone()));
    assert!(from <= starts_at - 60 * SECOND && from > starts_at - 11 * 60 * SECOND);
    assert!(to > starts_at && to <= posted_at + 2 * SECOND, "{view:?}");

    // Three leases later it is still one firing alert, renewed: the same fingerprint, a
    // later end.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let later = alertmanager.alerts().await;
    let later = named(&later, "checkout-errors");
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(later[0]["fingerprint"], alert["fingerprint"]);
    assert_eq!(later[0]["status"]["state"], "active");
    assert_eq!(later[0]["startsAt"], alert["startsAt"]);
    assert!(
        rfc3339(&later[0]["endsAt"]) > ends_at + 8 * SECOND,
        "{later:?}"
    );
    assert_eq!(later[0]["annotations"]["summary"], "6 errors in api-1");

    // Alertmanager routed it, grouped by rule, to its receiver.
    let notified = wait_for(&routed, 1, Duration::from_secs(20)).await;
    let group = notified
        .iter()
        .find(|n| n["status"] == "firing")
        .unwrap_or_else(|| panic!("no firing notification: {notified:?}"));
    assert_eq!(
        group["groupLabels"],
        json!({"alertname": "checkout-errors"})
    );
    assert_eq!(group["alerts"][0]["labels"]["k8s_pod"], "api-1");
    assert_eq!(group["alerts"][0]["fingerprint"], alert["fingerprint"]);

    // A silence made in Alertmanager mutes it.
    let silence: Value = reqwest::Client::new()
        .post(format!("{}/api/v2/silences", alertmanager.url))
        .json(&json!({
            "matchers": [
                {"name": "alertname", "value": "checkout-errors", "isRegex": false, "isEqual": true},
                {"name": "k8s_pod", "value": "api-1", "isRegex": false, "isEqual": true},
            ],
            "startsAt": Timestamp::now().to_string(),
            "endsAt": Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() + 3600 * SECOND).to_string(),
            "createdBy": "alerting tests",
            "comment": "maintenance",
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let silence_id = silence["silenceID"].as_str().unwrap().to_string();
    let alerts = alertmanager
        .alerts_until(Duration::from_secs(20), |alerts| {
            named(alerts, "checkout-errors")
                .first()
                .is_some_and(|a| a["status"]["state"] == "suppressed")
        })
        .await;
    let silenced = named(&alerts, "checkout-errors");
    assert_eq!(silenced.len(), 1, "{alerts:?}");
    assert_eq!(silenced[0]["status"]["state"], "suppressed", "{alerts:?}");
    assert_eq!(silenced[0]["status"]["silencedBy"], json!([silence_id]));
    stop(ctx).await;
}

/// When the rule clears, the resolution is posted with its end: Alertmanager ends the alert
/// at once (not when its lease would run out, minutes later) and tells its receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleared_rule_resolves_its_alert_in_alertmanager() {
    let broker = TestBroker::start().unwrap();
    let (hook, routed) = receiver().await;
    let alertmanager = Alertmanager::start(&alertmanager_config(hook)).await;
    let dir = tempfile::tempdir().unwrap();
    // A lease of 4 minutes: only the resolution can end the alert within the test.
    write_config(dir.path(), &alertmanager.url, "2s", "1m");
    let (ctx, _) = start_with_env(&broker, dir.path(), &[]).await;
    settle().await;
    produce(&broker, (0..6).map(|n| error(n, "api-2")).collect()).await;

    let alerts = alertmanager
        .alerts_until(Duration::from_secs(60), |alerts| {
            !named(alerts, "checkout-errors").is_empty()
        })
        .await;
    assert_eq!(named(&alerts, "checkout-errors").len(), 1, "{alerts:?}");
    assert!(
        named(&alerts, "checkout-errors")[0]
            .get("generatorURL")
            .is_none_or(|url| url.as_str().is_some_and(str::is_empty)),
        "no UI configured, no link: {alerts:?}"
    );

    // The window passes: the alert ends in Alertmanager and its receiver hears it.
    let alerts = alertmanager
        .alerts_until(Duration::from_secs(60), |alerts| {
            named(alerts, "checkout-errors").is_empty()
        })
        .await;
    assert!(named(&alerts, "checkout-errors").is_empty(), "{alerts:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let resolved = loop {
        let notified = wait_for(&routed, 0, Duration::ZERO).await;
        if let Some(resolved) = notified.into_iter().find(|n| n["status"] == "resolved") {
            break resolved;
        }
        assert!(Instant::now() < deadline, "no resolved notification");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let alert = &resolved["alerts"][0];
    assert_eq!(alert["labels"]["k8s_pod"], "api-2");
    assert!(rfc3339(&alert["endsAt"]) <= Timestamp::now().unix_nanos());
    assert!(rfc3339(&alert["endsAt"]) >= rfc3339(&alert["startsAt"]));
    stop(ctx).await;
}
