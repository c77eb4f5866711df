//! Tempo's answers (`wire`'s messages) made of what the engine found: searches, tag names,
//! tag values and metrics series. The HTTP API writes them as JSON, the streaming gRPC service
//! as protobuf.

use std::collections::BTreeSet;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use traceql::eval::Value;
use traceql::metrics::{label_text, MetricsOutput};

use super::search::FoundTrace;
use super::wire;
use crate::Error;

/// Most values a tag-values answer lists.
pub(crate) const MAX_TAG_VALUES: usize = 1000;

/// Tempo's intrinsic tag names (the `intrinsic` scope of the v2 tags answer).
const INTRINSICS: [&str; 20] = [
    "duration",
    "event:name",
    "event:timeSinceStart",
    "instrumentation:name",
    "instrumentation:version",
    "kind",
    "link:spanID",
    "link:traceID",
    "name",
    "rootName",
    "rootServiceName",
    "span:duration",
    "span:id",
    "span:kind",
    "span:name",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "status",
    "statusMessage",
];

/// A trace id as Tempo's search prints one: hex without leading zeros.
pub(crate) fn trace_id_hex(id: &[u8; 16]) -> String {
    let hex = hex::encode(id);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

fn kv(key: String, value: Option<Any>) -> KeyValue {
    KeyValue {
        key,
        value: value.map(|v| AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

/// An evaluator value as a search answer's attribute: typed, durations as `<n>ns`, statuses
/// and kinds by name, `nil` without a value.
fn attribute(key: String, v: &Value) -> KeyValue {
    let value = match v {
        Value::Nil => None,
        Value::Bool(b) => Some(Any::BoolValue(*b)),
        Value::Int(i) => Some(Any::IntValue(*i)),
        Value::Float(f) => Some(Any::DoubleValue(*f)),
        Value::String(s) => Some(Any::StringValue(s.clone())),
        Value::Duration(d) => Some(Any::StringValue(format!("{d}ns"))),
        Value::Status(s) => Some(Any::StringValue(format!("{s:?}").to_lowercase())),
        Value::Kind(k) => Some(Any::StringValue(format!("{k:?}").to_lowercase())),
    };
    kv(key, value)
}

/// The search answer for `found` (newest first), `spss` spans shown per spanset.
pub(crate) fn search(found: &[FoundTrace], spss: usize, inspected: usize) -> wire::SearchResponse {
    let traces = found
        .iter()
        .filter_map(|f| {
            let spans = &f.trace.spans;
            let first = spans.first()?;
            let start = spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
            let end = spans
                .iter()
                .map(|s| s.start_unix_nano.saturating_add(s.duration_nano))
                .max()
                .unwrap_or(start);
            let root = spans
                .iter()
                .find(|s| s.parent_span_id.is_none_or(|p| p == [0; 8]));
            let sets: Vec<wire::SpanSet> = f
                .spansets
                .iter()
                .map(|set| wire::SpanSet {
                    spans: set
                        .spans
                        .iter()
                        .take(spss)
                        .map(|m| {
                            let s = &spans[m.index];
                            wire::Span {
                                span_id: hex::encode(s.span_id),
                                name: s.name.clone(),
                                start_time_unix_nano: u64::try_from(s.start_unix_nano).unwrap_or(0),
                                duration_nanos: u64::try_from(s.duration_nano).unwrap_or(0),
                                attributes: m
                                    .selected
                                    .iter()
                                    .map(|(field, v)| attribute(field.to_string(), v))
                                    .collect(),
                            }
                        })
                        .collect(),
                    matched: u32::try_from(set.spans.len()).unwrap_or(u32::MAX),
                    attributes: set
                        .attributes
                        .iter()
                        .map(|(k, v)| attribute(k.clone(), v))
                        .collect(),
                })
                .collect();
            Some(wire::TraceSearchMetadata {
                trace_id: trace_id_hex(&first.trace_id),
                root_service_name: root.map_or_else(
                    || "<root span not yet received>".to_string(),
                    |r| r.service_name.clone(),
                ),
                root_trace_name: root.map(|r| r.name.clone()).unwrap_or_default(),
                start_time_unix_nano: u64::try_from(start).unwrap_or(0),
                duration_ms: u32::try_from((end - start) / 1_000_000).unwrap_or(u32::MAX),
                span_set: sets.first().cloned(),
                span_sets: sets,
            })
        })
        .collect();
    wire::SearchResponse {
        traces,
        metrics: Some(wire::SearchMetrics {
            inspected_traces: u32::try_from(inspected).unwrap_or(u32::MAX),
            completed_jobs: 1,
            total_jobs: 1,
            ..wire::SearchMetrics::default()
        }),
    }
}

/// The v1 tags answer: span and resource attribute names together.
pub(crate) fn tags_v1(
    span: BTreeSet<String>,
    resource: BTreeSet<String>,
) -> wire::SearchTagsResponse {
    let names: BTreeSet<String> = span.into_iter().chain(resource).collect();
    wire::SearchTagsResponse {
        tag_names: names.into_iter().collect(),
    }
}

/// The field a v1 tag-values request names: an unscoped attribute (`.` and the quoted name).
pub(crate) fn v1_tag(name: &str) -> String {
    format!(".{name:?}")
}

/// The v2 tags answer: the scopes asked for (`scope` empty or `all`: every one); an unknown
/// scope is the client's error.
pub(crate) fn tags_v2(
    scope: &str,
    span: BTreeSet<String>,
    resource: BTreeSet<String>,
) -> Result<wire::SearchTagsV2Response, Error> {
    let wanted = |s: &str| scope == "all" || scope.is_empty() || scope == s;
    let mut scopes = Vec::new();
    if wanted("resource") {
        scopes.push(wire::SearchTagsV2Scope {
            name: "resource".into(),
            tags: resource.into_iter().collect(),
        });
    }
    if wanted("span") {
        scopes.push(wire::SearchTagsV2Scope {
            name: "span".into(),
            tags: span.into_iter().collect(),
        });
    }
    if wanted("intrinsic") {
        scopes.push(wire::SearchTagsV2Scope {
            name: "intrinsic".into(),
            tags: INTRINSICS.iter().map(|s| s.to_string()).collect(),
        });
    }
    if scopes.is_empty() {
        return Err(Error::BadData(format!(
            "invalid scope {scope:?}: want resource, span, intrinsic or none"
        )));
    }
    Ok(wire::SearchTagsV2Response { scopes })
}

/// A tag value as the v2 tag-values answer lists it; `None` for `nil`.
pub(crate) fn tag_value(v: &Value) -> Option<wire::TagValue> {
    let (kind, text) = match v {
        Value::Nil => return None,
        Value::Bool(b) => ("bool", b.to_string()),
        Value::Int(i) => ("int", i.to_string()),
        Value::Float(f) => ("float", f.to_string()),
        Value::String(s) => ("string", s.clone()),
        Value::Duration(d) => ("duration", format!("{d}ns")),
        Value::Status(s) => ("keyword", format!("{s:?}").to_lowercase()),
        Value::Kind(k) => ("keyword", format!("{k:?}").to_lowercase()),
    };
    Some(wire::TagValue {
        r#type: kind.into(),
        value: text,
    })
}

/// A metrics label: numbers and booleans typed, anything else as Tempo's text.
fn label(key: &str, v: &Value) -> KeyValue {
    let value = match v {
        Value::Bool(b) => Any::BoolValue(*b),
        Value::Int(i) => Any::IntValue(*i),
        Value::Float(f) => Any::DoubleValue(*f),
        other => Any::StringValue(label_text(other)),
    };
    kv(key.to_string(), Some(value))
}

fn labels(labels: &[(String, Value)]) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| label(k, v)).collect()
}

fn metrics(spans: usize) -> Option<wire::SearchMetrics> {
    Some(wire::SearchMetrics {
        inspected_spans: spans as u64,
        completed_jobs: 1,
        total_jobs: 1,
        ..wire::SearchMetrics::default()
    })
}

/// Why a cut answer is partial.
fn partial_message(out: &MetricsOutput, max_series: usize) -> (i32, String) {
    if out.partial {
        (
            wire::PARTIAL,
            format!("Response exceeds maximum series limit of {max_series}, a partial response is returned"),
        )
    } else {
        (0, String::new())
    }
}

/// The range answer of a metrics query that read `spans` spans.
pub(crate) fn range(
    out: &MetricsOutput,
    spans: usize,
    max_series: usize,
) -> wire::QueryRangeResponse {
    let (status, message) = partial_message(out, max_series);
    wire::QueryRangeResponse {
        series: out
            .series
            .iter()
            .map(|s| wire::TimeSeries {
                labels: labels(&s.labels),
                samples: s
                    .samples
                    .iter()
                    .map(|(t, v)| wire::Sample {
                        value: *v,
                        timestamp_ms: *t,
                    })
                    .collect(),
                exemplars: s
                    .exemplars
                    .iter()
                    .map(|e| wire::Exemplar {
                        labels: labels(&e.labels),
                        value: e.value,
                        timestamp_ms: e.timestamp_ms,
                    })
                    .collect(),
            })
            .collect(),
        metrics: metrics(spans),
        status,
        message,
    }
}

/// The instant answer: each series' last value.
pub(crate) fn instant(
    out: &MetricsOutput,
    spans: usize,
    max_series: usize,
) -> wire::QueryInstantResponse {
    let (status, message) = partial_message(out, max_series);
    wire::QueryInstantResponse {
        series: out
            .series
            .iter()
            .filter_map(|s| {
                let (_, v) = s.samples.last()?;
                Some(wire::InstantSeries {
                    labels: labels(&s.labels),
                    value: *v,
                })
            })
            .collect(),
        metrics: metrics(spans),
        status,
        message,
    }
}
