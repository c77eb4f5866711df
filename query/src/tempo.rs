//! Traces as Tempo serves them ([`TempoEngine`]): a trace by id read through SQL (the segment
//! index maps each trace id to its one run of rows, so no time range is needed), turned back
//! into OTLP (`otlp.rs`) and written in Tempo's protobuf or JSON (`json.rs`). TraceQL search,
//! tags and metrics follow (issue 18).

pub(crate) mod answer;
pub(crate) mod json;
mod legacy;
pub(crate) mod otlp;
mod plan;
pub(crate) mod search;
pub(crate) mod wire;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray, FixedSizeBinaryArray, Int64Array, RecordBatch};
use arrow::datatypes::Int64Type;
use common::Tenant;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use traceql::metrics::{MetricsEval, MetricsOutput, MetricsRequest};

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
    /// search `q` matches, newest first, at most `limit`; also how many traces were
    /// inspected. Candidates come newest first from the spans that meet the query's row
    /// condition (`plan`, answered by the segment indexes): the window is walked backwards
    /// in slices that double in width (span segments are laid out by trace start, so a slice
    /// reads only the pages of its time), each slice a page at a time; each page's traces are
    /// read whole by id and evaluated, until `limit` traces matched and no unread candidate
    /// can belong to a trace that starts later than the `limit`-th of them, or the window is
    /// exhausted.
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
        let condition = plan::candidates(&expr)
            .map(|c| format!(" AND {c}"))
            .unwrap_or_default();
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut inspected = 0;
        let mut width = first_slice(start, end);
        let mut upper = end;
        // The oldest span start that can still change the answer.
        let mut floor = start;
        let mut page = limit.saturating_mul(4).clamp(64, CANDIDATE_PAGE_MAX);
        while limit > 0 && upper >= floor {
            let lower = upper.saturating_sub(width).max(floor);
            let sql = format!(
                "SELECT trace_id, start_time_unix_nano FROM spans \
                 WHERE start_time_unix_nano >= {lower} AND start_time_unix_nano <= {upper}\
                 {condition} ORDER BY start_time_unix_nano DESC LIMIT {page}"
            );
            let rows = self.sql.execute(tenant.clone(), &sql, &self.limits).await?;
            let (ids, oldest, newest, count) = candidate_rows(&rows.batches)?;
            let fresh: Vec<[u8; 16]> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
            for chunk in fresh.chunks(TRACES_PER_READ) {
                let traces = self.traces_by_id(&tenant, chunk).await?;
                inspected += traces.len();
                let (mut matched, _) = search::run(&search, traces, usize::MAX)
                    .map_err(|e| Error::BadData(e.to_string()))?;
                found.append(&mut matched);
            }
            if let Some(kth) = search::kth_newest_start(&found, limit) {
                // Traces rank by their first span. One that would displace the limit-th found
                // starts after it, and so has all its spans (its candidates too) after it.
                floor = floor.max(kth);
            }
            if count < page {
                // The slice is exhausted: the next one, older and twice as wide.
                let Some(older) = lower.checked_sub(1) else {
                    break;
                };
                upper = older;
                width = width.saturating_mul(2);
            } else if oldest == newest && page < CANDIDATE_PAGE_MAX {
                // The whole page shares one time: read it again, larger, so that no span of
                // that time is passed over.
                page = page.saturating_mul(2).min(CANDIDATE_PAGE_MAX);
            } else {
                // The next page of this slice: spans no newer than the oldest seen (ties are
                // read again and their traces skipped), or strictly older when even the
                // largest page shared one time (more spans than it holds at one nanosecond).
                upper = if oldest == newest { oldest - 1 } else { oldest };
                page = page.saturating_mul(2).min(CANDIDATE_PAGE_MAX);
            }
        }
        search::sort_newest_first(&mut found);
        found.truncate(limit);
        Ok((found, inspected))
    }

    /// The traces `ids` of `tenant`, read whole (a bloom filter and the index on `trace_id`
    /// find their rows).
    async fn traces_by_id(
        &self,
        tenant: &Tenant,
        ids: &[[u8; 16]],
    ) -> Result<Vec<traceql::eval::TraceData>> {
        Ok(search::traces(
            &self.resource_spans_by_id(tenant, ids).await?,
        ))
    }

    /// The spans of traces `ids` of `tenant` grouped as OTLP, read [`TRACES_PER_READ`] ids
    /// per query.
    pub(crate) async fn resource_spans_by_id(
        &self,
        tenant: &Tenant,
        ids: &[[u8; 16]],
    ) -> Result<Vec<ResourceSpans>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(TRACES_PER_READ) {
            let list: Vec<String> = chunk
                .iter()
                .map(|id| format!("'{}'", hex::encode(id)))
                .collect();
            let sql = format!("SELECT * FROM spans WHERE trace_id IN ({})", list.join(","));
            let result = self.sql.execute(tenant.clone(), &sql, &self.limits).await?;
            out.extend(otlp::resource_spans(&result.batches)?);
        }
        Ok(out)
    }
}

/// The `trace_id` column of `batches`, in row order.
fn trace_ids(batches: &[RecordBatch]) -> Result<Vec<[u8; 16]>> {
    let mut ids = Vec::new();
    for b in batches {
        let col: &FixedSizeBinaryArray = otlp::column(b, "trace_id")?;
        ids.extend((0..b.num_rows()).filter_map(|i| <[u8; 16]>::try_from(col.value(i)).ok()));
    }
    Ok(ids)
}

/// The width of the newest slice of a search window `[start, end]` (ns): a 48th of it, at least
/// a minute (a day is searched in slices of 30 min, 1 h, 2 h, ...).
fn first_slice(start: i64, end: i64) -> i64 {
    const MINUTE: i64 = 60_000_000_000;
    (end.saturating_sub(start) / 48).max(MINUTE)
}

/// Most candidate spans read in one page of a search.
const CANDIDATE_PAGE_MAX: usize = 50_000;

/// Most traces read by id in one query.
const TRACES_PER_READ: usize = 512;

/// The trace ids of candidate rows (`trace_id`, `start_time_unix_nano`, newest first) in
/// first-seen order, the oldest and newest start, and how many rows there were.
fn candidate_rows(batches: &[RecordBatch]) -> Result<(Vec<[u8; 16]>, i64, i64, usize)> {
    let mut ids = Vec::new();
    let (mut oldest, mut newest, mut count) = (i64::MAX, i64::MIN, 0);
    for b in batches {
        let id_col: &FixedSizeBinaryArray = otlp::column(b, "trace_id")?;
        let starts: &Int64Array = otlp::column(b, "start_time_unix_nano")?;
        for row in 0..b.num_rows() {
            if let Ok(id) = <[u8; 16]>::try_from(id_col.value(row)) {
                ids.push(id);
            }
            let t = starts.value(row);
            oldest = oldest.min(t);
            newest = newest.max(t);
            count += 1;
        }
    }
    Ok((ids, oldest, newest, count))
}

/// Most points a metrics series may have (as Prometheus's query range allows).
pub(crate) const MAX_METRICS_POINTS: usize = 11_000;

impl TempoEngine {
    /// TraceQL metrics query `q` over `tenant`'s spans for `req`'s range and step: the
    /// series, at most `max_series` (0: no cap; past it the answer is cut and marked
    /// partial), and how many spans were read. A query whose spans decide alone
    /// (`plan::span_local`) streams the spans of its window that meet its row condition;
    /// any other reads the traces holding such spans whole, by id (at most
    /// `max_result_rows` of them).
    pub async fn metrics(
        &self,
        tenant: Tenant,
        q: &str,
        req: MetricsRequest,
        max_series: usize,
    ) -> Result<(MetricsOutput, usize)> {
        let bad = |e: traceql::Error| Error::BadData(e.to_string());
        let expr = traceql::parse_and_validate(q).map_err(bad)?;
        let eval = MetricsEval::new(&expr, req, MAX_METRICS_POINTS)
            .map_err(bad)?
            .with_max_series(max_series);
        let (after, until) = eval.window();
        let condition = plan::metrics_candidates(&expr)
            .map(|c| format!(" AND {c}"))
            .unwrap_or_default();
        let window = format!(
            "start_time_unix_nano > {after} AND start_time_unix_nano <= {until}{condition}"
        );
        if let Some((condition, columns)) = eval
            .counting_by()
            .and_then(|by| plan::exact_counting(&expr, by))
        {
            return self
                .count_in_sql(tenant, eval, (after, until), condition, &columns)
                .await;
        }
        let (eval, spans) = if plan::span_local(&expr) {
            // A lean query reads a span's own columns, except for rows whose service name the
            // column cannot give (`unknown_service`): those are read whole.
            let passes: &[(&str, &str)] = if plan::lean(&expr) {
                &[
                    (
                        search::LEAN_COLUMNS,
                        " AND service_name != 'unknown_service'",
                    ),
                    ("*", " AND service_name = 'unknown_service'"),
                ]
            } else {
                &[("*", "")]
            };
            let mut state = (eval, 0);
            for &(columns, split) in passes {
                let sql = format!("SELECT {columns} FROM spans WHERE {window}{split}");
                let whole = columns == "*";
                state = self
                    .sql
                    .fold(
                        tenant.clone(),
                        &sql,
                        &self.limits,
                        state,
                        move |(eval, spans), batch| {
                            *spans += batch.num_rows();
                            let traces = if whole {
                                search::traces(&otlp::resource_spans(&[batch])?)
                            } else {
                                search::lean_traces(&batch)?
                            };
                            for trace in traces {
                                eval.observe(&trace).map_err(bad)?;
                            }
                            Ok(())
                        },
                    )
                    .await?;
            }
            state
        } else {
            let sql = format!("SELECT DISTINCT trace_id FROM spans WHERE {window}");
            let rows = self.sql.execute(tenant.clone(), &sql, &self.limits).await?;
            let ids = trace_ids(&rows.batches)?;
            let (mut eval, mut spans) = (eval, 0);
            for chunk in ids.chunks(TRACES_PER_READ) {
                for trace in self.traces_by_id(&tenant, chunk).await? {
                    spans += trace.spans.len();
                    eval.observe(&trace).map_err(bad)?;
                }
            }
            (eval, spans)
        };
        Ok((eval.finish_output().map_err(bad)?, spans))
    }
}

impl TempoEngine {
    /// A counting metrics query whose filter and `by()` SQL states exactly: spans counted per
    /// series and interval by a SQL aggregate over the window `(after, until]`, the counts
    /// added to `eval` (no exemplars: no span is read).
    async fn count_in_sql(
        &self,
        tenant: Tenant,
        mut eval: MetricsEval,
        (after, until): (i64, i64),
        condition: Option<String>,
        columns: &[plan::ByColumn],
    ) -> Result<(MetricsOutput, usize)> {
        let bad = |e: traceql::Error| Error::BadData(e.to_string());
        let step = eval.step_ns().max(1);
        let condition = condition.map(|c| format!(" AND {c}")).unwrap_or_default();
        // `resource.service.name` is the `service_name` column except where that says
        // `unknown_service`: those rows (the index finds them; usually none) read the map.
        let passes: &[(bool, &str)] = if columns.contains(&plan::ByColumn::Service) {
            &[
                (false, " AND service_name != 'unknown_service'"),
                (true, " AND service_name = 'unknown_service'"),
            ]
        } else {
            &[(false, "")]
        };
        let mut spans = 0usize;
        for (map, split) in passes {
            let mut select: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} AS by{i}", c.sql(*map)))
                .collect();
            select.push(format!(
                "(start_time_unix_nano - {after} - 1) / {step} AS bucket"
            ));
            select.push("count(*) AS n".into());
            let group: Vec<String> = (0..=columns.len()).map(|i| (i + 1).to_string()).collect();
            let sql = format!(
                "SELECT {} FROM spans WHERE start_time_unix_nano > {after} \
                 AND start_time_unix_nano <= {until}{condition}{split} GROUP BY {}",
                select.join(", "),
                group.join(", ")
            );
            let result = self.sql.execute(tenant.clone(), &sql, &self.limits).await?;
            spans += add_counts(&mut eval, &result.batches, columns, after, step)?;
        }
        self.sample_exemplars(&tenant, &mut eval, (after, until), &condition)
            .await?;
        Ok((eval.finish_output().map_err(bad)?, spans))
    }

    /// Offers `eval` whole traces, one from each of as many slices of the window as
    /// exemplars are asked for, for their exemplars (it counts nothing of them).
    async fn sample_exemplars(
        &self,
        tenant: &Tenant,
        eval: &mut MetricsEval,
        (after, until): (i64, i64),
        condition: &str,
    ) -> Result<()> {
        let wanted = eval.exemplar_traces();
        if wanted == 0 {
            return Ok(());
        }
        let slice = (until - after).max(1) / i64::try_from(wanted).unwrap_or(1).max(1) + 1;
        let sql = format!(
            "SELECT first_value(trace_id) AS trace_id FROM spans \
             WHERE start_time_unix_nano > {after} AND start_time_unix_nano <= {until}\
             {condition} GROUP BY (start_time_unix_nano - {after} - 1) / {slice}"
        );
        let rows = self.sql.execute(tenant.clone(), &sql, &self.limits).await?;
        let mut ids = trace_ids(&rows.batches)?;
        ids.sort_unstable();
        ids.dedup();
        for trace in self.traces_by_id(tenant, &ids).await? {
            eval.observe_exemplars(&trace)
                .map_err(|e| Error::BadData(e.to_string()))?;
        }
        Ok(())
    }
}

/// Adds the counts of rows `(by…, bucket, n)` of a counting aggregate to `eval`; the spans
/// counted.
fn add_counts(
    eval: &mut MetricsEval,
    batches: &[RecordBatch],
    columns: &[plan::ByColumn],
    after: i64,
    step: i64,
) -> Result<usize> {
    let bad = |e: traceql::Error| Error::BadData(e.to_string());
    let mut spans = 0usize;
    for b in batches {
        let text = |i: usize| {
            arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8)
                .map_err(Error::Encode)
        };
        let int = |i: usize| {
            arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Int64)
                .map_err(Error::Encode)
        };
        let mut by_columns = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            by_columns.push(match c {
                plan::ByColumn::Name | plan::ByColumn::Service => text(i)?,
                plan::ByColumn::Kind | plan::ByColumn::Status => int(i)?,
            });
        }
        let buckets = int(columns.len())?;
        let counts = int(columns.len() + 1)?;
        let buckets = buckets.as_primitive::<Int64Type>();
        let counts = counts.as_primitive::<Int64Type>();
        for row in 0..b.num_rows() {
            let by = columns
                .iter()
                .zip(&by_columns)
                .map(|(c, col)| {
                    if col.is_null(row) {
                        return traceql::eval::Value::Nil;
                    }
                    match c {
                        plan::ByColumn::Name | plan::ByColumn::Service => {
                            traceql::eval::Value::String(col.as_string::<i32>().value(row).into())
                        }
                        plan::ByColumn::Kind => traceql::eval::Value::Kind(search::kind(
                            col.as_primitive::<Int64Type>().value(row) as i32,
                        )),
                        plan::ByColumn::Status => traceql::eval::Value::Status(search::status(
                            col.as_primitive::<Int64Type>().value(row) as i32,
                        )),
                    }
                })
                .collect();
            let n = u64::try_from(counts.value(row)).unwrap_or(0);
            spans += n as usize;
            let ts =
                after.saturating_add(buckets.value(row).saturating_add(1).saturating_mul(step));
            eval.add_count(by, ts, n).map_err(bad)?;
        }
    }
    Ok(spans)
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
    /// intrinsic) on the spans that TraceQL `q` (every span when empty) matches among those
    /// of `tenant` starting in `window` (ns), typed as Tempo lists them, at most
    /// [`answer::MAX_TAG_VALUES`].
    pub(crate) async fn tag_values(
        &self,
        tenant: Tenant,
        tag: &str,
        q: &str,
        window: (i64, i64),
    ) -> Result<Vec<wire::TagValue>> {
        let q = if q.trim().is_empty() { "{}" } else { q };
        let limit = answer::MAX_TAG_VALUES;
        let query = format!("{q} | select({tag})");
        let (found, _) = self.search(tenant, &query, window, usize::MAX).await?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for t in &found {
            for set in &t.spansets {
                for m in &set.spans {
                    for (_, v) in &m.selected {
                        if out.len() < limit && seen.insert(format!("{v:?}")) {
                            out.extend(answer::tag_value(v));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

pub(crate) use legacy::query as legacy_query;

/// A search window given in Unix seconds, `[start, end]` in ns (the whole last second
/// included): `end` defaults to `now_s`, `start` to an hour before `end` (Tempo searches its
/// recent data then).
pub(crate) fn seconds_window(
    start: Option<i64>,
    end: Option<i64>,
    now_s: i64,
) -> Result<(i64, i64)> {
    let end = end.unwrap_or(now_s);
    let start = start.unwrap_or(end - 3600);
    if start > end {
        return Err(Error::BadData(format!(
            "invalid start {start} after end {end}"
        )));
    }
    Ok((
        start.saturating_mul(1_000_000_000),
        end.saturating_mul(1_000_000_000)
            .saturating_add(999_999_999),
    ))
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
