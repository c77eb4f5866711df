//! An OTLP array or key-value list as the text Jaeger gives it in a `string` tag: pdata's
//! `Value.AsString()`, which is Go's `json.Marshal` of the value's raw form (keys sorted,
//! `<`, `>` and `&` escaped, bytes in base64, floats in Go's shortest form, `null` for no
//! value). A list holding a NaN or an infinity has no JSON: Go gives the empty text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::AnyValue;

/// The JSON text of `value` as Go's `json.Marshal` writes its raw form.
pub(crate) fn as_string(value: &Value) -> String {
    let mut out = String::new();
    match write_value(&mut out, Some(value)) {
        Some(()) => out,
        None => String::new(),
    }
}

/// Appends `value`; `None` when it has no JSON (a NaN or an infinity).
fn write_value(out: &mut String, value: Option<&Value>) -> Option<()> {
    match value {
        None | Some(Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(Value::StringValue(s)) => write_string(out, s),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) => out.push_str(&go_float(*d)?),
        Some(Value::BytesValue(b)) => write_string(out, &STANDARD.encode(b)),
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, v) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, inner(v))?;
            }
            out.push(']');
        }
        Some(Value::KvlistValue(kvs)) => {
            // A Go map: one entry per key (the last one wins), keys sorted.
            let entries: BTreeMap<&str, Option<&Value>> = kvs
                .values
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_ref().and_then(inner)))
                .collect();
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v)?;
            }
            out.push('}');
        }
    }
    Some(())
}

fn inner(v: &AnyValue) -> Option<&Value> {
    v.value.as_ref()
}

/// A float as Go's `encoding/json` writes one: `%f`-like shortest digits between 1e-6 and
/// 1e21, else the exponent form with at least one exponent digit and a sign (`1e+21`,
/// `1e-7`); `None` for NaN and the infinities.
pub(crate) fn go_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return Some(format!("{f}"));
    }
    let text = format!("{f:e}");
    Some(match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => text,
    })
}

/// Appends `s` as Go's `encoding/json` quotes a string (HTML characters escaped).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue, KeyValueList};

    use super::*;

    fn any(v: Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    #[test]
    fn arrays_and_lists_read_as_go_marshals_them() {
        let list = Value::KvlistValue(KeyValueList {
            values: vec![
                KeyValue {
                    key: "z".into(),
                    value: Some(any(Value::DoubleValue(2.0))),
                    ..Default::default()
                },
                KeyValue {
                    key: "a".into(),
                    value: Some(any(Value::ArrayValue(ArrayValue {
                        values: vec![
                            any(Value::StringValue("<b>&\"x\"\n".into())),
                            any(Value::IntValue(-7)),
                            any(Value::BoolValue(true)),
                            any(Value::BytesValue(vec![0, 1, 0xff])),
                            AnyValue { value: None },
                            any(Value::DoubleValue(0.25)),
                        ],
                    }))),
                    ..Default::default()
                },
                KeyValue {
                    key: "m".into(),
                    value: None,
                    ..Default::default()
                },
            ],
        });
        assert_eq!(
            as_string(&list),
            r#"{"a":["\u003cb\u003e\u0026\"x\"\n",-7,true,"AAH/",null,0.25],"m":null,"z":2}"#
        );
        let nan = Value::ArrayValue(ArrayValue {
            values: vec![any(Value::DoubleValue(f64::NAN))],
        });
        assert_eq!(as_string(&nan), "");
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        let cases = [
            (2.0, "2"),
            (-0.5, "-0.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123456.789, "123456.789"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f).as_deref(), Some(want), "{f}");
        }
        assert_eq!(go_float(f64::INFINITY), None);
    }
}
