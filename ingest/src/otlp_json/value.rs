//! Readers of the proto3 JSON mapping of scalar fields over `serde_json::Value`, each carrying the
//! path of the value it reads so that errors can say where the problem is.

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

/// A field of an OTLP/JSON document that could not be decoded, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    path: String,
    message: String,
}

impl JsonError {
    /// An error about the document as a whole (e.g. it is not JSON).
    pub(crate) fn document(message: impl Into<String>) -> Self {
        Self {
            path: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

/// Result of reading part of a document.
pub(super) type Result<T> = std::result::Result<T, JsonError>;

/// Where a value sits in the document, as a chain of field names (in lowerCamelCase, whichever
/// spelling the document used) and array indexes. It lives on the stack and is only rendered
/// when an error occurs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Path<'a> {
    /// The document itself.
    Root,
    /// A field of the object at the parent path.
    Field(&'a Path<'a>, &'static str),
    /// An element of the array at the parent path.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The path of field `name` under this one.
    pub(super) fn field(&'a self, name: &'static str) -> Path<'a> {
        Path::Field(self, name)
    }

    /// An error at this path.
    pub(super) fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            path: self.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// The members of an object, without those set to `null` (which proto3 JSON reads as "not
/// set"). Unknown members are left to the caller's match to ignore.
pub(super) fn members<'v>(
    v: &'v Value,
    path: &Path<'_>,
) -> Result<impl Iterator<Item = (&'v str, &'v Value)>> {
    let map: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| path.error(format!("expected an object, found {}", kind(v))))?;
    Ok(map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.as_str(), v)))
}

/// Reads an array, decoding each element with `f` at its indexed path.
pub(super) fn list<T>(
    v: &Value,
    path: &Path<'_>,
    mut f: impl FnMut(&Value, &Path<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let items = v
        .as_array()
        .ok_or_else(|| path.error(format!("expected an array, found {}", kind(v))))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(f(item, &Path::Index(path, i))?);
    }
    Ok(out)
}

/// Reads a string.
pub(super) fn string(v: &Value, path: &Path<'_>) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(path.error(format!("expected a string, found {}", kind(other)))),
    }
}

/// Reads a list of strings.
pub(super) fn strings(v: &Value, path: &Path<'_>) -> Result<Vec<String>> {
    list(v, path, string)
}

/// Reads a boolean.
pub(super) fn boolean(v: &Value, path: &Path<'_>) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(path.error(format!("expected a boolean, found {}", kind(other)))),
    }
}

/// Reads an integer given as a JSON number (an integral float like `1e3` included) or as a
/// decimal string, as proto3 JSON allows for every integer type and requires for 64-bit ones.
fn integer<T>(v: &Value, path: &Path<'_>, type_name: &str) -> Result<T>
where
    T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr,
{
    let out_of_range = || path.error(format!("integer out of range for {type_name}"));
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                T::try_from(u).map_err(|_| out_of_range())
            } else if let Some(i) = n.as_i64() {
                T::try_from(i).map_err(|_| out_of_range())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() != 0.0 || !f.is_finite() {
                    return Err(path.error(format!("expected an integer, found {n}")));
                }
                // Integral floats beyond the i64/u64 range cannot fit any target type.
                if f >= 0.0 && f < u64::MAX as f64 {
                    T::try_from(f as u64).map_err(|_| out_of_range())
                } else if f < 0.0 && f >= i64::MIN as f64 {
                    T::try_from(f as i64).map_err(|_| out_of_range())
                } else {
                    Err(out_of_range())
                }
            }
        }
        Value::String(s) => s
            .trim()
            .parse::<T>()
            .map_err(|_| path.error(format!("invalid {type_name} {s:?}"))),
        other => Err(path.error(format!("expected an integer, found {}", kind(other)))),
    }
}

/// Reads a `uint64`/`fixed64`.
pub(super) fn u64(v: &Value, path: &Path<'_>) -> Result<u64> {
    integer(v, path, "uint64")
}

/// Reads an `int64`/`sfixed64`.
pub(super) fn i64(v: &Value, path: &Path<'_>) -> Result<i64> {
    integer(v, path, "int64")
}

/// Reads a `uint32`/`fixed32`.
pub(super) fn u32(v: &Value, path: &Path<'_>) -> Result<u32> {
    integer(v, path, "uint32")
}

/// Reads an `int32`/`sint32`.
pub(super) fn i32(v: &Value, path: &Path<'_>) -> Result<i32> {
    integer(v, path, "int32")
}

/// Reads a `double`: a JSON number, or a string holding a number or one of `NaN`, `Infinity`,
/// `-Infinity`.
pub(super) fn f64(v: &Value, path: &Path<'_>) -> Result<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| path.error(format!("invalid double {n}"))),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| path.error(format!("invalid double {other:?}"))),
        },
        other => Err(path.error(format!("expected a number, found {}", kind(other)))),
    }
}

/// Reads a list of doubles.
pub(super) fn f64s(v: &Value, path: &Path<'_>) -> Result<Vec<f64>> {
    list(v, path, f64)
}

/// Reads a list of `uint64`/`fixed64`.
pub(super) fn u64s(v: &Value, path: &Path<'_>) -> Result<Vec<u64>> {
    list(v, path, u64)
}

/// Reads `bytes`: base64, standard or URL-safe alphabet, padded or not, as proto3 JSON allows.
pub(super) fn bytes(v: &Value, path: &Path<'_>) -> Result<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = match v {
        Value::String(s) => s.as_str(),
        other => return Err(path.error(format!("expected a base64 string, found {}", kind(other)))),
    };
    let url_safe = s.contains(['-', '_']);
    let padded = s.ends_with('=');
    let engine = match (url_safe, padded) {
        (false, true) => &STANDARD,
        (false, false) => &STANDARD_NO_PAD,
        (true, true) => &URL_SAFE,
        (true, false) => &URL_SAFE_NO_PAD,
    };
    engine.decode(s).map_err(|_| path.error("invalid base64"))
}

/// Reads a trace or span id: hex, either case; the empty string is the empty (unset) id.
pub(super) fn hex_id(v: &Value, path: &Path<'_>) -> Result<Vec<u8>> {
    match v {
        Value::String(s) => hex::decode(s).map_err(|_| path.error("invalid hex")),
        other => Err(path.error(format!("expected a hex string, found {}", kind(other)))),
    }
}

/// Reads an enum: its number, or its name as `from_name` knows it.
pub(super) fn enumeration(
    v: &Value,
    path: &Path<'_>,
    from_name: fn(&str) -> Option<i32>,
) -> Result<i32> {
    match v {
        Value::String(s) => {
            from_name(s).ok_or_else(|| path.error(format!("unknown enum value {s:?}")))
        }
        Value::Number(_) => i32(v, path),
        other => Err(path.error(format!(
            "expected an enum name or number, found {}",
            kind(other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integers_accept_numbers_and_strings() {
        let p = Path::Root;
        assert_eq!(u64(&json!(5), &p).unwrap(), 5);
        assert_eq!(u64(&json!("18446744073709551615"), &p).unwrap(), u64::MAX);
        assert_eq!(u64(&json!(1e3), &p).unwrap(), 1000);
        assert_eq!(i64(&json!("-7"), &p).unwrap(), -7);
        assert_eq!(i64(&json!(-7), &p).unwrap(), -7);
        assert!(u64(&json!(-1), &p).is_err());
        assert!(u32(&json!(4294967296u64), &p).is_err());
        assert!(u64(&json!(1.5), &p).is_err());
        assert!(u64(&json!("x"), &p).is_err());
        assert!(u64(&json!(true), &p).is_err());
    }

    #[test]
    fn doubles_accept_special_strings() {
        let p = Path::Root;
        assert!(f64(&json!("NaN"), &p).unwrap().is_nan());
        assert_eq!(f64(&json!("Infinity"), &p).unwrap(), f64::INFINITY);
        assert_eq!(f64(&json!("-Infinity"), &p).unwrap(), f64::NEG_INFINITY);
        assert_eq!(f64(&json!("2.5"), &p).unwrap(), 2.5);
        assert_eq!(f64(&json!(3), &p).unwrap(), 3.0);
        assert!(f64(&json!("inf"), &p).is_err());
    }

    #[test]
    fn bytes_accept_both_base64_alphabets() {
        let p = Path::Root;
        assert_eq!(bytes(&json!("+/8="), &p).unwrap(), vec![0xfb, 0xff]);
        assert_eq!(bytes(&json!("-_8"), &p).unwrap(), vec![0xfb, 0xff]);
        assert_eq!(bytes(&json!(""), &p).unwrap(), Vec::<u8>::new());
        assert!(bytes(&json!("!!"), &p).is_err());
    }

    #[test]
    fn ids_are_case_insensitive_hex() {
        let p = Path::Root;
        assert_eq!(hex_id(&json!("0aFF"), &p).unwrap(), vec![0x0a, 0xff]);
        assert_eq!(hex_id(&json!(""), &p).unwrap(), Vec::<u8>::new());
        assert_eq!(
            hex_id(&json!("zz"), &p).unwrap_err().to_string(),
            "invalid hex"
        );
    }

    #[test]
    fn paths_render_like_javascript() {
        let root = Path::Root;
        let a = root.field("resourceSpans");
        let b = Path::Index(&a, 0);
        let c = b.field("traceId");
        assert_eq!(c.to_string(), "resourceSpans[0].traceId");
        assert_eq!(c.error("bad").to_string(), "resourceSpans[0].traceId: bad");
    }
}
