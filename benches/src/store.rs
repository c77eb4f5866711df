//! A store built in process for the query benchmarks (`indexbench`, `logbench`): the storage
//! engine configured as the server runs it, requests appended through the OTLP conversion and
//! flushed and compacted as the server would, and the same store seen without its indexes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use arrow::array::RecordBatch;
use bytes::Bytes;
use common::{Signal, Tenant};
use futures::future::BoxFuture;
use object_store::ObjectStore;
use storage::index::SegmentIndex;
use storage::{
    CompactionConfig, Engine, EngineConfig, FsyncPolicy, ReadView, SegmentMeta, Sink,
    TableSnapshot, WalConfig,
};

use crate::gen::Request;

/// The engine configuration of a benchmark store in `dir`: no fsync (the data is generated
/// again rather than recovered), compaction without waiting.
pub fn engine_config(dir: &Path) -> EngineConfig {
    EngineConfig {
        data_dir: dir.to_path_buf(),
        wal: WalConfig {
            fsync: FsyncPolicy::Never,
            ..WalConfig::default()
        },
        compaction: CompactionConfig {
            min_age: Duration::ZERO,
            grace: Duration::ZERO,
            ..CompactionConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// Opens (or creates) the store in `dir`.
pub async fn open(dir: &Path) -> anyhow::Result<Arc<Engine>> {
    Ok(Engine::open(
        engine_config(dir),
        Arc::new(common::SystemClock),
        Arc::new(ingest::convert::OtlpDecoder),
    )
    .await?)
}

/// Converts `req` and appends it to the default tenant's `signal`, flushing the head when it is
/// as large as the server lets it grow; returns the items accepted.
pub async fn append(engine: &Engine, signal: Signal, req: &Request) -> anyhow::Result<u64> {
    let converted = match req {
        Request::Logs(r) => ingest::convert::logs(r),
        Request::Traces(r) => ingest::convert::traces(r),
        Request::Metrics(r) => ingest::convert::metrics(r),
    };
    let Some(rows) = converted.rows else {
        bail!("conversion kept nothing: {:?}", converted.error);
    };
    engine
        .append(Tenant::default_tenant(), signal, Bytes::new(), rows)
        .await?;
    if engine.head_bytes() >= EngineConfig::default().flush_bytes {
        engine.flush_all().await?;
    }
    Ok(converted.accepted)
}

/// Flushes everything and compacts until nothing is left to merge; returns the segments merged.
pub async fn compact(engine: &Engine) -> anyhow::Result<usize> {
    engine.flush_all().await?;
    let mut merged = 0;
    loop {
        let report = engine.maintain().await?;
        merged += report.segments_merged;
        if report.compactions == 0 {
            break;
        }
    }
    // A second pass deletes what the last one replaced (zero grace).
    engine.maintain().await?;
    Ok(merged)
}

/// The engine seen without its indexes: every look-up answers "not indexed".
#[derive(Debug)]
pub struct NoIndex(pub Arc<Engine>);

impl ReadView for NoIndex {
    fn snapshot(&self, tenant: &Tenant, table: &str) -> TableSnapshot {
        self.0.snapshot(tenant, table)
    }
    fn series(&self, tenant: &Tenant) -> Vec<RecordBatch> {
        self.0.series(tenant)
    }
    fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.0.object_store()
    }
    fn segment_index(&self, _: &SegmentMeta) -> BoxFuture<'static, Option<Arc<SegmentIndex>>> {
        Box::pin(async { None })
    }
}

/// Rows, data bytes and index bytes of the default tenant's `table`.
pub fn table_size(engine: &Engine, table: &str) -> (usize, u64, u64, u64) {
    let snap = engine.snapshot(&Tenant::default_tenant(), table);
    let rows: u64 = snap.segments.iter().map(|s| s.rows).sum();
    let data: u64 = snap.segments.iter().map(|s| s.bytes + s.series_bytes).sum();
    let index: u64 = snap.segments.iter().map(|s| s.index_bytes).sum();
    (snap.segments.len(), rows, data, index)
}

/// p50 and p99 of `times` in milliseconds.
pub fn quantiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times[i].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.99))
}
