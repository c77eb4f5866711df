//! Values while evaluating, and Tempo's rules for operating on them
//! (`BinaryOperation.execute`, `Static.Equals`/`NotEquals`/`compare` in `pkg/traceql`).
//!
//! - Operands must be of matching types (the same type, two numbers, or `nil` on either
//!   side) and the operator must take both types; otherwise the result is `false`, never an
//!   error. `nil` takes only `=` and `!=`, and is equal and unequal to nothing: a missing
//!   attribute fails `.a = 1`, `.a != 1` and `.a > 1` alike (`.a = nil` and `.a != nil` test
//!   presence, see [`super::field`]).
//! - Two integers stay integers (`/` truncates; `/ 0` and `% 0` are `nil`, where Go would
//!   panic); two strings compare bytewise and `=~` matches the whole string; every other
//!   pair of numbers (integers, floats, durations in nanoseconds) computes and compares as
//!   floats, so a duration times 2 is a float.
//! - `=`: integers and durations compare raw, a float with any number numerically.
//! - `&&` and `||` are true when both, or either, side is `true` (a side that is not a
//!   boolean counts as false).

use std::borrow::Cow;
use std::cmp::Ordering;

use regex::Regex;

use super::model::Value;
use crate::ast::{BinaryOp, Kind, Status};

/// A value while evaluating: strings borrowed from the trace or the query where they can be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Duration(i64),
    Status(Status),
    Kind(Kind),
}

/// The type of a [`Val`]; the order of Tempo's `StaticType` constants, which `min` and
/// `max` use to order values of different types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Ty {
    Nil,
    Int,
    Float,
    String,
    Bool,
    Duration,
    Status,
    Kind,
}

impl Ty {
    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Duration)
    }

    /// Tempo's `isMatchingOperand`.
    fn matches(self, other: Ty) -> bool {
        self == other || (self.numeric() && other.numeric()) || self == Ty::Nil || other == Ty::Nil
    }

    /// Tempo's `binaryTypeValid`.
    fn takes(self, op: BinaryOp) -> bool {
        use BinaryOp::*;
        match self {
            Ty::Bool => matches!(op, And | Or | Eq | Neq),
            Ty::Int | Ty::Float | Ty::Duration => !matches!(op, Re | NotRe | And | Or),
            Ty::String => !matches!(op, Add | Sub | Mul | Div | Mod | Pow | And | Or),
            Ty::Nil | Ty::Status | Ty::Kind => matches!(op, Eq | Neq),
        }
    }
}

impl<'a> Val<'a> {
    pub(crate) fn from_value(v: &'a Value) -> Val<'a> {
        match v {
            Value::Nil => Val::Nil,
            Value::Bool(b) => Val::Bool(*b),
            Value::Int(n) => Val::Int(*n),
            Value::Float(x) => Val::Float(*x),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Duration(d) => Val::Duration(*d),
            Value::Status(s) => Val::Status(*s),
            Value::Kind(k) => Val::Kind(*k),
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        match self {
            Val::Nil => Value::Nil,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(n) => Value::Int(*n),
            Val::Float(x) => Value::Float(*x),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Duration(d) => Value::Duration(*d),
            Val::Status(s) => Value::Status(*s),
            Val::Kind(k) => Value::Kind(*k),
        }
    }

    pub(crate) fn ty(&self) -> Ty {
        match self {
            Val::Nil => Ty::Nil,
            Val::Bool(_) => Ty::Bool,
            Val::Int(_) => Ty::Int,
            Val::Float(_) => Ty::Float,
            Val::Str(_) => Ty::String,
            Val::Duration(_) => Ty::Duration,
            Val::Status(_) => Ty::Status,
            Val::Kind(_) => Ty::Kind,
        }
    }

    pub(crate) fn is_true(&self) -> bool {
        matches!(self, Val::Bool(true))
    }

    /// Tempo's `Float()`: numbers as floats, anything else NaN.
    pub(crate) fn float(&self) -> f64 {
        match self {
            Val::Int(n) | Val::Duration(n) => *n as f64,
            Val::Float(x) => *x,
            _ => f64::NAN,
        }
    }

    /// Tempo's `Equals`.
    pub(crate) fn equals(&self, o: &Val<'_>) -> bool {
        match (self, o) {
            (Val::Nil, _) | (_, Val::Nil) => false,
            (Val::Int(a) | Val::Duration(a), Val::Int(b) | Val::Duration(b)) => a == b,
            (Val::Int(a), Val::Status(s)) | (Val::Status(s), Val::Int(a)) => {
                *a == status_number(*s)
            }
            (Val::Int(_) | Val::Duration(_), Val::Float(b)) => self.float() == *b,
            (Val::Float(a), _) => *a == o.float(),
            (Val::Status(a), Val::Status(b)) => a == b,
            (Val::Kind(a), Val::Kind(b)) => a == b,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            _ => false,
        }
    }

    /// Tempo's `compare`, which `min` and `max` use: numbers numerically, values of one
    /// type by value, values of different types by type.
    pub(crate) fn compare(&self, o: &Val<'_>) -> Ordering {
        let (a, b) = (self.ty(), o.ty());
        if a != b {
            if a.numeric() && b.numeric() {
                return go_cmp(self.float(), o.float());
            }
            return a.cmp(&b);
        }
        match (self, o) {
            (Val::Int(a), Val::Int(b)) | (Val::Duration(a), Val::Duration(b)) => a.cmp(b),
            (Val::Float(a), Val::Float(b)) => go_cmp(*a, *b),
            (Val::Str(a), Val::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Val::Bool(a), Val::Bool(b)) => a.cmp(b),
            (Val::Status(a), Val::Status(b)) => status_number(*a).cmp(&status_number(*b)),
            (Val::Kind(a), Val::Kind(b)) => (*a as u8).cmp(&(*b as u8)),
            _ => Ordering::Equal,
        }
    }
}

/// Tempo's numbering of statuses (`StatusError` is 0).
fn status_number(s: Status) -> i64 {
    match s {
        Status::Error => 0,
        Status::Ok => 1,
        Status::Unset => 2,
    }
}

/// Go's `cmp.Compare` on floats: NaN before everything, equal to itself.
fn go_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Whether `op`'s operands have types it may operate on (Tempo's checks before executing).
pub(crate) fn operable(op: BinaryOp, l: Ty, r: Ty) -> bool {
    l.matches(r) && l.takes(op) && r.takes(op)
}

/// `l op r`; `re` is the regular expression of `=~` and `!~` when compiled ahead.
pub(crate) fn binary<'a>(op: BinaryOp, l: Val<'a>, r: Val<'a>, re: Option<&Regex>) -> Val<'a> {
    use BinaryOp::*;
    if matches!(op, And | Or) {
        let (a, b) = (l.is_true(), r.is_true());
        return Val::Bool(if op == And { a && b } else { a || b });
    }
    if !operable(op, l.ty(), r.ty()) {
        return Val::Bool(false);
    }
    match (&l, &r) {
        (Val::Str(a), Val::Str(b)) => {
            let ord = a.as_bytes().cmp(b.as_bytes());
            match op {
                Gt => return Val::Bool(ord.is_gt()),
                Gte => return Val::Bool(ord.is_ge()),
                Lt => return Val::Bool(ord.is_lt()),
                Lte => return Val::Bool(ord.is_le()),
                Re | NotRe => return Val::Bool(regex_match(a, b, re) == (op == Re)),
                _ => {}
            }
        }
        (Val::Int(a), Val::Int(b)) => {
            if let Some(v) = int_op(op, *a, *b) {
                return v;
            }
        }
        _ => {}
    }
    let (a, b) = (l.float(), r.float());
    match op {
        Add => Val::Float(a + b),
        Sub => Val::Float(a - b),
        Mul => Val::Float(a * b),
        Div => Val::Float(a / b),
        Mod => Val::Float(a % b),
        Pow => Val::Float(a.powf(b)),
        Gt => Val::Bool(a > b),
        Gte => Val::Bool(a >= b),
        Lt => Val::Bool(a < b),
        Lte => Val::Bool(a <= b),
        Eq => Val::Bool(l.equals(&r)),
        Neq => Val::Bool(!l.equals(&r) && l.ty() != Ty::Nil && r.ty() != Ty::Nil),
        Re | NotRe | And | Or => Val::Bool(false),
    }
}

/// Integer arithmetic and comparison; `None` for `=` and `!=`, which [`Val::equals`] does.
fn int_op(op: BinaryOp, a: i64, b: i64) -> Option<Val<'static>> {
    use BinaryOp::*;
    Some(match op {
        Add => Val::Int(a.wrapping_add(b)),
        Sub => Val::Int(a.wrapping_sub(b)),
        Mul => Val::Int(a.wrapping_mul(b)),
        Div if b == 0 => Val::Nil,
        Div => Val::Int(a.wrapping_div(b)),
        Mod if b == 0 => Val::Nil,
        Mod => Val::Int(a.wrapping_rem(b)),
        Pow => int_pow(a, b),
        Gt => Val::Bool(a > b),
        Gte => Val::Bool(a >= b),
        Lt => Val::Bool(a < b),
        Lte => Val::Bool(a <= b),
        _ => return None,
    })
}

/// `base ^ exp` in integers: wrapping like Go's, and for a negative exponent the quotient
/// `1 / base^-exp` truncated (`nil` for `0 ^ -1`).
fn int_pow(base: i64, exp: i64) -> Val<'static> {
    if exp < 0 {
        return match base {
            0 => Val::Nil,
            1 => Val::Int(1),
            -1 => Val::Int(if exp % 2 == 0 { 1 } else { -1 }),
            _ => Val::Int(0),
        };
    }
    let (mut result, mut base, mut exp) = (1i64, base, exp as u64);
    while exp > 0 {
        if exp & 1 == 1 {
            result = result.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    Val::Int(result)
}

/// Compiles a TraceQL regular expression as Tempo does (Prometheus' `FastRegexMatcher`):
/// anchored at both ends, `.` matching newlines.
pub(crate) fn compile_regex(re: &str) -> Option<Regex> {
    Regex::new(&format!("^(?s:{re})$")).ok()
}

/// Whether `s` matches the regular expression `re` (compiled ahead when given); a pattern
/// that does not compile matches nothing.
fn regex_match(s: &str, re: &str, compiled: Option<&Regex>) -> bool {
    match compiled {
        Some(r) => r.is_match(s),
        None => compile_regex(re).is_some_and(|r| r.is_match(s)),
    }
}

/// `-v` (numbers) and `!v` (booleans); `nil` for any other operand, where Tempo fails the
/// query.
pub(crate) fn negate<'a>(v: Val<'a>) -> Val<'a> {
    match v {
        Val::Int(n) => Val::Int(n.wrapping_neg()),
        Val::Float(x) => Val::Float(-x),
        Val::Duration(d) => Val::Duration(d.wrapping_neg()),
        _ => Val::Nil,
    }
}

/// `!v`.
pub(crate) fn not(v: Val<'_>) -> Val<'static> {
    match v {
        Val::Bool(b) => Val::Bool(!b),
        _ => Val::Nil,
    }
}

/// What groups spans in `by(…)`: the value's type and bits (Tempo's `MapKey`), so `1` and
/// `1.0` are two groups and spans without the value one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum GroupKey {
    Scalar(Ty, u64),
    Str(String),
}

impl Val<'_> {
    pub(crate) fn group_key(&self) -> GroupKey {
        let bits = match self {
            Val::Nil => 0,
            Val::Bool(b) => u64::from(*b),
            Val::Int(n) | Val::Duration(n) => *n as u64,
            Val::Float(x) => x.to_bits(),
            Val::Str(s) => return GroupKey::Str(s.to_string()),
            Val::Status(s) => status_number(*s) as u64,
            Val::Kind(k) => *k as u64,
        };
        GroupKey::Scalar(self.ty(), bits)
    }
}
