//! Tempo's `validate()`: types of operands, what aggregates and groupings may take, regular
//! expressions, metrics limits, and what is not yet supported. Errors carry Tempo's texts and
//! the offending part of the query as printed.

use crate::ast::{
    Aggregate, AggregateOp, ArithOp, Attribute, BinaryOp, CmpOp, Expr, Field, FieldExpr, Intrinsic,
    Metrics, MetricsAggregate, MetricsExpr, MetricsFunction, Pipeline, PipelineFilter,
    PipelineScalar, Query, ScalarExpr, ScalarFilter, Scope, SecondStage, SpansetExpr, Stage,
    Static, StaticType, UnaryOp,
};
use crate::error::{Error, Result};

/// At most this many `by` fields in a metrics query (one fewer for `quantile_over_time` and
/// `histogram_over_time`, which group by bucket too), as in Tempo.
const MAX_GROUP_BYS: usize = 5;

fn invalid(message: impl Into<String>) -> Error {
    Error::Validate(message.into())
}

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported(feature.into())
}

impl Expr {
    /// Checks the query as Tempo does before running it: [`Error::Validate`] for a query that
    /// means nothing (`{ 1 = "a" }`, `max(name) > 1`, `topk(0)` …), [`Error::Unsupported`] for
    /// what Tempo does not support yet (`parent`, scalar filters beyond an aggregate against a
    /// constant, comparisons of pipelines).
    pub fn validate(&self) -> Result<()> {
        match &self.query {
            Query::Spans(p) => pipeline(p),
            Query::PipelineFilter(f) => pipeline_filter(f),
            Query::Metrics(m) => metrics(m),
        }
    }
}

impl FieldExpr {
    /// The type the expression yields: a comparison's is boolean, arithmetic's its left
    /// operand's (its right one's when the left is an attribute).
    pub fn implied_type(&self) -> StaticType {
        match self {
            FieldExpr::Static(s) => s.value_type(),
            FieldExpr::Field(Field::Intrinsic(i)) => i.value_type(),
            FieldExpr::Field(Field::Attribute(_)) => StaticType::Attribute,
            FieldExpr::Unary { expr, .. } => expr.implied_type(),
            FieldExpr::Binary { op, lhs, rhs } => {
                if op.is_boolean() {
                    return StaticType::Boolean;
                }
                match lhs.implied_type() {
                    StaticType::Attribute => rhs.implied_type(),
                    t => t,
                }
            }
        }
    }

    /// Whether the expression reads the span (holds an intrinsic or attribute).
    pub fn references_span(&self) -> bool {
        match self {
            FieldExpr::Static(_) => false,
            FieldExpr::Field(_) => true,
            FieldExpr::Unary { expr, .. } => expr.references_span(),
            FieldExpr::Binary { lhs, rhs, .. } => lhs.references_span() || rhs.references_span(),
        }
    }
}

/// Whether operands of types `a` and `b` may meet: the same type, two numbers, or an attribute
/// or `nil` on either side.
fn matching(a: StaticType, b: StaticType) -> bool {
    a == b
        || a == StaticType::Attribute
        || b == StaticType::Attribute
        || a == StaticType::Nil
        || b == StaticType::Nil
        || (a.is_numeric() && b.is_numeric())
}

fn type_takes(t: StaticType, op: BinaryOp) -> bool {
    use BinaryOp::*;
    match t {
        StaticType::Attribute => true,
        StaticType::Boolean => matches!(op, And | Or | Eq | Neq),
        StaticType::Int | StaticType::Float | StaticType::Duration => matches!(
            op,
            Add | Sub | Mul | Div | Mod | Pow | Eq | Neq | Gt | Gte | Lt | Lte
        ),
        StaticType::String => matches!(op, Eq | Neq | Re | NotRe | Gt | Gte | Lt | Lte),
        StaticType::Nil | StaticType::Status | StaticType::Kind => matches!(op, Eq | Neq),
    }
}

fn arith(op: ArithOp) -> BinaryOp {
    match op {
        ArithOp::Add => BinaryOp::Add,
        ArithOp::Sub => BinaryOp::Sub,
        ArithOp::Mul => BinaryOp::Mul,
        ArithOp::Div => BinaryOp::Div,
        ArithOp::Mod => BinaryOp::Mod,
        ArithOp::Pow => BinaryOp::Pow,
    }
}

fn cmp(op: CmpOp) -> BinaryOp {
    match op {
        CmpOp::Eq => BinaryOp::Eq,
        CmpOp::Neq => BinaryOp::Neq,
        CmpOp::Lt => BinaryOp::Lt,
        CmpOp::Lte => BinaryOp::Lte,
        CmpOp::Gt => BinaryOp::Gt,
        CmpOp::Gte => BinaryOp::Gte,
    }
}

/// The type and operator checks of a binary operation, printed as `shown` in errors.
fn binary_types(
    op: BinaryOp,
    lhs: StaticType,
    rhs: StaticType,
    shown: &dyn std::fmt::Display,
) -> Result<()> {
    if !matching(lhs, rhs) {
        return Err(invalid(format!(
            "binary operations must operate on the same type: {shown}"
        )));
    }
    if !type_takes(lhs, op) || !type_takes(rhs, op) {
        return Err(invalid(format!(
            "illegal operation for the given types: {shown}"
        )));
    }
    Ok(())
}

fn field(f: &Field) -> Result<()> {
    match f {
        Field::Attribute(a) if a.parent => Err(unsupported("parent")),
        Field::Intrinsic(Intrinsic::Parent) => Err(unsupported("intrinsic (parent)")),
        _ => Ok(()),
    }
}

/// Whether `e` is something that always exists on a span, which `= nil` cannot match.
fn never_nil(e: &FieldExpr) -> Option<&'static str> {
    match e {
        FieldExpr::Field(Field::Intrinsic(_)) => Some("intrinsics cannot be nil"),
        FieldExpr::Field(Field::Attribute(Attribute {
            scope: Scope::Resource,
            parent: false,
            name,
        })) if name == "service.name" => Some("resource.service.name cannot be nil"),
        _ => None,
    }
}

fn field_expr(e: &FieldExpr) -> Result<()> {
    match e {
        FieldExpr::Static(_) => Ok(()),
        FieldExpr::Field(f) => field(f),
        FieldExpr::Unary { op, expr } => {
            field_expr(expr)?;
            unary_types(e, *op, expr)
        }
        FieldExpr::Binary { op, lhs, rhs } => {
            field_expr(lhs)?;
            field_expr(rhs)?;
            binary_checks(e, *op, lhs, rhs)
        }
    }
}

/// The checks of `e`, `op expr`, its operand valid.
fn unary_types(e: &FieldExpr, op: UnaryOp, expr: &FieldExpr) -> Result<()> {
    let t = expr.implied_type();
    let ok = match op {
        UnaryOp::Neg => t.is_numeric(),
        UnaryOp::Not => t == StaticType::Boolean,
    };
    if t != StaticType::Attribute && !ok {
        return Err(invalid(format!(
            "illegal operation for the given type: {e}"
        )));
    }
    Ok(())
}

/// The checks of `e`, `lhs op rhs`, its operands valid: types, `= nil` on what always exists,
/// and the regular expression of `=~` and `!~`.
fn binary_checks(e: &FieldExpr, op: BinaryOp, lhs: &FieldExpr, rhs: &FieldExpr) -> Result<()> {
    binary_types(op, lhs.implied_type(), rhs.implied_type(), e)?;
    if op == BinaryOp::Eq {
        let nil_against = match (lhs, rhs) {
            (FieldExpr::Static(Static::Nil), other) | (other, FieldExpr::Static(Static::Nil)) => {
                never_nil(other)
            }
            _ => None,
        };
        if let Some(message) = nil_against {
            return Err(invalid(message));
        }
    }
    if matches!(op, BinaryOp::Re | BinaryOp::NotRe) {
        if let FieldExpr::Static(Static::Str(re)) = rhs {
            if regex::Regex::new(re).is_err() {
                return Err(invalid(format!("invalid regex: {re}")));
            }
        }
    }
    Ok(())
}

fn pipeline(p: &Pipeline) -> Result<()> {
    p.stages.iter().try_for_each(stage)
}

fn stage(s: &Stage) -> Result<()> {
    match s {
        Stage::Spanset(e) => spanset(e),
        Stage::ScalarFilter(f) => scalar_filter(f),
        Stage::GroupBy(e) => {
            if !e.references_span() {
                return Err(invalid(format!(
                    "grouping field expressions must reference the span: {s}"
                )));
            }
            field_expr(e)
        }
        Stage::Coalesce => Ok(()),
        Stage::Select(fields) => fields.iter().try_for_each(field),
    }
}

fn spanset(e: &SpansetExpr) -> Result<()> {
    match e {
        SpansetExpr::Filter(f) => filter(f),
        SpansetExpr::Op { lhs, rhs, .. } => {
            spanset(lhs)?;
            spanset(rhs)
        }
        SpansetExpr::Pipeline(p) => pipeline(p),
    }
}

/// The body of `{ … }`, which must be a boolean.
fn filter(f: &FieldExpr) -> Result<()> {
    field_expr(f)?;
    let t = f.implied_type();
    if t != StaticType::Attribute && t != StaticType::Boolean {
        return Err(invalid(format!(
            "span filter field expressions must resolve to a boolean: {{ {f} }}"
        )));
    }
    Ok(())
}

fn aggregate(a: &Aggregate) -> Result<()> {
    let Some(e) = &a.expr else { return Ok(()) };
    field_expr(e)?;
    let t = e.implied_type();
    if t != StaticType::Attribute && !t.is_numeric() {
        return Err(invalid(format!(
            "aggregate field expressions must resolve to a number type: {a}"
        )));
    }
    if !e.references_span() {
        return Err(invalid(format!(
            "aggregate field expressions must reference the span: {a}"
        )));
    }
    Ok(())
}

fn aggregate_type(a: &Aggregate) -> StaticType {
    match (&a.op, &a.expr) {
        (AggregateOp::Count, _) | (_, None) => StaticType::Int,
        (_, Some(e)) => e.implied_type(),
    }
}

fn scalar(e: &ScalarExpr) -> Result<StaticType> {
    match e {
        ScalarExpr::Aggregate(a) => {
            aggregate(a)?;
            Ok(aggregate_type(a))
        }
        ScalarExpr::Static(s) => Ok(s.value_type()),
        ScalarExpr::Binary { op, lhs, rhs } => {
            let (l, r) = (scalar(lhs)?, scalar(rhs)?);
            binary_types(arith(*op), l, r, e)?;
            Ok(if l == StaticType::Attribute { r } else { l })
        }
    }
}

fn scalar_filter(f: &ScalarFilter) -> Result<()> {
    let (l, r) = (scalar(&f.lhs)?, scalar(&f.rhs)?);
    binary_types(cmp(f.op), l, r, f)?;
    // Tempo evaluates an aggregate against a constant (which it folds) only.
    if !matches!(f.lhs, ScalarExpr::Aggregate(_)) {
        return Err(unsupported(format!(
            "scalar filter lhs of type ({})",
            f.lhs
        )));
    }
    if has_aggregate(&f.rhs) {
        return Err(unsupported(format!(
            "scalar filter rhs of type ({})",
            f.rhs
        )));
    }
    Ok(())
}

fn has_aggregate(e: &ScalarExpr) -> bool {
    match e {
        ScalarExpr::Aggregate(_) => true,
        ScalarExpr::Static(_) => false,
        ScalarExpr::Binary { lhs, rhs, .. } => has_aggregate(lhs) || has_aggregate(rhs),
    }
}

fn pipeline_scalar(e: &PipelineScalar) -> Result<StaticType> {
    match e {
        PipelineScalar::Pipeline(p) => {
            pipeline(&p.spans)?;
            aggregate(&p.aggregate)?;
            Ok(aggregate_type(&p.aggregate))
        }
        PipelineScalar::Static(s) => Ok(s.value_type()),
        PipelineScalar::Binary { op, lhs, rhs } => {
            let (l, r) = (pipeline_scalar(lhs)?, pipeline_scalar(rhs)?);
            binary_types(arith(*op), l, r, e)?;
            Ok(if l == StaticType::Attribute { r } else { l })
        }
    }
}

fn pipeline_filter(f: &PipelineFilter) -> Result<()> {
    let (l, r) = (pipeline_scalar(&f.lhs)?, pipeline_scalar(&f.rhs)?);
    binary_types(cmp(f.op), l, r, f)?;
    Err(unsupported(format!(
        "scalar filter lhs of type ({})",
        f.lhs
    )))
}

fn is_compare(a: &MetricsAggregate) -> bool {
    matches!(a.function, MetricsFunction::Compare { .. })
}

fn metrics(m: &Metrics) -> Result<()> {
    metrics_expr(&m.expr)?;
    if let MetricsExpr::Query(q) = &m.expr {
        if is_compare(&q.aggregate) && !m.stages.is_empty() {
            return Err(invalid(
                "compare() cannot be followed by second stage functions",
            ));
        }
    }
    m.stages.iter().try_for_each(second_stage)
}

fn metrics_expr(e: &MetricsExpr) -> Result<()> {
    match e {
        MetricsExpr::Query(q) => {
            pipeline(&q.spans)?;
            metrics_aggregate(&q.aggregate)?;
            if is_compare(&q.aggregate) && !q.stages.is_empty() {
                return Err(invalid(
                    "compare() cannot be followed by second stage functions",
                ));
            }
            q.stages.iter().try_for_each(second_stage)
        }
        MetricsExpr::Number(_) => Ok(()),
        MetricsExpr::Binary { lhs, rhs, .. } => {
            for side in [lhs, rhs] {
                if let MetricsExpr::Query(q) = &**side {
                    if is_compare(&q.aggregate) {
                        return Err(invalid("compare() cannot be used in arithmetic"));
                    }
                }
            }
            metrics_expr(lhs)?;
            metrics_expr(rhs)
        }
    }
}

fn metrics_aggregate(a: &MetricsAggregate) -> Result<()> {
    a.by.iter().try_for_each(field)?;
    let too_many = |limit: usize| {
        if a.by.len() > limit {
            Err(unsupported(format!(
                "metrics group by {} values",
                a.by.len()
            )))
        } else {
            Ok(())
        }
    };
    match &a.function {
        MetricsFunction::Rate | MetricsFunction::CountOverTime => too_many(MAX_GROUP_BYS),
        MetricsFunction::MinOverTime(f)
        | MetricsFunction::MaxOverTime(f)
        | MetricsFunction::AvgOverTime(f)
        | MetricsFunction::SumOverTime(f) => {
            field(f)?;
            too_many(MAX_GROUP_BYS)
        }
        MetricsFunction::HistogramOverTime(f) => {
            field(f)?;
            too_many(MAX_GROUP_BYS - 1)
        }
        MetricsFunction::QuantileOverTime {
            field: f,
            quantiles,
        } => {
            field(f)?;
            too_many(MAX_GROUP_BYS - 1)?;
            match quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                Some(q) => Err(invalid(format!("quantile must be between 0 and 1: {q}"))),
                None => Ok(()),
            }
        }
        MetricsFunction::Compare {
            selection,
            top_n,
            window,
        } => {
            filter(selection)?;
            if top_n.is_some_and(|n| n <= 0) {
                return Err(invalid(
                    "compare() top number of values must be integer greater than 0",
                ));
            }
            match window {
                Some((0, 0)) | None => Ok(()),
                Some((start, end)) if *start <= 0 || *end <= 0 => Err(invalid(
                    "compare() timestamps must be positive integer unix nanoseconds",
                )),
                Some((start, end)) if end <= start => Err(invalid(
                    "compare() end timestamp must be greater than start timestamp",
                )),
                Some(_) => Ok(()),
            }
        }
    }
}

fn second_stage(s: &SecondStage) -> Result<()> {
    match s {
        SecondStage::TopK(n) | SecondStage::BottomK(n) if *n <= 0 => {
            Err(invalid("limit must be greater than 0"))
        }
        _ => Ok(()),
    }
}
