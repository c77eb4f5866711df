//! `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::json::value_json;
use super::request::{options, query_param, reply};
use crate::http::kit::{
    json_str, now_ms, parse_duration, parse_time, success, success_with, tenant, Params, TimeForms,
};
use crate::prometheus::{PromEngine, Steps};
use crate::Error;

pub(super) async fn query(
    State(engine): State<Arc<PromEngine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let params = Params::from(raw.as_deref(), &headers, &body);
            let tenant = tenant(&headers)?;
            let t = match params.get("time") {
                Some(s) => parse_time("time", s, TimeForms::Prometheus)?,
                None => now_ms(),
            };
            let q = query_param(&params)?;
            let options = options(&engine, &params)?;
            let res = engine.instant(tenant, q, t, options).await?;
            Ok(success_with(
                &value_json(&res.value),
                &res.warnings,
                &res.infos,
            ))
        }
        .await,
    )
}

pub(super) async fn query_range(
    State(engine): State<Arc<PromEngine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let params = Params::from(raw.as_deref(), &headers, &body);
            let tenant = tenant(&headers)?;
            let q = query_param(&params)?;
            let start = parse_time("start", params.required("start")?, TimeForms::Prometheus)?;
            let end = parse_time("end", params.required("end")?, TimeForms::Prometheus)?;
            let step = parse_duration("step", params.required("step")?)?;
            if end < start {
                return Err(Error::BadData(
                    "invalid parameter \"end\": end timestamp must not be before start time"
                        .into(),
                ));
            }
            if step <= 0 {
                return Err(Error::BadData(
                    "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
                ));
            }
            if (end - start) / step > engine.limits().max_points_per_series {
                return Err(Error::BadData(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
                ));
            }
            let options = options(&engine, &params)?;
            let steps = Steps { start, end, step };
            let res = engine.range(tenant, q, steps, options).await?;
            Ok(success_with(&value_json(&res.value), &res.warnings, &res.infos))
        }
        .await,
    )
}

pub(super) async fn format_query(
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(raw.as_deref(), &headers, &body);
    reply(query_param(&params).map(|q| success(&json_str(&q.expr.prettify()))))
}
