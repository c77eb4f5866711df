//! Prometheus metrics of the storage crate, registered in the default registry.

use std::sync::LazyLock;

use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge,
    register_int_gauge_vec, Histogram, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
};

/// Bytes appended to the WAL.
pub(crate) static WAL_BYTES_WRITTEN: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!("vigil_wal_bytes_written_total", "bytes appended to the wal")
        .expect("metric registers once")
});

/// Records appended to the WAL.
pub(crate) static WAL_RECORDS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!("vigil_wal_records_total", "records appended to the wal")
        .expect("metric registers once")
});

/// Latency of each WAL fsync.
pub(crate) static WAL_FSYNC_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "vigil_wal_fsync_seconds",
        "latency of wal fsync calls",
        vec![0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]
    )
    .expect("metric registers once")
});

/// Bytes the WAL holds on disk.
pub(crate) static WAL_DISK_BYTES: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("vigil_wal_disk_bytes", "bytes of wal files on disk")
        .expect("metric registers once")
});

/// Torn or corrupt WAL tails cut at start-up.
pub(crate) static WAL_CORRUPT_TAILS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_wal_corrupt_tails_total",
        "torn or corrupt wal tails detected and cut during replay"
    )
    .expect("metric registers once")
});

/// Head flushes by signal and outcome.
pub(crate) static FLUSHES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_storage_flushes_total",
        "head flushes to parquet segments",
        &["signal", "outcome"]
    )
    .expect("metric registers once")
});

/// Segments currently live, by signal.
pub(crate) static SEGMENTS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_storage_segments",
        "live parquet segments",
        &["signal"]
    )
    .expect("metric registers once")
});

/// Bytes of live segments, by signal.
pub(crate) static SEGMENT_BYTES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_storage_segment_bytes",
        "bytes of live parquet segments",
        &["signal"]
    )
    .expect("metric registers once")
});

/// Unflushed bytes held in memory, by signal.
pub(crate) static HEAD_BYTES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_storage_head_bytes",
        "arrow bytes held in the in-memory head",
        &["signal"]
    )
    .expect("metric registers once")
});

/// Bytes of live segment files (data, series and index files), by tenant and signal.
pub(crate) static STORE_BYTES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_store_bytes",
        "bytes of live segment files (parquet and index) by tenant and signal",
        &["tenant", "signal"]
    )
    .expect("metric registers once")
});

/// Compactions by signal and outcome.
pub(crate) static COMPACTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_storage_compactions_total",
        "segment compactions (merges and index rebuilds)",
        &["signal", "outcome"]
    )
    .expect("metric registers once")
});

/// Segments dropped by retention, by signal.
pub(crate) static RETENTION_DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_storage_retention_dropped_segments_total",
        "segments removed because they are older than the retention period",
        &["signal"]
    )
    .expect("metric registers once")
});

/// Files deleted after they left the manifest (replaced, expired or orphaned).
pub(crate) static FILES_DELETED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_storage_files_deleted_total",
        "segment and index files deleted after leaving the manifest"
    )
    .expect("metric registers once")
});

/// Samples in the hot window (recent metrics samples kept in memory after their flush).
pub(crate) static HOT_SAMPLES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_metrics_hot_samples",
        "recent metrics samples kept in memory after their flush, for queries",
        &["tenant"]
    )
    .expect("metric registers once")
});

/// Bytes of the samples in the hot window.
pub(crate) static HOT_BYTES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_metrics_hot_bytes",
        "bytes of recent metrics samples kept in memory after their flush",
        &["tenant"]
    )
    .expect("metric registers once")
});
