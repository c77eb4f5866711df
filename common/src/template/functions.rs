//! The functions templates call: Go's built-ins, Prometheus's, Alertmanager's and Loki's
//! (with the Sprig functions Loki registers), which a dialect names.

use std::collections::BTreeMap;

use super::format::{
    go_time, humanize, humanize_1024, humanize_duration, humanize_percentage, print, printf,
};
use super::methods::{fields, type_name};
use super::value::Value;

/// Go's built-in template functions, which every dialect has.
pub(crate) const GO_BUILTINS: &[&str] = &[
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "print", "printf",
    "println", "html", "urlquery", "slice",
];

/// Prometheus's functions for alert templates, besides Go's built-ins.
pub(crate) const FUNCTIONS: &[&str] = &[
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "title",
    "toUpper",
    "toLower",
    "match",
    "reReplaceAll",
    "stripPort",
    "safeHtml",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
];

/// Alertmanager's `DefaultFuncs`, besides Go's built-ins.
pub(crate) const AM_FUNCTIONS: &[&str] = &[
    "toUpper",
    "toLower",
    "title",
    "trimSpace",
    "join",
    "match",
    "safeHtml",
    "safeUrl",
    "urlUnescape",
    "reReplaceAll",
    "stringSlice",
    "date",
    "tz",
    "since",
    "humanizeDuration",
    "toJson",
];

/// Loki's functions for `line_format` and `label_format` (its own and the Sprig functions
/// it registers), besides Go's built-ins.
pub(crate) const LOKI_FUNCTIONS: &[&str] = &[
    "__line__",
    "__timestamp__",
    "ToLower",
    "ToUpper",
    "Replace",
    "Trim",
    "TrimLeft",
    "TrimRight",
    "TrimPrefix",
    "TrimSuffix",
    "TrimSpace",
    "lower",
    "upper",
    "title",
    "trunc",
    "substr",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "indent",
    "nindent",
    "repeat",
    "replace",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "count",
    "default",
    "date",
    "toDate",
    "now",
    "unixEpoch",
    "unixEpochMillis",
    "unixEpochNanos",
    "unixToTime",
    "alignLeft",
    "alignRight",
    "urlencode",
    "urldecode",
    "b64enc",
    "b64dec",
    "bytes",
    "duration",
    "duration_seconds",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "float64",
    "int",
];

/// The samples of an instant query: labels and value.
pub type QueryResult = Vec<(BTreeMap<String, String>, f64)>;

/// What the `query` function asks: an instant query's samples, or its error.
pub type QueryFn<'q> = dyn Fn(&str) -> Result<QueryResult, String> + 'q;

fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Num(n) => Ok(*n),
        Value::Int(n) => Ok(*n as f64),
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        other => Err(format!("can't convert {} to float", print(other))),
    }
}

fn text(v: &Value) -> String {
    print(v)
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "error calling {name}: wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn compare(name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Num(_) | Value::Int(_), Value::Num(_) | Value::Int(_)) => num(a)?
            .partial_cmp(&num(b)?)
            .ok_or_else(|| format!("error calling {name}: incomparable NaN")),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if name == "eq" || name == "ne" => Ok(x.cmp(y)),
        _ => Err(format!(
            "error calling {name}: incompatible types for comparison"
        )),
    }
}

/// What a function call may reach besides its arguments: the `query` function's answerer and
/// the variables in scope (Loki's `__line__` and `__timestamp__` are two of them).
pub(super) struct Context<'a, 'q> {
    pub(super) query: Option<&'a QueryFn<'q>>,
    pub(super) var: &'a dyn Fn(&str) -> Result<Value, String>,
}

/// Calls function `name` with `args`.
pub(super) fn call(name: &str, args: Vec<Value>, cx: &Context<'_, '_>) -> Result<Value, String> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(match name {
        "and" => args
            .iter()
            .find(|v| !v.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "or" => args
            .iter()
            .find(|v| v.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "not" => {
            arity(name, &args, 1)?;
            Value::Bool(!args[0].truthy())
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let o = compare(name, &args[0], &args[1])?;
            Value::Bool(match name {
                "eq" => o == Equal,
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            })
        }
        "len" => {
            arity(name, &args, 1)?;
            Value::Num(match &args[0] {
                Value::Str(s) => s.len(),
                Value::Map(m) => m.len(),
                Value::List(l) => l.len(),
                other => {
                    return Err(format!(
                        "error calling len: len of type {}",
                        type_name(other)
                    ))
                }
            } as f64)
        }
        "index" => {
            let mut it = args.into_iter();
            let mut v = it.next().unwrap_or(Value::Nil);
            for key in it {
                v = match (v, key) {
                    (Value::Map(mut m), Value::Str(k)) => m.remove(&k).unwrap_or(Value::Nil),
                    (Value::List(l), Value::Num(i)) => l
                        .get(i as usize)
                        .cloned()
                        .ok_or_else(|| format!("error calling index: index out of range: {i}"))?,
                    _ => return Err("error calling index: cannot index".into()),
                };
            }
            v
        }
        "print" => Value::Str(args.iter().map(print).collect::<Vec<_>>().join("")),
        "println" => Value::Str(format!(
            "{}\n",
            args.iter().map(print).collect::<Vec<_>>().join(" ")
        )),
        "printf" => {
            let Some((f, rest)) = args.split_first() else {
                return Err("error calling printf: wrong number of args".into());
            };
            Value::Str(printf(&text(f), rest))
        }
        "humanize" => Value::Str(humanize(num(one(name, &args)?)?)),
        "humanize1024" => Value::Str(humanize_1024(num(one(name, &args)?)?)),
        "humanizeDuration" => Value::Str(humanize_duration(num(one(name, &args)?)?)),
        "humanizePercentage" => Value::Str(humanize_percentage(num(one(name, &args)?)?)),
        "title" => Value::Str(title(&text(one(name, &args)?))),
        "toUpper" => Value::Str(text(one(name, &args)?).to_uppercase()),
        "toLower" => Value::Str(text(one(name, &args)?).to_lowercase()),
        "safeHtml" | "safeUrl" => Value::Str(text(one(name, &args)?)),
        "html" => Value::Str(html_escape(&args.iter().map(print).collect::<String>())),
        "urlquery" => Value::Str(
            form_urlencoded::byte_serialize(args.iter().map(print).collect::<String>().as_bytes())
                .collect(),
        ),
        "urlUnescape" => {
            let s = text(one(name, &args)?);
            Value::Str(
                percent_decode(&s).ok_or_else(|| {
                    format!("error calling urlUnescape: invalid URL escape in {s:?}")
                })?,
            )
        }
        "trimSpace" => Value::Str(text(one(name, &args)?).trim().to_string()),
        "join" => {
            arity(name, &args, 2)?;
            let Value::List(items) = &args[1] else {
                return Err(format!(
                    "error calling join: wrong type for value; expected []string; got {}",
                    type_name(&args[1])
                ));
            };
            Value::Str(
                items
                    .iter()
                    .map(text)
                    .collect::<Vec<_>>()
                    .join(&text(&args[0])),
            )
        }
        "stringSlice" => Value::List(args),
        "slice" => {
            let Some((v, idx)) = args.split_first() else {
                return Err("error calling slice: missing argument".into());
            };
            let idx: Vec<usize> = idx
                .iter()
                .map(|i| num(i).map(|n| n as usize))
                .collect::<Result<_, _>>()?;
            match v {
                Value::Str(s) => {
                    let from = idx.first().copied().unwrap_or(0);
                    let to = idx.get(1).copied().unwrap_or(s.len());
                    Value::Str(
                        s.get(from..to)
                            .ok_or("error calling slice: index out of range")?
                            .to_string(),
                    )
                }
                Value::List(l) => {
                    let from = idx.first().copied().unwrap_or(0);
                    let to = idx.get(1).copied().unwrap_or(l.len());
                    Value::List(
                        l.get(from..to)
                            .ok_or("error calling slice: index out of range")?
                            .to_vec(),
                    )
                }
                other => {
                    return Err(format!(
                        "error calling slice: can't slice item of type {}",
                        type_name(other)
                    ))
                }
            }
        }
        "date" => {
            arity(name, &args, 2)?;
            let Value::Time(ns, tz) = args[1] else {
                return Err("error calling date: not a time".into());
            };
            Value::Str(go_time(ns, tz, &text(&args[0])))
        }
        "tz" => {
            arity(name, &args, 2)?;
            let zone = text(&args[0]);
            let tz: chrono_tz::Tz = zone
                .parse()
                .map_err(|_| format!("error calling tz: unknown time zone {zone}"))?;
            let Value::Time(ns, _) = args[1] else {
                return Err("error calling tz: not a time".into());
            };
            Value::Time(ns, Some(tz))
        }
        "since" => {
            let Value::Time(ns, _) = one(name, &args)? else {
                return Err("error calling since: not a time".into());
            };
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
            Value::Num(now.saturating_sub(*ns) as f64 / 1e9)
        }
        "toJson" => Value::Str(to_json(one(name, &args)?).to_string()),
        // Loki's: the line and its time, which the caller puts in scope.
        "__line__" => (cx.var)("$__line__")?,
        "__timestamp__" => (cx.var)("$__timestamp__")?,
        "stripPort" => {
            let s = text(one(name, &args)?);
            Value::Str(strip_port(&s))
        }
        "match" => {
            arity(name, &args, 2)?;
            let re = regex(&text(&args[0]))?;
            Value::Bool(re.is_match(&text(&args[1])))
        }
        "reReplaceAll" => {
            arity(name, &args, 3)?;
            let re = regex(&text(&args[0]))?;
            // Go's `$1`/`${name}` replacement syntax is also the regex crate's.
            let with = text(&args[1]);
            Value::Str(re.replace_all(&text(&args[2]), with.as_str()).into_owned())
        }
        "query" => {
            let q = text(one(name, &args)?);
            let Some(run) = cx.query else {
                return Err("error calling query: no data to query".into());
            };
            let samples = run(&q).map_err(|e| format!("error calling query: {e}"))?;
            Value::List(
                samples
                    .into_iter()
                    .map(|(labels, v)| {
                        Value::Map(BTreeMap::from([
                            (
                                "Labels".to_string(),
                                Value::labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                            ),
                            ("Value".to_string(), Value::Num(v)),
                        ]))
                    })
                    .collect(),
            )
        }
        "first" => match one(name, &args)? {
            Value::List(l) => l
                .first()
                .cloned()
                .ok_or("error calling first: first() called on vector with no elements")?,
            other => {
                return Err(format!(
                    "error calling first: not a query result: {}",
                    print(other)
                ))
            }
        },
        "label" => {
            arity(name, &args, 2)?;
            fields(args[1].clone(), &["Labels".to_string(), text(&args[0])]).map(|v| {
                if v == Value::Nil {
                    Value::Str(String::new())
                } else {
                    v
                }
            })?
        }
        "value" => fields(one(name, &args)?.clone(), &["Value".to_string()])?,
        "strvalue" => fields(
            one(name, &args)?.clone(),
            &["Labels".to_string(), "__value__".to_string()],
        )
        .map(|v| {
            if v == Value::Nil {
                Value::Str(String::new())
            } else {
                v
            }
        })?,
        "sortByLabel" => {
            arity(name, &args, 2)?;
            let key = text(&args[0]);
            let Value::List(mut l) = args[1].clone() else {
                return Err("error calling sortByLabel: not a query result".into());
            };
            l.sort_by_key(|s| {
                fields(s.clone(), &["Labels".to_string(), key.clone()])
                    .map(|v| text(&v))
                    .unwrap_or_default()
            });
            Value::List(l)
        }
        other => return loki_call(other, args),
    })
}

fn int(v: &Value) -> Result<i64, String> {
    Ok(match v {
        Value::Num(n) => *n as i64,
        Value::Int(n) => *n,
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))?
            as i64,
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    })
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Loki's and Sprig's functions (the argument order is Sprig's: the string last).
fn loki_call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let s = |i: usize| args.get(i).map(text).unwrap_or_default();
    let last = || args.last().map(text).unwrap_or_default();
    let want = |n: usize| arity(name, &args, n);
    Ok(match name {
        "ToLower" | "lower" => Value::Str(last().to_lowercase()),
        "ToUpper" | "upper" => Value::Str(last().to_uppercase()),
        "TrimSpace" => Value::Str(last().trim().to_string()),
        "Trim" => {
            want(2)?;
            let cut: Vec<char> = s(1).chars().collect();
            Value::Str(s(0).trim_matches(|c| cut.contains(&c)).to_string())
        }
        "TrimLeft" => {
            want(2)?;
            let cut: Vec<char> = s(1).chars().collect();
            Value::Str(s(0).trim_start_matches(|c| cut.contains(&c)).to_string())
        }
        "TrimRight" => {
            want(2)?;
            let cut: Vec<char> = s(1).chars().collect();
            Value::Str(s(0).trim_end_matches(|c| cut.contains(&c)).to_string())
        }
        "TrimPrefix" => {
            want(2)?;
            let (v, p) = (s(0), s(1));
            Value::Str(v.strip_prefix(p.as_str()).unwrap_or(&v).to_string())
        }
        "TrimSuffix" => {
            want(2)?;
            let (v, p) = (s(0), s(1));
            Value::Str(v.strip_suffix(p.as_str()).unwrap_or(&v).to_string())
        }
        // Go's strings.Replace(s, old, new, n).
        "Replace" => {
            want(4)?;
            let n = int(&args[3])?;
            let (v, old, new) = (s(0), s(1), s(2));
            Value::Str(if n < 0 {
                v.replace(old.as_str(), &new)
            } else {
                v.replacen(old.as_str(), &new, n as usize)
            })
        }
        // Sprig's replace old new s.
        "replace" => {
            want(3)?;
            Value::Str(s(2).replace(s(0).as_str(), &s(1)))
        }
        "trunc" => {
            want(2)?;
            let n = int(&args[0])?;
            let v: Vec<char> = s(1).chars().collect();
            let out: String = if n >= 0 {
                v.iter().take(n as usize).collect()
            } else {
                v[v.len().saturating_sub(n.unsigned_abs() as usize)..]
                    .iter()
                    .collect()
            };
            Value::Str(out)
        }
        "substr" => {
            want(3)?;
            let (start, end) = (int(&args[0])?, int(&args[1])?);
            let v: Vec<char> = s(2).chars().collect();
            let start = start.max(0) as usize;
            let end = if end < 0 {
                v.len()
            } else {
                (end as usize).min(v.len())
            };
            Value::Str(if start < end {
                v[start..end].iter().collect()
            } else {
                String::new()
            })
        }
        "contains" => {
            want(2)?;
            Value::Bool(s(1).contains(s(0).as_str()))
        }
        "hasPrefix" => {
            want(2)?;
            Value::Bool(s(1).starts_with(s(0).as_str()))
        }
        "hasSuffix" => {
            want(2)?;
            Value::Bool(s(1).ends_with(s(0).as_str()))
        }
        "indent" | "nindent" => {
            want(2)?;
            let pad = " ".repeat(int(&args[0])?.max(0) as usize);
            let body: Vec<String> = s(1).split('\n').map(|l| format!("{pad}{l}")).collect();
            let body = body.join("\n");
            Value::Str(if name == "nindent" {
                format!("\n{body}")
            } else {
                body
            })
        }
        "repeat" => {
            want(2)?;
            Value::Str(s(1).repeat(int(&args[0])?.clamp(0, 10_000) as usize))
        }
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            want(3)?;
            let re = regex(&s(0))?;
            let (src, repl) = (s(1), s(2));
            Value::Str(if name == "regexReplaceAll" {
                re.replace_all(&src, repl.as_str()).into_owned()
            } else {
                re.replace_all(&src, regex::NoExpand(&repl)).into_owned()
            })
        }
        "count" => {
            want(2)?;
            Value::Int(regex(&s(0))?.find_iter(&s(1)).count() as i64)
        }
        "default" => {
            want(2)?;
            if args[1].truthy() {
                args[1].clone()
            } else {
                args[0].clone()
            }
        }
        "alignLeft" | "alignRight" => {
            want(2)?;
            let n = int(&args[0])?.max(0) as usize;
            let v: Vec<char> = s(1).chars().collect();
            let out: String = if v.len() >= n {
                v[..n].iter().collect()
            } else if name == "alignLeft" {
                format!(
                    "{}{}",
                    v.iter().collect::<String>(),
                    " ".repeat(n - v.len())
                )
            } else {
                format!(
                    "{}{}",
                    " ".repeat(n - v.len()),
                    v.iter().collect::<String>()
                )
            };
            Value::Str(out)
        }
        "urlencode" => Value::Str(form_urlencoded::byte_serialize(last().as_bytes()).collect()),
        "urldecode" => Value::Str(percent_decode(&last()).unwrap_or_default()),
        "b64enc" => Value::Str(base64(last().as_bytes())),
        "b64dec" => Value::Str(
            unbase64(&last())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default(),
        ),
        "now" => Value::Time(
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            None,
        ),
        "unixEpoch" | "unixEpochMillis" | "unixEpochNanos" => {
            let Some(Value::Time(ns, _)) = args.first() else {
                return Err(format!("error calling {name}: not a time"));
            };
            Value::Int(match name {
                "unixEpoch" => ns.div_euclid(1_000_000_000),
                "unixEpochMillis" => ns.div_euclid(1_000_000),
                _ => *ns,
            })
        }
        "unixToTime" => {
            let v = last();
            let n: i64 = v
                .trim()
                .parse()
                .map_err(|_| format!("error calling unixToTime: invalid number {v:?}"))?;
            // Loki reads the unit from the digits: seconds, milliseconds, microseconds or
            // nanoseconds.
            let ns = match v.trim().len() {
                0..=10 => n * 1_000_000_000,
                11..=13 => n * 1_000_000,
                14..=16 => n * 1_000,
                _ => n,
            };
            Value::Time(ns, None)
        }
        "date" => {
            want(2)?;
            let Value::Time(ns, tz) = args[1] else {
                return Err("error calling date: not a time".into());
            };
            Value::Str(go_time(ns, tz, &s(0)))
        }
        "toDate" => {
            want(2)?;
            let v = s(1);
            let t = chrono::DateTime::parse_from_rfc3339(&v)
                .map_err(|e| format!("error calling toDate: {e}"))?;
            Value::Time(t.timestamp_nanos_opt().unwrap_or_default(), None)
        }
        "bytes" => Value::Num(last().trim().parse::<f64>().unwrap_or(f64::NAN)),
        "duration" | "duration_seconds" => {
            let v = last();
            Value::Num(
                crate::duration::parse_prometheus(v.trim())
                    .map_or(f64::NAN, |ms| ms as f64 / 1000.0),
            )
        }
        "add" | "sub" | "mul" | "div" | "mod" | "max" | "min" => {
            if args.is_empty() {
                return Err(format!("error calling {name}: missing arguments"));
            }
            let mut acc = int(&args[0])?;
            for a in &args[1..] {
                let b = int(a)?;
                acc = match name {
                    "add" => acc.saturating_add(b),
                    "sub" => acc.saturating_sub(b),
                    "mul" => acc.saturating_mul(b),
                    "div" if b == 0 => {
                        return Err("error calling div: integer divide by zero".into())
                    }
                    "div" => acc / b,
                    "mod" if b == 0 => {
                        return Err("error calling mod: integer divide by zero".into())
                    }
                    "mod" => acc % b,
                    "max" => acc.max(b),
                    _ => acc.min(b),
                };
            }
            Value::Int(acc)
        }
        "addf" | "subf" | "mulf" | "divf" | "maxf" | "minf" => {
            if args.is_empty() {
                return Err(format!("error calling {name}: missing arguments"));
            }
            let mut acc = num(&args[0])?;
            for a in &args[1..] {
                let b = num(a)?;
                acc = match name {
                    "addf" => acc + b,
                    "subf" => acc - b,
                    "mulf" => acc * b,
                    "divf" => acc / b,
                    "maxf" => acc.max(b),
                    _ => acc.min(b),
                };
            }
            Value::Num(acc)
        }
        "ceil" => Value::Num(num(&args.first().cloned().unwrap_or(Value::Nil))?.ceil()),
        "floor" => Value::Num(num(&args.first().cloned().unwrap_or(Value::Nil))?.floor()),
        "round" => {
            let v = num(&args.first().cloned().unwrap_or(Value::Nil))?;
            let places = args.get(1).map(int).transpose()?.unwrap_or(0).clamp(0, 15) as i32;
            let f = 10f64.powi(places);
            Value::Num((v * f).round() / f)
        }
        "float64" => Value::Num(num(&args.first().cloned().unwrap_or(Value::Nil)).unwrap_or(0.0)),
        "int" => Value::Int(int(&args.first().cloned().unwrap_or(Value::Nil)).unwrap_or(0)),
        other => return Err(format!("function {other:?} not defined")),
    })
}

/// Go's `html/template` escaping of text.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `%XX` escapes (and `+` as a space) decoded; `None` for a bad escape.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A value as JSON (times in RFC 3339).
fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Num(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Value::Int(n) => J::Number((*n).into()),
        Value::Str(s) => J::String(s.clone()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Value::List(l) => J::Array(l.iter().map(to_json).collect()),
        Value::Time(ns, tz) => J::String(go_time(*ns, *tz, "2006-01-02T15:04:05.999999999Z07:00")),
    }
}

fn one<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, String> {
    arity(name, args, 1)?;
    Ok(&args[0])
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("error parsing regexp: {e}"))
}

/// Go's `strings.Title`: the first letter of every word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// Prometheus's `stripPort`: the host of `host:port` (IPv6 brackets removed).
fn strip_port(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            return rest[..end].to_string();
        }
    }
    match s.rfind(':') {
        Some(i) if s[..i].find(':').is_none() => s[..i].to_string(),
        _ => s.to_string(),
    }
}
