//! Metric data points to rows of the `samples` and `series` tables, following the OpenTelemetry
//! spec's "OTLP Metric points to Prometheus" mapping.
//!
//! - Gauges and non-monotonic sums become Prometheus gauges, monotonic sums counters (`_total`).
//! - Histograms become classic histograms: `_bucket{le=...}` with cumulative counts for each
//!   explicit bound and `+Inf`, `_sum` when the point has one, `_count`.
//! - Exponential histograms become classic histograms too (native histograms come later): one
//!   bucket per populated exponential bucket, bounded by `-base^index` for negative buckets,
//!   `zero_threshold` for the zero bucket and `base^(index+1)` for positive ones.
//! - Summaries become `{quantile=...}` samples, `_sum` and `_count`.
//! - Labels are the point's attributes, `job` (`service.namespace/service.name`), `instance`
//!   (`service.instance.id`), `otel_scope_name` and `otel_scope_version`; the other resource
//!   attributes go to one `target_info` sample per resource. Labels with empty values are left
//!   out, as Prometheus treats an empty label as an absent one.
//! - A point flagged `NO_RECORDED_VALUE` turns every sample it yields into the stale marker.
//!
//! Values are stored as the point states them, whatever the aggregation temporality, so the
//! conversion stays a pure function of the request (replay gives the same rows). Delta sums
//! and histograms keep their per-interval values; their series are typed `delta_counter`,
//! `delta_gauge` or `delta_histogram`, and PromQL's `rate` and `increase` sum the intervals
//! in the window instead of differencing cumulative values (docs/0010). `_created` series are
//! not converted.
//! - Exemplars go to the series of their point: for histograms, the `_bucket` series of the
//!   smallest bound at or above the exemplar's value (`+Inf` above all). Their labels are the
//!   filtered attributes (named as point attributes are), `trace_id` and `span_id` (lowercase
//!   hex); their time is the exemplar's, or the point's when it has none.

use std::borrow::Cow;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    SummaryDataPoint,
};

use super::exemplars::{bucket_exemplars, exemplar};
use super::exponential::exponential_buckets;

use super::attrs::{find, for_each_last, write_f64};
use super::columns::render;
use super::converted::{ConvertLimits, Converted, KnownFn, Tally};
use super::names::{is_label_name, label_name, metric_name, Suffixes};
use super::output::{Family, LabelPair, Output};

/// The Prometheus stale marker, which a point flagged `NO_RECORDED_VALUE` stands for.
pub(super) const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`.
const NO_RECORDED_VALUE: u32 = 1;

/// Resource attributes that become `job` and `instance` rather than `target_info` labels.
const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

pub(super) fn convert(
    req: &ExportMetricsServiceRequest,
    known: Option<&KnownFn>,
    limits: &ConvertLimits,
) -> Converted {
    let plan = Plan::new(req);
    let mut out = Output::new(plan.samples, plan.labels, known);
    let mut tally = Tally::default();
    for (ri, rm) in req.resource_metrics.iter().enumerate() {
        convert_resource(ri, rm, &plan.keys, limits, &mut out, &mut tally);
    }
    tally.finish(out.finish())
}

/// What one pass over the request learns before converting it.
struct Plan<'a> {
    /// About how many samples the request yields.
    samples: usize,
    /// About how many labels those samples have in all.
    labels: usize,
    keys: LabelNames<'a>,
}

impl<'a> Plan<'a> {
    fn new(req: &'a ExportMetricsServiceRequest) -> Self {
        let mut plan = Plan {
            samples: 0,
            labels: 0,
            keys: LabelNames::default(),
        };
        let metrics = req.resource_metrics.iter().flat_map(|r| &r.scope_metrics);
        for m in metrics.flat_map(|s| &s.metrics) {
            match &m.data {
                None => {}
                Some(Data::Gauge(g)) => plan.points(&g.data_points, |p| (&p.attributes, 1)),
                Some(Data::Sum(s)) => plan.points(&s.data_points, |p| (&p.attributes, 1)),
                Some(Data::Histogram(h)) => plan.points(&h.data_points, |p| {
                    (&p.attributes, p.explicit_bounds.len() + 3)
                }),
                Some(Data::ExponentialHistogram(h)) => plan.points(&h.data_points, |p| {
                    let len = |b: &Option<Buckets>| b.as_ref().map_or(0, |b| b.bucket_counts.len());
                    (&p.attributes, len(&p.positive) + len(&p.negative) + 4)
                }),
                Some(Data::Summary(s)) => plan.points(&s.data_points, |p| {
                    (&p.attributes, p.quantile_values.len() + 2)
                }),
            }
        }
        // A target_info per resource.
        plan.samples += req.resource_metrics.len();
        plan.labels += req.resource_metrics.len() * 8;
        plan
    }

    fn points<P>(&mut self, points: &'a [P], f: impl Fn(&'a P) -> (&'a Vec<KeyValue>, usize)) {
        for p in points {
            let (attrs, samples) = f(p);
            self.samples += samples;
            // The attributes, job, instance, the scope's two and `le` or `quantile`.
            self.labels += samples * (attrs.len() + 5);
            for kv in attrs {
                self.keys.learn(&kv.key);
            }
        }
    }
}

/// Prometheus label names of the data point attribute keys, computed once per distinct key:
/// most OpenTelemetry keys contain dots and would otherwise be rewritten on every point.
#[derive(Default)]
struct LabelNames<'a> {
    changed: common::hash::StrMap<&'a str, String>,
}

impl<'a> LabelNames<'a> {
    fn learn(&mut self, key: &'a str) {
        if !key.is_empty() && !is_label_name(key) && !self.changed.contains_key(key) {
            self.changed.insert(key, label_name(key).into_owned());
        }
    }

    /// The label name of `key`; empty (the attribute is left out) for an empty key.
    fn get<'s>(&'s self, key: &'s str) -> &'s str {
        if is_label_name(key) {
            key
        } else {
            // Every key of the request was learnt, so a miss is an empty key.
            self.changed.get(key).map_or("", String::as_str)
        }
    }
}

/// An attribute on its way to becoming a label.
struct Attr<'x> {
    name: Cow<'x, str>,
    key: &'x str,
    value: Cow<'x, str>,
}

/// Turns `attrs` into sorted labels: values of attributes whose names collide are joined with
/// `;` in the order of the original keys, and the `fixed` labels (sorted, with non-empty values)
/// replace attributes of the same name.
fn merge_labels<'x>(
    attrs: &mut Vec<Attr<'x>>,
    fixed: &[(&'x str, &'x str)],
    labels: &mut Vec<LabelPair<'x>>,
) {
    labels.clear();
    attrs.sort_unstable_by(|a, b| (&a.name, a.key).cmp(&(&b.name, b.key)));
    let mut fixed = fixed.iter().peekable();
    for a in attrs.drain(..) {
        while let Some(&&(k, v)) = fixed.peek() {
            if k >= a.name.as_ref() {
                break;
            }
            labels.push((Cow::Borrowed(k), Cow::Borrowed(v)));
            fixed.next();
        }
        if fixed.peek().is_some_and(|(k, _)| *k == a.name) {
            continue;
        }
        if let Some((name, value)) = labels.last_mut() {
            if *name == a.name {
                let joined = value.to_mut();
                joined.push(';');
                joined.push_str(&a.value);
                continue;
            }
        }
        labels.push((a.name, a.value));
    }
    labels.extend(fixed.map(|&(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v))));
}

fn convert_resource<'a>(
    ri: usize,
    rm: &'a ResourceMetrics,
    keys: &'a LabelNames<'a>,
    limits: &ConvertLimits,
    out: &mut Output<'_>,
    tally: &mut Tally,
) {
    let res_kvs = rm.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
    let text = |key| {
        find(res_kvs, key)
            .and_then(|v| render(Some(v)))
            .filter(|v| !v.is_empty())
    };
    let job = text(SERVICE_NAME).map(|name| match text(SERVICE_NAMESPACE) {
        Some(ns) => Cow::Owned(format!("{ns}/{name}")),
        None => name,
    });
    let instance = text(SERVICE_INSTANCE_ID);
    let mut target: Vec<(&str, &str)> = Vec::with_capacity(2);
    if let Some(instance) = &instance {
        target.push(("instance", instance));
    }
    if let Some(job) = &job {
        target.push(("job", job));
    }

    let mut cx = PointContext {
        keys,
        max_value: limits.max_label_value_bytes,
        attrs: Vec::new(),
        labels: Vec::new(),
        le: LeCache::default(),
    };
    let mut max_ts: Option<i64> = None;
    for (si, sm) in rm.scope_metrics.iter().enumerate() {
        // Sorted by name: instance < job < otel_scope_name < otel_scope_version.
        let mut fixed = target.clone();
        if let Some(scope) = &sm.scope {
            if !scope.name.is_empty() {
                fixed.push(("otel_scope_name", &scope.name));
            }
            if !scope.version.is_empty() {
                fixed.push(("otel_scope_version", &scope.version));
            }
        }
        for (mi, metric) in sm.metrics.iter().enumerate() {
            let loc = Loc {
                resource: ri,
                scope: si,
                metric: mi,
            };
            convert_metric(metric, &fixed, &mut cx, out, tally, &mut max_ts, loc);
        }
    }

    // One `target_info` per resource with something to say beyond job and instance.
    let Some(ts) = max_ts else { return };
    let mut attrs = Vec::new();
    for_each_last(res_kvs, |kv| {
        if matches!(
            kv.key.as_str(),
            SERVICE_NAME | SERVICE_NAMESPACE | SERVICE_INSTANCE_ID
        ) {
            return;
        }
        let name = label_name(&kv.key);
        match render(kv.value.as_ref()) {
            Some(value) if !value.is_empty() && !name.is_empty() => {
                attrs.push(Attr {
                    name,
                    key: &kv.key,
                    value,
                });
            }
            _ => {}
        }
    });
    if attrs.is_empty() {
        return;
    }
    let mut labels = Vec::with_capacity(attrs.len() + 2);
    merge_labels(&mut attrs, &target, &mut labels);
    let family = Family::simple("target_info".into(), "gauge", "", "Target metadata");
    out.sample(&family, &family.name, &labels, None, ts, 1.0);
}

/// Where a metric is in the request, for error messages.
#[derive(Debug, Clone, Copy)]
struct Loc {
    resource: usize,
    scope: usize,
    metric: usize,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Loc {
            resource,
            scope,
            metric,
        } = self;
        write!(f, "metric {metric} of scope {scope} of resource {resource}")
    }
}

/// Scratch space reused across the points of a resource.
struct PointContext<'x> {
    keys: &'x LabelNames<'x>,
    /// Longest label value accepted, bytes.
    max_value: usize,
    attrs: Vec<Attr<'x>>,
    labels: Vec<LabelPair<'x>>,
    le: LeCache<'x>,
}

impl<'x> PointContext<'x> {
    /// Fills `self.labels` with the labels of a point with attributes `attrs`; refuses a point
    /// with a label value over the limit.
    fn labels(
        &mut self,
        attrs: &'x [KeyValue],
        fixed: &[(&'x str, &'x str)],
    ) -> Result<(), String> {
        let (keys, out) = (self.keys, &mut self.attrs);
        for_each_last(attrs, |kv| {
            let name = keys.get(&kv.key);
            if name.is_empty() {
                return;
            }
            match render(kv.value.as_ref()) {
                Some(value) if !value.is_empty() => {
                    out.push(Attr {
                        name: Cow::Borrowed(name),
                        key: &kv.key,
                        value,
                    });
                }
                _ => {}
            }
        });
        merge_labels(&mut self.attrs, fixed, &mut self.labels);
        match self.labels.iter().find(|(_, v)| v.len() > self.max_value) {
            Some((name, value)) => Err(format!(
                "label {name:?} has a value of {} bytes, over the limit of {} \
                 (limits.max_label_value_bytes)",
                value.len(),
                self.max_value
            )),
            None => Ok(()),
        }
    }
}

/// The `le` label values of the last explicit bounds seen: points of a histogram nearly always
/// share their bounds, and formatting floats is the costly part of a bucket.
#[derive(Default)]
struct LeCache<'x> {
    bounds: &'x [f64],
    les: Vec<String>,
}

impl<'x> LeCache<'x> {
    fn get(&mut self, bounds: &'x [f64]) -> &[String] {
        if self.bounds != bounds || self.les.len() != bounds.len() {
            self.bounds = bounds;
            self.les.clear();
            self.les.extend(bounds.iter().map(|&b| prom_float(b)));
        }
        &self.les
    }
}

/// `v` as Prometheus writes `le` and `quantile` values: shortest round-trip form, `+Inf`.
fn prom_float(v: f64) -> String {
    let mut s = String::with_capacity(8);
    // Writing into a String cannot fail.
    let _ = write_f64(&mut s, v);
    s
}

/// The sample values of a point: as given, or all stale when the point has no recorded value.
struct Point {
    ts: i64,
    stale: bool,
}

impl Point {
    fn new(time_unix_nano: u64, flags: u32) -> Result<Self, String> {
        if time_unix_nano == 0 {
            return Err("time_unix_nano must not be 0".into());
        }
        let ts = i64::try_from(time_unix_nano / 1_000_000).unwrap_or(i64::MAX);
        Ok(Point {
            ts,
            stale: flags & NO_RECORDED_VALUE != 0,
        })
    }

    fn value(&self, v: f64) -> f64 {
        if self.stale {
            f64::from_bits(STALE_NAN)
        } else {
            v
        }
    }
}

fn convert_metric<'x>(
    metric: &'x Metric,
    fixed: &[(&'x str, &'x str)],
    cx: &mut PointContext<'x>,
    out: &mut Output<'_>,
    tally: &mut Tally,
    max_ts: &mut Option<i64>,
    loc: Loc,
) {
    let Some(data) = &metric.data else { return };
    if metric.name.is_empty() {
        let points = match data {
            Data::Gauge(g) => g.data_points.len(),
            Data::Sum(s) => s.data_points.len(),
            Data::Histogram(h) => h.data_points.len(),
            Data::ExponentialHistogram(h) => h.data_points.len(),
            Data::Summary(s) => s.data_points.len(),
        };
        if points > 0 {
            tally.reject(points as u64, || format!("{loc}: metric name is empty"));
        }
        return;
    }
    let (unit, description) = (metric.unit.as_str(), metric.description.as_str());
    let mut run = |n: usize,
                   point: &mut dyn FnMut(
        usize,
        &mut PointContext<'x>,
        &mut Output<'_>,
    ) -> Result<i64, String>| {
        for pi in 0..n {
            match point(pi, cx, out) {
                Ok(ts) => {
                    tally.accept();
                    *max_ts = Some(max_ts.map_or(ts, |m| m.max(ts)));
                }
                Err(e) => tally.reject(1, || format!("data point {pi} of {loc}: {e}")),
            }
        }
    };
    match data {
        Data::Gauge(g) => {
            let name = metric_name(&metric.name, unit, Suffixes::Gauge);
            let family = Family::simple(name, "gauge", unit, description);
            run(g.data_points.len(), &mut |pi, cx, out| {
                number(&g.data_points[pi], &family, fixed, cx, out)
            });
        }
        Data::Sum(s) => {
            let delta = s.aggregation_temporality == DELTA;
            let (suffixes, prom_type) = match (s.is_monotonic, delta) {
                (true, false) => (Suffixes::Counter, "counter"),
                (true, true) => (Suffixes::Counter, "delta_counter"),
                (false, false) => (Suffixes::Other, "gauge"),
                (false, true) => (Suffixes::Other, "delta_gauge"),
            };
            let name = metric_name(&metric.name, unit, suffixes);
            let family = Family::simple(name, prom_type, unit, description);
            run(s.data_points.len(), &mut |pi, cx, out| {
                number(&s.data_points[pi], &family, fixed, cx, out)
            });
        }
        Data::Histogram(h) => {
            let name = metric_name(&metric.name, unit, Suffixes::Other);
            let kind = histogram_type(h.aggregation_temporality);
            let family = Family::with_parts(name, kind, metric);
            run(h.data_points.len(), &mut |pi, cx, out| {
                histogram(&h.data_points[pi], &family, fixed, cx, out)
            });
        }
        Data::ExponentialHistogram(h) => {
            let name = metric_name(&metric.name, unit, Suffixes::Other);
            let kind = histogram_type(h.aggregation_temporality);
            let family = Family::with_parts(name, kind, metric);
            let mut buckets = Vec::new();
            run(h.data_points.len(), &mut |pi, cx, out| {
                exponential(&h.data_points[pi], &family, fixed, cx, out, &mut buckets)
            });
        }
        Data::Summary(s) => {
            let name = metric_name(&metric.name, unit, Suffixes::Other);
            let family = Family::with_parts(name, "summary", metric);
            run(s.data_points.len(), &mut |pi, cx, out| {
                summary(&s.data_points[pi], &family, fixed, cx, out)
            });
        }
    }
}

/// `AGGREGATION_TEMPORALITY_DELTA` of OTLP.
const DELTA: i32 = 1;

/// The stored type of a histogram family: `delta_histogram` for delta temporality.
fn histogram_type(temporality: i32) -> &'static str {
    if temporality == DELTA {
        "delta_histogram"
    } else {
        "histogram"
    }
}

fn number<'x>(
    p: &'x NumberDataPoint,
    family: &Family<'_>,
    fixed: &[(&'x str, &'x str)],
    cx: &mut PointContext<'x>,
    out: &mut Output<'_>,
) -> Result<i64, String> {
    let point = Point::new(p.time_unix_nano, p.flags)?;
    let value = match p.value {
        Some(Value::AsDouble(d)) => d,
        Some(Value::AsInt(i)) => i as f64,
        None if point.stale => 0.0,
        None => return Err("data point has no value".into()),
    };
    cx.labels(&p.attributes, fixed)?;
    let id = out.sample(
        family,
        &family.name,
        &cx.labels,
        None,
        point.ts,
        point.value(value),
    );
    for e in &p.exemplars {
        exemplar(out, e, id, point.ts);
    }
    Ok(point.ts)
}

fn histogram<'x>(
    p: &'x HistogramDataPoint,
    family: &Family<'_>,
    fixed: &[(&'x str, &'x str)],
    cx: &mut PointContext<'x>,
    out: &mut Output<'_>,
) -> Result<i64, String> {
    let point = Point::new(p.time_unix_nano, p.flags)?;
    let (bounds, counts) = (&p.explicit_bounds, &p.bucket_counts);
    if !counts.is_empty() && counts.len() != bounds.len() + 1 {
        return Err(format!(
            "bucket_counts has {} entries for {} explicit_bounds, expected {}",
            counts.len(),
            bounds.len(),
            bounds.len() + 1
        ));
    }
    let increasing = |w: &[f64]| w[0].partial_cmp(&w[1]) == Some(std::cmp::Ordering::Less);
    if !bounds.windows(2).all(increasing) || bounds.iter().any(|b| b.is_nan()) {
        return Err("explicit_bounds must be strictly increasing".into());
    }
    cx.labels(&p.attributes, fixed)?;
    let mut bucket_ids = Vec::new();
    if !counts.is_empty() {
        let les = cx.le.get(bounds);
        let mut cumulative = 0u64;
        for ((&bound, le), &count) in bounds.iter().zip(les).zip(counts.iter()) {
            cumulative = cumulative.saturating_add(count);
            // An explicit +Inf bound is the +Inf bucket written below.
            if bound != f64::INFINITY {
                let v = point.value(cumulative as f64);
                let id = out.sample(
                    family,
                    &family.bucket,
                    &cx.labels,
                    Some(("le", le)),
                    point.ts,
                    v,
                );
                if !p.exemplars.is_empty() {
                    bucket_ids.push((bound, id));
                }
            }
        }
    }
    let count = point.value(p.count as f64);
    let inf = out.sample(
        family,
        &family.bucket,
        &cx.labels,
        Some(("le", "+Inf")),
        point.ts,
        count,
    );
    bucket_exemplars(out, &p.exemplars, &bucket_ids, inf, point.ts);
    if let Some(sum) = p.sum {
        out.sample(
            family,
            &family.sum,
            &cx.labels,
            None,
            point.ts,
            point.value(sum),
        );
    }
    out.sample(family, &family.count, &cx.labels, None, point.ts, count);
    Ok(point.ts)
}

fn exponential<'x>(
    p: &'x ExponentialHistogramDataPoint,
    family: &Family<'_>,
    fixed: &[(&'x str, &'x str)],
    cx: &mut PointContext<'x>,
    out: &mut Output<'_>,
    buckets: &mut Vec<(f64, u64)>,
) -> Result<i64, String> {
    let point = Point::new(p.time_unix_nano, p.flags)?;
    if !(-10..=20).contains(&p.scale) {
        return Err(format!("scale must be between -10 and 20, got {}", p.scale));
    }
    if !(p.zero_threshold >= 0.0 && p.zero_threshold.is_finite()) {
        return Err(format!(
            "zero_threshold must be a non-negative number, got {}",
            p.zero_threshold
        ));
    }
    exponential_buckets(p, buckets);
    cx.labels(&p.attributes, fixed)?;
    let mut bucket_ids = Vec::new();
    for &(bound, cumulative) in buckets.iter() {
        let le = prom_float(bound);
        let v = point.value(cumulative as f64);
        let id = out.sample(
            family,
            &family.bucket,
            &cx.labels,
            Some(("le", &le)),
            point.ts,
            v,
        );
        if !p.exemplars.is_empty() {
            bucket_ids.push((bound, id));
        }
    }
    let count = point.value(p.count as f64);
    let inf = out.sample(
        family,
        &family.bucket,
        &cx.labels,
        Some(("le", "+Inf")),
        point.ts,
        count,
    );
    bucket_exemplars(out, &p.exemplars, &bucket_ids, inf, point.ts);
    if let Some(sum) = p.sum {
        out.sample(
            family,
            &family.sum,
            &cx.labels,
            None,
            point.ts,
            point.value(sum),
        );
    }
    out.sample(family, &family.count, &cx.labels, None, point.ts, count);
    Ok(point.ts)
}

fn summary<'x>(
    p: &'x SummaryDataPoint,
    family: &Family<'_>,
    fixed: &[(&'x str, &'x str)],
    cx: &mut PointContext<'x>,
    out: &mut Output<'_>,
) -> Result<i64, String> {
    let point = Point::new(p.time_unix_nano, p.flags)?;
    cx.labels(&p.attributes, fixed)?;
    for q in &p.quantile_values {
        let quantile = prom_float(q.quantile);
        let v = point.value(q.value);
        out.sample(
            family,
            &family.name,
            &cx.labels,
            Some(("quantile", &quantile)),
            point.ts,
            v,
        );
    }
    out.sample(
        family,
        &family.sum,
        &cx.labels,
        None,
        point.ts,
        point.value(p.sum),
    );
    out.sample(
        family,
        &family.count,
        &cx.labels,
        None,
        point.ts,
        point.value(p.count as f64),
    );
    Ok(point.ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_merging_joins_collisions_and_lets_fixed_labels_win() {
        let attr = |name: &'static str, key: &'static str, value: &'static str| Attr {
            name: name.into(),
            key,
            value: value.into(),
        };
        let mut attrs = vec![
            attr("a_b", "a.b", "2"),
            attr("job", "job", "mine"),
            attr("a_b", "a-b", "1"),
            attr("z", "z", "last"),
            attr("c", "c", "x"),
        ];
        let mut labels = Vec::new();
        merge_labels(
            &mut attrs,
            &[("instance", "i-1"), ("job", "svc")],
            &mut labels,
        );
        let got: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                ("a_b", "1;2"),
                ("c", "x"),
                ("instance", "i-1"),
                ("job", "svc"),
                ("z", "last")
            ]
        );
    }
}
