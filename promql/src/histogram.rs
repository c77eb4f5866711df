//! `histogram_quantile` over classic histograms (`le` buckets).

use std::collections::HashMap;

use crate::error::Result;
use crate::ev::Ev;
use crate::value::{almost_equal, format_value, parse_number, Labels, Sample, METRIC_NAME};

/// Relative tolerance under which bucket counts count as equal (floating-point noise).
const SMALL_DELTA: f64 = 1e-12;

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
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Coalesce buckets with one upper bound.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(ub, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    let mut b = merged;
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

/// `histogram_quantile(q, v)` over the classic buckets in `v`.
pub(crate) fn classic_quantile(ev: &mut Ev<'_>, q: f64, v: Vec<Sample>) -> Result<Vec<Sample>> {
    if !(0.0..=1.0).contains(&q) {
        let at = ev.arg_offset("histogram_quantile", 0);
        ev.warn(
            &format!(
                "quantile value should be between 0 and 1, got {}",
                format_value(q)
            ),
            at,
        );
    }
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
            let at = ev.arg_offset("histogram_quantile", 1);
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
    let mut out = Vec::with_capacity(groups.len());
    for (labels, mut buckets) in groups {
        let (v, forced) = bucket_quantile(q, &mut buckets);
        if forced {
            let name = labels.get(METRIC_NAME).unwrap_or("");
            let at = ev.arg_offset("histogram_quantile", 1);
            ev.info(
                &format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"{name}\""
                ),
                at,
            );
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
