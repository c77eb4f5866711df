//! Hostile input: the deepest queries the parser takes are compiled, evaluated and dropped in
//! a thread with a 256 KiB stack (a stack overflow aborts the test binary).

use super::{flat, trace};
use crate::eval::{search, TraceData};
use crate::{parse_and_validate, MAX_NESTING};

const STACK: usize = 256 * 1024;

/// What a query is, and how to make it `depth` levels deep.
type Builder = (&'static str, fn(usize) -> String);

/// The deepest query `build(depth)` makes that parses and validates, with its depth.
fn deepest(build: impl Fn(usize) -> String) -> (usize, String) {
    (1..=MAX_NESTING + 1)
        .rev()
        .map(|d| (d, build(d)))
        .find(|(_, q)| parse_and_validate(q).is_ok())
        .unwrap_or_else(|| panic!("no depth of {} parses", build(1)))
}

/// The number of spansets `q` returns over `t`, evaluated on a small stack.
fn on_small_stack(q: &str, t: TraceData) -> usize {
    let expr = parse_and_validate(q).unwrap();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let n = search(&expr, &[t]).unwrap().len();
            drop(expr);
            n
        })
        .unwrap()
        .join()
        .unwrap()
}

fn nest(depth: usize, open: &str, leaf: &str, close: &str) -> String {
    format!("{}{leaf}{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn deep_field_expressions_fit_a_small_stack() {
    let builders: Vec<Builder> = vec![
        ("right-nested &&", |d| {
            format!("{{ {} }}", nest(d, ".a > 0 && (", ".a > 0", ")"))
        }),
        ("left-nested +", |d| {
            format!("{{ .a{} > 0 }}", " + 1".repeat(d))
        }),
        ("right-nested ^", |d| {
            format!("{{ {} = 1 }}", nest(d, "1 ^ (", "1", ")"))
        }),
        ("prefix !", |d| {
            format!("{{ {}true }}", "!".repeat(2 * (d / 2)))
        }),
        ("prefix -", |d| format!("{{ {}.a != 0 }}", "- ".repeat(d))),
    ];
    for (what, build) in builders {
        let (depth, q) = deepest(build);
        assert!(
            depth >= MAX_NESTING / 4,
            "{what}: only {depth} levels parse"
        );
        assert_eq!(on_small_stack(&q, flat()), 1, "{what}: {q}");
    }
}

#[test]
fn deep_spanset_expressions_fit_a_small_stack() {
    let builders: Vec<Builder> = vec![
        ("left-nested >>", |d| {
            format!("{{ }}{}", " >> { }".repeat(d))
        }),
        ("right-nested &&", |d| {
            nest(d, "{ .a > 0 } && (", "{ }", ")")
        }),
        ("right-nested !<<", |d| {
            nest(d, "{ .a = 9 } !<< (", "{ }", ")")
        }),
        ("nested pipeline operands of &&", |d| {
            nest(d, "({ .a > 0 } | count() > 0) && (", "({ })", ")")
        }),
        ("nested pipeline operands of >>", |d| {
            nest(d, "({ } | by(name) | coalesce()) >> (", "({ })", ")")
        }),
        ("long pipeline", |d| vec!["{ }"; 4 * d].join(" | ")),
    ];
    for (what, build) in builders {
        let (depth, q) = deepest(build);
        assert!(
            depth >= MAX_NESTING / 4,
            "{what}: only {depth} levels parse"
        );
        let t = if what == "left-nested >>" {
            // A chain deep enough for every `>>` to keep a span.
            let mut spans = vec![super::span(1, None, "s")];
            for i in 2..=(depth as u8).saturating_add(2) {
                spans.push(super::span(i, Some(i - 1), "s"));
            }
            trace(spans)
        } else {
            flat()
        };
        assert_eq!(on_small_stack(&q, t), 1, "{what}: {q}");
    }
}
