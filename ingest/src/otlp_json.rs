//! OTLP/JSON: decodes export requests into the prost types and encodes responses, following the
//! JSON Protobuf Encoding of the OTLP specification: ids as hex (either case; `""` is the empty
//! id), field names in lowerCamelCase or as in the proto (snake_case), 64-bit integers as strings
//! or numbers, enums as numbers or names, unknown fields ignored.
//!
//! The decoder walks a `serde_json::Value` by hand rather than deriving `Deserialize` so that it
//! accepts both spellings of every field and reports the path of a bad value
//! (`resourceSpans[0].scopeSpans[0].spans[2].traceId: invalid hex`).

mod attributes;
mod logs;
mod metrics;
pub(crate) mod response;
#[cfg(test)]
mod tests;
mod traces;
mod value;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde_json::Value;

pub(crate) use value::JsonError;
use value::Path;

/// An export request that can be read from OTLP/JSON.
pub(crate) trait JsonRequest: Sized {
    /// Decodes the JSON document `body`.
    fn from_json(body: &[u8]) -> Result<Self, JsonError>;
}

/// An export response that can be written as OTLP/JSON.
pub(crate) trait JsonResponse {
    /// Encodes the response.
    fn to_json(&self) -> Vec<u8>;
}

fn parse(body: &[u8]) -> Result<Value, JsonError> {
    serde_json::from_slice(body).map_err(|e| JsonError::document(format!("invalid json: {e}")))
}

impl JsonRequest for ExportTraceServiceRequest {
    fn from_json(body: &[u8]) -> Result<Self, JsonError> {
        traces::request(&parse(body)?, &Path::Root)
    }
}

impl JsonRequest for ExportLogsServiceRequest {
    fn from_json(body: &[u8]) -> Result<Self, JsonError> {
        logs::request(&parse(body)?, &Path::Root)
    }
}

impl JsonRequest for ExportMetricsServiceRequest {
    fn from_json(body: &[u8]) -> Result<Self, JsonError> {
        metrics::request(&parse(body)?, &Path::Root)
    }
}

impl JsonResponse for ExportTraceServiceResponse {
    fn to_json(&self) -> Vec<u8> {
        response::traces(self)
    }
}

impl JsonResponse for ExportLogsServiceResponse {
    fn to_json(&self) -> Vec<u8> {
        response::logs(self)
    }
}

impl JsonResponse for ExportMetricsServiceResponse {
    fn to_json(&self) -> Vec<u8> {
        response::metrics(self)
    }
}
