//! Queries printed as Loki prints them (`String()`): a log query exactly in Loki's form
//! (`{app="api"} |= "error" | json | ( status>=500 , latency>250ms )`), a metric query in a form
//! that parses back to the same query.

use std::fmt::{self, Display, Formatter};

use crate::ast::*;

pub use common::go::{duration as go_duration, quote as go_quote};

/// go-humanize's `Bytes` without its space (`10GB`, `2.6kB`), as Loki prints byte filters.
pub fn humanize_bytes(n: u64) -> String {
    const SIZES: &[&str] = &["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n}B");
    }
    let e = ((n as f64).ln() / 1000f64.ln()).floor() as usize;
    let e = e.min(SIZES.len() - 1);
    let val = ((n as f64) / 1000f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1}{}", SIZES[e])
    } else {
        format!("{val:.0}{}", SIZES[e])
    }
}

impl Display for MatchOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        })
    }
}

impl Display for Matcher {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, go_quote(&self.value))
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Neq => "!=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        })
    }
}

impl Display for LabelFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LabelFilter::Matcher(m) => write!(f, "{m}"),
            LabelFilter::Ip {
                name,
                negate,
                pattern,
            } => write!(
                f,
                "{name}{}ip({})",
                if *negate { "!=" } else { "=" },
                go_quote(pattern)
            ),
            LabelFilter::Duration {
                name, op, value, ..
            } => write!(f, "{name}{op}{}", go_duration(*value)),
            LabelFilter::Bytes {
                name, op, value, ..
            } => write!(f, "{name}{op}{}", humanize_bytes(*value)),
            LabelFilter::Number { name, op, value } => write!(f, "{name}{op}{value}"),
            LabelFilter::And(l, r) => write!(f, "( {l} , {r} )"),
            LabelFilter::Or(l, r) => write!(f, "( {l} or {r} )"),
        }
    }
}

fn extractions(f: &mut Formatter<'_>, list: &[Extraction]) -> fmt::Result {
    for (i, e) in list.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        match &e.expression {
            Some(x) => write!(f, "{}={}", e.name, go_quote(x))?,
            None => f.write_str(&e.name)?,
        }
    }
    Ok(())
}

fn selections(f: &mut Formatter<'_>, list: &[LabelSelection]) -> fmt::Result {
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        match s {
            LabelSelection::Name(n) => f.write_str(n)?,
            LabelSelection::Matcher(m) => write!(f, "{m}")?,
        }
    }
    Ok(())
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Line(l) => {
                f.write_str(match l.op {
                    FilterOp::Contains => " |= ",
                    FilterOp::NotContains => " != ",
                    FilterOp::Match => " |~ ",
                    FilterOp::NotMatch => " !~ ",
                    FilterOp::Pattern => " |> ",
                    FilterOp::NotPattern => " !> ",
                })?;
                for (i, v) in l.values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    match v {
                        FilterValue::Text(s) => f.write_str(&go_quote(s))?,
                        FilterValue::Ip(s) => write!(f, "ip({})", go_quote(s))?,
                    }
                }
                Ok(())
            }
            Stage::Json(list) => {
                f.write_str(" | json")?;
                extractions(f, list)
            }
            Stage::Logfmt {
                strict,
                keep_empty,
                extractions: list,
            } => {
                f.write_str(" | logfmt")?;
                if *strict {
                    f.write_str(" --strict")?;
                }
                if *keep_empty {
                    f.write_str(" --keep-empty")?;
                }
                extractions(f, list)
            }
            Stage::Regexp(s) => write!(f, " | regexp {}", go_quote(s)),
            Stage::Pattern(s) => write!(f, " | pattern {}", go_quote(s)),
            Stage::Unpack => f.write_str(" | unpack"),
            Stage::Decolorize => f.write_str(" | decolorize"),
            Stage::Labels(l) => write!(f, " | {l}"),
            Stage::LineFormat(s) => write!(f, " | line_format {}", go_quote(s)),
            Stage::LabelFormat(list) => {
                f.write_str(" | label_format ")?;
                for (i, l) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    match &l.value {
                        LabelFormatValue::Rename(src) => write!(f, "{}={src}", l.name)?,
                        LabelFormatValue::Template(t) => write!(f, "{}={}", l.name, go_quote(t))?,
                    }
                }
                Ok(())
            }
            Stage::Drop(list) => {
                f.write_str(" | drop ")?;
                selections(f, list)
            }
            Stage::Keep(list) => {
                f.write_str(" | keep ")?;
                selections(f, list)
            }
        }
    }
}

impl Display for LogExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")?;
        for s in &self.pipeline {
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Display for LogRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.log)?;
        if let Some(u) = &self.unwrap {
            f.write_str(" | unwrap ")?;
            match u.conversion {
                Conversion::None => f.write_str(&u.label)?,
                Conversion::Bytes => write!(f, "bytes({})", u.label)?,
                Conversion::Duration => write!(f, "duration({})", u.label)?,
                Conversion::DurationSeconds => write!(f, "duration_seconds({})", u.label)?,
            }
            for l in &u.filters {
                write!(f, " | {l}")?;
            }
        }
        write!(f, "[{}]", self.range_text)?;
        if let Some(o) = &self.offset_text {
            write!(f, " offset {o}")?;
        }
        Ok(())
    }
}

impl Display for Grouping {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            " {} ({})",
            if self.without { "without" } else { "by" },
            self.labels.join(",")
        )
    }
}

impl Display for MetricExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricExpr::Range {
                op,
                param,
                range,
                grouping,
            } => {
                write!(f, "{op}(")?;
                if let Some(p) = param {
                    write!(f, "{p},")?;
                }
                write!(f, "{range})")?;
                if let Some(g) = grouping {
                    write!(f, "{g}")?;
                }
                Ok(())
            }
            MetricExpr::Vector {
                op,
                param,
                expr,
                grouping,
            } => {
                f.write_str(op)?;
                if let Some(g) = grouping {
                    write!(f, "{g}")?;
                }
                f.write_str("(")?;
                if let Some(p) = param {
                    write!(f, "{p},")?;
                }
                write!(f, "{expr})")
            }
            MetricExpr::Binary {
                op,
                modifier,
                lhs,
                rhs,
            } => {
                write!(f, "({lhs} {op}")?;
                if modifier.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some((ignoring, labels)) = &modifier.matching {
                    write!(
                        f,
                        " {} ({})",
                        if *ignoring { "ignoring" } else { "on" },
                        labels.join(",")
                    )?;
                }
                if let Some((right, labels)) = &modifier.group {
                    write!(
                        f,
                        " {} ({})",
                        if *right { "group_right" } else { "group_left" },
                        labels.join(",")
                    )?;
                }
                write!(f, " {rhs})")
            }
            MetricExpr::Literal(v) => write!(f, "{v}"),
            MetricExpr::VectorLiteral(v) => write!(f, "vector({v})"),
            MetricExpr::LabelReplace {
                expr,
                dst,
                replacement,
                src,
                regex,
            } => write!(
                f,
                "label_replace({expr},{},{},{},{})",
                go_quote(dst),
                go_quote(replacement),
                go_quote(src),
                go_quote(regex)
            ),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(l) => write!(f, "{l}"),
            Expr::Metric(m) => write!(f, "{m}"),
        }
    }
}
