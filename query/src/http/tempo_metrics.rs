//! TraceQL metrics in Tempo's HTTP shapes: `/api/metrics/query_range` (`tempopb.QueryRangeResponse`
//! as protobuf JSON: series of typed labels, samples `{timestampMs, value}`, exemplars) and
//! `/api/metrics/query` (`tempopb.QueryInstantResponse`: one value per series). Parameters as
//! Tempo reads them (`pkg/api/http.go`): the query in `q` (or `query`, Grafana's older name);
//! `start` and `end` as Unix seconds (with a fraction, or at most ten digits), Unix nanoseconds
//! or RFC 3339, by default the hour before `end` (or `since` before it) and now; `step` in
//! seconds or as a duration, by default Tempo's (`DefaultQueryRangeStep`: about 240 points,
//! rounded down to 5 s, at least 1 s); `exemplars`, at most 100.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value as Json;
use traceql::metrics::MetricsRequest;

use super::kit::time::{parse_duration, parse_time_nanos, TimeForms};
use super::kit::{tenant, Params};
use crate::tempo::{answer, TempoEngine};
use crate::{Error, Result};

const API: &str = "tempo";

/// Tempo's default cap on the series of one answer (`max_response_series`).
pub(crate) const MAX_SERIES: usize = 1000;

/// Exemplars per answer when the request names none (Tempo's cap).
pub(crate) const DEFAULT_EXEMPLARS: usize = 100;

const SECOND: i64 = 1_000_000_000;

/// The routes, to be merged into the Tempo API's router.
pub(crate) fn routes(engine: Arc<TempoEngine>) -> Router {
    Router::new()
        .route("/api/metrics/query_range", get(query_range))
        .route("/api/metrics/query", get(query_instant))
        .with_state(engine)
}

async fn query_range(
    State(engine): State<Arc<TempoEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    super::kit::json_or_text_error(API, run(&engine, &headers, query, false).await)
}

async fn query_instant(
    State(engine): State<Arc<TempoEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    super::kit::json_or_text_error(API, run(&engine, &headers, query, true).await)
}

async fn run(
    engine: &TempoEngine,
    headers: &HeaderMap,
    query: Option<String>,
    instant: bool,
) -> Result<Json> {
    let tenant = tenant(headers)?;
    let params = Params::from(query.as_deref(), headers, &[]);
    let q = params
        .get("q")
        .or_else(|| params.get("query"))
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| Error::BadData("invalid TraceQL query: the q parameter is empty".into()))?;
    let (start, end) = bounds(&params)?;
    let step = if instant {
        end - start
    } else {
        match params.get("step").filter(|s| !s.is_empty()) {
            Some(s) => parse_duration("step", s)?.saturating_mul(1_000_000),
            None => default_step(start, end),
        }
    };
    let exemplars = match params.get("exemplars").filter(|s| !s.is_empty()) {
        None => DEFAULT_EXEMPLARS,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| Error::BadData(format!("invalid exemplars {s:?}: want a whole number")))?,
    };
    let req = MetricsRequest {
        start_ns: start,
        end_ns: end,
        step_ns: step,
        max_exemplars: exemplars,
    };
    let (out, spans) = engine.metrics(tenant, q, req, MAX_SERIES).await?;
    Ok(if instant {
        answer::instant(&out, spans, MAX_SERIES).to_json()
    } else {
        answer::range(&out, spans, MAX_SERIES).to_json()
    })
}

/// `start` and `end` in ns, as Tempo's `determineBounds` sets them.
fn bounds(params: &Params) -> Result<(i64, i64)> {
    let now = super::kit::now_ms().saturating_mul(1_000_000);
    let end = match params.get("end").filter(|s| !s.is_empty()) {
        Some(s) => parse_time_nanos("end", s, TimeForms::Loki)?,
        None => now,
    };
    let since = match params.get("since").filter(|s| !s.is_empty()) {
        Some(s) => parse_duration("since", s)?.saturating_mul(1_000_000),
        None => 3600 * SECOND,
    };
    let start = match params.get("start").filter(|s| !s.is_empty()) {
        Some(s) => parse_time_nanos("start", s, TimeForms::Loki)?,
        None => end.min(now).saturating_sub(since),
    };
    Ok((start, end))
}

/// Tempo's `DefaultQueryRangeStep`: the range over 240, rounded down to 5 s (or to 1 s under
/// 5 s), at least 1 s.
pub(crate) fn default_step(start: i64, end: i64) -> i64 {
    let baseline = end.saturating_sub(start) / 240;
    let five = baseline / (5 * SECOND) * (5 * SECOND);
    let interval = if five < 5 * SECOND {
        baseline / SECOND * SECOND
    } else {
        five
    };
    interval.max(SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_step_is_tempos() {
        // An hour: 15 s; a day: 360 s; a minute: 1 s (the floor); 10 minutes: 2 s.
        assert_eq!(default_step(0, 3600 * SECOND), 15 * SECOND);
        assert_eq!(default_step(0, 86_400 * SECOND), 360 * SECOND);
        assert_eq!(default_step(0, 60 * SECOND), SECOND);
        assert_eq!(default_step(0, 600 * SECOND), 2 * SECOND);
    }
}
