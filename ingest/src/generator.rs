//! RED metrics and the service graph derived from spans as they are ingested, named and
//! labelled as Tempo's metrics-generator writes them, so Grafana's service graph, its
//! "traces to metrics" links and RED panels work over PromQL unchanged.
//!
//! Spans flow in per export request: [`Generator::digest`] turns a request into a [`Delta`]
//! (series pre-aggregated for that request, and halves of service-graph edges) while it is
//! converted; once the request is durably appended, [`Generator::apply`] adds the delta to its
//! tenant's cumulative series (a refused request counts nothing). Every collection interval
//! [`Generator::collect`] gives each tenant's series as a remote-write request stamped with the
//! collection time, which the server writes through the remote-write path (WAL first); a new
//! series also gets a zero sample just before the minute it appeared in, as Tempo writes one,
//! so that `rate()` sees its first increase.
//!
//! Series (`spans`, `graph`): `traces_spanmetrics_calls_total`,
//! `traces_spanmetrics_latency_{bucket,sum,count}`, `traces_spanmetrics_size_total` by
//! `service`, `span_name`, `span_kind`, `status_code` and the configured dimensions;
//! `traces_service_graph_request_total`, `traces_service_graph_request_failed_total`,
//! `traces_service_graph_request_{server,client}_seconds_{bucket,sum,count}` by `client`,
//! `server`, `connection_type`. Latency buckets carry exemplars with label `traceID`.
//! Empty label values are left out, as Tempo leaves them. Counters restart from zero when the
//! server does (PromQL's `rate()` reads that as a reset).

mod config;
mod graph;
mod histogram;
mod spans;

use std::collections::HashMap;
use std::sync::LazyLock;

use common::Tenant;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use parking_lot::Mutex;
use prometheus::{register_int_counter_vec, IntCounterVec};

pub use config::GeneratorConfig;
use graph::{edge_key, Call, EdgeStats, Half, Store};
use histogram::Histogram;
use spans::{SpanSeries, SpanStats, INTRINSICS};

use crate::remote_write::wire::{Exemplar, Label, Sample, TimeSeries, WriteRequest};

/// Spans the generator could not count, by why (`max_series`, `graph_max_items`).
static DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_generator_dropped_spans_total",
        "spans left out of span metrics or the service graph, by reason",
        &["reason"]
    )
    .expect("metric registers once")
});

/// Halves of service-graph edges whose other half never came and that made no virtual edge.
static EXPIRED_EDGES: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    prometheus::register_int_counter!(
        "vigil_generator_expired_edges_total",
        "service-graph half edges that expired unpaired"
    )
    .expect("metric registers once")
});

/// What one export request adds.
#[derive(Debug, Default)]
pub struct Delta {
    spans: SpanSeries,
    halves: Vec<Half>,
    calls: Vec<Call>,
}

impl Delta {
    /// Whether it adds nothing.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.halves.is_empty() && self.calls.is_empty()
    }
}

/// A series' cumulative values and when it last changed.
#[derive(Debug)]
struct Entry<T> {
    stats: T,
    updated_ms: i64,
    /// Not written yet: the first write adds the zero sample.
    fresh: bool,
}

/// One tenant's series and waiting halves.
#[derive(Debug, Default)]
struct TenantState {
    spans: HashMap<String, Entry<SpanStats>>,
    edges: HashMap<String, Entry<EdgeStats>>,
    store: Store,
}

impl TenantState {
    fn series(&self) -> usize {
        self.spans.len() + self.edges.len()
    }

    fn add_call(&mut self, call: &Call, now_ms: i64, max_series: usize) {
        let key = edge_key(call);
        if !self.edges.contains_key(&key) && self.series() >= max_series {
            DROPPED.with_label_values(&["max_series"]).inc();
            return;
        }
        let entry = self.edges.entry(key).or_insert_with(|| Entry {
            stats: EdgeStats::new(),
            updated_ms: now_ms,
            fresh: true,
        });
        entry.stats.add(call);
        entry.updated_ms = now_ms;
    }
}

/// Span metrics and the service graph of every tenant.
#[derive(Debug)]
pub struct Generator {
    config: GeneratorConfig,
    dimension_labels: Vec<String>,
    tenants: Mutex<HashMap<Tenant, TenantState>>,
}

impl Generator {
    /// A generator with `config` and no series yet.
    pub fn new(config: GeneratorConfig) -> Self {
        Self {
            dimension_labels: spans::dimension_labels(&config.dimensions),
            config,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// What the spans of `request` add (nothing when the generator is off).
    pub fn digest(&self, request: &ExportTraceServiceRequest) -> Delta {
        let mut delta = Delta::default();
        if !self.config.enabled {
            return delta;
        }
        let mut key = String::new();
        for rs in &request.resource_spans {
            let resource = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default();
            let service = resource
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .map(spans::text)
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    spans::observe(
                        &mut delta.spans,
                        &mut key,
                        &service,
                        resource,
                        &self.config.dimensions,
                        span,
                    );
                    // The service graph needs a service on both ends.
                    if service.is_empty() {
                        continue;
                    }
                    match graph::half(&service, resource, span) {
                        Some(Ok(half)) => delta.halves.push(half),
                        Some(Err(call)) => delta.calls.push(call),
                        None => {}
                    }
                }
            }
        }
        delta
    }

    /// Adds `delta` to `tenant`'s series at `now_ms` (unix ms).
    pub fn apply(&self, tenant: &Tenant, delta: Delta, now_ms: i64) {
        if delta.is_empty() {
            return;
        }
        let max_series = self.config.max_series;
        let wait_ms = i64::try_from(self.config.graph_wait.as_millis()).unwrap_or(i64::MAX);
        let mut tenants = self.tenants.lock();
        let state = tenants.entry(tenant.clone()).or_default();
        for (key, stats) in delta.spans {
            let known = state.spans.contains_key(&key);
            if !known && state.series() >= max_series {
                DROPPED
                    .with_label_values(&["max_series"])
                    .inc_by(stats.calls);
                continue;
            }
            let entry = state.spans.entry(key).or_insert_with(|| Entry {
                stats: SpanStats::new(),
                updated_ms: now_ms,
                fresh: true,
            });
            entry.stats.merge(&stats);
            entry.updated_ms = now_ms;
        }
        for call in &delta.calls {
            state.add_call(call, now_ms, max_series);
        }
        for half in delta.halves {
            match state.store.offer(
                half,
                now_ms.saturating_add(wait_ms),
                self.config.graph_max_items,
            ) {
                Ok(Some(call)) => state.add_call(&call, now_ms, max_series),
                Ok(None) => {}
                Err(()) => DROPPED.with_label_values(&["graph_max_items"]).inc(),
            }
        }
    }

    /// Every tenant's series at `now_ms` (unix ms), as remote-write requests; expires waiting
    /// halves and forgets series not updated for `stale_after`.
    pub fn collect(&self, now_ms: i64) -> Vec<(Tenant, WriteRequest)> {
        let stale_ms = i64::try_from(self.config.stale_after.as_millis()).unwrap_or(i64::MAX);
        let zero_ms = now_ms - now_ms.rem_euclid(60_000) - 1000;
        let mut tenants = self.tenants.lock();
        let mut out = Vec::new();
        for (tenant, state) in tenants.iter_mut() {
            let (calls, lost) = state.store.expire(now_ms);
            EXPIRED_EDGES.inc_by(lost);
            for call in &calls {
                state.add_call(call, now_ms, self.config.max_series);
            }
            state
                .spans
                .retain(|_, e| now_ms.saturating_sub(e.updated_ms) < stale_ms);
            state
                .edges
                .retain(|_, e| now_ms.saturating_sub(e.updated_ms) < stale_ms);
            let mut w = Writer {
                series: Vec::new(),
                now_ms,
                zero_ms,
            };
            for (key, entry) in &mut state.spans {
                let labels: Vec<(&str, &str)> = INTRINSICS
                    .iter()
                    .copied()
                    .chain(self.dimension_labels.iter().map(String::as_str))
                    .zip(spans::parts(key))
                    .collect();
                let fresh = std::mem::take(&mut entry.fresh);
                let s = &mut entry.stats;
                w.counter("traces_spanmetrics_calls_total", &labels, s.calls, fresh);
                w.counter("traces_spanmetrics_size_total", &labels, s.size, fresh);
                w.histogram("traces_spanmetrics_latency", &labels, &mut s.latency, fresh);
            }
            for (key, entry) in &mut state.edges {
                let labels: Vec<(&str, &str)> = ["client", "server", "connection_type"]
                    .into_iter()
                    .zip(spans::parts(key))
                    .collect();
                let fresh = std::mem::take(&mut entry.fresh);
                let s = &mut entry.stats;
                w.counter(
                    "traces_service_graph_request_total",
                    &labels,
                    s.total,
                    fresh,
                );
                w.counter(
                    "traces_service_graph_request_failed_total",
                    &labels,
                    s.failed,
                    fresh,
                );
                w.histogram(
                    "traces_service_graph_request_server_seconds",
                    &labels,
                    &mut s.server,
                    fresh,
                );
                w.histogram(
                    "traces_service_graph_request_client_seconds",
                    &labels,
                    &mut s.client,
                    fresh,
                );
            }
            if !w.series.is_empty() {
                out.push((
                    tenant.clone(),
                    WriteRequest {
                        timeseries: w.series,
                        metadata: Vec::new(),
                    },
                ));
            }
        }
        out
    }
}

/// Builds the series of one collection.
struct Writer {
    series: Vec<TimeSeries>,
    now_ms: i64,
    zero_ms: i64,
}

impl Writer {
    /// One series `name` with `labels` (empty values left out) at `value`, after a zero
    /// sample when `fresh`.
    fn push(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        fresh: bool,
        exemplar: Option<([u8; 16], f64)>,
    ) {
        let mut out: Vec<Label> = labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| Label {
                name: (*k).to_string(),
                value: (*v).to_string(),
            })
            .collect();
        out.push(Label {
            name: "__name__".into(),
            value: name.into(),
        });
        out.sort_by(|a, b| a.name.cmp(&b.name));
        let mut samples = Vec::with_capacity(2);
        if fresh && self.zero_ms < self.now_ms {
            samples.push(Sample {
                value: 0.0,
                timestamp: self.zero_ms,
            });
        }
        samples.push(Sample {
            value,
            timestamp: self.now_ms,
        });
        let exemplars = exemplar
            .map(|(trace, v)| Exemplar {
                labels: vec![Label {
                    name: "traceID".into(),
                    value: hex::encode(trace),
                }],
                value: v,
                timestamp: self.now_ms,
            })
            .into_iter()
            .collect();
        self.series.push(TimeSeries {
            labels: out,
            samples,
            exemplars,
        });
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)], value: u64, fresh: bool) {
        self.push(name, labels, value as f64, fresh, None);
    }

    /// `name_bucket` per bound (with `le` and the bucket's exemplar), `name_sum`, `name_count`.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &mut Histogram, fresh: bool) {
        let bucket = format!("{name}_bucket");
        for (le, count, exemplar) in h.buckets() {
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.push(&bucket, &with_le, count as f64, fresh, exemplar);
        }
        self.push(&format!("{name}_sum"), labels, h.sum(), fresh, None);
        self.push(
            &format!("{name}_count"),
            labels,
            h.count() as f64,
            fresh,
            None,
        );
    }
}

#[cfg(test)]
mod tests;
