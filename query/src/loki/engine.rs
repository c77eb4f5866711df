//! [`LokiEngine`]: LogQL queries, labels and series of one tenant's logs.

use std::sync::Arc;
use std::time::Duration;

use common::Tenant;
use logql::ast::{Expr, FilterOp, FilterValue, LineFilter, MatchOp, Matcher};
use logql::eval::{Counted, Counting, Labels, Selection, Selector, Source, Stream, Value};

use super::rows::{count_query, counted, label_sets, lit, streams, COLUMNS, LABEL_COLUMNS};
use crate::sql::labels_udf::is_named;
use crate::sql::{SqlEngine, SqlLimits};
use crate::{Error, Result};

/// Resource attributes that become stream labels (dots as underscores), as Loki's OTLP
/// ingestion promotes them by default.
pub const DEFAULT_PROMOTED: &[&str] = &[
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];

/// Limits of LogQL queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiLimits {
    /// Most log lines one query may read from storage (after the pushed-down filters); past
    /// it the query fails with an error that says so rather than answer from part of the data.
    pub max_lines_read: usize,
    /// Most lines a log query may return (`limit` is capped to it).
    pub max_entries_limit: usize,
    /// Longest a query may take.
    pub timeout: Duration,
    /// Most series a metric query may answer with (Loki's `max_query_series`).
    pub max_series: usize,
}

impl Default for LokiLimits {
    fn default() -> Self {
        Self {
            max_lines_read: 5_000_000,
            max_entries_limit: 5_000,
            timeout: Duration::from_secs(60),
            max_series: 500,
        }
    }
}

/// A LogQL query's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum LokiAnswer {
    /// Log lines, by stream.
    Streams(Vec<Stream>),
    /// A metric query's value.
    Value(Value),
}

/// LogQL over the stored logs of each tenant, read through the SQL engine.
#[derive(Debug)]
pub struct LokiEngine {
    sql: Arc<SqlEngine>,
    limits: LokiLimits,
    promoted: Vec<String>,
}

/// Streams loaded for a query's selections (a selection is answered from the load of the
/// same selector), and the counts of those only counted.
struct Loaded {
    lines: Vec<(Selection, Vec<Stream>)>,
    counted: Vec<(Selection, Vec<Counted>)>,
}

impl Source for Loaded {
    fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> std::result::Result<Vec<Stream>, String> {
        let Some((_, streams)) = self
            .lines
            .iter()
            .find(|(s, _)| s.matchers == matchers && s.start <= start && s.end >= end)
        else {
            return Err("selection not loaded".into());
        };
        Ok(streams
            .iter()
            .map(|s| Stream {
                labels: s.labels.clone(),
                entries: s
                    .entries
                    .iter()
                    .filter(|e| e.ts >= start && e.ts <= end)
                    .cloned()
                    .collect(),
            })
            .filter(|s| !s.entries.is_empty())
            .collect())
    }

    fn counts(
        &self,
        matchers: &[Matcher],
        filters: &[LineFilter],
        counting: &Counting,
    ) -> Option<std::result::Result<Vec<Counted>, String>> {
        self.counted
            .iter()
            .find(|(s, _)| {
                s.matchers == matchers
                    && s.line_filters == filters
                    && s.counting.as_ref() == Some(counting)
            })
            .map(|(_, c)| Ok(c.clone()))
    }
}

/// The SQL condition of the line filter `f`, when SQL can test it exactly as the pipeline does
/// (text filters: `|=` and `!=` with their `or` alternatives).
fn filter_sql(f: &LineFilter) -> Option<String> {
    let likes = f
        .values
        .iter()
        .map(|v| match v {
            // Texts LIKE would read as patterns are left to the pipeline.
            FilterValue::Text(t) if !t.contains(['%', '_', '\\']) => {
                Some(format!("body LIKE {}", lit(&format!("%{t}%"))))
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    match f.op {
        FilterOp::Contains => Some(format!("({})", likes.join(" OR "))),
        // A line without a body is empty, and holds no text.
        FilterOp::NotContains => Some(format!("(body IS NULL OR NOT ({}))", likes.join(" OR "))),
        _ => None,
    }
}

impl LokiEngine {
    /// An engine reading through `sql` under `limits`, promoting `promoted` resource
    /// attributes to stream labels.
    pub fn new(sql: Arc<SqlEngine>, limits: LokiLimits, promoted: Vec<String>) -> Self {
        Self {
            sql,
            limits,
            promoted,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &LokiLimits {
        &self.limits
    }

    /// The SQL condition of `sel`'s rows: its time range, its `service_name` equality and
    /// the leading line filters SQL tests exactly (every one, or `None`, when `all`; the rest
    /// are checked on the rows).
    fn condition(sel: &Selection, start: i64, end: i64, all: bool) -> Option<String> {
        let mut sql = format!("time_unix_nano >= {start} AND time_unix_nano <= {end}");
        for m in &sel.matchers {
            if m.name == "service_name" && m.op == MatchOp::Eq {
                sql.push_str(&format!(" AND service_name = {}", lit(&m.value)));
            }
        }
        for f in &sel.line_filters {
            match filter_sql(f) {
                // A `|=` narrows the read through the body index; `!=` reads as much.
                Some(c) if all || f.op == FilterOp::Contains => {
                    sql.push_str(" AND ");
                    sql.push_str(&c);
                }
                None if all => return None,
                _ => {}
            }
        }
        Some(sql)
    }

    fn sql_limits(&self) -> SqlLimits {
        SqlLimits {
            max_result_rows: self.limits.max_lines_read,
            timeout: self.limits.timeout,
        }
    }

    async fn load(&self, tenant: &Tenant, selections: Vec<Selection>) -> Result<Loaded> {
        let mut loaded = Loaded {
            lines: Vec::new(),
            counted: Vec::new(),
        };
        for sel in selections {
            if let Some(counted) = self.count(tenant, &sel).await? {
                loaded.counted.push((sel, counted));
                continue;
            }
            let out = &mut loaded.lines;
            if let Some(i) = out.iter().position(|(s, _)| s.matchers == sel.matchers) {
                // The same selector again: widen the load to cover both.
                let prev = &out[i].0;
                if prev.start <= sel.start && prev.end >= sel.end {
                    continue;
                }
                let merged = Selection {
                    start: prev.start.min(sel.start),
                    end: prev.end.max(sel.end),
                    line_filters: Vec::new(),
                    matchers: sel.matchers.clone(),
                    counting: None,
                };
                out.remove(i);
                let streams = self.read(tenant, &merged).await?;
                out.push((merged, streams));
                continue;
            }
            let streams = self.read(tenant, &sel).await?;
            out.push((sel, streams));
        }
        Ok(loaded)
    }

    /// Runs `sql`, reporting a result past the read limit as the query's fault.
    async fn execute(&self, tenant: &Tenant, sql: &str) -> Result<crate::sql::SqlResult> {
        match self
            .sql
            .execute(tenant.clone(), sql, &self.sql_limits())
            .await
        {
            Err(Error::TooManyRows { limit }) => Err(Error::BadData(format!(
                "the query reads more than {limit} log lines (max_lines_read): narrow the time range or the stream selector"
            ))),
            other => other,
        }
    }

    /// The lines of `sel` counted per series and bucket in one SQL aggregation, when `sel` is
    /// only counted and SQL tests all its line filters.
    async fn count(&self, tenant: &Tenant, sel: &Selection) -> Result<Option<Vec<Counted>>> {
        let Some(c) = &sel.counting else {
            return Ok(None);
        };
        let from = c.end - c.width * c.buckets as i64 + 1;
        let Some(condition) = Self::condition(sel, from, c.end, true) else {
            return Ok(None);
        };
        // The labels the grouped rows must tell apart: those kept and those the selector tests
        // (a metadata name may come back with `_extracted`); more only cost time.
        let names: Option<Vec<String>> = c.labels.as_ref().map(|kept| {
            let mut names: Vec<String> = kept
                .iter()
                .chain(sel.matchers.iter().map(|m| &m.name))
                .flat_map(|n| {
                    [
                        n.clone(),
                        n.strip_suffix("_extracted").unwrap_or(n).to_string(),
                    ]
                })
                .chain(["service_name".to_string()])
                .collect();
            names.sort();
            names.dedup();
            names
        });
        // A map none of whose keys (in the indexes) makes one of the names is left unread.
        let mut maps = (true, true);
        if let Some(names) = &names {
            let relevant = |keys: Option<std::collections::BTreeSet<String>>, resource: bool| {
                keys.is_none_or(|keys| {
                    keys.iter().any(|k| {
                        !(resource && k == "service.name") && names.iter().any(|n| is_named(k, n))
                    })
                })
            };
            let keys = |column| {
                self.sql
                    .attribute_keys(tenant, "logs", column, (from, c.end))
            };
            maps = (
                relevant(keys("resource_attributes").await, true),
                relevant(keys("attributes").await, false),
            );
        }
        let (select, group) = count_query(names.as_deref(), maps, c.end, c.width, c.bytes);
        let sql = format!("SELECT {select} FROM logs WHERE {condition} GROUP BY {group}");
        let result = self.execute(tenant, &sql).await?;
        let selector = Selector::new(&sel.matchers);
        Ok(Some(counted(
            &result.batches,
            &self.promoted,
            &selector,
            c.labels.as_deref(),
        )?))
    }

    async fn read(&self, tenant: &Tenant, sel: &Selection) -> Result<Vec<Stream>> {
        let condition = Self::condition(sel, sel.start, sel.end, false).unwrap_or_default();
        let sql = format!("SELECT {COLUMNS} FROM logs WHERE {condition}");
        let result = self.execute(tenant, &sql).await?;
        let selector = Selector::new(&sel.matchers);
        streams(&result.batches, &self.promoted, &selector)
    }

    /// Runs `query` from `start` to `end` (ns) at `step` (an instant query when `instant`):
    /// a log query returns at most `limit` lines, newest first when `backward`.
    #[allow(clippy::too_many_arguments)]
    pub async fn query(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        limit: usize,
        backward: bool,
        instant: bool,
    ) -> Result<LokiAnswer> {
        let expr = logql::parse(query).map_err(|e| Error::BadData(e.to_string()))?;
        if limit > self.limits.max_entries_limit {
            return Err(Error::BadData(format!(
                "max entries limit per query exceeded, limit > max_entries_limit ({limit} > {})",
                self.limits.max_entries_limit
            )));
        }
        // An instant query's selections are those of its one step, `end`.
        let selections = if instant {
            logql::eval::selections(&expr, end, end, step)
        } else {
            logql::eval::selections(&expr, start, end, step)
        };
        let source = self.load(tenant, selections).await?;
        let eval_err = |e: logql::eval::EvalError| match e {
            logql::eval::EvalError::Source(s) => Error::Executor(s),
            other => Error::BadData(other.to_string()),
        };
        let answer = match &expr {
            Expr::Log(log) => LokiAnswer::Streams(
                logql::eval::log_query(log, &source, start, end.max(start + 1), limit, backward)
                    .map_err(eval_err)?,
            ),
            Expr::Metric(_) if instant => {
                LokiAnswer::Value(logql::eval::instant(&expr, &source, end).map_err(eval_err)?)
            }
            Expr::Metric(_) => LokiAnswer::Value(
                logql::eval::range(&expr, &source, start, end, step).map_err(eval_err)?,
            ),
        };
        let series = match &answer {
            LokiAnswer::Value(Value::Vector(v)) => v.len(),
            LokiAnswer::Value(Value::Matrix(m)) => m.len(),
            _ => 0,
        };
        if series > self.limits.max_series {
            return Err(Error::BadData(format!(
                "maximum of series ({}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with a sum by (...)",
                self.limits.max_series
            )));
        }
        Ok(answer)
    }

    /// The label sets of the streams holding lines in `[start, end]`, of those matching
    /// `query` (a stream selector) when given.
    pub async fn series(
        &self,
        tenant: &Tenant,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>> {
        let mut wanted = Vec::new();
        for s in selectors {
            let log = logql::parse_log(s).map_err(|e| Error::BadData(e.to_string()))?;
            wanted.push(Selector::new(&log.matchers));
        }
        // Each service and resource once, grouped by the scan, rather than every line.
        let sql = format!(
            "SELECT {LABEL_COLUMNS} FROM logs WHERE time_unix_nano >= {start} AND \
             time_unix_nano <= {end} GROUP BY service_name, rl, severity_number, severity_text"
        );
        let result = self
            .sql
            .execute(tenant.clone(), &sql, &self.sql_limits())
            .await?;
        let mut out: Vec<Labels> = label_sets(&result.batches, &self.promoted)?
            .into_iter()
            .filter(|l| wanted.is_empty() || wanted.iter().any(|s| s.matches(l)))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The label names of the streams in `[start, end]` (matching `query` when given).
    pub async fn labels(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>> {
        let selectors: Vec<String> = query.map(str::to_string).into_iter().collect();
        let mut names: Vec<String> = self
            .series(tenant, &selectors, start, end)
            .await?
            .into_iter()
            .flat_map(|l| l.into_keys())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The values of label `name` in `[start, end]` (in streams matching `query` when given).
    pub async fn label_values(
        &self,
        tenant: &Tenant,
        name: &str,
        query: Option<&str>,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>> {
        let selectors: Vec<String> = query.map(str::to_string).into_iter().collect();
        let mut values: Vec<String> = self
            .series(tenant, &selectors, start, end)
            .await?
            .into_iter()
            .filter_map(|mut l| l.remove(name))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

/// What `/index/stats` answers: streams, chunks (segments, counted per stream and day), bytes
/// and entries of the lines a selector holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexStats {
    /// Streams.
    pub streams: u64,
    /// Chunks: Vigil has none; one per stream and hour of lines, as Loki's chunk count goes.
    pub chunks: u64,
    /// Bytes of the lines.
    pub bytes: u64,
    /// Lines.
    pub entries: u64,
}

/// A field Grafana's Logs Drilldown may filter on: its name, type, distinct values and the
/// parsers that found it (none for structured metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedField {
    /// The field.
    pub label: String,
    /// `string`, `int`, `float`, `boolean`, `duration` or `bytes`.
    pub kind: &'static str,
    /// Distinct values.
    pub cardinality: u64,
    /// `json`, `logfmt`; empty for structured metadata.
    pub parsers: Vec<&'static str>,
}

impl LokiEngine {
    /// The streams of the log query `query` (a selector and its pipeline) in `[start, end)`,
    /// at most `limit` lines, newest first.
    pub async fn lines(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<Stream>> {
        match self
            .query(tenant, query, start, end, 1, limit, true, false)
            .await?
        {
            LokiAnswer::Streams(s) => Ok(s),
            LokiAnswer::Value(_) => Err(Error::BadData(
                "only log queries (a stream selector and its pipeline) are allowed here".into(),
            )),
        }
    }

    /// The streams of the selector `query` in `[start, end]`, unfiltered by any pipeline.
    async fn selected(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<Stream>> {
        let log = logql::parse_log(query).map_err(|e| Error::BadData(e.to_string()))?;
        let sel = Selection {
            matchers: log.matchers,
            start,
            end,
            line_filters: Vec::new(),
            counting: None,
        };
        self.read(tenant, &sel).await
    }

    /// `/index/stats` of the selector `query` in `[start, end]`.
    pub async fn index_stats(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
    ) -> Result<IndexStats> {
        let streams = self.selected(tenant, query, start, end).await?;
        let mut out = IndexStats::default();
        for s in &streams {
            out.streams += 1;
            let mut hours = std::collections::BTreeSet::new();
            for e in &s.entries {
                out.entries += 1;
                out.bytes += e.line.len() as u64;
                hours.insert(e.ts.div_euclid(3_600_000_000_000));
            }
            out.chunks += hours.len() as u64;
        }
        Ok(out)
    }

    /// Bytes of the lines of the selector `query` per label set (`target` labels, else the
    /// labels the selector names; every stream label with `by_series`), summed over each step
    /// of `[start, end]` (one step covering all of it when `step` is 0), largest first, at most
    /// `limit` label sets.
    #[allow(clippy::too_many_arguments)]
    pub async fn volume(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        target: &[String],
        by_series: bool,
        limit: usize,
    ) -> Result<Vec<(Labels, Vec<(i64, u64)>)>> {
        let log = logql::parse_log(query).map_err(|e| Error::BadData(e.to_string()))?;
        let names: Vec<String> = if !target.is_empty() {
            target.to_vec()
        } else {
            log.matchers.iter().map(|m| m.name.clone()).collect()
        };
        let streams = self.selected(tenant, query, start, end).await?;
        let mut by: std::collections::BTreeMap<Labels, std::collections::BTreeMap<i64, u64>> =
            std::collections::BTreeMap::new();
        for s in &streams {
            let key: Labels = if by_series && target.is_empty() {
                s.labels.clone()
            } else {
                s.labels
                    .iter()
                    .filter(|(k, _)| names.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            let points = by.entry(key).or_default();
            for e in &s.entries {
                let t = if step > 0 {
                    // The step whose window `(t - step, t]` holds the line.
                    start + (e.ts - start + step - 1).div_euclid(step) * step
                } else {
                    end
                };
                *points.entry(t).or_default() += e.line.len() as u64;
            }
        }
        let mut out: Vec<(Labels, Vec<(i64, u64)>)> = by
            .into_iter()
            .map(|(l, p)| (l, p.into_iter().collect()))
            .collect();
        out.sort_by_key(|(l, p)| {
            (
                std::cmp::Reverse(p.iter().map(|x| x.1).sum::<u64>()),
                l.clone(),
            )
        });
        out.truncate(limit);
        Ok(out)
    }

    /// The stream labels of the selector `query` in `[start, end]` with their distinct values,
    /// for Grafana's label browser in Logs Drilldown (`service_name` and labels of one value
    /// per stream left out as Loki leaves them out).
    pub async fn detected_labels(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<(String, u64)>> {
        let streams = self.selected(tenant, query, start, end).await?;
        let mut values: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            std::collections::BTreeMap::new();
        for s in &streams {
            for (k, v) in &s.labels {
                values.entry(k.clone()).or_default().insert(v.clone());
            }
        }
        Ok(values
            .into_iter()
            .filter(|(k, _)| k != "service_name")
            .map(|(k, v)| (k, v.len() as u64))
            .collect())
    }

    /// The fields of the lines of `query` (structured metadata, and what `json` and `logfmt`
    /// find in the lines), with their types and distinct values, from at most `line_limit` of
    /// the newest lines.
    pub async fn detected_fields(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
        line_limit: usize,
    ) -> Result<Vec<(DetectedField, Vec<String>)>> {
        let streams = self.lines(tenant, query, start, end, line_limit).await?;
        let mut fields: std::collections::BTreeMap<
            String,
            (
                std::collections::BTreeSet<String>,
                std::collections::BTreeSet<&'static str>,
            ),
        > = std::collections::BTreeMap::new();
        for s in &streams {
            for e in &s.entries {
                for (k, v) in &e.metadata {
                    fields.entry(k.clone()).or_default().0.insert(v.clone());
                }
                let (parser, found) = parse_fields(&e.line);
                for (k, v) in found {
                    if s.labels.contains_key(&k) {
                        continue;
                    }
                    let f = fields.entry(k).or_default();
                    f.0.insert(v);
                    if let Some(p) = parser {
                        f.1.insert(p);
                    }
                }
            }
        }
        Ok(fields
            .into_iter()
            .map(|(label, (values, parsers))| {
                let kind = field_kind(&values);
                (
                    DetectedField {
                        label,
                        kind,
                        cardinality: values.len() as u64,
                        parsers: parsers.into_iter().collect(),
                    },
                    values.into_iter().collect(),
                )
            })
            .collect())
    }
}

/// The fields of a line: JSON's top-level leaves, or logfmt's pairs.
fn parse_fields(line: &str) -> (Option<&'static str>, Vec<(String, String)>) {
    let t = line.trim_start();
    if t.starts_with('{') {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(t) {
            let mut out = Vec::new();
            flatten_json("", &m, &mut out);
            return (Some("json"), out);
        }
    }
    let pairs: Vec<(String, String)> = line
        .split_whitespace()
        .filter_map(|w| {
            let (k, v) = w.split_once('=')?;
            let ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            ok.then(|| (k.to_string(), v.trim_matches('"').to_string()))
        })
        .collect();
    if pairs.is_empty() {
        (None, pairs)
    } else {
        (Some("logfmt"), pairs)
    }
}

fn flatten_json(
    prefix: &str,
    m: &serde_json::Map<String, serde_json::Value>,
    out: &mut Vec<(String, String)>,
) {
    for (k, v) in m {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}_{k}")
        };
        match v {
            serde_json::Value::Object(inner) => flatten_json(&key, inner, out),
            serde_json::Value::String(s) => out.push((key, s.clone())),
            serde_json::Value::Number(n) => out.push((key, n.to_string())),
            serde_json::Value::Bool(b) => out.push((key, b.to_string())),
            _ => {}
        }
    }
}

/// The type Loki reports for a field from its values.
fn field_kind(values: &std::collections::BTreeSet<String>) -> &'static str {
    let all = |f: &dyn Fn(&str) -> bool| !values.is_empty() && values.iter().all(|v| f(v));
    if all(&|v| v.parse::<i64>().is_ok()) {
        "int"
    } else if all(&|v| v.parse::<f64>().is_ok()) {
        "float"
    } else if all(&|v| v == "true" || v == "false") {
        "boolean"
    } else if all(&|v| logql::parse_duration(v).is_ok()) {
        "duration"
    } else if all(&|v| logql::parse_bytes(v).is_some()) {
        "bytes"
    } else {
        "string"
    }
}

/// A token of a line as a pattern sees it: kept when it reads as a word, `<_>` when it holds a
/// value (digits, an id, a quoted string; `key=<_>` for a logfmt pair).
fn pattern_token(w: &str) -> String {
    if let Some((k, _)) = w.split_once('=') {
        if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return format!("{k}=<_>");
        }
    }
    if w.chars().any(|c| c.is_ascii_digit()) || w.starts_with('"') || w.len() > 32 {
        "<_>".into()
    } else {
        w.to_string()
    }
}

/// A line's pattern: its tokens with values as `<_>`, runs of `<_>` joined.
pub(crate) fn line_pattern(line: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for w in line.split_whitespace() {
        let t = pattern_token(w);
        if t == "<_>" && out.last().is_some_and(|l| l == "<_>") {
            continue;
        }
        out.push(t);
    }
    out.join(" ")
}

/// A pattern, the level of its lines, and how many lines it matched per step.
pub type Pattern = (String, String, Vec<(i64, u64)>);

impl LokiEngine {
    /// The patterns of the lines of the selector `query` in `[start, end]`, with how many
    /// lines each matched per `step` and the `detected_level` of its lines, the most frequent
    /// first.
    pub async fn patterns(
        &self,
        tenant: &Tenant,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<Pattern>> {
        let streams = self.selected(tenant, query, start, end).await?;
        let mut by: std::collections::BTreeMap<
            (String, String),
            std::collections::BTreeMap<i64, u64>,
        > = std::collections::BTreeMap::new();
        for s in &streams {
            for e in &s.entries {
                let level = e
                    .metadata
                    .iter()
                    .find(|(k, _)| k == "detected_level")
                    .map_or("unknown", |(_, v)| v.as_str())
                    .to_string();
                let t = start + (e.ts - start).div_euclid(step.max(1)) * step.max(1);
                *by.entry((line_pattern(&e.line), level))
                    .or_default()
                    .entry(t)
                    .or_default() += 1;
            }
        }
        let mut out: Vec<Pattern> = by
            .into_iter()
            .map(|((p, l), s)| (p, l, s.into_iter().collect()))
            .collect();
        out.sort_by_key(|(p, _, s)| {
            (
                std::cmp::Reverse(s.iter().map(|x| x.1).sum::<u64>()),
                p.clone(),
            )
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reduce_to_their_patterns() {
        assert_eq!(line_pattern("GET /api/users/42 200 12ms"), "GET <_>");
        assert_eq!(
            line_pattern("level=info msg=started worker=7 ok"),
            "level=<_> msg=<_> worker=<_> ok"
        );
        assert_eq!(line_pattern("connection refused"), "connection refused");
    }
}
