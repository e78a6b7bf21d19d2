//! `GET /api/v1/rules`: each rule with its firing groups and last evaluation. Firing
//! groups carry the values of logged fields (who read a secret, from which pod), so the
//! endpoint takes the query service's bearer tokens and shows a token only the rules
//! inside its namespaces.
//!
//! A rule's namespaces are known from its queries (the query, and a ratio's denominator):
//! a rule is shown when the token's scope covers every event they can match, that is when
//! their `k8s.namespace:` terms confine them to namespaces the token's globs allow
//! (`Scope::covers`). A rule that does not say its namespace that way (`level:error`
//! across the cluster, a `NOT`, a regular expression) is shown only to a token whose
//! globs match everything. Group values are not used: a group seen so far in one
//! namespace says nothing of the rule's other events.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use logpipe_common::hosts::{self, AllowedHosts};
use logpipe_common::tokens::{Denied, Tokens};
use logpipe_language::Scope;

use crate::runner::{RuleStatus, Shared};

#[derive(Debug, Clone)]
struct RulesState {
    shared: Shared,
    tokens: Tokens<Scope>,
}

/// The rules endpoint over the status the rule loop publishes in `shared`, refusing
/// requests for a `Host` that `allowed_hosts` does not list before anything else.
pub(crate) fn router(shared: Shared, tokens: Tokens<Scope>, allowed_hosts: AllowedHosts) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .with_state(RulesState { shared, tokens })
        .layer(middleware::from_fn_with_state(
            allowed_hosts,
            hosts::check_host,
        ))
}

/// A request without an accepted token: 401 with a JSON error, as the query API answers.
#[derive(Debug)]
struct Unauthorized(Denied);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({ "error": self.0.to_string() })),
        )
            .into_response()
    }
}

async fn rules(
    State(state): State<RulesState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, Unauthorized> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let caller = state
        .tokens
        .authorize(authorization)
        .map_err(Unauthorized)?;
    let status = state
        .shared
        .status
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let visible: Vec<RuleStatus> = status
        .into_iter()
        .filter(|rule| rule.queries.iter().all(|query| caller.scope.covers(query)))
        .collect();
    Ok(Json(serde_json::json!({ "rules": visible })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlertingConfig;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use logpipe_common::config::{Env, SharedConfig};
    use logpipe_common::tokens::token_hash;
    use logpipe_language::Query;
    use tower::ServiceExt;

    fn status(name: &str, queries: &[&str]) -> RuleStatus {
        RuleStatus {
            name: name.into(),
            kind: "threshold".into(),
            query: queries[0].into(),
            file: format!("{name}.yaml"),
            firing: vec![[("k8s.pod".to_owned(), format!("{name}-pod"))].into()],
            evaluated_at: None,
            late_events: 0,
            queries: queries.iter().map(|q| Query::parse(q).unwrap()).collect(),
        }
    }

    /// Rules in shop, in billing, across the cluster, and a shop ratio whose denominator
    /// counts every namespace.
    fn shared() -> Shared {
        let shared = Shared::default();
        *shared.status.lock().unwrap() = vec![
            status("shop-errors", &["k8s.namespace:shop AND level:error"]),
            status("shop-eu-errors", &["k8s.namespace:shop-eu AND level:error"]),
            status("billing-errors", &["k8s.namespace:billing AND level:error"]),
            status("cluster-errors", &["level:error"]),
            status(
                "shop-share",
                &["k8s.namespace:shop AND level:error", "level:error"],
            ),
        ];
        shared
    }

    fn tokens() -> Tokens<Scope> {
        Tokens::parse(&logpipe_common::testkit::tokens_file(), Scope::token).unwrap()
    }

    /// Status and body of `GET /api/v1/rules` for `host`, with `token` if any.
    async fn get(
        router: &Router,
        host: &str,
        token: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::get("/api/v1/rules").header(header::HOST, host);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    fn names(body: &serde_json::Value) -> Vec<&str> {
        body["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rule| rule["name"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn the_rules_need_a_token_from_the_query_tokens_file() {
        let router = router(shared(), tokens(), AllowedHosts::any());
        for token in [None, Some("guess")] {
            let (status, body) = get(&router, "logpipe-alerting:8080", token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
            assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
            assert!(body.get("rules").is_none());
        }
    }

    #[tokio::test]
    async fn a_token_sees_only_the_rules_inside_its_namespaces() {
        let router = router(shared(), tokens(), AllowedHosts::any());
        let (status, shop) = get(&router, "logpipe-alerting:8080", Some("shop-token")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(names(&shop), ["shop-errors", "shop-eu-errors"]);
        assert_eq!(shop["rules"][0]["firing"][0]["k8s.pod"], "shop-errors-pod");
        let (_, billing) = get(&router, "logpipe-alerting:8080", Some("billing-token")).await;
        assert_eq!(names(&billing), ["billing-errors"]);
        let (_, admin) = get(&router, "logpipe-alerting:8080", Some("admin-token")).await;
        assert_eq!(
            names(&admin),
            [
                "shop-errors",
                "shop-eu-errors",
                "billing-errors",
                "cluster-errors",
                "shop-share"
            ]
        );
    }

    /// The router as `AlertingConfig` sets it up for `vars` (no rules, no notifiers).
    fn configured(vars: &[(&str, &str)]) -> Router {
        let env = Env::from_pairs(vars.iter().copied());
        let shared_config = SharedConfig::load(&env).unwrap();
        let config = AlertingConfig::load(&env, &shared_config).unwrap();
        router(shared(), config.tokens, config.allowed_hosts)
    }

    #[tokio::test]
    async fn without_tokens_the_rules_answer_only_on_loopback() {
        let loopback = configured(&[("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1")]);
        let (status, body) = get(&loopback, "127.0.0.1:8080", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(names(&body).len(), 5);
        // A web page resolving its own name to 127.0.0.1 (DNS rebinding) is refused.
        let (status, body) = get(&loopback, "evil.example:8080", None).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{body}");

        let everywhere = configured(&[("LOGPIPE_LISTEN_ADDRESS", "0.0.0.0")]);
        let (status, body) = get(&everywhere, "10.0.0.5:8080", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("LOGPIPE_QUERY_TOKENS_FILE"), "{error}");
    }

    #[tokio::test]
    async fn with_a_tokens_file_the_rules_answer_beyond_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens.yaml");
        std::fs::write(
            &file,
            format!(
                "- name: shop\n  token_sha256: {}\n  namespaces: [shop]\n",
                token_hash("shop-token")
            ),
        )
        .unwrap();
        let router = configured(&[
            ("LOGPIPE_LISTEN_ADDRESS", "0.0.0.0"),
            ("LOGPIPE_QUERY_TOKENS_FILE", file.to_str().unwrap()),
        ]);
        let (status, body) = get(&router, "logpipe-alerting:8080", Some("shop-token")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(names(&body), ["shop-errors"]);
    }
}
