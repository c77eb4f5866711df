//! Field expressions, the body of `{ … }`: statics, intrinsics, attributes, prefix `-` and `!`,
//! and binary operators at Tempo's precedence levels.

use super::cursor::{Parser, MAX_NESTING};
use crate::ast::{BinaryOp, Field, FieldExpr, Intrinsic, Static, UnaryOp};
use crate::error::Result;
use crate::lex::{Pos, Tok};

/// An operator waiting for its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Paren,
    Prefix(UnaryOp, Pos),
    Binary(BinaryOp, Pos),
}

/// Precedence levels, loosest first, as Tempo's grammar declares them.
pub(super) const LEVEL_LOGICAL: u8 = 2;
pub(super) const LEVEL_COMPARE: u8 = 3;
pub(super) const LEVEL_ADD: u8 = 4;
pub(super) const LEVEL_NOT: u8 = 5;
pub(super) const LEVEL_MUL: u8 = 6;
pub(super) const LEVEL_POW: u8 = 7;

/// The level of a binary operator of field expressions.
pub(crate) fn level(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::And | BinaryOp::Or => LEVEL_LOGICAL,
        BinaryOp::Eq
        | BinaryOp::Neq
        | BinaryOp::Lt
        | BinaryOp::Lte
        | BinaryOp::Gt
        | BinaryOp::Gte
        | BinaryOp::Re
        | BinaryOp::NotRe => LEVEL_COMPARE,
        BinaryOp::Add | BinaryOp::Sub => LEVEL_ADD,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => LEVEL_MUL,
        BinaryOp::Pow => LEVEL_POW,
    }
}

/// The operators a prefix operator's operand takes in: those above its own level (`-` sits
/// with `+ -`, `!` between `+ -` and `* / %`), as Tempo's grammar resolves them.
pub(crate) fn operand_level(op: UnaryOp) -> u8 {
    match op {
        UnaryOp::Neg => LEVEL_ADD + 1,
        UnaryOp::Not => LEVEL_NOT + 1,
    }
}

fn binary_op(tok: &Tok) -> Option<BinaryOp> {
    let Tok::Sym(s) = tok else { return None };
    Some(match *s {
        "&&" => BinaryOp::And,
        "||" => BinaryOp::Or,
        "=" => BinaryOp::Eq,
        "!=" => BinaryOp::Neq,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::Lte,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::Gte,
        "=~" => BinaryOp::Re,
        "!~" => BinaryOp::NotRe,
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "%" => BinaryOp::Mod,
        "^" => BinaryOp::Pow,
        _ => return None,
    })
}

impl Parser {
    /// A field expression and the depth of its tree, read without recursion: operators wait
    /// on a stack until one binding looser (or a closing parenthesis) arrives, as Tempo's
    /// grammar resolves them. A `)` with no `(` of its own ends the expression.
    pub(super) fn field(&mut self) -> Result<(FieldExpr, usize)> {
        let mut operands: Vec<(FieldExpr, usize)> = Vec::new();
        let mut ops: Vec<Pending> = Vec::new();
        let mut open = 0usize;
        loop {
            // Prefix operators and opening parentheses, then an operand.
            loop {
                let pos = self.pos();
                let op = match self.peek().tok {
                    Tok::Sym("(") => Pending::Paren,
                    Tok::Sym("-") => Pending::Prefix(UnaryOp::Neg, pos),
                    Tok::Sym("!") => Pending::Prefix(UnaryOp::Not, pos),
                    _ => break,
                };
                if ops.len() >= MAX_NESTING {
                    return Err(self.too_deep(pos));
                }
                if op == Pending::Paren {
                    open += 1;
                }
                ops.push(op);
                self.next();
            }
            operands.push((self.field_atom()?, 1));
            // Binary operators and closing parentheses, or the end.
            loop {
                if let Some(op) = binary_op(&self.peek().tok) {
                    let l = level(op);
                    while let Some(top) = ops.last() {
                        let first = match top {
                            Pending::Binary(b, _) => {
                                level(*b) > l || (level(*b) == l && op != BinaryOp::Pow)
                            }
                            Pending::Prefix(p, _) => l < operand_level(*p),
                            Pending::Paren => false,
                        };
                        if !first {
                            break;
                        }
                        self.reduce(&mut operands, &mut ops)?;
                    }
                    let pos = self.next().pos;
                    if ops.len() >= MAX_NESTING {
                        return Err(self.too_deep(pos));
                    }
                    ops.push(Pending::Binary(op, pos));
                    break;
                }
                if self.is(")") && open > 0 {
                    while !matches!(ops.last(), Some(Pending::Paren) | None) {
                        self.reduce(&mut operands, &mut ops)?;
                    }
                    ops.pop();
                    open -= 1;
                    self.next();
                    continue;
                }
                while !ops.is_empty() {
                    if ops.last() == Some(&Pending::Paren) {
                        return Err(self.expecting(")"));
                    }
                    self.reduce(&mut operands, &mut ops)?;
                }
                return operands.pop().ok_or_else(|| self.unexpected());
            }
        }
    }

    /// Applies the operator on top of `ops` to the operands on top of `operands`.
    fn reduce(&self, operands: &mut Vec<(FieldExpr, usize)>, ops: &mut Vec<Pending>) -> Result<()> {
        let (Some(op), Some(rhs)) = (ops.pop(), operands.pop()) else {
            return Err(self.unexpected());
        };
        let e = match op {
            Pending::Prefix(op, pos) => self.field_unary(op, rhs, pos)?,
            Pending::Binary(op, pos) => {
                let lhs = operands.pop().ok_or_else(|| self.unexpected())?;
                self.field_binary(op, lhs, rhs, pos)?
            }
            Pending::Paren => return Err(self.unexpected()),
        };
        operands.push(e);
        Ok(())
    }

    fn field_binary(
        &self,
        op: BinaryOp,
        (lhs, lhs_depth): (FieldExpr, usize),
        (rhs, rhs_depth): (FieldExpr, usize),
        pos: Pos,
    ) -> Result<(FieldExpr, usize)> {
        let depth = lhs_depth.max(rhs_depth) + 1;
        self.check_depth(depth, pos)?;
        let e = FieldExpr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        };
        Ok((e, depth))
    }

    fn field_unary(
        &self,
        op: UnaryOp,
        (expr, depth): (FieldExpr, usize),
        pos: Pos,
    ) -> Result<(FieldExpr, usize)> {
        self.check_depth(depth + 1, pos)?;
        let e = FieldExpr::Unary {
            op,
            expr: Box::new(expr),
        };
        Ok((e, depth + 1))
    }

    fn field_atom(&mut self) -> Result<FieldExpr> {
        if let Some(s) = self.static_value() {
            return Ok(FieldExpr::Static(s));
        }
        Ok(FieldExpr::Field(self.field_ref()?))
    }

    /// A static value token (a string, number, duration or keyword value), taken.
    pub(super) fn static_value(&mut self) -> Option<Static> {
        let s = match &self.peek().tok {
            Tok::Str(s) => Static::Str(s.clone()),
            Tok::Int(n) => Static::Int(*n),
            Tok::Float(f) => Static::Float(*f),
            Tok::Duration(d) => Static::Duration(*d),
            Tok::Word(w) => Static::keyword(w)?,
            _ => return None,
        };
        self.next();
        Some(s)
    }

    /// An intrinsic (`duration`, `span:id`) or an attribute (`.a`, `resource.a`).
    pub(super) fn field_ref(&mut self) -> Result<Field> {
        let t = self.next();
        match t.tok {
            Tok::Attr(a) => Ok(Field::Attribute(a)),
            Tok::Word(w) => match Intrinsic::unscoped(w) {
                Some(i) => Ok(Field::Intrinsic(i)),
                None => Err(t
                    .pos
                    .error(format!("syntax error: unexpected {}", t.tok.describe()))),
            },
            Tok::ScopeColon(scope) => {
                let name = self.next();
                let word = match &name.tok {
                    Tok::Word(w) => *w,
                    Tok::Ident(w) => w.as_str(),
                    _ => "",
                };
                Intrinsic::scoped(scope, word)
                    .map(Field::Intrinsic)
                    .ok_or_else(|| {
                        name.pos.error(format!(
                            "syntax error: unexpected {} after {scope}:",
                            name.tok.describe()
                        ))
                    })
            }
            other => Err(t
                .pos
                .error(format!("syntax error: unexpected {}", other.describe()))),
        }
    }

    /// `field, field, …` up to (not taking) `)`.
    pub(super) fn field_refs(&mut self) -> Result<Vec<Field>> {
        let mut fields = vec![self.field_ref()?];
        while self.eat(",") {
            fields.push(self.field_ref()?);
        }
        Ok(fields)
    }
}
