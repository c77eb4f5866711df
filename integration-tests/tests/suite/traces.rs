//! Traces sent by the OpenTelemetry SDK through the OTLP span exporter, over each transport, come
//! back from SQL with every field exactly as the SDK recorded it.

use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags,
    TraceId, TraceState, Tracer as _,
};
use opentelemetry::{Array, Context, KeyValue, Value as OtelValue};
use opentelemetry_sdk::trace::SdkTracer;
use serde_json::{json, Value};

use crate::harness::{base_time, nanos, poll, str_of, string_map, Row, Vigil};
use crate::otlp::{self, Transport};

/// OTLP `Span.SpanKind` and `Status.StatusCode` values.
const KIND_SERVER: i64 = 2;
const KIND_CLIENT: i64 = 3;
const STATUS_OK: i64 = 1;
const STATUS_ERROR: i64 = 2;
/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` and `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const HAS_IS_REMOTE: i64 = 0x100;
const IS_REMOTE: i64 = 0x200;

/// A trace id and span id that some other service owns, linked from the root span.
const LINKED_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const LINKED_SPAN: &str = "b7ad6b7169203331";
/// A span of the same trace that the child links to, never exported itself.
const SIBLING_SPAN: &str = "00f067aa0ba902b7";

fn at(t0: SystemTime, offset_nanos: u64) -> SystemTime {
    t0 + Duration::from_nanos(offset_nanos)
}

/// What the test recorded, to compare with what SQL returns.
struct Sent {
    t0: SystemTime,
    trace_id: String,
    root_id: String,
    child_id: String,
}

/// Records a two-span trace with the SDK: a server root with attributes of every type, two events,
/// a link to another trace and an error status; and a client child with an event, a link to a
/// sibling and an OK status. Every time is explicit.
fn record_trace(tracer: &SdkTracer, t0: SystemTime) -> Sent {
    let linked = SpanContext::new(
        TraceId::from_hex(LINKED_TRACE).expect("hex"),
        SpanId::from_hex(LINKED_SPAN).expect("hex"),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "v1")]).expect("trace state"),
    );
    let root = tracer
        .span_builder("POST /checkout")
        .with_kind(SpanKind::Server)
        .with_start_time(t0)
        .with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.response.status_code", 502_i64),
            KeyValue::new("cache.hit", false),
            KeyValue::new("sample.ratio", 0.25),
            KeyValue::new("retry.delay", 2.0),
            KeyValue::new(
                "tags",
                OtelValue::Array(Array::String(vec!["a".into(), "b \"q\"".into()])),
            ),
            KeyValue::new("ports", OtelValue::Array(Array::I64(vec![80, 443]))),
            KeyValue::new("weights", OtelValue::Array(Array::F64(vec![1.5, -0.25]))),
            KeyValue::new("checks", OtelValue::Array(Array::Bool(vec![true, false]))),
        ])
        .with_links(vec![Link::new(
            linked,
            vec![KeyValue::new("link.reason", "batch")],
            0,
        )])
        .start(tracer);
    let trace_id = root.span_context().trace_id();
    let root_id = root.span_context().span_id();
    let cx = Context::current_with_span(root);
    cx.span().add_event_with_timestamp(
        "cache.miss",
        at(t0, 1_000_001),
        vec![KeyValue::new("cache.key", "cart:42")],
    );
    cx.span().add_event_with_timestamp(
        "retry",
        at(t0, 2_000_003),
        vec![
            KeyValue::new("attempt", 2_i64),
            KeyValue::new("backoff.seconds", 0.5),
        ],
    );

    let sibling = SpanContext::new(
        trace_id,
        SpanId::from_hex(SIBLING_SPAN).expect("hex"),
        TraceFlags::default(),
        false,
        TraceState::default(),
    );
    let mut child = tracer
        .span_builder("charge card")
        .with_kind(SpanKind::Client)
        .with_start_time(at(t0, 5_000_011))
        .with_attributes([
            KeyValue::new("peer.service", "payments-api"),
            KeyValue::new("server.port", 8443_i64),
        ])
        .with_links(vec![Link::new(sibling, Vec::new(), 0)])
        .start_with_context(tracer, &cx);
    let child_id = child.span_context().span_id();
    child.add_event_with_timestamp("request.sent", at(t0, 6_000_000), Vec::new());
    child.set_status(Status::Ok);
    child.end_with_timestamp(at(t0, 30_000_013));

    cx.span().set_status(Status::error("payment declined"));
    cx.span().end_with_timestamp(at(t0, 50_000_007));
    Sent {
        t0,
        trace_id: trace_id.to_string(),
        root_id: root_id.to_string(),
        child_id: child_id.to_string(),
    }
}

/// Records the trace and exports it through a batch processor; returns once the exporter has
/// been acknowledged.
async fn send_trace(vigil: &Vigil, transport: Transport) -> Sent {
    let exporter = otlp::span_exporter(vigil, transport, None);
    let t0 = base_time();
    otlp::export_with_tracer(exporter, otlp::resource(), move |tracer| {
        record_trace(tracer, t0)
    })
    .await
}

/// Text columns OTLP leaves empty may be stored as NULL or as "".
fn assert_empty_text(row: &Row, key: &str) {
    let value = &row[key];
    assert!(
        value.is_null() || value == "",
        "{key} should be empty, got {value} in {row:?}"
    );
}

async fn check_spans(vigil: &Vigil, sent: &Sent) {
    let t0 = nanos(sent.t0);
    let query = format!(
        "SELECT trace_id, span_id, parent_span_id, trace_state, flags, name, kind, service_name, \
         start_time_unix_nano, end_time_unix_nano, duration_nano, status_code, status_message, \
         resource_attributes, resource_schema_url, scope_name, scope_version, scope_attributes, \
         scope_schema_url, attributes, dropped_attributes_count, dropped_events_count, \
         dropped_links_count \
         FROM spans WHERE trace_id = '{}' ORDER BY start_time_unix_nano",
        sent.trace_id
    );
    let rows = poll("spans visible", Duration::from_secs(10), || async {
        let rows = vigil.sql(&query).await;
        if rows.len() == 2 {
            Ok(rows)
        } else {
            Err(format!("{} rows", rows.len()))
        }
    })
    .await;

    let (root, child) = (&rows[0], &rows[1]);
    for (row, span_id) in [(root, &sent.root_id), (child, &sent.child_id)] {
        assert_eq!(str_of(row, "trace_id"), sent.trace_id, "{row:?}");
        assert_eq!(str_of(row, "span_id"), span_id.as_str(), "{row:?}");
        assert_eq!(row["service_name"], json!(otlp::SERVICE), "{row:?}");
        assert_eq!(
            row["resource_attributes"],
            otlp::resource_attributes(),
            "{row:?}"
        );
        assert_eq!(
            row["resource_schema_url"],
            json!(otlp::RESOURCE_SCHEMA),
            "{row:?}"
        );
        assert_eq!(row["scope_name"], json!(otlp::SCOPE_NAME), "{row:?}");
        assert_eq!(row["scope_version"], json!(otlp::SCOPE_VERSION), "{row:?}");
        assert_eq!(row["scope_attributes"], otlp::scope_attributes(), "{row:?}");
        assert_eq!(
            row["scope_schema_url"],
            json!(otlp::SCOPE_SCHEMA),
            "{row:?}"
        );
        assert_eq!(
            row["flags"],
            json!(HAS_IS_REMOTE | 1),
            "sampled, local parent: {row:?}"
        );
        assert_empty_text(row, "trace_state");
        for dropped in [
            "dropped_attributes_count",
            "dropped_events_count",
            "dropped_links_count",
        ] {
            assert_eq!(row[dropped], json!(0), "{dropped} in {row:?}");
        }
    }

    assert!(
        root["parent_span_id"].is_null(),
        "root has no parent: {root:?}"
    );
    assert_eq!(root["name"], json!("POST /checkout"));
    assert_eq!(root["kind"], json!(KIND_SERVER));
    assert_eq!(root["start_time_unix_nano"], json!(t0));
    assert_eq!(root["end_time_unix_nano"], json!(t0 + 50_000_007));
    assert_eq!(root["duration_nano"], json!(50_000_007));
    assert_eq!(root["status_code"], json!(STATUS_ERROR));
    assert_eq!(root["status_message"], json!("payment declined"));
    let attrs = root["attributes"].as_object().expect("attributes map");
    let scalars = [
        ("http.request.method", "POST"),
        ("http.response.status_code", "502"),
        ("cache.hit", "false"),
        ("sample.ratio", "0.25"),
        ("retry.delay", "2"),
    ];
    // Arrays are JSON text; compared as JSON so that spacing does not matter.
    let arrays = [
        ("tags", json!(["a", "b \"q\""])),
        ("ports", json!([80, 443])),
        ("weights", json!([1.5, -0.25])),
        ("checks", json!([true, false])),
    ];
    assert_eq!(
        attrs.len(),
        scalars.len() + arrays.len(),
        "attributes: {attrs:?}"
    );
    for (key, expected) in scalars {
        assert_eq!(
            attrs.get(key),
            Some(&json!(expected)),
            "attribute {key}: {attrs:?}"
        );
    }
    for (key, expected) in arrays {
        let text = attrs
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{key} missing or not text: {attrs:?}"));
        let parsed: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{key} = {text:?} is not JSON: {e}"));
        assert_eq!(parsed, expected, "attribute {key}");
    }

    assert_eq!(child["parent_span_id"], json!(sent.root_id), "{child:?}");
    assert_eq!(child["name"], json!("charge card"));
    assert_eq!(child["kind"], json!(KIND_CLIENT));
    assert_eq!(child["start_time_unix_nano"], json!(t0 + 5_000_011));
    assert_eq!(child["end_time_unix_nano"], json!(t0 + 30_000_013));
    assert_eq!(child["duration_nano"], json!(25_000_002));
    assert_eq!(child["status_code"], json!(STATUS_OK));
    assert_empty_text(child, "status_message");
    assert_eq!(
        child["attributes"],
        string_map([("peer.service", "payments-api"), ("server.port", "8443")])
    );

    // `attributes['key']` and id filters work in SQL.
    let rows = vigil
        .sql(&format!(
            "SELECT span_id, attributes['http.response.status_code'] AS code FROM spans \
             WHERE trace_id = '{}' AND attributes['cache.hit'] = 'false'",
            sent.trace_id
        ))
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["span_id"], json!(sent.root_id));
    assert_eq!(rows[0]["code"], json!("502"));

    check_events(vigil, sent).await;
    check_links(vigil, sent).await;
}

async fn check_events(vigil: &Vigil, sent: &Sent) {
    let t0 = nanos(sent.t0);
    let rows = vigil
        .sql(&format!(
            "SELECT span_id, e['time_unix_nano'] AS time_unix_nano, e['name'] AS name, \
             e['attributes'] AS attributes, e['dropped_attributes_count'] AS dropped \
             FROM (SELECT span_id, unnest(events) AS e FROM spans WHERE trace_id = '{}') \
             ORDER BY time_unix_nano",
            sent.trace_id
        ))
        .await;
    let expected = [
        json!({"span_id": sent.root_id, "time_unix_nano": t0 + 1_000_001, "name": "cache.miss",
               "attributes": {"cache.key": "cart:42"}, "dropped": 0}),
        json!({"span_id": sent.root_id, "time_unix_nano": t0 + 2_000_003, "name": "retry",
               "attributes": {"attempt": "2", "backoff.seconds": "0.5"}, "dropped": 0}),
        json!({"span_id": sent.child_id, "time_unix_nano": t0 + 6_000_000, "name": "request.sent",
               "attributes": {}, "dropped": 0}),
    ];
    let got: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    assert_eq!(got, expected);
}

async fn check_links(vigil: &Vigil, sent: &Sent) {
    let rows = vigil
        .sql(&format!(
            "SELECT span_id, l['trace_id'] AS trace_id, l['span_id'] AS link_span_id, \
             l['trace_state'] AS trace_state, l['attributes'] AS attributes, l['flags'] AS flags, \
             l['dropped_attributes_count'] AS dropped \
             FROM (SELECT span_id, start_time_unix_nano, unnest(links) AS l FROM spans \
                   WHERE trace_id = '{}') \
             ORDER BY start_time_unix_nano",
            sent.trace_id
        ))
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (root_link, child_link) = (&rows[0], &rows[1]);
    assert_eq!(
        Value::Object(root_link.clone()),
        json!({"span_id": sent.root_id, "trace_id": LINKED_TRACE, "link_span_id": LINKED_SPAN,
               "trace_state": "vendor=v1", "attributes": {"link.reason": "batch"},
               "flags": HAS_IS_REMOTE | IS_REMOTE | 1, "dropped": 0})
    );
    assert_eq!(child_link["span_id"], json!(sent.child_id));
    assert_eq!(child_link["trace_id"], json!(sent.trace_id));
    assert_eq!(child_link["link_span_id"], json!(SIBLING_SPAN));
    assert_empty_text(child_link, "trace_state");
    assert_eq!(child_link["attributes"], json!({}));
    assert_eq!(
        child_link["flags"],
        json!(HAS_IS_REMOTE),
        "unsampled, local: {child_link:?}"
    );
    assert_eq!(child_link["dropped"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_traces_over_grpc_keep_every_field() {
    let vigil = Vigil::start().await;
    let sent = send_trace(&vigil, Transport::Grpc).await;
    check_spans(&vigil, &sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_traces_over_http_protobuf_keep_every_field() {
    let vigil = Vigil::start().await;
    let sent = send_trace(&vigil, Transport::HttpProtobuf).await;
    check_spans(&vigil, &sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_traces_over_http_json_keep_every_field() {
    let vigil = Vigil::start().await;
    let sent = send_trace(&vigil, Transport::HttpJson).await;
    check_spans(&vigil, &sent).await;
}
