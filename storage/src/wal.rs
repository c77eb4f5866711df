//! The write-ahead log: [`Wal::append`] takes an entry (tenant, signal, request payload), a
//! single writer thread group-commits queued entries to segment files under consecutive LSNs,
//! makes them durable per [`FsyncPolicy`], applies each to the in-memory head in LSN order and
//! then acknowledges it. [`Wal::open`] replays every record still on disk (cutting a torn tail
//! left by a crash), and [`Wal::truncate_before`] deletes files whose records are all flushed.
//!
//! The file format is described in `wal/format.rs`.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Sender;
use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;

mod config;
mod files;
mod format;
mod replay;
#[cfg(test)]
mod tests;
mod writer;

pub use config::{FsyncPolicy, ReplayedRecord, WalConfig, WalEntry};

use self::files::{create_dir, create_segment, sync_dir, Segments, Shared};
use self::writer::{Active, Pending, Writer};
use crate::metrics::WAL_DISK_BYTES;
use crate::{Error, Result};

/// The write-ahead log. It is `Send + Sync` and shared behind an `Arc`; one writer thread owns
/// the files, and appends reach it through a queue.
pub struct Wal {
    shared: Arc<Shared>,
    /// `None` once closed; taking it under the write lock makes sure no append is queued after
    /// the writer was told to stop.
    sender: RwLock<Option<Sender<Pending>>>,
    writer: Mutex<Option<JoinHandle<Result<()>>>>,
}

impl Wal {
    /// Creates `config.dir` if needed, replays every valid record in LSN order into `replay`,
    /// cuts a torn or corrupt tail (truncating the file to its last good record and removing
    /// any later files, which cannot be trusted after a gap), and starts the writer thread.
    /// The next append gets the LSN after the last replayed record (1 on an empty directory).
    ///
    /// Fails if `replay` fails, on I/O errors, and on a segment written in a newer format
    /// version (such a file is left untouched).
    pub fn open(
        config: WalConfig,
        mut replay: impl FnMut(ReplayedRecord) -> Result<()>,
    ) -> Result<Wal> {
        let dir = config.dir.clone();
        let sync = Arc::clone(&config.sync);
        create_dir(&dir, sync.as_ref())?;
        let recovered = replay::recover(&dir, sync.as_ref(), &mut replay)?;
        let next_lsn = recovered.next_lsn;
        let mut closed = recovered.segments;
        let active = match closed.pop() {
            Some(last) => Active {
                file: OpenOptions::new()
                    .append(true)
                    .open(&last.path)
                    .map_err(|e| {
                        Error::io(
                            format!("failed to open wal segment {}", last.path.display()),
                            e,
                        )
                    })?,
                path: last.path,
                first_lsn: last.first_lsn,
                bytes: last.bytes,
            },
            None => {
                let (file, path) = create_segment(&dir, next_lsn, true, sync.as_ref())?;
                Active {
                    file,
                    path,
                    first_lsn: next_lsn,
                    bytes: format::HEADER_LEN,
                }
            }
        };
        let disk_bytes = closed.iter().map(|s| s.bytes).sum::<u64>() + active.bytes;
        WAL_DISK_BYTES.set(i64::try_from(disk_bytes).unwrap_or(i64::MAX));
        let shared = Arc::new(Shared {
            dir,
            sync,
            next_lsn: AtomicU64::new(next_lsn),
            disk_bytes: AtomicU64::new(disk_bytes),
            segments: Mutex::new(Segments {
                closed,
                active_first_lsn: active.first_lsn,
            }),
        });
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = Writer {
            rx,
            shared: Arc::clone(&shared),
            policy: config.fsync,
            segment_bytes: config.segment_bytes,
            max_group_bytes: config.max_group_bytes,
            active,
            next_lsn,
            buf: Vec::new(),
            dirty: false,
            last_sync: Instant::now(),
            failed: None,
        };
        let handle = std::thread::Builder::new()
            .name("vigil-wal-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::io("failed to start the wal writer thread", e))?;
        Ok(Wal {
            shared,
            sender: RwLock::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
        })
    }

    /// Queues `entry` for the writer thread and returns a future of its LSN.
    ///
    /// The entry is queued when `append` is called, not when the future is first polled, so
    /// calls made one after another get increasing LSNs, and a dropped future does not cancel
    /// the write. The writer takes everything queued (up to `max_group_bytes`), assigns
    /// consecutive LSNs, writes the group with one write and makes it durable per the
    /// [`FsyncPolicy`]; then, on the writer thread and in LSN order, it calls each entry's
    /// `apply(lsn)` and resolves its future with `Ok(lsn)`. `apply` must be quick: it holds up
    /// every later append.
    ///
    /// After a write, fsync or segment-roll error every pending and later append fails
    /// ([`Error::Io`] for the failed group, [`Error::WalClosed`] afterwards) and `apply` is not
    /// called for them; appends after [`Wal::close`] fail with [`Error::WalClosed`].
    pub fn append(
        &self,
        entry: WalEntry,
        apply: Box<dyn FnOnce(u64) + Send>,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        let queued = self.enqueue(entry, apply);
        async move {
            match queued?.await {
                Ok(result) => result,
                Err(_) => Err(Error::WalClosed(
                    "wal writer stopped before acknowledging the append".into(),
                )),
            }
        }
    }

    fn enqueue(
        &self,
        entry: WalEntry,
        apply: Box<dyn FnOnce(u64) + Send>,
    ) -> Result<oneshot::Receiver<Result<u64>>> {
        let body_len = format::body_len(entry.tenant.as_str(), &entry.payload);
        if body_len > format::MAX_BODY_LEN {
            return Err(Error::io(
                "refusing wal record",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "record of {body_len} bytes exceeds the limit of {} bytes",
                        format::MAX_BODY_LEN
                    ),
                ),
            ));
        }
        let (ack, rx) = oneshot::channel();
        let pending = Pending {
            len: format::FRAME_LEN + body_len,
            entry,
            apply,
            ack,
        };
        let sender = self.sender.read();
        let Some(sender) = sender.as_ref() else {
            return Err(Error::WalClosed("wal is closed".into()));
        };
        sender
            .send(pending)
            .map_err(|_| Error::WalClosed("wal writer thread is gone".into()))?;
        Ok(rx)
    }

    /// Deletes closed segment files all of whose records have an LSN below `lsn` (they are
    /// covered by flushed Parquet segments). The file being written is never deleted. Returns
    /// the bytes freed.
    pub fn truncate_before(&self, lsn: u64) -> Result<u64> {
        let mut segments = self.shared.segments.lock();
        let Segments {
            closed,
            active_first_lsn,
        } = &mut *segments;
        // A closed file's records end just before the next file's first LSN.
        let covered = (0..closed.len())
            .take_while(|&i| closed.get(i + 1).map_or(*active_first_lsn, |n| n.first_lsn) <= lsn)
            .count();
        let mut freed = 0;
        let mut removed = 0;
        let mut result = Ok(());
        for segment in &closed[..covered] {
            match fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    tracing::warn!(file = %segment.path.display(), "wal segment already gone");
                }
                Err(e) => {
                    let ctx = format!("failed to remove wal segment {}", segment.path.display());
                    result = Err(Error::io(ctx, e));
                    break;
                }
            }
            freed += segment.bytes;
            removed += 1;
        }
        closed.drain(..removed);
        drop(segments);
        self.shared.sub_disk_bytes(freed);
        if removed > 0 {
            sync_dir(&self.shared.dir, self.shared.sync.as_ref())?;
            tracing::debug!(
                files = removed,
                bytes = freed,
                before_lsn = lsn,
                "truncated wal"
            );
        }
        result.map(|()| freed)
    }

    /// Writes and fsyncs everything queued, then stops the writer thread; later appends fail
    /// with [`Error::WalClosed`]. Fails if the final fsync fails or the writer had already
    /// stopped on an error. Calling it again does nothing; dropping the `Wal` closes it too.
    pub fn close(&self) -> Result<()> {
        let mut writer = self.writer.lock();
        // Dropping the only sender lets the writer drain the queue and return.
        drop(self.sender.write().take());
        let Some(handle) = writer.take() else {
            return Ok(());
        };
        if handle.thread().id() == std::thread::current().id() {
            // Called from an `apply` callback: the writer finishes on its own after this group.
            return Ok(());
        }
        handle
            .join()
            .map_err(|_| Error::WalClosed("wal writer thread panicked".into()))?
    }

    /// The LSN the next append gets.
    pub fn next_lsn(&self) -> u64 {
        self.shared.next_lsn.load(Ordering::Acquire)
    }

    /// Bytes of WAL segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.shared.disk_bytes.load(Ordering::Acquire)
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(error) = self.close() {
            tracing::warn!(%error, "failed to close wal on drop");
        }
    }
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .field("next_lsn", &self.next_lsn())
            .field("disk_bytes", &self.disk_bytes())
            .finish_non_exhaustive()
    }
}
