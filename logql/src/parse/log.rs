//! The log half of the parser: stream selectors, line filters, parsers, label filters and
//! the other pipeline stages.

use super::{ParseError, Parser};
use crate::ast::*;
use crate::lex::Tok;

impl Parser {
    /// `{ a="b", … }` and its pipeline (not an `unwrap`).
    pub(super) fn log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let matchers = self.selector()?;
        let mut pipeline = Vec::new();
        while let Some(stage) = self.stage(false)? {
            pipeline.push(stage);
        }
        Ok(LogExpr { matchers, pipeline })
    }

    pub(super) fn selector(&mut self) -> Result<Vec<Matcher>, ParseError> {
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

    pub(super) fn matcher(&mut self) -> Result<Matcher, ParseError> {
        let name = self.ident(&["IDENTIFIER"])?;
        let op = self
            .match_op()
            .ok_or_else(|| self.unexpected(&["=", "!=", "=~", "!~"]))?;
        let value = self.string(&["STRING"])?;
        Ok(Matcher { name, op, value })
    }

    pub(super) fn match_op(&mut self) -> Option<MatchOp> {
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
    pub(super) fn stage(&mut self, unwrap_ok: bool) -> Result<Option<Stage>, ParseError> {
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

    pub(super) fn filter_value(&mut self) -> Result<FilterValue, ParseError> {
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
    pub(super) fn extractions(&mut self) -> Result<Vec<Extraction>, ParseError> {
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
    pub(super) fn label_filter(&mut self, min: u8) -> Result<LabelFilter, ParseError> {
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

    pub(super) fn label_filter_unary(&mut self) -> Result<LabelFilter, ParseError> {
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
}
