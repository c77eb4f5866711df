//! Unit tests of the evaluator, through its public API: helpers to build traces and run
//! queries, pipeline stages here, values, fields and structure in the submodules.

mod stack;
mod structural;
mod values;

use super::{search, Attr, Search, SpanData, Spanset, TraceData, Value};
use crate::ast::{Field, Intrinsic, Kind, Status};
use crate::error::Error;
use crate::parse_and_validate;

/// A span of trace 1 with id `id`, child of `parent`, named `name`.
fn span(id: u8, parent: Option<u8>, name: &str) -> SpanData {
    SpanData {
        trace_id: [1; 16],
        span_id: [0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
        name: name.to_string(),
        start_unix_nano: 1_000 * i64::from(id),
        duration_nano: 100,
        service_name: "svc".to_string(),
        ..SpanData::default()
    }
}

fn with(mut s: SpanData, key: &str, v: Value) -> SpanData {
    s.span_attrs.push((key.to_string(), v));
    s
}

fn trace(spans: Vec<SpanData>) -> TraceData {
    TraceData { spans }
}

/// The spansets `q` returns for `t`.
fn sets(t: &TraceData, q: &str) -> Vec<Spanset> {
    let expr = parse_and_validate(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    Search::new(&expr)
        .and_then(|s| s.eval_trace(t))
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

/// The span indexes of each spanset `q` returns for `t`.
fn idx(t: &TraceData, q: &str) -> Vec<Vec<usize>> {
    sets(t, q)
        .iter()
        .map(|s| s.spans.iter().map(|m| m.index).collect())
        .collect()
}

/// The span indexes `q` returns for `t`, all spansets together.
fn all(t: &TraceData, q: &str) -> Vec<usize> {
    let mut v: Vec<usize> = idx(t, q).concat();
    v.sort_unstable();
    v
}

/// Spans 0..5 with `.a` = 1, 2, 2, missing, 3 and durations 100, 200, 300, 400, 500.
fn flat() -> TraceData {
    let mut spans = vec![
        with(span(1, None, "root"), "a", Value::Int(1)),
        with(span(2, Some(1), "x"), "a", Value::Int(2)),
        with(span(3, Some(1), "x"), "a", Value::Int(2)),
        span(4, Some(1), "y"),
        with(span(5, Some(1), "y"), "a", Value::Int(3)),
    ];
    for (i, s) in spans.iter_mut().enumerate() {
        s.duration_nano = 100 * (i as i64 + 1);
    }
    trace(spans)
}

#[test]
fn filters_in_sequence_narrow_the_spanset() {
    let t = flat();
    assert_eq!(idx(&t, "{ }"), vec![vec![0, 1, 2, 3, 4]]);
    assert_eq!(idx(&t, "{ .a >= 2 }"), vec![vec![1, 2, 4]]);
    assert_eq!(idx(&t, "{ .a >= 2 } | { name = \"y\" }"), vec![vec![4]]);
    assert!(idx(&t, "{ .a >= 2 } | { name = \"root\" }").is_empty());
    assert!(idx(&t, "{ false }").is_empty());
}

#[test]
fn logical_spanset_operators_need_one_or_both_sides() {
    let t = flat();
    assert_eq!(idx(&t, "{ .a = 1 } && { .a = 3 }"), vec![vec![0, 4]]);
    assert!(idx(&t, "{ .a = 1 } && { .a = 9 }").is_empty());
    assert_eq!(idx(&t, "{ .a = 1 } || { .a = 9 }"), vec![vec![0]]);
    assert!(idx(&t, "{ .a = 8 } || { .a = 9 }").is_empty());
}

#[test]
fn count_filter_keeps_spansets_and_attaches_the_count() {
    let t = flat();
    let s = sets(&t, "{ name = \"x\" } | count() > 1");
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].attributes,
        vec![("count()".to_string(), Value::Int(2))]
    );
    assert!(idx(&t, "{ name = \"x\" } | count() > 2").is_empty());
    assert_eq!(idx(&t, "{ } | count() = 5"), vec![vec![0, 1, 2, 3, 4]]);
    // Constants fold; the count is an integer compared with a float.
    assert_eq!(idx(&t, "{ } | count() > 2 * 2"), vec![vec![0, 1, 2, 3, 4]]);
    assert_eq!(idx(&t, "{ } | count() < 5.5"), vec![vec![0, 1, 2, 3, 4]]);
}

#[test]
fn avg_min_max_sum_skip_missing_values() {
    let t = flat();
    // .a: 1, 2, 2, 3 (one span lacks it): the average of integers is a float.
    let s = sets(&t, "{ } | avg(.a) = 2");
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].attributes,
        vec![("avg(.a)".to_string(), Value::Float(2.0))]
    );
    assert!(idx(&t, "{ } | avg(.a) > 2").is_empty());
    assert_eq!(idx(&t, "{ } | max(.a) = 3").len(), 1);
    assert_eq!(idx(&t, "{ } | min(.a) = 1").len(), 1);
    assert_eq!(idx(&t, "{ } | sum(.a) = 8").len(), 1);
    // Durations average to a duration: (100 + … + 500) / 5 = 300ns.
    let s = sets(&t, "{ } | avg(duration) >= 300ns");
    assert_eq!(
        s[0].attributes,
        vec![("avg(duration)".to_string(), Value::Duration(300))]
    );
    assert!(idx(&t, "{ } | avg(duration) > 300ns").is_empty());
    // No span has the value: the spanset is dropped, whatever the comparison.
    assert!(idx(&t, "{ } | max(.nope) != 1").is_empty());
}

#[test]
fn by_splits_spansets_and_coalesce_merges_them() {
    let t = flat();
    let s = sets(&t, "{ } | by(.a)");
    let groups: Vec<(Vec<usize>, Vec<Attr>)> = s
        .iter()
        .map(|s| {
            (
                s.spans.iter().map(|m| m.index).collect(),
                s.attributes.clone(),
            )
        })
        .collect();
    let by = |v: Value| vec![("by(.a)".to_string(), v)];
    assert_eq!(
        groups,
        vec![
            (vec![0], by(Value::Int(1))),
            (vec![1, 2], by(Value::Int(2))),
            (vec![3], by(Value::Nil)),
            (vec![4], by(Value::Int(3))),
        ]
    );
    // Later stages run per group.
    assert_eq!(
        idx(&t, "{ } | by(name) | count() > 1"),
        vec![vec![1, 2], vec![3, 4]]
    );
    let c = sets(&t, "{ } | by(name) | count() > 1 | coalesce()");
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].spans.iter().map(|m| m.index).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(c[0].attributes.is_empty());
    assert_eq!(
        idx(&t, "{ } | by(name) | coalesce() | count() = 5").len(),
        1
    );
}

#[test]
fn structural_operator_between_several_spansets_fails_as_in_tempo() {
    let t = flat();
    let expr = parse_and_validate("({ } | by(name)) > ({ })").unwrap();
    let err = Search::new(&expr).unwrap().eval_trace(&t).unwrap_err();
    assert!(matches!(err, Error::Eval(m) if m.contains("consider using coalesce()")));
    // One group per input spanset is fine: each is evaluated on its own.
    assert_eq!(
        idx(&t, "{ } | by(name) | { } ~ { }"),
        vec![vec![1, 2], vec![3, 4]]
    );
    assert_eq!(
        idx(&t, "({ } | by(name) | coalesce()) > ({ name = \"x\" })"),
        vec![vec![1, 2]]
    );
}

#[test]
fn select_returns_the_fields_spans_have() {
    let t = flat();
    let s = sets(&t, "{ name = \"y\" } | select(.a, span:id, .nope)");
    let a = Field::Attribute(crate::ast::Attribute {
        scope: crate::ast::Scope::None,
        parent: false,
        name: "a".to_string(),
    });
    let id = Field::Intrinsic(Intrinsic::SpanId);
    assert_eq!(s[0].spans[0].index, 3);
    assert_eq!(
        s[0].spans[0].selected,
        vec![(id.clone(), Value::String("0000000000000004".into()))]
    );
    assert_eq!(
        s[0].spans[1].selected,
        vec![
            (a.clone(), Value::Int(3)),
            (id.clone(), Value::String("0000000000000005".into()))
        ]
    );
    let expr = parse_and_validate("({ } | select(.a)) && ({ } | select(span:id, .a))").unwrap();
    assert_eq!(Search::new(&expr).unwrap().selected(), &[a, id]);
}

#[test]
fn hints_do_not_change_what_matches() {
    let t = flat();
    assert_eq!(
        idx(&t, "{ .a = 2 } with(most_recent=true)"),
        idx(&t, "{ .a = 2 }")
    );
}

#[test]
fn search_numbers_traces_and_skips_empty_ones() {
    let traces = vec![flat(), trace(Vec::new()), flat()];
    let expr = parse_and_validate("{ .a = 3 }").unwrap();
    let r = search(&expr, &traces).unwrap();
    assert_eq!(r.iter().map(|r| r.trace).collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(r[1].spanset.spans[0].index, 4);
}

#[test]
fn metrics_and_pipeline_comparisons_are_refused() {
    let rate = parse_and_validate("{ } | rate()").unwrap();
    assert!(matches!(Search::new(&rate), Err(Error::Eval(_))));
    let cmp = crate::parse("({ } | count()) > ({ } | count())").unwrap();
    assert!(matches!(Search::new(&cmp), Err(Error::Unsupported(_))));
}

#[test]
fn status_and_kind_compare_with_their_own_kind() {
    let mut spans = vec![span(1, None, "a"), span(2, Some(1), "b")];
    spans[0].status = Status::Error;
    spans[1].kind = Kind::Server;
    let t = trace(spans);
    assert_eq!(all(&t, "{ status = error }"), vec![0]);
    assert_eq!(all(&t, "{ status != error }"), vec![1]);
    assert_eq!(all(&t, "{ kind = server }"), vec![1]);
    assert_eq!(all(&t, "{ span:kind = unspecified }"), vec![0]);
}
