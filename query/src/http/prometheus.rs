//! The Prometheus HTTP API (`/api/v1/query`, `query_range`, `series`, `labels`, label values,
//! `metadata`, `query_exemplars`, `status/buildinfo`, `format_query`), GET and POST form bodies,
//! with Prometheus's result and error shapes: a thin adapter that reads parameters through the
//! kit, calls the [`PromEngine`] and writes its typed answers as JSON (`json.rs`).

mod exemplars;
mod json;
mod query;
mod request;
mod series;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::http::kit::instrument;
use crate::prometheus::PromEngine;

/// The router of the Prometheus HTTP API over `engine`.
pub(crate) fn router(engine: Arc<PromEngine>) -> Router {
    let routes = Router::new()
        .route("/api/v1/query", get(query::query).post(query::query))
        .route(
            "/api/v1/query_range",
            get(query::query_range).post(query::query_range),
        )
        .route("/api/v1/series", get(series::series).post(series::series))
        .route("/api/v1/labels", get(series::labels).post(series::labels))
        .route("/api/v1/label/{name}/values", get(series::label_values))
        .route("/api/v1/metadata", get(series::metadata))
        .route(
            "/api/v1/query_exemplars",
            get(exemplars::query_exemplars).post(exemplars::query_exemplars),
        )
        .route("/api/v1/status/buildinfo", get(series::buildinfo))
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .with_state(engine);
    instrument(request::API, routes)
}
