//! The one error type of the query crate: what can go wrong while answering a query in any
//! language, classed by [`ErrorCode`] and by the `errorType` of the Prometheus-style error body
//! that every HTTP API of this crate answers with (the mapping to a response is in
//! `http/kit/respond.rs`, the only place that builds one).

use std::time::Duration;

use arrow::error::ArrowError;
use common::{ErrorCode, TenantError};
use datafusion::error::DataFusionError;
use promql::QueryError;

/// Everything that can go wrong while answering a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: a parameter, a header, the body, the query text.
    #[error("{0}")]
    BadData(String),

    /// The tenant header names no valid tenant.
    #[error(transparent)]
    Tenant(#[from] TenantError),

    /// SQL: DataFusion refused or failed the query; [`Error::code`] tells whether the query or
    /// the server is at fault.
    #[error("{}", .0.strip_backtrace())]
    DataFusion(#[from] DataFusionError),

    /// PromQL: parsing or evaluation failed, with Prometheus's error types.
    #[error(transparent)]
    Promql(#[from] QueryError),

    /// Reading stored data failed (or would read more samples than allowed).
    #[error(transparent)]
    Storage(#[from] storage::Error),

    /// The result has more rows than the query's `max_result_rows` allows.
    #[error(
        "query result exceeds max_result_rows ({limit} rows): add a LIMIT or narrow the query"
    )]
    TooManyRows {
        /// The configured limit.
        limit: usize,
    },

    /// The query ran longer than its timeout and was cancelled.
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
            Error::BadData(_) | Error::Tenant(_) | Error::TooManyRows { .. } => {
                ErrorCode::InvalidArgument
            }
            Error::DataFusion(e) => {
                if is_user_error(e) {
                    ErrorCode::InvalidArgument
                } else {
                    ErrorCode::Internal
                }
            }
            Error::Promql(e) => match e {
                QueryError::BadData(_) => ErrorCode::InvalidArgument,
                QueryError::Execution(_) | QueryError::TooManySamples => ErrorCode::Unprocessable,
                QueryError::Timeout | QueryError::Canceled => ErrorCode::Unavailable,
                QueryError::Storage(_) => ErrorCode::Internal,
            },
            Error::Storage(storage::Error::TooManySamples { .. }) => ErrorCode::Unprocessable,
            Error::Storage(e) => e.code(),
            // JSON can encode every column type but maps with non-string keys, which only a
            // query can produce; the Arrow format has no such gap.
            Error::Encode(_) => ErrorCode::InvalidArgument,
            Error::Timeout(_) => ErrorCode::Unavailable,
            Error::Executor(_) => ErrorCode::Internal,
        }
    }

    /// The `errorType` of the error body, as Prometheus names its error classes.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Timeout(_) | Error::Promql(QueryError::Timeout) => "timeout",
            Error::Promql(QueryError::Canceled) => "canceled",
            _ => match self.code() {
                ErrorCode::InvalidArgument | ErrorCode::TooLarge => "bad_data",
                ErrorCode::Unprocessable => "execution",
                ErrorCode::NotFound => "not_found",
                ErrorCode::Unavailable => "unavailable",
                ErrorCode::Internal => "internal",
            },
        }
    }

    /// The message a client sees: this error's text, but for internal errors (whose detail
    /// goes to the log only) and for a read over the sample limit, which reads as Prometheus's.
    pub fn client_message(&self) -> String {
        match self {
            Error::Storage(storage::Error::TooManySamples { .. }) => {
                QueryError::TooManySamples.to_string()
            }
            _ if self.code() == ErrorCode::Internal => {
                "internal error, see the server log".to_string()
            }
            _ => self.to_string(),
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
        assert_eq!(io.client_message(), "internal error, see the server log");

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

    #[test]
    fn promql_errors_keep_prometheus_types() {
        let exec = Error::from(QueryError::Execution("many-to-many".into()));
        assert_eq!(
            (exec.code(), exec.error_type()),
            (ErrorCode::Unprocessable, "execution")
        );
        let samples = Error::from(storage::Error::TooManySamples { limit: 5 });
        assert_eq!(samples.error_type(), "execution");
        assert_eq!(
            samples.client_message(),
            "query processing would load too many samples into memory in query execution"
        );
        let bad = Error::from(QueryError::BadData("1:1: parse error".into()));
        assert_eq!(bad.error_type(), "bad_data");
        let internal = Error::from(storage::Error::Read("segment x: layout".into()));
        assert_eq!(internal.error_type(), "internal");
        assert_eq!(
            internal.client_message(),
            "internal error, see the server log"
        );
    }
}
