//! The loose tree read as Tempo's grammar reads it. A query holding a metrics function is a
//! metrics query: a spanset pipeline, the function and second stages, or arithmetic (`+ - * /`)
//! on parenthesized metrics queries and numbers, then second stages. A comparison whose left
//! side holds a parenthesized pipeline ending in an aggregate compares pipelines. Anything else
//! is a spanset pipeline: spanset expressions, scalar filters (which need an aggregate),
//! `by()`, `select()` and `coalesce()` (never first); as the whole query, a spanset expression
//! may join parenthesized pipelines. What fits none of these is a syntax error, as in Tempo.

use super::top::{Node, NodeKind, TopOp};
use crate::ast::{
    ArithOp, CmpOp, Pipeline, PipelineFilter, PipelineScalar, Query, ScalarExpr, ScalarFilter,
    ScalarPipeline, SpansetExpr, SpansetOp, Stage, Static,
};
use crate::error::{Error, Result};
use crate::lex::Pos;

// The tree is borrowed, not consumed: functions that recurse keep small frames that way (a
// debug build moves whole nodes around otherwise), and leaves are cloned out.

/// The query `node` is, when it holds no metrics function (see [`contains_metrics`]; those
/// are read by `metrics`).
pub(super) fn query(node: &Node) -> Result<Query> {
    if let NodeKind::Binary(op, _, lhs, rhs) = &node.kind {
        if let Some(cmp) = cmp_op(*op) {
            if contains_scalar_pipeline(lhs) {
                return pipeline_filter(cmp, lhs, rhs).map(Query::PipelineFilter);
            }
        }
    }
    let items = items(node);
    if let [item] = items.as_slice() {
        if is_spansetish(item) {
            return Ok(Query::Spans(match spanset(item, true)? {
                SpansetExpr::Pipeline(p) => p,
                e => Pipeline {
                    stages: vec![Stage::Spanset(e)],
                },
            }));
        }
    }
    spans_pipeline(&items).map(Query::Spans)
}

/// The stages of a pipeline, or `node` alone.
pub(super) fn items(node: &Node) -> Vec<&Node> {
    match &node.kind {
        NodeKind::Pipe(items) => items.iter().collect(),
        _ => vec![node],
    }
}

/// `syntax error: unexpected …` at `node`.
#[cold]
pub(super) fn unexpected(node: &Node) -> Error {
    let what = match &node.kind {
        NodeKind::Binary(op, op_pos, _, _) => {
            return op_pos.error(format!("syntax error: unexpected {}", op_text(*op)));
        }
        NodeKind::Filter(_) => "{".to_string(),
        NodeKind::Paren(_) => "(".to_string(),
        NodeKind::Pipe(_) => "pipeline".to_string(),
        NodeKind::Aggregate(a) => format!("{a}"),
        NodeKind::GroupBy(_) => "by".to_string(),
        NodeKind::Select(_) => "select".to_string(),
        NodeKind::Coalesce => "coalesce".to_string(),
        NodeKind::Metrics(m) => format!("{}", m.function),
        NodeKind::TopK(_) => "topk".to_string(),
        NodeKind::BottomK(_) => "bottomk".to_string(),
        NodeKind::Number(Static::Int(_)) => "INTEGER".to_string(),
        NodeKind::Number(Static::Float(_)) => "FLOAT".to_string(),
        NodeKind::Number(_) => "DURATION".to_string(),
        NodeKind::Static(Static::Str(_)) => "STRING".to_string(),
        NodeKind::Static(s) => s.to_string(),
    };
    node.pos.error(format!("syntax error: unexpected {what}"))
}

#[cold]
pub(super) fn unexpected_op(op: TopOp, op_pos: Pos) -> Error {
    op_pos.error(format!("syntax error: unexpected {}", op_text(op)))
}

pub(super) fn op_text(op: TopOp) -> &'static str {
    match op {
        TopOp::And => "&&",
        TopOp::Or => "||",
        TopOp::Eq => "=",
        TopOp::Neq => "!=",
        TopOp::Lt => "<",
        TopOp::Lte => "<=",
        TopOp::Gt => ">",
        TopOp::Gte => ">=",
        TopOp::Re => "=~",
        TopOp::NotRe => "!~",
        TopOp::Desc => ">>",
        TopOp::Ance => "<<",
        TopOp::Tilde => "~",
        TopOp::NotChild => "!>",
        TopOp::NotParent => "!<",
        TopOp::NotDesc => "!>>",
        TopOp::NotAnce => "!<<",
        TopOp::UnionChild => "&>",
        TopOp::UnionParent => "&<",
        TopOp::UnionDesc => "&>>",
        TopOp::UnionAnce => "&<<",
        TopOp::UnionSibl => "&~",
        TopOp::Add => "+",
        TopOp::Sub => "-",
        TopOp::Mul => "*",
        TopOp::Div => "/",
        TopOp::Mod => "%",
        TopOp::Pow => "^",
    }
}

pub(super) fn cmp_op(op: TopOp) -> Option<CmpOp> {
    Some(match op {
        TopOp::Eq => CmpOp::Eq,
        TopOp::Neq => CmpOp::Neq,
        TopOp::Lt => CmpOp::Lt,
        TopOp::Lte => CmpOp::Lte,
        TopOp::Gt => CmpOp::Gt,
        TopOp::Gte => CmpOp::Gte,
        _ => return None,
    })
}

fn arith_op(op: TopOp) -> Option<ArithOp> {
    Some(match op {
        TopOp::Add => ArithOp::Add,
        TopOp::Sub => ArithOp::Sub,
        TopOp::Mul => ArithOp::Mul,
        TopOp::Div => ArithOp::Div,
        TopOp::Mod => ArithOp::Mod,
        TopOp::Pow => ArithOp::Pow,
        _ => return None,
    })
}

/// The arithmetic operators between metrics queries and numbers.
pub(super) fn math_op(op: TopOp) -> Option<ArithOp> {
    arith_op(op).filter(|o| !matches!(o, ArithOp::Mod | ArithOp::Pow))
}

fn spanset_op(op: TopOp) -> Option<SpansetOp> {
    Some(match op {
        TopOp::And => SpansetOp::And,
        TopOp::Or => SpansetOp::Union,
        TopOp::Gt => SpansetOp::Child,
        TopOp::Lt => SpansetOp::Parent,
        TopOp::Desc => SpansetOp::Descendant,
        TopOp::Ance => SpansetOp::Ancestor,
        TopOp::Tilde => SpansetOp::Sibling,
        TopOp::NotChild => SpansetOp::NotChild,
        TopOp::NotParent => SpansetOp::NotParent,
        TopOp::NotDesc => SpansetOp::NotDescendant,
        TopOp::NotAnce => SpansetOp::NotAncestor,
        TopOp::NotRe => SpansetOp::NotSibling,
        TopOp::UnionChild => SpansetOp::UnionChild,
        TopOp::UnionParent => SpansetOp::UnionParent,
        TopOp::UnionDesc => SpansetOp::UnionDescendant,
        TopOp::UnionAnce => SpansetOp::UnionAncestor,
        TopOp::UnionSibl => SpansetOp::UnionSibling,
        _ => return None,
    })
}

pub(super) fn contains_metrics(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Metrics(_) => true,
        NodeKind::Paren(inner) => contains_metrics(inner),
        NodeKind::Pipe(items) => items.iter().any(contains_metrics),
        NodeKind::Binary(_, _, a, b) => contains_metrics(a) || contains_metrics(b),
        _ => false,
    }
}

fn contains_aggregate(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Aggregate(_) => true,
        NodeKind::Paren(inner) => contains_aggregate(inner),
        NodeKind::Binary(_, _, a, b) => contains_aggregate(a) || contains_aggregate(b),
        _ => false,
    }
}

/// Whether `node` holds a parenthesized pipeline ending in an aggregate.
fn contains_scalar_pipeline(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Paren(inner) => match &inner.kind {
            NodeKind::Pipe(items) => {
                matches!(items.last().map(|n| &n.kind), Some(NodeKind::Aggregate(_)))
            }
            _ => contains_scalar_pipeline(inner),
        },
        NodeKind::Binary(_, _, a, b) => contains_scalar_pipeline(a) || contains_scalar_pipeline(b),
        _ => false,
    }
}

/// Whether `node` is spansets: filters joined by spanset operators, and parenthesized
/// spansets or pipelines.
fn is_spansetish(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Filter(_) => true,
        NodeKind::Binary(op, _, a, b) => {
            spanset_op(*op).is_some() && is_spansetish(a) && is_spansetish(b)
        }
        NodeKind::Paren(inner) => is_spansetish(inner) || is_stage_like(inner),
        _ => false,
    }
}

/// Whether `node`, parenthesized, is a pipeline rather than a scalar (`(count() > 1)` is a
/// pipeline of one scalar filter, `(count())` is not).
fn is_stage_like(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Pipe(_) | NodeKind::GroupBy(_) | NodeKind::Select(_) | NodeKind::Coalesce => true,
        NodeKind::Binary(op, _, a, b) => {
            cmp_op(*op).is_some() && (contains_aggregate(a) || contains_aggregate(b))
        }
        _ => false,
    }
}

/// What `node` holds inside the parentheses around it, while that passes `strip`.
pub(super) fn strip_parens(node: &Node, strip: fn(&Node) -> bool) -> &Node {
    let mut node = node;
    while let NodeKind::Paren(inner) = &node.kind {
        if !strip(inner) {
            break;
        }
        node = inner;
    }
    node
}

/// Spansets; parenthesized pipelines are operands only when `pipelines` (the whole query).
fn spanset(node: &Node, pipelines: bool) -> Result<SpansetExpr> {
    let node = strip_parens(node, is_spansetish);
    match &node.kind {
        NodeKind::Filter(f) => Ok(SpansetExpr::Filter(f.clone())),
        NodeKind::Binary(op, op_pos, a, b) => {
            let Some(op) = spanset_op(*op) else {
                return Err(unexpected_op(*op, *op_pos));
            };
            let lhs = spanset(a, pipelines)?;
            let rhs = spanset(b, pipelines)?;
            let e = SpansetExpr::Op {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
            if e.has_pipeline() {
                pipeline_operands(a, b, &e)?;
            }
            Ok(e)
        }
        _ => wrapped_pipeline(node, pipelines),
    }
}

/// Next to a parenthesized pipeline, Tempo's grammar takes only parenthesized operands
/// (`({ a }) && ({ b } | { c })`, not `{ a } && ({ b } | { c })`).
fn pipeline_operands(a: &Node, b: &Node, e: &SpansetExpr) -> Result<()> {
    let SpansetExpr::Op { lhs, rhs, .. } = e else {
        return Ok(());
    };
    for (node, operand) in [(a, lhs), (b, rhs)] {
        if !matches!(node.kind, NodeKind::Paren(_)) && !operand.has_pipeline() {
            return Err(node.pos.error(format!(
                "syntax error: unexpected {}, expecting ( next to a parenthesized pipeline",
                match node.kind {
                    NodeKind::Filter(_) => "{",
                    _ => "operand",
                }
            )));
        }
    }
    Ok(())
}

/// `( pipeline )` as a spanset operand.
fn wrapped_pipeline(node: &Node, pipelines: bool) -> Result<SpansetExpr> {
    let inner = match &node.kind {
        NodeKind::Paren(inner) if is_stage_like(inner) => inner,
        NodeKind::Paren(inner) => return Err(unexpected(inner)),
        _ => return Err(unexpected(node)),
    };
    if !pipelines {
        return Err(node
            .pos
            .error("syntax error: unexpected (, a parenthesized pipeline cannot be a stage"));
    }
    let mut p = spans_pipeline(&items(inner))?;
    if p.stages.len() == 1 && matches!(p.stages.first(), Some(Stage::Spanset(_))) {
        if let Some(Stage::Spanset(e)) = p.stages.pop() {
            return Ok(e);
        }
    }
    Ok(SpansetExpr::Pipeline(p))
}

pub(super) fn spans_pipeline(items: &[&Node]) -> Result<Pipeline> {
    let stages = items
        .iter()
        .enumerate()
        .map(|(i, item)| stage(item, i == 0))
        .collect::<Result<_>>()?;
    Ok(Pipeline { stages })
}

fn stage(node: &Node, first: bool) -> Result<Stage> {
    if is_spansetish(node) {
        return spanset(node, false).map(Stage::Spanset);
    }
    match &node.kind {
        NodeKind::GroupBy(e) => Ok(Stage::GroupBy(e.clone())),
        NodeKind::Select(fields) => Ok(Stage::Select(fields.clone())),
        NodeKind::Coalesce if first => Err(node
            .pos
            .error("syntax error: unexpected coalesce, a pipeline cannot start with it")),
        NodeKind::Coalesce => Ok(Stage::Coalesce),
        NodeKind::Aggregate(a) => Err(node.pos.error(format!(
            "syntax error: unexpected {a}, an aggregate must be compared with a value"
        ))),
        NodeKind::Binary(op, op_pos, a, b) => match cmp_op(*op) {
            Some(op) => scalar_filter(op, *op_pos, a, b).map(Stage::ScalarFilter),
            None => Err(unexpected_op(*op, *op_pos)),
        },
        _ => Err(unexpected(node)),
    }
}

fn scalar_filter(op: CmpOp, op_pos: Pos, a: &Node, b: &Node) -> Result<ScalarFilter> {
    let lhs = scalar(a)?;
    let rhs = scalar(b)?;
    if !has_aggregate(&lhs) && !has_aggregate(&rhs) {
        return Err(
            op_pos.error("syntax error: a scalar filter compares an aggregate (count(), avg(x) …)")
        );
    }
    Ok(ScalarFilter { op, lhs, rhs })
}

fn has_aggregate(e: &ScalarExpr) -> bool {
    match e {
        ScalarExpr::Aggregate(_) => true,
        ScalarExpr::Static(_) => false,
        ScalarExpr::Binary { lhs, rhs, .. } => has_aggregate(lhs) || has_aggregate(rhs),
    }
}

fn scalar(node: &Node) -> Result<ScalarExpr> {
    let node = strip_parens(node, |_| true);
    match &node.kind {
        NodeKind::Aggregate(a) => Ok(ScalarExpr::Aggregate(a.clone())),
        NodeKind::Number(s) => Ok(ScalarExpr::Static(s.clone())),
        NodeKind::Binary(op, op_pos, a, b) => {
            let Some(op) = arith_op(*op) else {
                return Err(unexpected_op(*op, *op_pos));
            };
            let lhs = scalar(a)?;
            let rhs = scalar(b)?;
            Ok(ScalarExpr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            })
        }
        _ => Err(unexpected(node)),
    }
}

fn pipeline_filter(op: CmpOp, a: &Node, b: &Node) -> Result<PipelineFilter> {
    let lhs = pipeline_scalar(a)?;
    let rhs = match &b.kind {
        // Tempo's `static`: no sign.
        NodeKind::Static(s) => PipelineScalar::Static(s.clone()),
        NodeKind::Number(s) if !is_negative(s) => PipelineScalar::Static(s.clone()),
        _ => pipeline_scalar(b)?,
    };
    Ok(PipelineFilter { op, lhs, rhs })
}

fn is_negative(s: &Static) -> bool {
    match s {
        Static::Int(n) | Static::Duration(n) => *n < 0,
        Static::Float(f) => f.is_sign_negative(),
        _ => false,
    }
}

fn pipeline_scalar(node: &Node) -> Result<PipelineScalar> {
    let node = strip_parens(node, |inner| !matches!(inner.kind, NodeKind::Pipe(_)));
    match &node.kind {
        NodeKind::Paren(inner) => scalar_pipeline(inner, node.pos),
        NodeKind::Binary(op, op_pos, a, b) => {
            let Some(op) = arith_op(*op) else {
                return Err(unexpected_op(*op, *op_pos));
            };
            let lhs = pipeline_scalar(a)?;
            let rhs = pipeline_scalar(b)?;
            Ok(PipelineScalar::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            })
        }
        _ => Err(unexpected(node)),
    }
}

/// The pipeline ending in an aggregate in parentheses at `pos`.
fn scalar_pipeline(inner: &Node, pos: Pos) -> Result<PipelineScalar> {
    let items = items(inner);
    match items.split_last() {
        Some((last, spans)) => match &last.kind {
            NodeKind::Aggregate(aggregate) => Ok(PipelineScalar::Pipeline(ScalarPipeline {
                spans: spans_pipeline(spans)?,
                aggregate: aggregate.clone(),
            })),
            _ => Err(pos
                .error("syntax error: unexpected (, expecting a pipeline ending in an aggregate")),
        },
        None => Err(unexpected(inner)),
    }
}
