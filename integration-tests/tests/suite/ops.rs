//! Operating endpoints (`/healthz`, `/ready`, `/metrics`) and tenant isolation.

use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::{Span as _, Tracer as _};
use opentelemetry_sdk::trace::SpanExporter as _;
use serde_json::json;

use crate::harness::{base_time, metric_sum, metric_with, poll, send_signal, Vigil};
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
async fn front_page_request_metrics_and_plain_logs() {
    let vigil = Vigil::start().await;
    let (status, page) = vigil.get("/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<title>Vigil</title>"), "{page}");
    for link in [
        "/api/v1/status/buildinfo",
        "/metrics",
        "/api/v1/sql",
        "X-Scope-OrgID",
    ] {
        assert!(page.contains(link), "front page lacks {link}: {page}");
    }
    let grpc = vigil.addrs().otlp_grpc.to_string();
    assert!(
        page.contains(&grpc),
        "front page lacks the OTLP/gRPC address {grpc}"
    );

    // Two good queries, one bad one, one SQL error: counted per API, endpoint and error type.
    for q in ["up", "vector(1)"] {
        let (status, body) = vigil.get(&format!("/api/v1/query?query={q}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = vigil.get("/api/v1/query?query=sum(").await;
    assert_eq!(status, 400);
    let (status, _) = vigil.sql_response(None, "SELECT * FROM nowhere").await;
    assert_eq!(status, 400);
    let text = vigil.metrics_text().await;
    let query = [("api", "prometheus"), ("endpoint", "/api/v1/query")];
    let ok = [query[0], query[1], ("code", "200")];
    assert_eq!(
        metric_with(&text, "vigil_http_requests_total", &ok),
        Some(2.0),
        "{text}"
    );
    let bad = [query[0], query[1], ("code", "400")];
    assert_eq!(
        metric_with(&text, "vigil_http_requests_total", &bad),
        Some(1.0)
    );
    let errors = [query[0], query[1], ("error_type", "bad_data")];
    assert_eq!(
        metric_with(&text, "vigil_http_request_errors_total", &errors),
        Some(1.0)
    );
    assert_eq!(
        metric_with(&text, "vigil_http_request_duration_seconds_count", &query),
        Some(3.0)
    );
    let sql = [
        ("api", "sql"),
        ("endpoint", "/api/v1/sql"),
        ("error_type", "bad_data"),
    ];
    assert_eq!(
        metric_with(&text, "vigil_http_request_errors_total", &sql),
        Some(1.0)
    );

    // Logs go to a file here: no terminal colour codes in them.
    let logs = vigil.logs();
    assert!(logs.contains("vigil ready"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in logs written to a file:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_fails_a_test_whose_server_died_or_logged_a_panic() {
    let mut vigil = Vigil::start().await;
    send_signal(vigil.pid(), libc::SIGKILL);
    // Wait for the process itself to exit: its sockets close before the kernel reports the exit,
    // so a refused connection alone does not yet mean the harness can see the death.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !vigil.has_exited() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server survived SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(vigil)));
    assert!(
        dropped.is_err(),
        "a server that died on its own went unnoticed"
    );

    // A panic in a background task leaves the process running; its message is in the log.
    let vigil = Vigil::start().await;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(vigil.log_file())
        .expect("open the server's log");
    std::io::Write::write_all(
        &mut log,
        b"thread 'vigil-io' panicked at storage/src/engine/flush.rs:1:1:\nboom\n",
    )
    .expect("append to the log");
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(vigil)));
    assert!(
        dropped.is_err(),
        "a server that logged a panic went unnoticed"
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
