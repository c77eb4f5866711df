//! The fsyncs that durability rests on, behind one seam ([`SyncFs`]): the WAL's data and
//! directory syncs before an acknowledgement, and the syncs of segment, index and manifest files
//! before a manifest commit. Production uses the operating system's ([`OsSync`]); tests inject a
//! layer that records the order of syncs and acknowledgements, drops every write not yet synced
//! (a power loss), or fails a sync.

use std::fs::File;
use std::io;
use std::path::Path;

/// The sync operations storage depends on for durability. Every error is returned to the
/// caller, which must not acknowledge (or commit) what the failed sync should have covered.
pub trait SyncFs: Send + Sync + std::fmt::Debug + 'static {
    /// Makes the data of `file` (opened at `path`) durable, as `fdatasync` does.
    fn sync_data(&self, file: &File, path: &Path) -> io::Result<()>;

    /// Makes the file at `path` durable, data and metadata, as `fsync` does.
    fn sync_file(&self, path: &Path) -> io::Result<()>;

    /// Makes the entries of directory `dir` (files created, renamed or removed in it) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The operating system's syncs.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSync;

impl SyncFs for OsSync {
    fn sync_data(&self, file: &File, _path: &Path) -> io::Result<()> {
        file.sync_data()
    }

    fn sync_file(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}
