//! Prometheus remote-write series to rows of the `samples` and `series` tables.

use std::borrow::Cow;

use super::converted::{ConvertLimits, Converted, KnownFn, Tally};
use super::names::is_label_name;
use super::output::{Family, LabelPair, Output};

/// Prometheus remote-write series to rows: the name from `__name__`, the other labels as sent
/// (empty values left out), the type, unit and help from the request's metadata for the
/// family (the name itself, or without `_bucket`/`_sum`/`_count`/`_total`). A series without a
/// name, with an invalid or repeated label name, or with a label value longer than the limit, is
/// refused with its samples. Exemplars go
/// to their series with their labels as sent (empty values left out).
pub(super) fn convert(
    req: &crate::remote_write::WriteRequest,
    known: Option<&KnownFn>,
    limits: &ConvertLimits,
) -> Converted {
    let samples: usize = req.timeseries.iter().map(|t| t.samples.len()).sum();
    let labels: usize = req
        .timeseries
        .iter()
        .map(|t| t.labels.len() * t.samples.len())
        .sum();
    let mut out = Output::new(samples, labels, known);
    let mut tally = Tally::default();
    let meta: std::collections::HashMap<&str, &crate::remote_write::MetricMetadata> = req
        .metadata
        .iter()
        .map(|m| (m.metric_family_name.as_str(), m))
        .collect();
    let family_of = |name: &str| {
        meta.get(name).copied().or_else(|| {
            ["_bucket", "_sum", "_count", "_total"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .and_then(|base| meta.get(base).copied())
                })
        })
    };
    for (i, ts) in req.timeseries.iter().enumerate() {
        let n = ts.samples.len() as u64;
        let mut name: Option<&str> = None;
        let mut pairs: Vec<LabelPair<'_>> = Vec::with_capacity(ts.labels.len());
        let mut invalid: Option<String> = None;
        for l in &ts.labels {
            if l.value.len() > limits.max_label_value_bytes {
                invalid = Some(format!(
                    "label {:?} has a value of {} bytes, over the limit of {} \
                     (limits.max_label_value_bytes)",
                    l.name,
                    l.value.len(),
                    limits.max_label_value_bytes
                ));
            } else if l.name == "__name__" {
                name = Some(&l.value);
            } else if !is_label_name(&l.name) && !l.name.starts_with("__") {
                invalid = Some(format!("invalid label name {:?}", l.name));
            } else if !l.value.is_empty() {
                pairs.push((Cow::Borrowed(&l.name), Cow::Borrowed(&l.value)));
            }
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            invalid = Some("repeated label name".into());
        }
        let name = match (name.filter(|n| !n.is_empty()), invalid) {
            (_, Some(why)) => {
                tally.reject(n, || format!("timeseries {i}: {why}"));
                continue;
            }
            (None, None) => {
                tally.reject(n, || format!("timeseries {i}: no __name__ label"));
                continue;
            }
            (Some(name), None) => name,
        };
        let (prom_type, unit, help) = match family_of(name) {
            Some(m) => (
                match m.r#type {
                    1 => "counter",
                    2 => "gauge",
                    3 => "histogram",
                    4 => "gaugehistogram",
                    5 => "summary",
                    6 => "info",
                    7 => "stateset",
                    _ => "unknown",
                },
                m.unit.as_str(),
                m.help.as_str(),
            ),
            None => ("unknown", "", ""),
        };
        let family = Family::simple(name.to_string(), prom_type, unit, help);
        for s in &ts.samples {
            out.sample(&family, name, &pairs, None, s.timestamp, s.value);
            tally.accept();
        }
        if !ts.exemplars.is_empty() {
            let id = out.series(&family, name, &pairs, None);
            for e in &ts.exemplars {
                let mut labels: Vec<(&str, &str)> = e
                    .labels
                    .iter()
                    .filter(|l| !l.value.is_empty())
                    .map(|l| (l.name.as_str(), l.value.as_str()))
                    .collect();
                labels.sort();
                labels.dedup_by(|a, b| a.0 == b.0);
                out.push_exemplar(id, e.timestamp, e.value, labels.into_iter());
            }
        }
    }
    tally.finish(out.finish())
}
