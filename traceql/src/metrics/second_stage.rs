//! Second stages: `topk(n)`, `bottomk(n)` (Tempo's `TopKBottomK`, `processTopK` and
//! `processBottomK` in `pkg/traceql/engine_metrics.go`) and value filters (`> 10`).
//!
//! `topk(n)` chooses per interval: at each timestamp the `n` series with the highest values
//! there (NaN skipped; equal values favour the series whose labels sort first) keep that
//! value, and every other value becomes NaN; a series never chosen disappears. With `n` or
//! fewer series the stage changes nothing. `bottomk(n)` is the same with the lowest values.
//! A filter keeps the values that compare true with the threshold and makes the others NaN,
//! so a series without any value left disappears (durations compare in seconds, the unit
//! of duration series).

use std::cmp::Ordering;

use super::order::compare_labels;
use super::types::SeriesBuf;
use crate::ast::CmpOp;

/// A compiled second stage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stage {
    TopK(usize),
    BottomK(usize),
    Filter(CmpOp, f64),
}

/// `set` through `stages`, in order.
pub(crate) fn apply(stages: &[Stage], mut set: Vec<SeriesBuf>, count: usize) -> Vec<SeriesBuf> {
    for stage in stages {
        set = match *stage {
            Stage::TopK(n) => top(set, n, count, true),
            Stage::BottomK(n) => top(set, n, count, false),
            Stage::Filter(op, value) => filter(set, op, value),
        };
    }
    set
}

fn top(set: Vec<SeriesBuf>, n: usize, count: usize, highest: bool) -> Vec<SeriesBuf> {
    if set.len() <= n {
        return set;
    }
    // Per interval, which series keep their value there.
    let mut keep = vec![vec![false; set.len()]; count];
    let mut candidates: Vec<(usize, f64)> = Vec::with_capacity(set.len());
    for (i, chosen) in keep.iter_mut().enumerate() {
        candidates.clear();
        candidates.extend(
            set.iter()
                .enumerate()
                .filter_map(|(s, series)| series.values.get(i).map(|&v| (s, v)))
                .filter(|(_, v)| !v.is_nan()),
        );
        candidates.sort_by(|a, b| {
            let by_value = if highest {
                b.1.total_cmp(&a.1)
            } else {
                a.1.total_cmp(&b.1)
            };
            by_value.then_with(|| compare_labels(&set[a.0].labels, &set[b.0].labels))
        });
        for &(s, _) in candidates.iter().take(n) {
            chosen[s] = true;
        }
    }
    set.into_iter()
        .enumerate()
        .filter(|(s, _)| keep.iter().any(|chosen| chosen[*s]))
        .map(|(s, mut series)| {
            for (v, chosen) in series.values.iter_mut().zip(&keep) {
                if !chosen[s] {
                    *v = f64::NAN;
                }
            }
            series
        })
        .collect()
}

fn filter(set: Vec<SeriesBuf>, op: CmpOp, value: f64) -> Vec<SeriesBuf> {
    set.into_iter()
        .filter_map(|mut s| {
            for v in &mut s.values {
                let o = (*v).partial_cmp(&value);
                let keep = match op {
                    CmpOp::Eq => o == Some(Ordering::Equal),
                    CmpOp::Neq => matches!(o, Some(Ordering::Less | Ordering::Greater)),
                    CmpOp::Lt => o == Some(Ordering::Less),
                    CmpOp::Lte => matches!(o, Some(Ordering::Less | Ordering::Equal)),
                    CmpOp::Gt => o == Some(Ordering::Greater),
                    CmpOp::Gte => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
                };
                if !keep {
                    *v = f64::NAN;
                }
            }
            s.values.iter().any(|v| !v.is_nan()).then_some(s)
        })
        .collect()
}
