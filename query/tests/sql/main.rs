//! End-to-end tests of the query crate over a fake `ReadView` with real Parquet segments, and
//! the PromQL corpus through the storage engine.

mod fake_view;
mod http_api;
mod index;
mod promql;
mod promql_corpus;
mod scan;
