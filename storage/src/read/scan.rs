//! How a query engine that reads Parquet itself (DataFusion) scans a table's segment files: the
//! schema to read every file of the table with, and the table columns that no file stores as
//! such but that are computed from file columns (a sample's `value`, stored in one of two
//! layouts, docs/0011). Nothing above this crate needs to know how a column is laid out.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Int8Type, SchemaRef};
use arrow::error::ArrowError;

use crate::samples_layout;

/// A table column computed from columns of its segment files.
#[derive(Debug, Clone, Copy)]
pub struct DerivedColumn {
    /// The table column.
    pub name: &'static str,
    /// The file columns it is computed from, in the order [`DerivedColumn::compute`] takes
    /// them (a file of another layout reads them as nulls).
    pub inputs: &'static [&'static str],
    /// Computes the column from its inputs, row by row; never null.
    pub compute: fn(&[ArrayRef]) -> Result<ArrayRef, ArrowError>,
}

/// How the segment files of one table are read.
#[derive(Debug, Clone)]
pub struct SegmentFormat {
    /// The schema every file of the table is read with: the table's columns, derived ones
    /// replaced by their (nullable) inputs.
    pub file_schema: SchemaRef,
    /// The table's derived columns.
    pub derived: &'static [DerivedColumn],
}

/// The `value` of a sample from the columns of either layout: `value` (layout 1), or integer,
/// scale and float (layout 2).
const SAMPLE_VALUE: DerivedColumn = DerivedColumn {
    name: "value",
    inputs: &[
        "value",
        samples_layout::VALUE_INT,
        samples_layout::VALUE_SCALE,
        samples_layout::VALUE_FLOAT,
    ],
    compute: sample_value,
};

/// How the segment files of `table` (with schema `table_schema`) are read.
pub fn segment_format(table: &str, table_schema: &SchemaRef) -> SegmentFormat {
    if table != common::schema::SAMPLES {
        return SegmentFormat {
            file_schema: Arc::clone(table_schema),
            derived: &[],
        };
    }
    static SAMPLES_FILES: std::sync::OnceLock<SchemaRef> = std::sync::OnceLock::new();
    let file_schema = SAMPLES_FILES.get_or_init(|| {
        samples_layout::without_value(vec![
            Field::new("value", DataType::Float64, true),
            Field::new(samples_layout::VALUE_INT, DataType::Int64, true),
            Field::new(samples_layout::VALUE_SCALE, DataType::Int8, true),
            Field::new(samples_layout::VALUE_FLOAT, DataType::Float64, true),
        ])
    });
    SegmentFormat {
        file_schema: Arc::clone(file_schema),
        derived: std::slice::from_ref(&SAMPLE_VALUE),
    }
}

fn sample_value(inputs: &[ArrayRef]) -> Result<ArrayRef, ArrowError> {
    let bad = || ArrowError::InvalidArgumentError("sample value: unexpected inputs".into());
    let [value, ints, scales, floats] = inputs else {
        return Err(bad());
    };
    let (Some(value), Some(ints), Some(scales), Some(floats)) = (
        value.as_primitive_opt::<Float64Type>(),
        ints.as_primitive_opt::<Int64Type>(),
        scales.as_primitive_opt::<Int8Type>(),
        floats.as_primitive_opt::<Float64Type>(),
    ) else {
        return Err(bad());
    };
    if value.null_count() == 0 {
        return Ok(Arc::new(value.clone()));
    }
    let out: Float64Array = (0..value.len())
        .map(|i| {
            Some(if value.is_valid(i) {
                value.value(i)
            } else {
                samples_layout::decode(
                    ints.is_valid(i).then(|| ints.value(i)),
                    if scales.is_valid(i) {
                        scales.value(i)
                    } else {
                        0
                    },
                    floats.is_valid(i).then(|| floats.value(i)),
                )
            })
        })
        .collect();
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, Int8Array};

    use super::*;

    #[test]
    fn a_sample_value_comes_from_the_layout_its_file_has() {
        let format = segment_format(common::schema::SAMPLES, &common::schema::samples_schema());
        let value = format.derived[0];
        assert_eq!(value.name, "value");
        for input in value.inputs {
            assert!(format
                .file_schema
                .field_with_name(input)
                .unwrap()
                .is_nullable());
        }
        let out = (value.compute)(&[
            Arc::new(Float64Array::from(vec![Some(1.5), None, None])),
            Arc::new(Int64Array::from(vec![None, Some(125), None])),
            Arc::new(Int8Array::from(vec![None, Some(2), None])),
            Arc::new(Float64Array::from(vec![None, None, Some(0.1)])),
        ])
        .unwrap();
        assert_eq!(
            out.as_primitive::<Float64Type>().values(),
            &[1.5, 1.25, 0.1]
        );
        let spans = segment_format(common::schema::SPANS, &common::schema::spans_schema());
        assert!(spans.derived.is_empty());
    }
}
