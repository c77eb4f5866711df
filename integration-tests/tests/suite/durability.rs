//! Acknowledged data is queryable within a second, a flush to Parquet segments neither loses nor
//! doubles it, and a clean restart keeps it exactly once.

use std::time::{Duration, Instant};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::Resource;
use serde_json::json;

use crate::harness::{base_time, list_files, metric_sum, poll, Row, Vigil};
use crate::otlp::{self, Transport};

/// How soon after its acknowledgement data must be queryable.
const FRESHNESS: Duration = Duration::from_secs(1);

const SPANS: &str = "SELECT trace_id, span_id, name, start_time_unix_nano, end_time_unix_nano, \
                     attributes FROM spans ORDER BY span_id";
const LOGS: &str = "SELECT time_unix_nano, severity_number, body, attributes FROM logs \
                    ORDER BY time_unix_nano";
const SAMPLES: &str = "SELECT s.metric_name, s.labels, p.timestamp_ms, p.value \
                       FROM samples p JOIN series s ON p.series_id = s.series_id \
                       ORDER BY s.labels['shop']";

/// Only `service.name` and `service.instance.id`: no `target_info` series.
fn small_resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", otlp::SERVICE),
            KeyValue::new("service.instance.id", otlp::INSTANCE),
        ])
        .build()
}

/// Exports `count` spans with ids `first..first + count` in one request; returns when acked.
async fn send_spans(vigil: &Vigil, first: u64, count: u64) -> Instant {
    let mut exporter = otlp::plain_grpc_span_exporter(vigil, Duration::from_secs(20));
    exporter.set_resource(&small_resource());
    let t0 = base_time();
    let batch = (first..first + count)
        .map(|id| {
            let seq = i64::try_from(id).expect("small id");
            otlp::span_data(
                0xfeed_0000 + u128::from(id),
                id,
                t0 + Duration::from_millis(id),
                seq,
            )
        })
        .collect();
    exporter.export(batch).await.expect("span export");
    Instant::now()
}

/// Emits `count` log records through the SDK over OTLP/HTTP; returns when acked.
async fn send_logs(vigil: &Vigil, count: u32) -> Instant {
    let exporter = otlp::log_exporter(vigil, Transport::HttpProtobuf, None);
    let t0 = base_time();
    otlp::export_with_logger(exporter, small_resource(), move |logger| {
        for i in 0..count {
            let mut record = logger.create_log_record();
            record.set_timestamp(t0 + Duration::from_millis(u64::from(i)));
            record.set_observed_timestamp(t0 + Duration::from_millis(u64::from(i)));
            record.set_severity_number(Severity::Warn);
            record.set_body(AnyValue::from(format!("log line {i}")));
            record.add_attribute("i", i64::from(i));
            logger.emit(record);
        }
    })
    .await;
    Instant::now()
}

/// Records one counter with `shops` label values through the SDK over OTLP/gRPC; returns when
/// acked.
async fn send_metrics(vigil: &Vigil, shops: u64) -> Instant {
    let exporter = otlp::metric_exporter(vigil, Transport::Grpc, None);
    otlp::export_with_meter(exporter, small_resource(), move |meter| {
        let orders = meter.u64_counter("orders").build();
        for shop in 0..shops {
            orders.add(shop + 1, &[KeyValue::new("shop", format!("s{shop}"))]);
        }
    })
    .await;
    Instant::now()
}

/// Polls `query` until it returns `rows` rows, for what remains of `FRESHNESS` after `acked`.
async fn fresh(vigil: &Vigil, what: &str, query: &str, rows: usize, acked: Instant) -> Vec<Row> {
    let left = FRESHNESS.saturating_sub(acked.elapsed());
    poll(what, left, || async {
        let got = vigil.sql(query).await;
        if got.len() == rows {
            Ok(got)
        } else {
            Err(format!("{} rows", got.len()))
        }
    })
    .await
}

/// Every row of the three tables the test writes to.
#[derive(Debug, PartialEq)]
struct Snapshot {
    spans: Vec<Row>,
    logs: Vec<Row>,
    samples: Vec<Row>,
}

async fn snapshot(vigil: &Vigil) -> Snapshot {
    Snapshot {
        spans: vigil.sql(SPANS).await,
        logs: vigil.sql(LOGS).await,
        samples: vigil.sql(SAMPLES).await,
    }
}

async fn assert_once(vigil: &Vigil, spans: usize, logs: usize, samples: usize) {
    for (table, key, n) in [
        ("spans", "span_id", spans),
        ("logs", "time_unix_nano", logs),
        ("samples", "series_id", samples),
    ] {
        let rows = vigil
            .sql(&format!(
                "SELECT count(*) AS n, count(DISTINCT {key}) AS d FROM {table}"
            ))
            .await;
        assert_eq!(rows[0]["n"], json!(n), "{table}: {rows:?}");
        assert_eq!(rows[0]["d"], json!(n), "{table}: {rows:?}");
    }
    let series = vigil
        .sql("SELECT count(*) AS n, count(DISTINCT series_id) AS d FROM series")
        .await;
    assert_eq!(series[0]["n"], json!(samples), "series: {series:?}");
    assert_eq!(series[0]["d"], json!(samples), "series: {series:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_data_is_fresh_then_flushed_and_restarted_exactly_once() {
    // Rows must not change across flushes and restarts: span metrics, which a stopping server
    // writes once more, are off here (their own test is `tempo::spans_become_red_metrics_…`).
    let mut vigil = Vigil::start_with(&[("VIGIL_GENERATOR_ENABLED", "false")]).await;

    let acked = send_spans(&vigil, 1, 100).await;
    fresh(&vigil, "spans within 1s of the ack", SPANS, 100, acked).await;
    let acked = send_logs(&vigil, 20).await;
    fresh(&vigil, "logs within 1s of the ack", LOGS, 20, acked).await;
    let acked = send_metrics(&vigil, 5).await;
    let samples = fresh(&vigil, "samples within 1s of the ack", SAMPLES, 5, acked).await;
    for (i, row) in samples.iter().enumerate() {
        assert_eq!(row["metric_name"], json!("orders_total"), "{row:?}");
        assert_eq!(row["labels"]["shop"], json!(format!("s{i}")), "{row:?}");
        assert_eq!(row["value"].as_f64(), Some(i as f64 + 1.0), "{row:?}");
    }

    let in_head = snapshot(&vigil).await;
    assert_once(&vigil, 100, 20, 5).await;

    vigil.flush().await;
    let parquet = list_files(&vigil.data_dir())
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .count();
    assert!(
        parquet >= 3,
        "one segment or more per signal after a flush, found {parquet}"
    );
    let flushes = metric_sum(&vigil.metrics_text().await, "vigil_storage_flushes_total");
    assert!(
        flushes.is_some_and(|n| n >= 1.0),
        "vigil_storage_flushes_total after a flush: {flushes:?}"
    );
    assert_eq!(
        snapshot(&vigil).await,
        in_head,
        "rows changed when the heads were flushed"
    );
    assert_once(&vigil, 100, 20, 5).await;

    // New rows go to the head and are answered together with the segment.
    let acked = send_spans(&vigil, 101, 50).await;
    fresh(&vigil, "spans after a flush within 1s", SPANS, 150, acked).await;
    let before_restart = snapshot(&vigil).await;
    assert_once(&vigil, 150, 20, 5).await;

    vigil.stop().await;
    vigil.restart().await;
    assert_eq!(
        snapshot(&vigil).await,
        before_restart,
        "rows changed across a clean restart"
    );
    assert_once(&vigil, 150, 20, 5).await;

    vigil.flush().await;
    assert_eq!(
        snapshot(&vigil).await,
        before_restart,
        "rows changed by a flush after restart"
    );
    assert_once(&vigil, 150, 20, 5).await;
}

/// With `wal.fsync = always` (the default), every acknowledgement follows a WAL fsync: sent one
/// after another, each acked export raises the fsync count on `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ack_follows_a_wal_fsync() {
    let vigil = Vigil::start_with(&[("VIGIL_WAL_FSYNC", "always")]).await;
    let fsyncs = |text: &str| metric_sum(text, "vigil_wal_fsync_seconds_count").unwrap_or(0.0);
    let mut before = fsyncs(&vigil.metrics_text().await);
    for i in 0..5 {
        send_spans(&vigil, 100 + i * 10, 10).await;
        let after = fsyncs(&vigil.metrics_text().await);
        assert!(
            after >= before + 1.0,
            "export {i} was acked after {before} -> {after} wal fsyncs"
        );
        before = after;
    }
}
