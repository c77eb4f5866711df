//! Running parsed templates: variables in scopes, pipelines, and the functions.

use std::collections::BTreeMap;

use super::ast::{Arg, Node, Pipeline};
use super::format::{
    humanize, humanize_1024, humanize_duration, humanize_percentage, print, printf,
};
use super::value::Value;

/// The functions a template may call.
pub(crate) const FUNCTIONS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
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

/// The samples of an instant query: labels and value.
pub type QueryResult = Vec<(BTreeMap<String, String>, f64)>;

/// What the `query` function asks: an instant query's samples, or its error.
pub type QueryFn<'q> = dyn Fn(&str) -> Result<QueryResult, String> + 'q;

/// Renders `nodes` with `data` as `.` and `vars` defined; `query` answers the `query` function.
pub(crate) fn render(
    nodes: &[Node],
    data: &Value,
    vars: &[(&str, Value)],
    query: Option<&QueryFn<'_>>,
) -> Result<String, String> {
    let mut cx = Cx {
        scopes: vec![vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain(std::iter::once(("$".to_string(), data.clone())))
            .collect()],
        query,
    };
    let mut out = String::new();
    run(nodes, data, &mut cx, &mut out)?;
    Ok(out)
}

/// Variables in scope (innermost last) and the query function.
struct Cx<'a, 'q> {
    scopes: Vec<Vec<(String, Value)>>,
    query: Option<&'a QueryFn<'q>>,
}

fn run(nodes: &[Node], dot: &Value, cx: &mut Cx<'_, '_>, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let v = pipeline(p, dot, cx)?;
                if p.vars.is_empty() {
                    out.push_str(&print(&v));
                }
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                cx.scopes.push(Vec::new());
                let branch = if pipeline(cond, dot, cx)?.truthy() {
                    then
                } else {
                    otherwise
                };
                run(branch, dot, cx, out)?;
                cx.scopes.pop();
            }
            Node::With {
                pipe,
                body,
                otherwise,
            } => {
                cx.scopes.push(Vec::new());
                let v = pipeline(pipe, dot, cx)?;
                if v.truthy() {
                    run(body, &v, cx, out)?;
                } else {
                    run(otherwise, dot, cx, out)?;
                }
                cx.scopes.pop();
            }
            Node::Range {
                pipe,
                body,
                otherwise,
            } => {
                cx.scopes.push(Vec::new());
                let mut p = pipe.clone();
                let names = std::mem::take(&mut p.vars);
                let v = pipeline(&p, dot, cx)?;
                let items: Vec<(Value, Value)> = match v {
                    Value::Map(m) => m.into_iter().map(|(k, v)| (Value::Str(k), v)).collect(),
                    Value::List(l) => l
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::Num(i as f64), v))
                        .collect(),
                    Value::Nil => Vec::new(),
                    other => return Err(format!("range can't iterate over {}", print(&other))),
                };
                if items.is_empty() {
                    run(otherwise, dot, cx, out)?;
                }
                for (k, v) in items {
                    if let Some(scope) = cx.scopes.last_mut() {
                        match names.as_slice() {
                            [one] => scope.push((one.clone(), v.clone())),
                            [a, b] => {
                                scope.push((a.clone(), k));
                                scope.push((b.clone(), v.clone()));
                            }
                            _ => {}
                        }
                    }
                    run(body, &v, cx, out)?;
                }
                cx.scopes.pop();
            }
        }
    }
    Ok(())
}

fn lookup(cx: &Cx<'_, '_>, name: &str) -> Result<Value, String> {
    cx.scopes
        .iter()
        .rev()
        .flat_map(|s| s.iter().rev())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| format!("undefined variable: {name}"))
}

fn fields(mut v: Value, names: &[String]) -> Result<Value, String> {
    for f in names {
        v = match v {
            Value::Map(mut m) => m.remove(f).unwrap_or(Value::Nil),
            Value::Nil => return Err(format!("nil pointer evaluating .{f}")),
            other => {
                return Err(format!(
                    "can't evaluate field {f} in type {}",
                    type_name(&other)
                ))
            }
        };
    }
    Ok(v)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Num(_) => "float64",
        Value::Str(_) => "string",
        Value::Map(_) => "map[string]interface {}",
        Value::List(_) => "[]interface {}",
    }
}

fn pipeline(p: &Pipeline, dot: &Value, cx: &mut Cx<'_, '_>) -> Result<Value, String> {
    let mut last: Option<Value> = None;
    for cmd in &p.commands {
        last = Some(command(cmd, last.take(), dot, cx)?);
    }
    let v = last.unwrap_or(Value::Nil);
    if !p.vars.is_empty() {
        if p.declare {
            if let Some(scope) = cx.scopes.last_mut() {
                for name in &p.vars {
                    scope.push((name.clone(), v.clone()));
                }
            }
        } else {
            for name in &p.vars {
                if let Some(slot) = cx
                    .scopes
                    .iter_mut()
                    .rev()
                    .flat_map(|s| s.iter_mut().rev())
                    .find(|(n, _)| n == name)
                {
                    slot.1 = v.clone();
                }
            }
        }
    }
    Ok(v)
}

fn operand(a: &Arg, dot: &Value, cx: &mut Cx<'_, '_>) -> Result<Value, String> {
    Ok(match a {
        Arg::Dot(f) => fields(dot.clone(), f)?,
        Arg::Var(name, f) => fields(lookup(cx, name)?, f)?,
        Arg::Str(s) => Value::Str(s.clone()),
        Arg::Num(n) => Value::Num(*n),
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Nil => Value::Nil,
        Arg::Func(name) => call(name, Vec::new(), cx)?,
        Arg::Sub(p, f) => fields(pipeline(p, dot, cx)?, f)?,
    })
}

fn command(
    cmd: &[Arg],
    piped: Option<Value>,
    dot: &Value,
    cx: &mut Cx<'_, '_>,
) -> Result<Value, String> {
    match &cmd[0] {
        Arg::Func(name) => {
            let mut args = Vec::with_capacity(cmd.len());
            for a in &cmd[1..] {
                args.push(operand(a, dot, cx)?);
            }
            args.extend(piped);
            call(name, args, cx)
        }
        first => {
            if cmd.len() > 1 || piped.is_some() {
                return Err(format!("can't give argument to non-function {first:?}"));
            }
            operand(first, dot, cx)
        }
    }
}

fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Num(n) => Ok(*n),
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
        (Value::Num(x), Value::Num(y)) => x
            .partial_cmp(y)
            .ok_or_else(|| format!("error calling {name}: incomparable NaN")),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if name == "eq" || name == "ne" => Ok(x.cmp(y)),
        _ => Err(format!(
            "error calling {name}: incompatible types for comparison"
        )),
    }
}

fn call(name: &str, args: Vec<Value>, cx: &Cx<'_, '_>) -> Result<Value, String> {
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
        "safeHtml" => Value::Str(text(one(name, &args)?)),
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
            let with = go_replacement(&text(&args[1]));
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
        other => return Err(format!("function {other:?} not defined")),
    })
}

fn one<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, String> {
    arity(name, args, 1)?;
    Ok(&args[0])
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("error parsing regexp: {e}"))
}

/// Go's `$1`/`${name}` replacement syntax is also the regex crate's; `$$` is a dollar in both.
fn go_replacement(s: &str) -> String {
    s.to_string()
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
