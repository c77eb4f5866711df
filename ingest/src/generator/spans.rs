//! Span metrics (Tempo's `span-metrics` processor): per service, span name, kind, status and
//! configured dimensions, the calls (`traces_spanmetrics_calls_total`), the latency histogram
//! (`traces_spanmetrics_latency`) and the encoded size (`traces_spanmetrics_size_total`).

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use super::histogram::{Histogram, LATENCY_BUCKETS};

/// The labels every span-metrics series has, in key order.
pub(crate) const INTRINSICS: [&str; 4] = ["service", "span_name", "span_kind", "status_code"];

/// What the spans of one series added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpanStats {
    pub(crate) calls: u64,
    pub(crate) size: u64,
    pub(crate) latency: Histogram,
}

impl SpanStats {
    pub(crate) fn new() -> Self {
        Self {
            calls: 0,
            size: 0,
            latency: Histogram::new(&LATENCY_BUCKETS),
        }
    }

    pub(crate) fn merge(&mut self, other: &SpanStats) {
        self.calls += other.calls;
        self.size += other.size;
        self.latency.merge(&other.latency);
    }
}

/// Series keyed by their label values (intrinsics, then dimensions) joined with `\0`.
pub(crate) type SpanSeries = HashMap<String, SpanStats>;

/// Label names of the configured dimensions: Prometheus-sanitized (`http.method` →
/// `http_method`), `__`-prefixed where that collides with an intrinsic label, as Tempo names
/// them.
pub(crate) fn dimension_labels(dimensions: &[String]) -> Vec<String> {
    dimensions
        .iter()
        .map(|d| {
            let mut name = common::label_name::sanitize(d);
            if INTRINSICS.contains(&name.as_str()) || name == "status_message" {
                name.insert_str(0, "__");
            }
            name
        })
        .collect()
}

/// Counts `span` of service `service` (empty when the resource names none) into `series`;
/// `key` is scratch space. Dimension values come from the resource's attributes, then the
/// span's.
pub(crate) fn observe(
    series: &mut SpanSeries,
    key: &mut String,
    service: &str,
    resource: &[KeyValue],
    dimensions: &[String],
    span: &Span,
) {
    key.clear();
    for part in [service, &span.name, kind_name(span.kind), status_name(span)] {
        push_part(key, part);
    }
    for d in dimensions {
        let value = find(resource, d).or_else(|| find(&span.attributes, d));
        push_part(key, &value.map(text).unwrap_or_default());
    }
    let latency = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / 1e9;
    let trace: [u8; 16] = <[u8; 16]>::try_from(&span.trace_id[..]).unwrap_or_default();
    let stats = match series.get_mut(key.as_str()) {
        Some(s) => s,
        None => series.entry(key.clone()).or_insert_with(SpanStats::new),
    };
    stats.calls += 1;
    stats.size += span.encoded_len() as u64;
    stats.latency.observe(latency, trace);
}

/// Appends a label value and its separator (values cannot hold NUL: OTLP strings are UTF-8
/// and the key is split on it again).
fn push_part(key: &mut String, part: &str) {
    key.extend(part.chars().filter(|c| *c != '\0'));
    key.push('\0');
}

/// The label values of a series key, in order.
pub(crate) fn parts(key: &str) -> impl Iterator<Item = &str> {
    key.split_terminator('\0')
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|kv| kv.key == key)?.value.as_ref()
}

/// An attribute value as text, as Tempo's `StringifyAnyValue` writes the scalar ones.
pub(crate) fn text(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex::encode(b),
        _ => String::new(),
    }
}

/// A span kind as its OTLP enum name.
pub(crate) fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

fn status_name(span: &Span) -> &'static str {
    match span.status.as_ref().map_or(0, |s| s.code) {
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_names_are_sanitized_and_kept_apart_from_intrinsics() {
        let names = dimension_labels(&[
            "http.method".into(),
            "service".into(),
            "1st".into(),
            "k8s.pod-name".into(),
        ]);
        assert_eq!(names, ["http_method", "__service", "_1st", "k8s_pod_name"]);
    }
}
