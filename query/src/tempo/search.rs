//! TraceQL search over a time window: the traces with a span starting in the window, read
//! through SQL (at most `max_result_rows` spans, else the query is refused and asks for a
//! narrower window), turned into the evaluator's traces (typed attributes, from the OTLP the
//! rows give back) and searched with `traceql::eval`.

use std::collections::HashMap;

use arrow::array::{Array, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch, StringArray};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use traceql::ast::{Kind, Status};
use traceql::eval::{Attr, EventData, LinkData, Search, SpanData, Spanset, TraceData, Value};

use super::otlp;
use crate::Result;

/// One trace of a search answer, with the spansets that matched in it.
#[derive(Debug, Clone)]
pub struct FoundTrace {
    /// The trace.
    pub trace: TraceData,
    /// What matched.
    pub spansets: Vec<Spanset>,
}

/// The traces of `resource_spans` (any number, any order), spans in storage order.
pub(crate) fn traces(resource_spans: &[ResourceSpans]) -> Vec<TraceData> {
    let mut traces = Traces::default();
    for rs in resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| attrs(&r.attributes))
            .unwrap_or_default();
        let service = resource
            .iter()
            .find(|(k, _)| k == "service.name")
            .and_then(|(_, v)| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for ss in &rs.scope_spans {
            let (scope_name, scope_version, scope_attrs) =
                ss.scope.as_ref().map_or_else(Default::default, |s| {
                    (s.name.clone(), s.version.clone(), attrs(&s.attributes))
                });
            for s in &ss.spans {
                let Ok(trace_id) = <[u8; 16]>::try_from(&s.trace_id[..]) else {
                    continue;
                };
                let span = SpanData {
                    trace_id,
                    span_id: <[u8; 8]>::try_from(&s.span_id[..]).unwrap_or_default(),
                    parent_span_id: <[u8; 8]>::try_from(&s.parent_span_id[..]).ok(),
                    name: s.name.clone(),
                    kind: kind(s.kind),
                    status: status(s.status.as_ref().map_or(0, |st| st.code)),
                    status_message: s
                        .status
                        .as_ref()
                        .map(|st| st.message.clone())
                        .unwrap_or_default(),
                    start_unix_nano: i64::try_from(s.start_time_unix_nano).unwrap_or(i64::MAX),
                    duration_nano: i64::try_from(
                        s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
                    )
                    .unwrap_or(i64::MAX),
                    service_name: service.clone(),
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    span_attrs: attrs(&s.attributes),
                    resource_attrs: resource.clone(),
                    scope_attrs: scope_attrs.clone(),
                    events: s
                        .events
                        .iter()
                        .map(|e| EventData {
                            name: e.name.clone(),
                            time_unix_nano: i64::try_from(e.time_unix_nano).unwrap_or(i64::MAX),
                            attrs: attrs(&e.attributes),
                        })
                        .collect(),
                    links: s
                        .links
                        .iter()
                        .map(|l| LinkData {
                            trace_id: <[u8; 16]>::try_from(&l.trace_id[..]).unwrap_or_default(),
                            span_id: <[u8; 8]>::try_from(&l.span_id[..]).unwrap_or_default(),
                            attrs: attrs(&l.attributes),
                        })
                        .collect(),
                };
                traces.push(span);
            }
        }
    }
    traces.finish()
}

/// Spans gathered into traces by id, traces in the order first seen.
#[derive(Default)]
struct Traces {
    by_id: HashMap<[u8; 16], usize>,
    out: Vec<TraceData>,
}

impl Traces {
    fn push(&mut self, span: SpanData) {
        let out = &mut self.out;
        let at = *self.by_id.entry(span.trace_id).or_insert_with(|| {
            out.push(TraceData::default());
            out.len() - 1
        });
        out[at].spans.push(span);
    }

    /// The traces, each one's spans in storage order (by start, then id).
    fn finish(mut self) -> Vec<TraceData> {
        for t in &mut self.out {
            t.spans.sort_by_key(|s| (s.start_unix_nano, s.span_id));
        }
        self.out
    }
}

/// The columns of `spans` that [`lean_traces`] reads: a span's own, without its attribute
/// maps, events and links (for the queries `plan::lean` accepts).
pub(crate) const LEAN_COLUMNS: &str = "trace_id, span_id, parent_span_id, name, kind, \
     status_code, status_message, start_time_unix_nano, end_time_unix_nano, service_name, \
     scope_name, scope_version";

/// Rows of [`LEAN_COLUMNS`] as the evaluator's traces, as [`traces`] would give them minus
/// attributes, events and links; the service name comes from the `service_name` column (so
/// the rows must not be `unknown_service` ones, where the column cannot tell an absent
/// attribute from that text).
pub(crate) fn lean_traces(batch: &RecordBatch) -> Result<Vec<TraceData>> {
    let b = &otlp::as_stored(batch)?;
    let trace_ids: &FixedSizeBinaryArray = otlp::column(b, "trace_id")?;
    let span_ids: &FixedSizeBinaryArray = otlp::column(b, "span_id")?;
    let parents: &FixedSizeBinaryArray = otlp::column(b, "parent_span_id")?;
    let names: &StringArray = otlp::column(b, "name")?;
    let kinds: &Int32Array = otlp::column(b, "kind")?;
    let codes: &Int32Array = otlp::column(b, "status_code")?;
    let messages: &StringArray = otlp::column(b, "status_message")?;
    let starts: &Int64Array = otlp::column(b, "start_time_unix_nano")?;
    let ends: &Int64Array = otlp::column(b, "end_time_unix_nano")?;
    let services: &StringArray = otlp::column(b, "service_name")?;
    let scope_names: &StringArray = otlp::column(b, "scope_name")?;
    let scope_versions: &StringArray = otlp::column(b, "scope_version")?;
    let mut traces = Traces::default();
    for row in 0..b.num_rows() {
        let Ok(trace_id) = <[u8; 16]>::try_from(trace_ids.value(row)) else {
            continue;
        };
        let (start, end) = (starts.value(row), ends.value(row));
        let span = SpanData {
            trace_id,
            span_id: <[u8; 8]>::try_from(span_ids.value(row)).unwrap_or_default(),
            parent_span_id: (!parents.is_null(row))
                .then(|| <[u8; 8]>::try_from(parents.value(row)).ok())
                .flatten(),
            name: names.value(row).to_string(),
            kind: kind(kinds.value(row)),
            status: status(codes.value(row)),
            status_message: otlp::text(messages, row),
            start_unix_nano: start.max(0),
            duration_nano: end.saturating_sub(start).max(0),
            service_name: otlp::text(services, row),
            scope_name: otlp::text(scope_names, row),
            scope_version: otlp::text(scope_versions, row),
            ..SpanData::default()
        };
        traces.push(span);
    }
    Ok(traces.finish())
}

/// Runs `search` over `traces`; the traces with at least one spanset, newest first, at most
/// `limit`, and how many traces were inspected.
pub(crate) fn run(
    search: &Search,
    traces: Vec<TraceData>,
    limit: usize,
) -> traceql::Result<(Vec<FoundTrace>, usize)> {
    let inspected = traces.len();
    let mut found = Vec::new();
    for trace in traces {
        let spansets = search.eval_trace(&trace)?;
        if !spansets.is_empty() {
            found.push(FoundTrace { trace, spansets });
        }
    }
    sort_newest_first(&mut found);
    found.truncate(limit);
    Ok((found, inspected))
}

/// Orders found traces by their first span's start, newest first.
pub(crate) fn sort_newest_first(found: &mut [FoundTrace]) {
    found.sort_by_key(|f| std::cmp::Reverse(trace_start(f)));
}

/// The start of the `k`-th newest of `found` (by first span), if there are `k`.
pub(crate) fn kth_newest_start(found: &[FoundTrace], k: usize) -> Option<i64> {
    let i = k.checked_sub(1)?;
    if found.len() <= i {
        return None;
    }
    let mut starts: Vec<i64> = found.iter().map(trace_start).collect();
    let (_, kth, _) = starts.select_nth_unstable_by(i, |a, b| b.cmp(a));
    Some(*kth)
}

/// When a found trace starts: its first span's start.
fn trace_start(f: &FoundTrace) -> i64 {
    f.trace
        .spans
        .iter()
        .map(|s| s.start_unix_nano)
        .min()
        .unwrap_or_default()
}

/// An OTLP span kind as TraceQL's.
pub(crate) fn kind(k: i32) -> Kind {
    match k {
        1 => Kind::Internal,
        2 => Kind::Server,
        3 => Kind::Client,
        4 => Kind::Producer,
        5 => Kind::Consumer,
        _ => Kind::Unspecified,
    }
}

/// An OTLP status code as TraceQL's.
pub(crate) fn status(code: i32) -> Status {
    match code {
        1 => Status::Ok,
        2 => Status::Error,
        _ => Status::Unset,
    }
}

/// Typed OTLP attributes as the evaluator's; arrays, key-value lists and bytes (which TraceQL
/// does not compare) as their text.
fn attrs(kvs: &[KeyValue]) -> Vec<Attr> {
    kvs.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                None | Some(Any::StringValueStrindex(_)) => Value::Nil,
                Some(Any::StringValue(s)) => Value::String(s.clone()),
                Some(Any::BoolValue(b)) => Value::Bool(*b),
                Some(Any::IntValue(i)) => Value::Int(*i),
                Some(Any::DoubleValue(d)) => Value::Float(*d),
                Some(other) => Value::String(
                    super::json::any_value(&opentelemetry_proto::tonic::common::v1::AnyValue {
                        value: Some(other.clone()),
                    })
                    .to_string(),
                ),
            };
            (kv.key.clone(), v)
        })
        .collect()
}
