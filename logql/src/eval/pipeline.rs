//! A log pipeline run on one line: line filters, parsers (`json`, `logfmt`, `regexp`,
//! `pattern`, `unpack`), label filters, formatting, `drop` and `keep`, as Loki runs them. Labels
//! a stage adds that a stream label or structured metadata already holds go to
//! `<name>_extracted`; a stage that fails sets `__error__` (and `__error_details__`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use regex::Regex;

use super::error::EvalError;
use common::template::{Dialect, Template, Value};

use super::json::{self, Json};
use crate::ast::*;
use crate::duration::parse_duration;

/// A label set.
pub type Labels = BTreeMap<String, String>;

/// `__error__`: the label a failing stage sets.
pub const ERROR: &str = "__error__";
/// `__error_details__`.
pub const ERROR_DETAILS: &str = "__error_details__";

/// A pipeline made ready to run: regular expressions compiled, patterns split.
#[derive(Debug)]
pub(crate) struct Pipeline {
    stages: Vec<Compiled>,
}

#[derive(Debug)]
enum LineValue {
    Text(String, Option<Regex>),
    Pattern(Vec<PatternPart>),
    Ip(IpPattern),
}

#[derive(Debug)]
enum Compiled {
    Line(FilterOp, Vec<LineValue>),
    Json(Vec<Extraction>),
    Logfmt {
        strict: bool,
        keep_empty: bool,
        extractions: Vec<Extraction>,
    },
    Regexp(Regex),
    Pattern(Vec<PatternPart>),
    Unpack,
    Labels(Filter),
    LineFormat(Template),
    LabelFormat(Vec<(String, Format)>),
    Decolorize,
    Drop(Vec<Selection>),
    Keep(Vec<Selection>),
}

/// What a `label_format` entry sets its label to.
#[derive(Debug)]
enum Format {
    Rename(String),
    Template(Template),
}

#[derive(Debug)]
enum Selection {
    Name(String),
    Matcher(String, MatchOp, String, Option<Regex>),
}

/// A compiled label filter.
#[derive(Debug)]
pub(crate) enum Filter {
    Str(String, MatchOp, String, Option<Regex>),
    Ip(String, bool, IpPattern),
    Num(String, CmpOp, f64, Kind),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// How a numeric label filter reads the label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Number,
    Duration,
    Bytes,
}

#[derive(Debug, Clone)]
enum PatternPart {
    Literal(String),
    Capture(Option<String>),
}

/// An address, a range `a-b`, or a CIDR.
#[derive(Debug, Clone)]
pub(crate) enum IpPattern {
    One(IpAddr),
    Range(IpAddr, IpAddr),
    Cidr(IpAddr, u8),
}

fn anchored(re: &str) -> Result<Regex, EvalError> {
    Regex::new(&format!("^(?:{re})$"))
        .map_err(|e| EvalError::Invalid(format!("error parsing regexp: {e}")))
}

fn unanchored(re: &str) -> Result<Regex, EvalError> {
    Regex::new(re).map_err(|e| EvalError::Invalid(format!("error parsing regexp: {e}")))
}

fn ip_pattern(p: &str) -> Result<IpPattern, EvalError> {
    let bad = || EvalError::Invalid(format!("ip: invalid pattern: {p:?}"));
    if let Some((a, b)) = p.split_once('-') {
        let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let b: IpAddr = b.trim().parse().map_err(|_| bad())?;
        return Ok(IpPattern::Range(a, b));
    }
    if let Some((a, bits)) = p.split_once('/') {
        let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let bits: u8 = bits.trim().parse().map_err(|_| bad())?;
        let max = if a.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
        return Ok(IpPattern::Cidr(a, bits));
    }
    Ok(IpPattern::One(p.trim().parse().map_err(|_| bad())?))
}

fn ip_bits(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(u32::from(*v)),
        IpAddr::V6(v) => u128::from(*v),
    }
}

impl IpPattern {
    fn contains(&self, ip: &IpAddr) -> bool {
        match self {
            IpPattern::One(a) => a == ip,
            IpPattern::Range(a, b) => {
                a.is_ipv4() == ip.is_ipv4()
                    && ip_bits(a) <= ip_bits(ip)
                    && ip_bits(ip) <= ip_bits(b)
            }
            IpPattern::Cidr(a, bits) => {
                if a.is_ipv4() != ip.is_ipv4() {
                    return false;
                }
                let width = if a.is_ipv4() { 32 } else { 128 };
                let shift = width - u32::from(*bits);
                if shift >= 128 {
                    return true;
                }
                (ip_bits(a) >> shift) == (ip_bits(ip) >> shift)
            }
        }
    }

    /// Whether `line` holds an address the pattern contains (an IPv4 address may carry a
    /// port: `10.0.0.7:80`).
    fn in_line(&self, line: &str) -> bool {
        line.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
            .filter(|w| !w.is_empty())
            .filter_map(|w| {
                let w = w.trim_matches(|c| c == '.' || c == ':');
                w.parse::<IpAddr>().ok().or_else(|| {
                    w.contains('.')
                        .then(|| w.split(':').next().and_then(|v4| v4.parse::<IpAddr>().ok()))
                        .flatten()
                })
            })
            .any(|ip| self.contains(&ip))
    }
}

fn pattern(p: &str) -> Result<Vec<PatternPart>, EvalError> {
    let mut out = Vec::new();
    let mut rest = p;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        let is_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !is_name {
            out.push(PatternPart::Literal(rest[..open + close + 1].to_string()));
            rest = &rest[open + close + 1..];
            continue;
        }
        if open > 0 {
            out.push(PatternPart::Literal(rest[..open].to_string()));
        }
        if matches!(out.last(), Some(PatternPart::Capture(_))) {
            return Err(EvalError::Invalid(format!(
                "invalid pattern {p:?}: consecutive captures"
            )));
        }
        out.push(PatternPart::Capture(
            (name != "_").then(|| name.to_string()),
        ));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(PatternPart::Literal(rest.to_string()));
    }
    Ok(out)
}

/// The captures of `parts` over `line` as far as it matches, and whether all of the pattern
/// matched the whole line.
fn pattern_match<'a>(
    parts: &'a [PatternPart],
    line: &'a str,
) -> (Vec<(&'a str, Option<&'a String>)>, bool) {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while i < parts.len() {
        match &parts[i] {
            PatternPart::Literal(l) => {
                if !line[at..].starts_with(l.as_str()) {
                    return (out, false);
                }
                at += l.len();
            }
            PatternPart::Capture(name) => match parts.get(i + 1) {
                Some(PatternPart::Literal(l)) => {
                    let Some(end) = line[at..].find(l.as_str()) else {
                        // A short line fills the captures it reaches.
                        if at < line.len() {
                            out.push((&line[at..], name.as_ref()));
                        }
                        return (out, false);
                    };
                    out.push((&line[at..at + end], name.as_ref()));
                    at += end;
                }
                _ => {
                    out.push((&line[at..], name.as_ref()));
                    at = line.len();
                }
            },
        }
        i += 1;
    }
    (out, at == line.len())
}

/// A byte size in a label's value, as go-humanize's `ParseBytes` reads it: a number, an
/// optional space, and a unit in any case (`3mb`, `1.5 KiB`, `10`).
pub(crate) fn bytes_value(v: &str) -> Result<f64, String> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(v.len());
    let digits = v[..split].replace(',', "");
    let num: f64 = digits
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {digits:?}: invalid syntax"))?;
    let unit = v[split..].trim().to_ascii_lowercase();
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        _ => return Err(format!("unhandled size name: {unit}")),
    };
    Ok(num * scale)
}

/// Seconds of a duration in a label's value, as Go's `time.ParseDuration` reads it (no `d`,
/// `w` or `y`, which only query literals take).
pub(crate) fn go_duration_value(v: &str) -> Result<f64, String> {
    let v = v.trim();
    if let Some(unit) = v
        .trim_start_matches(['-', '+'])
        .split(|c: char| c.is_ascii_digit() || c == '.')
        .find(|u| matches!(*u, "d" | "w" | "y"))
    {
        return Err(format!("unknown unit {unit:?} in duration {v:?}"));
    }
    parse_duration(v).map(|ns| ns as f64 / 1e9)
}

/// `line` without its ANSI escape sequences (`ESC [ … letter`).
fn decolorize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A label name Loki makes of a parsed key: characters other than letters, digits and `_`
/// become `_`, and a leading digit gets a `_` before it.
pub(crate) fn sanitize(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Adds a parsed label: to `<name>_extracted` when the name is taken already.
pub(crate) fn add(labels: &mut Labels, key: String, value: String) {
    if labels.contains_key(&key) {
        labels.insert(format!("{key}_extracted"), value);
    } else {
        labels.insert(key, value);
    }
}

fn set_error(labels: &mut Labels, error: &str, details: String) {
    if !labels.contains_key(ERROR) {
        labels.insert(ERROR.into(), error.into());
        labels.insert(ERROR_DETAILS.into(), details);
    }
}

pub(crate) fn compile_filter(f: &LabelFilter) -> Result<Filter, EvalError> {
    Ok(match f {
        LabelFilter::Matcher(m) => {
            let re = match m.op {
                MatchOp::Re | MatchOp::Nre => Some(anchored(&m.value)?),
                _ => None,
            };
            Filter::Str(m.name.clone(), m.op, m.value.clone(), re)
        }
        LabelFilter::Ip {
            name,
            negate,
            pattern,
        } => Filter::Ip(name.clone(), *negate, ip_pattern(pattern)?),
        LabelFilter::Duration {
            name, op, value, ..
        } => Filter::Num(name.clone(), *op, *value as f64 / 1e9, Kind::Duration),
        LabelFilter::Bytes {
            name, op, value, ..
        } => Filter::Num(name.clone(), *op, *value as f64, Kind::Bytes),
        LabelFilter::Number { name, op, value } => {
            Filter::Num(name.clone(), *op, *value, Kind::Number)
        }
        LabelFilter::And(a, b) => {
            Filter::And(Box::new(compile_filter(a)?), Box::new(compile_filter(b)?))
        }
        LabelFilter::Or(a, b) => {
            Filter::Or(Box::new(compile_filter(a)?), Box::new(compile_filter(b)?))
        }
    })
}

fn cmp(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Neq => a != b,
        CmpOp::Gt => a > b,
        CmpOp::Gte => a >= b,
        CmpOp::Lt => a < b,
        CmpOp::Lte => a <= b,
    }
}

impl Filter {
    /// Whether the labels pass; a value that does not convert sets `__error__` and passes.
    pub(crate) fn test(&self, labels: &mut Labels) -> bool {
        match self {
            Filter::Str(name, op, value, re) => {
                let v = labels.get(name).map_or("", String::as_str);
                match op {
                    MatchOp::Eq => v == value,
                    MatchOp::Neq => v != value,
                    MatchOp::Re => re.as_ref().is_some_and(|r| r.is_match(v)),
                    MatchOp::Nre => !re.as_ref().is_some_and(|r| r.is_match(v)),
                }
            }
            Filter::Ip(name, negate, p) => {
                // An errored line passes, so that its error reaches the result.
                if labels.contains_key(ERROR) {
                    return true;
                }
                let Some(v) = labels.get(name) else {
                    return false;
                };
                // The value may hold the address among other text (`client 10.0.0.7:80`).
                p.in_line(v) != *negate
            }
            Filter::Num(name, op, want, kind) => {
                // A converting filter cannot read the error labels; a line without its label
                // is dropped, even one a parser failed on.
                if name == ERROR || name == ERROR_DETAILS {
                    return false;
                }
                let Some(v) = labels.get(name).cloned() else {
                    return false;
                };
                let parsed = match kind {
                    Kind::Number => v
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| format!("strconv.ParseFloat: parsing {v:?}: invalid syntax")),
                    Kind::Duration => go_duration_value(&v).map_err(|e| format!("time: {e}")),
                    Kind::Bytes => bytes_value(&v),
                };
                match parsed {
                    Ok(x) => cmp(*op, x, *want),
                    Err(e) => {
                        set_error(labels, "LabelFilterErr", e);
                        true
                    }
                }
            }
            Filter::And(a, b) => {
                // Both sides run (the right one may set an error), as in Loki.
                let l = a.test(labels);
                let r = b.test(labels);
                l && r
            }
            Filter::Or(a, b) => a.test(labels) || b.test(labels),
        }
    }
}

impl Pipeline {
    /// `stages` made ready to run; a regular expression or pattern that does not compile
    /// is an error.
    pub(crate) fn new(stages: &[Stage]) -> Result<Self, EvalError> {
        let mut out = Vec::new();
        for s in stages {
            out.push(match s {
                Stage::Line(l) => {
                    let mut values = Vec::new();
                    for v in &l.values {
                        values.push(match (v, l.op) {
                            (FilterValue::Ip(p), FilterOp::Contains | FilterOp::NotContains) => {
                                LineValue::Ip(ip_pattern(p)?)
                            }
                            (FilterValue::Ip(_), _) => {
                                return Err(EvalError::Invalid(
                                    "ip: invalid operation: ip() is only allowed with |= and !=".into(),
                                ))
                            }
                            (FilterValue::Text(t), FilterOp::Match | FilterOp::NotMatch) => {
                                LineValue::Text(t.clone(), Some(unanchored(t)?))
                            }
                            (FilterValue::Text(t), FilterOp::Pattern | FilterOp::NotPattern) => {
                                let parts = pattern(t)?;
                                if parts.iter().any(|p| matches!(p, PatternPart::Capture(Some(_)))) {
                                    return Err(EvalError::Invalid(format!(
                                        "invalid pattern {t:?}: named captures are not allowed in a line filter"
                                    )));
                                }
                                LineValue::Pattern(parts)
                            }
                            (FilterValue::Text(t), _) => LineValue::Text(t.clone(), None),
                        });
                    }
                    Compiled::Line(l.op, values)
                }
                Stage::Json(e) => {
                    for x in e {
                        if let Some(path) = &x.expression {
                            if path.matches('[').count() != path.matches(']').count() || path.ends_with('.') {
                                return Err(EvalError::Invalid(format!(
                                    "cannot parse expression [{path}]: syntax error"
                                )));
                            }
                        }
                    }
                    Compiled::Json(e.clone())
                }
                Stage::Logfmt {
                    strict,
                    keep_empty,
                    extractions,
                } => Compiled::Logfmt {
                    strict: *strict,
                    keep_empty: *keep_empty,
                    extractions: extractions.clone(),
                },
                Stage::Regexp(r) => {
                    let re = Regex::new(r).map_err(|e| {
                        let text = e.to_string();
                        if text.contains("duplicate capture group name") {
                            EvalError::Invalid("duplicate extracted label name".into())
                        } else {
                            EvalError::Invalid(format!("error parsing regexp: {text}"))
                        }
                    })?;
                    if re.capture_names().flatten().next().is_none() {
                        return Err(EvalError::Invalid(
                            "at least one named capture must be supplied".into(),
                        ));
                    }
                    Compiled::Regexp(re)
                }
                Stage::Pattern(p) => {
                    let parts = pattern(p)?;
                    if !parts.iter().any(|p| matches!(p, PatternPart::Capture(Some(_)))) {
                        return Err(EvalError::Invalid(
                            "at least one capture is required".into(),
                        ));
                    }
                    Compiled::Pattern(parts)
                }
                Stage::Unpack => Compiled::Unpack,
                Stage::Labels(f) => Compiled::Labels(compile_filter(f)?),
                Stage::LineFormat(t) => Compiled::LineFormat(template(t)?),
                Stage::LabelFormat(list) => {
                    let mut out = Vec::new();
                    for l in list {
                        out.push((
                            l.name.clone(),
                            match &l.value {
                                LabelFormatValue::Rename(src) => Format::Rename(src.clone()),
                                LabelFormatValue::Template(t) => Format::Template(template(t)?),
                            },
                        ));
                    }
                    Compiled::LabelFormat(out)
                }
Stage::Decolorize => Compiled::Decolorize,
                Stage::Drop(list) | Stage::Keep(list) => {
                    let mut sel = Vec::new();
                    for s in list {
                        sel.push(match s {
                            LabelSelection::Name(n) => Selection::Name(n.clone()),
                            LabelSelection::Matcher(m) => {
                                let re = match m.op {
                                    MatchOp::Re | MatchOp::Nre => Some(anchored(&m.value)?),
                                    _ => None,
                                };
                                Selection::Matcher(m.name.clone(), m.op, m.value.clone(), re)
                            }
                        });
                    }
                    if matches!(s, Stage::Drop(_)) {
                        Compiled::Drop(sel)
                    } else {
                        Compiled::Keep(sel)
                    }
                }
            });
        }
        Ok(Pipeline { stages: out })
    }

    /// Runs the pipeline on `line` of a stream with `labels` and `metadata`: the labels and
    /// line it ends with, or `None` when a filter drops the line.
    pub(crate) fn run(
        &self,
        labels: &Labels,
        metadata: &[(String, String)],
        line: &str,
        ts: i64,
    ) -> Option<(Labels, String)> {
        // An empty label is no label (a stream `{app="s", name=""}` is `{app="s"}`).
        let mut labels: Labels = labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in metadata {
            add(&mut labels, k.clone(), v.clone());
        }
        let mut line = line.to_string();
        for s in &self.stages {
            match s {
                Compiled::Line(op, values) => {
                    let hit = |v: &LineValue| match v {
                        LineValue::Text(t, None) => line.contains(t.as_str()),
                        LineValue::Text(_, Some(re)) => re.is_match(&line),
                        LineValue::Pattern(p) => pattern_match(p, &line).1,
                        LineValue::Ip(p) => p.in_line(&line),
                    };
                    let pass = match op {
                        FilterOp::Contains | FilterOp::Match | FilterOp::Pattern => {
                            values.iter().any(hit)
                        }
                        FilterOp::NotContains | FilterOp::NotMatch | FilterOp::NotPattern => {
                            !values.iter().any(hit)
                        }
                    };
                    if !pass {
                        return None;
                    }
                }
                Compiled::Json(extractions) => {
                    if labels.contains_key(ERROR) {
                        continue;
                    }
                    match json::parse(&line) {
                        Ok(Json::Object(fields)) => {
                            if extractions.is_empty() {
                                let mut found = Vec::new();
                                flatten("", &fields, &mut found);
                                // A key given twice keeps its first value.
                                let mut seen = std::collections::BTreeSet::new();
                                for (k, v) in found {
                                    if seen.insert(k.clone()) {
                                        add(&mut labels, k, v);
                                    }
                                }
                            } else {
                                for e in extractions {
                                    let path =
                                        e.expression.clone().unwrap_or_else(|| e.name.clone());
                                    let v = json_path(&Json::Object(fields.clone()), &path);
                                    add(&mut labels, e.name.clone(), v.unwrap_or_default());
                                }
                            }
                        }
                        Ok(_) => set_error(
                            &mut labels,
                            "JSONParserErr",
                            "Value is not an object".into(),
                        ),
                        Err(e) => set_error(&mut labels, "JSONParserErr", e),
                    }
                }
                Compiled::Logfmt {
                    strict,
                    keep_empty,
                    extractions,
                } => {
                    if labels.contains_key(ERROR) {
                        continue;
                    }
                    match logfmt(&line, *strict) {
                        Ok(pairs) => {
                            let mut seen = std::collections::BTreeSet::new();
                            if extractions.is_empty() {
                                for (k, v) in pairs {
                                    let k = sanitize(&k);
                                    if (v.is_empty() && !keep_empty) || !seen.insert(k.clone()) {
                                        continue;
                                    }
                                    add(&mut labels, k, v);
                                }
                            } else {
                                for e in extractions {
                                    let key =
                                        e.expression.clone().unwrap_or_else(|| e.name.clone());
                                    if let Some((_, v)) = pairs.iter().find(|(k, _)| *k == key) {
                                        add(&mut labels, e.name.clone(), v.clone());
                                    }
                                }
                            }
                        }
                        Err(e) => set_error(&mut labels, "LogfmtParserErr", e),
                    }
                }
                Compiled::Regexp(re) => {
                    if let Some(c) = re.captures(&line) {
                        let found: Vec<(String, String)> = re
                            .capture_names()
                            .flatten()
                            .filter_map(|n| {
                                c.name(n).map(|m| (sanitize(n), m.as_str().to_string()))
                            })
                            .collect();
                        for (k, v) in found {
                            add(&mut labels, k, v);
                        }
                    }
                }
                Compiled::Pattern(parts) => {
                    let found: Vec<(String, String)> = pattern_match(parts, &line)
                        .0
                        .into_iter()
                        .filter_map(|(v, n)| n.map(|n| (n.clone(), v.to_string())))
                        .collect();
                    for (k, v) in found {
                        add(&mut labels, k, v);
                    }
                }
                Compiled::Unpack => {
                    if labels.contains_key(ERROR) {
                        continue;
                    }
                    match json::parse(&line) {
                        Ok(Json::Object(fields)) => {
                            let mut entry = None;
                            for (k, v) in fields {
                                if let Json::Str(s) = v {
                                    if k == "_entry" {
                                        entry = Some(s);
                                    } else {
                                        add(&mut labels, sanitize(&k), s);
                                    }
                                }
                            }
                            if let Some(e) = entry {
                                line = e;
                            }
                        }
                        Ok(_) => set_error(
                            &mut labels,
                            "JSONParserErr",
                            "Value is not an object".into(),
                        ),
                        Err(e) => set_error(&mut labels, "JSONParserErr", e),
                    }
                }
                Compiled::Labels(f) => {
                    if !f.test(&mut labels) {
                        return None;
                    }
                }
                Compiled::LineFormat(t) => match render(t, &labels, &line, ts) {
                    Ok(l) => line = l,
                    Err(e) => set_error(&mut labels, "TemplateFormatErr", e),
                },
                Compiled::LabelFormat(list) => {
                    let before = labels.clone();
                    for (name, f) in list {
                        match f {
                            Format::Rename(src) => {
                                let v = before.get(src).cloned().unwrap_or_default();
                                labels.remove(src);
                                labels.insert(name.clone(), v);
                            }
                            Format::Template(t) => match render(t, &before, &line, ts) {
                                Ok(v) => {
                                    labels.insert(name.clone(), v);
                                }
                                Err(e) => set_error(&mut labels, "TemplateFormatErr", e),
                            },
                        }
                    }
                }
                Compiled::Decolorize => line = decolorize(&line),
                Compiled::Drop(sel) => {
                    labels.retain(|k, v| !sel.iter().any(|s| s.selects(k, v)));
                }
                Compiled::Keep(sel) => {
                    labels.retain(|k, v| sel.iter().any(|s| s.selects(k, v)));
                }
            }
        }
        Some((labels, line))
    }
}

impl Selection {
    fn selects(&self, k: &str, v: &str) -> bool {
        match self {
            Selection::Name(n) => n == k,
            Selection::Matcher(n, op, value, re) => {
                n == k
                    && match op {
                        MatchOp::Eq => v == value,
                        MatchOp::Neq => v != value,
                        MatchOp::Re => re.as_ref().is_some_and(|r| r.is_match(v)),
                        MatchOp::Nre => !re.as_ref().is_some_and(|r| r.is_match(v)),
                    }
            }
        }
    }
}

/// A `line_format` or `label_format` template, parsed with Loki's functions.
fn template(text: &str) -> Result<Template, EvalError> {
    Template::parse_as("", text, Dialect::Loki).map_err(EvalError::Invalid)
}

/// `t` rendered for a line: its labels as `.`, `__line__` and `__timestamp__` at hand.
fn render(t: &Template, labels: &Labels, line: &str, ts: i64) -> Result<String, String> {
    let data = Value::labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    t.render(
        &data,
        &[
            ("$__line__", Value::Str(line.to_string())),
            ("$__timestamp__", Value::Time(ts, None)),
        ],
        None,
    )
}

/// Every leaf of a JSON object, keys joined with `_` (arrays are skipped), as Loki's `json`.
fn flatten(prefix: &str, fields: &[(String, Json)], out: &mut Vec<(String, String)>) {
    for (k, v) in fields {
        let key = if prefix.is_empty() {
            sanitize(k)
        } else {
            format!("{prefix}_{}", sanitize(k))
        };
        match v {
            Json::Object(inner) => flatten(&key, inner, out),
            Json::Array(_) => {}
            Json::Str(s) => out.push((key, s.clone())),
            Json::Number(n) => out.push((key, n.clone())),
            Json::Bool(b) => out.push((key, b.to_string())),
            Json::Null => {}
        }
    }
}

/// `a.b[0].c` (or `a["b"]`) of a JSON value, as text; `None` when the path leads nowhere.
fn json_path(v: &Json, path: &str) -> Option<String> {
    let mut cur = v;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let key = &r[..end];
            rest = &r[end + 1..];
            if let Ok(i) = key.parse::<usize>() {
                let Json::Array(a) = cur else { return None };
                cur = a.get(i)?;
            } else {
                let key = key.trim_matches(|c| c == '"' || c == '\'');
                let Json::Object(o) = cur else { return None };
                cur = &o.iter().find(|(k, _)| k == key)?.1;
            }
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = &rest[..end];
        rest = &rest[end..];
        let Json::Object(o) = cur else { return None };
        cur = &o.iter().find(|(k, _)| k == key)?.1;
    }
    Some(match cur {
        Json::Str(s) => s.clone(),
        Json::Number(n) => n.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Null => String::new(),
        Json::Object(_) | Json::Array(_) => return None,
    })
}

/// The `key=value` pairs of a logfmt line, in order; with `strict`, a malformed pair fails
/// the line, else it is skipped.
fn logfmt(line: &str, strict: bool) -> Result<Vec<(String, String)>, String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' && b[i] != b'"' {
            i += 1;
        }
        let key = &line[start..i];
        if i < b.len() && b[i] == b'"' {
            // A quote inside a key.
            if strict {
                return Err(format!(
                    "logfmt syntax error at pos {}: unexpected '\"'",
                    i + 1
                ));
            }
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            continue;
        }
        if key.is_empty() {
            if strict {
                return Err(format!(
                    "logfmt syntax error at pos {}: unexpected '='",
                    i + 1
                ));
            }
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            continue;
        }
        if i >= b.len() || b[i] == b' ' {
            out.push((key.to_string(), String::new()));
            continue;
        }
        i += 1; // '='
        if i < b.len() && b[i] == b'"' {
            let mut v = String::new();
            i += 1;
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    b'\\' if i + 1 < b.len() => {
                        v.push(match b[i + 1] {
                            b'n' => '\n',
                            b't' => '\t',
                            b'r' => '\r',
                            c => c as char,
                        });
                        i += 2;
                    }
                    _ => {
                        let ch = line[i..].chars().next().unwrap_or_default();
                        v.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            if !closed {
                if strict {
                    return Err(format!(
                        "logfmt syntax error at pos {}: unterminated quoted value",
                        i + 1
                    ));
                }
                continue;
            }
            out.push((key.to_string(), v));
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            let v = &line[vs..i];
            if v.contains('"') || v.contains('=') {
                if strict {
                    return Err(format!(
                        "logfmt syntax error at pos {}: unexpected character",
                        vs + 1
                    ));
                }
                continue;
            }
            out.push((key.to_string(), v.to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_log;

    fn run(query: &str, line: &str) -> Option<(Labels, String)> {
        let log = parse_log(query).expect("query");
        let p = Pipeline::new(&log.pipeline).expect("pipeline");
        let labels: Labels = [("app".to_string(), "api".to_string())].into();
        p.run(&labels, &[], line, 1_700_000_000_123_000_000)
    }

    #[test]
    fn line_and_label_format_render_lokis_templates() {
        let (_, line) = run(
            r#"{app="api"} | logfmt | line_format `{{.level | ToUpper}} {{ .path | trunc 4 }} {{ __line__ | len }} {{ regexReplaceAll "(\\d+)ms" .took "${1}" }}`"#,
            "level=warn path=/api/users took=15ms",
        )
        .expect("kept");
        assert_eq!(line, "WARN /api 36 15");
        let (labels, _) = run(
            r#"{app="api"} | logfmt | label_format dst=level, msg="{{ .app }}:{{ TrimSuffix .took \"ms\" }}", at="{{ __timestamp__ | unixEpochMillis }}""#,
            "level=warn took=15ms",
        )
        .expect("kept");
        assert_eq!(labels.get("dst").map(String::as_str), Some("warn"));
        assert!(!labels.contains_key("level"), "renamed away");
        assert_eq!(labels.get("msg").map(String::as_str), Some("api:15"));
        assert_eq!(labels.get("at").map(String::as_str), Some("1700000000123"));
        // A template that fails at run time marks the line, as Loki does.
        let (labels, _) = run(r#"{app="api"} | line_format "{{ div 1 0 }}""#, "x").expect("kept");
        assert_eq!(
            labels.get(ERROR).map(String::as_str),
            Some("TemplateFormatErr")
        );
        // A template naming no function Loki has is refused before any line is read.
        let log = parse_log(r#"{app="api"} | line_format "{{ nosuch .x }}""#).expect("parses");
        assert!(Pipeline::new(&log.pipeline).is_err());
    }
}
