//! `labels_text(map, 'name', ...)`: the entries of an attribute map whose label name (the key
//! with `.`, `-` and `/` as `_`) is one of the names given (every entry when none is), as one
//! string: each key and value prefixed by its length (`3:env4:prod`). Grouping rows by it is
//! far cheaper than grouping by the map (or its key and value lists), and when a query needs only
//! a few labels, most rows share the empty string. [`decode`] reads it back.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, MapArray, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The function's SQL name.
pub(crate) const LABELS_TEXT: &str = "labels_text";

/// The `labels_text` function.
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(LabelsText {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct LabelsText {
    signature: Signature,
}

/// Whether attribute `key` has the label name `name` (the key with `.`, `-` and `/` as `_`).
pub(crate) fn is_named(key: &str, name: &str) -> bool {
    key.len() == name.len()
        && key.bytes().zip(name.bytes()).all(|(k, n)| {
            let k = if matches!(k, b'.' | b'-' | b'/') {
                b'_'
            } else {
                k
            };
            k == n
        })
}

fn push_part(out: &mut String, s: &str) {
    let mut digits = [0u8; 20];
    let (mut n, mut at) = (s.len(), digits.len());
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
    out.push(':');
    out.push_str(s);
}

/// A string column as it comes: plain or as views.
enum Strings<'a> {
    Plain(&'a arrow::array::StringArray),
    View(&'a arrow::array::StringViewArray),
}

impl<'a> Strings<'a> {
    fn new(a: &'a ArrayRef) -> Option<Self> {
        match a.data_type() {
            DataType::Utf8 => Some(Strings::Plain(a.as_string::<i32>())),
            DataType::Utf8View => Some(Strings::View(a.as_string_view())),
            _ => None,
        }
    }

    /// Value `i`, empty when null.
    fn get(&self, i: usize) -> &'a str {
        match self {
            Strings::Plain(a) if a.is_valid(i) => a.value(i),
            Strings::View(a) if a.is_valid(i) => a.value(i),
            _ => "",
        }
    }
}

/// The (key, value) pairs of a `labels_text` string; `None` when it is not one.
pub(crate) fn decode(mut text: &str) -> Option<Vec<(String, String)>> {
    let mut part = || -> Option<String> {
        let (len, rest) = text.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let s = rest.get(..len)?.to_string();
        text = &rest[len..];
        Some(s)
    };
    let mut out = Vec::new();
    while let Some(k) = part() {
        out.push((k, part()?));
    }
    text.is_empty().then_some(out)
}

impl ScalarUDFImpl for LabelsText {
    fn name(&self) -> &str {
        LABELS_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some((map, names)) = args.args.split_first() else {
            return exec_err!(
                "labels_text takes a map and label names: labels_text(map, 'name', ...)"
            );
        };
        let mut wanted = Vec::with_capacity(names.len());
        for n in names {
            match n {
                ColumnarValue::Scalar(
                    ScalarValue::Utf8(Some(s))
                    | ScalarValue::LargeUtf8(Some(s))
                    | ScalarValue::Utf8View(Some(s)),
                ) => wanted.push(s.clone()),
                _ => return exec_err!("the label names of labels_text must be constant strings"),
            }
        }
        let rows = args.number_rows;
        let map = map.to_array(rows)?;
        let Some(map) = map.as_any().downcast_ref::<MapArray>() else {
            return exec_err!("labels_text reads a map, not {}", map.data_type());
        };
        let (keys, values) = (map.keys(), map.values());
        let (Some(keys), Some(values)) = (Strings::new(keys), Strings::new(values)) else {
            return exec_err!("labels_text reads a map of strings");
        };
        let offsets = map.value_offsets();
        let mut out = StringBuilder::with_capacity(map.len(), 0);
        let mut text = String::new();
        for row in 0..map.len() {
            text.clear();
            if map.is_valid(row) {
                for i in offsets[row] as usize..offsets[row + 1] as usize {
                    let key = keys.get(i);
                    if !wanted.is_empty() && !wanted.iter().any(|w| is_named(key, w)) {
                        continue;
                    }
                    push_part(&mut text, key);
                    push_part(&mut text, values.get(i));
                }
            }
            out.append_value(&text);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_back_as_their_pairs() {
        let mut t = String::new();
        for (k, v) in [("k8s.pod.name", "a:b"), ("", ""), ("x", "12:3")] {
            push_part(&mut t, k);
            push_part(&mut t, v);
        }
        assert_eq!(
            decode(&t).unwrap(),
            vec![
                ("k8s.pod.name".into(), "a:b".into()),
                (String::new(), String::new()),
                ("x".into(), "12:3".into())
            ]
        );
        assert_eq!(decode("").unwrap(), vec![]);
        assert!(decode("3:ab").is_none());
        assert!(decode("2:ab").is_none());
        assert!(is_named("k8s.pod-name/x", "k8s_pod_name_x") && !is_named("ab", "a_"));
    }
}
