//! `{ <filter> } | count_over_time() by (span.x)` over random traces against a count
//! written out by hand: which spans match, which interval each start falls in, one series
//! per value of `span.x` (nil included) with a value in every interval.

use proptest::prelude::*;

use super::{span, ts, Points, Series, S, T0};
use crate::eval::{TraceData, Value};
use crate::metrics::{MetricsEval, MetricsRequest};
use crate::parse_and_validate;

/// A span: start in 2.5s steps from T0 - 15s to T0 + 40s (edges included), `span.x`
/// maybe, `span.y`.
type RawSpan = (i64, Option<i64>, i64);

fn raw_span() -> impl Strategy<Value = RawSpan> {
    (-6i64..=16, proptest::option::of(0i64..4), 0i64..5)
}

/// When a filter holds for a span's `(x, y)`.
type Holds = Box<dyn Fn(Option<i64>, i64) -> bool>;

/// The filters tried, and when each holds.
fn filter(k: usize, c: i64) -> (String, Holds) {
    match k % 5 {
        0 => ("{}".to_string(), Box::new(|_, _| true)),
        1 => (format!("{{ span.y > {c} }}"), Box::new(move |_, y| y > c)),
        2 => (format!("{{ span.y = {c} }}"), Box::new(move |_, y| y == c)),
        3 => (
            format!("{{ span.x != {c} }}"),
            // nil is unequal to nothing: a span without x never matches.
            Box::new(move |x, _| x.is_some_and(|x| x != c)),
        ),
        _ => (
            format!("{{ span.y <= {c} || span.x = 1 }}"),
            Box::new(move |x, y| y <= c || x == Some(1)),
        ),
    }
}

/// The interval (0..4) a start `at` ns after T0 falls in: `(T0 + (i-1)·10s, T0 + i·10s]`.
fn interval(at: i64) -> Option<usize> {
    (0..4).find(|&i| {
        let right = (i as i64) * 10 * S;
        at > right - 10 * S && at <= right
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn count_by_matches_brute_force(
        traces in proptest::collection::vec(proptest::collection::vec(raw_span(), 0..6), 0..8),
        k in 0usize..5,
        c in 0i64..5,
    ) {
        let (text, holds) = filter(k, c);
        let q = format!("{text} | count_over_time() by (span.x)");
        let mut data = Vec::new();
        // Expected counts per x value (None: nil), per interval.
        let mut want: Vec<(Option<i64>, [f64; 4])> = Vec::new();
        for (t, spans) in traces.iter().enumerate() {
            let mut trace = TraceData::default();
            for (i, &(step, x, y)) in spans.iter().enumerate() {
                let at = step * 2_500_000_000;
                let mut sp = span(t as u8 + 1, i as u8 + 1, at, S);
                if let Some(x) = x {
                    sp.span_attrs.push(("x".to_string(), Value::Int(x)));
                }
                sp.span_attrs.push(("y".to_string(), Value::Int(y)));
                trace.spans.push(sp);
                if !holds(x, y) {
                    continue;
                }
                if let Some(slot) = interval(at) {
                    let entry = match want.iter().position(|(wx, _)| *wx == x) {
                        Some(p) => &mut want[p],
                        None => {
                            want.push((x, [0.0; 4]));
                            want.last_mut().unwrap()
                        }
                    };
                    entry.1[slot] += 1.0;
                }
            }
            data.push(trace);
        }
        // Integers sort before nil (`int_value:` < `string_value:`), small ones by value.
        want.sort_by_key(|(x, _)| x.map_or(i64::MAX, |x| x));
        let want: Vec<Points> = want
            .into_iter()
            .map(|(x, counts)| {
                let v = x.map_or(Value::Nil, Value::Int);
                (
                    vec![("span.x".to_string(), v)],
                    counts.iter().enumerate().map(|(i, &n)| (ts(i as i64), n)).collect(),
                )
            })
            .collect();

        let expr = parse_and_validate(&q).unwrap();
        let req = MetricsRequest {
            start_ns: T0,
            end_ns: T0 + 30 * S,
            step_ns: 10 * S,
            max_exemplars: 0,
        };
        let mut m = MetricsEval::new(&expr, req, 100).unwrap();
        for t in &data {
            m.observe(t).unwrap();
        }
        let got: Vec<Series> = m.finish().unwrap();
        let got: Vec<_> = got.into_iter().map(|s| (s.labels, s.samples)).collect();
        prop_assert_eq!(got, want, "{}", q);
    }
}
