//! The HTTP API (JSON) and the web UI. Every `/api/v1` path except the OpenAPI document
//! needs a token when tokens are configured, and every answer is limited to the
//! caller's namespaces. Without tokens, only requests for loopback `Host` names (and the
//! allowed ones) are answered, so a web page cannot read the API through DNS rebinding.
//! The UI's pages are served with a Content-Security-Policy that allows only its own
//! scripts, styles and API, and no framing.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query as QueryParams, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use futures_util::Stream;
use logpipe_common::event::{EventId, Timestamp};
use serde::Deserialize;
use serde_json::json;
use tracing::{error, info};

use crate::backend::{Backend, BackendError, Params};
use crate::tail::{Received, TailHub};
use logpipe_common::hosts::{self, AllowedHosts};
use logpipe_common::tokens::{self, Tokens};
use logpipe_language::{Predicate, Query, Scope};
use logpipe_store::search::{Cursor, MAX_LIMIT, SearchError, TimeRange};

const DEFAULT_LIMIT: usize = 100;
const DEFAULT_VALUES: usize = 10;
const DEFAULT_SINCE: &str = "15m";
/// Page size of an export.
const EXPORT_PAGE: usize = 1_000;
const EXPORT_CHANNEL: usize = 4;
const TAIL_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Who a request is and what it may see.
type Caller = tokens::Caller<Scope>;

/// What the API serves from.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub backend: Backend,
    pub tokens: Tokens<Scope>,
    /// The `Host` names answered; see [`router`] and [`crate::serve`].
    pub allowed_hosts: AllowedHosts,
    pub time_limit: Duration,
    /// Most bytes of events in one page.
    pub max_page_bytes: usize,
    /// Live tail; absent on an indexer's copy of the API.
    pub tail: Option<TailHub>,
}

/// The query service: API, OpenAPI document and web UI, each request for a `Host` that
/// is not allowed refused first.
pub fn router(state: ApiState) -> Router {
    let allowed_hosts = state.allowed_hosts.clone();
    UI_FILES
        .iter()
        .fold(api(state), |router, &(path, content_type, body)| {
            router.route(path, get(move || ui_file(content_type, body)))
        })
        .layer(middleware::from_fn_with_state(
            allowed_hosts,
            hosts::check_host,
        ))
        .layer(middleware::from_fn(crate::telemetry::track))
}

/// The API alone (what an indexer serves over its own partitions), without the `Host`
/// check, which the caller layers over it.
pub fn api(state: ApiState) -> Router {
    let protected = Router::new()
        .route("/api/v1/search", get(search).post(search))
        .route("/api/v1/histogram", get(histogram).post(histogram))
        .route("/api/v1/fields/{field}/values", get(values).post(values))
        .route("/api/v1/events/{id}", get(event))
        .route("/api/v1/export", get(export).post(export))
        .route("/api/v1/tail", get(tail))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state);
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .merge(protected)
        .layer(middleware::map_response(no_sniffing))
}

/// Browsers take an answer as its declared type only (JSON is never run as a script).
async fn no_sniffing(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}

// ---- errors ----

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    position: Option<usize>,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            position: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(position) = self.position {
            body["position"] = json!(position);
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("a valid header"),
            );
        }
        response
    }
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Query(error) => ApiError {
                status: StatusCode::BAD_REQUEST,
                message: error.message,
                position: error.position,
            },
            SearchError::BadRequest(message) => ApiError::bad_request(message),
            SearchError::Timeout => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: SearchError::Timeout.to_string(),
                position: None,
            },
            SearchError::Index { .. } => {
                error!(%error, "search failed");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "the search failed; see the service's log".into(),
                    position: None,
                }
            }
        }
    }
}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::Engine(error) => error.into(),
            BackendError::Refused {
                status,
                message,
                position,
            } => ApiError {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                message,
                position,
            },
            BackendError::Unavailable(detail) => ApiError {
                status: StatusCode::BAD_GATEWAY,
                message: format!("no indexer answered: {detail}"),
                position: None,
            },
        }
    }
}

// ---- authorization ----

async fn authorize(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    match state.tokens.authorize(authorization) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            Ok(next.run(request).await)
        }
        Err(denied) => Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: denied.to_string(),
            position: None,
        }),
    }
}

// ---- parameters ----

/// Parameters from the query string (GET), or from a form body (POST, for queries too
/// long for a URL); refused as a JSON error when they do not parse.
#[derive(Debug)]
pub struct QueryString<T>(T);

impl<T, S> axum::extract::FromRequest<S> for QueryString<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.method() == axum::http::Method::POST {
            return match axum::Form::<T>::from_request(request, state).await {
                Ok(axum::Form(value)) => Ok(QueryString(value)),
                Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
            };
        }
        let (mut parts, _) = request.into_parts();
        match QueryParams::<T>::from_request_parts(&mut parts, state).await {
            Ok(QueryParams(value)) => Ok(QueryString(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    since: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    interval: Option<String>,
    /// `false` skips counting every match (`total` is then 0).
    total: Option<bool>,
}

fn parse_instant(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`{name}` must be an RFC 3339 time such as 2026-11-27T05:00:00Z; got `{text}`"
        ))
    })
}

/// `since` (relative like `15m` or an RFC 3339 instant) or `from`/`to`.
fn time_range(params: &SearchQuery) -> Result<TimeRange, ApiError> {
    let now = Timestamp::now();
    let to = match &params.to {
        Some(to) => parse_instant("to", to)?,
        None => now,
    };
    let from = match (&params.from, &params.since) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either `since` or `from`, not both",
            ));
        }
        (Some(from), None) => parse_instant("from", from)?,
        (None, since) => {
            let since = since.as_deref().unwrap_or(DEFAULT_SINCE);
            match Timestamp::parse_rfc3339(since) {
                Some(instant) => instant,
                None => {
                    let span = humantime::parse_duration(since).map_err(|_| {
                        ApiError::bad_request(format!(
                            "`since` must be a duration such as 15m, 24h or 7d, or an RFC 3339 time; got `{since}`"
                        ))
                    })?;
                    let nanos = i64::try_from(span.as_nanos()).unwrap_or(i64::MAX);
                    Timestamp::from_unix_nanos(to.unix_nanos().saturating_sub(nanos))
                }
            }
        }
    };
    if from >= to {
        return Err(ApiError::bad_request(format!(
            "the time range is empty: from {from} is not before to {to}"
        )));
    }
    Ok(TimeRange { from, to })
}

fn limit(params: &SearchQuery, default: usize) -> Result<usize, ApiError> {
    match &params.limit {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "`limit` must be a number from 1 to {MAX_LIMIT}; got `{text}`"
            ))),
        },
    }
}

fn params(
    state: &ApiState,
    caller: &Caller,
    headers: &HeaderMap,
    query: SearchQuery,
    default_limit: usize,
) -> Result<Params, ApiError> {
    let parsed = Query::parse(&query.q).map_err(SearchError::from)?;
    let range = time_range(&query)?;
    let limit = limit(&query, default_limit)?;
    let cursor = match &query.cursor {
        Some(text) if !text.is_empty() => Some(text.parse::<Cursor>()?),
        _ => None,
    };
    let interval = match &query.interval {
        Some(text) if !text.is_empty() => {
            let interval = humantime::parse_duration(text).map_err(|_| {
                ApiError::bad_request(format!(
                    "`interval` must be a duration such as 1m or 1h; got `{text}`"
                ))
            })?;
            if interval < Duration::from_millis(1) {
                return Err(ApiError::bad_request("`interval` must be at least 1ms"));
            }
            Some(interval)
        }
        _ => None,
    };
    Ok(Params {
        q: query.q,
        query: parsed,
        range,
        scope: caller.scope.clone(),
        limit,
        cursor,
        interval,
        count_total: query.total.unwrap_or(true),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        time_limit: state.time_limit,
        max_page_bytes: state.max_page_bytes,
    })
}

// ---- handlers ----

async fn search(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    QueryString(query): QueryString<SearchQuery>,
) -> Result<Response, ApiError> {
    let params = params(&state, &caller, &headers, query, DEFAULT_LIMIT)?;
    let answer = state.backend.search(params).await?;
    Ok(Json(answer).into_response())
}

async fn histogram(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    QueryString(query): QueryString<SearchQuery>,
) -> Result<Response, ApiError> {
    let params = params(&state, &caller, &headers, query, DEFAULT_LIMIT)?;
    let answer = state.backend.histogram(params).await?;
    Ok(Json(answer).into_response())
}

async fn values(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(field): Path<String>,
    headers: HeaderMap,
    QueryString(query): QueryString<SearchQuery>,
) -> Result<Response, ApiError> {
    let params = params(&state, &caller, &headers, query, DEFAULT_VALUES)?;
    let answer = state.backend.values(field, params).await?;
    Ok(Json(answer).into_response())
}

async fn event(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: EventId = id
        .parse()
        .map_err(|_| ApiError::bad_request("an event id is 32 hexadecimal digits"))?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (found, failed) = state
        .backend
        .event(id, caller.scope.clone(), authorization)
        .await?;
    match found {
        Some(event) => Ok(Json(event).into_response()),
        None if !failed.is_empty() => Err(ApiError {
            status: StatusCode::BAD_GATEWAY,
            message: format!(
                "no event with id {id} on the indexers that answered; failed: {}",
                failed
                    .iter()
                    .map(|f| format!("{} ({})", f.shard, f.error))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            position: None,
        }),
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no event with id {id}"),
            position: None,
        }),
    }
}

/// Every match as NDJSON, newest first, read page by page.
async fn export(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    QueryString(query): QueryString<SearchQuery>,
) -> Result<Response, ApiError> {
    let mut params = params(&state, &caller, &headers, query, EXPORT_PAGE)?;
    params.limit = EXPORT_PAGE;
    // Pages are not counted. The first is read before answering, so a bad request is
    // still a 4xx.
    params.count_total = false;
    let first = state.backend.search(params.clone()).await?;
    let (sender, receiver) =
        tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(EXPORT_CHANNEL);
    let backend = state.backend.clone();
    tokio::spawn(async move {
        let mut page = first;
        loop {
            let mut chunk = Vec::new();
            for hit in &page.hits {
                chunk.extend_from_slice(hit.get().as_bytes());
                chunk.push(b'\n');
            }
            if sender.send(Ok(chunk)).await.is_err() {
                return;
            }
            if page.partial {
                let failed = serde_json::to_string(&page.failed_shards).unwrap_or_default();
                let _ = sender
                    .send(Err(std::io::Error::other(format!(
                        "partial export: {failed}"
                    ))))
                    .await;
                return;
            }
            let Some(cursor) = page
                .cursor
                .as_deref()
                .and_then(|c| c.parse::<Cursor>().ok())
            else {
                return;
            };
            params.cursor = Some(cursor);
            page = match backend.search(params.clone()).await {
                Ok(page) => page,
                Err(error) => {
                    error!(%error, "export failed midway");
                    let _ = sender
                        .send(Err(std::io::Error::other(error.to_string())))
                        .await;
                    return;
                }
            };
        }
    });
    let stream = tokio_stream_from(receiver);
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

fn tokio_stream_from<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailQuery {
    #[serde(default)]
    q: String,
}

/// Matching events as they reach Kafka, as server-sent events.
async fn tail(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    QueryString(query): QueryString<TailQuery>,
) -> Result<Response, ApiError> {
    let parsed = Query::parse(&query.q).map_err(SearchError::from)?;
    let Some(hub) = state.tail.clone() else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: "live tail is served by the query service".into(),
            position: None,
        });
    };
    let predicate = Predicate::new(&parsed.clone().and(caller.scope.query()));
    let stopping = hub.stopping();
    let subscription = tokio::task::spawn_blocking(move || hub.subscribe(predicate))
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: e.to_string(),
            position: None,
        })?
        .map_err(|e| {
            if let Some(full) = e.downcast_ref::<crate::tail::TailFull>() {
                return ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: full.to_string(),
                    position: None,
                };
            }
            if let Some(unreachable) = e.downcast_ref::<crate::tail::KafkaUnreachable>() {
                return ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: unreachable.to_string(),
                    position: None,
                };
            }
            error!(error = %e, "live tail could not start");
            ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "live tail could not start; see the service's log".into(),
                position: None,
            }
        })?;
    info!(caller = %caller.name, query = %parsed, "live tail subscribed");
    // Read straight from the subscription, one event at a time: a client that reads
    // slowly holds no more than the subscription's buffer, and one that went away drops
    // the stream, and with it the subscription. A stopping service ends the stream with
    // an `end` event and closes the response properly, so the server's graceful shutdown
    // is not held and the client knows to connect again.
    let live = futures_util::stream::once(async { Ok(SseEvent::default().comment("live")) });
    let events = futures_util::stream::unfold(Some((subscription, stopping)), |state| async move {
        let (mut subscription, stopping) = state?;
        let end = || {
            let end = SseEvent::default()
                .event("end")
                .data(json!({ "reason": "the query service is stopping" }).to_string());
            Some((Ok(end), None))
        };
        let event = tokio::select! {
            biased;
            () = stopping.cancelled() => return end(),
            received = subscription.recv() => match received {
                Received::Event(arrival) => SseEvent::default()
                    .event("event")
                    .data(arrival.json.as_str()),
                Received::Missed(missed) => SseEvent::default()
                    .event("lagged")
                    .data(json!({ "missed": missed }).to_string()),
                Received::Closed => return end(),
            },
        };
        Some((Ok::<_, Infallible>(event), Some((subscription, stopping))))
    });
    let stream = futures_util::StreamExt::chain(live, events);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(TAIL_KEEP_ALIVE))
        .into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

// ---- web UI ----

/// The UI's own scripts (ES modules), styles and API only: no inline script or style
/// attribute, no other origin, no framing, no `<base>`, forms only to itself. Styles set
/// from scripts through the CSSOM (`el.style.width = …`) are allowed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The web UI, compiled in: path, content type and body of each file. The scripts are
/// ES modules that import each other from `/ui/`, so a new module needs a line here.
const UI_FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../ui/index.html")),
    ("/style.css", CSS, include_str!("../ui/style.css")),
    ("/ui/main.js", JS, include_str!("../ui/main.js")),
    ("/ui/navigation.js", JS, include_str!("../ui/navigation.js")),
    ("/ui/search.js", JS, include_str!("../ui/search.js")),
    ("/ui/results.js", JS, include_str!("../ui/results.js")),
    ("/ui/histogram.js", JS, include_str!("../ui/histogram.js")),
    ("/ui/facets.js", JS, include_str!("../ui/facets.js")),
    ("/ui/tail.js", JS, include_str!("../ui/tail.js")),
    ("/ui/sse.js", JS, include_str!("../ui/sse.js")),
    ("/ui/status.js", JS, include_str!("../ui/status.js")),
    ("/ui/errors.js", JS, include_str!("../ui/errors.js")),
    ("/ui/state.js", JS, include_str!("../ui/state.js")),
    ("/ui/api.js", JS, include_str!("../ui/api.js")),
    ("/ui/time.js", JS, include_str!("../ui/time.js")),
    ("/ui/format.js", JS, include_str!("../ui/format.js")),
    ("/ui/dom.js", JS, include_str!("../ui/dom.js")),
];

/// `no-cache`: the browser revalidates, so a new binary's UI shows up on the next load.
/// Every file carries the security headers, so none can be framed or run inline code.
async fn ui_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Fanout;
    use axum::http::Request as HttpRequest;
    use tower::ServiceExt;

    /// A service without tokens and without indexers: the UI, and API answers that
    /// never reach a backend.
    fn service() -> Router {
        router(ApiState {
            backend: Backend::Fanout(Fanout::new(Vec::new(), Duration::from_secs(1)).unwrap()),
            tokens: Tokens::open(Scope::all()),
            allowed_hosts: AllowedHosts::loopback(),
            time_limit: Duration::from_secs(1),
            max_page_bytes: logpipe_store::search::DEFAULT_MAX_PAGE_BYTES,
            tail: None,
        })
    }

    async fn get_from(router: &Router, path: &str) -> Response {
        router
            .clone()
            .oneshot(
                HttpRequest::get(path)
                    .header(header::HOST, "localhost:8080")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(&name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// Without these a page could be framed (clickjacking), run injected inline script,
    /// leak its URL (the query) in `Referer`, or have a file sniffed as another type.
    #[tokio::test]
    async fn every_ui_answer_carries_the_security_headers() {
        let service = service();
        for &(path, _, _) in UI_FILES {
            let response = get_from(&service, path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let policy = header_of(&response, header::CONTENT_SECURITY_POLICY);
            let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
            for directive in [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "connect-src 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'self'",
            ] {
                assert!(directives.contains(&directive), "{path}: {policy}");
            }
            assert!(!policy.contains("unsafe"), "{path}: {policy}");
            assert_eq!(
                header_of(&response, header::X_FRAME_OPTIONS),
                "DENY",
                "{path}"
            );
            assert_eq!(header_of(&response, header::REFERRER_POLICY), "no-referrer");
            assert_eq!(
                header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
                "nosniff"
            );
        }
    }

    #[tokio::test]
    async fn api_answers_are_not_sniffed() {
        let service = service();
        for (path, status) in [
            ("/api/v1/openapi.json", StatusCode::OK),
            ("/api/v1/search?q=level:", StatusCode::BAD_REQUEST),
            ("/api/v1/events/nope", StatusCode::BAD_REQUEST),
            ("/api/v1/tail?q=*", StatusCode::NOT_FOUND),
        ] {
            let response = get_from(&service, path).await;
            assert_eq!(response.status(), status, "{path}");
            assert_eq!(
                header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
                "nosniff",
                "{path}"
            );
        }
    }

    fn served(path: &str) -> bool {
        UI_FILES.iter().any(|&(served, _, _)| served == path)
    }

    /// What a UI file loads: the page's `src="/…"` and `href="/…"`, a module's
    /// `import … from './…'`.
    fn references(path: &str, body: &str) -> Vec<String> {
        if path.ends_with(".js") {
            body.lines()
                .filter(|line| line.starts_with("import "))
                .map(|line| {
                    let module = line
                        .split("from './")
                        .nth(1)
                        .and_then(|rest| rest.split('\'').next())
                        .unwrap_or_else(|| panic!("{path}: unexpected import {line:?}"));
                    format!("/ui/{module}")
                })
                .collect()
        } else {
            ["src=\"/", "href=\"/"]
                .iter()
                .flat_map(|attr| body.split(attr).skip(1))
                .filter_map(|rest| rest.split('"').next())
                .map(|reference| format!("/{reference}"))
                .collect()
        }
    }

    /// A file the page or a module loads but the router lacks stops the whole UI.
    #[test]
    fn every_ui_file_the_page_loads_is_served() {
        for &(path, _, body) in UI_FILES {
            for reference in references(path, body) {
                assert!(
                    served(&reference),
                    "{path} loads {reference}, which is not served"
                );
            }
        }
        assert!(!references("/", include_str!("../ui/index.html")).is_empty());
    }
}
