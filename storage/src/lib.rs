//! Durable storage of Vigil: acknowledged rows flow in through the [`Sink`] ([`Engine`]: WAL
//! first, then the in-memory head), are flushed to sorted zstd Parquet segments recorded in a
//! per tenant and signal manifest, merged and expired in the background, and flow out through
//! the read interface ([`read`]: table snapshots, series, sample runs, exemplars and the
//! segment format) that the query engines use. Only this crate knows how files are laid out.

mod durable;
mod engine;
mod error;
mod exemplars;
mod head;
mod hot;
pub mod index;
mod manifest;
mod metrics;
pub mod read;
mod samples_layout;
mod segment;
mod series;
pub mod wal;

pub use durable::{OsSync, SyncFs};
pub use engine::{
    CompactionConfig, Engine, EngineConfig, KnownSeries, MaintenanceReport, PayloadDecoder,
    RetentionConfig, Rows, SignalRetention, Sink,
};
pub use error::{Error, Result};
pub use exemplars::Columns as ExemplarColumns;
pub use hot::HotConfig;
pub use manifest::{ExemplarsFile, SegmentMeta};
pub use read::{MetricRead, ReadView, TableSnapshot};
pub use wal::{FsyncPolicy, WalConfig};
