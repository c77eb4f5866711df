//! Metrics recorded with the OpenTelemetry SDK and sent through the OTLP metric exporter, over
//! each transport, come back from SQL as the Prometheus data model: names, labels, types and
//! values as the OpenTelemetry-to-Prometheus compatibility spec maps them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;
use serde_json::{json, Value};

use crate::harness::{nanos, poll, Vigil};
use crate::otlp::{self, Transport};

/// Histogram bounds and recorded values.
const BOUNDS: [f64; 4] = [0.005, 0.05, 0.5, 5.0];
const LATENCIES: [f64; 6] = [0.003, 0.02, 0.02, 0.3, 2.0, 7.0];

fn record_metrics(meter: &Meter) {
    let requests = meter
        .u64_counter("requests")
        .with_description("Requests served")
        .build();
    requests.add(3, &[KeyValue::new("http.route", "/pay")]);
    requests.add(4, &[KeyValue::new("http.route", "/pay")]);
    requests.add(1, &[KeyValue::new("http.route", "/cart")]);

    let depth = meter
        .i64_up_down_counter("queue.depth")
        .with_unit("{item}")
        .with_description("Items waiting")
        .build();
    depth.add(10, &[]);
    depth.add(-3, &[]);

    let temperature = meter
        .f64_gauge("cpu.temperature")
        .with_unit("Cel")
        .with_description("CPU temperature")
        .build();
    temperature.record(80.0, &[KeyValue::new("cpu", 0_i64)]);
    temperature.record(71.5, &[KeyValue::new("cpu", 0_i64)]);

    let latency = meter
        .f64_histogram("http.server.duration")
        .with_unit("s")
        .with_description("Request latency")
        .with_boundaries(BOUNDS.to_vec())
        .build();
    for value in LATENCIES {
        latency.record(value, &[KeyValue::new("http.route", "/pay")]);
    }
}

/// Records the metrics and exports them once; returns the time window of the export in ms.
pub(crate) async fn send_metrics(vigil: &Vigil, transport: Transport) -> (i64, i64) {
    let exporter = otlp::metric_exporter(vigil, transport, None);
    let before = nanos(SystemTime::now()) / 1_000_000;
    otlp::export_with_meter(exporter, otlp::resource(), record_metrics).await;
    let after = nanos(SystemTime::now()) / 1_000_000;
    (before, after)
}

/// The labels every series of the test resource and scope carries.
fn labels(extra: &[(&str, &str)]) -> Value {
    let mut map = BTreeMap::from([
        ("instance", otlp::INSTANCE),
        ("job", otlp::SERVICE),
        ("otel_scope_name", otlp::SCOPE_NAME),
        ("otel_scope_version", otlp::SCOPE_VERSION),
    ]);
    map.extend(extra.iter().copied());
    json!(map)
}

/// One expected series and its only sample.
fn series(
    name: &str,
    labels: Value,
    kind: &str,
    unit: &str,
    description: &str,
    value: f64,
) -> Value {
    json!({
        "metric_name": name,
        "labels": labels,
        "metric_type": kind,
        "unit": unit,
        "description": description,
        "value": value,
    })
}

fn expected_series() -> Vec<Value> {
    let hist = "http_server_duration_seconds";
    let route = ("http_route", "/pay");
    let mut out = vec![
        series(
            "requests_total",
            labels(&[("http_route", "/pay")]),
            "counter",
            "",
            "Requests served",
            7.0,
        ),
        series(
            "requests_total",
            labels(&[("http_route", "/cart")]),
            "counter",
            "",
            "Requests served",
            1.0,
        ),
        series(
            "queue_depth",
            labels(&[]),
            "gauge",
            "{item}",
            "Items waiting",
            7.0,
        ),
        series(
            "cpu_temperature_celsius",
            labels(&[("cpu", "0")]),
            "gauge",
            "Cel",
            "CPU temperature",
            71.5,
        ),
    ];
    // Cumulative bucket counts: values <= 0.005: 1, <= 0.05: 3, <= 0.5: 4, <= 5: 5, all: 6.
    for (le, count) in [
        ("0.005", 1.0),
        ("0.05", 3.0),
        ("0.5", 4.0),
        ("5", 5.0),
        ("+Inf", 6.0),
    ] {
        out.push(series(
            &format!("{hist}_bucket"),
            labels(&[route, ("le", le)]),
            "histogram",
            "s",
            "Request latency",
            count,
        ));
    }
    let sum: f64 = LATENCIES.iter().sum();
    out.push(series(
        &format!("{hist}_sum"),
        labels(&[route]),
        "histogram",
        "s",
        "Request latency",
        sum,
    ));
    out.push(series(
        &format!("{hist}_count"),
        labels(&[route]),
        "histogram",
        "s",
        "Request latency",
        6.0,
    ));
    // The resource attributes that are not job or instance.
    let target = json!({
        "instance": otlp::INSTANCE,
        "job": otlp::SERVICE,
        "deployment_environment": "e2e",
        "host_cpu_count": "8",
    });
    out.push(series(
        "target_info",
        target,
        "gauge",
        "",
        "Target metadata",
        1.0,
    ));
    out
}

/// A stable key for a series: its name and its labels as sorted JSON.
fn key(row: &Value) -> String {
    format!("{}{}", row["metric_name"], row["labels"])
}

async fn check_metrics(vigil: &Vigil, window: (i64, i64)) {
    let expected = expected_series();
    let query = "SELECT s.metric_name, s.labels, s.metric_type, s.unit, s.description, \
                 p.timestamp_ms, p.value \
                 FROM samples p JOIN series s ON p.series_id = s.series_id";
    let rows = poll("samples visible", Duration::from_secs(10), || async {
        let rows = vigil.sql(query).await;
        if rows.len() >= expected.len() {
            Ok(rows)
        } else {
            Err(format!("{} rows", rows.len()))
        }
    })
    .await;

    let mut got = BTreeMap::new();
    for row in rows {
        let ts = row["timestamp_ms"]
            .as_i64()
            .unwrap_or_else(|| panic!("timestamp: {row:?}"));
        assert!(
            (window.0..=window.1).contains(&ts),
            "sample time {ts} outside the export window {window:?}: {row:?}"
        );
        let mut row = Value::Object(row);
        row.as_object_mut().expect("object").remove("timestamp_ms");
        let previous = got.insert(key(&row), row.clone());
        assert!(previous.is_none(), "two samples of one series: {row}");
    }
    let expected: BTreeMap<String, Value> = expected.into_iter().map(|s| (key(&s), s)).collect();
    let got_keys: Vec<&String> = got.keys().collect();
    let expected_keys: Vec<&String> = expected.keys().collect();
    assert_eq!(got_keys, expected_keys, "series");
    for (k, want) in &expected {
        let have = &got[k];
        let (hv, wv) = (
            have["value"].as_f64(),
            want["value"].as_f64().expect("number"),
        );
        let hv = hv.unwrap_or_else(|| panic!("value of {k} is not a number: {have}"));
        assert!(
            (hv - wv).abs() <= 1e-12 * wv.abs(),
            "value of {k}: {hv} != {wv}"
        );
        for field in [
            "metric_name",
            "labels",
            "metric_type",
            "unit",
            "description",
        ] {
            assert_eq!(have[field], want[field], "{field} of {k}");
        }
    }

    // The series table has one row per series.
    let rows = vigil
        .sql("SELECT count(*) AS n, count(DISTINCT series_id) AS d FROM series")
        .await;
    assert_eq!(rows[0]["n"], json!(expected.len()), "{rows:?}");
    assert_eq!(rows[0]["d"], json!(expected.len()), "{rows:?}");
    // Labels work as map lookups.
    let rows = vigil
        .sql(
            "SELECT p.value FROM samples p JOIN series s ON p.series_id = s.series_id \
             WHERE s.metric_name = 'http_server_duration_seconds_bucket' \
             AND s.labels['le'] = '0.5'",
        )
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["value"].as_f64(), Some(4.0), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_metrics_over_grpc_map_to_prometheus() {
    let vigil = Vigil::start().await;
    let window = send_metrics(&vigil, Transport::Grpc).await;
    check_metrics(&vigil, window).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_metrics_over_http_protobuf_map_to_prometheus() {
    let vigil = Vigil::start().await;
    let window = send_metrics(&vigil, Transport::HttpProtobuf).await;
    check_metrics(&vigil, window).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_metrics_over_http_json_map_to_prometheus() {
    let vigil = Vigil::start().await;
    let window = send_metrics(&vigil, Transport::HttpJson).await;
    check_metrics(&vigil, window).await;
}
