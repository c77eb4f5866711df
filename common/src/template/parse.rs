//! Text to [`Node`]s: actions found and trimmed, then each action's tokens parsed; errors carry
//! the line they are on and Go's wording.

use super::ast::{Arg, Defs, Node, Pipeline};
use super::functions::{AM_FUNCTIONS, FUNCTIONS, GO_BUILTINS, LOKI_FUNCTIONS};

/// An error: the line it is on, and what is wrong.
type Error = (usize, String);

/// A piece of the text: text, or an action's inside with the line it starts on.
enum Piece {
    Text(String),
    Action(String, usize),
}

/// Which program's templates: the functions they may call and the variables they start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Prometheus's alert templates: `$labels`, `$value` … and `query` with its helpers.
    Prometheus,
    /// Alertmanager's notification templates: only `$`, and Alertmanager's functions.
    Alertmanager,
    /// Loki's `line_format` and `label_format` templates: the line's labels as `.`, Loki's
    /// functions (`__line__`, `__timestamp__`, `ToUpper`, `regexReplaceAll`, `trunc` …).
    Loki,
}

impl Dialect {
    fn functions(self) -> &'static [&'static str] {
        match self {
            Dialect::Prometheus => FUNCTIONS,
            Dialect::Alertmanager => AM_FUNCTIONS,
            Dialect::Loki => LOKI_FUNCTIONS,
        }
    }

    fn variables(self) -> Vec<String> {
        match self {
            Dialect::Prometheus => ["$", "$labels", "$externalLabels", "$externalURL", "$value"]
                .map(String::from)
                .to_vec(),
            Dialect::Alertmanager | Dialect::Loki => vec!["$".into()],
        }
    }
}

/// Parses template `name`: its nodes, and the templates it defines (`define`, `block`).
pub(crate) fn parse(name: &str, text: &str, dialect: Dialect) -> Result<(Vec<Node>, Defs), Error> {
    // Errors found at the end of the text are on its last line, as Go reports them.
    let last = 1 + text.matches('\n').count();
    let pieces = split(text).map_err(|start| {
        let message = match dialect {
            // Prometheus 2.42 is built with a Go that does not say where the action started.
            Dialect::Prometheus => "unclosed action".to_string(),
            Dialect::Alertmanager | Dialect::Loki => {
                format!("unclosed action started at {name}:{start}")
            }
        };
        (last, message)
    })?;
    let mut p = Parser {
        pieces,
        at: 0,
        vars: vec![dialect.variables()],
        dialect,
        defs: Defs::new(),
    };
    let (nodes, end) = p
        .list()
        .map_err(|(line, e)| if e == EOF { (last, e) } else { (line, e) })?;
    match end {
        None => Ok((nodes, p.defs)),
        Some((word, line)) => Err((line, format!("unexpected {{{{{word}}}}}"))),
    }
}

/// Go's message for a block without its `end`.
const EOF: &str = "unexpected EOF";

/// Splits `text` into text and actions, applying `{{-` and `-}}` trimming and dropping comments;
/// an action left open fails with the line it starts on.
fn split(text: &str) -> Result<Vec<Piece>, usize> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line = 1;
    while let Some(open) = rest.find("{{") {
        let mut before = &rest[..open];
        line += before.matches('\n').count();
        let mut inside = &rest[open + 2..];
        if let Some(s) = inside.strip_prefix("- ") {
            before = before.trim_end();
            inside = s;
        }
        let Some(close) = inside.find("}}") else {
            return Err(line);
        };
        let mut action = &inside[..close];
        let mut after = &inside[close + 2..];
        if let Some(a) = action.strip_suffix(" -") {
            action = a;
            after = after.trim_start();
        }
        if !before.is_empty() {
            out.push(Piece::Text(before.to_string()));
        }
        let trimmed = action.trim();
        if !(trimmed.starts_with("/*") && trimmed.ends_with("*/")) {
            out.push(Piece::Action(action.to_string(), line));
        }
        line += action.matches('\n').count();
        rest = after;
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

/// A token of an action.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Var(String),
    /// `.name`; `true` when it follows an operand directly (`$x.name`, `.a.name`, `(…).name`)
    /// and so continues it, `false` when it starts an operand of its own.
    Field(String, bool),
    Dot,
    Str(String),
    Num(f64),
    Pipe,
    Open,
    Close,
    Declare,
    Assign,
    Comma,
}

fn lex(action: &str, line: usize) -> Result<Vec<Tok>, Error> {
    let b = action.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |m: String| (line, m);
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'|' | b'(' | b')' | b',' | b'=' => {
                out.push(match c {
                    b'|' => Tok::Pipe,
                    b'(' => Tok::Open,
                    b')' => Tok::Close,
                    b',' => Tok::Comma,
                    _ => Tok::Assign,
                });
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                out.push(Tok::Declare);
                i += 2;
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = b.get(i) else {
                        return Err(err("unterminated quoted string".into()));
                    };
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = *b
                                .get(i + 1)
                                .ok_or_else(|| err("unterminated quoted string".into()))?;
                            s.push(match e {
                                b'n' => '\n',
                                b't' => '\t',
                                b'r' => '\r',
                                b'\\' => '\\',
                                b'"' => '"',
                                other => {
                                    return Err(err(format!(
                                        "invalid syntax: unknown escape \\{}",
                                        other as char
                                    )))
                                }
                            });
                            i += 2;
                            continue;
                        }
                        _ => {
                            let ch = action[i..].chars().next().unwrap_or_default();
                            s.push(ch);
                            i += ch.len_utf8();
                            continue;
                        }
                    }
                }
                out.push(Tok::Str(s));
                i += 1;
            }
            b'`' => {
                let end = action[i + 1..]
                    .find('`')
                    .ok_or_else(|| err("unterminated raw quoted string".into()))?;
                out.push(Tok::Str(action[i + 1..i + 1 + end].to_string()));
                i += end + 2;
            }
            b'$' | b'.' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &action[start..i];
                let attached = start > 0
                    && (b[start - 1].is_ascii_alphanumeric()
                        || matches!(b[start - 1], b'_' | b')'));
                out.push(match (c, word.len()) {
                    (b'.', 1) => Tok::Dot,
                    (b'.', _) => Tok::Field(word[1..].to_string(), attached),
                    _ => Tok::Var(word.to_string()),
                });
            }
            c if c.is_ascii_digit()
                || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_')
                {
                    i += 1;
                }
                let text = &action[start..i];
                let n = text
                    .parse::<f64>()
                    .map_err(|_| err(format!("bad number syntax: {text:?}")))?;
                out.push(Tok::Num(n));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Tok::Word(action[start..i].to_string()));
            }
            other => {
                return Err(err(format!(
                    "unexpected {:?} in command",
                    action[i..].chars().next().unwrap_or(other as char)
                )))
            }
        }
    }
    Ok(out)
}

struct Parser {
    pieces: Vec<Piece>,
    at: usize,
    /// Variables in scope, innermost scope last.
    vars: Vec<Vec<String>>,
    dialect: Dialect,
    /// Templates defined so far.
    defs: Defs,
}

/// The keyword that ended a list (`end`, `else`, `else if …`), with its line and tokens.
type End = Option<(String, usize)>;

impl Parser {
    /// Nodes up to an `end` or `else` (returned) or the end of the text (`None`).
    fn list(&mut self) -> Result<(Vec<Node>, End), Error> {
        let mut nodes = Vec::new();
        while self.at < self.pieces.len() {
            let piece = &self.pieces[self.at];
            self.at += 1;
            let (action, line) = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    continue;
                }
                Piece::Action(a, l) => (a.clone(), *l),
            };
            let toks = lex(&action, line)?;
            let Some(first) = toks.first() else {
                return Err((line, "missing value for command".into()));
            };
            match first {
                Tok::Word(w) if w == "end" => return Ok((nodes, Some(("end".into(), line)))),
                Tok::Word(w) if w == "else" => {
                    // `else` alone, or `else if …` / `else with …`: the rest is kept for the caller.
                    self.at -= 1;
                    return Ok((nodes, Some(("else".into(), line))));
                }
                Tok::Word(w) if w == "if" || w == "range" || w == "with" => {
                    let kind = w.clone();
                    nodes.push(self.block(&kind, &toks[1..], line)?);
                }
                Tok::Word(w) if w == "define" || w == "block" || w == "template" => {
                    let kind = w.clone();
                    let Some(Tok::Str(name)) = toks.get(1) else {
                        return Err((line, format!("unexpected token in {kind} clause")));
                    };
                    let name = name.clone();
                    if kind == "define" && toks.len() > 2 {
                        return Err((line, "unexpected token in define clause".into()));
                    }
                    let pipe = match toks.get(2) {
                        Some(_) => Some(self.pipeline(&toks[2..], line)?),
                        None => None,
                    };
                    if kind == "define" || kind == "block" {
                        // The body sees only `$` (its own data), as a separately executed
                        // template does.
                        let outer = std::mem::replace(&mut self.vars, vec![vec!["$".into()]]);
                        let (body, end) = self.list()?;
                        self.vars = outer;
                        if end.is_none() {
                            return Err((line, EOF.into()));
                        }
                        if end.is_some_and(|(e, _)| e != "end") {
                            return Err((line, format!("unexpected {{{{else}}}} in {kind}")));
                        }
                        self.defs.insert(name.clone(), body);
                    }
                    if kind != "define" {
                        nodes.push(Node::Template { name, pipe });
                    }
                }
                _ => {
                    let pipe = self.pipeline(&toks, line)?;
                    nodes.push(Node::Action(pipe));
                }
            }
        }
        Ok((nodes, None))
    }

    /// An `if`, `range` or `with` block whose pipeline is `toks`.
    fn block(&mut self, kind: &str, toks: &[Tok], line: usize) -> Result<Node, Error> {
        self.vars.push(Vec::new());
        let pipe = self.pipeline(toks, line)?;
        let (body, end) = self.list()?;
        let otherwise = match end {
            Some((e, _)) if e == "end" => Vec::new(),
            Some((_, else_line)) => {
                // The `else` piece: `else`, or `else if …`.
                let Piece::Action(a, _) = &self.pieces[self.at] else {
                    return Err((else_line, "unexpected else".into()));
                };
                let toks = lex(&a.clone(), else_line)?;
                self.at += 1;
                match toks.get(1) {
                    Some(Tok::Word(w))
                        if (w == "if" && kind == "if") || (w == "with" && kind == "with") =>
                    {
                        // `else if`: a nested block that shares this block's `end`.
                        let nested = self.block(kind, &toks[2..], else_line)?;
                        vec![nested]
                    }
                    None => {
                        let (nodes, end) = self.list()?;
                        match end {
                            Some((e, _)) if e == "end" => nodes,
                            Some((_, l)) => return Err((l, "expected end; found {{else}}".into())),
                            None => return Err((else_line, EOF.into())),
                        }
                    }
                    Some(_) => return Err((else_line, "unexpected token in else".into())),
                }
            }
            None => return Err((line, EOF.into())),
        };
        self.vars.pop();
        Ok(match kind {
            "if" => Node::If {
                cond: pipe,
                then: body,
                otherwise,
            },
            "range" => Node::Range {
                pipe,
                body,
                otherwise,
            },
            _ => Node::With {
                pipe,
                body,
                otherwise,
            },
        })
    }

    fn pipeline(&mut self, toks: &[Tok], line: usize) -> Result<Pipeline, Error> {
        let mut pipe = Pipeline::default();
        let mut toks = toks;
        // Declarations: `$x :=`, `$i, $e :=`, `$x =`.
        if let Some(at) = toks
            .iter()
            .position(|t| matches!(t, Tok::Declare | Tok::Assign))
        {
            let names: Vec<&Tok> = toks[..at].iter().filter(|t| **t != Tok::Comma).collect();
            if names.iter().all(|t| matches!(t, Tok::Var(_))) && !names.is_empty() {
                pipe.declare = toks[at] == Tok::Declare;
                for t in names {
                    if let Tok::Var(v) = t {
                        pipe.vars.push(v.clone());
                    }
                }
                toks = &toks[at + 1..];
            }
        }
        if !pipe.declare {
            for v in &pipe.vars {
                self.check_var(v, line)?;
            }
        }
        let mut command = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                Tok::Pipe => {
                    if command.is_empty() {
                        return Err((line, "missing command".into()));
                    }
                    pipe.commands.push(std::mem::take(&mut command));
                    i += 1;
                }
                _ => {
                    let (arg, used) = self.operand(&toks[i..], line)?;
                    command.push(arg);
                    i += used;
                }
            }
        }
        if command.is_empty() {
            return Err((line, "missing value for command".into()));
        }
        pipe.commands.push(command);
        if pipe.declare {
            if let Some(scope) = self.vars.last_mut() {
                scope.extend(pipe.vars.iter().cloned());
            }
        }
        Ok(pipe)
    }

    fn check_var(&self, v: &str, line: usize) -> Result<(), Error> {
        if self.vars.iter().flatten().any(|d| d == v) {
            Ok(())
        } else {
            Err((line, format!("undefined variable {v:?}")))
        }
    }

    /// One operand with its trailing fields; how many tokens it took.
    fn operand(&mut self, toks: &[Tok], line: usize) -> Result<(Arg, usize), Error> {
        let fields = |from: usize| -> Vec<String> {
            toks[from..]
                .iter()
                .map_while(|t| match t {
                    Tok::Field(f, true) => Some(f.clone()),
                    _ => None,
                })
                .collect()
        };
        Ok(match &toks[0] {
            Tok::Dot => (Arg::Dot(Vec::new()), 1),
            Tok::Field(first, _) => {
                let mut f = vec![first.clone()];
                f.extend(fields(1));
                let n = f.len();
                (Arg::Dot(f), n)
            }
            Tok::Var(v) => {
                self.check_var(v, line)?;
                let f = fields(1);
                let n = f.len() + 1;
                (Arg::Var(v.clone(), f), n)
            }
            Tok::Str(s) => (Arg::Str(s.clone()), 1),
            Tok::Num(n) => (Arg::Num(*n), 1),
            Tok::Word(w) => match w.as_str() {
                "true" => (Arg::Bool(true), 1),
                "false" => (Arg::Bool(false), 1),
                "nil" => (Arg::Nil, 1),
                name if GO_BUILTINS.contains(&name) || self.dialect.functions().contains(&name) => {
                    (Arg::Func(name.to_string()), 1)
                }
                name => return Err((line, format!("function {name:?} not defined"))),
            },
            Tok::Open => {
                let mut depth = 0;
                let close = toks
                    .iter()
                    .position(|t| {
                        match t {
                            Tok::Open => depth += 1,
                            Tok::Close => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .ok_or((line, "unclosed left paren".to_string()))?;
                let inner = self.pipeline(&toks[1..close], line)?;
                let f = fields(close + 1);
                let n = close + 1 + f.len();
                (Arg::Sub(Box::new(inner), f), n)
            }
            other => return Err((line, format!("unexpected {other:?} in operand"))),
        })
    }
}
