//! Aggregate filters (`count() > 2`, `avg(duration) < 1s`) and `by(…)`, as Tempo's
//! `ScalarFilter`, `Aggregate` and `GroupOperation` evaluate them.

use std::collections::HashMap;

use super::field::{Ctx, Program};
use super::model::Value;
use super::runner::{Runner, Set};
use super::value::{binary, operable, GroupKey, Val};
use crate::ast::{Aggregate, AggregateOp, ArithOp, BinaryOp, CmpOp, ScalarExpr, Static};

/// `aggregate op value`, compiled.
#[derive(Debug)]
pub(crate) struct ScalarPlan {
    /// The aggregate as written (`avg(duration)`), the name of the value it attaches.
    name: String,
    op: AggregateOp,
    expr: Option<Program>,
    cmp: BinaryOp,
    /// The constant compared with.
    value: Value,
}

impl ScalarPlan {
    pub(crate) fn new(a: &Aggregate, op: CmpOp, value: Val<'_>) -> ScalarPlan {
        ScalarPlan {
            name: a.to_string(),
            op: a.op,
            expr: a.expr.as_ref().map(Program::compile),
            cmp: match op {
                CmpOp::Eq => BinaryOp::Eq,
                CmpOp::Neq => BinaryOp::Neq,
                CmpOp::Lt => BinaryOp::Lt,
                CmpOp::Lte => BinaryOp::Lte,
                CmpOp::Gt => BinaryOp::Gt,
                CmpOp::Gte => BinaryOp::Gte,
            },
            value: value.to_value(),
        }
    }
}

/// The constant right side of a scalar filter, folded as Tempo's parser folds it (an
/// aggregate, which validation refuses there, is `nil`).
pub(crate) fn fold(e: &ScalarExpr) -> Val<'static> {
    match e {
        ScalarExpr::Static(s) => match s {
            Static::Nil => Val::Nil,
            Static::Bool(b) => Val::Bool(*b),
            Static::Int(n) => Val::Int(*n),
            Static::Float(x) => Val::Float(*x),
            Static::Str(s) => Val::Str(s.clone().into()),
            Static::Duration(d) => Val::Duration(*d),
            Static::Status(s) => Val::Status(*s),
            Static::Kind(k) => Val::Kind(*k),
        },
        ScalarExpr::Binary { op, lhs, rhs } => {
            let op = match op {
                ArithOp::Add => BinaryOp::Add,
                ArithOp::Sub => BinaryOp::Sub,
                ArithOp::Mul => BinaryOp::Mul,
                ArithOp::Div => BinaryOp::Div,
                ArithOp::Mod => BinaryOp::Mod,
                ArithOp::Pow => BinaryOp::Pow,
            };
            binary(op, fold(lhs), fold(rhs), None)
        }
        ScalarExpr::Aggregate(_) => Val::Nil,
    }
}

impl<'a> Runner<'a> {
    /// Keeps the spansets whose aggregate compares true, each with the aggregate attached
    /// (Tempo attaches it to every spanset before filtering; the dropped ones are gone).
    pub(crate) fn scalar_filter(&mut self, f: &'a ScalarPlan, sets: Vec<Set>) -> Vec<Set> {
        let value = Val::from_value(&f.value);
        let mut out = Vec::with_capacity(sets.len());
        for mut set in sets {
            let Some(agg) = self.aggregate(f.op, f.expr.as_ref(), &set.spans) else {
                continue;
            };
            if compare(f.cmp, &agg, &value) {
                set.attrs.push((f.name.clone(), agg.to_value()));
                out.push(set);
            }
        }
        out
    }

    /// `by(expr)`: each spanset split by the expression's value, groups in the order their
    /// first span comes (Tempo's come in map order), each with the value attached.
    pub(crate) fn group_by(&mut self, name: &str, expr: &'a Program, sets: Vec<Set>) -> Vec<Set> {
        let mut out = Vec::with_capacity(sets.len());
        for set in sets {
            let mut groups: Vec<(Value, Vec<usize>)> = Vec::new();
            let mut index: HashMap<GroupKey, usize> = HashMap::new();
            for &i in &set.spans {
                let v = expr.run(&Ctx::first(self.trace, self.tree, i), &mut self.stack);
                let g = *index.entry(v.group_key()).or_insert_with(|| {
                    groups.push((v.to_value(), Vec::new()));
                    groups.len() - 1
                });
                groups[g].1.push(i);
            }
            for (v, spans) in groups {
                let mut attrs = set.attrs.clone();
                attrs.push((name.to_string(), v));
                out.push(Set { spans, attrs });
            }
        }
        out
    }

    /// Tempo's `Aggregate.evaluate` for one spanset: `None` when no span has a value.
    /// `sum` and `avg` add values of the first value's type only (Tempo's `sumInto`) and
    /// `avg` divides by the count of all values; an average of integers is a float, of
    /// durations a duration.
    fn aggregate(
        &mut self,
        op: AggregateOp,
        expr: Option<&'a Program>,
        spans: &[usize],
    ) -> Option<Val<'a>> {
        let Some(expr) = expr.filter(|_| op != AggregateOp::Count) else {
            return Some(Val::Int(spans.len() as i64));
        };
        let mut acc: Option<Val<'a>> = None;
        let mut count = 0i64;
        for &i in spans {
            let v = expr.run(&Ctx::first(self.trace, self.tree, i), &mut self.stack);
            if v == Val::Nil {
                continue;
            }
            count += 1;
            acc = Some(match acc {
                None => v,
                Some(a) => match op {
                    AggregateOp::Max if v.compare(&a).is_gt() => v,
                    AggregateOp::Min if v.compare(&a).is_lt() => v,
                    AggregateOp::Sum | AggregateOp::Avg => sum_into(a, &v),
                    _ => a,
                },
            });
        }
        let acc = acc?;
        Some(match (op, acc) {
            (AggregateOp::Avg, Val::Int(n)) => Val::Float(n as f64 / count as f64),
            (AggregateOp::Avg, Val::Duration(d)) => Val::Duration(d / count),
            (AggregateOp::Avg, Val::Float(x)) => Val::Float(x / count as f64),
            (_, acc) => acc,
        })
    }
}

/// Tempo's `sumInto`: adds `v` when it has the type of `acc`.
fn sum_into<'a>(acc: Val<'a>, v: &Val<'_>) -> Val<'a> {
    match (acc, v) {
        (Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_add(*b)),
        (Val::Duration(a), Val::Duration(b)) => Val::Duration(a.wrapping_add(*b)),
        (Val::Float(a), Val::Float(b)) => Val::Float(a + b),
        (acc, _) => acc,
    }
}

/// Tempo's `binOp` of a scalar filter, an aggregate against a constant: orderings compare
/// as floats (so never strings), `=` and `!=` as in field expressions.
fn compare(op: BinaryOp, agg: &Val<'_>, value: &Val<'_>) -> bool {
    if !operable(op, agg.ty(), value.ty()) {
        return false;
    }
    let (a, b) = (agg.float(), value.float());
    match op {
        BinaryOp::Eq => agg.equals(value),
        BinaryOp::Neq => !agg.equals(value) && *agg != Val::Nil && *value != Val::Nil,
        BinaryOp::Gt => a > b,
        BinaryOp::Gte => a >= b,
        BinaryOp::Lt => a < b,
        BinaryOp::Lte => a <= b,
        _ => false,
    }
}
