//! OTLP traces as Tempo writes them in JSON (Go's `jsonpb` over its protobuf types): lowerCamel
//! names, 64-bit integers as strings, enums by name, bytes (ids too) in base64, fields at their
//! default value left out.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_json::{json, Map, Value as Json};

/// `resource_spans` as a JSON array.
pub(crate) fn resource_spans(resource_spans: &[ResourceSpans]) -> Json {
    Json::Array(
        resource_spans
            .iter()
            .map(|rs| {
                let mut o = Map::new();
                if let Some(r) = &rs.resource {
                    let mut res = Map::new();
                    put_list(&mut res, "attributes", attributes(&r.attributes));
                    put_u32(
                        &mut res,
                        "droppedAttributesCount",
                        r.dropped_attributes_count,
                    );
                    o.insert("resource".into(), Json::Object(res));
                }
                put_list(
                    &mut o,
                    "scopeSpans",
                    rs.scope_spans.iter().map(scope_spans).collect(),
                );
                put_str(&mut o, "schemaUrl", &rs.schema_url);
                Json::Object(o)
            })
            .collect(),
    )
}

fn scope_spans(ss: &ScopeSpans) -> Json {
    let mut o = Map::new();
    if let Some(s) = &ss.scope {
        o.insert("scope".into(), scope(s));
    }
    put_list(&mut o, "spans", ss.spans.iter().map(span).collect());
    put_str(&mut o, "schemaUrl", &ss.schema_url);
    Json::Object(o)
}

fn scope(s: &InstrumentationScope) -> Json {
    let mut o = Map::new();
    put_str(&mut o, "name", &s.name);
    put_str(&mut o, "version", &s.version);
    put_list(&mut o, "attributes", attributes(&s.attributes));
    put_u32(&mut o, "droppedAttributesCount", s.dropped_attributes_count);
    Json::Object(o)
}

/// The names of `Span.SpanKind`.
const KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

/// The names of `Status.StatusCode`.
const STATUS_CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// An enum by name, or by number when it has none (as `jsonpb` writes unknown values).
fn enum_value(names: &[&str], v: i32) -> Json {
    usize::try_from(v)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| json!(v), |n| json!(n))
}

fn span(s: &Span) -> Json {
    let mut o = Map::new();
    put_bytes(&mut o, "traceId", &s.trace_id);
    put_bytes(&mut o, "spanId", &s.span_id);
    put_str(&mut o, "traceState", &s.trace_state);
    put_bytes(&mut o, "parentSpanId", &s.parent_span_id);
    put_u32(&mut o, "flags", s.flags);
    put_str(&mut o, "name", &s.name);
    if s.kind != 0 {
        o.insert("kind".into(), enum_value(&KINDS, s.kind));
    }
    put_u64(&mut o, "startTimeUnixNano", s.start_time_unix_nano);
    put_u64(&mut o, "endTimeUnixNano", s.end_time_unix_nano);
    put_list(&mut o, "attributes", attributes(&s.attributes));
    put_u32(&mut o, "droppedAttributesCount", s.dropped_attributes_count);
    let events = s
        .events
        .iter()
        .map(|e| {
            let mut o = Map::new();
            put_u64(&mut o, "timeUnixNano", e.time_unix_nano);
            put_str(&mut o, "name", &e.name);
            put_list(&mut o, "attributes", attributes(&e.attributes));
            put_u32(&mut o, "droppedAttributesCount", e.dropped_attributes_count);
            Json::Object(o)
        })
        .collect();
    put_list(&mut o, "events", events);
    put_u32(&mut o, "droppedEventsCount", s.dropped_events_count);
    let links = s
        .links
        .iter()
        .map(|l| {
            let mut o = Map::new();
            put_bytes(&mut o, "traceId", &l.trace_id);
            put_bytes(&mut o, "spanId", &l.span_id);
            put_str(&mut o, "traceState", &l.trace_state);
            put_list(&mut o, "attributes", attributes(&l.attributes));
            put_u32(&mut o, "droppedAttributesCount", l.dropped_attributes_count);
            put_u32(&mut o, "flags", l.flags);
            Json::Object(o)
        })
        .collect();
    put_list(&mut o, "links", links);
    put_u32(&mut o, "droppedLinksCount", s.dropped_links_count);
    // Tempo's spans always carry a status (`{}` when unset).
    let mut status = Map::new();
    if let Some(st) = &s.status {
        put_str(&mut status, "message", &st.message);
        if st.code != 0 {
            status.insert("code".into(), enum_value(&STATUS_CODES, st.code));
        }
    }
    o.insert("status".into(), Json::Object(status));
    Json::Object(o)
}

fn attributes(kvs: &[KeyValue]) -> Vec<Json> {
    kvs.iter()
        .map(|kv| {
            let mut o = Map::new();
            o.insert("key".into(), json!(kv.key));
            o.insert(
                "value".into(),
                kv.value.as_ref().map_or_else(|| json!({}), any_value),
            );
            Json::Object(o)
        })
        .collect()
}

/// An `AnyValue`: `{"stringValue": ...}`, `{"intValue": "42"}`, ... (`{}` when empty).
pub(crate) fn any_value(v: &AnyValue) -> Json {
    match &v.value {
        None | Some(Value::StringValueStrindex(_)) => json!({}),
        Some(Value::StringValue(s)) => json!({ "stringValue": s }),
        Some(Value::BoolValue(b)) => json!({ "boolValue": b }),
        Some(Value::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(Value::DoubleValue(d)) => json!({ "doubleValue": double(*d) }),
        Some(Value::BytesValue(b)) => json!({ "bytesValue": STANDARD.encode(b) }),
        Some(Value::ArrayValue(a)) => {
            let values: Vec<Json> = a.values.iter().map(any_value).collect();
            json!({ "arrayValue": { "values": values } })
        }
        Some(Value::KvlistValue(kvs)) => {
            json!({ "kvlistValue": { "values": attributes(&kvs.values) } })
        }
    }
}

/// A double as `jsonpb` writes one: a number, or the strings `NaN`, `Infinity`, `-Infinity`.
fn double(d: f64) -> Json {
    if d.is_nan() {
        json!("NaN")
    } else if d.is_infinite() {
        json!(if d > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(d)
    }
}

fn put_str(o: &mut Map<String, Json>, k: &str, v: &str) {
    if !v.is_empty() {
        o.insert(k.into(), json!(v));
    }
}

fn put_bytes(o: &mut Map<String, Json>, k: &str, v: &[u8]) {
    if !v.is_empty() {
        o.insert(k.into(), json!(STANDARD.encode(v)));
    }
}

fn put_u32(o: &mut Map<String, Json>, k: &str, v: u32) {
    if v != 0 {
        o.insert(k.into(), json!(v));
    }
}

fn put_u64(o: &mut Map<String, Json>, k: &str, v: u64) {
    if v != 0 {
        o.insert(k.into(), json!(v.to_string()));
    }
}

fn put_list(o: &mut Map<String, Json>, k: &str, v: Vec<Json>) {
    if !v.is_empty() {
        o.insert(k.into(), Json::Array(v));
    }
}
