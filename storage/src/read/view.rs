//! The read seam between storage and the query engines: a [`ReadView`] answers consistent
//! snapshots of a table (head batches and segment files), series, exemplars, the hot window
//! and segment indexes. The engine implements it; tests implement it over fixtures.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use common::Tenant;
use futures::future::BoxFuture;
use object_store::ObjectStore;

use crate::index::{Lookup, SegmentIndex};
use crate::manifest::SegmentMeta;

/// What a query sees of one table at one instant: head batches and segment files, disjoint.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    /// The table's schema.
    pub schema: SchemaRef,
    /// Unflushed rows.
    pub head: Vec<RecordBatch>,
    /// Flushed segments (paths are relative to [`ReadView::object_store`]).
    pub segments: Vec<SegmentMeta>,
}

/// What [`ReadView::metric_samples`] answers for a list of series, seen at one instant.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MetricRead {
    /// Per series asked for, its flushed samples in the window, in time order, from the recent
    /// samples kept in memory; `None` when memory does not hold that window.
    pub hot: Option<Vec<Vec<(i64, f64)>>>,
    /// When `hot` is `None`: the segments whose time range meets the window.
    pub segments: Vec<SegmentMeta>,
    /// Per series asked for, its unflushed samples in the window, in arrival order.
    pub head: Vec<Vec<(i64, f64)>>,
}

/// Read access to stored data, the seam between storage and query.
pub trait ReadView: Send + Sync + std::fmt::Debug + 'static {
    /// A consistent snapshot of table `spans`, `logs` or `samples` of `tenant`; empty for an
    /// unknown tenant.
    fn snapshot(&self, tenant: &Tenant, table: &str) -> TableSnapshot;
    /// The rows of the `series` table of `tenant`, one per series id.
    fn series(&self, tenant: &Tenant) -> Vec<RecordBatch>;
    /// The rows of the `series` table of `tenant` that `lookup` may select, through series
    /// postings (a superset: the caller still filters); `None` when the view has no postings
    /// (the caller then filters [`ReadView::series`]).
    fn select_series(&self, _tenant: &Tenant, _lookup: &Lookup) -> Option<Vec<RecordBatch>> {
        None
    }
    /// The ids of the series of `tenant` that `lookup` may select (every series without one),
    /// through series postings, a superset: the caller still filters; `None` when the view
    /// cannot list them so (the caller then uses [`ReadView::select_series`]). With
    /// [`ReadView::series_rows`], a caller that keeps decoded rows reads only the rows it lacks.
    fn select_series_ids(&self, _tenant: &Tenant, _lookup: Option<&Lookup>) -> Option<Vec<u64>> {
        None
    }
    /// The rows of the `series` table of `tenant` for `ids` (those it knows), as one batch;
    /// `None` when there are none or the view cannot read rows by id.
    fn series_rows(&self, _tenant: &Tenant, _ids: &[u64]) -> Option<RecordBatch> {
        None
    }
    /// The exemplars of `tenant` not yet in a segment, and the metrics segments (whose
    /// [`SegmentMeta::exemplars`] name their exemplars files), seen at one instant. The
    /// default: none.
    fn exemplars(&self, _tenant: &Tenant) -> (Vec<RecordBatch>, Vec<SegmentMeta>) {
        (Vec::new(), Vec::new())
    }
    /// For metrics: the samples in `[lo, hi]` of each series of `ids`, read per series (the
    /// unflushed ones, and the flushed ones memory still holds); `None` when the view cannot
    /// (the caller then scans [`ReadView::snapshot`]'s head batches).
    fn metric_samples(
        &self,
        _tenant: &Tenant,
        _ids: &[u64],
        _lo: i64,
        _hi: i64,
    ) -> Option<MetricRead> {
        None
    }
    /// For metrics: whether each series of `ids` has an unflushed sample in `[lo, hi]`; `None`
    /// when the view cannot tell (the caller then scans the head batches).
    fn head_presence(
        &self,
        _tenant: &Tenant,
        _ids: &[u64],
        _lo: i64,
        _hi: i64,
    ) -> Option<Vec<bool>> {
        None
    }
    /// The store that segment paths are relative to.
    fn object_store(&self) -> Arc<dyn ObjectStore>;
    /// The local directory segment paths are relative to, when the store is the local file
    /// system: readers of a few small ranges may then read the files directly, without the
    /// object store's hand-off to a blocking thread per read.
    fn local_root(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// The decoded index sidecar of `segment`; `None` when it has none or it cannot be used
    /// (the segment is then read in full). The default reads it from the store each time.
    fn segment_index(
        &self,
        segment: &SegmentMeta,
    ) -> BoxFuture<'static, Option<Arc<SegmentIndex>>> {
        let store = self.object_store();
        let path = segment.index_path.clone();
        Box::pin(async move {
            let idx = crate::index::load_uncached(store.as_ref(), path.as_deref()?).await?;
            Some(idx.0)
        })
    }
}
