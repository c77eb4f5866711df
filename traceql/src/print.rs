//! Queries printed as text that parses back to the same tree: operators spaced, parentheses
//! only where precedence needs them (and around every metrics query that is an operand, as the
//! grammar wants), strings in Go's quoting, durations as Go prints them (`1h30m0s`),
//! floats with a fraction or exponent (`1.0`, `1e-7`), `{}` as `{ true }`.

mod field;

use std::fmt::{self, Display, Formatter};

use crate::ast::{
    Aggregate, AggregateOp, ArithOp, CmpOp, Expr, Metrics, MetricsAggregate, MetricsExpr,
    MetricsFunction, MetricsQuery, Pipeline, PipelineFilter, PipelineScalar, Query, ScalarExpr,
    ScalarFilter, SecondStage, SpansetExpr, SpansetOp, Stage,
};

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.query)?;
        if !self.hints.is_empty() {
            f.write_str(" with(")?;
            for (i, h) in self.hints.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}={}", h.name, h.value)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Query::Spans(p) => write!(f, "{p}"),
            Query::PipelineFilter(p) => write!(f, "{p}"),
            Query::Metrics(m) => write!(f, "{m}"),
        }
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, s) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Spanset(e) => write!(f, "{e}"),
            Stage::ScalarFilter(s) => write!(f, "{s}"),
            Stage::GroupBy(e) => write!(f, "by({e})"),
            Stage::Coalesce => f.write_str("coalesce()"),
            Stage::Select(fields) => {
                f.write_str("select(")?;
                list(f, fields)?;
                f.write_str(")")
            }
        }
    }
}

fn list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for SpansetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(e) => write!(f, "{{ {e} }}"),
            SpansetExpr::Op { op, lhs, rhs } => {
                // `&&` and `||` bind looser than the structural operators; all associate left.
                // Next to a parenthesized pipeline, every operand is parenthesized.
                let l = spanset_level(*op);
                let all = self.has_pipeline();
                let wrap = |e: &SpansetExpr, right: bool| match e {
                    SpansetExpr::Op { op, .. } => {
                        let c = spanset_level(*op);
                        all || c < l || (right && c == l)
                    }
                    SpansetExpr::Filter(_) => all,
                    SpansetExpr::Pipeline(_) => false,
                };
                let (wrap_l, wrap_r) = (wrap(lhs, false), wrap(rhs, true));
                paren(f, wrap_l, lhs)?;
                write!(f, " {op} ")?;
                paren(f, wrap_r, rhs)
            }
            SpansetExpr::Pipeline(p) => write!(f, "({p})"),
        }
    }
}

fn spanset_level(op: SpansetOp) -> u8 {
    match op {
        SpansetOp::And | SpansetOp::Union => 2,
        _ => 3,
    }
}

impl Display for SpansetOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpansetOp::And => "&&",
            SpansetOp::Union => "||",
            SpansetOp::Child => ">",
            SpansetOp::Parent => "<",
            SpansetOp::Descendant => ">>",
            SpansetOp::Ancestor => "<<",
            SpansetOp::Sibling => "~",
            SpansetOp::NotChild => "!>",
            SpansetOp::NotParent => "!<",
            SpansetOp::NotDescendant => "!>>",
            SpansetOp::NotAncestor => "!<<",
            SpansetOp::NotSibling => "!~",
            SpansetOp::UnionChild => "&>",
            SpansetOp::UnionParent => "&<",
            SpansetOp::UnionDescendant => "&>>",
            SpansetOp::UnionAncestor => "&<<",
            SpansetOp::UnionSibling => "&~",
        })
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        })
    }
}

impl Display for ArithOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::Pow => "^",
        })
    }
}

fn arith_level(op: ArithOp) -> u8 {
    match op {
        ArithOp::Add | ArithOp::Sub => 4,
        ArithOp::Mul | ArithOp::Div | ArithOp::Mod => 6,
        ArithOp::Pow => 7,
    }
}

/// `lhs op rhs` with parentheses where precedence needs them; `level` gives an operand's
/// operator level (`None` for operands that need none).
fn arith<T: Display>(
    f: &mut Formatter<'_>,
    op: ArithOp,
    lhs: &T,
    rhs: &T,
    level: fn(&T) -> Option<u8>,
) -> fmt::Result {
    let l = arith_level(op);
    let right_assoc = op == ArithOp::Pow;
    let wrap_l = level(lhs).is_some_and(|c| c < l || (c == l && right_assoc));
    let wrap_r = level(rhs).is_some_and(|c| c < l || (c == l && !right_assoc));
    paren(f, wrap_l, lhs)?;
    write!(f, " {op} ")?;
    paren(f, wrap_r, rhs)
}

fn paren<T: Display>(f: &mut Formatter<'_>, wrap: bool, e: &T) -> fmt::Result {
    if wrap {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl Display for ScalarFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op, self.rhs)
    }
}

impl Display for ScalarExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Aggregate(a) => write!(f, "{a}"),
            ScalarExpr::Static(s) => write!(f, "{s}"),
            ScalarExpr::Binary { op, lhs, rhs } => arith(f, *op, &**lhs, &**rhs, |e| match e {
                ScalarExpr::Binary { op, .. } => Some(arith_level(*op)),
                _ => None,
            }),
        }
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let name = match self.op {
            AggregateOp::Count => "count",
            AggregateOp::Avg => "avg",
            AggregateOp::Max => "max",
            AggregateOp::Min => "min",
            AggregateOp::Sum => "sum",
        };
        match &self.expr {
            Some(e) => write!(f, "{name}({e})"),
            None => write!(f, "{name}()"),
        }
    }
}

impl Display for PipelineFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op, self.rhs)
    }
}

impl Display for PipelineScalar {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PipelineScalar::Pipeline(p) => write!(f, "({} | {})", p.spans, p.aggregate),
            PipelineScalar::Static(s) => write!(f, "{s}"),
            PipelineScalar::Binary { op, lhs, rhs } => arith(f, *op, &**lhs, &**rhs, |e| match e {
                PipelineScalar::Binary { op, .. } => Some(arith_level(*op)),
                _ => None,
            }),
        }
    }
}

impl Display for Metrics {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.expr {
            MetricsExpr::Query(q) => write!(f, "{q}")?,
            e => write!(f, "{e}")?,
        }
        stages(f, &self.stages)
    }
}

fn stages(f: &mut Formatter<'_>, stages: &[SecondStage]) -> fmt::Result {
    for s in stages {
        match s {
            SecondStage::Filter { .. } => write!(f, " {s}")?,
            _ => write!(f, " | {s}")?,
        }
    }
    Ok(())
}

impl Display for SecondStage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SecondStage::TopK(n) => write!(f, "topk({n})"),
            SecondStage::BottomK(n) => write!(f, "bottomk({n})"),
            SecondStage::Filter { op, value } => write!(f, "{op} {value}"),
        }
    }
}

impl Display for MetricsExpr {
    /// An operand's form: a metrics query in parentheses.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricsExpr::Query(q) => write!(f, "({q})"),
            MetricsExpr::Number(n) => write!(f, "{n}"),
            MetricsExpr::Binary { op, lhs, rhs } => arith(f, *op, &**lhs, &**rhs, |e| match e {
                MetricsExpr::Binary { op, .. } => Some(arith_level(*op)),
                _ => None,
            }),
        }
    }
}

impl Display for MetricsQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} | {}", self.spans, self.aggregate)?;
        stages(f, &self.stages)
    }
}

impl Display for MetricsAggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.function)?;
        if !self.by.is_empty() {
            f.write_str(" by (")?;
            list(f, &self.by)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Display for MetricsFunction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MetricsFunction::Rate => f.write_str("rate()"),
            MetricsFunction::CountOverTime => f.write_str("count_over_time()"),
            MetricsFunction::MinOverTime(x) => write!(f, "min_over_time({x})"),
            MetricsFunction::MaxOverTime(x) => write!(f, "max_over_time({x})"),
            MetricsFunction::AvgOverTime(x) => write!(f, "avg_over_time({x})"),
            MetricsFunction::SumOverTime(x) => write!(f, "sum_over_time({x})"),
            MetricsFunction::HistogramOverTime(x) => write!(f, "histogram_over_time({x})"),
            MetricsFunction::QuantileOverTime { field, quantiles } => {
                write!(f, "quantile_over_time({field}")?;
                for q in quantiles {
                    write!(f, ", {q:?}")?;
                }
                f.write_str(")")
            }
            MetricsFunction::Compare {
                selection,
                top_n,
                window,
            } => {
                write!(f, "compare({{ {selection} }}")?;
                if let Some(n) = top_n {
                    write!(f, ", {n}")?;
                }
                if let Some((start, end)) = window {
                    write!(f, ", {start}, {end}")?;
                }
                f.write_str(")")
            }
        }
    }
}
