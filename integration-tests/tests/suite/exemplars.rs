//! Exemplars from OTLP and remote_write: stored with their series, served by
//! `/api/v1/query_exemplars` as Prometheus serves them, the same from the head, from flushed
//! segments, after a restart and after compaction merged the segments.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, Exemplar, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{json, Value};

use crate::harness::{list_files, metric_sum, poll, Vigil};
use crate::otlp::kv;
use crate::prometheus_api::ok;

const TRACE: [u8; 16] = [0xab; 16];
const SPAN: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

fn otlp_exemplar(t_ms: i64, value: f64, trace: &[u8], attrs: Vec<KeyValue>) -> Exemplar {
    Exemplar {
        filtered_attributes: attrs,
        time_unix_nano: t_ms as u64 * 1_000_000,
        value: Some(exemplar::Value::AsDouble(value)),
        span_id: SPAN.to_vec(),
        trace_id: trace.to_vec(),
    }
}

/// A counter with one exemplar and a histogram with two (one in the 0.5 bucket, one above
/// every bound), points at `t_ms`, exemplars a little before.
fn otlp_request(t_ms: i64) -> ExportMetricsServiceRequest {
    let t = t_ms as u64 * 1_000_000;
    let counter = Metric {
        name: "ex_requests".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: vec![kv("route", "/a")],
                time_unix_nano: t,
                value: Some(number_data_point::Value::AsInt(12)),
                exemplars: vec![otlp_exemplar(
                    t_ms - 500,
                    1.0,
                    &TRACE,
                    vec![kv("user.id", "42")],
                )],
                ..Default::default()
            }],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "ex_latency".into(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                time_unix_nano: t,
                count: 3,
                sum: Some(7.6),
                bucket_counts: vec![0, 2, 0, 1],
                explicit_bounds: vec![0.1, 0.5, 1.0],
                exemplars: vec![
                    otlp_exemplar(t_ms - 300, 0.3, &[0x11; 16], vec![]),
                    otlp_exemplar(t_ms - 200, 7.0, &[0x22; 16], vec![]),
                ],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "shop")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![counter, histogram],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn send_otlp(vigil: &Vigil, t_ms: i64) {
    let resp = vigil
        .http()
        .post(vigil.otlp_http_url("/v1/metrics"))
        .header("Content-Type", "application/x-protobuf")
        .body(otlp_request(t_ms).encode_to_vec())
        .send()
        .await
        .expect("POST /v1/metrics");
    assert_eq!(resp.status().as_u16(), 200);
}

/// Remote-write requests as Prometheus sends exemplars: the samples of a series in one
/// request, its exemplars in another.
async fn send_remote_write(vigil: &Vigil, t_ms: i64) {
    use ingest::remote_write::{Exemplar, Label, Sample, TimeSeries, WriteRequest};
    let label = |name: &str, value: &str| Label {
        name: name.into(),
        value: value.into(),
    };
    let labels = vec![label("__name__", "rw_ex_total"), label("job", "rw")];
    let samples = TimeSeries {
        labels: labels.clone(),
        samples: vec![Sample {
            value: 5.0,
            timestamp: t_ms,
        }],
        exemplars: vec![],
    };
    let exemplars = TimeSeries {
        labels,
        samples: vec![],
        exemplars: vec![Exemplar {
            labels: vec![label("trace_id", "cafe"), label("empty", "")],
            value: 2.5,
            timestamp: t_ms - 100,
        }],
    };
    for series in [samples, exemplars] {
        let req = WriteRequest {
            timeseries: vec![series],
            metadata: vec![],
        };
        vigil.remote_write(&req).await;
    }
}

fn secs(t_ms: i64) -> String {
    format!("{:.3}", t_ms as f64 / 1000.0)
}

/// What Prometheus answers for the data sent at `t_ms`.
fn expected(t_ms: i64) -> (Value, Value, Value) {
    let ts = |d: i64| json!((t_ms - d) as f64 / 1000.0);
    let counter = json!([{
        "seriesLabels": {"__name__": "ex_requests_total", "job": "shop", "route": "/a"},
        "exemplars": [{
            "labels": {"span_id": "0102030405060708", "trace_id": "ab".repeat(16), "user_id": "42"},
            "value": "1",
            "timestamp": ts(500),
        }],
    }]);
    let histogram = json!([
        {
            "seriesLabels": {"__name__": "ex_latency_seconds_bucket", "job": "shop", "le": "+Inf"},
            "exemplars": [{
                "labels": {"span_id": "0102030405060708", "trace_id": "22".repeat(16)},
                "value": "7",
                "timestamp": ts(200),
            }],
        },
        {
            "seriesLabels": {"__name__": "ex_latency_seconds_bucket", "job": "shop", "le": "0.5"},
            "exemplars": [{
                "labels": {"span_id": "0102030405060708", "trace_id": "11".repeat(16)},
                "value": "0.3",
                "timestamp": ts(300),
            }],
        },
    ]);
    let remote = json!([{
        "seriesLabels": {"__name__": "rw_ex_total", "job": "rw"},
        "exemplars": [{"labels": {"trace_id": "cafe"}, "value": "2.5", "timestamp": ts(100)}],
    }]);
    (counter, histogram, remote)
}

async fn exemplars(vigil: &Vigil, query: &str, t_ms: i64) -> Value {
    let (start, end) = (secs(t_ms - 60_000), secs(t_ms + 60_000));
    let form = [("query", query), ("start", &start), ("end", &end)];
    ok(vigil, "GET", "/api/v1/query_exemplars", &form).await
}

async fn assert_answers(vigil: &Vigil, t_ms: i64, when: &str) {
    let (counter, histogram, remote) = expected(t_ms);
    let got = exemplars(vigil, "ex_requests_total", t_ms).await;
    assert_eq!(got, counter, "{when}");
    let q = "histogram_quantile(0.9, sum by (le) (rate(ex_latency_seconds_bucket[5m])))";
    assert_eq!(exemplars(vigil, q, t_ms).await, histogram, "{when}");
    let got = exemplars(vigil, "rw_ex_total + on() ex_requests_total", t_ms).await;
    let mut both = remote.as_array().unwrap().clone();
    both.extend(counter.as_array().unwrap().iter().cloned());
    both.sort_by_key(|s| s["seriesLabels"]["__name__"].as_str().unwrap().to_string());
    assert_eq!(got, Value::Array(both), "{when}");
    // Outside the window, and for series without exemplars: nothing.
    let (start, end) = (secs(t_ms + 1_000), secs(t_ms + 60_000));
    let form = [
        ("query", "ex_requests_total"),
        ("start", &start),
        ("end", &end),
    ];
    let got = ok(vigil, "GET", "/api/v1/query_exemplars", &form).await;
    assert_eq!(got, json!([]), "{when}");
    assert_eq!(
        exemplars(vigil, "ex_latency_seconds_count", t_ms).await,
        json!([]),
        "{when}"
    );
}

fn exemplar_files(vigil: &Vigil) -> Vec<String> {
    list_files(&vigil.data_dir().join("store"))
        .into_iter()
        .filter(|f| f.ends_with(".exemplars.parquet"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_are_served_from_the_head_segments_restarts_and_compaction() {
    let mut vigil = Vigil::start_with(&[("VIGIL_COMPACTION_ENABLED", "false")]).await;
    // Two minutes ago, off the whole second: Prometheus writes whole seconds without a
    // fraction, which JSON would then compare as an integer.
    let now_ms = crate::harness::nanos(std::time::SystemTime::now()) / 1_000_000;
    let t_ms = now_ms / 1000 * 1000 - 120_000 + 777;
    send_otlp(&vigil, t_ms).await;
    send_remote_write(&vigil, t_ms).await;
    assert_answers(&vigil, t_ms, "in the head").await;

    // A bad request is refused as Prometheus refuses it.
    let (status, body) = crate::prometheus_api::api(
        &vigil,
        "GET",
        "/api/v1/query_exemplars",
        &[("query", "sum(")],
    )
    .await;
    assert_eq!(
        (status, body["errorType"].as_str()),
        (400, Some("bad_data"))
    );

    vigil.flush().await;
    assert_eq!(exemplar_files(&vigil).len(), 1);
    assert_answers(&vigil, t_ms, "in a segment").await;

    // A cumulative exporter sends the same exemplars again: they are not doubled, whether
    // one copy is in the head or both are in segments.
    send_otlp(&vigil, t_ms).await;
    send_remote_write(&vigil, t_ms).await;
    assert_answers(&vigil, t_ms, "again in the head").await;
    vigil.flush().await;
    assert_eq!(exemplar_files(&vigil).len(), 2);
    assert_answers(&vigil, t_ms, "in two segments").await;

    // Exemplars only in the head (and the WAL) when the process is killed come back by replay.
    let later = t_ms + 100_000;
    send_otlp(&vigil, later).await;
    send_remote_write(&vigil, later).await;
    vigil.kill().await;
    vigil.restart().await;
    assert_answers(&vigil, t_ms, "after a restart, from segments").await;
    assert_answers(&vigil, later, "after a restart, replayed from the WAL").await;
    vigil.flush().await;

    // Compaction merges the segments' exemplars into one file and deletes the others.
    vigil.stop().await;
    vigil.set_env("VIGIL_COMPACTION_ENABLED", Some("true"));
    vigil.set_env("VIGIL_COMPACTION_MIN_AGE", Some("0s"));
    vigil.set_env("VIGIL_COMPACTION_INTERVAL", Some("100ms"));
    vigil.set_env("VIGIL_COMPACTION_GRACE", Some("1s"));
    vigil.restart().await;
    let before = exemplar_files(&vigil);
    poll(
        "the merge and its clean-up",
        Duration::from_secs(30),
        || async {
            let files = exemplar_files(&vigil);
            let segments = metric_sum(&vigil.metrics_text().await, "vigil_storage_segments");
            if files.len() == 1 && !before.contains(&files[0]) && segments == Some(1.0) {
                Ok(())
            } else {
                Err(format!("files {files:?}, segments {segments:?}"))
            }
        },
    )
    .await;
    assert_answers(&vigil, t_ms, "after compaction").await;
    assert_answers(&vigil, later, "after compaction").await;
}
