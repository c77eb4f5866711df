//! Vigil's query engines and query APIs. A [`storage::ReadView`] flows in; out flow answers:
//!
//! - **Engines** callable as Rust with a tenant, an expression, a time or range and limits,
//!   returning typed values: SQL on DataFusion ([`SqlEngine`], `sql/`) and PromQL
//!   ([`PromEngine`], `prometheus/`). Both run on a dedicated runtime ([`QueryExecutor`]) under
//!   a timeout that cancels the work.
//! - **HTTP APIs** (`http/`), thin adapters over the engines: the Prometheus API
//!   ([`prometheus_router`]) and the SQL API ([`sql_router`]), sharing one kit for tenants,
//!   parameters, times, errors and request metrics.
//!
//! Storage is reached only through its read interface ([`storage::read`]); this crate knows no
//! file layout. Errors of every kind are one [`Error`].

mod error;
mod executor;
mod http;
mod jaeger;
mod logfmt;
mod loki;
mod metrics;
mod prometheus;
mod sql;
mod tempo;

pub use error::{Error, Result};
pub use executor::QueryExecutor;
pub use http::{
    jaeger_router, kit, loki_router, prometheus_router, sql_router, tempo_router, ARROW_STREAM,
    SQL_PATH,
};
pub use jaeger::JaegerEngine;
pub use loki::{
    DetectedField, IndexStats, LokiAnswer, LokiEngine, LokiLimits, Pattern, DEFAULT_PROMOTED,
};
pub use prometheus::{FamilyMetadata, PromEngine, PromLimits, SeriesExemplars, SeriesRow, Steps};
pub use sql::{session_for_tenant, SqlEngine, SqlLimits, SqlResult};
pub use tempo::{parse_trace_id, TempoEngine};
