//! What evaluation works on and gives: streams and their lines, sources, selectors, samples,
//! series and values.

use std::collections::BTreeMap;

use crate::ast::*;

/// A label set.
pub type Labels = BTreeMap<String, String>;

/// `__error__`: the label a failing stage sets.
pub const ERROR: &str = "__error__";
/// `__error_details__`.
pub const ERROR_DETAILS: &str = "__error_details__";

/// One log line of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Unix nanoseconds.
    pub ts: i64,
    /// The line.
    pub line: String,
    /// Structured metadata.
    pub metadata: Vec<(String, String)>,
}

/// A stream: its labels and its lines in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The stream labels.
    pub labels: Labels,
    /// The lines, oldest first.
    pub entries: Vec<Entry>,
}

/// Where a query reads its streams.
pub trait Source {
    /// The streams matching `matchers` with their lines in `[start, end]` (nanoseconds).
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Stream>, String>;

    /// The lines of the streams matching `matchers` that pass every line filter of `filters`,
    /// counted per series and bucket of `counting`, or `None` when this source cannot count
    /// them (the lines are then read through [`Source::select`]).
    fn counts(
        &self,
        _matchers: &[Matcher],
        _filters: &[LineFilter],
        _counting: &Counting,
    ) -> Option<Result<Vec<Counted>, String>> {
        None
    }
}

/// Buckets of `width` nanoseconds back from `end`: bucket `k` holds the lines of
/// `(end - (k+1)·width, end - k·width]`, for `k < buckets`. A range aggregation that only
/// counts lines or their bytes (`count_over_time`, `rate`, `bytes_over_time`, `bytes_rate`
/// over lines that only line filters select) is answered from such buckets when the width
/// divides both its range and its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counting {
    /// The end of bucket 0 (nanoseconds, included).
    pub end: i64,
    /// The width of a bucket (nanoseconds).
    pub width: i64,
    /// How many buckets.
    pub buckets: usize,
    /// Whether the bytes of the lines are needed (`bytes_over_time`, `bytes_rate`); a source
    /// may count them as 0 otherwise.
    pub bytes: bool,
    /// The only labels the query keeps of each series (a `sum by (...)` around the range
    /// aggregation adds up the series over the rest): a source may count series labelled with
    /// only these. `None` keeps every label.
    pub labels: Option<Vec<String>>,
}

/// One series' lines counted per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// The series' labels: its stream labels and structured metadata, as a line of it enters
    /// the pipeline (see [`line_labels`]).
    pub labels: Labels,
    /// (bucket, lines, bytes of the lines) of the buckets holding lines.
    pub buckets: Vec<(usize, u64, u64)>,
}

/// The labels a line of a stream with `labels` and structured `metadata` enters the pipeline
/// with: the stream labels that are not empty, then the metadata (a name the stream already
/// has gets `_extracted`).
pub fn line_labels(labels: &Labels, metadata: &[(String, String)]) -> Labels {
    let mut out: Labels = labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in metadata {
        if out.contains_key(k) {
            out.insert(format!("{k}_extracted"), v.clone());
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Streams held in memory (tests, small data sets).
#[derive(Debug, Clone, Default)]
pub struct MemSource {
    /// The streams.
    pub streams: Vec<Stream>,
}

/// A stream selector made ready to test label sets: its regular expressions compiled once.
#[derive(Debug, Clone)]
pub struct Selector(Vec<(Matcher, Option<regex::Regex>)>);

impl Selector {
    /// The selector of `matchers`; a regular expression that does not compile matches nothing.
    pub fn new(matchers: &[Matcher]) -> Self {
        Selector(
            matchers
                .iter()
                .map(|m| {
                    let re = matches!(m.op, MatchOp::Re | MatchOp::Nre)
                        .then(|| regex::Regex::new(&format!("^(?:{})$", m.value)).ok())
                        .flatten();
                    (m.clone(), re)
                })
                .collect(),
        )
    }

    /// Whether `labels` match every matcher (a missing label reads as empty).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|(m, re)| {
            let v = labels.get(&m.name).map_or("", String::as_str);
            match m.op {
                MatchOp::Eq => v == m.value,
                MatchOp::Neq => v != m.value,
                MatchOp::Re => re.as_ref().is_some_and(|r| r.is_match(v)),
                MatchOp::Nre => !re.as_ref().is_some_and(|r| r.is_match(v)),
            }
        })
    }
}

impl Source for MemSource {
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Stream>, String> {
        let selector = Selector::new(matchers);
        Ok(self
            .streams
            .iter()
            .filter(|s| selector.matches(&s.labels))
            .map(|s| Stream {
                labels: s.labels.clone(),
                entries: s
                    .entries
                    .iter()
                    .filter(|e| e.ts >= start && e.ts <= end)
                    .cloned()
                    .collect(),
            })
            .collect())
    }
}

/// A sample of a vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

/// A series of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: Labels,
    /// (Unix nanoseconds, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

/// A query's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range result.
    Matrix(Vec<Series>),
}

/// An expression's value at every step.
pub(super) enum Steps {
    Scalar(f64),
    Vectors(Vec<Vec<Sample>>),
}
