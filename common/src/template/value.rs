//! The values templates work on.

use std::collections::BTreeMap;

/// Go's zero `time.Time` (year 1) in Unix nanoseconds, as far as an `i64` reaches: the value
/// an alert's `EndsAt` has when it is not set.
pub const ZERO_TIME: i64 = i64::MIN;

/// A value a template works on.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's `nil` (a missing map key, a missing field).
    Nil,
    /// A boolean.
    Bool(bool),
    /// A number (Go's float64; integers print without a fraction).
    Num(f64),
    /// An integer (Go's int64, what Loki's integer functions return; prints in full).
    Int(i64),
    /// A string.
    Str(String),
    /// A map with string keys (labels, the data's fields).
    Map(BTreeMap<String, Value>),
    /// A list.
    List(Vec<Value>),
    /// An instant (Go's `time.Time`): Unix nanoseconds, shown in a zone (UTC without one).
    Time(i64, Option<chrono_tz::Tz>),
}

impl Value {
    /// A map of strings (a label set).
    pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
                .collect(),
        )
    }

    /// Go's truth: false, 0, nil, and empty strings, maps and lists are false.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0,
            Value::Int(n) => *n != 0,
            Value::Str(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Time(..) => true,
        }
    }
}
