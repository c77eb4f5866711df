//! What a metrics run takes and gives, and the series every stage passes on.

use crate::eval::Value;

/// Tempo's `__name__`: the function's name on a series without `by()`.
pub(crate) const NAME_LABEL: &str = "__name__";
/// Tempo's `__bucket`: the upper bound of a `histogram_over_time` bucket.
pub(crate) const BUCKET_LABEL: &str = "__bucket";
/// Tempo's `__meta_type`: which side of `compare()` a series counts.
pub(crate) const META_TYPE_LABEL: &str = "__meta_type";
/// Tempo's hard cap on exemplars per query (`maxExemplars`).
pub(crate) const MAX_EXEMPLARS: usize = 100;

/// The time range and resolution of a metrics query, as the query-range API takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsRequest {
    /// Start, in unix nanoseconds (Tempo's `start`).
    pub start_ns: i64,
    /// End, in unix nanoseconds (Tempo's `end`).
    pub end_ns: i64,
    /// Step, in nanoseconds. `end_ns - start_ns` makes an instant query: one point at the
    /// end for spans started in `(start, end]`, as Tempo's `/api/metrics/query` asks.
    pub step_ns: i64,
    /// At most this many exemplars (Tempo's `exemplars`, capped at 100); 0 for none.
    pub max_exemplars: usize,
}

/// One time series of the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The labels, in Tempo's order: the `by()` values as written (`resource.service.name`),
    /// or `__name__` without `by()`; `__bucket`, `p`, `__meta_type` where the function adds
    /// them. Tempo's API sends them as OTLP `AnyValue`s: integers, floats and booleans as
    /// such, everything else as a string (`nil` for [`Value::Nil`], Go's text for a
    /// duration, the keyword for a status or kind).
    pub labels: Vec<(String, Value)>,
    /// `(timestamp in unix milliseconds, value)`, ascending; intervals without a value are
    /// left out, never NaN.
    pub samples: Vec<(i64, f64)>,
    /// Spans picked as examples, ascending by time.
    pub exemplars: Vec<Exemplar>,
}

/// A span shown as an example of a series' value.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// `trace:id` (lowercase hex without leading zeros) and the span's values of the fields
    /// the query reads, named as Tempo names them (`span.x`, `resource.x`, `duration`).
    pub labels: Vec<(String, Value)>,
    /// The measured value (seconds for durations), or the series' value at the exemplar's
    /// time for counting functions.
    pub value: f64,
    /// The span's start, in unix milliseconds.
    pub timestamp_ms: i64,
}

/// The answer, and whether the series limit cut it short.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsOutput {
    /// The series, sorted as Tempo's query frontend sorts them.
    pub series: Vec<Series>,
    /// Whether series past the limit were dropped (Tempo answers with status `PARTIAL`).
    pub partial: bool,
}

/// A series between stages: one value per interval, NaN where there is none.
#[derive(Debug, Clone)]
pub(crate) struct SeriesBuf {
    pub(crate) labels: Vec<(String, Value)>,
    pub(crate) values: Vec<f64>,
    pub(crate) exemplars: Vec<Exemplar>,
}

impl SeriesBuf {
    /// The value of label `name`, if the series has it.
    pub(crate) fn label(&self, name: &str) -> Option<&Value> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A value as a map key: its type and bits (Tempo's `StaticMapKey`), so `1`, `1.0` and
/// `"1"` stay apart and `nil` differs from the string `"nil"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ValueKey {
    Nil,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
    Duration(i64),
    Status(u8),
    Kind(u8),
}

impl ValueKey {
    pub(crate) fn of(v: &Value) -> ValueKey {
        match v {
            Value::Nil => ValueKey::Nil,
            Value::Bool(b) => ValueKey::Bool(*b),
            Value::Int(n) => ValueKey::Int(*n),
            Value::Float(x) => ValueKey::Float(x.to_bits()),
            Value::String(s) => ValueKey::Str(s.clone()),
            Value::Duration(d) => ValueKey::Duration(*d),
            Value::Status(s) => ValueKey::Status(*s as u8),
            Value::Kind(k) => ValueKey::Kind(*k as u8),
        }
    }
}

/// The identity of a label set.
pub(crate) type LabelsKey = Vec<(String, ValueKey)>;

pub(crate) fn labels_key(labels: &[(String, Value)]) -> LabelsKey {
    labels
        .iter()
        .map(|(k, v)| (k.clone(), ValueKey::of(v)))
        .collect()
}
