//! The order of series in an answer, as Tempo's query frontend sorts them (`sortResponse` in
//! `modules/frontend/combiner/metrics_query_range.go`): fewer labels first, then label by
//! label the key, then the value as the protobuf text of its OTLP `AnyValue`
//! (`string_value:"GET"`, `int_value:200`, `double_value:0.5`). Values go over the wire as
//! Tempo's `Static.AsAnyValue` writes them: integers, floats and booleans as such, every
//! other type as a string.

use std::cmp::Ordering;
use std::fmt::Write;

use crate::ast::{Kind, Status};
use crate::eval::Value;

/// Tempo's order of two label sets.
pub(crate) fn compare_labels(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        for ((ka, va), (kb, vb)) in a.iter().zip(b) {
            let o = ka
                .as_bytes()
                .cmp(kb.as_bytes())
                .then_with(|| any_value_text(va).cmp(&any_value_text(vb)));
            if o.is_ne() {
                return o;
            }
        }
        Ordering::Equal
    })
}

/// The protobuf text (gogo's `CompactTextString`) of the `AnyValue` a label value becomes.
pub(crate) fn any_value_text(v: &Value) -> String {
    match v {
        Value::Int(n) => format!("int_value:{n}"),
        Value::Float(x) => format!("double_value:{}", go_float(*x)),
        Value::Bool(b) => format!("bool_value:{b}"),
        other => {
            let mut out = String::from("string_value:\"");
            for b in wire_string(other).bytes() {
                match b {
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    0x20..=0x7e => out.push(char::from(b)),
                    _ => {
                        let _ = write!(out, "\\{b:03o}");
                    }
                }
            }
            out.push('"');
            out
        }
    }
}

/// The string Tempo sends for a value that goes over the wire as a string.
pub(crate) fn wire_string(v: &Value) -> String {
    match v {
        Value::Nil => "nil".to_string(),
        Value::String(s) => s.clone(),
        Value::Duration(d) => common::go::duration(*d),
        Value::Status(s) => match s {
            Status::Error => "error",
            Status::Ok => "ok",
            Status::Unset => "unset",
        }
        .to_string(),
        Value::Kind(k) => match k {
            Kind::Unspecified => "unspecified",
            Kind::Internal => "internal",
            Kind::Client => "client",
            Kind::Server => "server",
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
        }
        .to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(x) => go_float(*x),
        Value::Bool(b) => b.to_string(),
    }
}

/// A float as Go's `%v` prints it (`strconv.FormatFloat(x, 'g', -1, 64)`): the shortest
/// digits that read back, in exponent form when the decimal exponent is below -4 or at
/// least 6.
fn go_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest digits that read back: `d.ddde±x`.
    let e = format!("{:e}", x.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    let s = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        for (x, want) in [
            (0.5, "0.5"),
            (0.99, "0.99"),
            (1.0, "1"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.073741824, "1.073741824"),
            (-2.5, "-2.5"),
            (4096.0, "4096"),
        ] {
            assert_eq!(go_float(x), want, "{x}");
        }
    }

    #[test]
    fn labels_sort_by_count_then_key_then_wire_text() {
        let one = |k: &str, v: Value| vec![(k.to_string(), v)];
        assert!(compare_labels(&one("z", Value::Nil), &[]).is_gt());
        assert!(compare_labels(&one("a", Value::Int(9)), &one("b", Value::Int(1))).is_lt());
        // Integers compare as text: 10 before 9.
        assert!(compare_labels(&one("a", Value::Int(10)), &one("a", Value::Int(9))).is_lt());
        // A closing quote follows the value: "a!" before "a".
        let s = |x: &str| Value::String(x.to_string());
        assert!(compare_labels(&one("a", s("a!")), &one("a", s("a"))).is_lt());
        assert!(compare_labels(&one("a", s("a")), &one("a", s("ab"))).is_lt());
        // Types by their field name: bool < double < int < string.
        assert!(compare_labels(&one("a", Value::Float(9.0)), &one("a", Value::Int(1))).is_lt());
    }
}
