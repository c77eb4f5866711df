//! A `ReadView` over a temporary directory: Parquet segments written with `ArrowWriter` (bloom
//! filter on `trace_id`, small row groups) plus head batches and series, per tenant.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, SchemaRef};
use common::schema::{self, LOGS, SAMPLES, SPANS};
use common::Tenant;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use parking_lot::Mutex;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde_json::{json, Value};
use storage::index::{IndexKind, IndexOptions, Lookup, SegmentIndexer, Selected, SeriesPostings};
use storage::{ReadView, SegmentMeta, TableSnapshot};
use tempfile::TempDir;

/// Rows per Parquet row group in test segments, small so row-group pruning has work to do.
const ROW_GROUP_ROWS: usize = 2;

#[derive(Debug)]
pub(crate) struct FakeView {
    dir: TempDir,
    store: Arc<dyn ObjectStore>,
    tables: Mutex<HashMap<(Tenant, &'static str), TableSnapshot>>,
    series: Mutex<HashMap<Tenant, Vec<RecordBatch>>>,
    next_id: Mutex<u32>,
    /// How segments are indexed (`None`: no `.idx` files).
    index: Option<IndexOptions>,
}

impl FakeView {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Self::with_index(None)
    }

    /// A view whose segments get `.idx` sidecars built with `index`.
    pub(crate) fn with_index(index: Option<IndexOptions>) -> Result<Arc<Self>> {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path())?);
        Ok(Arc::new(Self {
            dir,
            store,
            tables: Mutex::default(),
            series: Mutex::default(),
            next_id: Mutex::new(0),
            index,
        }))
    }

    /// Writes `batch` as a segment of `table` and records it in the manifest.
    pub(crate) fn add_segment(
        &self,
        tenant: &Tenant,
        table: &'static str,
        batch: &RecordBatch,
    ) -> Result<()> {
        let id = {
            let mut next = self.next_id.lock();
            *next += 1;
            format!("seg-{:04}", *next)
        };
        let path = format!("{tenant}/{table}/{id}.parquet");
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_column_bloom_filter_enabled(ColumnPath::from("trace_id"), true)
            .build();
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
        writer.write(batch)?;
        let written = writer.close()?;
        let file = self.dir.path().join(&path);
        std::fs::create_dir_all(file.parent().context("segment path has a parent")?)?;
        std::fs::write(&file, &bytes)?;
        let kind = match table {
            SPANS => Some(IndexKind::Spans),
            LOGS => Some(IndexKind::Logs),
            SAMPLES => Some(IndexKind::Samples),
            _ => None,
        };
        let mut index_path = None;
        if let (Some(kind), Some(opts)) = (kind, &self.index) {
            let mut indexer = SegmentIndexer::new(kind, opts.clone());
            indexer.push(batch);
            let groups: Vec<u32> = written
                .row_groups()
                .iter()
                .map(|g| g.num_rows() as u32)
                .collect();
            let p = format!("{tenant}/{table}/{id}.idx");
            std::fs::write(self.dir.path().join(&p), indexer.finish(&groups))?;
            index_path = Some(p);
        }

        let (time_column, _) = common::Signal::from_table(table)
            .map(common::Signal::time_column)
            .context("signal table")?;
        let times = batch
            .column_by_name(time_column)
            .context("time column")?
            .as_primitive::<Int64Type>();
        let meta = SegmentMeta {
            id,
            path,
            series_path: None,
            min_time: arrow::compute::min(times).context("rows")?,
            max_time: arrow::compute::max(times).context("rows")?,
            rows: batch.num_rows() as u64,
            bytes: bytes.len() as u64,
            max_lsn: 0,
            schema_version: schema::SCHEMA_VERSION,
            index_path,
            ..Default::default()
        };
        self.snapshot_mut(tenant, table, |s| s.segments.push(meta));
        Ok(())
    }

    /// The local path of a store object.
    pub(crate) fn file(&self, path: &str) -> std::path::PathBuf {
        self.dir.path().join(path)
    }

    /// Records a segment whose file does not exist: any query that opens it fails.
    pub(crate) fn add_missing_segment(
        &self,
        tenant: &Tenant,
        table: &'static str,
        min_time: i64,
        max_time: i64,
    ) {
        let meta = SegmentMeta {
            id: "ghost".into(),
            path: format!("{tenant}/{table}/ghost.parquet"),
            series_path: None,
            min_time,
            max_time,
            rows: 1,
            bytes: 1000,
            max_lsn: 0,
            schema_version: schema::SCHEMA_VERSION,
            ..Default::default()
        };
        self.snapshot_mut(tenant, table, |s| s.segments.push(meta));
    }

    pub(crate) fn add_head(&self, tenant: &Tenant, table: &'static str, batch: RecordBatch) {
        self.snapshot_mut(tenant, table, |s| s.head.push(batch));
    }

    pub(crate) fn add_series(&self, tenant: &Tenant, batch: RecordBatch) {
        self.series
            .lock()
            .entry(tenant.clone())
            .or_default()
            .push(batch);
    }

    fn snapshot_mut(
        &self,
        tenant: &Tenant,
        table: &'static str,
        f: impl FnOnce(&mut TableSnapshot),
    ) {
        let mut tables = self.tables.lock();
        let snapshot = tables
            .entry((tenant.clone(), table))
            .or_insert_with(|| empty_snapshot(table));
        f(snapshot);
    }
}

fn table_schema(table: &str) -> SchemaRef {
    match table {
        SPANS => schema::spans_schema(),
        LOGS => schema::logs_schema(),
        SAMPLES => schema::samples_schema(),
        _ => schema::series_schema(),
    }
}

fn empty_snapshot(table: &str) -> TableSnapshot {
    TableSnapshot {
        schema: table_schema(table),
        head: vec![],
        segments: vec![],
    }
}

impl ReadView for FakeView {
    fn snapshot(&self, tenant: &Tenant, table: &str) -> TableSnapshot {
        self.tables
            .lock()
            .iter()
            .find(|((t, name), _)| t == tenant && *name == table)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| empty_snapshot(table))
    }

    fn series(&self, tenant: &Tenant) -> Vec<RecordBatch> {
        self.series.lock().get(tenant).cloned().unwrap_or_default()
    }

    /// With an index, series postings over the series added so far (built per call).
    fn select_series(&self, tenant: &Tenant, lookup: &Lookup) -> Option<Vec<RecordBatch>> {
        self.index.as_ref()?;
        let batches = self.series(tenant);
        let mut postings = SeriesPostings::default();
        for b in &batches {
            postings.add(b);
        }
        match postings.select(lookup) {
            Selected::All => Some(batches),
            Selected::Rows(rows) => {
                let all =
                    arrow::compute::concat_batches(&schema::series_schema(), &batches).ok()?;
                let rows = arrow::array::UInt32Array::from_iter_values(rows.iter());
                Some(vec![arrow::compute::take_record_batch(&all, &rows).ok()?])
            }
        }
    }

    fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }
}

/// Decodes JSON rows (ids as hex, maps as objects) into a batch of `table`.
pub(crate) fn batch(table: &str, rows: &[Value]) -> Result<RecordBatch> {
    let schema = table_schema(table);
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.to_string());
        text.push('\n');
    }
    let mut reader = arrow::json::ReaderBuilder::new(Arc::clone(&schema))
        .with_batch_size(rows.len().max(1))
        .build(Cursor::new(text))?;
    let batch = reader.next().context("one batch")??;
    Ok(batch)
}

/// A span of trace `trace` (hex) starting at `start` with the given attributes.
pub(crate) fn span(trace: &str, span: &str, name: &str, start: i64, attributes: Value) -> Value {
    json!({
        "trace_id": trace,
        "span_id": span,
        "parent_span_id": null,
        "flags": 1,
        "name": name,
        "kind": 2,
        "service_name": "checkout",
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + 10,
        "duration_nano": 10,
        "status_code": 0,
        "resource_attributes": {"service.name": "checkout"},
        "scope_attributes": {},
        "attributes": attributes,
        "dropped_attributes_count": 0,
        "events": [{
            "time_unix_nano": start + 1,
            "name": "retry",
            "attributes": {"attempt": "1"},
            "dropped_attributes_count": 0
        }],
        "dropped_events_count": 0,
        "links": [],
        "dropped_links_count": 0
    })
}

/// A log record at `time`, optionally inside trace `trace` (hex).
pub(crate) fn log(time: i64, body: &str, trace: Option<&str>) -> Value {
    json!({
        "time_unix_nano": time,
        "observed_time_unix_nano": time,
        "severity_number": 9,
        "severity_text": "INFO",
        "body": body,
        "trace_id": trace,
        "span_id": null,
        "flags": 0,
        "service_name": "checkout",
        "resource_attributes": {},
        "scope_attributes": {},
        "attributes": {},
        "dropped_attributes_count": 0
    })
}
