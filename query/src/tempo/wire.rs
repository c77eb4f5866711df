//! Tempo's `tempopb` messages that the search, tags and metrics answers are made of (field
//! numbers as in Tempo's `tempo.proto`), and the protobuf JSON (`jsonpb`) the HTTP API writes
//! of them: one shape for the HTTP answers and the streaming gRPC service. Attribute values are
//! OTLP's `KeyValue`, which `tempopb.common.v1` copies field for field.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde_json::{json, Map, Value as Json};

/// `tempopb.SearchRequest` (the fields Vigil reads).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchRequest {
    /// Legacy tag search: key → value.
    #[prost(map = "string, string", tag = "1")]
    pub(crate) tags: std::collections::HashMap<String, String>,
    /// `minDuration`, ms.
    #[prost(uint32, tag = "2")]
    pub(crate) min_duration_ms: u32,
    /// `maxDuration`, ms.
    #[prost(uint32, tag = "3")]
    pub(crate) max_duration_ms: u32,
    /// Most traces.
    #[prost(uint32, tag = "4")]
    pub(crate) limit: u32,
    /// Unix seconds.
    #[prost(uint32, tag = "5")]
    pub(crate) start: u32,
    /// Unix seconds.
    #[prost(uint32, tag = "6")]
    pub(crate) end: u32,
    /// TraceQL.
    #[prost(string, tag = "8")]
    pub(crate) query: String,
    /// Spans shown per spanset.
    #[prost(uint32, tag = "9")]
    pub(crate) spans_per_span_set: u32,
}

/// `tempopb.SearchResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchResponse {
    /// The traces found.
    #[prost(message, repeated, tag = "1")]
    pub(crate) traces: Vec<TraceSearchMetadata>,
    /// What the search read.
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
}

/// `tempopb.TraceSearchMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TraceSearchMetadata {
    /// Hex, without leading zeros.
    #[prost(string, tag = "1")]
    pub(crate) trace_id: String,
    /// The root span's service.
    #[prost(string, tag = "2")]
    pub(crate) root_service_name: String,
    /// The root span's name.
    #[prost(string, tag = "3")]
    pub(crate) root_trace_name: String,
    /// The first span's start.
    #[prost(uint64, tag = "4")]
    pub(crate) start_time_unix_nano: u64,
    /// From the first start to the last end.
    #[prost(uint32, tag = "5")]
    pub(crate) duration_ms: u32,
    /// The first spanset (deprecated in Tempo, still read by older Grafanas).
    #[prost(message, optional, tag = "6")]
    pub(crate) span_set: Option<SpanSet>,
    /// Every spanset.
    #[prost(message, repeated, tag = "7")]
    pub(crate) span_sets: Vec<SpanSet>,
}

/// `tempopb.SpanSet`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SpanSet {
    /// The spans shown (at most `spss`).
    #[prost(message, repeated, tag = "1")]
    pub(crate) spans: Vec<Span>,
    /// How many spans matched.
    #[prost(uint32, tag = "2")]
    pub(crate) matched: u32,
    /// What `by()` and aggregates attached.
    #[prost(message, repeated, tag = "3")]
    pub(crate) attributes: Vec<KeyValue>,
}

/// `tempopb.Span`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Span {
    /// 16 hex digits.
    #[prost(string, tag = "1")]
    pub(crate) span_id: String,
    /// The span's name.
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    /// Its start.
    #[prost(uint64, tag = "3")]
    pub(crate) start_time_unix_nano: u64,
    /// Its duration.
    #[prost(uint64, tag = "4")]
    pub(crate) duration_nanos: u64,
    /// The fields `select()` asked for.
    #[prost(message, repeated, tag = "5")]
    pub(crate) attributes: Vec<KeyValue>,
}

/// `tempopb.SearchMetrics` (the fields Vigil fills).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchMetrics {
    /// Traces evaluated.
    #[prost(uint32, tag = "1")]
    pub(crate) inspected_traces: u32,
    /// Bytes read (not counted: 0).
    #[prost(uint64, tag = "2")]
    pub(crate) inspected_bytes: u64,
    /// Jobs done.
    #[prost(uint32, tag = "4")]
    pub(crate) completed_jobs: u32,
    /// Jobs in all.
    #[prost(uint32, tag = "5")]
    pub(crate) total_jobs: u32,
    /// Spans read.
    #[prost(uint64, tag = "7")]
    pub(crate) inspected_spans: u64,
}

/// `tempopb.SearchTagsRequest` (the fields Vigil reads).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsRequest {
    /// `resource`, `span`, `intrinsic`, or empty for all.
    #[prost(string, tag = "1")]
    pub(crate) scope: String,
    /// Unix seconds.
    #[prost(uint32, tag = "3")]
    pub(crate) start: u32,
    /// Unix seconds.
    #[prost(uint32, tag = "4")]
    pub(crate) end: u32,
}

/// `tempopb.SearchTagsResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsResponse {
    /// Tag names.
    #[prost(string, repeated, tag = "1")]
    pub(crate) tag_names: Vec<String>,
}

/// `tempopb.SearchTagsV2Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsV2Response {
    /// Names by scope.
    #[prost(message, repeated, tag = "1")]
    pub(crate) scopes: Vec<SearchTagsV2Scope>,
}

/// `tempopb.SearchTagsV2Scope`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsV2Scope {
    /// The scope.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// Its tag names.
    #[prost(string, repeated, tag = "2")]
    pub(crate) tags: Vec<String>,
}

/// `tempopb.SearchTagValuesRequest` (the fields Vigil reads).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagValuesRequest {
    /// The tag (`resource.service.name`, `name` …; v1: an unscoped attribute name).
    #[prost(string, tag = "1")]
    pub(crate) tag_name: String,
    /// TraceQL filter.
    #[prost(string, tag = "2")]
    pub(crate) query: String,
    /// Unix seconds.
    #[prost(uint32, tag = "4")]
    pub(crate) start: u32,
    /// Unix seconds.
    #[prost(uint32, tag = "5")]
    pub(crate) end: u32,
}

/// `tempopb.SearchTagValuesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagValuesResponse {
    /// Values as text.
    #[prost(string, repeated, tag = "1")]
    pub(crate) tag_values: Vec<String>,
}

/// `tempopb.TagValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TagValue {
    /// `string`, `int`, `float`, `bool`, `duration`, `keyword`.
    #[prost(string, tag = "1")]
    pub(crate) r#type: String,
    /// The value as text.
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

/// `tempopb.SearchTagValuesV2Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagValuesV2Response {
    /// Typed values.
    #[prost(message, repeated, tag = "1")]
    pub(crate) tag_values: Vec<TagValue>,
}

/// `tempopb.QueryRangeRequest` (the fields Vigil reads).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryRangeRequest {
    /// TraceQL metrics query.
    #[prost(string, tag = "1")]
    pub(crate) query: String,
    /// Unix ns.
    #[prost(uint64, tag = "2")]
    pub(crate) start: u64,
    /// Unix ns.
    #[prost(uint64, tag = "3")]
    pub(crate) end: u64,
    /// ns.
    #[prost(uint64, tag = "4")]
    pub(crate) step: u64,
    /// Most exemplars.
    #[prost(uint32, tag = "16")]
    pub(crate) exemplars: u32,
}

/// `tempopb.QueryRangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryRangeResponse {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub(crate) series: Vec<TimeSeries>,
    /// What the query read.
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
    /// `PARTIAL` (1) when the series were cut.
    #[prost(int32, tag = "3")]
    pub(crate) status: i32,
    /// Why.
    #[prost(string, tag = "4")]
    pub(crate) message: String,
}

/// `tempopb.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TimeSeries {
    /// Typed labels.
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    /// Oldest first.
    #[prost(message, repeated, tag = "2")]
    pub(crate) samples: Vec<Sample>,
    /// Oldest first.
    #[prost(message, repeated, tag = "4")]
    pub(crate) exemplars: Vec<Exemplar>,
}

/// `tempopb.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub(crate) value: f64,
    /// Unix ms.
    #[prost(int64, tag = "2")]
    pub(crate) timestamp_ms: i64,
}

/// `tempopb.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Exemplar {
    /// Typed labels (`trace:id` …).
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    /// The value.
    #[prost(double, tag = "2")]
    pub(crate) value: f64,
    /// Unix ms.
    #[prost(int64, tag = "3")]
    pub(crate) timestamp_ms: i64,
}

/// `tempopb.QueryInstantRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryInstantRequest {
    /// TraceQL metrics query.
    #[prost(string, tag = "1")]
    pub(crate) query: String,
    /// Unix ns.
    #[prost(uint64, tag = "2")]
    pub(crate) start: u64,
    /// Unix ns.
    #[prost(uint64, tag = "3")]
    pub(crate) end: u64,
}

/// `tempopb.QueryInstantResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryInstantResponse {
    /// One value per series.
    #[prost(message, repeated, tag = "1")]
    pub(crate) series: Vec<InstantSeries>,
    /// What the query read.
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
    /// `PARTIAL` (1) when the series were cut.
    #[prost(int32, tag = "3")]
    pub(crate) status: i32,
    /// Why.
    #[prost(string, tag = "4")]
    pub(crate) message: String,
}

/// `tempopb.InstantSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InstantSeries {
    /// Typed labels.
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    /// The value.
    #[prost(double, tag = "2")]
    pub(crate) value: f64,
}

/// `PartialStatus.PARTIAL`.
pub(crate) const PARTIAL: i32 = 1;

// Protobuf JSON as Go's `jsonpb` writes these messages: lowerCamelCase names, 64-bit integers as
// strings, zero values left out, doubles as numbers or "NaN"/"Infinity"/"-Infinity".

/// An OTLP value in protobuf JSON (`{"stringValue": …}`, `{"intValue": "5"}` …).
pub(crate) fn any_json(kv: &KeyValue) -> Json {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => json!({ "stringValue": s }),
        Some(Any::BoolValue(b)) => json!({ "boolValue": b }),
        Some(Any::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(Any::DoubleValue(d)) => json!({ "doubleValue": double(*d) }),
        _ => json!({}),
    }
}

fn key_values(kvs: &[KeyValue]) -> Json {
    Json::Array(
        kvs.iter()
            .map(|kv| json!({ "key": kv.key, "value": any_json(kv) }))
            .collect(),
    )
}

/// A double as protobuf JSON writes it.
pub(crate) fn double(f: f64) -> Json {
    if f.is_nan() {
        json!("NaN")
    } else if f.is_infinite() {
        json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(f)
    }
}

/// Sets `key` to `value` unless it is the field's zero value.
fn set(o: &mut Map<String, Json>, key: &str, value: Json) {
    let zero = match &value {
        Json::Null => true,
        Json::String(s) => s.is_empty() || s == "0",
        Json::Number(n) => n.as_f64() == Some(0.0),
        Json::Array(a) => a.is_empty(),
        Json::Bool(b) => !b,
        Json::Object(_) => false,
    };
    if !zero {
        o.insert(key.to_string(), value);
    }
}

impl SearchMetrics {
    fn to_json(&self) -> Json {
        let mut o = Map::new();
        set(&mut o, "inspectedTraces", json!(self.inspected_traces));
        set(
            &mut o,
            "inspectedBytes",
            json!(self.inspected_bytes.to_string()),
        );
        set(&mut o, "completedJobs", json!(self.completed_jobs));
        set(&mut o, "totalJobs", json!(self.total_jobs));
        set(
            &mut o,
            "inspectedSpans",
            json!(self.inspected_spans.to_string()),
        );
        Json::Object(o)
    }
}

impl SpanSet {
    fn to_json(&self) -> Json {
        let spans: Vec<Json> = self
            .spans
            .iter()
            .map(|s| {
                let mut o = Map::new();
                set(&mut o, "spanID", json!(s.span_id));
                set(&mut o, "name", json!(s.name));
                set(
                    &mut o,
                    "startTimeUnixNano",
                    json!(s.start_time_unix_nano.to_string()),
                );
                set(&mut o, "durationNanos", json!(s.duration_nanos.to_string()));
                set(&mut o, "attributes", key_values(&s.attributes));
                Json::Object(o)
            })
            .collect();
        let mut o = Map::new();
        o.insert("spans".into(), Json::Array(spans));
        set(&mut o, "matched", json!(self.matched));
        set(&mut o, "attributes", key_values(&self.attributes));
        Json::Object(o)
    }
}

impl SearchResponse {
    /// The `/api/search` answer.
    pub(crate) fn to_json(&self) -> Json {
        let traces: Vec<Json> = self
            .traces
            .iter()
            .map(|t| {
                let mut o = Map::new();
                set(&mut o, "traceID", json!(t.trace_id));
                set(&mut o, "rootServiceName", json!(t.root_service_name));
                set(&mut o, "rootTraceName", json!(t.root_trace_name));
                set(
                    &mut o,
                    "startTimeUnixNano",
                    json!(t.start_time_unix_nano.to_string()),
                );
                set(&mut o, "durationMs", json!(t.duration_ms));
                if let Some(s) = &t.span_set {
                    o.insert("spanSet".into(), s.to_json());
                }
                set(
                    &mut o,
                    "spanSets",
                    Json::Array(t.span_sets.iter().map(SpanSet::to_json).collect()),
                );
                Json::Object(o)
            })
            .collect();
        json!({
            "traces": traces,
            "metrics": self.metrics.as_ref().map_or(json!({}), SearchMetrics::to_json),
        })
    }
}

impl QueryRangeResponse {
    /// The `/api/metrics/query_range` answer.
    pub(crate) fn to_json(&self) -> Json {
        let series: Vec<Json> = self
            .series
            .iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("labels".into(), key_values(&s.labels));
                o.insert(
                    "samples".into(),
                    Json::Array(
                        s.samples
                            .iter()
                            .map(|p| {
                                json!({
                                    "timestampMs": p.timestamp_ms.to_string(),
                                    "value": double(p.value),
                                })
                            })
                            .collect(),
                    ),
                );
                if !s.exemplars.is_empty() {
                    o.insert(
                        "exemplars".into(),
                        Json::Array(
                            s.exemplars
                                .iter()
                                .map(|e| {
                                    json!({
                                        "labels": key_values(&e.labels),
                                        "value": double(e.value),
                                        "timestampMs": e.timestamp_ms.to_string(),
                                    })
                                })
                                .collect(),
                        ),
                    );
                }
                Json::Object(o)
            })
            .collect();
        let mut o = Map::new();
        o.insert("series".into(), Json::Array(series));
        o.insert(
            "metrics".into(),
            self.metrics
                .as_ref()
                .map_or(json!({}), SearchMetrics::to_json),
        );
        partial(&mut o, self.status, &self.message);
        Json::Object(o)
    }
}

impl QueryInstantResponse {
    /// The `/api/metrics/query` answer.
    pub(crate) fn to_json(&self) -> Json {
        let series: Vec<Json> = self
            .series
            .iter()
            .map(|s| json!({ "labels": key_values(&s.labels), "value": double(s.value) }))
            .collect();
        let mut o = Map::new();
        o.insert("series".into(), Json::Array(series));
        o.insert(
            "metrics".into(),
            self.metrics
                .as_ref()
                .map_or(json!({}), SearchMetrics::to_json),
        );
        partial(&mut o, self.status, &self.message);
        Json::Object(o)
    }
}

fn partial(o: &mut Map<String, Json>, status: i32, message: &str) {
    if status == PARTIAL {
        o.insert("status".into(), json!("PARTIAL"));
    }
    set(o, "message", json!(message));
}
