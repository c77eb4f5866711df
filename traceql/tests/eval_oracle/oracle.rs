//! The brute-force oracle: what a generated query means over a generated trace, computed
//! from the generated data alone (storage positions as the evaluator reports them).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::{GenTrace, Parent, PATTERNS};
use traceql::ast::{
    AggregateOp, BinaryOp, CmpOp, Expr, Field, FieldExpr, Intrinsic, Query, ScalarExpr, Scope,
    SpansetExpr, SpansetOp, Stage, Static, UnaryOp,
};
use traceql::eval::Value;

/// The spans of the one spanset `e` returns for `t`, or `None` when it returns none.
pub(super) fn query(t: &GenTrace, e: &Expr) -> Option<BTreeSet<usize>> {
    let Query::Spans(p) = &e.query else {
        panic!("not a search")
    };
    let mut set = None;
    for (i, stage) in p.stages.iter().enumerate() {
        set = match stage {
            Stage::Spanset(e) if i == 0 => spanset(t, e),
            Stage::ScalarFilter(f) => {
                let set = set?;
                let (ScalarExpr::Aggregate(a), ScalarExpr::Static(Static::Int(n))) =
                    (&f.lhs, &f.rhs)
                else {
                    panic!("not generated")
                };
                assert_eq!(a.op, AggregateOp::Count);
                let c = set.len() as i64;
                let keep = match f.op {
                    CmpOp::Eq => c == *n,
                    CmpOp::Neq => c != *n,
                    CmpOp::Lt => c < *n,
                    CmpOp::Lte => c <= *n,
                    CmpOp::Gt => c > *n,
                    CmpOp::Gte => c >= *n,
                };
                keep.then_some(set)
            }
            _ => panic!("not generated"),
        };
    }
    set
}

/// The generation index of the span at storage position `p`.
fn gen(t: &GenTrace, p: usize) -> usize {
    t.order[p]
}

fn spanset(t: &GenTrace, e: &SpansetExpr) -> Option<BTreeSet<usize>> {
    let set: BTreeSet<usize> = match e {
        SpansetExpr::Filter(f) => (0..t.order.len())
            .filter(|&p| truth(t, gen(t, p), f))
            .collect(),
        SpansetExpr::Op { op, lhs, rhs } => {
            let l = spanset(t, lhs).unwrap_or_default();
            let r = spanset(t, rhs).unwrap_or_default();
            operate(t, *op, &l, &r)
        }
        SpansetExpr::Pipeline(_) => panic!("not generated"),
    };
    (!set.is_empty()).then_some(set)
}

fn operate(
    t: &GenTrace,
    op: SpansetOp,
    l: &BTreeSet<usize>,
    r: &BTreeSet<usize>,
) -> BTreeSet<usize> {
    use SpansetOp::*;
    let union = || l.union(r).copied().collect();
    match op {
        And if !l.is_empty() && !r.is_empty() => union(),
        And => BTreeSet::new(),
        Union => union(),
        _ => {
            // Does the right span `b` stand in the operator's relation to the left span `a`?
            let rel = |b: usize, a: usize| {
                let (a, b) = (gen(t, a), gen(t, b));
                match op {
                    Child | NotChild | UnionChild => child(t, b, a),
                    Parent | NotParent | UnionParent => child(t, a, b),
                    Descendant | NotDescendant | UnionDescendant => descendant(t, b, a),
                    Ancestor | NotAncestor | UnionAncestor => descendant(t, a, b),
                    _ => sibling(t, a, b),
                }
            };
            let related = |b: usize| l.iter().any(|&a| rel(b, a));
            match op {
                Child | Parent | Descendant | Ancestor | Sibling => {
                    r.iter().copied().filter(|&b| related(b)).collect()
                }
                NotChild | NotParent | NotDescendant | NotAncestor | NotSibling => {
                    r.iter().copied().filter(|&b| !related(b)).collect()
                }
                _ => {
                    let mut out = BTreeSet::new();
                    for &a in l {
                        for &b in r {
                            if rel(b, a) {
                                out.insert(a);
                                out.insert(b);
                            }
                        }
                    }
                    out
                }
            }
        }
    }
}

/// Whether a root reaches span `g` through parent links.
fn reached(t: &GenTrace, g: usize) -> bool {
    match t.spans[g].parent {
        Parent::Root => true,
        Parent::Dangling => false,
        Parent::Of(p) => reached(t, p),
    }
}

fn child(t: &GenTrace, c: usize, p: usize) -> bool {
    reached(t, c) && t.spans[c].parent == Parent::Of(p)
}

fn descendant(t: &GenTrace, d: usize, a: usize) -> bool {
    let mut at = d;
    while let Parent::Of(p) = t.spans[at].parent {
        if p == a {
            return reached(t, d);
        }
        at = p;
    }
    false
}

/// Two different reached spans with one parent; all roots count as siblings (they share
/// Tempo's parent number -1).
fn sibling(t: &GenTrace, a: usize, b: usize) -> bool {
    a != b && reached(t, a) && reached(t, b) && t.spans[a].parent == t.spans[b].parent
}

fn truth(t: &GenTrace, g: usize, e: &FieldExpr) -> bool {
    match e {
        FieldExpr::Static(Static::Bool(b)) => *b,
        FieldExpr::Unary {
            op: UnaryOp::Not,
            expr,
        } => !truth(t, g, expr),
        FieldExpr::Binary { op, lhs, rhs } => match (op, &**lhs, &**rhs) {
            (BinaryOp::And, l, r) => truth(t, g, l) && truth(t, g, r),
            (BinaryOp::Or, l, r) => truth(t, g, l) || truth(t, g, r),
            (op, FieldExpr::Field(f), FieldExpr::Static(v)) => compare(*op, value(t, g, f), v),
            _ => panic!("not generated: {e}"),
        },
        _ => panic!("not generated: {e}"),
    }
}

fn value(t: &GenTrace, g: usize, f: &Field) -> Option<Value> {
    let s = &t.spans[g];
    let find = |attrs: &[(String, Value)], k: &str| {
        attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    match f {
        Field::Attribute(a) => match a.scope {
            Scope::Span => find(&s.span_attrs, &a.name),
            Scope::Resource => find(&s.resource_attrs, &a.name),
            _ => find(&s.span_attrs, &a.name).or_else(|| find(&s.resource_attrs, &a.name)),
        },
        Field::Intrinsic(Intrinsic::Name) => Some(Value::String(s.name.to_string())),
        Field::Intrinsic(Intrinsic::Status) => Some(Value::Status(s.status)),
        Field::Intrinsic(Intrinsic::Kind) => Some(Value::Kind(s.kind)),
        Field::Intrinsic(Intrinsic::Duration) => Some(Value::Duration(s.duration)),
        Field::Intrinsic(Intrinsic::ChildCount) => Some(Value::Int(
            t.spans.iter().filter(|c| c.parent == Parent::Of(g)).count() as i64,
        )),
        Field::Intrinsic(Intrinsic::TraceRootSpan) => {
            // The first root in storage order (the first span generated is always a root).
            let root = (0..t.order.len())
                .map(|p| gen(t, p))
                .find(|&g| t.spans[g].parent == Parent::Root)
                .unwrap_or(0);
            Some(Value::String(t.spans[root].name.to_string()))
        }
        _ => panic!("not generated: {f}"),
    }
}

/// Tempo's comparison of a span's value (if it has one) with a constant.
fn compare(op: BinaryOp, lhs: Option<Value>, rhs: &Static) -> bool {
    use BinaryOp::*;
    if *rhs == Static::Nil {
        return match op {
            Eq => lhs.is_none(),
            Neq => lhs.is_some(),
            _ => panic!("not generated"),
        };
    }
    let Some(lhs) = lhs else { return false };
    let order = |o: Option<Ordering>| match (op, o) {
        (_, None) => false,
        (Eq, Some(o)) => o.is_eq(),
        (Neq, Some(o)) => o.is_ne(),
        (Lt, Some(o)) => o.is_lt(),
        (Lte, Some(o)) => o.is_le(),
        (Gt, Some(o)) => o.is_gt(),
        (Gte, Some(o)) => o.is_ge(),
        _ => false,
    };
    let number = |v: &Value| match v {
        Value::Int(n) | Value::Duration(n) => Some(*n as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    };
    match (&lhs, rhs) {
        (Value::String(s), Static::Str(p)) if matches!(op, Re | NotRe) => {
            let matcher = PATTERNS.iter().find(|(q, _)| q == p).unwrap().1;
            matcher(s) == (op == Re)
        }
        (_, Static::Str(_)) if matches!(op, Re | NotRe) => false,
        (Value::String(s), Static::Str(r)) => order(Some(s.as_bytes().cmp(r.as_bytes()))),
        (Value::Bool(a), Static::Bool(b)) => order(Some(a.cmp(b))),
        (Value::Status(a), Static::Status(b)) => order(Some(if a == b {
            Ordering::Equal
        } else {
            Ordering::Less
        })),
        (Value::Kind(a), Static::Kind(b)) => order(Some(if a == b {
            Ordering::Equal
        } else {
            Ordering::Less
        })),
        (Value::Int(a) | Value::Duration(a), Static::Int(b) | Static::Duration(b)) => {
            order(Some(a.cmp(b)))
        }
        (l, r) => {
            let r = match r {
                Static::Int(n) | Static::Duration(n) => Some(*n as f64),
                Static::Float(x) => Some(*x),
                _ => None,
            };
            match (number(l), r) {
                (Some(a), Some(b)) => order(a.partial_cmp(&b)),
                _ => false,
            }
        }
    }
}
