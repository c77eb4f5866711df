//! Running parsed templates: variables in scopes, actions, blocks, named templates and
//! pipelines; the functions (`functions.rs`) and the data's fields and methods (`methods.rs`)
//! they call.

use super::ast::{Arg, Defs, Node, Pipeline};
use super::format::print;
use super::functions::{call, Context, QueryFn};
use super::methods::{fields, method, type_name};
use super::value::Value;

/// How deep `template` calls may nest before execution stops (Go stops at 100,000; a smaller
/// bound keeps a template that calls itself from exhausting the stack).
const MAX_DEPTH: usize = 256;

/// Templates a `{{ template "name" }}` may run: those defined in the template set, then (for
/// names none defines) the caller's built-in ones, which render `.` as the named template would.
pub type NativeFn<'n> = dyn Fn(&str, &Value) -> Option<Result<String, String>> + 'n;

/// Renders `nodes` with `data` as `.` and `vars` defined; `query` answers the `query`
/// function; `template` calls find `defs` (searched in order) and then `native`.
pub(crate) fn render_with(
    nodes: &[Node],
    data: &Value,
    vars: &[(&str, Value)],
    query: Option<&QueryFn<'_>>,
    defs: &[&Defs],
    native: Option<&NativeFn<'_>>,
) -> Result<String, String> {
    let mut cx = Cx {
        scopes: vec![vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain(std::iter::once(("$".to_string(), data.clone())))
            .collect()],
        query,
        defs,
        native,
        depth: 0,
    };
    let mut out = String::new();
    run(nodes, data, &mut cx, &mut out)?;
    Ok(out)
}

/// Variables in scope (innermost last), the query function, and the named templates.
struct Cx<'a, 'q> {
    scopes: Vec<Vec<(String, Value)>>,
    query: Option<&'a QueryFn<'q>>,
    defs: &'a [&'a Defs],
    native: Option<&'a NativeFn<'q>>,
    depth: usize,
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
            Node::Template { name, pipe } => {
                let data = match pipe {
                    Some(p) => pipeline(p, dot, cx)?,
                    None => Value::Nil,
                };
                if cx.depth >= MAX_DEPTH {
                    return Err(format!(
                        "exceeded maximum template depth ({MAX_DEPTH}) in template {name:?}"
                    ));
                }
                if let Some(nodes) = cx.defs.iter().find_map(|d| d.get(name)) {
                    let scopes =
                        std::mem::replace(&mut cx.scopes, vec![vec![("$".into(), data.clone())]]);
                    cx.depth += 1;
                    let done = run(nodes, &data, cx, out);
                    cx.depth -= 1;
                    cx.scopes = scopes;
                    done?;
                } else {
                    match cx.native.and_then(|f| f(name, &data)) {
                        Some(text) => out.push_str(&text?),
                        None => return Err(format!("template {name:?} not defined")),
                    }
                }
            }
        }
    }
    Ok(())
}

/// Calls function `name` with the query answerer and the variables of `cx`.
fn call_in(name: &str, args: Vec<Value>, cx: &Cx<'_, '_>) -> Result<Value, String> {
    let var = |n: &str| lookup(cx, n);
    call(
        name,
        args,
        &Context {
            query: cx.query,
            var: &var,
        },
    )
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
        Arg::Func(name) => call_in(name, Vec::new(), cx)?,
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
            call_in(name, args, cx)
        }
        Arg::Dot(f) | Arg::Var(_, f) if !f.is_empty() && (cmd.len() > 1 || piped.is_some()) => {
            // A method called with arguments: `.StartsAt.Format "15:04"`,
            // `.CommonLabels.Remove .GroupLabels.Names`.
            let (last, receiver_fields) = f.split_last().unwrap_or((&f[0], &[]));
            let receiver = match &cmd[0] {
                Arg::Var(name, _) => fields(lookup(cx, name)?, receiver_fields)?,
                _ => fields(dot.clone(), receiver_fields)?,
            };
            let mut args = Vec::with_capacity(cmd.len());
            for a in &cmd[1..] {
                args.push(operand(a, dot, cx)?);
            }
            args.extend(piped);
            let ty = type_name(&receiver);
            method(receiver, last, args)?
                .ok_or_else(|| format!("can't evaluate field {last} in type {ty}"))
        }
        first => {
            if cmd.len() > 1 || piped.is_some() {
                return Err(format!("can't give argument to non-function {first:?}"));
            }
            operand(first, dot, cx)
        }
    }
}
