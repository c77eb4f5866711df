//! PromQL reads straight from storage: the same answers whether samples sit in the head, in
//! flushed segments (read through their series runs and sampled timestamps), or in both.

use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use serde_json::Value;

use std::time::Duration;

use crate::harness::{metric_sum, poll, Vigil};
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
        exemplars: vec![],
    }
}

async fn write(vigil: &Vigil, first_ms: i64, range: std::ops::Range<i64>) {
    let req = WriteRequest {
        timeseries: (0..6).map(|i| series(i, first_ms, range.clone())).collect(),
        metadata: vec![],
    };
    vigil.remote_write(&req).await;
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

    // All in the head. Its hot window (recent samples kept in memory after their flush)
    // reaches back past the data, so once flushed every query reads memory.
    let head = Vigil::start_with(&[("VIGIL_QUERY_HOT_WINDOW", "5h")]).await;
    write(&head, first_ms, 0..POINTS).await;
    let expected = answers(&head, first_ms).await;
    let n = results(&expected);
    assert!(n > 60, "the query set selects {n} results: {expected:?}");

    // SQL reads the same samples from the head and from segments (whose values are stored as
    // decimal-scaled integers where exact, floats elsewhere), filters on `value` included.
    let all = "SELECT series_id, timestamp_ms, value FROM samples ORDER BY series_id, timestamp_ms";
    let some =
        "SELECT count(*) AS n, sum(value) AS s FROM samples WHERE value > 60 AND value < 100";
    let (all_head, some_head) = (head.sql(all).await, head.sql(some).await);
    assert_eq!(all_head.len(), 6 * POINTS as usize);

    // The same data flushed to a segment.
    head.flush().await;
    assert_eq!(head.sql(all).await, all_head, "SQL from a segment");
    assert_eq!(
        head.sql(some).await,
        some_head,
        "SQL filter on value from a segment"
    );
    assert_eq!(
        answers(&head, first_ms).await,
        expected,
        "from the hot window"
    );
    let hot = metric_sum(&head.metrics_text().await, "vigil_metrics_hot_samples");
    assert_eq!(hot, Some((6 * POINTS) as f64), "every sample is hot");

    // After a restart the hot window is read back from the segments.
    let mut head = head;
    head.stop().await;
    head.restart().await;
    poll(
        "the hot window to be read back",
        Duration::from_secs(30),
        || async {
            let hot = metric_sum(&head.metrics_text().await, "vigil_metrics_hot_samples");
            if hot == Some((6 * POINTS) as f64) {
                Ok(())
            } else {
                Err(format!("{hot:?} hot samples"))
            }
        },
    )
    .await;
    assert_eq!(
        answers(&head, first_ms).await,
        expected,
        "from the hot window read back"
    );

    // The first 70% in a segment, the rest in the head; then all in two segments. Without a
    // hot window: the segments are read.
    let split = Vigil::start_with(&[("VIGIL_QUERY_HOT_WINDOW", "0s")]).await;
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

/// One query's single value at `at` (seconds).
async fn single(vigil: &Vigil, q: &str, at: &str) -> f64 {
    let data = ok(vigil, "GET", "/api/v1/query", &[("query", q), ("time", at)]).await;
    let result = data["result"].as_array().expect("result");
    assert_eq!(result.len(), 1, "{q}: {data}");
    result[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{q}: {data}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_delta_counters_and_histograms_answer_rate_and_increase() {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_otlp::{MetricExporter, WithExportConfig};
    use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

    let vigil = Vigil::start().await;
    let exporter = MetricExporter::builder()
        .with_tonic()
        .with_endpoint(vigil.grpc_endpoint())
        .with_temporality(Temporality::Delta)
        .build()
        .expect("exporter");
    // Three exports, a second apart, each with the increments since the one before.
    tokio::task::spawn_blocking(move || {
        let reader = PeriodicReader::builder(exporter)
            .with_interval(Duration::from_secs(3600))
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(crate::otlp::resource())
            .build();
        let meter = provider.meter("deltas");
        let jobs = meter.u64_counter("jobs").build();
        let took = meter
            .f64_histogram("job.duration")
            .with_unit("s")
            .with_boundaries(vec![1.0, 10.0])
            .build();
        for (n, seconds) in [(3, 0.5), (4, 2.0), (5, 20.0)] {
            jobs.add(n, &[]);
            took.record(seconds, &[]);
            provider.force_flush().expect("export");
            std::thread::sleep(Duration::from_millis(1100));
        }
        provider.shutdown().expect("shutdown");
    })
    .await
    .expect("sdk thread");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as f64;
    let at = format!("{:.3}", now / 1000.0);
    // The stored samples are the increments; `increase` and `rate` sum them.
    assert_eq!(single(&vigil, "increase(jobs_total[1h])", &at).await, 12.0);
    assert_eq!(
        single(&vigil, "rate(jobs_total[1h])", &at).await,
        12.0 / 3600.0
    );
    assert_eq!(
        single(&vigil, "sum_over_time(jobs_total[1h])", &at).await,
        12.0
    );
    assert_eq!(
        single(&vigil, "increase(job_duration_seconds_count[1h])", &at).await,
        3.0
    );
    assert_eq!(
        single(&vigil, "increase(job_duration_seconds_sum[1h])", &at).await,
        22.5
    );
    // Buckets (cumulative over `le` within each point): ≤1: 1, ≤10: 2, +Inf: 3; the median is
    // half way through (1, 10].
    let median = "histogram_quantile(0.5, sum by (le) (increase(job_duration_seconds_bucket[1h])))";
    assert_eq!(single(&vigil, median, &at).await, 5.5);
    // Metadata names the Prometheus types.
    let meta = ok(&vigil, "GET", "/api/v1/metadata", &[]).await;
    assert_eq!(meta["jobs_total"][0]["type"], "counter", "{meta}");
    assert_eq!(
        meta["job_duration_seconds"][0]["type"], "histogram",
        "{meta}"
    );
    assert!(meta.get("job_duration_seconds_bucket").is_none(), "{meta}");
    let one = ok(
        &vigil,
        "GET",
        "/api/v1/metadata",
        &[("metric", "job_duration_seconds")],
    )
    .await;
    assert_eq!(one.as_object().map(|o| o.len()), Some(1), "{one}");
    assert_eq!(one["job_duration_seconds"][0]["unit"], "s", "{one}");
}
