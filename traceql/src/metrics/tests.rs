//! Metrics queries over small hand-built traces, each expected answer worked out by hand
//! from Tempo's rules; `prop` checks counting against brute force.
//!
//! Every test but the instant ones asks for `[T0, T0 + 30s]` in steps of 10s. Aligned as
//! Tempo's frontend aligns it, that is four intervals `(T0 - 10s, T0]`, `(T0, T0 + 10s]`,
//! `(T0 + 10s, T0 + 20s]`, `(T0 + 20s, T0 + 30s]`, reported at `T0`, `T0 + 10s`, …

mod prop;

use super::{MetricsEval, MetricsRequest, Series};

use crate::ast::{Kind, Status};
use crate::error::Error;
use crate::eval::{SpanData, TraceData, Value};
use crate::parse_and_validate;

/// A start aligned to 10s, in unix nanoseconds.
const T0: i64 = 1_700_000_000_000_000_000;
const S: i64 = 1_000_000_000;
const T0_MS: i64 = T0 / 1_000_000;

fn req() -> MetricsRequest {
    MetricsRequest {
        start_ns: T0,
        end_ns: T0 + 30 * S,
        step_ns: 10 * S,
        max_exemplars: 0,
    }
}

/// The timestamps of the four intervals, in milliseconds.
fn ts(i: i64) -> i64 {
    T0_MS + i * 10_000
}

/// A span of trace `t`, id `id`, starting `at` ns after T0, lasting `dur` ns.
fn span(t: u8, id: u8, at: i64, dur: i64) -> SpanData {
    SpanData {
        trace_id: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, t],
        span_id: [0, 0, 0, 0, 0, 0, t, id],
        name: format!("op{id}"),
        start_unix_nano: T0 + at,
        duration_nano: dur,
        ..SpanData::default()
    }
}

fn attr(mut s: SpanData, key: &str, v: Value) -> SpanData {
    s.span_attrs.push((key.to_string(), v));
    s
}

fn service(mut s: SpanData, name: &str) -> SpanData {
    s.service_name = name.to_string();
    s
}

fn status(mut s: SpanData, st: Status) -> SpanData {
    s.status = st;
    s
}

/// One trace per span.
fn traces(spans: Vec<SpanData>) -> Vec<TraceData> {
    spans
        .into_iter()
        .map(|s| TraceData { spans: vec![s] })
        .collect()
}

fn eval(q: &str, req: MetricsRequest, traces: &[TraceData]) -> Result<Vec<Series>, Error> {
    let expr = parse_and_validate(q)?;
    let mut m = MetricsEval::new(&expr, req, 11_000)?;
    for t in traces {
        m.observe(t)?;
    }
    m.finish()
}

fn run(q: &str, traces: &[TraceData]) -> Vec<Series> {
    eval(q, req(), traces).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

fn label(k: &str, v: Value) -> (String, Value) {
    (k.to_string(), v)
}

/// A series' labels and samples.
type Points = (Vec<(String, Value)>, Vec<(i64, f64)>);

/// The labels and samples of each series, without exemplars.
fn points(series: &[Series]) -> Vec<Points> {
    series
        .iter()
        .map(|s| (s.labels.clone(), s.samples.clone()))
        .collect()
}

#[test]
fn rate_counts_spans_per_second_by_start_time() {
    let spans = vec![
        span(1, 1, S, 5 * S),        // (T0, T0 + 10s]
        span(2, 1, 2 * S, S),        // (T0, T0 + 10s]
        span(3, 1, 15 * S, S),       // (T0 + 10s, T0 + 20s]
        span(4, 1, 30 * S, S),       // on the right edge: the last interval
        span(5, 1, -10 * S, S),      // on the aligned start: outside
        span(6, 1, 31 * S, S),       // after the end: outside
        span(7, 1, -5 * S, 100 * S), // (T0 - 10s, T0]: the extra leading interval
    ];
    let got = run("{} | rate()", &traces(spans));
    let r = |n: f64| n * (1.0 / 10.0);
    assert_eq!(
        points(&got),
        vec![(
            vec![label("__name__", s("rate"))],
            vec![
                (ts(0), r(1.0)),
                (ts(1), r(2.0)),
                (ts(2), r(1.0)),
                (ts(3), r(1.0))
            ]
        )]
    );
}

#[test]
fn window_is_the_aligned_range() {
    let expr = parse_and_validate("{} | rate()").unwrap();
    let unaligned = MetricsRequest {
        start_ns: T0 + 3 * S,
        end_ns: T0 + 27 * S,
        ..req()
    };
    let m = MetricsEval::new(&expr, unaligned, 100).unwrap();
    // Start rounded down to T0, then one step earlier; end rounded up.
    assert_eq!(m.window(), (T0 - 10 * S, T0 + 30 * S));
}

#[test]
fn count_over_time_by_service_keeps_nil_as_a_series() {
    let spans = vec![
        service(span(1, 1, S, S), "a"),
        service(span(1, 2, 2 * S, S), "a"),
        service(span(2, 1, 12 * S, S), "b"),
        span(3, 1, 22 * S, S), // no service
    ];
    let got = run(
        "{} | count_over_time() by (resource.service.name)",
        &traces(spans),
    );
    let k = "resource.service.name";
    assert_eq!(
        points(&got),
        vec![
            (
                vec![label(k, s("a"))],
                vec![(ts(0), 0.0), (ts(1), 2.0), (ts(2), 0.0), (ts(3), 0.0)]
            ),
            (
                vec![label(k, s("b"))],
                vec![(ts(0), 0.0), (ts(1), 0.0), (ts(2), 1.0), (ts(3), 0.0)]
            ),
            // All group-by values missing: the first field labelled nil (sent as "nil").
            (
                vec![label(k, Value::Nil)],
                vec![(ts(0), 0.0), (ts(1), 0.0), (ts(2), 0.0), (ts(3), 1.0)]
            ),
        ]
    );
}

#[test]
fn by_drops_missing_values_from_labels() {
    let spans = vec![
        attr(attr(span(1, 1, S, S), "a", s("x")), "b", Value::Int(1)),
        attr(span(1, 2, S, S), "b", Value::Int(2)),
    ];
    let got = run("{} | count_over_time() by (span.a, span.b)", &traces(spans));
    let labels: Vec<_> = got.iter().map(|s| s.labels.clone()).collect();
    assert_eq!(
        labels,
        vec![
            vec![label("span.b", Value::Int(2))],
            vec![label("span.a", s("x")), label("span.b", Value::Int(1))],
        ]
    );
}

#[test]
fn min_max_sum_avg_of_durations_in_seconds() {
    let spans = vec![
        span(1, 1, S, 2 * S),
        span(1, 2, 2 * S, 500_000_000),
        span(2, 1, 3 * S, 6 * S),
        span(3, 1, 25 * S, S),
    ];
    let t = traces(spans);
    let only = |q: &str| {
        let got = run(q, &t);
        assert_eq!(got.len(), 1, "{q}");
        got[0].samples.clone()
    };
    // Intervals without spans have no value at all.
    assert_eq!(
        only("{} | min_over_time(duration)"),
        vec![(ts(1), 0.5), (ts(3), 1.0)]
    );
    assert_eq!(
        only("{} | max_over_time(duration)"),
        vec![(ts(1), 6.0), (ts(3), 1.0)]
    );
    assert_eq!(
        only("{} | sum_over_time(duration)"),
        vec![(ts(1), 8.5), (ts(3), 1.0)]
    );
    let avg = only("{} | avg_over_time(duration)");
    assert_eq!(avg.len(), 2);
    assert_eq!(avg[0].0, ts(1));
    assert!((avg[0].1 - 8.5 / 3.0).abs() < 1e-12, "{avg:?}");
    assert_eq!(avg[1], (ts(3), 1.0));
    let got = run("{} | avg_over_time(duration)", &t);
    assert_eq!(got[0].labels, vec![label("__name__", s("avg_over_time"))]);
}

#[test]
fn over_time_functions_of_a_numeric_attribute() {
    let spans = vec![
        attr(span(1, 1, S, S), "size", Value::Int(10)),
        attr(span(1, 2, 2 * S, S), "size", Value::Float(2.5)),
        attr(span(1, 3, 3 * S, S), "size", s("not a number")),
        attr(service(span(2, 1, 12 * S, S), "b"), "size", Value::Int(7)),
    ];
    let t = traces(spans);
    let got = run(
        "{} | max_over_time(span.size) by (resource.service.name)",
        &t,
    );
    assert_eq!(
        points(&got),
        vec![
            (
                vec![label("resource.service.name", s("b"))],
                vec![(ts(2), 7.0)]
            ),
            // The string is no number: ignored by max.
            (
                vec![label("resource.service.name", Value::Nil)],
                vec![(ts(1), 10.0)]
            ),
        ]
    );
    let got = run("{ span.size != nil } | min_over_time(span.size)", &t);
    assert_eq!(got[0].samples, vec![(ts(1), 2.5), (ts(2), 7.0)]);
    // avg skips the span without a number: (10 + 2.5) / 2.
    let got = run("{} | avg_over_time(span.size)", &t);
    assert_eq!(got[0].samples, vec![(ts(1), 6.25), (ts(2), 7.0)]);
}

#[test]
fn sum_over_time_turns_nan_as_tempos_kahan_sum_does() {
    // Tempo adds the missing value as NaN: the interval's sum is lost.
    let spans = vec![
        attr(span(1, 1, S, S), "n", Value::Int(5)),
        span(1, 2, 2 * S, S),
        attr(span(1, 3, 12 * S, S), "n", Value::Int(4)),
    ];
    let got = run("{} | sum_over_time(span.n)", &traces(spans));
    assert_eq!(got[0].samples, vec![(ts(2), 4.0)]);
}

#[test]
fn quantile_interpolates_inside_power_of_two_buckets() {
    // Values 3, 3, 5, 6, 7 in one interval: buckets (2, 4] holds 2, (4, 8] holds 3.
    // p50 reads ceil(0.5 * 5) = 3 samples: 2 from the first bucket, 1 of the second's 3,
    // so 2^(log2 4 + (log2 8 - log2 4) / 3). p100 is the last bound; p0 reads one sample,
    // half of the first bucket, which is assumed to start at 2: 2^1.5.
    let spans: Vec<SpanData> = [3, 3, 5, 6, 7]
        .iter()
        .enumerate()
        .map(|(i, &n)| attr(span(1, i as u8, 12 * S, S), "n", Value::Int(n)))
        .collect();
    let got = run("{} | quantile_over_time(span.n, 0.5, 1, 0)", &traces(spans));
    let p50 = 2f64.powf(2.0 + 1.0 / 3.0);
    let p0 = 2f64.powf(1.5);
    // Series sort by the quantile's text: 0, 0.5, 1. Empty intervals are 0, not missing.
    assert_eq!(
        points(&got),
        vec![
            (
                vec![label("p", Value::Float(0.0))],
                vec![(ts(0), 0.0), (ts(1), 0.0), (ts(2), p0), (ts(3), 0.0)]
            ),
            (
                vec![label("p", Value::Float(0.5))],
                vec![(ts(0), 0.0), (ts(1), 0.0), (ts(2), p50), (ts(3), 0.0)]
            ),
            (
                vec![label("p", Value::Float(1.0))],
                vec![(ts(0), 0.0), (ts(1), 0.0), (ts(2), 8.0), (ts(3), 0.0)]
            ),
        ]
    );
}

#[test]
fn quantile_of_durations_is_in_seconds_and_drops_what_cannot_be_bucketed() {
    let spans = vec![
        service(span(1, 1, S, S), "a"),     // 1s: bucket 2^30ns
        service(span(1, 2, 2 * S, 1), "a"), // 1ns: below 2, dropped
        service(attr(span(2, 1, 3 * S, S), "f", Value::Float(3.5)), "b"),
    ];
    let t = traces(spans);
    let got = run(
        "{} | quantile_over_time(duration, 0.9) by (resource.service.name)",
        &t,
    );
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].labels,
        vec![
            label("resource.service.name", s("a")),
            label("p", Value::Float(0.9))
        ]
    );
    assert_eq!(got[0].samples[1], (ts(1), 1.073741824));
    // Floats are not bucketed (Tempo's TODO): nothing for a float attribute.
    assert!(run("{} | quantile_over_time(span.f, 0.9)", &t).is_empty());
}

#[test]
fn histogram_buckets_durations_in_seconds() {
    let spans = vec![
        span(1, 1, S, S),                  // 2^30 ns
        span(1, 2, 2 * S, 3 * S / 2),      // 2^31 ns
        span(2, 1, 12 * S, 1_073_741_824), // exactly 2^30 ns
        span(3, 1, 13 * S, 1_073_741_825), // just above: 2^31 ns
    ];
    let got = run("{} | histogram_over_time(duration)", &traces(spans));
    assert_eq!(
        points(&got),
        vec![
            (
                vec![label("__bucket", Value::Float(1.073741824))],
                vec![(ts(0), 0.0), (ts(1), 1.0), (ts(2), 1.0), (ts(3), 0.0)]
            ),
            (
                vec![label("__bucket", Value::Float(2.147483648))],
                vec![(ts(0), 0.0), (ts(1), 1.0), (ts(2), 1.0), (ts(3), 0.0)]
            ),
        ]
    );
}

#[test]
fn compare_splits_spans_into_selection_and_baseline() {
    let spans = vec![
        status(attr(span(1, 1, S, S), "x", s("p")), Status::Error),
        attr(span(1, 2, 2 * S, S), "x", s("p")),
        attr(span(2, 1, 12 * S, S), "x", s("q")),
        attr(span(2, 2, 13 * S, S), "x", s("r")),
    ];
    let got = run("{} | compare({ status = error }, 1)", &traces(spans));
    let find = |labels: Vec<(String, Value)>| {
        got.iter()
            .find(|s| s.labels == labels)
            .map(|s| s.samples.iter().map(|p| p.1).collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no {labels:?} in {:#?}", points(&got)))
    };
    let meta = |m: &str| label("__meta_type", s(m));
    assert_eq!(
        find(vec![meta("selection"), label("span.x", s("p"))]),
        vec![0.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(
        find(vec![meta("selection_total"), label("span.x", Value::Nil)]),
        vec![0.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(
        find(vec![meta("baseline_total"), label("span.x", Value::Nil)]),
        vec![0.0, 1.0, 2.0, 0.0]
    );
    // Top 1 of the baseline's p, q, r (totals 1, 1, 1): the tie goes to the first text.
    let baseline_x: Vec<_> = got
        .iter()
        .filter(|s| s.labels[0] == meta("baseline") && s.labels[1].0 == "span.x")
        .map(|s| s.labels[1].1.clone())
        .collect();
    assert_eq!(baseline_x, vec![s("p")]);
    // Intrinsics count too; durations do not.
    assert_eq!(
        find(vec![
            meta("baseline"),
            label("kind", Value::Kind(Kind::Unspecified))
        ]),
        vec![0.0, 1.0, 2.0, 0.0]
    );
    assert!(got
        .iter()
        .all(|s| s.labels.iter().all(|l| l.0 != "duration")));
    // The too-many-values marker has no samples, so it never reaches the answer.
    assert!(got.iter().all(|s| s.labels[0].0 == "__meta_type"));
}

#[test]
fn topk_and_bottomk_choose_per_timestamp() {
    // Counts per interval: a = 3, 0, 1, 0; b = 1, 2, 0, 0; c = 2, 1, 2, 0.
    let mut spans = Vec::new();
    let mut id = 0;
    for (svc, counts) in [
        ("a", [3, 0, 1, 0]),
        ("b", [1, 2, 0, 0]),
        ("c", [2, 1, 2, 0]),
    ] {
        for (i, n) in counts.iter().enumerate() {
            for _ in 0..*n {
                id += 1;
                spans.push(service(span(id, 1, i as i64 * 10 * S - 5 * S, S), svc));
            }
        }
    }
    let t = traces(spans);
    let k = "resource.service.name";
    let got = run(&format!("{{}} | count_over_time() by ({k}) | topk(1)"), &t);
    // Interval 3 is 0 everywhere: the tie goes to a, whose labels sort first.
    assert_eq!(
        points(&got),
        vec![
            (vec![label(k, s("a"))], vec![(ts(0), 3.0), (ts(3), 0.0)]),
            (vec![label(k, s("b"))], vec![(ts(1), 2.0)]),
            (vec![label(k, s("c"))], vec![(ts(2), 2.0)]),
        ]
    );
    let got = run(
        &format!("{{}} | count_over_time() by ({k}) | bottomk(2)"),
        &t,
    );
    assert_eq!(
        points(&got),
        vec![
            (
                vec![label(k, s("a"))],
                vec![(ts(1), 0.0), (ts(2), 1.0), (ts(3), 0.0)]
            ),
            (
                vec![label(k, s("b"))],
                vec![(ts(0), 1.0), (ts(2), 0.0), (ts(3), 0.0)]
            ),
            (vec![label(k, s("c"))], vec![(ts(0), 2.0), (ts(1), 1.0)]),
        ]
    );
    // Three series, topk(3): unchanged.
    assert_eq!(
        run(&format!("{{}} | count_over_time() by ({k}) | topk(3)"), &t),
        run(&format!("{{}} | count_over_time() by ({k})"), &t)
    );
}

#[test]
fn filters_keep_values_that_compare_true() {
    let spans = vec![
        span(1, 1, S, S),
        span(1, 2, 2 * S, S),
        span(2, 1, 12 * S, 3 * S),
    ];
    let t = traces(spans);
    let got = run("{} | count_over_time() > 1", &t);
    assert_eq!(got[0].samples, vec![(ts(1), 2.0)]);
    let got = run("{} | count_over_time() <= 1", &t);
    assert_eq!(
        got[0].samples,
        vec![(ts(0), 0.0), (ts(2), 1.0), (ts(3), 0.0)]
    );
    // A duration threshold is in seconds, as duration series are.
    let got = run("({} | max_over_time(duration)) > 2s", &t);
    assert_eq!(got[0].samples, vec![(ts(2), 3.0)]);
    assert!(run("{} | count_over_time() > 5", &t).is_empty());
}

#[test]
fn instant_queries_have_one_point_at_the_end() {
    let start = T0 + 3 * S;
    let end = T0 + 63 * S;
    let instant = MetricsRequest {
        start_ns: start,
        end_ns: end,
        step_ns: end - start,
        max_exemplars: 5,
    };
    let spans = vec![
        span(1, 1, 3 * S, S), // on the start: outside
        span(1, 2, 4 * S, S),
        span(2, 1, 63 * S, S), // on the end: inside
        span(3, 1, 64 * S, S),
    ];
    let got = eval("{} | rate()", instant, &traces(spans)).unwrap();
    assert_eq!(
        points(&got),
        vec![(
            vec![label("__name__", s("rate"))],
            vec![(end / 1_000_000, 2.0 * (1.0 / 60.0))]
        )]
    );
    // Instant queries never carry exemplars.
    assert!(got[0].exemplars.is_empty());
}

#[test]
fn exemplars_are_one_per_trace_up_to_the_limit() {
    let spans: Vec<SpanData> = (0..20)
        .map(|i| service(span(i as u8 + 1, 1, S + i * S, S), "a"))
        .collect();
    let t = traces(spans);
    let expr = parse_and_validate("{ resource.service.name = \"a\" } | rate()").unwrap();
    for limit in [0, 3, 10] {
        let mut m = MetricsEval::new(
            &expr,
            MetricsRequest {
                max_exemplars: limit,
                ..req()
            },
            100,
        )
        .unwrap();
        for tr in &t {
            m.observe(tr).unwrap();
        }
        let got = m.finish().unwrap();
        let ex = &got[0].exemplars;
        assert!(ex.len() <= limit, "{limit}: {}", ex.len());
        if limit == 0 {
            assert!(ex.is_empty());
            continue;
        }
        // The first traces are taken, at most 2 per time bucket of the range.
        assert_eq!(ex[0].timestamp_ms, T0_MS + 1000);
        for e in ex {
            let interval = (e.timestamp_ms - T0_MS - 1) / 10_000 + 1;
            let sample = got[0].samples.iter().find(|p| p.0 == ts(interval)).unwrap();
            // rate() exemplars take the series' value in their interval.
            assert_eq!(e.value, sample.1);
            assert!(e.labels.contains(&label("resource.service.name", s("a"))));
            assert!(e.labels.iter().any(|l| l.0 == "trace:id"));
        }
    }
}

#[test]
fn exemplars_of_measured_functions_carry_the_value() {
    let spans = vec![span(1, 1, S, 3 * S / 2), span(2, 1, 12 * S, 2 * S)];
    let got = eval(
        "{} | max_over_time(duration)",
        MetricsRequest {
            max_exemplars: 10,
            ..req()
        },
        &traces(spans),
    )
    .unwrap();
    let values: Vec<_> = got[0]
        .exemplars
        .iter()
        .map(|e| (e.timestamp_ms, e.value))
        .collect();
    assert_eq!(values, vec![(T0_MS + 1000, 1.5), (T0_MS + 12_000, 2.0)]);
    assert_eq!(
        got[0].exemplars[0].labels,
        vec![
            label("duration", Value::Duration(3 * S / 2)),
            label("trace:id", s("1"))
        ]
    );
}

#[test]
fn arithmetic_between_queries_and_numbers() {
    let spans = vec![
        status(service(span(1, 1, S, S), "a"), Status::Error),
        service(span(1, 2, 2 * S, S), "a"),
        service(span(2, 1, 12 * S, S), "b"),
        status(service(span(2, 2, 13 * S, S), "b"), Status::Error),
        service(span(3, 1, 14 * S, S), "b"),
    ];
    let t = traces(spans);
    let by = "by (resource.service.name)";
    // Error ratio per service: series match by labels; 0/0 is NaN, so no sample.
    let got = run(
        &format!("({{ status = error }} | rate() {by}) / ({{}} | rate() {by})"),
        &t,
    );
    let k = "resource.service.name";
    let r = |n: f64| n * (1.0 / 10.0);
    assert_eq!(
        points(&got),
        vec![
            (vec![label(k, s("a"))], vec![(ts(1), r(1.0) / r(2.0))]),
            (vec![label(k, s("b"))], vec![(ts(2), r(1.0) / r(3.0))]),
        ]
    );
    // Without by(): the names combine.
    let got = run(
        "({ status = error } | count_over_time()) * 100 / ({} | count_over_time())",
        &t,
    );
    assert_eq!(
        points(&got),
        vec![(
            // `* 100` keeps the left side's name, as Tempo's scalar operation does.
            vec![label("__name__", s("(count_over_time / count_over_time)"))],
            vec![(ts(1), 50.0), (ts(2), 100.0 / 3.0)]
        )]
    );
    // A series and a number keep the series' labels; constants fold in integers.
    let got = run("({} | count_over_time()) * (3 / 2)", &t);
    assert_eq!(got[0].labels, vec![label("__name__", s("count_over_time"))]);
    assert_eq!(
        got[0].samples,
        vec![(ts(0), 0.0), (ts(1), 2.0), (ts(2), 3.0), (ts(3), 0.0)]
    );
    // An ungrouped side matches every series of the other.
    let got = run(
        &format!("({{}} | count_over_time() {by}) - ({{}} | count_over_time())"),
        &t,
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].samples[1], (ts(1), 0.0));
    assert_eq!(got[1].samples[2], (ts(2), 0.0));
}

#[test]
fn empty_when_nothing_matches() {
    let t = traces(vec![span(1, 1, S, S)]);
    assert!(run("{ name = \"nope\" } | rate()", &t).is_empty());
    assert!(run("{} | rate()", &[]).is_empty());
    assert!(run("{} | rate()", &[TraceData::default()]).is_empty());
}

#[test]
fn bad_requests_and_queries_are_errors() {
    let q = "{} | rate()";
    let bad = |r: MetricsRequest| eval(q, r, &[]).unwrap_err().to_string();
    assert!(bad(MetricsRequest {
        step_ns: 0,
        ..req()
    })
    .contains("step must be greater than 0"));
    assert!(bad(MetricsRequest {
        step_ns: -5,
        ..req()
    })
    .contains("step"));
    assert!(bad(MetricsRequest {
        end_ns: T0 - S,
        ..req()
    })
    .contains("must be greater than start"));
    let expr = parse_and_validate(q).unwrap();
    let err = MetricsEval::new(
        &expr,
        MetricsRequest {
            step_ns: S,
            ..req()
        },
        10,
    )
    .unwrap_err()
    .to_string();
    // Aligned: (T0 - 1s, T0 + 30s] in steps of 1s.
    assert!(err.contains("31 points"), "{err}");
    let err = MetricsEval::new(&parse_and_validate("{}").unwrap(), req(), 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a metrics query"), "{err}");
}

#[test]
fn series_cap_cuts_the_sorted_answer() {
    let spans = vec![
        service(span(1, 1, S, S), "c"),
        service(span(2, 1, S, S), "a"),
        service(span(3, 1, S, S), "b"),
    ];
    let expr = parse_and_validate("{} | rate() by (resource.service.name)").unwrap();
    let mut m = MetricsEval::new(&expr, req(), 100)
        .unwrap()
        .with_max_series(2);
    for t in traces(spans) {
        m.observe(&t).unwrap();
    }
    let out = m.finish_output().unwrap();
    assert!(out.partial);
    let names: Vec<_> = out.series.iter().map(|s| s.labels[0].1.clone()).collect();
    assert_eq!(names, vec![s("a"), s("b")]);
}

#[test]
fn counts_added_without_spans_answer_as_the_spans_do() {
    // Spans on interval edges and inside, two names, errors and not; the caller's SQL would
    // group them by `(ts - start - 1) / step` and hand each group's right edge.
    let spans: Vec<SpanData> = [
        (1, 0),
        (2, 1),
        (3, 10 * S),
        (4, 10 * S + 1),
        (5, 25 * S),
        (6, 30 * S),
        (7, -5 * S),
    ]
    .into_iter()
    .map(|(id, at)| {
        let s = span(id, id, at, S);
        status(
            s,
            if id % 2 == 0 {
                Status::Error
            } else {
                Status::Ok
            },
        )
    })
    .collect();
    for q in [
        "{ status = error } | count_over_time() by (name)",
        "{ } | rate()",
    ] {
        for request in [
            req(),
            MetricsRequest {
                step_ns: 30 * S,
                ..req()
            },
        ] {
            let want = eval(q, request, &traces(spans.clone())).unwrap();
            let expr = parse_and_validate(q).unwrap();
            let mut m = MetricsEval::new(&expr, request, 11_000).unwrap();
            let by = m.counting_by().expect("a counting query").to_vec();
            let (after, until) = m.window();
            let step = m.step_ns();
            let mut groups: std::collections::BTreeMap<(Vec<String>, i64), u64> =
                std::collections::BTreeMap::new();
            for s in &spans {
                let keep = !q.contains("error") || s.status == Status::Error;
                if !keep || s.start_unix_nano <= after || s.start_unix_nano > until {
                    continue;
                }
                let labels = by.iter().map(|_| s.name.clone()).collect();
                *groups
                    .entry((labels, (s.start_unix_nano - after - 1) / step))
                    .or_default() += 1;
            }
            for ((labels, b), n) in groups {
                let by = labels.into_iter().map(Value::String).collect();
                m.add_count(by, after + (b + 1) * step, n).unwrap();
            }
            assert_eq!(m.finish().unwrap(), want, "{q} step {}", request.step_ns);
        }
    }
    let expr = parse_and_validate("{ } | avg_over_time(duration)").unwrap();
    let mut m = MetricsEval::new(&expr, req(), 11_000).unwrap();
    assert!(m.counting_by().is_none());
    assert!(m.add_count(Vec::new(), T0, 1).is_err());
}
