//! TraceQL for Vigil: Grafana Tempo's trace query language. Query text flows in; out comes an
//! [`ast::Expr`] ([`parse`]), checked as Tempo checks it ([`ast::Expr::validate`]), and printed
//! back ([`std::fmt::Display`]) as text that parses to the same tree; search queries are
//! evaluated over traces in memory ([`eval::search`]), and so are metrics queries
//! ([`metrics::MetricsEval`]). Pure: no I/O.

pub mod ast;
mod duration;
mod error;
pub mod eval;
mod lex;
pub mod metrics;
mod parse;
mod print;
mod validate;

pub use error::{Error, Result};
pub use parse::{parse, parse_and_validate, MAX_NESTING};
