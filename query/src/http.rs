//! The query HTTP APIs on port 9700, one module per API over one kit (`kit.rs`: tenant,
//! parameters, times, errors, request metrics): the Prometheus API (`prometheus.rs`) over the
//! [`PromEngine`] and the SQL API (`sql.rs`) over the [`SqlEngine`]. The Loki, Tempo and
//! Alertmanager APIs go beside them, over their engines, through the same kit.

mod jaeger;
pub mod kit;
mod loki;
mod prometheus;
mod sql;
mod tempo;
mod tempo_grpc;
mod tempo_metrics;

use std::sync::Arc;

use axum::Router;

pub use self::sql::{ARROW_STREAM, SQL_PATH};
use crate::jaeger::JaegerEngine;
use crate::loki::LokiEngine;
use crate::prometheus::PromEngine;
use crate::sql::{SqlEngine, SqlLimits};
use crate::tempo::TempoEngine;

/// The Prometheus HTTP API over `engine`.
pub fn prometheus_router(engine: Arc<PromEngine>) -> Router {
    prometheus::router(engine)
}

/// The Loki HTTP API over `engine`.
pub fn loki_router(engine: Arc<LokiEngine>) -> Router {
    loki::router(engine)
}

/// The SQL API over `engine`, every query under `limits`.
pub fn sql_router(engine: Arc<SqlEngine>, limits: SqlLimits) -> Router {
    sql::router(engine, limits)
}

/// The Tempo HTTP API over `engine`.
pub fn tempo_router(engine: Arc<TempoEngine>) -> Router {
    tempo::router(engine)
}

/// Jaeger's query HTTP API (under `/jaeger`) over `engine`.
pub fn jaeger_router(engine: Arc<JaegerEngine>) -> Router {
    jaeger::router(engine)
}
