//! TraceQL's tokens as Tempo's lexer makes them: Go's scanner for numbers, strings (quoted and
//! raw) and comments; durations read on from a number (`1h30m`, `1.5ms`); keywords; scope
//! prefixes (`span:` before an intrinsic); and attribute references as one token, their names
//! running until whitespace or one of `{}()=~!<>&|^,`, with quoted parts (`."a b"`).

use crate::ast::{Attribute, Scope};
use crate::duration::parse_duration;
use crate::error::Error;

mod strings;

/// A token's kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An operator or punctuation (`&&`, `!>>`, `{` …).
    Sym(&'static str),
    /// A keyword (`true`, `duration`, `rate`, `with` …).
    Word(&'static str),
    /// `trace:`, `span:`, `event:`, `link:` or `instrumentation:`, by its scope name.
    ScopeColon(&'static str),
    /// `.name`, `span.name`, `parent.resource.name` …
    Attr(Attribute),
    /// Any other word.
    Ident(String),
    /// A string, unquoted.
    Str(String),
    Int(i64),
    Float(f64),
    /// A duration in nanoseconds.
    Duration(i64),
    End,
}

impl Tok {
    /// The token's name in a syntax error.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Sym(s) | Tok::Word(s) => (*s).to_string(),
            Tok::ScopeColon(s) => format!("{s}:"),
            Tok::Attr(_) => "attribute".into(),
            Tok::Ident(s) => format!("IDENTIFIER {s}"),
            Tok::Str(_) => "STRING".into(),
            Tok::Int(_) => "INTEGER".into(),
            Tok::Float(_) => "FLOAT".into(),
            Tok::Duration(_) => "DURATION".into(),
            Tok::End => "end of query".into(),
        }
    }
}

/// Where a token starts: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) col: usize,
}

impl Pos {
    /// A syntax error here.
    pub(crate) fn error(self, message: impl Into<String>) -> Error {
        Error::Parse {
            message: message.into(),
            line: self.line,
            col: self.col,
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
}

const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "nil",
    "ok",
    "error",
    "unset",
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
    "duration",
    "childCount",
    "name",
    "status",
    "statusMessage",
    "kind",
    "rootName",
    "rootServiceName",
    "rootService",
    "traceDuration",
    "nestedSetLeft",
    "nestedSetRight",
    "nestedSetParent",
    "id",
    "traceID",
    "spanID",
    "parentID",
    "timeSinceStart",
    "version",
    "parent",
    "count",
    "avg",
    "max",
    "min",
    "sum",
    "by",
    "coalesce",
    "select",
    "rate",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "avg_over_time",
    "sum_over_time",
    "quantile_over_time",
    "histogram_over_time",
    "compare",
    "topk",
    "bottomk",
    "with",
];

/// Longest first, so that `!>>` wins over `!>` and `!`.
const SYMBOLS: &[&str] = &[
    "&>>", "&<<", "!>>", "!<<", "&&", "&>", "&<", "&~", "||", ">>", "<<", ">=", "<=", "!=", "!~",
    "!>", "!<", "=~", "|", ">", "<", "=", "!", "~", "+", "-", "*", "/", "%", "^", "(", ")", "{",
    "}", ",",
];

/// Scopes written `scope.name` before an attribute.
const ATTRIBUTE_SCOPES: &[(&str, Scope)] = &[
    ("span", Scope::Span),
    ("resource", Scope::Resource),
    ("event", Scope::Event),
    ("link", Scope::Link),
    ("instrumentation", Scope::Instrumentation),
];

/// Scopes written `scope:name` before an intrinsic.
const INTRINSIC_SCOPES: &[&str] = &["trace", "span", "event", "link", "instrumentation"];

/// Whether `c` may appear unquoted in an attribute name.
pub(crate) fn is_attribute_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ','
        )
}

/// Whether `c` may continue a duration after its first number (Tempo's duration runes).
fn is_duration_char(c: char) -> bool {
    c.is_ascii_digit()
        || c == '.'
        || matches!(c, 'n' | 's' | 'u' | 'm' | 'h' | 'µ' | 'd' | 'w' | 'y')
}

struct Lexer<'a> {
    src: &'a str,
    at: usize,
    line: usize,
    col: usize,
}

/// The tokens of `q`, ending with [`Tok::End`].
pub(crate) fn lex(q: &str) -> Result<Vec<Token>, Error> {
    let mut l = Lexer {
        src: q,
        at: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        l.skip_space()?;
        let pos = l.pos();
        let Some(c) = l.peek() else {
            out.push(Token { tok: Tok::End, pos });
            return Ok(out);
        };
        let tok = if c.is_ascii_digit()
            || (c == '.' && l.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
        {
            l.number(pos)?
        } else if c == '.' {
            l.bump();
            l.attribute(Scope::None, false, pos)?
        } else if c == '"' {
            Tok::Str(l.string(pos)?)
        } else if c == '`' {
            Tok::Str(l.raw_string(pos)?)
        } else if c == '_' || c.is_alphabetic() {
            l.word(pos)?
        } else if let Some(s) = SYMBOLS.iter().find(|s| l.rest().starts_with(**s)) {
            for _ in 0..s.len() {
                l.bump();
            }
            Tok::Sym(s)
        } else {
            return Err(pos.error(format!("syntax error: unexpected character {c:?}")));
        };
        out.push(Token { tok, pos });
    }
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.src[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    /// Skips whitespace and Go's `//` and `/* */` comments.
    fn skip_space(&mut self) -> Result<(), Error> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r') => {
                    self.bump();
                }
                Some('/') if self.peek_at(1) == Some('/') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                Some('/') if self.peek_at(1) == Some('*') => {
                    let pos = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        if self.rest().starts_with("*/") {
                            self.bump();
                            self.bump();
                            break;
                        }
                        if self.bump().is_none() {
                            return Err(pos.error("comment not terminated"));
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// A number as Go's scanner reads one (digits, a fraction, an exponent), then, when
    /// duration characters follow up to whitespace, a duration if they make one.
    fn number(&mut self, pos: Pos) -> Result<Tok, Error> {
        let start = self.at;
        let mut float = false;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek() == Some('.') {
            float = true;
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let signed = matches!(self.peek_at(1), Some('+' | '-'));
            let digit_at = if signed { 2 } else { 1 };
            if self.peek_at(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                float = true;
                for _ in 0..digit_at {
                    self.bump();
                }
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
        }
        let number = &self.src[start..self.at];
        let run: String = self
            .rest()
            .chars()
            .take_while(|c| is_duration_char(*c))
            .collect();
        if !run.is_empty() {
            if let Some(ns) = parse_duration(&format!("{number}{run}")) {
                for _ in run.chars() {
                    self.bump();
                }
                return Ok(Tok::Duration(ns));
            }
        }
        if float {
            match number.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
                _ => Err(pos.error(format!(
                    "strconv.ParseFloat: parsing {number:?}: value out of range"
                ))),
            }
        } else {
            number.parse::<i64>().map(Tok::Int).map_err(|_| {
                pos.error(format!(
                    "strconv.Atoi: parsing {number:?}: value out of range"
                ))
            })
        }
    }

    /// A keyword, an identifier, a scope prefix (`span:`) or a scoped attribute (`span.a`).
    fn word(&mut self, pos: Pos) -> Result<Tok, Error> {
        let start = self.at;
        while self.peek().is_some_and(|c| c == '_' || c.is_alphanumeric()) {
            self.bump();
        }
        let word = &self.src[start..self.at];
        match self.peek() {
            Some('.') => {
                let scope = ATTRIBUTE_SCOPES.iter().find(|(s, _)| *s == word);
                if let Some((_, scope)) = scope {
                    self.bump();
                    return self.attribute(*scope, false, pos);
                }
                if word == "parent" {
                    self.bump();
                    return self.attribute(Scope::None, true, pos);
                }
            }
            Some(':') => {
                if let Some(s) = INTRINSIC_SCOPES.iter().find(|s| **s == word) {
                    self.bump();
                    return Ok(Tok::ScopeColon(s));
                }
            }
            _ => {}
        }
        Ok(match KEYWORDS.iter().find(|k| **k == word) {
            Some(k) => Tok::Word(k),
            None => Tok::Ident(word.to_string()),
        })
    }

    /// The rest of an attribute reference, after its `.`: for `parent.` a `span.` or
    /// `resource.` scope, then the name.
    fn attribute(&mut self, mut scope: Scope, parent: bool, pos: Pos) -> Result<Tok, Error> {
        if parent {
            for (prefix, s) in [("span.", Scope::Span), ("resource.", Scope::Resource)] {
                if self.rest().starts_with(prefix) {
                    for _ in 0..prefix.len() {
                        self.bump();
                    }
                    scope = s;
                    break;
                }
            }
        }
        let mut name = String::new();
        let mut quoted = false;
        loop {
            match self.peek() {
                Some('"') => {
                    quoted = true;
                    let at = self.pos();
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(at.error("unexpected EOF, expecting \"")),
                            Some('"') => break,
                            Some('\\') => match self.bump() {
                                Some(c @ ('"' | '\\')) => name.push(c),
                                _ => return Err(at.error("invalid escape sequence")),
                            },
                            Some(c) => name.push(c),
                        }
                    }
                }
                Some(c) if is_attribute_char(c) => {
                    name.push(c);
                    self.bump();
                }
                _ => break,
            }
        }
        if name.is_empty() && !quoted {
            let next = self
                .peek()
                .map_or("end of query".to_string(), |c| format!("{c:?}"));
            return Err(pos.error(format!(
                "syntax error: unexpected {next}, expecting an attribute name"
            )));
        }
        Ok(Tok::Attr(Attribute {
            scope,
            parent,
            name,
        }))
    }
}

#[cfg(test)]
mod tests;
