//! Recent samples kept in memory after their flush (the "hot window"), per series and in time
//! order, so that PromQL over the last hours (instant queries, dashboards over 1–6 h) reads
//! memory instead of decoding Parquet pages: Prometheus keeps its last 2–3 hours in its head
//! block for the same reason. The segments stay the durable copy; this is a read copy.
//!
//! Invariant: every sample of a published segment with a time at or after `covered_from` is
//! here (once: the first one flushed for a timestamp). A read whose window starts before
//! `covered_from` is not answered here and falls back to the segments. `covered_from` grows
//! when samples expire (older than the window) or memory runs over its bound; it moves back
//! only when a warm-up (after a restart) has read the window's samples back from the segments
//! that were live when it began, while flushes meanwhile kept theirs from the same time on.

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, UInt64Array};
use common::hash::IdMap;

/// How much is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotConfig {
    /// Samples newer than this (against the clock) are kept; 0 turns the hot window off.
    pub window_ms: i64,
    /// Most bytes of samples kept (16 per sample); past it the oldest are dropped.
    pub max_bytes: usize,
}

impl Default for HotConfig {
    fn default() -> Self {
        Self {
            window_ms: 3 * 3_600_000,
            max_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Bytes a kept sample costs.
const SAMPLE_BYTES: usize = 16;

#[derive(Debug, Default)]
struct SeriesBuf {
    ts: Vec<i64>,
    vals: Vec<f64>,
}

/// The hot samples of one tenant.
#[derive(Debug)]
pub(crate) struct HotSamples {
    config: HotConfig,
    covered_from: i64,
    series: IdMap<SeriesBuf>,
    samples: usize,
    /// The oldest sample time kept (a lower bound), to expire only when it is worth a pass.
    oldest: i64,
    /// The time a warm-up under way reads segments back from.
    warming: Option<i64>,
    /// The latest time everything before which was dropped.
    dropped_before: i64,
}

/// Flushed samples ready to go into [`HotSamples`]: per series, in time order, from `from` on.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    from: i64,
    series: Vec<(u64, Vec<i64>, Vec<f64>)>,
}

impl HotSamples {
    /// An empty store that vouches for every sample at or after `covered_from` (the first time
    /// after every sample already in segments).
    pub(crate) fn new(config: HotConfig, covered_from: i64) -> Self {
        Self {
            config,
            covered_from,
            series: IdMap::default(),
            samples: 0,
            oldest: i64::MAX,
            warming: None,
            dropped_before: i64::MIN,
        }
    }

    /// The time from which flushed samples must be kept, at clock time `now_ms`.
    pub(crate) fn keep_from(&self, now_ms: i64) -> i64 {
        match self.warming {
            // The warm-up will vouch for its start: flushes meanwhile keep from there too.
            Some(from) => from.min(self.covered_from),
            None => self
                .covered_from
                .max(now_ms.saturating_sub(self.config.window_ms)),
        }
    }

    /// Begins a warm-up at clock time `now_ms`: returns the time from which the caller must
    /// read back the samples of the segments live now (and hand them to
    /// [`Self::finish_warming`]), or `None` when there is nothing to gain.
    pub(crate) fn start_warming(&mut self, now_ms: i64) -> Option<i64> {
        let from = now_ms.saturating_sub(self.config.window_ms);
        if self.config.window_ms <= 0 || self.warming.is_some() || self.covered_from <= from {
            return None;
        }
        self.warming = Some(from);
        Some(from)
    }

    /// Ends a warm-up with the samples read back (`None`: it failed, coverage stays as it was).
    /// For a timestamp both hold, the read-back sample (flushed earlier) wins.
    pub(crate) fn finish_warming(&mut self, read: Option<Prepared>, now_ms: i64) {
        let Some(from) = self.warming.take() else {
            return;
        };
        let Some(read) = read else { return };
        let from = from.max(self.dropped_before);
        for (id, ts, vals) in read.series {
            let keep = ts.partition_point(|&t| t < from);
            let (ts, vals) = (&ts[keep..], &vals[keep..]);
            let Some(&first) = ts.first() else { continue };
            self.oldest = self.oldest.min(first);
            let buf = self.series.entry(id).or_default();
            let before = buf.ts.len();
            merge(buf, ts, vals, true);
            self.samples += buf.ts.len() - before;
        }
        self.covered_from = self.covered_from.min(from);
        self.expire(now_ms);
    }

    /// Adds the samples of a segment being published, then drops what is older than the
    /// window (or over the memory bound).
    pub(crate) fn insert(&mut self, prepared: Prepared, now_ms: i64) {
        if self.config.window_ms <= 0 {
            return;
        }
        // Earlier flushes kept everything from their own `from` on, which is at most this one.
        self.covered_from = self.covered_from.max(prepared.from);
        for (id, ts, vals) in prepared.series {
            let Some(&first) = ts.first() else { continue };
            self.oldest = self.oldest.min(first);
            let buf = self.series.entry(id).or_default();
            let before = buf.ts.len();
            if buf.ts.last().is_none_or(|&last| last < first) {
                buf.ts.extend_from_slice(&ts);
                buf.vals.extend_from_slice(&vals);
            } else {
                merge(buf, &ts, &vals, false);
            }
            self.samples += buf.ts.len() - before;
        }
        self.expire(now_ms);
    }

    /// Drops samples older than the window, and the oldest past the memory bound.
    fn expire(&mut self, now_ms: i64) {
        let window = self.config.window_ms;
        let mut cutoff = now_ms.saturating_sub(window);
        // Expiring shifts every buffer: do it once an eighth of the window has gone by.
        if self.oldest < cutoff.saturating_sub(window / 8) {
            self.drop_before(cutoff);
        }
        while self.samples * SAMPLE_BYTES > self.config.max_bytes {
            cutoff = cutoff.max(self.oldest).saturating_add((window / 8).max(1));
            self.drop_before(cutoff);
        }
    }

    fn drop_before(&mut self, cutoff: i64) {
        let mut oldest = i64::MAX;
        let mut samples = 0;
        self.series.retain(|_, buf| {
            let n = buf.ts.partition_point(|&t| t < cutoff);
            buf.ts.drain(..n);
            buf.vals.drain(..n);
            if let Some(&t) = buf.ts.first() {
                oldest = oldest.min(t);
            }
            samples += buf.ts.len();
            !buf.ts.is_empty()
        });
        self.oldest = oldest;
        self.samples = samples;
        self.covered_from = self.covered_from.max(cutoff);
        self.dropped_before = self.dropped_before.max(cutoff);
    }

    /// The samples in `[lo, hi]` of each series of `ids`, in time order, appended to `out`
    /// (one list per id); `false` (and nothing read) when the window starts before what this
    /// store covers.
    pub(crate) fn read(&self, ids: &[u64], lo: i64, hi: i64, out: &mut [Vec<(i64, f64)>]) -> bool {
        if self.config.window_ms <= 0 || lo < self.covered_from {
            return false;
        }
        // In chunks: first every buffer's newest sample is loaded (independent loads that miss
        // the cache together), then the windows are searched in what is by then cached; one
        // buffer at a time, each search would wait for its own misses in turn.
        const CHUNK: usize = 32;
        for (ids, out) in ids.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let mut bufs = [None; CHUNK];
            for (b, id) in bufs.iter_mut().zip(ids) {
                *b = self.series.get(id);
            }
            let mut touched = 0.0;
            for buf in bufs.iter().flatten() {
                touched += buf.vals.last().copied().unwrap_or_default();
                touched += buf.ts.last().copied().unwrap_or_default() as f64;
            }
            std::hint::black_box(touched);
            for (buf, list) in bufs.iter().zip(out.iter_mut()) {
                if let Some(buf) = buf {
                    extend_window(&buf.ts, &buf.vals, lo, hi, list);
                }
            }
        }
        true
    }

    /// Samples and bytes held.
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.samples, self.samples * SAMPLE_BYTES)
    }
}

/// Appends the samples of time-ordered `ts`/`vals` in `[lo, hi]` to `out`.
pub(crate) fn extend_window(ts: &[i64], vals: &[f64], lo: i64, hi: i64, out: &mut Vec<(i64, f64)>) {
    let b = partition_from_end(ts, ts.len(), |t| t <= hi);
    let a = partition_from_end(ts, b, |t| t < lo);
    out.extend(ts[a..b].iter().copied().zip(vals[a..b].iter().copied()));
}

/// The partition point of `pred` (true for a prefix of `ts[..end]`) in `ts[..end]`, searched
/// from the end: steps of 1, 2, 4, ... back, then a binary search within the last step. Recent
/// windows (dashboards, rules) end at or near the newest sample, so this touches the last cache
/// lines only, where a binary search over the whole buffer would miss the cache once a probe.
pub(crate) fn partition_from_end(ts: &[i64], end: usize, pred: impl Fn(i64) -> bool) -> usize {
    let mut hi = end;
    let mut step = 1;
    loop {
        if hi == 0 {
            return 0;
        }
        let probe = hi.saturating_sub(step);
        if pred(ts[probe]) {
            return probe + 1 + ts[probe + 1..hi].partition_point(|&t| pred(t));
        }
        hi = probe;
        step *= 2;
    }
}

/// Merges sorted `ts`/`vals` into `buf`. For a timestamp both hold, the sample flushed first
/// stays (as segment reads keep the first one read): the one already there, or the incoming
/// one when `incoming_first` (samples read back from older segments).
fn merge(buf: &mut SeriesBuf, ts: &[i64], vals: &[f64], incoming_first: bool) {
    let (old_ts, old_vals) = (std::mem::take(&mut buf.ts), std::mem::take(&mut buf.vals));
    let mut out_ts = Vec::with_capacity(old_ts.len() + ts.len());
    let mut out_vals = Vec::with_capacity(old_ts.len() + ts.len());
    let (mut i, mut j) = (0, 0);
    while i < old_ts.len() || j < ts.len() {
        let take_old = j >= ts.len() || (i < old_ts.len() && old_ts[i] <= ts[j]);
        if take_old {
            let tie = j < ts.len() && old_ts[i] == ts[j];
            out_ts.push(old_ts[i]);
            out_vals.push(if tie && incoming_first {
                vals[j]
            } else {
                old_vals[i]
            });
            if tie {
                j += 1;
            }
            i += 1;
        } else {
            out_ts.push(ts[j]);
            out_vals.push(vals[j]);
            j += 1;
        }
    }
    buf.ts = out_ts;
    buf.vals = out_vals;
}

/// The samples of flushed `batches` (the `samples` schema) at or after `from`, grouped by
/// series in time order, the first of each timestamp kept.
pub(crate) fn prepare(batches: &[RecordBatch], from: i64) -> Prepared {
    let mut rows: Vec<(u64, i64, f64)> = Vec::new();
    collect(batches, from, &mut rows);
    group(rows, from)
}

/// Appends the `(series, time, value)` rows of `batches` at or after `from` to `rows`.
pub(crate) fn collect(batches: &[RecordBatch], from: i64, rows: &mut Vec<(u64, i64, f64)>) {
    for b in batches {
        let col = |name: &str| b.column_by_name(name).map(|c| c.as_any());
        let (Some(ids), Some(ts), Some(vals)) = (
            col("series_id").and_then(|c| c.downcast_ref::<UInt64Array>()),
            col("timestamp_ms").and_then(|c| c.downcast_ref::<Int64Array>()),
            col("value").and_then(|c| c.downcast_ref::<Float64Array>()),
        ) else {
            continue;
        };
        for i in 0..b.num_rows() {
            let t = ts.value(i);
            if t >= from && !ids.is_null(i) {
                rows.push((ids.value(i), t, vals.value(i)));
            }
        }
    }
}

/// `rows` (in flush order) grouped by series in time order, the first of each timestamp kept.
pub(crate) fn group(mut rows: Vec<(u64, i64, f64)>, from: i64) -> Prepared {
    // Stable: of the rows of one series and timestamp, the first flushed stays first.
    rows.sort_by_key(|r| (r.0, r.1));
    rows.dedup_by_key(|r| (r.0, r.1));
    let mut series: Vec<(u64, Vec<i64>, Vec<f64>)> = Vec::new();
    for (id, t, v) in rows {
        match series.last_mut() {
            Some(s) if s.0 == id => {
                s.1.push(t);
                s.2.push(v);
            }
            _ => series.push((id, vec![t], vec![v])),
        }
    }
    Prepared { from, series }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn batch(rows: &[(u64, i64, f64)]) -> RecordBatch {
        RecordBatch::try_new(
            common::schema::samples_schema(),
            vec![
                Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(arrow::array::StringArray::from_iter_values(
                    rows.iter().map(|_| "m"),
                )),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap()
    }

    fn read(h: &HotSamples, ids: &[u64], lo: i64, hi: i64) -> Option<Vec<Vec<(i64, f64)>>> {
        let mut out = vec![Vec::new(); ids.len()];
        h.read(ids, lo, hi, &mut out).then_some(out)
    }

    const CONFIG: HotConfig = HotConfig {
        window_ms: 1_000,
        max_bytes: 1 << 20,
    };

    proptest::proptest! {
        #[test]
        fn searching_from_the_end_finds_the_partition_points(
            mut ts in proptest::collection::vec(-50i64..50, 0..80),
            lo in -60i64..60,
            len in 0i64..40,
        ) {
            ts.sort_unstable();
            let vals: Vec<f64> = ts.iter().map(|&t| t as f64).collect();
            let hi = lo + len;
            let mut got = Vec::new();
            extend_window(&ts, &vals, lo, hi, &mut got);
            let want: Vec<(i64, f64)> = ts
                .iter()
                .filter(|&&t| t >= lo && t <= hi)
                .map(|&t| (t, t as f64))
                .collect();
            proptest::prop_assert_eq!(got, want);
            for end in [0, ts.len() / 2, ts.len()] {
                proptest::prop_assert_eq!(
                    partition_from_end(&ts, end, |t| t < lo),
                    ts[..end].partition_point(|&t| t < lo)
                );
            }
        }
    }

    #[test]
    fn reads_answer_only_inside_what_is_covered_and_keep_the_first_sample_of_a_timestamp() {
        let mut h = HotSamples::new(CONFIG, 100);
        let now = 1_000;
        // Rows before 100 are in older segments: not kept, never read from here.
        let p = prepare(
            &[batch(&[(1, 150, 1.0), (2, 120, 2.0), (1, 50, 9.0)])],
            h.keep_from(now),
        );
        h.insert(p, now);
        // A later flush with an older row, a repeated timestamp and an out-of-order merge.
        let p = prepare(
            &[batch(&[
                (1, 140, 3.0),
                (1, 150, 7.0),
                (1, 200, 4.0),
                (1, 200, 8.0),
            ])],
            h.keep_from(now),
        );
        h.insert(p, now);
        assert_eq!(read(&h, &[1, 2], 50, 1_000), None, "starts before coverage");
        assert_eq!(
            read(&h, &[2, 1, 3], 100, 1_000).unwrap(),
            vec![
                vec![(120, 2.0)],
                vec![(140, 3.0), (150, 1.0), (200, 4.0)],
                vec![]
            ]
        );
        assert_eq!(read(&h, &[1], 141, 199).unwrap(), vec![vec![(150, 1.0)]]);
        // Both ends are inclusive.
        assert_eq!(
            read(&h, &[1], 140, 150).unwrap(),
            vec![vec![(140, 3.0), (150, 1.0)]]
        );
        assert_eq!(h.size().0, 4);
    }

    #[test]
    fn samples_expire_with_the_window_and_the_memory_bound() {
        let mut h = HotSamples::new(CONFIG, i64::MIN);
        let rows: Vec<(u64, i64, f64)> = (0..100i64)
            .map(|i| (i as u64 % 4, i * 100, i as f64))
            .collect();
        // At 5,000 the window keeps 4,000 on: coverage starts there, older rows are skipped.
        let p = prepare(&[batch(&rows)], h.keep_from(5_000));
        h.insert(p, 5_000);
        assert_eq!(read(&h, &[0], 3_999, 10_000), None);
        let all = read(&h, &[0, 1, 2, 3], 4_000, 10_000).unwrap();
        assert_eq!(all.iter().map(Vec::len).sum::<usize>(), 60);
        // Time passes: 1,300 later (past an eighth of the window) the oldest go.
        h.insert(Prepared::default(), 6_300);
        assert_eq!(read(&h, &[0], 5_000, 10_000).map(|r| r[0].len()), None);
        let all = read(&h, &[0, 1, 2, 3], 5_300, 10_000).unwrap();
        assert_eq!(all.iter().map(Vec::len).sum::<usize>(), 47);
        assert_eq!(h.size().0, 47);
        // Over the memory bound: the oldest go until it fits, and coverage moves with them.
        h.config.max_bytes = 20 * SAMPLE_BYTES;
        h.insert(Prepared::default(), 6_300);
        assert!(h.size().1 <= 20 * SAMPLE_BYTES, "{:?}", h.size());
        assert!(h.covered_from > 5_300);
        let kept = read(&h, &[0, 1, 2, 3], h.covered_from, 10_000).unwrap();
        assert_eq!(kept.iter().map(Vec::len).sum::<usize>(), h.size().0);
    }

    #[test]
    fn a_warm_up_reads_the_window_back_while_flushes_go_on() {
        // After a restart: segments hold samples up to 5,000; coverage starts after them.
        let mut h = HotSamples::new(CONFIG, 5_001);
        let from = h.start_warming(5_500).unwrap();
        assert_eq!(from, 4_500);
        assert!(h.start_warming(5_500).is_none(), "one warm-up at a time");
        // A flush meanwhile keeps its samples from the warm-up's start on.
        let later = 5_600;
        assert_eq!(h.keep_from(later), 4_500);
        let flushed = batch(&[(1, 4_550, 9.0), (1, 5_200, 2.0)]);
        h.insert(prepare(&[flushed], h.keep_from(later)), later);
        // Until the warm-up ends, only times after the old segments are answered here.
        assert_eq!(read(&h, &[1], 4_600, 6_000), None);
        assert_eq!(
            read(&h, &[1], 5_001, 6_000).unwrap(),
            vec![vec![(5_200, 2.0)]]
        );
        // The samples read back; at 4,550 the older segment's sample wins.
        let back = group(
            vec![
                (1, 4_400, 0.5),
                (1, 4_550, 1.0),
                (1, 4_900, 1.5),
                (2, 4_800, 7.0),
            ],
            from,
        );
        h.finish_warming(Some(back), later);
        assert_eq!(
            read(&h, &[1, 2], 4_500, 6_000).unwrap(),
            vec![
                vec![(4_550, 1.0), (4_900, 1.5), (5_200, 2.0)],
                vec![(4_800, 7.0)]
            ]
        );
        assert_eq!(read(&h, &[1], 4_499, 6_000), None);
        assert_eq!(h.size().0, 4);

        // A warm-up that failed leaves coverage where it was.
        let mut h = HotSamples::new(CONFIG, 5_001);
        h.start_warming(5_500).unwrap();
        h.finish_warming(None, 5_500);
        assert_eq!(read(&h, &[1], 4_600, 6_000), None);
        assert_eq!(read(&h, &[1], 5_001, 6_000), Some(vec![vec![]]));
    }

    #[test]
    fn a_zero_window_keeps_nothing_and_answers_nothing() {
        let config = HotConfig {
            window_ms: 0,
            ..CONFIG
        };
        let mut h = HotSamples::new(config, i64::MIN);
        h.insert(prepare(&[batch(&[(1, 5, 1.0)])], i64::MIN), 10);
        assert_eq!(h.size(), (0, 0));
        assert_eq!(read(&h, &[1], 0, 10), None);
    }
}
