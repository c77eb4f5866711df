//! [`LokiEngine`]: LogQL queries, labels and series of one tenant's logs.

use std::sync::Arc;
use std::time::Duration;

use common::Tenant;
use logql::ast::{Expr, FilterOp, FilterValue, MatchOp, Matcher};
use logql::eval::{Labels, Selection, Source, Stream, Value};

use super::rows::{streams, COLUMNS};
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
}

impl Default for LokiLimits {
    fn default() -> Self {
        Self {
            max_lines_read: 5_000_000,
            max_entries_limit: 5_000,
            timeout: Duration::from_secs(60),
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

/// SQL text of `s` as a string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Streams loaded for a query's selections; a selection is answered from the load of the
/// same selector.
struct Loaded(Vec<(Selection, Vec<Stream>)>);

impl Source for Loaded {
    fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> std::result::Result<Vec<Stream>, String> {
        let Some((_, streams)) = self
            .0
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

    /// The SQL reading `sel`: its time range, its `service_name` equality and its leading
    /// substring filters pushed down (the rest is checked on the rows).
    fn sql_for(sel: &Selection) -> String {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM logs WHERE time_unix_nano >= {} AND time_unix_nano <= {}",
            sel.start, sel.end
        );
        for m in &sel.matchers {
            if m.name == "service_name" && m.op == MatchOp::Eq {
                sql.push_str(&format!(" AND service_name = {}", lit(&m.value)));
            }
        }
        for f in &sel.line_filters {
            // `|= "text"` with one alternative: a LIKE the body index answers. Texts LIKE
            // would read as patterns are left to the pipeline.
            if let (FilterOp::Contains, [FilterValue::Text(t)]) = (f.op, f.values.as_slice()) {
                if !t.is_empty() && !t.contains(['%', '_', '\\']) {
                    sql.push_str(&format!(" AND body LIKE {}", lit(&format!("%{t}%"))));
                }
            }
        }
        sql
    }

    async fn load(&self, tenant: &Tenant, selections: Vec<Selection>) -> Result<Loaded> {
        let mut out: Vec<(Selection, Vec<Stream>)> = Vec::new();
        let limits = SqlLimits {
            max_result_rows: self.limits.max_lines_read,
            timeout: self.limits.timeout,
        };
        for sel in selections {
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
                };
                out.remove(i);
                let streams = self.read(tenant, &merged, &limits).await?;
                out.push((merged, streams));
                continue;
            }
            let streams = self.read(tenant, &sel, &limits).await?;
            out.push((sel, streams));
        }
        Ok(Loaded(out))
    }

    async fn read(
        &self,
        tenant: &Tenant,
        sel: &Selection,
        limits: &SqlLimits,
    ) -> Result<Vec<Stream>> {
        let sql = Self::sql_for(sel);
        let result = match self.sql.execute(tenant.clone(), &sql, limits).await {
            Ok(r) => r,
            Err(Error::TooManyRows { limit }) => {
                return Err(Error::BadData(format!(
                    "the query reads more than {limit} log lines (max_lines_read): narrow the time range or the stream selector"
                )))
            }
            Err(e) => return Err(e),
        };
        let all = streams(&result.batches, &self.promoted)?;
        Ok(all
            .into_iter()
            .filter(|s| logql::eval::matches(&sel.matchers, &s.labels))
            .collect())
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
        let source = self
            .load(tenant, logql::eval::selections(&expr, start, end))
            .await?;
        let eval_err = |e: logql::eval::EvalError| match e {
            logql::eval::EvalError::Source(s) => Error::Executor(s),
            other => Error::BadData(other.to_string()),
        };
        Ok(match &expr {
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
        })
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
        let mut matcher_sets = Vec::new();
        for s in selectors {
            let log = logql::parse_log(s).map_err(|e| Error::BadData(e.to_string()))?;
            matcher_sets.push(log.matchers);
        }
        let all = Selection {
            matchers: Vec::new(),
            start,
            end,
            line_filters: Vec::new(),
        };
        let limits = SqlLimits {
            max_result_rows: self.limits.max_lines_read,
            timeout: self.limits.timeout,
        };
        let streams = self.read(tenant, &all, &limits).await?;
        let mut out: Vec<Labels> = streams
            .into_iter()
            .filter(|s| {
                matcher_sets.is_empty()
                    || matcher_sets
                        .iter()
                        .any(|m| logql::eval::matches(m, &s.labels))
            })
            .map(|s| s.labels)
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
