//! Building a segment: concatenating head batches, sorting them as the signal's layout says, and
//! encoding them as zstd Parquet.

use arrow::array::{
    Array, ArrayRef, FixedSizeBinaryArray, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use arrow::compute::{
    concat_batches, interleave_record_batch, lexsort_to_indices, take_record_batch, SortColumn,
};
use arrow::datatypes::SchemaRef;
use common::Signal;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::index::{IndexKind, IndexOptions, SegmentIndexer};
use crate::Result;

/// Settings of the Parquet encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentOptions {
    pub(crate) zstd_level: i32,
    /// zstd level of free-text columns (log bodies), where a higher level pays off most.
    pub(crate) text_zstd_level: i32,
    pub(crate) row_group_rows: usize,
}

/// Columns a signal's segments are sorted by, most significant first. Spans sorted so are then
/// regrouped whole traces at a time in order of each trace's first start ([`traces_by_start`]).
fn sort_columns(signal: Signal) -> &'static [&'static str] {
    match signal {
        Signal::Traces => &["trace_id", "start_time_unix_nano"],
        Signal::Logs => &["service_name", "time_unix_nano", "observed_time_unix_nano"],
        Signal::Metrics => &["series_id", "timestamp_ms"],
    }
}

/// Rows per batch handed to the Parquet writer while gathering the sorted order.
const WRITE_CHUNK_ROWS: usize = 32 * 1024;

/// An encoded Parquet file with its index sidecar.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The Parquet file.
    pub(crate) file: Vec<u8>,
    /// Its rows.
    pub(crate) rows: u64,
    /// The `.idx` file, when one was asked for.
    pub(crate) index: Option<Vec<u8>>,
}

/// The index kind of a signal's segments.
pub(crate) fn index_kind(signal: Signal) -> IndexKind {
    match signal {
        Signal::Traces => IndexKind::Spans,
        Signal::Logs => IndexKind::Logs,
        Signal::Metrics => IndexKind::Samples,
    }
}

/// Sorts the rows of `batches` as `signal`'s segments are laid out and encodes them as one
/// Parquet file, indexing the sorted rows on the way when `index` is given. The rows are
/// gathered in sorted order straight from the head's batches, a chunk at a time, so the head is
/// copied once, not concatenated and then re-ordered.
pub(crate) fn encode_sorted(
    signal: Signal,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    opts: SegmentOptions,
    index: Option<(IndexKind, &IndexOptions)>,
) -> Result<Encoded> {
    let mut indexer = index.map(|(kind, o)| SegmentIndexer::new(kind, o.clone()));
    let Some(order) = fast_sort_order(signal, batches) else {
        let sorted = lexsorted(signal, &concat_batches(schema, batches)?)?;
        if let Some(ix) = &mut indexer {
            ix.push(&sorted);
        }
        return write_file(Some(signal), schema, &[sorted], opts, indexer);
    };
    let props = writer_properties(Some(signal), order.len(), opts)?;
    let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
    let mut buf = Vec::with_capacity(bytes / 8);
    let file_schema = file_schema(Some(signal), schema);
    let mut writer = ArrowWriter::try_new(&mut buf, file_schema, Some(props))?;
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    for chunk in order.chunks(WRITE_CHUNK_ROWS) {
        let chunk = interleave_record_batch(&refs, chunk)?;
        if let Some(ix) = &mut indexer {
            ix.push(&chunk);
        }
        writer.write(&file_batch(Some(signal), &chunk)?)?;
    }
    let meta = writer.close()?;
    let index = indexer.map(|ix| ix.finish(&row_groups(&meta)));
    Ok(Encoded {
        file: buf,
        rows: order.len() as u64,
        index,
    })
}

/// The files of a new segment: the sorted rows of `batches` (with their index) and, for
/// metrics, the deduplicated `series` rows (with the series postings); plus the time range.
pub(crate) fn encode_segment(
    signal: Signal,
    batches: &[RecordBatch],
    series: &[RecordBatch],
    opts: SegmentOptions,
    index: Option<&IndexOptions>,
) -> Result<(Encoded, Option<Encoded>, (i64, i64))> {
    let range = time_range(signal, batches)?.unwrap_or((0, 0));
    let kind = index_kind(signal);
    let main = encode_sorted(
        signal,
        &signal.schema(),
        batches,
        opts,
        index.map(|o| (kind, o)),
    )?;
    let series_file = if series.is_empty() {
        None
    } else {
        let s = dedup_series(&common::schema::series_schema(), series)?;
        Some(encode(
            None,
            &s,
            opts,
            index.map(|o| (IndexKind::Series, o)),
        )?)
    };
    Ok((main, series_file, range))
}

/// Rows of each row group of a written file.
fn row_groups(meta: &ParquetMetaData) -> Vec<u32> {
    meta.row_groups()
        .iter()
        .map(|g| g.num_rows() as u32)
        .collect()
}

/// Writes already sorted `batches` as one Parquet file, with the index `indexer` was given.
fn write_file(
    signal: Option<Signal>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    opts: SegmentOptions,
    indexer: Option<SegmentIndexer>,
) -> Result<Encoded> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let props = writer_properties(signal, rows, opts)?;
    let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
    let mut buf = Vec::with_capacity(bytes / 4);
    let mut writer = ArrowWriter::try_new(&mut buf, file_schema(signal, schema), Some(props))?;
    for b in batches {
        writer.write(&file_batch(signal, b)?)?;
    }
    let meta = writer.close()?;
    let index = indexer.map(|ix| ix.finish(&row_groups(&meta)));
    Ok(Encoded {
        file: buf,
        rows: rows as u64,
        index,
    })
}

/// The schema a file of `signal` is written in: samples in layout 2 (see
/// [`crate::samples_layout`]), the rest as the table.
fn file_schema(signal: Option<Signal>, schema: &SchemaRef) -> SchemaRef {
    match signal {
        Some(Signal::Metrics) => crate::samples_layout::physical_schema(),
        _ => Arc::clone(schema),
    }
}

/// `batch` as a file of `signal` holds it (see [`file_schema`]).
fn file_batch(signal: Option<Signal>, batch: &RecordBatch) -> Result<RecordBatch> {
    Ok(match signal {
        Some(Signal::Metrics) => crate::samples_layout::to_physical(batch)?,
        _ => batch.clone(),
    })
}

/// `batch` sorted by [`sort_columns`] with arrow's generic lexicographic sort.
fn lexsorted(signal: Signal, batch: &RecordBatch) -> Result<RecordBatch> {
    let columns: Vec<SortColumn> = sort_columns(signal)
        .iter()
        .map(|name| {
            Ok(SortColumn {
                values: column(batch, name)?,
                options: None,
            })
        })
        .collect::<Result<_>>()?;
    let mut indices = lexsort_to_indices(&columns, None)?;
    if signal == Signal::Traces {
        let ids = column(batch, "trace_id")?;
        let starts = column(batch, "start_time_unix_nano")?;
        if let (Some(ids), Some(starts)) = (
            ids.as_any().downcast_ref::<FixedSizeBinaryArray>(),
            starts.as_any().downcast_ref::<Int64Array>(),
        ) {
            let sorted = indices.values();
            let runs = traces_by_start(
                sorted,
                |&r| ids.is_valid(r as usize).then(|| ids.value(r as usize)),
                |&r| starts.value(r as usize),
            );
            let rows: Vec<u32> = runs
                .into_iter()
                .flat_map(|r| sorted[r].iter().copied())
                .collect();
            indices = rows.into();
        }
    }
    Ok(take_record_batch(batch, &indices)?)
}

/// The runs of `rows` (sorted by trace id and then start) that hold one trace each, in the order
/// segments lay traces out: by their first span's start (traces starting together keep their id
/// order). A segment so laid out keeps each trace in one run of rows (what the id index and
/// trace-by-id reads need) while its pages and row groups cover narrow spans of time, so that
/// time-bounded reads (search newest first, structural queries over an hour) skip the rest
/// through page statistics.
fn traces_by_start<T, K: PartialEq>(
    rows: &[T],
    id: impl Fn(&T) -> K,
    start: impl Fn(&T) -> i64,
) -> Vec<Range<usize>> {
    let mut runs: Vec<(i64, Range<usize>)> = Vec::new();
    let mut from = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || id(&rows[i]) != id(&rows[from]) {
            runs.push((start(&rows[from]), from..i));
            from = i;
        }
    }
    runs.sort_by_key(|r| r.0);
    runs.into_iter().map(|(_, r)| r).collect()
}

/// The rows of `batches` in the order of [`sort_columns`], as `(batch, row)` pairs, computed on
/// plain keys instead of arrow's dynamic comparators (several times faster); `None` when a
/// column has nulls or an unexpected type. Ties keep their original order.
fn fast_sort_order(signal: Signal, batches: &[RecordBatch]) -> Option<Vec<(usize, usize)>> {
    let total = batches.iter().map(|b| b.num_rows()).sum();
    let mut keys: Vec<(u128, i64, i64, u32, u32)> = Vec::with_capacity(total);
    // Logs sort by service name: rank the few distinct names once, then sort by rank.
    let mut ranks: HashMap<&str, u128, xxhash_rust::xxh3::Xxh3Builder> = HashMap::default();
    if signal == Signal::Logs {
        for batch in batches {
            let services = batch
                .column_by_name("service_name")?
                .as_any()
                .downcast_ref::<StringArray>()?;
            for name in services.iter().flatten() {
                ranks.entry(name).or_insert(0);
            }
        }
        let mut names: Vec<&str> = ranks.keys().copied().collect();
        names.sort_unstable();
        for (rank, name) in names.into_iter().enumerate() {
            ranks.insert(name, rank as u128);
        }
    }
    for (b, batch) in batches.iter().enumerate() {
        let cols: Vec<&ArrayRef> = sort_columns(signal)
            .iter()
            .map(|n| batch.column_by_name(n))
            .collect::<Option<_>>()?;
        if cols.iter().any(|c| c.null_count() > 0) {
            return None;
        }
        let ints = |i: usize| cols.get(i)?.as_any().downcast_ref::<Int64Array>();
        let b = b as u32;
        match signal {
            Signal::Metrics => {
                let ids = cols[0].as_any().downcast_ref::<UInt64Array>()?;
                let ts = ints(1)?;
                keys.extend(
                    (0..batch.num_rows())
                        .map(|i| (u128::from(ids.value(i)), ts.value(i), 0, b, i as u32)),
                );
            }
            Signal::Traces => {
                let ids = cols[0].as_any().downcast_ref::<FixedSizeBinaryArray>()?;
                let start = ints(1)?;
                for i in 0..batch.num_rows() {
                    let id = <[u8; 16]>::try_from(ids.value(i)).ok()?;
                    keys.push((u128::from_be_bytes(id), start.value(i), 0, b, i as u32));
                }
            }
            Signal::Logs => {
                let services = cols[0].as_any().downcast_ref::<StringArray>()?;
                let (time, observed) = (ints(1)?, ints(2)?);
                for i in 0..batch.num_rows() {
                    let rank = *ranks.get(services.value(i))?;
                    keys.push((rank, time.value(i), observed.value(i), b, i as u32));
                }
            }
        }
    }
    keys.sort_unstable();
    let at = |k: &(u128, i64, i64, u32, u32)| (k.3 as usize, k.4 as usize);
    if signal == Signal::Traces {
        let runs = traces_by_start(&keys, |k| k.0, |k| k.1);
        return Some(
            runs.into_iter()
                .flat_map(|r| keys[r].iter().map(at))
                .collect(),
        );
    }
    Some(keys.iter().map(at).collect())
}

fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    batch.column_by_name(name).cloned().ok_or_else(|| {
        arrow::error::ArrowError::SchemaError(format!("missing column {name}")).into()
    })
}

/// Smallest and largest value of the time column over `batches` (`None` when they are empty).
pub(crate) fn time_range(signal: Signal, batches: &[RecordBatch]) -> Result<Option<(i64, i64)>> {
    let mut range: Option<(i64, i64)> = None;
    for batch in batches {
        let col = column(batch, signal.time_column().0)?;
        let Some(times) = col.as_any().downcast_ref::<Int64Array>() else {
            continue;
        };
        if let Some((lo, hi)) = arrow::compute::min(times).zip(arrow::compute::max(times)) {
            range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    Ok(range)
}

/// Removes rows whose `series_id` appeared before, keeping the first.
pub(crate) fn dedup_series(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let batch = concat_batches(schema, batches)?;
    let mut seen = common::hash::IdSet::default();
    Ok(crate::series::retain_new(&mut seen, &batch).unwrap_or(batch))
}

/// Encodes a sorted batch as one Parquet file, laid out for `signal` (`None`: the series table),
/// with its index when `index` is given.
pub(crate) fn encode(
    signal: Option<Signal>,
    batch: &RecordBatch,
    opts: SegmentOptions,
    index: Option<(IndexKind, &IndexOptions)>,
) -> Result<Encoded> {
    let indexer = index.map(|(kind, o)| {
        let mut ix = SegmentIndexer::new(kind, o.clone());
        ix.push(batch);
        ix
    });
    write_file(
        signal,
        batch.schema_ref(),
        std::slice::from_ref(batch),
        opts,
        indexer,
    )
}

/// Rows per data page of samples files.
const SAMPLES_PAGE_ROWS: usize = 2048;

fn writer_properties(
    signal: Option<Signal>,
    rows: usize,
    opts: SegmentOptions,
) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(opts.zstd_level)?;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1024)))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_size_limit(1024 * 1024);
    let Some(signal) = signal else {
        return Ok(b.build());
    };
    // Sorted integer columns shrink best as deltas; floats as split byte streams.
    let delta_cols: &[&str] = match signal {
        Signal::Traces => &[
            "start_time_unix_nano",
            "end_time_unix_nano",
            "duration_nano",
        ],
        Signal::Logs => &["time_unix_nano", "observed_time_unix_nano"],
        Signal::Metrics => &["timestamp_ms"],
    };
    for c in delta_cols {
        let path = ColumnPath::from(*c);
        b = b
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    match signal {
        Signal::Traces => {
            let path = ColumnPath::from("trace_id");
            b = b
                .set_column_bloom_filter_enabled(path.clone(), true)
                .set_column_bloom_filter_fpp(path.clone(), 0.01)
                .set_column_bloom_filter_max_ndv(path.clone(), rows.min(opts.row_group_rows) as u64)
                .set_column_dictionary_enabled(path, false);
            for c in ["span_id", "parent_span_id"] {
                b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
            }
        }
        Signal::Metrics => {
            use crate::samples_layout::{VALUE_FLOAT, VALUE_INT, VALUE_SCALE};
            const TIMESTAMP: &str = "timestamp_ms";
            let ints = ColumnPath::from(VALUE_INT);
            let floats = ColumnPath::from(VALUE_FLOAT);
            // The columns a selector reads take no zstd: the reader makes a zstd codec per
            // column chunk it reads, and making one costs two CPUID instructions (zstd's BMI2
            // check), each a trap to the hypervisor on a virtual machine: 40% of a 23 h
            // single-series query here. Delta-packed timestamps and scales do not shrink under
            // zstd anyway; integers and split floats take LZ4 (no context to make): 3.16 ->
            // 3.26 B/row on scrape-like data (docs/0011).
            for (c, codec) in [
                (TIMESTAMP, Compression::UNCOMPRESSED),
                (VALUE_SCALE, Compression::UNCOMPRESSED),
                (VALUE_INT, Compression::LZ4_RAW),
                (VALUE_FLOAT, Compression::LZ4_RAW),
            ] {
                b = b.set_column_compression(ColumnPath::from(c), codec);
            }
            b = b
                .set_column_dictionary_enabled(ints.clone(), false)
                .set_column_encoding(ints, Encoding::DELTA_BINARY_PACKED)
                .set_column_dictionary_enabled(floats.clone(), false)
                .set_column_encoding(floats, Encoding::BYTE_STREAM_SPLIT)
                // A selector reads a few runs of rows (one per series) out of a segment: small
                // pages let it decode little more than those runs. Delta-encoded integers stay
                // small in small pages (byte-stream-split floats did not).
                .set_data_page_row_count_limit(SAMPLES_PAGE_ROWS);
        }
        Signal::Logs => {
            // Bodies compress best in large pages: zstd sees more lines at once. Their lengths
            // go before the text of a page (DELTA_LENGTH_BYTE_ARRAY) rather than between the
            // lines, where they broke zstd's matches: 0.9 B less per access-log line at level 10.
            let path = ColumnPath::from("body");
            b = b
                .set_data_page_size_limit(4 * 1024 * 1024)
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path.clone(), Encoding::DELTA_LENGTH_BYTE_ARRAY)
                .set_column_compression(
                    path,
                    Compression::ZSTD(ZstdLevel::try_new(opts.text_zstd_level)?),
                );
        }
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn keys_of(signal: Signal, sorted: &RecordBatch) -> Vec<String> {
        (0..sorted.num_rows())
            .map(|i| {
                sort_columns(signal)
                    .iter()
                    .map(|n| {
                        arrow::util::display::array_value_to_string(
                            sorted.column_by_name(n).unwrap(),
                            i,
                        )
                        .unwrap()
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    /// Sort keys of `batch` split in two and gathered by [`fast_sort_order`].
    fn fast(signal: Signal, batch: &RecordBatch) -> Vec<String> {
        let half = batch.num_rows() / 2;
        let parts = [
            batch.slice(0, half),
            batch.slice(half, batch.num_rows() - half),
        ];
        let order = fast_sort_order(signal, &parts).unwrap();
        let refs: Vec<&RecordBatch> = parts.iter().collect();
        keys_of(signal, &interleave_record_batch(&refs, &order).unwrap())
    }

    /// Sort keys of `batch` sorted by arrow's lexicographic sort.
    fn slow(signal: Signal, batch: &RecordBatch) -> Vec<String> {
        keys_of(signal, &lexsorted(signal, batch).unwrap())
    }

    /// Spans (`id|start` keys in segment order) come a whole trace at a time, each sorted by
    /// start, traces in order of their first start and then of id.
    fn check_traces_by_start(keys: &[String]) -> Result<(), TestCaseError> {
        let rows: Vec<(&str, i64)> = keys
            .iter()
            .map(|k| {
                let (id, start) = k.split_once('|').unwrap();
                (id, start.parse().unwrap())
            })
            .collect();
        let mut firsts: Vec<(i64, &str)> = Vec::new();
        for (i, &(id, start)) in rows.iter().enumerate() {
            match i.checked_sub(1).map(|p| rows[p]) {
                Some((prev, prev_start)) if prev == id => prop_assert!(prev_start <= start),
                _ => {
                    prop_assert!(!firsts.iter().any(|f| f.1 == id), "trace {} split", id);
                    firsts.push((start, id));
                }
            }
        }
        prop_assert!(firsts.windows(2).all(|w| w[0] <= w[1]), "{:?}", firsts);
        Ok(())
    }

    proptest! {
        #[test]
        fn fast_sort_order_matches_lexsort(
            rows in proptest::collection::vec((0u64..4, -3i64..3, 0usize..3, any::<u8>()), 0..60)
        ) {
            let samples = RecordBatch::try_new(
                common::schema::samples_schema(),
                vec![
                    Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0 << 62 | r.0))),
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|_| "m"))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                    Arc::new(arrow::array::Float64Array::from_iter_values(rows.iter().map(|r| r.3 as f64))),
                ],
            )
            .unwrap();
            prop_assert_eq!(fast(Signal::Metrics, &samples), slow(Signal::Metrics, &samples));

            let names = ["b", "a", "c"];
            let logs = RecordBatch::try_from_iter([
                ("service_name", Arc::new(StringArray::from_iter_values(rows.iter().map(|r| names[r.2]))) as ArrayRef),
                ("time_unix_nano", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1)))),
                ("observed_time_unix_nano", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3 as i64 % 3)))),
            ])
            .unwrap();
            prop_assert_eq!(fast(Signal::Logs, &logs), slow(Signal::Logs, &logs));

            let ids: Vec<[u8; 16]> = rows.iter().map(|r| { let mut id = [0u8; 16]; id[0] = r.3; id[15] = r.0 as u8; id }).collect();
            let spans = RecordBatch::try_from_iter([
                ("trace_id", Arc::new(FixedSizeBinaryArray::try_from_iter(ids.iter()).unwrap_or_else(|_| FixedSizeBinaryArray::new_null(16, 0))) as ArrayRef),
                ("start_time_unix_nano", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1)))),
            ]);
            if let Ok(spans) = spans {
                let order = fast(Signal::Traces, &spans);
                prop_assert_eq!(&order, &slow(Signal::Traces, &spans));
                check_traces_by_start(&order)?;
            }
        }
    }
}
