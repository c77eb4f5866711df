//! Which interval a span falls in and which timestamp each interval has, as Tempo computes
//! them (`AlignRequest`, `IntervalMapperQueryRange`, `IntervalMapperInstant` in
//! `pkg/traceql/engine_metrics.go`).
//!
//! A range query is first aligned as Tempo's query frontend aligns it: the start rounded down
//! to a multiple of the step and moved one step earlier, the end rounded up to a multiple of
//! the step. Intervals are closed on the right, `(start + i·step, start + (i+1)·step]`, and
//! interval `i` is reported at its right edge, so the points fall on the multiples of the
//! step from the rounded-down start to the rounded-up end. An instant query (step = end −
//! start) is one interval `(start, end]` reported at the end.

use super::types::MetricsRequest;
use crate::error::{Error, Result};

const NS_PER_MS: i64 = 1_000_000;

/// The intervals of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Intervals {
    start: i64,
    end: i64,
    step: i64,
    instant: bool,
    count: usize,
    /// The bounds `IntervalMs` uses: the aligned bounds truncated to milliseconds.
    start_ms_bound: i64,
    end_ms_bound: i64,
}

impl Intervals {
    /// The intervals of `req`, or an error naming what is wrong with it.
    pub(crate) fn new(req: &MetricsRequest) -> Result<Intervals> {
        let (start, end, step) = (req.start_ns, req.end_ns, req.step_ns);
        if step <= 0 {
            return Err(bad(format!("step must be greater than 0, got {step}ns")));
        }
        if start <= 0 {
            return Err(bad(format!(
                "start must be a positive unix time, got {start}ns"
            )));
        }
        if end <= start {
            return Err(bad(format!(
                "end ({end}ns) must be greater than start ({start}ns)"
            )));
        }
        if end - start == step {
            return Ok(Intervals {
                start,
                end,
                step,
                instant: true,
                count: 1,
                start_ms_bound: start - start % NS_PER_MS,
                end_ms_bound: end - end % NS_PER_MS,
            });
        }
        let out_of_range = || bad("start, end and step reach past the representable times");
        let mut aligned_start = start - start % step;
        let aligned_end = match end % step {
            0 => end,
            m => end.checked_add(step - m).ok_or_else(out_of_range)?,
        };
        if aligned_start > step {
            aligned_start -= step;
        }
        let count =
            usize::try_from((aligned_end - aligned_start) / step).map_err(|_| out_of_range())?;
        let start_ms = aligned_start - aligned_start % NS_PER_MS;
        let end_ms = aligned_end - aligned_end % NS_PER_MS;
        let end_ms_bound = match end_ms % step {
            0 => end_ms,
            m => end_ms.checked_add(step - m).ok_or_else(out_of_range)?,
        };
        Ok(Intervals {
            start: aligned_start,
            end: aligned_end,
            step,
            instant: false,
            count,
            start_ms_bound: start_ms - start_ms % step,
            end_ms_bound,
        })
    }

    /// How many points a series has at most.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Whether this is an instant query.
    pub(crate) fn is_instant(&self) -> bool {
        self.instant
    }

    /// The aligned bounds: spans started in `(start, end]` count (Tempo's `checkTime`).
    pub(crate) fn window(&self) -> (i64, i64) {
        (self.start, self.end)
    }

    /// Whether a span started at `ts` counts.
    pub(crate) fn contains(&self, ts: i64) -> bool {
        self.start < ts && ts <= self.end
    }

    /// The step, ns.
    pub(crate) fn step(&self) -> i64 {
        self.step
    }

    /// The step in seconds, as Go's `time.Duration.Seconds` computes it.
    pub(crate) fn step_seconds(&self) -> f64 {
        let secs = self.step / 1_000_000_000;
        let nanos = self.step % 1_000_000_000;
        secs as f64 + nanos as f64 / 1e9
    }

    /// The interval a span started at `ts` (unix nanoseconds) falls in.
    pub(crate) fn of(&self, ts: i64) -> Option<usize> {
        if self.instant {
            return (self.start <= ts && ts <= self.end).then_some(0);
        }
        self.right_closed(ts, self.start, self.end)
    }

    /// The interval of a timestamp in unix milliseconds (Tempo's `IntervalMs`), which places
    /// samples and exemplars coming back from the engine.
    pub(crate) fn of_ms(&self, ts_ms: i64) -> Option<usize> {
        let ts = ts_ms.checked_mul(NS_PER_MS)?;
        if self.instant {
            return (self.start_ms_bound <= ts && ts <= self.end_ms_bound).then_some(0);
        }
        self.right_closed(ts, self.start_ms_bound, self.end_ms_bound)
    }

    fn right_closed(&self, ts: i64, start: i64, end: i64) -> Option<usize> {
        if ts <= start || ts > end {
            return None;
        }
        let offset = ts - start;
        let mut interval = offset / self.step;
        if interval * self.step == offset {
            interval -= 1;
        }
        usize::try_from(interval).ok().filter(|&i| i < self.count)
    }

    /// The timestamp of interval `i`, in unix milliseconds.
    pub(crate) fn timestamp_ms(&self, i: usize) -> i64 {
        if self.instant {
            return self.end / NS_PER_MS;
        }
        let i = i64::try_from(i).unwrap_or(i64::MAX - 1);
        self.start
            .saturating_add(i.saturating_add(1).saturating_mul(self.step))
            / NS_PER_MS
    }

    /// The aligned range in milliseconds, over which exemplars are spread.
    pub(crate) fn range_ms(&self) -> (i64, i64) {
        (self.start / NS_PER_MS, self.end / NS_PER_MS)
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::Eval(format!("invalid metrics request: {}", message.into()))
}
