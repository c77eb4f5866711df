//! Durable storage of Vigil: acknowledged rows flow in through [`Engine::append`] (WAL first,
//! then the in-memory head), are flushed to sorted zstd Parquet segments recorded in a per
//! tenant and signal manifest, and flow out as [`TableSnapshot`]s (head batches plus segment
//! files) that the query crate scans.

mod engine;
mod error;
pub mod exemplars;
mod flush;
mod head;
pub mod hot;
pub mod index;
mod manifest;
pub mod metrics;
pub mod samples_layout;
mod segment;
mod series;
pub mod wal;

pub use engine::{
    CompactionConfig, Engine, EngineConfig, HotRead, KnownSeries, MaintenanceReport,
    PayloadDecoder, ReadView, RetentionConfig, Rows, SignalRetention, Sink, TableSnapshot,
};
pub use error::{Error, Result};
pub use manifest::{ExemplarsFile, SegmentMeta};
pub use wal::{FsyncPolicy, WalConfig};
