//! Pipelines compiled and run over one trace's spansets, stage by stage, as Tempo's
//! `Pipeline.evaluate` runs them: a stage that leaves no spanset ends the pipeline.
//!
//! A spanset expression (`{ a } > ({ b } || { c })`) compiles to a postfix program run once
//! per input spanset: every operand sees that spanset, as in Tempo's
//! `SpansetOperation.evaluate`. Evaluating one therefore recurses only into parenthesized
//! pipelines, and every function on that path keeps a small frame (no `?`, no iterator
//! adapters): the deepest query the parser takes runs in a small stack.

use super::aggregate::{fold, ScalarPlan};
use super::field::Program;
use super::runner::{Runner, Set};
use super::structural::relate;
use crate::ast::{Pipeline, ScalarExpr, SpansetExpr, SpansetOp, Stage};
use crate::error::Error;

/// Tempo's error for a structural operator whose side holds several spansets.
const MULTIPLE_SPANSETS: &str = "spanset operators are not supported for multiple spansets per trace. consider using coalesce()";

#[derive(Debug)]
pub(crate) struct PipelinePlan {
    stages: Vec<StagePlan>,
}

#[derive(Debug)]
enum StagePlan {
    /// A parenthesized pipeline that is a whole stage: it sees all spansets at once.
    Pipeline(PipelinePlan),
    /// Any other spanset expression, run per spanset.
    Spanset(Vec<Inst>),
    Scalar(ScalarPlan),
    GroupBy {
        name: String,
        expr: Program,
    },
    Coalesce,
    /// `select(…)` only says what to return, which the caller reads off the query.
    Select,
    /// What validation refuses (a scalar filter not of an aggregate): keeps nothing.
    Invalid,
}

/// An instruction of a spanset expression's postfix program.
#[derive(Debug)]
enum Inst {
    Filter(Program),
    Pipeline(PipelinePlan),
    Op(SpansetOp),
}

impl PipelinePlan {
    /// Compiles `p`; the query should be valid ([`crate::ast::Expr::validate`]).
    pub(crate) fn compile(p: &Pipeline) -> PipelinePlan {
        let mut stages = Vec::with_capacity(p.stages.len());
        for s in &p.stages {
            stages.push(compile_stage(s));
        }
        PipelinePlan { stages }
    }
}

fn compile_stage(s: &Stage) -> StagePlan {
    match s {
        Stage::Spanset(SpansetExpr::Pipeline(p)) => StagePlan::Pipeline(PipelinePlan::compile(p)),
        Stage::Spanset(e) => {
            let mut code = Vec::new();
            compile_spanset(e, &mut code);
            StagePlan::Spanset(code)
        }
        Stage::ScalarFilter(f) => match &f.lhs {
            ScalarExpr::Aggregate(a) => StagePlan::Scalar(ScalarPlan::new(a, f.op, fold(&f.rhs))),
            _ => StagePlan::Invalid,
        },
        Stage::GroupBy(e) => StagePlan::GroupBy {
            name: s.to_string(),
            expr: Program::compile(e),
        },
        Stage::Coalesce => StagePlan::Coalesce,
        Stage::Select(_) => StagePlan::Select,
    }
}

/// Appends the postfix program of `e`: operands, then their operator.
fn compile_spanset(e: &SpansetExpr, code: &mut Vec<Inst>) {
    match e {
        SpansetExpr::Filter(f) => code.push(Inst::Filter(Program::compile(f))),
        SpansetExpr::Pipeline(p) => code.push(Inst::Pipeline(PipelinePlan::compile(p))),
        SpansetExpr::Op { op, lhs, rhs } => {
            compile_spanset(lhs, code);
            compile_spanset(rhs, code);
            code.push(Inst::Op(*op));
        }
    }
}

impl<'a> Runner<'a> {
    /// Runs `p` over `sets`; on a run-time error it records the error and returns nothing.
    pub(crate) fn pipeline(&mut self, p: &'a PipelinePlan, mut sets: Vec<Set>) -> Vec<Set> {
        for stage in &p.stages {
            if sets.is_empty() || self.error.is_some() {
                return Vec::new();
            }
            sets = self.stage(stage, sets);
        }
        sets
    }

    fn stage(&mut self, s: &'a StagePlan, sets: Vec<Set>) -> Vec<Set> {
        match s {
            StagePlan::Pipeline(p) => self.pipeline(p, sets),
            StagePlan::Spanset(code) => self.spanset(code, sets),
            StagePlan::Scalar(f) => self.scalar_filter(f, sets),
            StagePlan::GroupBy { name, expr } => self.group_by(name, expr, sets),
            StagePlan::Coalesce => coalesce(sets),
            StagePlan::Select => sets,
            StagePlan::Invalid => Vec::new(),
        }
    }

    fn spanset(&mut self, code: &'a [Inst], sets: Vec<Set>) -> Vec<Set> {
        let mut out = Vec::with_capacity(sets.len());
        for set in &sets {
            out.append(&mut self.run(code, set));
        }
        out
    }

    /// The spansets `code` returns for the one input spanset `set`.
    fn run(&mut self, code: &'a [Inst], set: &Set) -> Vec<Set> {
        let mut stack: Vec<Vec<Set>> = Vec::new();
        for inst in code {
            let v = match inst {
                Inst::Filter(f) => self.filter(f, set),
                Inst::Pipeline(p) => self.pipeline(p, vec![set.clone()]),
                Inst::Op(op) => {
                    let r = stack.pop().unwrap_or_default();
                    let l = stack.pop().unwrap_or_default();
                    self.combine(*op, &l, &r, set)
                }
            };
            stack.push(v);
        }
        stack.pop().unwrap_or_default()
    }

    /// The spans of `set` for which `f` holds, as a spanset when there are some.
    fn filter(&mut self, f: &'a Program, set: &Set) -> Vec<Set> {
        let mut spans = Vec::new();
        for &i in &set.spans {
            if f.matches(self.trace, self.tree, i, &mut self.stack) {
                spans.push(i);
            }
        }
        keep(spans, set)
    }

    /// `l op r` for the input spanset `set` (Tempo's `SpansetOperation.evaluate` for one
    /// input): the spans kept, with the input's attributes, as a spanset when there are
    /// some.
    fn combine(&mut self, op: SpansetOp, l: &[Set], r: &[Set], set: &Set) -> Vec<Set> {
        let spans = match op {
            SpansetOp::And if l.is_empty() || r.is_empty() => Vec::new(),
            SpansetOp::And | SpansetOp::Union => union(l, r),
            _ if r.is_empty() => Vec::new(),
            _ if l.len() > 1 || r.len() > 1 => {
                self.error = Some(Error::Eval(MULTIPLE_SPANSETS.to_string()));
                Vec::new()
            }
            _ => {
                let lhs = l.first().map_or(&[][..], |s| &s.spans);
                relate(self.tree, op, lhs, &r[0].spans)
            }
        };
        keep(spans, set)
    }
}

/// `spans` as a spanset with the attributes of `set`, or none when empty.
fn keep(spans: Vec<usize>, set: &Set) -> Vec<Set> {
    if spans.is_empty() {
        return Vec::new();
    }
    vec![Set {
        spans,
        attrs: set.attrs.clone(),
    }]
}

/// The spans of all of `l` and `r`, ascending, each once.
fn union(l: &[Set], r: &[Set]) -> Vec<usize> {
    let mut spans = Vec::new();
    for s in l.iter().chain(r) {
        spans.extend_from_slice(&s.spans);
    }
    spans.sort_unstable();
    spans.dedup();
    spans
}

/// `coalesce()`: one spanset of all the spans, without attributes (Tempo's
/// `CoalesceOperation` starts a new spanset).
fn coalesce(sets: Vec<Set>) -> Vec<Set> {
    let mut spans = Vec::new();
    for s in sets {
        spans.extend(s.spans);
    }
    spans.sort_unstable();
    spans.dedup();
    vec![Set {
        spans,
        attrs: Vec::new(),
    }]
}
