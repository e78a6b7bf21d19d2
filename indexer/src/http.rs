//! The indexer's own read endpoints over the day indexes it holds: the list of days and
//! an event by id. The query service fans searches out to these indexers.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use logpipe_common::event::EventId;
use serde_json::json;
use tracing::error;

use crate::catalog::Catalog;

/// An error answer: the message for the client, details only in the log.
#[derive(Debug)]
pub enum AppError {
    BadRequest(String),
    NotFound(String),
    Internal(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            AppError::NotFound(message) => (StatusCode::NOT_FOUND, message),
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
        .route("/api/v1/index/events/{id}", get(event))
        .with_state(catalog)
}

async fn days(State(catalog): State<Catalog>) -> Result<Response, AppError> {
    let stats = tokio::task::spawn_blocking(move || catalog.stats())
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?;
    Ok(Json(json!({ "days": stats })).into_response())
}

async fn event(
    State(catalog): State<Catalog>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: EventId = id
        .parse()
        .map_err(|_| AppError::BadRequest("an event id is 32 hexadecimal digits".to_owned()))?;
    let found = tokio::task::spawn_blocking(move || catalog.find(id))
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?
        .map_err(|error| AppError::Internal(error.to_string()))?;
    match found {
        Some(event) => Ok(([(header::CONTENT_TYPE, "application/json")], event).into_response()),
        None => Err(AppError::NotFound(format!("no event with id {id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    use crate::catalog::Reload;
    use crate::layout::IndexLayout;

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
    async fn bad_and_unknown_ids_get_json_errors() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(IndexLayout::under(dir.path()), Reload::Manual).unwrap();
        let router = router(catalog);
        let (status, body) = get_json(router.clone(), "/api/v1/index/events/zz").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().unwrap().contains("32 hexadecimal"));
        let id = "0".repeat(32);
        let (status, body) = get_json(router.clone(), &format!("/api/v1/index/events/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = get_json(router, "/api/v1/index/days").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["days"], json!([]));
    }
}
