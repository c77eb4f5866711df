//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/metadata` and
//! `/api/v1/status/buildinfo`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::json::labels_json;
use super::request::{limit_of, match_params, reply};
use crate::http::kit::{json_str, parse_time, success, tenant, Params, TimeForms};
use crate::prometheus::{PromEngine, SeriesRow};
use crate::Error;

/// Answers a request about the series matching its `match[]` (every series without one;
/// `match[]` is required when `require_match`) in its `start`/`end` window: `render` turns
/// them (in label order) and the request's `limit` into the `data` JSON.
async fn over_series(
    engine: Arc<PromEngine>,
    params: Params,
    headers: &HeaderMap,
    require_match: bool,
    render: impl FnOnce(&[SeriesRow], usize) -> String,
) -> Response {
    reply(
        async {
            let tenant = tenant(headers)?;
            let sets = match_params(&params)?;
            if require_match && sets.is_empty() {
                return Err(Error::BadData("no match[] parameter provided".into()));
            }
            let limit = limit_of(&params)?;
            let window = match (params.get("start"), params.get("end")) {
                (None, None) => None,
                (start, end) => Some((
                    start.map_or(Ok(i64::MIN), |s| {
                        parse_time("start", s, TimeForms::Prometheus)
                    })?,
                    end.map_or(Ok(i64::MAX), |s| {
                        parse_time("end", s, TimeForms::Prometheus)
                    })?,
                )),
            };
            let rows = engine.series(tenant, sets, window).await?;
            Ok(success(&render(&rows, limit)))
        }
        .await,
    )
}

/// A JSON array of `items`.
fn json_array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(","))
}

pub(super) async fn series(
    State(engine): State<Arc<PromEngine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(raw.as_deref(), &headers, &body);
    over_series(engine, params, &headers, true, |rows, limit| {
        json_array(rows.iter().take(limit).map(|r| labels_json(&r.labels)))
    })
    .await
}

pub(super) async fn labels(
    State(engine): State<Arc<PromEngine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(raw.as_deref(), &headers, &body);
    over_series(engine, params, &headers, false, |rows, limit| {
        let names: BTreeSet<&str> = rows
            .iter()
            .flat_map(|r| r.labels.pairs().iter().map(|(k, _)| k.as_str()))
            .collect();
        json_array(names.into_iter().take(limit).map(json_str))
    })
    .await
}

pub(super) async fn label_values(
    State(engine): State<Arc<PromEngine>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::from(raw.as_deref(), &headers, &[]);
    over_series(engine, params, &headers, false, move |rows, limit| {
        let values: BTreeSet<&str> = rows.iter().filter_map(|r| r.labels.get(&name)).collect();
        json_array(values.into_iter().take(limit).map(json_str))
    })
    .await
}

pub(super) async fn metadata(
    State(engine): State<Arc<PromEngine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let params = Params::from(raw.as_deref(), &headers, &[]);
            let tenant = tenant(&headers)?;
            let metric = params.get("metric").map(str::to_string);
            let limit = limit_of(&params)?;
            let families = engine.metadata(tenant, metric).await?;
            let items: Vec<String> = families
                .iter()
                .take(limit)
                .map(|f| {
                    format!(
                        r#"{}:[{{"type":{},"help":{},"unit":{}}}]"#,
                        json_str(&f.name),
                        json_str(f.kind),
                        json_str(&f.help),
                        json_str(&f.unit)
                    )
                })
                .collect();
            Ok(success(&format!("{{{}}}", items.join(","))))
        }
        .await,
    )
}

pub(super) async fn buildinfo() -> Response {
    success(&format!(
        r#"{{"version":"{}","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":"","vigil":true}}"#,
        env!("CARGO_PKG_VERSION")
    ))
}
