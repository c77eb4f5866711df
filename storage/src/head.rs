//! The head of one tenant and signal: unflushed Arrow batches in WAL order, the frozen batches
//! of a flush under way, and the live segments, all behind one lock so that a query snapshot
//! sees every row exactly once.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use common::hash::IdMap;
use common::{Signal, Tenant};
use parking_lot::RwLock;

use crate::engine::Rows;
use crate::hot::{HotConfig, HotSamples, Prepared};
use crate::manifest::SegmentMeta;
use crate::read::MetricRead;
use crate::series::retain_new;

/// Rows not yet in a segment.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) batches: Vec<RecordBatch>,
    /// For metrics: the rows of every distinct series that `batches` reference.
    pub(crate) series: Vec<RecordBatch>,
    /// Ids of the series in `series`.
    series_seen: common::hash::IdSet,
    /// For metrics: exemplars of the rows in `batches` (schema `common::schema::exemplars_schema`).
    pub(crate) exemplars: Vec<RecordBatch>,
    /// For metrics: the samples of `batches` again, per series in arrival order, so that a query
    /// reads the series it selects rather than scanning every batch (16 bytes a sample, counted
    /// in `bytes`).
    by_series: IdMap<HeadSeries>,
    pub(crate) bytes: u64,
    pub(crate) rows: u64,
    /// Lowest WAL sequence number in this head.
    pub(crate) first_lsn: Option<u64>,
    /// Highest WAL sequence number in this head.
    pub(crate) max_lsn: u64,
    /// Clock time (ns) the first batch arrived.
    pub(crate) since_nanos: Option<i64>,
}

/// One series' samples in a head, in arrival order.
#[derive(Debug, Default)]
struct HeadSeries {
    ts: Vec<i64>,
    vals: Vec<f64>,
    /// Every time is above the one before (arrival order is time order).
    ordered: bool,
}

/// Bytes a sample takes in [`HeadSeries`].
const HEAD_SAMPLE_BYTES: u64 = 16;
/// Bytes a series takes in the per-series map besides its samples.
const HEAD_SERIES_BYTES: u64 = 80;

impl HeadSeries {
    fn push(&mut self, t: i64, v: f64) {
        if self.ts.is_empty() {
            self.ordered = true;
        } else if self.ordered && self.ts.last().is_some_and(|&last| t <= last) {
            self.ordered = false;
        }
        self.ts.push(t);
        self.vals.push(v);
    }

    /// Appends the samples in `[lo, hi]` to `out`, in arrival order.
    fn read(&self, lo: i64, hi: i64, out: &mut Vec<(i64, f64)>) {
        if self.ordered {
            crate::hot::extend_window(&self.ts, &self.vals, lo, hi, out);
        } else {
            out.extend(
                self.ts
                    .iter()
                    .copied()
                    .zip(self.vals.iter().copied())
                    .filter(|&(t, _)| t >= lo && t <= hi),
            );
        }
    }

    fn any_in(&self, lo: i64, hi: i64) -> bool {
        if self.ordered {
            let a = crate::hot::partition_from_end(&self.ts, self.ts.len(), |t| t < lo);
            self.ts.get(a).is_some_and(|&t| t <= hi)
        } else {
            self.ts.iter().any(|&t| t >= lo && t <= hi)
        }
    }
}

impl Head {
    fn push(&mut self, rows: Rows, lsn: u64, now: i64) {
        let Rows {
            batch,
            series,
            exemplars,
        } = rows;
        self.bytes += batch.get_array_memory_size() as u64;
        self.rows += batch.num_rows() as u64;
        // Metrics batches only (the others have no `series_id`).
        self.bytes += self.index_samples(&batch);
        self.batches.push(batch);
        if let Some(s) = series.and_then(|s| retain_new(&mut self.series_seen, &s)) {
            self.bytes += s.get_array_memory_size() as u64;
            self.series.push(s);
        }
        if let Some(e) = exemplars.filter(|e| e.num_rows() > 0) {
            self.bytes += e.get_array_memory_size() as u64;
            self.exemplars.push(e);
        }
        self.first_lsn.get_or_insert(lsn);
        self.max_lsn = self.max_lsn.max(lsn);
        self.since_nanos.get_or_insert(now);
    }

    /// Adds the samples of `batch` (the `samples` schema) to the per-series map; returns the
    /// bytes added.
    fn index_samples(&mut self, batch: &RecordBatch) -> u64 {
        let col = |name: &str| batch.column_by_name(name);
        let (Some(ids), Some(ts), Some(vals)) = (
            col("series_id").and_then(|c| c.as_primitive_opt::<UInt64Type>()),
            col("timestamp_ms").and_then(|c| c.as_primitive_opt::<Int64Type>()),
            col("value").and_then(|c| c.as_primitive_opt::<Float64Type>()),
        ) else {
            return 0;
        };
        let (ids, ts, vals) = (ids.values(), ts.values(), vals.values());
        let mut added = ids.len() as u64 * HEAD_SAMPLE_BYTES;
        let mut i = 0;
        // Conversion writes each series' samples next to each other: one look-up per run.
        while i < ids.len() {
            let id = ids[i];
            let end = ids[i..]
                .iter()
                .position(|&x| x != id)
                .map_or(ids.len(), |n| i + n);
            let entry = self.by_series.entry(id).or_insert_with(|| {
                added += HEAD_SERIES_BYTES;
                HeadSeries::default()
            });
            for k in i..end {
                entry.push(ts[k], vals[k]);
            }
            i = end;
        }
        added
    }

    /// Appends the samples in `[lo, hi]` of each series of `ids` to `out` (one list per id).
    fn read_series(&self, ids: &[u64], lo: i64, hi: i64, out: &mut [Vec<(i64, f64)>]) {
        if self.by_series.is_empty() {
            return;
        }
        for (id, list) in ids.iter().zip(out.iter_mut()) {
            if let Some(s) = self.by_series.get(id) {
                s.read(lo, hi, list);
            }
        }
    }

    /// Puts the rows of a failed flush back in front of this head.
    fn prepend(&mut self, mut older: Head) {
        for (id, mut newer) in std::mem::take(&mut self.by_series) {
            let entry = older.by_series.entry(id).or_default();
            for (t, v) in newer.ts.drain(..).zip(newer.vals.drain(..)) {
                entry.push(t, v);
            }
        }
        self.by_series = std::mem::take(&mut older.by_series);
        older.batches.append(&mut self.batches);
        older.series.append(&mut self.series);
        older.exemplars.append(&mut self.exemplars);
        self.series_seen.extend(older.series_seen);
        self.batches = older.batches;
        self.series = older.series;
        self.exemplars = older.exemplars;
        self.bytes += older.bytes;
        self.rows += older.rows;
        self.first_lsn = older.first_lsn.or(self.first_lsn);
        self.max_lsn = self.max_lsn.max(older.max_lsn);
        self.since_nanos = older.since_nanos.or(self.since_nanos);
    }
}

/// The rows of a head frozen for a flush.
pub(crate) struct Frozen {
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) series: Vec<RecordBatch>,
    pub(crate) exemplars: Vec<RecordBatch>,
    pub(crate) max_lsn: u64,
}

/// Everything the lock guards.
#[derive(Debug, Default)]
pub(crate) struct TableInner {
    pub(crate) head: Head,
    pub(crate) flushing: Option<Head>,
    pub(crate) segments: Vec<SegmentMeta>,
    /// Highest WAL sequence number held by a committed segment.
    pub(crate) flushed_lsn: u64,
    /// For metrics: the recent samples of the segments, in memory (see [`crate::hot`]).
    pub(crate) hot: Option<HotSamples>,
}

impl TableInner {
    /// The batches of the frozen head, then the live one, that `pick` chooses from each.
    pub(crate) fn unflushed(&self, pick: impl Fn(&Head) -> &Vec<RecordBatch>) -> Vec<RecordBatch> {
        let frozen = self.flushing.as_ref().map_or(&[][..], |h| pick(h));
        frozen.iter().chain(pick(&self.head)).cloned().collect()
    }
}

/// One tenant and signal.
#[derive(Debug)]
pub(crate) struct TableState {
    pub(crate) tenant: Tenant,
    pub(crate) signal: Signal,
    pub(crate) inner: RwLock<TableInner>,
    /// Last manifest sequence number this process committed or loaded; held during a commit.
    pub(crate) manifest_seq: tokio::sync::Mutex<u64>,
}

impl TableState {
    pub(crate) fn new(
        tenant: Tenant,
        signal: Signal,
        segments: Vec<SegmentMeta>,
        manifest_seq: u64,
        hot: HotConfig,
    ) -> Self {
        let flushed_lsn = segments.iter().map(|s| s.max_lsn).max().unwrap_or(0);
        // The hot window starts empty: it vouches only for times after every segment's rows.
        let hot = (signal == Signal::Metrics && hot.window_ms > 0).then(|| {
            let after = segments.iter().map(|s| s.max_time.saturating_add(1)).max();
            HotSamples::new(hot, after.unwrap_or(i64::MIN))
        });
        Self {
            tenant,
            signal,
            inner: RwLock::new(TableInner {
                segments,
                flushed_lsn,
                hot,
                ..Default::default()
            }),
            manifest_seq: tokio::sync::Mutex::new(manifest_seq),
        }
    }

    /// Adds acknowledged rows; returns the bytes added.
    pub(crate) fn insert(&self, rows: Rows, lsn: u64, now: i64) -> u64 {
        let mut inner = self.inner.write();
        let before = inner.head.bytes;
        inner.head.push(rows, lsn, now);
        inner.head.bytes - before
    }

    /// Freezes the head for a flush; `None` when it is empty or a flush is under way.
    pub(crate) fn freeze(&self) -> Option<Frozen> {
        let mut inner = self.inner.write();
        if inner.flushing.is_some() || inner.head.batches.is_empty() {
            return None;
        }
        let head = std::mem::take(&mut inner.head);
        let out = Frozen {
            batches: head.batches.clone(),
            series: head.series.clone(),
            exemplars: head.exemplars.clone(),
            max_lsn: head.max_lsn,
        };
        inner.flushing = Some(head);
        Some(out)
    }

    /// The exemplars not yet in a segment (frozen and live), and the live segments, seen at
    /// one instant.
    pub(crate) fn exemplars(&self) -> (Vec<RecordBatch>, Vec<SegmentMeta>) {
        let inner = self.inner.read();
        (inner.unflushed(|h| &h.exemplars), inner.segments.clone())
    }

    /// Publishes a committed segment in place of the frozen head, with its recent samples
    /// (`hot`, prepared from [`Self::hot_keep_from`]); returns the bytes released.
    pub(crate) fn publish(&self, segment: SegmentMeta, hot: Option<Prepared>, now_ms: i64) -> u64 {
        let mut inner = self.inner.write();
        inner.flushed_lsn = inner.flushed_lsn.max(segment.max_lsn);
        inner.segments.push(segment);
        if let (Some(store), Some(prepared)) = (inner.hot.as_mut(), hot) {
            store.insert(prepared, now_ms);
        }
        inner.flushing.take().map(|h| h.bytes).unwrap_or(0)
    }

    /// The time from which the next flush must hand its samples to the hot window; `None`
    /// without one.
    pub(crate) fn hot_keep_from(&self, now_ms: i64) -> Option<i64> {
        let inner = self.inner.read();
        inner.hot.as_ref().map(|h| h.keep_from(now_ms))
    }

    /// The samples in `[lo, hi]` of each series of `ids`, seen at one instant: the flushed ones
    /// from the hot window when it covers `lo` (else the segments to read them from), and the
    /// unflushed ones from the heads' per-series maps (frozen head first).
    pub(crate) fn metric_read(&self, ids: &[u64], lo: i64, hi: i64) -> MetricRead {
        let inner = self.inner.read();
        let mut hot = vec![Vec::new(); ids.len()];
        let hot = match inner.hot.as_ref() {
            Some(h) if h.read(ids, lo, hi, &mut hot) => Some(hot),
            _ => None,
        };
        let segments = if hot.is_some() {
            Vec::new()
        } else {
            inner
                .segments
                .iter()
                .filter(|s| s.max_time >= lo && s.min_time <= hi)
                .cloned()
                .collect()
        };
        let mut head = vec![Vec::new(); ids.len()];
        if let Some(frozen) = &inner.flushing {
            frozen.read_series(ids, lo, hi, &mut head);
        }
        inner.head.read_series(ids, lo, hi, &mut head);
        MetricRead {
            hot,
            segments,
            head,
        }
    }

    /// Whether each series of `ids` has an unflushed sample in `[lo, hi]`.
    pub(crate) fn head_presence(&self, ids: &[u64], lo: i64, hi: i64) -> Vec<bool> {
        let inner = self.inner.read();
        let heads = [inner.flushing.as_ref(), Some(&inner.head)];
        ids.iter()
            .map(|id| {
                heads
                    .iter()
                    .flatten()
                    .any(|h| h.by_series.get(id).is_some_and(|s| s.any_in(lo, hi)))
            })
            .collect()
    }

    /// Begins a warm-up of the hot window (see [`HotSamples::start_warming`]): the time to
    /// read back from, and the segments live now, whose samples from then on are to be read.
    pub(crate) fn start_hot_warming(&self, now_ms: i64) -> Option<(i64, Vec<SegmentMeta>)> {
        let mut inner = self.inner.write();
        let from = inner.hot.as_mut()?.start_warming(now_ms)?;
        Some((from, inner.segments.clone()))
    }

    /// Ends a warm-up with the samples read back (`None`: reading failed).
    pub(crate) fn finish_hot_warming(&self, read: Option<Prepared>, now_ms: i64) {
        if let Some(hot) = self.inner.write().hot.as_mut() {
            hot.finish_warming(read, now_ms);
        }
    }

    /// Samples and bytes in the hot window.
    pub(crate) fn hot_size(&self) -> (usize, usize) {
        let inner = self.inner.read();
        inner.hot.as_ref().map_or((0, 0), HotSamples::size)
    }

    /// Returns the frozen head to the live head after a failed flush.
    pub(crate) fn thaw(&self) {
        let mut inner = self.inner.write();
        if let Some(frozen) = inner.flushing.take() {
            inner.head.prepend(frozen);
        }
    }

    /// Whether the head should be flushed now.
    pub(crate) fn due(&self, flush_bytes: u64, flush_age_nanos: i64, now: i64) -> bool {
        let inner = self.inner.read();
        let head = &inner.head;
        !head.batches.is_empty()
            && (head.bytes >= flush_bytes
                || head
                    .since_nanos
                    .is_some_and(|t| now.saturating_sub(t) >= flush_age_nanos))
    }

    /// Lowest WAL sequence number still only in memory.
    pub(crate) fn min_unflushed_lsn(&self) -> Option<u64> {
        let inner = self.inner.read();
        let frozen = inner.flushing.as_ref().and_then(|h| h.first_lsn);
        frozen.or(inner.head.first_lsn)
    }

    /// Unflushed bytes (live and frozen).
    pub(crate) fn head_bytes(&self) -> u64 {
        let inner = self.inner.read();
        inner.head.bytes + inner.flushing.as_ref().map_or(0, |h| h.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use std::sync::Arc;

    fn batch(n: i64) -> Rows {
        let batch =
            RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![n])) as _)]).unwrap();
        Rows {
            batch,
            series: None,
            exemplars: None,
        }
    }

    #[test]
    fn freeze_publish_and_thaw_keep_every_row_once() {
        let t = TableState::new(
            Tenant::default_tenant(),
            Signal::Logs,
            vec![],
            0,
            HotConfig::default(),
        );
        t.insert(batch(1), 1, 0);
        t.insert(batch(2), 2, 0);
        let frozen = t.freeze().unwrap();
        assert_eq!((frozen.batches.len(), frozen.max_lsn), (2, 2));
        assert!(t.freeze().is_none(), "one flush at a time");
        t.insert(batch(3), 3, 0);
        assert_eq!(t.min_unflushed_lsn(), Some(1));
        t.thaw();
        let inner = t.inner.read();
        assert_eq!(inner.head.batches.len(), 3);
        assert_eq!(inner.head.first_lsn, Some(1));
        assert_eq!(inner.head.max_lsn, 3);
    }

    fn samples(points: &[(u64, i64, f64)]) -> Rows {
        use arrow::array::{Float64Array, StringArray, UInt64Array};
        let batch = RecordBatch::try_new(
            common::schema::samples_schema(),
            vec![
                Arc::new(UInt64Array::from_iter_values(points.iter().map(|p| p.0))),
                Arc::new(StringArray::from_iter_values(points.iter().map(|_| "m"))),
                Arc::new(Int64Array::from_iter_values(points.iter().map(|p| p.1))),
                Arc::new(Float64Array::from_iter_values(points.iter().map(|p| p.2))),
            ],
        )
        .unwrap();
        Rows {
            batch,
            series: None,
            exemplars: None,
        }
    }

    /// What a scan of the unflushed batches answers: per id, its samples in `[lo, hi]` in
    /// batch order.
    fn scanned(t: &TableState, ids: &[u64], lo: i64, hi: i64) -> Vec<Vec<(i64, f64)>> {
        let mut out = vec![Vec::new(); ids.len()];
        let mut rows = Vec::new();
        crate::hot::collect(
            &t.inner.read().unflushed(|h| &h.batches),
            i64::MIN,
            &mut rows,
        );
        for (id, ts, v) in rows {
            if let Some(i) = ids.iter().position(|&x| x == id) {
                if ts >= lo && ts <= hi {
                    out[i].push((ts, v));
                }
            }
        }
        out
    }

    proptest::proptest! {
        /// The heads' per-series samples answer exactly what scanning their batches does, in
        /// the same order (out-of-order and repeated times included), while a flush is under
        /// way and after a failed one puts its rows back.
        #[test]
        fn per_series_reads_answer_as_scans(
            batches in proptest::collection::vec(
                proptest::collection::vec((0u64..6, 0i64..50, -5.0f64..5.0), 1..40),
                1..8,
            ),
            freeze_after in 0usize..8,
            thaw in proptest::bool::ANY,
            lo in 0i64..50,
            len in 0i64..50,
        ) {
            let t = TableState::new(
                Tenant::default_tenant(),
                Signal::Metrics,
                vec![],
                0,
                HotConfig::default(),
            );
            let ids = [0, 1, 2, 3, 4, 5, 99];
            let hi = lo + len;
            for (n, b) in batches.iter().enumerate() {
                t.insert(samples(b), n as u64 + 1, 0);
                if n == freeze_after {
                    t.freeze().unwrap();
                }
            }
            let check = |t: &TableState| {
                let read = t.metric_read(&ids, lo, hi);
                let want = scanned(t, &ids, lo, hi);
                proptest::prop_assert_eq!(&read.head, &want);
                let present = t.head_presence(&ids, lo, hi);
                let want: Vec<bool> = want.iter().map(|s| !s.is_empty()).collect();
                proptest::prop_assert_eq!(present, want);
                Ok(())
            };
            check(&t)?;
            if thaw && t.inner.read().flushing.is_some() {
                t.thaw();
                check(&t)?;
            }
        }
    }
}
