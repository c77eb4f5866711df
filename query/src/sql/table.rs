//! Table providers over a [`ReadView`] for one tenant: `spans`, `logs` and `samples` (head batches
//! plus Parquet segments) and `series` (in memory).

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use common::Tenant;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{internal_datafusion_err, DFSchema, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReaderFactory, ParquetAccessPlan,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{conjunction_opt, PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use roaring::RoaringBitmap;
use storage::index::Selected;
use storage::read::{segment_format, DerivedColumn, SegmentFormat};
use storage::{ReadView, SegmentMeta};
use tracing::{debug, warn};

use super::derived;
use super::index_filter;
use super::scan_exec::{IndexSummary, ScanSummary, VigilScanExec};
use super::time_range::TimeRange;

/// The URL the [`ReadView::object_store`] is registered under in every session.
pub(crate) const STORE_URL: &str = "vigil://store/";

/// One of the tables `spans`, `logs`, `samples` of one tenant.
pub(crate) struct SignalTable {
    view: Arc<dyn ReadView>,
    tenant: Tenant,
    table: &'static str,
    time_column: &'static str,
    schema: SchemaRef,
}

impl fmt::Debug for SignalTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalTable")
            .field("tenant", &self.tenant)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl SignalTable {
    /// The table `table` (with time column `time_column`) of `tenant`.
    pub(crate) fn new(
        view: Arc<dyn ReadView>,
        tenant: Tenant,
        table: &'static str,
        time_column: &'static str,
        schema: SchemaRef,
    ) -> Self {
        Self {
            view,
            tenant,
            table,
            time_column,
            schema,
        }
    }

    /// A Parquet scan of `files` that prunes row groups, pages and (through bloom filters)
    /// ids with the pushed-down `filters`. Files are read as storage's segment format says
    /// (see [`Self::derived_scan`] for columns no file stores as such).
    fn parquet_scan(
        &self,
        state: &dyn Session,
        segments: Vec<PartitionedFile>,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let format = segment_format(self.table, &self.schema);
        if !format.derived.is_empty() {
            return self.derived_scan(state, &format, segments, projection, filters, limit);
        }
        self.file_scan(
            state,
            &format.file_schema,
            segments,
            projection,
            filters,
            limit,
        )
    }

    /// A Parquet scan of `segments` read as `file_schema` (columns a file lacks are null).
    fn file_scan(
        &self,
        state: &dyn Session,
        file_schema: &SchemaRef,
        segments: Vec<PartitionedFile>,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let url = ObjectStoreUrl::parse(STORE_URL)?;
        let runtime = state.runtime_env();
        // Segments are immutable under unique paths, so cached footers never go stale.
        let reader_factory = CachedParquetFileReaderFactory::new(
            runtime.object_store(&url)?,
            runtime.cache_manager.get_file_metadata_cache(),
        );
        let mut source = ParquetSource::new(Arc::clone(file_schema))
            .with_table_parquet_options(state.table_options().parquet.clone())
            .with_parquet_file_reader_factory(Arc::new(reader_factory));
        if let Some(predicate) = physical_predicate(state, file_schema, filters)? {
            source = source.with_predicate(predicate);
        }

        let groups = state.config().target_partitions().clamp(1, segments.len());
        let mut files = vec![Vec::new(); groups];
        for (i, file) in segments.into_iter().enumerate() {
            files[i % groups].push(file);
        }
        let config = FileScanConfigBuilder::new(url, Arc::new(source))
            .with_file_groups(files.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    /// Segment files of a table with derived columns (samples: `value` in one of two
    /// layouts) are read through the file columns of every layout (a file lacks those of the
    /// others: null); each derived column is computed above the scan by storage's function.
    /// Filters on derived columns are left to the filter above the scan.
    fn derived_scan(
        &self,
        state: &dyn Session,
        format: &SegmentFormat,
        segments: Vec<PartitionedFile>,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let file_schema = &format.file_schema;
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        // Columns of `file_schema` the scan reads, in scan output order.
        let mut read: Vec<usize> = Vec::new();
        let mut at = |name: &str| -> Result<(String, usize)> {
            let c = file_schema.index_of(name)?;
            let i = read.iter().position(|&r| r == c).unwrap_or_else(|| {
                read.push(c);
                read.len() - 1
            });
            Ok((name.to_string(), i))
        };
        enum Out {
            Column(String, usize),
            Derived(DerivedColumn, Vec<(String, usize)>),
        }
        let mut outs = Vec::with_capacity(wanted.len());
        for &l in &wanted {
            let name = self.schema.field(l).name();
            outs.push(match format.derived.iter().find(|d| d.name == name) {
                Some(d) => Out::Derived(
                    *d,
                    d.inputs.iter().map(|i| at(i)).collect::<Result<Vec<_>>>()?,
                ),
                None => {
                    let (n, i) = at(name)?;
                    Out::Column(n, i)
                }
            });
        }
        let pushed: Vec<Expr> = filters
            .iter()
            .filter(|f| {
                !f.column_refs()
                    .iter()
                    .any(|c| format.derived.iter().any(|d| d.name == c.name))
            })
            .cloned()
            .collect();
        let scan = self.file_scan(state, file_schema, segments, Some(&read), &pushed, limit)?;
        let scan_schema = scan.schema();
        let config = Arc::new(state.config_options().clone());
        let mut exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::with_capacity(outs.len());
        for out in outs {
            exprs.push(match out {
                Out::Column(n, i) => (Arc::new(Column::new(&n, i)), n),
                Out::Derived(d, cols) => {
                    let types = cols
                        .iter()
                        .map(|(_, i)| scan_schema.field(*i).data_type().clone())
                        .collect();
                    let data_type = self.schema.field_with_name(d.name)?.data_type().clone();
                    let args = cols
                        .into_iter()
                        .map(|(n, i)| Arc::new(Column::new(&n, i)) as Arc<dyn PhysicalExpr>)
                        .collect();
                    let f = ScalarFunctionExpr::try_new(
                        Arc::new(derived::udf(d, types, data_type)),
                        args,
                        &scan_schema,
                        Arc::clone(&config),
                    )?;
                    (Arc::new(f), d.name.to_string())
                }
            });
        }
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }
}

/// The AND of the `filters` that can be turned into a physical expression over `schema`; the
/// others are still applied above the scan.
fn physical_predicate(
    state: &dyn Session,
    schema: &SchemaRef,
    filters: &[Expr],
) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    let df_schema = DFSchema::try_from(Arc::clone(schema))?;
    let predicates = filters.iter().filter_map(|filter| {
        match state.create_physical_expr(filter.clone(), &df_schema) {
            Ok(p) => Some(p),
            Err(error) => {
                debug!(%error, %filter, "filter not pushed into the parquet scan");
                None
            }
        }
    });
    Ok(conjunction_opt(predicates.collect::<Vec<_>>()))
}

impl SignalTable {
    /// The files to read for `segments`: each segment's index (when it has one and `filters`
    /// make a look-up) drops the segment when no row can match, or narrows the read to the
    /// selected rows through a Parquet access plan.
    async fn select_with_indexes(
        &self,
        segments: &[&SegmentMeta],
        filters: &[Expr],
    ) -> (Vec<PartitionedFile>, IndexSummary) {
        let plain = |s: &SegmentMeta| PartitionedFile::new(s.path.clone(), s.bytes);
        let mut summary = IndexSummary::default();
        let lookup = match index_filter::lookup(self.table, filters) {
            Some(l) if !segments.is_empty() => l,
            _ => return (segments.iter().map(|s| plain(s)).collect(), summary),
        };
        let indexes =
            futures::future::join_all(segments.iter().map(|s| self.view.segment_index(s))).await;
        let mut files = Vec::with_capacity(segments.len());
        for (segment, index) in segments.iter().zip(indexes) {
            let Some(index) = index.filter(|i| u64::from(i.rows()) == segment.rows) else {
                if segment.index_path.is_some() {
                    warn!(segment = %segment.id, "segment index does not match its segment");
                }
                files.push(plain(segment));
                continue;
            };
            summary.segments_indexed += 1;
            summary.rows_indexed += segment.rows;
            match index.select(&lookup) {
                Selected::All => {
                    summary.rows_selected += segment.rows;
                    files.push(plain(segment));
                }
                Selected::Rows(rows) if rows.is_empty() => summary.segments_skipped += 1,
                // Most of the segment: a row selection would cost more than it saves.
                Selected::Rows(rows) if rows.len() * 2 > segment.rows => {
                    summary.rows_selected += rows.len();
                    files.push(plain(segment));
                }
                Selected::Rows(rows) => {
                    summary.rows_selected += rows.len();
                    let plan = access_plan(index.row_groups(), &rows);
                    files.push(plain(segment).with_extension(plan));
                }
            }
        }
        debug!(table = self.table, ?lookup, ?summary, "index look-up");
        (files, summary)
    }
}

/// A Parquet access plan that reads only `rows` of a file stored in row groups of `row_groups`
/// rows: row groups without a selected row are skipped, partly selected ones get a row
/// selection.
fn access_plan(row_groups: &[u32], rows: &RoaringBitmap) -> ParquetAccessPlan {
    let mut plan = ParquetAccessPlan::new_all(row_groups.len());
    let mut start = 0u32;
    let mut selected = rows.iter().peekable();
    for (g, &n) in row_groups.iter().enumerate() {
        let end = start + n;
        let mut selectors: Vec<RowSelector> = Vec::new();
        let mut at = start;
        let mut count = 0u64;
        while let Some(&r) = selected.peek() {
            if r >= end {
                break;
            }
            selected.next();
            count += 1;
            if r > at {
                selectors.push(RowSelector::skip((r - at) as usize));
            }
            match selectors.last_mut() {
                Some(last) if !last.skip && r == at => last.row_count += 1,
                _ => selectors.push(RowSelector::select(1)),
            }
            at = r + 1;
        }
        if count == 0 {
            plan.skip(g);
        } else if count < u64::from(n) {
            if at < end {
                selectors.push(RowSelector::skip((end - at) as usize));
            }
            plan.scan_selection(g, RowSelection::from(selectors));
        }
        start = end;
    }
    plan
}

#[async_trait]
impl TableProvider for SignalTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every filter helps to skip data (segments by time, row groups and pages by statistics,
    /// bloom filters), but none is applied row by row, so DataFusion re-checks all of them.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    /// Scans a snapshot of the table taken now. Segments whose `[min_time, max_time]` misses the
    /// time range of `filters` are dropped from the manifest's metadata alone, before any file
    /// is opened; the rest are read with `filters` as the Parquet pruning predicate:
    ///
    /// ```text
    /// VigilScanExec: table=spans, segments_total=12, segments_pruned_by_time=10,
    ///                segments_skipped_by_index=1, rows_selected_by_index=8/100, head_batches=3
    ///   UnionExec
    ///     DataSourceExec: file_groups={2 groups: [[seg-a.parquet], [seg-b.parquet]]},
    ///                     file_type=parquet, predicate=<filters>   (kept segments)
    ///     DataSourceExec: partitions=3                              (head batches, in memory)
    /// ```
    ///
    /// The union collapses to its only input when there are no kept segments or no head
    /// batches (an empty memory scan stands in when both are absent).
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snapshot = self.view.snapshot(&self.tenant, self.table);
        let range = TimeRange::from_filters(self.time_column, filters);
        let kept: Vec<&SegmentMeta> = snapshot
            .segments
            .iter()
            .filter(|s| range.overlaps(s.min_time, s.max_time))
            .collect();
        let (files, by_index) = self.select_with_indexes(&kept, filters).await;
        let head = snapshot
            .head
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| conform(b, &self.schema, self.table))
            .collect::<Result<Vec<_>>>()?;
        let summary = ScanSummary {
            table: self.table,
            segments_total: snapshot.segments.len(),
            segments_pruned_by_time: snapshot.segments.len() - kept.len(),
            index: by_index,
            head_batches: head.len(),
        };

        let mut inputs: Vec<Arc<dyn ExecutionPlan>> = Vec::with_capacity(2);
        if !files.is_empty() {
            inputs.push(self.parquet_scan(state, files, projection, filters, limit)?);
        }
        if !head.is_empty() || inputs.is_empty() {
            let partitions = spread(head, state.config().target_partitions());
            let memory = MemorySourceConfig::try_new(
                &partitions,
                Arc::clone(&self.schema),
                projection.cloned(),
            )?
            .with_limit(limit);
            inputs.push(DataSourceExec::from_data_source(memory));
        }
        Ok(Arc::new(VigilScanExec::new(
            summary,
            UnionExec::try_new(inputs)?,
        )))
    }
}

/// The `series` table of one tenant, read from [`ReadView::series`] at scan time.
pub(crate) struct SeriesTable {
    view: Arc<dyn ReadView>,
    tenant: Tenant,
    schema: SchemaRef,
}

impl fmt::Debug for SeriesTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesTable")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl SeriesTable {
    /// The `series` table of `tenant`.
    pub(crate) fn new(view: Arc<dyn ReadView>, tenant: Tenant, schema: SchemaRef) -> Self {
        Self {
            view,
            tenant,
            schema,
        }
    }
}

#[async_trait]
impl TableProvider for SeriesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters on `metric_name` and `labels['k']` narrow the series through the series
    /// postings; DataFusion re-checks every filter.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    /// A memory scan of the series batches as they are now: those the series postings select
    /// for the pushed-down filters, or all.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let selected = index_filter::lookup(common::schema::SERIES, filters)
            .and_then(|lookup| self.view.select_series(&self.tenant, &lookup));
        let batches = selected
            .unwrap_or_else(|| self.view.series(&self.tenant))
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| conform(b, &self.schema, common::schema::SERIES))
            .collect::<Result<Vec<_>>>()?;
        let partitions = spread(batches, state.config().target_partitions());
        let memory = MemorySourceConfig::try_new(
            &partitions,
            Arc::clone(&self.schema),
            projection.cloned(),
        )?
        .with_limit(limit);
        Ok(DataSourceExec::from_data_source(memory))
    }
}

/// `batch` with exactly the table's schema (so the union with the Parquet scan lines up), or an
/// error when its columns do not have the table's types.
fn conform(batch: &RecordBatch, schema: &SchemaRef, table: &str) -> Result<RecordBatch> {
    if batch.schema_ref() == schema {
        return Ok(batch.clone());
    }
    let same_types = batch.num_columns() == schema.fields().len()
        && batch
            .columns()
            .iter()
            .zip(schema.fields())
            .all(|(c, f)| c.data_type().equals_datatype(f.data_type()));
    if !same_types {
        return Err(internal_datafusion_err!(
            "head batch of {table} does not match the table schema: {}",
            batch.schema()
        ));
    }
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        batch.columns().to_vec(),
    )?)
}

/// Deals `batches` round-robin into at most `partitions` (but at least one) partitions.
fn spread(batches: Vec<RecordBatch>, partitions: usize) -> Vec<Vec<RecordBatch>> {
    let n = partitions.clamp(1, batches.len().max(1));
    let mut out = vec![Vec::new(); n];
    for (i, b) in batches.into_iter().enumerate() {
        out[i % n].push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(schema: SchemaRef, n: i64) -> RecordBatch {
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..n))]).unwrap()
    }

    #[test]
    fn spread_keeps_every_batch_and_at_least_one_partition() {
        let schema = Arc::new(Schema::new(vec![Field::new("t", DataType::Int64, false)]));
        assert_eq!(spread(vec![], 4), vec![Vec::<RecordBatch>::new()]);
        let parts = spread((1..=5).map(|n| batch(Arc::clone(&schema), n)).collect(), 2);
        assert_eq!(parts.len(), 2);
        let rows: usize = parts.iter().flatten().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 15);
    }

    #[test]
    fn conform_adopts_the_table_schema_or_names_the_table() {
        let table = Arc::new(Schema::new(vec![Field::new("t", DataType::Int64, false)]));
        // Same types, different nullability and metadata: accepted under the table schema.
        let loose = Arc::new(Schema::new(vec![Field::new("t", DataType::Int64, true)]));
        let conformed = conform(&batch(loose, 2), &table, "spans").unwrap();
        assert_eq!(conformed.schema_ref(), &table);

        let other = Arc::new(Schema::new(vec![Field::new("t", DataType::Utf8, false)]));
        let strings = RecordBatch::try_new(
            other,
            vec![Arc::new(arrow::array::StringArray::from(vec!["a"]))],
        )
        .unwrap();
        let err = conform(&strings, &table, "spans").unwrap_err();
        assert!(err.to_string().contains("head batch of spans"), "{err}");
    }
}
