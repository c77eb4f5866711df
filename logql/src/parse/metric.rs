//! The metric half of the parser: binary operators by precedence, range and vector
//! aggregations with their log ranges, `label_replace`, `vector`, literals, and the checks
//! Loki's constructors make on them.

use super::{semantic, ParseError, Parser};
use crate::ast::*;
use crate::lex::{Tok, RANGE_OPS, VECTOR_OPS};

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

impl Parser {
    /// An expression whose binary operators bind tighter than `min`.
    pub(super) fn expr(&mut self, min: u8) -> Result<Expr, ParseError> {
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

    pub(super) fn modifier(&mut self, op: &str) -> Result<BinModifier, ParseError> {
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
    pub(super) fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
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

    pub(super) fn unary(&mut self) -> Result<Expr, ParseError> {
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

    pub(super) fn number(&mut self) -> Result<f64, ParseError> {
        let t = self.next();
        let Tok::Number(text) = &t.tok else {
            return Err(self.unexpected(&["NUMBER"]));
        };
        parse_float(text)
    }

    /// `op( [param ,] log range ) [grouping]`.
    pub(super) fn range_aggregation(&mut self) -> Result<MetricExpr, ParseError> {
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
    pub(super) fn log_range(&mut self) -> Result<LogRange, ParseError> {
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

    pub(super) fn duration(&mut self) -> Result<(i64, String), ParseError> {
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
    pub(super) fn unwrap(&mut self) -> Result<Unwrap, ParseError> {
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

    pub(super) fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
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
    pub(super) fn vector_aggregation(&mut self) -> Result<MetricExpr, ParseError> {
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

    pub(super) fn label_replace(&mut self) -> Result<MetricExpr, ParseError> {
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
                    // The backslash and the whole character after it (which may take several bytes).
                    let esc: String = re[i..].chars().take(2).collect();
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
