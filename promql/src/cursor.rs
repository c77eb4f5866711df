//! A series' place in its samples between evaluation steps.

/// Where a series' last window was, `(start, end]` and its samples' index range, so that the
/// next step's window (usually a little later) is found by moving forward, not by searching.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cursor {
    start: i64,
    end: i64,
    from: usize,
    to: usize,
    used: bool,
}

impl Cursor {
    /// The index range of the samples of `samples` (in time order) in `(start, end]`.
    pub(crate) fn window(
        &mut self,
        samples: &[(i64, f64)],
        start: i64,
        end: i64,
    ) -> (usize, usize) {
        let (from, to) = if self.used && start >= self.start && end >= self.end {
            let mut from = self.from;
            while from < samples.len() && samples[from].0 <= start {
                from += 1;
            }
            let mut to = self.to.max(from);
            while to < samples.len() && samples[to].0 <= end {
                to += 1;
            }
            (from, to)
        } else {
            (
                samples.partition_point(|&(t, _)| t <= start),
                samples.partition_point(|&(t, _)| t <= end),
            )
        };
        *self = Cursor {
            start,
            end,
            from,
            to,
            used: true,
        };
        (from, to)
    }
}
