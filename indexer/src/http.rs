//! The indexer's own endpoint over the day indexes it holds: the list of days with their
//! sizes. Events are read through the search API (`logpipe_query`), which checks tokens.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tracing::error;

use logpipe_store::catalog::Catalog;

/// An error answer: the message for the client, details only in the log.
#[derive(Debug)]
pub enum AppError {
    Internal(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::Internal(detail) => {
                error!(detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error, see the indexer's log".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

pub fn router(catalog: Catalog) -> Router {
    Router::new()
        .route("/api/v1/index/days", get(days))
        .with_state(catalog)
}

async fn days(State(catalog): State<Catalog>) -> Result<Response, AppError> {
    let stats = tokio::task::spawn_blocking(move || catalog.stats())
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?;
    Ok(Json(json!({ "days": stats })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    use logpipe_store::catalog::Reload;
    use logpipe_store::layout::IndexLayout;

    async fn get_json(router: Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn days_are_listed_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(IndexLayout::under(dir.path()), Reload::Manual).unwrap();
        let router = router(catalog);
        let (status, body) = get_json(router, "/api/v1/index/days").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["days"], json!([]));
    }
}
