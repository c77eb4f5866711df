//! What every query API shares, so that no API repeats it: request parameters and the tenant
//! (`params.rs`), times and durations in the forms Prometheus and Loki accept (`time.rs`), the
//! one mapping of [`crate::Error`] to a response (`respond.rs`) and request metrics
//! (`metrics.rs`). Timeouts are the engines' ([`crate::QueryExecutor::run`]): a handler hands
//! its engine the request's `timeout`, narrowed to the configured one by [`Params::timeout`].
//! Public for the APIs other crates serve through it (the rule and Alertmanager APIs of
//! `alerting`).

mod metrics;
mod params;
mod respond;
pub(crate) mod time;

pub use metrics::instrument;
pub use params::{tenant, Params};
pub use respond::{error_response, json, json_str, success};
pub(crate) use respond::{json_or_text_error, success_with, text_error, write_json_str};
pub(crate) use time::{format_time, now_ms, parse_duration, parse_time, TimeForms};
