//! Write-ahead log (being written).

use std::path::PathBuf;
use std::time::Duration;

/// When the WAL fsyncs relative to acknowledging a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Group commit: every batch of queued records is written and fsynced before any of them is
    /// acknowledged (the default).
    Always,
    /// Acknowledge after write(2); fsync every interval.
    Interval(Duration),
    /// Never fsync (tests and benchmarks of the rest of the pipeline only).
    Never,
}

/// WAL configuration.
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// Directory of WAL segment files.
    pub dir: PathBuf,
    /// Fsync policy.
    pub fsync: FsyncPolicy,
    /// Roll to a new segment file past this size.
    pub segment_bytes: u64,
    /// Most bytes written in one group commit.
    pub max_group_bytes: usize,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./vigil-data/wal"),
            fsync: FsyncPolicy::Always,
            segment_bytes: 64 * 1024 * 1024,
            max_group_bytes: 8 * 1024 * 1024,
        }
    }
}
