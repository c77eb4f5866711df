//! Table columns that segment files do not store as such (storage's
//! [`DerivedColumn`](storage::read::DerivedColumn)s, such as a sample's `value`), computed above
//! the Parquet scan by a scalar function that storage's computation backs. The scan plans it;
//! users never call it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use storage::read::DerivedColumn;

/// The scalar function that computes `column` (of type `data_type`) from its inputs (of
/// `input_types`, in [`DerivedColumn::inputs`] order).
pub(crate) fn udf(
    column: DerivedColumn,
    input_types: Vec<DataType>,
    data_type: DataType,
) -> ScalarUDF {
    ScalarUDF::new_from_impl(Derived {
        name: format!("vigil_derived_{}", column.name),
        signature: Signature::exact(input_types, Volatility::Immutable),
        column,
        data_type,
    })
}

#[derive(Debug)]
struct Derived {
    name: String,
    signature: Signature,
    column: DerivedColumn,
    data_type: DataType,
}

impl PartialEq for Derived {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.signature == other.signature
    }
}

impl Eq for Derived {}

impl Hash for Derived {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.signature.hash(state);
    }
}

impl ScalarUDFImpl for Derived {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.data_type.clone())
    }

    /// Never null: storage computes a value for every stored row.
    fn return_field_from_args(&self, _args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            self.column.name,
            self.data_type.clone(),
            false,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<Vec<_>>>()?;
        if arrays.len() != self.column.inputs.len() {
            return exec_err!("{} takes {} arguments", self.name, self.column.inputs.len());
        }
        Ok(ColumnarValue::Array((self.column.compute)(&arrays)?))
    }
}
