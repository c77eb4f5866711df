//! Operating endpoints (`/healthz`, `/ready`, `/metrics`) and tenant isolation.

use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::{Span as _, Tracer as _};
use opentelemetry_sdk::trace::SpanExporter as _;
use serde_json::json;

use crate::harness::{base_time, metric_sum, poll, Vigil};
use crate::otlp::{self, Transport, TENANT_HEADER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_self_metrics_report_ingest() {
    let vigil = Vigil::start().await;
    assert_eq!(vigil.get("/healthz").await.0, 200);
    assert_eq!(vigil.get("/ready").await.0, 200);

    let before = vigil.metrics_text().await;
    assert_eq!(
        metric_sum(&before, "vigil_ingest_items_received_total").unwrap_or(0.0),
        0.0,
        "{before}"
    );
    assert_eq!(
        metric_sum(&before, "vigil_storage_flushes_total").unwrap_or(0.0),
        0.0
    );

    let exporter = otlp::plain_grpc_span_exporter(&vigil, Duration::from_secs(20));
    let t0 = base_time();
    let batch = (1..=3)
        .map(|id| otlp::span_data(0xab_u128 << 64 | u128::from(id), id, t0, 1))
        .collect();
    exporter.export(batch).await.expect("span export");

    // Exactly the three spans, however the counter is labelled.
    let text = poll(
        "items received counted",
        Duration::from_secs(10),
        || async {
            let text = vigil.metrics_text().await;
            match metric_sum(&text, "vigil_ingest_items_received_total") {
                Some(3.0) => Ok(text),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(
        text.contains("# TYPE vigil_ingest_items_received_total counter"),
        "{text}"
    );
    let wal_bytes = metric_sum(&text, "vigil_wal_bytes_written_total").unwrap_or(0.0);
    assert!(
        wal_bytes > 0.0,
        "vigil_wal_bytes_written_total after an ack: {wal_bytes}"
    );

    vigil.flush().await;
    let text = vigil.metrics_text().await;
    let flushes = metric_sum(&text, "vigil_storage_flushes_total").unwrap_or(0.0);
    assert!(
        flushes >= 1.0,
        "vigil_storage_flushes_total after a flush: {flushes}\n{text}"
    );
    assert_eq!(
        metric_sum(&text, "vigil_ingest_items_received_total"),
        Some(3.0),
        "a flush is not ingest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_do_not_see_each_other() {
    let vigil = Vigil::start().await;
    let t0 = base_time();

    // Tenant a: two spans over gRPC.
    let exporter = otlp::span_exporter(&vigil, Transport::Grpc, Some("team-a"));
    otlp::export_with_tracer(exporter, otlp::resource(), move |tracer| {
        for name in ["a-one", "a-two"] {
            let mut span = tracer.span_builder(name).with_start_time(t0).start(tracer);
            span.end_with_timestamp(t0 + Duration::from_millis(1));
        }
    })
    .await;
    // Tenant b: one span and one log record over OTLP/HTTP.
    let exporter = otlp::span_exporter(&vigil, Transport::HttpProtobuf, Some("team-b"));
    otlp::export_with_tracer(exporter, otlp::resource(), move |tracer| {
        let mut span = tracer
            .span_builder("b-one")
            .with_start_time(t0)
            .start(tracer);
        span.end_with_timestamp(t0 + Duration::from_millis(1));
    })
    .await;
    let exporter = otlp::log_exporter(&vigil, Transport::HttpJson, Some("team-b"));
    otlp::export_with_logger(exporter, otlp::resource(), move |logger| {
        let mut record = logger.create_log_record();
        record.set_timestamp(t0);
        record.set_observed_timestamp(SystemTime::now());
        record.set_severity_number(Severity::Info);
        record.set_body(AnyValue::from("only for b"));
        logger.emit(record);
    })
    .await;

    let names = |tenant: Option<&'static str>| {
        let vigil = &vigil;
        async move {
            let rows = vigil
                .sql_as(tenant, "SELECT name FROM spans ORDER BY name")
                .await;
            rows.into_iter()
                .map(|r| r["name"].clone())
                .collect::<Vec<_>>()
        }
    };
    poll(
        "each tenant sees its spans",
        Duration::from_secs(10),
        || async {
            let (a, b) = (names(Some("team-a")).await, names(Some("team-b")).await);
            if a == vec![json!("a-one"), json!("a-two")] && b == vec![json!("b-one")] {
                Ok(())
            } else {
                Err(format!("team-a: {a:?}, team-b: {b:?}"))
            }
        },
    )
    .await;
    assert!(
        names(None).await.is_empty(),
        "the default tenant sees others' spans"
    );
    assert!(
        names(Some("team-c")).await.is_empty(),
        "team-c sees others' spans"
    );

    let logs = |tenant: Option<&'static str>| {
        let vigil = &vigil;
        async move { vigil.sql_as(tenant, "SELECT body FROM logs").await }
    };
    let b_logs = poll("team-b sees its log", Duration::from_secs(10), || async {
        let rows = logs(Some("team-b")).await;
        if rows.is_empty() {
            Err("no rows".to_string())
        } else {
            Ok(rows)
        }
    })
    .await;
    assert_eq!(b_logs.len(), 1, "{b_logs:?}");
    assert_eq!(b_logs[0]["body"], json!("only for b"));
    assert!(
        logs(Some("team-a")).await.is_empty(),
        "team-a sees team-b's logs"
    );
    assert!(
        logs(None).await.is_empty(),
        "the default tenant sees team-b's logs"
    );

    // A tenant id that is not a safe path component is refused at ingest.
    let resp = vigil
        .http()
        .post(vigil.otlp_http_url("/v1/traces"))
        .header("content-type", "application/json")
        .header(TENANT_HEADER, "../etc")
        .body("{}")
        .send()
        .await
        .expect("POST /v1/traces");
    assert_eq!(resp.status().as_u16(), 400, "tenant ../etc");
}
