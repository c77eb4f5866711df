//! `POST /api/v1/sql` through the router: formats, tenants, errors and limits.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use arrow::ipc::reader::StreamReader;
use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use common::schema::{LOGS, SPANS};
use common::Tenant;
use query::{sql_router, QueryExecutor, SqlEngine, SqlLimits, ARROW_STREAM};
use serde_json::{json, Value};
use storage::ReadView;
use tower::ServiceExt;

use crate::fake_view::{batch, log, span, FakeView};
use crate::scan::{TRACE_A, TRACE_B};

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn post(
    router: &Router,
    tenant: Option<&str>,
    accept: Option<&str>,
    query: &str,
) -> Result<Reply> {
    let mut request = Request::post("/api/v1/sql").header("content-type", "application/json");
    if let Some(tenant) = tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let request = request.body(Body::from(json!({ "query": query }).to_string()))?;
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = to_bytes(response.into_body(), usize::MAX).await?.to_vec();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

/// Tenant `acme` has two spans of TRACE_A (one flushed, one in the head) and a log; tenant
/// `globex` has one span of TRACE_B; the default tenant has nothing.
fn two_tenants() -> Result<Arc<FakeView>> {
    let view = FakeView::new()?;
    let acme = Tenant::new("acme")?;
    let globex = Tenant::new("globex")?;
    view.add_segment(
        &acme,
        SPANS,
        &batch(
            SPANS,
            &[span(
                TRACE_A,
                "00f067aa0ba902b7",
                "GET /cart",
                100,
                json!({"http.method": "GET", "http.status_code": "200"}),
            )],
        )?,
    )?;
    view.add_head(
        &acme,
        SPANS,
        batch(
            SPANS,
            &[span(
                TRACE_A,
                "00f067aa0ba902b8",
                "SELECT cart",
                120,
                json!({}),
            )],
        )?,
    );
    view.add_head(
        &acme,
        LOGS,
        batch(LOGS, &[log(110, "cart loaded", Some(TRACE_A))])?,
    );
    view.add_segment(
        &globex,
        SPANS,
        &batch(
            SPANS,
            &[span(
                TRACE_B,
                "1111111111111111",
                "POST /pay",
                200,
                json!({}),
            )],
        )?,
    )?;
    Ok(view)
}

/// The SQL API over `view`, every query under `limits`.
fn sql_api(view: Arc<FakeView>, limits: SqlLimits) -> Router {
    let executor = Arc::new(QueryExecutor::new(2).expect("query runtime"));
    sql_router(
        Arc::new(SqlEngine::new(view as Arc<dyn ReadView>, executor)),
        limits,
    )
}

fn router(view: Arc<FakeView>) -> Router {
    sql_api(view, SqlLimits::default())
}

#[tokio::test]
async fn json_rows_show_hex_ids_maps_lists_and_numbers() -> Result<()> {
    let router = router(two_tenants()?);
    let reply = post(
        &router,
        Some("acme"),
        None,
        &format!(
            "SELECT trace_id, span_id, parent_span_id, duration_nano, attributes, events \
             FROM spans WHERE trace_id = '{}' AND attributes['http.method'] = 'GET'",
            TRACE_A.to_uppercase()
        ),
    )
    .await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, "application/json");
    let body = reply.json();
    assert_eq!(
        body["columns"],
        json!([
            {"name": "trace_id", "type": "FixedSizeBinary(16)"},
            {"name": "span_id", "type": "FixedSizeBinary(8)"},
            {"name": "parent_span_id", "type": "FixedSizeBinary(8)"},
            {"name": "duration_nano", "type": "Int64"},
            {"name": "attributes", "type": body["columns"][4]["type"]},
            {"name": "events", "type": body["columns"][5]["type"]},
        ])
    );
    assert_eq!(
        body["rows"],
        json!([{
            "trace_id": TRACE_A,
            "span_id": "00f067aa0ba902b7",
            "parent_span_id": null,
            "duration_nano": 10,
            "attributes": {"http.method": "GET", "http.status_code": "200"},
            "events": [{
                "time_unix_nano": 101,
                "name": "retry",
                "attributes": {"attempt": "1"},
                "dropped_attributes_count": 0
            }]
        }])
    );
    Ok(())
}

#[tokio::test]
async fn arrow_stream_decodes_to_the_same_rows() -> Result<()> {
    let router = router(two_tenants()?);
    let reply = post(
        &router,
        Some("acme"),
        Some(ARROW_STREAM),
        "SELECT span_id, start_time_unix_nano FROM spans ORDER BY start_time_unix_nano",
    )
    .await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, ARROW_STREAM);
    let reader = StreamReader::try_new(std::io::Cursor::new(reply.body), None)?;
    let schema = reader.schema();
    assert_eq!(schema.field(0).data_type(), &DataType::FixedSizeBinary(8));
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    let mut starts = Vec::new();
    let mut ids = Vec::new();
    for b in &batches {
        starts.extend(
            b.column(1)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .copied(),
        );
        let id = b.column(0).as_fixed_size_binary();
        ids.extend((0..id.len()).map(|i| hex::encode(id.value(i))));
    }
    assert_eq!(starts, vec![100, 120]);
    assert_eq!(ids, vec!["00f067aa0ba902b7", "00f067aa0ba902b8"]);
    Ok(())
}

#[tokio::test]
async fn each_tenant_sees_only_its_own_rows() -> Result<()> {
    let router = router(two_tenants()?);
    let sql = "SELECT name FROM spans ORDER BY name";
    let acme = post(&router, Some("acme"), None, sql).await?.json();
    assert_eq!(
        acme["rows"],
        json!([{"name": "GET /cart"}, {"name": "SELECT cart"}])
    );
    let globex = post(&router, Some("globex"), None, sql).await?.json();
    assert_eq!(globex["rows"], json!([{"name": "POST /pay"}]));
    // Even naming the other tenant's trace finds nothing.
    let cross = post(
        &router,
        Some("globex"),
        None,
        &format!("SELECT 1 FROM spans WHERE trace_id = '{TRACE_A}'"),
    )
    .await?;
    assert_eq!(cross.json()["rows"], json!([]));
    let default = post(&router, None, None, sql).await?;
    assert_eq!(default.status, StatusCode::OK);
    assert_eq!(default.json()["rows"], json!([]));
    let tables = post(&router, Some("acme"), None, "SELECT table_catalog, table_schema, table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name").await?;
    let names: Vec<_> = tables.json()["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["table_name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![
            json!("logs"),
            json!("samples"),
            json!("series"),
            json!("spans")
        ]
    );

    let bad = post(&router, Some("../etc"), None, sql).await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("invalid tenant id"));
    Ok(())
}

#[tokio::test]
async fn sql_errors_are_400_with_the_engine_message() -> Result<()> {
    let router = router(two_tenants()?);
    for (sql, needle) in [
        ("SELEC 1", "SELEC"),
        ("SELECT nope FROM spans", "nope"),
        ("SELECT * FROM secrets", "secrets"),
        ("SELECT 1 FROM spans WHERE trace_id = 'xyz'", "trace_id"),
        ("CREATE TABLE t AS SELECT 1", "DDL"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "DML"),
        ("SET datafusion.execution.batch_size = 1", "Statement"),
    ] {
        let reply = post(&router, Some("acme"), None, sql).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{sql}");
        let body = reply.json();
        assert_eq!(body["status"], "error", "{sql}");
        assert_eq!(body["errorType"], "bad_data", "{sql}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{sql}: {message}");
    }

    let not_json = router
        .clone()
        .oneshot(Request::post("/api/v1/sql").body(Body::from("SELECT 1"))?)
        .await?;
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn internal_errors_are_500_without_details() -> Result<()> {
    let view = two_tenants()?;
    view.add_missing_segment(&Tenant::new("acme")?, SPANS, 0, 1_000);
    let reply = post(&router(view), Some("acme"), None, "SELECT * FROM spans").await?;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = reply.json();
    assert_eq!(body["errorType"], "internal");
    assert!(
        !body["error"].as_str().unwrap_or_default().contains("ghost"),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn explain_and_explain_analyze_return_the_plan_as_rows() -> Result<()> {
    let router = router(two_tenants()?);
    let explain = post(
        &router,
        Some("acme"),
        None,
        "EXPLAIN SELECT name FROM spans WHERE start_time_unix_nano > 150",
    )
    .await?;
    assert_eq!(explain.status, StatusCode::OK);
    let body = explain.json();
    let plans: Vec<(String, String)> = body["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["plan_type"].as_str().unwrap_or_default().into(),
                r["plan"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let physical = plans
        .iter()
        .find(|(t, _)| t == "physical_plan")
        .map(|(_, p)| p.as_str())
        .unwrap_or_default();
    assert!(
        physical.contains("VigilScanExec: table=spans, segments_total=1, segments_pruned_by_time=1, segments_skipped_by_index=0, rows_selected_by_index=0/0, head_batches=1"),
        "{physical}"
    );

    let analyze = post(
        &router,
        Some("acme"),
        None,
        "EXPLAIN ANALYZE SELECT count(*) FROM spans",
    )
    .await?;
    assert_eq!(analyze.status, StatusCode::OK);
    let text = analyze.json().to_string();
    assert!(
        text.contains("VigilScanExec") && text.contains("output_rows"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn too_many_rows_is_refused_naming_the_limit() -> Result<()> {
    let limits = SqlLimits {
        max_result_rows: 1,
        ..SqlLimits::default()
    };
    let router = sql_api(two_tenants()?, limits);
    let ok = post(
        &router,
        Some("acme"),
        None,
        "SELECT name FROM spans LIMIT 1",
    )
    .await?;
    assert_eq!(ok.status, StatusCode::OK);
    let refused = post(&router, Some("acme"), None, "SELECT name FROM spans").await?;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let body = refused.json();
    assert_eq!(body["errorType"], "bad_data");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("max_result_rows (1 rows)"),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn slow_queries_time_out_with_503() -> Result<()> {
    let limits = SqlLimits {
        timeout: Duration::from_millis(200),
        ..SqlLimits::default()
    };
    let router = sql_api(two_tenants()?, limits);
    let reply = post(
        &router,
        None,
        None,
        "SELECT count(*) FROM generate_series(1, 100000000000)",
    )
    .await?;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_eq!(body["errorType"], "timeout");
    assert_eq!(body["status"], "error");
    Ok(())
}
