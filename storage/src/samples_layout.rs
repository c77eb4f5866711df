//! How sample values are laid out in segment files (layout 2): decimal-scaled integers where
//! that is exact, floats where it is not.
//!
//! Most stored values are counts, byte sizes or numbers with a few decimals. Written as
//! `value_int` (the value times `10^value_scale`, delta-encoded) they take a fraction of the bytes
//! of byte-stream-split floats, and they stay small in small pages, which floats do not (zstd
//! needs a large page to find their repeats). The scale is chosen per series in a file: the most
//! decimals any of its values needs, up to [`MAX_SCALE`]. A value that no integer at that scale
//! gives back bit for bit (NaN and staleness markers, infinities, `-0.0`, values with more
//! decimals or too large) goes to `value_float` instead.
//!
//! Decoding is `value_int as f64 / 10^value_scale`: an exact integer divided by an exact power
//! of ten, rounded once, which is the original value whenever the encoder checked it (it does,
//! for every value). Files written before this layout have a `value` column, read as is.

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Float64Builder, Int64Builder, Int8Array, RecordBatch,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Int8Type, Schema, SchemaRef};
use arrow::error::ArrowError;

/// Largest decimal scale used: larger ones leave little room under 2^53 for the integer.
pub(crate) const MAX_SCALE: u8 = 9;

/// Powers of ten, exact in an `f64`.
const POW10: [f64; MAX_SCALE as usize + 1] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Integers up to this magnitude convert to `f64` exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Column names of layout 2.
pub(crate) const VALUE_INT: &str = "value_int";
/// See [`VALUE_INT`].
pub(crate) const VALUE_SCALE: &str = "value_scale";
/// See [`VALUE_INT`].
pub(crate) const VALUE_FLOAT: &str = "value_float";

/// The columns of the `samples` table but `value`, followed by `extra`.
pub(crate) fn without_value(extra: Vec<Field>) -> SchemaRef {
    let mut fields: Vec<Field> = common::schema::samples_schema()
        .fields()
        .iter()
        .filter(|f| f.name() != "value")
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(extra);
    Arc::new(Schema::new(fields))
}

/// The schema of samples files in layout 2.
pub(crate) fn physical_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(S.get_or_init(|| {
        without_value(vec![
            Field::new(VALUE_INT, DataType::Int64, true),
            Field::new(VALUE_SCALE, DataType::Int8, false),
            Field::new(VALUE_FLOAT, DataType::Float64, true),
        ])
    }))
}

/// `v` as an integer at `scale`, when that gives `v` back bit for bit.
fn scaled(v: f64, scale: u8) -> Option<i64> {
    let p = POW10[scale as usize];
    let m = (v * p).round();
    // NaN and infinities fail here too.
    if m.is_nan() || m.abs() >= MAX_EXACT {
        return None;
    }
    let i = m as i64;
    ((i as f64 / p).to_bits() == v.to_bits()).then_some(i)
}

/// The fewest decimals that give `v` back exactly, if any up to [`MAX_SCALE`] do.
fn decimals(v: f64) -> Option<u8> {
    if !v.is_finite() {
        return None;
    }
    (0..=MAX_SCALE).find(|&s| scaled(v, s).is_some())
}

/// A value from its layout-2 parts.
pub(crate) fn decode(int: Option<i64>, scale: i8, float: Option<f64>) -> f64 {
    match (float, int) {
        (Some(f), _) => f,
        (None, Some(i)) => i as f64 / POW10[(scale.clamp(0, MAX_SCALE as i8)) as usize],
        (None, None) => f64::NAN,
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("samples batch without {name}")))
}

/// A `samples` table batch (`series_id`, `metric_name`, `timestamp_ms`, `value`) in layout 2.
pub(crate) fn to_physical(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let ids = column(batch, "series_id")?
        .as_primitive_opt::<arrow::datatypes::UInt64Type>()
        .ok_or_else(|| ArrowError::SchemaError("series_id is not UInt64".into()))?;
    let values = column(batch, "value")?
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| ArrowError::SchemaError("value is not Float64".into()))?;
    // The scale of each series: the most decimals any of its values needs.
    let mut scales: common::hash::IdMap<u8> = common::hash::IdMap::default();
    for (id, v) in ids.values().iter().zip(values.values()) {
        if let Some(d) = decimals(*v) {
            let s = scales.entry(*id).or_insert(0);
            *s = (*s).max(d);
        }
    }
    let n = batch.num_rows();
    let mut ints = Int64Builder::with_capacity(n);
    let mut floats = Float64Builder::with_capacity(n);
    let mut scale_col = Vec::with_capacity(n);
    for (id, &v) in ids.values().iter().zip(values.values()) {
        let scale = scales.get(id).copied().unwrap_or(0);
        scale_col.push(scale as i8);
        match scaled(v, scale).filter(|_| v.is_finite()) {
            Some(m) => {
                ints.append_value(m);
                floats.append_null();
            }
            None => {
                ints.append_null();
                floats.append_value(v);
            }
        }
    }
    RecordBatch::try_new(
        physical_schema(),
        vec![
            Arc::clone(column(batch, "series_id")?),
            Arc::clone(column(batch, "metric_name")?),
            Arc::clone(column(batch, "timestamp_ms")?),
            Arc::new(ints.finish()),
            Arc::new(Int8Array::from(scale_col)),
            Arc::new(floats.finish()),
        ],
    )
}

/// The `value` column of a samples file batch in either layout (`value`, or the layout-2
/// columns).
pub(crate) fn values(batch: &RecordBatch) -> Result<Float64Array, ArrowError> {
    if let Some(v) = batch.column_by_name("value") {
        return v
            .as_primitive_opt::<Float64Type>()
            .cloned()
            .ok_or_else(|| ArrowError::SchemaError("value is not Float64".into()));
    }
    let bad = |name: &str| ArrowError::SchemaError(format!("{name} has the wrong type"));
    let ints = column(batch, VALUE_INT)?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| bad(VALUE_INT))?;
    let scales = column(batch, VALUE_SCALE)?
        .as_primitive_opt::<Int8Type>()
        .ok_or_else(|| bad(VALUE_SCALE))?;
    // A reader may leave out `value_float` when the file has no float there (all null).
    let floats = match batch.column_by_name(VALUE_FLOAT) {
        Some(f) => Some(
            f.as_primitive_opt::<Float64Type>()
                .ok_or_else(|| bad(VALUE_FLOAT))?,
        ),
        None => None,
    };
    Ok(decode_columns(ints, scales, floats))
}

/// Values from layout-2 columns.
pub(crate) fn decode_columns(
    ints: &arrow::array::Int64Array,
    scales: &Int8Array,
    floats: Option<&Float64Array>,
) -> Float64Array {
    let out: Vec<f64> = (0..ints.len())
        .map(|i| {
            decode(
                ints.is_valid(i).then(|| ints.value(i)),
                scales.value(i),
                floats.filter(|f| f.is_valid(i)).map(|f| f.value(i)),
            )
        })
        .collect();
    Float64Array::from(out)
}

/// A samples file batch in either layout as a `samples` table batch.
pub(crate) fn to_logical(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    if batch.column_by_name("value").is_some() {
        return Ok(batch.clone());
    }
    let values = values(batch)?;
    RecordBatch::try_new(
        common::schema::samples_schema(),
        vec![
            Arc::clone(column(batch, "series_id")?),
            Arc::clone(column(batch, "metric_name")?),
            Arc::clone(column(batch, "timestamp_ms")?),
            Arc::new(values),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, UInt64Array};
    use proptest::prelude::*;

    fn batch(ids: Vec<u64>, values: Vec<f64>) -> RecordBatch {
        let n = ids.len();
        RecordBatch::try_new(
            common::schema::samples_schema(),
            vec![
                Arc::new(UInt64Array::from(ids)),
                Arc::new(StringArray::from(vec!["m"; n])),
                Arc::new(arrow::array::Int64Array::from(
                    (0..n as i64).collect::<Vec<_>>(),
                )),
                Arc::new(Float64Array::from(values)),
            ],
        )
        .unwrap()
    }

    fn round_trip(ids: Vec<u64>, values: Vec<f64>) {
        let logical = batch(ids, values.clone());
        let physical = to_physical(&logical).unwrap();
        let back = to_logical(&physical).unwrap();
        let got = back.column(3).as_primitive::<Float64Type>();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(got.value(i).to_bits(), v.to_bits(), "value {v} at {i}");
        }
    }

    #[test]
    fn every_value_comes_back_bit_for_bit() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        round_trip(
            vec![1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3],
            vec![
                0.1,
                0.25,
                7.0,
                -0.0,
                f64::NAN,
                stale,
                f64::INFINITY,
                1e300,
                5e-324,
                0.30000000000000004,
                123_456_789.123,
                -42.5,
            ],
        );
    }

    #[test]
    fn decimals_go_to_integers_and_the_rest_to_floats() {
        let logical = batch(vec![1, 1, 2, 2], vec![50.1, 149.9, 1.0 / 3.0, 12.0]);
        let p = to_physical(&logical).unwrap();
        let ints = p.column(3).as_primitive::<Int64Type>();
        let scales = p.column(4).as_primitive::<Int8Type>();
        let floats = p.column(5).as_primitive::<Float64Type>();
        assert_eq!((ints.value(0), ints.value(1)), (501, 1499));
        assert_eq!((scales.value(0), scales.value(1)), (1, 1));
        // 1/3 has no exact decimal: a float; 12 keeps its series' scale 0.
        assert!(ints.is_null(2) && floats.value(2) == 1.0 / 3.0);
        assert_eq!((ints.value(3), scales.value(3)), (12, 0));
    }

    proptest! {
        #[test]
        fn random_values_round_trip(
            raw in proptest::collection::vec((0u64..4, any::<u64>(), 0u8..4), 1..200),
        ) {
            let mut ids = Vec::new();
            let mut values = Vec::new();
            for (id, bits, kind) in raw {
                ids.push(id);
                values.push(match kind {
                    0 => f64::from_bits(bits),
                    1 => (bits % 1_000_000) as f64 / 100.0,
                    2 => (bits % 10_000) as f64,
                    _ => (bits % 1000) as f64 / 7.0,
                });
            }
            round_trip(ids, values);
        }
    }
}
