//! Every limit a user can run into, end to end: each answers with the error Prometheus or OTLP
//! clients expect, and the server goes on serving afterwards (the harness also fails a test
//! whose server died or logged a panic).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;
use serde_json::Value;

use crate::harness::{metric_sum, poll, Vigil};
use crate::otlp::kv;
use crate::prometheus_api::api;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// A series of remote_write: `name{labels}`.
fn series(name: &str, labels: &[(&str, &str)], samples: Vec<Sample>) -> TimeSeries {
    let mut all = vec![Label {
        name: "__name__".into(),
        value: name.into(),
    }];
    all.extend(labels.iter().map(|(k, v)| Label {
        name: (*k).into(),
        value: (*v).into(),
    }));
    TimeSeries {
        labels: all,
        samples,
        exemplars: vec![],
    }
}

fn snappy(req: &WriteRequest) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

/// The server answers a simple query: it is up and its query threads are free.
async fn still_serving(vigil: &Vigil) {
    let (status, body) = api(vigil, "GET", "/api/v1/query", &[("query", "vector(1)")]).await;
    assert_eq!(status, 200, "the server stopped serving: {body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "1", "{body}");
}

fn assert_error(status: u16, body: &Value, want_status: u16, kind: &str, text: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["errorType"], kind, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains(text), "{message:?} lacks {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_queries_of_more_than_11000_points_per_series_are_refused() {
    let vigil = Vigil::start().await;
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query_range",
        &[
            ("query", "vector(1)"),
            ("start", "0"),
            ("end", "11001"),
            ("step", "1"),
        ],
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        "bad_data",
        "exceeded maximum resolution of 11,000 points per timeseries",
    );
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query_range",
        &[
            ("query", "vector(1)"),
            ("start", "0"),
            ("end", "11000"),
            ("step", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let points = body["data"]["result"][0]["values"].as_array().map(Vec::len);
    assert_eq!(points, Some(11_001), "{body}");
    still_serving(&vigil).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_loading_more_than_max_samples_fail_as_prometheus_fails_them() {
    let vigil = Vigil::start_with(&[("VIGIL_QUERY_MAX_SAMPLES", "1000")]).await;
    let now = now_ms();
    // 2,000 samples a second apart, the newest now.
    let samples = (0..2_000)
        .map(|i| Sample {
            value: f64::from(i),
            timestamp: now - (1_999 - i64::from(i)) * 1_000,
        })
        .collect();
    let req = WriteRequest {
        timeseries: vec![series("busy", &[("job", "limits")], samples)],
        metadata: vec![],
    };
    vigil.remote_write(&req).await;
    let at = format!("{:.3}", now as f64 / 1000.0);
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query",
        &[("query", "count_over_time(busy[1h])"), ("time", &at)],
    )
    .await;
    assert_error(
        status,
        &body,
        422,
        "execution",
        "query processing would load too many samples into memory in query execution",
    );
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query",
        &[("query", "count_over_time(busy[5m])"), ("time", &at)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "300", "{body}");
    still_serving(&vigil).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_timeout_is_answered_503_and_its_work_stops() {
    let vigil = Vigil::start().await;
    // About 600,000 evaluations of the inner expression: seconds of work, far past 200 ms.
    let heavy = "count_over_time(vector(1)[7d:1s])";
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query",
        &[("query", heavy), ("timeout", "200ms")],
    )
    .await;
    assert_error(status, &body, 503, "timeout", "timed out");
    // The evaluation itself stopped: nothing runs on the query runtime any more.
    poll(
        "the timed-out query stopped",
        Duration::from_secs(5),
        || async {
            let text = vigil.metrics_text().await;
            match metric_sum(&text, "vigil_query_running") {
                Some(0.0) => Ok(()),
                other => Err(format!("vigil_query_running {other:?}")),
            }
        },
    )
    .await;
    let text = vigil.metrics_text().await;
    assert_eq!(
        metric_sum(&text, "vigil_query_timeouts_total"),
        Some(1.0),
        "{text}"
    );
    still_serving(&vigil).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_snappy_bombs_are_refused_before_they_are_inflated() {
    let vigil = Vigil::start().await;
    // A snappy block announcing 3 GiB: refused from its header alone.
    let mut header = Vec::new();
    let mut n: u64 = 3 << 30;
    while n >= 0x80 {
        header.push((n as u8) | 0x80);
        n >>= 7;
    }
    header.push(n as u8);
    header.extend_from_slice(&[0u8; 64]);
    let (status, body) = vigil.post_remote_write(header).await;
    assert_eq!(status, 413, "{body}");
    // A real one: 64 MiB of zeros compress to about 3 MiB, under the request limit.
    let bomb = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 64 << 20])
        .expect("snappy");
    assert!(bomb.len() < 16 << 20, "{} bytes", bomb.len());
    let (status, body) = vigil.post_remote_write(bomb).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("16777216"),
        "the answer names the limit: {body}"
    );
    still_serving(&vigil).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_queries_are_refused_and_the_server_stays_up() {
    let vigil = Vigil::start().await;
    let deep = [
        format!("1{}", "+1".repeat(20_000)),
        format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        format!("{}1", "-".repeat(100_000)),
    ];
    for query in &deep {
        // POST: these do not fit in a URL.
        let (status, body) = api(&vigil, "POST", "/api/v1/query", &[("query", query)]).await;
        assert_error(status, &body, 400, "bad_data", "query nests too deeply");
        let (status, body) = api(
            &vigil,
            "POST",
            "/api/v1/query_range",
            &[
                ("query", query),
                ("start", "0"),
                ("end", "60"),
                ("step", "15"),
            ],
        )
        .await;
        assert_error(status, &body, 400, "bad_data", "query nests too deeply");
    }
    // As deep as allowed: evaluated, on the query runtime's stack.
    let (status, body) = api(
        &vigil,
        "POST",
        "/api/v1/query",
        &[("query", &format!("1{}", "+1".repeat(1_000)))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"][1], "1001", "{body}");

    // SQL: deep parentheses and a 20,000-term sum (which overflowed the query thread's stack
    // before) are refused by the nesting limit; 100,000 minus signs start a comment.
    for (sql, says) in [
        (
            format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            "query nests too deeply",
        ),
        (
            format!("SELECT 1{} AS n", "+1".repeat(20_000)),
            "query nests too deeply",
        ),
        (format!("SELECT {}1 AS n", "-".repeat(100_000)), "SQL error"),
    ] {
        let (status, body) = vigil.sql_response(None, &sql).await;
        assert_error(status, &body, 400, "bad_data", says);
    }
    let (status, body) = vigil
        .sql_response(None, &format!("SELECT 1{} AS n", "+1".repeat(1_000)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"][0]["n"], 1_001, "{body}");
    still_serving(&vigil).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_write_request_of_100000_distinct_series_is_stored_whole() {
    let vigil = Vigil::start().await;
    let now = now_ms();
    let ids: Vec<String> = (0..100_000).map(|i| format!("{i:06}")).collect();
    let req = WriteRequest {
        timeseries: ids
            .iter()
            .map(|id| {
                series(
                    "wide",
                    &[("id", id.as_str())],
                    vec![Sample {
                        value: 1.0,
                        timestamp: now,
                    }],
                )
            })
            .collect(),
        metadata: vec![],
    };
    let (status, body) = vigil.post_remote_write(snappy(&req)).await;
    assert_eq!(status, 204, "{body}");
    let at = format!("{:.3}", now as f64 / 1000.0);
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query",
        &[("query", "count(wide)"), ("time", &at)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "100000", "{body}");
    let rows = vigil
        .sql("SELECT count(*) AS n FROM series WHERE metric_name = 'wide'")
        .await;
    assert_eq!(rows[0]["n"], 100_000, "{rows:?}");
    still_serving(&vigil).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_values_of_1_mib_are_refused_naming_the_label_and_the_limit() {
    use opentelemetry_proto::tonic::collector::metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    };
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };

    let vigil = Vigil::start().await;
    let now = now_ms();
    let huge = "x".repeat(1 << 20);
    // remote_write: the series with the huge value is refused with a 400 that names it; the
    // other series of the request is stored, as Prometheus's own receiver does.
    let req = WriteRequest {
        timeseries: vec![
            series(
                "long_labels",
                &[("path", huge.as_str())],
                vec![Sample {
                    value: 1.0,
                    timestamp: now,
                }],
            ),
            series(
                "long_labels",
                &[("path", "/short")],
                vec![Sample {
                    value: 2.0,
                    timestamp: now,
                }],
            ),
        ],
        metadata: vec![],
    };
    let (status, body) = vigil.post_remote_write(snappy(&req)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("label \"path\" has a value of 1048576 bytes, over the limit of 65536"),
        "{body}"
    );
    let at = format!("{:.3}", now as f64 / 1000.0);
    let (status, answer) = api(
        &vigil,
        "GET",
        "/api/v1/query",
        &[("query", "long_labels"), ("time", &at)],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let result = answer["data"]["result"].as_array().expect("vector");
    assert_eq!(result.len(), 1, "{answer}");
    assert_eq!(result[0]["metric"]["path"], "/short");

    // OTLP: the point is refused through partial success, naming the attribute.
    let point = |path: &str| NumberDataPoint {
        attributes: vec![kv("url.path", path)],
        time_unix_nano: now as u64 * 1_000_000,
        value: Some(number_data_point::Value::AsDouble(1.0)),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "otlp_long_labels".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![point(&huge), point("/short")],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let resp = vigil
        .http()
        .post(vigil.otlp_http_url("/v1/metrics"))
        .header("Content-Type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .expect("POST /v1/metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let answer =
        ExportMetricsServiceResponse::decode(resp.bytes().await.expect("body")).expect("protobuf");
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_data_points, 1, "{partial:?}");
    assert!(
        partial
            .error_message
            .contains("label \"url_path\" has a value of 1048576 bytes"),
        "{}",
        partial.error_message
    );
    let rows = vigil
        .sql("SELECT labels['url_path'] AS path FROM series WHERE metric_name = 'otlp_long_labels'")
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["path"], "/short");
    still_serving(&vigil).await;
}
