//! The one error type of the ingest crate and its mapping to HTTP and gRPC statuses.

use common::{ErrorCode, TenantError};

/// Why an export request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: undecodable body, bad ids, or every item in it was invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// The `X-Scope-OrgID` header is not a valid tenant id.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// The `Content-Type` or `Content-Encoding` of an HTTP request is not one OTLP allows.
    #[error("unsupported {what} {value:?}")]
    UnsupportedMediaType {
        /// Which header was wrong: `content type` or `content encoding`.
        what: &'static str,
        /// The value it had.
        value: String,
    },
    /// The body, as sent or once decompressed, is larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Too many request bytes are being processed at once; the client should retry.
    #[error("too many requests in flight; retry later")]
    Overloaded,
    /// The storage engine refused or failed the append.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A bug or a failure on our side.
    #[error("{0}")]
    Internal(String),
}

/// Result with the ingest [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error class, which decides the HTTP status and gRPC code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidArgument(_) | Error::Tenant(_) | Error::UnsupportedMediaType { .. } => {
                ErrorCode::InvalidArgument
            }
            Error::TooLarge { .. } => ErrorCode::TooLarge,
            Error::Overloaded => ErrorCode::Unavailable,
            Error::Storage(e) => e.code(),
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The HTTP status: the class's status, except 415 for a media type OTLP does not allow.
    pub fn http_status(&self) -> http::StatusCode {
        match self {
            Error::UnsupportedMediaType { .. } => http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => self.code().http_status(),
        }
    }

    /// Whether the client should retry the same request later.
    pub fn is_retryable(&self) -> bool {
        self.code() == ErrorCode::Unavailable
    }

    /// The text shown to the client. Internal errors are logged here, once, and replaced by a
    /// generic message so that paths and internals do not leak.
    pub fn public_message(&self) -> String {
        match self.code() {
            ErrorCode::Internal => {
                tracing::error!(error = %self, "otlp export failed");
                "internal error".to_string()
            }
            ErrorCode::Unavailable => match self {
                // The engine's text names its internal limits; the client only needs to retry.
                Error::Storage(_) => "storage is busy; retry later".to_string(),
                _ => self.to_string(),
            },
            _ => self.to_string(),
        }
    }

    /// The gRPC status sent for this error.
    pub fn to_grpc_status(&self) -> tonic::Status {
        tonic::Status::new(self.code().grpc_code(), self.public_message())
    }

    /// The `reason` label of `vigil_ingest_items_rejected_total`.
    pub(crate) fn reason(&self) -> &'static str {
        match self.code() {
            ErrorCode::InvalidArgument | ErrorCode::NotFound | ErrorCode::Unprocessable => {
                "invalid"
            }
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unavailable => "overloaded",
            ErrorCode::Internal => "internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_statuses() {
        let cases = [
            (
                Error::InvalidArgument("x".into()),
                400,
                tonic::Code::InvalidArgument,
            ),
            (
                Error::UnsupportedMediaType {
                    what: "content type",
                    value: "text/plain".into(),
                },
                415,
                tonic::Code::InvalidArgument,
            ),
            (
                Error::TooLarge { limit: 1 },
                413,
                tonic::Code::ResourceExhausted,
            ),
            (Error::Overloaded, 503, tonic::Code::Unavailable),
            (
                Error::Storage(storage::Error::Backpressure { bytes: 2, limit: 1 }),
                503,
                tonic::Code::Unavailable,
            ),
            (Error::Internal("boom".into()), 500, tonic::Code::Internal),
        ];
        for (error, http, grpc) in cases {
            assert_eq!(error.http_status().as_u16(), http, "{error}");
            assert_eq!(error.to_grpc_status().code(), grpc, "{error}");
        }
    }

    #[test]
    fn internal_text_is_not_shown() {
        let error = Error::Storage(storage::Error::io(
            "open /secret/path",
            std::io::Error::other("disk on fire"),
        ));
        assert_eq!(error.public_message(), "internal error");
        assert_eq!(error.to_grpc_status().message(), "internal error");
        assert!(!Error::Overloaded.public_message().is_empty());
    }
}
