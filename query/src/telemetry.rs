//! The query service's metrics, from one place, with bounded label sets: requests and
//! their latency per endpoint (the route's template, never the raw path), answers left
//! partial by a failed indexer, and live-tail subscribers.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, gauge, histogram};

pub(crate) const REQUESTS_TOTAL: &str = "logpipe_query_requests_total";
pub(crate) const REQUEST_SECONDS: &str = "logpipe_query_request_duration_seconds";
pub(crate) const PARTIAL_ANSWERS_TOTAL: &str = "logpipe_query_partial_answers_total";
pub(crate) const TAIL_SUBSCRIBERS: &str = "logpipe_query_tail_subscribers";

/// Counts every request and records how long its answer took to start, by endpoint and
/// status class. A live tail counts once, when its stream starts.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| endpoint_label(path.as_str()));
    let started = Instant::now();
    let response = next.run(request).await;
    let status = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    counter!(REQUESTS_TOTAL, "endpoint" => endpoint, "status" => status).increment(1);
    histogram!(REQUEST_SECONDS, "endpoint" => endpoint).record(started.elapsed());
    response
}

/// A fan-out answered without some indexers; `path` is the API path asked.
pub(crate) fn partial_answer(path: &str) {
    counter!(PARTIAL_ANSWERS_TOTAL, "endpoint" => endpoint_label(path)).increment(1);
}

/// A live-tail subscriber came (`+1`) or went (`-1`).
pub(crate) fn tail_subscribers(change: f64) {
    gauge!(TAIL_SUBSCRIBERS).increment(change);
}

/// The endpoint a path or route template belongs to: one of a fixed set.
fn endpoint_label(path: &str) -> &'static str {
    let path = path.strip_prefix("/api/v1/").unwrap_or(path);
    match path.split('/').next().unwrap_or_default() {
        "search" => "search",
        "histogram" => "histogram",
        "fields" => "values",
        "events" => "event",
        "export" => "export",
        "tail" => "tail",
        "openapi.json" => "openapi",
        "rules" => "rules",
        _ => "ui",
    }
}

/// A day fetched from object storage into the search cache.
pub(crate) fn store_day_fetched(bytes: u64) {
    counter!("logpipe_query_store_days_fetched_total").increment(1);
    counter!("logpipe_query_store_fetched_bytes_total").increment(bytes);
}

/// Bytes the object-storage cache holds.
pub(crate) fn store_cache(bytes: u64) {
    gauge!("logpipe_query_store_cache_bytes").set(bytes as f64);
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn requests_are_counted_by_route_template_and_status() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _local = metrics::set_default_local_recorder(&recorder);
        let router = Router::new()
            .route("/api/v1/events/{id}", get(|| async { "found" }))
            .layer(axum::middleware::from_fn(track));
        for uri in ["/api/v1/events/1", "/api/v1/events/2", "/nowhere"] {
            let request = axum::http::Request::get(uri).body(Body::empty()).unwrap();
            router.clone().oneshot(request).await.unwrap();
        }
        partial_answer("/api/v1/search");
        tail_subscribers(1.0);
        let rendered = handle.render();
        for line in [
            r#"logpipe_query_requests_total{endpoint="event",status="2xx"} 2"#,
            r#"logpipe_query_requests_total{endpoint="unmatched",status="4xx"} 1"#,
            r#"logpipe_query_request_duration_seconds_count{endpoint="event"} 2"#,
            r#"logpipe_query_partial_answers_total{endpoint="search"} 1"#,
            "logpipe_query_tail_subscribers 1",
        ] {
            assert!(rendered.contains(line), "{line} missing from\n{rendered}");
        }
    }

    #[test]
    fn endpoints_form_a_fixed_set() {
        assert_eq!(endpoint_label("/api/v1/search"), "search");
        assert_eq!(endpoint_label("/api/v1/fields/{field}/values"), "values");
        assert_eq!(endpoint_label("/api/v1/fields/k8s.pod/values"), "values");
        assert_eq!(endpoint_label("/api/v1/events/{id}"), "event");
        assert_eq!(endpoint_label("/api/v1/events/0123"), "event");
        assert_eq!(endpoint_label("/"), "ui");
        assert_eq!(endpoint_label("/ui/main.js"), "ui");
    }
}
