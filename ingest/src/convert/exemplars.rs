//! OTLP exemplars to rows of the exemplars of the `samples` they came with: each goes to the
//! series of its point (for histograms, the `_bucket` series of the smallest bound at or above
//! its value), labelled with its filtered attributes, `trace_id` and `span_id`.

use std::borrow::Cow;

use opentelemetry_proto::tonic::metrics::v1::{exemplar, Exemplar};

use super::attrs::for_each_last;
use super::columns::render;
use super::names::label_name;
use super::output::Output;

/// Appends an OTLP exemplar of series `series` of a point at `point_ts`; one without a
/// value is left out.
pub(super) fn exemplar(out: &mut Output<'_>, e: &Exemplar, series: u64, point_ts: i64) {
    let Some(value) = exemplar_value(e) else {
        return;
    };
    let ts = match e.time_unix_nano {
        0 => point_ts,
        t => i64::try_from(t / 1_000_000).unwrap_or(i64::MAX),
    };
    let mut labels: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    for_each_last(&e.filtered_attributes, |kv| {
        let name = label_name(&kv.key);
        match render(kv.value.as_ref()) {
            Some(v) if !name.is_empty() && !v.is_empty() => labels.push((name, v)),
            _ => {}
        }
    });
    for (name, id, len) in [("trace_id", &e.trace_id, 16), ("span_id", &e.span_id, 8)] {
        if id.len() == len && id.iter().any(|&b| b != 0) {
            labels.retain(|(k, _)| k != name);
            labels.push((Cow::Borrowed(name), Cow::Owned(hex::encode(id))));
        }
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    labels.dedup_by(|a, b| a.0 == b.0);
    out.push_exemplar(series, ts, value, labels.iter().map(|(k, v)| (&**k, &**v)));
}

/// Gives each exemplar of a histogram point to the bucket series of the smallest bound at or
/// above its value (`buckets`: bounds in increasing order with their series), or to `inf`.
pub(super) fn bucket_exemplars(
    out: &mut Output<'_>,
    exemplars: &[Exemplar],
    buckets: &[(f64, u64)],
    inf: u64,
    ts: i64,
) {
    for e in exemplars {
        let v = exemplar_value(e).unwrap_or(f64::NAN);
        let at = buckets.partition_point(|&(bound, _)| bound < v);
        let id = buckets.get(at).map_or(inf, |&(_, id)| id);
        exemplar(out, e, id, ts);
    }
}

fn exemplar_value(e: &Exemplar) -> Option<f64> {
    match e.value? {
        exemplar::Value::AsDouble(d) => Some(d),
        exemplar::Value::AsInt(i) => Some(i as f64),
    }
}
