//! The metrics functions but `compare()`: spans grouped into series by their `by()` values
//! and counted or measured per interval, then combined as Tempo's query frontend combines
//! what its queriers send (`MetricsAggregate`, `GroupingAggregator`, `StepAggregator`,
//! `OverTimeAggregator` in `pkg/traceql/engine_metrics.go`, `averageOverTimeAggregator` in
//! `engine_metrics_average.go`).
//!
//! - Series: one per distinct combination of `by()` values (`nil` included). A series is
//!   labelled by its non-`nil` values under the fields as written; all `nil` gives the
//!   first field a `nil` label; without `by()` the label is `__name__` = the function.
//!   `histogram_over_time` and `quantile_over_time` add `__bucket` (and never `__name__`).
//! - `rate()` is the count times `1 / step seconds`; counts are 0 where no span fell, so
//!   counting series have a value in every interval. `min`/`max`/`sum`/`avg_over_time` have
//!   none there (NaN, dropped from the answer).
//! - Durations are measured in seconds; other fields as numbers (a duration attribute in
//!   nanoseconds); a span without a numeric value is skipped by `avg`, ignored by
//!   `min`/`max`, and turns a `sum` interval into NaN as Tempo's Kahan sum does.
//! - Exemplars: NaN (the series' value, filled in at the end) for counting functions, the
//!   measured value for `min`/`max`/`sum`/`quantile` (0 when the span lacks it), and 0 for
//!   `avg_over_time`, whose combiner writes 0 for NaN.

use std::collections::HashMap;

use super::exemplars::{keep_valued, limit, BucketSet};
use super::interval::Intervals;
use super::order::compare_labels;
use super::quantile::{log2_bucket, quantiles};
use super::types::{Exemplar, SeriesBuf, ValueKey, BUCKET_LABEL, NAME_LABEL};
use crate::ast::{Field, Intrinsic, Scope};
use crate::eval::{SpanReader, Value};

/// A metrics function but `compare()`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Function {
    Rate,
    Count,
    Min,
    Max,
    Sum,
    Avg,
    Histogram,
    Quantile(Vec<f64>),
}

impl Function {
    /// The name Tempo gives an ungrouped series.
    fn name(&self) -> &'static str {
        match self {
            Function::Rate => "rate",
            Function::Count => "count_over_time",
            Function::Min => "min_over_time",
            Function::Max => "max_over_time",
            Function::Sum => "sum_over_time",
            Function::Avg => "avg_over_time",
            Function::Histogram => "histogram_over_time",
            Function::Quantile(_) => "quantile_over_time",
        }
    }

    fn buckets(&self) -> bool {
        matches!(self, Function::Histogram | Function::Quantile(_))
    }
}

/// One function over the spans of one query.
#[derive(Debug)]
pub(crate) struct Aggregation {
    function: Function,
    measured: Option<Field>,
    by: Vec<Field>,
    by_names: Vec<String>,
    /// The fields an exemplar reports, besides `trace:id`.
    exemplar_fields: Vec<Field>,
    intervals: Intervals,
    rate_mult: f64,
    index: HashMap<Vec<ValueKey>, usize>,
    groups: Vec<Group>,
}

#[derive(Debug)]
struct Group {
    by: Vec<Value>,
    bucket: Option<f64>,
    cells: Cells,
    exemplars: Vec<Exemplar>,
}

#[derive(Debug)]
enum Cells {
    Count(Vec<f64>),
    Over(Vec<OverTime>),
    Avg(Vec<Average>),
}

/// A `min`/`max`/`sum_over_time` interval: the value and the Kahan compensation Tempo's
/// `sumOverTime` closure carries.
#[derive(Debug, Clone, Copy)]
struct OverTime {
    val: f64,
    comp: f64,
}

/// An `avg_over_time` interval (Tempo's `averageValue`).
#[derive(Debug, Clone, Copy)]
struct Average {
    mean: f64,
    comp: f64,
    weight: f64,
}

impl Aggregation {
    pub(crate) fn new(
        function: Function,
        measured: Option<Field>,
        by: Vec<Field>,
        exemplar_fields: Vec<Field>,
        intervals: Intervals,
    ) -> Aggregation {
        Aggregation {
            rate_mult: 1.0 / intervals.step_seconds(),
            by_names: by.iter().map(label_name).collect(),
            function,
            measured,
            by,
            exemplar_fields,
            intervals,
            index: HashMap::new(),
            groups: Vec::new(),
        }
    }

    /// Adds the span at `index`, started at `ts`.
    pub(crate) fn observe(&mut self, reader: &SpanReader<'_>, index: usize, ts: i64) {
        let Some(i) = self.intervals.of(ts) else {
            return;
        };
        let bucket = if self.function.buckets() {
            match self.bucket(reader, index) {
                Some(b) => Some(b),
                None => return,
            }
        } else {
            None
        };
        let value = match self.function {
            Function::Min | Function::Max | Function::Sum | Function::Avg => {
                self.measure(reader, index)
            }
            _ => f64::NAN,
        };
        if self.function == Function::Avg && value.is_nan() {
            return;
        }
        let g = self.group(reader, index, bucket);
        let function = &self.function;
        match (&mut self.groups[g].cells, function) {
            (Cells::Count(c), _) => c[i] += 1.0,
            (Cells::Over(c), Function::Min) => {
                if c[i].val.is_nan() || value < c[i].val {
                    c[i].val = value;
                }
            }
            (Cells::Over(c), Function::Max) => {
                if c[i].val.is_nan() || value > c[i].val {
                    c[i].val = value;
                }
            }
            (Cells::Over(c), _) => sum_over_time(&mut c[i], value),
            (Cells::Avg(c), _) => add_increment_mean(&mut c[i], value),
        }
    }

    /// Adds the span at `index`, started at `ts`, as an exemplar of its series.
    pub(crate) fn observe_exemplar(&mut self, reader: &SpanReader<'_>, index: usize, ts: i64) {
        let bucket = if self.function.buckets() {
            match self.bucket(reader, index) {
                Some(b) => Some(b),
                None => return,
            }
        } else {
            None
        };
        let value = match self.function {
            Function::Min | Function::Max | Function::Sum | Function::Quantile(_) => {
                let v = self.measure(reader, index);
                if v.is_nan() {
                    0.0
                } else {
                    v
                }
            }
            _ => f64::NAN,
        };
        let labels = exemplar_labels(reader, index, &self.exemplar_fields);
        let g = self.group(reader, index, bucket);
        self.groups[g].exemplars.push(Exemplar {
            labels,
            value,
            timestamp_ms: ts.div_euclid(1_000_000),
        });
    }

    /// The series, as the query frontend has them once it combined the querier's answer.
    pub(crate) fn finish(self, max_exemplars: usize) -> Vec<SeriesBuf> {
        let Aggregation {
            function,
            by_names,
            intervals,
            rate_mult,
            groups,
            ..
        } = self;
        let mut raw: Vec<SeriesBuf> = groups
            .into_iter()
            .map(|g| {
                let values = match g.cells {
                    Cells::Count(c) if function == Function::Rate => {
                        c.into_iter().map(|n| n * rate_mult).collect()
                    }
                    Cells::Count(c) => c,
                    Cells::Over(c) => c.into_iter().map(|o| o.val).collect(),
                    Cells::Avg(c) => c.into_iter().map(|a| a.mean + a.comp).collect(),
                };
                let mut s = SeriesBuf {
                    labels: series_labels(&function, &by_names, g.by, g.bucket),
                    values,
                    exemplars: g.exemplars,
                };
                keep_valued(&mut s, &intervals);
                s
            })
            .collect();
        raw.sort_by(|a, b| compare_labels(&a.labels, &b.labels));
        if let Function::Quantile(qs) = &function {
            return quantiles(raw, qs, &intervals, max_exemplars);
        }
        let mut taken = BucketSet::new(max_exemplars, &intervals);
        for s in &mut raw {
            s.exemplars = limit(std::mem::take(&mut s.exemplars), &mut taken);
            if function == Function::Avg {
                for e in &mut s.exemplars {
                    if e.value.is_nan() {
                        e.value = 0.0;
                    }
                }
            }
        }
        raw
    }

    /// Whether [`Aggregation::add_count`] may stand in for spans: the function counts.
    pub(crate) fn counts(&self) -> bool {
        matches!(self.function, Function::Rate | Function::Count)
    }

    /// The `by()` fields.
    pub(crate) fn by(&self) -> &[Field] {
        &self.by
    }

    /// Adds `n` spans whose `by()` values are `by`, started at `ts`, as if observed one by
    /// one (counting functions only; see [`Aggregation::counts`]).
    pub(crate) fn add_count(&mut self, by: Vec<Value>, ts: i64, n: f64) {
        let Some(i) = self.intervals.of(ts) else {
            return;
        };
        let g = self.group_of(by, None);
        if let Cells::Count(c) = &mut self.groups[g].cells {
            c[i] += n;
        }
    }

    /// The series of the span at `index`, created when new.
    fn group(&mut self, reader: &SpanReader<'_>, index: usize, bucket: Option<f64>) -> usize {
        let by: Vec<Value> = self.by.iter().map(|f| reader.value(f, index)).collect();
        self.group_of(by, bucket)
    }

    /// The series of `by` values (and histogram bucket), created when new.
    fn group_of(&mut self, by: Vec<Value>, bucket: Option<f64>) -> usize {
        let mut key: Vec<ValueKey> = by.iter().map(ValueKey::of).collect();
        if let Some(b) = bucket {
            key.push(ValueKey::Float(b.to_bits()));
        }
        if let Some(&g) = self.index.get(&key) {
            return g;
        }
        let n = self.intervals.count();
        let cells = match self.function {
            Function::Min | Function::Max | Function::Sum => Cells::Over(vec![
                OverTime {
                    val: f64::NAN,
                    comp: 0.0
                };
                n
            ]),
            Function::Avg => Cells::Avg(vec![
                Average {
                    mean: f64::NAN,
                    comp: 0.0,
                    weight: f64::NAN
                };
                n
            ]),
            _ => Cells::Count(vec![0.0; n]),
        };
        self.groups.push(Group {
            by,
            bucket,
            cells,
            exemplars: Vec::new(),
        });
        self.index.insert(key, self.groups.len() - 1);
        self.groups.len() - 1
    }

    /// The measured value of the span: `duration` in seconds, other fields as numbers
    /// (Tempo's `FloatizeAttribute`), NaN when the span has no number.
    fn measure(&self, reader: &SpanReader<'_>, index: usize) -> f64 {
        match &self.measured {
            Some(Field::Intrinsic(Intrinsic::Duration)) => {
                reader.trace.spans[index].duration_nano as f64 / 1e9
            }
            Some(f) => float(&reader.value(f, index)).unwrap_or(f64::NAN),
            None => f64::NAN,
        }
    }

    /// The `__bucket` of the span (Tempo's `bucketizeFnFor`): the measured value rounded up
    /// to a power of two, in seconds for durations; none for values below 2, floats and
    /// non-numbers, which drops the span.
    fn bucket(&self, reader: &SpanReader<'_>, index: usize) -> Option<f64> {
        match &self.measured {
            Some(Field::Intrinsic(Intrinsic::Duration)) => {
                let d = u64::try_from(reader.trace.spans[index].duration_nano).ok()?;
                Some(log2_bucket(d)? / 1e9)
            }
            Some(f) => match reader.value(f, index) {
                Value::Int(n) if n as f64 >= 2.0 => log2_bucket(n as f64 as u64),
                Value::Duration(d) if d as f64 >= 2.0 => Some(log2_bucket(d as f64 as u64)? / 1e9),
                _ => None,
            },
            None => None,
        }
    }
}

/// A value as Tempo's `Static.Float` reads it: numbers, durations in nanoseconds.
pub(crate) fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Int(n) | Value::Duration(n) => Some(*n as f64),
        Value::Float(x) if !x.is_nan() => Some(*x),
        _ => None,
    }
}

/// A field as Tempo names it in labels (`Attribute.String()`): `span.x`, `.x`, `name`.
pub(crate) fn label_name(f: &Field) -> String {
    match f {
        Field::Intrinsic(i) => i.as_str().to_string(),
        Field::Attribute(a) => {
            let scope = match a.scope {
                Scope::None => "",
                Scope::Span => "span.",
                Scope::Resource => "resource.",
                Scope::Event => "event.",
                Scope::Link => "link.",
                Scope::Instrumentation => "instrumentation.",
            };
            match (a.parent, a.scope) {
                (true, Scope::None) => format!("parent.{}", a.name),
                (true, _) => format!("parent.{scope}{}", a.name),
                (false, Scope::None) => format!(".{}", a.name),
                (false, _) => format!("{scope}{}", a.name),
            }
        }
    }
}

/// Tempo's `labelsFor`.
fn series_labels(
    function: &Function,
    by_names: &[String],
    by: Vec<Value>,
    bucket: Option<f64>,
) -> Vec<(String, Value)> {
    if by_names.is_empty() && bucket.is_none() {
        return vec![(
            NAME_LABEL.to_string(),
            Value::String(function.name().to_string()),
        )];
    }
    let mut labels: Vec<(String, Value)> = by_names
        .iter()
        .zip(by)
        .filter(|(_, v)| *v != Value::Nil)
        .map(|(k, v)| (k.clone(), v))
        .collect();
    if let Some(b) = bucket {
        labels.push((BUCKET_LABEL.to_string(), Value::Float(b)));
    }
    if labels.is_empty() {
        if let Some(first) = by_names.first() {
            labels.push((first.clone(), Value::Nil));
        }
    }
    labels
}

/// The labels of an exemplar: `trace:id` and the span's values of `fields`, named as
/// Tempo's storage names the values it fetched (`span.x` or `resource.x` for `.x`), sorted.
pub(crate) fn exemplar_labels(
    reader: &SpanReader<'_>,
    index: usize,
    fields: &[Field],
) -> Vec<(String, Value)> {
    let mut labels = vec![(
        "trace:id".to_string(),
        reader.value(&Field::Intrinsic(Intrinsic::TraceId), index),
    )];
    let span = &reader.trace.spans[index];
    for f in fields {
        let v = reader.value(f, index);
        if v == Value::Nil {
            continue;
        }
        let name = match f {
            Field::Attribute(a) if a.scope == Scope::None && !a.parent => {
                if span.span_attrs.iter().any(|(k, _)| *k == a.name) {
                    format!("span.{}", a.name)
                } else {
                    format!("resource.{}", a.name)
                }
            }
            f => label_name(f),
        };
        if !labels.iter().any(|(k, _)| *k == name) {
            labels.push((name, v));
        }
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    labels
}

/// Tempo's `kahanSumInc` (Neumaier's variant).
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Tempo's `sumOverTime`: a NaN total takes the next value as is.
fn sum_over_time(cell: &mut OverTime, n: f64) {
    if cell.val.is_nan() {
        cell.val = n;
        return;
    }
    let (sum, c) = kahan_inc(n, cell.val, cell.comp);
    cell.comp = c;
    cell.val = if sum.is_infinite() { sum } else { sum + c };
}

/// Tempo's `addIncrementMean`.
fn add_increment_mean(cell: &mut Average, inc: f64) {
    if cell.mean.is_nan() && !inc.is_nan() {
        *cell = Average {
            mean: inc,
            comp: 0.0,
            weight: 1.0,
        };
        return;
    }
    cell.weight += 1.0;
    let delta = inc / cell.weight - cell.mean / cell.weight;
    if cell.mean.is_infinite() {
        if delta.is_infinite() && (cell.mean > 0.0) == (delta > 0.0) {
            return;
        }
        if !delta.is_infinite() && !delta.is_nan() {
            return;
        }
    }
    let (mean, comp) = kahan_inc(delta, cell.mean, cell.comp);
    cell.mean = mean;
    cell.comp = comp;
}
