//! What each kind of segment file indexes, under which index column names.
//!
//! - spans: `trace_id` as an id column (first eight bytes and run of rows: segments keep each
//!   trace in one run, traces in order of their first start), and per block
//!   `service_name`, `name`, `kind`, `status_code`;
//! - logs: `service_name` (per row: segments are sorted by it), and per block `severity_text`,
//!   `severity_number` and `body` (its tokens);
//! - series files (metrics postings, row = series ordinal): `metric_name`, and per label name
//!   `label:{name}` with the values as terms, `label_keys` with the names as terms;
//! - spans and logs, per block: per attribute key `attr:{key}` (and `resource:{key}` for
//!   resource attributes) with the values as terms, and `attr_keys` / `resource_keys` with the
//!   keys as terms. A key with more distinct values than [`IndexOptions::max_attribute_values`]
//!   in the segment keeps its `*_keys` entry but loses its value column: a query on it cannot
//!   use the index, while a key absent from `*_keys` is absent from every row.
//!
//! Integers are indexed as their decimal text.

use std::collections::BTreeSet;

use arrow::array::{Array, AsArray, FixedSizeBinaryArray, MapArray, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, UInt64Type};

use super::chunks::ChunkCache;
use super::format::IndexBuilder;

/// What a segment's index covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// A `spans` segment.
    Spans,
    /// A `logs` segment.
    Logs,
    /// The samples file of a metrics segment.
    Samples,
    /// The series file of a metrics segment.
    Series,
}

/// Limits of index building.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Most distinct values an attribute key may have in one segment and still be indexed.
    pub max_attribute_values: usize,
    /// Rows per posting unit of the columns indexed per block (see the module docs).
    pub block_rows: u32,
    /// Whether log bodies are tokenized (by far the costliest part: about 1.1 µs per distinct
    /// access-log record). Flushes leave them out when `index.body_at_flush = false`;
    /// compaction then indexes them. A segment whose index lacks the `body` column is read in
    /// full by body searches.
    pub body: bool,
}

/// Rows per posting block by default: about one Parquet page of log bodies.
pub const DEFAULT_BLOCK_ROWS: u32 = 8192;

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            max_attribute_values: 1000,
            block_rows: DEFAULT_BLOCK_ROWS,
            body: true,
        }
    }
}

/// Builds the index of a segment file from its batches in file order.
#[derive(Debug)]
pub struct SegmentIndexer {
    kind: IndexKind,
    opts: IndexOptions,
    builder: IndexBuilder,
    /// The attribute value columns seen, to apply the cardinality cap at the end.
    keys: BTreeSet<String>,
    /// Body chunks already tokenized.
    chunks: ChunkCache,
    rows: u32,
}

impl SegmentIndexer {
    /// An indexer for a segment file of `kind`.
    pub fn new(kind: IndexKind, opts: IndexOptions) -> Self {
        Self {
            kind,
            opts,
            builder: IndexBuilder::new(),
            keys: BTreeSet::new(),
            chunks: ChunkCache::default(),
            rows: 0,
        }
    }

    /// Indexes the next rows of the file.
    pub fn push(&mut self, batch: &RecordBatch) {
        let b = &mut self.builder;
        let row0 = self.rows;
        let block = self.opts.block_rows.max(1);
        match self.kind {
            IndexKind::Spans => {
                ids(b, batch, "trace_id", row0);
                strings(b, batch, "service_name", row0, block);
                strings(b, batch, "name", row0, block);
                ints(b, batch, "kind", row0, block);
                ints(b, batch, "status_code", row0, block);
                attributes(b, &mut self.keys, batch, row0, block);
            }
            IndexKind::Logs => {
                strings(b, batch, "service_name", row0, 1);
                strings(b, batch, "severity_text", row0, block);
                ints(b, batch, "severity_number", row0, block);
                if self.opts.body {
                    body(b, &mut self.chunks, batch, row0, block);
                }
                attributes(b, &mut self.keys, batch, row0, block);
            }
            IndexKind::Samples => {
                series_ids(b, batch, row0);
                strings(b, batch, "metric_name", row0, 1);
            }
            IndexKind::Series => {
                strings(b, batch, "metric_name", row0, 1);
                map(b, &mut self.keys, batch, "labels", "label", row0, 1);
            }
        }
        self.rows += batch.num_rows() as u32;
    }

    /// The encoded index, for a file stored in row groups of `row_groups` rows.
    pub fn finish(mut self, row_groups: &[u32]) -> Vec<u8> {
        for column in &self.keys {
            if self.builder.term_count(column) > self.opts.max_attribute_values {
                self.builder.remove_column(column);
            }
        }
        self.builder.finish(self.rows, row_groups)
    }
}

/// Builds the index of a segment file whose rows are `batches` in file order, stored as one row
/// group (row ordinals count from 0 across the batches).
pub fn index_batches(kind: IndexKind, batches: &[RecordBatch], opts: &IndexOptions) -> Vec<u8> {
    let mut indexer = SegmentIndexer::new(kind, opts.clone());
    for batch in batches {
        indexer.push(batch);
    }
    let rows = indexer.rows;
    indexer.finish(&[rows])
}

/// Span and log attributes: `attr:{key}` and `resource:{key}` columns.
fn attributes(
    b: &mut IndexBuilder,
    keys: &mut BTreeSet<String>,
    batch: &RecordBatch,
    row0: u32,
    unit: u32,
) {
    map(b, keys, batch, "attributes", "attr", row0, unit);
    map(
        b,
        keys,
        batch,
        "resource_attributes",
        "resource",
        row0,
        unit,
    );
}

/// A fixed-size binary id column (trace ids), per row.
fn ids(b: &mut IndexBuilder, batch: &RecordBatch, name: &str, row0: u32) {
    let Some(col) = batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>())
    else {
        return;
    };
    let ids = b.ids(name);
    for (i, v) in col.iter().enumerate() {
        if let Some(v) = v {
            ids.add(v, row0 + i as u32);
        }
    }
}

/// The `series_id` column of samples, per row, as its 8 big-endian bytes (samples are sorted by
/// it, so each series is one run of rows).
fn series_ids(b: &mut IndexBuilder, batch: &RecordBatch, row0: u32) {
    let Some(col) = batch
        .column_by_name("series_id")
        .and_then(|c| c.as_primitive_opt::<UInt64Type>())
    else {
        return;
    };
    let ids = b.ids("series_id");
    for (i, v) in col.iter().enumerate() {
        if let Some(v) = v {
            ids.add(&v.to_be_bytes(), row0 + i as u32);
        }
    }
}

fn strings(b: &mut IndexBuilder, batch: &RecordBatch, name: &str, row0: u32, unit: u32) {
    let Some(col) = batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
    else {
        return;
    };
    let terms = b.column(name, unit);
    for (i, v) in col.iter().enumerate() {
        if let Some(v) = v {
            terms.add(v.as_bytes(), row0 + i as u32);
        }
    }
}

fn ints(b: &mut IndexBuilder, batch: &RecordBatch, name: &str, row0: u32, unit: u32) {
    let Some(col) = batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<Int32Type>())
    else {
        return;
    };
    let terms = b.column(name, unit);
    let mut last: Option<(i32, String)> = None;
    for (i, v) in col.iter().enumerate() {
        let Some(v) = v else { continue };
        let text = match &last {
            Some((lv, text)) if *lv == v => text,
            _ => &last.insert((v, v.to_string())).1,
        };
        terms.add(text.as_bytes(), row0 + i as u32);
    }
}

fn body(
    b: &mut IndexBuilder,
    chunks: &mut ChunkCache,
    batch: &RecordBatch,
    row0: u32,
    block_rows: u32,
) {
    let Some(col) = batch
        .column_by_name("body")
        .and_then(|c| c.as_string_opt::<i32>())
    else {
        return;
    };
    let terms = b.column("body", block_rows);
    for (i, v) in col.iter().enumerate() {
        if let Some(v) = v {
            chunks.add(terms, v, row0 + i as u32);
        }
    }
}

fn map(
    b: &mut IndexBuilder,
    keys: &mut BTreeSet<String>,
    batch: &RecordBatch,
    name: &str,
    prefix: &str,
    row0: u32,
    unit: u32,
) {
    map_terms(batch, name, prefix, |row, column, term, is_value| {
        if is_value && !keys.contains(column) {
            keys.insert(column.to_owned());
        }
        b.add_in(column, unit, term.as_bytes(), row0 + row as u32);
    });
}

/// Calls `f(row, column, term, is_value)` for every entry of the map column `name` of `batch`
/// (rows with a null map have none): the key in column `{prefix}_keys`, then, unless the value
/// is null, the value in column `{prefix}:{key}`.
pub(super) fn map_terms(
    batch: &RecordBatch,
    name: &str,
    prefix: &str,
    mut f: impl FnMut(usize, &str, &str, bool),
) {
    let Some(col) = batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<MapArray>())
    else {
        return;
    };
    let (Some(k), Some(v)) = (
        col.keys().as_any().downcast_ref::<StringArray>(),
        col.values().as_any().downcast_ref::<StringArray>(),
    ) else {
        return;
    };
    let keys_column = format!("{prefix}_keys");
    let mut column = String::new();
    let offsets = col.value_offsets();
    for row in 0..col.len() {
        if col.is_null(row) {
            continue;
        }
        for e in offsets[row] as usize..offsets[row + 1] as usize {
            let key = k.value(e);
            f(row, &keys_column, key, false);
            if v.is_null(e) {
                continue;
            }
            column.clear();
            column.push_str(prefix);
            column.push(':');
            column.push_str(key);
            f(row, &column, v.value(e), true);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, MapBuilder, MapFieldNames, StringBuilder};
    use bytes::Bytes;
    use roaring::RoaringBitmap;

    use super::*;
    use crate::index::SegmentIndex;

    fn attrs(rows: &[&[(&str, &str)]]) -> MapArray {
        let names = MapFieldNames {
            entry: "entries".into(),
            key: "key".into(),
            value: "value".into(),
        };
        let mut m = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
        for row in rows {
            for (k, v) in *row {
                m.keys().append_value(k);
                m.values().append_value(v);
            }
            m.append(true).unwrap();
        }
        m.finish()
    }

    fn logs(services: &[&str], bodies: &[&str], attributes: MapArray) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "service_name",
                Arc::new(StringArray::from_iter_values(services)) as _,
            ),
            ("body", Arc::new(StringArray::from_iter_values(bodies)) as _),
            (
                "severity_number",
                Arc::new(Int32Array::from_iter_values(services.iter().map(|_| 9))) as _,
            ),
            ("attributes", Arc::new(attributes) as _),
        ])
        .unwrap()
    }

    fn rows(idx: &SegmentIndex, column: &str, term: &str) -> Option<Vec<u32>> {
        let bitmap: Option<RoaringBitmap> = idx.column(column)?.get(term.as_bytes()).unwrap();
        Some(bitmap.map_or_else(Vec::new, |b| b.iter().collect()))
    }

    #[test]
    fn log_columns_body_tokens_and_attributes_are_indexed_across_batches() {
        let a = logs(
            &["api", "web"],
            &["Connection refused from 10.0.0.1", "ok"],
            attrs(&[&[("http.method", "GET")], &[("http.method", "POST")]]),
        );
        let b = logs(
            &["api"],
            &["connection reset"],
            attrs(&[&[("user", "u1"), ("http.method", "GET")]]),
        );
        let idx = SegmentIndex::decode(Bytes::from(index_batches(
            IndexKind::Logs,
            &[a, b],
            &IndexOptions {
                block_rows: 1,
                ..Default::default()
            },
        )))
        .unwrap();
        assert_eq!(rows(&idx, "service_name", "api"), Some(vec![0, 2]));
        assert_eq!(rows(&idx, "body", "connection"), Some(vec![0, 2]));
        assert_eq!(rows(&idx, "body", "10.0.0.1"), Some(vec![0]));
        assert_eq!(rows(&idx, "body", "absent"), Some(vec![]));
        assert_eq!(rows(&idx, "severity_number", "9"), Some(vec![0, 1, 2]));
        assert_eq!(rows(&idx, "attr:http.method", "GET"), Some(vec![0, 2]));
        assert_eq!(rows(&idx, "attr_keys", "user"), Some(vec![2]));
        assert_eq!(rows(&idx, "attr:user", "u1"), Some(vec![2]));
    }

    #[test]
    fn keys_over_the_cardinality_cap_keep_only_their_key_postings() {
        let ids: Vec<String> = (0..5).map(|i| format!("req-{i}")).collect();
        let per_row: Vec<Vec<(&str, &str)>> = ids
            .iter()
            .map(|id| vec![("request.id", id.as_str()), ("env", "prod")])
            .collect();
        let refs: Vec<&[(&str, &str)]> = per_row.iter().map(Vec::as_slice).collect();
        let batch = logs(&["a"; 5], &["x"; 5], attrs(&refs));
        let opts = IndexOptions {
            max_attribute_values: 3,
            block_rows: 1,
            body: true,
        };
        let idx =
            SegmentIndex::decode(Bytes::from(index_batches(IndexKind::Logs, &[batch], &opts)))
                .unwrap();
        assert!(idx.column("attr:request.id").is_none());
        assert_eq!(
            rows(&idx, "attr_keys", "request.id"),
            Some(vec![0, 1, 2, 3, 4])
        );
        assert_eq!(rows(&idx, "attr:env", "prod"), Some(vec![0, 1, 2, 3, 4]));
    }
}
