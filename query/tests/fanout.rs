//! The query service fanning out to indexers: merged hits and aggregations, and an answer
//! marked partial, naming the indexer that failed.

use logpipe_query::api;
use logpipe_query::backend::{Backend, Fanout};

use crate::access::scoped_events;
use crate::util::{Client, open_tokens, serve, serve_catalog, state, tokens, write_index};

const RANGE: [(&str, &str); 2] = [
    ("from", "2026-11-27T00:00:00Z"),
    ("to", "2026-11-28T00:00:00Z"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_merge_across_indexers_and_a_dead_one_makes_them_partial() {
    let events = scoped_events();
    // Two indexers, each holding every other event.
    let (even, odd): (Vec<_>, Vec<_>) = events
        .iter()
        .cloned()
        .enumerate()
        .partition(|(n, _)| n % 2 == 0);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve_catalog(
        write_index(
            dir_a.path(),
            &even.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        ),
        tokens(),
    )
    .await;
    let b = serve_catalog(
        write_index(
            dir_b.path(),
            &odd.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        ),
        tokens(),
    )
    .await;
    let url =
        |address: std::net::SocketAddr| url::Url::parse(&format!("http://{address}/")).unwrap();
    let time_limit = std::time::Duration::from_secs(5);

    let healthy = Fanout::new(vec![url(a), url(b)], time_limit).unwrap();
    let query = serve(api::router(state(Backend::Fanout(healthy), tokens()))).await;
    let shop = Client::new(query, Some("shop-token"));

    let (status, body) = shop
        .get("/api/v1/search", &[RANGE[0], RANGE[1], ("limit", "50")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 200);
    assert_eq!(body["partial"], false);
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 50);
    let times: Vec<&str> = hits.iter().map(|h| h["ts"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(times, sorted, "merged newest first");
    // Paging through the merged answer reaches every event once.
    let mut ids = std::collections::HashSet::new();
    let mut cursor = None::<String>;
    loop {
        let mut query = vec![RANGE[0], RANGE[1], ("limit", "33")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let (_, body) = shop.get("/api/v1/search", &query).await;
        for hit in body["hits"].as_array().unwrap() {
            assert!(ids.insert(hit["id"].as_str().unwrap().to_string()));
        }
        match body["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 200);

    let (_, body) = shop.get("/api/v1/histogram", &RANGE).await;
    assert_eq!(body["total"], 200);
    let (_, body) = shop
        .get("/api/v1/fields/k8s.namespace/values", &RANGE)
        .await;
    assert_eq!(
        body["values"],
        serde_json::json!([
            {"value": "shop", "count": 100}, {"value": "shop-eu", "count": 100}
        ])
    );
    let odd_id = events[151].id.to_string();
    assert_eq!(
        shop.get(&format!("/api/v1/events/{odd_id}"), &[]).await.0,
        200
    );
    let billing_id = events[251].id.to_string();
    assert_eq!(
        shop.get(&format!("/api/v1/events/{billing_id}"), &[])
            .await
            .0,
        404
    );
    let (status, text) = shop.get_text("/api/v1/export", &RANGE).await;
    assert_eq!(status, 200);
    assert_eq!(text.lines().count(), 200);
    // Bad queries are refused as the indexers refuse them; tokens are checked by both.
    let (status, body) = shop.get("/api/v1/search", &[("q", "level:")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["position"], 6);
    assert_eq!(
        Client::new(query, None).get("/api/v1/search", &[]).await.0,
        401
    );

    // One indexer down: the answer says so and names it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let degraded = Fanout::new(vec![url(a), url(dead)], time_limit).unwrap();
    let query = serve(api::router(state(Backend::Fanout(degraded), tokens()))).await;
    let shop = Client::new(query, Some("shop-token"));
    for path in [
        "/api/v1/search",
        "/api/v1/histogram",
        "/api/v1/fields/level/values",
    ] {
        let (status, body) = shop.get(path, &RANGE).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["partial"], true, "{path}");
        let failed = body["failed_shards"].to_string();
        assert!(failed.contains(&dead.to_string()), "{path}: {failed}");
    }
    let (_, body) = shop.get("/api/v1/search", &RANGE).await;
    assert_eq!(body["total"], 100, "what the live indexer holds");

    // Every indexer down: an error, not an empty answer.
    let none = Fanout::new(vec![url(dead)], time_limit).unwrap();
    let query = serve(api::router(state(Backend::Fanout(none), open_tokens()))).await;
    let (status, body) = Client::new(query, None).get("/api/v1/search", &RANGE).await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"].as_str().unwrap().contains(&dead.to_string()));
}

/// The merged page holds no more bytes than the query service's bound, however many
/// hits each indexer sent, and its cursor still reaches every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_page_ends_at_the_configured_byte_bound() {
    let events = scoped_events();
    let (even, odd): (Vec<_>, Vec<_>) = events
        .iter()
        .cloned()
        .enumerate()
        .partition(|(n, _)| n % 2 == 0);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut indexers = Vec::new();
    for (dir, part) in [(&dir_a, even), (&dir_b, odd)] {
        let part: Vec<_> = part.into_iter().map(|(_, e)| e).collect();
        let address = serve_catalog(write_index(dir.path(), &part), tokens()).await;
        indexers.push(url::Url::parse(&format!("http://{address}/")).unwrap());
    }
    let fanout = Fanout::new(indexers, std::time::Duration::from_secs(5)).unwrap();
    let bound = 2_000;
    let query = serve(api::router(api::ApiState {
        max_page_bytes: bound,
        ..state(Backend::Fanout(fanout), tokens())
    }))
    .await;
    let shop = Client::new(query, Some("shop-token"));
    let mut ids = std::collections::HashSet::new();
    let mut cursor = None::<String>;
    let mut pages = 0;
    loop {
        let mut query = vec![RANGE[0], RANGE[1], ("limit", "100")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let (status, body) = shop.get("/api/v1/search", &query).await;
        assert_eq!(status, 200, "{body}");
        let hits = body["hits"].as_array().unwrap();
        let held: usize = hits.iter().map(|hit| hit.to_string().len()).sum();
        assert!(!hits.is_empty());
        assert!(
            held <= bound || hits.len() == 1,
            "{} hits of {held} bytes",
            hits.len()
        );
        for hit in hits {
            assert!(ids.insert(hit["id"].as_str().unwrap().to_string()));
        }
        pages += 1;
        match body["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 200);
    assert!(pages > 10, "{pages} pages of at most {bound} bytes");
}
