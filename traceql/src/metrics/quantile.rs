//! `quantile_over_time` from power-of-two buckets, as Tempo computes it: values rounded up to
//! a power of two (`Log2Bucketize`), counted per bucket and interval like
//! `histogram_over_time`, then per interval the quantile interpolated exponentially inside
//! the bucket it falls in (`Log2Quantile`), and exemplars handed to the quantile whose value
//! over the whole range is closest (`HistogramAggregator` in
//! `pkg/traceql/engine_metrics.go`).

use std::collections::HashMap;

use super::exemplars::{limit, BucketSet};
use super::interval::Intervals;
use super::types::{labels_key, LabelsKey, SeriesBuf, BUCKET_LABEL};
use crate::eval::Value;

/// The power of two at or above `v`; none below 2 (Tempo's `Log2Bucketize` returns -1,
/// and the span is dropped).
pub(crate) fn log2_bucket(v: u64) -> Option<f64> {
    if v < 2 {
        return None;
    }
    let bits = 64 - (v - 1).leading_zeros();
    // Go's `1 << 64` is 0.
    Some(1u64.checked_shl(bits).map_or(0.0, |b| b as f64))
}

/// Tempo's `Log2Quantile` over buckets `(upper bound, count)` sorted by bound.
pub(crate) fn log2_quantile(p: f64, buckets: &[(f64, u64)]) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) || buckets.is_empty() {
        return 0.0;
    }
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    if total == 0 {
        return 0.0;
    }
    // Round up, to better handle low counts; read at least one sample.
    let max_samples = ((p * total as f64).ceil() as u64).max(1);
    let mut seen = 0u64;
    let mut bucket = 0;
    for (i, &(max, count)) in buckets.iter().enumerate() {
        bucket = i;
        if seen + count > max_samples {
            break;
        }
        seen += count;
        if seen == max_samples {
            return max;
        }
    }
    let (max, count) = buckets[bucket];
    let interp = max_samples.saturating_sub(seen) as f64 / count as f64;
    let max_v = max.log2();
    let min_v = if bucket > 0 {
        buckets[bucket - 1].0.log2()
    } else {
        max_v - 1.0
    };
    (min_v + (max_v - min_v) * interp).exp2()
}

/// A series of the quantiles: its labels without `__bucket`, per interval the bucket
/// counts, and its exemplars.
struct Histogram {
    labels: Vec<(String, Value)>,
    intervals: Vec<Vec<(f64, u64)>>,
    exemplars: Vec<super::types::Exemplar>,
    taken: BucketSet,
}

/// The `p` series of `quantiles` from the bucket series (`__bucket` labels, counts per
/// interval), which come in the order the combiner reads them.
pub(crate) fn quantiles(
    buckets: Vec<SeriesBuf>,
    quantiles: &[f64],
    intervals: &Intervals,
    max_exemplars: usize,
) -> Vec<SeriesBuf> {
    let mut index: HashMap<LabelsKey, usize> = HashMap::new();
    let mut hists: Vec<Histogram> = Vec::new();
    for s in buckets {
        let bound = match s.label(BUCKET_LABEL) {
            Some(Value::Float(b)) => *b,
            _ => continue,
        };
        let labels: Vec<(String, Value)> = s
            .labels
            .iter()
            .filter(|(k, _)| k != BUCKET_LABEL)
            .cloned()
            .collect();
        let h = *index.entry(labels_key(&labels)).or_insert_with(|| {
            hists.push(Histogram {
                labels,
                intervals: vec![Vec::new(); intervals.count()],
                exemplars: Vec::new(),
                taken: BucketSet::new(max_exemplars, intervals),
            });
            hists.len() - 1
        });
        let hist = &mut hists[h];
        for (i, &count) in s.values.iter().enumerate() {
            if count == 0.0 || count.is_nan() {
                continue;
            }
            let Some(slot) = hist.intervals.get_mut(i) else {
                continue;
            };
            match slot.iter_mut().find(|b| b.0 == bound) {
                Some(b) => b.1 += count as u64,
                None => slot.push((bound, count as u64)),
            }
        }
        let taken = limit(s.exemplars, &mut hist.taken);
        hist.exemplars.extend(taken);
    }

    // The quantiles over every series and interval, which exemplars are matched against.
    let mut all: Vec<(f64, u64)> = Vec::new();
    for h in &hists {
        for slot in &h.intervals {
            for &(bound, count) in slot {
                match all.iter_mut().find(|b| b.0 == bound) {
                    Some(b) => b.1 += count,
                    None => all.push((bound, count)),
                }
            }
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let overall: Vec<f64> = quantiles.iter().map(|&q| log2_quantile(q, &all)).collect();

    let mut out = Vec::with_capacity(hists.len() * quantiles.len());
    for mut h in hists {
        for slot in &mut h.intervals {
            slot.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        for (qi, &q) in quantiles.iter().enumerate() {
            let mut labels = h.labels.clone();
            labels.push(("p".to_string(), Value::Float(q)));
            let values = h
                .intervals
                .iter()
                .map(|slot| {
                    if slot.is_empty() {
                        0.0
                    } else {
                        log2_quantile(q, slot)
                    }
                })
                .collect();
            let exemplars = h
                .exemplars
                .iter()
                .filter(|e| closest(e.value, &overall) == Some(qi))
                .cloned()
                .collect();
            out.push(SeriesBuf {
                labels,
                values,
                exemplars,
            });
        }
    }
    out
}

/// The quantile whose value is closest to `v` (the first of equals).
fn closest(v: f64, values: &[f64]) -> Option<usize> {
    let mut best = None;
    let mut best_diff = f64::INFINITY;
    for (i, q) in values.iter().enumerate() {
        let diff = (v - q).abs();
        if diff < best_diff {
            best_diff = diff;
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_next_power_of_two() {
        assert_eq!(log2_bucket(0), None);
        assert_eq!(log2_bucket(1), None);
        assert_eq!(log2_bucket(2), Some(2.0));
        assert_eq!(log2_bucket(3), Some(4.0));
        assert_eq!(log2_bucket(4), Some(4.0));
        assert_eq!(log2_bucket(1_000_000_000), Some(1_073_741_824.0));
    }

    #[test]
    fn quantiles_interpolate_exponentially() {
        // 10 values: 4 in (2, 4], 6 in (4, 8].
        let b = [(4.0, 4), (8.0, 6)];
        // p50: 5 samples, 4 consumed, 1/6 into (4, 8]: 2^(2 + 1/6).
        assert!((log2_quantile(0.5, &b) - 2f64.powf(2.0 + 1.0 / 6.0)).abs() < 1e-12);
        // p40 lands exactly on the first bucket's bound.
        assert_eq!(log2_quantile(0.4, &b), 4.0);
        // p0 reads one sample, 1/4 into the first bucket, assumed to start at 2.
        assert!((log2_quantile(0.0, &b) - 2f64.powf(1.25)).abs() < 1e-12);
        assert_eq!(log2_quantile(1.0, &b), 8.0);
        assert_eq!(log2_quantile(0.5, &[]), 0.0);
    }
}
