//! Arithmetic on metrics queries and numbers (`({a} | rate()) / ({} | rate()) * 100`), as
//! Tempo's `mathExpression`, `MetricsScalarOp` and `applyBinaryOp` compute it
//! (`pkg/traceql/ast_metrics_math.go`, `SPECS.md` of the same package).
//!
//! - Number-only subtrees are folded first, integers staying integers (`3 / 2` is 1).
//! - A series and a number: every value with the number; labels stay as they are.
//! - Two sets of series: `__name__` is set aside and the rest of the labels match series
//!   one to one; a side holding a series without labels matches every series of the other
//!   (`rate()` without `by()` against `rate() by (x)`); a series without a match is
//!   dropped. Labels are the union (the left side's first), exemplars both sides' unless
//!   one side was matched to all, and when both sides had a `__name__` the result is named
//!   `(lhs op rhs)`.
//! - Values: NaN stays NaN, division by zero is NaN.

use std::collections::HashMap;

use super::types::{labels_key, LabelsKey, SeriesBuf, NAME_LABEL};
use crate::ast::{ArithOp, MetricsExpr, Static};
use crate::error::{Error, Result};
use crate::eval::Value;

/// An arithmetic tree over the queries of a metrics expression.
#[derive(Debug)]
pub(crate) enum Node {
    /// The result of the query with this index.
    Query(usize),
    Number(f64),
    Binary {
        op: ArithOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
}

/// What a node evaluates to.
#[derive(Debug)]
pub(crate) enum Operand {
    Series(Vec<SeriesBuf>),
    Number(f64),
}

/// A constant number: integers and floats, `+ - * /` on them; `None` when `e` holds a
/// query. Duration thresholds are the caller's.
pub(crate) fn fold(e: &MetricsExpr) -> Result<Option<Static>> {
    match e {
        MetricsExpr::Query(_) => Ok(None),
        MetricsExpr::Number(s) => Ok(Some(s.clone())),
        MetricsExpr::Binary { op, lhs, rhs } => {
            let (Some(l), Some(r)) = (fold(lhs)?, fold(rhs)?) else {
                return Ok(None);
            };
            Ok(Some(match (l, r) {
                (Static::Int(a), Static::Int(b)) => Static::Int(int_op(*op, a, b)?),
                (a, b) => Static::Float(arith(*op, number(&a), number(&b))),
            }))
        }
    }
}

/// The number a folded constant stands for (durations in seconds).
pub(crate) fn number(s: &Static) -> f64 {
    match s {
        Static::Int(n) => *n as f64,
        Static::Float(x) => *x,
        Static::Duration(d) => *d as f64 / 1e9,
        _ => f64::NAN,
    }
}

fn int_op(op: ArithOp, a: i64, b: i64) -> Result<i64> {
    let v = match op {
        ArithOp::Add => a.checked_add(b),
        ArithOp::Sub => a.checked_sub(b),
        ArithOp::Mul => a.checked_mul(b),
        ArithOp::Div => a.checked_div(b),
        ArithOp::Mod => a.checked_rem(b),
        ArithOp::Pow => u32::try_from(b).ok().and_then(|e| a.checked_pow(e)),
    };
    v.ok_or_else(|| Error::Eval(format!("cannot compute {a} {op} {b} in integers")))
}

/// `l op r` on values (Tempo's `applyArithmeticOp`).
fn arith(op: ArithOp, l: f64, r: f64) -> f64 {
    match op {
        ArithOp::Add => l + r,
        ArithOp::Sub => l - r,
        ArithOp::Mul => l * r,
        ArithOp::Div if r == 0.0 => f64::NAN,
        ArithOp::Div => l / r,
        ArithOp::Mod | ArithOp::Pow => f64::NAN,
    }
}

/// Evaluates `node`, taking each query's series out of `results`. Recursive, one frame per
/// level of a tree whose depth the parser bounds.
pub(crate) fn eval(node: &Node, results: &mut [Vec<SeriesBuf>]) -> Operand {
    match node {
        Node::Query(i) => {
            Operand::Series(results.get_mut(*i).map(std::mem::take).unwrap_or_default())
        }
        Node::Number(x) => Operand::Number(*x),
        Node::Binary { op, lhs, rhs } => {
            let l = eval(lhs, results);
            let r = eval(rhs, results);
            match (l, r) {
                (Operand::Number(a), Operand::Number(b)) => Operand::Number(arith(*op, a, b)),
                (Operand::Series(mut s), Operand::Number(b)) => {
                    for series in &mut s {
                        for v in &mut series.values {
                            *v = arith(*op, *v, b);
                        }
                    }
                    Operand::Series(s)
                }
                (Operand::Number(a), Operand::Series(mut s)) => {
                    for series in &mut s {
                        for v in &mut series.values {
                            *v = arith(*op, a, *v);
                        }
                    }
                    Operand::Series(s)
                }
                (Operand::Series(l), Operand::Series(r)) => Operand::Series(join(*op, l, r)),
            }
        }
    }
}

/// The `__name__` of a set of series, and the series without it.
fn unname(set: Vec<SeriesBuf>) -> (Option<String>, Vec<SeriesBuf>) {
    let mut name = None;
    let set = set
        .into_iter()
        .map(|mut s| {
            s.labels.retain(|(k, v)| {
                if k != NAME_LABEL {
                    return true;
                }
                if let (None, Value::String(n)) = (&name, v) {
                    name = Some(n.clone());
                }
                false
            });
            s
        })
        .collect();
    (name, set)
}

fn join(op: ArithOp, lhs: Vec<SeriesBuf>, rhs: Vec<SeriesBuf>) -> Vec<SeriesBuf> {
    let (lname, lhs) = unname(lhs);
    let (rname, rhs) = unname(rhs);
    let index = |set: &[SeriesBuf]| -> HashMap<LabelsKey, usize> {
        set.iter()
            .enumerate()
            .map(|(i, s)| (labels_key(&s.labels), i))
            .collect()
    };
    let (li, ri) = (index(&lhs), index(&rhs));
    let empty: LabelsKey = Vec::new();
    let target = if ri.contains_key(&empty) { &lhs } else { &rhs };
    let find = |idx: &HashMap<LabelsKey, usize>, key: &LabelsKey| match idx.get(key) {
        Some(&i) => Some((i, false)),
        None => idx.get(&empty).map(|&i| (i, true)),
    };
    let name = match (lname, rname) {
        (Some(l), Some(r)) => Some(format!("({l} {op} {r})")),
        _ => None,
    };
    let mut out = Vec::new();
    for t in target {
        let key = labels_key(&t.labels);
        let (Some((l, lfan)), Some((r, rfan))) = (find(&li, &key), find(&ri, &key)) else {
            continue;
        };
        let (l, r) = (&lhs[l], &rhs[r]);
        let values = l
            .values
            .iter()
            .zip(&r.values)
            .map(|(&a, &b)| arith(op, a, b))
            .collect();
        let mut labels = Vec::with_capacity(l.labels.len() + r.labels.len() + 1);
        if let Some(n) = &name {
            labels.push((NAME_LABEL.to_string(), Value::String(n.clone())));
        }
        labels.extend(l.labels.iter().cloned());
        for (k, v) in &r.labels {
            if !l.labels.iter().any(|(lk, _)| lk == k) {
                labels.push((k.clone(), v.clone()));
            }
        }
        let exemplars = match (lfan, rfan) {
            (true, false) => r.exemplars.clone(),
            (false, true) => l.exemplars.clone(),
            _ => l.exemplars.iter().chain(&r.exemplars).cloned().collect(),
        };
        out.push(SeriesBuf {
            labels,
            values,
            exemplars,
        });
    }
    out
}
