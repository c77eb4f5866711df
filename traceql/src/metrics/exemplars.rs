//! Which exemplars reach the answer, as Tempo's combiners keep them: spread over time by
//! `limitedBucketSet` (`pkg/traceql/util.go`: the aligned range cut into `limit / 2`
//! buckets of at most 2 exemplars each, at most `limit` in all), dropped where the series
//! has no value (`SeriesSet.ToProto`), and a placeholder value (NaN, for counting
//! functions) replaced by the series' value in the same interval (`attachExemplars` in
//! `modules/frontend/combiner/metrics_query_range.go`).

use super::interval::Intervals;
use super::types::{Exemplar, Series, SeriesBuf, MAX_EXEMPLARS};

const PER_BUCKET: usize = 2;

/// Tempo's `limitedBucketSet`.
#[derive(Debug)]
pub(crate) struct BucketSet {
    buckets: Vec<usize>,
    total: usize,
    max_total: usize,
    start_ms: i64,
    end_ms: i64,
    width: i64,
}

impl BucketSet {
    /// A set taking at most `limit` (capped at 100) exemplars over `intervals`' range.
    pub(crate) fn new(limit: usize, intervals: &Intervals) -> BucketSet {
        let max_total = if limit == 0 || limit > MAX_EXEMPLARS {
            MAX_EXEMPLARS
        } else {
            limit
        };
        let sz = (max_total / PER_BUCKET).max(1);
        let (start_ms, end_ms) = intervals.range_ms();
        // Go divides by a zero width and panics; one millisecond stands in for it.
        let width = ((end_ms - start_ms) / sz as i64).max(1);
        BucketSet {
            buckets: vec![0; sz],
            total: 0,
            max_total,
            start_ms,
            end_ms,
            width,
        }
    }

    /// Whether the set is full.
    pub(crate) fn full(&self) -> bool {
        self.total >= self.max_total
    }

    /// Takes an exemplar at `ts_ms` when it is in range and its bucket has room.
    pub(crate) fn take(&mut self, ts_ms: i64) -> bool {
        if ts_ms < self.start_ms || ts_ms > self.end_ms || self.full() {
            return false;
        }
        let sz = self.buckets.len();
        let i = if self.start_ms == self.end_ms {
            0
        } else {
            usize::try_from((ts_ms - self.start_ms) / self.width)
                .unwrap_or(0)
                .min(sz - 1)
        };
        if self.buckets[i] >= PER_BUCKET {
            return false;
        }
        self.buckets[i] += 1;
        self.total += 1;
        true
    }
}

/// Drops the exemplars of `s` that fall outside the intervals or where `s` has no value,
/// as the querier's `ToProto` does before the frontend combines.
pub(crate) fn keep_valued(s: &mut SeriesBuf, intervals: &Intervals) {
    let values = &s.values;
    s.exemplars.retain(|e| {
        intervals
            .of_ms(e.timestamp_ms)
            .and_then(|i| values.get(i))
            .is_some_and(|v| !v.is_nan())
    });
}

/// Keeps, in order, the exemplars `bucket` takes.
pub(crate) fn limit(exemplars: Vec<Exemplar>, bucket: &mut BucketSet) -> Vec<Exemplar> {
    let mut out = Vec::new();
    for e in exemplars {
        if bucket.full() {
            break;
        }
        if bucket.take(e.timestamp_ms) {
            out.push(e);
        }
    }
    out
}

/// Gives a placeholder (NaN) exemplar the value of the series' sample in its interval.
pub(crate) fn attach(s: &mut Series, intervals: &Intervals) {
    for e in &mut s.exemplars {
        if !e.value.is_nan() {
            continue;
        }
        let Some(want) = intervals.of_ms(e.timestamp_ms) else {
            continue;
        };
        if let Some((_, v)) = s
            .samples
            .iter()
            .find(|(ts, _)| intervals.of_ms(*ts) == Some(want))
        {
            e.value = *v;
        }
    }
}
