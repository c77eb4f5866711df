//! LogQL text to [`Expr`], by recursive descent over Loki's grammar, failing with Loki's
//! messages: its parser's syntax errors (`syntax error: unexpected IDENTIFIER, expecting
//! NUMBER or { or (` at line and column) and the checks its constructors make (`invalid
//! aggregation sum_over_time without unwrap`, `parameter required for operation topk` …).

mod log;
mod metric;

use crate::ast::*;
use crate::lex::{lex, Tok, Token};

/// How deep a query may nest (parentheses, which every aggregation and function has, and
/// chains of `^`) before it is refused, checked on the tokens before the recursive parser
/// runs, so that no query exhausts the stack (a parse of the deepest fits in 2 MiB of stack
/// in a debug build).
pub const MAX_NESTING: usize = 64;

/// How many operators (binary, label filter `and`/`or`/`,`, comparisons) a query may hold:
/// each nests the parsed query one level deeper, and dropping or walking it recurses.
pub const MAX_OPERATORS: usize = 512;

/// A query that does not parse: Loki's message, and its line and column (both 0 where Loki
/// gives no position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// 1-based line, or 0.
    pub line: usize,
    /// 1-based column, or 0.
    pub col: usize,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 && self.col == 0 {
            write!(f, "parse error : {}", self.message)
        } else {
            write!(
                f,
                "parse error at line {}, col {}: {}",
                self.line, self.col, self.message
            )
        }
    }
}

impl std::error::Error for ParseError {}

fn semantic(message: impl Into<String>) -> ParseError {
    ParseError {
        message: message.into(),
        line: 0,
        col: 0,
    }
}

/// Parses a LogQL query.
pub fn parse(q: &str) -> Result<Expr, ParseError> {
    let toks = lex(q).map_err(|(message, line, col)| ParseError { message, line, col })?;
    let (mut depth, mut deepest, mut powers) = (0usize, 0usize, 0usize);
    for t in &toks {
        match t.tok {
            Tok::Sym("(") => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Tok::Sym(")") => depth = depth.saturating_sub(1),
            Tok::Sym("^") => powers += 1,
            _ => {}
        }
    }
    let operators = toks
        .iter()
        .filter(|t| {
            matches!(
                t.tok,
                Tok::Sym(
                    "+" | "-"
                        | "*"
                        | "/"
                        | "%"
                        | "^"
                        | "=="
                        | "!="
                        | ">"
                        | ">="
                        | "<"
                        | "<="
                        | "and"
                        | "or"
                        | "unless"
                        | ","
                )
            )
        })
        .count();
    if operators > MAX_OPERATORS {
        return Err(semantic(format!(
            "query has more than {MAX_OPERATORS} operators"
        )));
    }
    if deepest + powers > MAX_NESTING {
        return Err(semantic(format!(
            "query nests more than {MAX_NESTING} levels deep"
        )));
    }
    let mut p = Parser {
        toks,
        at: 0,
        depth: 0,
    };
    let e = p.expr(0)?;
    if p.peek().tok != Tok::End {
        return Err(p.unexpected(&[]));
    }
    if let Expr::Log(l) = &e {
        check_selector(&l.matchers)?;
    }
    if let Expr::Metric(m) = &e {
        check_metric_selectors(m)?;
    }
    Ok(e)
}

/// Parses a log query (a stream selector and its pipeline).
pub fn parse_log(q: &str) -> Result<LogExpr, ParseError> {
    match parse(q)? {
        Expr::Log(l) => Ok(l),
        Expr::Metric(_) => Err(semantic("only log queries are supported here")),
    }
}

/// Loki refuses a selector every matcher of which matches the empty value.
fn check_selector(matchers: &[Matcher]) -> Result<(), ParseError> {
    let matches_empty = |m: &Matcher| match m.op {
        MatchOp::Eq => m.value.is_empty(),
        MatchOp::Neq => !m.value.is_empty(),
        MatchOp::Re => {
            regex::Regex::new(&format!("^(?:{})$", m.value)).is_ok_and(|r| r.is_match(""))
        }
        MatchOp::Nre => {
            regex::Regex::new(&format!("^(?:{})$", m.value)).is_ok_and(|r| !r.is_match(""))
        }
    };
    if matchers.iter().all(matches_empty) {
        return Err(semantic("queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"));
    }
    Ok(())
}

fn check_metric_selectors(m: &MetricExpr) -> Result<(), ParseError> {
    match m {
        MetricExpr::Range { range, .. } => check_selector(&range.log.matchers),
        MetricExpr::Vector { expr, .. } | MetricExpr::LabelReplace { expr, .. } => {
            check_metric_selectors(expr)
        }
        MetricExpr::Binary { lhs, rhs, .. } => {
            check_metric_selectors(lhs)?;
            check_metric_selectors(rhs)
        }
        MetricExpr::Literal(_) | MetricExpr::VectorLiteral(_) => Ok(()),
    }
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.at + n).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn is(&self, sym: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(s) if *s == sym)
    }

    fn eat(&mut self, sym: &str) -> bool {
        if self.is(sym) {
            self.next();
            true
        } else {
            false
        }
    }

    /// `syntax error: unexpected X[, expecting A or B]` at the current token.
    fn unexpected(&self, expecting: &[&str]) -> ParseError {
        let t = self.peek();
        let mut message = format!("syntax error: unexpected {}", t.tok.describe());
        if !expecting.is_empty() {
            message.push_str(&format!(", expecting {}", expecting.join(" or ")));
        }
        // Loki's lexer gives a range token no line.
        let line = if matches!(t.tok, Tok::Range(..)) {
            0
        } else {
            t.line
        };
        ParseError {
            message,
            line,
            col: t.col,
        }
    }

    fn expect(&mut self, sym: &str, expecting: &[&str]) -> Result<(), ParseError> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    fn string(&mut self, expecting: &[&str]) -> Result<String, ParseError> {
        match self.peek().tok.clone() {
            Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn ident(&mut self, expecting: &[&str]) -> Result<String, ParseError> {
        match self.peek().tok.clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(semantic(format!(
                "query nests more than {MAX_NESTING} levels deep"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escape_before_a_multibyte_character_is_an_error_not_a_panic() {
        let e = parse(r#"label_replace(vector(1), "a", "b", "c", `\é`)"#).expect_err("invalid");
        assert!(e.message.contains("invalid escape sequence: `\\é`"), "{e}");
    }

    #[test]
    fn numbers_and_nesting() {
        assert_eq!(
            parse("0.123e3"),
            Ok(Expr::Metric(MetricExpr::Literal(123.0)))
        );
        // On a thread with the 2 MiB stack of a Tokio worker: the deepest query that is taken
        // parses, and deeper ones are refused, however deep.
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
                assert!(parse(&nested(MAX_NESTING - 1)).is_ok());
                let nested_sum = |n: usize| {
                    format!(
                        "{}sum(count_over_time({{a=\"b\"}}[1m])){}",
                        "sum(".repeat(n),
                        ")".repeat(n)
                    )
                };
                assert!(parse(&nested_sum(MAX_NESTING / 2 - 1)).is_ok());
                for deep in [nested(100_000), nested_sum(50_000), "-(".repeat(100_000)] {
                    let e = parse(&deep).expect_err("too deep");
                    assert!(e.message.contains(" more than "), "{e}");
                }
                let sum = |n: usize| vec!["1"; n].join("+");
                assert!(parse(&sum(MAX_OPERATORS + 1)).is_ok());
                let e = parse(&sum(20_000)).expect_err("too many");
                assert!(e.message.contains("more than 512 operators"), "{e}");
                let filters = |n: usize| format!("{{a=\"b\"}} | {}", vec!["x>1"; n].join(" and "));
                // Each filter holds a comparison and an `and`.
                assert!(parse(&filters(MAX_OPERATORS / 2)).is_ok());
                assert!(parse(&filters(20_000)).is_err());
            })
            .expect("thread")
            .join()
            .expect("no overflow");
    }
}
