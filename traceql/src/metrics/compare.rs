//! `compare({ selection }, topN, start, end)`, as Tempo's `MetricsCompare` and
//! `BaselineAggregator` compute it (`pkg/traceql/engine_metrics_compare.go`).
//!
//! Each span counted is in the selection when the filter holds for it (and, with a window,
//! it started in `[start, end)`), else in the baseline. Every attribute of the span — its
//! span and resource attributes and `name`, `status`, `statusMessage`, `kind`, all that
//! Tempo's select-all fetches but values of duration type — counts once per interval under
//! `{__meta_type="baseline"|"selection", <attribute>=<value>}`, keeping per attribute the
//! `topN` values with the largest totals, and once under
//! `{__meta_type="baseline_total"|"selection_total", <attribute>=nil}`. An attribute with
//! more values than `topN` gets Tempo's `{__meta_error="__too_many_values__"}` series, which
//! has no samples and so never reaches the answer. Exemplars (one per trace, at most 100 per
//! side) go to the total series of every attribute they carry.

use std::collections::HashMap;

use super::aggregate::label_name;
use super::exemplars::{keep_valued, limit, BucketSet};
use super::interval::Intervals;
use super::order::{any_value_text, compare_labels};
use super::types::{Exemplar, SeriesBuf, ValueKey, MAX_EXEMPLARS, META_TYPE_LABEL};
use crate::ast::{Field, Intrinsic};
use crate::eval::{SpanFilter, SpanReader, Value};

/// Tempo's default `topN`.
pub(crate) const DEFAULT_TOP_N: usize = 10;

/// One side of the comparison: per attribute, per value, counts per interval.
#[derive(Debug, Default)]
struct Side {
    attrs: Vec<Attr>,
    index: HashMap<String, usize>,
    exemplars: Vec<Exemplar>,
}

#[derive(Debug)]
struct Attr {
    name: String,
    values: Vec<(Value, Vec<f64>)>,
    index: HashMap<ValueKey, usize>,
    totals: Vec<f64>,
}

/// `compare()` over the spans of one query.
#[derive(Debug)]
pub(crate) struct Compare {
    filter: SpanFilter,
    top_n: usize,
    window: Option<(i64, i64)>,
    intervals: Intervals,
    baseline: Side,
    selection: Side,
}

impl Compare {
    pub(crate) fn new(
        filter: SpanFilter,
        top_n: usize,
        window: Option<(i64, i64)>,
        intervals: Intervals,
    ) -> Compare {
        Compare {
            filter,
            top_n,
            window: window.filter(|w| *w != (0, 0)),
            intervals,
            baseline: Side::default(),
            selection: Side::default(),
        }
    }

    fn is_selection(&self, reader: &SpanReader<'_>, index: usize, ts: i64) -> bool {
        match self.window {
            Some((start, end)) if ts < start || ts >= end => false,
            _ => reader.matches(&self.filter, index),
        }
    }

    /// Adds the span at `index`, started at `ts`.
    pub(crate) fn observe(&mut self, reader: &SpanReader<'_>, index: usize, ts: i64) {
        let Some(i) = self.intervals.of(ts) else {
            return;
        };
        let n = self.intervals.count();
        let side = if self.is_selection(reader, index, ts) {
            &mut self.selection
        } else {
            &mut self.baseline
        };
        for (name, value) in attributes(reader, index) {
            if matches!(value, Value::Duration(_)) {
                continue;
            }
            let a = *side.index.entry(name.clone()).or_insert_with(|| {
                side.attrs.push(Attr {
                    name,
                    values: Vec::new(),
                    index: HashMap::new(),
                    totals: vec![0.0; n],
                });
                side.attrs.len() - 1
            });
            let attr = &mut side.attrs[a];
            let v = *attr.index.entry(ValueKey::of(&value)).or_insert_with(|| {
                attr.values.push((value, vec![0.0; n]));
                attr.values.len() - 1
            });
            attr.values[v].1[i] += 1.0;
            attr.totals[i] += 1.0;
        }
    }

    /// Adds the span at `index`, started at `ts`, as an exemplar.
    pub(crate) fn observe_exemplar(&mut self, reader: &SpanReader<'_>, index: usize, ts: i64) {
        if self.baseline.exemplars.len() >= MAX_EXEMPLARS
            || self.selection.exemplars.len() >= MAX_EXEMPLARS
        {
            return;
        }
        let span = &reader.trace.spans[index];
        let mut labels = attributes(reader, index);
        labels.push(("duration".to_string(), Value::Duration(span.duration_nano)));
        labels.push((
            "trace:id".to_string(),
            reader.value(&Field::Intrinsic(Intrinsic::TraceId), index),
        ));
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        let e = Exemplar {
            labels,
            value: f64::NAN,
            timestamp_ms: ts.div_euclid(1_000_000),
        };
        if self.is_selection(reader, index, ts) {
            self.selection.exemplars.push(e);
        } else {
            self.baseline.exemplars.push(e);
        }
    }

    /// The series, as the query frontend has them once it combined the querier's answer.
    pub(crate) fn finish(self, max_exemplars: usize) -> Vec<SeriesBuf> {
        let mut out = Vec::new();
        for (side, kind) in [(&self.baseline, "baseline"), (&self.selection, "selection")] {
            for attr in &side.attrs {
                let mut top: Vec<&(Value, Vec<f64>)> = attr.values.iter().collect();
                if top.len() > self.top_n {
                    // Largest totals first; Tempo breaks ties at random, here by value.
                    top.sort_by(|a, b| {
                        let (sa, sb) = (a.1.iter().sum::<f64>(), b.1.iter().sum::<f64>());
                        sb.total_cmp(&sa)
                            .then_with(|| any_value_text(&a.0).cmp(&any_value_text(&b.0)))
                    });
                    top.truncate(self.top_n);
                }
                for (value, counts) in top {
                    out.push(SeriesBuf {
                        labels: vec![meta(kind), (attr.name.clone(), value.clone())],
                        values: counts.clone(),
                        exemplars: Vec::new(),
                    });
                }
            }
        }
        for (side, kind) in [
            (&self.baseline, "baseline_total"),
            (&self.selection, "selection_total"),
        ] {
            for attr in &side.attrs {
                let exemplars = side
                    .exemplars
                    .iter()
                    .filter(|e| e.labels.iter().any(|(k, _)| *k == attr.name))
                    .cloned()
                    .collect();
                out.push(SeriesBuf {
                    labels: vec![meta(kind), (attr.name.clone(), Value::Nil)],
                    values: attr.totals.clone(),
                    exemplars,
                });
            }
        }
        for s in &mut out {
            keep_valued(s, &self.intervals);
        }
        out.sort_by(|a, b| compare_labels(&a.labels, &b.labels));
        let mut taken = BucketSet::new(max_exemplars, &self.intervals);
        for s in &mut out {
            s.exemplars = limit(std::mem::take(&mut s.exemplars), &mut taken);
        }
        out
    }
}

fn meta(kind: &str) -> (String, Value) {
    (META_TYPE_LABEL.to_string(), Value::String(kind.to_string()))
}

/// What Tempo's select-all fetches of a span, named as its storage names them: the span's
/// attributes (`span.x`, the first of equal keys), the resource's (`resource.x`, with
/// `service.name`), `name`, `status`, `statusMessage` and `kind`.
fn attributes(reader: &SpanReader<'_>, index: usize) -> Vec<(String, Value)> {
    let span = &reader.trace.spans[index];
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut push = |name: String, v: Value| {
        if !out.iter().any(|(k, _)| *k == name) {
            out.push((name, v));
        }
    };
    for (k, v) in &span.span_attrs {
        push(format!("span.{k}"), v.clone());
    }
    for (k, v) in &span.resource_attrs {
        push(format!("resource.{k}"), v.clone());
    }
    if !span.service_name.is_empty() {
        push(
            "resource.service.name".to_string(),
            Value::String(span.service_name.clone()),
        );
    }
    for i in [
        Intrinsic::Name,
        Intrinsic::Status,
        Intrinsic::StatusMessage,
        Intrinsic::Kind,
    ] {
        let f = Field::Intrinsic(i);
        push(label_name(&f), reader.value(&f, index));
    }
    out
}
