use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Signal, Tenant};
use futures::executor::block_on;
use parking_lot::Mutex;
use proptest::prelude::*;

use super::format::{self, HEADER_LEN};
use super::{FsyncPolicy, ReplayedRecord, Wal, WalConfig, WalEntry};
use crate::durable::{OsSync, SyncFs};
use crate::metrics::WAL_CORRUPT_TAILS;
use crate::Error;

fn config(dir: &Path, fsync: FsyncPolicy, segment_bytes: u64) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        fsync,
        segment_bytes,
        max_group_bytes: 64 * 1024,
        ..WalConfig::default()
    }
}

fn entry(tenant: &str, signal: Signal, payload: impl Into<Bytes>) -> WalEntry {
    WalEntry {
        tenant: Tenant::new(tenant).unwrap(),
        signal,
        payload: payload.into(),
    }
}

/// A deterministic entry for position `i` of a test run.
fn sample(i: u64, payload_len: usize) -> WalEntry {
    let tenants = ["team-a", "team-b.prod", "default"];
    let payload: Vec<u8> = (0..payload_len)
        .map(|j| (i as usize * 31 + j) as u8)
        .collect();
    entry(
        tenants[i as usize % tenants.len()],
        Signal::ALL[i as usize % 3],
        payload,
    )
}

fn noop() -> Box<dyn FnOnce(u64) + Send> {
    Box::new(|_| {})
}

fn open(config: WalConfig) -> (Wal, Vec<ReplayedRecord>) {
    let mut records = Vec::new();
    let wal = Wal::open(config, |r| {
        records.push(r);
        Ok(())
    })
    .unwrap();
    (wal, records)
}

fn append(wal: &Wal, e: WalEntry) -> u64 {
    block_on(wal.append(e, noop())).unwrap()
}

/// Segment files of `dir` as (first lsn, path, size), in order.
fn files(dir: &Path) -> Vec<(u64, PathBuf, u64)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let lsn = format::parse_file_name(e.file_name().to_str()?)?;
            Some((lsn, e.path(), e.metadata().unwrap().len()))
        })
        .collect();
    out.sort();
    out
}

fn assert_records(records: &[ReplayedRecord], expected: &[WalEntry], first_lsn: u64) {
    assert_eq!(records.len(), expected.len(), "record count");
    for ((r, e), lsn) in records.iter().zip(expected).zip(first_lsn..) {
        assert_eq!(r.lsn, lsn);
        assert_eq!(r.tenant, e.tenant, "tenant of lsn {lsn}");
        assert_eq!(r.signal, e.signal, "signal of lsn {lsn}");
        assert_eq!(r.payload, e.payload, "payload of lsn {lsn}");
    }
}

#[test]
fn round_trip_across_segment_rollovers() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path()).unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"not a segment").unwrap();
    let mut cfg = config(tmp.path(), FsyncPolicy::Never, 4096);
    cfg.max_group_bytes = 2048;
    let expected: Vec<WalEntry> = (0..1000)
        .map(|i| sample(i, (i as usize * 7) % 300))
        .collect();

    let (wal, records) = open(cfg.clone());
    assert!(records.is_empty());
    assert_eq!(wal.next_lsn(), 1);
    // Queue everything before awaiting, so the writer forms groups.
    let futures: Vec<_> = expected
        .iter()
        .map(|e| wal.append(e.clone(), noop()))
        .collect();
    let lsns: Vec<u64> = block_on(futures::future::join_all(futures))
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(lsns, (1..=1000).collect::<Vec<_>>());
    assert_eq!(wal.next_lsn(), 1001);
    wal.close().unwrap();
    let on_disk = files(tmp.path());
    assert!(on_disk.len() >= 5, "only {} segment files", on_disk.len());
    assert_eq!(wal.disk_bytes(), on_disk.iter().map(|f| f.2).sum::<u64>());
    drop(wal);

    let (wal, records) = open(cfg);
    assert_records(&records, &expected, 1);
    assert_eq!(wal.next_lsn(), 1001);
    assert_eq!(append(&wal, sample(1000, 10)), 1001);
    assert!(tmp.path().join("notes.txt").exists());
}

fn tenant_strategy() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,150}".prop_filter("not a path component", |t| t != "." && t != "..")
}

proptest! {
    #[test]
    fn record_encode_decode_round_trip(
        lsn in any::<u64>(),
        signal in prop::sample::select(Signal::ALL.to_vec()),
        tenant in tenant_strategy(),
        payload in prop::collection::vec(any::<u8>(), 0..600),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        format::encode_record(&mut buf, lsn, signal, &tenant, &payload);
        prop_assert_eq!(buf.len(), format::record_len(&tenant, &payload));
        let (body, len) = format::decode_record(&buf).expect("valid record");
        prop_assert_eq!(len, buf.len());
        prop_assert_eq!(body.lsn, lsn);
        prop_assert_eq!(body.signal, signal);
        prop_assert_eq!(body.tenant, tenant.as_bytes());
        prop_assert_eq!(body.payload, &payload[..]);
        // Any strict prefix is not a record.
        let short = cut.index(buf.len());
        prop_assert!(format::decode_record(&buf[..short]).is_none());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_truncation_yields_a_prefix_and_appends_continue(
        payload_lens in prop::collection::vec(0usize..120, 1..30),
        file_pick in any::<prop::sample::Index>(),
        cut_pick in any::<prop::sample::Index>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), FsyncPolicy::Never, 300);
        let expected: Vec<WalEntry> = payload_lens
            .iter()
            .zip(0u64..)
            .map(|(len, i)| sample(i, *len))
            .collect();
        let (wal, _) = open(cfg.clone());
        for e in &expected {
            append(&wal, e.clone());
        }
        drop(wal);

        let on_disk = files(tmp.path());
        let idx = file_pick.index(on_disk.len());
        let (first_lsn, path, size) = on_disk[idx].clone();
        let cut = cut_pick.index(size as usize + 1) as u64;
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(cut).unwrap();
        drop(file);

        // Records that survive: everything if nothing was cut, otherwise the files before the
        // cut one and the records of it that lie wholly below the cut.
        let survivors = if cut == size {
            expected.len()
        } else {
            let mut end = HEADER_LEN;
            let mut n = first_lsn as usize - 1;
            while cut >= HEADER_LEN && n < expected.len() {
                let e = &expected[n];
                end += format::record_len(e.tenant.as_str(), &e.payload) as u64;
                if end > cut {
                    break;
                }
                n += 1;
            }
            n
        };

        let (wal, records) = open(cfg.clone());
        assert_records(&records, &expected[..survivors], 1);
        let next = survivors as u64 + 1;
        prop_assert_eq!(wal.next_lsn(), next);
        let more = [sample(1000, 5), sample(1001, 50)];
        prop_assert_eq!(append(&wal, more[0].clone()), next);
        prop_assert_eq!(append(&wal, more[1].clone()), next + 1);
        drop(wal);

        let (wal, records) = open(cfg);
        let mut all = expected[..survivors].to_vec();
        all.extend(more);
        assert_records(&records, &all, 1);
        prop_assert_eq!(wal.next_lsn(), next + 2);
    }
}

#[test]
fn flipped_byte_in_last_record_cuts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), FsyncPolicy::Always, 1 << 20);
    let expected: Vec<WalEntry> = (0..10).map(|i| sample(i, 20)).collect();
    let (wal, _) = open(cfg.clone());
    for e in &expected {
        append(&wal, e.clone());
    }
    drop(wal);
    let path = files(tmp.path())[0].1.clone();
    let original = std::fs::read(&path).unwrap();
    let last = &expected[9];
    let last_start = original.len() - format::record_len(last.tenant.as_str(), &last.payload);

    for offset in last_start..original.len() {
        let mut damaged = original.clone();
        damaged[offset] ^= 0x5a;
        std::fs::write(&path, &damaged).unwrap();
        let before = WAL_CORRUPT_TAILS.get();
        let (wal, records) = open(cfg.clone());
        assert_records(&records, &expected[..9], 1);
        assert!(
            WAL_CORRUPT_TAILS.get() > before,
            "cut at byte {offset} not counted"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last_start as u64);
        assert_eq!(wal.next_lsn(), 10);
    }

    let (wal, records) = open(cfg.clone());
    assert_eq!(records.len(), 9);
    assert_eq!(append(&wal, sample(99, 3)), 10);
    drop(wal);
    let (_, records) = open(cfg);
    assert_eq!(
        records.iter().map(|r| r.lsn).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_get_distinct_consecutive_lsns() {
    const TASKS: u64 = 50;
    const PER_TASK: u64 = 40;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), FsyncPolicy::Always, 32 * 1024);
    let (wal, _) = open(cfg.clone());
    let wal = Arc::new(wal);
    let applied = Arc::new(Mutex::new(Vec::new()));

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let wal = Arc::clone(&wal);
        let applied = Arc::clone(&applied);
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..PER_TASK {
                let payload = format!("task {task} item {i}");
                let applied_in = Arc::clone(&applied);
                let apply = Box::new(move |lsn| applied_in.lock().push(lsn));
                let lsn = wal
                    .append(entry("team-a", Signal::Logs, payload.clone()), apply)
                    .await
                    .unwrap();
                // apply ran before the acknowledgement
                assert!(
                    applied.lock().contains(&lsn),
                    "lsn {lsn} acked before apply"
                );
                mine.push((lsn, payload));
            }
            mine
        }));
    }
    let mut by_lsn = HashMap::new();
    for handle in handles {
        let mine = handle.await.unwrap();
        assert!(
            mine.windows(2).all(|w| w[0].0 < w[1].0),
            "one task's lsns go back"
        );
        by_lsn.extend(mine);
    }
    let total = TASKS * PER_TASK;
    let mut lsns: Vec<u64> = by_lsn.keys().copied().collect();
    lsns.sort_unstable();
    assert_eq!(lsns, (1..=total).collect::<Vec<_>>());
    assert_eq!(
        *applied.lock(),
        (1..=total).collect::<Vec<_>>(),
        "apply out of lsn order"
    );
    assert_eq!(wal.next_lsn(), total + 1);
    wal.close().unwrap();
    drop(wal);

    let (_, records) = open(cfg);
    assert_eq!(records.len() as u64, total);
    for r in records {
        assert_eq!(
            by_lsn[&r.lsn].as_bytes(),
            &r.payload[..],
            "payload of lsn {}",
            r.lsn
        );
    }
}

#[test]
fn truncate_before_removes_only_covered_closed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let e = sample(0, 40);
    let record = format::record_len(e.tenant.as_str(), &e.payload) as u64;
    // Three records fill a file, so files start at lsns 1, 4, 7 and 10.
    let cfg = config(tmp.path(), FsyncPolicy::Always, HEADER_LEN + 3 * record);
    let (wal, _) = open(cfg.clone());
    for _ in 0..10 {
        append(&wal, e.clone());
    }
    let names = |dir: &Path| files(dir).iter().map(|f| f.0).collect::<Vec<_>>();
    let sizes = |dir: &Path| files(dir).iter().map(|f| f.2).sum::<u64>();
    assert_eq!(names(tmp.path()), [1, 4, 7, 10]);
    assert_eq!(wal.disk_bytes(), sizes(tmp.path()));

    assert_eq!(wal.truncate_before(1).unwrap(), 0);
    assert_eq!(wal.truncate_before(6).unwrap(), HEADER_LEN + 3 * record);
    assert_eq!(names(tmp.path()), [4, 7, 10], "lsn 6 is not below 6");
    assert_eq!(wal.truncate_before(7).unwrap(), HEADER_LEN + 3 * record);
    assert_eq!(names(tmp.path()), [7, 10]);
    assert_eq!(
        wal.truncate_before(u64::MAX).unwrap(),
        HEADER_LEN + 3 * record
    );
    assert_eq!(names(tmp.path()), [10], "the active file stays");
    assert_eq!(wal.truncate_before(u64::MAX).unwrap(), 0);
    assert_eq!(wal.disk_bytes(), sizes(tmp.path()));
    drop(wal);

    let (wal, records) = open(cfg);
    assert_eq!(records.iter().map(|r| r.lsn).collect::<Vec<_>>(), [10]);
    assert_eq!(append(&wal, e), 11);
}

#[test]
fn append_after_close_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = open(config(tmp.path(), FsyncPolicy::Always, 1 << 20));
    assert_eq!(append(&wal, sample(0, 8)), 1);
    wal.close().unwrap();
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let result = block_on(wal.append(
        sample(1, 8),
        Box::new(move |_| flag.store(true, Ordering::SeqCst)),
    ));
    assert!(matches!(result, Err(Error::WalClosed(_))), "{result:?}");
    assert!(!called.load(Ordering::SeqCst));
    wal.close().unwrap();
    assert_eq!(wal.next_lsn(), 2);
}

#[test]
fn close_writes_everything_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        tmp.path(),
        FsyncPolicy::Interval(Duration::from_secs(3600)),
        1 << 20,
    );
    let expected: Vec<WalEntry> = (0..100).map(|i| sample(i, 64)).collect();
    let (wal, _) = open(cfg.clone());
    let futures: Vec<_> = expected
        .iter()
        .map(|e| wal.append(e.clone(), noop()))
        .collect();
    wal.close().unwrap();
    for (f, lsn) in futures.into_iter().zip(1..) {
        assert_eq!(block_on(f).unwrap(), lsn);
    }
    drop(wal);
    let (_, records) = open(cfg);
    assert_records(&records, &expected, 1);
}

#[test]
fn interval_policy_acks_and_persists() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        tmp.path(),
        FsyncPolicy::Interval(Duration::from_millis(2)),
        2048,
    );
    let expected: Vec<WalEntry> = (0..50).map(|i| sample(i, 100)).collect();
    let (wal, _) = open(cfg.clone());
    for (e, lsn) in expected.iter().zip(1..) {
        assert_eq!(append(&wal, e.clone()), lsn);
    }
    drop(wal);
    let (_, records) = open(cfg);
    assert_records(&records, &expected, 1);
}

#[test]
fn write_failure_fails_later_appends_without_applying() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    // Every group rolls to a new file, which fails once the directory is gone.
    let (wal, _) = open(config(&dir, FsyncPolicy::Always, 1));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(append(&wal, sample(0, 8)), 1);
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let result = block_on(wal.append(
        sample(1, 8),
        Box::new(move |_| flag.store(true, Ordering::SeqCst)),
    ));
    assert!(matches!(result, Err(Error::WalClosed(_))), "{result:?}");
    assert!(!called.load(Ordering::SeqCst));
    assert!(matches!(wal.close(), Err(Error::WalClosed(_))));
    assert!(wal.close().is_ok(), "close is idempotent");
}

#[test]
fn torn_header_file_is_replaced() {
    for torn in [&b""[..], &b"VIGIL"[..], &[0u8; 12][..]] {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), FsyncPolicy::Always, 1 << 20);
        let expected: Vec<WalEntry> = (0..5).map(|i| sample(i, 16)).collect();
        let (wal, _) = open(cfg.clone());
        for e in &expected {
            append(&wal, e.clone());
        }
        drop(wal);
        // A crash right after creating the next file.
        let next = tmp.path().join(format::file_name(6));
        std::fs::write(&next, torn).unwrap();

        let (wal, records) = open(cfg.clone());
        assert_records(&records, &expected, 1);
        assert_eq!(append(&wal, sample(5, 16)), 6);
        drop(wal);
        let (wal, records) = open(cfg);
        assert_eq!(records.len(), 6);
        assert_eq!(wal.next_lsn(), 7);
    }
}

#[test]
fn empty_active_file_keeps_its_lsn() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), FsyncPolicy::Always, 1);
    let (wal, _) = open(cfg.clone());
    append(&wal, sample(0, 8));
    append(&wal, sample(1, 8));
    // The roll after a group follows its acknowledgement; closing waits for it.
    wal.close().unwrap();
    assert!(wal.truncate_before(u64::MAX).unwrap() > 0);
    drop(wal);
    // Only the empty file `3.wal` is left; numbering must not restart at 1.
    let (wal, records) = open(cfg);
    assert!(records.is_empty());
    assert_eq!(wal.next_lsn(), 3);
    assert_eq!(append(&wal, sample(2, 8)), 3);
}

#[test]
fn newer_format_version_is_refused_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(format::file_name(1));
    let mut bytes = b"VIGILWAL".to_vec();
    bytes.extend_from_slice(&2u32.to_le_bytes());
    bytes.extend_from_slice(b"records of a future format");
    std::fs::write(&path, &bytes).unwrap();
    let result = Wal::open(config(tmp.path(), FsyncPolicy::Always, 1 << 20), |_| Ok(()));
    assert!(matches!(result, Err(Error::Io { .. })), "{result:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn replay_error_fails_open_and_cuts_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), FsyncPolicy::Always, 1 << 20);
    let (wal, _) = open(cfg.clone());
    for i in 0..3 {
        append(&wal, sample(i, 8));
    }
    drop(wal);
    let result = Wal::open(cfg.clone(), |r| {
        if r.lsn == 2 {
            Err(Error::Replay("cannot decode".into()))
        } else {
            Ok(())
        }
    });
    assert!(matches!(result, Err(Error::Replay(_))), "{result:?}");
    let (_, records) = open(cfg);
    assert_eq!(records.len(), 3);
}

/// What [`RecordingSync`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    /// A file's data became durable up to `len` bytes.
    Synced { path: PathBuf, len: u64 },
    /// A record was applied (then acknowledged).
    Applied(u64),
}

#[derive(Debug, Default)]
struct SyncState {
    /// Per file: how many bytes of it are durable.
    synced: HashMap<PathBuf, u64>,
    /// Files whose directory entry is durable.
    entries: HashSet<PathBuf>,
    events: Vec<Event>,
    /// After a power cut, every sync fails: nothing more becomes durable.
    cut: bool,
    /// Directory syncs fail.
    fail_dirs: bool,
}

/// A sync layer that does the real syncs and records what each made durable, so a test can
/// check that acknowledgements follow syncs, drop everything a power loss would, or fail
/// directory syncs.
#[derive(Debug, Default)]
struct RecordingSync(Mutex<SyncState>);

impl RecordingSync {
    fn refuse(&self, what: &str) -> std::io::Result<()> {
        if self.0.lock().cut {
            return Err(std::io::Error::other(format!("power is off: {what}")));
        }
        Ok(())
    }

    fn record(&self, path: &Path) -> std::io::Result<()> {
        let len = std::fs::metadata(path)?.len();
        let mut state = self.0.lock();
        state.synced.insert(path.to_path_buf(), len);
        state.events.push(Event::Synced {
            path: path.to_path_buf(),
            len,
        });
        Ok(())
    }

    fn applied(&self, lsn: u64) {
        self.0.lock().events.push(Event::Applied(lsn));
    }

    /// Cuts the power: from now on nothing becomes durable.
    fn cut(&self) {
        self.0.lock().cut = true;
    }

    /// What a power loss leaves of `dir`: files whose directory entry was never made durable
    /// are gone, and each other file keeps what was synced plus some arbitrary part of the
    /// rest (`keep(unsynced)` bytes of it: a disk may have written some of it, or none).
    fn lose_unsynced(&self, dir: &Path, mut keep: impl FnMut(u64) -> u64) {
        let state = self.0.lock();
        for (_, path, len) in files(dir) {
            if !state.entries.contains(&path) {
                std::fs::remove_file(&path).unwrap();
                continue;
            }
            let synced = state.synced.get(&path).copied().unwrap_or(0).min(len);
            let kept = synced + keep(len - synced).min(len - synced);
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(kept).unwrap();
        }
    }
}

impl SyncFs for RecordingSync {
    fn sync_data(&self, file: &std::fs::File, path: &Path) -> std::io::Result<()> {
        self.refuse("fdatasync")?;
        file.sync_data()?;
        self.record(path)
    }

    fn sync_file(&self, path: &Path) -> std::io::Result<()> {
        self.refuse("fsync")?;
        OsSync.sync_file(path)?;
        self.record(path)
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.refuse("directory fsync")?;
        if self.0.lock().fail_dirs {
            return Err(std::io::Error::other("injected directory fsync failure"));
        }
        OsSync.sync_dir(dir)?;
        let present: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        let mut state = self.0.lock();
        state.entries.retain(|p| p.parent() != Some(dir));
        state.entries.extend(present);
        Ok(())
    }
}

fn recording_config(dir: &Path, sync: &Arc<RecordingSync>, segment_bytes: u64) -> WalConfig {
    WalConfig {
        sync: Arc::clone(sync) as Arc<dyn SyncFs>,
        ..config(dir, FsyncPolicy::Always, segment_bytes)
    }
}

/// Bytes record `e` takes in a segment file.
fn record_len(lsn: u64, e: &WalEntry) -> u64 {
    let mut buf = Vec::new();
    format::encode_record(&mut buf, lsn, e.signal, e.tenant.as_str(), &e.payload);
    buf.len() as u64
}

#[test]
fn every_ack_follows_the_fsync_that_covers_its_record() {
    let tmp = tempfile::tempdir().unwrap();
    let sync = Arc::new(RecordingSync::default());
    let (wal, _) = open(recording_config(tmp.path(), &sync, 1 << 30));
    let entries: Vec<WalEntry> = (0..400)
        .map(|i| sample(i, (i as usize * 13) % 700))
        .collect();
    // Queued together, so records share group commits.
    let futures: Vec<_> = entries
        .iter()
        .map(|e| {
            let sync = Arc::clone(&sync);
            wal.append(e.clone(), Box::new(move |lsn| sync.applied(lsn)))
        })
        .collect();
    let lsns: Vec<u64> = block_on(futures::future::join_all(futures))
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(lsns, (1..=400).collect::<Vec<_>>());
    let path = files(tmp.path())[0].1.clone();
    // Where each record ends in the one segment file.
    let mut end = HashMap::new();
    let mut at = HEADER_LEN;
    for (lsn, e) in (1..).zip(&entries) {
        at += record_len(lsn, e);
        end.insert(lsn, at);
    }
    let events = sync.0.lock().events.clone();
    let mut durable = 0;
    let mut applied = 0;
    let mut groups = 0;
    for event in &events {
        match event {
            Event::Synced { path: p, len } if *p == path => {
                durable = durable.max(*len);
                groups += 1;
            }
            Event::Synced { .. } => {}
            Event::Applied(lsn) => {
                assert!(
                    end[lsn] <= durable,
                    "lsn {lsn} (ending at byte {}) applied and acked with only {durable} bytes synced",
                    end[lsn]
                );
                applied += 1;
            }
        }
    }
    assert_eq!(applied, 400);
    assert!(
        groups < 400,
        "{groups} fsyncs for 400 queued records: no group commit"
    );
    wal.close().unwrap();
}

#[test]
fn a_power_loss_keeps_every_acked_record_and_replay_is_a_consistent_prefix() {
    let mut rng_state = 0x5eed_u64;
    let mut rng = move || {
        rng_state = rng_state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        rng_state >> 33
    };
    for round in 0..12 {
        let tmp = tempfile::tempdir().unwrap();
        let sync = Arc::new(RecordingSync::default());
        // Small files: the loss also hits rolls (a new file whose entry is not yet durable).
        let (wal, _) = open(recording_config(tmp.path(), &sync, 2_048 + rng() % 8_192));
        let wal = Arc::new(wal);
        let total = 300u64;
        let cut_after = 20 + rng() % 250;
        let attempted: Vec<WalEntry> = (0..total)
            .map(|i| sample(round * 1_000 + i, (rng() % 400) as usize))
            .collect();
        let mut acked: Vec<(u64, WalEntry)> = Vec::new();
        let mut pending = Vec::new();
        for (i, e) in attempted.iter().enumerate() {
            if i as u64 == cut_after {
                sync.cut();
            }
            pending.push((e.clone(), wal.append(e.clone(), noop())));
            if rng() % 4 == 0 {
                for (e, fut) in pending.drain(..) {
                    if let Ok(lsn) = block_on(fut) {
                        acked.push((lsn, e));
                    }
                }
            }
        }
        for (e, fut) in pending.drain(..) {
            if let Ok(lsn) = block_on(fut) {
                acked.push((lsn, e));
            }
        }
        assert!(
            !acked.is_empty(),
            "round {round}: nothing acked before the cut"
        );
        let _ = wal.close();
        drop(wal);
        let mut keep = |unsynced: u64| {
            if unsynced == 0 {
                0
            } else {
                rng() % (unsynced + 1)
            }
        };
        sync.lose_unsynced(tmp.path(), &mut keep);

        let (wal, replayed) = open(config(tmp.path(), FsyncPolicy::Always, 1 << 20));
        // A consistent prefix: consecutive LSNs from 1, each holding what was appended.
        for (r, lsn) in replayed.iter().zip(1..) {
            assert_eq!(r.lsn, lsn, "round {round}: replay skips an lsn");
            assert!(
                attempted
                    .iter()
                    .any(|e| e.payload == r.payload && e.tenant == r.tenant),
                "round {round}: lsn {lsn} replays a record never appended"
            );
        }
        let by_lsn: HashMap<u64, &ReplayedRecord> = replayed.iter().map(|r| (r.lsn, r)).collect();
        for (lsn, e) in &acked {
            let r = by_lsn.get(lsn).unwrap_or_else(|| {
                panic!(
                    "round {round}: acked lsn {lsn} lost ({} replayed)",
                    replayed.len()
                )
            });
            assert_eq!(
                (&r.payload, &r.tenant, r.signal),
                (&e.payload, &e.tenant, e.signal)
            );
        }
        // And the log goes on after the last replayed record.
        let next = replayed.len() as u64 + 1;
        assert_eq!(append(&wal, sample(9_999, 10)), next, "round {round}");
        wal.close().unwrap();
    }
}

#[test]
fn a_failed_directory_fsync_stops_acks() {
    let tmp = tempfile::tempdir().unwrap();
    let sync = Arc::new(RecordingSync::default());
    // Opening needs a durable directory entry for the first segment.
    sync.0.lock().fail_dirs = true;
    let err = Wal::open(recording_config(tmp.path(), &sync, 1_024), |_| Ok(())).unwrap_err();
    assert!(
        err.to_string().contains("failed to fsync wal directory"),
        "{err}"
    );

    sync.0.lock().fail_dirs = false;
    let (wal, _) = open(recording_config(tmp.path(), &sync, 1_024));
    // A full file rolls after its group is acked; the new file's entry cannot be made durable,
    // so nothing is acknowledged from then on.
    sync.0.lock().fail_dirs = true;
    assert_eq!(append(&wal, sample(1, 2_000)), 1);
    let refused = block_on(wal.append(sample(2, 10), noop())).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("failed to fsync wal directory"),
        "{refused}"
    );
    assert!(wal.close().is_err());
}
