//! The ops endpoints every role serves on `PORT`: `/healthz` (the process's loops are
//! alive), `/readyz` (backing services reachable, the role can do its job) and `/metrics`
//! (Prometheus text format).

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::health::{Health, Report};

#[derive(Debug, Clone)]
struct OpsState {
    health: Health,
    metrics: PrometheusHandle,
}

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use. `metrics` macros anywhere
/// in the process record into it.
pub fn metrics_handle() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, in which case this one stays
            // private and still renders what is recorded through it (nothing).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub fn router(health: Health) -> Router {
    let state = OpsState {
        health,
        metrics: metrics_handle(),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn healthz(State(state): State<OpsState>) -> Response {
    report(state.health.liveness_report())
}

async fn readyz(State(state): State<OpsState>) -> Response {
    report(state.health.readiness_report())
}

fn report(report: Report) -> Response {
    let status = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

async fn metrics_text(State(state): State<OpsState>) -> Response {
    state.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_path(router: Router, path: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn readyz_follows_checks() {
        let health = Health::new();
        let kafka = health.readiness("kafka");
        let (status, body) = get_path(router(health.clone()), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, r#"{"ok":false,"checks":{"kafka":"starting"}}"#);
        kafka.set_ready();
        let (status, _) = get_path(router(health.clone()), "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = get_path(router(health), "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"{"ok":true,"checks":{}}"#);
    }

    #[tokio::test]
    async fn metrics_render_prometheus_text() {
        metrics_handle();
        metrics::counter!("logpipe_ops_test_total").increment(3);
        let (status, body) = get_path(router(Health::new()), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("logpipe_ops_test_total 3"), "{body}");
    }
}
