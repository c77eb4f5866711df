//! The Tempo HTTP API over the [`TempoEngine`], in Tempo's shapes: `/api/traces/<id>` (v1:
//! `tempopb.Trace` in protobuf, or `{"batches": [...]}` in JSON) and `/api/v2/traces/<id>`
//! (`tempopb.TraceByIDResponse`, or `{"trace": {"resourceSpans": [...]}, ...}`), chosen by
//! `Accept: application/protobuf`; `/api/echo` and `/api/status/buildinfo`. Not found as Tempo
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
use crate::tempo::{json as tjson, parse_trace_id, TempoEngine};
use crate::{Error, Result};

const API: &str = "tempo";

/// The content type of Tempo's protobuf answers.
const PROTOBUF: &str = "application/protobuf";

pub(crate) fn router(engine: Arc<TempoEngine>) -> Router {
    let routes = Router::new()
        .route("/api/traces/{id}", get(trace_v1))
        .route("/api/v2/traces/{id}", get(trace_v2))
        .route("/api/echo", get(|| async { "echo" }))
        .route("/api/status/buildinfo", get(buildinfo))
        .with_state(engine);
    instrument(API, routes)
}

/// An error as Tempo answers it: the status by its class, the message in plain text.
fn error(e: &Error) -> Response {
    let status = match e.code() {
        common::ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
        common::ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        common::ErrorCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, api = API, "query failed");
    }
    (status, e.client_message()).into_response()
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
