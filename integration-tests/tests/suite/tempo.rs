//! The Tempo API: a trace sent over OTLP comes back from `/api/traces/<id>` and
//! `/api/v2/traces/<id>` (protobuf and JSON) with every field it was sent with, before and after
//! a flush; not found, bad ids and other tenants answer as Tempo does. TraceQL search over
//! `/api/search` finds it by typed attributes, structure and aggregates.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use prost::Message;
use serde_json::{json, Value};

use crate::harness::{base_time, nanos, Vigil};

const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];

/// Tempo's `TraceByIDResponse`, as Grafana decodes it.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
    #[prost(bytes = "vec", tag = "2")]
    metrics: Vec<u8>,
}

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(text: &str) -> V {
    V::StringValue(text.into())
}

/// Attributes of every OTLP type.
fn every_type() -> Vec<KeyValue> {
    vec![
        kv("http.request.method", s("POST")),
        kv("http.response.status_code", V::IntValue(502)),
        kv("cache.hit", V::BoolValue(false)),
        kv("sample.ratio", V::DoubleValue(0.25)),
        kv("retry.delay", V::DoubleValue(2.0)),
        kv("huge", V::IntValue(i64::MIN)),
        kv("payload", V::BytesValue(vec![0, 1, 2, 0xff])),
        kv("numeric.text", s("200")),
        kv(
            "tags",
            V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(s("a")),
                    },
                    AnyValue {
                        value: Some(V::IntValue(443)),
                    },
                    AnyValue {
                        value: Some(V::BoolValue(true)),
                    },
                ],
            }),
        ),
        kv(
            "nested",
            V::KvlistValue(KeyValueList {
                values: vec![kv("inner", s("x")), kv("n", V::IntValue(7))],
            }),
        ),
    ]
}

fn span(id: u8, parent: Option<u8>, name: &str, start: u64, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        trace_state: if parent.is_none() {
            "vendor=v1".into()
        } else {
            String::new()
        },
        parent_span_id: parent.map_or_else(Vec::new, |p| vec![0, 0, 0, 0, 0, 0, 0, p]),
        flags: 0x101,
        name: name.into(),
        kind: i32::from(id % 5) + 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000 * u64::from(id),
        attributes: attrs,
        dropped_attributes_count: u32::from(id),
        events: vec![Event {
            time_unix_nano: start + 10,
            name: format!("event of {name}"),
            attributes: vec![kv("attempt", V::IntValue(2)), kv("why", s("retry"))],
            dropped_attributes_count: 1,
        }],
        dropped_events_count: 3,
        links: vec![Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            trace_state: "k=v".into(),
            attributes: vec![kv("link.weight", V::DoubleValue(-0.5))],
            dropped_attributes_count: 0,
            flags: 0x301,
        }],
        dropped_links_count: 4,
        status: Some(Status {
            message: if id == 1 {
                "payment declined".into()
            } else {
                String::new()
            },
            code: if id == 1 { 2 } else { 1 },
        }),
    }
}

/// Two resources, the first with two scopes; every field set.
fn request(t0: u64) -> ExportTraceServiceRequest {
    let resource = |service: &str| Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("host.cpus", V::IntValue(8)),
        ],
        dropped_attributes_count: 2,
        entity_refs: Vec::new(),
    };
    let scope = |name: &str| InstrumentationScope {
        name: name.into(),
        version: "1.2.3".into(),
        attributes: vec![kv("scope.flag", V::BoolValue(true))],
        dropped_attributes_count: 1,
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(resource("checkout")),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(scope("http")),
                        spans: vec![span(1, None, "POST /checkout", t0, every_type())],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    ScopeSpans {
                        scope: Some(scope("db")),
                        spans: vec![span(2, Some(1), "SELECT cart", t0 + 100, Vec::new())],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
            },
            ResourceSpans {
                resource: Some(resource("payments")),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope("grpc")),
                    spans: vec![
                        span(
                            3,
                            Some(1),
                            "charge",
                            t0 + 200,
                            vec![kv("amount", V::DoubleValue(9.99))],
                        ),
                        span(4, Some(3), "fraud check", t0 + 300, Vec::new()),
                    ],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

/// The resource spans in a canonical order: by service, scope name and span start.
fn canonical(mut rs: Vec<ResourceSpans>) -> Vec<ResourceSpans> {
    let service = |r: &ResourceSpans| format!("{:?}", r.resource);
    rs.sort_by_key(service);
    for r in &mut rs {
        r.scope_spans
            .sort_by(|a, b| format!("{:?}", a.scope).cmp(&format!("{:?}", b.scope)));
        for s in &mut r.scope_spans {
            s.spans.sort_by_key(|s| s.start_time_unix_nano);
        }
    }
    rs
}

pub(crate) async fn get(
    vigil: &Vigil,
    path: &str,
    accept: &str,
    tenant: Option<&str>,
) -> (u16, Vec<u8>) {
    let mut req = vigil
        .http()
        .get(vigil.api_url(path))
        .header("Accept", accept);
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

async fn check_round_trip(vigil: &Vigil, sent: &ExportTraceServiceRequest, hex: &str) {
    let want = canonical(sent.resource_spans.clone());
    let (status, body) = get(
        vigil,
        &format!("/api/traces/{hex}"),
        "application/protobuf",
        None,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v1 = TracesData::decode(&body[..]).expect("tempopb.Trace");
    assert_eq!(canonical(v1.resource_spans), want);

    let (status, body) = get(
        vigil,
        &format!("/api/v2/traces/{hex}"),
        "application/protobuf",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let v2 = TraceByIdResponse::decode(&body[..]).expect("tempopb.TraceByIDResponse");
    assert_eq!(canonical(v2.trace.expect("trace").resource_spans), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_comes_back_from_the_tempo_api_with_every_field() {
    let vigil = Vigil::start().await;
    let t0 = u64::try_from(nanos(base_time())).expect("positive");
    let sent = request(t0);
    vigil.export_traces(&sent, None).await;
    let hex: String = TRACE.iter().map(|b| format!("{b:02x}")).collect();

    check_round_trip(&vigil, &sent, &hex).await;
    // Leading zeros may be left out, as Tempo allows; a time range narrows nothing away.
    let start = t0 / 1_000_000_000;
    let (status, _) = get(
        &vigil,
        &format!("/api/traces/{hex}?start={}&end={}", start - 60, start + 60),
        "application/protobuf",
        None,
    )
    .await;
    assert_eq!(status, 200);

    // JSON as Tempo writes it: v1 under `batches`, v2 under `trace.resourceSpans`; ids in
    // base64, 64-bit integers as strings, enums by name.
    let (status, body) = get(
        &vigil,
        &format!("/api/traces/{hex}"),
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let v1: Value = serde_json::from_slice(&body).expect("json");
    let batches = v1["batches"].as_array().expect("batches");
    assert_eq!(batches.len(), 2, "{v1}");
    let all_spans: Vec<&Value> = batches
        .iter()
        .flat_map(|b| b["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|s| s["spans"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(all_spans.len(), 4);
    let root = all_spans
        .iter()
        .find(|s| s["name"] == "POST /checkout")
        .expect("root span");
    assert_eq!(root["traceId"], json!("W47/95gDgQPSabYzgT/GDA=="));
    assert_eq!(root["kind"], json!("SPAN_KIND_SERVER"));
    assert_eq!(root["startTimeUnixNano"], json!(t0.to_string()));
    assert_eq!(
        root["status"],
        json!({"message": "payment declined", "code": "STATUS_CODE_ERROR"})
    );
    let attr = |k: &str| {
        root["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == k))
            .map(|kv| kv["value"].clone())
    };
    assert_eq!(
        attr("http.response.status_code"),
        Some(json!({"intValue": "502"}))
    );
    assert_eq!(attr("numeric.text"), Some(json!({"stringValue": "200"})));
    assert_eq!(attr("cache.hit"), Some(json!({"boolValue": false})));
    assert_eq!(attr("payload"), Some(json!({"bytesValue": "AAEC/w=="})));
    let (status, body) = get(
        &vigil,
        &format!("/api/v2/traces/{hex}"),
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let v2: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v2["trace"]["resourceSpans"], v1["batches"]);

    // Not found: 404 on v1, no trace on v2; another tenant sees nothing.
    let other = "00000000000000000000000000000abc";
    let (status, body) = get(
        &vigil,
        &format!("/api/traces/{other}"),
        "application/protobuf",
        None,
    )
    .await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).trim()),
        (404, "trace not found")
    );
    let (status, body) = get(&vigil, "/api/v2/traces/abc", "application/protobuf", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        TraceByIdResponse::decode(&body[..]).expect("decode").trace,
        None
    );
    let (status, body) = get(
        &vigil,
        &format!("/api/v2/traces/{hex}"),
        "application/json",
        Some("other"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body)
            .expect("json")
            .get("trace"),
        None
    );
    let (status, _) = get(
        &vigil,
        &format!("/api/traces/{hex}"),
        "application/json",
        Some("other"),
    )
    .await;
    assert_eq!(status, 404);
    // A bad id is the client's error.
    for bad in ["xyz", "0123456789abcdef0123456789abcdef0"] {
        let (status, body) = get(
            &vigil,
            &format!("/api/traces/{bad}"),
            "application/json",
            None,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
    }
    let (status, body) = get(&vigil, "/api/echo", "*/*", None).await;
    assert_eq!((status, &body[..]), (200, &b"echo"[..]));

    // The same from segments.
    vigil.flush().await;
    check_round_trip(&vigil, &sent, &hex).await;
}

async fn search(vigil: &Vigil, q: &str, window: (u64, u64)) -> (u16, Value) {
    let q: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let path = format!("/api/search?q={q}&start={}&end={}", window.0, window.1);
    let resp = vigil
        .http()
        .get(vigil.api_url(&path))
        .send()
        .await
        .expect("search");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The names of the spans of the first spanset of the only trace found, and how many matched.
fn matched(body: &Value) -> (Vec<String>, u64) {
    let traces = body["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 1, "{body}");
    let set = &traces[0]["spanSet"];
    let names = set["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_string())
        .collect();
    (names, set["matched"].as_u64().expect("matched"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceql_search_finds_traces_by_typed_attributes_structure_and_aggregates() {
    let vigil = Vigil::start().await;
    let t0 = u64::try_from(nanos(base_time())).expect("positive");
    let resp = vigil
        .http()
        .post(vigil.otlp_http_url("/v1/traces"))
        .header("Content-Type", "application/x-protobuf")
        .body(request(t0).encode_to_vec())
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status().as_u16(), 200);
    let secs = t0 / 1_000_000_000;
    let window = (secs - 60, secs + 60);

    let (status, body) = search(
        &vigil,
        r#"{ resource.service.name = "payments" && status = ok }"#,
        window,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let trace = &body["traces"][0];
    assert_eq!(trace["traceID"], json!("5b8efff798038103d269b633813fc60c"));
    assert_eq!(trace["rootServiceName"], json!("checkout"));
    assert_eq!(trace["rootTraceName"], json!("POST /checkout"));
    assert_eq!(trace["startTimeUnixNano"], json!(t0.to_string()));
    assert_eq!(
        matched(&body),
        (vec!["charge".into(), "fraud check".into()], 2)
    );

    // Attribute types count: 502 is an int, "200" a string.
    let (_, body) = search(&vigil, "{ span.http.response.status_code = 502 }", window).await;
    assert_eq!(matched(&body), (vec!["POST /checkout".into()], 1));
    for q in [
        r#"{ span.http.response.status_code = "502" }"#,
        "{ .numeric.text = 200 }",
    ] {
        let (status, body) = search(&vigil, q, window).await;
        assert_eq!(status, 200);
        assert_eq!(body["traces"], json!([]), "{q}: {body}");
    }
    // Structure: descendants of the root named "fraud check".
    let (_, body) = search(
        &vigil,
        r#"{ name = "POST /checkout" } >> { name = "fraud check" }"#,
        window,
    )
    .await;
    assert_eq!(matched(&body), (vec!["fraud check".into()], 1));
    // Aggregates: four spans, three shown (spss).
    let (_, body) = search(&vigil, "{ } | count() > 3", window).await;
    let (names, n) = matched(&body);
    assert_eq!((names.len(), n), (3, 4), "{body}");
    let (_, body) = search(&vigil, "{ } | count() > 4", window).await;
    assert_eq!(body["traces"], json!([]));
    // Outside the window: nothing.
    let (_, body) = search(&vigil, "{ }", (secs - 7200, secs - 3600)).await;
    assert_eq!(body["traces"], json!([]));
    // A query that does not parse is the client's error, with TraceQL's message.
    let (status, body) = search(&vigil, "{ .a = }", window).await;
    assert_eq!(status, 400, "{body}");

    check_tags(&vigil, window).await;
}

async fn get_json(vigil: &Vigil, path: &str) -> Value {
    let (status, body) = get(vigil, path, "application/json", None).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

/// The strings of a JSON array, sorted.
fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
        .collect();
    out.sort();
    out
}

/// Tag names by scope and typed tag values, as Grafana's search builder asks for them.
async fn check_tags(vigil: &Vigil, (start, end): (u64, u64)) {
    let range = format!("start={start}&end={end}");
    let v2 = get_json(vigil, &format!("/api/v2/search/tags?{range}")).await;
    let scope = |name: &str| {
        v2["scopes"]
            .as_array()
            .expect("scopes")
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| sorted(&s["tags"]))
            .unwrap_or_else(|| panic!("no {name} scope: {v2}"))
    };
    assert_eq!(scope("resource"), ["host.cpus", "service.name"]);
    let span = scope("span");
    for k in ["http.response.status_code", "amount", "tags", "nested"] {
        assert!(span.contains(&k.to_string()), "{k} in {span:?}");
    }
    assert!(!span.contains(&"service.name".to_string()), "{span:?}");
    assert!(scope("intrinsic").contains(&"status".to_string()));
    let only = get_json(
        vigil,
        &format!("/api/v2/search/tags?scope=resource&{range}"),
    )
    .await;
    assert_eq!(only["scopes"].as_array().map(Vec::len), Some(1), "{only}");
    let v1 = get_json(vigil, &format!("/api/search/tags?{range}")).await;
    let names = sorted(&v1["tagNames"]);
    assert!(names.contains(&"service.name".to_string()) && names.contains(&"amount".to_string()));

    let values = |v: &Value| {
        let mut out: Vec<(String, String)> = v["tagValues"]
            .as_array()
            .expect("tagValues")
            .iter()
            .map(|t| {
                (
                    t["type"].as_str().expect("type").to_string(),
                    t["value"].as_str().expect("value").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let pair = |t: &str, v: &str| (t.to_string(), v.to_string());
    let services = get_json(
        vigil,
        &format!("/api/v2/search/tag/resource.service.name/values?{range}"),
    )
    .await;
    assert_eq!(
        values(&services),
        [pair("string", "checkout"), pair("string", "payments")]
    );
    let codes = get_json(
        vigil,
        &format!("/api/v2/search/tag/span.http.response.status_code/values?{range}"),
    )
    .await;
    assert_eq!(values(&codes), [pair("int", "502")]);
    let statuses = get_json(vigil, &format!("/api/v2/search/tag/status/values?{range}")).await;
    assert_eq!(
        values(&statuses),
        [pair("keyword", "error"), pair("keyword", "ok")]
    );
    // Filtered by a TraceQL query, as the editor's autocomplete asks.
    let names = get_json(
        vigil,
        &format!(
            "/api/v2/search/tag/name/values?{range}&q=%7B%20resource.service.name%20%3D%20%22payments%22%20%7D"
        ),
    )
    .await;
    assert_eq!(
        values(&names),
        [pair("string", "charge"), pair("string", "fraud check")]
    );
    let v1 = get_json(
        vigil,
        &format!("/api/search/tag/service.name/values?{range}"),
    )
    .await;
    assert_eq!(sorted(&v1["tagValues"]), ["checkout", "payments"]);
}

/// Trace `k` of the many-traces tests, starting at `start`: a root in service `svc{k % 3}`
/// lasting `k` ms, a child named `a` (every 50th trace) or `b`, and under it a span that
/// failed.
pub(crate) fn numbered_trace(k: u16, start: u64) -> ResourceSpans {
    let mut trace_id = [0x11u8; 16];
    trace_id[14..].copy_from_slice(&k.to_be_bytes());
    let one = |id: u8, parent: Option<u8>, name: &str, ms: u64, code: i32| Span {
        trace_id: trace_id.to_vec(),
        span_id: vec![1, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent.map_or_else(Vec::new, |p| vec![1, 0, 0, 0, 0, 0, 0, p]),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start + u64::from(id),
        end_time_unix_nano: start + u64::from(id) + ms * 1_000_000,
        status: Some(Status {
            message: String::new(),
            code,
        }),
        ..Span::default()
    };
    let middle = if k.is_multiple_of(50) { "a" } else { "b" };
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s(&format!("svc{}", k % 3)))],
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: None,
            spans: vec![
                one(1, None, "root", u64::from(k), 1),
                one(2, Some(1), middle, 0, 1),
                one(3, Some(2), "leaf", 0, 2),
            ],
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// The trace ids (their last two bytes, as numbers) of a search answer, in its order.
fn numbers(body: &Value) -> Vec<u16> {
    body["traces"]
        .as_array()
        .unwrap_or_else(|| panic!("no traces: {body}"))
        .iter()
        .map(|t| {
            let id = t["traceID"].as_str().expect("traceID");
            u16::from_str_radix(&id[id.len() - 4..], 16).expect("hex")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_page_through_candidates_newest_first_and_tags_search_without_traceql() {
    let vigil = Vigil::start().await;
    let t0 = u64::try_from(nanos(base_time())).expect("positive");
    let req = ExportTraceServiceRequest {
        resource_spans: (0..300)
            .map(|k| numbered_trace(k, t0 + u64::from(k) * 1_000_000))
            .collect(),
    };
    vigil.export_traces(&req, None).await;
    // Three hours before, 48 traces 2.5 min apart: a search over them walks its window back
    // in slices (the newest a 48th of the window, each next twice as wide).
    let t1 = t0 - 3 * 3_600_000_000_000;
    let spread = ExportTraceServiceRequest {
        resource_spans: (0..48u16)
            .map(|i| numbered_trace(1000 + i, t1 + u64::from(i) * 150_000_000_000))
            .collect(),
    };
    vigil.export_traces(&spread, None).await;
    // Six hours before: trace 3000 starts 40 min before the window's end and has a leaf 30 s
    // before it; trace 3001 starts 5 min before the end. Traces rank by their first span, so
    // 3001 is the newest, though 3000 has the newest candidate span.
    let t3 = t0 - 6 * 3_600_000_000_000;
    let mut late_leaf = numbered_trace(3000, t3 - 2_400_000_000_000);
    late_leaf.scope_spans[0].spans[2].start_time_unix_nano = t3 - 30_000_000_000;
    late_leaf.scope_spans[0].spans[2].end_time_unix_nano = t3 - 29_000_000_000;
    let ranked = ExportTraceServiceRequest {
        resource_spans: vec![late_leaf, numbered_trace(3001, t3 - 300_000_000_000)],
    };
    vigil.export_traces(&ranked, None).await;
    // Nine hours before: 100 traces whose failed leaves start at the same nanosecond, more
    // than a page of candidates; only traces 4050 and 4100 have the `a` parent.
    let t4 = t0 - 9 * 3_600_000_000_000;
    let tied = ExportTraceServiceRequest {
        resource_spans: (4001..4101).map(|k| numbered_trace(k, t4)).collect(),
    };
    vigil.export_traces(&tied, None).await;
    let tied_range = format!(
        "start={}&end={}",
        t4 / 1_000_000_000 - 60,
        t4 / 1_000_000_000 + 60
    );
    let ranked_range = format!(
        "start={}&end={}",
        t3 / 1_000_000_000 - 48 * 60,
        t3 / 1_000_000_000
    );
    let secs = t0 / 1_000_000_000;
    let range = format!("start={}&end={}", secs - 60, secs + 60);
    let get_search = |params: String| search_with(&vigil, params, &range);
    let spread_range = format!("start={}&end={}", secs - 3 * 3600 - 60, secs - 3600 + 60);
    let q_a = "q=%7B%20name%20%3D%20%22a%22%20%7D%20%3E%3E%20%7B%20status%20%3D%20error%20%7D";
    let check_spread = || async {
        let svc1: Vec<u16> = (1000..1048u16).rev().filter(|k| k % 3 == 1).collect();
        let q = "q=%7B%20resource.service.name%20%3D%20%22svc1%22%20%7D";
        let (status, body) = search_with(&vigil, format!("{q}&limit=5"), &spread_range).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(numbers(&body), svc1[..5]);
        let (_, body) = search_with(&vigil, format!("{q}&limit=100"), &spread_range).await;
        assert_eq!(numbers(&body), svc1);
        let leaf = "q=%7B%20name%20%3D%20%22leaf%22%20%7D";
        let (_, body) = search_with(&vigil, format!("{leaf}&limit=1"), &ranked_range).await;
        assert_eq!(numbers(&body), [3001]);
        let (_, body) = search_with(&vigil, format!("{leaf}&limit=2"), &ranked_range).await;
        assert_eq!(numbers(&body), [3001, 3000]);
        let (_, body) = search_with(&vigil, format!("{q_a}&limit=2"), &tied_range).await;
        let mut tied_found = numbers(&body);
        tied_found.sort_unstable();
        assert_eq!(tied_found, [4050, 4100]);
    };
    check_spread().await;
    // Every trace has a failed span, one in fifty under `a`: the newest three that match
    // lie behind 150 candidates, more than the first page holds.
    let q = "q=%7B%20name%20%3D%20%22a%22%20%7D%20%3E%3E%20%7B%20status%20%3D%20error%20%7D";
    let (status, body) = get_search(format!("{q}&limit=3")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(numbers(&body), [250, 200, 150]);
    let (_, body) = get_search(format!("{q}&limit=20")).await;
    assert_eq!(numbers(&body), [250, 200, 150, 100, 50, 0]);
    // The same after a flush, from segments and their indexes.
    vigil.flush().await;
    let (_, body) = get_search(format!("{q}&limit=3")).await;
    assert_eq!(numbers(&body), [250, 200, 150]);
    check_spread().await;

    // Tempo's search without TraceQL: tags (logfmt) and trace durations.
    let (status, body) =
        get_search("tags=service.name%3Dsvc1&minDuration=150ms&limit=100".to_string()).await;
    assert_eq!(status, 200, "{body}");
    let found = numbers(&body);
    let want: Vec<u16> = (150..300).rev().filter(|k| k % 3 == 1).collect();
    assert_eq!(found, want);
    let (_, body) = get_search("tags=name%3Da&maxDuration=99ms&limit=100".to_string()).await;
    assert_eq!(numbers(&body), [50, 0]);
    let (status, body) = get_search("minDuration=soon".to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("minDuration"), "{body}");
}

/// `/api/search?<params>&<range>`: the status and the JSON (or text) answered.
async fn search_with(vigil: &Vigil, params: String, range: &str) -> (u16, Value) {
    let (status, body) = get(
        vigil,
        &format!("/api/search?{params}&{range}"),
        "application/json",
        None,
    )
    .await;
    let body = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
    (status, body)
}

/// `path` with `params` (already escaped): the status and the JSON answered.
async fn get_metrics(vigil: &Vigil, path: &str, params: &str) -> (u16, Value) {
    let (status, body) = get(vigil, &format!("{path}?{params}"), "application/json", None).await;
    let body = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
    (status, body)
}

/// A query-string value, percent-encoded.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The string value of label `key` of a series, if it has one.
fn label<'a>(series: &'a Value, key: &str) -> Option<&'a str> {
    series["labels"]
        .as_array()?
        .iter()
        .find(|l| l["key"] == key)?["value"]["stringValue"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceql_metrics_count_what_was_sent_per_step_and_instant() {
    let vigil = Vigil::start().await;
    let t0 = u64::try_from(nanos(base_time())).expect("positive");
    // 120 traces of three spans, one every 30 s over the hour before t0.
    let starts: Vec<u64> = (0..120u16)
        .map(|k| t0 - u64::from(k) * 30_000_000_000)
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: (0..120u16)
            .map(|k| numbered_trace(k, starts[usize::from(k)]))
            .collect(),
    };
    vigil.export_traces(&req, None).await;
    let secs = t0 / 1_000_000_000;
    let range = format!("start={}&end={}", secs - 3600, secs + 1);
    // The failed span of trace k starts 3 ns after the trace.
    let failed_at = |k: usize| i64::try_from(starts[k] + 3).expect("fits");

    for flushed in [false, true] {
        if flushed {
            vigil.flush().await;
        }
        let q = escape("{ status = error } | count_over_time() by (resource.service.name)");
        let (status, body) = get_metrics(
            &vigil,
            "/api/metrics/query_range",
            &format!("q={q}&{range}&step=300"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let series = body["series"].as_array().expect("series");
        assert_eq!(series.len(), 3, "{body}");
        let mut total = 0.0;
        for s in series {
            let service = label(s, "resource.service.name").expect("service label");
            let k_of = |k: &usize| format!("svc{}", k % 3) == service;
            for sample in s["samples"].as_array().expect("samples") {
                let ts: i64 = sample["timestampMs"]
                    .as_str()
                    .expect("ms")
                    .parse()
                    .expect("int");
                let v = sample["value"].as_f64().expect("value");
                // Each point counts the failed spans of its service in (ts - step, ts].
                let want = (0..120)
                    .filter(k_of)
                    .filter(|&k| {
                        let at = failed_at(k);
                        at > (ts - 300_000) * 1_000_000 && at <= ts * 1_000_000
                    })
                    .count();
                assert_eq!(v, want as f64, "{service} at {ts} (flushed: {flushed})");
                total += v;
            }
        }
        assert_eq!(total, 120.0, "{body}");

        // The same counted span by span (a regular expression keeps the query off the SQL
        // aggregate and on the streaming evaluator): the same series.
        let streamed = escape(
            r#"{ status = error && name =~ "le.f" } | count_over_time() by (resource.service.name)"#,
        );
        let (_, other) = get_metrics(
            &vigil,
            "/api/metrics/query_range",
            &format!("q={streamed}&{range}&step=300"),
        )
        .await;
        let without_exemplars = |v: &Value| {
            let mut v = v["series"].clone();
            for s in v.as_array_mut().expect("series") {
                s.as_object_mut().expect("series").remove("exemplars");
            }
            v
        };
        assert_eq!(without_exemplars(&other), without_exemplars(&body));

        // Read lean (a span's own columns) or whole (naming a span attribute, here one that
        // no span has, makes the query read every column): the same quantiles.
        let quantiles = |q: &str| {
            let q = escape(q);
            let range = &range;
            let vigil = &vigil;
            async move {
                let (status, body) = get_metrics(
                    vigil,
                    "/api/metrics/query_range",
                    &format!("q={q}&{range}&step=300"),
                )
                .await;
                assert_eq!(status, 200, "{body}");
                body
            }
        };
        let lean =
            quantiles("{ } | quantile_over_time(duration, .5, .9) by (resource.service.name)")
                .await;
        let whole = quantiles(
            "{ span.absent = nil } | quantile_over_time(duration, .5, .9) by (resource.service.name)",
        )
        .await;
        assert_eq!(lean["series"].as_array().map(Vec::len), Some(6), "{lean}");
        assert_eq!(without_exemplars(&lean), without_exemplars(&whole));

        // Spans per second: the points times the step add up to every span.
        let q = escape("{ } | rate()");
        let (_, body) = get_metrics(
            &vigil,
            "/api/metrics/query_range",
            &format!("q={q}&{range}&step=5m&exemplars=7"),
        )
        .await;
        let s = &body["series"][0];
        assert_eq!(label(s, "__name__"), Some("rate"), "{body}");
        let sum: f64 = s["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .map(|p| p["value"].as_f64().expect("value") * 300.0)
            .sum();
        assert!((sum - 360.0).abs() < 1e-6, "{sum}: {body}");
        let exemplars = s["exemplars"].as_array().expect("exemplars");
        assert!(!exemplars.is_empty() && exemplars.len() <= 7, "{body}");
        assert!(
            exemplars.iter().all(|e| label(e, "trace:id").is_some()),
            "{body}"
        );

        // Structure decides: only one trace in fifty has its failed span under `a`.
        let q = escape(r#"{ name = "a" } >> { status = error } | count_over_time()"#);
        let (status, body) =
            get_metrics(&vigil, "/api/metrics/query", &format!("q={q}&{range}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["series"][0]["value"], json!(3.0), "{body}");

        // Instant, by service: one value per series, the spans of the whole range.
        let q = escape("{ } | count_over_time() by (resource.service.name)");
        let (_, body) = get_metrics(&vigil, "/api/metrics/query", &format!("q={q}&{range}")).await;
        let mut values: Vec<(String, f64)> = body["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|s| {
                (
                    label(s, "resource.service.name")
                        .expect("service")
                        .to_string(),
                    s["value"].as_f64().expect("value"),
                )
            })
            .collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            values,
            [
                ("svc0".to_string(), 120.0),
                ("svc1".to_string(), 120.0),
                ("svc2".to_string(), 120.0)
            ]
        );
    }

    // A resource without a service name (stored as `unknown_service`): lean queries read
    // such rows whole, so the name is nil as the whole read says, not the column's text.
    let t2 = t0 - 2 * 3_600_000_000_000;
    let mut nameless = numbered_trace(500, t2);
    nameless.resource = Some(Resource::default());
    let req = ExportTraceServiceRequest {
        resource_spans: vec![nameless, numbered_trace(501, t2 + 1_000_000_000)],
    };
    vigil.export_traces(&req, None).await;
    let range2 = format!(
        "start={}&end={}",
        t2 / 1_000_000_000 - 60,
        t2 / 1_000_000_000 + 60
    );
    let by_service = |q: &str| {
        let q = escape(q);
        let (range2, vigil) = (&range2, &vigil);
        async move {
            let (status, body) =
                get_metrics(vigil, "/api/metrics/query", &format!("q={q}&{range2}")).await;
            assert_eq!(status, 200, "{body}");
            let mut got: Vec<(Option<String>, f64)> = body["series"]
                .as_array()
                .expect("series")
                .iter()
                .map(|s| {
                    (
                        label(s, "resource.service.name").map(str::to_string),
                        s["value"].as_f64().expect("value"),
                    )
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            got
        }
    };
    let lean = by_service("{ } | max_over_time(duration) by (resource.service.name)").await;
    let whole =
        by_service("{ span.absent = nil } | max_over_time(duration) by (resource.service.name)")
            .await;
    assert_eq!(lean.len(), 2, "{lean:?}");
    assert_eq!(lean, whole);
    assert_eq!(lean[1].0.as_deref(), Some("svc0"), "{lean:?}");

    // Bad requests are the client's, with the reason.
    let q = escape("{ } | rate()");
    for (params, why) in [
        (format!("q={q}&{range}&step=0"), "step"),
        (range.clone(), "q"),
        (format!("q={}&{range}", escape("{ } | rate(")), "syntax"),
        (format!("q={q}&start=soon"), "start"),
    ] {
        let (status, body) = get_metrics(&vigil, "/api/metrics/query_range", &params).await;
        assert_eq!(status, 400, "{params}: {body}");
        assert!(body.to_string().contains(why), "{params}: {body}");
    }
}

/// An instant PromQL query at now + 1 s: the result vector.
async fn promql(vigil: &Vigil, q: &str) -> Vec<Value> {
    let now_ms = nanos(std::time::SystemTime::now()) / 1_000_000;
    let time = format!("{:.3}", (now_ms + 1000) as f64 / 1000.0);
    let data = crate::prometheus_api::ok(
        vigil,
        "GET",
        "/api/v1/query",
        &[("query", q), ("time", &time)],
    )
    .await;
    data["result"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_become_red_metrics_and_a_service_graph_that_grafanas_queries_read() {
    let vigil = Vigil::start_with(&[
        ("VIGIL_GENERATOR_COLLECTION_INTERVAL", "300ms"),
        ("VIGIL_GENERATOR_DIMENSIONS", "http.method"),
    ])
    .await;
    let now = u64::try_from(nanos(std::time::SystemTime::now())).expect("positive");
    let trace = [0x42u8; 16];
    let one = |id: u8, parent: u8, name: &str, kind: i32, ms: u64, error: bool, attrs| Span {
        trace_id: trace.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            vec![parent; 8]
        },
        name: name.into(),
        kind,
        start_time_unix_nano: now,
        end_time_unix_nano: now + ms * 1_000_000,
        attributes: attrs,
        status: Some(Status {
            message: String::new(),
            code: if error { 2 } else { 1 },
        }),
        ..Span::default()
    };
    let service = |name: &str, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s(name))],
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: None,
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    };
    // web serves GET / and calls api, which fails and queries postgresql.
    let req = ExportTraceServiceRequest {
        resource_spans: vec![
            service(
                "web",
                vec![
                    one(
                        1,
                        0,
                        "GET /",
                        2,
                        40,
                        false,
                        vec![kv("http.method", s("GET"))],
                    ),
                    one(2, 1, "call api", 3, 30, false, vec![]),
                ],
            ),
            service(
                "api",
                vec![
                    one(3, 2, "handle", 2, 20, true, vec![]),
                    one(
                        4,
                        3,
                        "SELECT",
                        3,
                        5,
                        false,
                        vec![kv("db.system", s("postgresql"))],
                    ),
                ],
            ),
        ],
    };
    vigil.export_traces(&req, None).await;

    // The series appear within a few collections.
    let calls = r#"traces_spanmetrics_calls_total{service="web",span_name="GET /"}"#;
    let mut found = Vec::new();
    for _ in 0..50 {
        found = promql(&vigil, calls).await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(found.len(), 1, "no span metrics after 10 s");
    let metric = &found[0]["metric"];
    assert_eq!(metric["span_kind"], "SPAN_KIND_SERVER");
    assert_eq!(metric["status_code"], "STATUS_CODE_OK");
    assert_eq!(metric["http_method"], "GET");
    assert_eq!(found[0]["value"][1], "1");

    // Grafana's service map: the edges with their connection types.
    let edges = promql(
        &vigil,
        "group by (client, connection_type, server) (traces_service_graph_request_total)",
    )
    .await;
    let mut pairs: Vec<(String, String, String)> = edges
        .iter()
        .map(|e| {
            let m = &e["metric"];
            let text = |k: &str| m[k].as_str().unwrap_or("").to_string();
            (text("client"), text("server"), text("connection_type"))
        })
        .collect();
    pairs.sort();
    // Once `generator.graph_wait` (10 s) passes, web's root span also gets its virtual caller
    // (`user` → web); the two calls are there either way.
    pairs.retain(|(_, _, kind)| kind != "virtual_node");
    assert_eq!(
        pairs,
        [
            ("api".into(), "postgresql".into(), "database".into()),
            ("web".into(), "api".into(), String::new()),
        ]
    );
    let rates = promql(
        &vigil,
        "sum by (client, server) (rate(traces_service_graph_request_failed_total[5m]))",
    )
    .await;
    let failed: Vec<(&str, f64)> = rates
        .iter()
        .map(|r| {
            let v: f64 = r["value"][1]
                .as_str()
                .expect("value")
                .parse()
                .expect("number");
            (r["metric"]["client"].as_str().unwrap_or(""), v)
        })
        .collect();
    assert!(
        failed.iter().any(|(c, v)| *c == "web" && *v > 0.0),
        "{rates:?}"
    );
    assert!(
        failed.iter().any(|(c, v)| *c == "api" && *v == 0.0),
        "{rates:?}"
    );

    // The RED panels' queries.
    let top = promql(
        &vigil,
        r#"topk(5, sum(rate(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"}[5m])) by (span_name))"#,
    )
    .await;
    let mut names: Vec<&str> = top
        .iter()
        .map(|r| r["metric"]["span_name"].as_str().expect("span_name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["GET /", "handle"]);
    let p90 = promql(
        &vigil,
        r#"histogram_quantile(0.9, sum(rate(traces_spanmetrics_latency_bucket{service="web"}[5m])) by (le))"#,
    )
    .await;
    let v: f64 = p90[0]["value"][1]
        .as_str()
        .expect("value")
        .parse()
        .expect("number");
    // 30 ms and 40 ms: the 0.9 quantile lies in the (0.032, 0.064] bucket.
    assert!(v > 0.032 && v <= 0.064, "{v}");

    // Exemplars name the trace.
    let now_s = now / 1_000_000_000;
    let (start, end) = ((now_s - 120).to_string(), (now_s + 120).to_string());
    let ex = crate::prometheus_api::ok(
        &vigil,
        "GET",
        "/api/v1/query_exemplars",
        &[
            (
                "query",
                r#"traces_spanmetrics_latency_bucket{service="web"}"#,
            ),
            ("start", &start),
            ("end", &end),
        ],
    )
    .await;
    let ids: Vec<&str> = ex
        .as_array()
        .expect("exemplars")
        .iter()
        .flat_map(|s| s["exemplars"].as_array().into_iter().flatten())
        .map(|e| e["labels"]["traceID"].as_str().expect("traceID"))
        .collect();
    let want: String = trace.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!ids.is_empty() && ids.iter().all(|id| *id == want), "{ex}");
}
