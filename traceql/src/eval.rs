//! TraceQL search queries evaluated over traces in memory, with Tempo's semantics. A parsed
//! query ([`Expr`], a spanset pipeline) and traces of spans the caller filled
//! ([`TraceData`]) flow in; out come, per trace, the spansets the pipeline returns
//! ([`Spanset`]: span indexes, the values `by()` and aggregate filters attached, the fields
//! `select()` asked for). Pure and synchronous: no I/O.
//!
//! Each trace is one spanset of all its spans when the pipeline starts, as Tempo's engine
//! hands it over; stages run in order and a stage that leaves nothing ends the pipeline
//! (`pipeline`). Field expressions follow Tempo's typing (`value`: mismatched types compare
//! false, `nil` equals nothing, integer arithmetic stays integer, regular expressions are
//! anchored) and its attribute lookup (`field`: `.x` is the span's, else the resource's; event
//! and link fields match when any event or link does). Structural operators use Tempo's
//! nested-set numbering (`tree`, `structural`). Query hints (`with(most_recent=true)` …)
//! steer how storage scans and do not change what matches: they are ignored here. Limits
//! on spans per spanset and traces per response are the caller's.
//!
//! Where Tempo's code disagrees with itself or fails at run time, this evaluator picks:
//! `x || y` is true when either side is `true` (Tempo's answer depends on a branch
//! optimizer's sampling); `-x` and `!x` on a value of the wrong type are `nil` and `/ 0`,
//! `% 0` are `nil` (Tempo fails the query or panics); `int ^ int` is `lhs` to the power `rhs`
//! (Tempo's `intPow(rhs, lhs)` swaps them); `min`/`max` order floats by value (Tempo by
//! bit pattern).

mod aggregate;
mod field;
mod model;
mod pipeline;
mod reader;
mod runner;
mod structural;
mod tree;
mod value;

pub use model::{
    Attr, EventData, LinkData, MatchedSpan, SpanData, Spanset, SpansetResult, TraceData, Value,
};
pub(crate) use reader::{SpanFilter, SpanReader};

use crate::ast::{Expr, Field, Pipeline, Query, SpansetExpr, Stage};
use crate::error::{Error, Result};
use field::{selected, Ctx};
use pipeline::PipelinePlan;
use runner::{Runner, Set};
use tree::Tree;

/// A search query compiled once, to run over any number of traces.
#[derive(Debug)]
pub struct Search {
    plan: PipelinePlan,
    select: Vec<Field>,
}

impl Search {
    /// Validates and compiles `expr`. Metrics queries are refused (they are not searches),
    /// and so is what validation refuses ([`Expr::validate`]).
    pub fn new(expr: &Expr) -> Result<Search> {
        expr.validate()?;
        let Query::Spans(p) = &expr.query else {
            return Err(Error::Eval(
                "only spanset queries are searched: metrics queries need the metrics engine"
                    .to_string(),
            ));
        };
        Ok(Search::from_pipeline(p))
    }

    /// Compiles the spanset pipeline of a metrics query, which the caller validated with the
    /// whole query.
    pub(crate) fn from_pipeline(p: &Pipeline) -> Search {
        let mut select = Vec::new();
        collect_select(p, &mut select);
        Search {
            plan: PipelinePlan::compile(p),
            select,
        }
    }

    /// The fields `select(…)` asks for, in the order first asked, wherever the stages are:
    /// like Tempo, which fetches them with the spans, they apply to every span returned.
    pub fn selected(&self) -> &[Field] {
        &self.select
    }

    /// The spansets the query returns for one trace, in pipeline order; none for a trace
    /// without spans. Fails only where Tempo fails at run time: a structural operator
    /// whose side returns several spansets (`by()` without `coalesce()`).
    pub fn eval_trace(&self, trace: &TraceData) -> Result<Vec<Spanset>> {
        if trace.spans.is_empty() {
            return Ok(Vec::new());
        }
        let tree = Tree::new(trace);
        self.run(trace, &tree)
    }

    /// The spansets of [`Search::eval_trace`], handed to `read` with a reader of the trace's
    /// fields, so that the metrics engine reads the values it groups by and measures from
    /// the trace the query ran over.
    pub(crate) fn eval_trace_with<R>(
        &self,
        trace: &TraceData,
        read: impl FnOnce(&[Spanset], &SpanReader<'_>) -> R,
    ) -> Result<R> {
        let tree = Tree::new(trace);
        let sets = if trace.spans.is_empty() {
            Vec::new()
        } else {
            self.run(trace, &tree)?
        };
        Ok(read(&sets, &SpanReader { trace, tree: &tree }))
    }

    fn run(&self, trace: &TraceData, tree: &Tree) -> Result<Vec<Spanset>> {
        let mut runner = Runner {
            trace,
            tree,
            stack: Vec::new(),
            error: None,
        };
        let all = Set {
            spans: (0..trace.spans.len()).collect(),
            attrs: Vec::new(),
        };
        let sets = runner.pipeline(&self.plan, vec![all]);
        if let Some(e) = runner.error {
            return Err(e);
        }
        Ok(sets
            .into_iter()
            .map(|set| Spanset {
                spans: set
                    .spans
                    .iter()
                    .map(|&index| {
                        let ctx = Ctx::first(trace, tree, index);
                        MatchedSpan {
                            index,
                            selected: self
                                .select
                                .iter()
                                .filter_map(|f| Some((f.clone(), selected(f, &ctx)?)))
                                .collect(),
                        }
                    })
                    .collect(),
                attributes: set.attrs,
            })
            .collect())
    }
}

/// Evaluates the search query `expr` over `traces`: every spanset of every trace, traces in
/// order. See [`Search`] to compile a query once for many calls.
pub fn search(expr: &Expr, traces: &[TraceData]) -> Result<Vec<SpansetResult>> {
    let search = Search::new(expr)?;
    let mut out = Vec::new();
    for (i, trace) in traces.iter().enumerate() {
        out.extend(
            search
                .eval_trace(trace)?
                .into_iter()
                .map(|spanset| SpansetResult { trace: i, spanset }),
        );
    }
    Ok(out)
}

fn collect_select(p: &Pipeline, out: &mut Vec<Field>) {
    for stage in &p.stages {
        match stage {
            Stage::Select(fields) => {
                for f in fields {
                    if !out.contains(f) {
                        out.push(f.clone());
                    }
                }
            }
            Stage::Spanset(e) => collect_select_spanset(e, out),
            _ => {}
        }
    }
}

fn collect_select_spanset(e: &SpansetExpr, out: &mut Vec<Field>) {
    match e {
        SpansetExpr::Filter(_) => {}
        SpansetExpr::Op { lhs, rhs, .. } => {
            collect_select_spanset(lhs, out);
            collect_select_spanset(rhs, out);
        }
        SpansetExpr::Pipeline(p) => collect_select(p, out),
    }
}

#[cfg(test)]
mod tests;
