//! What a rule file holds, and how it is read.

use std::collections::BTreeMap;
use std::time::Duration;

/// How names of labels, annotations and recorded metrics are validated (Prometheus's
/// `model.ValidationScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// Any non-empty UTF-8 name (Prometheus 3's default).
    #[default]
    Utf8,
    /// `[a-zA-Z_][a-zA-Z0-9_]*` (metric names may also hold `:`).
    Legacy,
}

/// How a rule file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Accept fields Prometheus does not know (`promtool --ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    /// How names are validated.
    pub names: NameValidation,
}

/// Where a node starts in the file: 1-based line and column; `0:0` for a field that is absent
/// (as Prometheus prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The language of a rule's expression: a Vigil extension of the rule format (`language:` on a
/// group, for all its rules, or on one rule); PromQL when absent, so Prometheus's files read
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// PromQL over the metrics (Prometheus's rules).
    #[default]
    PromQl,
    /// SQL over Vigil's tables: each row is a result, its `value` column the value and its
    /// other columns (text) the labels.
    Sql,
    /// LogQL metric queries over the logs (Loki's ruler rules).
    LogQl,
    /// TraceQL metrics queries over the spans (`{ status = error } | rate() by (…)`), each
    /// evaluated as an instant query over the [`TRACEQL_RULE_WINDOW`] before the evaluation.
    TraceQl,
}

/// The window a TraceQL rule's instant query covers, ms: its `rate()` is per second over it,
/// its `count_over_time()` counts in it.
pub const TRACEQL_RULE_WINDOW: i64 = 5 * 60 * 1000;

impl Language {
    /// The name rule files and the rule API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::PromQl => "promql",
            Language::Sql => "sql",
            Language::LogQl => "logql",
            Language::TraceQl => "traceql",
        }
    }

    /// The language of a rule: as the rule or its group names it, else PromQL, or LogQL for an
    /// expression that is no PromQL but a LogQL metric query (Loki's ruler files read
    /// unchanged), or TraceQL for one that is neither but a TraceQL metrics query.
    /// `count_over_time({app="a"}[5m])` is valid PromQL too: such a rule needs
    /// `language: logql`.
    pub fn of(rule: Option<Language>, group: Option<Language>, expr: &str) -> Language {
        if let Some(l) = rule.or(group) {
            return l;
        }
        if promql::parse(expr).is_ok() {
            return Language::PromQl;
        }
        if matches!(logql::parse(expr), Ok(logql::ast::Expr::Metric(_))) {
            Language::LogQl
        } else if matches!(
            traceql::parse(expr),
            Ok(traceql::ast::Expr {
                query: traceql::ast::Query::Metrics(_),
                ..
            })
        ) {
            Language::TraceQl
        } else {
            Language::PromQl
        }
    }

    /// The language named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "promql" => Some(Language::PromQl),
            "sql" => Some(Language::Sql),
            "logql" => Some(Language::LogQl),
            "traceql" => Some(Language::TraceQl),
            _ => None,
        }
    }
}

/// A parsed rule file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleFile {
    /// Its groups, in file order.
    pub groups: Vec<RuleGroup>,
}

/// A group of rules evaluated together, in order, on one interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleGroup {
    /// The group's name, unique in its file.
    pub name: String,
    /// How often the group is evaluated; `None`: the global evaluation interval.
    pub interval: Option<Duration>,
    /// How far behind the evaluation time the group queries; `None`: the global offset.
    pub query_offset: Option<Duration>,
    /// Most alerts or series a rule may produce per evaluation; 0: no limit.
    pub limit: u64,
    /// Labels added to every rule's output.
    pub labels: BTreeMap<String, String>,
    /// The language of its rules' expressions, unless a rule names its own.
    pub language: Option<Language>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// Where the group's mapping starts.
    pub pos: Pos,
}

/// One alerting or recording rule, as written (exactly one of `alert` and `record` is set in a
/// valid file).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    /// The name of the series a recording rule writes.
    pub record: Option<String>,
    /// The name of an alerting rule's alerts.
    pub alert: Option<String>,
    /// The expression (PromQL unless [`Rule::language`] says otherwise).
    pub expr: String,
    /// The language of the expression as the rule names it (`None`: the group's).
    pub language: Option<Language>,
    /// How long an alert stays pending before it fires.
    pub for_: Duration,
    /// How long an alert keeps firing after its condition cleared.
    pub keep_firing_for: Duration,
    /// Labels added to the output.
    pub labels: BTreeMap<String, String>,
    /// Annotations of an alerting rule's alerts (templates).
    pub annotations: BTreeMap<String, String>,
    /// Where the rule's fields start, for error messages.
    pub(crate) at: RulePositions,
}

impl Rule {
    /// The rule's name: its alert name, or else the series it records.
    pub fn name(&self) -> &str {
        self.alert
            .as_deref()
            .or(self.record.as_deref())
            .unwrap_or("")
    }
}

/// Positions of a rule's fields (`0:0` when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RulePositions {
    pub(crate) record: Pos,
    pub(crate) alert: Pos,
    pub(crate) expr: Pos,
}
