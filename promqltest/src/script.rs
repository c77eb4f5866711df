//! Prometheus's PromQL test scripts (`promql/promqltest`, `*.test`): `load`, `clear` and `eval`
//! commands with their expected results, parsed as Prometheus's runner parses them (see
//! `docs/reference/promqltest-format.md`).
//!
//! Lines are trimmed; a line that starts with `#` counts as empty; an empty line ends a block.

use std::sync::OnceLock;

use promql::value::parse_number;
use regex::Regex;

/// A parse error, with the 1-based line it is on.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// Line of the script.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One command of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `load <step>` or `load_with_nhcb <step>` with its series.
    Load(Load),
    /// `clear`: drop everything loaded so far.
    Clear,
    /// `eval …` with its expectations.
    Eval(Eval),
}

/// Series to store, value `k` of each at `k * step_ms` (omitted values still take their slot).
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Line of the `load` command.
    pub line: usize,
    /// Milliseconds between consecutive values.
    pub step_ms: i64,
    /// `load_with_nhcb`: classic histograms are also stored as custom-bucket native histograms.
    pub nhcb: bool,
    /// The series lines (start-timestamp `@st` lines are kept apart in `start_times`).
    pub series: Vec<SeriesDesc>,
    /// `metric@st` lines: the start-timestamp items of the series line that follows, as written.
    pub start_times: Vec<(Labels, String)>,
}

/// Labels, sorted by name; the metric name is the `__name__` label.
pub type Labels = Vec<(String, String)>;

/// A series description: labels and a sequence of values.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    /// Sorted labels (with `__name__` when the line names a metric).
    pub labels: Labels,
    /// The expanded values.
    pub values: Vec<Item>,
}

/// One value of a series description.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `_`: no sample at this position.
    Omitted,
    /// A float sample.
    Float(f64),
    /// `stale`: a staleness marker.
    Stale,
    /// A native histogram literal `{{…}}`, as written (its increments already applied when it
    /// came from `{{a}}+{{b}}xN` are not: the text is `a`, `+b`, `+b`, …).
    Histogram(String),
}

/// When an eval runs.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalAt {
    /// `eval instant at <t>`.
    Instant {
        /// Evaluation time, ms.
        at_ms: i64,
    },
    /// `eval range from <t> to <t> step <d>`.
    Range {
        /// First step, ms.
        start_ms: i64,
        /// Last step, ms.
        end_ms: i64,
        /// Step, ms.
        step_ms: i64,
    },
}

/// How an expected message is matched.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageMatch {
    /// Any message.
    Any,
    /// Exactly this text (`msg:`).
    Exact(String),
    /// A regular expression found anywhere in it (`regex:`).
    Regex(String),
}

/// What an eval expects of warnings or infos.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationExpectation {
    /// `expect warn …` / `expect info …` lines: each must match an annotation of that kind,
    /// and every annotation of that kind must match one of them.
    pub expected: Vec<MessageMatch>,
    /// `expect no_warn` / `expect no_info`.
    pub none: bool,
}

/// The expected result of an eval.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Series (possibly none): an instant vector (one value each) or a matrix (range evals).
    Series(Vec<SeriesDesc>),
    /// A scalar.
    Scalar(f64),
    /// `expect string "…"`.
    String(String),
    /// `expect range vector from … to … step …`: a range vector from an instant query, value
    /// `k` of each series at `start_ms + k * step_ms`.
    RangeVector {
        /// Timestamp of the first value.
        start_ms: i64,
        /// Timestamp of the last value.
        end_ms: i64,
        /// Distance between values.
        step_ms: i64,
        /// The series.
        series: Vec<SeriesDesc>,
    },
}

/// An `eval` command.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    /// Line of the `eval` command.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// When it runs.
    pub at: EvalAt,
    /// `expect fail …` / `eval_fail`: the query must fail with a matching message.
    pub fail: Option<MessageMatch>,
    /// Warnings expected.
    pub warn: AnnotationExpectation,
    /// Infos expected.
    pub info: AnnotationExpectation,
    /// `expect ordered` / `eval_ordered`: series must come in the expected order.
    pub ordered: bool,
    /// The expected result.
    pub expected: Expected,
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Vec<Command>, ParseError> {
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_owned()
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split([' ', '\t'])
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        if word == "clear" {
            out.push(Command::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let (next, load) = parse_load(&lines, i).map_err(err)?;
            out.push(Command::Load(load));
            i = next;
        } else if word.starts_with("eval") {
            let (next, eval) = parse_eval(&lines, i).map_err(err)?;
            out.push(Command::Eval(eval));
            i = next;
        } else {
            return Err(err(format!("invalid command {l:?}")));
        }
    }
    Ok(out)
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid pattern"))
}

/// The block of lines after line `i`: up to the next empty line.
fn block(lines: &[String], i: usize) -> impl Iterator<Item = (usize, &str)> {
    lines[i + 1..]
        .iter()
        .enumerate()
        .take_while(|(_, l)| !l.is_empty())
        .map(move |(k, l)| (i + 1 + k, l.as_str()))
}

fn parse_load(lines: &[String], i: usize) -> Result<(usize, Load), String> {
    static LOAD: OnceLock<Regex> = OnceLock::new();
    let caps = regex(&LOAD, r"^load(?:_(with_nhcb))?\s+(.+?)$")
        .captures(&lines[i])
        .ok_or_else(|| format!("invalid load command {:?}", lines[i]))?;
    let step_ms = parse_duration(&caps[2])?;
    let mut load = Load {
        line: i + 1,
        step_ms,
        nhcb: caps.get(1).is_some(),
        series: Vec::new(),
        start_times: Vec::new(),
    };
    let mut end = i + 1;
    for (n, l) in block(lines, i) {
        end = n + 1;
        let first = l.split([' ', '\t']).next().unwrap_or_default();
        if let Some(metric) = first.strip_suffix("@st") {
            let (labels, _) = parse_metric(metric).map_err(|e| format!("line {}: {e}", n + 1))?;
            load.start_times
                .push((labels, l[first.len()..].trim().to_owned()));
            continue;
        }
        let desc = parse_series(l).map_err(|e| format!("line {}: {e}", n + 1))?;
        // A series repeated within one load replaces the earlier line.
        match load.series.iter_mut().find(|s| s.labels == desc.labels) {
            Some(s) => *s = desc,
            None => load.series.push(desc),
        }
    }
    Ok((end, load))
}

fn parse_eval(lines: &[String], i: usize) -> Result<(usize, Eval), String> {
    static INSTANT: OnceLock<Regex> = OnceLock::new();
    static RANGE: OnceLock<Regex> = OnceLock::new();
    static EXPECT: OnceLock<Regex> = OnceLock::new();
    static RANGE_VECTOR: OnceLock<Regex> = OnceLock::new();
    let header = &lines[i];
    let instant = regex(
        &INSTANT,
        r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
    );
    let range = regex(
        &RANGE,
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    );
    let (modifier, at, expr) = if let Some(c) = instant.captures(header) {
        let at = c.get(2).map_or("", |m| m.as_str());
        (
            c.get(1).map(|m| m.as_str().to_owned()),
            EvalAt::Instant {
                at_ms: parse_duration(at)?,
            },
            c[3].to_owned(),
        )
    } else if let Some(c) = range.captures(header) {
        let (start_ms, end_ms) = (parse_duration(&c[2])?, parse_duration(&c[3])?);
        if end_ms < start_ms {
            return Err(format!(
                "end timestamp {} is before start timestamp {}",
                &c[3], &c[2]
            ));
        }
        (
            c.get(1).map(|m| m.as_str().to_owned()),
            EvalAt::Range {
                start_ms,
                end_ms,
                step_ms: parse_duration(&c[4])?,
            },
            c[5].to_owned(),
        )
    } else {
        return Err(format!("invalid eval command {header:?}"));
    };
    let mut eval = Eval {
        line: i + 1,
        expr,
        at,
        fail: None,
        warn: AnnotationExpectation::default(),
        info: AnnotationExpectation::default(),
        ordered: false,
        expected: Expected::Series(Vec::new()),
    };
    match modifier.as_deref() {
        Some("fail") => eval.fail = Some(MessageMatch::Any),
        Some("warn") => eval.warn.expected.push(MessageMatch::Any),
        Some("info") => eval.info.expected.push(MessageMatch::Any),
        Some("ordered") => eval.ordered = true,
        _ => {}
    }
    let is_range = matches!(eval.at, EvalAt::Range { .. });
    let mut series: Vec<SeriesDesc> = Vec::new();
    let mut range_vector: Option<(i64, i64, i64)> = None;
    let mut end = i + 1;
    for (n, l) in block(lines, i) {
        end = n + 1;
        let at_line = |e: String| format!("line {}: {e}", n + 1);
        if l.starts_with("expect range vector") {
            let c = regex(
                &RANGE_VECTOR,
                r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$",
            )
            .captures(l)
            .ok_or_else(|| at_line(format!("invalid range vector expectation {l:?}")))?;
            let (start, end_ms) = (parse_duration(&c[1])?, parse_duration(&c[2])?);
            range_vector = Some((start, end_ms, parse_duration(&c[3])?));
            // The instant query runs at the end of the range.
            eval.at = EvalAt::Instant { at_ms: end_ms };
            continue;
        }
        if let Some(rest) = l.strip_prefix("expect string") {
            let s = unquote(rest.trim()).map_err(at_line)?;
            eval.expected = Expected::String(s);
            continue;
        }
        if l.split(' ').next() == Some("expect") {
            let c = regex(
                &EXPECT,
                r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
            )
            .captures(l)
            .ok_or_else(|| at_line(format!("invalid expect statement {l:?}")))?;
            let matcher = match (c.get(2).map(|m| m.as_str()), c.get(3)) {
                (Some("msg"), Some(m)) => MessageMatch::Exact(m.as_str().trim().to_owned()),
                (Some("regex"), Some(m)) => MessageMatch::Regex(m.as_str().trim().to_owned()),
                _ => MessageMatch::Any,
            };
            match &c[1] {
                "ordered" => eval.ordered = true,
                "fail" => {
                    if eval.fail.is_some() {
                        return Err(at_line("more than one expect fail".into()));
                    }
                    eval.fail = Some(matcher);
                }
                "warn" => eval.warn.expected.push(matcher),
                "no_warn" => eval.warn.none = true,
                "info" => eval.info.expected.push(matcher),
                _ => eval.info.none = true,
            }
            continue;
        }
        if let Some(v) = parse_number(l) {
            eval.expected = Expected::Scalar(v);
            break;
        }
        let desc = parse_series(l).map_err(at_line)?;
        if !is_range && range_vector.is_none() && desc.values.len() > 1 {
            return Err(at_line(format!(
                "expecting multiple values in instant evaluation not allowed: {l:?}"
            )));
        }
        match series.iter_mut().find(|s| s.labels == desc.labels) {
            Some(s) => *s = desc,
            None => series.push(desc),
        }
    }
    if !eval.warn.expected.is_empty() && eval.warn.none {
        return Err("expect warn and expect no_warn together".into());
    }
    if !eval.info.expected.is_empty() && eval.info.none {
        return Err("expect info and expect no_info together".into());
    }
    if let Some((start_ms, end_ms, step_ms)) = range_vector {
        eval.expected = Expected::RangeVector {
            start_ms,
            end_ms,
            step_ms,
            series,
        };
    } else if matches!(eval.expected, Expected::Series(_)) {
        eval.expected = Expected::Series(series);
    }
    Ok((end, eval))
}

/// A Prometheus duration (`1m30s`, `0`, `10s53ms`) in milliseconds: units `y w d h m s ms` in
/// decreasing order, each at most once.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bad = || format!("not a valid duration string: {s:?}");
    let mut rest = s;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let at = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?
            + next_unit;
        total = n
            .checked_mul(UNITS[at].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        next_unit = at + 1;
    }
    Ok(total)
}

/// Decodes a Go string literal: `"…"` with escapes or `` `…` `` raw.
fn unquote(s: &str) -> Result<String, String> {
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(raw.to_owned());
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .ok_or_else(|| format!("invalid string literal {s:?}"))?;
    unescape(inner)
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(c @ ('\\' | '"' | '\'' | '`')) => out.push(c),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let b = u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?;
                out.push(char::from(b));
            }
            Some(u @ ('u' | 'U')) => {
                let n = if u == 'u' { 4 } else { 8 };
                let hex: String = chars.by_ref().take(n).collect();
                let c = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad escape \\{u}{hex}"))?;
                out.push(c);
            }
            other => {
                return Err(format!(
                    "unknown escape sequence \\{}",
                    other.unwrap_or(' ')
                ))
            }
        }
    }
    Ok(out)
}

/// The metric part of a series description (`name{l="v", …}`, `{…}` or `name`) and the rest
/// of the text.
fn parse_metric(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let name_len = s
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '.')))
        .map_or(s.len(), |(i, _)| i);
    let mut labels: Labels = Vec::new();
    if name_len > 0 {
        labels.push(("__name__".into(), s[..name_len].to_owned()));
    }
    let mut rest = &s[name_len..];
    if let Some(body) = rest.strip_prefix('{') {
        rest = body;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, r) = if rest.starts_with(['"', '\'', '`']) {
                let (text, r) = quoted(rest)?;
                (text, r)
            } else {
                let n = rest
                    .char_indices()
                    .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                    .map_or(rest.len(), |(i, _)| i);
                if n == 0 {
                    return Err(format!("expected a label name at {rest:?}"));
                }
                (rest[..n].to_owned(), &rest[n..])
            };
            let r = r.trim_start();
            let Some(r) = r.strip_prefix('=') else {
                // A quoted name alone is the metric name.
                labels.push(("__name__".into(), name));
                rest = r.trim_start().strip_prefix(',').unwrap_or(r);
                continue;
            };
            let (value, r) = quoted(r.trim_start())?;
            labels.retain(|(n, _)| *n != name);
            labels.push((name, value));
            let r = r.trim_start();
            rest = r.strip_prefix(',').unwrap_or(r);
        }
    }
    labels.sort();
    Ok((labels, rest))
}

/// A quoted string at the start of `s` and what follows it.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let quote = s.chars().next().ok_or("expected a string")?;
    if !matches!(quote, '"' | '\'' | '`') {
        return Err(format!("expected a string at {s:?}"));
    }
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote != '`' {
            escaped = true;
        } else if c == quote {
            let inner = &s[1..i];
            let text = if quote == '`' {
                inner.to_owned()
            } else {
                unescape(inner)?
            };
            return Ok((text, &s[i + 1..]));
        }
    }
    Err(format!("unterminated string {s:?}"))
}

/// A series description line: metric and values.
pub fn parse_series(line: &str) -> Result<SeriesDesc, String> {
    let (labels, rest) = parse_metric(line)?;
    let mut values = Vec::new();
    let mut rest = rest.trim_start();
    while !rest.is_empty() {
        let (items, r) = parse_item(rest)?;
        values.extend(items);
        rest = r.trim_start();
    }
    Ok(SeriesDesc { labels, values })
}

/// One item of a value sequence and the text after it.
fn parse_item(s: &str) -> Result<(Vec<Item>, &str), String> {
    if s.starts_with("{{") {
        let (first, rest) = histogram(s)?;
        if let Some(r) = rest.strip_prefix('x') {
            let (n, r) = uint(r)?;
            return Ok((vec![Item::Histogram(first); n as usize + 1], r));
        }
        if let Some(op) = rest.chars().next().filter(|c| matches!(c, '+' | '-')) {
            let (inc, r) = histogram(&rest[1..])?;
            let r = r
                .strip_prefix('x')
                .ok_or("expected x after a histogram increment")?;
            let (n, r) = uint(r)?;
            let mut items = vec![Item::Histogram(first)];
            items.extend((0..n).map(|_| Item::Histogram(format!("{op}{inc}"))));
            return Ok((items, r));
        }
        return Ok((vec![Item::Histogram(first)], rest));
    }
    let token_end = s.find([' ', '\t']).unwrap_or(s.len());
    let (token, rest) = (&s[..token_end], &s[token_end..]);
    if token == "_" {
        return Ok((vec![Item::Omitted], rest));
    }
    if let Some(n) = token.strip_prefix("_x") {
        let n: u64 = n.parse().map_err(|_| format!("bad repetition {token:?}"))?;
        return Ok((vec![Item::Omitted; n as usize], rest));
    }
    if token == "stale" {
        return Ok((vec![Item::Stale], rest));
    }
    let (start, after) =
        number(token).ok_or_else(|| format!("expected number or \"stale\" at {token:?}"))?;
    if after.is_empty() {
        return Ok((vec![Item::Float(start)], rest));
    }
    let (delta, after) = match after.strip_prefix('x') {
        Some(_) => (0.0, after),
        None => {
            let (sign, r) = match after.as_bytes()[0] {
                b'+' => (1.0, &after[1..]),
                b'-' => (-1.0, &after[1..]),
                _ => return Err(format!("unexpected {after:?} in {token:?}")),
            };
            let (d, r) = number(r).ok_or_else(|| format!("bad increment in {token:?}"))?;
            if r.starts_with(['+', '-']) || d.is_nan() || d.is_infinite() && r.is_empty() {
                return Err(format!("bad increment in {token:?}"));
            }
            (sign * d, r)
        }
    };
    let n_text = after
        .strip_prefix('x')
        .ok_or_else(|| format!("expected xN in {token:?}"))?;
    let n: u64 = n_text
        .parse()
        .map_err(|_| format!("bad repetition in {token:?}"))?;
    // Repeated addition, as Prometheus computes it.
    let mut v = start;
    let mut items = Vec::with_capacity(n as usize + 1);
    for _ in 0..=n {
        items.push(Item::Float(v));
        v += delta;
    }
    Ok((items, rest))
}

/// A number at the start of `s` (optional sign, digits with `.`, exponent, `_`; or
/// `Inf`/`NaN`) and the rest; an `x` after digits ends the number (`1x5`, `0x100` = 0 × 101).
fn number(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let word: String = s[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    if word == "inf" || word == "nan" {
        let end = i + 3;
        return Some((parse_number(&s[..end])?, &s[end..]));
    }
    let start_digits = i;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' | b'.' | b'_' => i += 1,
            b'e' | b'E' if i > start_digits => {
                i += 1;
                if matches!(b.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    if i == start_digits {
        return None;
    }
    let v: f64 = s[..i].replace('_', "").parse().ok()?;
    Some((v, &s[i..]))
}

fn uint(s: &str) -> Result<(u64, &str), String> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let v = s[..n]
        .parse()
        .map_err(|_| format!("expected a count at {s:?}"))?;
    Ok((v, &s[n..]))
}

/// A `{{…}}` literal at the start of `s` and the rest.
fn histogram(s: &str) -> Result<(String, &str), String> {
    let end = s.find("}}").ok_or("unterminated histogram")? + 2;
    Ok((s[..end].to_owned(), &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(desc: &SeriesDesc) -> Vec<Option<f64>> {
        desc.values
            .iter()
            .map(|i| match i {
                Item::Float(v) => Some(*v),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn durations_follow_prometheus() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("10s53ms"), Ok(10_053));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert!(parse_duration("30s1m").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1.5m").is_err());
    }

    #[test]
    fn series_descriptions_expand_like_prometheus() {
        let d = parse_series(
            r#"http_requests{job="api", instance="0"} 0+10x3 _ 5 _x2 stale -2+4x2 1x2"#,
        )
        .unwrap();
        assert_eq!(
            d.labels,
            vec![
                ("__name__".into(), "http_requests".into()),
                ("instance".into(), "0".into()),
                ("job".into(), "api".into()),
            ]
        );
        let f = floats(&d);
        assert_eq!(&f[..4], &[Some(0.0), Some(10.0), Some(20.0), Some(30.0)]);
        assert_eq!(d.values[4], Item::Omitted);
        assert_eq!(f[5], Some(5.0));
        assert_eq!(&d.values[6..8], &[Item::Omitted, Item::Omitted]);
        assert_eq!(d.values[8], Item::Stale);
        assert_eq!(&f[9..12], &[Some(-2.0), Some(2.0), Some(6.0)]);
        assert_eq!(&f[12..], &[Some(1.0), Some(1.0), Some(1.0)]);
        // Hex is off in value lists: 0x2 is 0 three times.
        assert_eq!(floats(&parse_series("m 0x2").unwrap()), [Some(0.0); 3]);
        assert_eq!(
            floats(&parse_series("{} 1-2x2 Inf -Inf").unwrap())[..3],
            [Some(1.0), Some(-1.0), Some(-3.0)]
        );
        assert!(parse_series("m 1m").is_err());
        let h = parse_series("m {{schema:0 sum:1 count:2}}+{{count:1}}x2").unwrap();
        assert_eq!(h.values.len(), 3);
    }

    #[test]
    fn evals_read_their_expectations() {
        let script = r#"
# a comment
load 5m
  metric{a="1"} 1 2 3

eval instant at 10m sum(metric)
  expect no_warn
  {} 3

eval range from 0 to 10m step 5m metric
  metric{a="1"} 1 2 3

eval instant at 0 1/0
  +Inf

eval instant at 1m metric[1m]
  expect range vector from 0 to 1m step 1m
  metric{a="1"} 1 _

eval instant at 0 foo(
  expect fail msg:something "quoted"

clear
"#;
        let cmds = parse(script).unwrap();
        assert_eq!(cmds.len(), 7, "{cmds:#?}");
        let Command::Load(load) = &cmds[0] else {
            panic!()
        };
        assert_eq!(
            (load.line, load.step_ms, load.series.len()),
            (3, 300_000, 1)
        );
        let Command::Eval(e) = &cmds[1] else { panic!() };
        assert_eq!(e.at, EvalAt::Instant { at_ms: 600_000 });
        assert!(e.warn.none);
        assert!(
            matches!(&e.expected, Expected::Series(s) if s.len() == 1 && s[0].labels.is_empty())
        );
        let Command::Eval(e) = &cmds[2] else { panic!() };
        assert_eq!(
            e.at,
            EvalAt::Range {
                start_ms: 0,
                end_ms: 600_000,
                step_ms: 300_000
            }
        );
        let Command::Eval(e) = &cmds[3] else { panic!() };
        assert_eq!(e.expected, Expected::Scalar(f64::INFINITY));
        let Command::Eval(e) = &cmds[4] else { panic!() };
        assert!(
            matches!(&e.expected, Expected::RangeVector { start_ms: 0, end_ms: 60_000, step_ms: 60_000, series } if series[0].values.len() == 2)
        );
        let Command::Eval(e) = &cmds[5] else { panic!() };
        assert_eq!(
            e.fail,
            Some(MessageMatch::Exact(r#"something "quoted""#.into()))
        );
        assert_eq!(cmds[6], Command::Clear);
    }
}
