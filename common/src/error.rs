/// The small set of error classes every crate's errors map to, so each protocol front end turns
/// them into its own status in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed or names something invalid.
    InvalidArgument,
    /// The request or its decompressed body is larger than allowed.
    TooLarge,
    /// The server is overloaded; the client should retry later.
    Unavailable,
    /// The thing asked for does not exist.
    NotFound,
    /// The request is well formed but cannot be computed (a query's evaluation failed on what
    /// it read: Prometheus's `execution` errors).
    Unprocessable,
    /// A bug or an I/O failure on our side.
    Internal,
}

impl ErrorCode {
    /// The HTTP status for this class.
    pub fn http_status(self) -> http::StatusCode {
        match self {
            ErrorCode::InvalidArgument => http::StatusCode::BAD_REQUEST,
            ErrorCode::TooLarge => http::StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotFound => http::StatusCode::NOT_FOUND,
            ErrorCode::Unprocessable => http::StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status code for this class.
    pub fn grpc_code(self) -> tonic::Code {
        match self {
            ErrorCode::InvalidArgument => tonic::Code::InvalidArgument,
            ErrorCode::TooLarge => tonic::Code::ResourceExhausted,
            ErrorCode::Unavailable => tonic::Code::Unavailable,
            ErrorCode::NotFound => tonic::Code::NotFound,
            ErrorCode::Unprocessable => tonic::Code::FailedPrecondition,
            ErrorCode::Internal => tonic::Code::Internal,
        }
    }
}
