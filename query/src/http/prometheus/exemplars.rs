//! `/api/v1/query_exemplars`: the exemplars of the series that a query's selectors match, in
//! `[start, end]`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use promql::value::format_value;

use super::json::labels_json;
use super::request::{query_param, reply};
use crate::http::kit::{format_time, json_str, parse_time, success, tenant, Params, TimeForms};
use crate::prometheus::{PromEngine, SeriesExemplars};
use crate::Error;

pub(super) async fn query_exemplars(
    State(engine): State<Arc<PromEngine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(raw.as_deref(), &headers, &body);
    reply(
        async {
            let query = query_param(&params)?;
            let start = params.get("start").map_or(Ok(i64::MIN), |s| {
                parse_time("start", s, TimeForms::Prometheus)
            })?;
            let end = params.get("end").map_or(Ok(i64::MAX), |s| {
                parse_time("end", s, TimeForms::Prometheus)
            })?;
            if end < start {
                return Err(Error::BadData(
                    "end timestamp must not be before start timestamp".into(),
                ));
            }
            let tenant = tenant(&headers)?;
            let found = engine.exemplars(tenant, query, start, end).await?;
            Ok(success(&render(&found)))
        }
        .await,
    )
}

/// The `data` of the answer: one entry per series with exemplars, in label order.
fn render(found: &[SeriesExemplars]) -> String {
    let items: Vec<String> = found
        .iter()
        .map(|s| {
            let ex: Vec<String> = s
                .exemplars
                .iter()
                .map(|e| {
                    let l: Vec<String> = e
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{}:{}", json_str(k), json_str(v)))
                        .collect();
                    format!(
                        r#"{{"labels":{{{}}},"value":"{}","timestamp":{}}}"#,
                        l.join(","),
                        format_value(e.v),
                        format_time(e.t)
                    )
                })
                .collect();
            format!(
                r#"{{"seriesLabels":{},"exemplars":[{}]}}"#,
                labels_json(&s.labels),
                ex.join(",")
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}
