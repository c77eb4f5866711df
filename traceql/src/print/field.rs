//! Field expressions, fields and values printed.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::ast::{
    Attribute, BinaryOp, Field, FieldExpr, Intrinsic, Kind, Scope, Static, Status, UnaryOp,
};
use common::go::quote as go_quote;

use crate::duration::format_duration;
use crate::lex::is_attribute_char;
use crate::parse::field::{level, operand_level};

impl Display for FieldExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        field_expr(f, self, 0)
    }
}

/// `e`, followed in the text by an operator of level `follow` (0 for none), with the
/// parentheses the parser needs to read it back: an operand of looser operators, and a prefix
/// operator that would otherwise take in the operators after it (`(-a) * b`).
fn field_expr(f: &mut Formatter<'_>, e: &FieldExpr, follow: u8) -> fmt::Result {
    match e {
        FieldExpr::Static(s) => write!(f, "{s}"),
        FieldExpr::Field(x) => write!(f, "{x}"),
        FieldExpr::Unary { op, expr } => {
            write!(f, "{op}")?;
            let wrap = matches!(&**expr, FieldExpr::Binary { op: inner, .. } if level(*inner) < operand_level(*op));
            wrapped(f, wrap, expr, follow)
        }
        FieldExpr::Binary { op, lhs, rhs } => {
            let l = level(*op);
            let right_assoc = *op == BinaryOp::Pow;
            let wrap_l = match &**lhs {
                FieldExpr::Binary { op: c, .. } => level(*c) < l || (level(*c) == l && right_assoc),
                FieldExpr::Unary { op: u, .. } => l >= operand_level(*u),
                _ => false,
            };
            wrapped(f, wrap_l, lhs, l)?;
            write!(f, " {op} ")?;
            let wrap_r = match &**rhs {
                FieldExpr::Binary { op: c, .. } => {
                    level(*c) < l || (level(*c) == l && !right_assoc)
                }
                FieldExpr::Unary { op: u, .. } => follow >= operand_level(*u),
                _ => false,
            };
            wrapped(f, wrap_r, rhs, follow)
        }
    }
}

fn wrapped(f: &mut Formatter<'_>, wrap: bool, e: &FieldExpr, follow: u8) -> fmt::Result {
    if wrap {
        f.write_str("(")?;
        field_expr(f, e, 0)?;
        f.write_str(")")
    } else {
        field_expr(f, e, follow)
    }
}

impl Display for UnaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
        })
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::Re => "=~",
            BinaryOp::NotRe => "!~",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        })
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Field::Intrinsic(i) => write!(f, "{i}"),
            Field::Attribute(a) => write!(f, "{a}"),
        }
    }
}

impl Display for Intrinsic {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Attribute {
    /// `scope.name`, the name in quotes when it holds characters that would end it, or when
    /// it would read back otherwise (`."5"`, not the number `.5`; `parent."span.a"`).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.parent {
            f.write_str("parent.")?;
        }
        let scope = match self.scope {
            Scope::None if self.parent => "",
            Scope::None => ".",
            Scope::Span => "span.",
            Scope::Resource => "resource.",
            Scope::Event => "event.",
            Scope::Link => "link.",
            Scope::Instrumentation => "instrumentation.",
        };
        f.write_str(scope)?;
        let name = &self.name;
        let quote = name.is_empty()
            || name.chars().any(|c| !is_attribute_char(c) || c == '"')
            || (scope == "." && name.starts_with(|c: char| c.is_ascii_digit()))
            || (self.parent
                && self.scope == Scope::None
                && (name.starts_with("span.") || name.starts_with("resource.")));
        if !quote {
            return f.write_str(name);
        }
        f.write_char('"')?;
        for c in name.chars() {
            if c == '"' || c == '\\' {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('"')
    }
}

impl Display for Static {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Static::Nil => f.write_str("nil"),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Int(n) => write!(f, "{n}"),
            // Debug keeps a fraction or an exponent, so the number reads back as a float.
            Static::Float(x) => write!(f, "{x:?}"),
            Static::Str(s) => f.write_str(&go_quote(s)),
            Static::Duration(ns) => f.write_str(&format_duration(*ns)),
            Static::Status(s) => write!(f, "{s}"),
            Static::Kind(k) => write!(f, "{k}"),
        }
    }
}

impl Display for Status {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Error => "error",
            Status::Ok => "ok",
            Status::Unset => "unset",
        })
    }
}

impl Display for Kind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Unspecified => "unspecified",
            Kind::Internal => "internal",
            Kind::Client => "client",
            Kind::Server => "server",
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
        })
    }
}
