//! Why a query fails, with Prometheus's error types.

/// Why a query failed, with Prometheus's error types.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query does not parse or is otherwise invalid (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (`execution`).
    #[error("{0}")]
    Execution(String),
    /// Over [`Options::max_samples`] (`execution`).
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// Over [`crate::Options::timeout`] (`timeout`).
    #[error("query timed out in query execution")]
    Timeout,
    /// Stopped through [`crate::Cancel`] (`canceled`).
    #[error("query was canceled in query execution")]
    Canceled,
    /// Storage failed (`internal`).
    #[error("{0}")]
    Storage(String),
}

impl QueryError {
    /// Prometheus's `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) | QueryError::TooManySamples => "execution",
            QueryError::Timeout => "timeout",
            QueryError::Canceled => "canceled",
            QueryError::Storage(_) => "internal",
        }
    }
}

/// Result of evaluation.
pub(crate) type Result<T> = std::result::Result<T, QueryError>;

pub(crate) fn exec_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(QueryError::Execution(msg.into()))
}
