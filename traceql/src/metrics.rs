//! TraceQL metrics queries evaluated over traces in memory, answering what Grafana's Tempo
//! data source gets from Tempo's query frontend. A metrics query ([`Expr`] holding a
//! [`Query::Metrics`]) and a time range with a step ([`MetricsRequest`]) flow in, then the
//! traces ([`TraceData`]) one at a time; out come time series ([`Series`]) with exemplars.
//!
//! Each query of the expression runs its spanset pipeline over each trace with the search
//! evaluator; the spans it returns that started inside the aligned window feed the metrics
//! function (`aggregate`, `compare`). At the end the series are combined as Tempo's
//! frontend combines its queriers' answers, passed through the second stages
//! (`second_stage`) and the arithmetic (`math`), then sorted as the frontend sorts them
//! (`order`); intervals without a value are left out and series without any value dropped.
//! Time alignment and timestamps are in `interval`, exemplar selection in `exemplars`.
//!
//! Where Tempo's own answer is not deterministic (random exemplar spans, map order, ties)
//! this engine picks: the first span of a trace's first spanset is its exemplar, series are
//! combined in their sorted order, ties go to the labels that sort first. Sampling hints
//! (`with(sample=…)`) are ignored: every span counts.

mod aggregate;
mod compare;
mod exemplars;
mod interval;
mod math;
mod order;
mod quantile;
mod second_stage;
mod types;

pub use types::{Exemplar, MetricsOutput, MetricsRequest, Series};

use crate::ast::{
    Expr, Field, FieldExpr, MetricsExpr, MetricsFunction, MetricsQuery, Pipeline, Query,
    SecondStage, SpansetExpr, Stage as PipelineStage, Static,
};
use crate::error::{Error, Result};
use crate::eval::{Search, SpanFilter, TraceData, Value};
use aggregate::{Aggregation, Function};
use compare::{Compare, DEFAULT_TOP_N};
use exemplars::{attach, keep_valued};
use interval::Intervals;
use math::{eval, fold, number, Node, Operand};
use order::compare_labels;
use second_stage::{apply, Stage};
use types::{SeriesBuf, MAX_EXEMPLARS};

/// A metrics query prepared for one time range, fed traces one at a time.
#[derive(Debug)]
pub struct MetricsEval {
    intervals: Intervals,
    queries: Vec<QueryRun>,
    tree: Node,
    stages: Vec<Stage>,
    /// Exemplars the answer may hold (Tempo's `exemplars`, at most 100).
    max_exemplars: usize,
    /// Traces that may still give an exemplar (Tempo's `exemplars` hint or the above).
    exemplar_traces: usize,
    max_series: usize,
}

/// One query of the expression: its pipeline, its function and its own second stages.
#[derive(Debug)]
struct QueryRun {
    search: Search,
    function: Aggregator,
    stages: Vec<Stage>,
}

#[derive(Debug)]
enum Aggregator {
    Series(Aggregation),
    Compare(Compare),
}

impl MetricsEval {
    /// Validates `expr` (a [`Query::Metrics`]; anything else is an error) and prepares a
    /// run over `req`: a step that is not positive, an end not after the start, or more than
    /// `max_points` points per series is an error naming the problem.
    pub fn new(expr: &Expr, req: MetricsRequest, max_points: usize) -> Result<MetricsEval> {
        let Query::Metrics(m) = &expr.query else {
            return Err(Error::Eval(
                "not a metrics query: the metrics engine takes `{ … } | rate()` and the like"
                    .to_string(),
            ));
        };
        expr.validate()?;
        let intervals = Intervals::new(&req)?;
        if intervals.count() > max_points {
            return Err(Error::Eval(format!(
                "invalid metrics request: step too small, {} points per series exceed the limit of {max_points}",
                intervals.count()
            )));
        }
        let mut queries = Vec::new();
        let tree = plan(&m.expr, &intervals, &mut queries)?;
        let stages = compile_stages(&m.stages)?;
        // Tempo samples exemplars only for a single query, never for an instant one.
        let max_exemplars = if queries.len() == 1 && !intervals.is_instant() {
            req.max_exemplars.min(MAX_EXEMPLARS)
        } else {
            0
        };
        let exemplar_traces = expr
            .hints
            .iter()
            .find(|h| h.name == "exemplars")
            .and_then(|h| match h.value {
                Static::Int(n) => Some(usize::try_from(n).unwrap_or(0)),
                Static::Bool(false) => Some(0),
                _ => None,
            })
            .unwrap_or(max_exemplars);
        Ok(MetricsEval {
            intervals,
            queries,
            tree,
            stages,
            max_exemplars,
            exemplar_traces: if max_exemplars == 0 {
                0
            } else {
                exemplar_traces
            },
            max_series: 0,
        })
    }

    /// Caps the answer at `max_series` series (0: no cap), as Tempo's frontend does with
    /// `max_series`: the sorted answer is cut and marked partial
    /// ([`MetricsOutput::partial`]).
    pub fn with_max_series(mut self, max_series: usize) -> MetricsEval {
        self.max_series = max_series;
        self
    }

    /// The span start times that can contribute, after alignment: `(start, end)` meaning
    /// spans started after `start` and at or before `end`.
    pub fn window(&self) -> (i64, i64) {
        self.intervals.window()
    }

    /// How many more traces may give an exemplar (0 when none are asked for).
    pub fn exemplar_traces(&self) -> usize {
        self.exemplar_traces
    }

    /// The step of the intervals, ns (the whole window for an instant query).
    pub fn step_ns(&self) -> i64 {
        self.intervals.step()
    }

    /// The `by()` fields of a query that only counts spans (one `rate()` or
    /// `count_over_time()`, no arithmetic), whose counts [`MetricsEval::add_count`] may add
    /// instead of spans; `None` for any other query.
    pub fn counting_by(&self) -> Option<&[Field]> {
        match (&self.tree, self.queries.as_slice()) {
            (
                Node::Query(0),
                [QueryRun {
                    function: Aggregator::Series(a),
                    ..
                }],
            ) if a.counts() => Some(a.by()),
            _ => None,
        }
    }

    /// Adds `n` spans that the query's pipeline keeps, with `by()` values `by` (in
    /// [`MetricsEval::counting_by`]'s order), started at `ts` (ns) — what [`MetricsEval::observe`]
    /// would count for them, without exemplars. Only for counting queries: the caller has
    /// applied the pipeline's filter exactly.
    pub fn add_count(&mut self, by: Vec<Value>, ts: i64, n: u64) -> Result<()> {
        if self.counting_by().is_none() {
            return Err(Error::Eval(
                "counts stand in for spans only in a rate() or count_over_time() query".into(),
            ));
        }
        if let Some(QueryRun {
            function: Aggregator::Series(a),
            ..
        }) = self.queries.first_mut()
        {
            a.add_count(by, ts, n as f64);
        }
        Ok(())
    }

    /// Adds one trace's matching spans; spans started outside the window are ignored. Fails
    /// only where Tempo's pipeline fails at run time.
    pub fn observe(&mut self, trace: &TraceData) -> Result<()> {
        self.observe_with(trace, true)
    }

    /// Offers one trace's matching spans as exemplars only, counting nothing: for a caller
    /// that added the counts with [`MetricsEval::add_count`] and reads a sample of traces for
    /// their exemplars.
    pub fn observe_exemplars(&mut self, trace: &TraceData) -> Result<()> {
        self.observe_with(trace, false)
    }

    fn observe_with(&mut self, trace: &TraceData, count: bool) -> Result<()> {
        let intervals = self.intervals;
        for q in &mut self.queries {
            let QueryRun {
                search, function, ..
            } = q;
            let budget = &mut self.exemplar_traces;
            search.eval_trace_with(trace, |sets, reader| {
                for (n, set) in sets.iter().enumerate() {
                    // The trace's first spanset may give one exemplar (Tempo's
                    // `sampleExemplar`, once per trace id).
                    let sample = n == 0 && *budget > 0;
                    if sample {
                        *budget -= 1;
                    }
                    let mut exemplar = None;
                    for m in &set.spans {
                        let ts = trace.spans[m.index].start_unix_nano;
                        if !intervals.contains(ts) {
                            continue;
                        }
                        if count {
                            match function {
                                Aggregator::Series(a) => a.observe(reader, m.index, ts),
                                Aggregator::Compare(c) => c.observe(reader, m.index, ts),
                            }
                        }
                        if sample && exemplar.is_none() {
                            exemplar = Some((m.index, ts));
                        }
                    }
                    if let Some((index, ts)) = exemplar {
                        match function {
                            Aggregator::Series(a) => a.observe_exemplar(reader, index, ts),
                            Aggregator::Compare(c) => c.observe_exemplar(reader, index, ts),
                        }
                    }
                }
            })?;
        }
        Ok(())
    }

    /// The series, sorted as Tempo's frontend sorts them, second stages applied.
    pub fn finish(self) -> Result<Vec<Series>> {
        Ok(self.finish_output()?.series)
    }

    /// The series and whether the series cap cut them short.
    pub fn finish_output(self) -> Result<MetricsOutput> {
        let MetricsEval {
            intervals,
            queries,
            tree,
            stages,
            max_exemplars,
            max_series,
            ..
        } = self;
        let count = intervals.count();
        let mut results: Vec<Vec<SeriesBuf>> = queries
            .into_iter()
            .map(|q| {
                let set = match q.function {
                    Aggregator::Series(a) => a.finish(max_exemplars),
                    Aggregator::Compare(c) => c.finish(max_exemplars),
                };
                apply(&q.stages, set, count)
            })
            .collect();
        let set = match eval(&tree, &mut results) {
            Operand::Series(s) => apply(&stages, s, count),
            Operand::Number(_) => Vec::new(),
        };
        let mut series: Vec<Series> = set
            .into_iter()
            .filter_map(|mut s| {
                keep_valued(&mut s, &intervals);
                let samples: Vec<(i64, f64)> = s
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| !v.is_nan())
                    .map(|(i, v)| (intervals.timestamp_ms(i), *v))
                    .collect();
                (!samples.is_empty()).then_some(Series {
                    labels: s.labels,
                    samples,
                    exemplars: s.exemplars,
                })
            })
            .collect();
        series.sort_by(|a, b| compare_labels(&a.labels, &b.labels));
        let partial = max_series > 0 && series.len() > max_series;
        if partial {
            series.truncate(max_series);
        }
        for s in &mut series {
            s.exemplars.sort_by_key(|e| e.timestamp_ms);
            attach(s, &intervals);
        }
        Ok(MetricsOutput { series, partial })
    }
}

/// The arithmetic tree of `e`, its queries compiled into `queries`. Recursive, one frame
/// per level of a tree whose depth the parser bounds.
fn plan(e: &MetricsExpr, intervals: &Intervals, queries: &mut Vec<QueryRun>) -> Result<Node> {
    if let Some(c) = fold(e)? {
        return Ok(Node::Number(number(&c)));
    }
    match e {
        MetricsExpr::Query(q) => {
            queries.push(compile_query(q, intervals)?);
            Ok(Node::Query(queries.len() - 1))
        }
        MetricsExpr::Number(s) => Ok(Node::Number(number(s))),
        MetricsExpr::Binary { op, lhs, rhs } => Ok(Node::Binary {
            op: *op,
            lhs: Box::new(plan(lhs, intervals, queries)?),
            rhs: Box::new(plan(rhs, intervals, queries)?),
        }),
    }
}

fn compile_query(q: &MetricsQuery, intervals: &Intervals) -> Result<QueryRun> {
    let by = q.aggregate.by.clone();
    let (function, measured) = match &q.aggregate.function {
        MetricsFunction::Rate => (Function::Rate, None),
        MetricsFunction::CountOverTime => (Function::Count, None),
        MetricsFunction::MinOverTime(f) => (Function::Min, Some(f.clone())),
        MetricsFunction::MaxOverTime(f) => (Function::Max, Some(f.clone())),
        MetricsFunction::SumOverTime(f) => (Function::Sum, Some(f.clone())),
        MetricsFunction::AvgOverTime(f) => (Function::Avg, Some(f.clone())),
        MetricsFunction::HistogramOverTime(f) => (Function::Histogram, Some(f.clone())),
        MetricsFunction::QuantileOverTime { field, quantiles } => {
            (Function::Quantile(quantiles.clone()), Some(field.clone()))
        }
        MetricsFunction::Compare {
            selection,
            top_n,
            window,
        } => {
            if !by.is_empty() {
                return Err(Error::Validate("compare() does not take by()".to_string()));
            }
            let top_n = match top_n {
                Some(n) => usize::try_from(*n).unwrap_or(DEFAULT_TOP_N),
                None => DEFAULT_TOP_N,
            };
            return Ok(QueryRun {
                search: Search::from_pipeline(&q.spans),
                function: Aggregator::Compare(Compare::new(
                    SpanFilter::new(selection),
                    top_n,
                    *window,
                    *intervals,
                )),
                stages: compile_stages(&q.stages)?,
            });
        }
    };
    let mut fields = Vec::new();
    collect_pipeline_fields(&q.spans, &mut fields);
    for f in by.iter().chain(&measured) {
        if !fields.contains(f) {
            fields.push(f.clone());
        }
    }
    Ok(QueryRun {
        search: Search::from_pipeline(&q.spans),
        function: Aggregator::Series(Aggregation::new(function, measured, by, fields, *intervals)),
        stages: compile_stages(&q.stages)?,
    })
}

fn compile_stages(stages: &[SecondStage]) -> Result<Vec<Stage>> {
    stages
        .iter()
        .map(|s| {
            Ok(match s {
                SecondStage::TopK(n) => Stage::TopK(usize::try_from(*n).unwrap_or(0)),
                SecondStage::BottomK(n) => Stage::BottomK(usize::try_from(*n).unwrap_or(0)),
                SecondStage::Filter { op, value } => {
                    let threshold = fold(value)?.ok_or_else(|| {
                        Error::Validate("a metrics filter compares with a number".to_string())
                    })?;
                    Stage::Filter(*op, number(&threshold))
                }
            })
        })
        .collect()
}

/// The fields the spanset filters of `p` read, in the order written: the values an
/// exemplar reports. Recursive over the query, whose depth the parser bounds.
fn collect_pipeline_fields(p: &Pipeline, out: &mut Vec<Field>) {
    for stage in &p.stages {
        match stage {
            PipelineStage::Spanset(e) => collect_spanset_fields(e, out),
            PipelineStage::GroupBy(e) => collect_field_expr(e, out),
            _ => {}
        }
    }
}

fn collect_spanset_fields(e: &SpansetExpr, out: &mut Vec<Field>) {
    match e {
        SpansetExpr::Filter(f) => collect_field_expr(f, out),
        SpansetExpr::Op { lhs, rhs, .. } => {
            collect_spanset_fields(lhs, out);
            collect_spanset_fields(rhs, out);
        }
        SpansetExpr::Pipeline(p) => collect_pipeline_fields(p, out),
    }
}

fn collect_field_expr(e: &FieldExpr, out: &mut Vec<Field>) {
    match e {
        FieldExpr::Static(_) => {}
        FieldExpr::Field(f) => {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
        FieldExpr::Unary { expr, .. } => collect_field_expr(expr, out),
        FieldExpr::Binary { lhs, rhs, .. } => {
            collect_field_expr(lhs, out);
            collect_field_expr(rhs, out);
        }
    }
}

/// A label value's text as Tempo's API sends a string label (`nil`, Go's duration text,
/// the status or kind keyword); numbers and booleans go as such.
pub fn label_text(v: &Value) -> String {
    order::wire_string(v)
}

#[cfg(test)]
mod tests;
