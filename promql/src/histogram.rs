//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` over classic
//! histograms (`le` buckets).

use std::collections::HashMap;

use crate::error::Result;
use crate::ev::Ev;
use crate::value::{almost_equal, format_value, parse_number, Labels, Sample, METRIC_NAME};

/// Relative tolerance under which bucket counts count as equal (floating-point noise).
const SMALL_DELTA: f64 = 1e-12;

/// Sorts the buckets by upper bound; false when the highest is not `+Inf` (or there is none).
fn sort_buckets(buckets: &mut [(f64, f64)]) -> bool {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    buckets.last().is_some_and(|b| b.0 == f64::INFINITY)
}

/// Prometheus's `coalesceBuckets`: buckets with one upper bound merged (input sorted).
fn coalesce(buckets: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(ub, c) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    merged
}

/// Prometheus's `BucketQuantile`: the quantile, and whether the counts had to be made
/// monotonic.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    if !sort_buckets(buckets) {
        return (f64::NAN, false);
    }
    let mut b = coalesce(buckets);
    let mut forced = false;
    let mut prev = b[0].1;
    for x in b.iter_mut().skip(1) {
        let cur = x.1;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, SMALL_DELTA) {
            x.1 = prev;
            continue;
        }
        if cur < prev {
            x.1 = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    if b.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = b[b.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let idx = b[..b.len() - 1].partition_point(|x| x.1 < rank);
    if idx == b.len() - 1 {
        return (b[b.len() - 2].0, forced);
    }
    if idx == 0 && b[0].0 <= 0.0 {
        return (b[0].0, forced);
    }
    let (mut start, end, mut count) = (0.0, b[idx].0, b[idx].1);
    if idx > 0 {
        start = b[idx - 1].0;
        count -= b[idx - 1].1;
        rank -= b[idx - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Prometheus's `BucketFraction`: the share of the observations of classic buckets between
/// `lower` and `upper`, interpolating linearly inside a bucket. The lowest bucket starts at 0
/// when its upper bound is above 0 and at -Inf otherwise; nothing is interpolated in a bucket
/// with an infinite bound, so the +Inf bucket adds nothing unless `upper` is +Inf.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if !sort_buckets(buckets) {
        return f64::NAN;
    }
    let b = coalesce(buckets);
    let count = b[b.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    // The rank of `v` inside the bucket (lb, ub] of cumulative count `c`, the buckets below
    // holding `rank`.
    let interpolate = |v: f64, lb: f64, ub: f64, c: f64, rank: f64| {
        if lb == f64::NEG_INFINITY {
            c
        } else {
            rank + (c - rank) * (v - lb) / (ub - lb)
        }
    };
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lb = if b[0].0 <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, &(ub, c)) in b.iter().enumerate() {
        if i > 0 {
            lb = b[i - 1].0;
        }
        if !lower_set && lb >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lb >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lb < lower && ub > lower {
            lower_rank = interpolate(lower, lb, ub, c, rank);
            lower_set = true;
        }
        if !upper_set && lb < upper && ub > upper {
            upper_rank = interpolate(upper, lb, ub, c, rank);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        // Classic bucket counts are cumulative.
        rank = c;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// The classic histograms of `v` (its samples grouped by their labels without `le`), in
/// order of first appearance; a sample whose `le` is missing or malformed is left out with a
/// warning at argument `arg` (the vector) of `func`.
fn classic_histograms(
    ev: &mut Ev<'_>,
    v: Vec<Sample>,
    func: &str,
    arg: usize,
) -> Vec<(Labels, Vec<(f64, f64)>)> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in v {
        let le = s
            .labels
            .get("le")
            .and_then(parse_number)
            .filter(|x| !x.is_nan());
        let Some(le) = le else {
            let name = s.labels.name().unwrap_or("").to_string();
            let at = ev.arg_offset(func, arg);
            ev.warn(
                &format!(
                    "bucket label \"le\" is missing or has a malformed value of \"{}\" for metric name \"{name}\"",
                    s.labels.get("le").unwrap_or("")
                ),
                at,
            );
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        let g = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push((le, s.v));
    }
    groups
}

/// The warning for a quantile (argument `arg` of `func`) outside [0, 1].
fn warn_invalid_quantile(ev: &mut Ev<'_>, q: f64, func: &str, arg: usize) {
    if !(0.0..=1.0).contains(&q) {
        let at = ev.arg_offset(func, arg);
        ev.warn(
            &format!(
                "quantile value should be between 0 and 1, got {}",
                format_value(q)
            ),
            at,
        );
    }
}

/// The info that the buckets of `labels` (argument `arg` of `func`) were not monotonic.
fn forced_monotonicity_info(ev: &mut Ev<'_>, labels: &Labels, func: &str, arg: usize) {
    let name = labels.get(METRIC_NAME).unwrap_or("");
    let at = ev.arg_offset(func, arg);
    ev.info(
        &format!(
            "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"{name}\""
        ),
        at,
    );
}

/// `histogram_quantile(q, v)` over the classic buckets in `v`.
pub(crate) fn classic_quantile(ev: &mut Ev<'_>, q: f64, v: Vec<Sample>) -> Result<Vec<Sample>> {
    warn_invalid_quantile(ev, q, "histogram_quantile", 0);
    let groups = classic_histograms(ev, v, "histogram_quantile", 1);
    let mut out = Vec::with_capacity(groups.len());
    for (labels, mut buckets) in groups {
        let (v, forced) = bucket_quantile(q, &mut buckets);
        if forced {
            forced_monotonicity_info(ev, &labels, "histogram_quantile", 1);
        }
        out.push(Sample {
            labels,
            t: 0,
            v,
            drop_name: true,
        });
    }
    Ok(out)
}

/// `histogram_quantiles(v, label, q0, q1, …)` over the classic buckets in `v`: per quantile,
/// `histogram_quantile(q, v)` with `label` set to the quantile (as OpenMetrics writes a
/// float: `0.0`, `0.25`, `1.0`, `NaN`). Quantile by quantile, as Prometheus orders them.
pub(crate) fn classic_quantiles(
    ev: &mut Ev<'_>,
    label: &str,
    qs: &[f64],
    v: Vec<Sample>,
) -> Result<Vec<Sample>> {
    for (i, &q) in qs.iter().enumerate() {
        warn_invalid_quantile(ev, q, "histogram_quantiles", i + 2);
    }
    let mut groups = classic_histograms(ev, v, "histogram_quantiles", 0);
    let mut out = Vec::with_capacity(groups.len() * qs.len());
    for &q in qs {
        let value = format_open_metrics_float(q);
        for (labels, buckets) in &mut groups {
            let (v, forced) = bucket_quantile(q, buckets);
            if forced {
                forced_monotonicity_info(ev, labels, "histogram_quantiles", 0);
            }
            let mut labels = labels.clone();
            labels.set(label, &value);
            out.push(Sample {
                labels,
                t: 0,
                v,
                drop_name: true,
            });
        }
    }
    Ok(out)
}

/// `histogram_fraction(lower, upper, v)` over the classic buckets in `v`.
pub(crate) fn classic_fraction(
    ev: &mut Ev<'_>,
    lower: f64,
    upper: f64,
    v: Vec<Sample>,
) -> Result<Vec<Sample>> {
    let groups = classic_histograms(ev, v, "histogram_fraction", 2);
    Ok(groups
        .into_iter()
        .map(|(labels, mut buckets)| Sample {
            labels,
            t: 0,
            v: bucket_fraction(lower, upper, &mut buckets),
            drop_name: true,
        })
        .collect())
}

/// Prometheus's `labels.FormatOpenMetricsFloat`: Go's `FormatFloat(f, 'g', -1, 64)` (shortest
/// digits, in exponent form when the decimal exponent is below -4 or at least 6, as `1e-05`,
/// `1e+06`), with `.0` appended to what would read as an integer.
pub(crate) fn format_open_metrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f == f64::INFINITY {
        return "+Inf".into();
    }
    if f == f64::NEG_INFINITY {
        return "-Inf".into();
    }
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((e.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        s + ".0"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_of_classic_buckets_interpolates_linearly() {
        let b = || vec![(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (f64::INFINITY, 100.0)];
        assert!((bucket_fraction(0.0, 1.5, &mut b()) - 0.02).abs() < 1e-12);
        assert_eq!(bucket_fraction(400.0, f64::INFINITY, &mut b()), 0.94);
        assert_eq!(bucket_fraction(4.0, 5.0, &mut b()), 0.0);
        assert_eq!(bucket_fraction(3.0, 2.0, &mut b()), 0.0);
        assert!(bucket_fraction(f64::NAN, 1.0, &mut b()).is_nan());
        let neg = || {
            vec![
                (-3.0, 10.0),
                (-2.0, 12.0),
                (-1.0, 15.0),
                (f64::INFINITY, 100.0),
            ]
        };
        assert!((bucket_fraction(-4.0, -2.0, &mut neg()) - 0.02).abs() < 1e-12);
        assert!((bucket_fraction(f64::NEG_INFINITY, -1.5, &mut neg()) - 0.135).abs() < 1e-12);
        assert!(bucket_fraction(0.0, 1.0, &mut [(1.0, 0.0), (f64::INFINITY, 0.0)]).is_nan());
    }

    #[test]
    fn quantile_labels_read_as_openmetrics_floats() {
        assert_eq!(format_open_metrics_float(0.0), "0.0");
        assert_eq!(format_open_metrics_float(1.0), "1.0");
        assert_eq!(format_open_metrics_float(0.25), "0.25");
        assert_eq!(format_open_metrics_float(-0.1), "-0.1");
        assert_eq!(format_open_metrics_float(f64::NAN), "NaN");
        assert_eq!(format_open_metrics_float(0.00001), "1e-05");
        assert_eq!(format_open_metrics_float(123456.0), "123456.0");
        assert_eq!(format_open_metrics_float(1234567.0), "1.234567e+06");
    }
}
