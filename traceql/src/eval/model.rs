//! What the evaluator reads (traces of spans, filled by the caller) and what it returns
//! (spansets: span indexes with the values a pipeline attached).

use crate::ast::{Field, Kind, Status};

/// A value: an attribute's, an intrinsic's, or one an aggregate or grouping computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value: a missing attribute, or what an operation on mismatched types yields.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A string.
    String(String),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A span status.
    Status(Status),
    /// A span kind.
    Kind(Kind),
}

/// An attribute: its key and value, in the order the caller stored them (the first of two
/// equal keys wins).
pub type Attr = (String, Value);

/// One span with its resource and instrumentation scope, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanData {
    /// The trace's id.
    pub trace_id: [u8; 16],
    /// The span's id.
    pub span_id: [u8; 8],
    /// The parent's id; `None` (or all zeros) for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// `name`
    pub name: String,
    /// `kind`
    pub kind: Kind,
    /// `status`
    pub status: Status,
    /// `statusMessage`
    pub status_message: String,
    /// Start, in unix nanoseconds.
    pub start_unix_nano: i64,
    /// `duration`, in nanoseconds.
    pub duration_nano: i64,
    /// The resource's `service.name`, read by `resource.service.name` when `resource_attrs`
    /// does not hold it.
    pub service_name: String,
    /// `instrumentation:name`
    pub scope_name: String,
    /// `instrumentation:version`
    pub scope_version: String,
    /// `span.x`
    pub span_attrs: Vec<Attr>,
    /// `resource.x`
    pub resource_attrs: Vec<Attr>,
    /// `instrumentation.x`: the instrumentation scope's attributes.
    pub scope_attrs: Vec<Attr>,
    /// The span's events (`event:name`, `event.x` …).
    pub events: Vec<EventData>,
    /// The span's links (`link:traceID`, `link.x` …).
    pub links: Vec<LinkData>,
}

/// A span event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventData {
    /// `event:name`
    pub name: String,
    /// When it happened, in unix nanoseconds (`event:timeSinceStart` is this minus the
    /// span's start).
    pub time_unix_nano: i64,
    /// `event.x`
    pub attrs: Vec<Attr>,
}

/// A span link.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkData {
    /// `link:traceID`
    pub trace_id: [u8; 16],
    /// `link:spanID`
    pub span_id: [u8; 8],
    /// `link.x`
    pub attrs: Vec<Attr>,
}

/// The spans of one trace, in storage order. The order matters only where Tempo's does:
/// the numbering of `nestedSetLeft`/`Right` (children are visited in this order) and which
/// root names the trace when there are several.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceData {
    /// The spans.
    pub spans: Vec<SpanData>,
}

/// Spans of one trace that a pipeline returned together, with what it attached to them.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanset {
    /// The spans, ascending by index in [`TraceData::spans`]; never empty.
    pub spans: Vec<MatchedSpan>,
    /// Values the pipeline attached, in the order attached, named as Tempo names them:
    /// `by(.a)` for a grouping, `count()` or `avg(duration)` for an aggregate filter.
    pub attributes: Vec<Attr>,
}

/// A span of a [`Spanset`].
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedSpan {
    /// Its index in [`TraceData::spans`].
    pub index: usize,
    /// The values of the fields that `select(…)` asked for, in the order first asked; a
    /// field the span lacks is left out.
    pub selected: Vec<(Field, Value)>,
}

/// A spanset and the trace it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SpansetResult {
    /// The trace's index in the slice searched.
    pub trace: usize,
    /// The spanset.
    pub spanset: Spanset,
}
