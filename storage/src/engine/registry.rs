//! The series registry: every distinct series of a tenant as rows of the `series` table, with
//! postings over them, kept in memory for selection and for completing flushed segments.

use arrow::array::RecordBatch;
use parking_lot::Mutex;

use crate::index::{Lookup, Selected};
use crate::Result;

/// The distinct series of one tenant, as rows of the `series` table.
#[derive(Debug, Default)]
pub(super) struct SeriesRegistry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    /// Where each series' row is: (batch, row) in `batches`.
    rows: common::hash::IdMap<(u32, u32)>,
    batches: Vec<RecordBatch>,
    /// Postings over the rows of `batches`: a series' ordinal is its row number counted
    /// across the batches in order.
    postings: crate::index::SeriesPostings,
    /// The ordinal of the first row of each batch.
    batch_starts: Vec<u32>,
    /// The series id of each ordinal.
    ids: Vec<u64>,
}

impl SeriesRegistry {
    /// Keeps the rows of `batch` whose series id is new.
    pub(super) fn add(&self, batch: &RecordBatch) {
        let mut inner = self.inner.lock();
        let RegistryInner {
            rows,
            batches,
            postings,
            batch_starts,
            ids: ordinal_ids,
        } = &mut *inner;
        let Some(kept) = crate::series::retain(batch, |id| !rows.contains_key(&id)) else {
            return;
        };
        let Some(ids) = crate::series::ids(&kept) else {
            return;
        };
        let at = batches.len() as u32;
        for (row, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                rows.entry(id).or_insert((at, row as u32));
            }
            // A row without an id (never written) selects nothing: 0 is no fingerprint kept.
            ordinal_ids.push(id.unwrap_or_default());
        }
        batch_starts.push(postings.len());
        postings.add(&kept);
        batches.push(kept);
    }

    /// The rows of the series `lookup` may select (a superset: the caller filters).
    pub(super) fn select(&self, lookup: &Lookup) -> Result<Vec<RecordBatch>> {
        let inner = self.inner.lock();
        let ordinals = match inner.postings.select(lookup) {
            Selected::All => return Ok(inner.batches.clone()),
            Selected::Rows(o) if o.is_empty() => return Ok(Vec::new()),
            Selected::Rows(o) => o,
        };
        let starts = &inner.batch_starts;
        let at: Vec<(usize, usize)> = ordinals
            .iter()
            .map(|o| {
                let b = starts.partition_point(|&s| s <= o) - 1;
                (b, (o - starts[b]) as usize)
            })
            .collect();
        let batches: Vec<&RecordBatch> = inner.batches.iter().collect();
        Ok(vec![arrow::compute::interleave_record_batch(
            &batches, &at,
        )?])
    }

    /// The ids of the series `lookup` may select (a superset: the caller filters), without
    /// their rows: callers that keep decoded rows fetch only those they lack ([`Self::rows_of`]).
    pub(super) fn select_ids(&self, lookup: Option<&Lookup>) -> Vec<u64> {
        let inner = self.inner.lock();
        match lookup.map(|l| inner.postings.select(l)) {
            None | Some(Selected::All) => inner.ids.clone(),
            Some(Selected::Rows(o)) => o.iter().map(|o| inner.ids[o as usize]).collect(),
        }
    }

    pub(super) fn contains(&self, id: u64) -> bool {
        self.inner.lock().rows.contains_key(&id)
    }

    pub(super) fn batches(&self) -> Vec<RecordBatch> {
        self.inner.lock().batches.clone()
    }

    /// Adds to a metrics head's `series` the rows of the series its samples (`batches`) use
    /// that came without one (conversion leaves out rows of series the registry knows), so
    /// every segment carries the rows of all its series.
    pub(super) fn complete(
        &self,
        batches: &[RecordBatch],
        mut series: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>> {
        let mut have = common::hash::IdSet::default();
        for b in &series {
            if let Some(ids) = crate::series::ids(b) {
                have.extend(ids.iter().flatten());
            }
        }
        let mut missing = common::hash::IdSet::default();
        for b in batches {
            if let Some(ids) = crate::series::ids(b) {
                missing.extend(ids.iter().flatten().filter(|id| !have.contains(id)));
            }
        }
        if missing.is_empty() {
            return Ok(series);
        }
        if let Some(rows) = self.rows_of(missing.iter().copied())? {
            if rows.num_rows() < missing.len() {
                tracing::error!(
                    missing = missing.len() - rows.num_rows(),
                    "series without a row in the registry"
                );
            }
            series.push(rows);
        }
        Ok(series)
    }

    /// The rows of the series in `ids` (those it knows).
    pub(super) fn rows_of(
        &self,
        ids: impl IntoIterator<Item = u64>,
    ) -> Result<Option<RecordBatch>> {
        let inner = self.inner.lock();
        let at: Vec<(usize, usize)> = ids
            .into_iter()
            .filter_map(|id| inner.rows.get(&id))
            .map(|&(b, r)| (b as usize, r as usize))
            .collect();
        if at.is_empty() {
            return Ok(None);
        }
        let batches: Vec<&RecordBatch> = inner.batches.iter().collect();
        Ok(Some(arrow::compute::interleave_record_batch(
            &batches, &at,
        )?))
    }
}
