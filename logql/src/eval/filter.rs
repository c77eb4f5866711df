//! Label filters as Loki runs them: string matchers, `ip()`, and numbers, durations and byte
//! sizes converted from label values (with Loki's errors when a value does not convert).

use std::net::IpAddr;

use regex::Regex;

use super::error::EvalError;
use super::model::{Labels, ERROR, ERROR_DETAILS};
use crate::ast::*;
use crate::duration::parse_duration;

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

/// An address, a range `a-b`, or a CIDR.
#[derive(Debug, Clone)]
pub(crate) enum IpPattern {
    One(IpAddr),
    Range(IpAddr, IpAddr),
    Cidr(IpAddr, u8),
}

pub(super) fn anchored(re: &str) -> Result<Regex, EvalError> {
    Regex::new(&format!("^(?:{re})$"))
        .map_err(|e| EvalError::Invalid(format!("error parsing regexp: {e}")))
}

pub(super) fn ip_pattern(p: &str) -> Result<IpPattern, EvalError> {
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
    pub(super) fn in_line(&self, line: &str) -> bool {
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

pub(super) fn set_error(labels: &mut Labels, error: &str, details: String) {
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
