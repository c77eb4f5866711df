//! Exemplars of metrics: kept in the head beside the samples they came with, flushed into one
//! `{id}.exemplars.parquet` file per segment (sorted by series then time, exact repeats
//! removed), merged by compaction and dropped by retention with their segment.

use std::sync::Arc;

use arrow::array::{
    Array, Float64Array, Int64Array, MapArray, RecordBatch, StringArray, UInt64Array,
};
use arrow::compute::{concat_batches, lexsort_to_indices, take_record_batch, SortColumn};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::segment::SegmentOptions;
use crate::{Error, Result};

/// An encoded exemplars file.
#[derive(Debug)]
pub(crate) struct EncodedExemplars {
    pub(crate) file: Vec<u8>,
    pub(crate) rows: u64,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
}

/// The columns of an exemplars batch (schema `common::schema::exemplars_schema`).
#[derive(Debug)]
pub struct Columns<'a> {
    /// `series_id`.
    pub series_id: &'a UInt64Array,
    /// `timestamp_ms`.
    pub timestamp: &'a Int64Array,
    /// `value`.
    pub value: &'a Float64Array,
    /// `labels`.
    pub labels: &'a MapArray,
}

impl<'a> Columns<'a> {
    /// The columns of `batch`, or an error naming the one missing or mistyped.
    pub fn of(batch: &'a RecordBatch) -> Result<Self> {
        fn col<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> Result<&'b T> {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<T>())
                .ok_or_else(|| Error::Replay(format!("exemplars batch lacks column {name}")))
        }
        Ok(Columns {
            series_id: col(batch, "series_id")?,
            timestamp: col(batch, "timestamp_ms")?,
            value: col(batch, "value")?,
            labels: col(batch, "labels")?,
        })
    }

    /// The labels of row `i`, in stored order.
    pub fn labels(&self, i: usize) -> Vec<(&'a str, &'a str)> {
        let offsets = self.labels.value_offsets();
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        let entries = self.labels.entries();
        let keys = entries.column(0).as_any().downcast_ref::<StringArray>();
        let values = entries.column(1).as_any().downcast_ref::<StringArray>();
        let (Some(keys), Some(values)) = (keys, values) else {
            return Vec::new();
        };
        (start..end)
            .map(|j| {
                let v = if values.is_null(j) {
                    ""
                } else {
                    values.value(j)
                };
                (keys.value(j), v)
            })
            .collect()
    }
}

/// Sorts the exemplars of `batches` by series and time, drops exact repeats (same series,
/// time, value and labels: exporters send an exemplar again with every cumulative export) and
/// encodes them as one Parquet file; `None` when there are none.
pub(crate) fn encode(
    batches: &[RecordBatch],
    opts: SegmentOptions,
) -> Result<Option<EncodedExemplars>> {
    let schema = common::schema::exemplars_schema();
    let batch = concat_batches(&schema, batches)?;
    if batch.num_rows() == 0 {
        return Ok(None);
    }
    let order = lexsort_to_indices(
        &[
            SortColumn {
                values: Arc::clone(batch.column(0)),
                options: None,
            },
            SortColumn {
                values: Arc::clone(batch.column(1)),
                options: None,
            },
        ],
        None,
    )?;
    let sorted = take_record_batch(&batch, &order)?;
    let sorted = distinct(&sorted)?;
    let cols = Columns::of(&sorted)?;
    let min_time = arrow::compute::min(cols.timestamp).unwrap_or(0);
    let max_time = arrow::compute::max(cols.timestamp).unwrap_or(0);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(opts.zstd_level)?))
        .build();
    let mut file = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut file, schema, Some(props))?;
    writer.write(&sorted)?;
    writer.close()?;
    Ok(Some(EncodedExemplars {
        file,
        rows: sorted.num_rows() as u64,
        min_time,
        max_time,
    }))
}

/// `sorted` (by series and time) without rows equal to an earlier row of the same series and
/// time in value (bit for bit) and labels.
fn distinct(sorted: &RecordBatch) -> Result<RecordBatch> {
    let cols = Columns::of(sorted)?;
    let mut keep: Vec<u32> = Vec::with_capacity(sorted.num_rows());
    let mut group_start = 0usize;
    for i in 0..sorted.num_rows() {
        let same_key = |j: usize| {
            cols.series_id.value(j) == cols.series_id.value(i)
                && cols.timestamp.value(j) == cols.timestamp.value(i)
        };
        if i > 0 && !same_key(i - 1) {
            group_start = keep.len();
        }
        let repeat = keep[group_start..].iter().any(|&j| {
            let j = j as usize;
            same_key(j)
                && cols.value.value(j).to_bits() == cols.value.value(i).to_bits()
                && cols.labels(j) == cols.labels(i)
        });
        if !repeat {
            keep.push(i as u32);
        }
    }
    if keep.len() == sorted.num_rows() {
        return Ok(sorted.clone());
    }
    Ok(take_record_batch(
        sorted,
        &arrow::array::UInt32Array::from(keep),
    )?)
}

/// Decodes an exemplars file.
pub(crate) fn decode(file: Bytes) -> Result<Vec<RecordBatch>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// One exemplar as tests write it: series, time, value, labels.
#[cfg(test)]
pub(crate) type TestRow<'a> = (u64, i64, f64, &'a [(&'a str, &'a str)]);

/// An exemplars batch of `rows` (for tests).
#[cfg(test)]
pub(crate) fn test_batch(rows: &[TestRow<'_>]) -> RecordBatch {
    use arrow::array::{ArrayRef, StructArray};
    use arrow::buffer::OffsetBuffer;
    let arrow::datatypes::DataType::Map(entries_field, _) = common::schema::attributes_type()
    else {
        unreachable!("attributes are a map")
    };
    let arrow::datatypes::DataType::Struct(fields) = entries_field.data_type().clone() else {
        unreachable!("map entries are a struct")
    };
    let pairs: Vec<(&str, &str)> = rows.iter().flat_map(|r| r.3.iter().copied()).collect();
    let keys: ArrayRef = Arc::new(StringArray::from_iter_values(pairs.iter().map(|p| p.0)));
    let values: ArrayRef = Arc::new(StringArray::from_iter_values(pairs.iter().map(|p| p.1)));
    let entries = StructArray::try_new(fields, vec![keys, values], None).unwrap();
    let offsets = OffsetBuffer::from_lengths(rows.iter().map(|r| r.3.len()));
    let labels = MapArray::try_new(entries_field, offsets, entries, None, false).unwrap();
    RecordBatch::try_new(
        common::schema::exemplars_schema(),
        vec![
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(labels),
        ],
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (u64, i64, f64, Vec<(String, String)>);

    fn rows(batches: &[RecordBatch]) -> Vec<Row> {
        let mut out = Vec::new();
        for b in batches {
            let c = Columns::of(b).unwrap();
            for i in 0..b.num_rows() {
                let labels = c.labels(i);
                out.push((
                    c.series_id.value(i),
                    c.timestamp.value(i),
                    c.value.value(i),
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ));
            }
        }
        out
    }

    #[test]
    fn exemplars_are_sorted_and_exact_repeats_dropped() {
        let opts = SegmentOptions {
            zstd_level: 3,
            text_zstd_level: 3,
            row_group_rows: 1024,
        };
        let a = test_batch(&[
            (2, 20, 1.5, &[("trace_id", "aa")]),
            (1, 30, 2.0, &[("trace_id", "bb")]),
        ]);
        // The same exemplar sent again, one with the same time but another trace, and one
        // with another value.
        let b = test_batch(&[
            (2, 20, 1.5, &[("trace_id", "aa")]),
            (2, 20, 1.5, &[("trace_id", "cc")]),
            (2, 20, 2.5, &[("trace_id", "aa")]),
            (1, 10, 0.5, &[]),
        ]);
        let enc = encode(&[a, b], opts).unwrap().unwrap();
        assert_eq!((enc.rows, enc.min_time, enc.max_time), (5, 10, 30));
        let back = rows(&decode(Bytes::from(enc.file)).unwrap());
        let s = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            back,
            vec![
                (1, 10, 0.5, s(&[])),
                (1, 30, 2.0, s(&[("trace_id", "bb")])),
                (2, 20, 1.5, s(&[("trace_id", "aa")])),
                (2, 20, 1.5, s(&[("trace_id", "cc")])),
                (2, 20, 2.5, s(&[("trace_id", "aa")])),
            ]
        );
        assert!(encode(&[], opts).unwrap().is_none());
    }
}
