use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Status};
use serde_json::json;

use super::*;

const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const TRACE_HEX: &str = "5b8efff798038103d269b633813fc60c";

fn kv(key: &str, value: Any) -> Attr {
    Attr {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(text: &str) -> Any {
    Any::StringValue(text.into())
}

fn resource(attributes: Vec<Attr>) -> Option<Resource> {
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

fn scope(name: &str, version: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        version: version.into(),
        attributes: vec![kv("scope.attr", s("dropped"))],
        dropped_attributes_count: 0,
    })
}

fn id(n: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 0, 0, n]
}

fn base_span(n: u8, name: &str, start: u64) -> OtlpSpan {
    OtlpSpan {
        trace_id: TRACE.to_vec(),
        span_id: id(n),
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 2_500_999,
        flags: 0x301,
        ..Default::default()
    }
}

fn rs(resource: Option<Resource>, scopes: Vec<ScopeSpans>) -> ResourceSpans {
    ResourceSpans {
        resource,
        scope_spans: scopes,
        schema_url: String::new(),
    }
}

fn one_scope(scope: Option<InstrumentationScope>, spans: Vec<OtlpSpan>) -> Vec<ScopeSpans> {
    vec![ScopeSpans {
        scope,
        spans,
        schema_url: String::new(),
    }]
}

fn to_json(trace: &Trace) -> Json {
    serde_json::to_value(trace).expect("serializable")
}

#[test]
fn a_trace_reads_as_jaeger_writes_it() {
    let t0: u64 = 1_706_678_909_209_712_345;
    let mut root = base_span(1, "POST /checkout", t0);
    root.kind = 2;
    root.trace_state = "vendor=v1".into();
    root.attributes = vec![
        kv("http.method", s("POST")),
        kv("http.status_code", Any::IntValue(502)),
        kv("huge", Any::IntValue(i64::MIN)),
        kv("cache.hit", Any::BoolValue(false)),
        kv("ratio", Any::DoubleValue(0.25)),
        kv("whole", Any::DoubleValue(2.0)),
        kv("payload", Any::BytesValue(vec![0, 1, 2, 0xff])),
        kv(
            "list",
            Any::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(s("a")),
                    },
                    AnyValue {
                        value: Some(Any::IntValue(443)),
                    },
                ],
            }),
        ),
        kv(
            "map",
            Any::KvlistValue(KeyValueList {
                values: vec![kv("k", s("v"))],
            }),
        ),
        Attr {
            key: "empty".into(),
            value: None,
            ..Default::default()
        },
    ];
    root.status = Some(Status {
        message: "payment declined".into(),
        code: 2,
    });
    root.events = vec![
        Event {
            time_unix_nano: t0 + 9_999,
            name: "retry".into(),
            attributes: vec![kv("attempt", Any::IntValue(2))],
            dropped_attributes_count: 1,
        },
        Event {
            time_unix_nano: t0 + 20_000,
            name: "shadowed".into(),
            attributes: vec![kv("event", s("from attribute"))],
            dropped_attributes_count: 0,
        },
    ];
    let mut child = base_span(2, "SELECT cart", t0 + 1_000);
    child.parent_span_id = id(1);
    child.kind = 3;
    child.status = Some(Status {
        message: String::new(),
        code: 1,
    });
    child.links = vec![
        Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            attributes: vec![kv("link.weight", Any::DoubleValue(-0.5))],
            ..Default::default()
        },
        Link {
            trace_id: TRACE.to_vec(),
            span_id: id(1),
            attributes: vec![kv("opentracing.ref_type", s("follows_from"))],
            ..Default::default()
        },
        Link {
            trace_id: [[0; 8], [7; 8]].concat(),
            span_id: id(7),
            attributes: vec![kv("opentracing.ref_type", s("child_of"))],
            ..Default::default()
        },
    ];
    let checkout = || {
        resource(vec![
            kv("service.name", s("checkout")),
            kv("host.cpus", Any::IntValue(8)),
        ])
    };
    let mut charge = base_span(3, "charge", t0 + 2_000);
    charge.parent_span_id = id(1);
    charge.kind = 1;
    let input = vec![
        // The child first: spans come back by start time.
        rs(checkout(), one_scope(scope("db", ""), vec![child])),
        rs(
            resource(vec![kv("service.name", s("payments"))]),
            one_scope(None, vec![charge]),
        ),
        // The same resource again: one process.
        rs(checkout(), one_scope(scope("http", "1.2.3"), vec![root])),
    ];
    let traces = traces(&input);
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].0, TRACE);
    let micros = t0 / 1_000;
    assert_eq!(
        to_json(&traces[0].1),
        json!({
            "traceID": TRACE_HEX,
            "spans": [
                {
                    "traceID": TRACE_HEX,
                    "spanID": "0000000000000001",
                    "operationName": "POST /checkout",
                    "references": [],
                    "startTime": micros,
                    "duration": 2_500,
                    "tags": [
                        {"key": "otel.scope.name", "type": "string", "value": "http"},
                        {"key": "otel.scope.version", "type": "string", "value": "1.2.3"},
                        {"key": "http.method", "type": "string", "value": "POST"},
                        {"key": "http.status_code", "type": "int64", "value": 502},
                        {"key": "huge", "type": "int64", "value": "-9223372036854775808"},
                        {"key": "cache.hit", "type": "bool", "value": false},
                        {"key": "ratio", "type": "float64", "value": 0.25},
                        {"key": "whole", "type": "float64", "value": 2},
                        {"key": "payload", "type": "binary", "value": "AAEC/w=="},
                        {"key": "list", "type": "string", "value": "[\"a\",443]"},
                        {"key": "map", "type": "string", "value": "{\"k\":\"v\"}"},
                        {"key": "empty", "type": "string", "value": ""},
                        {"key": "span.kind", "type": "string", "value": "server"},
                        {"key": "otel.status_code", "type": "string", "value": "ERROR"},
                        {"key": "error", "type": "bool", "value": true},
                        {"key": "otel.status_description", "type": "string", "value": "payment declined"},
                        {"key": "w3c.tracestate", "type": "string", "value": "vendor=v1"},
                    ],
                    "logs": [
                        {"timestamp": micros + 10, "fields": [
                            {"key": "event", "type": "string", "value": "retry"},
                            {"key": "attempt", "type": "int64", "value": 2},
                        ]},
                        {"timestamp": micros + 20, "fields": [
                            {"key": "event", "type": "string", "value": "from attribute"},
                        ]},
                    ],
                    "processID": "p1",
                    "warnings": null,
                },
                {
                    "traceID": TRACE_HEX,
                    "spanID": "0000000000000002",
                    "operationName": "SELECT cart",
                    "references": [
                        // The link to the parent retypes the parent's reference.
                        {"refType": "FOLLOWS_FROM", "traceID": TRACE_HEX, "spanID": "0000000000000001"},
                        {"refType": "FOLLOWS_FROM", "traceID": "09090909090909090909090909090909", "spanID": "0808080808080808"},
                        {"refType": "CHILD_OF", "traceID": "0707070707070707", "spanID": "0000000000000007"},
                    ],
                    "startTime": micros + 1,
                    "duration": 2_500,
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
                    ],
                    "startTime": micros + 2,
                    "duration": 2_500,
                    "tags": [{"key": "span.kind", "type": "string", "value": "internal"}],
                    "logs": [],
                    "processID": "p2",
                    "warnings": null,
                },
            ],
            "processes": {
                "p1": {"serviceName": "checkout", "tags": [
                    {"key": "host.cpus", "type": "int64", "value": 8},
                ]},
                "p2": {"serviceName": "payments", "tags": []},
            },
            "warnings": null,
        })
    );
}

#[test]
fn traces_are_split_and_processes_named_as_jaeger_names_them() {
    let short = [[0; 8], [0xab; 8]].concat();
    let mut a = base_span(1, "a", 2_000);
    a.trace_id = short.clone();
    let mut b = base_span(2, "b", 1_000);
    b.trace_id = short;
    let other = base_span(3, "other", 500);
    let input = vec![
        rs(None, one_scope(None, vec![a])),
        rs(
            resource(vec![kv("host.name", s("h"))]),
            one_scope(None, vec![other, b]),
        ),
    ];
    let traces = traces(&input);
    assert_eq!(traces.len(), 2);
    // A trace id whose high half is zero prints in 16 digits.
    let first = to_json(&traces[0].1);
    assert_eq!(first["traceID"], json!("abababababababab"));
    assert_eq!(first["spans"][0]["operationName"], json!("b"));
    assert_eq!(first["spans"][0]["processID"], json!("p1"));
    assert_eq!(first["spans"][1]["processID"], json!("p2"));
    assert_eq!(
        first["processes"],
        json!({
            // Attributes without service.name: an empty name.
            "p1": {"serviceName": "", "tags": [{"key": "host.name", "type": "string", "value": "h"}]},
            // No attributes at all: the translator's placeholder.
            "p2": {"serviceName": "OTLPResourceNoServiceName", "tags": []},
        })
    );
    let second = to_json(&traces[1].1);
    assert_eq!(second["traceID"], json!(TRACE_HEX));
    assert_eq!(second["spans"].as_array().map(Vec::len), Some(1));
    // Spans without a valid trace id are skipped; no spans, no traces.
    let mut bad = base_span(4, "bad", 0);
    bad.trace_id = vec![1, 2, 3];
    assert!(super::traces(&[rs(None, one_scope(None, vec![bad]))]).is_empty());
}

#[test]
fn values_past_what_json_and_javascript_hold_stay_readable() {
    let edge = JS_MAX_SAFE_INTEGER;
    for (value, kind, want) in [
        (Any::IntValue(edge), "int64", json!(edge)),
        (Any::IntValue(edge + 1), "int64", json!("9007199254740992")),
        (
            Any::IntValue(-edge - 1),
            "int64",
            json!("-9007199254740992"),
        ),
        (Any::DoubleValue(f64::NAN), "float64", json!("NaN")),
        (
            Any::DoubleValue(f64::NEG_INFINITY),
            "float64",
            json!("-Inf"),
        ),
        (Any::DoubleValue(1e300), "float64", json!(1e300)),
        (Any::DoubleValue(-3.0), "float64", json!(-3)),
    ] {
        let t = tag(&kv("k", value));
        assert_eq!((t.kind, t.value), (kind, want));
    }
    assert_eq!(kind_number("server"), Some(2));
    assert_eq!(kind_number("unspecified"), None);
    assert_eq!(kind_name(0), None);
}
