//! The one error type: a query that does not parse, is invalid, asks for what Tempo does not
//! support yet, or cannot be evaluated.

/// Why a query was refused. The first three kinds follow Tempo's split between `Parse`
/// failing, its `validate()` failing, and `validate()` failing with its "not yet supported"
/// error; the fourth is the evaluator's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not TraceQL: a syntax error at a 1-based line and column.
    #[error("parse error at line {line}, col {col}: {message}")]
    Parse {
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
    },
    /// The query parses but means nothing: mismatched types, an aggregate of a string, a bad
    /// regular expression, `topk(0)` … (Tempo's texts).
    #[error("{0}")]
    Validate(String),
    /// The query is well formed but uses something Tempo does not support yet (`parent`,
    /// scalar filters other than an aggregate against a constant, …).
    #[error("{0} not yet supported")]
    Unsupported(String),
    /// The query is valid but cannot be evaluated as asked: a metrics query given to search,
    /// or a structural operator between several spansets of one trace (Tempo's run-time
    /// error).
    #[error("{0}")]
    Eval(String),
}

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
