//! Binary operators: arithmetic and comparisons between scalars and vectors, and vector
//! matching (`on`, `ignoring`, `group_left`, `group_right`, set operators) with Prometheus's
//! rules and Loki's error texts.

use std::collections::BTreeMap;

use super::error::EvalError;
use super::model::{Labels, Sample, Steps};
use crate::ast::BinModifier;

/// A side of a binary operation, step by step: a scalar stays a scalar at every step.
pub(super) fn to_vectors(s: Steps, n: usize) -> Vec<Operand> {
    match s {
        Steps::Scalar(v) => (0..n).map(|_| Operand::Scalar(v)).collect(),
        Steps::Vectors(v) => v.into_iter().map(Operand::Vector).collect(),
    }
}

pub(super) enum Operand {
    Scalar(f64),
    Vector(Vec<Sample>),
}

pub(super) fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | ">=" | "<" | "<=")
}

pub(super) fn arith(op: &str, a: f64, b: f64) -> Option<f64> {
    let bool_of = |x: bool| if x { 1.0 } else { 0.0 };
    Some(match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        // Loki divides by zero to NaN, not to an infinity.
        "/" => {
            if b == 0.0 {
                f64::NAN
            } else {
                a / b
            }
        }
        "%" => {
            if b == 0.0 {
                f64::NAN
            } else {
                a % b
            }
        }
        "^" => a.powf(b),
        "==" => bool_of(a == b),
        "!=" => bool_of(a != b),
        ">" => bool_of(a > b),
        ">=" => bool_of(a >= b),
        "<" => bool_of(a < b),
        "<=" => bool_of(a <= b),
        _ => return None,
    })
}

/// The labels a vector match compares.
fn match_key(labels: &Labels, m: &BinModifier) -> Labels {
    match &m.matching {
        Some((false, on)) => labels
            .iter()
            .filter(|(k, _)| on.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some((true, ignoring)) => labels
            .iter()
            .filter(|(k, _)| !ignoring.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => labels.clone(),
    }
}

pub(super) fn binary(
    op: &str,
    m: &BinModifier,
    a: Operand,
    b: Operand,
) -> Result<Vec<Sample>, EvalError> {
    let comparison = is_comparison(op);
    match (a, b) {
        // The parser refuses a literal beside a set operator; `vector(…)` is a vector.
        (Operand::Vector(v), Operand::Scalar(_)) | (Operand::Scalar(_), Operand::Vector(v))
            if matches!(op, "and" | "or" | "unless") =>
        {
            Ok(v)
        }
        (Operand::Vector(v), Operand::Scalar(x)) => Ok(v
            .into_iter()
            .filter_map(|s| {
                let r = arith(op, s.value, x)?;
                scalar_result(comparison, m.return_bool, s, r)
            })
            .collect()),
        (Operand::Scalar(x), Operand::Vector(v)) => Ok(v
            .into_iter()
            .filter_map(|s| {
                let r = arith(op, x, s.value)?;
                scalar_result(comparison, m.return_bool, s, r)
            })
            .collect()),
        (Operand::Scalar(x), Operand::Scalar(y)) => Ok(vec![Sample {
            labels: Labels::new(),
            value: arith(op, x, y).unwrap_or(f64::NAN),
        }]),
        (Operand::Vector(l), Operand::Vector(r)) => vector_binary(op, m, l, r),
    }
}

/// A vector-scalar result: comparisons without `bool` filter (keeping the vector's value).
fn scalar_result(comparison: bool, return_bool: bool, mut s: Sample, r: f64) -> Option<Sample> {
    if comparison && !return_bool {
        return (r != 0.0).then_some(s);
    }
    s.value = r;
    Some(s)
}

fn vector_binary(
    op: &str,
    m: &BinModifier,
    l: Vec<Sample>,
    r: Vec<Sample>,
) -> Result<Vec<Sample>, EvalError> {
    match op {
        "and" => {
            let keys: std::collections::BTreeSet<Labels> =
                r.iter().map(|s| match_key(&s.labels, m)).collect();
            return Ok(l
                .into_iter()
                .filter(|s| keys.contains(&match_key(&s.labels, m)))
                .collect());
        }
        "unless" => {
            let keys: std::collections::BTreeSet<Labels> =
                r.iter().map(|s| match_key(&s.labels, m)).collect();
            return Ok(l
                .into_iter()
                .filter(|s| !keys.contains(&match_key(&s.labels, m)))
                .collect());
        }
        "or" => {
            let keys: std::collections::BTreeSet<Labels> =
                l.iter().map(|s| match_key(&s.labels, m)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !keys.contains(&match_key(&s.labels, m))),
            );
            return Ok(out);
        }
        _ => {}
    }
    let comparison = is_comparison(op);
    // group_right: the right side is the "many" side; swap and swap back.
    let (many, one, swapped) = match &m.group {
        Some((true, _)) => (r, l, true),
        _ => (l, r, false),
    };
    let mut one_by_key: BTreeMap<Labels, Sample> = BTreeMap::new();
    for s in one {
        let k = match_key(&s.labels, m);
        if one_by_key.insert(k, s).is_some() {
            let side = if swapped { "left" } else { "right" };
            return Err(EvalError::Matching(format!(
                "found duplicate series on the {side} hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    let mut out = Vec::new();
    let mut seen: BTreeMap<Labels, ()> = BTreeMap::new();
    for s in many {
        let k = match_key(&s.labels, m);
        let Some(o) = one_by_key.get(&k) else {
            continue;
        };
        let (a, b) = if swapped {
            (o.value, s.value)
        } else {
            (s.value, o.value)
        };
        let Some(v) = arith(op, a, b) else { continue };
        if comparison && !m.return_bool && v == 0.0 {
            continue;
        }
        let value = if comparison && !m.return_bool { a } else { v };
        let mut labels = s.labels.clone();
        match &m.group {
            None => {
                // One-to-one: `on` keeps its labels only, `ignoring` drops its labels.
                labels = match &m.matching {
                    Some((false, on)) => {
                        labels.into_iter().filter(|(k, _)| on.contains(k)).collect()
                    }
                    Some((true, ign)) => labels
                        .into_iter()
                        .filter(|(k, _)| !ign.contains(k))
                        .collect(),
                    None => labels,
                };
                if !swapped && seen.insert(k.clone(), ()).is_some() {
                    return Err(EvalError::Matching(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
            }
            Some((_, include)) => {
                for name in include {
                    match o.labels.get(name) {
                        Some(v) => {
                            labels.insert(name.clone(), v.clone());
                        }
                        None => {
                            labels.remove(name);
                        }
                    }
                }
                if seen.insert(labels.clone(), ()).is_some() {
                    return Err(EvalError::Matching(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
            }
        }
        out.push(Sample { labels, value });
    }
    Ok(out)
}
