//! LogQL text to [`Expr`], by recursive descent over Loki's grammar, failing with Loki's
//! messages: its parser's syntax errors (`syntax error: unexpected IDENTIFIER, expecting
//! NUMBER or { or (` at line and column) and the checks its constructors make (`invalid
//! aggregation sum_over_time without unwrap`, `parameter required for operation topk` …).

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

const RANGE_OPS: &[&str] = &[
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

const VECTOR_OPS: &[&str] = &[
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

/// Binary operators by precedence (higher binds tighter), as Loki's grammar orders them.
fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "or" => 1,
        "and" | "unless" => 2,
        "==" | "!=" | "<" | "<=" | ">" | ">=" => 3,
        "+" | "-" => 4,
        "*" | "/" | "%" => 5,
        "^" => 6,
        _ => return None,
    })
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

    /// An expression whose binary operators bind tighter than `min`.
    fn expr(&mut self, min: u8) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut lhs = self.unary()?;
        while let Tok::Sym(op) = self.peek().tok {
            let Some(prec) = precedence(op) else { break };
            if prec <= min {
                break;
            }
            self.next();
            let modifier = self.modifier(op)?;
            // `^` is right-associative: its right side may hold another `^`.
            let rhs = self.expr(if op == "^" { prec - 1 } else { prec })?;
            lhs = Expr::Metric(binary(op, modifier, lhs, rhs)?);
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn modifier(&mut self, op: &str) -> Result<BinModifier, ParseError> {
        let mut m = BinModifier::default();
        if self.eat("bool") {
            m.return_bool = true;
        }
        for (word, ignoring) in [("on", false), ("ignoring", true)] {
            if self.eat(word) {
                m.matching = Some((ignoring, self.label_list()?));
            }
        }
        if m.matching.is_some() {
            for (word, right) in [("group_left", false), ("group_right", true)] {
                if self.eat(word) {
                    let labels = if self.is("(") {
                        self.label_list()?
                    } else {
                        Vec::new()
                    };
                    m.group = Some((right, labels));
                }
            }
        }
        let _ = op;
        Ok(m)
    }

    /// `( a, b )`, possibly empty.
    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect("(", &["("])?;
        let mut out = Vec::new();
        while !self.is(")") {
            out.push(self.ident(&["IDENTIFIER"])?);
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")", &[")", ","])?;
        Ok(out)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Sym("{") => Ok(Expr::Log(self.log_expr()?)),
            Tok::Sym("(") => {
                self.next();
                let inner = self.expr(0)?;
                self.expect(")", &[])?;
                Ok(inner)
            }
            Tok::Number(_) => Ok(Expr::Metric(MetricExpr::Literal(self.number()?))),
            Tok::Sym(s @ ("+" | "-")) => {
                let negative = *s == "-";
                self.next();
                if !matches!(self.peek().tok, Tok::Number(_)) {
                    return Err(self.unexpected(&["NUMBER"]));
                }
                let v = self.number()?;
                Ok(Expr::Metric(MetricExpr::Literal(if negative {
                    -v
                } else {
                    v
                })))
            }
            Tok::Func(f) if RANGE_OPS.contains(f) => Ok(Expr::Metric(self.range_aggregation()?)),
            Tok::Func(f) if VECTOR_OPS.contains(f) => Ok(Expr::Metric(self.vector_aggregation()?)),
            Tok::Func("label_replace") => Ok(Expr::Metric(self.label_replace()?)),
            Tok::Func("vector") => {
                self.next();
                self.expect("(", &["("])?;
                if !matches!(self.peek().tok, Tok::Number(_)) {
                    return Err(self.unexpected(&["NUMBER"]));
                }
                let v = self.number()?;
                self.expect(")", &[")"])?;
                Ok(Expr::Metric(MetricExpr::VectorLiteral(v)))
            }
            _ => Err(self.unexpected(&[])),
        }
    }

    fn number(&mut self) -> Result<f64, ParseError> {
        let t = self.next();
        let Tok::Number(text) = &t.tok else {
            return Err(self.unexpected(&["NUMBER"]));
        };
        parse_float(text)
    }

    /// `{ a="b", … }` and its pipeline (not an `unwrap`).
    fn log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let matchers = self.selector()?;
        let mut pipeline = Vec::new();
        while let Some(stage) = self.stage(false)? {
            pipeline.push(stage);
        }
        Ok(LogExpr { matchers, pipeline })
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, ParseError> {
        self.expect("{", &["{"])?;
        let mut out = Vec::new();
        loop {
            out.push(self.matcher()?);
            if self.eat("}") {
                return Ok(out);
            }
            if !self.eat(",") {
                return Err(self.unexpected(&["}", ","]));
            }
        }
    }

    fn matcher(&mut self) -> Result<Matcher, ParseError> {
        let name = self.ident(&["IDENTIFIER"])?;
        let op = self
            .match_op()
            .ok_or_else(|| self.unexpected(&["=", "!=", "=~", "!~"]))?;
        let value = self.string(&["STRING"])?;
        Ok(Matcher { name, op, value })
    }

    fn match_op(&mut self) -> Option<MatchOp> {
        let op = match &self.peek().tok {
            Tok::Sym("=") => MatchOp::Eq,
            Tok::Sym("!=") => MatchOp::Neq,
            Tok::Sym("=~") => MatchOp::Re,
            Tok::Sym("!~") => MatchOp::Nre,
            _ => return None,
        };
        self.next();
        Some(op)
    }

    /// The next pipeline stage, if one follows. With `unwrap_ok`, `| unwrap` ends the
    /// pipeline (the caller reads it).
    fn stage(&mut self, unwrap_ok: bool) -> Result<Option<Stage>, ParseError> {
        let filter_op = match &self.peek().tok {
            Tok::Sym("|=") => Some(FilterOp::Contains),
            Tok::Sym("!=") => Some(FilterOp::NotContains),
            Tok::Sym("|~") => Some(FilterOp::Match),
            Tok::Sym("!~") => Some(FilterOp::NotMatch),
            Tok::Sym("|>") => Some(FilterOp::Pattern),
            Tok::Sym("!>") => Some(FilterOp::NotPattern),
            _ => None,
        };
        if let Some(op) = filter_op {
            self.next();
            let mut values = vec![self.filter_value()?];
            while self.is("or") && matches!(self.peek_at(1), Tok::Str(_) | Tok::Func("ip")) {
                self.next();
                values.push(self.filter_value()?);
            }
            return Ok(Some(Stage::Line(LineFilter { op, values })));
        }
        if !self.is("|") {
            return Ok(None);
        }
        if unwrap_ok && matches!(self.peek_at(1), Tok::Sym("unwrap")) {
            return Ok(None);
        }
        self.next();
        let t = self.peek().clone();
        Ok(Some(match t.tok {
            Tok::Sym("json") => {
                self.next();
                Stage::Json(self.extractions()?)
            }
            Tok::Sym("logfmt") => {
                self.next();
                let (mut strict, mut keep_empty) = (false, false);
                while let Tok::Flag(f) = self.peek().tok {
                    self.next();
                    if f == "--strict" {
                        strict = true;
                    } else {
                        keep_empty = true;
                    }
                }
                Stage::Logfmt {
                    strict,
                    keep_empty,
                    extractions: self.extractions()?,
                }
            }
            Tok::Sym("regexp") => {
                self.next();
                Stage::Regexp(self.string(&["STRING"])?)
            }
            Tok::Sym("pattern") => {
                self.next();
                Stage::Pattern(self.string(&["STRING"])?)
            }
            Tok::Sym("unpack") => {
                self.next();
                Stage::Unpack
            }
            Tok::Sym("decolorize") => {
                self.next();
                Stage::Decolorize
            }
            Tok::Sym("line_format") => {
                self.next();
                Stage::LineFormat(self.string(&["STRING"])?)
            }
            Tok::Sym("label_format") => {
                self.next();
                let mut out = Vec::new();
                loop {
                    let name = self.ident(&["IDENTIFIER"])?;
                    self.expect("=", &["="])?;
                    let value = match self.peek().tok.clone() {
                        Tok::Ident(s) => LabelFormatValue::Rename(s),
                        Tok::Str(s) => LabelFormatValue::Template(s),
                        _ => return Err(self.unexpected(&["IDENTIFIER", "STRING"])),
                    };
                    self.next();
                    out.push(LabelFormat { name, value });
                    if !self.eat(",") {
                        break;
                    }
                }
                Stage::LabelFormat(out)
            }
            Tok::Sym(w @ ("drop" | "keep")) => {
                self.next();
                let mut out = Vec::new();
                loop {
                    let name = self.ident(&["IDENTIFIER"])?;
                    match self.match_op() {
                        Some(op) => out.push(LabelSelection::Matcher(Matcher {
                            name,
                            op,
                            value: self.string(&["STRING"])?,
                        })),
                        None => out.push(LabelSelection::Name(name)),
                    }
                    if !self.eat(",") {
                        break;
                    }
                }
                if w == "drop" {
                    Stage::Drop(out)
                } else {
                    Stage::Keep(out)
                }
            }
            _ => Stage::Labels(self.label_filter(0)?),
        }))
    }

    fn filter_value(&mut self) -> Result<FilterValue, ParseError> {
        match self.peek().tok.clone() {
            Tok::Str(s) => {
                self.next();
                Ok(FilterValue::Text(s))
            }
            Tok::Func("ip") => {
                self.next();
                self.expect("(", &["("])?;
                let s = self.string(&["STRING"])?;
                self.expect(")", &[")"])?;
                Ok(FilterValue::Ip(s))
            }
            _ => Err(self.unexpected(&["STRING", "ip"])),
        }
    }

    /// `a, b="path"` after `json` or `logfmt`.
    fn extractions(&mut self) -> Result<Vec<Extraction>, ParseError> {
        let mut out = Vec::new();
        while let Tok::Ident(name) = self.peek().tok.clone() {
            self.next();
            let expression = if self.eat("=") {
                Some(self.string(&["STRING"])?)
            } else {
                None
            };
            out.push(Extraction { name, expression });
            if !self.eat(",") {
                break;
            }
        }
        Ok(out)
    }

    /// Label filters joined by `or` (loosest), `and` and `,`.
    fn label_filter(&mut self, min: u8) -> Result<LabelFilter, ParseError> {
        self.enter()?;
        let mut lhs = self.label_filter_unary()?;
        loop {
            // Filters side by side are joined by `and`, as with a comma.
            let (prec, implicit) = match &self.peek().tok {
                Tok::Sym("or") => (1, false),
                Tok::Sym("and" | ",") => (2, false),
                Tok::Ident(_) | Tok::Sym("(") => (2, true),
                _ => break,
            };
            if prec <= min {
                break;
            }
            if !implicit {
                self.next();
            }
            let rhs = self.label_filter(prec)?;
            lhs = if prec == 1 {
                LabelFilter::Or(Box::new(lhs), Box::new(rhs))
            } else {
                LabelFilter::And(Box::new(lhs), Box::new(rhs))
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn label_filter_unary(&mut self) -> Result<LabelFilter, ParseError> {
        if self.eat("(") {
            let f = self.label_filter(0)?;
            self.expect(")", &[")"])?;
            return Ok(f);
        }
        let name = self.ident(&[])?;
        let op = match &self.peek().tok {
            Tok::Sym(s @ ("=" | "!=" | "=~" | "!~" | "==" | ">" | ">=" | "<" | "<=")) => *s,
            _ => return Err(self.unexpected(&[])),
        };
        self.next();
        let cmp = match op {
            "=" | "==" => CmpOp::Eq,
            "!=" => CmpOp::Neq,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Gte,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Lte,
            _ => CmpOp::Eq,
        };
        let t = self.peek().clone();
        Ok(match t.tok {
            Tok::Str(value) if matches!(op, "=" | "!=" | "=~" | "!~") => {
                self.next();
                let op = match op {
                    "=" => MatchOp::Eq,
                    "!=" => MatchOp::Neq,
                    "=~" => MatchOp::Re,
                    _ => MatchOp::Nre,
                };
                LabelFilter::Matcher(Matcher { name, op, value })
            }
            Tok::Func("ip") if matches!(op, "=" | "!=") => {
                self.next();
                self.expect("(", &["("])?;
                let pattern = self.string(&["STRING"])?;
                self.expect(")", &[")"])?;
                LabelFilter::Ip {
                    name,
                    negate: op == "!=",
                    pattern,
                }
            }
            Tok::Duration(value, text) if !matches!(op, "=~" | "!~") => {
                self.next();
                LabelFilter::Duration {
                    name,
                    op: cmp,
                    value,
                    text,
                }
            }
            Tok::Bytes(value, text) if !matches!(op, "=~" | "!~") => {
                self.next();
                LabelFilter::Bytes {
                    name,
                    op: cmp,
                    value,
                    text,
                }
            }
            Tok::Number(_) if !matches!(op, "=~" | "!~") => LabelFilter::Number {
                name,
                op: cmp,
                value: self.number()?,
            },
            Tok::Sym(s @ ("-" | "+"))
                if !matches!(op, "=~" | "!~") && matches!(self.peek_at(1), Tok::Number(_)) =>
            {
                self.next();
                let v = self.number()?;
                LabelFilter::Number {
                    name,
                    op: cmp,
                    value: if s == "-" { -v } else { v },
                }
            }
            _ => return Err(self.unexpected(&[])),
        })
    }

    /// `op( [param ,] log range ) [grouping]`.
    fn range_aggregation(&mut self) -> Result<MetricExpr, ParseError> {
        let Tok::Func(op) = self.next().tok else {
            unreachable!("called on a function token")
        };
        self.expect("(", &["("])?;
        let mut param = None;
        if let Tok::Number(text) = self.peek().tok.clone() {
            self.next();
            param = Some((parse_float(&text)?, text));
            self.expect(",", &[","])?;
        }
        if !self.is("{") && !self.is("(") {
            let expecting: &[&str] = if param.is_none() {
                &["NUMBER", "{", "("]
            } else {
                &["{", "("]
            };
            return Err(self.unexpected(expecting));
        }
        let range = self.log_range()?;
        self.expect(")", &[")"])?;
        let grouping = self.grouping()?;
        let param = match (op, param) {
            ("quantile_over_time", Some((v, _))) => Some(v),
            ("quantile_over_time", None) => {
                return Err(semantic(format!("parameter required for operation {op}")))
            }
            (_, Some((_, text))) => {
                return Err(semantic(format!(
                    "parameter {text} not supported for operation {op}"
                )))
            }
            (_, None) => None,
        };
        check_range(op, &range, grouping.is_some())?;
        Ok(MetricExpr::Range {
            op: op.to_string(),
            param,
            range,
            grouping,
        })
    }

    /// A log range: a selector, its pipeline, `[range]`, `offset`, `unwrap`, in the orders
    /// Loki's grammar takes, possibly in parentheses.
    fn log_range(&mut self) -> Result<LogRange, ParseError> {
        self.enter()?;
        let r = if self.eat("(") {
            let inner = self.log_range_parts(true)?;
            self.expect(")", &[")"])?;
            self.finish_range(inner)?
        } else {
            let parts = self.log_range_parts(false)?;
            self.finish_range(parts)?
        };
        self.depth -= 1;
        Ok(r)
    }

    /// What a log range holds, its range still missing when it was in parentheses.
    fn log_range_parts(&mut self, in_parens: bool) -> Result<Parts, ParseError> {
        if self.is("(") {
            // `( ( … ) )`: a nested log range.
            let r = self.log_range()?;
            return Ok(Parts {
                log: r.log,
                range: Some((r.range, r.range_text)),
                offset: r.offset_text.map(|t| (r.offset, t)),
                unwrap: r.unwrap,
            });
        }
        let matchers = self.selector()?;
        let mut parts = Parts {
            log: LogExpr {
                matchers,
                pipeline: Vec::new(),
            },
            range: None,
            offset: None,
            unwrap: None,
        };
        loop {
            if let Tok::Range(ns, text) = self.peek().tok.clone() {
                if parts.range.is_some() {
                    return Err(self.unexpected(&[]));
                }
                self.next();
                parts.range = Some((ns, text));
                if self.eat("offset") {
                    parts.offset = Some(self.duration()?);
                }
                continue;
            }
            if parts.unwrap.is_none()
                && self.is("|")
                && matches!(self.peek_at(1), Tok::Sym("unwrap"))
            {
                self.next();
                self.next();
                parts.unwrap = Some(self.unwrap()?);
                continue;
            }
            if parts.unwrap.is_some() {
                break;
            }
            match self.stage(true)? {
                Some(s) => parts.log.pipeline.push(s),
                None => break,
            }
        }
        let _ = in_parens;
        Ok(parts)
    }

    fn finish_range(&mut self, mut parts: Parts) -> Result<LogRange, ParseError> {
        if parts.range.is_none() {
            let Tok::Range(ns, text) = self.peek().tok.clone() else {
                return Err(self.unexpected(&["RANGE"]));
            };
            self.next();
            parts.range = Some((ns, text));
            if self.eat("offset") {
                parts.offset = Some(self.duration()?);
            }
            // `( {…} ) [1m] | json | unwrap x`: stages after the range.
            while parts.unwrap.is_none() {
                if self.is("|") && matches!(self.peek_at(1), Tok::Sym("unwrap")) {
                    self.next();
                    self.next();
                    parts.unwrap = Some(self.unwrap()?);
                    break;
                }
                match self.stage(true)? {
                    Some(s) => parts.log.pipeline.push(s),
                    None => break,
                }
            }
        }
        let (range, range_text) = parts.range.unwrap_or_default();
        Ok(LogRange {
            log: parts.log,
            range,
            range_text,
            offset: parts.offset.as_ref().map_or(0, |o| o.0),
            offset_text: parts.offset.map(|o| o.1),
            unwrap: parts.unwrap,
        })
    }

    fn duration(&mut self) -> Result<(i64, String), ParseError> {
        let negative = self.is("-") && matches!(self.peek_at(1), Tok::Duration(..));
        if negative {
            self.next();
        }
        match self.peek().tok.clone() {
            Tok::Duration(ns, text) => {
                self.next();
                if negative {
                    Ok((-ns, format!("-{text}")))
                } else {
                    Ok((ns, text))
                }
            }
            _ => Err(self.unexpected(&["DURATION"])),
        }
    }

    /// After `| unwrap`: `label` or `conversion(label)`, then `| label filter`s.
    fn unwrap(&mut self) -> Result<Unwrap, ParseError> {
        let (label, conversion) = match self.peek().tok.clone() {
            Tok::Func(f @ ("bytes" | "duration" | "duration_seconds")) => {
                self.next();
                self.expect("(", &["("])?;
                let label = self.ident(&["IDENTIFIER"])?;
                self.expect(")", &[")"])?;
                let c = match f {
                    "bytes" => Conversion::Bytes,
                    "duration" => Conversion::Duration,
                    _ => Conversion::DurationSeconds,
                };
                (label, c)
            }
            Tok::Ident(label) => {
                self.next();
                (label, Conversion::None)
            }
            _ => return Err(self.unexpected(&["IDENTIFIER"])),
        };
        let mut filters = Vec::new();
        while self.is("|") && !matches!(self.peek_at(1), Tok::Sym("unwrap")) {
            self.next();
            filters.push(self.label_filter(0)?);
        }
        Ok(Unwrap {
            label,
            conversion,
            filters,
        })
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        for (word, without) in [("by", false), ("without", true)] {
            if self.eat(word) {
                return Ok(Some(Grouping {
                    without,
                    labels: self.label_list()?,
                }));
            }
        }
        Ok(None)
    }

    /// `op [grouping] ( [param ,] expr ) [grouping]`.
    fn vector_aggregation(&mut self) -> Result<MetricExpr, ParseError> {
        let Tok::Func(op) = self.next().tok else {
            unreachable!("called on a function token")
        };
        let before = self.grouping()?;
        self.expect("(", &["("])?;
        let mut param = None;
        if let Tok::Number(text) = self.peek().tok.clone() {
            if matches!(self.peek_at(1), Tok::Sym(",")) {
                self.next();
                self.next();
                param = Some((parse_float(&text)?, text));
            }
        }
        let inner_at = self.at;
        let inner = self.expr(0)?;
        let expr = match inner {
            Expr::Metric(m) => m,
            Expr::Log(_) => {
                // A log query is no metric: Loki's grammar fails at what follows it.
                let _ = inner_at;
                return Err(self.unexpected(&[]));
            }
        };
        self.expect(")", &[])?;
        let after = self.grouping()?;
        let grouping = before.or(after);
        match op {
            "topk" | "bottomk" | "approx_topk" => match &param {
                None => return Err(semantic(format!("parameter required for operation {op}"))),
                Some((v, text)) => {
                    if v.fract() != 0.0 {
                        return Err(semantic(format!("invalid parameter {op}({text},")));
                    }
                    if *v <= 0.0 {
                        return Err(semantic("invalid parameter (must be greater than 0)"));
                    }
                }
            },
            _ => {
                if let Some((_, text)) = &param {
                    return Err(semantic(format!(
                        "unsupported parameter for operation {op}({text},"
                    )));
                }
            }
        }
        if grouping.is_some() {
            if op == "sort" || op == "sort_desc" {
                return Err(semantic("sort and sort_desc doesn't allow grouping by"));
            }
            if op == "approx_topk" {
                return Err(semantic("grouping not allowed for approx_topk aggregation"));
            }
        }
        Ok(MetricExpr::Vector {
            op: op.to_string(),
            param: param.map(|p| p.0),
            expr: Box::new(expr),
            grouping,
        })
    }

    fn label_replace(&mut self) -> Result<MetricExpr, ParseError> {
        self.next();
        self.expect("(", &["("])?;
        let inner = self.expr(0)?;
        let Expr::Metric(expr) = inner else {
            return Err(self.unexpected(&[]));
        };
        let mut args = Vec::new();
        for _ in 0..4 {
            self.expect(",", &[","])?;
            args.push(self.string(&["STRING"])?);
        }
        self.expect(")", &[")"])?;
        let regex = args.pop().unwrap_or_default();
        let src = args.pop().unwrap_or_default();
        let replacement = args.pop().unwrap_or_default();
        let dst = args.pop().unwrap_or_default();
        if let Some(e) = go_regex_error(&regex) {
            return Err(semantic(format!(
                "invalid regex in label_replace: error parsing regexp: {e}"
            )));
        }
        Ok(MetricExpr::LabelReplace {
            expr: Box::new(expr),
            dst,
            replacement,
            src,
            regex,
        })
    }
}

/// A log range's pieces while it is read.
struct Parts {
    log: LogExpr,
    range: Option<(i64, String)>,
    offset: Option<(i64, String)>,
    unwrap: Option<Unwrap>,
}

/// Loki's `strconv.ParseFloat` of a number literal: decimal, or hexadecimal with a binary
/// exponent (`0x1p3`, `0x1.8p3`; Go takes no hexadecimal float without one).
fn parse_float(text: &str) -> Result<f64, ParseError> {
    let invalid = || {
        semantic(format!(
            "unable to parse literal as a float: strconv.ParseFloat: parsing {text:?}: invalid syntax"
        ))
    };
    let lower = text.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        let (mantissa, exp) = hex.split_once('p').ok_or_else(invalid)?;
        let exp: i32 = exp.parse().map_err(|_| invalid())?;
        let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let mut v = 0f64;
        for c in whole.chars() {
            v = v * 16.0 + f64::from(c.to_digit(16).ok_or_else(invalid)?);
        }
        let mut scale = 1.0 / 16.0;
        for c in frac.chars() {
            v += f64::from(c.to_digit(16).ok_or_else(invalid)?) * scale;
            scale /= 16.0;
        }
        return Ok(v * 2f64.powi(exp));
    }
    text.parse::<f64>().map_err(|_| invalid())
}

/// Which range aggregations take grouping, `unwrap`, or neither (Loki's
/// `RangeAggregationExpr.validate`).
fn check_range(op: &str, range: &LogRange, grouped: bool) -> Result<(), ParseError> {
    if grouped
        && !matches!(
            op,
            "avg_over_time"
                | "stddev_over_time"
                | "stdvar_over_time"
                | "quantile_over_time"
                | "max_over_time"
                | "min_over_time"
                | "first_over_time"
                | "last_over_time"
        )
    {
        return Err(semantic(format!(
            "grouping not allowed for {op} aggregation"
        )));
    }
    if range.unwrap.is_some() {
        return match op {
            "avg_over_time" | "sum_over_time" | "max_over_time" | "min_over_time"
            | "stddev_over_time" | "stdvar_over_time" | "quantile_over_time" | "rate"
            | "rate_counter" | "absent_over_time" | "first_over_time" | "last_over_time" => Ok(()),
            _ => Err(semantic(format!("invalid aggregation {op} with unwrap"))),
        };
    }
    match op {
        "bytes_over_time" | "bytes_rate" | "count_over_time" | "rate" | "absent_over_time" => {
            Ok(())
        }
        _ => Err(semantic(format!("invalid aggregation {op} without unwrap"))),
    }
}

fn is_set_op(op: &str) -> bool {
    matches!(op, "and" | "or" | "unless")
}

/// A binary operation, checked as Loki's `mustNewBinOpExpr` checks it.
fn binary(op: &str, modifier: BinModifier, lhs: Expr, rhs: Expr) -> Result<MetricExpr, ParseError> {
    let leg = |e: Expr, side: &str| -> Result<MetricExpr, ParseError> {
        match e {
            Expr::Metric(m) => Ok(m),
            Expr::Log(l) => Err(semantic(format!(
                "unexpected type for {side} leg of binary operation ({op}): {}",
                if l.pipeline.is_empty() {
                    "*syntax.MatchersExpr"
                } else {
                    "*syntax.PipelineExpr"
                }
            ))),
        }
    };
    let lhs = leg(lhs, "left")?;
    let rhs = leg(rhs, "right")?;
    if is_set_op(op) {
        for (side, e) in [("left", &lhs), ("right", &rhs)] {
            if let MetricExpr::Literal(v) = e {
                return Err(semantic(format!(
                    "unexpected literal for {side} leg of logical/set binary operation ({op}): {v:.6}"
                )));
            }
        }
    }
    if modifier.return_bool && !matches!(op, "==" | "!=" | ">" | ">=" | "<" | "<=") {
        return Err(semantic(
            "bool modifier can only be used on comparison operators",
        ));
    }
    Ok(MetricExpr::Binary {
        op: op.to_string(),
        modifier,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    })
}

/// Go's regexp error for `re` where Go and Rust disagree on what is valid (escapes), else the
/// regex crate's verdict.
fn go_regex_error(re: &str) -> Option<String> {
    let b = re.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let Some(&e) = b.get(i + 1) else {
                    return Some("trailing backslash at end of expression: ``".into());
                };
                let ok = e.is_ascii_punctuation()
                    || matches!(
                        e,
                        b'a' | b'f'
                            | b't'
                            | b'n'
                            | b'r'
                            | b'v'
                            | b'd'
                            | b'D'
                            | b's'
                            | b'S'
                            | b'w'
                            | b'W'
                            | b'b'
                            | b'B'
                            | b'A'
                            | b'z'
                            | b'p'
                            | b'P'
                            | b'Q'
                            | b'E'
                            | b'x'
                            | b'C'
                    )
                    || e.is_ascii_digit();
                if !ok && (!in_class || !e.is_ascii_digit()) {
                    let esc = &re[i..i + 2];
                    return Some(format!("invalid escape sequence: `{esc}`"));
                }
                i += 2;
                continue;
            }
            b'[' => in_class = true,
            b']' => in_class = false,
            _ => {}
        }
        i += 1;
    }
    regex::Regex::new(re).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
