//! Start-up recovery: reads every segment in LSN order, hands valid records to the caller and
//! cuts a torn or corrupt tail so that appends continue from the last good record.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::Tenant;

use super::config::ReplayedRecord;
use super::files::{sync_dir, SegmentFile};
use super::format::{self, Header, FRAME_LEN, HEADER_LEN};
use crate::durable::SyncFs;
use crate::metrics::WAL_CORRUPT_TAILS;
use crate::{Error, Result};

/// Read buffer of the replay reader; large reads keep replay near disk speed.
const READ_BUFFER: usize = 1024 * 1024;

/// What recovery leaves behind.
#[derive(Debug)]
pub(super) struct Recovered {
    /// Segment files that remain, in LSN order, with their sizes after any cut.
    pub(super) segments: Vec<SegmentFile>,
    /// The LSN the next append gets.
    pub(super) next_lsn: u64,
}

/// Where and why a segment stops being trustworthy.
struct Corruption {
    offset: u64,
    reason: &'static str,
}

/// How far a segment could be read.
struct Scan {
    /// LSN after the last good record (the file's first LSN when it holds none).
    next_lsn: u64,
    /// Set when the file has a torn or corrupt tail.
    corruption: Option<Corruption>,
}

/// Replays every segment of `dir` into `replay` and cuts what cannot be trusted.
pub(super) fn recover(
    dir: &Path,
    sync: &dyn SyncFs,
    replay: &mut dyn FnMut(ReplayedRecord) -> Result<()>,
) -> Result<Recovered> {
    let files = list_segments(dir)?;
    let mut segments = Vec::with_capacity(files.len());
    let mut next_lsn: Option<u64> = None;
    let mut scanner = Scanner::default();
    for (i, (first_lsn, path)) in files.iter().enumerate() {
        if let Some(expected) = next_lsn {
            if *first_lsn != expected {
                // Records expected..first_lsn are missing, so nothing from here on can be trusted.
                tracing::warn!(
                    file = %path.display(),
                    offset = 0u64,
                    reason = "gap in lsns between segment files",
                    expected_lsn = expected,
                    "cutting torn wal tail"
                );
                WAL_CORRUPT_TAILS.inc();
                remove_files(dir, &files[i..], sync)?;
                break;
            }
        }
        let scan = scanner.scan(path, *first_lsn, replay)?;
        next_lsn = Some(scan.next_lsn);
        let Some(corruption) = scan.corruption else {
            segments.push(SegmentFile {
                first_lsn: *first_lsn,
                bytes: file_len(path)?,
                path: path.clone(),
            });
            continue;
        };
        tracing::warn!(
            file = %path.display(),
            offset = corruption.offset,
            reason = corruption.reason,
            "cutting torn wal tail"
        );
        WAL_CORRUPT_TAILS.inc();
        if corruption.offset < HEADER_LEN {
            // A torn header holds no records; the file is recreated when it is needed.
            remove_files(dir, &files[i..], sync)?;
        } else {
            cut(path, corruption.offset, sync)?;
            segments.push(SegmentFile {
                first_lsn: *first_lsn,
                bytes: corruption.offset,
                path: path.clone(),
            });
            remove_files(dir, &files[i + 1..], sync)?;
        }
        break;
    }
    Ok(Recovered {
        segments,
        next_lsn: next_lsn.unwrap_or(1),
    })
}

/// The segment files of `dir` sorted by first LSN; other files are left alone.
pub(super) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let ctx = || format!("failed to list wal directory {}", dir.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(ctx(), e))? {
        let entry = entry.map_err(|e| Error::io(ctx(), e))?;
        let name = entry.file_name();
        match name.to_str().and_then(format::parse_file_name) {
            Some(lsn) => files.push((lsn, entry.path())),
            None => {
                tracing::warn!(file = %entry.path().display(), "ignoring unknown file in wal directory");
            }
        }
    }
    files.sort_unstable();
    Ok(files)
}

fn file_len(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| Error::io(format!("failed to stat wal segment {}", path.display()), e))
}

/// Truncates `path` to `len` bytes and makes that durable.
fn cut(path: &Path, len: u64, sync: &dyn SyncFs) -> Result<()> {
    let ctx = || format!("failed to cut wal segment {}", path.display());
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(ctx(), e))?;
    file.set_len(len).map_err(|e| Error::io(ctx(), e))?;
    sync.sync_file(path).map_err(|e| Error::io(ctx(), e))
}

/// Removes segment files that follow a cut, then makes the removal durable.
fn remove_files(dir: &Path, files: &[(u64, PathBuf)], sync: &dyn SyncFs) -> Result<()> {
    for (_, path) in files {
        tracing::warn!(file = %path.display(), "removing wal segment after a cut");
        fs::remove_file(path).map_err(|e| {
            Error::io(
                format!("failed to remove wal segment {}", path.display()),
                e,
            )
        })?;
    }
    sync_dir(dir, sync)
}

/// Reads segments with buffers that live across records and files.
#[derive(Default)]
struct Scanner {
    body: Vec<u8>,
    /// The tenant of the previous record; consecutive records mostly share it.
    tenant: Option<Tenant>,
}

impl Scanner {
    /// Replays the valid records of one segment and reports where it stops being valid.
    fn scan(
        &mut self,
        path: &Path,
        first_lsn: u64,
        replay: &mut dyn FnMut(ReplayedRecord) -> Result<()>,
    ) -> Result<Scan> {
        let ctx = || format!("failed to read wal segment {}", path.display());
        let file = File::open(path).map_err(|e| Error::io(ctx(), e))?;
        let len = file.metadata().map_err(|e| Error::io(ctx(), e))?.len();
        let mut reader = BufReader::with_capacity(READ_BUFFER, file);
        let mut next_lsn = first_lsn;
        let stop = |next_lsn, offset, reason| {
            Ok(Scan {
                next_lsn,
                corruption: Some(Corruption { offset, reason }),
            })
        };

        if len < HEADER_LEN {
            return stop(next_lsn, 0, "torn file header");
        }
        let mut header = [0u8; HEADER_LEN as usize];
        reader
            .read_exact(&mut header)
            .map_err(|e| Error::io(ctx(), e))?;
        match format::check_header(&header) {
            Header::Valid => {}
            Header::BadMagic => return stop(next_lsn, 0, "bad file header"),
            Header::UnknownVersion(v) => {
                // Not damage: a newer Vigil wrote this file, so it must not be cut.
                return Err(Error::io(
                    ctx(),
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("unsupported wal format version {v}"),
                    ),
                ));
            }
        }

        let mut offset = HEADER_LEN;
        let mut frame = [0u8; FRAME_LEN];
        while offset < len {
            if len - offset < FRAME_LEN as u64 {
                return stop(next_lsn, offset, "torn record frame");
            }
            reader
                .read_exact(&mut frame)
                .map_err(|e| Error::io(ctx(), e))?;
            let (body_len, crc) = format::decode_frame(&frame);
            if !format::plausible_body_len(body_len) {
                return stop(next_lsn, offset, "bad record length");
            }
            if len - offset - (FRAME_LEN as u64) < body_len as u64 {
                return stop(next_lsn, offset, "torn record body");
            }
            self.body.resize(body_len, 0);
            reader
                .read_exact(&mut self.body)
                .map_err(|e| Error::io(ctx(), e))?;
            if crc32c::crc32c(&self.body) != crc {
                return stop(next_lsn, offset, "record crc mismatch");
            }
            let body = match format::decode_body(&self.body) {
                Ok(body) => body,
                Err(reason) => return stop(next_lsn, offset, reason),
            };
            if body.lsn != next_lsn {
                return stop(next_lsn, offset, "unexpected record lsn");
            }
            let tenant = match &self.tenant {
                Some(t) if t.as_str().as_bytes() == body.tenant => t.clone(),
                _ => {
                    let parsed = std::str::from_utf8(body.tenant)
                        .ok()
                        .and_then(|s| Tenant::new(s).ok());
                    match parsed {
                        Some(t) => {
                            self.tenant = Some(t.clone());
                            t
                        }
                        None => return stop(next_lsn, offset, "invalid tenant"),
                    }
                }
            };
            replay(ReplayedRecord {
                lsn: body.lsn,
                tenant,
                signal: body.signal,
                payload: Bytes::copy_from_slice(body.payload),
            })?;
            next_lsn += 1;
            offset += (FRAME_LEN + body_len) as u64;
        }
        Ok(Scan {
            next_lsn,
            corruption: None,
        })
    }
}
