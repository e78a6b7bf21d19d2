//! Days only object storage holds (an indexer evicted them from its volume), searched
//! through the query service's bounded cache, against a real S3 server (SeaweedFS).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use logpipe_common::testkit::{TestObjectStore, sample_event};
use logpipe_query::api;
use logpipe_query::backend::Backend;
use logpipe_query::cold::ColdStore;
use logpipe_store::archive::Archive;
use logpipe_store::layout::Positions;
use logpipe_store::ledger::{EVICTED, Ledger};
use logpipe_store::{Catalog, Day, IndexLayout, Reload};

use crate::util::{Client, at, noon, serve, state, tokens, write_index};

const DAY_MS: i64 = 86_400_000;
const RANGE: [(&str, &str); 2] = [
    ("from", "2026-11-25T00:00:00Z"),
    ("to", "2026-11-28T00:00:00Z"),
];

fn day(text: &str) -> Day {
    text.parse().unwrap()
}

/// An indexer's store of 600 events over 2026-11-25..27 copied to `s3` as `indexer-0`
/// copies it, the two older days then evicted from its volume: its catalog (today alone)
/// and the bytes of each evicted day in object storage.
async fn evicted_store(s3: &TestObjectStore, data: &Path) -> (Catalog, Vec<u64>) {
    let events: Vec<_> = (0..600u64)
        .map(|n| sample_event(n, at(noon(), -((n % 3) as i64) * DAY_MS - n as i64 * 1000)))
        .collect();
    write_index(data, &events);
    let layout = IndexLayout::under(data);
    layout
        .save_positions(&Positions {
            topic: "logs".into(),
            offsets: BTreeMap::from([(0, 600)]),
        })
        .unwrap();
    let mut ledger = Ledger::open(layout.root()).unwrap();
    let mut archive = Archive::open(&s3.url("cluster"), "indexer-0", s3.env())
        .await
        .unwrap();
    archive.sync(&layout).await.unwrap();
    for evicted in [day("2026-11-25"), day("2026-11-26")] {
        ledger.removal(evicted, EVICTED).unwrap();
        std::fs::remove_dir_all(layout.day_dir(evicted)).unwrap();
    }
    archive.sync(&layout).await.unwrap();
    let sizes = archive
        .evicted_days()
        .iter()
        .map(|(day, meta)| archive.day_bytes(&day.to_string(), meta))
        .collect();
    (Catalog::open(layout, Reload::Manual).unwrap(), sizes)
}

fn cold(s3: &TestObjectStore, cache: &Path, max_bytes: u64) -> ColdStore {
    ColdStore::new(s3.url("cluster"), s3.env(), cache.to_path_buf(), max_bytes).unwrap()
}

/// Every hit of a search, page by page: ids, and whether a page was partial.
async fn all_ids(client: &Client, q: &str) -> (Vec<String>, bool) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut partial = false;
    loop {
        let mut query = vec![("q", q), ("limit", "70"), RANGE[0], RANGE[1]];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let (status, body) = client.get("/api/v1/search", &query).await;
        assert_eq!(status, 200, "{body}");
        partial |= body["partial"].as_bool().unwrap();
        for hit in body["hits"].as_array().unwrap() {
            ids.push(hit["id"].as_str().unwrap().to_owned());
        }
        match body["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (ids, partial),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_days_are_searched_from_object_storage_each_event_once_within_the_token_scope() {
    let s3 = TestObjectStore::start().unwrap();
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (catalog, _) = evicted_store(&s3, data.path()).await;
    let store = cold(&s3, cache.path(), 1 << 30);
    let backend = Backend::Tiered(Box::new(Backend::Local(catalog)), store.clone());
    let address = serve(api::router(state(backend, tokens()))).await;
    let admin = Client::new(address, Some("admin-token"));

    // Today alone: nothing is fetched.
    let (status, body) = admin
        .get(
            "/api/v1/search",
            &[
                ("q", "*"),
                ("from", "2026-11-27T00:00:00Z"),
                ("to", "2026-11-28T00:00:00Z"),
            ],
        )
        .await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(200)), "{body}");
    assert_eq!(store.cached_bytes().await, 0);

    // The three days: every event once, page by page.
    let (ids, partial) = all_ids(&admin, "*").await;
    assert!(!partial);
    assert_eq!(ids.len(), 600);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 600);
    assert!(store.cached_bytes().await > 0);
    let (_, body) = admin
        .get(
            "/api/v1/search",
            &[("q", "*"), ("limit", "1"), RANGE[0], RANGE[1]],
        )
        .await;
    assert_eq!(body["total"], 600);
    let (_, body) = admin
        .get("/api/v1/histogram", &[("q", "*"), RANGE[0], RANGE[1]])
        .await;
    assert_eq!(body["total"], 600, "{body}");
    let buckets: u64 = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(buckets, 600);
    let (_, body) = admin
        .get(
            "/api/v1/fields/k8s.namespace/values",
            &[("q", "*"), RANGE[0], RANGE[1]],
        )
        .await;
    let counts: Vec<(String, u64)> = body["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap().to_owned(),
                v["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 600, "{body}");
    assert!(counts.iter().all(|(_, n)| *n == 150), "{counts:?}");

    // An event of an evicted day by its permalink.
    let old = sample_event(3, at(noon(), -DAY_MS));
    let (status, body) = admin.get(&format!("/api/v1/events/{}", old.id), &[]).await;
    assert_eq!(
        (status, body["id"].as_str()),
        (200, Some(old.id.to_string().as_str()))
    );

    // A token scoped to one namespace sees its events of evicted days and no others.
    let shop = Client::new(address, Some("shop-token"));
    let (ids, _) = all_ids(&shop, "*").await;
    assert_eq!(ids.len(), 150);
    let (_, body) = shop
        .get(
            "/api/v1/search",
            &[("q", "k8s.namespace:payments"), RANGE[0], RANGE[1]],
        )
        .await;
    assert_eq!(body["total"], 0, "{body}");
    let (status, _) = shop.get(&format!("/api/v1/events/{}", old.id), &[]).await;
    assert_eq!(status, 404, "sample event 3 is in payments");
    // A bad query is refused, not answered partial.
    let (status, _) = admin
        .get("/api/v1/search", &[("q", "level:("), RANGE[0], RANGE[1]])
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_needing_more_days_than_the_cache_holds_is_partial_and_names_the_day_left_out() {
    let s3 = TestObjectStore::start().unwrap();
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (catalog, sizes) = evicted_store(&s3, data.path()).await;
    let one_day = *sizes.iter().max().unwrap();
    let store = cold(&s3, cache.path(), one_day);
    let backend = Backend::Tiered(Box::new(Backend::Local(catalog)), store.clone());
    let address = serve(api::router(state(backend, tokens()))).await;
    let admin = Client::new(address, Some("admin-token"));

    let (status, body) = admin
        .get("/api/v1/search", &[("q", "*"), RANGE[0], RANGE[1]])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["partial"], true, "{body}");
    assert_eq!(body["total"], 400, "today and the one day that fits");
    let failed = body["failed_shards"].to_string();
    assert!(
        failed.contains("object storage indexer-0 2026-11-2") && failed.contains("narrow"),
        "{failed}"
    );

    // One day at a time fits, the least recently searched making room.
    for (from, to) in [
        ("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z"),
        ("2026-11-26T00:00:00Z", "2026-11-27T00:00:00Z"),
        ("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z"),
    ] {
        let (_, body) = admin
            .get("/api/v1/search", &[("q", "*"), ("from", from), ("to", to)])
            .await;
        assert_eq!(
            (body["total"].as_u64(), &body["partial"]),
            (Some(200), &false.into()),
            "{}",
            body["failed_shards"]
        );
        assert!(store.cached_bytes().await <= one_day);
    }
    // The cache directory holds no more than its bound either.
    let on_disk: u64 = walk(cache.path());
    assert!(
        on_disk <= one_day,
        "{on_disk} bytes cached, bound {one_day}"
    );
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path())
            } else {
                entry.metadata().unwrap().len()
            }
        })
        .sum()
}
