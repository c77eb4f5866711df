//! Where the evaluator reads series from: the [`Source`] trait, an in-memory source
//! ([`MemSource`], for tests and the conformance runner) and the series a caller read ahead
//! for one query ([`Preloaded`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use promql_parser::label::{MatchOp, Matcher};

use crate::value::Labels;

/// A stored series and its float samples in time order (staleness markers included).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSeries {
    /// The series.
    pub labels: Labels,
    /// `(ms, value)` in time order.
    pub samples: Samples,
    /// Whether the samples are per-interval increments (OTLP delta temporality) rather than
    /// cumulative values: `rate` and `increase` then sum them.
    pub delta: bool,
}

/// Samples of a series, `(ms, value)` in time order. Shared: a window of a series held in
/// memory is a range of the same allocation, not a copy.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    all: Arc<Vec<(i64, f64)>>,
    from: usize,
    to: usize,
}

impl Samples {
    /// Samples `[from, to)` of these.
    fn range(&self, from: usize, to: usize) -> Self {
        Self {
            all: Arc::clone(&self.all),
            from: self.from + from,
            to: self.from + to,
        }
    }
}

impl From<Vec<(i64, f64)>> for Samples {
    fn from(v: Vec<(i64, f64)>) -> Self {
        let to = v.len();
        Self {
            all: Arc::new(v),
            from: 0,
            to,
        }
    }
}

impl std::ops::Deref for Samples {
    type Target = [(i64, f64)];
    fn deref(&self) -> &[(i64, f64)] {
        &self.all[self.from..self.to]
    }
}

impl PartialEq for Samples {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// Read access to series.
pub trait Source: Send + Sync {
    /// Every series matching all `matchers`, with its samples in `[start_ms, end_ms]`.
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<StoredSeries>, String>;
}

/// Whether `labels` satisfy `m` (an absent label has the empty value).
pub fn matches(m: &Matcher, labels: &Labels) -> bool {
    let v = labels.get(&m.name).unwrap_or("");
    match &m.op {
        MatchOp::Equal => m.value == v,
        MatchOp::NotEqual => m.value != v,
        MatchOp::Re(r) => r.is_match(v),
        MatchOp::NotRe(r) => !r.is_match(v),
    }
}

/// Series held in memory.
#[derive(Debug, Default, Clone)]
pub struct MemSource {
    series: BTreeMap<Labels, Vec<(i64, f64)>>,
    delta: std::collections::BTreeSet<Labels>,
}

impl MemSource {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends samples to a series; they must be newer than what it holds.
    pub fn append(&mut self, labels: Labels, samples: &[(i64, f64)]) -> Result<(), String> {
        let s = self.series.entry(labels.clone()).or_default();
        for &(t, v) in samples {
            if let Some(&(last, _)) = s.last() {
                if t <= last {
                    return Err(format!("out of order sample for {labels} at {t}"));
                }
            }
            s.push((t, v));
        }
        Ok(())
    }
}

impl MemSource {
    /// Adds samples to a series, merged by time with what it holds (a timestamp it already
    /// has keeps the held value).
    pub fn merge(&mut self, labels: Labels, samples: &[(i64, f64)]) {
        let held = self.series.entry(labels).or_default();
        if held
            .last()
            .is_none_or(|l| samples.first().is_none_or(|f| f.0 > l.0))
        {
            held.extend_from_slice(samples);
            return;
        }
        held.extend_from_slice(samples);
        held.sort_by_key(|s| s.0);
        held.dedup_by_key(|s| s.0);
    }

    /// Marks a series as holding per-interval increments (see [`StoredSeries::delta`]).
    pub fn mark_delta(&mut self, labels: Labels) {
        self.delta.insert(labels);
    }

    /// Series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

impl Source for MemSource {
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<StoredSeries>, String> {
        Ok(self
            .series
            .iter()
            .filter(|(labels, _)| matchers.iter().all(|m| matches(m, labels)))
            .filter_map(|(labels, samples)| {
                let delta = self.delta.contains(labels);
                let (from, to) = window(samples, start_ms, end_ms)?;
                Some(StoredSeries {
                    labels: labels.clone(),
                    samples: samples[from..to].to_vec().into(),
                    delta,
                })
            })
            .collect())
    }
}

/// A series with its samples in `[start_ms, end_ms]`; `None` when it has none there.
fn in_window(
    labels: &Labels,
    samples: &Samples,
    delta: bool,
    start_ms: i64,
    end_ms: i64,
) -> Option<StoredSeries> {
    let (from, to) = window(samples, start_ms, end_ms)?;
    Some(StoredSeries {
        labels: labels.clone(),
        samples: samples.range(from, to),
        delta,
    })
}

/// The indexes `[from, to)` of the samples in `[start_ms, end_ms]`; `None` when there are none.
fn window(samples: &[(i64, f64)], start_ms: i64, end_ms: i64) -> Option<(usize, usize)> {
    let from = samples.partition_point(|&(t, _)| t < start_ms);
    let to = samples.partition_point(|&(t, _)| t <= end_ms);
    (from < to).then_some((from, to))
}

/// Series read ahead for one query: per selection (a selector's matchers, as
/// [`crate::selections`] lists them), its series in label order with their samples over the
/// selection's window. Selecting with other matchers finds nothing.
#[derive(Debug, Default, Clone)]
pub struct Preloaded {
    sets: Vec<(Vec<Matcher>, Vec<StoredSeries>)>,
}

impl Preloaded {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the series of a selection. Series with the same labels are merged (a timestamp
    /// both hold keeps the first one's value).
    pub fn add(&mut self, matchers: Vec<Matcher>, series: Vec<StoredSeries>) {
        let mut keyed: Vec<(Box<[u8]>, StoredSeries)> = series
            .into_iter()
            .map(|s| (s.labels.sort_key(), s))
            .collect();
        // Stable: of series with the same labels, the first one's samples win.
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        self.add_sorted(matchers, keyed);
    }

    /// [`Preloaded::add`] for series the caller has already sorted by their labels'
    /// [`Labels::sort_key`] (a store that keeps each series' key sorts by it without building
    /// it again); a comparison is then one `memcmp` instead of a walk through the label strings.
    pub fn add_sorted<K: AsRef<[u8]>>(
        &mut self,
        matchers: Vec<Matcher>,
        series: Vec<(K, StoredSeries)>,
    ) {
        debug_assert!(series
            .windows(2)
            .all(|w| w[0].0.as_ref() <= w[1].0.as_ref()));
        let mut merged: Vec<StoredSeries> = Vec::with_capacity(series.len());
        let mut last_key: Option<K> = None;
        for (key, s) in series {
            match merged.last_mut() {
                Some(last)
                    if last_key
                        .as_ref()
                        .is_some_and(|k| k.as_ref() == key.as_ref()) =>
                {
                    let mut samples = last.samples.to_vec();
                    samples.extend_from_slice(&s.samples);
                    samples.sort_by_key(|p| p.0);
                    samples.dedup_by_key(|p| p.0);
                    last.samples = samples.into();
                    last.delta |= s.delta;
                }
                _ => merged.push(s),
            }
            last_key = Some(key);
        }
        self.sets.push((matchers, merged));
    }
}

impl Source for Preloaded {
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<StoredSeries>, String> {
        let Some((_, series)) = self.sets.iter().find(|(m, _)| m.as_slice() == matchers) else {
            return Ok(Vec::new());
        };
        Ok(series
            .iter()
            .filter_map(|s| in_window(&s.labels, &s.samples, s.delta, start_ms, end_ms))
            .collect())
    }
}
