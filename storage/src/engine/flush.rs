//! Flushes: a head frozen, written as a segment (Parquet rows, series, exemplars and index
//! files, each durable), committed to the manifest, then dropped from memory and the WAL
//! truncated; by size or age in the background, or all at once on demand and at shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use bytes::Bytes;
use common::Signal;
use object_store::path::Path;

use super::state::{day_of, every, sync_file, update_segment_gauges, Engine};
use crate::head::{Frozen, TableState};
use crate::hot;
use crate::index::{IndexOptions, SegmentIndex};
use crate::manifest::{self, ExemplarsFile, SegmentMeta};
use crate::metrics;
use crate::segment::{self, SegmentOptions};
use crate::{Error, Result};

impl Engine {
    /// Flushes a table's head to a segment if it has rows; returns whether it wrote one.
    pub(super) async fn flush_table(&self, table: &Arc<TableState>) -> Result<bool> {
        let Some(frozen) = table.freeze() else {
            return Ok(false);
        };
        let signal = table.signal;
        match self.write_segment(table, frozen).await {
            Ok((meta, hot)) => {
                update_segment_gauges(signal, std::slice::from_ref(&meta), 1);
                let freed = table.publish(meta, hot, self.now_ms());
                if signal == Signal::Metrics {
                    self.set_hot_gauges(table);
                }
                self.update_store_bytes(table);
                self.head_bytes.fetch_sub(freed, Ordering::Relaxed);
                self.head_drained.notify_waiters();
                metrics::HEAD_BYTES
                    .with_label_values(&[signal.as_str()])
                    .sub(freed as i64);
                metrics::FLUSHES
                    .with_label_values(&[signal.as_str(), "ok"])
                    .inc();
                Ok(true)
            }
            Err(error) => {
                table.thaw();
                metrics::FLUSHES
                    .with_label_values(&[signal.as_str(), "error"])
                    .inc();
                Err(error)
            }
        }
    }

    /// Writes and commits the segment of a frozen head; returns it, with its samples for the
    /// hot window.
    pub(super) async fn write_segment(
        &self,
        table: &Arc<TableState>,
        frozen: Frozen,
    ) -> Result<(SegmentMeta, Option<hot::Prepared>)> {
        let Frozen {
            batches,
            series,
            exemplars,
            max_lsn,
        } = frozen;
        let signal = table.signal;
        let opts = self.config.segment_options();
        let registry = (signal == Signal::Metrics).then(|| self.registry(&table.tenant));
        let index_opts = self.config.index.clone().map(|o| IndexOptions {
            body: self.config.index_body_at_flush,
            ..o
        });
        let index_body = self.config.index_body_at_flush || signal != Signal::Logs;
        let keep_from = table.hot_keep_from(self.now_ms());
        let (encoded, exemplars, hot) = tokio::task::spawn_blocking(move || -> Result<_> {
            let hot = keep_from.map(|from| hot::prepare(&batches, from));
            let series = match registry {
                Some(registry) => {
                    let series = registry.complete(&batches, series)?;
                    registry.complete(&exemplars, series)?
                }
                None => series,
            };
            let (encoded, exemplars) = encode_files(
                signal,
                &batches,
                &series,
                &exemplars,
                opts,
                index_opts.as_ref(),
            )?;
            Ok((encoded, exemplars, hot))
        })
        .await
        .map_err(|e| Error::Replay(format!("flush task failed: {e}")))??;
        let meta = self
            .store_segment(
                table,
                encoded,
                exemplars,
                (max_lsn, self.config.text_zstd_level),
                index_body,
            )
            .await?;
        self.flush_pause("written").await;
        self.commit(table, vec![meta.clone()], vec![]).await?;
        self.flush_pause("committed").await;
        Ok((meta, hot))
    }

    /// Writes the files of a new segment (durably) and returns its manifest record; the
    /// segment becomes part of the table only once [`Self::commit`]ted.
    pub(super) async fn store_segment(
        &self,
        table: &TableState,
        (main, series_file, range): (segment::Encoded, Option<segment::Encoded>, (i64, i64)),
        exemplars: Option<crate::exemplars::EncodedExemplars>,
        (max_lsn, text_zstd_level): (u64, i32),
        index_body: bool,
    ) -> Result<SegmentMeta> {
        let signal = table.signal;
        let rows = main.rows;
        let now = self.clock.now_nanos();
        let id = format!("{:016x}{:08x}", now, rand::random::<u32>());
        let range_nanos = range.0.saturating_mul(signal.time_column().1);
        let day = day_of(range_nanos);
        let dir = format!("{}/{}/{}", table.tenant, signal, day);
        let path = format!("{dir}/{id}.parquet");
        let bytes = main.file.len() as u64;
        self.put_durable(&path, main.file).await?;
        let (series_path, series_bytes, series_index) = match series_file {
            Some(series) => {
                let p = format!("{dir}/{id}.series.parquet");
                let n = series.file.len() as u64;
                self.put_durable(&p, series.file).await?;
                (Some(p), n, series.index)
            }
            None => (None, 0, None),
        };
        let (index_path, mut index_bytes) = match main.index {
            Some(data) => {
                let p = format!("{dir}/{id}.idx");
                let data = Bytes::from(data);
                let n = data.len();
                self.put_durable(&p, data.clone()).await?;
                // Queries would read it back right away; keep the decoded index instead
                // (decoding decompresses it: off the async threads).
                if let Ok(Ok(idx)) =
                    tokio::task::spawn_blocking(move || SegmentIndex::decode(data)).await
                {
                    self.index_cache.insert(&p, Arc::new(idx), n);
                }
                (Some(p), n as u64)
            }
            None => (None, 0),
        };
        let series_index_path = match series_index {
            Some(data) => {
                let p = format!("{dir}/{id}.series.idx");
                index_bytes += data.len() as u64;
                self.put_durable(&p, Bytes::from(data)).await?;
                Some(p)
            }
            None => None,
        };
        let exemplars = match exemplars {
            Some(e) => {
                let p = format!("{dir}/{id}.exemplars.parquet");
                let bytes = e.file.len() as u64;
                self.put_durable(&p, e.file).await?;
                Some(ExemplarsFile {
                    path: p,
                    rows: e.rows,
                    bytes,
                    min_time: e.min_time,
                    max_time: e.max_time,
                })
            }
            None => None,
        };
        Ok(SegmentMeta {
            exemplars,
            id,
            path,
            series_path,
            min_time: range.0,
            max_time: range.1,
            rows,
            bytes,
            max_lsn,
            schema_version: common::schema::SCHEMA_VERSION,
            index_path,
            series_index_path,
            index_bytes,
            series_bytes,
            index_body: index_body && index_bytes > 0,
            text_zstd_level: Some(text_zstd_level),
            created_nanos: now,
        })
    }

    /// Commits one manifest entry that adds `added` and removes the segments `removed` of
    /// `table`, durably.
    pub(super) async fn commit(
        &self,
        table: &TableState,
        added: Vec<SegmentMeta>,
        removed: Vec<String>,
    ) -> Result<()> {
        let signal = table.signal;
        let mut seq = table.manifest_seq.lock().await;
        let committed = manifest::commit(
            &self.store,
            table.tenant.as_str(),
            signal.as_str(),
            *seq,
            added,
            removed,
            self.clock.now_nanos(),
        )
        .await?;
        let entry = self.store_root.join(format!(
            "{}/{}/_manifest/{committed:020}.json",
            table.tenant, signal
        ));
        let sync = Arc::clone(&self.config.wal.sync);
        tokio::task::spawn_blocking(move || sync_file(sync.as_ref(), &entry))
            .await
            .map_err(|e| Error::Replay(e.to_string()))??;
        *seq = committed;
        Ok(())
    }

    pub(super) async fn put_durable(
        &self,
        path: &str,
        data: impl Into<object_store::PutPayload>,
    ) -> Result<()> {
        let opts = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        self.store
            .put_opts(&Path::from(path), data.into(), opts)
            .await?;
        let local = self.store_root.join(path);
        let sync = Arc::clone(&self.config.wal.sync);
        tokio::task::spawn_blocking(move || sync_file(sync.as_ref(), &local))
            .await
            .map_err(|e| Error::Replay(e.to_string()))?
    }

    /// Deletes WAL files whose records are all in committed segments.
    pub(super) fn truncate_wal(&self) {
        let min = self
            .all_tables()
            .iter()
            .filter_map(|t| t.min_unflushed_lsn())
            .min()
            .unwrap_or_else(|| self.wal.next_lsn());
        if let Err(error) = self.wal.truncate_before(min) {
            tracing::warn!(%error, "failed to truncate wal");
        }
    }

    /// Flushes every head with rows (after any flush already under way), then truncates the
    /// WAL; when it returns, every row appended before the call is in a segment.
    pub async fn flush_all(&self) -> Result<()> {
        let mut first_error = None;
        for table in self.all_tables() {
            // A flush of this table under way (from the background flusher) holds rows this
            // call must see in a segment when it returns: wait for it to end first.
            while table.inner.read().flushing.is_some() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if let Err(error) = self.flush_table(&table).await {
                tracing::error!(%error, tenant = %table.tenant, signal = %table.signal, "flush failed");
                first_error.get_or_insert(error);
            }
        }
        self.truncate_wal();
        first_error.map_or(Ok(()), Err)
    }

    /// Flushes heads that are due by size or age, every `tick`, until `shutdown` resolves.
    pub async fn run_flusher(
        self: Arc<Self>,
        tick: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        every(tick, shutdown, || self.flush_due()).await;
    }

    /// Flushes the heads that are due by size or age.
    pub(super) async fn flush_due(&self) {
        let now = self.clock.now_nanos();
        let age = self.config.flush_age.as_nanos() as i64;
        let mut flushed = false;
        for table in self.all_tables() {
            if table.due(self.config.flush_bytes, age, now) {
                match self.flush_table(&table).await {
                    Ok(f) => flushed |= f,
                    Err(error) => tracing::error!(
                        %error, tenant = %table.tenant, signal = %table.signal, "flush failed"
                    ),
                }
            }
        }
        if flushed {
            self.truncate_wal();
        }
    }

    /// Flushes every head and closes the WAL: the clean-shutdown path.
    pub async fn shutdown(&self) -> Result<()> {
        let flushed = self.flush_all().await;
        self.wal.close()?;
        flushed
    }
}

/// The encoded files of a segment: its rows, series and exemplars, and its time range.
type SegmentFiles = (
    (segment::Encoded, Option<segment::Encoded>, (i64, i64)),
    Option<crate::exemplars::EncodedExemplars>,
);

/// Encodes the files of a segment (see [`segment::encode_segment`] and
/// [`crate::exemplars::encode`]).
pub(super) fn encode_files(
    signal: Signal,
    batches: &[RecordBatch],
    series: &[RecordBatch],
    exemplars: &[RecordBatch],
    opts: SegmentOptions,
    index: Option<&IndexOptions>,
) -> Result<SegmentFiles> {
    let mut encoded = segment::encode_segment(signal, batches, series, opts, index)?;
    let exemplars = crate::exemplars::encode(exemplars, opts)?;
    // Exemplars without samples (Prometheus sends them apart) are filed under their time.
    if let (0, Some(e)) = (encoded.0.rows, &exemplars) {
        encoded.2 = (e.min_time, e.max_time);
    }
    Ok((encoded, exemplars))
}

impl Engine {
    /// Waits forever when the testing aid `flush_pause_at` names `point`.
    async fn flush_pause(&self, point: &str) {
        if self.config.flush_pause_at.as_deref() == Some(point) {
            tracing::warn!(point, "flush paused (storage.flush_pause_at)");
            futures::future::pending::<()>().await;
        }
    }
}
