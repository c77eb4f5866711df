//! The Prometheus HTTP API as Grafana's Prometheus data source uses it: "Save & test", the
//! metric browser (labels, label values, series), label filters and a range panel (POST form
//! bodies), over metrics sent with the OpenTelemetry SDK and answered from the head at once; and
//! Prometheus remote_write into the same store.

use serde_json::{json, Value};

use crate::harness::Vigil;
use crate::metrics::send_metrics;
use crate::otlp::Transport;

/// `application/x-www-form-urlencoded`, as browsers and Grafana encode parameters.
pub(crate) fn encode(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) async fn api(
    vigil: &Vigil,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let req = match method {
        "GET" => vigil
            .http()
            .get(format!("{}?{}", vigil.api_url(path), encode(form))),
        _ => vigil
            .http()
            .post(vigil.api_url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(encode(form)),
    };
    let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    (status, body)
}

pub(crate) async fn ok(vigil: &Vigil, method: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let (status, body) = api(vigil, method, path, form).await;
    assert_eq!(status, 200, "{method} {path} {form:?}: {body}");
    assert_eq!(body["status"], "success", "{body}");
    body["data"].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_data_source_requests_are_answered_as_prometheus_answers_them() {
    let vigil = Vigil::start().await;
    let (_, after) = send_metrics(&vigil, Transport::HttpProtobuf).await;
    let now = format!("{:.3}", after as f64 / 1000.0 + 1.0);
    let start = format!("{:.3}", after as f64 / 1000.0 - 60.0);

    // "Save & test": buildinfo, then `1+1`.
    let info = ok(&vigil, "GET", "/api/v1/status/buildinfo", &[]).await;
    assert!(info["version"].is_string(), "{info}");
    let data = ok(
        &vigil,
        "GET",
        "/api/v1/query",
        &[("query", "1+1"), ("time", &now)],
    )
    .await;
    assert_eq!(data["resultType"], "scalar");
    assert_eq!(data["result"][1], "2", "{data}");

    // Metric browser: label names, metric names, values of a label, series of a metric.
    let names = strings(
        &ok(
            &vigil,
            "GET",
            "/api/v1/labels",
            &[("start", &start), ("end", &now)],
        )
        .await,
    );
    for n in ["__name__", "http_route", "job", "instance", "le"] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    let metrics = strings(&ok(&vigil, "GET", "/api/v1/label/__name__/values", &[]).await);
    for m in [
        "requests_total",
        "queue_depth",
        "http_server_duration_seconds_bucket",
    ] {
        assert!(
            metrics.contains(&m.to_string()),
            "{m} missing from {metrics:?}"
        );
    }
    let routes = strings(
        &ok(
            &vigil,
            "GET",
            "/api/v1/label/http_route/values",
            &[("match[]", "requests_total")],
        )
        .await,
    );
    assert_eq!(routes, ["/cart", "/pay"]);
    let series = ok(
        &vigil,
        "POST",
        "/api/v1/series",
        &[
            ("match[]", "requests_total{http_route=\"/pay\"}"),
            ("start", &start),
            ("end", &now),
        ],
    )
    .await;
    assert_eq!(series.as_array().map(Vec::len), Some(1), "{series}");
    assert_eq!(series[0]["__name__"], "requests_total");
    assert_eq!(series[0]["http_route"], "/pay");
    let meta = ok(
        &vigil,
        "GET",
        "/api/v1/metadata",
        &[("metric", "requests_total")],
    )
    .await;
    assert_eq!(meta["requests_total"][0]["type"], "counter", "{meta}");
    assert_eq!(
        meta["requests_total"][0]["help"], "Requests served",
        "{meta}"
    );

    // An instant query with a label filter and an aggregation, read from the head.
    let data = ok(
        &vigil,
        "POST",
        "/api/v1/query",
        &[
            ("query", "sum by (http_route) (requests_total{job=~\".+\"})"),
            ("time", &now),
        ],
    )
    .await;
    assert_eq!(data["resultType"], "vector", "{data}");
    let mut got: Vec<(String, String)> = data["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| {
            (
                s["metric"]["http_route"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("/cart".into(), "1".into()), ("/pay".into(), "7".into())]
    );
    let quantile = ok(
        &vigil,
        "GET",
        "/api/v1/query",
        &[
            (
                "query",
                "histogram_quantile(0.5, sum by (le) (http_server_duration_seconds_bucket))",
            ),
            ("time", &now),
        ],
    )
    .await;
    // Six latencies (3 ms, 20 ms, 20 ms, 300 ms, 2 s, 7 s): rank 0.5 × 6 = 3 is reached exactly
    // at the top of the (0.005, 0.05] bucket, which holds observations 2 and 3.
    let median: f64 = quantile["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{quantile}"));
    assert!((median - 0.05).abs() < 1e-12, "{quantile}");

    // A range panel: POST form, as Grafana sends it.
    let data = ok(
        &vigil,
        "POST",
        "/api/v1/query_range",
        &[
            ("query", "requests_total"),
            ("start", &start),
            ("end", &now),
            ("step", "15"),
        ],
    )
    .await;
    assert_eq!(data["resultType"], "matrix", "{data}");
    let result = data["result"].as_array().expect("matrix");
    assert_eq!(result.len(), 2, "{data}");
    for s in result {
        let values = s["values"].as_array().expect("values");
        assert!(!values.is_empty(), "{s}");
        let last = values.last().expect("a point");
        let want = if s["metric"]["http_route"] == "/pay" {
            "7"
        } else {
            "1"
        };
        assert_eq!(last[1], want, "{s}");
    }

    // Errors as Prometheus shapes them.
    let (status, body) = api(&vigil, "GET", "/api/v1/query", &[("query", "sum(")]).await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (400, json!("bad_data")),
        "{body}"
    );
    assert!(body["error"]
        .as_str()
        .unwrap_or("")
        .starts_with("invalid parameter \"query\""));
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query_range",
        &[
            ("query", "up"),
            ("start", "10"),
            ("end", "0"),
            ("step", "1"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (400, json!("bad_data")),
        "{body}"
    );
    let (status, body) = api(
        &vigil,
        "GET",
        "/api/v1/query",
        &[
            ("query", "requests_total + on() requests_total"),
            ("time", &now),
        ],
    )
    .await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (422, json!("execution")),
        "{body}"
    );

    // Exemplars (none stored yet) and query formatting.
    let ex = ok(
        &vigil,
        "GET",
        "/api/v1/query_exemplars",
        &[("query", "requests_total")],
    )
    .await;
    assert_eq!(ex, json!([]));
    let formatted = ok(
        &vigil,
        "GET",
        "/api/v1/format_query",
        &[("query", "sum(up)by(job)")],
    )
    .await;
    assert_eq!(formatted, "sum by (job) (up)");
}

fn rw_request(now_ms: i64) -> Vec<u8> {
    use ingest::remote_write::{Label, MetricMetadata, Sample, TimeSeries, WriteRequest};
    use prost::Message;
    let series = |route: &str, per_step: f64| TimeSeries {
        labels: vec![
            Label {
                name: "__name__".into(),
                value: "rw_requests_total".into(),
            },
            Label {
                name: "job".into(),
                value: "prom".into(),
            },
            Label {
                name: "route".into(),
                value: route.into(),
            },
        ],
        // Every 15 s up to now, rising by `per_step`.
        samples: (0..5)
            .map(|i| Sample {
                value: per_step * (i + 1) as f64,
                timestamp: now_ms - (4 - i) * 15_000,
            })
            .collect(),
        exemplars: vec![],
    };
    let req = WriteRequest {
        timeseries: vec![series("/a", 10.0), series("/b", 1.0)],
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "rw_requests_total".into(),
            help: "Requests seen by Prometheus".into(),
            unit: String::new(),
        }],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

async fn rates(vigil: &Vigil, at: &str) -> Vec<(String, f64)> {
    let data = ok(
        vigil,
        "GET",
        "/api/v1/query",
        &[("query", "rate(rw_requests_total[1m])"), ("time", at)],
    )
    .await;
    let mut out: Vec<(String, f64)> = data["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{data}"))
        .iter()
        .map(|s| {
            (
                s["metric"]["route"].as_str().unwrap_or("").to_string(),
                s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_samples_are_queryable_at_once_and_after_a_sigkill() {
    let mut vigil = Vigil::start().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let resp = vigil
        .http()
        .post(vigil.api_url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(rw_request(now_ms))
        .send()
        .await
        .expect("POST /api/v1/write");
    assert_eq!(resp.status().as_u16(), 204, "{:?}", resp.text().await);

    // Samples 15 s apart rising by 10 (route /a) and 1 (/b): over (now − 1m, now] the four
    // newest rise by 3 steps in 45 s, extrapolated to the window start (15 s away, under 1.1 ×
    // the spacing; the counter's zero point lies further back): 4 steps per 60 s.
    let at = format!("{:.3}", now_ms as f64 / 1000.0);
    let expect = [
        ("/a".to_string(), 40.0 / 60.0),
        ("/b".to_string(), 4.0 / 60.0),
    ];
    let check = |got: Vec<(String, f64)>| {
        assert_eq!(got.len(), 2, "{got:?}");
        for ((r, v), (er, ev)) in got.iter().zip(&expect) {
            assert_eq!(r, er);
            assert!((v - ev).abs() < 1e-9, "{got:?}");
        }
    };
    check(rates(&vigil, &at).await);
    let meta = ok(
        &vigil,
        "GET",
        "/api/v1/metadata",
        &[("metric", "rw_requests_total")],
    )
    .await;
    assert_eq!(meta["rw_requests_total"][0]["type"], "counter", "{meta}");

    // Killed before any flush, the store gets the request back from the WAL on restart.
    vigil.kill().await;
    vigil.restart().await;
    check(rates(&vigil, &at).await);

    // A body that is not snappy is a bad request.
    let resp = vigil
        .http()
        .post(vigil.api_url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .body("not snappy")
        .send()
        .await
        .expect("POST /api/v1/write");
    assert_eq!(resp.status().as_u16(), 400);
}
