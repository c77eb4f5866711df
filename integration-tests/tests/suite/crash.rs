//! Crash safety for every signal: while clients stream spans (OTLP/gRPC through the SDK's
//! exporter), log records and metric points (OTLP/HTTP protobuf) and samples (remote_write), the
//! server is SIGKILLed at random moments, in the middle of a flush (paused after its files are
//! durable, and after its manifest commit) and in the middle of a compaction, and started again
//! on the same data directory. After every restart, SQL row counts prove that every acknowledged
//! item is stored, none is stored twice, and nothing is stored that was never sent.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig as _};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue as ProtoKeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::Resource;
use prost::Message;
use serde_json::Value;

use crate::harness::{metric_sum, poll, Vigil};
use crate::otlp;

/// Items in one request.
const BATCH: u64 = 20;
/// Items one sender sends at most per round, so that each final `SELECT` stays well under the
/// server's row limit however fast the machine is; a sender that is done waits for its kill.
const ROUND_BUDGET: u64 = 12_000;
/// Time between a sender's requests: paced, so that a sender is still sending when the kill
/// comes, on a fast machine too.
const PACE: Duration = Duration::from_millis(10);
/// Where the samples of the metric streams start: each item `id` is a sample at
/// `BASE_MS + id` with value `id`.
const BASE_MS: i64 = 1_765_000_000_000;

/// How each round ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// At a random moment, soon (before most flushes) or later (after some).
    Random { long: bool },
    /// While the first flush waits after its files are durable, before its manifest commit.
    FlushWritten,
    /// While the first flush waits after its manifest commit, before the WAL is truncated.
    FlushCommitted,
    /// While the first compaction waits after writing its output, before committing it.
    CompactionWritten,
}

const ROUNDS: [Kill; 7] = [
    Kill::Random { long: false },
    Kill::Random { long: true },
    Kill::FlushWritten,
    Kill::FlushCommitted,
    Kill::CompactionWritten,
    Kill::Random { long: true },
    Kill::Random { long: false },
];

/// A small deterministic generator, seeded from the clock and printed, so a failing schedule can
/// be replayed by setting `VIGIL_E2E_CRASH_SEED`.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

fn seed() -> u64 {
    match std::env::var("VIGIL_E2E_CRASH_SEED") {
        Ok(seed) => seed.parse().expect("VIGIL_E2E_CRASH_SEED is a u64"),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_nanos();
            u64::try_from(nanos % u128::from(u64::MAX)).expect("fits")
        }
    }
}

/// The streams of the test: one per signal and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Spans,
    Logs,
    Points,
    RemoteWrite,
}

const STREAMS: [Stream; 4] = [
    Stream::Spans,
    Stream::Logs,
    Stream::Points,
    Stream::RemoteWrite,
];

/// What one sender saw while one server process lived.
#[derive(Default)]
struct Sent {
    acked: Vec<u64>,
    attempted: Vec<u64>,
    failures: u64,
}

fn text(key: &str, value: String) -> ProtoKeyValue {
    ProtoKeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn service(name: &str) -> Option<ProtoResource> {
    Some(ProtoResource {
        attributes: vec![text("service.name", name.to_string())],
        ..Default::default()
    })
}

/// The OTLP/HTTP body of log records `ids`: each record's body names its id.
fn logs_body(ids: &[u64]) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: service("crash-logs"),
            scope_logs: vec![ScopeLogs {
                log_records: ids
                    .iter()
                    .map(|id| LogRecord {
                        time_unix_nano: now,
                        observed_time_unix_nano: now,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("crash {id}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The OTLP/HTTP body of gauge points `ids` of one series: point `id` at `BASE_MS + id`.
fn points_body(ids: &[u64]) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: service("crash-points"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "crash_points".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: ids
                            .iter()
                            .map(|&id| NumberDataPoint {
                                time_unix_nano: (BASE_MS as u64 + id) * 1_000_000,
                                value: Some(number_data_point::Value::AsDouble(id as f64)),
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The remote_write body of samples `ids` of one series: sample `id` at `BASE_MS + id`.
fn remote_write_body(ids: &[u64]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "crash_rw".into(),
                },
                Label {
                    name: "job".into(),
                    value: "crash".into(),
                },
            ],
            samples: ids
                .iter()
                .map(|&id| Sample {
                    value: id as f64,
                    timestamp: BASE_MS + id as i64,
                })
                .collect(),
            exemplars: vec![],
        }],
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

/// Sends batches of `stream` with fresh ids until told to stop; never resends a batch, so any
/// duplicate in storage is the server's.
async fn send_until_stopped(
    vigil_urls: (String, String, String),
    stream: Stream,
    next_id: Arc<AtomicU64>,
    trace_prefix: u128,
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicU64>,
) -> Sent {
    let (grpc, otlp_http, api) = vigil_urls;
    let mut sent = Sent::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let exporter = (stream == Stream::Spans).then(|| {
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(grpc.clone())
            .with_timeout(Duration::from_secs(5))
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .build()
            .expect("build exporter");
        exporter.set_resource(
            &Resource::builder_empty()
                .with_attributes([KeyValue::new("service.name", "crash-sender")])
                .build(),
        );
        exporter
    });
    while !stop.load(Ordering::Acquire) {
        if sent.attempted.len() as u64 + BATCH > ROUND_BUDGET {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let first = next_id.fetch_add(BATCH, Ordering::AcqRel);
        let ids: Vec<u64> = (first..first + BATCH).collect();
        sent.attempted.extend(&ids);
        let acked = match stream {
            Stream::Spans => {
                let now = SystemTime::now();
                let batch = ids
                    .iter()
                    .map(|&id| {
                        let seq = i64::try_from(id).expect("small id");
                        otlp::span_data(trace_prefix | u128::from(id), id, now, seq)
                    })
                    .collect();
                let exporter = exporter.as_ref().expect("span exporter");
                exporter.export(batch).await.is_ok()
            }
            Stream::Logs | Stream::Points | Stream::RemoteWrite => {
                let (url, body, content_encoding) = match stream {
                    Stream::Logs => (format!("{otlp_http}/v1/logs"), logs_body(&ids), None),
                    Stream::Points => (format!("{otlp_http}/v1/metrics"), points_body(&ids), None),
                    _ => (
                        format!("{api}/api/v1/write"),
                        remote_write_body(&ids),
                        Some("snappy"),
                    ),
                };
                let mut req = client
                    .post(url)
                    .header("Content-Type", "application/x-protobuf")
                    .body(body);
                if let Some(encoding) = content_encoding {
                    req = req.header("Content-Encoding", encoding);
                }
                matches!(req.send().await, Ok(resp) if resp.status().is_success())
            }
        };
        if acked {
            sent.acked.extend(&ids);
            acks.fetch_add(1, Ordering::AcqRel);
            tokio::time::sleep(PACE).await;
        } else {
            sent.failures += 1;
            // The server is gone; the test stops this sender right after the kill.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    sent
}

/// The SQL that lists the id of every stored item of `stream`.
fn ids_query(stream: Stream) -> &'static str {
    match stream {
        Stream::Spans => "SELECT span_id AS id FROM spans",
        Stream::Logs => "SELECT body AS id FROM logs",
        Stream::Points => "SELECT value AS id FROM samples WHERE metric_name = 'crash_points'",
        Stream::RemoteWrite => "SELECT value AS id FROM samples WHERE metric_name = 'crash_rw'",
    }
}

fn parse_id(stream: Stream, v: &Value) -> u64 {
    match stream {
        Stream::Spans => {
            let hex = v.as_str().expect("span_id is text");
            u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("span_id {hex}: {e}"))
        }
        Stream::Logs => {
            let body = v.as_str().expect("body is text");
            body.strip_prefix("crash ")
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("unexpected log body {body:?}"))
        }
        Stream::Points | Stream::RemoteWrite => {
            let f = v.as_f64().expect("value is a number");
            assert_eq!(f.fract(), 0.0, "value {f}");
            f as u64
        }
    }
}

/// The ids stored for `stream`, checking on the way that no row is stored twice: the row count
/// equals the count of distinct ids.
async fn stored_ids(vigil: &Vigil, stream: Stream) -> HashSet<u64> {
    let query = ids_query(stream);
    let totals = vigil
        .sql(&format!(
            "SELECT count(*) AS n, count(DISTINCT id) AS d FROM ({query})"
        ))
        .await;
    assert_eq!(
        totals[0]["n"], totals[0]["d"],
        "{stream:?}: rows stored more than once: {totals:?}"
    );
    let rows = vigil.sql(query).await;
    assert_eq!(totals[0]["n"], Value::from(rows.len()), "{totals:?}");
    rows.iter()
        .map(|row| parse_id(stream, &row["id"]))
        .collect()
}

/// Waits until the current start of the server logged `line`.
async fn wait_for_log(vigil: &Vigil, line: &str) {
    let path = vigil.log_file();
    poll(line, Duration::from_secs(30), || async {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains(line) {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_items_of_every_signal_survive_sigkill_exactly_once() {
    let seed = seed();
    eprintln!("crash test seed: VIGIL_E2E_CRASH_SEED={seed}");
    let mut rng = SplitMix64(seed);
    let trace_prefix = u128::from(rng.next() | 1) << 64;
    let mut vigil = Vigil::start_with(&[
        ("VIGIL_FLUSH_AGE", "1s"),
        ("VIGIL_FLUSH_BYTES", "65536"),
        ("VIGIL_COMPACTION_INTERVAL", "500ms"),
        ("VIGIL_COMPACTION_MIN_AGE", "1s"),
    ])
    .await;

    let next_ids: Vec<Arc<AtomicU64>> = STREAMS
        .iter()
        .map(|_| Arc::new(AtomicU64::new(1)))
        .collect();
    let mut acked: Vec<HashSet<u64>> = vec![HashSet::new(); STREAMS.len()];
    let mut attempted: Vec<HashSet<u64>> = vec![HashSet::new(); STREAMS.len()];
    // Kills in a paused flush or compaction are certain; random ones after a completed flush
    // are counted.
    let mut kills_after_flush = 0;
    for (round, kill) in ROUNDS.into_iter().enumerate() {
        let urls = (
            vigil.grpc_endpoint(),
            vigil.otlp_http_url(""),
            vigil.api_url(""),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let acks: Vec<Arc<AtomicU64>> = STREAMS.iter().map(|_| Arc::default()).collect();
        let senders: Vec<_> = STREAMS
            .iter()
            .zip(&next_ids)
            .zip(&acks)
            .map(|((&stream, next), acks)| {
                tokio::spawn(send_until_stopped(
                    urls.clone(),
                    stream,
                    Arc::clone(next),
                    trace_prefix,
                    Arc::clone(&stop),
                    Arc::clone(acks),
                ))
            })
            .collect();
        // Every stream is under way before any kill.
        poll("every stream acked", Duration::from_secs(30), || async {
            match acks.iter().position(|a| a.load(Ordering::Acquire) == 0) {
                Some(i) => Err(format!("{:?} has no ack yet", STREAMS[i])),
                None => Ok(()),
            }
        })
        .await;
        match kill {
            Kill::Random { long } => {
                let lifetime = if long {
                    rng.between(2_200, 3_500)
                } else {
                    rng.between(100, 1_200)
                };
                // The random moment of the kill: waiting here is the point, not a poll.
                tokio::time::sleep(Duration::from_millis(lifetime)).await;
            }
            Kill::FlushWritten | Kill::FlushCommitted => {
                wait_for_log(&vigil, "flush paused").await;
            }
            Kill::CompactionWritten => {
                wait_for_log(&vigil, "compaction paused").await;
            }
        }
        let text = vigil.metrics_text().await;
        let flushes = metric_sum(&text, "vigil_storage_flushes_total").unwrap_or(0.0);
        vigil.kill().await;
        stop.store(true, Ordering::Release);
        for ((i, sender), stream) in senders.into_iter().enumerate().zip(STREAMS) {
            let sent = sender.await.expect("sender task");
            eprintln!(
                "round {round} ({kill:?}): {stream:?}: {} acked, {} failed requests",
                sent.acked.len(),
                sent.failures
            );
            assert!(
                !sent.acked.is_empty(),
                "round {round}: {stream:?} acked nothing"
            );
            acked[i].extend(sent.acked);
            attempted[i].extend(sent.attempted);
        }
        kills_after_flush += usize::from(flushes > 0.0);

        // The next round's pause, if any, starts with this restart.
        let (flush_pause, compaction_pause) = match ROUNDS.get(round + 1) {
            Some(Kill::FlushWritten) => (Some("written"), None),
            Some(Kill::FlushCommitted) => (Some("committed"), None),
            Some(Kill::CompactionWritten) => (None, Some("written")),
            _ => (None, None),
        };
        vigil.set_env("VIGIL_FLUSH_PAUSE_AT", flush_pause);
        vigil.set_env("VIGIL_COMPACTION_PAUSE_AT", compaction_pause);
        vigil.restart().await;
        for (i, &stream) in STREAMS.iter().enumerate() {
            check(&vigil, stream, &acked[i], &attempted[i], round).await;
        }
    }
    assert!(
        kills_after_flush >= 2,
        "only {kills_after_flush} random kills came after a segment flush"
    );

    // Still exactly once after the recovered heads are flushed and after a clean restart.
    vigil.flush().await;
    let before: Vec<HashSet<u64>> = {
        let mut out = Vec::new();
        for stream in STREAMS {
            out.push(stored_ids(&vigil, stream).await);
        }
        out
    };
    vigil.stop().await;
    vigil.restart().await;
    for (i, stream) in STREAMS.into_iter().enumerate() {
        assert_eq!(
            stored_ids(&vigil, stream).await,
            before[i],
            "{stream:?}: a flush and a clean restart changed what is stored"
        );
    }
}

/// Acked ⊆ stored ⊆ attempted for `stream`, each stored once.
async fn check(
    vigil: &Vigil,
    stream: Stream,
    acked: &HashSet<u64>,
    attempted: &HashSet<u64>,
    round: usize,
) {
    let stored = stored_ids(vigil, stream).await;
    let lost: Vec<&u64> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "after round {round}: {} acknowledged {stream:?} items lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let phantom: Vec<&u64> = stored.difference(attempted).collect();
    assert!(
        phantom.is_empty(),
        "after round {round}: {stream:?} items never sent were stored: {phantom:?}"
    );
    eprintln!(
        "after round {round}: {stream:?}: {} acked, {} stored ({} without an ack)",
        acked.len(),
        stored.len(),
        stored.len() - acked.len()
    );
}
