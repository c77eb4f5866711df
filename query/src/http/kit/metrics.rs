//! Request metrics of every query API (declared in `crate::metrics`): each request counted and
//! timed by API and endpoint, its error by `errorType`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use super::respond::ErrorType;
use crate::metrics::{DURATION, ERRORS, REQUESTS};

/// `router` with every request of API `api` counted and timed.
pub fn instrument(api: &'static str, router: Router) -> Router {
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
