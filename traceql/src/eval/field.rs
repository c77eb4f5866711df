//! Field expressions (`{ … }` bodies, aggregate and grouping arguments) compiled to postfix
//! programs, so that evaluating one needs no recursion however deeply the query nests, and
//! run against a span.
//!
//! Attributes resolve as in Tempo: `.x` looks in the span's attributes, then the resource's;
//! `resource.service.name` falls back to [`SpanData::service_name`]. Event and link fields
//! (`event.x`, `event:name`, `link:spanID` …) read one event and one link at a time: a
//! filter that reads them holds for a span when it holds for any of its events (and links),
//! and one on a span without events sees them as missing. Aggregates, groupings and
//! `select` read the first event and link.

use std::borrow::Cow;

use regex::Regex;

use super::model::{EventData, LinkData, SpanData, TraceData, Value};
use super::tree::{is_root, Tree};
use super::value::{binary, compile_regex, negate, not, Ty, Val};
use crate::ast::{BinaryOp, Field, FieldExpr, Intrinsic, Scope, Static, UnaryOp};

/// A compiled field expression.
#[derive(Debug)]
pub(crate) struct Program {
    code: Vec<Inst>,
    /// Whether it reads event fields, and so runs once per event.
    events: bool,
    /// Whether it reads link fields, and so runs once per link.
    links: bool,
}

#[derive(Debug)]
enum Inst {
    Const(Value),
    Load(Field),
    Neg,
    Not,
    /// `x != nil`: whether the value is there.
    Exists,
    /// `x = nil`
    Missing,
    Binary(BinaryOp),
    /// `x =~ "re"` or `x !~ "re"` with the pattern compiled ahead.
    Regex {
        re: Regex,
        negate: bool,
    },
}

/// What a program reads beside the values on its stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) trace: &'a TraceData,
    pub(crate) tree: &'a Tree,
    pub(crate) index: usize,
    pub(crate) event: Option<&'a EventData>,
    pub(crate) link: Option<&'a LinkData>,
}

impl<'a> Ctx<'a> {
    /// The span at `index`, bound to its first event and link.
    pub(crate) fn first(trace: &'a TraceData, tree: &'a Tree, index: usize) -> Ctx<'a> {
        let span = &trace.spans[index];
        Ctx {
            trace,
            tree,
            index,
            event: span.events.first(),
            link: span.links.first(),
        }
    }

    fn span(&self) -> &'a SpanData {
        &self.trace.spans[self.index]
    }
}

impl Program {
    pub(crate) fn compile(e: &FieldExpr) -> Program {
        let mut p = Program {
            code: Vec::new(),
            events: false,
            links: false,
        };
        p.push(e);
        p
    }

    /// Appends the instructions of `e`. Recursive, one small frame per level of the tree,
    /// whose depth the parser bounds.
    fn push(&mut self, e: &FieldExpr) {
        match e {
            FieldExpr::Static(s) => self.code.push(Inst::Const(static_value(s))),
            FieldExpr::Field(f) => {
                self.events |= reads_event(f);
                self.links |= reads_link(f);
                self.code.push(Inst::Load(f.clone()));
            }
            FieldExpr::Unary { op, expr } => {
                self.push(expr);
                self.code.push(match op {
                    UnaryOp::Neg => Inst::Neg,
                    UnaryOp::Not => Inst::Not,
                });
            }
            FieldExpr::Binary { op, lhs, rhs } => self.push_binary(*op, lhs, rhs),
        }
    }

    fn push_binary(&mut self, op: BinaryOp, lhs: &FieldExpr, rhs: &FieldExpr) {
        let nil = |e: &FieldExpr| matches!(e, FieldExpr::Static(Static::Nil));
        if matches!(op, BinaryOp::Eq | BinaryOp::Neq) && (nil(lhs) || nil(rhs)) {
            // Tempo's grammar turns `x != nil` into an existence test and `x = nil` into its
            // negation; `nil = nil` and `nil != nil` are false.
            if nil(lhs) && nil(rhs) {
                self.code.push(Inst::Const(Value::Bool(false)));
                return;
            }
            self.push(if nil(lhs) { rhs } else { lhs });
            self.code.push(if op == BinaryOp::Neq {
                Inst::Exists
            } else {
                Inst::Missing
            });
            return;
        }
        if let (BinaryOp::Re | BinaryOp::NotRe, FieldExpr::Static(Static::Str(re))) = (op, rhs) {
            if let Some(re) = compile_regex(re) {
                self.push(lhs);
                self.code.push(Inst::Regex {
                    re,
                    negate: op == BinaryOp::NotRe,
                });
                return;
            }
        }
        self.push(lhs);
        self.push(rhs);
        self.code.push(Inst::Binary(op));
    }

    /// The value of the program for the span, event and link of `ctx`. `stack` is scratch
    /// space, left empty.
    pub(crate) fn run<'a>(&'a self, ctx: &Ctx<'a>, stack: &mut Vec<Val<'a>>) -> Val<'a> {
        for inst in &self.code {
            let v = match inst {
                Inst::Const(v) => Val::from_value(v),
                Inst::Load(f) => load(f, ctx),
                Inst::Neg => negate(pop(stack)),
                Inst::Not => not(pop(stack)),
                Inst::Exists => Val::Bool(pop(stack) != Val::Nil),
                Inst::Missing => Val::Bool(pop(stack) == Val::Nil),
                Inst::Binary(op) => {
                    let r = pop(stack);
                    let l = pop(stack);
                    binary(*op, l, r, None)
                }
                Inst::Regex { re, negate } => {
                    let l = pop(stack);
                    match l {
                        Val::Str(s) => Val::Bool(re.is_match(&s) != *negate),
                        // Only strings take `=~`; `nil` and other types are false.
                        _ => Val::Bool(false),
                    }
                }
            };
            stack.push(v);
        }
        let v = pop(stack);
        stack.clear();
        v
    }

    /// Whether the program is true for the span at `index`: for any of its events and
    /// links when it reads them.
    pub(crate) fn matches<'a>(
        &'a self,
        trace: &'a TraceData,
        tree: &'a Tree,
        index: usize,
        stack: &mut Vec<Val<'a>>,
    ) -> bool {
        let span = &trace.spans[index];
        if !self.events && !self.links {
            return self.run(&Ctx::first(trace, tree, index), stack).is_true();
        }
        let events = choices(self.events, &span.events);
        let links = choices(self.links, &span.links);
        events.iter().any(|&event| {
            links.iter().any(|&link| {
                let ctx = Ctx {
                    trace,
                    tree,
                    index,
                    event,
                    link,
                };
                self.run(&ctx, stack).is_true()
            })
        })
    }
}

/// The events (or links) to bind in turn: each of them when the program reads them and
/// there are some, else none.
fn choices<T>(reads: bool, items: &[T]) -> Vec<Option<&T>> {
    if reads && !items.is_empty() {
        items.iter().map(Some).collect()
    } else {
        vec![items.first()]
    }
}

fn pop<'a>(stack: &mut Vec<Val<'a>>) -> Val<'a> {
    stack.pop().unwrap_or(Val::Nil)
}

fn reads_event(f: &Field) -> bool {
    match f {
        Field::Intrinsic(i) => matches!(i, Intrinsic::EventName | Intrinsic::EventTimeSinceStart),
        Field::Attribute(a) => a.scope == Scope::Event,
    }
}

fn reads_link(f: &Field) -> bool {
    match f {
        Field::Intrinsic(i) => matches!(i, Intrinsic::LinkTraceId | Intrinsic::LinkSpanId),
        Field::Attribute(a) => a.scope == Scope::Link,
    }
}

pub(crate) fn static_value(s: &Static) -> Value {
    match s {
        Static::Nil => Value::Nil,
        Static::Bool(b) => Value::Bool(*b),
        Static::Int(n) => Value::Int(*n),
        Static::Float(x) => Value::Float(*x),
        Static::Str(s) => Value::String(s.clone()),
        Static::Duration(d) => Value::Duration(*d),
        Static::Status(s) => Value::Status(*s),
        Static::Kind(k) => Value::Kind(*k),
    }
}

/// The value of field `f` for the span, event and link of `ctx`.
pub(crate) fn load<'a>(f: &Field, ctx: &Ctx<'a>) -> Val<'a> {
    match f {
        Field::Intrinsic(i) => intrinsic(*i, ctx),
        Field::Attribute(a) if a.parent => Val::Nil,
        Field::Attribute(a) => {
            let span = ctx.span();
            let found = match a.scope {
                Scope::None => find(&span.span_attrs, &a.name).or_else(|| resource(span, &a.name)),
                Scope::Span => find(&span.span_attrs, &a.name),
                Scope::Resource => resource(span, &a.name),
                Scope::Event => ctx.event.and_then(|e| find(&e.attrs, &a.name)),
                Scope::Link => ctx.link.and_then(|l| find(&l.attrs, &a.name)),
                Scope::Instrumentation => find(&span.scope_attrs, &a.name),
            };
            found.unwrap_or(Val::Nil)
        }
    }
}

fn find<'a>(attrs: &'a [(String, Value)], name: &str) -> Option<Val<'a>> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| Val::from_value(v))
}

fn resource<'a>(span: &'a SpanData, name: &str) -> Option<Val<'a>> {
    find(&span.resource_attrs, name).or_else(|| {
        (name == "service.name" && !span.service_name.is_empty())
            .then(|| Val::Str(Cow::Borrowed(&span.service_name)))
    })
}

fn intrinsic<'a>(i: Intrinsic, ctx: &Ctx<'a>) -> Val<'a> {
    let span = ctx.span();
    let tree = ctx.tree;
    let root = tree.root.map(|r| &ctx.trace.spans[r]);
    let str = |s: &'a str| Val::Str(Cow::Borrowed(s));
    match i {
        Intrinsic::Duration => Val::Duration(span.duration_nano),
        Intrinsic::Name => str(&span.name),
        Intrinsic::Status => Val::Status(span.status),
        Intrinsic::StatusMessage => str(&span.status_message),
        Intrinsic::Kind => Val::Kind(span.kind),
        Intrinsic::ChildCount => Val::Int(tree.child_count[ctx.index]),
        Intrinsic::Parent => Val::Nil,
        Intrinsic::TraceRootSpan => root.map_or(Val::Nil, |r| str(&r.name)),
        Intrinsic::TraceRootService => root.map_or(Val::Nil, |r| str(&r.service_name)),
        Intrinsic::TraceDuration => Val::Duration(tree.duration),
        Intrinsic::TraceId => trace_hex(&span.trace_id),
        Intrinsic::SpanId => hex(&span.span_id),
        Intrinsic::ParentId => match span.parent_span_id {
            Some(p) if !is_root(span) => hex(&p),
            _ => Val::Nil,
        },
        Intrinsic::NestedSetLeft => Val::Int(tree.left[ctx.index]),
        Intrinsic::NestedSetRight => Val::Int(tree.right[ctx.index]),
        Intrinsic::NestedSetParent => Val::Int(tree.nested_parent[ctx.index]),
        Intrinsic::EventName => ctx.event.map_or(Val::Nil, |e| str(&e.name)),
        Intrinsic::EventTimeSinceStart => ctx.event.map_or(Val::Nil, |e| {
            Val::Duration(e.time_unix_nano.saturating_sub(span.start_unix_nano))
        }),
        Intrinsic::LinkTraceId => ctx.link.map_or(Val::Nil, |l| trace_hex(&l.trace_id)),
        Intrinsic::LinkSpanId => ctx.link.map_or(Val::Nil, |l| hex(&l.span_id)),
        Intrinsic::InstrumentationName => str(&span.scope_name),
        Intrinsic::InstrumentationVersion => str(&span.scope_version),
    }
}

/// A trace id as Tempo prints it (`TraceIDToHexString`): lowercase hex without leading
/// zeros.
fn trace_hex(bytes: &[u8]) -> Val<'static> {
    match hex(bytes) {
        Val::Str(s) => Val::Str(Cow::Owned(s.trim_start_matches('0').to_string())),
        v => v,
    }
}

/// Lowercase hex, as Tempo prints span ids (`SpanIDToHexString`: all 16 digits).
fn hex(bytes: &[u8]) -> Val<'static> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    Val::Str(Cow::Owned(s))
}

/// The value of `f` for `ctx`'s span, kept when the span has it (`select`).
pub(crate) fn selected(f: &Field, ctx: &Ctx<'_>) -> Option<Value> {
    let v = load(f, ctx);
    (v.ty() != Ty::Nil).then(|| v.to_value())
}
