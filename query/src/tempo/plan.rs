//! Which spans a TraceQL search must find before it can match a trace: a SQL condition on
//! one row of `spans`, true for at least one span of every trace the query matches (a
//! necessary condition, never a sufficient one: the evaluator decides). Searches read the
//! trace ids of the rows that meet it first — through the segment indexes on `service_name`,
//! `name`, `kind`, `status_code` and attribute pairs, which `sql::index_filter` consults —
//! and then only those traces, instead of every span of the window.
//!
//! | TraceQL | condition |
//! |---|---|
//! | `{ a && b }` | `a AND b` (the same span) |
//! | `{ a \|\| b }` | `a OR b` |
//! | `resource.service.name = "s"` | `service_name = 's'` |
//! | `name`, `kind`, `status`, `statusMessage`, `duration` compared with a value | the column compared |
//! | `name =~ "re"` | `name ~ '^(?:re)$'` |
//! | `span.k = v`, `resource.k = v` (string, integer or boolean `v`) | `attributes['k'] = 'v'` |
//! | `.k = v` | the span's or the resource's attribute |
//! | `A && B`, `A >> B` and the other structural operators | one side: `B` for structural ones (their result is drawn from `B`, or from both sides), the first that says anything for `&&` |
//! | `A \|\| B` | `A OR B` |
//! | `{ A } \| { B } \| …` | `A AND B` (later filters keep a subset of the same spans) |
//! | anything else (`!`, trace-level intrinsics, events, links, arithmetic) | none: every span |

use traceql::ast::{
    Attribute, BinaryOp, Expr, Field, FieldExpr, Intrinsic, Kind, MetricsExpr, MetricsFunction,
    MetricsQuery, Pipeline, Query, Scope, SpansetExpr, SpansetOp, Stage, Static, Status,
};

/// The condition for `expr`'s spans, or `None` when any span may belong to a matching trace.
pub(crate) fn candidates(expr: &Expr) -> Option<String> {
    match &expr.query {
        Query::Spans(p) => pipeline(p),
        _ => None,
    }
}

/// The condition for the spans a metrics query measures: its queries' conditions ORed, or
/// `None` when any query may measure any span.
pub(crate) fn metrics_candidates(expr: &Expr) -> Option<String> {
    let Query::Metrics(m) = &expr.query else {
        return None;
    };
    let mut queries = Vec::new();
    metrics_queries(&m.expr, &mut queries);
    let mut parts = Vec::new();
    for q in queries {
        parts.push(pipeline(&q.spans)?);
    }
    let mut parts = parts.into_iter();
    let first = parts.next()?;
    parts.try_fold(first, or)
}

/// Whether every query of metrics query `expr` decides about each span from the span alone
/// (its fields, resource and scope; no other span of its trace, no trace-level intrinsic, no
/// aggregate over a spanset): then spans can be measured as they are read, trace by trace
/// parts and all, instead of whole traces.
pub(crate) fn span_local(expr: &Expr) -> bool {
    metrics_fields_all(expr, local_field)
}

/// Whether a [`span_local`] metrics query names nothing but the intrinsics of a span's own
/// columns and `resource.service.name` (no attribute map, event or link): its spans can be read
/// as `search::LEAN_COLUMNS` give them, except those whose `service_name` is `unknown_service`
/// (the column then cannot tell an absent attribute from that text; those read everything).
pub(crate) fn lean(expr: &Expr) -> bool {
    span_local(expr) && metrics_fields_all(expr, lean_field)
}

/// Whether `expr` is a metrics query of span-wise stages (filters, `by`, `select`; no
/// `compare`) whose every field meets `ok`.
fn metrics_fields_all(expr: &Expr, ok: fn(&Field) -> bool) -> bool {
    let Query::Metrics(m) = &expr.query else {
        return false;
    };
    let mut queries = Vec::new();
    metrics_queries(&m.expr, &mut queries);
    queries.iter().all(|q| {
        let function_field = match &q.aggregate.function {
            MetricsFunction::Rate | MetricsFunction::CountOverTime => None,
            MetricsFunction::MinOverTime(f)
            | MetricsFunction::MaxOverTime(f)
            | MetricsFunction::AvgOverTime(f)
            | MetricsFunction::SumOverTime(f)
            | MetricsFunction::HistogramOverTime(f)
            | MetricsFunction::QuantileOverTime { field: f, .. } => Some(f),
            MetricsFunction::Compare { .. } => return false,
        };
        q.spans.stages.iter().all(|stage| match stage {
            Stage::Spanset(SpansetExpr::Filter(f)) | Stage::GroupBy(f) => expr_fields_all(f, ok),
            Stage::Select(fields) => fields.iter().all(ok),
            _ => false,
        }) && q.aggregate.by.iter().all(ok)
            && function_field.is_none_or(ok)
    })
}

/// A `by()` field that a SQL column gives exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByColumn {
    /// `name`: a string.
    Name,
    /// `kind`: the OTLP number.
    Kind,
    /// `status`: the OTLP code.
    Status,
    /// `resource.service.name`: the `service_name` column, which holds the attribute's text
    /// unless the resource has none (or an empty one: `unknown_service`); those rows read the
    /// map, where the attribute is null when absent.
    Service,
}

impl ByColumn {
    /// The SQL expression of the column; `map`: read `resource.service.name` from the
    /// attribute map (for rows whose `service_name` is `unknown_service`) rather than the
    /// column.
    pub(crate) fn sql(self, map: bool) -> &'static str {
        match self {
            ByColumn::Name => "name",
            ByColumn::Kind => "kind",
            ByColumn::Status => "status_code",
            ByColumn::Service if map => "resource_attributes['service.name']",
            ByColumn::Service => "service_name",
        }
    }
}

/// For a counting metrics query (`by` its `by()` fields) whose spanset filter SQL states
/// exactly — intrinsic comparisons of `name`, `status`, `kind`, `duration` and string
/// (in)equality of `resource.service.name`, joined by `&&`, `||` — the exact condition
/// (`None`: every span) and the columns of its `by()` fields; `None` when either is not
/// exact. Spans can then be counted by SQL instead of evaluated one by one.
pub(crate) fn exact_counting(expr: &Expr, by: &[Field]) -> Option<(Option<String>, Vec<ByColumn>)> {
    let Query::Metrics(m) = &expr.query else {
        return None;
    };
    let MetricsExpr::Query(q) = &m.expr else {
        return None;
    };
    let columns = by
        .iter()
        .map(|f| match f {
            Field::Intrinsic(Intrinsic::Name) => Some(ByColumn::Name),
            Field::Intrinsic(Intrinsic::Kind) => Some(ByColumn::Kind),
            Field::Intrinsic(Intrinsic::Status) => Some(ByColumn::Status),
            Field::Attribute(a)
                if a.scope == Scope::Resource && !a.parent && a.name == "service.name" =>
            {
                Some(ByColumn::Service)
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let [Stage::Spanset(SpansetExpr::Filter(f))] = q.spans.stages.as_slice() else {
        return None;
    };
    if matches!(f, FieldExpr::Static(Static::Bool(true))) {
        return Some((None, columns));
    }
    Some((Some(exact(f)?), columns))
}

/// The SQL condition exactly equivalent to `f`, if there is one.
fn exact(f: &FieldExpr) -> Option<String> {
    let FieldExpr::Binary { op, lhs, rhs } = f else {
        return None;
    };
    match op {
        BinaryOp::And => Some(format!("({} AND {})", exact(lhs)?, exact(rhs)?)),
        BinaryOp::Or => Some(format!("({} OR {})", exact(lhs)?, exact(rhs)?)),
        _ => match (lhs.as_ref(), rhs.as_ref()) {
            (FieldExpr::Field(Field::Intrinsic(i)), FieldExpr::Static(v))
                if matches!(
                    i,
                    Intrinsic::Name | Intrinsic::Status | Intrinsic::Kind | Intrinsic::Duration
                ) && *op != BinaryOp::Re =>
            {
                intrinsic(*i, *op, v)
            }
            (FieldExpr::Field(Field::Attribute(a)), FieldExpr::Static(Static::Str(s)))
                if a.scope == Scope::Resource
                    && !a.parent
                    && a.name == "service.name"
                    && matches!(op, BinaryOp::Eq | BinaryOp::Neq) =>
            {
                // `service_name` holds the attribute's text wherever it is another than
                // `unknown_service` (which it also holds for resources without one).
                if *op == BinaryOp::Eq && !s.is_empty() && s != common::schema::UNKNOWN_SERVICE {
                    return Some(format!("service_name = {}", literal(s)));
                }
                let sql_op = if *op == BinaryOp::Eq { "=" } else { "!=" };
                Some(format!(
                    "resource_attributes['service.name'] {sql_op} {}",
                    literal(s)
                ))
            }
            _ => None,
        },
    }
}

fn metrics_queries<'a>(e: &'a MetricsExpr, out: &mut Vec<&'a MetricsQuery>) {
    match e {
        MetricsExpr::Query(q) => out.push(q),
        MetricsExpr::Number(_) => {}
        MetricsExpr::Binary { lhs, rhs, .. } => {
            metrics_queries(lhs, out);
            metrics_queries(rhs, out);
        }
    }
}

fn expr_fields_all(f: &FieldExpr, ok: fn(&Field) -> bool) -> bool {
    match f {
        FieldExpr::Static(_) => true,
        FieldExpr::Field(field) => ok(field),
        FieldExpr::Unary { expr, .. } => expr_fields_all(expr, ok),
        FieldExpr::Binary { lhs, rhs, .. } => expr_fields_all(lhs, ok) && expr_fields_all(rhs, ok),
    }
}

/// A field a span's lean columns hold (see [`lean`]).
fn lean_field(f: &Field) -> bool {
    match f {
        Field::Attribute(a) => a.scope == Scope::Resource && !a.parent && a.name == "service.name",
        Field::Intrinsic(i) => !matches!(
            i,
            Intrinsic::EventName
                | Intrinsic::EventTimeSinceStart
                | Intrinsic::LinkTraceId
                | Intrinsic::LinkSpanId
        ),
    }
}

fn local_field(f: &Field) -> bool {
    match f {
        Field::Attribute(a) => !a.parent,
        Field::Intrinsic(i) => !matches!(
            i,
            Intrinsic::ChildCount
                | Intrinsic::Parent
                | Intrinsic::TraceRootSpan
                | Intrinsic::TraceRootService
                | Intrinsic::TraceDuration
                | Intrinsic::NestedSetLeft
                | Intrinsic::NestedSetRight
                | Intrinsic::NestedSetParent
        ),
    }
}

/// The condition of a pipeline: its spanset stages ANDed, each narrowing the same spans.
pub(crate) fn pipeline(p: &Pipeline) -> Option<String> {
    let mut parts = Vec::new();
    for stage in &p.stages {
        if let Stage::Spanset(e) = stage {
            if let Some(c) = spanset(e) {
                parts.push(c);
            }
        }
    }
    and(parts)
}

fn spanset(e: &SpansetExpr) -> Option<String> {
    match e {
        SpansetExpr::Filter(f) => field(f),
        SpansetExpr::Pipeline(p) => pipeline(p),
        SpansetExpr::Op { op, lhs, rhs } => match op {
            SpansetOp::Union => or(spanset(lhs)?, spanset(rhs)?),
            SpansetOp::And => spanset(lhs).or_else(|| spanset(rhs)),
            // Every structural operator returns spans of its right side (the union forms, of
            // both): a trace without a right-side span cannot match.
            _ => spanset(rhs),
        },
    }
}

/// The condition a span meets when `f` is true of it, or `None` for "unknown".
fn field(f: &FieldExpr) -> Option<String> {
    let FieldExpr::Binary { op, lhs, rhs } = f else {
        return None;
    };
    match op {
        BinaryOp::And => and([field(lhs), field(rhs)].into_iter().flatten().collect()),
        BinaryOp::Or => or(field(lhs)?, field(rhs)?),
        BinaryOp::Eq
        | BinaryOp::Neq
        | BinaryOp::Lt
        | BinaryOp::Lte
        | BinaryOp::Gt
        | BinaryOp::Gte
        | BinaryOp::Re => match (lhs.as_ref(), rhs.as_ref()) {
            (FieldExpr::Field(f), FieldExpr::Static(v)) => compare(f, *op, v),
            (FieldExpr::Static(v), FieldExpr::Field(f)) if *op != BinaryOp::Re => {
                compare(f, flip(*op), v)
            }
            _ => None,
        },
        _ => None,
    }
}

/// `lhs op rhs` read from the right: `1s < duration` is `duration > 1s`.
fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        other => other,
    }
}

fn compare(f: &Field, op: BinaryOp, v: &Static) -> Option<String> {
    match f {
        Field::Intrinsic(i) => intrinsic(*i, op, v),
        Field::Attribute(a) => attribute(a, op, v),
    }
}

fn intrinsic(i: Intrinsic, op: BinaryOp, v: &Static) -> Option<String> {
    let (column, value) = match (i, v) {
        (Intrinsic::Name, Static::Str(s)) => ("name", literal(s)),
        (Intrinsic::StatusMessage, Static::Str(s)) => ("status_message", literal(s)),
        (Intrinsic::Status, Static::Status(s)) => ("status_code", status_code(*s).to_string()),
        (Intrinsic::Kind, Static::Kind(k)) => ("kind", kind_code(*k).to_string()),
        (Intrinsic::Duration, Static::Duration(ns)) => ("duration_nano", ns.to_string()),
        _ => return None,
    };
    if op == BinaryOp::Re {
        let Static::Str(pattern) = v else {
            return None;
        };
        // Anchored, as TraceQL's regular expressions are.
        return Some(format!(
            "{column} ~ {}",
            literal(&format!("^(?:{pattern})$"))
        ));
    }
    // Status and kind compare by name in TraceQL, not by order: only equality translates.
    let ordered = matches!(i, Intrinsic::Duration);
    let op = sql_op(op, ordered)?;
    Some(format!("{column} {op} {value}"))
}

fn attribute(a: &Attribute, op: BinaryOp, v: &Static) -> Option<String> {
    if a.parent || op != BinaryOp::Eq {
        return None;
    }
    // Attributes are stored as text; these values are stored as they print.
    let text = match v {
        Static::Str(s) => s.clone(),
        Static::Int(n) => n.to_string(),
        Static::Bool(b) => b.to_string(),
        _ => return None,
    };
    let value = literal(&text);
    let key = literal(&a.name);
    let span = format!("attributes[{key}] = {value}");
    let resource = if a.name == "service.name" {
        format!("service_name = {value}")
    } else {
        format!("resource_attributes[{key}] = {value}")
    };
    match a.scope {
        Scope::Span => Some(span),
        Scope::Resource => Some(resource),
        Scope::None => or(span, resource),
        Scope::Event | Scope::Link | Scope::Instrumentation => None,
    }
}

fn sql_op(op: BinaryOp, ordered: bool) -> Option<&'static str> {
    Some(match op {
        BinaryOp::Eq => "=",
        BinaryOp::Neq => "!=",
        BinaryOp::Lt if ordered => "<",
        BinaryOp::Lte if ordered => "<=",
        BinaryOp::Gt if ordered => ">",
        BinaryOp::Gte if ordered => ">=",
        _ => return None,
    })
}

fn status_code(s: Status) -> i32 {
    match s {
        Status::Unset => 0,
        Status::Ok => 1,
        Status::Error => 2,
    }
}

fn kind_code(k: Kind) -> i32 {
    match k {
        Kind::Unspecified => 0,
        Kind::Internal => 1,
        Kind::Server => 2,
        Kind::Client => 3,
        Kind::Producer => 4,
        Kind::Consumer => 5,
    }
}

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn and(parts: Vec<String>) -> Option<String> {
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(format!("({})", parts.join(" AND "))),
    }
}

fn or(a: String, b: String) -> Option<String> {
    Some(format!("({a} OR {b})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(q: &str) -> Option<String> {
        candidates(&traceql::parse_and_validate(q).unwrap())
    }

    #[test]
    fn filters_become_row_conditions() {
        assert_eq!(
            cond(r#"{ resource.service.name = "cart" && status = error }"#).as_deref(),
            Some("(service_name = 'cart' AND status_code = 2)")
        );
        assert_eq!(
            cond(r#"{ .http.method = "GET" || duration > 1s }"#).as_deref(),
            Some("((attributes['http.method'] = 'GET' OR resource_attributes['http.method'] = 'GET') OR duration_nano > 1000000000)")
        );
        assert_eq!(
            cond(r#"{ span.code = 502 && name =~ "GET.*" && kind != server }"#).as_deref(),
            Some("((attributes['code'] = '502' AND name ~ '^(?:GET.*)$') AND kind != 2)")
        );
        assert_eq!(
            cond(r#"{ name = "it's" } >> { status = error }"#).as_deref(),
            Some("status_code = 2")
        );
        assert_eq!(
            cond(r#"{ traceDuration > 1s } && { name = "a" }"#).as_deref(),
            Some("name = 'a'")
        );
        assert_eq!(
            cond(r#"{ name = "a" } | count() > 2 | { 1s < duration }"#).as_deref(),
            Some("(name = 'a' AND duration_nano > 1000000000)")
        );
        assert_eq!(
            cond(r#"{ name = "it's" } || { status = error }"#).as_deref(),
            Some("(name = 'it''s' OR status_code = 2)")
        );
    }

    #[test]
    fn metrics_queries_narrow_and_say_whether_spans_decide_alone() {
        let parse = |q: &str| traceql::parse_and_validate(q).unwrap();
        let e = parse(r#"{ status = error } | rate() by (resource.service.name)"#);
        assert_eq!(metrics_candidates(&e).as_deref(), Some("status_code = 2"));
        assert!(span_local(&e));
        let e =
            parse(r#"({ name = "a" } | count_over_time()) / ({ name = "b" } | count_over_time())"#);
        assert_eq!(
            metrics_candidates(&e).as_deref(),
            Some("(name = 'a' OR name = 'b')")
        );
        assert!(span_local(&e));
        let e = parse(r#"({ name = "a" } | rate()) + ({ } | rate())"#);
        assert_eq!(metrics_candidates(&e), None);
        for q in [
            r#"{ name = "a" } >> { } | rate()"#,
            "{ } | count() > 2 | rate()",
            "{ } | rate() by (rootServiceName)",
            "{ } | avg_over_time(traceDuration)",
            "{ traceDuration > 1s } | rate()",
            r#"{ } | compare({ status = error })"#,
        ] {
            assert!(!span_local(&parse(q)), "{q}");
        }
        assert!(span_local(&parse(
            "{ } | quantile_over_time(duration, .9) by (span.x)"
        )));

        // Lean: the span's own columns and the service name, nothing from a map.
        for q in [
            "{ } | quantile_over_time(duration, .9) by (resource.service.name)",
            r#"{ status = error && name =~ "le.f" } | count_over_time() by (kind)"#,
            "{ instrumentation:name = \"x\" } | histogram_over_time(duration) by (span:id)",
        ] {
            assert!(lean(&parse(q)), "{q}");
        }
        for q in [
            "{ } | quantile_over_time(duration, .9) by (span.x)",
            "{ } | rate() by (.service.name)",
            "{ resource.host = \"a\" } | rate()",
            "{ event:name = \"e\" } | rate()",
            "{ link:traceID != nil } | rate()",
            r#"{ name = "a" } >> { } | rate()"#,
        ] {
            assert!(!lean(&parse(q)), "{q}");
        }
    }

    #[test]
    fn counting_queries_over_columns_are_exact_in_sql() {
        let plan = |q: &str| {
            let e = traceql::parse_and_validate(q).unwrap();
            let Query::Metrics(m) = &e.query else {
                panic!("{q}")
            };
            let MetricsExpr::Query(mq) = &m.expr else {
                panic!("{q}")
            };
            exact_counting(&e, &mq.aggregate.by)
        };
        assert_eq!(
            plan("{ } | rate() by (resource.service.name)"),
            Some((None, vec![ByColumn::Service]))
        );
        assert_eq!(
            plan(
                r#"{ status = error && (name = "a" || duration > 1s) } | count_over_time() by (name, kind)"#
            ),
            Some((
                Some("(status_code = 2 AND (name = 'a' OR duration_nano > 1000000000))".into()),
                vec![ByColumn::Name, ByColumn::Kind]
            ))
        );
        assert_eq!(
            plan(r#"{ resource.service.name = "x" } | rate()"#),
            Some((Some("service_name = 'x'".into()), vec![]))
        );
        assert_eq!(
            plan(r#"{ resource.service.name = "unknown_service" } | rate()"#),
            Some((
                Some("resource_attributes['service.name'] = 'unknown_service'".into()),
                vec![]
            ))
        );
        assert_eq!(
            plan(r#"{ resource.service.name != "x" } | rate()"#),
            Some((
                Some("resource_attributes['service.name'] != 'x'".into()),
                vec![]
            ))
        );
        for q in [
            "{ } | rate() by (span.http.method)",
            r#"{ span.a = "b" } | rate()"#,
            r#"{ name =~ "a.*" } | rate()"#,
            r#"{ .service.name = "x" } | rate()"#,
            "{ } | count() > 1 | rate()",
            r#"{ name = "a" } >> { } | rate()"#,
        ] {
            assert_eq!(plan(q), None, "{q}");
        }
    }

    #[test]
    fn what_cannot_narrow_says_nothing() {
        for q in [
            "{}",
            r#"{ !(name = "a") }"#,
            r#"{ name = "a" } || { traceDuration > 1s }"#,
            r#"{ name = "a" || rootName = "b" }"#,
            r#"{ event.k = "v" }"#,
            r#"{ span.x > 3 }"#,
            r#"{ span.x = 1.5 }"#,
            r#"{ name = "a" } >> { }"#,
        ] {
            assert_eq!(cond(q), None, "{q}");
        }
    }
}
