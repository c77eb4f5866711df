//! Prometheus-model rows as a conversion builds them: the `samples` rows, the `series` rows of
//! the series they use ([`Family`] names a metric's series), and their exemplars.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use arrow::error::ArrowError;
use common::schema::{exemplars_schema, samples_schema, series_fingerprint, series_schema};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use storage::Rows;

use super::columns::{primitive, strings, MapColumn};
use super::converted::KnownFn;

/// A label: name and value.
pub(super) type LabelPair<'x> = (Cow<'x, str>, Cow<'x, str>);

/// The names and metadata of the series one OTLP metric yields.
pub(super) struct Family<'m> {
    pub(super) name: String,
    pub(super) bucket: String,
    pub(super) sum: String,
    pub(super) count: String,
    pub(super) prom_type: &'static str,
    pub(super) unit: &'m str,
    pub(super) description: &'m str,
}

impl<'m> Family<'m> {
    pub(super) fn simple(
        name: String,
        prom_type: &'static str,
        unit: &'m str,
        description: &'m str,
    ) -> Self {
        let (bucket, sum, count) = Default::default();
        Family {
            name,
            bucket,
            sum,
            count,
            prom_type,
            unit,
            description,
        }
    }

    pub(super) fn with_parts(name: String, prom_type: &'static str, m: &'m Metric) -> Self {
        Family {
            bucket: format!("{name}_bucket"),
            sum: format!("{name}_sum"),
            count: format!("{name}_count"),
            name,
            prom_type,
            unit: &m.unit,
            description: &m.description,
        }
    }
}

/// The `samples` rows, and the `series` rows of each distinct series they use that storage
/// does not know already.
pub(super) struct Output<'k> {
    known: Option<&'k KnownFn>,
    series_id: Vec<u64>,
    metric_name: StringBuilder,
    timestamp: Vec<i64>,
    value: Vec<f64>,
    seen: common::hash::IdSet,
    s_id: Vec<u64>,
    s_name: StringBuilder,
    s_labels: MapColumn,
    s_type: StringBuilder,
    s_unit: StringBuilder,
    s_description: StringBuilder,
    e_series: Vec<u64>,
    e_timestamp: Vec<i64>,
    e_value: Vec<f64>,
    e_labels: MapColumn,
}

impl<'k> Output<'k> {
    pub(super) fn new(samples: usize, labels: usize, known: Option<&'k KnownFn>) -> Self {
        // Exporters send one point per series per interval, so nearly every sample of a
        // request starts a series.
        let series = samples;
        Output {
            known,
            series_id: Vec::with_capacity(samples),
            metric_name: strings(samples, 32),
            timestamp: Vec::with_capacity(samples),
            value: Vec::with_capacity(samples),
            seen: common::hash::IdSet::with_capacity_and_hasher(series, Default::default()),
            s_id: Vec::with_capacity(series),
            s_name: strings(series, 32),
            s_labels: MapColumn::with_capacity(series, labels),
            s_type: strings(series, 8),
            s_unit: strings(series, 2),
            s_description: strings(series, 32),
            e_series: Vec::new(),
            e_timestamp: Vec::new(),
            e_value: Vec::new(),
            e_labels: MapColumn::with_capacity(0, 0),
        }
    }

    /// Appends one sample of series `name{labels, extra}` and returns the series id; `labels`
    /// are sorted by name and `extra` (`le` or `quantile`) replaces a label of the same name.
    pub(super) fn sample(
        &mut self,
        family: &Family<'_>,
        name: &str,
        labels: &[LabelPair<'_>],
        extra: Option<(&str, &str)>,
        ts: i64,
        value: f64,
    ) -> u64 {
        let id = self.series(family, name, labels, extra);
        self.series_id.push(id);
        self.metric_name.append_value(name);
        self.timestamp.push(ts);
        self.value.push(value);
        id
    }

    /// The id of series `name{labels, extra}` (see [`Self::sample`]), adding its `series` row
    /// unless it has one already.
    pub(super) fn series(
        &mut self,
        family: &Family<'_>,
        name: &str,
        labels: &[LabelPair<'_>],
        extra: Option<(&str, &str)>,
    ) -> u64 {
        let (before, after) = split_labels(labels, extra.map(|(k, _)| k));
        let all = || {
            let before = before.iter().map(pair);
            before.chain(extra).chain(after.iter().map(pair))
        };
        let id = series_fingerprint(name, all());
        if self.seen.insert(id) && !self.known.is_some_and(|known| known(id)) {
            self.s_id.push(id);
            self.s_name.append_value(name);
            for (k, v) in all() {
                self.s_labels.entry(k, Some(v));
            }
            self.s_labels.end_row();
            self.s_type.append_value(family.prom_type);
            self.s_unit.append_value(family.unit);
            self.s_description.append_value(family.description);
        }
        id
    }

    /// Appends an exemplar of series `series`.
    pub(super) fn push_exemplar<'l>(
        &mut self,
        series: u64,
        ts: i64,
        value: f64,
        labels: impl Iterator<Item = (&'l str, &'l str)>,
    ) {
        self.e_series.push(series);
        self.e_timestamp.push(ts);
        self.e_value.push(value);
        for (k, v) in labels {
            self.e_labels.entry(k, Some(v));
        }
        self.e_labels.end_row();
    }

    pub(super) fn finish(mut self) -> Result<Rows, ArrowError> {
        let samples: Vec<ArrayRef> = vec![
            primitive::<UInt64Type>(self.series_id),
            Arc::new(self.metric_name.finish()),
            primitive::<Int64Type>(self.timestamp),
            primitive::<Float64Type>(self.value),
        ];
        let series: Vec<ArrayRef> = vec![
            primitive::<UInt64Type>(self.s_id),
            Arc::new(self.s_name.finish()),
            self.s_labels.finish()?,
            Arc::new(self.s_type.finish()),
            Arc::new(self.s_unit.finish()),
            Arc::new(self.s_description.finish()),
        ];
        let exemplars = if self.e_series.is_empty() {
            None
        } else {
            let columns: Vec<ArrayRef> = vec![
                primitive::<UInt64Type>(self.e_series),
                primitive::<Int64Type>(self.e_timestamp),
                primitive::<Float64Type>(self.e_value),
                self.e_labels.finish()?,
            ];
            Some(RecordBatch::try_new(exemplars_schema(), columns)?)
        };
        Ok(Rows {
            batch: RecordBatch::try_new(samples_schema(), samples)?,
            series: Some(RecordBatch::try_new(series_schema(), series)?),
            exemplars,
        })
    }
}

fn pair<'l>((k, v): &'l LabelPair<'_>) -> (&'l str, &'l str) {
    (k, v)
}

/// Splits sorted `labels` around where `extra` goes, leaving out a label named `extra`.
fn split_labels<'l, 'x>(
    labels: &'l [LabelPair<'x>],
    extra: Option<&str>,
) -> (&'l [LabelPair<'x>], &'l [LabelPair<'x>]) {
    let Some(extra) = extra else {
        return (labels, &[]);
    };
    let at = labels.partition_point(|(k, _)| k.as_ref() < extra);
    let skip = usize::from(labels.get(at).is_some_and(|(k, _)| k == extra));
    (&labels[..at], &labels[at + skip..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_labels_replace_labels_of_the_same_name() {
        let labels: Vec<LabelPair<'_>> = [("a", "1"), ("le", "attr"), ("z", "2")]
            .map(|(k, v)| (k.into(), v.into()))
            .to_vec();
        let names = |l: &[LabelPair<'_>]| l.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>();
        let (before, after) = split_labels(&labels, Some("le"));
        assert_eq!(
            (names(before), names(after)),
            (vec!["a".into()], vec!["z".into()])
        );
        let (before, after) = split_labels(&labels, Some("quantile"));
        assert_eq!(
            (names(before), names(after)),
            (vec!["a".into(), "le".into()], vec!["z".into()])
        );
        let (before, after) = split_labels(&labels, None);
        assert_eq!((before.len(), after.len()), (3, 0));
    }
}
