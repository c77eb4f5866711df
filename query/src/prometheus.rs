//! The PromQL engine over storage ([`PromEngine`]): instant and range queries, series, label
//! and metadata look-ups and exemplars, as Rust calls with a tenant, an expression, a time or
//! range and limits, returning typed values. The Prometheus HTTP API, the rule evaluator and the
//! UI all call it; no HTTP is involved here.

mod engine;
mod series;

pub use engine::{FamilyMetadata, PromEngine, PromLimits, SeriesExemplars, Steps};
pub use series::SeriesRow;
