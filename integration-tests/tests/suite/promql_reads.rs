//! PromQL reads straight from storage: the same answers whether samples sit in the head, in
//! flushed segments (read through their series runs and sampled timestamps), or in both.

use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;
use serde_json::Value;

use crate::harness::Vigil;
use crate::prometheus_api::ok;

/// Sample spacing, ms.
const STEP_MS: i64 = 15_000;
/// Samples per series (2 h).
const POINTS: i64 = 480;
/// Prometheus's staleness marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 29)
}

/// Series `i`'s samples with index in `range`: counters (even `i`) with resets, gauges (odd)
/// with a staleness marker; timestamps jitter off the 15 s grid.
fn series(i: u64, first_ms: i64, range: std::ops::Range<i64>) -> TimeSeries {
    let (name, kind) = if i.is_multiple_of(2) {
        ("reads_total", "counter")
    } else {
        ("reads_level", "gauge")
    };
    let mut total = 0.0;
    let mut samples = Vec::new();
    for k in 0..POINTS {
        let r = mix(i * 1_000_003 + k as u64);
        total += (r % 17) as f64;
        if k == 300 {
            total = 0.0;
        }
        let value = match kind {
            "counter" => total,
            _ if k == 200 => f64::from_bits(STALE_NAN),
            _ => (r % 1000) as f64 / 8.0,
        };
        if range.contains(&k) {
            samples.push(Sample {
                value,
                timestamp: first_ms + k * STEP_MS + (r % 900) as i64,
            });
        }
    }
    let label = |name: &str, value: &str| Label {
        name: name.into(),
        value: value.into(),
    };
    TimeSeries {
        labels: vec![
            label("__name__", name),
            label("instance", &format!("host{i}")),
            label("job", "reads"),
        ],
        samples,
    }
}

async fn write(vigil: &Vigil, first_ms: i64, range: std::ops::Range<i64>) {
    let req = WriteRequest {
        timeseries: (0..6).map(|i| series(i, first_ms, range.clone())).collect(),
        metadata: vec![],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy");
    let resp = vigil
        .http()
        .post(vigil.api_url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("POST /api/v1/write");
    assert_eq!(resp.status().as_u16(), 204, "{:?}", resp.text().await);
}

/// The answers of a fixed query set over the data's 2 h.
async fn answers(vigil: &Vigil, first_ms: i64) -> Vec<Value> {
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let end = first_ms + POINTS * STEP_MS;
    let mut out = Vec::new();
    for q in [
        "reads_total",
        "rate(reads_total[5m])",
        "sum by (job) (increase(reads_total[10m]))",
        "reads_level{instance=~\"host[13]\"}",
        "max_over_time(reads_level[7m])",
        "count_over_time(reads_level[1h])",
    ] {
        // Instants spread over the data, before it and after it.
        for at in [
            first_ms - 60_000,
            first_ms + 61_000,
            first_ms + 3_010_000,
            end - 1,
            end + 200_000,
        ] {
            let data = ok(
                vigil,
                "GET",
                "/api/v1/query",
                &[("query", q), ("time", &secs(at))],
            )
            .await;
            out.push(data);
        }
        for (start, stop, step) in [
            (first_ms, end, "60"),
            (first_ms + 1_234_000, first_ms + 2_345_000, "17"),
        ] {
            let data = ok(
                vigil,
                "GET",
                "/api/v1/query_range",
                &[
                    ("query", q),
                    ("start", &secs(start)),
                    ("end", &secs(stop)),
                    ("step", step),
                ],
            )
            .await;
            out.push(data);
        }
    }
    out
}

fn results(answers: &[Value]) -> usize {
    answers
        .iter()
        .map(|a| a["result"].as_array().map_or(0, Vec::len))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_answers_are_the_same_from_the_head_from_segments_and_from_both() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let first_ms = now - 3 * 3_600_000;

    // All in the head.
    let head = Vigil::start().await;
    write(&head, first_ms, 0..POINTS).await;
    let expected = answers(&head, first_ms).await;
    let n = results(&expected);
    assert!(n > 60, "the query set selects {n} results: {expected:?}");

    // The same data flushed to a segment.
    head.flush().await;
    assert_eq!(answers(&head, first_ms).await, expected, "from segments");

    // The first 70% in a segment, the rest in the head; then all in two segments.
    let split = Vigil::start().await;
    write(&split, first_ms, 0..POINTS * 7 / 10).await;
    split.flush().await;
    write(&split, first_ms, POINTS * 7 / 10..POINTS).await;
    assert_eq!(
        answers(&split, first_ms).await,
        expected,
        "from a segment and the head"
    );
    split.flush().await;
    assert_eq!(
        answers(&split, first_ms).await,
        expected,
        "from two segments"
    );

    // `series`, `labels` and label values over a window: only series with samples in it (by
    // segment, as Prometheus answers by block); without one, every series.
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let (before, data_start) = (secs(first_ms - 7_200_000), secs(first_ms - 3_600_000));
    let (inside, data_end) = (secs(first_ms), secs(first_ms + 600_000));
    for (vigil, what) in [(&head, "a segment"), (&split, "two segments")] {
        for (window, count) in [
            (vec![], 3),
            (
                vec![("start", before.as_str()), ("end", data_start.as_str())],
                0,
            ),
            (
                vec![("start", inside.as_str()), ("end", data_end.as_str())],
                3,
            ),
            (vec![("start", inside.as_str())], 3),
        ] {
            let mut form = vec![("match[]", "reads_total")];
            form.extend(window.iter().copied());
            let series = ok(vigil, "GET", "/api/v1/series", &form).await;
            assert_eq!(
                series.as_array().map(Vec::len),
                Some(count),
                "{what} {window:?}: {series}"
            );
            let values = ok(vigil, "GET", "/api/v1/label/instance/values", &form).await;
            assert_eq!(values.as_array().map(Vec::len), Some(count), "{values}");
            let names = ok(vigil, "GET", "/api/v1/labels", &form).await;
            let expected_names = if count == 0 { 0 } else { 3 };
            assert_eq!(
                names.as_array().map(Vec::len),
                Some(expected_names),
                "{names}"
            );
        }
    }
    // A window over head samples only.
    write(&split, first_ms + 3 * 3_600_000, 0..10).await;
    let late = secs(first_ms + 3 * 3_600_000 + 60_000);
    let form = [("match[]", "reads_total"), ("start", late.as_str())];
    let series = ok(&split, "GET", "/api/v1/series", &form).await;
    assert_eq!(series.as_array().map(Vec::len), Some(3), "{series}");
}
