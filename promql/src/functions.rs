//! PromQL functions (float samples; native histograms are not supported yet).

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr, VectorSelector};

use crate::aggregate::{avg, kahan_inc, quantile};

use crate::error::{exec_err, Result};
use crate::ev::{ms, Ev, RangeArg, Val};
use crate::select::Stepped;
use crate::value::format_value;
use crate::value::{Labels, Sample, Series, METRIC_NAME};

/// Go's `math.Max` (NaN wins; +0 over -0).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn arg(c: &Call, i: usize) -> Result<&Expr> {
    match c.args.args.get(i) {
        Some(a) => Ok(a),
        None => exec_err(format!("{}: missing argument {}", c.func.name, i + 1)),
    }
}

/// Applies `f` to every sample's value, dropping the metric name.
fn map_values(v: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    v.into_iter()
        .map(|mut s| {
            s.v = f(s.v);
            s.drop_name = true;
            s
        })
        .collect()
}

pub(crate) fn call(ev: &mut Ev<'_>, c: &Call, t: i64) -> Result<Val> {
    let name = c.func.name;
    let simple: Option<fn(f64) -> f64> = match name {
        "abs" => Some(f64::abs),
        "ceil" => Some(f64::ceil),
        "floor" => Some(f64::floor),
        "exp" => Some(f64::exp),
        "ln" => Some(f64::ln),
        "log2" => Some(f64::log2),
        "log10" => Some(f64::log10),
        "sqrt" => Some(f64::sqrt),
        "sin" => Some(f64::sin),
        "cos" => Some(f64::cos),
        "tan" => Some(f64::tan),
        "asin" => Some(f64::asin),
        "acos" => Some(f64::acos),
        "atan" => Some(f64::atan),
        "sinh" => Some(f64::sinh),
        "cosh" => Some(f64::cosh),
        "tanh" => Some(f64::tanh),
        "asinh" => Some(f64::asinh),
        "acosh" => Some(f64::acosh),
        "atanh" => Some(f64::atanh),
        "deg" => Some(|v: f64| v * 180.0 / std::f64::consts::PI),
        "rad" => Some(|v: f64| v * std::f64::consts::PI / 180.0),
        "sgn" => Some(|v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        }),
        _ => None,
    };
    if let Some(f) = simple {
        let v = ev.vector(arg(c, 0)?, t)?;
        return Ok(Val::Vector(map_values(v, f)));
    }
    match name {
        "time" => Ok(Val::Scalar(t as f64 / 1000.0)),
        "step" => Ok(Val::Scalar(ev.step as f64 / 1000.0)),
        "range" => Ok(Val::Scalar((ev.end - ev.start) as f64 / 1000.0)),
        "start" => Ok(Val::Scalar(ev.start as f64 / 1000.0)),
        "end" => Ok(Val::Scalar(ev.end as f64 / 1000.0)),
        "min_of" | "max_of" => {
            let a = ev.scalar(arg(c, 0)?, t)?;
            let b = ev.scalar(arg(c, 1)?, t)?;
            Ok(Val::Scalar(if name == "min_of" {
                go_min(a, b)
            } else {
                go_max(a, b)
            }))
        }
        "pi" => Ok(Val::Scalar(std::f64::consts::PI)),
        "vector" => {
            let v = ev.scalar(arg(c, 0)?, t)?;
            Ok(Val::Vector(vec![Sample {
                labels: Labels::default(),
                t,
                v,
                drop_name: false,
            }]))
        }
        "scalar" => {
            let v = ev.vector(arg(c, 0)?, t)?;
            Ok(Val::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }))
        }
        "round" => {
            let v = ev.vector(arg(c, 0)?, t)?;
            let to = match c.args.args.get(1) {
                Some(e) => ev.scalar(e, t)?,
                None => 1.0,
            };
            let inv = 1.0 / to;
            Ok(Val::Vector(map_values(v, |x| {
                (x * inv + 0.5).floor() / inv
            })))
        }
        "clamp" => {
            let v = ev.vector(arg(c, 0)?, t)?;
            let lo = ev.scalar(arg(c, 1)?, t)?;
            let hi = ev.scalar(arg(c, 2)?, t)?;
            if hi < lo {
                return Ok(Val::Vector(Vec::new()));
            }
            Ok(Val::Vector(map_values(v, |x| go_max(lo, go_min(hi, x)))))
        }
        "clamp_min" => {
            let v = ev.vector(arg(c, 0)?, t)?;
            let lo = ev.scalar(arg(c, 1)?, t)?;
            Ok(Val::Vector(map_values(v, |x| go_max(lo, x))))
        }
        "clamp_max" => {
            let v = ev.vector(arg(c, 0)?, t)?;
            let hi = ev.scalar(arg(c, 1)?, t)?;
            Ok(Val::Vector(map_values(v, |x| go_min(hi, x))))
        }
        "timestamp" => {
            let e = arg(c, 0)?;
            let selector = matches!(unparen(e), Expr::VectorSelector(_));
            let v = ev.vector(e, t)?;
            Ok(Val::Vector(
                v.into_iter()
                    .map(|mut s| {
                        let ts = if selector { s.t } else { t };
                        s.v = ts as f64 / 1000.0;
                        s.drop_name = true;
                        s
                    })
                    .collect(),
            ))
        }
        "minute" | "hour" | "day_of_week" | "day_of_month" | "day_of_year" | "days_in_month"
        | "month" | "year" => {
            let v = match c.args.args.first() {
                Some(e) => ev.vector(e, t)?,
                None => vec![Sample {
                    labels: Labels::default(),
                    t,
                    v: t as f64 / 1000.0,
                    drop_name: false,
                }],
            };
            Ok(Val::Vector(map_values(v, |x| date_part(name, x))))
        }
        "sort" | "sort_desc" => {
            sort_in_range_query_warning(ev, name);
            let mut v = ev.vector(arg(c, 0)?, t)?;
            let desc = name == "sort_desc";
            v.sort_by(|a, b| {
                // NaN goes last either way.
                match (a.v.is_nan(), b.v.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if desc => b.v.partial_cmp(&a.v).unwrap_or(std::cmp::Ordering::Equal),
                    _ => a.v.partial_cmp(&b.v).unwrap_or(std::cmp::Ordering::Equal),
                }
            });
            Ok(Val::Vector(v))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            sort_in_range_query_warning(ev, name);
            let mut v = ev.vector(arg(c, 0)?, t)?;
            let mut names = Vec::new();
            for e in &c.args.args[1..] {
                names.push(ev.string(e, t)?);
            }
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                for n in &names {
                    let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                    if x != y {
                        let o = natural_cmp(x, y);
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.labels.compare(&b.labels);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
            Ok(Val::Vector(v))
        }
        "label_replace" => label_replace(ev, c, t),
        "label_join" => label_join(ev, c, t),
        "absent" => {
            let e = arg(c, 0)?;
            let v = ev.vector(e, t)?;
            if !v.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            Ok(Val::Vector(vec![Sample {
                labels: absent_labels(e),
                t,
                v: 1.0,
                drop_name: false,
            }]))
        }
        "absent_over_time" => {
            let e = arg(c, 0)?;
            let r = ev.range_arg(e, t)?;
            if !r.series.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            Ok(Val::Vector(vec![Sample {
                labels: absent_labels(e),
                t,
                v: 1.0,
                drop_name: false,
            }]))
        }
        "histogram_quantile" => {
            let q = ev.scalar(arg(c, 0)?, t)?;
            let v = ev.vector(arg(c, 1)?, t)?;
            crate::histogram::classic_quantile(ev, q, v).map(Val::Vector)
        }
        "histogram_quantiles" => {
            let v = ev.vector(arg(c, 0)?, t)?;
            let label = ev.string(arg(c, 1)?, t)?;
            let mut qs = Vec::with_capacity(c.args.args.len().saturating_sub(2));
            for e in c.args.args.iter().skip(2) {
                qs.push(ev.scalar(e, t)?);
            }
            crate::histogram::classic_quantiles(ev, &label, &qs, v).map(Val::Vector)
        }
        "histogram_fraction" => {
            let lower = ev.scalar(arg(c, 0)?, t)?;
            let upper = ev.scalar(arg(c, 1)?, t)?;
            let v = ev.vector(arg(c, 2)?, t)?;
            crate::histogram::classic_fraction(ev, lower, upper, v).map(Val::Vector)
        }
        "quantile_over_time" => {
            let q = ev.scalar(arg(c, 0)?, t)?;
            if !(0.0..=1.0).contains(&q) {
                let at = ev.arg_offset(name, 0);
                ev.warn(
                    &format!(
                        "quantile value should be between 0 and 1, got {}",
                        format_value(q)
                    ),
                    at,
                );
            }
            let r = ev.range_arg(arg(c, 1)?, t)?;
            Ok(Val::Vector(over_time(r, true, |p| {
                let mut vals: Vec<f64> = p.iter().map(|x| x.1).collect();
                Some(quantile(q, &mut vals))
            })))
        }
        "predict_linear" => {
            let r = ev.range_arg(arg(c, 0)?, t)?;
            let d = ev.scalar(arg(c, 1)?, t)?;
            // Prometheus takes the intercept at the evaluation time, not at the end of the
            // window: `@` and `offset` move the window, the prediction stays relative to `t`.
            let at = t;
            Ok(Val::Vector(over_time(r, true, |p| {
                if p.len() < 2 {
                    return None;
                }
                let (slope, intercept) = linear_regression(p, at);
                Some(slope * d + intercept)
            })))
        }
        "double_exponential_smoothing" | "holt_winters" => {
            let r = ev.range_arg(arg(c, 0)?, t)?;
            let sf = ev.scalar(arg(c, 1)?, t)?;
            let tf = ev.scalar(arg(c, 2)?, t)?;
            if sf <= 0.0 || sf >= 1.0 {
                return exec_err(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                ));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return exec_err(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                ));
            }
            Ok(Val::Vector(over_time(r, true, |p| holt_winters(p, sf, tf))))
        }
        "rate" | "increase" | "delta" => {
            let e = arg(c, 0)?;
            let counter = name != "delta";
            let is_rate = name == "rate";
            if let Expr::MatrixSelector(m) = unparen(e) {
                let range = ms(&m.range);
                let mut had_points = Vec::new();
                let key = c as *const Call as usize;
                let how = Stepped {
                    drop_name: true,
                    resets: counter,
                };
                let stepped = ev.stepped(
                    key,
                    m,
                    t,
                    how,
                    &mut had_points,
                    |p, start, end, delta, resets| {
                        if counter && delta {
                            delta_increase(p, range, is_rate)
                        } else {
                            let resets = Resets { known: resets };
                            extrapolated_rate(p, start, end, range, counter, is_rate, resets)
                        }
                    },
                )?;
                if let Some(v) = stepped {
                    if counter && !had_points.is_empty() {
                        let at = ev.arg_offset(name, 0);
                        let series = ev.series_of(&m.vs)?;
                        for (s, _) in series.iter().zip(&had_points).filter(|(_, &h)| h) {
                            not_a_counter_info(ev, &s.labels, at);
                        }
                    }
                    return Ok(Val::Vector(v));
                }
            }
            let r = ev.range_arg(e, t)?;
            if counter {
                let at = ev.arg_offset(name, 0);
                for s in &r.series {
                    not_a_counter_info(ev, &s.labels, at);
                }
            }
            let (start, end, range) = (r.start, r.end, r.range);
            let mut out = Vec::with_capacity(r.series.len());
            for (s, delta) in r.series.into_iter().zip(r.delta) {
                let p = &s.points;
                let v = if p.is_empty() {
                    None
                } else if counter && delta {
                    delta_increase(p, range, is_rate)
                } else {
                    extrapolated_rate(p, start, end, range, counter, is_rate, Resets::default())
                };
                if let Some(v) = v {
                    out.push(Sample {
                        labels: s.labels,
                        t: end,
                        v,
                        drop_name: true,
                    });
                }
            }
            Ok(Val::Vector(out))
        }
        _ => {
            let Some(f) = range_fn(name) else {
                return exec_err(format!("function {name} is not supported"));
            };
            let keep_name = matches!(name, "last_over_time" | "first_over_time");
            if let Expr::MatrixSelector(m) = unparen(arg(c, 0)?) {
                let key = c as *const Call as usize;
                let how = Stepped {
                    drop_name: !keep_name,
                    resets: false,
                };
                let stepped = ev.stepped(key, m, t, how, &mut Vec::new(), |p, _, _, _, _| f(p))?;
                if let Some(v) = stepped {
                    return Ok(Val::Vector(v));
                }
            }
            let r = ev.range_arg(arg(c, 0)?, t)?;
            Ok(Val::Vector(over_time(r, !keep_name, f)))
        }
    }
}

/// The info Prometheus gives when `rate`/`increase` reads a series whose name does not look
/// like a counter's.
fn not_a_counter_info(ev: &mut Ev<'_>, labels: &Labels, at: Option<usize>) {
    if let Some(n) = labels.name() {
        if !["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|suf| n.ends_with(suf))
        {
            ev.info(
                &format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {n:?}"
                ),
                at,
            );
        }
    }
}

/// Prometheus warns that `sort`/`sort_desc`/`sort_by_label`/`sort_by_label_desc` do nothing
/// in a range query (its series always come in label order), at the call.
fn sort_in_range_query_warning(ev: &mut Ev<'_>, name: &str) {
    if ev.start != ev.end {
        let at = ev.call_offset(name);
        ev.warn(
            "sort is ineffective for range queries since results are always ordered by labels",
            at,
        );
    }
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        e => e,
    }
}

type RangeFn = fn(&[(i64, f64)]) -> Option<f64>;

fn range_fn(name: &str) -> Option<RangeFn> {
    Some(match name {
        "irate" => |p| instant_value(p, true),
        "idelta" => |p| instant_value(p, false),
        "deriv" => |p| {
            if p.len() < 2 {
                return None;
            }
            Some(linear_regression(p, p[0].0).0)
        },
        "changes" => |p| {
            let mut n = 0.0;
            for w in p.windows(2) {
                let (a, b) = (w[0].1, w[1].1);
                if a != b && !(a.is_nan() && b.is_nan()) {
                    n += 1.0;
                }
            }
            Some(n)
        },
        "resets" => |p| Some(p.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64),
        "avg_over_time" => |p| Some(avg(&p.iter().map(|x| x.1).collect::<Vec<_>>())),
        "sum_over_time" => |p| {
            let (mut s, mut c) = (0.0, 0.0);
            for x in p {
                (s, c) = kahan_inc(x.1, s, c);
            }
            Some(if s.is_infinite() { s } else { s + c })
        },
        "count_over_time" => |p| Some(p.len() as f64),
        "min_over_time" => |p| {
            let mut m = p[0].1;
            for x in p {
                if x.1 < m || m.is_nan() {
                    m = x.1;
                }
            }
            Some(m)
        },
        "max_over_time" => |p| {
            let mut m = p[0].1;
            for x in p {
                if x.1 > m || m.is_nan() {
                    m = x.1;
                }
            }
            Some(m)
        },
        "last_over_time" => |p| p.last().map(|x| x.1),
        "first_over_time" => |p| p.first().map(|x| x.1),
        "present_over_time" => |_| Some(1.0),
        "stddev_over_time" => |p| Some(stdvar_over_time(p).sqrt()),
        "stdvar_over_time" => |p| Some(stdvar_over_time(p)),
        "mad_over_time" => |p| {
            // A NaN sample makes the median, and so the deviation, undefined (Prometheus
            // propagates it rather than sorting it first).
            if p.iter().any(|x| x.1.is_nan()) {
                return Some(f64::NAN);
            }
            let mut vals: Vec<f64> = p.iter().map(|x| x.1).collect();
            let median = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = vals.iter().map(|v| (v - median).abs()).collect();
            Some(quantile(0.5, &mut dev))
        },
        "ts_of_min_over_time" => |p| {
            let mut best = p[0];
            for &x in p {
                if x.1 <= best.1 || best.1.is_nan() {
                    best = x;
                }
            }
            Some(best.0 as f64 / 1000.0)
        },
        "ts_of_max_over_time" => |p| {
            let mut best = p[0];
            for &x in p {
                if x.1 >= best.1 || best.1.is_nan() {
                    best = x;
                }
            }
            Some(best.0 as f64 / 1000.0)
        },
        "ts_of_last_over_time" => |p| p.last().map(|x| x.0 as f64 / 1000.0),
        "ts_of_first_over_time" => |p| p.first().map(|x| x.0 as f64 / 1000.0),
        _ => return None,
    })
}

/// One output sample per input series with points, from `f` of its points.
fn over_time(
    r: RangeArg,
    drop_name: bool,
    mut f: impl FnMut(&[(i64, f64)]) -> Option<f64>,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(r.series.len());
    for Series {
        labels,
        points,
        drop_name: dropped,
    } in r.series
    {
        if points.is_empty() {
            continue;
        }
        if let Some(v) = f(&points) {
            out.push(Sample {
                labels,
                t: r.end,
                v,
                drop_name: drop_name || dropped,
            });
        }
    }
    out
}

fn stdvar_over_time(p: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(_, v) in p {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

fn instant_value(p: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (last, prev) = (p[p.len() - 1], p[p.len() - 2]);
    let mut v = if is_rate && last.1 < prev.1 {
        last.1
    } else {
        last.1 - prev.1
    };
    let interval = last.0 - prev.0;
    if interval == 0 {
        return None;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// `increase` (or `rate`, per second of `range_ms`) of a series of per-interval increments
/// (OTLP delta temporality): the sum of the increments in the window, each interval ending in
/// it; no extrapolation, as the intervals tile the time the exporter measured.
fn delta_increase(p: &[(i64, f64)], range_ms: i64, is_rate: bool) -> Option<f64> {
    let mut sum = 0.0;
    let mut c = 0.0;
    for &(_, v) in p {
        (sum, c) = kahan_inc(v, sum, c);
    }
    let total = sum + c;
    Some(if is_rate {
        total / (range_ms as f64 / 1000.0)
    } else {
        total
    })
}

/// Prometheus's `extrapolatedRate` for floats.
/// The counter resets of a window when they are known already: the value before each drop,
/// in order (`None`: find them in the points).
#[derive(Default, Clone, Copy)]
struct Resets<'a> {
    known: Option<&'a [f64]>,
}

fn extrapolated_rate(
    p: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    counter: bool,
    is_rate: bool,
    resets: Resets<'_>,
) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let n1 = p.len() - 1;
    let (first_t, last_t) = (p[0].0, p[n1].0);
    let mut result = p[n1].1 - p[0].1;
    if counter {
        match resets.known {
            // The same additions in the same order as the scan below.
            Some(prevs) => {
                for &prev in prevs {
                    result += prev;
                }
            }
            None => {
                let mut prev = p[0].1;
                for &(_, v) in &p[1..] {
                    if v < prev {
                        result += prev;
                    }
                    prev = v;
                }
            }
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_between = sampled / n1 as f64;
    let threshold = avg_between * 1.1;
    if to_start >= threshold {
        to_start = avg_between / 2.0;
    }
    if counter && result > 0.0 && p[0].1 >= 0.0 {
        let to_zero = sampled * (p[0].1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_between / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Least-squares slope and intercept (at `intercept_ms`) of the points, as Prometheus's
/// `linearRegression`.
fn linear_regression(p: &[(i64, f64)], intercept_ms: i64) -> (f64, f64) {
    let init = p[0].1;
    let mut const_y = true;
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &(t, v)) in p.iter().enumerate() {
        if const_y && i > 0 && v != init {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_ms) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn holt_winters(p: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, p[0].1);
    let mut b = p[1].1 - p[0].1;
    for (i, &(_, v)) in p.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// The labels `absent` gives: the equality matchers of a selector argument.
fn absent_labels(e: &Expr) -> Labels {
    let vs: Option<&VectorSelector> = match unparen(e) {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(m) => Some(&m.vs),
        _ => None,
    };
    let Some(vs) = vs else {
        return Labels::default();
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut dup: Vec<String> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if let MatchOp::Equal = m.op {
            if pairs.iter().any(|(n, _)| n == &m.name) {
                dup.push(m.name.clone());
            } else {
                pairs.push((m.name.clone(), m.value.clone()));
            }
        } else if pairs.iter().any(|(n, _)| n == &m.name) {
            dup.push(m.name.clone());
        }
    }
    pairs.retain(|(n, _)| !dup.contains(n));
    Labels::new(pairs)
}

fn label_replace(ev: &mut Ev<'_>, c: &Call, t: i64) -> Result<Val> {
    let v = ev.vector(arg(c, 0)?, t)?;
    let dst = ev.string(arg(c, 1)?, t)?;
    let repl = ev.string(arg(c, 2)?, t)?;
    let src = ev.string(arg(c, 3)?, t)?;
    let re = ev.string(arg(c, 4)?, t)?;
    let regex = regex::Regex::new(&format!("^(?s:{re})$")).or_else(|e| {
        exec_err(format!(
            "invalid regular expression in label_replace(): {re}: {e}"
        ))
    })?;
    // A character U+0080..U+00FF may come from a `\xNN` escape, which Prometheus reads as
    // one byte: invalid UTF-8, so no valid label name.
    let maybe_escaped_byte = dst.chars().any(|ch| ('\u{80}'..='\u{ff}').contains(&ch));
    if dst.is_empty()
        || (maybe_escaped_byte && ev.invalid_utf8_literal("label_replace", 1).is_some())
    {
        return exec_err(format!(
            "invalid destination label name in label_replace(): {dst}"
        ));
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let value = s.labels.get(&src).unwrap_or("").to_string();
        if let Some(caps) = regex.captures(&value) {
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            s.labels.set(&dst, &res);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    Ok(Val::Vector(out))
}

fn label_join(ev: &mut Ev<'_>, c: &Call, t: i64) -> Result<Val> {
    let v = ev.vector(arg(c, 0)?, t)?;
    let dst = ev.string(arg(c, 1)?, t)?;
    let sep = ev.string(arg(c, 2)?, t)?;
    let mut src = Vec::new();
    for e in &c.args.args[3..] {
        src.push(ev.string(e, t)?);
    }
    if dst.is_empty() {
        return exec_err(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let joined: Vec<&str> = src.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
        let joined = joined.join(&sep);
        s.labels.set(&dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        out.push(s);
    }
    Ok(Val::Vector(out))
}

/// Compares strings with runs of digits compared as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|b| b.is_ascii_digit()).count();
                let ny = y.iter().take_while(|b| b.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = dx.iter().skip_while(|&&b| b == b'0').count();
                let ty = dy.iter().skip_while(|&&b| b == b'0').count();
                let o = tx.cmp(&ty).then_with(|| dx[nx - tx..].cmp(&dy[ny - ty..]));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn date_part(name: &str, secs: f64) -> f64 {
    if secs.is_nan() || secs.is_infinite() {
        return f64::NAN;
    }
    let s = secs as i64;
    let days = s.div_euclid(86_400);
    let in_day = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let month_len = [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    match name {
        "minute" => (in_day / 60 % 60) as f64,
        "hour" => (in_day / 3600) as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_month" => d as f64,
        "day_of_year" => (month_len[..(m - 1) as usize].iter().sum::<i64>() + d as i64) as f64,
        "days_in_month" => month_len[(m - 1) as usize] as f64,
        "month" => m as f64,
        "year" => y as f64,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_parts_of_unix_seconds() {
        // 2024-02-29T13:45:00Z, a Thursday.
        let t = 1_709_214_300.0;
        assert_eq!(date_part("year", t), 2024.0);
        assert_eq!(date_part("month", t), 2.0);
        assert_eq!(date_part("day_of_month", t), 29.0);
        assert_eq!(date_part("days_in_month", t), 29.0);
        assert_eq!(date_part("day_of_year", t), 60.0);
        assert_eq!(date_part("day_of_week", t), 4.0);
        assert_eq!(date_part("hour", t), 13.0);
        assert_eq!(date_part("minute", t), 45.0);
        assert_eq!(date_part("year", 0.0), 1970.0);
    }

    #[test]
    fn natural_order_compares_numbers_by_value() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("a2", "a10"), Less);
        assert_eq!(natural_cmp("a10", "a10"), Equal);
        assert_eq!(natural_cmp("b", "a10"), Greater);
    }
}
