//! Grafana's Loki data source, replayed request by request.

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::harness::{nanos, Vigil};
use crate::loki::push;

/// The requests Grafana's Loki data source makes, in order, with its parameters and headers:
/// "Save & test", the label browser, a logs panel (categorized, backward, with its log volume
/// query) and a metric panel; each answers 200 in the shape Grafana decodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafanas_loki_data_source_requests_are_answered() {
    let vigil = Vigil::start().await;
    let now = nanos(SystemTime::now());
    let values: Vec<Value> = (0..20)
        .map(|i| {
            json!([
                (now - 60_000_000_000 + i * 1_000_000_000).to_string(),
                format!(
                    "level={} path=/p/{i}",
                    if i % 4 == 0 { "error" } else { "info" }
                )
            ])
        })
        .collect();
    let body =
        json!({"streams": [{"stream": {"app": "shop", "namespace": "prod"}, "values": values}]});
    let (status, text) = push(
        &vigil,
        None,
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let start = (now - 3_600_000_000_000).to_string();
    let end = (now + 1_000_000_000).to_string();
    let get = |path: &str, params: Vec<(&'static str, String)>, categorize: bool| {
        let vigil = &vigil;
        let path = path.to_string();
        async move {
            let url = reqwest::Url::parse_with_params(&vigil.api_url(&path), &params).expect("url");
            let mut req = vigil
                .http()
                .get(url)
                .header("X-Query-Tags", "Source=grafana");
            if categorize {
                req = req.header("X-Loki-Response-Encoding-Flags", "categorize-labels");
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            assert_eq!(status, 200, "{path}: {text}");
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
        }
    };
    // "Save & test": the health check's query, then the labels it lists.
    let health = get(
        "/loki/api/v1/query",
        vec![
            ("query", "vector(1)+vector(1)".into()),
            ("time", end.clone()),
        ],
        false,
    )
    .await;
    assert_eq!(health["data"]["result"][0]["value"][1], "2");
    let labels = get(
        "/loki/api/v1/labels",
        vec![("start", start.clone()), ("end", end.clone())],
        false,
    )
    .await;
    assert!(labels["data"]
        .as_array()
        .unwrap()
        .contains(&json!("namespace")));
    // The label browser.
    let values = get(
        "/loki/api/v1/label/app/values",
        vec![
            ("start", start.clone()),
            ("end", end.clone()),
            ("query", r#"{namespace="prod"}"#.into()),
        ],
        false,
    )
    .await;
    assert_eq!(values["data"], json!(["shop"]));
    let series = get(
        "/loki/api/v1/series",
        vec![
            ("match[]", r#"{namespace="prod"}"#.into()),
            ("start", start.clone()),
            ("end", end.clone()),
        ],
        false,
    )
    .await;
    assert_eq!(series["data"][0]["app"], "shop");
    let stats = get(
        "/loki/api/v1/index/stats",
        vec![
            ("query", r#"{namespace="prod"}"#.into()),
            ("start", start.clone()),
            ("end", end.clone()),
        ],
        false,
    )
    .await;
    assert_eq!(stats["entries"], 20);
    // A logs panel: backward, limit 1000, categorized labels, Grafana's step.
    let logs = get(
        "/loki/api/v1/query_range",
        vec![
            ("direction", "backward".into()),
            ("end", end.clone()),
            ("limit", "1000".into()),
            ("query", r#"{app="shop"} |= `error`"#.into()),
            ("start", start.clone()),
            ("step", "2000ms".into()),
        ],
        true,
    )
    .await;
    assert_eq!(logs["data"]["encodingFlags"], json!(["categorize-labels"]));
    let v = &logs["data"]["result"][0]["values"];
    assert_eq!(v.as_array().map(Vec::len), Some(5));
    assert_eq!(
        v[0][2],
        json!({}),
        "no structured metadata: an empty object"
    );
    // Its log volume query.
    let volume = get("/loki/api/v1/query_range", vec![
        ("direction", "backward".into()), ("end", end.clone()), ("limit", "1000".into()),
        ("query", r#"sum by (level, detected_level) (count_over_time({app="shop"} |= `error` | drop __error__[1m]))"#.into()),
        ("start", start.clone()), ("step", "60000ms".into()),
    ], false).await;
    assert_eq!(volume["data"]["resultType"], "matrix");
    let total: f64 = volume["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().iter())
        .map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 5.0);
    // A metric panel.
    let metric = get(
        "/loki/api/v1/query_range",
        vec![
            (
                "query",
                r#"sum by (level) (rate({app="shop"} | logfmt [5m]))"#.into(),
            ),
            ("start", start.clone()),
            ("end", end.clone()),
            ("step", "60".into()),
        ],
        false,
    )
    .await;
    let levels: Vec<&str> = metric["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metric"]["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, vec!["error", "info"]);
}
