//! Why a LogQL evaluation failed.

/// Why evaluation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The query is not valid (a regular expression, a pattern, a log query where a metric is
    /// needed).
    #[error("{0}")]
    Invalid(String),
    /// A series carries `__error__`.
    #[error("{0}")]
    Pipeline(String),
    /// Vector matching found duplicates.
    #[error("{0}")]
    Matching(String),
    /// The source failed.
    #[error("{0}")]
    Source(String),
}
