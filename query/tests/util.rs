//! Real indexes on disk and real HTTP servers on loopback for the query API.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use logpipe_common::event::Timestamp;
use logpipe_common::hosts::AllowedHosts;
use logpipe_language::Scope;
use logpipe_query::api::{self, ApiState};
use logpipe_query::backend::Backend;
use logpipe_store::Catalog;

pub type Tokens = logpipe_common::tokens::Tokens<Scope>;

/// Serves `router` on 127.0.0.1 until the test ends.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    address
}

/// The API's state as the service configures it: with tokens any `Host`, without them
/// loopback names only.
pub fn state(backend: Backend, tokens: Tokens) -> ApiState {
    ApiState {
        backend,
        allowed_hosts: if tokens.enabled() {
            AllowedHosts::any()
        } else {
            AllowedHosts::loopback()
        },
        tokens,
        time_limit: Duration::from_secs(10),
        max_page_bytes: logpipe_store::search::DEFAULT_MAX_PAGE_BYTES,
        tail: None,
    }
}

pub async fn serve_catalog(catalog: Catalog, tokens: Tokens) -> SocketAddr {
    serve(api::router(state(Backend::Local(catalog), tokens))).await
}

/// No access control: every caller sees everything.
pub fn open_tokens() -> Tokens {
    Tokens::open(Scope::all())
}

/// Tokens: `shop-token` sees shop and shop-*, `billing-token` sees billing, `admin-token`
/// everything.
pub fn tokens() -> Tokens {
    Tokens::parse(&logpipe_common::testkit::tokens_file(), Scope::token).unwrap()
}

pub struct Client {
    pub base: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(address: SocketAddr, token: Option<&str>) -> Self {
        Client {
            base: format!("http://{address}"),
            token: token.map(str::to_string),
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let (status, body) = self.get_text(path, query).await;
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn get_text(&self, path: &str, query: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.http.get(format!("{}{path}", self.base)).query(query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// A fixed instant to build test data around: 2026-11-27T12:00:00Z.
pub fn noon() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-27T12:00:00Z").unwrap()
}

pub fn at(base: Timestamp, offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_nanos(base.unix_nanos() + offset_ms * 1_000_000)
}

pub use logpipe_store::testkit::write_index;
