//! Building a segment: concatenating head batches, sorting them as the signal's layout says, and
//! encoding them as zstd Parquet.

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt64Array};
use arrow::compute::{concat_batches, lexsort_to_indices, take_record_batch, SortColumn};
use arrow::datatypes::SchemaRef;
use common::Signal;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::Result;

/// Settings of the Parquet encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentOptions {
    pub(crate) zstd_level: i32,
    /// zstd level of free-text columns (log bodies), where a higher level pays off most.
    pub(crate) text_zstd_level: i32,
    pub(crate) row_group_rows: usize,
}

/// Columns a signal's segments are sorted by, most significant first.
fn sort_columns(signal: Signal) -> &'static [&'static str] {
    match signal {
        Signal::Traces => &["trace_id", "start_time_unix_nano"],
        Signal::Logs => &["service_name", "time_unix_nano", "observed_time_unix_nano"],
        Signal::Metrics => &["series_id", "timestamp_ms"],
    }
}

/// The name of the time column of a signal's main table.
pub(crate) fn time_column(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "start_time_unix_nano",
        Signal::Logs => "time_unix_nano",
        Signal::Metrics => "timestamp_ms",
    }
}

/// Concatenates and sorts `batches` as `signal`'s segments are laid out.
pub(crate) fn sort_rows(
    signal: Signal,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<RecordBatch> {
    let batch = concat_batches(schema, batches)?;
    let columns: Vec<SortColumn> = sort_columns(signal)
        .iter()
        .map(|name| {
            Ok(SortColumn {
                values: column(&batch, name)?,
                options: None,
            })
        })
        .collect::<Result<_>>()?;
    let indices = lexsort_to_indices(&columns, None)?;
    Ok(take_record_batch(&batch, &indices)?)
}

fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    batch.column_by_name(name).cloned().ok_or_else(|| {
        arrow::error::ArrowError::SchemaError(format!("missing column {name}")).into()
    })
}

/// Smallest and largest value of the time column of a batch (`None` when it is empty).
pub(crate) fn time_range(signal: Signal, batch: &RecordBatch) -> Result<Option<(i64, i64)>> {
    let col = column(batch, time_column(signal))?;
    let Some(times) = col.as_any().downcast_ref::<Int64Array>() else {
        return Ok(None);
    };
    Ok(arrow::compute::min(times).zip(arrow::compute::max(times)))
}

/// Removes rows whose `series_id` appeared before, keeping the first.
pub(crate) fn dedup_series(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let batch = concat_batches(schema, batches)?;
    let ids = column(&batch, "series_id")?;
    let Some(ids) = ids.as_any().downcast_ref::<UInt64Array>() else {
        return Ok(batch);
    };
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let keep: Vec<u32> = (0..ids.len())
        .filter(|&i| seen.insert(ids.value(i)))
        .map(|i| i as u32)
        .collect();
    if keep.len() == batch.num_rows() {
        return Ok(batch);
    }
    Ok(take_record_batch(
        &batch,
        &arrow::array::UInt32Array::from(keep),
    )?)
}

/// Encodes a sorted batch as one Parquet file, laid out for `signal` (`None`: the series table).
pub(crate) fn encode(
    signal: Option<Signal>,
    batch: &RecordBatch,
    opts: SegmentOptions,
) -> Result<Vec<u8>> {
    let props = writer_properties(signal, batch.num_rows(), opts)?;
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4);
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(buf)
}

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
            let path = ColumnPath::from("value");
            b = b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT);
        }
        Signal::Logs => {
            // Bodies compress best in large pages: zstd sees more lines at once.
            let path = ColumnPath::from("body");
            b = b
                .set_data_page_size_limit(4 * 1024 * 1024)
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_compression(
                    path,
                    Compression::ZSTD(ZstdLevel::try_new(opts.text_zstd_level)?),
                );
        }
    }
    Ok(b.build())
}
