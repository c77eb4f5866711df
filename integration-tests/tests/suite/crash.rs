//! Crash safety: while a client streams batches of spans, the server is SIGKILLed at random
//! moments (some right after segment flushes) and started again on the same data directory.
//! Every span whose export was acknowledged must be stored exactly once, and no span at all may
//! be stored twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::Resource;
use serde_json::json;

use crate::harness::{metric_sum, Vigil};
use crate::otlp;

const KILLS: usize = 5;
const BATCH: u64 = 20;
/// Spans one sender sends at most, so that the final `SELECT span_id` stays well under the
/// server's row limit however fast the machine is; a sender that is done waits for its kill.
const ROUND_BUDGET: u64 = 15_000;

/// A small deterministic generator, seeded from the clock and printed, so a failing schedule can
/// be replayed by setting `VIGIL_E2E_CRASH_SEED`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

/// What one sender saw while one server process lived.
#[derive(Default)]
struct Sent {
    acked: Vec<u64>,
    attempted: Vec<u64>,
    failures: u64,
}

/// Sends batches of spans with fresh ids until told to stop; never resends a batch, so any
/// duplicate in storage is the server's.
async fn send_until_stopped(
    exporter: SpanExporter,
    next_id: Arc<AtomicU64>,
    trace_prefix: u128,
    stop: Arc<AtomicBool>,
) -> Sent {
    let mut sent = Sent::default();
    while !stop.load(Ordering::Acquire) {
        if sent.attempted.len() as u64 + BATCH > ROUND_BUDGET {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let first = next_id.fetch_add(BATCH, Ordering::AcqRel);
        let ids: Vec<u64> = (first..first + BATCH).collect();
        let now = SystemTime::now();
        let batch = ids
            .iter()
            .map(|&id| {
                let seq = i64::try_from(id).expect("small id");
                otlp::span_data(trace_prefix | u128::from(id), id, now, seq)
            })
            .collect();
        sent.attempted.extend(&ids);
        match exporter.export(batch).await {
            Ok(()) => sent.acked.extend(&ids),
            Err(_) => {
                sent.failures += 1;
                // The server is gone; the test stops this sender right after the kill.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    sent
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

/// Every span id stored, checking on the way that none is stored twice.
async fn stored_ids(vigil: &Vigil) -> HashSet<u64> {
    let duplicates = vigil
        .sql("SELECT span_id, count(*) AS n FROM spans GROUP BY span_id HAVING count(*) > 1")
        .await;
    assert!(
        duplicates.is_empty(),
        "spans stored more than once: {duplicates:?}"
    );
    let totals = vigil
        .sql("SELECT count(*) AS n, count(DISTINCT span_id) AS d FROM spans")
        .await;
    assert_eq!(totals[0]["n"], totals[0]["d"], "{totals:?}");
    let rows = vigil.sql("SELECT span_id FROM spans").await;
    assert_eq!(totals[0]["n"], json!(rows.len()), "{totals:?}");
    rows.iter()
        .map(|row| {
            let hex = row["span_id"].as_str().expect("span_id is text");
            u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("span_id {hex}: {e}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_spans_survive_sigkill_exactly_once() {
    let seed = seed();
    eprintln!("crash test seed: VIGIL_E2E_CRASH_SEED={seed}");
    let mut rng = SplitMix64(seed);
    let trace_prefix = u128::from(rng.next() | 1) << 64;
    let mut vigil =
        Vigil::start_with(&[("VIGIL_FLUSH_AGE", "1s"), ("VIGIL_FLUSH_BYTES", "65536")]).await;
    let resource = Resource::builder_empty()
        .with_attributes([KeyValue::new("service.name", "crash-sender")])
        .build();

    let next_id = Arc::new(AtomicU64::new(1));
    let mut acked = HashSet::new();
    let mut attempted = HashSet::new();
    let mut kills_after_flush = 0;
    for round in 0..KILLS {
        let mut exporter = otlp::plain_grpc_span_exporter(&vigil, Duration::from_secs(5));
        exporter.set_resource(&resource);
        let stop = Arc::new(AtomicBool::new(false));
        let sender = tokio::spawn(send_until_stopped(
            exporter,
            Arc::clone(&next_id),
            trace_prefix,
            Arc::clone(&stop),
        ));
        // Odd rounds live long enough for age- and size-triggered flushes; even rounds die young.
        let lifetime = if round % 2 == 1 {
            rng.between(2_200, 3_500)
        } else {
            rng.between(100, 1_200)
        };
        // The random moment of the kill: waiting here is the point of the test, not a poll.
        tokio::time::sleep(Duration::from_millis(lifetime)).await;
        let flushes = metric_sum(&vigil.metrics_text().await, "vigil_storage_flushes_total");
        vigil.kill().await;
        stop.store(true, Ordering::Release);
        let sent = sender.await.expect("sender task");
        eprintln!(
            "round {round}: killed after {lifetime} ms, {} spans acked, {} failed exports, \
             flushes before the kill: {flushes:?}",
            sent.acked.len(),
            sent.failures
        );
        assert!(!sent.acked.is_empty(), "round {round} acknowledged nothing");
        if flushes.unwrap_or(0.0) > 0.0 {
            kills_after_flush += 1;
        }
        acked.extend(sent.acked);
        attempted.extend(sent.attempted);
        vigil.restart().await;
    }
    assert!(
        kills_after_flush >= 1,
        "no kill came after a segment flush; the test did not exercise replay over segments"
    );

    let stored = stored_ids(&vigil).await;
    let lost: Vec<&u64> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged spans lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let phantom: Vec<&u64> = stored.difference(&attempted).collect();
    assert!(
        phantom.is_empty(),
        "spans never sent were stored: {phantom:?}"
    );
    eprintln!(
        "{} spans acked, {} stored ({} stored without an ack)",
        acked.len(),
        stored.len(),
        stored.len() - acked.len()
    );

    // Still exactly once after the recovered heads are flushed and after a clean restart.
    vigil.flush().await;
    assert_eq!(
        stored_ids(&vigil).await,
        stored,
        "a flush after recovery changed the spans"
    );
    vigil.stop().await;
    vigil.restart().await;
    assert_eq!(
        stored_ids(&vigil).await,
        stored,
        "a clean restart changed the spans"
    );
}
