//! Tenants are isolated on every read path: random metrics (with exemplars) for several tenants,
//! through OTLP/HTTP and remote_write, and every PromQL API (`query`, `query_range`, `series`,
//! `labels`, `label/<name>/values`, `metadata`, `query_exemplars`) and SQL asked as each tenant:
//! an answer holds exactly that tenant's names and values, never another's.
//!
//! Every name and value written embeds its tenant (`iso_t1_…`), so a leak shows as text; each
//! answer is also compared with the exact set the tenant wrote, so an empty answer fails too.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, Exemplar, Gauge, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::Value;

use crate::harness::Vigil;
use crate::otlp::kv;
use crate::otlp::TENANT_HEADER;
use crate::prometheus_api::encode;

const TENANTS: [&str; 3] = ["t1", "t2", "t3"];

/// A small deterministic generator, seeded per run and printed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// What one tenant wrote.
#[derive(Debug, Default)]
struct Written {
    names: BTreeSet<String>,
    label_names: BTreeSet<String>,
    /// Values of the label `key`.
    keys: BTreeSet<String>,
    /// Series with exemplars (by metric name).
    with_exemplars: BTreeSet<String>,
}

async fn send_otlp(vigil: &Vigil, tenant: &str, metrics: Vec<Metric>) {
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", &format!("iso_{tenant}_svc"))],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let resp = vigil
        .http()
        .post(vigil.otlp_http_url("/v1/metrics"))
        .header("Content-Type", "application/x-protobuf")
        .header(TENANT_HEADER, tenant)
        .body(req.encode_to_vec())
        .send()
        .await
        .expect("POST /v1/metrics");
    assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text().await);
}

async fn send_remote_write(vigil: &Vigil, tenant: &str, req: &WriteRequest) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy");
    let resp = vigil
        .http()
        .post(vigil.api_url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header(TENANT_HEADER, tenant)
        .body(body)
        .send()
        .await
        .expect("POST /api/v1/write");
    assert_eq!(resp.status().as_u16(), 204, "{:?}", resp.text().await);
}

/// Writes random series for `tenant`: some over OTLP (gauges, some points with exemplars), some
/// over remote_write (with an exemplar now and then).
async fn write(vigil: &Vigil, rng: &mut Rng, tenant: &str, now_ms: i64) -> Written {
    let mut w = Written::default();
    w.label_names
        .extend(["__name__", "job", "key"].map(String::from));
    let mut metrics = Vec::new();
    for m in 0..1 + rng.below(4) {
        let name = format!("iso_{tenant}_otlp_{m}");
        let mut points = Vec::new();
        for p in 0..1 + rng.below(3) {
            let key = format!("iso_{tenant}_k{}", rng.below(50));
            w.keys.insert(key.clone());
            let exemplars = if rng.below(2) == 0 {
                w.with_exemplars.insert(name.clone());
                vec![Exemplar {
                    time_unix_nano: (now_ms - 1_000) as u64 * 1_000_000,
                    value: Some(exemplar::Value::AsDouble(p as f64)),
                    trace_id: vec![0x42; 16],
                    span_id: vec![7; 8],
                    filtered_attributes: vec![kv("iso_note", &format!("iso_{tenant}_ex"))],
                }]
            } else {
                vec![]
            };
            points.push(NumberDataPoint {
                attributes: vec![kv("key", &key)],
                time_unix_nano: now_ms as u64 * 1_000_000,
                value: Some(number_data_point::Value::AsDouble(rng.below(1_000) as f64)),
                exemplars,
                ..Default::default()
            });
        }
        metrics.push(Metric {
            name: name.clone(),
            description: format!("iso_{tenant}_help"),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: points,
            })),
            ..Default::default()
        });
        w.names.insert(name);
    }
    // OTLP adds `job` from the service name (a resource of only that has no `target_info`).
    send_otlp(vigil, tenant, metrics).await;

    let mut series = Vec::new();
    for s in 0..1 + rng.below(4) {
        let name = format!("iso_{tenant}_rw_{s}");
        let key = format!("iso_{tenant}_k{}", rng.below(50));
        w.keys.insert(key.clone());
        let exemplars = if rng.below(2) == 0 {
            w.with_exemplars.insert(name.clone());
            vec![ingest::remote_write::Exemplar {
                labels: vec![Label {
                    name: "trace_id".into(),
                    value: format!("iso{tenant}"),
                }],
                value: 1.0,
                timestamp: now_ms - 2_000,
            }]
        } else {
            vec![]
        };
        series.push(TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: name.clone(),
                },
                Label {
                    name: "job".into(),
                    value: format!("iso_{tenant}_job"),
                },
                Label {
                    name: "key".into(),
                    value: key,
                },
            ],
            samples: vec![Sample {
                value: 1.0,
                timestamp: now_ms,
            }],
            exemplars,
        });
        w.names.insert(name);
    }
    send_remote_write(
        vigil,
        tenant,
        &WriteRequest {
            timeseries: series,
            metadata: vec![],
        },
    )
    .await;
    w
}

/// `GET` of an API path as `tenant`: the parsed answer, which must be a success.
async fn get_as(vigil: &Vigil, tenant: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let resp = vigil
        .http()
        .get(format!("{}?{}", vigil.api_url(path), encode(params)))
        .header(TENANT_HEADER, tenant)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("json answer");
    assert_eq!(status, 200, "{path} {params:?} as {tenant}: {body}");
    body
}

/// No text of another tenant in `answer`.
fn assert_own(tenant: &str, what: &str, answer: &Value) {
    let text = answer.to_string();
    for other in TENANTS.iter().filter(|t| **t != tenant) {
        assert!(
            !text.contains(&format!("iso_{other}_")) && !text.contains(&format!("iso{other}")),
            "{what} as {tenant} shows data of {other}: {text}"
        );
    }
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_path_answers_each_tenant_with_its_own_data_only() {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let seed = std::env::var("VIGIL_E2E_TENANCY_SEED").map_or(seed, |s| s.parse().expect("u64"));
    eprintln!("tenancy test seed: VIGIL_E2E_TENANCY_SEED={seed}");
    let mut rng = Rng(seed);
    let vigil = Vigil::start().await;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let at = format!("{:.3}", now_ms as f64 / 1000.0);
    let (start, end) = (
        format!("{:.3}", (now_ms - 600_000) as f64 / 1000.0),
        format!("{:.3}", (now_ms + 60_000) as f64 / 1000.0),
    );
    let mut written = Vec::new();
    for tenant in TENANTS {
        written.push(write(&vigil, &mut rng, tenant, now_ms).await);
    }
    // Half the rounds read from segments, half from the heads.
    if rng.below(2) == 0 {
        vigil.flush().await;
    }

    let all = "{__name__=~\".+\"}";
    for (tenant, w) in TENANTS.iter().zip(&written) {
        let instant = get_as(
            &vigil,
            tenant,
            "/api/v1/query",
            &[("query", all), ("time", &at)],
        )
        .await;
        assert_own(tenant, "query", &instant);
        let names: BTreeSet<String> = instant["data"]["result"]
            .as_array()
            .expect("vector")
            .iter()
            .map(|s| s["metric"]["__name__"].as_str().expect("name").to_string())
            .collect();
        assert_eq!(names, w.names, "query as {tenant}");

        let range = get_as(
            &vigil,
            tenant,
            "/api/v1/query_range",
            &[
                ("query", all),
                ("start", &start),
                ("end", &end),
                ("step", "60"),
            ],
        )
        .await;
        assert_own(tenant, "query_range", &range);
        assert!(!range["data"]["result"]
            .as_array()
            .expect("matrix")
            .is_empty());

        let series = get_as(&vigil, tenant, "/api/v1/series", &[("match[]", all)]).await;
        assert_own(tenant, "series", &series);
        let names: BTreeSet<String> = series["data"]
            .as_array()
            .expect("series")
            .iter()
            .map(|s| s["__name__"].as_str().expect("name").to_string())
            .collect();
        assert_eq!(names, w.names, "series as {tenant}");

        let labels = get_as(&vigil, tenant, "/api/v1/labels", &[]).await;
        assert_own(tenant, "labels", &labels);
        assert!(
            strings(&labels["data"]).is_superset(&w.label_names),
            "{labels}"
        );

        let values = get_as(&vigil, tenant, "/api/v1/label/__name__/values", &[]).await;
        assert_own(tenant, "label values", &values);
        assert_eq!(
            strings(&values["data"]),
            w.names,
            "__name__ values as {tenant}"
        );
        let keys = get_as(&vigil, tenant, "/api/v1/label/key/values", &[]).await;
        assert_own(tenant, "label values", &keys);
        assert_eq!(strings(&keys["data"]), w.keys, "key values as {tenant}");

        let metadata = get_as(&vigil, tenant, "/api/v1/metadata", &[]).await;
        assert_own(tenant, "metadata", &metadata);
        let families: BTreeSet<String> = metadata["data"]
            .as_object()
            .expect("metadata")
            .keys()
            .cloned()
            .collect();
        assert_eq!(families, w.names, "metadata as {tenant}");

        let exemplars = get_as(
            &vigil,
            tenant,
            "/api/v1/query_exemplars",
            &[("query", all), ("start", &start), ("end", &end)],
        )
        .await;
        assert_own(tenant, "query_exemplars", &exemplars);
        let with: BTreeSet<String> = exemplars["data"]
            .as_array()
            .expect("exemplars")
            .iter()
            .map(|s| {
                s["seriesLabels"]["__name__"]
                    .as_str()
                    .expect("name")
                    .to_string()
            })
            .collect();
        assert_eq!(with, w.with_exemplars, "query_exemplars as {tenant}");

        let rows = vigil
            .sql_as(
                Some(tenant),
                "SELECT s.metric_name, s.labels, p.value FROM samples p \
                 JOIN series s ON p.series_id = s.series_id",
            )
            .await;
        let rows = Value::Array(rows.into_iter().map(Value::Object).collect());
        assert_own(tenant, "sql", &rows);
        let names: BTreeSet<String> = rows
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["metric_name"].as_str().expect("name").to_string())
            .collect();
        assert_eq!(names, w.names, "sql as {tenant}");
    }
    // The default tenant wrote nothing and sees nothing.
    let nothing = get_as(&vigil, "default", "/api/v1/label/__name__/values", &[]).await;
    assert_eq!(nothing["data"], Value::Array(vec![]), "{nothing}");
}
