//! The head of one tenant and signal: unflushed Arrow batches in WAL order, the frozen batches
//! of a flush under way, and the live segments, all behind one lock so that a query snapshot
//! sees every row exactly once.

use arrow::array::RecordBatch;
use common::{Signal, Tenant};
use parking_lot::RwLock;

use crate::engine::Rows;
use crate::hot::{HotConfig, HotSamples, Prepared};
use crate::manifest::SegmentMeta;
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
    pub(crate) bytes: u64,
    pub(crate) rows: u64,
    /// Lowest WAL sequence number in this head.
    pub(crate) first_lsn: Option<u64>,
    /// Highest WAL sequence number in this head.
    pub(crate) max_lsn: u64,
    /// Clock time (ns) the first batch arrived.
    pub(crate) since_nanos: Option<i64>,
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

    /// Puts the rows of a failed flush back in front of this head.
    fn prepend(&mut self, mut older: Head) {
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

    /// The samples in `[lo, hi]` of each series of `ids` that are in segments, read from the
    /// hot window, with the head batches of the same instant; `None` when the hot window does
    /// not cover `lo`.
    pub(crate) fn hot_read(&self, ids: &[u64], lo: i64, hi: i64) -> Option<crate::read::HotRead> {
        let inner = self.inner.read();
        let mut out = vec![Vec::new(); ids.len()];
        if !inner.hot.as_ref()?.read(ids, lo, hi, &mut out) {
            return None;
        }
        Some((inner.unflushed(|h| &h.batches), out))
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
}
