//! Prometheus metrics of the ingest crate, registered in the default registry. Every counter is
//! bumped once per request (by the number of items where that applies), never once per item.

use std::sync::LazyLock;

use common::Signal;
use prometheus::{register_int_counter_vec, IntCounterVec};

/// Items (spans, log records, data points) accepted and appended to storage.
pub(crate) static ITEMS_RECEIVED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_ingest_items_received_total",
        "otlp items accepted and appended to storage",
        &["signal", "protocol"]
    )
    .expect("metric registers once")
});

/// Items refused, by why. Requests refused before their body was decoded (too large, overloaded
/// on arrival) have no item count and show up only in `vigil_ingest_requests_total`.
pub(crate) static ITEMS_REJECTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_ingest_items_rejected_total",
        "otlp items refused, by reason (invalid, too_large, overloaded, internal)",
        &["signal", "reason"]
    )
    .expect("metric registers once")
});

/// Export requests by outcome: the HTTP status for OTLP/HTTP, the gRPC code name for gRPC.
pub(crate) static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_ingest_requests_total",
        "otlp export requests, by response code",
        &["signal", "protocol", "code"]
    )
    .expect("metric registers once")
});

/// Bytes of request bodies after decompression.
pub(crate) static REQUEST_BYTES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_ingest_request_bytes_total",
        "bytes of otlp request bodies after decompression",
        &["signal", "protocol"]
    )
    .expect("metric registers once")
});

/// The wire protocol of a request, used as the `protocol` label (the values of
/// `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OTLP over gRPC.
    Grpc,
    /// OTLP/HTTP with a protobuf body.
    HttpProtobuf,
    /// OTLP/HTTP with a JSON body.
    HttpJson,
    /// OTLP/HTTP with a content type that is neither.
    HttpUnknown,
    /// Prometheus remote_write.
    RemoteWrite,
    /// Loki's push API.
    LokiPush,
}

impl Protocol {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::HttpUnknown => "http/unknown",
            Protocol::RemoteWrite => "prometheus/remote_write",
            Protocol::LokiPush => "loki/push",
        }
    }
}

/// Counts one finished request.
pub(crate) fn observe_request(signal: Signal, protocol: Protocol, code: &str) {
    REQUESTS
        .with_label_values(&[signal.as_str(), protocol.as_str(), code])
        .inc();
}

/// Counts the decompressed body bytes of one request.
pub(crate) fn observe_bytes(signal: Signal, protocol: Protocol, bytes: usize) {
    REQUEST_BYTES
        .with_label_values(&[signal.as_str(), protocol.as_str()])
        .inc_by(bytes as u64);
}

/// Counts the items of one request that were accepted.
pub(crate) fn observe_accepted(signal: Signal, protocol: Protocol, items: u64) {
    if items > 0 {
        ITEMS_RECEIVED
            .with_label_values(&[signal.as_str(), protocol.as_str()])
            .inc_by(items);
    }
}

/// Counts the items of one request that were refused for `reason`.
pub(crate) fn observe_rejected(signal: Signal, reason: &str, items: u64) {
    if items > 0 {
        ITEMS_REJECTED
            .with_label_values(&[signal.as_str(), reason])
            .inc_by(items);
    }
}

/// The `code` label of a gRPC response.
pub(crate) fn grpc_code_label(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "ok",
        tonic::Code::InvalidArgument => "invalid_argument",
        tonic::Code::ResourceExhausted => "resource_exhausted",
        tonic::Code::Unavailable => "unavailable",
        tonic::Code::Internal => "internal",
        tonic::Code::NotFound => "not_found",
        _ => "other",
    }
}
