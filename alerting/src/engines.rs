//! The server's [`Backend`]: rules query Vigil's engines as a Rust API (PromQL through
//! [`PromEngine`], SQL through [`SqlEngine`]) and write through a [`SampleSink`], which the server
//! implements with the normal write path (WAL, head, segments), so recorded series and `ALERTS`
//! are as durable as anything ingested. A group evaluates on a blocking thread; each call here
//! waits for its future on the server's runtime.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use common::Tenant;
use futures::future::BoxFuture;
use promql::value::{Labels, Sample, Value};
use query::{LokiAnswer, LokiEngine, PromEngine, SqlEngine, SqlLimits, SqlResult, TempoEngine};

use crate::group::Backend;
use crate::rules::{Language, TRACEQL_RULE_WINDOW};

/// Where rules' samples are written: durably, through the write path, visible to queries once
/// the future resolves.
pub trait SampleSink: Send + Sync + 'static {
    /// Writes `samples` (each carrying its `__name__`) for `tenant`.
    fn write(&self, tenant: Tenant, samples: Vec<Sample>)
        -> BoxFuture<'static, Result<(), String>>;
}

/// The engines and the sink that all tenants' rules use.
#[derive(Clone)]
pub struct Engines {
    /// PromQL.
    pub prometheus: Arc<PromEngine>,
    /// SQL.
    pub sql: Arc<SqlEngine>,
    /// Limits of SQL rules' queries.
    pub sql_limits: SqlLimits,
    /// LogQL.
    pub loki: Arc<LokiEngine>,
    /// TraceQL metrics.
    pub tempo: Arc<TempoEngine>,
    /// Where samples go.
    pub sink: Arc<dyn SampleSink>,
}

impl std::fmt::Debug for Engines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engines").finish_non_exhaustive()
    }
}

/// One tenant's view of [`Engines`], for a group evaluating on a blocking thread.
pub(crate) struct EngineBackend {
    pub(crate) tenant: Tenant,
    pub(crate) engines: Engines,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Backend for EngineBackend {
    fn query(&self, language: Language, expr: &str, t: i64) -> Result<Value, String> {
        match language {
            Language::PromQl => {
                let query = promql::parse(expr).map_err(|e| e.to_string())?;
                let engine = &self.engines.prometheus;
                let options = engine.limits().options.clone();
                self.runtime
                    .block_on(engine.instant(self.tenant.clone(), query, t, options))
                    .map(|r| r.value)
                    .map_err(|e| e.client_message())
            }
            Language::Sql => {
                let result = self
                    .runtime
                    .block_on(self.engines.sql.execute(
                        self.tenant.clone(),
                        expr,
                        &self.engines.sql_limits,
                    ))
                    .map_err(|e| e.client_message())?;
                sql_vector(&result, t).map(Value::Vector)
            }
            Language::LogQl => {
                let ns = t.saturating_mul(1_000_000);
                let answer = self
                    .runtime
                    .block_on(
                        self.engines
                            .loki
                            .query(&self.tenant, expr, ns, ns, 1, 1, true, true),
                    )
                    .map_err(|e| e.client_message())?;
                Ok(match answer {
                    LokiAnswer::Value(logql::eval::Value::Vector(v)) => Value::Vector(
                        v.into_iter()
                            .map(|s| Sample {
                                labels: Labels::new(s.labels.into_iter().collect()),
                                t,
                                v: s.value,
                                drop_name: false,
                            })
                            .collect(),
                    ),
                    LokiAnswer::Value(logql::eval::Value::Scalar(v)) => {
                        Value::Vector(vec![Sample {
                            labels: Labels::new(Vec::new()),
                            t,
                            v,
                            drop_name: false,
                        }])
                    }
                    _ => return Err("a LogQL rule must give a vector".into()),
                })
            }
            Language::TraceQl => {
                let ns = |ms: i64| ms.saturating_mul(1_000_000);
                let request = traceql::metrics::MetricsRequest {
                    start_ns: ns(t - TRACEQL_RULE_WINDOW),
                    end_ns: ns(t),
                    step_ns: ns(TRACEQL_RULE_WINDOW),
                    max_exemplars: 0,
                };
                let (out, _) = self
                    .runtime
                    .block_on(self.engines.tempo.metrics(
                        self.tenant.clone(),
                        expr,
                        request,
                        TRACEQL_RULE_MAX_SERIES,
                    ))
                    .map_err(|e| e.client_message())?;
                Ok(Value::Vector(traceql_vector(&out, t)))
            }
        }
    }

    fn write(&self, samples: Vec<Sample>) -> Result<(), String> {
        self.runtime
            .block_on(self.engines.sink.write(self.tenant.clone(), samples))
    }
}

/// Most series a TraceQL rule's query may give.
const TRACEQL_RULE_MAX_SERIES: usize = 1000;

/// A TraceQL metrics answer as an instant vector at `t`: each series' last value, its labels
/// as Prometheus names them (`resource.service.name` → `resource_service_name`, values as
/// Tempo writes them), without the function's `__name__`.
pub fn traceql_vector(out: &traceql::metrics::MetricsOutput, t: i64) -> Vec<Sample> {
    out.series
        .iter()
        .filter_map(|s| {
            let (_, v) = s.samples.last()?;
            let labels = s
                .labels
                .iter()
                .filter(|(k, _)| k != "__name__")
                .map(|(k, v)| {
                    (
                        common::label_name::sanitize(k),
                        traceql::metrics::label_text(v),
                    )
                })
                .collect();
            Some(Sample {
                labels: Labels::new(labels),
                t,
                v: *v,
                drop_name: false,
            })
        })
        .collect()
}

/// The column of a SQL rule's result that holds the value.
pub const SQL_VALUE_COLUMN: &str = "value";

/// A SQL result as an instant vector at `t`: one sample per row, its value from the numeric
/// [`SQL_VALUE_COLUMN`], its labels from every other column (as text; a null leaves the label
/// out).
pub fn sql_vector(result: &SqlResult, t: i64) -> Result<Vec<Sample>, String> {
    let schema = &result.schema;
    let value_index = schema.index_of(SQL_VALUE_COLUMN).map_err(|_| {
        format!(
            "a SQL rule's result needs a numeric column named {SQL_VALUE_COLUMN:?}; it has {}",
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let mut out = Vec::new();
    let options = FormatOptions::default();
    for batch in &result.batches {
        let values = arrow::compute::cast(batch.column(value_index), &DataType::Float64)
            .map_err(|e| format!("column {SQL_VALUE_COLUMN:?} is not numeric: {e}"))?;
        let values = values.as_primitive::<Float64Type>();
        let mut labels: Vec<(String, ArrayFormatter<'_>, &dyn Array)> = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i == value_index {
                continue;
            }
            let column = batch.column(i).as_ref();
            let formatter = ArrayFormatter::try_new(column, &options)
                .map_err(|e| format!("column {:?}: {e}", field.name()))?;
            labels.push((field.name().clone(), formatter, column));
        }
        for row in 0..batch.num_rows() {
            if values.is_null(row) {
                continue;
            }
            let pairs = labels
                .iter()
                .filter(|(_, _, column)| !column.is_null(row))
                .map(|(name, f, _)| (name.clone(), f.value(row).to_string()))
                .collect();
            out.push(Sample {
                labels: Labels::new(pairs),
                t,
                v: values.value(row),
                drop_name: false,
            });
        }
    }
    Ok(out)
}
