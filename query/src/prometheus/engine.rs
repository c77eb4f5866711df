//! [`PromEngine`]: PromQL and the Prometheus series APIs as Rust calls. A query runs in two
//! steps: the evaluator says what each selector reads (matchers and time window,
//! [`promql::selections`]); those series are selected through storage's series postings and
//! their samples read through storage's sample reader into a [`Preloaded`] source, on which the
//! query is evaluated, all on the query runtime under the query's timeout.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use common::Tenant;
use promql::label::{MatchOp, Matcher};
use promql::value::{Labels, METRIC_NAME};
use promql::{Cancel, Options, Preloaded, Query, QueryResult, StoredSeries};
use storage::read::{read_exemplars, Exemplar, SampleReader};
use storage::ReadView;

use super::series::{select, SeriesCache, SeriesRow};
use crate::executor::QueryExecutor;
use crate::Result;

/// Limits of PromQL queries.
#[derive(Debug, Clone)]
pub struct PromLimits {
    /// Evaluation options (lookback delta, most samples, subquery step, timeout).
    pub options: Options,
    /// Most points a range query may return per series (Prometheus: 11,000).
    pub max_points_per_series: i64,
}

impl Default for PromLimits {
    fn default() -> Self {
        Self {
            options: Options::default(),
            max_points_per_series: 11_000,
        }
    }
}

/// The steps of a range query: from `start` to `end` (inclusive) every `step`, all in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// First evaluation time.
    pub start: i64,
    /// Last evaluation time (at most).
    pub end: i64,
    /// Time between evaluations, > 0.
    pub step: i64,
}

/// The exemplars of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplars {
    /// The series.
    pub labels: Labels,
    /// Its exemplars in time order.
    pub exemplars: Vec<Exemplar>,
}

/// The metadata of one metric family, as Prometheus's metadata API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyMetadata {
    /// The family's name (histogram and summary families without their suffixes).
    pub name: String,
    /// `counter`, `gauge`, `histogram`, `summary` or `unknown`.
    pub kind: &'static str,
    /// Its description.
    pub help: Arc<str>,
    /// Its unit.
    pub unit: Arc<str>,
}

/// PromQL over a [`ReadView`], executed on a [`QueryExecutor`].
#[derive(Debug)]
pub struct PromEngine {
    view: Arc<dyn ReadView>,
    reader: SampleReader,
    series: SeriesCache,
    executor: Arc<QueryExecutor>,
    limits: PromLimits,
}

impl PromEngine {
    /// An engine over `view` running queries on `executor` under `limits` by default.
    pub fn new(view: Arc<dyn ReadView>, executor: Arc<QueryExecutor>, limits: PromLimits) -> Self {
        Self {
            reader: SampleReader::new(Arc::clone(&view)),
            view,
            series: SeriesCache::default(),
            executor,
            limits,
        }
    }

    /// The limits queries run under unless a call narrows them.
    pub fn limits(&self) -> &PromLimits {
        &self.limits
    }

    /// Evaluates `query` at `t` (ms) over `tenant`'s series.
    pub async fn instant(
        self: &Arc<Self>,
        tenant: Tenant,
        query: Query,
        t: i64,
        options: Options,
    ) -> Result<QueryResult> {
        let options = fresh(options);
        let engine = Arc::clone(self);
        self.run(options.timeout, options.cancel.clone(), async move {
            let selections = promql::selections(&options, &query, t, t);
            let source = engine
                .load(&tenant, selections, options.max_samples)
                .await?;
            Ok(promql::instant(&source, &options, &query, t)?)
        })
        .await
    }

    /// Evaluates `query` at every step of `steps` over `tenant`'s series.
    pub async fn range(
        self: &Arc<Self>,
        tenant: Tenant,
        query: Query,
        steps: Steps,
        options: Options,
    ) -> Result<QueryResult> {
        let options = fresh(options);
        let engine = Arc::clone(self);
        self.run(options.timeout, options.cancel.clone(), async move {
            let Steps { start, end, step } = steps;
            let selections = promql::selections(&options, &query, start, end);
            let source = engine
                .load(&tenant, selections, options.max_samples)
                .await?;
            Ok(promql::range(&source, &options, &query, start, end, step)?)
        })
        .await
    }

    /// The series of `tenant` that match any of `selectors` (every series when there are
    /// none), in label order; with a `window` (ms, inclusive), only those that may have samples
    /// in it (segments answer as a whole, as Prometheus's blocks do).
    pub async fn series(
        self: &Arc<Self>,
        tenant: Tenant,
        selectors: Vec<Vec<Matcher>>,
        window: Option<(i64, i64)>,
    ) -> Result<Vec<SeriesRow>> {
        let engine = Arc::clone(self);
        self.run(self.limits.options.timeout, Cancel::default(), async move {
            let mut by_id: BTreeMap<u64, Arc<SeriesRow>> = BTreeMap::new();
            if selectors.is_empty() {
                by_id.extend(engine.select(&tenant, &[])?);
            }
            for m in &selectors {
                for (id, row) in engine.select(&tenant, m)? {
                    by_id.entry(id).or_insert(row);
                }
            }
            let mut rows: Vec<(u64, Arc<SeriesRow>)> = by_id.into_iter().collect();
            if let Some((lo, hi)) = window {
                let ids: Vec<u64> = rows.iter().map(|r| r.0).collect();
                let present = engine.reader.present(&tenant, &ids, lo, hi).await?;
                let mut keep = present.into_iter();
                rows.retain(|_| keep.next().unwrap_or(false));
            }
            let mut rows: Vec<SeriesRow> = rows.into_iter().map(|r| (*r.1).clone()).collect();
            rows.sort_by(|a, b| a.labels.compare(&b.labels));
            Ok(rows)
        })
        .await
    }

    /// The metadata of `tenant`'s metric families (only `metric`'s when given), by name.
    pub async fn metadata(
        self: &Arc<Self>,
        tenant: Tenant,
        metric: Option<String>,
    ) -> Result<Vec<FamilyMetadata>> {
        let engine = Arc::clone(self);
        self.run(self.limits.options.timeout, Cancel::default(), async move {
            let rows = match &metric {
                None => engine.select(&tenant, &[])?,
                // The family's own series and its histogram or summary parts.
                Some(m) => {
                    let mut rows = Vec::new();
                    for suffix in ["", "_bucket", "_sum", "_count"] {
                        let name = format!("{m}{suffix}");
                        let matcher = Matcher::new(MatchOp::Equal, METRIC_NAME, &name);
                        rows.extend(engine.select(&tenant, &[matcher])?);
                    }
                    rows
                }
            };
            let mut by_name: BTreeMap<String, FamilyMetadata> = BTreeMap::new();
            for (_, r) in rows {
                let kind = prom_type(&r.metric_type);
                let name = family_name(r.labels.name().unwrap_or(""), kind);
                if metric.as_deref().is_some_and(|m| m != name) {
                    continue;
                }
                by_name
                    .entry(name.to_string())
                    .or_insert_with(|| FamilyMetadata {
                        name: name.to_string(),
                        kind,
                        help: Arc::clone(&r.help),
                        unit: Arc::clone(&r.unit),
                    });
            }
            Ok(by_name.into_values().collect())
        })
        .await
    }

    /// The exemplars in `[start, end]` (ms) of the series that `query`'s selectors match, per
    /// series in label order.
    pub async fn exemplars(
        self: &Arc<Self>,
        tenant: Tenant,
        query: Query,
        start: i64,
        end: i64,
    ) -> Result<Vec<SeriesExemplars>> {
        let engine = Arc::clone(self);
        // Only the selectors' matchers matter here, not their windows.
        let selectors: Vec<Vec<Matcher>> = promql::selections(&self.limits.options, &query, 0, 0)
            .into_iter()
            .map(|s| s.0)
            .collect();
        self.run(self.limits.options.timeout, Cancel::default(), async move {
            let mut series: BTreeMap<u64, Labels> = BTreeMap::new();
            for m in &selectors {
                for (id, row) in engine.select(&tenant, m)? {
                    series.entry(id).or_insert_with(|| row.labels.clone());
                }
            }
            let mut found: HashMap<u64, Vec<Exemplar>> = if series.is_empty() {
                HashMap::new()
            } else {
                read_exemplars(
                    engine.view.as_ref(),
                    &tenant,
                    |id| series.contains_key(&id),
                    start,
                    end,
                )
                .await?
            };
            let mut out: Vec<SeriesExemplars> = series
                .into_iter()
                .filter_map(|(id, labels)| {
                    found
                        .remove(&id)
                        .map(|exemplars| SeriesExemplars { labels, exemplars })
                })
                .collect();
            out.sort_by(|a, b| a.labels.compare(&b.labels));
            Ok(out)
        })
        .await
    }

    /// Runs `work` on the query runtime under `timeout`, raising `cancel` (and aborting the
    /// task) when time runs out or the caller stops waiting.
    async fn run<T, F>(&self, timeout: Duration, cancel: Cancel, work: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.executor.run(timeout, cancel, work).await
    }

    /// The series of `tenant` matching all `matchers`, in no particular order.
    fn select(&self, tenant: &Tenant, matchers: &[Matcher]) -> Result<Vec<(u64, Arc<SeriesRow>)>> {
        select(self.view.as_ref(), &self.series, tenant, matchers)
    }

    /// Reads what a query needs into memory: each selection's series and their samples in its
    /// window, at most `max_samples` in all.
    async fn load(
        &self,
        tenant: &Tenant,
        selections: Vec<(Vec<Matcher>, i64, i64)>,
        max_samples: usize,
    ) -> Result<Preloaded> {
        let mut source = Preloaded::new();
        let mut budget = max_samples;
        for (matchers, lo, hi) in selections {
            let mut series = self.select(tenant, &matchers)?;
            series.sort_unstable_by_key(|s| s.0);
            let ids: Vec<u64> = series.iter().map(|s| s.0).collect();
            let samples = self.reader.read(tenant, &ids, lo, hi, budget).await?;
            let mut stored = Vec::with_capacity(series.len());
            for ((_, row), samples) in series.into_iter().zip(samples) {
                budget = budget.saturating_sub(samples.len());
                if samples.is_empty() {
                    continue;
                }
                let series = StoredSeries {
                    delta: row.delta,
                    labels: row.labels.clone(),
                    samples: samples.into(),
                };
                stored.push((Arc::clone(&row.key), series));
            }
            // Stable: of two series with the same labels (ids that differed by an empty
            // label value), the first read keeps its samples, as `Preloaded::add` does.
            stored.sort_by(|a, b| a.0.cmp(&b.0));
            source.add_sorted(matchers, stored);
        }
        Ok(source)
    }
}

/// `options` with a cancel flag of its own: the caller's options may be clones that share one.
fn fresh(mut options: Options) -> Options {
    options.cancel = Cancel::default();
    options
}

/// The metric family a series belongs to, as Prometheus's metadata names it: histogram and
/// summary series carry `_bucket`, `_sum` and `_count` suffixes that the family leaves out.
fn family_name<'a>(name: &'a str, prom_type: &str) -> &'a str {
    let suffixes: &[&str] = match prom_type {
        "histogram" => &["_bucket", "_sum", "_count"],
        "summary" => &["_sum", "_count"],
        _ => &[],
    };
    suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// The Prometheus metric type of a stored OTLP type.
fn prom_type(t: &str) -> &'static str {
    match t {
        "sum" | "counter" | "delta_counter" => "counter",
        "gauge" | "delta_gauge" => "gauge",
        "histogram" | "delta_histogram" => "histogram",
        "summary" => "summary",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_drop_the_suffixes_of_their_type() {
        assert_eq!(
            family_name("http_seconds_bucket", "histogram"),
            "http_seconds"
        );
        assert_eq!(family_name("rpc_seconds_count", "summary"), "rpc_seconds");
        assert_eq!(family_name("jobs_count", "gauge"), "jobs_count");
        assert_eq!(prom_type("delta_counter"), "counter");
        assert_eq!(prom_type("exponential_histogram"), "unknown");
    }
}
