//! The `value` of samples segment files in either layout: `value` (layout 1), or the integer,
//! scale and float columns of layout 2 (`storage::samples_layout`). The samples scan reads the
//! physical columns and computes `value` with [`udf`] above them.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, Int8Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use storage::samples_layout;

/// Name of the function (internal: planned by the samples scan, not by users).
pub(crate) const SAMPLE_VALUE: &str = "vigil_sample_value";

pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(SampleValue {
        signature: Signature::exact(
            vec![
                DataType::Float64,
                DataType::Int64,
                DataType::Int8,
                DataType::Float64,
            ],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SampleValue {
    signature: Signature,
}

impl ScalarUDFImpl for SampleValue {
    fn name(&self) -> &str {
        SAMPLE_VALUE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    /// Never null: every stored sample has a value in one of the columns.
    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new("value", DataType::Float64, false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<Vec<_>>>()?;
        let [value, ints, scales, floats] = arrays.as_slice() else {
            return exec_err!("{SAMPLE_VALUE} takes four arguments");
        };
        let (Some(value), Some(ints), Some(scales), Some(floats)) = (
            value.as_primitive_opt::<Float64Type>(),
            ints.as_primitive_opt::<Int64Type>(),
            scales.as_primitive_opt::<Int8Type>(),
            floats.as_primitive_opt::<Float64Type>(),
        ) else {
            return exec_err!("{SAMPLE_VALUE}: unexpected argument types");
        };
        if value.null_count() == 0 {
            return Ok(ColumnarValue::Array(Arc::new(value.clone())));
        }
        let out: Float64Array = (0..n)
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
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
