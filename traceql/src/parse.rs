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
mod cursor;
pub(crate) mod field;
mod metrics;
mod top;

pub use cursor::MAX_NESTING;

use crate::ast::{Expr, Query};
use crate::error::Result;
use crate::lex::{lex, Tok};
use cursor::Parser;

/// Parses a TraceQL query, checking its syntax only (Tempo's `Parse`); see
/// [`Expr::validate`] for the meaning.
pub fn parse(q: &str) -> Result<Expr> {
    let mut p = Parser::new(lex(q)?);
    let node = p.top()?;
    let hints = if p.is_word("with") {
        p.hints()?
    } else {
        Vec::new()
    };
    if p.peek().tok != Tok::End {
        return Err(p.unexpected());
    }
    let query = if convert::contains_metrics(&node) {
        Query::Metrics(metrics::metrics(&node)?)
    } else {
        convert::query(&node)?
    };
    Ok(Expr { query, hints })
}

/// Parses a TraceQL query and validates it, as Tempo does before running one.
pub fn parse_and_validate(q: &str) -> Result<Expr> {
    let e = parse(q)?;
    e.validate()?;
    Ok(e)
}

#[cfg(test)]
mod tests;
