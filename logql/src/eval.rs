//! LogQL metric queries evaluated over a [`Source`] of log streams, with Loki's semantics:
//! windows `(T-R, T]` shifted by `offset`, pipelines run per line, `unwrap`ped values, range
//! and vector aggregations, binary operations with vector matching, `label_replace` and
//! `vector`. A query that produces a series labelled `__error__` fails, as Loki's engine fails
//! it. Range queries evaluate every step ([`range`]); an instant query is one step
//! ([`instant`]).

mod aggregate;
mod binary;
mod error;
mod filter;
mod json;
mod model;
mod parsers;
mod pipeline;
mod range;

use std::collections::BTreeMap;

pub use error::EvalError;
use model::Steps;
pub use model::{
    line_labels, Counted, Counting, Entry, Labels, MemSource, Sample, Selector, Series, Source,
    Stream, Value, ERROR, ERROR_DETAILS,
};

use crate::ast::*;
use aggregate::vector_aggregation;
use binary::{arith, binary, to_vectors};
use pipeline::Pipeline;
pub use range::count_lines;
use range::{counting, range_aggregation};

/// Evaluates `expr` at `t` (Unix nanoseconds).
pub fn instant(expr: &Expr, source: &dyn Source, t: i64) -> Result<Value, EvalError> {
    let m = metric(expr)?;
    Ok(match eval(m, source, &[t])? {
        Steps::Scalar(v) => Value::Scalar(v),
        Steps::Vectors(mut v) => Value::Vector(v.pop().unwrap_or_default()),
    })
}

/// Evaluates `expr` at every step from `start` to `end` (Unix nanoseconds).
pub fn range(
    expr: &Expr,
    source: &dyn Source,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Value, EvalError> {
    let m = metric(expr)?;
    if uses(m, "approx_topk") {
        return Err(EvalError::Invalid(
            "approx_topk is only supported on instant queries".into(),
        ));
    }
    if step <= 0 {
        return Err(EvalError::Invalid(
            "zero or negative query resolution step widths are not accepted".into(),
        ));
    }
    let steps: Vec<i64> = (0..)
        .map(|i| start + i * step)
        .take_while(|t| *t <= end)
        .collect();
    let vectors = match eval(m, source, &steps)? {
        Steps::Scalar(v) => steps
            .iter()
            .map(|_| {
                vec![Sample {
                    labels: Labels::new(),
                    value: v,
                }]
            })
            .collect(),
        Steps::Vectors(v) => v,
    };
    let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for (t, vector) in steps.iter().zip(vectors) {
        for s in vector {
            series.entry(s.labels).or_default().push((*t, s.value));
        }
    }
    Ok(Value::Matrix(
        series
            .into_iter()
            .map(|(labels, points)| Series { labels, points })
            .collect(),
    ))
}

/// The labels `sum by (...)` keeps, when the aggregation `op` with `grouping` is one.
fn summed_by<'a>(op: &str, grouping: Option<&'a Grouping>) -> Option<&'a [String]> {
    match grouping {
        Some(g) if op == "sum" && !g.without => Some(&g.labels),
        _ => None,
    }
}

/// Whether `e` holds the vector aggregation `op`.
fn uses(e: &MetricExpr, op: &str) -> bool {
    match e {
        MetricExpr::Vector { op: o, expr, .. } => o == op || uses(expr, op),
        MetricExpr::Binary { lhs, rhs, .. } => uses(lhs, op) || uses(rhs, op),
        MetricExpr::LabelReplace { expr, .. } => uses(expr, op),
        _ => false,
    }
}

fn metric(expr: &Expr) -> Result<&MetricExpr, EvalError> {
    match expr {
        Expr::Metric(m) => Ok(m),
        Expr::Log(_) => Err(EvalError::Invalid(
            "log queries are not evaluated here: only metric queries".into(),
        )),
    }
}

fn eval(e: &MetricExpr, source: &dyn Source, steps: &[i64]) -> Result<Steps, EvalError> {
    Ok(match e {
        MetricExpr::Literal(v) => Steps::Scalar(*v),
        MetricExpr::VectorLiteral(v) => Steps::Vectors(
            steps
                .iter()
                .map(|_| {
                    vec![Sample {
                        labels: Labels::new(),
                        value: *v,
                    }]
                })
                .collect(),
        ),
        MetricExpr::Range {
            op,
            param,
            range,
            grouping,
        } => Steps::Vectors(range_aggregation(
            op,
            *param,
            range,
            grouping.as_ref(),
            source,
            steps,
            None,
        )?),
        MetricExpr::Vector {
            op,
            param,
            expr,
            grouping,
        } => {
            let inner = match (&**expr, summed_by(op, grouping.as_ref())) {
                // Only the labels a sum keeps matter to it (see `Counting::labels`).
                (
                    MetricExpr::Range {
                        op,
                        param,
                        range,
                        grouping,
                    },
                    Some(kept),
                ) => Steps::Vectors(range_aggregation(
                    op,
                    *param,
                    range,
                    grouping.as_ref(),
                    source,
                    steps,
                    Some(kept),
                )?),
                _ => eval(expr, source, steps)?,
            };
            let inner = match inner {
                Steps::Vectors(v) => v,
                Steps::Scalar(_) => {
                    return Err(EvalError::Invalid(format!(
                        "{op}: expected a vector, got a scalar"
                    )))
                }
            };
            Steps::Vectors(
                inner
                    .into_iter()
                    .map(|v| vector_aggregation(op, *param, grouping.as_ref(), v))
                    .collect(),
            )
        }
        MetricExpr::Binary {
            op,
            modifier,
            lhs,
            rhs,
        } => {
            let l = eval(lhs, source, steps)?;
            let r = eval(rhs, source, steps)?;
            match (l, r) {
                (Steps::Scalar(a), Steps::Scalar(b)) => {
                    // Between scalars a comparison is 0 or 1, with or without `bool`.
                    Steps::Scalar(arith(op, a, b).unwrap_or(f64::NAN))
                }
                (l, r) => {
                    let lv = to_vectors(l, steps.len());
                    let rv = to_vectors(r, steps.len());
                    let mut out = Vec::with_capacity(steps.len());
                    for (a, b) in lv.into_iter().zip(rv) {
                        out.push(binary(op, modifier, a, b)?);
                    }
                    Steps::Vectors(out)
                }
            }
        }
        MetricExpr::LabelReplace {
            expr,
            dst,
            replacement,
            src,
            regex,
        } => {
            let re = regex::Regex::new(&format!("^(?s:{regex})$"))
                .map_err(|e| EvalError::Invalid(format!("invalid regex in label_replace: {e}")))?;
            let inner = match eval(expr, source, steps)? {
                Steps::Vectors(v) => v,
                Steps::Scalar(_) => {
                    return Err(EvalError::Invalid(
                        "label_replace: expected a vector".into(),
                    ))
                }
            };
            Steps::Vectors(
                inner
                    .into_iter()
                    .map(|v| {
                        v.into_iter()
                            .map(|mut s| {
                                let value = s.labels.get(src).cloned().unwrap_or_default();
                                if let Some(c) = re.captures(&value) {
                                    let mut out = String::new();
                                    // Go's `$1`/`${name}` replacement syntax is the regex crate's.
                                    c.expand(replacement, &mut out);
                                    if out.is_empty() {
                                        s.labels.remove(dst);
                                    } else {
                                        s.labels.insert(dst.clone(), out);
                                    }
                                }
                                s
                            })
                            .collect()
                    })
                    .collect(),
            )
        }
    })
}

/// What a query reads: a selector's streams over `[start, end]` (nanoseconds), with the line
/// filters its pipeline applies before any parser (which a store may use to skip data: every
/// line they drop, the pipeline drops too).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The stream selector.
    pub matchers: Vec<Matcher>,
    /// The first nanosecond read.
    pub start: i64,
    /// The last nanosecond read.
    pub end: i64,
    /// Leading line filters.
    pub line_filters: Vec<LineFilter>,
    /// Set when only counts of the lines are needed, in these buckets (see
    /// [`Source::counts`]); the lines are read only when the source cannot count them.
    pub counting: Option<Counting>,
}

fn leading_filters(log: &LogExpr) -> Vec<LineFilter> {
    log.pipeline
        .iter()
        .map_while(|s| match s {
            Stage::Line(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

/// The last step of a range query from `start` to `end` every `step` (an instant query has
/// `start == end`).
fn last_step(start: i64, end: i64, step: i64) -> i64 {
    if step <= 0 || end <= start {
        start
    } else {
        start + (end - start) / step * step
    }
}

/// The selections of `expr` evaluated at steps from `start` to `end` every `step` (an instant
/// query has `start == end`); a log query reads `[start, end]` itself.
pub fn selections(expr: &Expr, start: i64, end: i64, step: i64) -> Vec<Selection> {
    fn walk(
        e: &MetricExpr,
        kept: Option<&[String]>,
        (start, end, step): (i64, i64, i64),
        out: &mut Vec<Selection>,
    ) {
        match e {
            MetricExpr::Range { op, range, .. } => out.push(Selection {
                matchers: range.log.matchers.clone(),
                start: start - range.offset - range.range + 1,
                end: end - range.offset,
                line_filters: leading_filters(&range.log),
                counting: counting(op, range, start, last_step(start, end, step), step, kept),
            }),
            MetricExpr::Vector {
                op, expr, grouping, ..
            } => walk(
                expr,
                summed_by(op, grouping.as_ref()),
                (start, end, step),
                out,
            ),
            MetricExpr::LabelReplace { expr, .. } => walk(expr, None, (start, end, step), out),
            MetricExpr::Binary { lhs, rhs, .. } => {
                walk(lhs, None, (start, end, step), out);
                walk(rhs, None, (start, end, step), out);
            }
            MetricExpr::Literal(_) | MetricExpr::VectorLiteral(_) => {}
        }
    }
    let mut out = Vec::new();
    match expr {
        Expr::Log(l) => out.push(Selection {
            matchers: l.matchers.clone(),
            start,
            end,
            line_filters: leading_filters(l),
            counting: None,
        }),
        Expr::Metric(m) => walk(m, None, (start, end, step), &mut out),
    }
    out
}

/// A log query's answer: at most `limit` lines in `[start, end)` (nanoseconds), the newest
/// first (`backward`) or the oldest first, grouped by the labels the pipeline leaves, each
/// stream's lines in the same order. A line keeps its structured metadata; the labels a parser
/// added are the stream's. A line that a stage failed on keeps `__error__`, as Loki shows it.
pub fn log_query(
    log: &LogExpr,
    source: &dyn Source,
    start: i64,
    end: i64,
    limit: usize,
    backward: bool,
) -> Result<Vec<Stream>, EvalError> {
    let pipeline = Pipeline::new(&log.pipeline)?;
    let streams = source
        .select(&log.matchers, start, end.saturating_sub(1))
        .map_err(EvalError::Source)?;
    // Every surviving line with its labels, then the newest (or oldest) `limit` of them.
    let mut lines: Vec<(i64, Labels, Entry)> = Vec::new();
    for s in &streams {
        for e in &s.entries {
            if e.ts < start || e.ts >= end {
                continue;
            }
            if let Some((labels, line)) = pipeline.run(&s.labels, &e.metadata, &e.line, e.ts) {
                let metadata_keys: std::collections::BTreeSet<&str> =
                    e.metadata.iter().map(|(k, _)| k.as_str()).collect();
                // Structured metadata stays with its line, not in the stream's labels.
                let labels: Labels = labels
                    .into_iter()
                    .filter(|(k, _)| {
                        !metadata_keys.contains(k.as_str()) || s.labels.contains_key(k)
                    })
                    .collect();
                lines.push((
                    e.ts,
                    labels,
                    Entry {
                        ts: e.ts,
                        line,
                        metadata: e.metadata.clone(),
                    },
                ));
            }
        }
    }
    if backward {
        lines.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    } else {
        lines.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    }
    lines.truncate(limit);
    let mut by_stream: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
    for (_, labels, entry) in lines {
        by_stream.entry(labels).or_default().push(entry);
    }
    Ok(by_stream
        .into_iter()
        .map(|(labels, entries)| Stream { labels, entries })
        .collect())
}
