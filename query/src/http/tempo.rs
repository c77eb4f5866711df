//! The Tempo HTTP API over the [`TempoEngine`], in Tempo's shapes: `/api/traces/<id>` (v1:
//! `tempopb.Trace` in protobuf, or `{"batches": [...]}` in JSON) and `/api/v2/traces/<id>`
//! (`tempopb.TraceByIDResponse`, or `{"trace": {"resourceSpans": [...]}, ...}`), chosen by
//! `Accept: application/protobuf`; `/api/search` (TraceQL `q` over `start`..`end`, `limit`
//! traces, `spss` spans per spanset, in Tempo's `SearchResponse` JSON); tag names
//! (`/api/search/tags`, `/api/v2/search/tags` by scope) and values (`/api/search/tag/<t>/values`,
//! `/api/v2/search/tag/<t>/values`, typed, filtered by a TraceQL `q`); `/api/echo` and
//! `/api/status/buildinfo`. Not found as Tempo
//! answers it: 404 `trace not found` on v1, a response without a trace on v2. Errors in plain
//! text, as Tempo writes them.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, TracesData};
use prost::Message;
use serde_json::json;

use super::kit::{instrument, tenant, Params};
use crate::tempo::{answer, json as tjson, parse_trace_id, TempoEngine};
use crate::{Error, Result};

const API: &str = "tempo";

/// The content type of Tempo's protobuf answers.
const PROTOBUF: &str = "application/protobuf";

pub(crate) fn router(engine: Arc<TempoEngine>) -> Router {
    let routes = Router::new()
        .route("/api/traces/{id}", get(trace_v1))
        .route("/api/v2/traces/{id}", get(trace_v2))
        .route("/api/search", get(search))
        .route("/api/search/tags", get(tags_v1))
        .route("/api/v2/search/tags", get(tags_v2))
        .route("/api/search/tag/{name}/values", get(tag_values_v1))
        .route("/api/v2/search/tag/{name}/values", get(tag_values_v2))
        .route("/api/echo", get(|| async { "echo" }))
        .route("/api/status/buildinfo", get(buildinfo))
        .with_state(Arc::clone(&engine))
        .merge(super::tempo_metrics::routes(Arc::clone(&engine)))
        .merge(super::tempo_grpc::routes(engine));
    instrument(API, routes)
}

/// An error as Tempo answers it (Go's `http.Error`).
fn error(e: &Error) -> Response {
    super::kit::text_error(API, e)
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(PROTOBUF))
}

/// The spans of the trace a request names, with its optional `start` and `end` (Unix seconds).
async fn read_trace(
    engine: &TempoEngine,
    headers: &HeaderMap,
    id: &str,
    query: Option<String>,
) -> Result<Vec<ResourceSpans>> {
    let tenant = tenant(headers)?;
    let id = parse_trace_id(id).ok_or_else(|| {
        Error::BadData(format!(
            "invalid trace id {id:?}: at most 32 hexadecimal digits"
        ))
    })?;
    let params = Params::from(query.as_deref(), headers, &[]);
    let seconds = |name: &str| -> Result<Option<i64>> {
        match params.get(name).filter(|v| !v.is_empty() && *v != "0") {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(|s| Some(s.saturating_mul(1_000_000_000)))
                .map_err(|_| Error::BadData(format!("invalid {name} {v:?}: want Unix seconds"))),
        }
    };
    let window = match (seconds("start")?, seconds("end")?) {
        (None, None) => None,
        (start, end) => Some((
            start.unwrap_or(0),
            end.map_or(i64::MAX, |e| e + 999_999_999),
        )),
    };
    engine.trace_by_id(tenant, id, window).await
}

/// `tempopb.Trace`: field 1 is the resource spans, as OTLP's `TracesData` has them.
fn trace_bytes(spans: Vec<ResourceSpans>) -> Vec<u8> {
    TracesData {
        resource_spans: spans,
    }
    .encode_to_vec()
}

async fn trace_v1(
    State(engine): State<Arc<TempoEngine>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let spans = match read_trace(&engine, &headers, &id, query).await {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    if spans.is_empty() {
        return (StatusCode::NOT_FOUND, "trace not found").into_response();
    }
    if wants_protobuf(&headers) {
        return ([(CONTENT_TYPE, PROTOBUF)], trace_bytes(spans)).into_response();
    }
    super::kit::json(
        StatusCode::OK,
        json!({ "batches": tjson::resource_spans(&spans) }).to_string(),
    )
}

async fn trace_v2(
    State(engine): State<Arc<TempoEngine>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let spans = match read_trace(&engine, &headers, &id, query).await {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    if wants_protobuf(&headers) {
        // TraceByIDResponse: trace = 1 (absent when not found), metrics = 2 (empty).
        let mut out = Vec::new();
        if !spans.is_empty() {
            let trace = trace_bytes(spans);
            prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
            prost::encoding::encode_varint(trace.len() as u64, &mut out);
            out.extend_from_slice(&trace);
        }
        prost::encoding::encode_key(2, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(0, &mut out);
        return ([(CONTENT_TYPE, PROTOBUF)], out).into_response();
    }
    let body = if spans.is_empty() {
        json!({ "metrics": {} })
    } else {
        json!({
            "trace": { "resourceSpans": tjson::resource_spans(&spans) },
            "metrics": {},
        })
    };
    super::kit::json(StatusCode::OK, body.to_string())
}

async fn buildinfo() -> Response {
    super::kit::json(
        StatusCode::OK,
        json!({
            "version": "2.8.0",
            "revision": env!("CARGO_PKG_VERSION"),
            "branch": "vigil",
            "buildUser": "vigil",
            "buildDate": "",
            "goVersion": "",
        })
        .to_string(),
    )
}

/// Integer parameter `name`, `default` when absent or empty.
fn int_param(params: &Params, name: &str, default: i64) -> Result<i64> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| Error::BadData(format!("invalid {name} {v:?}: want an integer"))),
    }
}

/// The window a search-like request names: `start`/`end` in Unix seconds.
fn window(params: &Params) -> Result<(i64, i64)> {
    let seconds = |name: &str| -> Result<Option<i64>> {
        match params.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(_) => int_param(params, name, 0).map(Some),
        }
    };
    crate::tempo::seconds_window(
        seconds("start")?,
        seconds("end")?,
        super::kit::now_ms() / 1000,
    )
}

async fn tags_v1(
    State(engine): State<Arc<TempoEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let params = Params::from(query.as_deref(), &headers, &[]);
        let (span, resource) = engine.tag_keys(tenant(&headers)?, window(&params)?).await?;
        let names = answer::tags_v1(span, resource).tag_names;
        Ok::<_, Error>(json!({ "tagNames": names }))
    };
    super::kit::json_or_text_error(API, answer.await)
}

async fn tags_v2(
    State(engine): State<Arc<TempoEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let params = Params::from(query.as_deref(), &headers, &[]);
        let scope = params.get("scope").unwrap_or("all").to_string();
        let (span, resource) = engine.tag_keys(tenant(&headers)?, window(&params)?).await?;
        let answer = answer::tags_v2(&scope, span, resource)?;
        let scopes: Vec<serde_json::Value> = answer
            .scopes
            .iter()
            .map(|s| json!({ "name": s.name, "tags": s.tags }))
            .collect();
        Ok::<_, Error>(json!({ "scopes": scopes }))
    };
    super::kit::json_or_text_error(API, answer.await)
}

async fn tag_values_v1(
    State(engine): State<Arc<TempoEngine>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let params = Params::from(query.as_deref(), &headers, &[]);
        let values = engine
            .tag_values(
                tenant(&headers)?,
                &answer::v1_tag(&name),
                "",
                window(&params)?,
            )
            .await?;
        let texts: Vec<String> = values.into_iter().map(|v| v.value).collect();
        Ok::<_, Error>(json!({ "tagValues": texts }))
    };
    super::kit::json_or_text_error(API, answer.await)
}

async fn tag_values_v2(
    State(engine): State<Arc<TempoEngine>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let params = Params::from(query.as_deref(), &headers, &[]);
        let values = engine
            .tag_values(
                tenant(&headers)?,
                &name,
                params.get("q").unwrap_or(""),
                window(&params)?,
            )
            .await?;
        let typed: Vec<serde_json::Value> = values
            .iter()
            .map(|v| json!({ "type": v.r#type, "value": v.value }))
            .collect();
        Ok::<_, Error>(json!({ "tagValues": typed }))
    };
    super::kit::json_or_text_error(API, answer.await)
}

async fn search(
    State(engine): State<Arc<TempoEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    super::kit::json_or_text_error(API, run_search(&engine, &headers, query).await)
}

async fn run_search(
    engine: &TempoEngine,
    headers: &HeaderMap,
    query: Option<String>,
) -> Result<serde_json::Value> {
    let tenant = tenant(headers)?;
    let params = Params::from(query.as_deref(), headers, &[]);
    let number = |name: &str, default: i64| int_param(&params, name, default);
    let window = window(&params)?;
    let limit = usize::try_from(number("limit", 20)?.max(1)).unwrap_or(20);
    let spss = usize::try_from(number("spss", 3)?.max(1)).unwrap_or(3);
    // Without TraceQL, Tempo's tag search: tags and trace durations as one spanset filter.
    let q = match params.get("q").filter(|q| !q.trim().is_empty()) {
        Some(q) => q.to_string(),
        None => crate::tempo::legacy_query(
            params.get("tags").unwrap_or(""),
            params.get("minDuration"),
            params.get("maxDuration"),
        )?,
    };
    let (found, inspected) = engine.search(tenant, &q, window, limit).await?;
    Ok(answer::search(&found, spss, inspected).to_json())
}
