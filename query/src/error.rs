//! Errors of the query crate and how they map to [`ErrorCode`] and to the `errorType` of the
//! Prometheus-style error body.

use std::time::Duration;

use arrow::error::ArrowError;
use common::ErrorCode;
use datafusion::error::DataFusionError;

/// Everything that can go wrong while answering a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine refused or failed the query; [`Error::code`] tells whether the query or the
    /// server is at fault.
    #[error("{}", .0.strip_backtrace())]
    DataFusion(#[from] DataFusionError),

    /// The request itself is malformed (body, headers).
    #[error("{0}")]
    BadRequest(String),

    /// The result has more rows than [`crate::QueryLimits::max_result_rows`] allows.
    #[error(
        "query result exceeds max_result_rows ({limit} rows): add a LIMIT or narrow the query"
    )]
    TooManyRows {
        /// The configured limit.
        limit: usize,
    },

    /// The query ran longer than [`crate::QueryLimits::timeout`].
    #[error("query timed out after {0:?}")]
    Timeout(Duration),

    /// The result could not be encoded in the requested format.
    #[error("failed to encode the result: {0}")]
    Encode(#[source] ArrowError),

    /// The query task died (panicked or was cancelled) on the query runtime.
    #[error("query task failed: {0}")]
    Executor(String),
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The class of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::DataFusion(e) => {
                if is_user_error(e) {
                    ErrorCode::InvalidArgument
                } else {
                    ErrorCode::Internal
                }
            }
            Error::BadRequest(_) | Error::TooManyRows { .. } => ErrorCode::InvalidArgument,
            // JSON can encode every column type but maps with non-string keys, which only a
            // query can produce; the Arrow format has no such gap.
            Error::Encode(_) => ErrorCode::InvalidArgument,
            Error::Timeout(_) => ErrorCode::Unavailable,
            Error::Executor(_) => ErrorCode::Internal,
        }
    }

    /// The `errorType` of the error body.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Timeout(_) => "timeout",
            _ => match self.code() {
                ErrorCode::InvalidArgument | ErrorCode::TooLarge | ErrorCode::NotFound => {
                    "bad_data"
                }
                ErrorCode::Unavailable => "unavailable",
                ErrorCode::Internal => "internal",
            },
        }
    }
}

/// Whether the query (not the server) is at fault: parse and plan errors, unknown names, bad
/// literals, and runtime errors that only depend on the data the query computes (casts,
/// division by zero, overflow).
fn is_user_error(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_)
        | DataFusionError::Execution(_) => true,
        DataFusionError::ArrowError(a, _) => is_user_arrow_error(a),
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            is_user_error(inner)
        }
        DataFusionError::Shared(inner) => is_user_error(inner),
        DataFusionError::Collection(errors) => errors.first().is_some_and(is_user_error),
        DataFusionError::External(inner) => external_is_user_error(inner.as_ref()),
        _ => false,
    }
}

fn is_user_arrow_error(e: &ArrowError) -> bool {
    match e {
        ArrowError::CastError(_)
        | ArrowError::ParseError(_)
        | ArrowError::DivideByZero
        | ArrowError::ArithmeticOverflow(_)
        | ArrowError::InvalidArgumentError(_)
        | ArrowError::NotYetImplemented(_) => true,
        ArrowError::ExternalError(inner) => external_is_user_error(inner.as_ref()),
        _ => false,
    }
}

fn external_is_user_error(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    if let Some(df) = e.downcast_ref::<DataFusionError>() {
        is_user_error(df)
    } else if let Some(arrow) = e.downcast_ref::<ArrowError>() {
        is_user_arrow_error(arrow)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_errors_are_the_users_and_io_errors_are_ours() {
        let plan = Error::from(DataFusionError::Plan("table 'x' not found".into()));
        assert_eq!(plan.code(), ErrorCode::InvalidArgument);
        assert_eq!(plan.error_type(), "bad_data");

        let io = Error::from(DataFusionError::IoError(std::io::Error::other("disk")));
        assert_eq!(io.code(), ErrorCode::Internal);
        assert_eq!(io.error_type(), "internal");

        let wrapped = Error::from(DataFusionError::External(Box::new(
            ArrowError::DivideByZero,
        )));
        assert_eq!(wrapped.code(), ErrorCode::InvalidArgument);

        let context = Error::from(
            DataFusionError::Internal("bug".into()).context("while planning the query"),
        );
        assert_eq!(context.code(), ErrorCode::Internal);
    }

    #[test]
    fn limits_name_themselves() {
        let rows = Error::TooManyRows { limit: 10 };
        assert_eq!(rows.error_type(), "bad_data");
        assert!(rows.to_string().contains("max_result_rows (10 rows)"));
        let timeout = Error::Timeout(Duration::from_secs(2));
        assert_eq!(timeout.code(), ErrorCode::Unavailable);
        assert_eq!(timeout.error_type(), "timeout");
    }
}
