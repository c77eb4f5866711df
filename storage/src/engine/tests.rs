use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use bytes::Bytes;
use common::{Signal, Tenant};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::state::day_of;
use super::*;
use crate::index::{Lookup, Selected};
use crate::metrics;
use crate::read::ReadView;

/// Payload = 8-byte series id, 8-byte timestamp, repeated; each becomes one sample.
struct SampleDecoder;

fn samples(points: &[(u64, i64)]) -> Rows {
    let batch = RecordBatch::try_new(
        common::schema::samples_schema(),
        vec![
            Arc::new(UInt64Array::from_iter_values(points.iter().map(|p| p.0))),
            Arc::new(StringArray::from_iter_values(points.iter().map(|_| "m"))),
            Arc::new(Int64Array::from_iter_values(points.iter().map(|p| p.1))),
            Arc::new(Float64Array::from_iter_values(
                points.iter().map(|p| p.1 as f64),
            )),
        ],
    )
    .unwrap();
    Rows {
        batch,
        series: None,
        exemplars: None,
    }
}

fn encode(points: &[(u64, i64)]) -> Bytes {
    let mut v = Vec::new();
    for (s, t) in points {
        v.extend_from_slice(&s.to_le_bytes());
        v.extend_from_slice(&t.to_le_bytes());
    }
    v.into()
}

impl PayloadDecoder for SampleDecoder {
    fn decode(&self, _signal: Signal, payload: &[u8]) -> Result<Rows, String> {
        let points: Vec<(u64, i64)> = payload
            .chunks_exact(16)
            .map(|c| {
                (
                    u64::from_le_bytes(c[..8].try_into().unwrap()),
                    i64::from_le_bytes(c[8..].try_into().unwrap()),
                )
            })
            .collect();
        Ok(samples(&points))
    }
}

async fn open(dir: &std::path::Path) -> Arc<Engine> {
    open_with(EngineConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    })
    .await
}

async fn open_with(config: EngineConfig) -> Arc<Engine> {
    Engine::open(
        config,
        Arc::new(common::SystemClock),
        Arc::new(SampleDecoder),
    )
    .await
    .unwrap()
}

fn timestamps(engine: &Engine, tenant: &Tenant) -> (Vec<i64>, usize) {
    let snap = engine.snapshot(tenant, "samples");
    let mut ts: Vec<i64> = snap
        .head
        .iter()
        .flat_map(|b| {
            b.column(2)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    ts.sort();
    (ts, snap.segments.len())
}

#[tokio::test]
async fn flush_moves_rows_to_a_segment_and_restart_replays_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = Tenant::new("t1").unwrap();
    {
        let engine = open(dir.path()).await;
        for i in 0..10i64 {
            let pts = [(1u64, 1_700_000_000_000 + i)];
            engine
                .append(tenant.clone(), Signal::Metrics, encode(&pts), samples(&pts))
                .await
                .unwrap();
        }
        assert_eq!(timestamps(&engine, &tenant).0.len(), 10);
        engine.flush_all().await.unwrap();
        let (head, segments) = timestamps(&engine, &tenant);
        assert_eq!((head.len(), segments), (0, 1));
        for i in 10..15i64 {
            let pts = [(2u64, 1_700_000_000_000 + i)];
            engine
                .append(tenant.clone(), Signal::Metrics, encode(&pts), samples(&pts))
                .await
                .unwrap();
        }
        // no flush: the last five live only in the WAL
    }
    let engine = open(dir.path()).await;
    let (head, segments) = timestamps(&engine, &tenant);
    assert_eq!(segments, 1);
    let expected: Vec<i64> = (10..15).map(|i| 1_700_000_000_000 + i).collect();
    assert_eq!(head, expected, "replay must skip what the segment holds");
    let seg = &engine.snapshot(&tenant, "samples").segments[0];
    assert_eq!(seg.rows, 10);
    assert_eq!(seg.min_time, 1_700_000_000_000);
    assert!(
        seg.path.starts_with("t1/metrics/2023-11-14/"),
        "{}",
        seg.path
    );
    // other tenants see nothing
    assert!(engine
        .snapshot(&Tenant::new("t2").unwrap(), "samples")
        .head
        .is_empty());
}

#[tokio::test]
async fn backpressure_refuses_appends_when_the_head_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        data_dir: dir.path().to_path_buf(),
        max_head_bytes: 1,
        ..Default::default()
    };
    let engine = open_with(config).await;
    let t = Tenant::default_tenant();
    let pts = [(1u64, 5i64)];
    engine
        .append(t.clone(), Signal::Metrics, encode(&pts), samples(&pts))
        .await
        .unwrap();
    let err = engine
        .append(t, Signal::Metrics, encode(&pts), samples(&pts))
        .await
        .unwrap_err();
    assert_eq!(err.code(), common::ErrorCode::Unavailable);
}

#[tokio::test]
async fn a_full_head_makes_requests_wait_until_a_flush_drains_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        data_dir: dir.path().to_path_buf(),
        max_head_bytes: 1,
        head_full_wait: Duration::from_millis(200),
        ..Default::default()
    };
    let engine = open_with(config).await;
    let t = Tenant::default_tenant();
    let pts = [(1u64, 5i64)];
    engine.wait_for_room().await.unwrap();
    engine
        .append(t.clone(), Signal::Metrics, encode(&pts), samples(&pts))
        .await
        .unwrap();

    // Nothing drains the head: the wait ends, bounded, with the retryable error.
    let started = std::time::Instant::now();
    let err = engine.wait_for_room().await.unwrap_err();
    assert_eq!(err.code(), common::ErrorCode::Unavailable);
    assert!(started.elapsed() >= Duration::from_millis(200));

    // A flush while a request waits lets it through.
    let waiting = tokio::spawn(engine.wait_for_room());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished());
    engine.flush_all().await.unwrap();
    waiting.await.unwrap().unwrap();
    assert_eq!(engine.head_bytes(), 0);
}

/// `series` rows for `ids`, metric `m`, one label naming the id.
fn series_rows(ids: &[u64]) -> RecordBatch {
    let names = arrow::array::MapFieldNames {
        entry: "entries".into(),
        key: "key".into(),
        value: "value".into(),
    };
    let mut labels = arrow::array::MapBuilder::new(
        Some(names),
        arrow::array::StringBuilder::new(),
        arrow::array::StringBuilder::new(),
    );
    for id in ids {
        labels.keys().append_value("id");
        labels.values().append_value(id.to_string());
        labels.append(true).unwrap();
    }
    let schema = common::schema::series_schema();
    let labels = labels.finish();
    let labels = arrow::array::MapArray::try_new(
        match schema.field_with_name("labels").unwrap().data_type() {
            arrow::datatypes::DataType::Map(f, _) => Arc::clone(f),
            other => panic!("labels is {other}"),
        },
        labels.offsets().clone(),
        labels.entries().clone(),
        None,
        false,
    )
    .unwrap();
    let text = |v: &str| Arc::new(StringArray::from_iter_values(ids.iter().map(|_| v))) as _;
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(UInt64Array::from_iter_values(ids.iter().copied())),
            text("m"),
            Arc::new(labels),
            text("gauge"),
            text(""),
            text(""),
        ],
    )
    .unwrap()
}

/// The series ids in the `.series.parquet` file of every segment, in manifest order.
async fn segment_series(engine: &Engine, tenant: &Tenant) -> Vec<Vec<u64>> {
    let snap = engine.snapshot(tenant, "samples");
    let mut out = Vec::new();
    for seg in &snap.segments {
        let path = seg
            .series_path
            .as_ref()
            .expect("metrics segment has a series file");
        let bytes = engine
            .object_store()
            .get(&Path::from(path.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut ids = Vec::new();
        for b in ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap()
        {
            ids.extend(crate::series::ids(&b.unwrap()).unwrap().iter().flatten());
        }
        ids.sort_unstable();
        out.push(ids);
    }
    out
}

#[tokio::test]
async fn segments_carry_rows_of_known_series_that_requests_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let t = Tenant::default_tenant();
    let known = engine.known_series(&t).unwrap();
    assert!(!known(1));

    let pts = [(1u64, 10i64), (2, 10)];
    let mut rows = samples(&pts);
    rows.series = Some(series_rows(&[1, 2]));
    engine
        .append(t.clone(), Signal::Metrics, encode(&pts), rows)
        .await
        .unwrap();
    assert!(known(1) && known(2) && !known(3));
    engine.flush_all().await.unwrap();

    // The next head gets samples of series 1 and 2 without their rows, and series 3 with its.
    let pts = [(1u64, 20i64), (2, 20), (3, 20)];
    let mut rows = samples(&pts);
    rows.series = Some(series_rows(&[3]));
    engine
        .append(t.clone(), Signal::Metrics, encode(&pts), rows)
        .await
        .unwrap();
    engine.flush_all().await.unwrap();

    assert_eq!(
        segment_series(&engine, &t).await,
        vec![vec![1, 2], vec![1, 2, 3]]
    );
    let labels: usize = engine.series(&t).iter().map(|b| b.num_rows()).sum();
    assert_eq!(labels, 3, "the registry holds each series once");
}

fn label_is(value: &str) -> Lookup {
    Lookup::AnyOf {
        column: "label:id".into(),
        terms: vec![value.as_bytes().to_vec()],
    }
}

fn selected_ids(engine: &Engine, t: &Tenant, lookup: &Lookup) -> Vec<u64> {
    let mut ids: Vec<u64> = engine
        .select_series(t, lookup)
        .expect("the engine has series postings")
        .iter()
        .flat_map(|b| {
            crate::series::ids(b)
                .unwrap()
                .iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort_unstable();
    // The ids alone, and the rows read back by id, say the same.
    let mut by_id = engine
        .select_series_ids(t, Some(lookup))
        .expect("the engine lists ids");
    by_id.sort_unstable();
    assert_eq!(by_id, ids);
    let rows = engine.series_rows(t, &ids);
    let mut read: Vec<u64> = rows
        .iter()
        .flat_map(|b| {
            crate::series::ids(b)
                .unwrap()
                .iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    read.sort_unstable();
    assert_eq!(read, ids);
    ids
}

#[tokio::test]
async fn series_postings_and_the_samples_index_select_the_rows_of_matching_series() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tenant::default_tenant();
    let engine = open(dir.path()).await;
    // Samples arrive interleaved; the segment sorts them by series.
    let pts: Vec<(u64, i64)> = (0..12).map(|i| (i % 3 + 1, 100 + i as i64)).collect();
    let mut rows = samples(&pts);
    rows.series = Some(series_rows(&[1, 2, 3]));
    engine
        .append(t.clone(), Signal::Metrics, encode(&pts), rows)
        .await
        .unwrap();
    engine.flush_all().await.unwrap();

    let metric = Lookup::AnyOf {
        column: "metric_name".into(),
        terms: vec![b"m".to_vec()],
    };
    let regex = Lookup::Matching {
        column: "label:id".into(),
        predicate: Arc::new(|v: &[u8]| v == b"1" || v == b"3"),
    };
    let not_one = Lookup::NoneOf {
        column: "label:id".into(),
        terms: vec![b"1".to_vec()],
    };
    let unknown_label = Lookup::AnyOf {
        column: "label:zone".into(),
        terms: vec![b"a".to_vec()],
    };
    let check = |engine: &Engine| {
        assert_eq!(selected_ids(engine, &t, &label_is("2")), [2]);
        assert_eq!(selected_ids(engine, &t, &metric), [1, 2, 3]);
        assert_eq!(selected_ids(engine, &t, &regex), [1, 3]);
        assert_eq!(selected_ids(engine, &t, &not_one), [2, 3]);
        assert!(selected_ids(engine, &t, &unknown_label).is_empty());
        let both = Lookup::And(vec![
            metric.clone(),
            Lookup::Or(vec![label_is("3"), label_is("9")]),
        ]);
        assert_eq!(selected_ids(engine, &t, &both), [3]);
    };
    check(&engine);

    // The samples segment's index holds each series as one run of rows.
    let seg = engine.snapshot(&t, "samples").segments[0].clone();
    assert!(seg.index_path.is_some() && seg.series_index_path.is_some());
    let index = engine.segment_index(&seg).await.expect("samples index");
    let series = |id: u64| Lookup::AnyOf {
        column: "series_id".into(),
        terms: vec![id.to_be_bytes().to_vec()],
    };
    let rows_of = |l: &Lookup| match index.select(l) {
        Selected::Rows(r) => r.iter().collect::<Vec<u32>>(),
        Selected::All => panic!("series ids are indexed"),
    };
    assert_eq!(rows_of(&series(2)), [4, 5, 6, 7]);
    assert!(rows_of(&series(7)).is_empty());
    drop(engine);

    // After a restart the registry's postings come from the series files.
    let engine = open(dir.path()).await;
    check(&engine);
    // Series of a later request land in a second registry batch.
    let pts = [(4u64, 200i64)];
    let mut rows = samples(&pts);
    rows.series = Some(series_rows(&[4]));
    engine
        .append(t.clone(), Signal::Metrics, encode(&pts), rows)
        .await
        .unwrap();
    assert_eq!(selected_ids(&engine, &t, &label_is("4")), [4]);
    assert_eq!(selected_ids(&engine, &t, &metric), [1, 2, 3, 4]);
    assert!(selected_ids(&engine, &Tenant::new("other").unwrap(), &metric).is_empty());
}

#[test]
fn days_are_utc_calendar_days() {
    assert_eq!(day_of(0), "1970-01-01");
    assert_eq!(day_of(1_700_000_000_000_000_000), "2023-11-14");
    assert_eq!(day_of(951_782_400_000_000_000), "2000-02-29");
}

/// Appends one sample per point of `pts` as one request and flushes it into its own segment.
async fn flushed_segment(engine: &Engine, tenant: &Tenant, pts: &[(u64, i64)]) {
    engine
        .append(tenant.clone(), Signal::Metrics, encode(pts), samples(pts))
        .await
        .unwrap();
    engine.flush_all().await.unwrap();
}

fn segment_rows(engine: &Engine, tenant: &Tenant) -> Vec<u64> {
    let snap = engine.snapshot(tenant, "samples");
    snap.segments.iter().map(|s| s.rows).collect()
}

#[tokio::test]
async fn compaction_merges_small_segments_and_deletes_inputs_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = Tenant::new("t1").unwrap();
    let config = |grace: Duration| EngineConfig {
        data_dir: dir.path().to_path_buf(),
        compaction: CompactionConfig {
            min_age: Duration::ZERO,
            grace,
            ..Default::default()
        },
        ..Default::default()
    };
    let engine = open_with(config(Duration::from_secs(3600))).await;
    let base = 1_700_000_000_000i64;
    for s in 0..3i64 {
        let pts: Vec<(u64, i64)> = (0..4).map(|i| (s as u64 + 1, base + s * 10 + i)).collect();
        flushed_segment(&engine, &tenant, &pts).await;
    }
    assert_eq!(segment_rows(&engine, &tenant), [4, 4, 4]);
    let inputs: Vec<String> = engine
        .snapshot(&tenant, "samples")
        .segments
        .iter()
        .flat_map(|s| s.files())
        .collect();

    let report = engine.maintain().await.unwrap();
    assert_eq!((report.compactions, report.segments_merged), (1, 3));
    assert_eq!(segment_rows(&engine, &tenant), [12]);
    let merged = engine.snapshot(&tenant, "samples").segments[0].clone();
    // (These requests carry no series rows, so the segments have no series file to index.)
    assert!(merged.series_path.is_none() && merged.series_index_path.is_none());
    assert!(
        merged.index_path.is_some(),
        "the samples of the merge are indexed"
    );
    assert_eq!((merged.min_time, merged.max_time), (base, base + 23));
    // Within the grace period the inputs stay on disk for queries that still read them.
    let store = dir.path().join("store");
    assert!(inputs.iter().all(|f| store.join(f).exists()));
    assert_eq!(engine.maintain().await.unwrap().compactions, 0);
    drop(engine);

    // After a restart the manifest holds only the output, and the WAL adds nothing back.
    let engine = open_with(config(Duration::ZERO)).await;
    assert_eq!(segment_rows(&engine, &tenant), [12]);
    assert!(engine.snapshot(&tenant, "samples").head.is_empty());
    // The replaced files are unreferenced and older than a zero grace: the orphan scan
    // deletes them.
    let report = engine.maintain().await.unwrap();
    assert_eq!(report.files_deleted, inputs.len());
    assert!(inputs.iter().all(|f| !store.join(f).exists()));
    assert!(merged.files().iter().all(|f| store.join(f).exists()));
}

#[tokio::test]
async fn retention_drops_segments_older_than_the_tenants_period() {
    let dir = tempfile::tempdir().unwrap();
    let (old, kept) = (Tenant::new("short").unwrap(), Tenant::new("long").unwrap());
    let mut retention = RetentionConfig {
        default: SignalRetention {
            metrics: Some(Duration::from_secs(365 * 86_400 * 100)),
            ..Default::default()
        },
        ..Default::default()
    };
    retention.tenants.insert(
        "short".into(),
        SignalRetention {
            metrics: Some(Duration::from_secs(86_400)),
            ..Default::default()
        },
    );
    let engine = open_with(EngineConfig {
        data_dir: dir.path().to_path_buf(),
        retention,
        compaction: CompactionConfig {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    // Samples from 2023: older than a day, younger than a century.
    for t in [&old, &kept] {
        flushed_segment(&engine, t, &[(1, 1_700_000_000_000)]).await;
    }
    let report = engine.maintain().await.unwrap();
    assert_eq!(report.segments_expired, 1);
    assert!(segment_rows(&engine, &old).is_empty());
    assert_eq!(segment_rows(&engine, &kept), [1]);
    let gauge = metrics::STORE_BYTES
        .with_label_values(&["short", "metrics"])
        .get();
    assert_eq!(gauge, 0);
    assert!(
        metrics::STORE_BYTES
            .with_label_values(&["long", "metrics"])
            .get()
            > 0
    );
}

#[tokio::test]
async fn exemplars_without_samples_flush_into_a_segment_filed_under_their_time() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path()).await;
    let tenant = Tenant::default_tenant();
    let t = 1_700_000_000_000;
    let mut rows = samples(&[]);
    rows.exemplars = Some(crate::exemplars::test_batch(&[
        (7, t, 1.0, &[("trace_id", "x")]),
        (7, t + 5, 2.0, &[]),
    ]));
    engine
        .append(tenant.clone(), Signal::Metrics, encode(&[]), rows)
        .await
        .unwrap();
    let (head, segments) = engine.exemplars(&tenant);
    assert_eq!((head.len(), segments.len()), (1, 0));
    engine.flush_all().await.unwrap();
    let (head, segments) = engine.exemplars(&tenant);
    assert_eq!((head.len(), segments.len()), (0, 1));
    let seg = &segments[0];
    assert_eq!((seg.rows, seg.min_time, seg.max_time), (0, t, t + 5));
    assert!(seg.path.contains("/2023-11-14/"), "{}", seg.path);
    let file = seg.exemplars.as_ref().unwrap();
    assert_eq!((file.rows, file.min_time, file.max_time), (2, t, t + 5));
    assert!(seg.files().contains(&file.path));
    let bytes = std::fs::read(dir.path().join("store").join(&file.path)).unwrap();
    let back = crate::exemplars::decode(bytes.into()).unwrap();
    assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

#[tokio::test]
async fn the_hot_window_is_read_back_from_segments_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = Tenant::default_tenant();
    let now = common::Clock::now_nanos(&common::SystemClock) / 1_000_000;
    let points: Vec<(u64, i64)> = (0..100).map(|i| (i % 3, now - 60_000 + i as i64)).collect();
    let ids = [0, 1, 2];
    let (lo, hi) = (now - 120_000, now);
    let engine = open(dir.path()).await;
    engine
        .append(
            tenant.clone(),
            Signal::Metrics,
            encode(&points),
            samples(&points),
        )
        .await
        .unwrap();
    engine.flush_all().await.unwrap();
    let before = engine
        .metric_samples(&tenant, &ids, lo, hi)
        .and_then(|r| r.hot)
        .expect("hot after a flush");
    assert_eq!(before.iter().map(Vec::len).sum::<usize>(), 100);
    engine.shutdown().await.unwrap();
    drop(engine);

    let engine = open(dir.path()).await;
    assert!(
        engine
            .metric_samples(&tenant, &ids, lo, hi)
            .is_some_and(|r| r.hot.is_none()),
        "empty after a restart: queries read segments"
    );
    engine.warm_hot().await;
    let after = engine
        .metric_samples(&tenant, &ids, lo, hi)
        .and_then(|r| r.hot)
        .expect("warmed");
    assert_eq!(after, before);
}

/// Directory syncs that fail while `fail` is set.
#[derive(Debug, Default)]
struct FlakyDirs {
    fail: std::sync::atomic::AtomicBool,
}

impl crate::SyncFs for FlakyDirs {
    fn sync_data(&self, file: &std::fs::File, path: &std::path::Path) -> std::io::Result<()> {
        crate::OsSync.sync_data(file, path)
    }

    fn sync_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        crate::OsSync.sync_file(path)
    }

    fn sync_dir(&self, dir: &std::path::Path) -> std::io::Result<()> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("injected directory fsync failure"));
        }
        crate::OsSync.sync_dir(dir)
    }
}

#[tokio::test]
async fn a_failed_directory_fsync_fails_the_flush_and_keeps_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = Tenant::new("t1").unwrap();
    let sync = Arc::new(FlakyDirs::default());
    let engine = open_with(EngineConfig {
        data_dir: dir.path().to_path_buf(),
        wal: crate::WalConfig {
            sync: Arc::clone(&sync) as Arc<dyn crate::SyncFs>,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let pts = [(1u64, 1_700_000_000_000), (1, 1_700_000_000_001)];
    engine
        .append(tenant.clone(), Signal::Metrics, encode(&pts), samples(&pts))
        .await
        .unwrap();
    sync.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = engine.flush_all().await.unwrap_err();
    assert!(
        err.to_string().contains("failed to fsync directory"),
        "{err}"
    );
    // Nothing was committed: the rows are still in the head, no segment is live.
    assert_eq!(
        timestamps(&engine, &tenant),
        (vec![1_700_000_000_000, 1_700_000_000_001], 0)
    );
    sync.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    engine.flush_all().await.unwrap();
    assert_eq!(timestamps(&engine, &tenant), (vec![], 1));
}
