//! What a conversion yields: the rows with the counts OTLP's partial success reports
//! ([`Converted`]), kept by a [`Tally`] as items are accepted and rejected.

use arrow::error::ArrowError;
use storage::Rows;

/// The outcome of converting one export request.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The accepted items as rows of the signal's table; `None` when nothing was accepted.
    pub rows: Option<Rows>,
    /// Items accepted: spans, log records or metric data points, as OTLP counts them.
    pub accepted: u64,
    /// Items rejected, counted like `accepted`; the `rejected_*` field of OTLP's partial success.
    pub rejected: u64,
    /// What was wrong with the first rejected item, naming where it was in the request.
    pub error: Option<String>,
}

/// Limits a conversion checks items against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertLimits {
    /// Longest label value of a metric series, in bytes (OTLP attributes that become labels,
    /// remote_write labels); a point or series with a longer one is refused, named in the
    /// answer.
    pub max_label_value_bytes: usize,
}

impl ConvertLimits {
    /// No limit: what WAL replay converts with, so that no acknowledged item is ever refused
    /// after the limits were lowered.
    pub const NONE: ConvertLimits = ConvertLimits {
        max_label_value_bytes: usize::MAX,
    };
}

impl Default for ConvertLimits {
    fn default() -> Self {
        Self {
            max_label_value_bytes: 64 * 1024,
        }
    }
}

/// A test for series ids whose `series` row storage holds already (what
/// `storage::Sink::known_series` hands out).
pub type KnownFn = dyn Fn(u64) -> bool + Send + Sync;

/// Counts accepted and rejected items and keeps the first error.
#[derive(Debug, Default)]
pub(super) struct Tally {
    accepted: u64,
    rejected: u64,
    error: Option<String>,
}

impl Tally {
    pub(super) fn accept(&mut self) {
        self.accepted += 1;
    }

    /// Rejects `n` items; `error` is only rendered for the first rejection.
    pub(super) fn reject(&mut self, n: u64, error: impl FnOnce() -> String) {
        self.rejected += n;
        if self.error.is_none() {
            self.error = Some(error());
        }
    }

    /// Wraps up with the rows built from the accepted items (rows with exemplars only are kept
    /// too: Prometheus sends exemplars apart from samples). Building only fails on a bug in
    /// this module; the request then fails as a whole instead of panicking.
    pub(super) fn finish(self, rows: Result<Rows, ArrowError>) -> Converted {
        let exemplars = rows.as_ref().is_ok_and(|r| r.exemplars.is_some());
        if self.accepted == 0 && !exemplars {
            return Converted {
                rows: None,
                accepted: 0,
                rejected: self.rejected,
                error: self.error,
            };
        }
        match rows {
            Ok(rows) => Converted {
                rows: Some(rows),
                accepted: self.accepted,
                rejected: self.rejected,
                error: self.error,
            },
            Err(e) => Converted {
                rows: None,
                accepted: 0,
                rejected: self.accepted + self.rejected,
                error: Some(format!("failed to build rows: {e}")),
            },
        }
    }
}
