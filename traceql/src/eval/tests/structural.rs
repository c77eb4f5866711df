//! Tempo's nested-set numbering and every structural operator, plain, negated and union.

use super::{all, sets, span, trace, with};
use crate::ast::Kind;
use crate::eval::{TraceData, Value};

/// ```text
/// A ─┬─ B ─┬─ D        O (parent never received) ── P
///    │     └─ E
///    └─ C ─── F
/// ```
/// stored as D A C B F O E P (indexes 0 … 7), so that C is numbered before B.
fn tree() -> TraceData {
    trace(vec![
        span(4, Some(2), "D"),
        span(1, None, "A"),
        span(3, Some(1), "C"),
        span(2, Some(1), "B"),
        span(6, Some(3), "F"),
        span(7, Some(99), "O"),
        span(5, Some(2), "E"),
        span(8, Some(7), "P"),
    ])
}

const D: usize = 0;
const A: usize = 1;
const C: usize = 2;
const B: usize = 3;
const F: usize = 4;
const O: usize = 5;
const E: usize = 6;
const P: usize = 7;

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

#[test]
fn nested_sets_are_numbered_depth_first_in_storage_order() {
    let t = tree();
    let s = sets(
        &t,
        "{ } | select(nestedSetLeft, nestedSetRight, nestedSetParent, childCount)",
    );
    let got: Vec<Vec<Value>> = s[0]
        .spans
        .iter()
        .map(|m| m.selected.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    let row = |l, r, p, c| vec![Value::Int(l), Value::Int(r), Value::Int(p), Value::Int(c)];
    assert_eq!(
        got,
        vec![
            row(7, 8, 6, 0),   // D
            row(1, 12, -1, 2), // A
            row(2, 5, 1, 1),   // C
            row(6, 11, 1, 2),  // B
            row(3, 4, 2, 0),   // F
            row(0, 0, 0, 1),   // O: no root reaches it
            row(9, 10, 6, 0),  // E
            row(0, 0, 0, 0),   // P
        ]
    );
    assert_eq!(all(&t, "{ nestedSetLeft = 7 }"), vec![D]);
    assert_eq!(all(&t, "{ nestedSetParent = -1 }"), vec![A]);
}

#[test]
fn child_and_descendant() {
    let t = tree();
    assert_eq!(all(&t, "{ name = \"A\" } > { }"), sorted(vec![B, C]));
    assert_eq!(all(&t, "{ name = \"B\" } >> { }"), sorted(vec![D, E]));
    assert_eq!(
        all(&t, "{ name = \"A\" } >> { }"),
        sorted(vec![B, C, D, E, F])
    );
    assert_eq!(all(&t, "{ name = \"A\" } >> { name = \"F\" }"), vec![F]);
    // Unreached spans relate to nothing.
    assert!(all(&t, "{ } > { name = \"P\" }").is_empty());
    assert!(all(&t, "{ name = \"O\" } >> { }").is_empty());
    // The right side is required; the left side's own spans are not returned.
    assert!(all(&t, "{ name = \"A\" } > { name = \"nope\" }").is_empty());
    assert!(all(&t, "{ name = \"nope\" } > { }").is_empty());
}

#[test]
fn parent_and_ancestor() {
    let t = tree();
    assert_eq!(all(&t, "{ name = \"D\" } < { }"), vec![B]);
    assert_eq!(all(&t, "{ name =~ \"D|F\" } < { }"), sorted(vec![B, C]));
    assert_eq!(all(&t, "{ name = \"D\" } << { }"), sorted(vec![A, B]));
    assert_eq!(all(&t, "{ name = \"F\" } << { name = \"A\" }"), vec![A]);
    assert!(all(&t, "{ name = \"P\" } << { }").is_empty());
}

#[test]
fn sibling() {
    let t = tree();
    assert_eq!(all(&t, "{ name = \"D\" } ~ { }"), vec![E]);
    assert_eq!(all(&t, "{ name = \"B\" } ~ { }"), vec![C]);
    assert_eq!(all(&t, "{ } ~ { }"), sorted(vec![B, C, D, E]));
    // A span is not its own sibling.
    assert!(all(&t, "{ name = \"D\" } ~ { name = \"D\" }").is_empty());
    assert!(all(&t, "{ name = \"A\" } ~ { }").is_empty());
    // Root spans share a parent number: two roots are siblings.
    let t = trace(vec![
        span(1, None, "R1"),
        span(2, None, "R2"),
        span(3, Some(2), "c"),
    ]);
    assert_eq!(all(&t, "{ name = \"R1\" } ~ { }"), vec![1]);
}

#[test]
fn negated_operators_keep_the_right_side_without_the_relation() {
    let t = tree();
    let everything =
        |but: &[usize]| -> Vec<usize> { (0..8).filter(|i| !but.contains(i)).collect() };
    assert_eq!(all(&t, "{ name = \"A\" } !> { }"), everything(&[B, C]));
    assert_eq!(all(&t, "{ name = \"B\" } !>> { }"), everything(&[D, E]));
    assert_eq!(all(&t, "{ name = \"D\" } !< { }"), everything(&[B]));
    assert_eq!(all(&t, "{ name = \"D\" } !<< { }"), everything(&[A, B]));
    assert_eq!(all(&t, "{ name = \"D\" } !~ { }"), everything(&[E]));
    // An empty left side relates to nothing: all of the right side.
    assert_eq!(all(&t, "{ name = \"nope\" } !> { name = \"D\" }"), vec![D]);
    // An empty right side leaves nothing.
    assert!(all(&t, "{ } !> { name = \"nope\" }").is_empty());
    // `!>` is not `> ` negated: a span with no parent at all is kept.
    assert_eq!(
        all(&t, "{ } !> { name =~ \"A|O|P\" }"),
        sorted(vec![A, O, P])
    );
}

#[test]
fn union_operators_keep_both_sides_of_related_pairs() {
    let t = tree();
    assert_eq!(all(&t, "{ name = \"B\" } &> { }"), sorted(vec![B, D, E]));
    assert_eq!(
        all(&t, "{ name =~ \"B|C\" } &> { name = \"D\" }"),
        sorted(vec![B, D])
    );
    assert_eq!(all(&t, "{ name = \"D\" } &< { }"), sorted(vec![B, D]));
    assert_eq!(
        all(&t, "{ name = \"A\" } &>> { name =~ \"D|F\" }"),
        sorted(vec![A, D, F])
    );
    // Nested ancestors on the left all count (each has the descendant below it).
    assert_eq!(
        all(&t, "{ name =~ \"A|B\" } &>> { name = \"D\" }"),
        sorted(vec![A, B, D])
    );
    assert_eq!(all(&t, "{ name = \"F\" } &<< { }"), sorted(vec![A, C, F]));
    assert_eq!(all(&t, "{ name = \"D\" } &~ { }"), sorted(vec![D, E]));
    assert!(all(&t, "{ name = \"D\" } &~ { name = \"D\" }").is_empty());
    assert!(all(&t, "{ name = \"nope\" } &> { }").is_empty());
}

#[test]
fn structural_results_combine_and_pipe() {
    let t = tree();
    assert_eq!(
        all(&t, "({ name = \"A\" } > { }) && { name = \"F\" }"),
        sorted(vec![B, C, F])
    );
    assert_eq!(
        all(&t, "{ name = \"A\" } > { } > { }"),
        sorted(vec![D, E, F])
    );
    // A later stage relates only the spans still in the spanset.
    assert_eq!(all(&t, "{ name =~ \"A|D\" } | { } >> { }"), vec![D]);
    assert!(all(&t, "{ name =~ \"A|D\" } | { } > { }").is_empty());
}

#[test]
fn zipkin_halves_sharing_an_id_are_told_apart_by_kind() {
    let mut client = span(5, Some(1), "client");
    client.kind = Kind::Client;
    let mut server = span(5, Some(5), "server");
    server.kind = Kind::Server;
    let t = trace(vec![
        span(1, None, "root"),
        client.clone(),
        server.clone(),
        span(6, Some(5), "inner"),
    ]);
    assert_eq!(all(&t, "{ kind = client } > { }"), vec![2]);
    assert_eq!(all(&t, "{ kind = server } > { }"), vec![3]);
    // Three spans sharing an id: Tempo numbers nothing, so nothing relates.
    let t = trace(vec![span(1, None, "root"), client.clone(), server, client]);
    assert!(all(&t, "{ } > { }").is_empty());
    assert!(all(&t, "{ nestedSetLeft > 0 }").is_empty());
}

#[test]
fn attributes_of_spans_on_both_sides() {
    let t = trace(vec![
        with(span(1, None, "r"), "tier", Value::String("web".into())),
        with(span(2, Some(1), "c"), "tier", Value::String("db".into())),
        with(span(3, Some(1), "c"), "tier", Value::String("cache".into())),
    ]);
    assert_eq!(
        all(&t, "{ .tier = \"web\" } > { .tier != \"web\" }"),
        vec![1, 2]
    );
    assert_eq!(all(&t, "{ .tier = \"db\" } ~ { }"), vec![2]);
}
