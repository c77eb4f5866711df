//! What evaluation works with: the evaluation state of one query ([`Ev`]: its windows, caches,
//! annotations and limits), the values an expression evaluates to at one time ([`Val`]), range
//! arguments, and the time and label helpers every part of the evaluator shares. The
//! evaluation itself (`impl Ev` in `eval.rs`) and the functions and aggregations build on it.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{AtModifier, LabelModifier, Offset, VectorSelector};

use crate::cursor::Cursor;
use crate::error::{QueryError, Result};
use crate::query::{Options, Query, QueryResult};
use crate::source::{Source, StoredSeries};
use crate::value::{Labels, Sample, Series, Value, METRIC_NAME};

/// A value at one evaluation time.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

/// A range-vector argument with its window `(start, end]`.
pub(crate) struct RangeArg {
    pub series: Vec<Series>,
    /// Per series: whether its points are per-interval increments (delta temporality).
    pub delta: Vec<bool>,
    pub start: i64,
    pub end: i64,
    /// The range, ms.
    pub range: i64,
}

/// Milliseconds of a duration.
/// Largest magnitude of a duration or time in ms the evaluator works with (≈ 36 million
/// years): sums and differences of a few such values cannot overflow an `i64`.
const MAX_MS: i64 = 1 << 60;

/// Milliseconds of a duration, capped at [`MAX_MS`].
pub(crate) fn ms(d: &Duration) -> i64 {
    d.as_millis().min(MAX_MS as u128) as i64
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => ms(d),
        Some(Offset::Neg(d)) => -ms(d),
    }
}

/// Milliseconds since the epoch of a time (negative before it).
pub(crate) fn system_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => ms(&d),
        Err(e) => -ms(&e.duration()),
    }
}

/// The matchers of a selector, its name included.
pub fn selector_matchers(vs: &VectorSelector) -> Vec<Matcher> {
    let mut m = vs.matchers.matchers.clone();
    if let Some(name) = &vs.name {
        if !m.iter().any(|x| x.name == METRIC_NAME) {
            m.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
        }
    }
    m
}

/// Evaluation state of one query.
pub(crate) struct Ev<'a> {
    pub(crate) source: &'a dyn Source,
    pub(crate) opts: &'a Options,
    /// The query's text, for annotation positions.
    pub(crate) text: &'a str,
    /// Query start, end and step (for `@ start()`, `start()`, `step()` …; 0 for instants).
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) step: i64,
    /// Fetch window and matchers of each selector node (by address).
    pub(crate) windows: HashMap<usize, (i64, i64, Vec<Matcher>)>,
    pub(crate) fetched: HashMap<usize, Rc<Vec<StoredSeries>>>,
    /// Per selector node, per series: the last window looked up, to move on from at the next
    /// step instead of searching the samples again (steps go forward in time).
    pub(crate) cursors: HashMap<usize, Vec<Cursor>>,
    /// Results of range functions over matrix selectors computed ahead for the later steps of a
    /// range query (see [`Ev::stepped`]), by (call node, step).
    pub(crate) stepped: HashMap<(usize, i64), Vec<Sample>>,
    pub(crate) subqueries: HashMap<(usize, i64), Rc<Vec<Sample>>>,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
    pub(crate) deadline: Instant,
}

impl<'a> Ev<'a> {
    pub(crate) fn new(
        source: &'a dyn Source,
        opts: &'a Options,
        query: &'a Query,
        start: i64,
        end: i64,
        step: i64,
    ) -> Self {
        let mut ev = Self {
            source,
            opts,
            text: &query.text,
            start,
            end,
            step,
            windows: HashMap::new(),
            fetched: HashMap::new(),
            cursors: HashMap::new(),
            stepped: HashMap::new(),
            subqueries: HashMap::new(),
            warnings: Vec::new(),
            infos: Vec::new(),
            deadline: Instant::now() + opts.timeout,
        };
        ev.plan(&query.expr, start, end);
        ev
    }

    /// Adds a `PromQL warning: …` annotation at byte `at` of the query (once per text).
    pub(crate) fn warn(&mut self, msg: &str, at: Option<usize>) {
        let text = format!("PromQL warning: {msg} ({})", self.position(at));
        if !self.warnings.contains(&text) {
            self.warnings.push(text);
        }
    }

    /// Adds a `PromQL info: …` annotation.
    pub(crate) fn info(&mut self, msg: &str, at: Option<usize>) {
        let text = format!("PromQL info: {msg} ({})", self.position(at));
        if !self.infos.contains(&text) {
            self.infos.push(text);
        }
    }

    /// `line:column` (1-based, columns in bytes) of byte `at` of the query.
    pub(crate) fn position(&self, at: Option<usize>) -> String {
        let at = at.unwrap_or(0).min(self.text.len());
        let before = &self.text[..at];
        let line = 1 + before.matches('\n').count();
        let col = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{line}:{col}")
    }

    /// Where argument `index` of the first call of `func` (a function or an aggregation with
    /// parameter) starts in the query text.
    pub(crate) fn arg_offset(&self, func: &str, index: usize) -> Option<usize> {
        arg_offset(self.text, func, index)
    }

    /// Where the first call of function `func` starts (its name) in the query text.
    pub(crate) fn call_offset(&self, func: &str) -> Option<usize> {
        call_offset(self.text, func)
    }

    /// The bytes of argument `index` of the first call of `func` when it is a string literal
    /// (in parentheses or not) that Prometheus reads as invalid UTF-8. Go reads `\xNN` and
    /// octal escapes as single bytes (`"\xff"` is the byte 0xff), where the parser here reads
    /// them as the characters U+00NN, so only the query text tells.
    pub(crate) fn invalid_utf8_literal(&self, func: &str, index: usize) -> Option<Vec<u8>> {
        let bytes = go_literal_bytes(self.text, self.arg_offset(func, index)?)?;
        std::str::from_utf8(&bytes).is_err().then_some(bytes)
    }

    pub(crate) fn result(self, value: Value) -> QueryResult {
        QueryResult {
            value,
            warnings: self.warnings,
            infos: self.infos,
        }
    }

    pub(crate) fn check_deadline(&self) -> Result<()> {
        if self.opts.cancel.is_cancelled() {
            return Err(QueryError::Canceled);
        }
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout);
        }
        Ok(())
    }

    pub(crate) fn count_samples(&self, n: usize) -> Result<()> {
        if n > self.opts.max_samples {
            return Err(QueryError::TooManySamples);
        }
        Ok(())
    }

    /// The time an `@` modifier pins evaluation to, or `t`.
    pub(crate) fn at_time(&self, at: &Option<AtModifier>, t: i64) -> i64 {
        match at {
            None => t,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(st)) => system_ms(st),
        }
    }
}

/// The bytes Go's `strconv.Unquote` reads from the string literal at byte `at` of `text`
/// (after any opening parentheses); `None` when there is none.
fn go_literal_bytes(text: &str, at: usize) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut k = at;
    while k < b.len() && (b[k] == b'(' || b[k].is_ascii_whitespace()) {
        k += 1;
    }
    let quote = *b.get(k)?;
    if !matches!(quote, b'"' | b'\'' | b'`') {
        return None;
    }
    k += 1;
    let mut out = Vec::new();
    while k < b.len() && b[k] != quote {
        if b[k] != b'\\' || quote == b'`' {
            out.push(b[k]);
            k += 1;
            continue;
        }
        let c = *b.get(k + 1)?;
        k += 2;
        match c {
            b'x' => {
                out.push(u8::from_str_radix(text.get(k..k + 2)?, 16).ok()?);
                k += 2;
            }
            b'0'..=b'7' => {
                out.push(u8::from_str_radix(text.get(k - 1..k + 2)?, 8).ok()?);
                k += 2;
            }
            b'u' | b'U' => {
                let n = if c == b'u' { 4 } else { 8 };
                let ch = char::from_u32(u32::from_str_radix(text.get(k..k + n)?, 16).ok()?)?;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                k += n;
            }
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            other => out.push(other),
        }
    }
    Some(out)
}

/// Go's `%q` of bytes: `"…"` with invalid UTF-8 as `\xNN`.
pub(crate) fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// The places where `func` stands in `text` as a whole word: (start of the name, end of it).
fn name_positions<'a>(text: &'a str, func: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    text.match_indices(func)
        .map(move |(i, _)| (i, i + func.len()))
        .filter(move |&(i, end)| {
            let before = i.checked_sub(1).is_some_and(|k| word(b[k]));
            let after = b.get(end).is_some_and(|&c| word(c));
            !before && !after
        })
}

/// Where the first call of function `func` starts in `text`: the name at a word boundary,
/// followed by `(`.
fn call_offset(text: &str, func: &str) -> Option<usize> {
    name_positions(text, func)
        .find(|&(_, end)| text[end..].trim_start().starts_with('('))
        .map(|(i, _)| i)
}

/// Where argument `index` of the first call of `func` starts in `text`: the name at a word
/// boundary, an optional `by (…)`/`without (…)`, then the parenthesised arguments.
fn arg_offset(text: &str, func: &str, index: usize) -> Option<usize> {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    for (_, from) in name_positions(text, func) {
        let mut j = from;
        let skip_ws = |mut j: usize| {
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            j
        };
        j = skip_ws(j);
        for kw in ["by", "without"] {
            if text[j..].starts_with(kw) && !b.get(j + kw.len()).is_some_and(|&c| word(c)) {
                let close = text[j..].find(')')? + j;
                j = skip_ws(close + 1);
            }
        }
        if b.get(j) != Some(&b'(') {
            continue;
        }
        // Walk the arguments: depth of brackets, strings skipped.
        let (mut depth, mut arg, mut k) = (0usize, 0usize, j + 1);
        if index == 0 {
            return Some(skip_ws(k));
        }
        while k < b.len() {
            match b[k] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    if depth == 0 {
                        return None;
                    }
                    depth -= 1;
                }
                q @ (b'"' | b'\'' | b'`') => {
                    k += 1;
                    while k < b.len() && b[k] != q {
                        if b[k] == b'\\' && q != b'`' {
                            k += 1;
                        }
                        k += 1;
                    }
                }
                b',' if depth == 0 => {
                    arg += 1;
                    if arg == index {
                        return Some(skip_ws(k + 1));
                    }
                }
                _ => {}
            }
            k += 1;
        }
        return None;
    }
    None
}

/// The group key of a sample under `by`/`without` (and whether the key holds the name).
pub(crate) fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(l)) => labels.keep(&l.labels),
        Some(LabelModifier::Exclude(l)) => labels.drop(&l.labels, true),
    }
}
