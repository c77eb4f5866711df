//! Conversion of OTLP export requests into Arrow rows of the stored tables.
//!
//! Each signal has one entry point ([`traces`], [`logs`], [`metrics`]) that walks the request once
//! and appends straight into Arrow column buffers sized up front. Items that break the OTLP rules
//! the tables rely on (ids of the wrong length, missing timestamps, ...) are rejected one by one
//! and counted, so a request can succeed partially, as OTLP's `partial_success` allows.
//!
//! The conversion is a pure function of the request: the WAL keeps the protobuf payload and
//! [`OtlpDecoder`] re-runs the same conversion on replay, so anything that depended on the clock,
//! on hash-map iteration order or on platform maths would make replayed rows differ from the
//! acknowledged ones.

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use common::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use storage::Rows;

mod attrs;
mod columns;
mod converted;
mod exemplars;
mod exponential;
mod logs;
mod metrics;
mod names;
mod output;
mod remote_write;
mod traces;

pub use converted::{ConvertLimits, Converted, KnownFn};

#[cfg(test)]
mod exemplar_tests;
#[cfg(test)]
mod tests;

/// Converts the spans of `req` into rows of the `spans` table, one row per span.
pub fn traces(req: &ExportTraceServiceRequest) -> Converted {
    traces::convert(req)
}

/// Converts the log records of `req` into rows of the `logs` table, one row per record.
pub fn logs(req: &ExportLogsServiceRequest) -> Converted {
    logs::convert(req)
}

/// Converts the data points of `req` into Prometheus-model rows of the `samples` table, with
/// the `series` rows they use, as the OpenTelemetry-to-Prometheus compatibility spec maps them.
pub fn metrics(req: &ExportMetricsServiceRequest) -> Converted {
    metrics::convert(req, None, &ConvertLimits::NONE)
}

/// Converts the series of a Prometheus remote-write request into rows of the `samples` table,
/// with the `series` rows they use (leaving out those `known` says storage has): names and
/// labels as sent, types from the request's metadata.
pub fn remote_write(
    req: &crate::remote_write::WriteRequest,
    known: Option<&KnownFn>,
    limits: &ConvertLimits,
) -> Converted {
    remote_write::convert(req, known, limits)
}

/// [`metrics`] under `limits`, leaving out the `series` rows of the series for which `known`
/// says storage has a row already.
pub fn metrics_skipping(
    req: &ExportMetricsServiceRequest,
    known: Option<&KnownFn>,
    limits: &ConvertLimits,
) -> Converted {
    metrics::convert(req, known, limits)
}

/// Decodes WAL payloads (OTLP protobuf export requests, and remote-write requests behind
/// [`crate::remote_write::PAYLOAD_TAG`]) back into rows on replay, running the very conversion
/// that ingest ran when it acknowledged them.
#[derive(Debug, Clone, Copy, Default)]
pub struct OtlpDecoder;

impl storage::PayloadDecoder for OtlpDecoder {
    fn decode(&self, signal: Signal, payload: &[u8]) -> Result<Rows, String> {
        let converted = match signal {
            Signal::Traces => traces(&decode_request(signal, payload)?),
            Signal::Logs => logs(&decode_request(signal, payload)?),
            Signal::Metrics => match payload.strip_prefix(crate::remote_write::PAYLOAD_TAG) {
                Some(body) => remote_write(
                    &crate::remote_write::WriteRequest::decode(body)
                        .map_err(|e| format!("failed to decode remote write request: {e}"))?,
                    None,
                    &ConvertLimits::NONE,
                ),
                None => metrics(&decode_request(signal, payload)?),
            },
        };
        match converted.rows {
            Some(rows) => Ok(rows),
            // Only payloads with accepted items are logged, so this is a request whose items
            // were all rejected: replaying it adds nothing.
            None => empty_rows(signal).map_err(|e| format!("failed to build empty rows: {e}")),
        }
    }
}

fn decode_request<M: Message + Default>(signal: Signal, payload: &[u8]) -> Result<M, String> {
    M::decode(payload)
        .map_err(|e| format!("failed to decode otlp {} request: {e}", signal.as_str()))
}

fn empty_rows(signal: Signal) -> Result<Rows, ArrowError> {
    let empty = |schema: SchemaRef| RecordBatch::new_empty(schema);
    Ok(match signal {
        Signal::Traces => Rows {
            batch: empty(common::schema::spans_schema()),
            series: None,
            exemplars: None,
        },
        Signal::Logs => Rows {
            batch: empty(common::schema::logs_schema()),
            series: None,
            exemplars: None,
        },
        Signal::Metrics => Rows {
            batch: empty(common::schema::samples_schema()),
            series: Some(empty(common::schema::series_schema())),
            exemplars: None,
        },
    })
}
