//! What the WAL is configured with, and the records that go in and come back out.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Signal, Tenant};

use crate::durable::{OsSync, SyncFs};

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
    /// The syncs the WAL's durability rests on (the operating system's; tests inject others).
    pub sync: Arc<dyn SyncFs>,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./vigil-data/wal"),
            fsync: FsyncPolicy::Always,
            segment_bytes: 64 * 1024 * 1024,
            max_group_bytes: 8 * 1024 * 1024,
            sync: Arc::new(OsSync),
        }
    }
}

/// One record to append: which tenant and signal it belongs to and the request payload that
/// replay turns back into rows.
#[derive(Debug, Clone)]
pub struct WalEntry {
    /// The tenant that sent the data.
    pub tenant: Tenant,
    /// The kind of telemetry in `payload`.
    pub signal: Signal,
    /// The request as received (OTLP protobuf), kept verbatim.
    pub payload: Bytes,
}

/// A record read back by [`Wal::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedRecord {
    /// The record's log sequence number.
    pub lsn: u64,
    /// The tenant that sent the data.
    pub tenant: Tenant,
    /// The kind of telemetry in `payload`.
    pub signal: Signal,
    /// The payload as appended.
    pub payload: Bytes,
}
