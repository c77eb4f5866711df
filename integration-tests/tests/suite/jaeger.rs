//! The Jaeger query API under `/jaeger`: a trace sent over OTLP/HTTP comes back from
//! `/jaeger/api/traces/<id>` as Jaeger's JSON with every field the OTLP→Jaeger translator
//! keeps, before and after a flush; services and operations are listed; a search by service,
//! operation, tags and durations finds exactly the traces that match; unknown ids, missing
//! services and other tenants answer as Jaeger does.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{json, Value};

use crate::harness::{base_time, nanos, Vigil};
use crate::otlp::TENANT_HEADER;

/// The trace every field is checked on.
const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const TRACE_HEX: &str = "5b8efff798038103d269b633813fc60c";

/// A short, fast trace of the same service and operation; its id's high half is zero, so
/// Jaeger prints it in 16 digits.
const QUICK: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1];
const QUICK_HEX: &str = "deadbeef00000001";

/// A trace of another tenant.
const OTHER: [u8; 16] = [0x77; 16];
const OTHER_HEX: &str = "77777777777777777777777777777777";

const MS: u64 = 1_000_000;

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

fn span_id(n: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 0, 0, n]
}

fn resource(service: &str, extra: Vec<KeyValue>) -> Option<Resource> {
    let mut attributes = vec![kv("service.name", s(service))];
    attributes.extend(extra);
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

fn scope(name: &str, version: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        version: version.into(),
        ..Default::default()
    })
}

fn scope_spans(scope: Option<InstrumentationScope>, spans: Vec<Span>) -> ScopeSpans {
    ScopeSpans {
        scope,
        spans,
        schema_url: String::new(),
    }
}

/// `TRACE`: a server span of `shop` with attributes of every type, an event and an error; a
/// client child with a link to another trace; an internal grandchild of `payments` linked to
/// its sibling as OpenTracing's `child_of`. And `QUICK`: one 1 ms `GET /cart` of `shop`.
fn request(t0: u64) -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: TRACE.to_vec(),
        span_id: span_id(1),
        trace_state: "vendor=v1".into(),
        flags: 0x301,
        name: "GET /cart".into(),
        kind: 2,
        start_time_unix_nano: t0,
        end_time_unix_nano: t0 + 250 * MS + 999,
        attributes: vec![
            kv("http.method", s("GET")),
            kv("http.status_code", V::IntValue(500)),
            kv("cache.hit", V::BoolValue(false)),
            kv("ratio", V::DoubleValue(0.25)),
            kv("retry.delay", V::DoubleValue(2.0)),
            kv("huge", V::IntValue(i64::MIN)),
            kv("payload", V::BytesValue(vec![0, 1, 2, 0xff])),
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
        ],
        events: vec![Event {
            time_unix_nano: t0 + MS + 500,
            name: "retry".into(),
            attributes: vec![kv("attempt", V::IntValue(2))],
            dropped_attributes_count: 0,
        }],
        status: Some(Status {
            message: "out of stock".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let child = Span {
        trace_id: TRACE.to_vec(),
        span_id: span_id(2),
        parent_span_id: span_id(1),
        name: "SELECT items".into(),
        kind: 3,
        start_time_unix_nano: t0 + 10 * MS,
        end_time_unix_nano: t0 + 30 * MS,
        links: vec![Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            attributes: vec![kv("link.weight", V::DoubleValue(-0.5))],
            ..Default::default()
        }],
        status: Some(Status {
            message: String::new(),
            code: 1,
        }),
        ..Default::default()
    };
    let grandchild = Span {
        trace_id: TRACE.to_vec(),
        span_id: span_id(3),
        parent_span_id: span_id(1),
        name: "charge".into(),
        kind: 1,
        start_time_unix_nano: t0 + 40 * MS,
        end_time_unix_nano: t0 + 45 * MS,
        links: vec![Link {
            trace_id: TRACE.to_vec(),
            span_id: span_id(2),
            attributes: vec![kv("opentracing.ref_type", s("child_of"))],
            ..Default::default()
        }],
        ..Default::default()
    };
    let quick = Span {
        trace_id: QUICK.to_vec(),
        span_id: span_id(9),
        name: "GET /cart".into(),
        kind: 2,
        start_time_unix_nano: t0 + 5 * MS,
        end_time_unix_nano: t0 + 6 * MS,
        attributes: vec![
            kv("http.method", s("GET")),
            kv("http.status_code", V::IntValue(200)),
        ],
        ..Default::default()
    };
    let shop = || {
        resource(
            "shop",
            vec![kv("host.name", s("h1")), kv("host.cpus", V::IntValue(8))],
        )
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: shop(),
                scope_spans: vec![
                    scope_spans(scope("http", "1.2.3"), vec![root, quick]),
                    scope_spans(scope("db", ""), vec![child]),
                ],
                schema_url: String::new(),
            },
            ResourceSpans {
                resource: resource("payments", Vec::new()),
                scope_spans: vec![scope_spans(None, vec![grandchild])],
                schema_url: String::new(),
            },
        ],
    }
}

/// Another tenant's trace, of its own service.
fn other_tenant_request(t0: u64) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("team-b-svc", Vec::new()),
            scope_spans: vec![scope_spans(
                None,
                vec![Span {
                    trace_id: OTHER.to_vec(),
                    span_id: span_id(1),
                    name: "GET /cart".into(),
                    kind: 2,
                    start_time_unix_nano: t0,
                    end_time_unix_nano: t0 + 500 * MS,
                    ..Default::default()
                }],
            )],
            schema_url: String::new(),
        }],
    }
}

/// What `/jaeger/api/traces/<TRACE>` must answer with.
fn expected_trace(t0: u64) -> Value {
    let us = t0 / 1_000;
    json!({
        "traceID": TRACE_HEX,
        "spans": [
            {
                "traceID": TRACE_HEX,
                "spanID": "0000000000000001",
                "operationName": "GET /cart",
                "references": [],
                "startTime": us,
                "duration": 250_000,
                "tags": [
                    {"key": "otel.scope.name", "type": "string", "value": "http"},
                    {"key": "otel.scope.version", "type": "string", "value": "1.2.3"},
                    {"key": "http.method", "type": "string", "value": "GET"},
                    {"key": "http.status_code", "type": "int64", "value": 500},
                    {"key": "cache.hit", "type": "bool", "value": false},
                    {"key": "ratio", "type": "float64", "value": 0.25},
                    {"key": "retry.delay", "type": "float64", "value": 2},
                    {"key": "huge", "type": "int64", "value": "-9223372036854775808"},
                    {"key": "payload", "type": "binary", "value": "AAEC/w=="},
                    {"key": "tags", "type": "string", "value": "[\"a\",443,true]"},
                    {"key": "span.kind", "type": "string", "value": "server"},
                    {"key": "otel.status_code", "type": "string", "value": "ERROR"},
                    {"key": "error", "type": "bool", "value": true},
                    {"key": "otel.status_description", "type": "string", "value": "out of stock"},
                    {"key": "w3c.tracestate", "type": "string", "value": "vendor=v1"},
                ],
                "logs": [{
                    "timestamp": (t0 + MS + 500) / 1_000,
                    "fields": [
                        {"key": "event", "type": "string", "value": "retry"},
                        {"key": "attempt", "type": "int64", "value": 2},
                    ],
                }],
                "processID": "p1",
                "warnings": null,
            },
            {
                "traceID": TRACE_HEX,
                "spanID": "0000000000000002",
                "operationName": "SELECT items",
                "references": [
                    {"refType": "CHILD_OF", "traceID": TRACE_HEX, "spanID": "0000000000000001"},
                    {
                        "refType": "FOLLOWS_FROM",
                        "traceID": "09090909090909090909090909090909",
                        "spanID": "0808080808080808",
                    },
                ],
                "startTime": us + 10_000,
                "duration": 20_000,
                "tags": [
                    {"key": "otel.scope.name", "type": "string", "value": "db"},
                    {"key": "span.kind", "type": "string", "value": "client"},
                    {"key": "otel.status_code", "type": "string", "value": "OK"},
                ],
                "logs": [],
                "processID": "p1",
                "warnings": null,
            },
            {
                "traceID": TRACE_HEX,
                "spanID": "0000000000000003",
                "operationName": "charge",
                "references": [
                    {"refType": "CHILD_OF", "traceID": TRACE_HEX, "spanID": "0000000000000001"},
                    {"refType": "CHILD_OF", "traceID": TRACE_HEX, "spanID": "0000000000000002"},
                ],
                "startTime": us + 40_000,
                "duration": 5_000,
                "tags": [{"key": "span.kind", "type": "string", "value": "internal"}],
                "logs": [],
                "processID": "p2",
                "warnings": null,
            },
        ],
        "processes": {
            "p1": {"serviceName": "shop", "tags": [
                {"key": "host.name", "type": "string", "value": "h1"},
                {"key": "host.cpus", "type": "int64", "value": 8},
            ]},
            "p2": {"serviceName": "payments", "tags": []},
        },
        "warnings": null,
    })
}

async fn send(vigil: &Vigil, req: &ExportTraceServiceRequest, tenant: Option<&str>) {
    vigil.export_traces(req, tenant).await;
}

/// `GET` of a Jaeger API path as `tenant`: status, content type and body.
async fn get(vigil: &Vigil, path: &str, tenant: Option<&str>) -> (u16, String, String) {
    let mut req = vigil.http().get(vigil.api_url(path));
    if let Some(t) = tenant {
        req = req.header(TENANT_HEADER, t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, resp.text().await.expect("body"))
}

/// A 200 answer's JSON.
async fn get_json(vigil: &Vigil, path: &str, tenant: Option<&str>) -> Value {
    let (status, content_type, body) = get(vigil, path, tenant).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(content_type, "application/json", "{path}");
    serde_json::from_str(&body).expect("json")
}

/// `text` percent-encoded for a query string.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The trace ids of a search answer, in order.
fn found(answer: &Value) -> Vec<String> {
    answer["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["traceID"].as_str().expect("traceID").to_string())
        .collect()
}

/// Jaeger's error answer, byte for byte (fields in Go's order, a newline after).
fn jaeger_error(code: u16, msg: &str) -> String {
    format!(
        "{{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{{\"code\":{code},\"msg\":{}}}]}}\n",
        Value::from(msg)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_comes_back_from_the_jaeger_api_with_every_field() {
    let vigil = Vigil::start().await;
    let t0 = u64::try_from(nanos(base_time())).expect("positive");
    send(&vigil, &request(t0), None).await;

    let path = format!("/jaeger/api/traces/{TRACE_HEX}");
    let want = json!({
        "data": [expected_trace(t0)],
        "total": 0, "limit": 0, "offset": 0, "errors": null,
    });
    assert_eq!(get_json(&vigil, &path, None).await, want);
    // A window around the trace (µs) narrows nothing away; one after it finds nothing.
    let us = t0 / 1_000;
    let around = format!("{path}?start={}&end={}", us - 1_000_000, us + 1_000_000);
    assert_eq!(get_json(&vigil, &around, None).await, want);
    let after = format!("{path}?start={}", us + 1_000_000);
    assert_eq!(get(&vigil, &after, None).await.0, 404);
    // A 16-digit id, as Jaeger prints one whose high half is zero.
    let quick = get_json(&vigil, &format!("/jaeger/api/traces/{QUICK_HEX}"), None).await;
    assert_eq!(quick["data"][0]["traceID"], json!(QUICK_HEX));
    assert_eq!(quick["data"][0]["spans"][0]["duration"], json!(1_000));

    // Unknown and bad ids, as Jaeger answers them.
    let (status, content_type, body) = get(
        &vigil,
        "/jaeger/api/traces/00000000000000000000000000000abc",
        None,
    )
    .await;
    assert_eq!((status, body), (404, jaeger_error(404, "trace not found")));
    assert_eq!(content_type, "text/plain; charset=utf-8");
    let (status, _, body) = get(&vigil, "/jaeger/api/traces/xyz", None).await;
    assert_eq!(
        (status, body),
        (
            400,
            jaeger_error(400, r#"strconv.ParseUint: parsing "xyz": invalid syntax"#)
        )
    );

    // The same from segments; Tempo's API still answers beside it.
    vigil.flush().await;
    assert_eq!(get_json(&vigil, &path, None).await, want);
    let (status, _, _) = get(&vigil, &format!("/api/traces/{TRACE_HEX}"), None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_operations_and_search_answer_as_jaeger_does() {
    let vigil = Vigil::start().await;
    let t0 = u64::try_from(nanos(base_time())).expect("positive");
    send(&vigil, &request(t0), None).await;
    send(&vigil, &other_tenant_request(t0), Some("team-b")).await;

    assert_eq!(
        get_json(&vigil, "/jaeger/api/services", None).await,
        json!({"data": ["payments", "shop"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    assert_eq!(
        get_json(&vigil, "/jaeger/api/services/shop/operations", None).await,
        json!({"data": ["GET /cart", "SELECT items"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    assert_eq!(
        get_json(&vigil, "/jaeger/api/operations?service=shop", None).await["data"],
        json!([
            {"name": "GET /cart", "spanKind": "server"},
            {"name": "SELECT items", "spanKind": "client"},
        ])
    );
    let clients = get_json(
        &vigil,
        "/jaeger/api/operations?service=shop&spanKind=client",
        None,
    )
    .await;
    assert_eq!(
        clients,
        json!({"data": [{"name": "SELECT items", "spanKind": "client"}], "total": 1, "limit": 0, "offset": 0, "errors": null})
    );

    // Searches as Jaeger UI sends them: a window in µs, tags as a JSON object.
    let us = t0 / 1_000;
    let search = |extra: &str| {
        format!(
            "/jaeger/api/traces?service=shop{extra}&start={}&end={}&lookback=1h&limit=20",
            us - 60_000_000,
            us + 60_000_000
        )
    };
    let cart = format!("&operation={}", enc("GET /cart"));
    let matching = format!(
        "{cart}&tags={}&minDuration=100ms",
        enc(r#"{"http.status_code":"500","error":"true"}"#)
    );
    let answer = get_json(&vigil, &search(&matching), None).await;
    assert_eq!(found(&answer), [TRACE_HEX]);
    assert_eq!(answer["data"][0], expected_trace(t0));
    assert_eq!(
        (answer["total"].clone(), answer["errors"].clone()),
        (json!(0), json!(null))
    );
    for (why, extra, want) in [
        (
            "both, newest first",
            cart.clone(),
            vec![QUICK_HEX, TRACE_HEX],
        ),
        (
            "the newest only",
            format!("{cart}&limit=1"),
            vec![QUICK_HEX],
        ),
        (
            "another status",
            format!("{cart}&tags={}", enc(r#"{"http.status_code":"404"}"#)),
            vec![],
        ),
        ("too short", format!("{cart}&minDuration=1s"), vec![]),
        (
            "too long",
            format!("{cart}&maxDuration=10ms"),
            vec![QUICK_HEX],
        ),
        (
            "a simple tag",
            "&tag=http.status_code:200".to_string(),
            vec![QUICK_HEX],
        ),
        (
            "a span kind tag",
            format!("&tags={}", enc(r#"{"span.kind":"client"}"#)),
            vec![TRACE_HEX],
        ),
        ("another operation", "&operation=charge".to_string(), vec![]),
        (
            "logfmt tags",
            format!("&tags={}", enc("error=true")),
            vec![TRACE_HEX],
        ),
    ] {
        let answer = get_json(&vigil, &search(&extra), None).await;
        assert_eq!(found(&answer), want, "{why}");
    }
    let payments = get_json(
        &vigil,
        &search("&operation=charge").replace("service=shop", "service=payments"),
        None,
    )
    .await;
    assert_eq!(found(&payments), [TRACE_HEX]);
    // A window before the traces finds none.
    let before = format!(
        "/jaeger/api/traces?service=shop&start={}&end={}",
        us - 120_000_000,
        us - 60_000_000
    );
    assert_eq!(
        found(&get_json(&vigil, &before, None).await),
        Vec::<String>::new()
    );

    // By trace ids: the ones found, and an error for each one not found.
    let by_ids = get_json(
        &vigil,
        &format!("/jaeger/api/traces?traceID={TRACE_HEX}&traceID=abc"),
        None,
    )
    .await;
    assert_eq!(found(&by_ids), [TRACE_HEX]);
    assert_eq!(
        by_ids["errors"],
        json!([{"msg": "trace not found", "traceID": "0000000000000abc"}])
    );

    // Bad requests, with Jaeger's messages.
    for (path, msg) in [
        ("/jaeger/api/traces", "parameter 'service' is required"),
        (
            "/jaeger/api/traces?operation=x",
            "parameter 'service' is required",
        ),
        ("/jaeger/api/operations", "parameter 'service' is required"),
        (
            "/jaeger/api/traces?service=shop&minDuration=soon",
            r#"unable to parse param 'minDuration': time: invalid duration "soon""#,
        ),
        (
            "/jaeger/api/traces?service=shop&start=yesterday",
            r#"unable to parse param 'start': strconv.ParseInt: parsing "yesterday": invalid syntax"#,
        ),
    ] {
        let (status, content_type, body) = get(&vigil, path, None).await;
        assert_eq!((status, body), (400, jaeger_error(400, msg)), "{path}");
        assert_eq!(content_type, "text/plain; charset=utf-8");
    }
    let (status, _, body) = get(
        &vigil,
        "/jaeger/api/operations?service=shop&spanKind=x",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("unable to parse param 'spanKind'"), "{body}");

    // Each tenant sees its own spans only.
    assert_eq!(
        get_json(&vigil, "/jaeger/api/services", Some("team-b")).await["data"],
        json!(["team-b-svc"])
    );
    assert_eq!(
        get(
            &vigil,
            &format!("/jaeger/api/traces/{TRACE_HEX}"),
            Some("team-b")
        )
        .await
        .0,
        404
    );
    assert_eq!(
        get(&vigil, &format!("/jaeger/api/traces/{OTHER_HEX}"), None)
            .await
            .0,
        404
    );
    let theirs = get_json(
        &vigil,
        &format!("/jaeger/api/traces/{OTHER_HEX}"),
        Some("team-b"),
    )
    .await;
    assert_eq!(
        theirs["data"][0]["processes"],
        json!({"p1": {"serviceName": "team-b-svc", "tags": []}})
    );
    assert_eq!(
        found(&get_json(&vigil, &search(&cart), Some("team-b")).await),
        Vec::<String>::new()
    );
    let team_b_search = search(&cart).replace("service=shop", "service=team-b-svc");
    assert_eq!(
        found(&get_json(&vigil, &team_b_search, Some("team-b")).await),
        [OTHER_HEX]
    );
    assert_eq!(
        found(&get_json(&vigil, &team_b_search, None).await),
        Vec::<String>::new()
    );
}
