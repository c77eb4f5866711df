//! What Grafana's Tempo data source asks, in the order it asks it: "Save & test", the search
//! builder's tag names and values, a TraceQL search, the trace view, the metrics tab; then the
//! same through Tempo's streaming gRPC service on the HTTP port, as Grafana calls it with
//! streaming on. Messages are decoded with this file's own copies of Tempo's protobuf types.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use serde_json::Value;

use crate::harness::{base_time, nanos, Vigil};
use crate::tempo::{get, numbered_trace};

#[derive(Clone, PartialEq, prost::Message)]
struct SearchRequest {
    #[prost(map = "string, string", tag = "1")]
    tags: HashMap<String, String>,
    #[prost(uint32, tag = "4")]
    limit: u32,
    #[prost(uint32, tag = "5")]
    start: u32,
    #[prost(uint32, tag = "6")]
    end: u32,
    #[prost(string, tag = "8")]
    query: String,
    #[prost(uint32, tag = "9")]
    spans_per_span_set: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SearchResponse {
    #[prost(message, repeated, tag = "1")]
    traces: Vec<TraceSearchMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TraceSearchMetadata {
    #[prost(string, tag = "1")]
    trace_id: String,
    #[prost(string, tag = "2")]
    root_service_name: String,
    #[prost(message, repeated, tag = "7")]
    span_sets: Vec<SpanSet>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SpanSet {
    #[prost(uint32, tag = "2")]
    matched: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SearchTagsRequest {
    #[prost(string, tag = "1")]
    scope: String,
    #[prost(uint32, tag = "3")]
    start: u32,
    #[prost(uint32, tag = "4")]
    end: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SearchTagsV2Response {
    #[prost(message, repeated, tag = "1")]
    scopes: Vec<Scope>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Scope {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, repeated, tag = "2")]
    tags: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct QueryRangeRequest {
    #[prost(string, tag = "1")]
    query: String,
    #[prost(uint64, tag = "2")]
    start: u64,
    #[prost(uint64, tag = "3")]
    end: u64,
    #[prost(uint64, tag = "4")]
    step: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct QueryRangeResponse {
    #[prost(message, repeated, tag = "1")]
    series: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp_ms: i64,
}

/// Tempo's `TraceByIDResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
}

/// Calls `method` of `tempopb.StreamingQuerier` and collects the streamed messages.
async fn stream<Req, Resp>(
    vigil: &Vigil,
    tenant: Option<&str>,
    method: &str,
    message: Req,
) -> Result<Vec<Resp>, tonic::Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    let channel = tonic::transport::Channel::from_shared(vigil.api_url(""))
        .expect("uri")
        .connect()
        .await
        .expect("connect to the HTTP port over h2c");
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.expect("ready");
    let mut request = tonic::Request::new(message);
    if let Some(t) = tenant {
        request
            .metadata_mut()
            .insert("x-scope-orgid", t.parse().expect("metadata"));
    }
    let path = format!("/tempopb.StreamingQuerier/{method}")
        .parse()
        .expect("path");
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    let mut stream = client
        .server_streaming(request, path, codec)
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = stream.message().await? {
        out.push(m);
    }
    Ok(out)
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn json(vigil: &Vigil, path: &str, pairs: &[(&str, &str)]) -> Value {
    let (status, body) = get(
        vigil,
        &format!("{path}?{}", query_string(pairs)),
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafanas_tempo_requests_are_answered_over_http_and_streaming_grpc() {
    let vigil = Vigil::start().await;
    let t0 = u64::try_from(nanos(base_time())).expect("positive");
    let req = ExportTraceServiceRequest {
        resource_spans: (0..120u16)
            .map(|k| numbered_trace(k, t0 - u64::from(k) * 10_000_000_000))
            .collect(),
    };
    vigil.export_traces(&req, None).await;
    let secs = t0 / 1_000_000_000;
    let (start, end) = ((secs - 1800).to_string(), (secs + 1).to_string());
    let range = [("start", start.as_str()), ("end", end.as_str())];

    // "Save & test".
    let (status, body) = get(&vigil, "/api/echo", "*/*", None).await;
    assert_eq!((status, body.as_slice()), (200, b"echo".as_slice()));
    let info = json(&vigil, "/api/status/buildinfo", &[]).await;
    assert!(
        info["version"].as_str().is_some_and(|v| v.starts_with('2')),
        "{info}"
    );
    // The search builder: every scope's tag names in one call, then a tag's values filtered
    // by the rest of the query.
    let tags = json(
        &vigil,
        "/api/v2/search/tags",
        &[("limit", "5000"), range[0], range[1]],
    )
    .await;
    let scopes: Vec<&str> = tags["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(scopes, ["resource", "span", "intrinsic"]);
    let values = json(
        &vigil,
        "/api/v2/search/tag/resource.service.name/values",
        &[
            ("q", "{ name = \"a\" }"),
            ("limit", "1000"),
            range[0],
            range[1],
        ],
    )
    .await;
    let mut services: Vec<&str> = values["tagValues"]
        .as_array()
        .expect("tagValues")
        .iter()
        .map(|v| v["value"].as_str().expect("value"))
        .collect();
    services.sort_unstable();
    // Traces 0, 50, 100 have a span named `a`: services svc0, svc2, svc1.
    assert_eq!(services, ["svc0", "svc1", "svc2"]);
    // The TraceQL search.
    let q = "{ resource.service.name = \"svc1\" && name = \"a\" }";
    let found = json(
        &vigil,
        "/api/search",
        &[("q", q), ("limit", "20"), ("spss", "3"), range[0], range[1]],
    )
    .await;
    let ids: Vec<&str> = found["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| t["traceID"].as_str().expect("traceID"))
        .collect();
    assert_eq!(ids.len(), 1, "{found}");
    assert!(ids[0].ends_with("0064"), "trace 100: {found}");
    // The trace view: v2 in protobuf (v1 when v2 answers 404).
    let (status, body) = get(
        &vigil,
        &format!("/api/v2/traces/{}", ids[0]),
        "application/protobuf",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let trace = TraceByIdResponse::decode(body.as_slice())
        .expect("TraceByIDResponse")
        .trace
        .expect("a trace");
    let names: Vec<&str> = trace
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // The metrics tab.
    let metrics = json(
        &vigil,
        "/api/metrics/query_range",
        &[
            (
                "q",
                "{ status = error } | rate() by (resource.service.name)",
            ),
            ("step", "60"),
            range[0],
            range[1],
        ],
    )
    .await;
    assert_eq!(
        metrics["series"].as_array().map(Vec::len),
        Some(3),
        "{metrics}"
    );

    // The same with streaming on: gRPC on the HTTP port.
    let grpc_search = SearchRequest {
        tags: HashMap::new(),
        limit: 20,
        start: u32::try_from(secs - 1800).expect("fits"),
        end: u32::try_from(secs + 1).expect("fits"),
        query: q.to_string(),
        spans_per_span_set: 3,
    };
    let answers: Vec<SearchResponse> = stream(&vigil, None, "Search", grpc_search.clone())
        .await
        .expect("Search");
    let last = answers.last().expect("one message at least");
    let grpc_ids: Vec<&str> = last.traces.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(grpc_ids, ids);
    assert_eq!(last.traces[0].root_service_name, "svc1");
    assert_eq!(last.traces[0].span_sets[0].matched, 1);
    // Another tenant sees nothing.
    let other: Vec<SearchResponse> = stream(&vigil, Some("other"), "Search", grpc_search.clone())
        .await
        .expect("Search");
    assert!(other.iter().all(|m| m.traces.is_empty()));
    let tags: Vec<SearchTagsV2Response> = stream(
        &vigil,
        None,
        "SearchTagsV2",
        SearchTagsRequest {
            scope: String::new(),
            start: grpc_search.start,
            end: grpc_search.end,
        },
    )
    .await
    .expect("SearchTagsV2");
    let resource = tags[0]
        .scopes
        .iter()
        .find(|s| s.name == "resource")
        .expect("resource scope");
    assert_eq!(resource.tags, ["service.name"]);
    let range_answer: Vec<QueryRangeResponse> = stream(
        &vigil,
        None,
        "MetricsQueryRange",
        QueryRangeRequest {
            query: "{ } | count_over_time()".into(),
            start: (secs - 1800) * 1_000_000_000,
            end: (secs + 1) * 1_000_000_000,
            step: 60_000_000_000,
        },
    )
    .await
    .expect("MetricsQueryRange");
    let total: f64 = range_answer[0].series[0]
        .samples
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 360.0, "every span counted once");
    // A query that does not parse is the caller's error.
    let bad = stream::<_, SearchResponse>(
        &vigil,
        None,
        "Search",
        SearchRequest {
            query: "{ .a = }".into(),
            ..grpc_search
        },
    )
    .await
    .expect_err("a bad query fails");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad}");
}

/// Alerting and recording rules in TraceQL metrics: told apart from PromQL and LogQL by
/// parsing (or named with `language: traceql`), evaluated as instant queries over the five
/// minutes before each evaluation; labels as Prometheus names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceql_rules_alert_and_record() {
    use std::time::Duration;

    use crate::harness::poll;

    let dir = tempfile::tempdir().expect("temporary directory");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        r#"groups:
  - name: traces
    interval: 1s
    rules:
      - alert: ServiceFailing
        expr: '{ status = error } | count_over_time() by (resource.service.name) > 30'
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.resource_service_name }} failed {{ $value }} times"
      - record: service:spans:count5m
        language: traceql
        expr: '{ } | count_over_time() by (resource.service.name)'
"#,
    )
    .expect("rules");
    let vigil = Vigil::start_with(&[
        ("VIGIL_RULE_FILES", rules.to_str().expect("utf-8")),
        ("VIGIL_EVALUATION_INTERVAL", "1s"),
    ])
    .await;
    // 120 traces over the two minutes before the last five seconds, 40 per service, each with
    // one failed span. (A rule evaluation counts up to its scheduled time, which may lie a
    // moment before the export: spans stamped "now" were once missed that way.)
    let now = u64::try_from(nanos(std::time::SystemTime::now())).expect("positive");
    let req = ExportTraceServiceRequest {
        resource_spans: (0..120u16)
            .map(|k| numbered_trace(k, now - (5 + u64::from(k)) * 1_000_000_000))
            .collect(),
    };
    vigil.export_traces(&req, None).await;

    let alerts = poll(
        "the TraceQL alerts fire",
        Duration::from_secs(30),
        || async {
            let (_, body) = vigil.get("/api/v1/alerts").await;
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            match v["data"]["alerts"].as_array() {
                Some(a) if a.len() == 3 && a.iter().all(|x| x["state"] == "firing") => {
                    Ok(a.clone())
                }
                _ => Err(body),
            }
        },
    )
    .await;
    let mut services: Vec<&str> = alerts
        .iter()
        .map(|a| {
            a["labels"]["resource_service_name"]
                .as_str()
                .expect("label")
        })
        .collect();
    services.sort_unstable();
    assert_eq!(services, ["svc0", "svc1", "svc2"]);
    let summary = alerts[0]["annotations"]["summary"]
        .as_str()
        .expect("summary");
    assert!(summary.ends_with("failed 40 times"), "{summary}");
    let (_, rules_body) = vigil.get("/api/v1/rules").await;
    assert!(
        rules_body.contains(r#""language":"traceql""#),
        "{rules_body}"
    );
    let value = poll(
        "the recorded series is queryable",
        Duration::from_secs(30),
        || async {
            let (_, body) = vigil
                .get("/api/v1/query?query=service:spans:count5m%7Bresource_service_name%3D%22svc1%22%7D")
                .await;
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            match v["data"]["result"].as_array().and_then(|r| r.first()) {
                Some(s) => Ok(s["value"][1].as_str().unwrap_or("").to_string()),
                None => Err(body),
            }
        },
    )
    .await;
    assert_eq!(value, "120");
}
