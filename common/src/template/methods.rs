//! Fields and methods of template data: map keys, and the methods of Alertmanager's data
//! (label sets, alert lists, times).

use std::collections::BTreeMap;

use super::format::{go_time, print};
use super::value::{Value, ZERO_TIME};

pub(super) fn fields(mut v: Value, names: &[String]) -> Result<Value, String> {
    for f in names {
        v = match v {
            Value::Map(mut m) => match m.remove(f) {
                Some(v) => v,
                None => method(Value::Map(m), f, Vec::new())?.unwrap_or(Value::Nil),
            },
            Value::Nil => return Err(format!("nil pointer evaluating .{f}")),
            other => {
                let ty = type_name(&other);
                method(other, f, Vec::new())?
                    .ok_or_else(|| format!("can't evaluate field {f} in type {ty}"))?
            }
        };
    }
    Ok(v)
}

/// The methods of Alertmanager's template data: a label set's (`KV`) `SortedPairs`, `Names`,
/// `Values` and `Remove`, the alert list's `Firing` and `Resolved`, and a time's `Format`,
/// `Unix`, `UnixMilli`, `UTC`, `Local`, `IsZero` and `String`. `None` when `v` has no method
/// `name`.
pub(super) fn method(v: Value, name: &str, args: Vec<Value>) -> Result<Option<Value>, String> {
    let strings = |m: &BTreeMap<String, Value>| m.values().all(|v| matches!(v, Value::Str(_)));
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        }
    };
    Ok(Some(match (v, name) {
        (Value::Map(m), "SortedPairs") if strings(&m) => {
            want(0)?;
            Value::List(
                m.into_iter()
                    .map(|(k, v)| {
                        Value::Map(BTreeMap::from([
                            ("Name".to_string(), Value::Str(k)),
                            ("Value".to_string(), v),
                        ]))
                    })
                    .collect(),
            )
        }
        (Value::Map(m), "Names") if strings(&m) => {
            want(0)?;
            Value::List(m.into_keys().map(Value::Str).collect())
        }
        (Value::Map(m), "Values") if strings(&m) => {
            want(0)?;
            Value::List(m.into_values().collect())
        }
        (Value::Map(mut m), "Remove") if strings(&m) => {
            want(1)?;
            if let Value::List(names) = &args[0] {
                for n in names {
                    m.remove(&print(n));
                }
            }
            Value::Map(m)
        }
        (Value::List(l), "Names" | "Values")
            if l.iter().all(
                |p| matches!(p, Value::Map(m) if m.contains_key("Name") && m.contains_key("Value")),
            ) =>
        {
            // `Pairs` (what `SortedPairs` gives): its names or values, in order.
            want(0)?;
            let key = if name == "Names" { "Name" } else { "Value" };
            Value::List(
                l.into_iter()
                    .filter_map(|p| match p {
                        Value::Map(mut m) => m.remove(key),
                        _ => None,
                    })
                    .collect(),
            )
        }
        (Value::List(l), "Firing" | "Resolved") => {
            want(0)?;
            let status = if name == "Firing" {
                "firing"
            } else {
                "resolved"
            };
            Value::List(
                l.into_iter()
                    .filter(|a| matches!(a, Value::Map(m) if m.get("Status") == Some(&Value::Str(status.into()))))
                    .collect(),
            )
        }
        (Value::Time(ns, tz), m) => match m {
            "Format" => {
                want(1)?;
                Value::Str(go_time(ns, tz, &print(&args[0])))
            }
            "String" => {
                want(0)?;
                Value::Str(print(&Value::Time(ns, tz)))
            }
            "Unix" => Value::Num(ns.div_euclid(1_000_000_000) as f64),
            "UnixMilli" => Value::Num(ns.div_euclid(1_000_000) as f64),
            "UTC" | "Local" => Value::Time(ns, None),
            "IsZero" => Value::Bool(ns == ZERO_TIME),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Num(_) => "float64",
        Value::Int(_) => "int64",
        Value::Str(_) => "string",
        Value::Map(_) => "map[string]interface {}",
        Value::List(_) => "[]interface {}",
        Value::Time(..) => "time.Time",
    }
}
