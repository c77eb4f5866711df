//! The evaluator against a brute-force oracle. Random traces (trees of 1–12 spans stored in
//! random order, with extra roots and spans whose parent never arrived; names, statuses,
//! kinds, durations; int, float, string and bool attributes on the span, the resource,
//! both or neither) and random queries from a small grammar (spanset filters of
//! comparisons, `&&`, `||` and `!`; every spanset operator; an optional `count()` filter)
//! are built as syntax trees, printed, parsed back with `parse_and_validate` and evaluated
//! with `traceql::eval::search`. The oracle reads the generated data directly: it knows the
//! tree by generation index, relates spans by walking parent links pair by pair, and
//! implements Tempo's comparison rules on its own; it calls nothing of the evaluator.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::select;
use traceql::ast::{
    Aggregate, AggregateOp, Attribute, BinaryOp, CmpOp, Expr, Field, FieldExpr, Intrinsic, Kind,
    Pipeline, Query, ScalarExpr, ScalarFilter, Scope, SpansetExpr, SpansetOp, Stage, Static,
    Status, UnaryOp,
};
use traceql::eval::{search, Attr, SpanData, TraceData, Value};
use traceql::parse_and_validate;

const KEYS: [&str; 5] = ["a", "b", "c", "d", "zz"];
const STRINGS: [&str; 4] = ["x", "y", "z", "xz"];
/// A regular expression and what it means when anchored, so the oracle needs no regex
/// engine.
type Pattern = (&'static str, fn(&str) -> bool);
const PATTERNS: [Pattern; 4] = [
    ("x", |s| s == "x"),
    ("x.*", |s| s.starts_with('x')),
    ("[xy]", |s| s == "x" || s == "y"),
    (".*z", |s| s.ends_with('z')),
];
const MS: i64 = 1_000_000;

// ---------- generated traces ----------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Parent {
    Root,
    Of(usize),
    Dangling,
}

#[derive(Debug, Clone)]
struct GenSpan {
    parent: Parent,
    name: &'static str,
    status: Status,
    kind: Kind,
    duration: i64,
    span_attrs: Vec<Attr>,
    resource_attrs: Vec<Attr>,
}

/// A trace by generation index (parents come first) and the order it is stored in.
#[derive(Debug, Clone)]
struct GenTrace {
    spans: Vec<GenSpan>,
    /// `order[p]` is the generation index of the span stored at position `p`.
    order: Vec<usize>,
}

fn value_for(key: usize) -> BoxedStrategy<Value> {
    let float = select(vec![0.5, 1.0, 2.5]).prop_map(Value::Float);
    match key {
        0 => prop_oneof![4 => (0i64..4).prop_map(Value::Int), 1 => float].boxed(),
        1 => select(STRINGS.to_vec())
            .prop_map(|s| Value::String(s.to_string()))
            .boxed(),
        2 => prop_oneof![3 => float, 1 => (0i64..3).prop_map(Value::Int)].boxed(),
        _ => any::<bool>().prop_map(Value::Bool).boxed(),
    }
}

/// Per key: absent, on the span, on the resource, or on both with two values.
fn attrs() -> impl Strategy<Value = (Vec<Attr>, Vec<Attr>)> {
    let per_key: Vec<_> = (0..4)
        .map(|k| proptest::option::weighted(0.7, (0u8..4, value_for(k), value_for(k))))
        .collect();
    per_key.prop_map(|keys| {
        let (mut span, mut resource) = (Vec::new(), Vec::new());
        for (k, entry) in keys.into_iter().enumerate() {
            let Some((place, v1, v2)) = entry else {
                continue;
            };
            let key = KEYS[k].to_string();
            if place != 1 {
                span.push((key.clone(), v1));
            }
            if place != 0 {
                resource.push((key, v2));
            }
        }
        (span, resource)
    })
}

fn gen_span() -> impl Strategy<Value = (u8, usize, GenSpan)> {
    (
        0u8..100,
        any::<usize>(),
        select(STRINGS.to_vec()),
        select(vec![Status::Ok, Status::Error, Status::Unset]),
        select(vec![Kind::Server, Kind::Client, Kind::Internal]),
        select(vec![1, 5, 10, 50]),
        attrs(),
    )
        .prop_map(
            |(p, pick, name, status, kind, ms, (span_attrs, resource_attrs))| {
                let span = GenSpan {
                    parent: Parent::Root,
                    name,
                    status,
                    kind,
                    duration: ms * MS,
                    span_attrs,
                    resource_attrs,
                };
                (p, pick, span)
            },
        )
}

fn gen_trace() -> impl Strategy<Value = GenTrace> {
    prop::collection::vec(gen_span(), 1..=12).prop_flat_map(|raw| {
        let spans: Vec<GenSpan> = raw
            .into_iter()
            .enumerate()
            .map(|(i, (p, pick, mut s))| {
                s.parent = match p {
                    _ if i == 0 => Parent::Root,
                    0..=7 => Parent::Root,
                    8..=14 => Parent::Dangling,
                    _ => Parent::Of(pick % i),
                };
                s
            })
            .collect();
        let order: Vec<usize> = (0..spans.len()).collect();
        (Just(spans), Just(order).prop_shuffle())
            .prop_map(|(spans, order)| GenTrace { spans, order })
    })
}

fn span_id(g: usize) -> [u8; 8] {
    [0, 0, 0, 0, 0, 0, 1, g as u8]
}

fn to_trace(t: &GenTrace) -> TraceData {
    let spans = t
        .order
        .iter()
        .map(|&g| {
            let s = &t.spans[g];
            SpanData {
                trace_id: [7; 16],
                span_id: span_id(g),
                parent_span_id: match s.parent {
                    Parent::Root => None,
                    Parent::Of(p) => Some(span_id(p)),
                    Parent::Dangling => Some([0xff; 8]),
                },
                name: s.name.to_string(),
                kind: s.kind,
                status: s.status,
                start_unix_nano: 1_000 * g as i64,
                duration_nano: s.duration,
                service_name: "svc".to_string(),
                span_attrs: s.span_attrs.clone(),
                resource_attrs: s.resource_attrs.clone(),
                ..SpanData::default()
            }
        })
        .collect();
    TraceData { spans }
}

// ---------- generated queries ----------

fn bin(op: BinaryOp, lhs: FieldExpr, rhs: FieldExpr) -> FieldExpr {
    FieldExpr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    }
}

fn attr(scope: Scope, key: &str) -> FieldExpr {
    FieldExpr::Field(Field::Attribute(Attribute {
        scope,
        parent: false,
        name: key.to_string(),
    }))
}

fn intrinsic(i: Intrinsic) -> FieldExpr {
    FieldExpr::Field(Field::Intrinsic(i))
}

fn ordering() -> Vec<BinaryOp> {
    use BinaryOp::*;
    vec![Eq, Neq, Lt, Lte, Gt, Gte]
}

fn string() -> impl Strategy<Value = Static> {
    select(STRINGS.to_vec()).prop_map(|s| Static::Str(s.to_string()))
}

fn pattern() -> impl Strategy<Value = Static> {
    (0..PATTERNS.len()).prop_map(|i| Static::Str(PATTERNS[i].0.to_string()))
}

/// An operator and a constant it may take (as validation wants), to compare with an
/// attribute of any type.
fn attr_comparison() -> impl Strategy<Value = (BinaryOp, Static)> {
    use BinaryOp::*;
    let eq = || select(vec![Eq, Neq]);
    prop_oneof![
        3 => (select(ordering()), (0i64..4).prop_map(Static::Int)),
        2 => (select(ordering()), select(vec![0.5, 1.0, 2.5]).prop_map(Static::Float)),
        2 => (select(ordering()), string()),
        1 => (select(vec![Re, NotRe]), pattern()),
        1 => (eq(), any::<bool>().prop_map(Static::Bool)),
        2 => (eq(), Just(Static::Nil)),
        1 => (select(ordering()), select(vec![0, 1, 2]).prop_map(Static::Duration)),
    ]
}

fn comparison() -> impl Strategy<Value = FieldExpr> {
    use BinaryOp::*;
    let scope = select(vec![Scope::None, Scope::Span, Scope::Resource]);
    prop_oneof![
        8 => (scope, select(KEYS.to_vec()), attr_comparison())
            .prop_map(|(s, k, (op, v))| bin(op, attr(s, k), FieldExpr::Static(v))),
        1 => (select(ordering()), string())
            .prop_map(|(op, v)| bin(op, intrinsic(Intrinsic::Name), FieldExpr::Static(v))),
        1 => (select(vec![Re, NotRe]), pattern())
            .prop_map(|(op, v)| bin(op, intrinsic(Intrinsic::Name), FieldExpr::Static(v))),
        1 => (select(vec![Eq, Neq]), select(vec![Status::Ok, Status::Error, Status::Unset]))
            .prop_map(|(op, v)| bin(op, intrinsic(Intrinsic::Status), FieldExpr::Static(Static::Status(v)))),
        1 => (select(vec![Eq, Neq]), select(vec![Kind::Server, Kind::Client, Kind::Consumer]))
            .prop_map(|(op, v)| bin(op, intrinsic(Intrinsic::Kind), FieldExpr::Static(Static::Kind(v)))),
        1 => (select(ordering()), select(vec![1, 5, 10, 50]))
            .prop_map(|(op, ms)| bin(op, intrinsic(Intrinsic::Duration), FieldExpr::Static(Static::Duration(ms * MS)))),
        1 => (select(ordering()), 0i64..3)
            .prop_map(|(op, n)| bin(op, intrinsic(Intrinsic::ChildCount), FieldExpr::Static(Static::Int(n)))),
        1 => string().prop_map(|v| bin(Eq, intrinsic(Intrinsic::TraceRootSpan), FieldExpr::Static(v))),
    ]
}

fn condition() -> impl Strategy<Value = FieldExpr> {
    comparison().prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| bin(BinaryOp::And, l, r)),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| bin(BinaryOp::Or, l, r)),
            inner.prop_map(|e| FieldExpr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(e)
            }),
        ]
    })
}

const SPANSET_OPS: [SpansetOp; 17] = {
    use SpansetOp::*;
    [
        And,
        Union,
        Child,
        Parent,
        Descendant,
        Ancestor,
        Sibling,
        NotChild,
        NotParent,
        NotDescendant,
        NotAncestor,
        NotSibling,
        UnionChild,
        UnionParent,
        UnionDescendant,
        UnionAncestor,
        UnionSibling,
    ]
};

fn spanset() -> impl Strategy<Value = SpansetExpr> {
    prop_oneof![1 => Just(FieldExpr::Static(Static::Bool(true))), 6 => condition()]
        .prop_map(SpansetExpr::Filter)
        .prop_recursive(3, 8, 2, |inner| {
            (inner.clone(), inner, select(SPANSET_OPS.to_vec())).prop_map(|(l, r, op)| {
                SpansetExpr::Op {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                }
            })
        })
}

fn query() -> impl Strategy<Value = Expr> {
    let count = proptest::option::weighted(
        0.25,
        (
            select(vec![
                CmpOp::Eq,
                CmpOp::Neq,
                CmpOp::Lt,
                CmpOp::Gt,
                CmpOp::Gte,
            ]),
            0i64..4,
        ),
    );
    (spanset(), count).prop_map(|(e, count)| {
        let mut stages = vec![Stage::Spanset(e)];
        if let Some((op, n)) = count {
            stages.push(Stage::ScalarFilter(ScalarFilter {
                op,
                lhs: ScalarExpr::Aggregate(Aggregate {
                    op: AggregateOp::Count,
                    expr: None,
                }),
                rhs: ScalarExpr::Static(Static::Int(n)),
            }));
        }
        Expr {
            query: Query::Spans(Pipeline { stages }),
            hints: Vec::new(),
        }
    })
}

// ---------- the property ----------

#[path = "eval_oracle/oracle.rs"]
mod oracle;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn search_matches_the_brute_force_oracle(
        traces in prop::collection::vec(gen_trace(), 1..=3),
        query in query(),
    ) {
        let text = query.to_string();
        let parsed = parse_and_validate(&text)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        // The evaluator gets the text's tree, the oracle the generated one: they must agree.
        prop_assert_eq!(&parsed, &query, "{}", text);
        let data: Vec<TraceData> = traces.iter().map(to_trace).collect();
        let got = search(&parsed, &data).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        for (i, t) in traces.iter().enumerate() {
            let got: Vec<BTreeSet<usize>> = got
                .iter()
                .filter(|r| r.trace == i)
                .map(|r| r.spanset.spans.iter().map(|m| m.index).collect())
                .collect();
            let want: Vec<BTreeSet<usize>> = oracle::query(t, &query).into_iter().collect();
            prop_assert_eq!(got, want, "query {} on trace {}: {:?}", text, i, t);
        }
    }
}
