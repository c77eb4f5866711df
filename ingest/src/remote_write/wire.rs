//! The remote-write 1.0 wire messages (`prometheus.WriteRequest` and its parts) and the WAL
//! payload that keeps a decompressed request.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

/// What a WAL payload of a remote-write request starts with: field number 0 is invalid in
/// protobuf, so no OTLP request encoding starts with a zero byte.
pub const PAYLOAD_TAG: &[u8] = b"\0PRW1";

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (type, help, unit) by family name.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries` (native histograms are not read yet).
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Labels, `__name__` included.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples in time order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    /// Labels (`trace_id` and the like).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// `MetricType`: 0 unknown, 1 counter, 2 gauge, 3 histogram, 4 gauge histogram, 5 summary,
    /// 6 info, 7 stateset.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// Help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// Unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// The WAL payload of a decompressed request body.
pub(crate) fn payload(body: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(PAYLOAD_TAG.len() + body.len());
    b.put_slice(PAYLOAD_TAG);
    b.put_slice(body);
    b.freeze()
}
