//! The search API over a real index: hits, paging, aggregations, export and hostile input.

use std::collections::HashSet;

use logpipe_common::event::LogEvent;
use logpipe_common::testkit::sample_event;

use crate::util::{Client, at, noon, open_tokens, serve_catalog, write_index};

/// 2,000 events over two days (one per minute before and after noon), three sharing the
/// same instant to exercise ties between pages.
fn events() -> Vec<LogEvent> {
    let mut events: Vec<LogEvent> = (0..2_000u64)
        .map(|n| sample_event(n, at(noon(), (n as i64 - 1_000) * 60_000)))
        .collect();
    for event in events.iter_mut().skip(100).take(3) {
        event.ts = at(noon(), -5 * 60_000);
    }
    events
}

fn range() -> [(&'static str, &'static str); 2] {
    [
        ("from", "2026-11-26T00:00:00Z"),
        ("to", "2026-11-29T00:00:00Z"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_newest_first_without_gaps_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let events = events();
    let address = serve_catalog(write_index(dir.path(), &events), open_tokens()).await;
    let client = Client::new(address, None);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query: Vec<(&str, &str)> = range().to_vec();
        query.push(("q", "k8s.namespace:shop"));
        query.push(("limit", "77"));
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let (status, body) = client.get("/api/v1/search", &query).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 500);
        assert_eq!(body["partial"], false);
        for hit in body["hits"].as_array().unwrap() {
            assert_eq!(hit["k8s"]["namespace"], "shop");
            seen.push((
                hit["ts"].as_str().unwrap().to_string(),
                hit["id"].as_str().unwrap().to_string(),
            ));
        }
        pages += 1;
        match body["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 7);
    assert_eq!(seen.len(), 500);
    let unique: HashSet<_> = seen.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(unique.len(), 500, "no event twice");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, ties by id");

    // The stored event comes back exactly.
    let id_query = format!("id:{}", events[7].id);
    let [from, to] = range();
    let (_, body) = client
        .get(
            "/api/v1/search",
            &[("q", id_query.as_str()), from, to, ("limit", "1")],
        )
        .await;
    let hit: LogEvent = serde_json::from_value(body["hits"][0].clone()).unwrap();
    assert_eq!(hit, events[7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_ranges_histograms_values_events_and_export_agree() {
    let dir = tempfile::tempdir().unwrap();
    let events = events();
    let address = serve_catalog(write_index(dir.path(), &events), open_tokens()).await;
    let client = Client::new(address, None);

    // An hour before noon: 60 events, of which shop has 15.
    let hour = [
        ("from", "2026-11-27T11:00:00Z"),
        ("to", "2026-11-27T12:00:00Z"),
    ];
    let (status, body) = client.get("/api/v1/search", &hour).await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 63, "{}", body["total"]);

    let mut query = hour.to_vec();
    query.push(("interval", "10m"));
    let (status, body) = client.get("/api/v1/histogram", &query).await;
    assert_eq!(status, 200, "{body}");
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 6);
    assert_eq!(buckets[0]["ts"], "2026-11-27T11:00:00Z");
    assert_eq!(body["interval_ms"], 600_000);
    let counts: Vec<u64> = buckets
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 63);
    assert_eq!(counts[5], 13, "{counts:?}");

    // Automatic interval over 24 hours: at most 120 buckets.
    let (_, body) = client
        .get(
            "/api/v1/histogram",
            &[
                ("from", "2026-11-27T00:00:00Z"),
                ("to", "2026-11-28T00:00:00Z"),
            ],
        )
        .await;
    assert_eq!(body["interval"], "15m");
    assert_eq!(body["buckets"].as_array().unwrap().len(), 96);
    assert_eq!(body["total"], 1_440 + 3);

    let (status, body) = client
        .get("/api/v1/fields/k8s.namespace/values", &range())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 2_000);
    assert_eq!(body["values"].as_array().unwrap().len(), 4);
    assert_eq!(body["values"][0]["count"], 500);
    let (status, body) = client
        .get(
            "/api/v1/fields/attributes.http.status/values",
            &[
                ("from", range()[0].1),
                ("to", range()[1].1),
                ("q", "level:error"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["values"],
        serde_json::json!([{"value": 502, "count": 125}])
    );
    let (status, body) = client
        .get(
            "/api/v1/fields/attributes.http.path/values",
            &[range()[0], range()[1], ("limit", "2")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["values"].as_array().unwrap().len(), 2);
    assert_eq!(body["values"][0]["count"], 400);
    let (status, body) = client.get("/api/v1/fields/message/values", &range()).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("keyword fields"));

    let id = events[42].id.to_string();
    let (status, body) = client.get(&format!("/api/v1/events/{id}"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], id.as_str());
    let (status, _) = client
        .get(&format!("/api/v1/events/{}", "0".repeat(32)), &[])
        .await;
    assert_eq!(status, 404);

    let (status, text) = client
        .get_text(
            "/api/v1/export",
            &[
                ("q", "level:error"),
                ("from", range()[0].1),
                ("to", range()[1].1),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let lines: Vec<LogEvent> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 125);
    assert!(lines.windows(2).all(|w| w[0].ts >= w[1].ts));
    let (status, text) = client.get_text("/api/v1/export", &range()).await;
    assert_eq!(status, 200);
    assert_eq!(text.lines().count(), 2_000);

    let (status, body) = client.get("/api/v1/openapi.json", &[]).await;
    assert_eq!(status, 200);
    assert!(body["paths"]["/api/v1/tail"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_clear_errors_and_the_service_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve_catalog(write_index(dir.path(), &events()), open_tokens()).await;
    let client = Client::new(address, None);
    let bad = |body: &serde_json::Value| body["error"].as_str().unwrap_or_default().to_string();

    // A 1 MB query: too long for a URL, so it is sent as a form, as the API allows.
    let huge = "a".repeat(1 << 20);
    let (status, body) = client.post_form("/api/v1/search", &[("q", &huge)]).await;
    assert_eq!(status, 400);
    assert!(bad(&body).contains("at most 16384"), "{body}");
    let (status, body) = client
        .post_form(
            "/api/v1/histogram",
            &[("q", "level:error"), ("since", "30d")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // In a URL, it is refused by the HTTP layer with a 4xx, and nothing breaks.
    let status = raw_get(&client.base, &format!("/api/v1/search?q={huge}")).await;
    assert!((400..500).contains(&status), "{status}");

    let nested = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let (status, body) = client.get("/api/v1/search", &[("q", &nested)]).await;
    assert_eq!(status, 400);
    assert!(bad(&body).contains("nested more than 64"), "{body}");
    assert_eq!(body["position"], 64);

    for (q, expected) in [
        ("k8s.pod:/(a{1000}){1000}/", "invalid regular expression"),
        ("message:[1 TO 5]", "ranges work on ts"),
        ("attributes.http.path:[a TO b]", "must be numbers"),
        ("level:", "expected word"),
        ("nosuchfield:x", "unknown field"),
        ("ts:yesterday", "RFC 3339"),
    ] {
        let (status, body) = client.get("/api/v1/search", &[("q", q)]).await;
        assert_eq!(status, 400, "{q}");
        assert!(bad(&body).contains(expected), "{q}: {body}");
    }
    // Pathological patterns that backtracking engines choke on run in linear time.
    let (status, body) = client
        .get(
            "/api/v1/search",
            &[
                ("q", "k8s.pod:/(a+)+b/ OR k8s.pod:/(.*a){12}/"),
                ("since", "30d"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Patterns the index cannot run are refused up front, the same for search and alerts.
    let (status, body) = client.get("/api/v1/search", &[("q", "k8s.pod:/a$/")]).await;
    assert_eq!(status, 400);
    assert!(bad(&body).contains("invalid regular expression"), "{body}");

    for (query, expected) in [
        (vec![("cursor", "not-a-cursor")], "invalid cursor"),
        (vec![("limit", "0")], "`limit`"),
        (vec![("limit", "1000000")], "`limit`"),
        (vec![("since", "yesterday")], "`since`"),
        (
            vec![
                ("from", "2026-11-28T00:00:00Z"),
                ("to", "2026-11-27T00:00:00Z"),
            ],
            "empty",
        ),
        (vec![("interval", "fortnight")], "`interval`"),
        (vec![("nonsense", "1")], "unknown field"),
    ] {
        let (status, body) = client.get("/api/v1/search", &query).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert!(
            bad(&body).contains(expected) || body.is_null(),
            "{query:?}: {body}"
        );
    }
    let (status, body) = client
        .get("/api/v1/histogram", &[("since", "30d"), ("interval", "1s")])
        .await;
    assert_eq!(status, 400);
    assert!(bad(&body).contains("buckets"), "{body}");
    let (status, _) = client.get("/api/v1/events/not-an-id", &[]).await;
    assert_eq!(status, 400);

    let (status, body) = client
        .get("/api/v1/search", &[("q", "level:error"), ("since", "30d")])
        .await;
    assert_eq!(status, 200, "still serving: {body}");
}

/// Sends a GET with `target` as is over a plain TCP connection; the status code.
async fn raw_get(base: &str, target: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_its_time_limit_is_answered_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_index(dir.path(), &events());
    let mut state = crate::util::state(
        logpipe_query::backend::Backend::Local(catalog),
        open_tokens(),
    );
    state.time_limit = std::time::Duration::ZERO;
    let address = crate::util::serve(logpipe_query::api::router(state)).await;
    let client = Client::new(address, None);
    for path in [
        "/api/v1/search",
        "/api/v1/histogram",
        "/api/v1/fields/level/values",
    ] {
        let (status, body) = client.get(path, &range()).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("time limit"),
            "{body}"
        );
    }
}

/// Hostile shapes of the constructs that nest: deep NOT chains, deep groups, long OR
/// lists and mixtures, sent to every endpoint that parses a query, over real HTTP. Each is
/// answered 200 or 400; the server never crashes.
#[test]
fn hostile_query_shapes_are_answered_200_or_400() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let address = runtime.block_on(serve_catalog(
        write_index(dir.path(), &events()),
        open_tokens(),
    ));
    let http = reqwest::blocking::Client::new();
    let base = format!("http://{address}");
    let ask = |path: &str, q: &str| -> u16 {
        http.post(format!("{base}{path}"))
            .form(&[("q", q), ("since", "30d")])
            .send()
            .map(|response| response.status().as_u16())
            .unwrap_or_else(|error| panic!("{path} with a {}-byte query: {error}", q.len()))
    };
    let fixed = [
        format!("{}a", "NOT ".repeat(1_800)),
        format!("{}a", "-".repeat(7_000)),
        format!("{}a{}", "NOT (".repeat(1_000), ")".repeat(1_000)),
        format!("{}a{}", "(".repeat(5_000), ")".repeat(5_000)),
        (0..1_500)
            .map(|n| format!("w{n}"))
            .collect::<Vec<_>>()
            .join(" OR "),
        "NOT a AND -(b OR c) ".repeat(500),
    ];
    let paths = [
        "/api/v1/search",
        "/api/v1/histogram",
        "/api/v1/fields/k8s.pod/values",
        "/api/v1/export",
    ];
    for q in &fixed {
        for path in paths {
            let status = ask(path, q);
            assert!(
                status == 200 || status == 400,
                "{path}: {status} for {q:.60}"
            );
        }
    }
    let shape = proptest::collection::vec(
        proptest::sample::select(vec![
            "NOT ", "-", "+", "(", ")", "a ", "OR ", "AND ", "\"x y\" ", "k8s.pod:", "NOT(",
        ]),
        0..3_000,
    )
    .prop_map(|parts| parts.concat());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    runner
        .run(&shape, |q| {
            let status = ask("/api/v1/search", &q);
            prop_assert!(status == 200 || status == 400, "{} for {:.60}", status, q);
            Ok(())
        })
        .unwrap();
    // Still up.
    assert_eq!(ask("/api/v1/search", "level:error"), 200);
}
