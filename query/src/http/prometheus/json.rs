//! PromQL values as the Prometheus API writes them: label sets as objects, samples as
//! `[<unix seconds>,"<value>"]`, and the `resultType`/`result` of each value type. Written into
//! one buffer: a range query over many series writes millions of points.

use std::fmt::Write as _;

use promql::value::{Labels, Value};

use crate::http::kit::{format_time, json_str, write_json_str};

/// A label set as a JSON object.
pub(super) fn labels_json(l: &Labels) -> String {
    let mut out = String::new();
    write_labels(&mut out, l);
    out
}

/// Appends a label set as a JSON object.
pub(super) fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (k, v)) in l.pairs().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_str(out, k);
        out.push(':');
        write_json_str(out, v);
    }
    out.push('}');
}

/// Appends a sample as Prometheus writes it: `[<unix seconds>,"<value>"]`.
pub(super) fn write_point(out: &mut String, t: i64, v: f64) {
    let (sign, t) = if t < 0 { ("-", -t) } else { ("", t) };
    let _ = match t % 1000 {
        0 => write!(out, "[{sign}{},\"", t / 1000),
        f => write!(out, "[{sign}{}.{f:03},\"", t / 1000),
    };
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
    out.push_str("\"]");
}

/// The `data` of a query answer: `{"resultType":…,"result":…}`.
pub(super) fn value_json(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Scalar { t, v } => {
            out.push_str(r#"{"resultType":"scalar","result":"#);
            write_point(&mut out, *t, *v);
            out.push('}');
        }
        Value::String { t, v } => {
            let _ = write!(
                out,
                r#"{{"resultType":"string","result":[{},{}]}}"#,
                format_time(*t),
                json_str(v)
            );
        }
        Value::Vector(samples) => {
            out.push_str(r#"{"resultType":"vector","result":["#);
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                out.push_str(r#","value":"#);
                write_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push_str("]}");
        }
        Value::Matrix(series) => {
            let points: usize = series.iter().map(|s| s.points.len()).sum();
            out.reserve(points * 24 + series.len() * 128);
            out.push_str(r#"{"resultType":"matrix","result":["#);
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, p) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, p.0, p.1);
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use promql::value::format_value;

    use super::*;

    #[test]
    fn values_are_written_as_prometheus_does() {
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        let labels = Labels::new(vec![
            ("__name__".into(), "up".into()),
            ("q".into(), "a\"b\\c\n".into()),
        ]);
        let matrix = Value::Matrix(vec![promql::value::Series {
            labels: labels.clone(),
            points: vec![(-1_500, f64::NAN), (2_000, 1e21), (3_001, -0.1)],
            drop_name: false,
        }]);
        let json: serde_json::Value = serde_json::from_str(&value_json(&matrix)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"resultType": "matrix", "result": [{
                "metric": {"__name__": "up", "q": "a\"b\\c\n"},
                "values": [[-1.5, "NaN"], [2, "1000000000000000000000"], [3.001, "-0.1"]],
            }]})
        );
        let vector = Value::Vector(vec![promql::value::Sample {
            labels,
            t: 0,
            v: f64::NEG_INFINITY,
            drop_name: false,
        }]);
        assert_eq!(
            value_json(&vector),
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","q":"a\"b\\c\n"},"value":[0,"-Inf"]}]}"#
        );
    }
}
