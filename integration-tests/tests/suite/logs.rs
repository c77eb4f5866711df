//! Log records sent by the OpenTelemetry SDK through the OTLP log exporter, over each transport,
//! come back from SQL exactly: severity, string and map bodies, attributes, trace context.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::Key;
use opentelemetry_sdk::logs::SdkLogger;
use serde_json::{json, Value};

use crate::harness::{base_time, nanos, poll, Row, Vigil};
use crate::otlp::{self, Transport};

const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
const SPAN_ID: &str = "eee19b7ec3c1b174";

fn at(t0: SystemTime, offset_nanos: u64) -> SystemTime {
    t0 + Duration::from_nanos(offset_nanos)
}

/// Emits two records: an error with a string body, attributes of every type and a trace
/// context; and an info record with a map body and no trace context.
fn emit_logs(logger: &SdkLogger, t0: SystemTime) {
    let mut error = logger.create_log_record();
    error.set_timestamp(at(t0, 1_001));
    error.set_observed_timestamp(at(t0, 2_002));
    error.set_severity_number(Severity::Error);
    error.set_severity_text("ERROR");
    error.set_event_name("payment.failed");
    error.set_body(AnyValue::from("payment failed for order 42"));
    error.add_attribute("order.id", 42_i64);
    error.add_attribute("retryable", true);
    error.add_attribute("amount", 12.5);
    error.add_attribute(
        "raw",
        AnyValue::Bytes(Box::new(vec![0xde, 0xad, 0xbe, 0xef])),
    );
    error.add_attribute(
        "items",
        AnyValue::ListAny(Box::new(vec![AnyValue::from("sku-1"), AnyValue::Int(2)])),
    );
    error.add_attribute(
        "customer",
        AnyValue::Map(Box::new(HashMap::from([(
            Key::from("tier"),
            AnyValue::from("gold"),
        )]))),
    );
    error.set_trace_context(
        TraceId::from_hex(TRACE_ID).expect("hex"),
        SpanId::from_hex(SPAN_ID).expect("hex"),
        Some(TraceFlags::SAMPLED),
    );
    logger.emit(error);

    let mut info = logger.create_log_record();
    info.set_timestamp(at(t0, 3_003));
    info.set_observed_timestamp(at(t0, 4_004));
    info.set_severity_number(Severity::Info);
    info.set_severity_text("INFO");
    info.set_body(AnyValue::Map(Box::new(HashMap::from([
        (Key::from("user"), AnyValue::from("alice")),
        (Key::from("attempt"), AnyValue::Int(3)),
        (Key::from("ok"), AnyValue::Boolean(true)),
        (Key::from("ratio"), AnyValue::Double(0.5)),
        (
            Key::from("nested"),
            AnyValue::Map(Box::new(HashMap::from([(
                Key::from("k"),
                AnyValue::from("v"),
            )]))),
        ),
        (
            Key::from("list"),
            AnyValue::ListAny(Box::new(vec![AnyValue::Int(1), AnyValue::from("x")])),
        ),
    ]))));
    info.add_attribute("user.id", "alice");
    logger.emit(info);
}

async fn send_logs(vigil: &Vigil, transport: Transport) -> SystemTime {
    let exporter = otlp::log_exporter(vigil, transport, None);
    let t0 = base_time();
    otlp::export_with_logger(exporter, otlp::resource(), move |logger| {
        emit_logs(logger, t0);
    })
    .await;
    t0
}

fn json_text(row: &Row, key: &str) -> Value {
    let text = row[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not text: {row:?}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} = {text:?} is not JSON: {e}"))
}

async fn check_logs(vigil: &Vigil, t0: SystemTime) {
    let t0 = nanos(t0);
    let query = "SELECT time_unix_nano, observed_time_unix_nano, severity_number, severity_text, \
                 body, trace_id, span_id, flags, event_name, service_name, resource_attributes, \
                 resource_schema_url, scope_name, scope_version, scope_attributes, \
                 scope_schema_url, attributes, dropped_attributes_count \
                 FROM logs ORDER BY time_unix_nano";
    let rows = poll("logs visible", Duration::from_secs(10), || async {
        let rows = vigil.sql(query).await;
        if rows.len() == 2 {
            Ok(rows)
        } else {
            Err(format!("{} rows", rows.len()))
        }
    })
    .await;
    for row in &rows {
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
        assert_eq!(row["dropped_attributes_count"], json!(0), "{row:?}");
    }

    let error = &rows[0];
    assert_eq!(error["time_unix_nano"], json!(t0 + 1_001));
    assert_eq!(error["observed_time_unix_nano"], json!(t0 + 2_002));
    assert_eq!(error["severity_number"], json!(17), "SEVERITY_NUMBER_ERROR");
    assert_eq!(error["severity_text"], json!("ERROR"));
    assert_eq!(error["body"], json!("payment failed for order 42"));
    assert_eq!(error["trace_id"], json!(TRACE_ID));
    assert_eq!(error["span_id"], json!(SPAN_ID));
    assert_eq!(error["flags"], json!(1), "sampled");
    assert_eq!(error["event_name"], json!("payment.failed"));
    let attrs = error["attributes"].as_object().expect("attributes map");
    assert_eq!(attrs.len(), 6, "{attrs:?}");
    assert_eq!(attrs["order.id"], json!("42"));
    assert_eq!(attrs["retryable"], json!("true"));
    assert_eq!(attrs["amount"], json!("12.5"));
    assert_eq!(attrs["raw"], json!("3q2+7w=="), "bytes in base64");
    assert_eq!(json_text(attrs, "items"), json!(["sku-1", 2]));
    assert_eq!(json_text(attrs, "customer"), json!({"tier": "gold"}));

    let info = &rows[1];
    assert_eq!(info["time_unix_nano"], json!(t0 + 3_003));
    assert_eq!(info["observed_time_unix_nano"], json!(t0 + 4_004));
    assert_eq!(info["severity_number"], json!(9), "SEVERITY_NUMBER_INFO");
    assert_eq!(info["severity_text"], json!("INFO"));
    assert_eq!(
        json_text(info, "body"),
        json!({"user": "alice", "attempt": 3, "ok": true, "ratio": 0.5,
               "nested": {"k": "v"}, "list": [1, "x"]})
    );
    assert!(info["trace_id"].is_null(), "{info:?}");
    assert!(info["span_id"].is_null(), "{info:?}");
    assert_eq!(info["flags"], json!(0));
    assert!(
        info["event_name"].is_null() || info["event_name"] == "",
        "no event name: {info:?}"
    );
    assert_eq!(info["attributes"], json!({"user.id": "alice"}));

    // Filters on severity, attributes and trace id work in SQL.
    let rows = vigil
        .sql(&format!(
            "SELECT severity_text FROM logs WHERE severity_number >= 17 \
             AND attributes['order.id'] = '42' AND trace_id = '{TRACE_ID}'"
        ))
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["severity_text"], json!("ERROR"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_logs_over_grpc_keep_every_field() {
    let vigil = Vigil::start().await;
    let t0 = send_logs(&vigil, Transport::Grpc).await;
    check_logs(&vigil, t0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_logs_over_http_protobuf_keep_every_field() {
    let vigil = Vigil::start().await;
    let t0 = send_logs(&vigil, Transport::HttpProtobuf).await;
    check_logs(&vigil, t0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_logs_over_http_json_keep_every_field() {
    let vigil = Vigil::start().await;
    let t0 = send_logs(&vigil, Transport::HttpJson).await;
    check_logs(&vigil, t0).await;
}
