//! The WAL's files and the state about them that the handle and the writer thread share:
//! segment files, their creation (header written, made durable) and fsyncs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::format;
use crate::durable::SyncFs;
use crate::metrics::{WAL_DISK_BYTES, WAL_FSYNC_SECONDS};
use crate::{Error, Result};

/// State the writer thread and the handle share.
pub(super) struct Shared {
    pub(super) dir: PathBuf,
    pub(super) sync: Arc<dyn SyncFs>,
    pub(super) next_lsn: AtomicU64,
    pub(super) disk_bytes: AtomicU64,
    pub(super) segments: Mutex<Segments>,
}

impl Shared {
    pub(super) fn add_disk_bytes(&self, n: u64) {
        let total = self
            .disk_bytes
            .fetch_add(n, Ordering::AcqRel)
            .saturating_add(n);
        WAL_DISK_BYTES.set(i64::try_from(total).unwrap_or(i64::MAX));
    }

    pub(super) fn sub_disk_bytes(&self, n: u64) {
        let before = self
            .disk_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(b.saturating_sub(n))
            })
            .unwrap_or_else(|b| b);
        let total = before.saturating_sub(n);
        WAL_DISK_BYTES.set(i64::try_from(total).unwrap_or(i64::MAX));
    }
}

/// The segment files on disk.
pub(super) struct Segments {
    /// Files the writer has moved past, in LSN order.
    pub(super) closed: Vec<SegmentFile>,
    /// First LSN of the file being written.
    pub(super) active_first_lsn: u64,
}

/// One segment file.
#[derive(Debug)]
pub(super) struct SegmentFile {
    pub(super) first_lsn: u64,
    pub(super) path: PathBuf,
    pub(super) bytes: u64,
}

/// Creates the WAL directory, making a new directory entry durable.
pub(super) fn create_dir(dir: &Path, sync: &dyn SyncFs) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            format!("failed to create wal directory {}", dir.display()),
            e,
        )
    })?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent, sync),
        _ => Ok(()),
    }
}

/// Creates the segment file whose first record will be `first_lsn` and writes its header;
/// `durable` fsyncs the file and the directory.
pub(super) fn create_segment(
    dir: &Path,
    first_lsn: u64,
    durable: bool,
    sync: &dyn SyncFs,
) -> Result<(File, PathBuf)> {
    let path = dir.join(format::file_name(first_lsn));
    let ctx = || format!("failed to create wal segment {}", path.display());
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(ctx(), e))?;
    file.write_all(&format::header())
        .map_err(|e| Error::io(ctx(), e))?;
    if durable {
        sync.sync_file(&path).map_err(|e| Error::io(ctx(), e))?;
        sync_dir(dir, sync)?;
    }
    Ok((file, path))
}

/// Makes file creations and removals in `dir` durable.
pub(super) fn sync_dir(dir: &Path, sync: &dyn SyncFs) -> Result<()> {
    sync.sync_dir(dir).map_err(|e| {
        Error::io(
            format!("failed to fsync wal directory {}", dir.display()),
            e,
        )
    })
}

/// fdatasync of the segment file `file` at `path`, timed into `WAL_FSYNC_SECONDS`.
pub(super) fn timed_sync(sync: &dyn SyncFs, file: &File, path: &Path) -> io::Result<()> {
    let start = Instant::now();
    let result = sync.sync_data(file, path);
    WAL_FSYNC_SECONDS.observe(start.elapsed().as_secs_f64());
    result
}
