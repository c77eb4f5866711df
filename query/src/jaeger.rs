//! Traces as Jaeger's query service serves them ([`JaegerEngine`]), over the same stored spans
//! and code as the Tempo API: a trace is read by id through SQL, turned into OTLP by
//! `tempo::otlp` and into Jaeger's JSON model by `model.rs`; a search is the TraceQL query its
//! parameters mean (`query.rs`) run by [`TempoEngine::search`], its traces then read whole;
//! services and operations are distinct values of the `spans` table over a window.

mod go_json;
mod model;
mod query;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type};
use common::Tenant;

pub(crate) use self::model::{kind_name, kind_number, trace_id_hex, Operation, Trace};
pub(crate) use self::query::{go_duration, parse_tags, parse_trace_id, SearchQuery};
use crate::tempo::TempoEngine;
use crate::{Error, Result, SqlEngine, SqlLimits};

/// Jaeger's queries over the stored spans.
#[derive(Debug)]
pub struct JaegerEngine {
    tempo: Arc<TempoEngine>,
    sql: Arc<SqlEngine>,
    limits: SqlLimits,
}

impl JaegerEngine {
    /// An engine searching through `tempo` and reading through `sql` under `limits` (the most
    /// spans the traces of one read may have is `max_result_rows`).
    pub fn new(tempo: Arc<TempoEngine>, sql: Arc<SqlEngine>, limits: SqlLimits) -> Self {
        Self { tempo, sql, limits }
    }

    /// The services of `tenant`'s spans starting in `[start, end]` (ns), sorted.
    pub(crate) async fn services(
        &self,
        tenant: Tenant,
        (start, end): (i64, i64),
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT DISTINCT service_name FROM spans \
             WHERE start_time_unix_nano >= {start} AND start_time_unix_nano <= {end} \
             ORDER BY service_name"
        );
        let result = self.sql.execute(tenant, &sql, &self.limits).await?;
        let mut out = Vec::new();
        for b in &result.batches {
            out.extend(strings(b, "service_name")?);
        }
        Ok(out)
    }

    /// The operations (span names and kinds) of `service` among `tenant`'s spans starting in
    /// `[start, end]` (ns), of OTLP span kind `kind` when one is given, sorted.
    pub(crate) async fn operations(
        &self,
        tenant: Tenant,
        service: &str,
        kind: Option<i32>,
        (start, end): (i64, i64),
    ) -> Result<Vec<Operation>> {
        let kind = kind.map(|k| format!(" AND kind = {k}")).unwrap_or_default();
        let sql = format!(
            "SELECT DISTINCT name, kind FROM spans WHERE service_name = {}{kind} \
             AND start_time_unix_nano >= {start} AND start_time_unix_nano <= {end}",
            sql_text(service)
        );
        let result = self.sql.execute(tenant, &sql, &self.limits).await?;
        let mut out = Vec::new();
        for b in &result.batches {
            let names = strings(b, "name")?;
            let kinds =
                arrow::compute::cast(column(b, "kind")?, &DataType::Int32).map_err(read_error)?;
            let kinds = kinds
                .as_primitive_opt::<Int32Type>()
                .ok_or_else(|| read_error("spans rows without a readable kind column"))?;
            for (i, name) in names.into_iter().enumerate() {
                out.push(Operation {
                    name,
                    span_kind: kind_name(kinds.value(i)).unwrap_or(""),
                });
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Trace `id` of `tenant`, with a span started within `window` (ns, inclusive) when one is
    /// given; `None` when it has no spans.
    pub(crate) async fn trace(
        &self,
        tenant: Tenant,
        id: [u8; 16],
        window: Option<(i64, i64)>,
    ) -> Result<Option<Trace>> {
        let spans = self.tempo.trace_by_id(tenant, id, window).await?;
        Ok(model::traces(&spans)
            .into_iter()
            .find(|(found, _)| *found == id)
            .map(|(_, trace)| trace))
    }

    /// The traces `ids` of `tenant` that have spans, each read whole, in the order of `ids`.
    pub(crate) async fn traces(
        &self,
        tenant: &Tenant,
        ids: &[[u8; 16]],
    ) -> Result<Vec<([u8; 16], Trace)>> {
        let spans = self.tempo.resource_spans_by_id(tenant, ids).await?;
        let mut found: HashMap<[u8; 16], Trace> = model::traces(&spans).into_iter().collect();
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id).map(|t| (*id, t)))
            .collect())
    }

    /// The traces of `tenant` with a span starting in `[start, end]` (ns) that `query`
    /// matches, newest first, at most `limit`, each read whole.
    pub(crate) async fn search(
        &self,
        tenant: Tenant,
        query: &SearchQuery,
        window: (i64, i64),
        limit: usize,
    ) -> Result<Vec<Trace>> {
        let (found, _) = self
            .tempo
            .search(tenant.clone(), &query.traceql(), window, limit)
            .await?;
        let ids: Vec<[u8; 16]> = found
            .iter()
            .filter_map(|f| f.trace.spans.first().map(|s| s.trace_id))
            .collect();
        Ok(self
            .traces(&tenant, &ids)
            .await?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }
}

/// `s` as a SQL string literal.
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn read_error(e: impl ToString) -> Error {
    Error::Storage(storage::Error::Read(e.to_string()))
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a arrow::array::ArrayRef> {
    b.column_by_name(name)
        .ok_or_else(|| read_error(format!("spans rows without a {name} column")))
}

/// The texts of string column `name` (plain or views), empty for nulls.
fn strings(b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    let cast = arrow::compute::cast(column(b, name)?, &DataType::Utf8).map_err(read_error)?;
    let texts = cast
        .as_string_opt::<i32>()
        .ok_or_else(|| read_error(format!("spans rows without a readable {name} column")))?;
    Ok((0..texts.len())
        .map(|i| {
            if texts.is_null(i) {
                String::new()
            } else {
                texts.value(i).to_string()
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_texts_escape_quotes() {
        assert_eq!(sql_text("o'brien"), "'o''brien'");
    }
}
