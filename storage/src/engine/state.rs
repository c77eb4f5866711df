//! The engine itself: its state (the WAL, the heads and segments of every table, the series
//! registries), opening it (manifests loaded, the WAL replayed into the heads) and the helpers
//! its write, read, flush and maintenance paths share.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Signal, Tenant};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::{Mutex, RwLock};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::sync::Notify;

use super::config::EngineConfig;
use super::registry::SeriesRegistry;
use super::sink::PayloadDecoder;
use crate::durable::SyncFs;
use crate::head::TableState;
use crate::index::IndexCache;
use crate::manifest::{self, SegmentMeta};
use crate::metrics;
use crate::wal::{ReplayedRecord, Wal};
use crate::{Error, Result};

/// The storage engine: the WAL, and the heads and segments of every tenant and signal.
pub struct Engine {
    pub(super) config: EngineConfig,
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) store_root: PathBuf,
    pub(super) wal: Wal,
    pub(super) tables: RwLock<BTreeMap<(Tenant, Signal), Arc<TableState>>>,
    pub(super) series: RwLock<HashMap<Tenant, Arc<SeriesRegistry>>>,
    pub(super) head_bytes: Arc<AtomicU64>,
    /// Woken whenever a flush frees head bytes.
    pub(super) head_drained: Arc<Notify>,
    pub(super) clock: Arc<dyn common::Clock>,
    /// Decoded indexes of segments, for queries.
    pub(super) index_cache: Arc<IndexCache>,
    /// Files that left the manifest, with the clock time (ns) from which they may be deleted.
    pub(super) pending_deletes: Mutex<Vec<(i64, String)>>,
    /// Maintenance passes so far (the orphan scan runs on every tenth).
    pub(super) maintenance_passes: AtomicU64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// Makes a file and its directory entry durable; either failing is an error, so what the file
/// holds is never committed (or acknowledged) on a sync that did not happen.
pub(super) fn sync_file(sync: &dyn SyncFs, path: &FsPath) -> Result<()> {
    sync.sync_file(path)
        .map_err(|e| Error::io(format!("failed to fsync {}", path.display()), e))?;
    if let Some(dir) = path.parent() {
        sync.sync_dir(dir)
            .map_err(|e| Error::io(format!("failed to fsync directory {}", dir.display()), e))?;
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

    pub(super) fn table(&self, tenant: &Tenant, signal: Signal) -> Arc<TableState> {
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

    pub(super) fn registry(&self, tenant: &Tenant) -> Arc<SeriesRegistry> {
        if let Some(r) = self.series.read().get(tenant) {
            return Arc::clone(r);
        }
        Arc::clone(self.series.write().entry(tenant.clone()).or_default())
    }

    pub(super) fn all_tables(&self) -> Vec<Arc<TableState>> {
        self.tables.read().values().cloned().collect()
    }

    /// Unflushed bytes over all heads.
    pub fn head_bytes(&self) -> u64 {
        self.head_bytes.load(Ordering::Relaxed)
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.clock.now_nanos() / 1_000_000
    }

    /// Bytes of WAL files on disk.
    pub fn wal_disk_bytes(&self) -> u64 {
        self.wal.disk_bytes()
    }
}

/// Runs `work` every `period` (the first time at once) until `shutdown` resolves; a run that
/// overruns delays the next instead of bunching them.
pub(super) async fn every<F, Fut>(
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

pub(super) fn update_segment_gauges(signal: Signal, segments: &[SegmentMeta], sign: i64) {
    let bytes: u64 = segments.iter().map(|s| s.bytes).sum();
    metrics::SEGMENTS
        .with_label_values(&[signal.as_str()])
        .add(sign * segments.len() as i64);
    metrics::SEGMENT_BYTES
        .with_label_values(&[signal.as_str()])
        .add(sign * bytes as i64);
}

/// `YYYY-MM-DD` (UTC) of a nanosecond timestamp.
pub(super) fn day_of(nanos: i64) -> String {
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
