//! Tokens scoped to namespaces and label selectors: a token for one namespace never sees
//! another's events, nor one for some pods another pod's, through any endpoint; a missing
//! or unknown token gets 401 everywhere.

use logpipe_common::event::LogEvent;
use logpipe_common::testkit::sample_event;

use crate::util::{Client, at, noon, serve_catalog, tokens, write_index};

/// 300 events: 100 in shop, 100 in shop-eu, 100 in billing, plus 10 host events without
/// a namespace (the audit log).
pub fn scoped_events() -> Vec<LogEvent> {
    let mut events = Vec::new();
    for n in 0..310u64 {
        let mut event = sample_event(n, at(noon(), -(n as i64) * 1_000));
        event.k8s.namespace = match n {
            0..100 => Some("shop".into()),
            100..200 => Some("shop-eu".into()),
            200..300 => Some("billing".into()),
            _ => None,
        };
        event.k8s.pod = event
            .k8s
            .namespace
            .as_ref()
            .map(|ns| format!("{ns}-api-{}", n % 3));
        event.message = format!(
            "payment {n} in {}",
            event.k8s.namespace.as_deref().unwrap_or("host")
        );
        if n < 200 {
            let app = if n % 2 == 0 { "checkout" } else { "cart" };
            event.k8s.labels.insert("app".into(), app.into());
        }
        events.push(event);
    }
    events
}

const RANGE: [(&str, &str); 2] = [
    ("from", "2026-11-27T00:00:00Z"),
    ("to", "2026-11-28T00:00:00Z"),
];

fn with_range<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut query = RANGE.to_vec();
    query.extend_from_slice(extra);
    query
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_scoped_token_sees_only_the_pods_its_selector_names() {
    let dir = tempfile::tempdir().unwrap();
    let events = scoped_events();
    let address = serve_catalog(write_index(dir.path(), &events), tokens()).await;
    let checkout = Client::new(address, Some("checkout-token"));
    // shop's checkout pods: the even events below 100.
    for (q, expected) in [
        ("", 50),
        ("k8s.labels.app:cart", 0),
        ("NOT k8s.labels.app:checkout", 0),
        ("k8s.namespace:shop-eu", 0),
        ("payment", 50),
    ] {
        let (status, body) = checkout
            .get(
                "/api/v1/search",
                &with_range(&[("q", q), ("limit", "1000")]),
            )
            .await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["total"], expected, "{q}");
        for hit in body["hits"].as_array().unwrap() {
            assert_eq!(hit["k8s"]["namespace"], "shop", "{q}: {hit}");
            assert_eq!(hit["k8s"]["labels"]["app"], "checkout", "{q}: {hit}");
        }
    }
    let (_, body) = checkout.get("/api/v1/histogram", &RANGE).await;
    assert_eq!(body["total"], 50);
    let (_, body) = checkout
        .get("/api/v1/fields/k8s.labels.app/values", &RANGE)
        .await;
    assert_eq!(
        body["values"],
        serde_json::json!([{"value": "checkout", "count": 50}]),
        "{body}"
    );
    let cart_id = events[1].id.to_string();
    let checkout_id = events[2].id.to_string();
    assert_eq!(
        checkout
            .get(&format!("/api/v1/events/{cart_id}"), &[])
            .await
            .0,
        404
    );
    assert_eq!(
        checkout
            .get(&format!("/api/v1/events/{checkout_id}"), &[])
            .await
            .0,
        200
    );
    let (status, text) = checkout.get_text("/api/v1/export", &RANGE).await;
    assert_eq!(status, 200);
    assert_eq!(text.lines().count(), 50);
    assert!(!text.contains("\"cart\""), "no cart event exported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_token_never_sees_another_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let events = scoped_events();
    let address = serve_catalog(write_index(dir.path(), &events), tokens()).await;
    let shop = Client::new(address, Some("shop-token"));
    let billing = Client::new(address, Some("billing-token"));
    let admin = Client::new(address, Some("admin-token"));

    // search, including queries that name the other namespace
    for q in [
        "",
        "*",
        "payment",
        "k8s.namespace:billing",
        "NOT k8s.namespace:shop",
        "k8s.namespace:*",
    ] {
        let (status, body) = shop
            .get(
                "/api/v1/search",
                &with_range(&[("q", q), ("limit", "1000")]),
            )
            .await;
        assert_eq!(status, 200, "{q}: {body}");
        for hit in body["hits"].as_array().unwrap() {
            let namespace = hit["k8s"]["namespace"].as_str().unwrap_or("");
            assert!(namespace == "shop" || namespace == "shop-eu", "{q}: {hit}");
        }
        assert_eq!(
            body["total"].as_u64().unwrap() as usize,
            body["hits"].as_array().unwrap().len()
        );
    }
    let (_, body) = shop
        .get("/api/v1/search", &with_range(&[("limit", "1000")]))
        .await;
    assert_eq!(body["total"], 200);
    let (_, body) = billing
        .get("/api/v1/search", &with_range(&[("limit", "1000")]))
        .await;
    assert_eq!(body["total"], 100);
    let (_, body) = admin
        .get("/api/v1/search", &with_range(&[("limit", "1000")]))
        .await;
    assert_eq!(
        body["total"], 310,
        "the admin's * also sees events without a namespace"
    );

    // histogram counts
    let (_, body) = shop
        .get(
            "/api/v1/histogram",
            &with_range(&[("q", "k8s.namespace:billing")]),
        )
        .await;
    assert_eq!(body["total"], 0);
    let (_, body) = billing.get("/api/v1/histogram", &RANGE).await;
    assert_eq!(body["total"], 100);
    let sum: u64 = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 100);

    // field values
    let (_, body) = shop
        .get("/api/v1/fields/k8s.namespace/values", &RANGE)
        .await;
    let values: Vec<&str> = body["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["shop", "shop-eu"], "{body}");
    let (_, body) = billing.get("/api/v1/fields/k8s.pod/values", &RANGE).await;
    for value in body["values"].as_array().unwrap() {
        assert!(
            value["value"].as_str().unwrap().starts_with("billing-"),
            "{value}"
        );
    }

    // permalinks
    let billing_id = events[250].id.to_string();
    let (status, _) = shop.get(&format!("/api/v1/events/{billing_id}"), &[]).await;
    assert_eq!(status, 404, "another namespace's event is not found");
    let (status, _) = billing
        .get(&format!("/api/v1/events/{billing_id}"), &[])
        .await;
    assert_eq!(status, 200);
    let host_id = events[305].id.to_string();
    assert_eq!(
        shop.get(&format!("/api/v1/events/{host_id}"), &[]).await.0,
        404
    );
    assert_eq!(
        admin.get(&format!("/api/v1/events/{host_id}"), &[]).await.0,
        200
    );

    // export
    let (status, text) = shop.get_text("/api/v1/export", &RANGE).await;
    assert_eq!(status, 200);
    assert_eq!(text.lines().count(), 200);
    assert!(!text.contains("\"billing\""), "no billing event exported");

    // no token, a wrong token, a token in the wrong scheme
    for client in [
        Client::new(address, None),
        Client::new(address, Some("guess")),
    ] {
        for path in [
            "/api/v1/search",
            "/api/v1/histogram",
            "/api/v1/fields/level/values",
            &format!("/api/v1/events/{billing_id}"),
            "/api/v1/export",
            "/api/v1/tail",
        ] {
            let (status, body) = client.get(path, &[]).await;
            assert_eq!(status, 401, "{path}");
            assert!(
                body["error"].as_str().unwrap().contains("token"),
                "{path}: {body}"
            );
        }
    }
    // The OpenAPI document and the UI are public; they hold no events.
    assert_eq!(
        Client::new(address, None)
            .get("/api/v1/openapi.json", &[])
            .await
            .0,
        200
    );
    assert_eq!(Client::new(address, None).get_text("/", &[]).await.0, 200);
}
