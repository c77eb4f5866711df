//! LogQL for Vigil: Loki's query language parsed ([`parse`]) with Loki's error texts and
//! printed back ([`std::fmt::Display`]) as Loki prints it. Pure: no I/O and no HTTP. The
//! evaluator over a source of log streams follows (issue 17), in the shape of `promql`'s.

pub mod ast;
mod duration;
pub mod eval;
mod lex;
mod parse;
mod print;

pub use duration::{parse_bytes, parse_duration};
pub use parse::{parse, parse_log, ParseError, MAX_NESTING, MAX_OPERATORS};
pub use print::{go_duration, go_quote, humanize_bytes};
