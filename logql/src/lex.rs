//! LogQL's tokens as Loki's lexer makes them: keywords, function names (only when a `(`
//! follows, so `rate` may name a label), strings (Go's quoted and raw forms), numbers,
//! durations and byte sizes, `[5m]` ranges as one token, and `#` comments.

use crate::duration::{parse_bytes, parse_duration};

/// A token's kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A keyword or operator, by its text (`by`, `json`, `|=`, `{` …).
    Sym(&'static str),
    /// A function name followed by `(` (`rate`, `sum`, `ip` …).
    Func(&'static str),
    Ident(String),
    Str(String),
    /// A number as written.
    Number(String),
    /// A duration (nanoseconds) and its text.
    Duration(i64, String),
    /// A byte size and its text.
    Bytes(u64, String),
    /// `[5m]`: the duration in nanoseconds and its text.
    Range(i64, String),
    /// `--strict`, `--keep-empty`.
    Flag(&'static str),
    End,
}

impl Tok {
    /// The token's name in a syntax error, as Loki's parser names it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Sym(s) | Tok::Func(s) | Tok::Flag(s) => (*s).to_string(),
            Tok::Ident(_) => "IDENTIFIER".into(),
            Tok::Str(_) => "STRING".into(),
            Tok::Number(_) => "NUMBER".into(),
            Tok::Duration(..) => "DURATION".into(),
            Tok::Bytes(..) => "BYTES".into(),
            Tok::Range(..) => "RANGE".into(),
            Tok::End => "$end".into(),
        }
    }
}

/// A token with where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

/// A lexing error: message, line, column (Loki's positions; 0 where Loki gives none).
pub(crate) type LexError = (String, usize, usize);

const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "bool",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "and",
    "or",
    "unless",
    "json",
    "logfmt",
    "regexp",
    "pattern",
    "unpack",
    "unwrap",
    "line_format",
    "label_format",
    "decolorize",
    "drop",
    "keep",
];

/// Range aggregations.
pub(crate) const RANGE_OPS: &[&str] = &[
    "rate",
    "rate_counter",
    "count_over_time",
    "bytes_rate",
    "bytes_over_time",
    "avg_over_time",
    "sum_over_time",
    "min_over_time",
    "max_over_time",
    "stdvar_over_time",
    "stddev_over_time",
    "quantile_over_time",
    "first_over_time",
    "last_over_time",
    "absent_over_time",
];

/// Names that are functions when `(` follows (vector aggregations also before `by`/`without`):
/// the aggregations and these.
const OTHER_FUNCTIONS: &[&str] = &[
    "bytes",
    "duration",
    "duration_seconds",
    "label_replace",
    "vector",
    "ip",
];

/// Vector aggregations.
pub(crate) const VECTOR_OPS: &[&str] = &[
    "sum",
    "avg",
    "count",
    "max",
    "min",
    "stddev",
    "stdvar",
    "bottomk",
    "topk",
    "sort",
    "sort_desc",
    "approx_topk",
];

const OPERATORS: &[&str] = &[
    "|=", "|~", "|>", "!=", "!~", "!>", "=~", "==", "<=", ">=", "|", "=", "<", ">", "+", "-", "*",
    "/", "%", "^", ",", "(", ")", "{", "}",
];

/// The tokens of `q`, ending with [`Tok::End`].
pub(crate) fn lex(q: &str) -> Result<Vec<Token>, LexError> {
    let b = q.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let col = |i: usize, line_start: usize| q[line_start..i].chars().count() + 1;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            i += 1;
            line += 1;
            line_start = i;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let at = col(i, line_start);
        let push = |out: &mut Vec<Token>, tok: Tok| out.push(Token { tok, line, col: at });
        match c {
            b'"' => {
                let (s, used) =
                    quoted(&q[i..]).ok_or(("literal not terminated".to_string(), line, at))?;
                push(&mut out, Tok::Str(s));
                i += used;
            }
            b'`' => {
                let end =
                    q[i + 1..]
                        .find('`')
                        .ok_or(("literal not terminated".to_string(), line, at))?;
                push(&mut out, Tok::Str(q[i + 1..i + 1 + end].to_string()));
                line += q[i + 1..i + 1 + end].matches('\n').count();
                i += end + 2;
            }
            b'[' => {
                let Some(end) = q[i + 1..].find(']') else {
                    return Err(("missing closing ']' in duration".into(), 0, at));
                };
                let text = q[i + 1..i + 1 + end].trim();
                let ns = parse_duration(text).map_err(|e| (e, 0, at))?;
                push(&mut out, Tok::Range(ns, text.to_string()));
                i += end + 2;
            }
            b'-' if q[i..].starts_with("--strict") || q[i..].starts_with("--keep-empty") => {
                let flag = if q[i..].starts_with("--strict") {
                    "--strict"
                } else {
                    "--keep-empty"
                };
                push(&mut out, Tok::Flag(flag));
                i += flag.len();
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let start = i;
                // The word the number begins (a duration or byte size goes on in letters).
                let mut word_end = i;
                while word_end < b.len()
                    && (b[word_end].is_ascii_alphanumeric()
                        || b[word_end] == b'.'
                        || b[word_end] == b'_')
                {
                    word_end += 1;
                }
                while q[word_end..].starts_with('µ') {
                    word_end += 'µ'.len_utf8();
                    while word_end < b.len() && b[word_end].is_ascii_alphanumeric() {
                        word_end += 1;
                    }
                }
                let word = &q[start..word_end];
                let plain = word.bytes().all(|c| c.is_ascii_digit() || c == b'.');
                let tok = match (parse_duration(word), parse_bytes(word)) {
                    (Ok(ns), _) if !plain => {
                        i = word_end;
                        Tok::Duration(ns, word.to_string())
                    }
                    (_, Some(n)) => {
                        i = word_end;
                        Tok::Bytes(n, word.to_string())
                    }
                    _ => {
                        // A number as Go's scanner reads one; letters after it begin the next
                        // token (`1mb` is a number and an identifier).
                        i = number_end(q, start);
                        Tok::Number(q[start..i].to_string())
                    }
                };
                push(&mut out, tok);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                let word = &q[start..i];
                let next = q[i..].trim_start();
                let tok = if let Some(k) = KEYWORDS.iter().find(|k| **k == word) {
                    Tok::Sym(k)
                } else if let Some(f) = [RANGE_OPS, VECTOR_OPS, OTHER_FUNCTIONS]
                    .iter()
                    .flat_map(|l| l.iter())
                    .find(|f| **f == word)
                {
                    let vector_op = VECTOR_OPS.contains(f)
                        && (next.starts_with("by") || next.starts_with("without"));
                    if next.starts_with('(') || vector_op {
                        Tok::Func(f)
                    } else {
                        Tok::Ident(word.to_string())
                    }
                } else {
                    Tok::Ident(word.to_string())
                };
                push(&mut out, tok);
            }
            _ => {
                let Some(op) = OPERATORS.iter().find(|o| q[i..].starts_with(**o)) else {
                    let ch = q[i..].chars().next().unwrap_or_default();
                    return Err((format!("unexpected char {ch:?}"), line, at));
                };
                push(&mut out, Tok::Sym(op));
                i += op.len();
            }
        }
    }
    let at = col(q.len(), line_start);
    out.push(Token {
        tok: Tok::End,
        line,
        col: at,
    });
    Ok(out)
}

/// Where the number starting at `start` ends: decimal digits with a fraction and an exponent,
/// or `0x` and hexadecimal digits with a fraction and a `p` exponent.
fn number_end(q: &str, start: usize) -> usize {
    let b = q.as_bytes();
    let mut i = start;
    // Go's binary and octal integers: numbers to its scanner, not to `ParseFloat`.
    if ["0b", "0B", "0o", "0O"]
        .iter()
        .any(|p| q[start..].starts_with(p))
    {
        i += 2;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        return i;
    }
    if q[start..].starts_with("0x") || q[start..].starts_with("0X") {
        i += 2;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'.') {
            i += 1;
        }
        if i < b.len() && (b[i] == b'p' || b[i] == b'P') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        return i;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

/// A Go double-quoted string at the start of `s`: its value and how many bytes it took.
fn quoted(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let v = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(v)?);
                    }
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + chars.next()?.1.to_digit(8)?;
                        }
                        out.push(char::from_u32(v)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}
