//! End-to-end tests of the query crate over a fake `ReadView` with real Parquet segments.

mod fake_view;
mod http_api;
mod index;
mod promql;
mod scan;
