//! Rendering of OTLP `AnyValue`s as text: the attribute values of the `Map<Utf8, Utf8>` columns,
//! log bodies and Prometheus label values.
//!
//! Scalars render as themselves (ints in decimal, doubles in shortest round-trip form, booleans as
//! `true`/`false`, bytes in standard base64); arrays and key-value lists render as natural JSON
//! (ints as numbers, bytes as base64 strings, key-value lists as objects). Everything is written
//! straight into the destination buffer.

use std::collections::HashMap;
use std::fmt::{self, Write};

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

/// Calls `f` on each key-value pair of `kvs` whose key does not occur again later: of duplicate
/// keys, the last wins, at the position of the last.
pub(super) fn for_each_last<'a>(kvs: &'a [KeyValue], mut f: impl FnMut(&'a KeyValue)) {
    // Attribute lists are short: a quadratic scan beats hashing below a dozen or so entries.
    if kvs.len() <= 12 {
        for (i, kv) in kvs.iter().enumerate() {
            if !kvs[i + 1..].iter().any(|later| later.key == kv.key) {
                f(kv);
            }
        }
    } else {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(kvs.len());
        for (i, kv) in kvs.iter().enumerate() {
            last.insert(kv.key.as_str(), i);
        }
        for (i, kv) in kvs.iter().enumerate() {
            if last.get(kv.key.as_str()) == Some(&i) {
                f(kv);
            }
        }
    }
}

/// The value of the last attribute named `key`.
pub(super) fn find<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    kvs.iter()
        .rev()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// The letter of `value`'s type in the `attribute_types` column (`common::schema::attr_type`).
pub(super) fn type_letter(value: Option<&AnyValue>) -> u8 {
    use common::schema::attr_type;
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValue(_) | Value::StringValueStrindex(_)) => attr_type::STRING,
        Some(Value::BoolValue(_)) => attr_type::BOOL,
        Some(Value::IntValue(_)) => attr_type::INT,
        Some(Value::DoubleValue(_)) => attr_type::DOUBLE,
        Some(Value::BytesValue(_)) => attr_type::BYTES,
        Some(Value::ArrayValue(_)) => attr_type::ARRAY,
        Some(Value::KvlistValue(_)) => attr_type::KVLIST,
    }
}

/// Appends the type letters of `kvs` (the last of duplicate keys, as the maps keep them).
pub(super) fn push_type_letters(kvs: &[KeyValue], out: &mut Vec<u8>) {
    for_each_last(kvs, |kv| out.push(type_letter(kv.value.as_ref())));
}

/// Writes the text of `value` to `out`; returns `false`, writing nothing, for an empty value
/// (no value, or the profiling-only string-table reference, which other signals must ignore).
pub(super) fn write_value(value: Option<&AnyValue>, out: &mut impl Write) -> bool {
    let Some(v) = value.and_then(|v| v.value.as_ref()) else {
        return false;
    };
    // Writing into a String or an Arrow string builder cannot fail.
    let _ = match v {
        Value::StringValue(s) => out.write_str(s),
        Value::BoolValue(b) => out.write_str(if *b { "true" } else { "false" }),
        Value::IntValue(i) => write!(out, "{i}"),
        Value::DoubleValue(d) => write_f64(out, *d),
        Value::BytesValue(b) => write!(out, "{}", Base64Display::new(b, &STANDARD)),
        Value::ArrayValue(_) | Value::KvlistValue(_) => write_json(out, Some(v)),
        Value::StringValueStrindex(_) => return false,
    };
    true
}

/// Writes `d` in shortest round-trip form without an exponent (`1`, `0.5`, `1e-7` as
/// `0.0000001`), and the non-finite values as Prometheus spells them: `NaN`, `+Inf`, `-Inf`.
pub(super) fn write_f64(out: &mut impl Write, d: f64) -> fmt::Result {
    if d.is_nan() {
        out.write_str("NaN")
    } else if d == f64::INFINITY {
        out.write_str("+Inf")
    } else if d == f64::NEG_INFINITY {
        out.write_str("-Inf")
    } else {
        write!(out, "{d}")
    }
}

/// Writes `value` as JSON: what OTLP/JSON would write with the type wrappers taken away.
/// Non-finite doubles become the strings `"NaN"`, `"+Inf"` and `"-Inf"`, as JSON has no such
/// numbers; empty values become `null`.
pub(super) fn write_json(out: &mut impl Write, value: Option<&Value>) -> fmt::Result {
    match value {
        None | Some(Value::StringValueStrindex(_)) => out.write_str("null"),
        Some(Value::StringValue(s)) => write_json_str(out, s),
        Some(Value::BoolValue(b)) => out.write_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => write!(out, "{i}"),
        Some(Value::DoubleValue(d)) if d.is_finite() => write!(out, "{d}"),
        Some(Value::DoubleValue(d)) => {
            out.write_char('"')?;
            write_f64(out, *d)?;
            out.write_char('"')
        }
        Some(Value::BytesValue(b)) => write!(out, "\"{}\"", Base64Display::new(b, &STANDARD)),
        Some(Value::ArrayValue(a)) => {
            out.write_char('[')?;
            for (i, v) in a.values.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write_json(out, v.value.as_ref())?;
            }
            out.write_char(']')
        }
        Some(Value::KvlistValue(kvs)) => {
            out.write_char('{')?;
            let mut first = true;
            let mut result = Ok(());
            for_each_last(&kvs.values, |kv| {
                if result.is_err() {
                    return;
                }
                result = (|| {
                    if !first {
                        out.write_char(',')?;
                    }
                    first = false;
                    write_json_str(out, &kv.key)?;
                    out.write_char(':')?;
                    write_json(out, kv.value.as_ref().and_then(|v| v.value.as_ref()))
                })();
            });
            result?;
            out.write_char('}')
        }
    }
}

/// Writes `s` as a JSON string, escaping quotes, backslashes and control characters.
fn write_json_str(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // Every escaped byte is ASCII, so these are char boundaries.
        out.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        start = i + 1;
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn text(v: Value) -> String {
        let mut s = String::new();
        assert!(write_value(Some(&AnyValue { value: Some(v) }), &mut s));
        s
    }

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    #[test]
    fn scalars_render_as_text() {
        assert_eq!(text(Value::StringValue("a\"b".into())), "a\"b");
        assert_eq!(text(Value::IntValue(-42)), "-42");
        assert_eq!(text(Value::DoubleValue(1.0)), "1");
        assert_eq!(text(Value::DoubleValue(0.1)), "0.1");
        assert_eq!(text(Value::DoubleValue(1e-7)), "0.0000001");
        assert_eq!(text(Value::DoubleValue(f64::NAN)), "NaN");
        assert_eq!(text(Value::DoubleValue(f64::INFINITY)), "+Inf");
        assert_eq!(text(Value::DoubleValue(f64::NEG_INFINITY)), "-Inf");
        assert_eq!(text(Value::BoolValue(false)), "false");
        assert_eq!(
            text(Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
            "3q2+7w=="
        );
    }

    #[test]
    fn empty_values_render_as_nothing() {
        let mut s = String::new();
        assert!(!write_value(None, &mut s));
        assert!(!write_value(Some(&AnyValue { value: None }), &mut s));
        assert!(!write_value(
            Some(&AnyValue {
                value: Some(Value::StringValueStrindex(3))
            }),
            &mut s
        ));
        assert_eq!(s, "");
    }

    #[test]
    fn composites_render_as_json() {
        let v = Value::KvlistValue(KeyValueList {
            values: vec![
                kv("a", Value::IntValue(1)),
                kv("s", Value::StringValue("x\n\u{1}é".into())),
                kv("a", Value::IntValue(2)),
                kv(
                    "arr",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(Value::DoubleValue(2.5)),
                            },
                            AnyValue {
                                value: Some(Value::DoubleValue(f64::NAN)),
                            },
                            AnyValue {
                                value: Some(Value::BoolValue(true)),
                            },
                            AnyValue {
                                value: Some(Value::BytesValue(vec![1, 2])),
                            },
                            AnyValue { value: None },
                        ],
                    }),
                ),
            ],
        });
        let s = text(v);
        assert_eq!(
            s,
            r#"{"s":"x\n\u0001é","a":2,"arr":[2.5,"NaN",true,"AQI=",null]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed["a"], 2);
    }

    #[test]
    fn last_duplicate_wins_at_its_position() {
        let many: Vec<KeyValue> = (0..40)
            .map(|i| kv(&format!("k{}", i % 20), Value::IntValue(i)))
            .collect();
        for kvs in [&many[..], &many[..10], &many[15..25]] {
            let mut got = Vec::new();
            for_each_last(kvs, |kv| got.push(kv.clone()));
            let mut want: Vec<KeyValue> = Vec::new();
            for kv in kvs {
                want.retain(|w| w.key != kv.key);
                want.push(kv.clone());
            }
            assert_eq!(got, want);
        }
    }
}
