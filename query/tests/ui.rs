//! The web UI in headless Chromium against the real query service: load, search, see
//! hits, expand one, filter by a facet value, turn on live tail and see a new event, all
//! under the UI's Content-Security-Policy with nothing refused; and a bearer token kept
//! for the tab only.

use std::time::Duration;

use headless_chrome::protocol::cdp::Page::AddScriptToEvaluateOnNewDocument;
use headless_chrome::{Browser, LaunchOptions, Tab};
use logpipe_common::event::Timestamp;
use logpipe_common::testkit::{TestBroker, produce_all, sample_event};
use logpipe_common::tokens::token_hash;

use crate::tail::start_query;
use crate::util::write_index;

const WAIT: Duration = Duration::from_secs(20);

fn chromium() -> std::path::PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|path| path.exists())
        .expect("Debian's chromium package (./dev setup installs it)")
}

fn eval(tab: &Tab, script: &str) -> serde_json::Value {
    tab.evaluate(script, false)
        .unwrap_or_else(|e| panic!("{script}: {e}"))
        .value
        .unwrap_or(serde_json::Value::Null)
}

fn browser() -> Browser {
    Browser::new(
        LaunchOptions::default_builder()
            .path(Some(chromium()))
            .headless(true)
            .sandbox(false)
            .window_size(Some((1280, 800)))
            .idle_browser_timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// Records in `window.cspViolations` every load or inline code the page's
/// Content-Security-Policy refuses, from the first script of each document on.
fn record_csp_violations(tab: &Tab) {
    tab.call_method(AddScriptToEvaluateOnNewDocument {
        source: "window.cspViolations = [];\
                 document.addEventListener('securitypolicyviolation', (e) =>\
                   window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"
            .to_string(),
        world_name: None,
        include_command_line_api: None,
        run_immediately: None,
    })
    .unwrap();
}

/// Waits until `script` evaluates to true.
fn wait_until(tab: &Tab, script: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if eval(tab, script) == serde_json::Value::Bool(true) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "timed out waiting for {script}; page: {}",
        eval(tab, "document.body.innerText")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_searches_expands_filters_and_tails() {
    let broker = TestBroker::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let events: Vec<_> = (0..200u64)
        .map(|n| {
            let mut event = sample_event(
                n,
                Timestamp::from_unix_nanos(now.unix_nanos() - (n as i64 + 1) * 1_000_000_000),
            );
            let app = if n % 2 == 0 { "checkout" } else { "cart" };
            event.k8s.workload = Some(app.into());
            event.k8s.labels.insert("app".into(), app.into());
            event
        })
        .collect();
    drop(write_index(data.path(), &events));
    let (ctx, address) = start_query(&broker, data.path(), None).await;
    let base = format!("http://{address}");
    let settings = broker.settings();

    tokio::task::spawn_blocking(move || {
        let browser = browser();
        let tab = browser.new_tab().unwrap();
        tab.set_default_timeout(WAIT);
        record_csp_violations(&tab);

        // Load: the default range shows the recent events.
        tab.navigate_to(&format!("{base}/?since=1h")).unwrap();
        tab.wait_until_navigated().unwrap();
        wait_until(&tab, "document.querySelectorAll('#results .hit').length >= 100");
        wait_until(&tab, "document.querySelector('#total').textContent.includes('200')");
        wait_until(&tab, "document.querySelectorAll('#histogram rect.bar').length > 0");

        // Search: only errors.
        eval(&tab, "document.querySelector('#q').value = 'level:error'");
        tab.find_element("#search").unwrap().click().unwrap();
        wait_until(&tab, "document.querySelector('#total').textContent.startsWith('13 ')");
        wait_until(
            &tab,
            "[...document.querySelectorAll('#results .hit')].every(h => h.querySelector('.level').classList.contains('level-error'))",
        );
        assert!(eval(&tab, "location.search").as_str().unwrap().contains("q=level%3Aerror"));

        // Expand a hit: its JSON, with its id.
        let id = eval(&tab, "document.querySelector('#results .hit').dataset.id");
        tab.find_element("#results .hit").unwrap().click().unwrap();
        wait_until(&tab, &format!(
            "!!document.querySelector('.hit-detail pre.json') && document.querySelector('.hit-detail pre.json').textContent.includes({id})"
        ));

        // Facet bars are sized through the CSSOM, which the policy allows.
        wait_until(&tab, "[...document.querySelectorAll('.fv-bar span')].some(s => s.style.width !== '' && s.getBoundingClientRect().width > 0)");

        // Facet: filter in the shop namespace.
        wait_until(&tab, "!!document.querySelector('.facet[data-field=\"k8s.namespace\"] .facet-value[data-value=\"shop\"] button.include')");
        tab.find_element(".facet[data-field=\"k8s.namespace\"] .facet-value[data-value=\"shop\"] button.include")
            .unwrap()
            .click()
            .unwrap();
        wait_until(&tab, "document.querySelector('#q').value.includes('k8s.namespace:\"shop\"')");
        wait_until(
            &tab,
            "document.querySelectorAll('#results .hit').length > 0 && [...document.querySelectorAll('#results .hit .hit-source')].every(s => s.textContent.includes('shop'))",
        );

        // Facet: the pods' workload, from the API server's metadata.
        wait_until(&tab, "!!document.querySelector('.facet[data-field=\"k8s.workload\"] .facet-value[data-value=\"checkout\"] button.include')");
        tab.find_element(".facet[data-field=\"k8s.workload\"] .facet-value[data-value=\"checkout\"] button.include")
            .unwrap()
            .click()
            .unwrap();
        wait_until(&tab, "document.querySelector('#q').value.includes('k8s.workload:\"checkout\"')");
        wait_until(&tab, "!!document.querySelector('.facet[data-field=\"k8s.labels.app\"] .facet-value[data-value=\"checkout\"]') && !document.querySelector('.facet[data-field=\"k8s.labels.app\"] .facet-value[data-value=\"cart\"]')");

        // Live tail: a newly produced matching event appears.
        tab.find_element("#tail").unwrap().click().unwrap();
        wait_until(&tab, "document.querySelector('#status').dataset.state === 'live'");
        let mut fresh = sample_event(10_000, Timestamp::now());
        fresh.k8s.workload = Some("checkout".into());
        assert_eq!(fresh.level.as_str(), "error");
        let fresh_id = fresh.id.to_string();
        produce_all(
            &settings,
            "logs",
            [(fresh.kafka_key(), serde_json::to_vec(&fresh).unwrap())],
        )
        .unwrap();
        wait_until(&tab, &format!("!!document.querySelector('#results .hit[data-id=\"{fresh_id}\"]')"));
        assert!(eval(&tab, "location.search").as_str().unwrap().contains("tail=1"));

        // All of that under the policy, with nothing refused; which it enforces: an
        // inline script is refused.
        assert_eq!(eval(&tab, "JSON.stringify(window.cspViolations)"), "[]");
        eval(&tab, "{ const s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; document.body.append(s); }");
        wait_until(&tab, "window.cspViolations.length === 1 && window.cspViolations[0].startsWith('script-src')");
        assert_eq!(eval(&tab, "window.inlineRan === undefined"), true);
    })
    .await
    .unwrap();
    ctx.shutdown.cancel();
}

/// A token typed into the UI lasts as long as the tab: in `sessionStorage`, never in
/// `localStorage`, where it would outlive the session on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_keeps_the_token_for_the_tab_only() {
    let broker = TestBroker::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let events: Vec<_> = (0..10u64)
        .map(|n| {
            sample_event(
                n,
                Timestamp::from_unix_nanos(now.unix_nanos() - 1_000_000_000),
            )
        })
        .collect();
    drop(write_index(data.path(), &events));
    let tokens = data.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "- name: ui\n  token_sha256: {}\n  namespaces: [\"*\"]\n",
            token_hash("ui-token")
        ),
    )
    .unwrap();
    let (ctx, address) = start_query(&broker, data.path(), Some(&tokens)).await;
    let base = format!("http://{address}");

    tokio::task::spawn_blocking(move || {
        let browser = browser();
        let tab = browser.new_tab().unwrap();
        tab.set_default_timeout(WAIT);
        tab.navigate_to(&format!("{base}/?since=1h")).unwrap();
        tab.wait_until_navigated().unwrap();
        wait_until(&tab, "!document.querySelector('#token-form').hidden");
        eval(&tab, "document.querySelector('#token').value = 'ui-token'");
        tab.find_element("#token-save").unwrap().click().unwrap();
        wait_until(&tab, "document.querySelectorAll('#results .hit').length === 10");
        assert_eq!(
            eval(&tab, "JSON.stringify([sessionStorage.getItem('logpipe.token'), localStorage.getItem('logpipe.token')])"),
            r#"["ui-token",null]"#
        );
        // A reload in the same tab keeps it.
        tab.reload(false, None).unwrap();
        tab.wait_until_navigated().unwrap();
        wait_until(&tab, "document.querySelectorAll('#results .hit').length === 10");
    })
    .await
    .unwrap();
    ctx.shutdown.cancel();
}
