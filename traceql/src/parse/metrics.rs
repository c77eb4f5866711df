//! Metrics queries: a spanset pipeline, a metrics function and second stages; or arithmetic
//! (`+ - * /`) on parenthesized metrics queries and numbers, then second stages.

use super::convert::{
    cmp_op, contains_metrics, items, math_op, op_text, spans_pipeline, strip_parens, unexpected,
    unexpected_op,
};
use super::top::{Node, NodeKind, TopOp};
use crate::ast::{Metrics, MetricsExpr, MetricsQuery, SecondStage, Static};
use crate::error::{Error, Result};
use crate::lex::Pos;

/// The metrics query `node` (which holds a metrics function) is.
pub(super) fn metrics(node: &Node) -> Result<Metrics> {
    let items = items(node);
    let function_at = items
        .iter()
        .position(|n| is_metrics_item(n))
        .filter(|k| !items[..*k].iter().any(|n| contains_metrics(n)));
    if let Some(k) = function_at {
        let mut q = metrics_query(&items, k)?;
        let stages = std::mem::take(&mut q.stages);
        return Ok(Metrics {
            expr: MetricsExpr::Query(Box::new(q)),
            stages,
        });
    }
    // Without a metrics function in the pipeline, the query is arithmetic on parenthesized
    // metrics queries; a misplaced function is reported where it is.
    if let Some(misplaced) = items.iter().skip(1).find(|n| contains_metrics(n)) {
        return Err(match metrics_expr(misplaced) {
            Err(e) => e,
            Ok(_) => misplaced
                .pos
                .error("syntax error: a metrics query cannot be a pipeline stage"),
        });
    }
    let Some((head, rest)) = items.split_first() else {
        return Err(unexpected(node));
    };
    let (base, mut stages) = split_filters(head)?;
    let mut expr = metrics_expr(base)?;
    for item in rest {
        stages.extend(second_stage(item)?);
    }
    // A single metrics query keeps its second stages at the root, as Tempo unwraps it.
    if let MetricsExpr::Query(q) = &mut expr {
        if !q.stages.is_empty() {
            let mut all = std::mem::take(&mut q.stages);
            all.append(&mut stages);
            stages = all;
        }
    }
    Ok(Metrics { expr, stages })
}

/// Whether `node` is a metrics function, maybe compared (`rate() > 10`).
fn is_metrics_item(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Metrics(_) => true,
        NodeKind::Binary(op, _, a, _) => cmp_op(*op).is_some() && is_metrics_item(a),
        _ => false,
    }
}

/// The metrics query of `items`, whose `k`th is the metrics function.
fn metrics_query(items: &[&Node], k: usize) -> Result<MetricsQuery> {
    let (spans, rest) = items.split_at(k.min(items.len()));
    let Some((item, rest)) = rest.split_first() else {
        return Err(Error::Parse {
            message: "syntax error: expecting a metrics function".into(),
            line: 1,
            col: 1,
        });
    };
    if spans.is_empty() {
        return Err(item
            .pos
            .error("syntax error: a metrics function follows a spanset pipeline and |"));
    }
    let spans = spans_pipeline(spans)?;
    let (base, mut stages) = split_filters(item)?;
    let NodeKind::Metrics(aggregate) = &base.kind else {
        return Err(unexpected(base));
    };
    for item in rest {
        stages.extend(second_stage(item)?);
    }
    Ok(MetricsQuery {
        spans,
        aggregate: aggregate.clone(),
        stages,
    })
}

/// `node` without the comparisons it ends with (`x > 1 <= 5`), and those as filters.
fn split_filters(node: &Node) -> Result<(&Node, Vec<SecondStage>)> {
    let mut node = node;
    let mut filters = Vec::new();
    while let NodeKind::Binary(op, _, a, b) = &node.kind {
        let Some(cmp) = cmp_op(*op) else { break };
        filters.push(SecondStage::Filter {
            op: cmp,
            value: filter_value(b)?,
        });
        node = a;
    }
    filters.reverse();
    Ok((node, filters))
}

/// `topk(n)` or `bottomk(n)`, maybe compared (`topk(5) > 10`).
fn second_stage(node: &Node) -> Result<Vec<SecondStage>> {
    let (base, filters) = split_filters(node)?;
    let first = match &base.kind {
        NodeKind::TopK(n) => SecondStage::TopK(*n),
        NodeKind::BottomK(n) => SecondStage::BottomK(*n),
        _ => return Err(unexpected(base)),
    };
    let mut stages = vec![first];
    stages.extend(filters);
    Ok(stages)
}

/// Arithmetic on parenthesized metrics queries and numbers; `node` holds a metrics function.
fn metrics_expr(node: &Node) -> Result<MetricsExpr> {
    let node = strip_parens(node, |inner| !matches!(inner.kind, NodeKind::Pipe(_)));
    match &node.kind {
        NodeKind::Binary(op, op_pos, a, b) => {
            let Some(op) = math_op(*op) else {
                return Err(not_math(*op, *op_pos));
            };
            let lhs = if contains_metrics(a) {
                metrics_expr(a)?
            } else {
                constant(a)?
            };
            let rhs = if contains_metrics(b) {
                metrics_expr(b)?
            } else {
                constant(b)?
            };
            Ok(MetricsExpr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            })
        }
        _ => metrics_operand(node),
    }
}

#[cold]
fn not_math(op: TopOp, op_pos: Pos) -> Error {
    op_pos.error(format!(
        "syntax error: unexpected {}, metrics queries combine with + - * /",
        op_text(op)
    ))
}

/// A parenthesized metrics query.
fn metrics_operand(node: &Node) -> Result<MetricsExpr> {
    match &node.kind {
        NodeKind::Paren(inner) => {
            let items = items(inner);
            let k = items
                .iter()
                .position(|n| is_metrics_item(n))
                .filter(|k| !items[..*k].iter().any(|n| contains_metrics(n)))
                .ok_or_else(|| {
                    node.pos
                        .error("syntax error: unexpected (, expecting a metrics query")
                })?;
            Ok(MetricsExpr::Query(Box::new(metrics_query(&items, k)?)))
        }
        NodeKind::Metrics(m) => Err(node.pos.error(format!(
            "syntax error: unexpected {}, arithmetic takes metrics queries in parentheses",
            m.function
        ))),
        _ => Err(unexpected(node)),
    }
}

/// Numbers and `+ - * /` on them (no durations).
fn constant(node: &Node) -> Result<MetricsExpr> {
    let node = strip_parens(node, |_| true);
    match &node.kind {
        NodeKind::Number(Static::Duration(_)) => Err(node
            .pos
            .error("syntax error: unexpected DURATION, metrics arithmetic takes numbers")),
        NodeKind::Number(s) => Ok(MetricsExpr::Number(s.clone())),
        NodeKind::Binary(op, op_pos, a, b) => {
            let Some(op) = math_op(*op) else {
                return Err(unexpected_op(*op, *op_pos));
            };
            let lhs = constant(a)?;
            let rhs = constant(b)?;
            Ok(MetricsExpr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            })
        }
        _ => Err(unexpected(node)),
    }
}

/// A metrics filter's threshold: a constant, or one duration.
fn filter_value(node: &Node) -> Result<MetricsExpr> {
    match &node.kind {
        NodeKind::Number(s @ Static::Duration(_)) => Ok(MetricsExpr::Number(s.clone())),
        _ => constant(node),
    }
}
