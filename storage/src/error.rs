use common::ErrorCode;

/// Errors of the storage crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The object store failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// Encoding or decoding Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// An Arrow kernel failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A manifest entry could not be read.
    #[error("manifest {path}: {message}")]
    Manifest {
        /// The entry's path.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The head holds more unflushed bytes than allowed; clients should retry.
    #[error("head is full ({bytes} bytes unflushed, limit {limit}); retry later")]
    Backpressure {
        /// Unflushed bytes.
        bytes: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The WAL writer has stopped (shutdown or a fatal write error).
    #[error("wal is closed: {0}")]
    WalClosed(String),
    /// A WAL payload could not be turned back into rows during replay.
    #[error("wal replay: {0}")]
    Replay(String),
    /// A read would hold more samples than its caller allows.
    #[error("a read would load more than {limit} samples")]
    TooManySamples {
        /// The caller's limit.
        limit: usize,
    },
    /// A stored file or batch does not have the layout its reader expects.
    #[error("read: {0}")]
    Read(String),
}

/// Result with the storage [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The error class, for protocol front ends.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Backpressure { .. } => ErrorCode::Unavailable,
            Error::WalClosed(_) => ErrorCode::Unavailable,
            Error::TooManySamples { .. } => ErrorCode::InvalidArgument,
            _ => ErrorCode::Internal,
        }
    }
}
