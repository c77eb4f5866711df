//! Exemplars of chosen series in a time window, from the head and from the exemplars files of
//! the metrics segments.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use common::Tenant;
use object_store::ObjectStoreExt;

use super::view::ReadView;
use crate::exemplars::{decode, Columns};
use crate::{Error, Result};

/// One stored exemplar: its time (ms), value and labels (`trace_id`, `span_id` and the rest).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The exemplar's value.
    pub v: f64,
    /// Its labels, in stored (name) order.
    pub labels: Vec<(String, String)>,
}

/// The exemplars of the series `wanted` accepts with a time in `[start, end]`, by series id,
/// each list in time order without repeats (a flush under way can show one exemplar in the
/// head and in its new segment; an exporter sends one again with every cumulative export).
pub async fn read_exemplars(
    view: &dyn ReadView,
    tenant: &Tenant,
    wanted: impl Fn(u64) -> bool,
    start: i64,
    end: i64,
) -> Result<HashMap<u64, Vec<Exemplar>>> {
    let mut out: HashMap<u64, Vec<Exemplar>> = HashMap::new();
    let (head, segments) = view.exemplars(tenant);
    let store = view.object_store();
    let mut batches: Vec<RecordBatch> = head;
    for file in segments.iter().filter_map(|s| s.exemplars.as_ref()) {
        if file.max_time < start || file.min_time > end {
            continue;
        }
        let path = object_store::path::Path::from(file.path.as_str());
        let bytes = store.get(&path).await?.bytes().await?;
        let decoded = tokio::task::spawn_blocking(move || decode(bytes))
            .await
            .map_err(|e| Error::Read(format!("exemplars read task failed: {e}")))?
            .map_err(|e| Error::Read(format!("{}: {e}", file.path)))?;
        batches.extend(decoded);
    }
    for b in &batches {
        let cols = Columns::of(b)?;
        for i in 0..b.num_rows() {
            let (id, t) = (cols.series_id.value(i), cols.timestamp.value(i));
            if t < start || t > end || !wanted(id) {
                continue;
            }
            out.entry(id).or_default().push(Exemplar {
                t,
                v: cols.value.value(i),
                labels: cols
                    .labels(i)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| (a.t, a.v.to_bits(), &a.labels).cmp(&(b.t, b.v.to_bits(), &b.labels)));
        list.dedup_by(|a, b| a.t == b.t && a.v.to_bits() == b.v.to_bits() && a.labels == b.labels);
    }
    Ok(out)
}
