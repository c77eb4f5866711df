//! A parsed TraceQL query.
//!
//! An [`Expr`] is one of three queries ([`Query`]): a spanset pipeline (search), a comparison
//! of aggregated spanset pipelines (parsed, but not yet supported by Tempo), or a metrics query.
//! Operators keep Tempo's precedence and associativity, and values keep their written types:
//! the tree holds what was written, without constant folding.

mod field;

pub use field::{
    Attribute, BinaryOp, Field, FieldExpr, Intrinsic, Kind, Scope, Static, StaticType, Status,
    UnaryOp,
};

/// A whole query: what it asks and the hints after `with`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The query.
    pub query: Query,
    /// `with(name=value, …)`, in the order written; empty without `with`.
    pub hints: Vec<Hint>,
}

/// A query hint: `most_recent=true`, `sample=0.1` …
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// The hint's name.
    pub name: String,
    /// Its value.
    pub value: Static,
}

/// What a query asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Spansets: `{ … } | by(…) | count() > 2 | select(…)`, or structural and logical
    /// operations on parenthesized pipelines (`({ a } | count() > 1) >> ({ b })`, a single
    /// stage holding a [`SpansetExpr::Pipeline`] operand).
    Spans(Pipeline),
    /// `({ … } | count()) > ({ … } | avg(duration))`: a comparison of aggregated pipelines
    /// (validation reports it as not yet supported, as Tempo does).
    PipelineFilter(PipelineFilter),
    /// A metrics query: `{ … } | rate() by (…)`, arithmetic on parenthesized metrics queries
    /// and numbers, then second stages.
    Metrics(Metrics),
}

/// Stages separated by `|`, applied left to right to each trace's spansets.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The stages; never empty once parsed.
    pub stages: Vec<Stage>,
}

/// One stage of a [`Pipeline`].
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Spanset filters and operations on them: `{ … } && { … }`.
    Spanset(SpansetExpr),
    /// `count() > 2`, `avg(duration) < 1s`: keeps spansets whose aggregate compares true.
    ScalarFilter(ScalarFilter),
    /// `by(expr)`: splits each spanset by the expression's value.
    GroupBy(FieldExpr),
    /// `coalesce()`: merges the spansets of a trace into one.
    Coalesce,
    /// `select(a, b)`: fetches these fields for the spans returned.
    Select(Vec<Field>),
}

/// Spansets: a filter, or an operation on two spansets.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    /// `{ expr }`: the spans for which `expr` is true (`{}` is `{ true }`).
    Filter(FieldExpr),
    /// `lhs op rhs`
    Op {
        /// The operator.
        op: SpansetOp,
        /// The left spansets.
        lhs: Box<SpansetExpr>,
        /// The right spansets.
        rhs: Box<SpansetExpr>,
    },
    /// A parenthesized pipeline as an operand: `({ a } | count() > 1) && ({ b })`. The
    /// parser makes these only in a query's single stage.
    Pipeline(Pipeline),
}

impl SpansetExpr {
    /// Whether a parenthesized pipeline is among the operands.
    pub fn has_pipeline(&self) -> bool {
        match self {
            SpansetExpr::Filter(_) => false,
            SpansetExpr::Op { lhs, rhs, .. } => lhs.has_pipeline() || rhs.has_pipeline(),
            SpansetExpr::Pipeline(_) => true,
        }
    }
}

/// An operator between spansets: logical, structural (`>`: the right side's spans that are
/// children of the left side's), negated structural (`!>`) and union structural (`&>`: both
/// sides' matching spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpansetOp {
    /// `&&`
    And,
    /// `||`
    Union,
    /// `>`
    Child,
    /// `<`
    Parent,
    /// `>>`
    Descendant,
    /// `<<`
    Ancestor,
    /// `~`
    Sibling,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDescendant,
    /// `!<<`
    NotAncestor,
    /// `!~`
    NotSibling,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDescendant,
    /// `&<<`
    UnionAncestor,
    /// `&~`
    UnionSibling,
}

/// A comparison operator of scalar and metrics filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

/// An arithmetic operator of scalar and metrics expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`: integer division when both sides are integers (Tempo's constant folding).
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}

/// `lhs op rhs` over aggregates of a spanset: `count() > 2`, `max(duration) - min(duration)
/// > 1s`. Tempo evaluates only an aggregate compared with a constant.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    /// The comparison.
    pub op: CmpOp,
    /// The left side.
    pub lhs: ScalarExpr,
    /// The right side.
    pub rhs: ScalarExpr,
}

/// A value computed from a spanset: aggregates, numbers and arithmetic on them.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    /// `count()`, `avg(duration)` …
    Aggregate(Aggregate),
    /// An integer, float or duration (negative when written `-1`).
    Static(Static),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: ArithOp,
        /// The left side.
        lhs: Box<ScalarExpr>,
        /// The right side.
        rhs: Box<ScalarExpr>,
    },
}

/// An aggregate over the spans of a spanset.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The function.
    pub op: AggregateOp,
    /// What is aggregated; `None` for `count()`.
    pub expr: Option<FieldExpr>,
}

/// A spanset aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateOp {
    /// `count()`
    Count,
    /// `avg(x)`
    Avg,
    /// `max(x)`
    Max,
    /// `min(x)`
    Min,
    /// `sum(x)`
    Sum,
}

/// `(pipeline | aggregate) op (pipeline | aggregate)` or `… op static`.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineFilter {
    /// The comparison.
    pub op: CmpOp,
    /// The left side (holds at least one pipeline).
    pub lhs: PipelineScalar,
    /// The right side.
    pub rhs: PipelineScalar,
}

/// A side of a [`PipelineFilter`].
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineScalar {
    /// `({ … } | count())`
    Pipeline(ScalarPipeline),
    /// A value (only as the whole right side).
    Static(Static),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: ArithOp,
        /// The left side.
        lhs: Box<PipelineScalar>,
        /// The right side.
        rhs: Box<PipelineScalar>,
    },
}

/// A pipeline ending in an aggregate: `{ … } | by(.a) | count()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarPipeline {
    /// The stages before the aggregate.
    pub spans: Pipeline,
    /// The aggregate.
    pub aggregate: Aggregate,
}

/// A metrics query: time series computed by `expr`, then passed through `stages`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// The series.
    pub expr: MetricsExpr,
    /// `| topk(5)`, `> 10` … applied in order to the result of `expr`. When `expr` is a single
    /// [`MetricsExpr::Query`], its second stages are all here, none in
    /// [`MetricsQuery::stages`] (`({} | rate() > 1) | topk(2)` is `{} | rate() > 1 | topk(2)`).
    pub stages: Vec<SecondStage>,
}

/// Time series: a metrics query, a number, or arithmetic on them.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsExpr {
    /// `{ … } | rate() by (…)`, written in parentheses when it is an operand.
    Query(Box<MetricsQuery>),
    /// An integer or float (a duration only as a [`SecondStage::Filter`] threshold).
    Number(Static),
    /// `lhs op rhs`: `+`, `-`, `*` or `/`. Number-only subtrees (`1 + 2`) are constants that
    /// Tempo folds, keeping integer arithmetic when both sides are integers.
    Binary {
        /// The operator.
        op: ArithOp,
        /// The left side.
        lhs: Box<MetricsExpr>,
        /// The right side.
        rhs: Box<MetricsExpr>,
    },
}

/// A spanset pipeline turned into time series by a metrics function.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    /// The spans measured.
    pub spans: Pipeline,
    /// How they become series.
    pub aggregate: MetricsAggregate,
    /// Second stages written inside the parentheses of an operand (`({} | rate() > 6) * 100`).
    pub stages: Vec<SecondStage>,
}

/// A metrics function and its grouping.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsAggregate {
    /// The function.
    pub function: MetricsFunction,
    /// `by (a, b)`: one series per distinct combination of values; empty without `by`.
    pub by: Vec<Field>,
}

/// A function turning spans into time series.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsFunction {
    /// `rate()`: spans per second.
    Rate,
    /// `count_over_time()`: spans per step.
    CountOverTime,
    /// `min_over_time(x)`
    MinOverTime(Field),
    /// `max_over_time(x)`
    MaxOverTime(Field),
    /// `avg_over_time(x)`
    AvgOverTime(Field),
    /// `sum_over_time(x)`
    SumOverTime(Field),
    /// `quantile_over_time(x, 0.5, 0.9)`
    QuantileOverTime {
        /// The value measured.
        field: Field,
        /// The quantiles, each in `[0, 1]` once validated.
        quantiles: Vec<f64>,
    },
    /// `histogram_over_time(x)`
    HistogramOverTime(Field),
    /// `compare({ selection }[, top_n[, start, end]])`: attribute values of the selected spans
    /// against all spans.
    Compare {
        /// The spans compared with the rest (the body of the filter).
        selection: FieldExpr,
        /// How many values to return per attribute (Tempo's default is 10).
        top_n: Option<i64>,
        /// Start and end of the selection window in unix nanoseconds; the parser sets it only
        /// together with `top_n`.
        window: Option<(i64, i64)>,
    },
}

/// A stage applied to time series.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondStage {
    /// `topk(n)`: the `n` series with the highest values.
    TopK(i64),
    /// `bottomk(n)`: the `n` series with the lowest values.
    BottomK(i64),
    /// `op value`: keeps the points that compare true (`> 10`, `<= 1 / 2`, `> 10s`).
    Filter {
        /// The comparison.
        op: CmpOp,
        /// A constant: numbers and `+ - * /` on them, or one duration (`> 10s`).
        value: MetricsExpr,
    },
}
