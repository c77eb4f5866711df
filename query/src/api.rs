//! The SQL HTTP API: `POST /api/v1/sql` with `{"query": "..."}`, answered as JSON or as an
//! Arrow IPC stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::StreamWriter;
use arrow::json::writer::JsonArray;
use arrow::json::WriterBuilder;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use common::{ErrorCode, Tenant};
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SQLOptions;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use storage::ReadView;
use tokio::task::AbortHandle;
use tracing::{debug, error, warn};

use crate::executor::QueryExecutor;
use crate::session::{build_session, register_store};
use crate::{Error, Result};

/// Path of the SQL endpoint.
pub const SQL_PATH: &str = "/api/v1/sql";
/// Header naming the tenant; absent means [`Tenant::default_tenant`].
pub const TENANT_HEADER: &str = "X-Scope-OrgID";
/// Media type of the Arrow IPC stream format, sent in `Accept` to get results as Arrow.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// Limits that every SQL query runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most rows a result may have. A larger result is refused with a 400 that names this
    /// limit rather than truncated, so no client can mistake part of an answer for all of it;
    /// execution stops as soon as the limit is passed.
    pub max_result_rows: usize,
    /// Longest a query may take, planning and encoding included; past it the query is
    /// cancelled and the answer is a 503 with `errorType` `timeout`.
    pub timeout: Duration,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_result_rows: 100_000,
            timeout: Duration::from_secs(60),
        }
    }
}

/// The router serving [`SQL_PATH`] over `view`, with queries executed on a [`QueryExecutor`] of
/// [`QueryExecutor::default_threads`] threads.
pub fn sql_router(view: Arc<dyn ReadView>, limits: QueryLimits) -> Router {
    let executor = match QueryExecutor::new(QueryExecutor::default_threads()) {
        Ok(executor) => Some(Arc::new(executor)),
        Err(error) => {
            warn!(%error, "failed to start the query runtime, queries share the server runtime");
            None
        }
    };
    router(view, limits, executor)
}

/// Like [`sql_router`], executing queries on `executor` (which may be shared with other query
/// languages).
pub fn sql_router_with_executor(
    view: Arc<dyn ReadView>,
    limits: QueryLimits,
    executor: Arc<QueryExecutor>,
) -> Router {
    router(view, limits, Some(executor))
}

fn router(
    view: Arc<dyn ReadView>,
    limits: QueryLimits,
    executor: Option<Arc<QueryExecutor>>,
) -> Router {
    // One runtime environment for all sessions: it holds the store and the Parquet footer cache.
    let runtime = Arc::new(RuntimeEnv::default());
    register_store(&runtime, view.as_ref());
    let state = Arc::new(SqlState {
        view,
        limits,
        executor,
        runtime,
    });
    Router::new()
        .route(SQL_PATH, post(handle_sql))
        .with_state(state)
}

struct SqlState {
    view: Arc<dyn ReadView>,
    limits: QueryLimits,
    executor: Option<Arc<QueryExecutor>>,
    runtime: Arc<RuntimeEnv>,
}

#[derive(Debug, Deserialize)]
struct SqlRequest {
    query: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Arrow,
}

async fn handle_sql(
    State(state): State<Arc<SqlState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    match answer(&state, &headers, &body).await {
        Ok(response) => {
            debug!(elapsed = ?started.elapsed(), "sql query answered");
            response
        }
        Err(e) => error_response(&e),
    }
}

async fn answer(state: &SqlState, headers: &HeaderMap, body: &[u8]) -> Result<Response> {
    let tenant = tenant(headers)?;
    let request: SqlRequest = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("invalid request body: {e}")))?;
    let format = if accepts_arrow(headers) {
        Format::Arrow
    } else {
        Format::Json
    };

    let view = Arc::clone(&state.view);
    let runtime = Arc::clone(&state.runtime);
    let max_rows = state.limits.max_result_rows;
    let task = async move {
        let ctx = build_session(view, tenant, runtime);
        let (schema, batches) = run_query(&ctx, &request.query, max_rows).await?;
        match format {
            Format::Json => encode_json(&schema, &batches),
            Format::Arrow => encode_arrow(&schema, &batches),
        }
    };
    let handle = match &state.executor {
        Some(executor) => executor.spawn(task),
        None => tokio::spawn(task),
    };
    // Cancel the query when the client goes away (this future is dropped) or time runs out.
    let _guard = AbortOnDrop(handle.abort_handle());
    let body = match tokio::time::timeout(state.limits.timeout, handle).await {
        Err(_elapsed) => return Err(Error::Timeout(state.limits.timeout)),
        Ok(Err(join)) => return Err(Error::Executor(join.to_string())),
        Ok(Ok(body)) => body?,
    };
    let content_type = match format {
        Format::Json => "application/json",
        Format::Arrow => ARROW_STREAM,
    };
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response())
}

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) fn tenant(headers: &HeaderMap) -> Result<Tenant> {
    match headers.get(TENANT_HEADER) {
        None => Ok(Tenant::default_tenant()),
        Some(value) => {
            let id = value.to_str().map_err(|_| {
                Error::BadRequest(format!("invalid {TENANT_HEADER} header: not visible ASCII"))
            })?;
            Tenant::new(id).map_err(|e| Error::BadRequest(e.to_string()))
        }
    }
}

fn accepts_arrow(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(ARROW_STREAM))
}

/// Plans and runs `sql` (one read-only statement: no DDL, DML or `SET`), collecting at most
/// `max_rows` rows.
async fn run_query(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
    max_rows: usize,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = ctx.sql_with_options(sql, options).await?;
    let mut stream = frame.execute_stream().await?;
    let schema = stream.schema();
    let mut batches = Vec::new();
    let mut rows = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        if rows > max_rows {
            return Err(Error::TooManyRows { limit: max_rows });
        }
        batches.push(batch);
    }
    Ok((schema, batches))
}

#[derive(Serialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
}

/// `{"columns":[{"name":..,"type":..}],"rows":[{..},..]}`; every row names every column (nulls
/// included), ids are lowercase hex, maps are objects and lists are arrays.
fn encode_json(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let columns: Vec<Column> = schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
        })
        .collect();
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"columns\":");
    serde_json::to_writer(&mut out, &columns)
        .map_err(|e| Error::Encode(arrow::error::ArrowError::JsonError(e.to_string())))?;
    out.extend_from_slice(b",\"rows\":");
    let mut writer = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(&mut out);
    for batch in batches {
        writer.write(batch).map_err(Error::Encode)?;
    }
    writer.finish().map_err(Error::Encode)?;
    drop(writer);
    out.push(b'}');
    Ok(out)
}

fn encode_arrow(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let ipc = |e| Error::DataFusion(DataFusionError::from(e));
    let mut writer = StreamWriter::try_new(Vec::new(), schema).map_err(ipc)?;
    for batch in batches {
        writer.write(batch).map_err(ipc)?;
    }
    writer.finish().map_err(ipc)?;
    writer.into_inner().map_err(ipc)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: &'static str,
    #[serde(rename = "errorType")]
    error_type: &'static str,
    error: &'a str,
}

/// The one place query errors become responses; internal details go to the log only.
fn error_response(e: &Error) -> Response {
    let code = e.code();
    let message = match code {
        ErrorCode::Internal => {
            error!(error = %e, "sql query failed");
            "internal error, see the server log".to_string()
        }
        _ => e.to_string(),
    };
    let body = ErrorBody {
        status: "error",
        error_type: e.error_type(),
        error: &message,
    };
    (code.http_status(), axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use arrow::array::{FixedSizeBinaryArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn tenant_comes_from_the_header_or_defaults() {
        let mut headers = HeaderMap::new();
        assert_eq!(tenant(&headers).unwrap(), Tenant::default_tenant());
        headers.insert(TENANT_HEADER, HeaderValue::from_static("team-a"));
        assert_eq!(tenant(&headers).unwrap().as_str(), "team-a");
        headers.insert(TENANT_HEADER, HeaderValue::from_static("../etc"));
        assert_eq!(
            tenant(&headers).unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn json_has_columns_rows_and_hex_ids() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("trace_id", DataType::FixedSizeBinary(2), false),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(
                    FixedSizeBinaryArray::try_from_iter([[0xABu8, 0x01]].into_iter()).unwrap(),
                ),
                Arc::new(Int64Array::from(vec![None])),
            ],
        )
        .unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&encode_json(&schema, &[batch]).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "columns": [
                    {"name": "trace_id", "type": "FixedSizeBinary(2)"},
                    {"name": "n", "type": "Int64"}
                ],
                "rows": [{"trace_id": "ab01", "n": null}]
            })
        );
        let empty: serde_json::Value =
            serde_json::from_slice(&encode_json(&schema, &[]).unwrap()).unwrap();
        assert_eq!(empty["rows"], serde_json::json!([]));
    }

    #[test]
    fn internal_errors_are_not_shown() {
        let e = Error::DataFusion(DataFusionError::Internal("secret path /x".into()));
        let response = error_response(&e);
        assert_eq!(response.status(), 500);
    }
}
