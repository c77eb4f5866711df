//! The storage engine: WAL, heads and segments of every tenant and signal.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use common::{Signal, Tenant};
use futures::future::BoxFuture;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::{Mutex, RwLock};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::sync::Notify;

use crate::head::{Frozen, TableState};
use crate::hot::{self, HotConfig};
use crate::index::{IndexCache, IndexOptions, Lookup, SegmentIndex};
use crate::manifest::{self, ExemplarsFile, SegmentMeta};
use crate::metrics;
use crate::segment::{self, SegmentOptions};
use crate::wal::{ReplayedRecord, Wal, WalConfig, WalEntry};
use crate::{Error, Result};

/// Rows converted from one request: the main table's rows, and for metrics the series they use.
#[derive(Debug, Clone)]
pub struct Rows {
    /// Rows of `spans`, `logs` or `samples`, in that table's schema.
    pub batch: RecordBatch,
    /// For metrics: rows of `series` (schema `common::schema::series_schema`) for every series
    /// that `batch` references, except those [`Sink::known_series`] said storage knows. `None`
    /// for traces and logs.
    pub series: Option<RecordBatch>,
    /// For metrics: exemplars of the samples (schema `common::schema::exemplars_schema`), of
    /// series that `series` or storage holds. `None` when there are none.
    pub exemplars: Option<RecordBatch>,
}

/// Whether storage knows a series id already (see [`Sink::known_series`]).
pub type KnownSeries = Arc<dyn Fn(u64) -> bool + Send + Sync>;

/// Where acknowledged rows go: the engine in production, a fake in tests.
pub trait Sink: Send + Sync + 'static {
    /// Makes `payload` (the OTLP protobuf request, kept for replay) durable in the WAL, then adds
    /// `rows` to the head; resolves with the WAL sequence number once both are done, which is when
    /// the client may be acknowledged. Fails with `Error::Backpressure` when the head is full.
    fn append(
        &self,
        tenant: Tenant,
        signal: Signal,
        payload: Bytes,
        rows: Rows,
    ) -> BoxFuture<'static, Result<u64>>;

    /// A test for series ids whose `series` row storage already holds for `tenant`: conversion
    /// may leave those rows out of [`Rows::series`]. `None` (the default): send every row.
    fn known_series(&self, _tenant: &Tenant) -> Option<KnownSeries> {
        None
    }

    /// Resolves once the heads have room for more rows, or fails with `Error::Backpressure`
    /// after a bounded wait; called before a request is decoded. The default never waits.
    fn wait_for_room(&self) -> BoxFuture<'static, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Turns a WAL payload back into rows during replay (implemented by `ingest`).
pub trait PayloadDecoder: Send + Sync {
    /// Decodes the OTLP protobuf `payload` of `signal` and converts it exactly as ingest did.
    fn decode(&self, signal: Signal, payload: &[u8]) -> std::result::Result<Rows, String>;
}

/// What a query sees of one table at one instant: head batches and segment files, disjoint.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    /// The table's schema.
    pub schema: SchemaRef,
    /// Unflushed rows.
    pub head: Vec<RecordBatch>,
    /// Flushed segments (paths are relative to [`ReadView::object_store`]).
    pub segments: Vec<SegmentMeta>,
}

/// What [`ReadView::hot_samples`] answers: the head batches, and per series its samples in
/// segments, in time order.
pub type HotRead = (Vec<RecordBatch>, Vec<Vec<(i64, f64)>>);

/// Read access to stored data, the seam between storage and query.
pub trait ReadView: Send + Sync + 'static {
    /// A consistent snapshot of table `spans`, `logs` or `samples` of `tenant`; empty for an
    /// unknown tenant.
    fn snapshot(&self, tenant: &Tenant, table: &str) -> TableSnapshot;
    /// The rows of the `series` table of `tenant`, one per series id.
    fn series(&self, tenant: &Tenant) -> Vec<RecordBatch>;
    /// The rows of the `series` table of `tenant` that `lookup` may select, through series
    /// postings (a superset: the caller still filters); `None` when the view has no postings
    /// (the caller then filters [`ReadView::series`]).
    fn select_series(&self, _tenant: &Tenant, _lookup: &Lookup) -> Option<Vec<RecordBatch>> {
        None
    }
    /// The exemplars of `tenant` not yet in a segment, and the metrics segments (whose
    /// [`SegmentMeta::exemplars`] name their exemplars files), seen at one instant. The
    /// default: none.
    fn exemplars(&self, _tenant: &Tenant) -> (Vec<RecordBatch>, Vec<SegmentMeta>) {
        (Vec::new(), Vec::new())
    }
    /// For metrics: the samples in `[lo, hi]` of each series of `ids` that are in segments,
    /// from the recent samples kept in memory, with the head batches of the same instant;
    /// `None` when memory does not hold that window (the caller then reads the segments).
    fn hot_samples(&self, _tenant: &Tenant, _ids: &[u64], _lo: i64, _hi: i64) -> Option<HotRead> {
        None
    }
    /// The store that segment paths are relative to.
    fn object_store(&self) -> Arc<dyn ObjectStore>;
    /// The decoded index sidecar of `segment`; `None` when it has none or it cannot be used
    /// (the segment is then read in full). The default reads it from the store each time.
    fn segment_index(
        &self,
        segment: &SegmentMeta,
    ) -> BoxFuture<'static, Option<Arc<SegmentIndex>>> {
        let store = self.object_store();
        let path = segment.index_path.clone();
        Box::pin(async move {
            let idx = crate::index::load_uncached(store.as_ref(), path.as_deref()?).await?;
            Some(idx.0)
        })
    }
}

/// Configuration of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of the local data directory; the WAL lives in `{data_dir}/wal`, the store in
    /// `{data_dir}/store`.
    pub data_dir: PathBuf,
    /// WAL settings (its `dir` is overridden to `{data_dir}/wal`).
    pub wal: WalConfig,
    /// Flush a head once it holds this many Arrow bytes.
    pub flush_bytes: u64,
    /// Flush a head once its oldest row is this old.
    pub flush_age: Duration,
    /// Refuse appends (retryable) while all heads together hold more than this.
    pub max_head_bytes: u64,
    /// How long a request waits for the heads to drain below `max_head_bytes` before it is
    /// refused; waiting (before the request is decoded) slows exporters down to the flush rate
    /// without spending CPU on requests that would be turned away.
    pub head_full_wait: Duration,
    /// zstd level of Parquet segments.
    pub zstd_level: i32,
    /// zstd level of free-text columns (log bodies).
    pub text_zstd_level: i32,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// How segments are indexed; `None` writes no `.idx` sidecars.
    pub index: Option<IndexOptions>,
    /// Whether flushes index log bodies too (otherwise compaction does, see
    /// [`IndexOptions::body`]).
    pub index_body_at_flush: bool,
    /// Bytes of decoded segment indexes kept in memory for queries.
    pub index_cache_bytes: usize,
    /// How segments are merged.
    pub compaction: CompactionConfig,
    /// How long data is kept.
    pub retention: RetentionConfig,
    /// Recent metrics samples kept in memory after their flush, for queries.
    pub hot: HotConfig,
}

impl EngineConfig {
    /// How flushes and compactions encode segment files.
    fn segment_options(&self) -> SegmentOptions {
        SegmentOptions {
            zstd_level: self.zstd_level,
            text_zstd_level: self.text_zstd_level,
            row_group_rows: self.row_group_rows,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./vigil-data"),
            wal: WalConfig::default(),
            flush_bytes: 256 * 1024 * 1024,
            flush_age: Duration::from_secs(300),
            max_head_bytes: 2 * 1024 * 1024 * 1024,
            head_full_wait: Duration::from_secs(5),
            zstd_level: 6,
            text_zstd_level: 10,
            row_group_rows: 1_048_576,
            index: Some(IndexOptions::default()),
            index_body_at_flush: true,
            index_cache_bytes: 512 * 1024 * 1024,
            compaction: CompactionConfig::default(),
            retention: RetentionConfig::default(),
            hot: HotConfig::default(),
        }
    }
}

/// The storage engine: the WAL, and the heads and segments of every tenant and signal.
pub struct Engine {
    config: EngineConfig,
    store: Arc<dyn ObjectStore>,
    store_root: PathBuf,
    wal: Wal,
    tables: RwLock<BTreeMap<(Tenant, Signal), Arc<TableState>>>,
    series: RwLock<HashMap<Tenant, Arc<SeriesRegistry>>>,
    head_bytes: Arc<AtomicU64>,
    /// Woken whenever a flush frees head bytes.
    head_drained: Arc<Notify>,
    clock: Arc<dyn common::Clock>,
    /// Decoded indexes of segments, for queries.
    index_cache: Arc<IndexCache>,
    /// Files that left the manifest, with the clock time (ns) from which they may be deleted.
    pending_deletes: Mutex<Vec<(i64, String)>>,
    /// Maintenance passes so far (the orphan scan runs on every tenth).
    maintenance_passes: AtomicU64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// Flushes a file and its folder to disk.
fn sync_file(path: &FsPath) -> Result<()> {
    let f =
        std::fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    f.sync_all()
        .map_err(|e| Error::io(format!("fsync {}", path.display()), e))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

impl Engine {
    /// Opens the engine: loads every manifest, the series of metrics segments, and replays the
    /// WAL records not yet in a segment into the heads.
    pub async fn open(
        mut config: EngineConfig,
        clock: Arc<dyn common::Clock>,
        decoder: Arc<dyn PayloadDecoder>,
    ) -> Result<Arc<Self>> {
        let store_root = config.data_dir.join("store");
        config.wal.dir = config.data_dir.join("wal");
        std::fs::create_dir_all(&store_root)
            .map_err(|e| Error::io(format!("create {}", store_root.display()), e))?;
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&store_root)?);

        let mut tables = BTreeMap::new();
        let mut series: HashMap<Tenant, Arc<SeriesRegistry>> = HashMap::new();
        let listing = store.list_with_delimiter(None).await?;
        for prefix in listing.common_prefixes {
            let Some(name) = prefix.filename() else {
                continue;
            };
            let Ok(tenant) = Tenant::new(name) else {
                tracing::warn!(folder = name, "skipping store folder that is not a tenant");
                continue;
            };
            for signal in Signal::ALL {
                let state = manifest::load(&store, tenant.as_str(), signal.as_str()).await?;
                if state.seq == 0 {
                    continue;
                }
                if signal == Signal::Metrics {
                    let registry = series.entry(tenant.clone()).or_default();
                    for seg in &state.segments {
                        if let Some(path) = &seg.series_path {
                            let bytes =
                                store.get(&Path::from(path.as_str())).await?.bytes().await?;
                            let reader =
                                ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
                            for batch in reader {
                                registry.add(&batch?);
                            }
                        }
                    }
                }
                update_segment_gauges(signal, &state.segments, 1);
                tables.insert(
                    (tenant.clone(), signal),
                    Arc::new(TableState::new(
                        tenant.clone(),
                        signal,
                        state.segments,
                        state.seq,
                        config.hot,
                    )),
                );
            }
        }

        let head_bytes = Arc::new(AtomicU64::new(0));
        let wal_config = config.wal.clone();
        let hot_config = config.hot;
        let now = clock.now_nanos();
        let (wal, tables, series) = tokio::task::spawn_blocking({
            let head_bytes = Arc::clone(&head_bytes);
            move || -> Result<_> {
                let mut tables = tables;
                let mut series = series;
                let mut replayed = 0u64;
                let mut skipped = 0u64;
                let wal = Wal::open(wal_config, |rec: ReplayedRecord| {
                    let table = tables
                        .entry((rec.tenant.clone(), rec.signal))
                        .or_insert_with(|| {
                            Arc::new(TableState::new(rec.tenant.clone(), rec.signal, vec![], 0, hot_config))
                        });
                    if rec.lsn <= table.inner.read().flushed_lsn {
                        skipped += 1;
                        return Ok(());
                    }
                    match decoder.decode(rec.signal, &rec.payload) {
                        Ok(rows) => {
                            if let Some(s) = &rows.series {
                                series.entry(rec.tenant.clone()).or_default().add(s);
                            }
                            let added = table.insert(rows, rec.lsn, now);
                            head_bytes.fetch_add(added, Ordering::Relaxed);
                            replayed += 1;
                        }
                        Err(error) => {
                            tracing::error!(%error, lsn = rec.lsn, "dropping undecodable wal record");
                        }
                    }
                    Ok(())
                })?;
                tracing::info!(replayed, skipped, "wal replay done");
                Ok((wal, tables, series))
            }
        })
        .await
        .map_err(|e| Error::Replay(e.to_string()))??;

        for ((_, signal), t) in &tables {
            metrics::HEAD_BYTES
                .with_label_values(&[signal.as_str()])
                .add(t.head_bytes() as i64);
        }
        let config_index_cache_bytes = config.index_cache_bytes;
        let engine = Arc::new(Self {
            config,
            store,
            store_root,
            wal,
            tables: RwLock::new(tables),
            series: RwLock::new(series),
            head_bytes,
            head_drained: Arc::new(Notify::new()),
            clock,
            index_cache: Arc::new(IndexCache::new(config_index_cache_bytes)),
            pending_deletes: Mutex::new(Vec::new()),
            maintenance_passes: AtomicU64::new(0),
        });
        for table in engine.all_tables() {
            engine.update_store_bytes(&table);
        }
        Ok(engine)
    }

    fn table(&self, tenant: &Tenant, signal: Signal) -> Arc<TableState> {
        if let Some(t) = self.tables.read().get(&(tenant.clone(), signal)) {
            return Arc::clone(t);
        }
        let mut tables = self.tables.write();
        Arc::clone(tables.entry((tenant.clone(), signal)).or_insert_with(|| {
            Arc::new(TableState::new(
                tenant.clone(),
                signal,
                vec![],
                0,
                self.config.hot,
            ))
        }))
    }

    fn registry(&self, tenant: &Tenant) -> Arc<SeriesRegistry> {
        if let Some(r) = self.series.read().get(tenant) {
            return Arc::clone(r);
        }
        Arc::clone(self.series.write().entry(tenant.clone()).or_default())
    }

    fn all_tables(&self) -> Vec<Arc<TableState>> {
        self.tables.read().values().cloned().collect()
    }

    /// Unflushed bytes over all heads.
    pub fn head_bytes(&self) -> u64 {
        self.head_bytes.load(Ordering::Relaxed)
    }

    /// Flushes a table's head to a segment if it has rows; returns whether it wrote one.
    async fn flush_table(&self, table: &Arc<TableState>) -> Result<bool> {
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

    /// Reads the samples of the metrics segments that fall in the hot window back into memory
    /// (the window starts empty after a restart), one tenant after the other. Queries read the
    /// segments until it is done; flushes meanwhile keep their samples as usual.
    pub async fn warm_hot(&self) {
        let tables = self.all_tables();
        for table in tables.iter().filter(|t| t.signal == Signal::Metrics) {
            let Some((from, segments)) = table.start_hot_warming(self.now_ms()) else {
                continue;
            };
            let started = std::time::Instant::now();
            let segments: Vec<SegmentMeta> = segments
                .into_iter()
                .filter(|s| s.max_time >= from)
                .collect();
            let read = self.read_back(&segments, from).await;
            if let Err(error) = &read {
                tracing::warn!(tenant = %table.tenant, %error,
                    "could not read the hot window back from segments; queries read segments");
            }
            table.finish_hot_warming(read.ok(), self.now_ms());
            let (samples, bytes) = self.set_hot_gauges(table);
            tracing::info!(tenant = %table.tenant, segments = segments.len(), samples, bytes,
                seconds = started.elapsed().as_secs_f64(), "hot window read back from segments");
        }
    }

    /// The samples at or after `from` of `segments`, ready for the hot window.
    async fn read_back(&self, segments: &[SegmentMeta], from: i64) -> Result<hot::Prepared> {
        let mut rows = Vec::new();
        for seg in segments {
            let batches = self.read_parquet(&seg.path).await?;
            rows = tokio::task::spawn_blocking(move || -> Result<_> {
                for b in &batches {
                    let logical = crate::samples_layout::to_logical(b)?;
                    hot::collect(std::slice::from_ref(&logical), from, &mut rows);
                }
                Ok(rows)
            })
            .await
            .map_err(|e| Error::Replay(format!("hot window read task failed: {e}")))??;
        }
        tokio::task::spawn_blocking(move || hot::group(rows, from))
            .await
            .map_err(|e| Error::Replay(format!("hot window read task failed: {e}")))
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_nanos() / 1_000_000
    }

    /// Shows the hot window's size on `/metrics`; returns it (samples, bytes).
    fn set_hot_gauges(&self, table: &TableState) -> (usize, usize) {
        let (samples, bytes) = table.hot_size();
        metrics::HOT_SAMPLES
            .with_label_values(&[table.tenant.as_str()])
            .set(samples as i64);
        metrics::HOT_BYTES
            .with_label_values(&[table.tenant.as_str()])
            .set(bytes as i64);
        (samples, bytes)
    }

    /// Writes and commits the segment of a frozen head; returns it, with its samples for the
    /// hot window.
    async fn write_segment(
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
            .store_segment(table, encoded, exemplars, max_lsn, index_body)
            .await?;
        self.commit(table, vec![meta.clone()], vec![]).await?;
        Ok((meta, hot))
    }

    /// Writes the files of a new segment (durably) and returns its manifest record; the
    /// segment becomes part of the table only once [`Self::commit`]ted.
    async fn store_segment(
        &self,
        table: &TableState,
        (main, series_file, range): (segment::Encoded, Option<segment::Encoded>, (i64, i64)),
        exemplars: Option<crate::exemplars::EncodedExemplars>,
        max_lsn: u64,
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
            created_nanos: now,
        })
    }

    /// Commits one manifest entry that adds `added` and removes the segments `removed` of
    /// `table`, durably.
    async fn commit(
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
        tokio::task::spawn_blocking(move || sync_file(&entry))
            .await
            .map_err(|e| Error::Replay(e.to_string()))??;
        *seq = committed;
        Ok(())
    }

    async fn put_durable(
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
        tokio::task::spawn_blocking(move || sync_file(&local))
            .await
            .map_err(|e| Error::Replay(e.to_string()))?
    }

    /// Deletes WAL files whose records are all in committed segments.
    fn truncate_wal(&self) {
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
    async fn flush_due(&self) {
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

    /// Bytes of WAL files on disk.
    pub fn wal_disk_bytes(&self) -> u64 {
        self.wal.disk_bytes()
    }
}

/// Runs `work` every `period` (the first time at once) until `shutdown` resolves; a run that
/// overruns delays the next instead of bunching them.
async fn every<F, Fut>(
    period: Duration,
    shutdown: impl std::future::Future<Output = ()>,
    mut work: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = interval.tick() => {}
        }
        work().await;
    }
}

fn update_segment_gauges(signal: Signal, segments: &[SegmentMeta], sign: i64) {
    let bytes: u64 = segments.iter().map(|s| s.bytes).sum();
    metrics::SEGMENTS
        .with_label_values(&[signal.as_str()])
        .add(sign * segments.len() as i64);
    metrics::SEGMENT_BYTES
        .with_label_values(&[signal.as_str()])
        .add(sign * bytes as i64);
}

/// `YYYY-MM-DD` (UTC) of a nanosecond timestamp.
fn day_of(nanos: i64) -> String {
    let days = nanos.div_euclid(86_400_000_000_000);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

impl Sink for Engine {
    fn known_series(&self, tenant: &Tenant) -> Option<KnownSeries> {
        let registry = self.registry(tenant);
        Some(Arc::new(move |id| registry.contains(id)))
    }

    fn wait_for_room(&self) -> BoxFuture<'static, Result<()>> {
        let head_bytes = Arc::clone(&self.head_bytes);
        let drained = Arc::clone(&self.head_drained);
        let limit = self.config.max_head_bytes;
        let deadline = tokio::time::Instant::now() + self.config.head_full_wait;
        Box::pin(async move {
            loop {
                let notified = drained.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before the check, so a flush finishing in between still wakes us.
                notified.as_mut().enable();
                let held = head_bytes.load(Ordering::Relaxed);
                if held <= limit {
                    return Ok(());
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    return Err(Error::Backpressure { bytes: held, limit });
                }
            }
        })
    }

    fn append(
        &self,
        tenant: Tenant,
        signal: Signal,
        payload: Bytes,
        rows: Rows,
    ) -> BoxFuture<'static, Result<u64>> {
        let held = self.head_bytes.load(Ordering::Relaxed);
        if held > self.config.max_head_bytes {
            let limit = self.config.max_head_bytes;
            return Box::pin(async move { Err(Error::Backpressure { bytes: held, limit }) });
        }
        let table = self.table(&tenant, signal);
        let registry = rows.series.as_ref().map(|_| self.registry(&tenant));
        let head_bytes = Arc::clone(&self.head_bytes);
        let now = self.clock.now_nanos();
        let apply = Box::new(move |lsn: u64| {
            if let (Some(reg), Some(s)) = (&registry, &rows.series) {
                reg.add(s);
            }
            let added = table.insert(rows, lsn, now);
            head_bytes.fetch_add(added, Ordering::Relaxed);
            metrics::HEAD_BYTES
                .with_label_values(&[signal.as_str()])
                .add(added as i64);
        });
        Box::pin(self.wal.append(
            WalEntry {
                tenant,
                signal,
                payload,
            },
            apply,
        ))
    }
}

/// The encoded files of a segment: its rows, series and exemplars, and its time range.
type SegmentFiles = (
    (segment::Encoded, Option<segment::Encoded>, (i64, i64)),
    Option<crate::exemplars::EncodedExemplars>,
);

/// Encodes the files of a segment (see [`segment::encode_segment`] and
/// [`crate::exemplars::encode`]).
fn encode_files(
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

impl ReadView for Engine {
    fn snapshot(&self, tenant: &Tenant, table: &str) -> TableSnapshot {
        let Some(signal) = Signal::from_table(table) else {
            return TableSnapshot {
                schema: common::schema::series_schema(),
                head: self.series(tenant),
                segments: vec![],
            };
        };
        let schema = signal.schema();
        let Some(state) = self.tables.read().get(&(tenant.clone(), signal)).cloned() else {
            return TableSnapshot {
                schema,
                head: vec![],
                segments: vec![],
            };
        };
        let inner = state.inner.read();
        TableSnapshot {
            schema,
            head: inner.unflushed(|h| &h.batches),
            segments: inner.segments.clone(),
        }
    }

    fn series(&self, tenant: &Tenant) -> Vec<RecordBatch> {
        self.series
            .read()
            .get(tenant)
            .map(|r| r.batches())
            .unwrap_or_default()
    }

    fn select_series(&self, tenant: &Tenant, lookup: &Lookup) -> Option<Vec<RecordBatch>> {
        let Some(registry) = self.series.read().get(tenant).cloned() else {
            return Some(Vec::new());
        };
        match registry.select(lookup) {
            Ok(rows) => Some(rows),
            Err(e) => {
                tracing::warn!(error = %e, "series postings look-up failed; scanning all series");
                None
            }
        }
    }

    fn exemplars(&self, tenant: &Tenant) -> (Vec<RecordBatch>, Vec<SegmentMeta>) {
        let state = self
            .tables
            .read()
            .get(&(tenant.clone(), Signal::Metrics))
            .cloned();
        state.map(|s| s.exemplars()).unwrap_or_default()
    }

    fn hot_samples(&self, tenant: &Tenant, ids: &[u64], lo: i64, hi: i64) -> Option<HotRead> {
        let state = self
            .tables
            .read()
            .get(&(tenant.clone(), Signal::Metrics))
            .cloned()?;
        state.hot_read(ids, lo, hi)
    }

    fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    fn segment_index(
        &self,
        segment: &SegmentMeta,
    ) -> BoxFuture<'static, Option<Arc<SegmentIndex>>> {
        let store = Arc::clone(&self.store);
        let cache = Arc::clone(&self.index_cache);
        let path = segment.index_path.clone();
        Box::pin(async move { cache.load(store.as_ref(), path.as_deref()?).await })
    }
}

mod compact;
mod registry;

use registry::SeriesRegistry;

pub use compact::{CompactionConfig, MaintenanceReport, RetentionConfig, SignalRetention};

#[cfg(test)]
mod tests;
