//! Alertmanager's label matchers (`matcher/parse`): `{name="value", other=~"re.*"}` with or
//! without braces, names and values quoted (Go string escapes, UTF-8) or bare (any text without
//! reserved characters), trailing commas allowed; errors worded as Alertmanager words them, with
//! the start and end column (in characters) of the offending token. Regular expressions are
//! anchored (`^(?:…)$`), as Alertmanager anchors them.

use std::fmt;

use regex::Regex;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label's name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or regular expression as written.
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// A matcher; a regular expression that does not compile is an error.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, String> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("error parsing regexp: {e}"))?,
            ),
            _ => None,
        };
        Ok(Self {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Whether a label value (empty when the label is absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            _ => false,
        }
    }
}

impl fmt::Display for Matcher {
    /// As Alertmanager prints a matcher: the name bare when it is a classic label name, the
    /// value always quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classic =
            !self.name.is_empty()
                && self.name.chars().enumerate().all(|(i, c)| {
                    c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                });
        if classic {
            f.write_str(&self.name)?;
        } else {
            f.write_str(&go_quote(&self.name))?;
        }
        write!(f, "{}{}", self.op.as_str(), go_quote(&self.value))
    }
}

/// `s` as Go's `strconv.Quote` writes it (printable UTF-8 kept, `\"`, `\\`, `\n`, `\t` …).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() => {
                let n = c as u32;
                if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    Open,
    Close,
    Comma,
    Equal,
    NotEqual,
    Regex,
    NotRegex,
    Quoted,
    Bare,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    /// Columns (characters) where it starts and ends.
    from: usize,
    to: usize,
}

/// Characters that end a bare name or value.
fn reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// The lexer: byte offsets of the token being scanned and the cursor, with their columns.
#[derive(Clone)]
struct Lexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    start_col: usize,
    col: usize,
    failed: Option<String>,
}

impl<'a> Lexer<'a> {
    fn peek_char(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        self.col += 1;
        Some(c)
    }

    fn emit(&mut self, kind: Kind) -> Token<'a> {
        let t = Token {
            kind,
            text: &self.input[self.start..self.pos],
            from: self.start_col,
            to: self.col,
        };
        self.start = self.pos;
        self.start_col = self.col;
        t
    }

    /// The text scanned so far in the current token, with its columns, for an error.
    fn here(&self) -> (usize, usize, &'a str) {
        (self.start_col, self.col, &self.input[self.start..self.pos])
    }

    fn scan(&mut self) -> Result<Token<'a>, String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.scan_token();
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn scan_token(&mut self) -> Result<Token<'a>, String> {
        while let Some(c) = self.peek_char() {
            match c {
                '{' | '}' | ',' => {
                    self.bump();
                    return Ok(self.emit(match c {
                        '{' => Kind::Open,
                        '}' => Kind::Close,
                        _ => Kind::Comma,
                    }));
                }
                '=' | '!' => return self.operator(),
                '"' => return self.quoted(),
                c if !reserved(c) => {
                    while self.peek_char().is_some_and(|c| !reserved(c)) {
                        self.bump();
                    }
                    return Ok(self.emit(Kind::Bare));
                }
                c if c.is_whitespace() => {
                    self.bump();
                    self.start = self.pos;
                    self.start_col = self.col;
                }
                _ => {
                    self.bump();
                    let (from, to, text) = self.here();
                    return Err(format!("{from}:{to}: {text}: invalid input"));
                }
            }
        }
        Ok(self.emit(Kind::Eof))
    }

    fn expected(&self, what: &str) -> String {
        let (from, to, text) = self.here();
        if self.pos >= self.input.len() {
            format!("{from}:{to}: unexpected end of input, expected one of '{what}'")
        } else {
            format!("{from}:{to}: {text}: expected one of '{what}'")
        }
    }

    fn operator(&mut self) -> Result<Token<'a>, String> {
        if self.bump() == Some('!') {
            return match self.peek_char() {
                Some('=') => {
                    self.bump();
                    Ok(self.emit(Kind::NotEqual))
                }
                Some('~') => {
                    self.bump();
                    Ok(self.emit(Kind::NotRegex))
                }
                _ => Err(self.expected("=~")),
            };
        }
        if self.peek_char() == Some('~') {
            self.bump();
            return Ok(self.emit(Kind::Regex));
        }
        Ok(self.emit(Kind::Equal))
    }

    fn quoted(&mut self) -> Result<Token<'a>, String> {
        self.bump();
        let mut escaped = false;
        loop {
            match self.peek_char() {
                None => {
                    let (from, to, text) = self.here();
                    return Err(format!("{from}:{to}: {text}: missing end \""));
                }
                Some('"') if !escaped => {
                    self.bump();
                    return Ok(self.emit(Kind::Quoted));
                }
                Some(c) => {
                    escaped = !escaped && c == '\\';
                    self.bump();
                }
            }
        }
    }

    fn peek(&mut self) -> Result<Token<'a>, String> {
        let saved = self.clone();
        let t = self.scan();
        let failed = self.failed.take();
        *self = saved;
        self.failed = failed;
        t
    }
}

/// Go's `strconv.Unquote` of a double-quoted string, then a UTF-8 check; `None` when either
/// fails.
pub fn go_unquote(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut bytes = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return None,
            '\\' => {
                let e = chars.next()?;
                let mut hex = |n: usize| -> Option<u32> {
                    let digits: String = chars.by_ref().take(n).collect();
                    (digits.len() == n).then_some(())?;
                    u32::from_str_radix(&digits, 16).ok()
                };
                match e {
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'f' => bytes.push(12),
                    'n' => bytes.push(b'\n'),
                    'r' => bytes.push(b'\r'),
                    't' => bytes.push(b'\t'),
                    'v' => bytes.push(11),
                    '\\' => bytes.push(b'\\'),
                    '"' => bytes.push(b'"'),
                    'x' => bytes.push(u8::try_from(hex(2)?).ok()?),
                    'u' | 'U' => {
                        let c = char::from_u32(hex(if e == 'u' { 4 } else { 8 })?)?;
                        bytes.extend_from_slice(c.to_string().as_bytes());
                    }
                    '0'..='7' => {
                        let rest: String = chars.by_ref().take(2).collect();
                        let digits = format!("{e}{rest}");
                        if digits.len() != 3 {
                            return None;
                        }
                        bytes.push(u8::try_from(u32::from_str_radix(&digits, 8).ok()?).ok()?);
                    }
                    _ => return None,
                }
            }
            c => bytes.extend_from_slice(c.to_string().as_bytes()),
        }
    }
    String::from_utf8(bytes).ok()
}

fn text_of(t: &Token<'_>) -> Result<String, String> {
    match t.kind {
        Kind::Quoted => go_unquote(t.text)
            .ok_or_else(|| format!("{}:{}: {}: invalid input", t.from, t.to, t.text)),
        _ => Ok(t.text.to_string()),
    }
}

/// The parser's states, as Alertmanager's automaton has them.
#[derive(Debug, Clone, Copy)]
enum State {
    OpenBrace,
    Matcher,
    EndOfMatcher,
    Comma,
    CloseBrace,
    Eof,
}

const NO_CLOSE_BRACE: &str = "expected close brace";
const NO_OPEN_BRACE: &str = "expected opening brace";

/// The next token if it is one of `kinds` (not consumed): `Err(None)` at the end of the input,
/// `Err(Some(message))` for another token or a lexing error.
fn expect_peek<'a>(l: &mut Lexer<'a>, kinds: &[Kind]) -> Result<Token<'a>, Option<String>> {
    let t = l.peek().map_err(Some)?;
    if t.kind == Kind::Eof {
        return Err(None);
    }
    if !kinds.contains(&t.kind) {
        return Err(Some(format!("{}:{}: unexpected {}", t.from, t.to, t.text)));
    }
    Ok(t)
}

fn expect<'a>(l: &mut Lexer<'a>, kinds: &[Kind]) -> Result<Token<'a>, Option<String>> {
    let t = expect_peek(l, kinds)?;
    let _ = l.scan();
    Ok(t)
}

/// `error` (or "end of input") followed by `context`, as Go's `%w: %w`.
fn wrap(error: Option<String>, context: &str) -> String {
    format!(
        "{}: {context}",
        error.unwrap_or_else(|| "end of input".into())
    )
}

/// Parses one or more matchers, as Alertmanager's `parse.Matchers`.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    let mut l = Lexer {
        input,
        start: 0,
        pos: 0,
        start_col: 0,
        col: 0,
        failed: None,
    };
    let mut out = Vec::new();
    let mut braced = false;
    let mut state = State::OpenBrace;
    loop {
        state = match state {
            State::OpenBrace => {
                let t = l.peek()?;
                if t.kind == Kind::Eof {
                    State::Eof
                } else {
                    if t.kind == Kind::Open {
                        braced = true;
                        l.scan()?;
                    }
                    match l.peek()?.kind {
                        Kind::Eof | Kind::Close => State::CloseBrace,
                        _ => State::Matcher,
                    }
                }
            }
            State::CloseBrace => {
                let closed = expect(&mut l, &[Kind::Close]);
                match (braced, closed) {
                    (true, Err(e)) => {
                        return Err(format!("0:{}: {}", l.col, wrap(e, NO_CLOSE_BRACE)));
                    }
                    (false, Ok(_)) => return Err(format!("0:{}: }}: {NO_OPEN_BRACE}", l.col)),
                    _ => State::Eof,
                }
            }
            State::Matcher => {
                let t = expect(&mut l, &[Kind::Quoted, Kind::Bare])
                    .map_err(|e| wrap(e, "expected label name"))?;
                let name = text_of(&t)?;
                let t = expect(
                    &mut l,
                    &[Kind::Equal, Kind::NotEqual, Kind::Regex, Kind::NotRegex],
                )
                .map_err(|e| wrap(e, "expected an operator such as '=', '!=', '=~' or '!~'"))?;
                let op = match t.kind {
                    Kind::Equal => MatchOp::Equal,
                    Kind::NotEqual => MatchOp::NotEqual,
                    Kind::Regex => MatchOp::Regex,
                    _ => MatchOp::NotRegex,
                };
                let t = expect(&mut l, &[Kind::Bare, Kind::Quoted])
                    .map_err(|e| wrap(e, "expected label value"))?;
                let value = text_of(&t)?;
                out.push(
                    Matcher::new(&name, op, &value)
                        .map_err(|e| format!("failed to create matcher: {e}"))?,
                );
                State::EndOfMatcher
            }
            State::EndOfMatcher => match expect_peek(&mut l, &[Kind::Comma, Kind::Close]) {
                Err(None) => State::CloseBrace,
                Err(e) => return Err(wrap(e, "expected a comma or close brace")),
                Ok(t) if t.kind == Kind::Comma => State::Comma,
                Ok(_) => State::CloseBrace,
            },
            State::Comma => {
                expect(&mut l, &[Kind::Comma]).map_err(|e| wrap(e, "expected a comma"))?;
                match expect_peek(&mut l, &[Kind::Close, Kind::Bare, Kind::Quoted]) {
                    Err(None) => State::CloseBrace,
                    Err(e) => return Err(wrap(e, "expected a matcher or close brace after comma")),
                    Ok(t) if t.kind == Kind::Close => State::CloseBrace,
                    Ok(_) => State::Matcher,
                }
            }
            State::Eof => {
                let t = l
                    .scan()
                    .map_err(|e| format!("{e}: expected end of input"))?;
                if t.kind != Kind::Eof {
                    return Err(format!(
                        "{}:{}: {}: expected end of input",
                        t.from, t.to, t.text
                    ));
                }
                return Ok(out);
            }
        };
    }
}

/// Parses exactly one matcher, as Alertmanager's `parse.Matcher`.
pub fn parse_matcher(input: &str) -> Result<Matcher, String> {
    let mut m = parse_matchers(input)?;
    match m.len() {
        1 => Ok(m.remove(0)),
        0 => Err("no matchers".into()),
        n => Err(format!("expected 1 matcher, found {n}")),
    }
}

/// Alertmanager's classic matcher parser (`pkg/labels.ParseMatchers`, before 0.27): the input
/// split at commas outside quotes, each part `name op value` with a classic label name, the
/// value quoted or not, `\n`, `\"` and `\\` unescaped and any other backslash kept.
pub fn parse_classic(input: &str) -> Result<Vec<Matcher>, String> {
    let s = input.strip_prefix('{').unwrap_or(input);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let (mut quoted, mut escaped) = (false, false);
    let mut token = String::new();
    for c in s.chars() {
        match c {
            ',' if !quoted => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    quoted = !quoted;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    if !token.trim().is_empty() {
        tokens.push(token);
    }
    tokens.iter().map(|t| classic_matcher(t)).collect()
}

fn classic_matcher(s: &str) -> Result<Matcher, String> {
    let bad = || format!("bad matcher format: {s}");
    let t = s.trim_start();
    let name_len = t
        .char_indices()
        .find(|&(i, c)| {
            !(c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(t.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(bad());
    }
    let (name, rest) = t.split_at(name_len);
    let rest = rest.trim_start();
    let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchOp::Regex, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchOp::Equal, r)
    } else {
        return Err(bad());
    };
    let raw = rest.trim();
    let (raw, mut expect_quote) = match raw.strip_prefix('"') {
        Some(r) => (r, true),
        None => (raw, false),
    };
    let unescaped_quote = || {
        format!(
            "matcher value contains unescaped double quote: {}",
            rest.trim()
        )
    };
    let mut value = String::new();
    let mut escaped = false;
    let chars: Vec<char> = raw.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if i + 1 < chars.len() => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_quote || i + 1 < chars.len() {
                    return Err(unescaped_quote());
                }
                expect_quote = false;
            }
            c => value.push(c),
        }
    }
    if expect_quote {
        return Err(unescaped_quote());
    }
    Matcher::new(name, op, &value)
}

/// How Alertmanager 0.27 and later read matchers in configuration files and API filters by
/// default (`compat`'s fallback mode): both parsers run; when the classic one accepts the input
/// its matchers are used (so `instance=~"host\d+"`, which the new parser refuses, still works),
/// otherwise the new parser's; when both refuse it, the classic parser's error is returned.
pub fn parse_compat(input: &str) -> Result<Vec<Matcher>, String> {
    match (parse_classic(input), parse_matchers(input)) {
        (Ok(classic), _) => Ok(classic),
        (Err(_), Ok(utf8)) => Ok(utf8),
        (Err(e), Err(_)) => Err(e),
    }
}

#[cfg(test)]
mod classic_tests {
    use super::*;

    fn one(input: &str) -> (String, MatchOp, String) {
        let m = parse_compat(input).expect("parses");
        assert_eq!(m.len(), 1, "{m:?}");
        (m[0].name.clone(), m[0].op, m[0].value.clone())
    }

    #[test]
    fn classic_forms_read_as_alertmanager_reads_them() {
        // A regex escape the new parser refuses, kept as written by the classic one.
        assert_eq!(
            one(r#"instance=~"host\d+""#),
            ("instance".into(), MatchOp::Regex, r"host\d+".into())
        );
        assert_eq!(
            one("foo = bar baz"),
            ("foo".into(), MatchOp::Equal, "bar baz".into())
        );
        assert_eq!(
            one(r#"{foo="a,b"}"#),
            ("foo".into(), MatchOp::Equal, "a,b".into())
        );
        assert_eq!(
            one(r#"foo="x\"y""#),
            ("foo".into(), MatchOp::Equal, "x\"y".into())
        );
        let two = parse_compat(r#"{a="1", b!~"2|3"}"#).expect("parses");
        assert_eq!(two.len(), 2);
        assert!(two[1].matches("4") && !two[1].matches("2"));
        // UTF-8 names only the new parser takes.
        assert_eq!(one(r#"{"service.name"="api"}"#).0, "service.name");
        // Refused by both: the classic error.
        assert_eq!(
            parse_compat(r#"foo="bar"baz""#).expect_err("refused"),
            r#"matcher value contains unescaped double quote: "bar"baz""#
        );
        assert!(parse_compat("=bar")
            .expect_err("refused")
            .starts_with("bad matcher format"));
    }
}
