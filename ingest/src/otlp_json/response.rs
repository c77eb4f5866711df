//! JSON encoding of export responses and of the `google.rpc.Status` sent on errors.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use serde_json::{json, Map, Value};

/// `{"partialSuccess": {...}}` as proto3 JSON writes it: int64 as a string, zero and empty
/// fields left out, and no `partialSuccess` at all when it is unset.
fn export_response(partial: Option<(&'static str, i64, &str)>) -> Vec<u8> {
    let mut doc = Map::new();
    if let Some((rejected_field, rejected, message)) = partial {
        let mut p = Map::new();
        if rejected != 0 {
            p.insert(rejected_field.into(), Value::String(rejected.to_string()));
        }
        if !message.is_empty() {
            p.insert("errorMessage".into(), Value::String(message.to_string()));
        }
        doc.insert("partialSuccess".into(), Value::Object(p));
    }
    Value::Object(doc).to_string().into_bytes()
}

/// Encodes an `ExportTraceServiceResponse`.
pub(crate) fn traces(resp: &ExportTraceServiceResponse) -> Vec<u8> {
    export_response(
        resp.partial_success
            .as_ref()
            .map(|p| ("rejectedSpans", p.rejected_spans, p.error_message.as_str())),
    )
}

/// Encodes an `ExportLogsServiceResponse`.
pub(crate) fn logs(resp: &ExportLogsServiceResponse) -> Vec<u8> {
    export_response(resp.partial_success.as_ref().map(|p| {
        (
            "rejectedLogRecords",
            p.rejected_log_records,
            p.error_message.as_str(),
        )
    }))
}

/// Encodes an `ExportMetricsServiceResponse`.
pub(crate) fn metrics(resp: &ExportMetricsServiceResponse) -> Vec<u8> {
    export_response(resp.partial_success.as_ref().map(|p| {
        (
            "rejectedDataPoints",
            p.rejected_data_points,
            p.error_message.as_str(),
        )
    }))
}

/// Encodes a `google.rpc.Status` without details: `{"code": 3, "message": "..."}`.
pub(crate) fn status(code: i32, message: &str) -> Vec<u8> {
    json!({ "code": code, "message": message })
        .to_string()
        .into_bytes()
}
