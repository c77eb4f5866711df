//! Compaction and retention: the maintenance the engine does in the background.
//!
//! - **Retention** drops whole segments whose newest row is older than the retention period of
//!   their tenant and signal, through a manifest entry that removes them.
//! - **Compaction** merges small segments of one tenant, signal and day (segments older than
//!   `min_age`, up to `target_bytes` / `target_rows` per output) into one, re-sorted, with a
//!   rebuilt full index; a single log segment whose index lacks body tokens, or whose bodies a
//!   flush compressed at a lower zstd level than compaction's (docs/0024), is rewritten alone.
//!   The output is written first, then one manifest entry adds it and removes its inputs, so a
//!   crash at any moment leaves either the inputs or the output live, never both or neither.
//! - **Deletion**: files that left the manifest are deleted `grace` later (a query that took its
//!   snapshot before may still read them); files that no manifest references (left by a crash
//!   between writing and committing, or replaced before a restart) are deleted once they are
//!   older than `grace`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::RecordBatch;
use common::Signal;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::state::{day_of, every, Engine};
use crate::head::TableState;
use crate::index::IndexOptions;
use crate::manifest::SegmentMeta;
use crate::{metrics, Error, Result};

/// What one maintenance pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Output segments written by compaction.
    pub compactions: usize,
    /// Input segments they replaced.
    pub segments_merged: usize,
    /// Segments dropped by retention.
    pub segments_expired: usize,
    /// Files deleted.
    pub files_deleted: usize,
}

impl Engine {
    /// Runs [`Self::maintain`] every `compaction.interval` until `shutdown` resolves.
    pub async fn run_compactor(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let period = self.config.compaction.interval;
        every(period, shutdown, || self.maintain_logged()).await;
    }

    /// [`Self::maintain`], logging what it did or why it failed.
    async fn maintain_logged(&self) {
        match self.maintain().await {
            Ok(report) if report != MaintenanceReport::default() => {
                tracing::info!(?report, "maintenance pass");
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "maintenance pass failed"),
        }
    }

    /// One maintenance pass over every table: retention, compaction, deletion of files that
    /// left the manifest more than `grace` ago, and of unreferenced files older than `grace`.
    pub async fn maintain(&self) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        let mut first_error = None;
        for table in self.all_tables() {
            if let Err(error) = self.expire(&table, &mut report).await {
                first_error.get_or_insert(error);
            }
            if !self.config.compaction.enabled {
                continue;
            }
            while let Some(group) = self.next_group(&table) {
                let n = group.len();
                match self.compact(&table, group).await {
                    Ok(()) => {
                        report.compactions += 1;
                        report.segments_merged += n;
                        metrics::COMPACTIONS
                            .with_label_values(&[table.signal.as_str(), "ok"])
                            .inc();
                    }
                    Err(error) => {
                        metrics::COMPACTIONS
                            .with_label_values(&[table.signal.as_str(), "error"])
                            .inc();
                        tracing::error!(%error, tenant = %table.tenant, signal = %table.signal,
                            "compaction failed");
                        first_error.get_or_insert(error);
                        break;
                    }
                }
            }
        }
        report.files_deleted += self.delete_due().await;
        let pass = self
            .maintenance_passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if pass.is_multiple_of(10) {
            report.files_deleted += self.delete_orphans().await?;
        }
        first_error.map_or(Ok(report), Err)
    }

    /// Drops the segments of `table` older than its retention period.
    async fn expire(&self, table: &TableState, report: &mut MaintenanceReport) -> Result<()> {
        let Some(period) = self.config.retention.period(&table.tenant, table.signal) else {
            return Ok(());
        };
        let unit = table.signal.time_column().1;
        let cutoff = self
            .clock
            .now_nanos()
            .saturating_sub(i64::try_from(period.as_nanos()).unwrap_or(i64::MAX));
        let expired: Vec<SegmentMeta> = table
            .inner
            .read()
            .segments
            .iter()
            .filter(|s| s.max_time.saturating_mul(unit) < cutoff)
            .cloned()
            .collect();
        if expired.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = expired.iter().map(|s| s.id.clone()).collect();
        self.commit(table, vec![], ids).await?;
        self.replace(table, &expired, None);
        metrics::RETENTION_DROPPED
            .with_label_values(&[table.signal.as_str()])
            .inc_by(expired.len() as u64);
        report.segments_expired += expired.len();
        tracing::info!(tenant = %table.tenant, signal = %table.signal, segments = expired.len(),
            "retention dropped segments");
        Ok(())
    }

    /// The next segments of `table` to merge: within one day, oldest first, small segments
    /// (below half the target) that together stay within the target; or a lone log segment
    /// whose index lacks body tokens or whose bodies are compressed below compaction's level.
    fn next_group(&self, table: &TableState) -> Option<Vec<SegmentMeta>> {
        let c = &self.config.compaction;
        let now = self.clock.now_nanos();
        let min_age = i64::try_from(c.min_age.as_nanos()).unwrap_or(i64::MAX);
        let unit = table.signal.time_column().1;
        let mut days: BTreeMap<String, Vec<SegmentMeta>> = BTreeMap::new();
        for s in &table.inner.read().segments {
            if now.saturating_sub(s.created_nanos) >= min_age {
                let day = day_of(s.min_time.saturating_mul(unit));
                days.entry(day).or_default().push(s.clone());
            }
        }
        // A log segment whose index lacks body tokens, or whose bodies a flush compressed at a
        // lower level than compaction's, is rewritten even alone.
        let rewrite = |s: &SegmentMeta| {
            table.signal == Signal::Logs
                && ((self.config.index.is_some() && !s.index_body)
                    || s.text_zstd_level
                        .is_some_and(|l| l < self.config.compact_text_zstd_level))
        };
        for (_, mut segs) in days {
            segs.sort_by_key(|s| (s.min_time, s.max_time));
            let small: Vec<SegmentMeta> = segs
                .iter()
                .filter(|s| s.bytes < c.target_bytes / 2 && s.rows < c.target_rows / 2)
                .cloned()
                .collect();
            let mut group: Vec<SegmentMeta> = Vec::new();
            let (mut bytes, mut rows) = (0u64, 0u64);
            for s in small {
                if !group.is_empty()
                    && (bytes + s.bytes > c.target_bytes || rows + s.rows > c.target_rows)
                {
                    if group.len() > 1 {
                        return Some(group);
                    }
                    group.clear();
                    (bytes, rows) = (0, 0);
                }
                bytes += s.bytes;
                rows += s.rows;
                group.push(s);
            }
            if group.len() > 1 {
                return Some(group);
            }
            if let Some(lone) = segs.into_iter().find(|s| rewrite(s)) {
                return Some(vec![lone]);
            }
        }
        None
    }

    /// Merges `inputs` into one segment and swaps it in for them.
    async fn compact(&self, table: &TableState, inputs: Vec<SegmentMeta>) -> Result<()> {
        let signal = table.signal;
        let mut batches = Vec::new();
        let mut series = Vec::new();
        let mut exemplars = Vec::new();
        for s in &inputs {
            for b in self.read_parquet(&s.path).await? {
                batches.push(match signal {
                    Signal::Metrics => crate::samples_layout::to_logical(&b)?,
                    _ => b,
                });
            }
            if let Some(p) = &s.series_path {
                series.extend(self.read_parquet(p).await?);
            }
            if let Some(e) = &s.exemplars {
                exemplars.extend(self.read_parquet(&e.path).await?);
            }
        }
        self.pause("read").await;
        let opts = self.config.compaction_segment_options();
        let index_opts: Option<IndexOptions> = self.config.index.clone();
        let (encoded, exemplars) = tokio::task::spawn_blocking(move || {
            super::flush::encode_files(
                signal,
                &batches,
                &series,
                &exemplars,
                opts,
                index_opts.as_ref(),
            )
        })
        .await
        .map_err(|e| Error::Replay(format!("compaction task failed: {e}")))??;
        let main = &encoded.0;
        let input_rows: u64 = inputs.iter().map(|s| s.rows).sum();
        if main.rows != input_rows {
            return Err(Error::Replay(format!(
                "compaction read {} rows from segments holding {input_rows}",
                main.rows
            )));
        }
        let max_lsn = inputs.iter().map(|s| s.max_lsn).max().unwrap_or(0);
        let index_body = self.config.index.as_ref().is_some_and(|o| o.body);
        let output = self
            .store_segment(
                table,
                encoded,
                exemplars,
                (max_lsn, self.config.compact_text_zstd_level),
                index_body,
            )
            .await?;
        self.pause("written").await;
        let removed = inputs.iter().map(|s| s.id.clone()).collect();
        self.commit(table, vec![output.clone()], removed).await?;
        self.pause("committed").await;
        tracing::info!(tenant = %table.tenant, signal = %signal, inputs = inputs.len(),
            rows = output.rows, bytes = output.bytes, "compacted segments");
        self.replace(table, &inputs, Some(output));
        Ok(())
    }

    /// Swaps `output` (if any) in for `inputs` in the live segments of `table` and schedules
    /// the inputs' files for deletion after the grace period.
    fn replace(&self, table: &TableState, inputs: &[SegmentMeta], output: Option<SegmentMeta>) {
        let ids: HashSet<&str> = inputs.iter().map(|s| s.id.as_str()).collect();
        {
            let mut inner = table.inner.write();
            inner.segments.retain(|s| !ids.contains(s.id.as_str()));
            inner.segments.extend(output.iter().cloned());
        }
        super::state::update_segment_gauges(table.signal, inputs, -1);
        if let Some(o) = &output {
            super::state::update_segment_gauges(table.signal, std::slice::from_ref(o), 1);
        }
        self.update_store_bytes(table);
        let due = self.clock.now_nanos().saturating_add(
            i64::try_from(self.config.compaction.grace.as_nanos()).unwrap_or(i64::MAX),
        );
        let mut pending = self.pending_deletes.lock();
        for s in inputs {
            for f in s.files() {
                pending.push((due, f));
            }
        }
    }

    /// Sets `vigil_store_bytes` of `table`.
    pub(super) fn update_store_bytes(&self, table: &TableState) {
        let bytes: u64 = table
            .inner
            .read()
            .segments
            .iter()
            .map(SegmentMeta::total_bytes)
            .sum();
        metrics::STORE_BYTES
            .with_label_values(&[table.tenant.as_str(), table.signal.as_str()])
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Deletes the scheduled files whose grace period is over; returns how many.
    async fn delete_due(&self) -> usize {
        let now = self.clock.now_nanos();
        let due: Vec<String> = {
            let mut pending = self.pending_deletes.lock();
            let (due, keep): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(t, _)| *t <= now);
            *pending = keep;
            due.into_iter().map(|(_, f)| f).collect()
        };
        let mut deleted = 0;
        for f in due {
            deleted += usize::from(self.delete_file(&f).await);
        }
        deleted
    }

    /// Deletes segment files under every table folder that no live segment references, no
    /// scheduled deletion covers, and that are older than the grace period.
    async fn delete_orphans(&self) -> Result<usize> {
        let mut live: HashSet<String> = HashSet::new();
        let tables = self.all_tables();
        for t in &tables {
            for s in &t.inner.read().segments {
                live.extend(s.files());
            }
        }
        live.extend(self.pending_deletes.lock().iter().map(|(_, f)| f.clone()));
        let grace = i64::try_from(self.config.compaction.grace.as_secs()).unwrap_or(i64::MAX);
        let now_secs = self.clock.now_nanos() / 1_000_000_000;
        let mut deleted = 0;
        for t in &tables {
            let prefix = Path::from(format!("{}/{}", t.tenant, t.signal));
            let files: Vec<object_store::ObjectMeta> =
                self.store.list(Some(&prefix)).try_collect().await?;
            for f in files {
                let path = f.location.to_string();
                if path.contains("/_manifest/") || live.contains(&path) {
                    continue;
                }
                if !(path.ends_with(".parquet") || path.ends_with(".idx")) {
                    continue;
                }
                if now_secs.saturating_sub(f.last_modified.timestamp()) < grace {
                    continue;
                }
                // A flush may have committed this file after `live` was taken.
                if self.referenced(&path) {
                    continue;
                }
                deleted += usize::from(self.delete_file(&path).await);
            }
        }
        Ok(deleted)
    }

    fn referenced(&self, path: &str) -> bool {
        self.all_tables().iter().any(|t| {
            t.inner
                .read()
                .segments
                .iter()
                .any(|s| s.files().iter().any(|f| f == path))
        })
    }

    async fn delete_file(&self, path: &str) -> bool {
        match self.store.delete(&Path::from(path)).await {
            Ok(()) => {
                metrics::FILES_DELETED.inc();
                true
            }
            Err(object_store::Error::NotFound { .. }) => false,
            Err(error) => {
                tracing::warn!(%error, path, "failed to delete a file that left the manifest");
                false
            }
        }
    }

    pub(super) async fn read_parquet(&self, path: &str) -> Result<Vec<RecordBatch>> {
        let bytes = self.store.get(&Path::from(path)).await?.bytes().await?;
        tokio::task::spawn_blocking(move || -> Result<Vec<RecordBatch>> {
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?
                .with_batch_size(64 * 1024)
                .build()?;
            Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
        })
        .await
        .map_err(|e| Error::Replay(format!("segment read task failed: {e}")))?
    }

    /// Waits forever when the testing aid `pause_at` names `point`.
    async fn pause(&self, point: &str) {
        if self.config.compaction.pause_at.as_deref() == Some(point) {
            tracing::warn!(point, "compaction paused (compaction.pause_at)");
            futures::future::pending::<()>().await;
        }
    }
}
