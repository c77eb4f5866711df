//! Reading selectors at a step: instant and range selectors (with per-series cursors that
//! move forward between steps), subqueries, and range functions computed for every step at once.

use std::collections::HashMap;
use std::rc::Rc;

use promql_parser::parser::{MatrixSelector, SubqueryExpr, VectorSelector};

use promql_parser::parser::Expr;

use crate::cursor::Cursor;
use crate::error::{exec_err, QueryError, Result};
use crate::ev::{ms, offset_ms, selector_matchers, Ev, RangeArg, Val};
use crate::source::StoredSeries;
use crate::value::{is_stale_nan, Labels, Sample, Series};

/// How [`Ev::stepped`] evaluates a function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stepped {
    /// Whether the results drop the metric name.
    pub drop_name: bool,
    /// Whether the function wants each window's counter resets (see [`Marks`]).
    pub resets: bool,
}

/// Where a series' samples hold staleness markers, and where its values drop (a counter
/// reset: the value at `i` below the one at `i - 1`), with the value before each drop.
#[derive(Default)]
struct Marks {
    stale: Vec<usize>,
    drop_at: Vec<usize>,
    drop_prev: Vec<f64>,
}

impl Marks {
    fn find(&mut self, samples: &[(i64, f64)], drops: bool) {
        self.stale.clear();
        self.drop_at.clear();
        self.drop_prev.clear();
        for (i, p) in samples.iter().enumerate() {
            if is_stale_nan(p.1) {
                self.stale.push(i);
            } else if drops && i > 0 && p.1 < samples[i - 1].1 {
                self.drop_at.push(i);
                self.drop_prev.push(samples[i - 1].1);
            }
        }
    }

    /// Whether samples `[from, to)` hold a staleness marker.
    fn stale_in(&self, from: usize, to: usize) -> bool {
        let i = self.stale.partition_point(|&s| s < from);
        self.stale.get(i).is_some_and(|&s| s < to)
    }

    /// The values before each drop inside samples `[from, to)` (a drop at `from` is a drop
    /// from a sample outside), in order; for a window without staleness markers.
    fn drops_in(&self, from: usize, to: usize) -> &[f64] {
        let a = self.drop_at.partition_point(|&d| d <= from);
        let b = self.drop_at.partition_point(|&d| d < to);
        &self.drop_prev[a..b.max(a)]
    }
}

impl Ev<'_> {
    /// The series of a selector over its whole window, read once.
    pub(crate) fn series_of(&mut self, vs: &VectorSelector) -> Result<Rc<Vec<StoredSeries>>> {
        let key = vs as *const VectorSelector as usize;
        if let Some(s) = self.fetched.get(&key) {
            return Ok(Rc::clone(s));
        }
        let (lo, hi) = self
            .windows
            .get(&key)
            .map_or((i64::MIN, i64::MAX), |w| (w.0, w.1));
        let series = self
            .source
            .select(&selector_matchers(vs), lo, hi)
            .map_err(QueryError::Storage)?;
        self.count_samples(series.iter().map(|s| s.samples.len()).sum())?;
        let series = Rc::new(series);
        self.fetched.insert(key, Rc::clone(&series));
        Ok(series)
    }

    /// The cursors of a selector node's series, taken out of `self` (put them back with
    /// [`Ev::put_cursors`]).
    fn cursors_of(&mut self, vs: &VectorSelector, n: usize) -> Vec<Cursor> {
        let key = vs as *const VectorSelector as usize;
        let mut c = self.cursors.remove(&key).unwrap_or_default();
        c.resize(n, Cursor::default());
        c
    }

    fn put_cursors(&mut self, vs: &VectorSelector, cursors: Vec<Cursor>) {
        self.cursors
            .insert(vs as *const VectorSelector as usize, cursors);
    }

    /// For a range query at step `t` of its grid: `f(points, window start, window end, delta)`
    /// over each series of `m` for every step from `t` to the end at once, series by series
    /// (each series' samples are walked once, in cache, instead of all series at every step);
    /// the later steps' vectors are kept for when the query reaches them. `None` when `t` is not
    /// a step of the query (an instant query, or inside a subquery): evaluate step by step.
    /// `had_points` gets, per series, whether any window held points (for annotations).
    pub(crate) fn stepped(
        &mut self,
        key: usize,
        m: &MatrixSelector,
        t: i64,
        how: Stepped,
        had_points: &mut Vec<bool>,
        mut f: impl FnMut(&[(i64, f64)], i64, i64, bool, Option<&[f64]>) -> Option<f64>,
    ) -> Result<Option<Vec<Sample>>> {
        if let Some(v) = self.stepped.remove(&(key, t)) {
            return Ok(Some(v));
        }
        if self.step <= 0 || t < self.start || t > self.end || (t - self.start) % self.step != 0 {
            return Ok(None);
        }
        let Stepped { drop_name, resets } = how;
        let series = self.series_of(&m.vs)?;
        let range = ms(&m.range);
        let offset = offset_ms(&m.vs.offset);
        let mut steps = Vec::new();
        let mut ti = t;
        while ti <= self.end {
            let end = self.at_time(&m.vs.at, ti).saturating_sub(offset);
            steps.push((ti, end.saturating_sub(range), end));
            let Some(next) = ti.checked_add(self.step) else {
                break;
            };
            ti = next;
        }
        let mut out: Vec<Vec<Sample>> = vec![Vec::new(); steps.len()];
        let mut scratch: Vec<(i64, f64)> = Vec::new();
        let mut marks = Marks::default();
        had_points.clear();
        for s in series.iter() {
            self.check_deadline()?;
            // Where the series has staleness markers and (for counters) drops, found once for
            // all steps instead of scanning every window for them.
            marks.find(&s.samples, resets);
            let mut cursor = Cursor::default();
            let mut any = false;
            for (i, &(_, start, end)) in steps.iter().enumerate() {
                let (from, to) = cursor.window(&s.samples, start, end);
                let window = &s.samples[from..to];
                let (points, drops) = if marks.stale_in(from, to) {
                    scratch.clear();
                    scratch.extend(window.iter().filter(|p| !is_stale_nan(p.1)));
                    (&scratch[..], None)
                } else {
                    (window, resets.then(|| marks.drops_in(from, to)))
                };
                if points.is_empty() {
                    continue;
                }
                any = true;
                if let Some(v) = f(points, start, end, s.delta, drops) {
                    out[i].push(Sample {
                        labels: s.labels.clone(),
                        t: end,
                        v,
                        drop_name,
                    });
                }
            }
            had_points.push(any);
        }
        let mut out = out.into_iter();
        let first = out.next().unwrap_or_default();
        for ((ti, _, _), v) in steps.iter().skip(1).zip(out) {
            self.stepped.insert((key, *ti), v);
        }
        Ok(Some(first))
    }

    /// The newest sample of each series in `(t - lookback, t]`, unless it is a staleness
    /// marker. Samples keep their own timestamps (for `timestamp()`).
    pub(crate) fn instant_selector(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>> {
        let te = self
            .at_time(&vs.at, t)
            .saturating_sub(offset_ms(&vs.offset));
        let series = self.series_of(vs)?;
        let lookback = self.opts.lookback_ms;
        let mut cursors = self.cursors_of(vs, series.len());
        let mut out = Vec::new();
        for (s, c) in series.iter().zip(cursors.iter_mut()) {
            let (_, i) = c.window(&s.samples, te.saturating_sub(lookback), te);
            if i == 0 {
                continue;
            }
            let (ts, v) = s.samples[i - 1];
            if ts <= te.saturating_sub(lookback) || is_stale_nan(v) {
                continue;
            }
            out.push(Sample {
                labels: s.labels.clone(),
                t: ts,
                v,
                drop_name: false,
            });
        }
        self.put_cursors(vs, cursors);
        Ok(out)
    }

    /// The samples of each series in `(t - range, t]`, staleness markers left out.
    pub(crate) fn range_selector(&mut self, m: &MatrixSelector, t: i64) -> Result<RangeArg> {
        let end = self
            .at_time(&m.vs.at, t)
            .saturating_sub(offset_ms(&m.vs.offset));
        let range = ms(&m.range);
        let start = end.saturating_sub(range);
        let series = self.series_of(&m.vs)?;
        let mut cursors = self.cursors_of(&m.vs, series.len());
        let mut out = Vec::new();
        let mut delta = Vec::new();
        for (s, c) in series.iter().zip(cursors.iter_mut()) {
            let (from, to) = c.window(&s.samples, start, end);
            let points: Vec<(i64, f64)> = s.samples[from..to]
                .iter()
                .copied()
                .filter(|&(_, v)| !is_stale_nan(v))
                .collect();
            if points.is_empty() {
                continue;
            }
            out.push(Series {
                labels: s.labels.clone(),
                points,
                drop_name: false,
            });
            delta.push(s.delta);
        }
        self.put_cursors(&m.vs, cursors);
        Ok(RangeArg {
            series: out,
            delta,
            start,
            end,
            range,
        })
    }

    /// The inner expression at every step (a multiple of the step) in `(t - range, t]`.
    pub(crate) fn subquery(&mut self, sq: &SubqueryExpr, t: i64) -> Result<RangeArg> {
        let end = self
            .at_time(&sq.at, t)
            .saturating_sub(offset_ms(&sq.offset));
        let range = ms(&sq.range);
        let step = sq
            .step
            .as_ref()
            .map(ms)
            .filter(|&s| s > 0)
            .unwrap_or(self.opts.subquery_step_ms);
        let start = end.saturating_sub(range);
        let mut first = step * (start / step);
        if first <= start {
            first = first.saturating_add(step);
        }
        let key = &*sq.expr as *const Expr as usize;
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut ti = first;
        while ti <= end {
            self.check_deadline()?;
            let samples = match self.subqueries.get(&(key, ti)) {
                Some(s) => Rc::clone(s),
                None => {
                    let v = match self.eval(&sq.expr, ti)? {
                        Val::Vector(v) => v,
                        Val::Scalar(v) => vec![Sample {
                            labels: Labels::default(),
                            t: ti,
                            v,
                            drop_name: false,
                        }],
                        _ => {
                            return exec_err(
                                "subquery of a value that is neither scalar nor vector",
                            )
                        }
                    };
                    let v = Rc::new(v);
                    self.subqueries.insert((key, ti), Rc::clone(&v));
                    v
                }
            };
            for s in samples.iter() {
                if is_stale_nan(s.v) {
                    continue;
                }
                let at = *index.entry(s.labels.clone()).or_insert_with(|| {
                    out.push(Series {
                        labels: s.labels.clone(),
                        points: Vec::new(),
                        drop_name: false,
                    });
                    out.len() - 1
                });
                out[at].points.push((ti, s.v));
                out[at].drop_name |= s.drop_name;
            }
            let Some(next) = ti.checked_add(step) else {
                break;
            };
            ti = next;
        }
        self.count_samples(out.iter().map(|s| s.points.len()).sum())?;
        Ok(RangeArg {
            delta: vec![false; out.len()],
            series: out,
            start,
            end,
            range,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::STALE_NAN_BITS;

    /// The values before each drop in a window, as `rate` finds them by scanning.
    fn scanned(p: &[(i64, f64)]) -> Vec<f64> {
        p.windows(2)
            .filter(|w| w[1].1 < w[0].1)
            .map(|w| w[0].1)
            .collect()
    }

    #[test]
    fn marks_find_the_drops_and_staleness_markers_a_scan_of_each_window_finds() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut marks = Marks::default();
        for _ in 0..200 {
            let n = (next() % 60) as usize;
            let samples: Vec<(i64, f64)> = (0..n)
                .map(|i| {
                    let v = match next() % 10 {
                        0 => f64::from_bits(STALE_NAN_BITS),
                        1 => f64::NAN,
                        r => (r * 7 % 11) as f64,
                    };
                    (i as i64, v)
                })
                .collect();
            marks.find(&samples, true);
            for from in 0..=n {
                for to in from..=n {
                    let window = &samples[from..to];
                    let stale = window.iter().any(|p| is_stale_nan(p.1));
                    assert_eq!(marks.stale_in(from, to), stale, "{samples:?} {from}..{to}");
                    if !stale {
                        let got: Vec<u64> = marks
                            .drops_in(from, to)
                            .iter()
                            .map(|v| v.to_bits())
                            .collect();
                        let want: Vec<u64> = scanned(window).iter().map(|v| v.to_bits()).collect();
                        assert_eq!(got, want, "{samples:?} {from}..{to}");
                    }
                }
            }
        }
    }
}
