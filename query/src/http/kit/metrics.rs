//! Request metrics of the query APIs, on `/metrics`: requests and their duration per API and
//! endpoint (the route's pattern, so the label set stays small), and errors by `errorType`.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use prometheus::{register_histogram_vec, register_int_counter_vec, HistogramVec, IntCounterVec};

use super::respond::ErrorType;

/// Requests answered, by API, endpoint and HTTP status code.
static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_http_requests_total",
        "query api requests answered, by api, endpoint and status code",
        &["api", "endpoint", "code"]
    )
    .expect("metric registers once")
});

/// Error answers, by API, endpoint and `errorType`.
static ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_http_request_errors_total",
        "query api requests answered with an error, by api, endpoint and error type",
        &["api", "endpoint", "error_type"]
    )
    .expect("metric registers once")
});

/// Time to answer, by API and endpoint.
static DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "vigil_http_request_duration_seconds",
        "time to answer a query api request, by api and endpoint",
        &["api", "endpoint"],
        vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0
        ]
    )
    .expect("metric registers once")
});

/// `router` with every request of API `api` counted and timed.
pub(crate) fn instrument(api: &'static str, router: Router) -> Router {
    router.layer(middleware::from_fn(move |req: Request, next: Next| {
        record(api, req, next)
    }))
}

async fn record(api: &'static str, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(req).await;
    DURATION
        .with_label_values(&[api, &endpoint])
        .observe(started.elapsed().as_secs_f64());
    REQUESTS
        .with_label_values(&[api, &endpoint, response.status().as_str()])
        .inc();
    if let Some(ErrorType(kind)) = response.extensions().get::<ErrorType>() {
        ERRORS.with_label_values(&[api, &endpoint, kind]).inc();
    }
    response
}
