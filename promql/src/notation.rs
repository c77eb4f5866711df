//! Prometheus's series notation, as its test scripts and `promtool test rules` write input
//! series: `name{label="value"} 0+10x5 _ stale 1e3`: a metric, then values with expansions
//! (`a+bxN` is N+1 values from a by b, `_` an omitted value, `stale` a staleness marker,
//! `{{…}}` a native histogram).

use crate::value::parse_number;

/// Labels as written, sorted by name; the metric name is the `__name__` label.
pub type Pairs = Vec<(String, String)>;

/// A series description: labels and a sequence of values.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    /// Sorted labels (with `__name__` when the line names a metric).
    pub labels: Pairs,
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

/// Decodes a Go string literal: `"…"` with escapes or `` `…` `` raw.
pub fn unquote(s: &str) -> Result<String, String> {
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
pub fn parse_metric(s: &str) -> Result<(Pairs, &str), String> {
    let s = s.trim_start();
    let name_len = s
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '.')))
        .map_or(s.len(), |(i, _)| i);
    let mut labels: Pairs = Vec::new();
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
