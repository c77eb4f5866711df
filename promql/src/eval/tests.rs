use super::*;
use crate::query::parse;
use crate::source::MemSource;

#[test]
fn rate_and_increase_sum_the_intervals_of_delta_series() {
    let name = |n: &str| Labels::new(vec![(METRIC_NAME.into(), n.into())]);
    let mut s = MemSource::new();
    // Every 15 s, 5 more (delta) or the running total (cumulative); one interval of 50.
    let mut total = 0.0;
    let (mut deltas, mut totals) = (Vec::new(), Vec::new());
    for k in 1..=40i64 {
        let inc = if k == 30 { 50.0 } else { 5.0 };
        total += inc;
        deltas.push((k * 15_000 + 700, inc));
        totals.push((k * 15_000 + 700, total));
    }
    s.append(name("d_total"), &deltas).unwrap();
    s.mark_delta(name("d_total"));
    s.append(name("c_total"), &totals).unwrap();
    let opts = Options::default();
    let at = |q: &str, t: i64| match instant(&s, &opts, &parse(q).unwrap(), t).unwrap().value {
        Value::Vector(v) if v.len() == 1 => v[0].v,
        other => panic!("{q}: {other:?}"),
    };
    // (420 s, 480 s] holds the intervals ending at 420.7, 435.7, 450.7 (the 50), 465.7 s.
    assert_eq!(at("increase(d_total[1m])", 480_000), 65.0);
    assert_eq!(at("rate(d_total[1m])", 480_000), 65.0 / 60.0);
    // The cumulative twin is extrapolated over the window as Prometheus does.
    let c = at("increase(c_total[1m])", 480_000);
    assert!((c - 65.0).abs() > 1e-9 && (c - 65.0).abs() < 30.0, "{c}");
    // Other functions see the stored increments.
    assert_eq!(at("sum_over_time(d_total[1m])", 480_000), 65.0);
    assert_eq!(at("d_total", 480_000), 5.0);
    // Range queries take the same path.
    let q = parse("increase(d_total[1m])").unwrap();
    let r = range(&s, &opts, &q, 480_000, 480_000, 1_000).unwrap();
    assert!(matches!(&r.value, Value::Matrix(m) if m[0].points == [(480_000, 65.0)]));
}

#[test]
fn extreme_times_offsets_and_ranges_evaluate_without_overflow() {
    let mut s = MemSource::new();
    s.append(
        Labels::new(vec![(METRIC_NAME.into(), "m".into())]),
        &[(0, 1.0), (60_000, 2.0)],
    )
    .unwrap();
    let opts = Options::default();
    for (q, t) in [
        ("m offset 100000000y", i64::MAX - 1),
        ("m offset -100000000y", i64::MIN + 1),
        ("rate(m[100000000y])", i64::MIN + 1),
        ("max_over_time(m[100000000y:100000000y])", i64::MAX),
        ("m @ 100000000000000", 0),
    ] {
        let q = parse(q).unwrap();
        assert!(instant(&s, &opts, &q, t).is_ok(), "{} at {t}", q.expr);
        assert!(range(&s, &opts, &q, t, t, 1).is_ok(), "{} at {t}", q.expr);
    }
    // Still exact in range: the last sample at 1m, seen from 2m.
    let q = parse("m").unwrap();
    let r = instant(&s, &opts, &q, 120_000).unwrap();
    assert!(matches!(&r.value, Value::Vector(v) if v.len() == 1 && v[0].v == 2.0));
}
