//! `match(body, 'text')`: whether a log body holds every token of `text`, with the tokens the
//! full-text index uses (lowercased alphanumeric runs, plus whole addresses, ids, paths and
//! e-mails). The segment index answers it by intersecting the tokens' postings; this function
//! checks the rows it selects.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use storage::index::TokenMatcher;

/// The function's SQL name.
pub(crate) const MATCH: &str = "match";

/// The `match` function.
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(MatchUdf::new())
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MatchUdf {
    signature: Signature,
}

impl MatchUdf {
    fn new() -> Self {
        let strings = [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View];
        let exact = strings
            .iter()
            .flat_map(|a| {
                strings
                    .iter()
                    .map(move |b| TypeSignature::Exact(vec![a.clone(), b.clone()]))
            })
            .collect();
        Self {
            signature: Signature::one_of(exact, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MatchUdf {
    fn name(&self) -> &str {
        MATCH
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [body, text] = args.args.as_slice() else {
            return exec_err!("match takes two arguments: match(body, 'text')");
        };
        let ColumnarValue::Scalar(text) = text else {
            return exec_err!("the second argument of match must be a constant string");
        };
        let Some(text) = scalar_text(text) else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
        };
        let mut wanted = TokenMatcher::new(&text);
        match body {
            ColumnarValue::Scalar(v) => {
                let out = scalar_text(v).map(|b| wanted.matches(&b));
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(out)))
            }
            ColumnarValue::Array(a) => {
                let out: BooleanArray = match a.data_type() {
                    DataType::Utf8 => a
                        .as_string::<i32>()
                        .iter()
                        .map(|b| b.map(|b| wanted.matches(b)))
                        .collect(),
                    DataType::LargeUtf8 => a
                        .as_string::<i64>()
                        .iter()
                        .map(|b| b.map(|b| wanted.matches(b)))
                        .collect(),
                    DataType::Utf8View => a
                        .as_string_view()
                        .iter()
                        .map(|b| b.map(|b| wanted.matches(b)))
                        .collect(),
                    other => return exec_err!("match cannot search a {other} column"),
                };
                Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
            }
        }
    }
}

fn scalar_text(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}
