//! The Prometheus HTTP API (`/api/v1/query`, `query_range`, `series`, `labels`, label values,
//! `metadata`, `query_exemplars`, `status/buildinfo`, `format_query`) over the `series` and
//! `samples` tables, GET and POST form bodies, with Prometheus's result and error shapes.
//!
//! A PromQL query runs in two steps: the evaluator says what each selector reads (matchers and
//! time window, [`promql::selections`]); those series are read through DataFusion — series rows
//! by metric name, then their samples by `series_id` (the samples index) and time — into an
//! in-memory store, on which the query is evaluated.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::Tenant;
use promql::label::{MatchOp, Matcher};
use promql::storage::{Preloaded, StoredSeries};
use promql::value::{Labels, Value, METRIC_NAME};
use promql::{Options, QueryError};
use storage::ReadView;

use crate::executor::QueryExecutor;

mod exemplars;
use crate::prom_read::{ReadError, SampleReader, SeriesRow};

/// Limits of PromQL queries.
#[derive(Debug, Clone)]
pub struct PromLimits {
    /// Evaluation options (lookback delta, most samples, subquery step, timeout).
    pub options: Options,
    /// Most points a range query may return per series (Prometheus: 11,000).
    pub max_points_per_series: i64,
}

impl Default for PromLimits {
    fn default() -> Self {
        Self {
            options: Options::default(),
            max_points_per_series: 11_000,
        }
    }
}

struct PromState {
    reader: SampleReader,
    executor: Arc<QueryExecutor>,
    limits: PromLimits,
}

/// The router of the Prometheus HTTP API over `view`.
pub fn prometheus_router(
    view: Arc<dyn ReadView>,
    limits: PromLimits,
    executor: Arc<QueryExecutor>,
) -> Router {
    let state = Arc::new(PromState {
        reader: SampleReader::new(view),
        executor,
        limits,
    });
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(metadata))
        .route(
            "/api/v1/query_exemplars",
            get(exemplars::query_exemplars).post(exemplars::query_exemplars),
        )
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/format_query", get(format_query).post(format_query))
        .with_state(state)
}

/// An API error: Prometheus's `errorType` and message.
#[derive(Debug)]
struct ApiError {
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn bad_data(message: impl Into<String>) -> Self {
        Self {
            kind: "bad_data",
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: "internal",
            message: message.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        Self {
            kind: e.error_type(),
            message: e.to_string(),
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::TooManySamples => QueryError::TooManySamples.into(),
            ReadError::Store(e) => {
                tracing::error!(error = %e, "prometheus api storage read failed");
                Self::internal("reading series failed, see the server log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.kind {
            "bad_data" => StatusCode::BAD_REQUEST,
            "execution" => StatusCode::UNPROCESSABLE_ENTITY,
            "timeout" | "canceled" | "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = format!(
            r#"{{"status":"error","errorType":"{}","error":{}}}"#,
            self.kind,
            json_str(&self.message)
        );
        (status, [(CONTENT_TYPE, "application/json")], body).into_response()
    }
}

type ApiResult = std::result::Result<Response, ApiError>;

fn success(data: &str) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        format!(r#"{{"status":"success","data":{data}}}"#),
    )
        .into_response()
}

fn success_with_warnings(data: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut body = format!(r#"{{"status":"success","data":{data}"#);
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|w| json_str(w)).collect();
            let _ = write!(body, r#","{key}":[{}]"#, items.join(","));
        }
    }
    body.push('}');
    (StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Request parameters from the query string and a form body, in order (repeated keys kept).
struct Params(Vec<(String, String)>);

impl Params {
    fn from(query: Option<String>, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut out = Vec::new();
        if let Some(q) = query {
            parse_form(&q, &mut out);
        }
        let form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            out.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(out)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn parse_form(s: &str, out: &mut Vec<(String, String)>) {
    out.extend(form_urlencoded::parse(s.as_bytes()).into_owned());
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A Prometheus time parameter: Unix seconds (with a fraction) or RFC 3339.
/// Largest time or step magnitude accepted, ms (≈ 285,000 years): differences and sums of
/// such values stay far inside an `i64`.
const MAX_PARAM_MS: f64 = (1u64 << 53) as f64;

/// Seconds (with a fraction) in ms, when in range.
fn seconds_ms(s: &str) -> Option<i64> {
    let ms = (s.parse::<f64>().ok()? * 1000.0).round();
    (ms.abs() <= MAX_PARAM_MS).then_some(ms as i64)
}

fn parse_time(name: &str, s: &str) -> std::result::Result<i64, ApiError> {
    if let Some(ms) = seconds_ms(s) {
        return Ok(ms);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(s.trim_end_matches('Z')) {
        return Ok(match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        });
    }
    Err(ApiError::bad_data(format!(
        "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"
    )))
}

/// A Prometheus duration parameter: seconds (with a fraction) or a duration like `15s`.
fn parse_step(name: &str, s: &str) -> std::result::Result<i64, ApiError> {
    seconds_ms(s)
        .or_else(|| {
            promql::script::parse_duration(s)
                .ok()
                .filter(|&ms| ms as f64 <= MAX_PARAM_MS)
        })
        .ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid duration"
            ))
        })
}

/// Unix seconds as Prometheus writes them: integer seconds, then `.` and three digits of
/// milliseconds when there are any.
fn format_time(t: i64) -> String {
    let (sign, t) = if t < 0 { ("-", -t) } else { ("", t) };
    match t % 1000 {
        0 => format!("{sign}{}", t / 1000),
        f => format!("{sign}{}.{f:03}", t / 1000),
    }
}

fn labels_json(l: &Labels) -> String {
    let mut out = String::new();
    write_labels(&mut out, l);
    out
}

/// Appends a label set as a JSON object.
fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (k, v)) in l.pairs().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_str(out, k);
        out.push(':');
        write_json_str(out, v);
    }
    out.push('}');
}

/// Appends `s` as a JSON string.
fn write_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&json_str(s));
    }
}

/// Appends a sample as Prometheus writes it: `[<unix seconds>,"<value>"]`.
fn write_point(out: &mut String, t: i64, v: f64) {
    let (sign, t) = if t < 0 { ("-", -t) } else { ("", t) };
    let _ = match t % 1000 {
        0 => write!(out, "[{sign}{},\"", t / 1000),
        f => write!(out, "[{sign}{}.{f:03},\"", t / 1000),
    };
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
    out.push_str("\"]");
}

fn value_json(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Scalar { t, v } => {
            out.push_str(r#"{"resultType":"scalar","result":"#);
            write_point(&mut out, *t, *v);
            out.push('}');
        }
        Value::String { t, v } => {
            let _ = write!(
                out,
                r#"{{"resultType":"string","result":[{},{}]}}"#,
                format_time(*t),
                json_str(v)
            );
        }
        Value::Vector(samples) => {
            out.push_str(r#"{"resultType":"vector","result":["#);
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                out.push_str(r#","value":"#);
                write_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push_str("]}");
        }
        Value::Matrix(series) => {
            let points: usize = series.iter().map(|s| s.points.len()).sum();
            out.reserve(points * 24 + series.len() * 128);
            out.push_str(r#"{"resultType":"matrix","result":["#);
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, p) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, p.0, p.1);
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
    }
    out
}

/// The tenant of a request, as the SQL API reads it.
fn tenant(headers: &HeaderMap) -> std::result::Result<Tenant, ApiError> {
    crate::api::tenant(headers).map_err(|e| ApiError::bad_data(e.to_string()))
}

/// Reads what a query needs into memory: each selection's series and their samples in its
/// window.
async fn load(
    reader: &SampleReader,
    tenant: &Tenant,
    selections: Vec<(Vec<Matcher>, i64, i64)>,
    max_samples: usize,
) -> std::result::Result<Preloaded, ApiError> {
    let mut store = Preloaded::new();
    let mut budget = max_samples;
    for (matchers, lo, hi) in selections {
        let mut series = reader.series(tenant, &matchers)?;
        series.sort_unstable_by_key(|s| s.0);
        let ids: Vec<u64> = series.iter().map(|s| s.0).collect();
        let samples = reader.read(tenant, &ids, lo, hi, budget).await?;
        let mut stored = Vec::with_capacity(series.len());
        for ((_, row), samples) in series.into_iter().zip(samples) {
            budget = budget.saturating_sub(samples.len());
            if samples.is_empty() {
                continue;
            }
            stored.push(StoredSeries {
                delta: row.metric_type.starts_with("delta_"),
                labels: row.labels,
                samples: samples.into(),
            });
        }
        store.add(matchers, stored);
    }
    Ok(store)
}

impl PromState {
    /// Runs `task` on the query runtime under the query timeout.
    async fn run<F>(&self, task: F) -> ApiResult
    where
        F: std::future::Future<Output = ApiResult> + Send + 'static,
    {
        let handle = self.executor.spawn(task);
        let abort = handle.abort_handle();
        let timeout = self.limits.options.timeout;
        let out = tokio::time::timeout(timeout, handle).await;
        abort.abort();
        match out {
            Err(_) => Err(QueryError::Timeout.into()),
            Ok(Err(join)) => Err(ApiError::internal(format!("query task failed: {join}"))),
            Ok(Ok(r)) => r,
        }
    }
}

async fn query(
    State(state): State<Arc<PromState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let params = Params::from(raw, &headers, &body);
        let tenant = tenant(&headers)?;
        let text = params
            .get("query")
            .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": query is empty"))?
            .to_string();
        let t = match params.get("time") {
            Some(s) => parse_time("time", s)?,
            None => now_ms(),
        };
        let q = promql::parse(&text)
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))?;
        let opts = state.limits.options.clone();
        let st = Arc::clone(&state);
        state
            .run(async move {
                let selections = promql::selections(&opts, &q, t, t);
                let store = load(&st.reader, &tenant, selections, opts.max_samples).await?;
                let res = promql::instant(&store, &opts, &q, t)?;
                Ok(success_with_warnings(
                    &value_json(&res.value),
                    &res.warnings,
                    &res.infos,
                ))
            })
            .await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

async fn query_range(
    State(state): State<Arc<PromState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let params = Params::from(raw, &headers, &body);
        let tenant = tenant(&headers)?;
        let text = params
            .get("query")
            .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": query is empty"))?
            .to_string();
        let need = |k: &str| {
            params
                .get(k)
                .ok_or_else(|| ApiError::bad_data(format!("invalid parameter \"{k}\": missing")))
        };
        let start = parse_time("start", need("start")?)?;
        let end = parse_time("end", need("end")?)?;
        let step = parse_step("step", need("step")?)?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        if step <= 0 {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if (end - start) / step > state.limits.max_points_per_series {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        let q = promql::parse(&text)
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))?;
        let opts = state.limits.options.clone();
        let st = Arc::clone(&state);
        state
            .run(async move {
                let selections = promql::selections(&opts, &q, start, end);
                let store = load(&st.reader, &tenant, selections, opts.max_samples).await?;
                let res = promql::range(&store, &opts, &q, start, end, step)?;
                Ok(success_with_warnings(
                    &value_json(&res.value),
                    &res.warnings,
                    &res.infos,
                ))
            })
            .await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// The matchers of each `match[]` parameter.
fn match_params(params: &Params) -> std::result::Result<Vec<Vec<Matcher>>, ApiError> {
    let mut out = Vec::new();
    for m in params.all("match[]") {
        let q = promql::parse(m)
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"match[]\": {e}")))?;
        let promql::ast::Expr::VectorSelector(vs) = q.expr else {
            return Err(ApiError::bad_data(format!(
                "invalid parameter \"match[]\": {m} is not a series selector"
            )));
        };
        out.push(promql::eval::selector_matchers(&vs));
    }
    Ok(out)
}

/// Series matching any `match[]` (every series without one), deduplicated.
fn matching_series(
    reader: &SampleReader,
    tenant: &Tenant,
    sets: &[Vec<Matcher>],
) -> std::result::Result<Vec<(u64, SeriesRow)>, ApiError> {
    let mut by_id: BTreeMap<u64, SeriesRow> = BTreeMap::new();
    if sets.is_empty() {
        by_id.extend(reader.series(tenant, &[])?);
    }
    for m in sets {
        for (id, row) in reader.series(tenant, m)? {
            by_id.entry(id).or_insert(row);
        }
    }
    Ok(by_id.into_iter().collect())
}

fn limit_of(params: &Params) -> std::result::Result<usize, ApiError> {
    match params.get("limit") {
        None | Some("") | Some("0") => Ok(usize::MAX),
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError::bad_data(format!("invalid parameter \"limit\": cannot parse \"{s}\""))
        }),
    }
}

/// Answers a request about the series matching its `match[]` (every series without one;
/// `match[]` is required when `require_match`): `render` turns them and the request's `limit`
/// into the `data` JSON.
async fn over_series(
    state: Arc<PromState>,
    params: Params,
    headers: &HeaderMap,
    require_match: bool,
    render: impl FnOnce(&[SeriesRow], usize) -> String + Send + 'static,
) -> Response {
    let answer = async {
        let tenant = tenant(headers)?;
        let sets = match_params(&params)?;
        if require_match && sets.is_empty() {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        let limit = limit_of(&params)?;
        let window = match (params.get("start"), params.get("end")) {
            (None, None) => None,
            (start, end) => Some((
                start.map_or(Ok(i64::MIN), |s| parse_time("start", s))?,
                end.map_or(Ok(i64::MAX), |s| parse_time("end", s))?,
            )),
        };
        let st = Arc::clone(&state);
        state
            .run(async move {
                let mut rows = matching_series(&st.reader, &tenant, &sets)?;
                if let Some((lo, hi)) = window {
                    let ids: Vec<u64> = rows.iter().map(|r| r.0).collect();
                    let present = st.reader.present(&tenant, &ids, lo, hi).await?;
                    let mut keep = present.into_iter();
                    rows.retain(|_| keep.next().unwrap_or(false));
                }
                let mut rows: Vec<SeriesRow> = rows.into_iter().map(|r| r.1).collect();
                rows.sort_by(|a, b| a.labels.compare(&b.labels));
                Ok(success(&render(&rows, limit)))
            })
            .await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// A JSON array of `items`.
fn json_array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(","))
}

async fn series(
    State(state): State<Arc<PromState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(raw, &headers, &body);
    over_series(state, params, &headers, true, |rows, limit| {
        json_array(rows.iter().take(limit).map(|r| labels_json(&r.labels)))
    })
    .await
}

async fn labels(
    State(state): State<Arc<PromState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(raw, &headers, &body);
    over_series(state, params, &headers, false, |rows, limit| {
        let names: BTreeSet<&str> = rows
            .iter()
            .flat_map(|r| r.labels.pairs().iter().map(|(k, _)| k.as_str()))
            .collect();
        json_array(names.into_iter().take(limit).map(json_str))
    })
    .await
}

async fn label_values(
    State(state): State<Arc<PromState>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::from(raw, &headers, &[]);
    over_series(state, params, &headers, false, move |rows, limit| {
        let values: BTreeSet<&str> = rows.iter().filter_map(|r| r.labels.get(&name)).collect();
        json_array(values.into_iter().take(limit).map(json_str))
    })
    .await
}

async fn metadata(
    State(state): State<Arc<PromState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let params = Params::from(raw, &headers, &[]);
        let tenant = tenant(&headers)?;
        let metric = params.get("metric").map(str::to_string);
        let limit = limit_of(&params)?;
        let st = Arc::clone(&state);
        state
            .run(async move {
                let rows = match &metric {
                    None => st.reader.series(&tenant, &[])?,
                    // The family's own series and its histogram or summary parts.
                    Some(m) => {
                        let mut rows = Vec::new();
                        for suffix in ["", "_bucket", "_sum", "_count"] {
                            let name = format!("{m}{suffix}");
                            let matcher = Matcher::new(MatchOp::Equal, METRIC_NAME, &name);
                            rows.extend(st.reader.series(&tenant, &[matcher])?);
                        }
                        rows
                    }
                };
                let mut by_name: BTreeMap<String, &SeriesRow> = BTreeMap::new();
                for (_, r) in &rows {
                    let kind = prom_type(&r.metric_type);
                    let name = family_name(r.labels.name().unwrap_or(""), &kind);
                    if metric.as_deref().is_some_and(|m| m != name) {
                        continue;
                    }
                    by_name.entry(name.to_string()).or_insert(r);
                }
                let items: Vec<String> = by_name
                    .iter()
                    .take(limit)
                    .map(|(name, r)| {
                        format!(
                            r#"{}:[{{"type":{},"help":{},"unit":{}}}]"#,
                            json_str(name),
                            json_str(&prom_type(&r.metric_type)),
                            json_str(&r.help),
                            json_str(&r.unit)
                        )
                    })
                    .collect();
                Ok(success(&format!("{{{}}}", items.join(","))))
            })
            .await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// The metric family a series belongs to, as Prometheus's metadata names it: histogram and
/// summary series carry `_bucket`, `_sum` and `_count` suffixes that the family leaves out.
fn family_name<'a>(name: &'a str, prom_type: &str) -> &'a str {
    let suffixes: &[&str] = match prom_type {
        "histogram" => &["_bucket", "_sum", "_count"],
        "summary" => &["_sum", "_count"],
        _ => &[],
    };
    suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// The Prometheus metric type of a stored OTLP type.
fn prom_type(t: &str) -> String {
    match t {
        "sum" | "counter" | "delta_counter" => "counter",
        "gauge" | "delta_gauge" => "gauge",
        "histogram" | "delta_histogram" => "histogram",
        "summary" => "summary",
        _ => "unknown",
    }
    .to_string()
}

async fn buildinfo() -> Response {
    success(&format!(
        r#"{{"version":"{}","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":"","vigil":true}}"#,
        env!("CARGO_PKG_VERSION")
    ))
}

/// The parsed `query` parameter, or Prometheus's `bad_data` answer.
fn query_param(params: &Params) -> std::result::Result<promql::Query, ApiError> {
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": query is empty"))?;
    promql::parse(text).map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))
}

async fn format_query(RawQuery(raw): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let params = Params::from(raw, &headers, &body);
    match query_param(&params) {
        Ok(q) => success(&json_str(&q.expr.prettify())),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql::value::format_value;

    #[test]
    fn times_values_and_forms_are_read_and_written_as_prometheus_does() {
        assert_eq!(format_time(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_time(1_500), "1.500");
        assert_eq!(format_time(-2_000), "-2");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(parse_time("t", "1.5").unwrap(), 1500);
        assert_eq!(
            parse_time("t", "2015-07-01T20:10:51.781Z").unwrap(),
            1_435_781_451_781
        );
        assert!(parse_time("t", "yesterday").is_err());
        // Out of range: refused rather than overflowing later arithmetic.
        assert!(parse_time("t", "1e300").is_err());
        assert!(parse_time("t", "NaN").is_err());
        assert!(parse_step("s", "-1e300").is_err());
        assert_eq!(parse_step("s", "15s").unwrap(), 15_000);
        assert_eq!(parse_step("s", "0.5").unwrap(), 500);
        let labels = Labels::new(vec![
            ("__name__".into(), "up".into()),
            ("q".into(), "a\"b\\c\n".into()),
        ]);
        let matrix = Value::Matrix(vec![promql::value::Series {
            labels: labels.clone(),
            points: vec![(-1_500, f64::NAN), (2_000, 1e21), (3_001, -0.1)],
            drop_name: false,
        }]);
        let json: serde_json::Value = serde_json::from_str(&value_json(&matrix)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"resultType": "matrix", "result": [{
                "metric": {"__name__": "up", "q": "a\"b\\c\n"},
                "values": [[-1.5, "NaN"], [2, "1000000000000000000000"], [3.001, "-0.1"]],
            }]})
        );
        let vector = Value::Vector(vec![promql::value::Sample {
            labels,
            t: 0,
            v: f64::NEG_INFINITY,
            drop_name: false,
        }]);
        assert_eq!(
            value_json(&vector),
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","q":"a\"b\\c\n"},"value":[0,"-Inf"]}]}"#
        );
        let mut out = Vec::new();
        parse_form("match%5B%5D=up&match[]=a+b&x=%zz", &mut out);
        assert_eq!(out[0], ("match[]".into(), "up".into()));
        assert_eq!(out[1], ("match[]".into(), "a b".into()));
        assert_eq!(out[2], ("x".into(), "%zz".into()));
    }
}
