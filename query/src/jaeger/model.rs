//! Traces as Jaeger's query API writes them (`internal/uimodel/model.go`, formerly
//! `model/json/model.go`, of `jaegertracing/jaeger`), made from OTLP the way Jaeger shows the
//! OTLP it stores: the collector's translator (`pkg/translator/jaeger/traces_to_jaegerproto.go`
//! of `opentelemetry-collector-contrib`) to Jaeger's domain model, then Jaeger's
//! `converter/v1/json/from_domain.go` to JSON.
//!
//! - A resource is a process: `service.name` is its `serviceName` (`OTLPResourceNoServiceName`
//!   when the resource has no attributes), its other attributes are its tags. Spans name their
//!   process by key, `p1`, `p2`, … in span order, one key per distinct process.
//! - Span tags, in order: `otel.scope.name`, `otel.scope.version`, the attributes, `span.kind`
//!   (`client`, `server`, `producer`, `consumer`, `internal`), `otel.status_code` (`OK`,
//!   `ERROR`), `error` = true on an error, `otel.status_description`, `w3c.tracestate`; the
//!   ones without a value are left out.
//! - Tags are typed: strings, `int64` (as a string past ±(2^53−1), which JavaScript cannot
//!   hold), `bool`, `float64`, `binary` (base64); arrays and key-value lists are `string`s of
//!   their JSON (`go_json.rs`).
//! - References: the parent first, `CHILD_OF`; each link `FOLLOWS_FROM`, or `CHILD_OF` when its
//!   `opentracing.ref_type` attribute says `child_of`; a link to the parent retypes the
//!   parent's reference instead.
//! - Events are logs: the name as an `event` field first (unless an attribute has that key),
//!   then the attributes.
//! - Times and durations in microseconds, truncated. Ids in hex: span ids 16 digits, trace ids
//!   16 when their high half is zero, else 32 (Jaeger's `TraceID.String()`).
//!
//! The translator keeps no OTLP flags, dropped counts or scope attributes, so neither do these
//! traces (Jaeger leaves a zero `flags` out). Jaeger's query service then runs its adjusters
//! (clock skew, sorting, deduplication) unless asked for `raw` traces; these traces are the raw
//! ones.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue as Attr};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span as OtlpSpan};
use serde::Serialize;
use serde_json::Value as Json;

use super::go_json;

/// One trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Trace {
    #[serde(rename = "traceID")]
    pub(crate) trace_id: String,
    pub(crate) spans: Vec<Span>,
    pub(crate) processes: BTreeMap<String, Process>,
    pub(crate) warnings: Option<Vec<String>>,
}

/// One span of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Span {
    #[serde(rename = "traceID")]
    pub(crate) trace_id: String,
    #[serde(rename = "spanID")]
    pub(crate) span_id: String,
    pub(crate) operation_name: String,
    pub(crate) references: Vec<Reference>,
    pub(crate) start_time: u64,
    pub(crate) duration: u64,
    pub(crate) tags: Vec<KeyValue>,
    pub(crate) logs: Vec<Log>,
    #[serde(rename = "processID")]
    pub(crate) process_id: String,
    pub(crate) warnings: Option<Vec<String>>,
}

/// A reference from one span to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Reference {
    #[serde(rename = "refType")]
    pub(crate) ref_type: &'static str,
    #[serde(rename = "traceID")]
    pub(crate) trace_id: String,
    #[serde(rename = "spanID")]
    pub(crate) span_id: String,
}

/// The process (resource) that emitted spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Process {
    #[serde(rename = "serviceName")]
    pub(crate) service_name: String,
    pub(crate) tags: Vec<KeyValue>,
}

/// An event of a span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Log {
    pub(crate) timestamp: u64,
    pub(crate) fields: Vec<KeyValue>,
}

/// A typed tag: `type` is `string`, `bool`, `int64`, `float64` or `binary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) value: Json,
}

/// An operation of a service (`/api/operations`): its name and span kind (empty when
/// unspecified).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Operation {
    pub(crate) name: String,
    #[serde(rename = "spanKind")]
    pub(crate) span_kind: &'static str,
}

/// The service name of a process whose resource has no attributes.
const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// The largest integer JavaScript holds exactly; Jaeger writes larger ones as strings.
const JS_MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The OpenTracing name of OTLP span kind `kind`, none for unspecified (or unknown) kinds.
pub(crate) fn kind_name(kind: i32) -> Option<&'static str> {
    Some(match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => return None,
    })
}

/// The OTLP span kind an OpenTracing kind name stands for.
pub(crate) fn kind_number(name: &str) -> Option<i32> {
    (1..=5).find(|&k| kind_name(k) == Some(name))
}

/// A trace id as Jaeger prints one: 16 hex digits when the high half is zero, else 32.
pub(crate) fn trace_id_hex(id: &[u8; 16]) -> String {
    if id[..8] == [0; 8] {
        hex::encode(&id[8..])
    } else {
        hex::encode(id)
    }
}

/// The traces of `resource_spans` (spans of any number of traces, in any order), in the order
/// their first spans come, each with its spans by start time.
pub(crate) fn traces(resource_spans: &[ResourceSpans]) -> Vec<([u8; 16], Trace)> {
    // The spans of each trace, with their starts and resources.
    let mut processes = Vec::with_capacity(resource_spans.len());
    let mut by_trace: HashMap<[u8; 16], usize> = HashMap::new();
    let mut groups: Vec<([u8; 16], Vec<Placed>)> = Vec::new();
    for rs in resource_spans {
        let process_index = processes.len();
        processes.push(process(rs.resource.as_ref()));
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                let Ok(trace_id) = <[u8; 16]>::try_from(&s.trace_id[..]) else {
                    continue;
                };
                let at = *by_trace.entry(trace_id).or_insert_with(|| {
                    groups.push((trace_id, Vec::new()));
                    groups.len() - 1
                });
                let span = span(s, ss.scope.as_ref());
                groups[at].1.push(Placed {
                    start: s.start_time_unix_nano,
                    resource: process_index,
                    span,
                });
            }
        }
    }
    groups
        .into_iter()
        .map(|(id, mut spans)| {
            spans.sort_by(|a, b| (a.start, &a.span.span_id).cmp(&(b.start, &b.span.span_id)));
            (id, assemble(&id, spans, &processes))
        })
        .collect()
}

/// A span, its start (ns) and its resource (an index into the processes of the resources).
struct Placed {
    start: u64,
    resource: usize,
    span: Span,
}

/// One trace of spans sorted by start, with their processes keyed `p1`, `p2`, … in the order
/// spans first name them (equal processes of different resources share a key).
fn assemble(id: &[u8; 16], spans: Vec<Placed>, all: &[Process]) -> Trace {
    let mut key_of_resource: HashMap<usize, String> = HashMap::new();
    let mut key_of_process: HashMap<String, String> = HashMap::new();
    let mut processes = BTreeMap::new();
    let spans = spans
        .into_iter()
        .map(
            |Placed {
                 resource, mut span, ..
             }| {
                let key = key_of_resource.entry(resource).or_insert_with(|| {
                    let process = &all[resource];
                    let next = format!("p{}", key_of_process.len() + 1);
                    key_of_process
                        .entry(format!("{process:?}"))
                        .or_insert_with(|| {
                            processes.insert(next.clone(), process.clone());
                            next
                        })
                        .clone()
                });
                span.process_id = key.clone();
                span
            },
        )
        .collect();
    Trace {
        trace_id: trace_id_hex(id),
        spans,
        processes,
        warnings: None,
    }
}

/// The process of a resource.
fn process(resource: Option<&Resource>) -> Process {
    let attributes = resource.map_or(&[][..], |r| &r.attributes[..]);
    if attributes.is_empty() {
        return Process {
            service_name: NO_SERVICE_NAME.to_string(),
            tags: Vec::new(),
        };
    }
    let service_name = attributes
        .iter()
        .find(|a| a.key == "service.name")
        .map(|a| match a.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Any::StringValue(s)) => s.clone(),
            _ => String::new(),
        })
        .unwrap_or_default();
    Process {
        service_name,
        tags: attributes
            .iter()
            .filter(|a| a.key != "service.name")
            .map(tag)
            .collect(),
    }
}

/// The span, its process key left empty.
fn span(s: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Span {
    let trace_id = trace_id_hex(&trace_id_of(&s.trace_id));
    let start = s.start_time_unix_nano;
    Span {
        references: references(s, &trace_id),
        trace_id,
        span_id: hex::encode(span_id_of(&s.span_id)),
        operation_name: s.name.clone(),
        start_time: start / 1_000,
        duration: s.end_time_unix_nano.saturating_sub(start) / 1_000,
        tags: span_tags(s, scope),
        logs: s.events.iter().map(log).collect(),
        process_id: String::new(),
        warnings: None,
    }
}

/// The tags of a span, in the translator's order.
fn span_tags(s: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Vec<KeyValue> {
    let mut tags = Vec::with_capacity(s.attributes.len() + 4);
    let mut text = |key: &str, value: &str| {
        if !value.is_empty() {
            tags.push(string_tag(key, value));
        }
    };
    if let Some(scope) = scope {
        text("otel.scope.name", &scope.name);
        text("otel.scope.version", &scope.version);
    }
    tags.extend(s.attributes.iter().map(tag));
    if let Some(kind) = kind_name(s.kind) {
        tags.push(string_tag("span.kind", kind));
    }
    let (code, message) = s
        .status
        .as_ref()
        .map_or((0, ""), |st| (st.code, st.message.as_str()));
    match code {
        1 => tags.push(string_tag("otel.status_code", "OK")),
        2 => {
            tags.push(string_tag("otel.status_code", "ERROR"));
            tags.push(KeyValue {
                key: "error".to_string(),
                kind: "bool",
                value: Json::Bool(true),
            });
        }
        _ => {}
    }
    if !message.is_empty() {
        tags.push(string_tag("otel.status_description", message));
    }
    if !s.trace_state.is_empty() {
        tags.push(string_tag("w3c.tracestate", &s.trace_state));
    }
    tags
}

/// The parent reference and one per link.
fn references(s: &OtlpSpan, trace_id: &str) -> Vec<Reference> {
    let parent = span_id_of(&s.parent_span_id);
    let has_parent = parent != [0; 8];
    let parent = hex::encode(parent);
    let mut refs = Vec::with_capacity(s.links.len() + 1);
    if has_parent {
        refs.push(Reference {
            ref_type: CHILD_OF,
            trace_id: trace_id.to_string(),
            span_id: parent.clone(),
        });
    }
    for link in &s.links {
        let reference = Reference {
            ref_type: link_ref_type(&link.attributes),
            trace_id: trace_id_hex(&trace_id_of(&link.trace_id)),
            span_id: hex::encode(span_id_of(&link.span_id)),
        };
        if has_parent && reference.trace_id == trace_id && reference.span_id == parent {
            refs[0].ref_type = reference.ref_type;
            continue;
        }
        refs.push(reference);
    }
    refs
}

const CHILD_OF: &str = "CHILD_OF";
const FOLLOWS_FROM: &str = "FOLLOWS_FROM";

/// `CHILD_OF` for a link whose `opentracing.ref_type` is `child_of`, else `FOLLOWS_FROM`.
fn link_ref_type(attributes: &[Attr]) -> &'static str {
    let child_of = attributes.iter().any(|a| {
        a.key == "opentracing.ref_type"
            && matches!(
                a.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(Any::StringValue(s)) if s == "child_of"
            )
    });
    if child_of {
        CHILD_OF
    } else {
        FOLLOWS_FROM
    }
}

/// An event as a log.
fn log(e: &Event) -> Log {
    let mut fields = Vec::with_capacity(e.attributes.len() + 1);
    if !e.name.is_empty() && !e.attributes.iter().any(|a| a.key == "event") {
        fields.push(string_tag("event", &e.name));
    }
    fields.extend(e.attributes.iter().map(tag));
    Log {
        timestamp: e.time_unix_nano / 1_000,
        fields,
    }
}

fn string_tag(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        kind: "string",
        value: Json::String(value.to_string()),
    }
}

/// An attribute as a typed tag; no value is an empty string.
fn tag(a: &Attr) -> KeyValue {
    let (kind, value) = typed(a.value.as_ref());
    KeyValue {
        key: a.key.clone(),
        kind,
        value,
    }
}

fn typed(value: Option<&AnyValue>) -> (&'static str, Json) {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => ("string", Json::String(s.clone())),
        Some(Any::BoolValue(b)) => ("bool", Json::Bool(*b)),
        Some(Any::IntValue(i)) if (-JS_MAX_SAFE_INTEGER..=JS_MAX_SAFE_INTEGER).contains(i) => {
            ("int64", Json::from(*i))
        }
        Some(Any::IntValue(i)) => ("int64", Json::String(i.to_string())),
        Some(Any::DoubleValue(d)) => ("float64", float(*d)),
        Some(Any::BytesValue(b)) => ("binary", Json::String(STANDARD.encode(b))),
        Some(v @ (Any::ArrayValue(_) | Any::KvlistValue(_))) => {
            ("string", Json::String(go_json::as_string(v)))
        }
        None | Some(Any::StringValueStrindex(_)) => ("string", Json::String(String::new())),
    }
}

/// A float as a JSON number, integral ones without a fraction as Go writes them; NaN and the
/// infinities, which JSON cannot hold (Go fails the whole answer), as the text `NaN`, `+Inf`,
/// `-Inf`.
fn float(d: f64) -> Json {
    if d.is_nan() {
        return Json::String("NaN".into());
    }
    if d.is_infinite() {
        return Json::String(if d > 0.0 { "+Inf" } else { "-Inf" }.into());
    }
    if d.fract() == 0.0 && d.abs() <= JS_MAX_SAFE_INTEGER as f64 {
        return Json::from(d as i64);
    }
    serde_json::Number::from_f64(d).map_or(Json::Null, Json::Number)
}

fn trace_id_of(bytes: &[u8]) -> [u8; 16] {
    <[u8; 16]>::try_from(bytes).unwrap_or_default()
}

fn span_id_of(bytes: &[u8]) -> [u8; 8] {
    <[u8; 8]>::try_from(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests;
