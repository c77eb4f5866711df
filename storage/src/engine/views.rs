//! The read path of the engine: consistent snapshots of heads and segments, series through the
//! registries' postings, exemplars, per-series metric samples (heads and hot window) and cached segment indexes, as the
//! [`ReadView`] that queries read through.

use std::sync::Arc;

use arrow::array::RecordBatch;
use common::{Signal, Tenant};
use futures::future::BoxFuture;
use object_store::ObjectStore;

use super::state::Engine;
use crate::head::TableState;
use crate::index::{Lookup, SegmentIndex};
use crate::manifest::SegmentMeta;
use crate::read::{MetricRead, ReadView, TableSnapshot};

impl ReadView for Engine {
    fn snapshot(&self, tenant: &Tenant, table: &str) -> TableSnapshot {
        let Some(signal) = Signal::from_table(table) else {
            return TableSnapshot {
                schema: common::schema::series_schema(),
                head: self.series(tenant),
                segments: vec![],
            };
        };
        let schema = signal.schema();
        let Some(state) = self.tables.read().get(&(tenant.clone(), signal)).cloned() else {
            return TableSnapshot {
                schema,
                head: vec![],
                segments: vec![],
            };
        };
        let inner = state.inner.read();
        TableSnapshot {
            schema,
            head: inner.unflushed(|h| &h.batches),
            segments: inner.segments.clone(),
        }
    }

    fn series(&self, tenant: &Tenant) -> Vec<RecordBatch> {
        self.series
            .read()
            .get(tenant)
            .map(|r| r.batches())
            .unwrap_or_default()
    }

    fn select_series(&self, tenant: &Tenant, lookup: &Lookup) -> Option<Vec<RecordBatch>> {
        let Some(registry) = self.series.read().get(tenant).cloned() else {
            return Some(Vec::new());
        };
        match registry.select(lookup) {
            Ok(rows) => Some(rows),
            Err(e) => {
                tracing::warn!(error = %e, "series postings look-up failed; scanning all series");
                None
            }
        }
    }

    fn select_series_ids(&self, tenant: &Tenant, lookup: Option<&Lookup>) -> Option<Vec<u64>> {
        let registry = self.series.read().get(tenant).cloned();
        Some(registry.map(|r| r.select_ids(lookup)).unwrap_or_default())
    }

    fn series_rows(&self, tenant: &Tenant, ids: &[u64]) -> Option<RecordBatch> {
        let registry = self.series.read().get(tenant).cloned()?;
        match registry.rows_of(ids.iter().copied()) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reading series rows failed");
                None
            }
        }
    }

    fn exemplars(&self, tenant: &Tenant) -> (Vec<RecordBatch>, Vec<SegmentMeta>) {
        self.metrics_table(tenant)
            .map(|s| s.exemplars())
            .unwrap_or_default()
    }

    fn metric_samples(&self, tenant: &Tenant, ids: &[u64], lo: i64, hi: i64) -> Option<MetricRead> {
        Some(match self.metrics_table(tenant) {
            Some(state) => state.metric_read(ids, lo, hi),
            None => MetricRead {
                hot: None,
                segments: Vec::new(),
                head: vec![Vec::new(); ids.len()],
            },
        })
    }

    fn head_presence(&self, tenant: &Tenant, ids: &[u64], lo: i64, hi: i64) -> Option<Vec<bool>> {
        Some(match self.metrics_table(tenant) {
            Some(state) => state.head_presence(ids, lo, hi),
            None => vec![false; ids.len()],
        })
    }

    fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    fn local_root(&self) -> Option<std::path::PathBuf> {
        Some(self.store_root.clone())
    }

    fn segment_index(
        &self,
        segment: &SegmentMeta,
    ) -> BoxFuture<'static, Option<Arc<SegmentIndex>>> {
        let store = Arc::clone(&self.store);
        let cache = Arc::clone(&self.index_cache);
        let path = segment.index_path.clone();
        Box::pin(async move { cache.load(store.as_ref(), path.as_deref()?).await })
    }
}

impl Engine {
    /// The metrics table of `tenant`, if it has one.
    fn metrics_table(&self, tenant: &Tenant) -> Option<Arc<TableState>> {
        self.tables
            .read()
            .get(&(tenant.clone(), Signal::Metrics))
            .cloned()
    }
}
