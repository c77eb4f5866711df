//! Traces as Tempo serves them ([`TempoEngine`]): a trace by id read through SQL (span segments
//! are sorted by `trace_id` with a bloom filter on it, so no time range is needed), turned back
//! into OTLP (`otlp.rs`) and written in Tempo's protobuf or JSON (`json.rs`). TraceQL search,
//! tags and metrics follow (issue 18).

pub(crate) mod json;
pub(crate) mod otlp;
pub(crate) mod search;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::Tenant;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

use crate::{Error, Result, SqlEngine, SqlLimits};

/// Tempo's queries over the stored spans.
#[derive(Debug)]
pub struct TempoEngine {
    sql: Arc<SqlEngine>,
    limits: SqlLimits,
}

impl TempoEngine {
    /// An engine reading through `sql` under `limits` (the most spans a trace may have is
    /// `max_result_rows`).
    pub fn new(sql: Arc<SqlEngine>, limits: SqlLimits) -> Self {
        Self { sql, limits }
    }

    /// The spans of trace `id` of `tenant` grouped as OTLP, started within `window` (ns,
    /// inclusive) when one is given; empty when there are none.
    pub async fn trace_by_id(
        &self,
        tenant: Tenant,
        id: [u8; 16],
        window: Option<(i64, i64)>,
    ) -> Result<Vec<ResourceSpans>> {
        let mut sql = format!("SELECT * FROM spans WHERE trace_id = '{}'", hex::encode(id));
        if let Some((start, end)) = window {
            sql.push_str(&format!(
                " AND start_time_unix_nano >= {start} AND start_time_unix_nano <= {end}"
            ));
        }
        let result = self.sql.execute(tenant, &sql, &self.limits).await?;
        otlp::resource_spans(&result.batches)
    }
}

impl TempoEngine {
    /// The traces of `tenant` with a span starting in `[start, end]` (ns) that TraceQL
    /// search `q` matches, newest first, at most `limit`. The window is read whole, at most
    /// `max_result_rows` spans (a larger one is refused: narrow it). Also how many traces
    /// were inspected.
    pub async fn search(
        &self,
        tenant: Tenant,
        q: &str,
        (start, end): (i64, i64),
        limit: usize,
    ) -> Result<(Vec<search::FoundTrace>, usize)> {
        let expr = traceql::parse_and_validate(q).map_err(|e| Error::BadData(e.to_string()))?;
        let search =
            traceql::eval::Search::new(&expr).map_err(|e| Error::BadData(e.to_string()))?;
        let sql = format!(
            "SELECT * FROM spans WHERE trace_id IN (SELECT DISTINCT trace_id FROM spans \
             WHERE start_time_unix_nano >= {start} AND start_time_unix_nano <= {end})"
        );
        let result = self.sql.execute(tenant, &sql, &self.limits).await?;
        let traces = search::traces(&otlp::resource_spans(&result.batches)?);
        search::run(&search, traces, limit).map_err(|e| Error::BadData(e.to_string()))
    }
}

impl TempoEngine {
    /// The attribute keys of `tenant`'s spans that may lie in `[start, end]` (ns): span
    /// attributes and resource attributes, from the segment indexes and the unflushed rows (a
    /// superset), or read from the spans of the window when a segment has no index.
    pub async fn tag_keys(
        &self,
        tenant: Tenant,
        window: (i64, i64),
    ) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
        let keys = |column: &'static str| {
            self.sql
                .attribute_keys(&tenant, common::schema::SPANS, column, window)
        };
        if let (Some(span), Some(resource)) =
            (keys("attributes").await, keys("resource_attributes").await)
        {
            return Ok((span, resource));
        }
        let (found, _) = self.search(tenant, "{}", window, usize::MAX).await?;
        let (mut span, mut resource) = (BTreeSet::new(), BTreeSet::new());
        for t in &found {
            for s in &t.trace.spans {
                span.extend(s.span_attrs.iter().map(|(k, _)| k.clone()));
                resource.extend(s.resource_attrs.iter().map(|(k, _)| k.clone()));
            }
        }
        Ok((span, resource))
    }

    /// The distinct values of field `tag` (TraceQL: `span.x`, `resource.x`, `.x`, an
    /// intrinsic) on the spans that TraceQL `q` matches among those of `tenant` starting in
    /// `window` (ns), typed, at most `limit`.
    pub async fn tag_values(
        &self,
        tenant: Tenant,
        tag: &str,
        q: &str,
        window: (i64, i64),
        limit: usize,
    ) -> Result<Vec<traceql::eval::Value>> {
        let query = format!("{q} | select({tag})");
        let (found, _) = self.search(tenant, &query, window, usize::MAX).await?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for t in &found {
            for set in &t.spansets {
                for m in &set.spans {
                    for (_, v) in &m.selected {
                        if out.len() < limit && seen.insert(format!("{v:?}")) {
                            out.push(v.clone());
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A trace id as Tempo reads one from a URL: up to 32 hex digits, left-padded with zeros.
pub fn parse_trace_id(text: &str) -> Option<[u8; 16]> {
    if text.is_empty() || text.len() > 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{text:0>32}");
    let mut id = [0u8; 16];
    hex::decode_to_slice(padded, &mut id).ok()?;
    Some(id)
}
