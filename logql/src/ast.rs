//! A parsed LogQL query.

/// A label matcher's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
}

/// `name op "value"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// The label.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or regular expression.
    pub value: String,
}

/// A line filter's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `|=`: contains.
    Contains,
    /// `!=`: does not contain.
    NotContains,
    /// `|~`: matches the regular expression.
    Match,
    /// `!~`: does not match.
    NotMatch,
    /// `|>`: matches the pattern.
    Pattern,
    /// `!>`: does not match the pattern.
    NotPattern,
}

/// What a line filter looks for.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// A string (or expression, by the operator).
    Text(String),
    /// `ip("…")`: an address, range or CIDR.
    Ip(String),
}

/// A line filter: `op value`, with alternatives joined by `or`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFilter {
    /// The operator.
    pub op: FilterOp,
    /// The value, then its `or` alternatives.
    pub values: Vec<FilterValue>,
}

/// A comparison of a label filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=` or `==`
    Eq,
    /// `!=`
    Neq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
}

/// A label filter.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// A string matcher (`level="error"`, `path=~"/api.*"`).
    Matcher(Matcher),
    /// `name = ip("…")` or `name != ip("…")`.
    Ip {
        /// The label.
        name: String,
        /// `!=`.
        negate: bool,
        /// The address, range or CIDR.
        pattern: String,
    },
    /// A duration comparison (`latency > 250ms`), nanoseconds.
    Duration {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// Nanoseconds.
        value: i64,
        /// As written.
        text: String,
    },
    /// A byte size comparison (`size >= 2.5KiB`).
    Bytes {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// Bytes.
        value: u64,
        /// As written.
        text: String,
    },
    /// A number comparison (`status >= 500`).
    Number {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The number.
        value: f64,
    },
    /// Both (`and`, or a comma).
    And(Box<LabelFilter>, Box<LabelFilter>),
    /// Either.
    Or(Box<LabelFilter>, Box<LabelFilter>),
}

/// `json`/`logfmt` extraction: `name` or `name="expression"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    /// The label it makes.
    pub name: String,
    /// Where from (a JSON path or logfmt key); `None`: the label's own name.
    pub expression: Option<String>,
}

/// A `label_format` entry: `dst=src` (rename) or `dst="template"`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFormat {
    /// The label set.
    pub name: String,
    /// A label to rename from, or a template.
    pub value: LabelFormatValue,
}

/// What a `label_format` entry takes.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFormatValue {
    /// Another label (renamed).
    Rename(String),
    /// A template.
    Template(String),
}

/// A `drop` or `keep` entry: a label name, or a matcher.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSelection {
    /// A label by name.
    Name(String),
    /// Labels matching.
    Matcher(Matcher),
}

/// A stage of a log pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// A line filter.
    Line(LineFilter),
    /// `| json` with its extractions.
    Json(Vec<Extraction>),
    /// `| logfmt` with its flags and extractions.
    Logfmt {
        /// `--strict`.
        strict: bool,
        /// `--keep-empty`.
        keep_empty: bool,
        /// Extractions.
        extractions: Vec<Extraction>,
    },
    /// `| regexp "…"`.
    Regexp(String),
    /// `| pattern "…"`.
    Pattern(String),
    /// `| unpack`.
    Unpack,
    /// `| label filter`.
    Labels(LabelFilter),
    /// `| line_format "…"`.
    LineFormat(String),
    /// `| label_format …`.
    LabelFormat(Vec<LabelFormat>),
    /// `| decolorize`.
    Decolorize,
    /// `| drop …`.
    Drop(Vec<LabelSelection>),
    /// `| keep …`.
    Keep(Vec<LabelSelection>),
}

/// A log query: a stream selector and its pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct LogExpr {
    /// The stream selector's matchers.
    pub matchers: Vec<Matcher>,
    /// The pipeline.
    pub pipeline: Vec<Stage>,
}

/// `unwrap`'s conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// The value as a number.
    None,
    /// `bytes(…)`.
    Bytes,
    /// `duration(…)`.
    Duration,
    /// `duration_seconds(…)`.
    DurationSeconds,
}

/// `| unwrap label` with its conversion and post-filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrap {
    /// The label unwrapped.
    pub label: String,
    /// Its conversion.
    pub conversion: Conversion,
    /// Label filters after it (`| __error__=""`).
    pub filters: Vec<LabelFilter>,
}

/// The log range of a range aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRange {
    /// The log query.
    pub log: LogExpr,
    /// The range, nanoseconds.
    pub range: i64,
    /// The range as written.
    pub range_text: String,
    /// `offset`, nanoseconds (0 without).
    pub offset: i64,
    /// `offset` as written.
    pub offset_text: Option<String>,
    /// `unwrap`.
    pub unwrap: Option<Unwrap>,
}

/// Grouping: `by (…)` or `without (…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// `without`.
    pub without: bool,
    /// The labels.
    pub labels: Vec<String>,
}

/// Vector matching of a binary operation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BinModifier {
    /// `bool`.
    pub return_bool: bool,
    /// `on (…)` (`Some(false, …)`) or `ignoring (…)` (`Some(true, …)`).
    pub matching: Option<(bool, Vec<String>)>,
    /// `group_left` (`Some(false, …)`) or `group_right` (`Some(true, …)`), with include labels.
    pub group: Option<(bool, Vec<String>)>,
}

/// A metric query.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    /// `op([param,] log range) [grouping]`.
    Range {
        /// The function (`rate`, `count_over_time` …).
        op: String,
        /// `quantile_over_time`'s quantile.
        param: Option<f64>,
        /// The log range.
        range: LogRange,
        /// Grouping (only the unwrapped aggregations take it).
        grouping: Option<Grouping>,
    },
    /// `op [grouping] ([param,] expr) [grouping]`.
    Vector {
        /// The aggregation (`sum`, `topk` …).
        op: String,
        /// `topk`'s k and the like.
        param: Option<f64>,
        /// The aggregated expression.
        expr: Box<MetricExpr>,
        /// Grouping.
        grouping: Option<Grouping>,
    },
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: String,
        /// Matching.
        modifier: BinModifier,
        /// Left.
        lhs: Box<MetricExpr>,
        /// Right.
        rhs: Box<MetricExpr>,
    },
    /// A number.
    Literal(f64),
    /// `vector(n)`.
    VectorLiteral(f64),
    /// `label_replace(expr, dst, replacement, src, regex)`.
    LabelReplace {
        /// The expression.
        expr: Box<MetricExpr>,
        /// Destination label.
        dst: String,
        /// Replacement.
        replacement: String,
        /// Source label.
        src: String,
        /// Regular expression.
        regex: String,
    },
}

/// A LogQL query: logs, or a metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A log query.
    Log(LogExpr),
    /// A metric query.
    Metric(MetricExpr),
}
