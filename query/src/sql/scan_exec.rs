//! `VigilScanExec`: the root of every scan of a signal table. It passes its input through
//! unchanged and exists so that `EXPLAIN` shows what the manifest let the scan skip.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{internal_err, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};

/// What the segment indexes did for one scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IndexSummary {
    /// Segments (left after time pruning) whose index was consulted.
    pub(crate) segments_indexed: usize,
    /// Segments skipped because their index holds no row that can match.
    pub(crate) segments_skipped: usize,
    /// Rows of the consulted segments.
    pub(crate) rows_indexed: u64,
    /// Rows of those the indexes left to read.
    pub(crate) rows_selected: u64,
}

/// What the scan of one table kept and skipped, as shown by `EXPLAIN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanSummary {
    /// Table name (`spans`, `logs`, `samples`).
    pub(crate) table: &'static str,
    /// Segments in the snapshot.
    pub(crate) segments_total: usize,
    /// Segments skipped because their time range misses the query's.
    pub(crate) segments_pruned_by_time: usize,
    /// What the segment indexes skipped and selected.
    pub(crate) index: IndexSummary,
    /// Head batches scanned from memory.
    pub(crate) head_batches: usize,
}

/// Pass-through operator over the union of a table's Parquet and head scans.
#[derive(Debug, Clone)]
pub(crate) struct VigilScanExec {
    summary: ScanSummary,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl VigilScanExec {
    /// Wraps `input`, which scans what `summary` describes.
    pub(crate) fn new(summary: ScanSummary, input: Arc<dyn ExecutionPlan>) -> Self {
        // The node changes nothing about its input's output.
        let properties = Arc::clone(input.properties());
        Self {
            summary,
            input,
            properties,
        }
    }

    /// What the scan kept and skipped.
    #[cfg(test)]
    pub(crate) fn summary(&self) -> ScanSummary {
        self.summary
    }
}

impl DisplayAs for VigilScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.summary;
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => write!(
                f,
                "VigilScanExec: table={}, segments_total={}, segments_pruned_by_time={}, \
                 segments_skipped_by_index={}, rows_selected_by_index={}/{}, head_batches={}",
                s.table,
                s.segments_total,
                s.segments_pruned_by_time,
                s.index.segments_skipped,
                s.index.rows_selected,
                s.index.rows_indexed,
                s.head_batches
            ),
            DisplayFormatType::TreeRender => {
                writeln!(f, "table={}", s.table)?;
                writeln!(f, "segments_total={}", s.segments_total)?;
                writeln!(f, "segments_pruned_by_time={}", s.segments_pruned_by_time)?;
                writeln!(f, "segments_skipped_by_index={}", s.index.segments_skipped)?;
                writeln!(
                    f,
                    "rows_selected_by_index={}/{}",
                    s.index.rows_selected, s.index.rows_indexed
                )?;
                write!(f, "head_batches={}", s.head_batches)
            }
        }
    }
}

impl ExecutionPlan for VigilScanExec {
    fn name(&self) -> &str {
        "VigilScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([input]) => Ok(Arc::new(Self::new(self.summary, input))),
            Err(children) => internal_err!("VigilScanExec takes one child, got {}", children.len()),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    use super::*;

    fn input() -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new("t", DataType::Int64, false)]));
        let batch = |v: Vec<i64>| {
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(v))])
        };
        let partitions = vec![
            vec![batch(vec![1, 2]).unwrap()],
            vec![batch(vec![3]).unwrap()],
        ];
        MemorySourceConfig::try_new_exec(&partitions, Arc::clone(&schema), None).unwrap()
    }

    fn summary() -> ScanSummary {
        ScanSummary {
            table: "spans",
            segments_total: 12,
            segments_pruned_by_time: 10,
            index: IndexSummary {
                segments_indexed: 2,
                segments_skipped: 1,
                rows_indexed: 100,
                rows_selected: 8,
            },
            head_batches: 3,
        }
    }

    #[test]
    fn explain_shows_the_pruning_counts() {
        let exec = VigilScanExec::new(summary(), input());
        let text = displayable(&exec).indent(false).to_string();
        assert!(
            text.starts_with(
                "VigilScanExec: table=spans, segments_total=12, segments_pruned_by_time=10, \
                 segments_skipped_by_index=1, rows_selected_by_index=8/100, head_batches=3\n"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn passes_every_partition_through() {
        let exec: Arc<dyn ExecutionPlan> = Arc::new(VigilScanExec::new(summary(), input()));
        assert_eq!(exec.properties().partitioning.partition_count(), 2);
        let batches = collect(exec, SessionContext::new().task_ctx())
            .await
            .unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3);
    }

    #[test]
    fn new_children_keep_the_summary() {
        let exec = Arc::new(VigilScanExec::new(summary(), input()));
        #[allow(deprecated)]
        let rebuilt = Arc::clone(&exec).with_new_children(vec![input()]).unwrap();
        let rebuilt = rebuilt.downcast_ref::<VigilScanExec>().unwrap();
        assert_eq!(rebuilt.summary(), summary());
        #[allow(deprecated)]
        let err = exec.with_new_children(vec![]).unwrap_err();
        assert!(err.to_string().contains("one child"), "{err}");
    }
}
