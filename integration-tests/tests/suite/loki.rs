//! The Loki API end to end: lines pushed as Loki's clients push them (JSON, gzip-encoded JSON,
//! snappy protobuf) and log records exported by the OpenTelemetry SDK come back through
//! `/loki/api/v1/query_range` and `/query` (log and metric queries, both directions, limits,
//! structured metadata in the `categorize-labels` encoding), `/labels`, `/label/<name>/values`
//! and `/series`, per tenant, before and after the heads are flushed to segments; bad pushes
//! and bad queries get Loki's errors.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use ingest::{EntryAdapter, PushRequest, StreamAdapter, Timestamp};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use prost::Message;
use serde_json::{json, Value};

use crate::harness::{nanos, poll, Vigil};
use crate::otlp::{self, Transport};

pub(crate) async fn push(
    vigil: &Vigil,
    tenant: Option<&str>,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let mut req = vigil
        .http()
        .post(vigil.api_url("/loki/api/v1/push"))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("Content-Encoding", e);
    }
    if let Some(t) = tenant {
        req = req.header(otlp::TENANT_HEADER, t);
    }
    let resp = req.send().await.expect("push");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

pub(crate) async fn loki(
    vigil: &Vigil,
    tenant: Option<&str>,
    path: &str,
    params: &[(&str, String)],
    categorize: bool,
) -> (u16, Value, String) {
    let url = reqwest::Url::parse_with_params(&vigil.api_url(path), params).expect("url");
    let mut req = vigil.http().get(url);
    if let Some(t) = tenant {
        req = req.header(otlp::TENANT_HEADER, t);
    }
    if categorize {
        req = req.header("X-Loki-Response-Encoding-Flags", "categorize-labels");
    }
    let resp = req.send().await.expect("query");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

/// An instant LogQL query of the default tenant at `time`.
pub(crate) async fn instant(vigil: &Vigil, query: &str, time: &str) -> (u16, Value, String) {
    loki(
        vigil,
        None,
        "/loki/api/v1/query",
        &[("query", query.to_string()), ("time", time.to_string())],
        false,
    )
    .await
}

pub(crate) fn lines(result: &Value) -> Vec<(Value, String, String)> {
    let mut out = Vec::new();
    for s in result.as_array().expect("streams") {
        for v in s["values"].as_array().expect("values") {
            out.push((
                s["stream"].clone(),
                v[0].as_str().expect("ts").to_string(),
                v[1].as_str().expect("line").to_string(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_and_exported_logs_answer_through_the_loki_api() {
    let vigil = Vigil::start().await;
    let t0 = nanos(SystemTime::now()) - 600_000_000_000;
    let sec = 1_000_000_000i64;

    // JSON: five lines of {app="api", env="prod"}, three of them errors; one with metadata.
    let values: Vec<Value> = (0..5)
        .map(|i| {
            let level = if i % 2 == 0 { "error" } else { "info" };
            let line = format!("level={level} status={} msg=\"req {i}\"", 200 + 300 * (i % 2 == 0) as i32);
            if i == 0 {
                json!([(t0 + i * sec).to_string(), line, {"trace_id": "0af7651916cd43dd8448eb211c80319c"}])
            } else {
                json!([(t0 + i * sec).to_string(), line])
            }
        })
        .collect();
    let body = json!({"streams": [{"stream": {"app": "api", "env": "prod"}, "values": values}]});
    let (status, text) = push(
        &vigil,
        None,
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{text}");

    // gzip-encoded JSON, another stream.
    let body = json!({"streams": [{"stream": {"app": "worker"}, "values": [[(t0 + 10 * sec).to_string(), "job done"]]}]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.to_string().as_bytes()).expect("gzip");
    let (status, text) = push(
        &vigil,
        None,
        "application/json",
        Some("gzip"),
        gz.finish().expect("gzip"),
    )
    .await;
    assert_eq!(status, 204, "{text}");

    // Snappy protobuf, as Promtail and Alloy send it.
    let pb = PushRequest {
        streams: vec![StreamAdapter {
            labels: r#"{app="web", env="prod"}"#.into(),
            entries: (0..3)
                .map(|i| EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: (t0 + (20 + i) * sec) / sec,
                        nanos: ((t0 + (20 + i) * sec) % sec) as i32,
                    }),
                    line: format!("GET /page/{i} 200"),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&pb.encode_to_vec())
        .expect("snappy");
    let (status, text) = push(&vigil, None, "application/x-protobuf", None, body).await;
    assert_eq!(status, 204, "{text}");

    // Another tenant's line, which the default tenant never sees.
    let body = json!({"streams": [{"stream": {"app": "api"}, "values": [[(t0 + 2 * sec).to_string(), "level=error secret"]]}]});
    let (status, _) = push(
        &vigil,
        Some("acme"),
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 204);

    // Log records from the OpenTelemetry SDK.
    let exporter = otlp::log_exporter(&vigil, Transport::Grpc, None);
    let t_otlp = SystemTime::UNIX_EPOCH + Duration::from_nanos((t0 + 30 * sec) as u64);
    otlp::export_with_logger(exporter, otlp::resource(), move |logger| {
        for (i, (sev, text)) in [
            (Severity::Error, "payment failed"),
            (Severity::Info, "payment ok"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = logger.create_log_record();
            r.set_timestamp(t_otlp + Duration::from_secs(i as u64));
            r.set_severity_number(sev);
            r.set_body(AnyValue::from(text));
            r.add_attribute("order.id", 42_i64);
            logger.emit(r);
        }
    })
    .await;

    // Bad pushes.
    let (status, text) = push(&vigil, None, "text/plain", None, b"x".to_vec()).await;
    assert_eq!(status, 415, "{text}");
    let (status, text) = push(
        &vigil,
        None,
        "application/json",
        None,
        br#"{"streams":[{"stream":{"a":"b"},"values":[["1",{"x":1}]]}]}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("line must be a string"), "{text}");

    let start = (t0 - sec).to_string();
    let end = (t0 + 120 * sec).to_string();
    let range = |q: &str| {
        vec![
            ("query", q.to_string()),
            ("start", start.clone()),
            ("end", end.clone()),
        ]
    };

    for flushed in [false, true] {
        if flushed {
            vigil.flush().await;
        }
        // A log query, newest first by default, with a line filter the index pre-filters.
        let result = poll("pushed lines visible", Duration::from_secs(10), || async {
            let (status, body, text) = loki(
                &vigil,
                None,
                "/loki/api/v1/query_range",
                &range(r#"{app="api"} |= "error""#),
                false,
            )
            .await;
            let found = lines(&body["data"]["result"]);
            if status == 200 && found.len() == 3 {
                Ok(body)
            } else {
                Err(format!("{status}: {text}"))
            }
        })
        .await;
        assert_eq!(result["status"], "success");
        assert_eq!(result["data"]["resultType"], "streams");
        assert!(result["data"]["stats"]["summary"].is_object());
        let got = lines(&result["data"]["result"]);
        assert_eq!(
            got[0].0,
            json!({"app": "api", "env": "prod", "service_name": "api"})
        );
        let times: Vec<i64> = got.iter().map(|g| g.1.parse().unwrap()).collect();
        assert_eq!(
            times,
            vec![t0 + 4 * sec, t0 + 2 * sec, t0],
            "backward, newest first"
        );
        // Forward with a limit: the oldest two.
        let mut p = range(r#"{env="prod"}"#);
        p.push(("direction", "forward".into()));
        p.push(("limit", "2".into()));
        let (_, body, _) = loki(&vigil, None, "/loki/api/v1/query_range", &p, false).await;
        let got = lines(&body["data"]["result"]);
        assert_eq!(
            got.iter().map(|g| g.2.as_str()).collect::<Vec<_>>(),
            vec![
                r#"level=error status=500 msg="req 0""#,
                r#"level=info status=200 msg="req 1""#
            ]
        );
        // `interval`: lines at least that far apart (the api lines are a second apart).
        let mut p = range(r#"{app="api"}"#);
        p.push(("interval", "2s".into()));
        let (_, body, _) = loki(&vigil, None, "/loki/api/v1/query_range", &p, false).await;
        let times: Vec<i64> = lines(&body["data"]["result"])
            .iter()
            .map(|g| g.1.parse().unwrap())
            .collect();
        assert_eq!(times, vec![t0 + 4 * sec, t0 + 2 * sec, t0], "{body}");
        // The protobuf stream, its labels as sent (and Loki's service_name).
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/query_range",
            &range(r#"{app="web"} | pattern "<method> <path> <status>" | path=~"/page/[12]""#),
            false,
        )
        .await;
        let got = lines(&body["data"]["result"]);
        assert_eq!(got.len(), 2, "{body}");
        let mut paths: Vec<&Value> = got.iter().map(|g| &g.0["path"]).collect();
        paths.sort_by_key(|p| p.to_string());
        assert_eq!(paths, vec!["/page/1", "/page/2"]);
        assert_eq!(got[0].0["app"], "web");
        assert_eq!(got[0].0["method"], "GET");
        assert_eq!(got[0].0["service_name"], "web");
        // Structured metadata in the categorize-labels encoding.
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/query_range",
            &range(r#"{app="api"} | trace_id!="""#),
            true,
        )
        .await;
        assert_eq!(body["data"]["encodingFlags"], json!(["categorize-labels"]));
        let values = &body["data"]["result"][0]["values"];
        assert_eq!(values.as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(
            values[0][2]["structuredMetadata"]["trace_id"],
            "0af7651916cd43dd8448eb211c80319c"
        );
        // A metric query at an instant.
        let (status, body, text) = instant(
            &vigil,
            r#"sum by (level) (count_over_time({app="api"} | logfmt [10m]))"#,
            &end,
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(body["data"]["resultType"], "vector");
        let mut vector: Vec<(String, String)> = body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["metric"]["level"].as_str().unwrap().to_string(),
                    s["value"][1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        vector.sort();
        assert_eq!(
            vector,
            vec![("error".into(), "3".into()), ("info".into(), "2".into())]
        );
        // A range metric query: a matrix.
        let mut p = range(r#"count_over_time({app="api"}[1m])"#);
        p.push(("step", "60".into()));
        let (_, body, _) = loki(&vigil, None, "/loki/api/v1/query_range", &p, false).await;
        assert_eq!(body["data"]["resultType"], "matrix");
        // Structured metadata joins a metric's labels, as in Loki: the line with a trace id
        // is a series of its own.
        let series = body["data"]["result"].as_array().unwrap();
        assert_eq!(series.len(), 2, "{body}");
        let total: f64 = series
            .iter()
            .flat_map(|s| s["values"].as_array().unwrap().iter())
            .map(|v| v[1].as_str().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(
            total, 5.0,
            "every line counted once over non-overlapping windows: {body}"
        );
        // OTLP records: service_name, promoted resource attributes and the level are stream
        // labels, the attributes structured metadata.
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/query_range",
            &range(r#"{service_name="checkout"} | detected_level="error" | order_id="42""#),
            false,
        )
        .await;
        let got = lines(&body["data"]["result"]);
        assert_eq!(got.len(), 1, "{body}");
        assert_eq!(got[0].2, "payment failed");
        assert_eq!(got[0].0["deployment_environment"], "e2e");
        assert_eq!(got[0].0["service_instance_id"], otlp::INSTANCE);
        assert_eq!(got[0].0["level"], "error");
        assert_eq!(got[0].0["detected_level"], "error");
        // The level as a stream selector, and the lines counted by it.
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/query_range",
            &range(r#"{service_name="checkout", level="info"}"#),
            false,
        )
        .await;
        let got = lines(&body["data"]["result"]);
        assert_eq!(got.len(), 1, "{body}");
        assert_eq!(got[0].2, "payment ok");
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/query",
            &[
                (
                    "query",
                    r#"sum by (level) (count_over_time({service_name="checkout"}[1h]))"#.into(),
                ),
                ("time", end.clone()),
            ],
            false,
        )
        .await;
        let mut levels: Vec<(String, String)> = body["data"]["result"]
            .as_array()
            .expect("vector")
            .iter()
            .map(|s| {
                (
                    s["metric"]["level"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    s["value"][1].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        levels.sort();
        assert_eq!(
            levels,
            [("error".into(), "1".into()), ("info".into(), "1".into())],
            "{body}"
        );
        // Labels, label values, series.
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/labels",
            &[("start", start.clone()), ("end", end.clone())],
            false,
        )
        .await;
        let names = body["data"].as_array().unwrap().clone();
        for n in [
            "app",
            "env",
            "service_name",
            "deployment_environment",
            "level",
            "detected_level",
        ] {
            assert!(names.contains(&json!(n)), "{n} in {names:?}");
        }
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/label/app/values",
            &[("start", start.clone()), ("end", end.clone())],
            false,
        )
        .await;
        assert_eq!(body["data"], json!(["api", "web", "worker"]));
        let (_, body, _) = loki(
            &vigil,
            None,
            "/loki/api/v1/series",
            &[
                ("match[]", r#"{env="prod"}"#.to_string()),
                ("start", start.clone()),
                ("end", end.clone()),
            ],
            false,
        )
        .await;
        assert_eq!(body["data"].as_array().map(Vec::len), Some(2), "{body}");
        // The other tenant sees its line and only it.
        let (_, body, _) = loki(
            &vigil,
            Some("acme"),
            "/loki/api/v1/query_range",
            &range(r#"{app="api"}"#),
            false,
        )
        .await;
        let got = lines(&body["data"]["result"]);
        assert_eq!(
            got.iter().map(|g| g.2.as_str()).collect::<Vec<_>>(),
            vec!["level=error secret"]
        );
    }

    // Index statistics, volumes, detected labels and fields, patterns: what Grafana's log
    // volume panel and Logs Drilldown ask.
    let span = |q: &str| {
        vec![
            ("query", q.to_string()),
            ("start", start.clone()),
            ("end", end.clone()),
        ]
    };
    let (status, body, text) = loki(
        &vigil,
        None,
        "/loki/api/v1/index/stats",
        &span(r#"{env="prod"}"#),
        false,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let api_bytes: u64 = (0..5)
        .map(|i| {
            format!(
                "level={} status={} msg=\"req {i}\"",
                if i % 2 == 0 { "error" } else { "info" },
                if i % 2 == 0 { 500 } else { 200 }
            )
            .len() as u64
        })
        .sum();
    let web_bytes: u64 = (0..3)
        .map(|i| format!("GET /page/{i} 200").len() as u64)
        .sum();
    assert_eq!(body["streams"], 2);
    assert_eq!(body["entries"], 8);
    assert_eq!(body["bytes"], api_bytes + web_bytes);
    // A chunk per stream and hour of lines: two, or more when an hour ends among them.
    assert!(
        (2..=4).contains(&body["chunks"].as_u64().unwrap()),
        "{body}"
    );
    let (_, body, _) = loki(
        &vigil,
        None,
        "/loki/api/v1/index/volume",
        &[
            ("query", r#"{env="prod"}"#.to_string()),
            ("start", start.clone()),
            ("end", end.clone()),
            ("targetLabels", "app".into()),
        ],
        false,
    )
    .await;
    assert_eq!(body["data"]["resultType"], "vector");
    let vols: Vec<(String, String)> = body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["app"].as_str().unwrap().to_string(),
                r["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        vols,
        vec![
            ("api".to_string(), api_bytes.to_string()),
            ("web".to_string(), web_bytes.to_string())
        ],
        "largest first"
    );
    let (_, body, _) = loki(
        &vigil,
        None,
        "/loki/api/v1/index/volume_range",
        &[
            ("query", r#"{app="api"}"#.to_string()),
            ("start", start.clone()),
            ("end", end.clone()),
            ("step", "60".into()),
        ],
        false,
    )
    .await;
    assert_eq!(body["data"]["resultType"], "matrix");
    let total: u64 = body["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[1].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, api_bytes);
    let (_, body, _) = loki(
        &vigil,
        None,
        "/loki/api/v1/detected_labels",
        &span(r#"{env="prod"}"#),
        false,
    )
    .await;
    assert_eq!(
        body["detectedLabels"],
        json!([{"label": "app", "cardinality": 2}, {"label": "env", "cardinality": 1}])
    );
    let (_, body, _) = loki(
        &vigil,
        None,
        "/loki/api/v1/detected_fields",
        &span(r#"{app="api"}"#),
        false,
    )
    .await;
    let fields = body["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["label"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {body}"))
    };
    assert_eq!(
        field("status"),
        json!({"label": "status", "type": "int", "cardinality": 2, "parsers": ["logfmt"]})
    );
    assert_eq!(
        field("trace_id")["parsers"],
        Value::Null,
        "structured metadata has no parser"
    );
    let (_, body, _) = loki(
        &vigil,
        None,
        "/loki/api/v1/detected_field/level/values",
        &span(r#"{app="api"}"#),
        false,
    )
    .await;
    assert_eq!(body["values"], json!(["error", "info"]));
    let (_, body, _) = loki(
        &vigil,
        None,
        "/loki/api/v1/patterns",
        &span(r#"{app="web"}"#),
        false,
    )
    .await;
    assert_eq!(body["data"][0]["pattern"], "GET <_>", "{body}");
    let count: u64 = body["data"][0]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1].as_u64().unwrap())
        .sum();
    assert_eq!(count, 3);

    // Loki's series limit: more series than `max_query_series` (500) is an error.
    let values: Vec<Value> = (0..501)
        .map(|i| json!([(t0 + i).to_string(), format!("n={i}")]))
        .collect();
    let body = json!({"streams": [{"stream": {"app": "wide"}, "values": values}]});
    let (status, _) = push(
        &vigil,
        None,
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, text) = instant(
        &vigil,
        r#"count_over_time({app="wide"} | logfmt [10m])"#,
        &end,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("maximum of series (500) reached for a single query"),
        "{text}"
    );
    let (status, _, text) = instant(
        &vigil,
        r#"sum(count_over_time({app="wide"} | logfmt [10m]))"#,
        &end,
    )
    .await;
    assert_eq!(status, 200, "{text}");

    // Errors as Loki gives them.
    let (status, _, text) = loki(
        &vigil,
        None,
        "/loki/api/v1/query_range",
        &range(r#"{app="api""#),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        text.trim(),
        "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,"
    );
    let (status, _, text) = loki(
        &vigil,
        None,
        "/loki/api/v1/query",
        &[("query", r#"{app="api"}"#.to_string())],
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        text.contains("log queries are not supported as an instant query type"),
        "{text}"
    );
    let (status, _, text) = loki(
        &vigil,
        None,
        "/loki/api/v1/query_range",
        &range(r#"count_over_time({app="api"} | logfmt --strict | unwrap status [1m])"#),
        false,
    )
    .await;
    assert_eq!(status, 400, "{text}");
}

/// Alerting and recording rules in LogQL, as Loki's ruler runs them: the rule's expression is
/// told apart from PromQL by parsing (or named with `language: logql`); the alert fires from
/// lines pushed now, and the recorded series is read back through PromQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logql_rules_alert_and_record() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        r#"groups:
  - name: logs
    interval: 1s
    rules:
      - alert: ApiErrors
        expr: sum by (app) (count_over_time({app="api"} |= "error" [1m])) > 1
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.app }} logged {{ $value }} errors"
      - record: app:log_lines:count1m
        language: logql
        expr: sum by (app) (count_over_time({app="api"}[1m]))
"#,
    )
    .expect("rules");
    let vigil = Vigil::start_with(&[
        ("VIGIL_RULE_FILES", rules.to_str().expect("utf-8")),
        ("VIGIL_EVALUATION_INTERVAL", "1s"),
    ])
    .await;
    let now = nanos(SystemTime::now());
    let values: Vec<Value> = (0..3)
        .map(|i| {
            json!([
                (now - i * 1_000_000).to_string(),
                format!("level=error n={i}")
            ])
        })
        .collect();
    let body = json!({"streams": [{"stream": {"app": "api"}, "values": values}]});
    let (status, text) = push(
        &vigil,
        None,
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let alert = poll("the LogQL alert fires", Duration::from_secs(30), || async {
        let (_, body) = vigil.get("/api/v1/alerts").await;
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        match v["data"]["alerts"].as_array().and_then(|a| a.first()) {
            Some(a) if a["state"] == "firing" => Ok(a.clone()),
            _ => Err(body),
        }
    })
    .await;
    assert_eq!(alert["labels"]["alertname"], "ApiErrors");
    assert_eq!(alert["labels"]["app"], "api");
    assert_eq!(alert["annotations"]["summary"], "api logged 3 errors");
    let (_, rules_body) = vigil.get("/api/v1/rules").await;
    assert!(rules_body.contains(r#""language":"logql""#), "{rules_body}");
    let value = poll(
        "the recorded series is queryable",
        Duration::from_secs(30),
        || async {
            let (_, body) = vigil.get("/api/v1/query?query=app:log_lines:count1m").await;
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            match v["data"]["result"].as_array().and_then(|r| r.first()) {
                Some(s) => Ok(s["value"][1].as_str().unwrap_or("").to_string()),
                None => Err(body),
            }
        },
    )
    .await;
    assert_eq!(value, "3");
}

/// `/loki/api/v1/tail` over a WebSocket: lines stored before the tail began and lines pushed
/// while it runs arrive, each once, oldest first; a metric query is refused before the upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_streams_new_lines_over_a_websocket() {
    use futures::StreamExt;
    let vigil = Vigil::start().await;
    let push_line = |ts: i64, line: &str| {
        json!({"streams": [{"stream": {"app": "tailed"}, "values": [[ts.to_string(), line]]}]})
            .to_string()
            .into_bytes()
    };
    let now = nanos(SystemTime::now());
    let (status, _) = push(
        &vigil,
        None,
        "application/json",
        None,
        push_line(now - 5_000_000_000, "before"),
    )
    .await;
    assert_eq!(status, 204);
    let url = vigil
        .api_url("/loki/api/v1/tail")
        .replacen("http://", "ws://", 1);
    let url = reqwest::Url::parse_with_params(
        &url,
        &[
            ("query", r#"{app="tailed"}"#),
            ("start", &(now - 60_000_000_000).to_string()),
        ],
    )
    .expect("url");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("websocket");
    let mut seen: Vec<String> = Vec::new();
    let mut pushed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("lines arrive in time")
            .expect("open")
            .expect("message");
        let text = msg.into_text().expect("text");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        for s in v["streams"].as_array().expect("streams") {
            assert_eq!(
                s["stream"],
                json!({"app": "tailed", "service_name": "tailed"})
            );
            for e in s["values"].as_array().unwrap() {
                seen.push(e[1].as_str().unwrap().to_string());
            }
        }
        if !pushed {
            pushed = true;
            let t = nanos(SystemTime::now());
            for (i, line) in ["live 1", "live 2"].iter().enumerate() {
                let (status, _) = push(
                    &vigil,
                    None,
                    "application/json",
                    None,
                    push_line(t + i as i64, line),
                )
                .await;
                assert_eq!(status, 204);
            }
        }
    }
    assert_eq!(seen, vec!["before", "live 1", "live 2"]);
    // A metric query cannot be tailed.
    let (status, _, text) = loki(
        &vigil,
        None,
        "/loki/api/v1/tail",
        &[(
            "query",
            r#"count_over_time({app="tailed"}[1m])"#.to_string(),
        )],
        false,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("tailing a metric query is not supported"),
        "{text}"
    );
    let (status, _, text) = loki(
        &vigil,
        None,
        "/loki/api/v1/tail",
        &[("query", r#"{app="tailed"}"#.to_string())],
        false,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("the tail API is a WebSocket"), "{text}");
}
