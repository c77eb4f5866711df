//! The storage engine: WAL, heads and segments of every tenant and signal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use common::{Signal, Tenant};
use futures::future::BoxFuture;
use object_store::ObjectStore;

use crate::manifest::SegmentMeta;
use crate::wal::WalConfig;
use crate::Result;

/// Rows converted from one request: the main table's rows, and for metrics the series they use.
#[derive(Debug, Clone)]
pub struct Rows {
    /// Rows of `spans`, `logs` or `samples`, in that table's schema.
    pub batch: RecordBatch,
    /// For metrics: rows of `series` (schema `common::schema::series_schema`) for every series
    /// that `batch` references. `None` for traces and logs.
    pub series: Option<RecordBatch>,
}

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

/// Read access to stored data, the seam between storage and query.
pub trait ReadView: Send + Sync + 'static {
    /// A consistent snapshot of table `spans`, `logs` or `samples` of `tenant`; empty for an
    /// unknown tenant.
    fn snapshot(&self, tenant: &Tenant, table: &str) -> TableSnapshot;
    /// The rows of the `series` table of `tenant`, one per series id.
    fn series(&self, tenant: &Tenant) -> Vec<RecordBatch>;
    /// The store that segment paths are relative to.
    fn object_store(&self) -> Arc<dyn ObjectStore>;
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
    /// zstd level of Parquet segments.
    pub zstd_level: i32,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./vigil-data"),
            wal: WalConfig::default(),
            flush_bytes: 256 * 1024 * 1024,
            flush_age: Duration::from_secs(300),
            max_head_bytes: 2 * 1024 * 1024 * 1024,
            zstd_level: 6,
            row_group_rows: 1_048_576,
        }
    }
}

/// The storage engine.
#[derive(Debug)]
pub struct Engine {}
