//! TraceQL text to [`Expr`], in two steps. An operator-precedence parser with Tempo's
//! precedence (`|` loosest; then `&&` and `||` together; comparisons and structural operators;
//! `+ -`; prefix `-`, which sits with `+ -`; prefix `!`; `* / %`; `^`, right-associative) reads
//! the text outside `{ }` into a loose tree ([`top::Node`]), and field expressions inside `{ }`
//! straight into
//! [`FieldExpr`](crate::ast::FieldExpr). [`convert`] then reads the loose tree as Tempo's
//! grammar does (spanset pipelines, scalar filters, metrics queries and their arithmetic),
//! refusing with a syntax error what Tempo's grammar refuses.
//!
//! Neither parser recurses: operators wait on explicit stacks. What recurses is every walk over
//! the tree (conversion, validation, printing, comparison, drop), so the tree's depth is bounded:
//! [`MAX_NESTING`] caps the operators pending at once (open parentheses, prefix operators,
//! right-associative `^`) and the depth of the tree built (left-associative chains such as
//! `1+1+…+1` deepen it one level per operator).

mod convert;
pub(crate) mod field;
mod top;

use crate::ast::Expr;
use crate::error::{Error, Result};
use crate::lex::{lex, Pos, Tok, Token};

/// How deep a query may nest (parentheses, prefix operators, operands of operators) before it
/// is refused with "query too deeply nested" (a parse error). Validating, printing, comparing and dropping the
/// deepest query taken fit in a 256 KiB stack in a debug build.
pub const MAX_NESTING: usize = 128;

/// Parses a TraceQL query, checking its syntax only (Tempo's `Parse`); see
/// [`Expr::validate`] for the meaning.
pub fn parse(q: &str) -> Result<Expr> {
    let mut p = Parser {
        toks: lex(q)?,
        at: 0,
    };
    let node = p.top()?;
    let hints = if p.is_word("with") {
        p.hints()?
    } else {
        Vec::new()
    };
    if p.peek().tok != Tok::End {
        return Err(p.unexpected());
    }
    Ok(Expr {
        query: convert::query(&node)?,
        hints,
    })
}

/// Parses a TraceQL query and validates it, as Tempo does before running one.
pub fn parse_and_validate(q: &str) -> Result<Expr> {
    let e = parse(q)?;
    e.validate()?;
    Ok(e)
}

pub(crate) struct Parser {
    toks: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.at + n).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn pos(&self) -> Pos {
        self.peek().pos
    }

    fn is(&self, sym: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(s) if *s == sym)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if *w == word)
    }

    fn eat(&mut self, sym: &str) -> bool {
        let found = self.is(sym);
        if found {
            self.next();
        }
        found
    }

    /// `syntax error: unexpected X` at the current token.
    fn unexpected(&self) -> Error {
        let t = self.peek();
        t.pos
            .error(format!("syntax error: unexpected {}", t.tok.describe()))
    }

    fn expect(&mut self, sym: &str) -> Result<()> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(self.expecting(sym))
        }
    }

    /// `syntax error: unexpected X, expecting sym` at the current token.
    fn expecting(&self, sym: &str) -> Error {
        let t = self.peek();
        t.pos.error(format!(
            "syntax error: unexpected {}, expecting {sym}",
            t.tok.describe()
        ))
    }

    /// An integer without a sign (`topk(10)`, `compare(…, 10)`).
    fn int(&mut self) -> Result<i64> {
        match self.peek().tok {
            Tok::Int(n) => {
                self.next();
                Ok(n)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn too_deep(&self, pos: Pos) -> Error {
        pos.error(format!(
            "query too deeply nested (more than {MAX_NESTING} levels)"
        ))
    }

    /// Refuses a tree `depth` levels deep past [`MAX_NESTING`].
    fn check_depth(&self, depth: usize, pos: Pos) -> Result<()> {
        if depth > MAX_NESTING {
            return Err(self.too_deep(pos));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
