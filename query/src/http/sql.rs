//! The SQL HTTP API: `POST /api/v1/sql` with `{"query": "..."}`, answered as JSON or as an
//! Arrow IPC stream: a thin adapter over the [`SqlEngine`].

use std::sync::Arc;

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
use serde::{Deserialize, Serialize};

use crate::http::kit::{error_response, instrument, tenant};
use crate::sql::{SqlEngine, SqlLimits, SqlResult};
use crate::{Error, Result};

/// Path of the SQL endpoint.
pub const SQL_PATH: &str = "/api/v1/sql";
/// Media type of the Arrow IPC stream format, sent in `Accept` to get results as Arrow.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The API's name in request metrics and logs.
const API: &str = "sql";

struct SqlApi {
    engine: Arc<SqlEngine>,
    limits: SqlLimits,
}

/// The router serving [`SQL_PATH`] over `engine`, every query under `limits`.
pub(crate) fn router(engine: Arc<SqlEngine>, limits: SqlLimits) -> Router {
    let routes = Router::new()
        .route(SQL_PATH, post(handle_sql))
        .with_state(Arc::new(SqlApi { engine, limits }));
    instrument(API, routes)
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

async fn handle_sql(State(api): State<Arc<SqlApi>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&api, &headers, &body)
        .await
        .unwrap_or_else(|e| error_response(API, &e))
}

async fn answer(api: &SqlApi, headers: &HeaderMap, body: &[u8]) -> Result<Response> {
    let tenant = tenant(headers)?;
    let request: SqlRequest = serde_json::from_slice(body)
        .map_err(|e| Error::BadData(format!("invalid request body: {e}")))?;
    let format = if accepts_arrow(headers) {
        Format::Arrow
    } else {
        Format::Json
    };
    let result = api
        .engine
        .execute(tenant, &request.query, &api.limits)
        .await?;
    // Encoding a large result takes a while: on the query runtime, not the server's.
    let body = api
        .engine
        .executor()
        .run(api.limits.timeout, promql::Cancel::default(), async move {
            encode(format, &result)
        })
        .await?;
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

fn accepts_arrow(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(ARROW_STREAM))
}

fn encode(format: Format, result: &SqlResult) -> Result<Vec<u8>> {
    match format {
        Format::Json => encode_json(&result.schema, &result.batches),
        Format::Arrow => encode_arrow(&result.schema, &result.batches),
    }
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
    let ipc = Error::Encode;
    let mut writer = StreamWriter::try_new(Vec::new(), schema).map_err(ipc)?;
    for batch in batches {
        writer.write(batch).map_err(ipc)?;
    }
    writer.finish().map_err(ipc)?;
    writer.into_inner().map_err(ipc)
}

#[cfg(test)]
mod tests {
    use arrow::array::{FixedSizeBinaryArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn json_has_columns_rows_and_hex_ids() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("trace_id", DataType::FixedSizeBinary(2), false),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
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
}
