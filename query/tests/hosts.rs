//! The `Host` names the query service and an indexer's search API answer to: without
//! tokens only loopback names and `LOGPIPE_QUERY_ALLOWED_HOSTS`, so that a web page made
//! to resolve to 127.0.0.1 (DNS rebinding) cannot read the logs; with tokens any name
//! unless the variable lists them.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use logpipe_common::config::Env;
use logpipe_common::service;
use logpipe_query::QueryConfig;
use logpipe_query::api::{self, ApiState};
use logpipe_query::backend::Backend;
use logpipe_query::serve::SearchApi;
use tower::ServiceExt;

use crate::util::{noon, open_tokens, state, tokens, write_index};

const RANGE: &str = "from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z";

/// Status and JSON body of `GET path` for `host`, with `token` if any.
async fn get(router: &Router, host: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = Request::get(path).header(header::HOST, host);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn paths() -> Vec<String> {
    vec![
        "/".into(),
        "/ui/main.js".into(),
        "/api/v1/openapi.json".into(),
        format!("/api/v1/search?{RANGE}"),
        format!("/api/v1/export?{RANGE}"),
        format!("/api/v1/fields/level/values?{RANGE}"),
    ]
}

/// Asserts that a request for `host` is refused with a 421 and a JSON error naming the
/// variable that would allow it.
async fn assert_refused(router: &Router, host: &str, path: &str, token: Option<&str>) {
    let (status, body) = get(router, host, path, token).await;
    assert_eq!(status, 421, "{host} {path}: {body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("LOGPIPE_QUERY_ALLOWED_HOSTS"), "{error}");
}

fn env(extra: &[(&str, &str)]) -> Env {
    let mut pairs = vec![("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1")];
    pairs.extend_from_slice(extra);
    Env::from_pairs(pairs)
}

#[tokio::test]
async fn a_tokenless_service_answers_only_to_loopback_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_index(
        dir.path(),
        &[logpipe_common::testkit::sample_event(1, noon())],
    );
    let router = api::router(state(Backend::Local(catalog), open_tokens()));
    for path in paths() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
        ] {
            let (status, body) = get(&router, host, &path, None).await;
            assert_eq!(status, 200, "{host} {path}: {body}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1",
        ] {
            assert_refused(&router, host, &path, None).await;
        }
    }
}

#[tokio::test]
async fn the_query_service_answers_to_the_listed_host_names_too() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_index(
        dir.path(),
        &[logpipe_common::testkit::sample_event(1, noon())],
    );
    let env = env(&[("LOGPIPE_QUERY_ALLOWED_HOSTS", "logs.internal,10.0.0.7")]);
    let (_, config) = service::load::<QueryConfig>(&env).unwrap();
    let router = api::router(ApiState {
        backend: Backend::Local(catalog),
        tokens: config.tokens,
        allowed_hosts: config.allowed_hosts,
        time_limit: config.time_limit,
        max_page_bytes: config.max_page_bytes,
        tail: None,
    });
    for path in paths() {
        for host in ["logs.internal:8080", "10.0.0.7", "localhost:1"] {
            let (status, body) = get(&router, host, &path, None).await;
            assert_eq!(status, 200, "{host} {path}: {body}");
        }
        assert_refused(&router, "evil.example", &path, None).await;
    }
}

#[tokio::test]
async fn with_tokens_any_host_is_answered_unless_the_names_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_index(
        dir.path(),
        &[logpipe_common::testkit::sample_event(1, noon())],
    );
    let path = format!("/api/v1/search?{RANGE}");
    let any = api::router(state(Backend::Local(catalog.clone()), tokens()));
    let (status, body) = get(&any, "logs.example.com", &path, Some("admin-token")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = get(&any, "logs.example.com", &path, None).await;
    assert_eq!(status, 401, "the token is still required");

    let mut listed = state(Backend::Local(catalog), tokens());
    let env = env(&[("LOGPIPE_QUERY_ALLOWED_HOSTS", "logs.example.com")]);
    listed.allowed_hosts = service::load::<QueryConfig>(&env).unwrap().1.allowed_hosts;
    let listed = api::router(listed);
    let (status, body) = get(&listed, "logs.example.com", &path, Some("admin-token")).await;
    assert_eq!(status, 200, "{body}");
    assert_refused(&listed, "other.example.com", &path, Some("admin-token")).await;
}

#[tokio::test]
async fn an_indexers_tokenless_search_api_answers_only_to_loopback_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_index(
        dir.path(),
        &[logpipe_common::testkit::sample_event(1, noon())],
    );
    let env = env(&[]);
    let shared = logpipe_common::config::SharedConfig::load(&env).unwrap();
    let router = SearchApi::load(&env, &shared).unwrap().router(catalog);
    let path = format!("/api/v1/search?{RANGE}");
    let (status, body) = get(&router, "127.0.0.1:9000", &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_refused(&router, "evil.example:9000", &path, None).await;
    let (status, _) = get(&router, "evil.example", "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST.as_u16());
}

#[tokio::test]
async fn an_indexer_beyond_loopback_without_tokens_says_why_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_index(
        dir.path(),
        &[logpipe_common::testkit::sample_event(1, noon())],
    );
    let env = Env::from_pairs([("LOGPIPE_LISTEN_ADDRESS", "0.0.0.0")]);
    let shared = logpipe_common::config::SharedConfig::load(&env).unwrap();
    let router = SearchApi::load(&env, &shared).unwrap().router(catalog);
    let (status, body) = get(
        &router,
        "10.0.0.5:8080",
        &format!("/api/v1/search?{RANGE}"),
        None,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("search API is off"), "{body}");
}
