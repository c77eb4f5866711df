//! The hot window after a restart: the recent samples of the metrics segments read back into
//! memory in the background, so PromQL reads of recent data stay in memory.

use common::Signal;

use super::state::Engine;
use crate::head::TableState;
use crate::hot;
use crate::manifest::SegmentMeta;
use crate::metrics;
use crate::{Error, Result};

impl Engine {
    /// Reads the samples of the metrics segments that fall in the hot window back into memory
    /// (the window starts empty after a restart), one tenant after the other. Queries read the
    /// segments until it is done; flushes meanwhile keep their samples as usual.
    pub async fn warm_hot(&self) {
        let tables = self.all_tables();
        for table in tables.iter().filter(|t| t.signal == Signal::Metrics) {
            let Some((from, segments)) = table.start_hot_warming(self.now_ms()) else {
                continue;
            };
            let started = std::time::Instant::now();
            let segments: Vec<SegmentMeta> = segments
                .into_iter()
                .filter(|s| s.max_time >= from)
                .collect();
            let read = self.read_back(&segments, from).await;
            if let Err(error) = &read {
                tracing::warn!(tenant = %table.tenant, %error,
                    "could not read the hot window back from segments; queries read segments");
            }
            table.finish_hot_warming(read.ok(), self.now_ms());
            let (samples, bytes) = self.set_hot_gauges(table);
            tracing::info!(tenant = %table.tenant, segments = segments.len(), samples, bytes,
                seconds = started.elapsed().as_secs_f64(), "hot window read back from segments");
        }
    }

    /// The samples at or after `from` of `segments`, ready for the hot window.
    pub(super) async fn read_back(
        &self,
        segments: &[SegmentMeta],
        from: i64,
    ) -> Result<hot::Prepared> {
        let mut rows = Vec::new();
        for seg in segments {
            let batches = self.read_parquet(&seg.path).await?;
            rows = tokio::task::spawn_blocking(move || -> Result<_> {
                for b in &batches {
                    let logical = crate::samples_layout::to_logical(b)?;
                    hot::collect(std::slice::from_ref(&logical), from, &mut rows);
                }
                Ok(rows)
            })
            .await
            .map_err(|e| Error::Replay(format!("hot window read task failed: {e}")))??;
        }
        tokio::task::spawn_blocking(move || hot::group(rows, from))
            .await
            .map_err(|e| Error::Replay(format!("hot window read task failed: {e}")))
    }

    /// Shows the hot window's size on `/metrics`; returns it (samples, bytes).
    pub(super) fn set_hot_gauges(&self, table: &TableState) -> (usize, usize) {
        let (samples, bytes) = table.hot_size();
        metrics::HOT_SAMPLES
            .with_label_values(&[table.tenant.as_str()])
            .set(samples as i64);
        metrics::HOT_BYTES
            .with_label_values(&[table.tenant.as_str()])
            .set(bytes as i64);
        (samples, bytes)
    }
}
