//! Keeping only the series rows not seen before.

use arrow::array::{Array, RecordBatch, UInt32Array, UInt64Array};

/// The `series_id` column of a `series` or `samples` batch.
pub(crate) fn ids(batch: &RecordBatch) -> Option<&UInt64Array> {
    batch
        .column_by_name("series_id")?
        .as_any()
        .downcast_ref::<UInt64Array>()
}

/// The rows of `batch` (a `series` table batch) whose `series_id` is not in `seen`, adding those
/// ids to `seen`. `None` when every row was seen already.
pub(crate) fn retain_new(
    seen: &mut common::hash::IdSet,
    batch: &RecordBatch,
) -> Option<RecordBatch> {
    retain(batch, |id| seen.insert(id))
}

/// The rows of `batch` whose `series_id` passes `keep` (called once per row, in order). `None`
/// when no row does.
pub(crate) fn retain(
    batch: &RecordBatch,
    mut keep: impl FnMut(u64) -> bool,
) -> Option<RecordBatch> {
    let ids = ids(batch)?;
    let fresh: Vec<u32> = (0..ids.len())
        .filter(|&i| ids.is_valid(i) && keep(ids.value(i)))
        .map(|i| i as u32)
        .collect();
    if fresh.is_empty() {
        None
    } else if fresh.len() == batch.num_rows() {
        Some(batch.clone())
    } else {
        arrow::compute::take_record_batch(batch, &UInt32Array::from(fresh)).ok()
    }
}
