//! The line parsers' own work: logfmt pairs, JSON leaves and paths, pattern captures, label
//! names made of keys, ANSI colours removed.

use super::error::EvalError;
use super::json::Json;

#[derive(Debug, Clone)]
pub(super) enum PatternPart {
    Literal(String),
    Capture(Option<String>),
}

pub(super) fn pattern(p: &str) -> Result<Vec<PatternPart>, EvalError> {
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
pub(super) fn pattern_match<'a>(
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

/// `line` without its ANSI escape sequences (`ESC [ … letter`).
pub(super) fn decolorize(line: &str) -> String {
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

/// A label name Loki makes of a parsed key (`common::label_name::sanitize`).
pub(super) fn sanitize(key: &str) -> String {
    common::label_name::sanitize(key)
}

/// Every leaf of a JSON object, keys joined with `_` (arrays are skipped), as Loki's `json`.
pub(super) fn flatten(prefix: &str, fields: &[(String, Json)], out: &mut Vec<(String, String)>) {
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
pub(super) fn json_path(v: &Json, path: &str) -> Option<String> {
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
pub(super) fn logfmt(line: &str, strict: bool) -> Result<Vec<(String, String)>, String> {
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
