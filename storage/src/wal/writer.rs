//! The single writer thread: group commit, fsync policy, segment rolls, and applying and
//! acknowledging records in LSN order.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use tokio::sync::oneshot;

use super::config::{FsyncPolicy, WalEntry};
use super::files::{create_segment, timed_sync, SegmentFile, Shared};
use super::format;
use crate::metrics::{WAL_BYTES_WRITTEN, WAL_RECORDS};
use crate::{Error, Result};

/// Group buffers above this capacity are released after use (one huge record should not pin
/// its memory forever).
const KEEP_BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// One queued append.
pub(super) struct Pending {
    pub(super) entry: WalEntry,
    pub(super) apply: Box<dyn FnOnce(u64) + Send>,
    pub(super) ack: oneshot::Sender<Result<u64>>,
    /// Bytes the record takes in the file.
    pub(super) len: usize,
}

/// The file the writer appends to.
pub(super) struct Active {
    pub(super) file: File,
    pub(super) path: PathBuf,
    pub(super) first_lsn: u64,
    pub(super) bytes: u64,
}

/// State owned by the writer thread.
pub(super) struct Writer {
    pub(super) rx: Receiver<Pending>,
    pub(super) shared: Arc<Shared>,
    pub(super) policy: FsyncPolicy,
    pub(super) segment_bytes: u64,
    pub(super) max_group_bytes: usize,
    pub(super) active: Active,
    pub(super) next_lsn: u64,
    pub(super) buf: Vec<u8>,
    /// Written but not yet fsynced.
    pub(super) dirty: bool,
    pub(super) last_sync: Instant,
    /// Why the writer stopped accepting appends after a write, fsync or roll error.
    pub(super) failed: Option<String>,
}

impl Writer {
    /// Runs until every sender is gone and the queue is drained, then fsyncs what is left.
    pub(super) fn run(mut self) -> Result<()> {
        let mut carry: Option<Pending> = None;
        loop {
            let first = match carry.take() {
                Some(p) => p,
                None => match self.next_message() {
                    Some(p) => p,
                    None => break,
                },
            };
            if let Some(reason) = &self.failed {
                refuse(first, reason);
                continue;
            }
            let mut bytes = first.len;
            let mut group = vec![first];
            while bytes < self.max_group_bytes {
                match self.rx.try_recv() {
                    Ok(p) if bytes + p.len > self.max_group_bytes => {
                        carry = Some(p);
                        break;
                    }
                    Ok(p) => {
                        bytes += p.len;
                        group.push(p);
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.commit(group);
        }
        self.shutdown()
    }

    /// Waits for the next append, fsyncing on time under [`FsyncPolicy::Interval`].
    fn next_message(&mut self) -> Option<Pending> {
        loop {
            match self.policy {
                FsyncPolicy::Interval(every) if self.dirty && self.failed.is_none() => {
                    match self.rx.recv_deadline(self.last_sync + every) {
                        Ok(p) => return Some(p),
                        Err(RecvTimeoutError::Timeout) => self.interval_sync(),
                        Err(RecvTimeoutError::Disconnected) => return None,
                    }
                }
                _ => return self.rx.recv().ok(),
            }
        }
    }

    /// Writes one group with a single write, makes it durable per policy, then applies and
    /// acknowledges each record in LSN order.
    fn commit(&mut self, group: Vec<Pending>) {
        let first_lsn = self.next_lsn;
        self.buf.clear();
        for (lsn, p) in (first_lsn..).zip(&group) {
            let e = &p.entry;
            format::encode_record(&mut self.buf, lsn, e.signal, e.tenant.as_str(), &e.payload);
        }
        if let Err((doing, error)) = self.write_buf() {
            let context = format!(
                "failed to {doing} wal segment {}",
                self.active.path.display()
            );
            tracing::error!(%error, file = %self.active.path.display(), "wal {doing} failed; refusing further appends");
            self.failed = Some(format!("{context}: {error}"));
            for p in group {
                let copy = io::Error::new(error.kind(), error.to_string());
                let _ = p.ack.send(Err(Error::io(context.clone(), copy)));
            }
            return;
        }
        let written = self.buf.len() as u64;
        let count = group.len() as u64;
        self.next_lsn += count;
        self.shared.next_lsn.store(self.next_lsn, Ordering::Release);
        WAL_BYTES_WRITTEN.inc_by(written);
        WAL_RECORDS.inc_by(count);
        if self.buf.capacity() > KEEP_BUFFER_BYTES.max(2 * self.max_group_bytes) {
            self.buf = Vec::new();
        }

        for (lsn, p) in (first_lsn..).zip(group) {
            (p.apply)(lsn);
            // The caller may have stopped waiting; the record is durable and applied anyway.
            let _ = p.ack.send(Ok(lsn));
        }

        if let FsyncPolicy::Interval(every) = self.policy {
            if self.last_sync.elapsed() >= every {
                self.interval_sync();
            }
        }
        // Rolling only after the apply loop keeps every record of a closed file applied, which
        // `Wal::truncate_before` relies on.
        if self.failed.is_none() && self.active.bytes >= self.segment_bytes {
            if let Err(error) = self.roll() {
                tracing::error!(%error, "failed to roll wal segment; refusing further appends");
                self.failed = Some(error.to_string());
            }
        }
    }

    /// Writes the encoded group and, under [`FsyncPolicy::Always`], fsyncs it. An error comes
    /// with the step that failed.
    fn write_buf(&mut self) -> Result<(), (&'static str, io::Error)> {
        let result = self.active.file.write_all(&self.buf);
        let grown = match &result {
            Ok(()) => self.buf.len() as u64,
            // A failed write may still have extended the file.
            Err(_) => self
                .active
                .file
                .metadata()
                .map_or(0, |m| m.len().saturating_sub(self.active.bytes)),
        };
        self.active.bytes += grown;
        self.shared.add_disk_bytes(grown);
        result.map_err(|e| ("write", e))?;
        match self.policy {
            FsyncPolicy::Always => timed_sync(
                self.shared.sync.as_ref(),
                &self.active.file,
                &self.active.path,
            )
            .map_err(|e| ("fsync", e)),
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => {
                self.dirty = true;
                Ok(())
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            timed_sync(
                self.shared.sync.as_ref(),
                &self.active.file,
                &self.active.path,
            )?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    fn interval_sync(&mut self) {
        if let Err(error) = self.sync() {
            tracing::error!(%error, file = %self.active.path.display(), "wal fsync failed; refusing further appends");
            self.failed = Some(format!(
                "failed to fsync wal segment {}: {error}",
                self.active.path.display()
            ));
        }
    }

    /// Closes the full active file and starts the next one, named after the next LSN.
    fn roll(&mut self) -> Result<()> {
        if self.policy != FsyncPolicy::Never {
            self.sync().map_err(|e| {
                Error::io(
                    format!("failed to fsync wal segment {}", self.active.path.display()),
                    e,
                )
            })?;
        }
        let durable = self.policy != FsyncPolicy::Never;
        let (file, path) = create_segment(
            &self.shared.dir,
            self.next_lsn,
            durable,
            self.shared.sync.as_ref(),
        )?;
        let old = std::mem::replace(
            &mut self.active,
            Active {
                file,
                path,
                first_lsn: self.next_lsn,
                bytes: format::HEADER_LEN,
            },
        );
        // Whatever the old file still holds unsynced (Never) is forgotten, as that policy says.
        self.dirty = false;
        {
            let mut segments = self.shared.segments.lock();
            segments.closed.push(SegmentFile {
                first_lsn: old.first_lsn,
                path: old.path,
                bytes: old.bytes,
            });
            segments.active_first_lsn = self.next_lsn;
        }
        self.shared.add_disk_bytes(format::HEADER_LEN);
        Ok(())
    }

    /// Final fsync once the queue is drained.
    fn shutdown(mut self) -> Result<()> {
        if let Some(reason) = self.failed.take() {
            return Err(Error::WalClosed(reason));
        }
        let path = self.active.path.clone();
        self.sync()
            .map_err(|e| Error::io(format!("failed to fsync wal segment {}", path.display()), e))
    }
}

/// Fails an append that arrives after the writer stopped.
fn refuse(p: Pending, reason: &str) {
    let _ = p.ack.send(Err(Error::WalClosed(reason.to_string())));
}
