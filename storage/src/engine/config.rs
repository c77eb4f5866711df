//! What the engine is configured with: where data lives, when heads flush, how segments are
//! encoded and indexed, compacted and kept, and the hot window of recent samples.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use common::{Signal, Tenant};

use crate::hot::HotConfig;
use crate::index::IndexOptions;
use crate::segment::SegmentOptions;
use crate::wal::WalConfig;

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
    /// zstd level of free-text columns (log bodies) in flushed segments: lower than
    /// [`EngineConfig::compact_text_zstd_level`], since flushes keep pace with ingest.
    pub text_zstd_level: i32,
    /// zstd level of free-text columns in compacted segments, written in the background.
    pub compact_text_zstd_level: i32,
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
    /// Testing aid: the first flush stops forever at `written` (its files durable, the
    /// manifest not committed) or `committed` (committed, head and WAL not yet released), so a
    /// test can kill the process there.
    pub flush_pause_at: Option<String>,
}

impl EngineConfig {
    /// How flushes encode segment files.
    pub(crate) fn segment_options(&self) -> SegmentOptions {
        SegmentOptions {
            zstd_level: self.zstd_level,
            text_zstd_level: self.text_zstd_level,
            row_group_rows: self.row_group_rows,
        }
    }

    /// How compactions encode segment files.
    pub(crate) fn compaction_segment_options(&self) -> SegmentOptions {
        SegmentOptions {
            text_zstd_level: self.compact_text_zstd_level,
            ..self.segment_options()
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
            text_zstd_level: 3,
            compact_text_zstd_level: 10,
            row_group_rows: 1_048_576,
            index: Some(IndexOptions::default()),
            index_body_at_flush: true,
            index_cache_bytes: 512 * 1024 * 1024,
            compaction: CompactionConfig::default(),
            retention: RetentionConfig::default(),
            hot: HotConfig::default(),
            flush_pause_at: None,
        }
    }
}

/// How segments are merged.
#[derive(Debug, Clone)]
pub struct CompactionConfig {
    /// Whether the compactor runs.
    pub enabled: bool,
    /// How often it looks for work (and applies retention).
    pub interval: Duration,
    /// Segments younger than this are left alone (more may join them).
    pub min_age: Duration,
    /// Largest output segment, in bytes of its inputs' Parquet files.
    pub target_bytes: u64,
    /// Largest output segment, in rows (bounds the memory a merge takes).
    pub target_rows: u64,
    /// How long files stay on disk after they left the manifest.
    pub grace: Duration,
    /// Testing aid: stop (forever) at this point of the first compaction: `read`, `written`
    /// or `committed`, so a test can kill the process there.
    pub pause_at: Option<String>,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(60),
            min_age: Duration::from_secs(300),
            target_bytes: 256 * 1024 * 1024,
            target_rows: 8 * 1024 * 1024,
            grace: Duration::from_secs(300),
            pause_at: None,
        }
    }
}

/// Retention periods of the three signals (`None`: keep forever).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalRetention {
    /// `spans`.
    pub traces: Option<Duration>,
    /// `logs`.
    pub logs: Option<Duration>,
    /// `samples` (and their series).
    pub metrics: Option<Duration>,
}

impl SignalRetention {
    fn get(&self, signal: Signal) -> Option<Duration> {
        match signal {
            Signal::Traces => self.traces,
            Signal::Logs => self.logs,
            Signal::Metrics => self.metrics,
        }
    }
}

/// How long data is kept: a default, and per-tenant overrides of single signals.
#[derive(Debug, Clone, Default)]
pub struct RetentionConfig {
    /// Periods of every tenant without an override.
    pub default: SignalRetention,
    /// Per tenant: the signals whose period differs from the default.
    pub tenants: HashMap<String, SignalRetention>,
}

impl RetentionConfig {
    /// The retention period of `signal` for `tenant`.
    pub fn period(&self, tenant: &Tenant, signal: Signal) -> Option<Duration> {
        self.tenants
            .get(tenant.as_str())
            .and_then(|t| t.get(signal))
            .or_else(|| self.default.get(signal))
    }
}
