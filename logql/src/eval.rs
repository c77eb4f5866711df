//! LogQL metric queries evaluated over a [`Source`] of log streams, with Loki's semantics:
//! windows `(T-R, T]` shifted by `offset`, pipelines run per line, `unwrap`ped values, range
//! and vector aggregations, binary operations with vector matching, `label_replace` and
//! `vector`. A query that produces a series labelled `__error__` fails, as Loki's engine fails
//! it. Range queries evaluate every step ([`range`]); an instant query is one step
//! ([`instant`]).

mod error;
mod json;
mod pipeline;

use std::collections::BTreeMap;

pub use error::EvalError;
pub use pipeline::{Labels, ERROR, ERROR_DETAILS};

use crate::ast::*;
use pipeline::{compile_filter, Pipeline};

/// One log line of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Unix nanoseconds.
    pub ts: i64,
    /// The line.
    pub line: String,
    /// Structured metadata.
    pub metadata: Vec<(String, String)>,
}

/// A stream: its labels and its lines in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The stream labels.
    pub labels: Labels,
    /// The lines, oldest first.
    pub entries: Vec<Entry>,
}

/// Where a query reads its streams.
pub trait Source {
    /// The streams matching `matchers` with their lines in `[start, end]` (nanoseconds).
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Stream>, String>;
}

/// Streams held in memory (tests, small data sets).
#[derive(Debug, Clone, Default)]
pub struct MemSource {
    /// The streams.
    pub streams: Vec<Stream>,
}

/// Whether `labels` match every matcher (a missing label reads as empty).
pub fn matches(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| {
        let v = labels.get(&m.name).map_or("", String::as_str);
        match m.op {
            MatchOp::Eq => v == m.value,
            MatchOp::Neq => v != m.value,
            MatchOp::Re | MatchOp::Nre => {
                let hit =
                    regex::Regex::new(&format!("^(?:{})$", m.value)).is_ok_and(|r| r.is_match(v));
                hit == (m.op == MatchOp::Re)
            }
        }
    })
}

impl Source for MemSource {
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Stream>, String> {
        Ok(self
            .streams
            .iter()
            .filter(|s| matches(matchers, &s.labels))
            .map(|s| Stream {
                labels: s.labels.clone(),
                entries: s
                    .entries
                    .iter()
                    .filter(|e| e.ts >= start && e.ts <= end)
                    .cloned()
                    .collect(),
            })
            .collect())
    }
}

/// A sample of a vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

/// A series of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: Labels,
    /// (Unix nanoseconds, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

/// A query's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range result.
    Matrix(Vec<Series>),
}

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

/// An expression's value at every step.
enum Steps {
    Scalar(f64),
    Vectors(Vec<Vec<Sample>>),
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
        )?),
        MetricExpr::Vector {
            op,
            param,
            expr,
            grouping,
        } => {
            let inner = match eval(expr, source, steps)? {
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
            let go_replacement = go_template(replacement);
            Steps::Vectors(
                inner
                    .into_iter()
                    .map(|v| {
                        v.into_iter()
                            .map(|mut s| {
                                let value = s.labels.get(src).cloned().unwrap_or_default();
                                if let Some(c) = re.captures(&value) {
                                    let mut out = String::new();
                                    c.expand(&go_replacement, &mut out);
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

/// Go's `$1`/`${1}` replacement, as the regex crate's.
fn go_template(s: &str) -> String {
    s.to_string()
}

/// Scalar steps as single unlabelled... no: a scalar paired with vectors stays a scalar
/// per step, carried as an empty-labelled marker.
fn to_vectors(s: Steps, n: usize) -> Vec<Operand> {
    match s {
        Steps::Scalar(v) => (0..n).map(|_| Operand::Scalar(v)).collect(),
        Steps::Vectors(v) => v.into_iter().map(Operand::Vector).collect(),
    }
}

enum Operand {
    Scalar(f64),
    Vector(Vec<Sample>),
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | ">=" | "<" | "<=")
}

fn arith(op: &str, a: f64, b: f64) -> Option<f64> {
    let bool_of = |x: bool| if x { 1.0 } else { 0.0 };
    Some(match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        // Loki divides by zero to NaN, not to an infinity.
        "/" => {
            if b == 0.0 {
                f64::NAN
            } else {
                a / b
            }
        }
        "%" => {
            if b == 0.0 {
                f64::NAN
            } else {
                a % b
            }
        }
        "^" => a.powf(b),
        "==" => bool_of(a == b),
        "!=" => bool_of(a != b),
        ">" => bool_of(a > b),
        ">=" => bool_of(a >= b),
        "<" => bool_of(a < b),
        "<=" => bool_of(a <= b),
        _ => return None,
    })
}

/// The labels a vector match compares.
fn match_key(labels: &Labels, m: &BinModifier) -> Labels {
    match &m.matching {
        Some((false, on)) => labels
            .iter()
            .filter(|(k, _)| on.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some((true, ignoring)) => labels
            .iter()
            .filter(|(k, _)| !ignoring.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => labels.clone(),
    }
}

fn binary(op: &str, m: &BinModifier, a: Operand, b: Operand) -> Result<Vec<Sample>, EvalError> {
    let comparison = is_comparison(op);
    match (a, b) {
        (Operand::Vector(v), Operand::Scalar(x)) | (Operand::Scalar(x), Operand::Vector(v))
            if matches!(op, "and" | "or" | "unless") =>
        {
            let _ = x;
            Ok(v)
        }
        (Operand::Vector(v), Operand::Scalar(x)) => Ok(v
            .into_iter()
            .filter_map(|s| {
                let r = arith(op, s.value, x)?;
                scalar_result(comparison, m.return_bool, s, r, true)
            })
            .collect()),
        (Operand::Scalar(x), Operand::Vector(v)) => Ok(v
            .into_iter()
            .filter_map(|s| {
                let r = arith(op, x, s.value)?;
                scalar_result(comparison, m.return_bool, s, r, false)
            })
            .collect()),
        (Operand::Scalar(x), Operand::Scalar(y)) => Ok(vec![Sample {
            labels: Labels::new(),
            value: arith(op, x, y).unwrap_or(f64::NAN),
        }]),
        (Operand::Vector(l), Operand::Vector(r)) => vector_binary(op, m, l, r),
    }
}

/// A vector-scalar result: comparisons without `bool` filter (keeping the vector's value).
fn scalar_result(
    comparison: bool,
    return_bool: bool,
    mut s: Sample,
    r: f64,
    vector_left: bool,
) -> Option<Sample> {
    if comparison && !return_bool {
        if r == 0.0 {
            return None;
        }
        let _ = vector_left;
        return Some(s);
    }
    s.value = r;
    Some(s)
}

fn vector_binary(
    op: &str,
    m: &BinModifier,
    l: Vec<Sample>,
    r: Vec<Sample>,
) -> Result<Vec<Sample>, EvalError> {
    match op {
        "and" => {
            let keys: std::collections::BTreeSet<Labels> =
                r.iter().map(|s| match_key(&s.labels, m)).collect();
            return Ok(l
                .into_iter()
                .filter(|s| keys.contains(&match_key(&s.labels, m)))
                .collect());
        }
        "unless" => {
            let keys: std::collections::BTreeSet<Labels> =
                r.iter().map(|s| match_key(&s.labels, m)).collect();
            return Ok(l
                .into_iter()
                .filter(|s| !keys.contains(&match_key(&s.labels, m)))
                .collect());
        }
        "or" => {
            let keys: std::collections::BTreeSet<Labels> =
                l.iter().map(|s| match_key(&s.labels, m)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !keys.contains(&match_key(&s.labels, m))),
            );
            return Ok(out);
        }
        _ => {}
    }
    let comparison = is_comparison(op);
    // group_right: the right side is the "many" side; swap and swap back.
    let (many, one, swapped) = match &m.group {
        Some((true, _)) => (r, l, true),
        _ => (l, r, false),
    };
    let mut one_by_key: BTreeMap<Labels, Sample> = BTreeMap::new();
    for s in one {
        let k = match_key(&s.labels, m);
        if one_by_key.insert(k, s).is_some() {
            let side = if swapped { "left" } else { "right" };
            return Err(EvalError::Matching(format!(
                "found duplicate series on the {side} hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    let mut out = Vec::new();
    let mut seen: BTreeMap<Labels, ()> = BTreeMap::new();
    for s in many {
        let k = match_key(&s.labels, m);
        let Some(o) = one_by_key.get(&k) else {
            continue;
        };
        let (a, b) = if swapped {
            (o.value, s.value)
        } else {
            (s.value, o.value)
        };
        let Some(v) = arith(op, a, b) else { continue };
        if comparison && !m.return_bool && v == 0.0 {
            continue;
        }
        let value = if comparison && !m.return_bool { a } else { v };
        let mut labels = s.labels.clone();
        match &m.group {
            None => {
                // One-to-one: `on` keeps its labels only, `ignoring` drops its labels.
                labels = match &m.matching {
                    Some((false, on)) => {
                        labels.into_iter().filter(|(k, _)| on.contains(k)).collect()
                    }
                    Some((true, ign)) => labels
                        .into_iter()
                        .filter(|(k, _)| !ign.contains(k))
                        .collect(),
                    None => labels,
                };
                if !swapped && seen.insert(k.clone(), ()).is_some() {
                    return Err(EvalError::Matching(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
            }
            Some((_, include)) => {
                for name in include {
                    match o.labels.get(name) {
                        Some(v) => {
                            labels.insert(name.clone(), v.clone());
                        }
                        None => {
                            labels.remove(name);
                        }
                    }
                }
                if seen.insert(labels.clone(), ()).is_some() {
                    return Err(EvalError::Matching(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
            }
        }
        out.push(Sample { labels, value });
    }
    Ok(out)
}

/// The labels of a sample's group.
fn group_labels(labels: &Labels, g: Option<&Grouping>) -> Labels {
    match g {
        None => Labels::new(),
        Some(g) if g.without => labels
            .iter()
            .filter(|(k, _)| !g.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(g) => labels
            .iter()
            .filter(|(k, _)| g.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn vector_aggregation(
    op: &str,
    param: Option<f64>,
    g: Option<&Grouping>,
    v: Vec<Sample>,
) -> Vec<Sample> {
    match op {
        "sort" | "sort_desc" => {
            let mut v = v;
            v.sort_by(|a, b| {
                let o = a
                    .value
                    .partial_cmp(&b.value)
                    .unwrap_or(std::cmp::Ordering::Equal);
                if op == "sort" {
                    o
                } else {
                    o.reverse()
                }
            });
            return v;
        }
        "topk" | "bottomk" | "approx_topk" => {
            let k = param.unwrap_or(1.0) as usize;
            let mut groups: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
            for s in v {
                groups
                    .entry(group_labels(&s.labels, g))
                    .or_default()
                    .push(s);
            }
            let mut out = Vec::new();
            for (_, mut members) in groups {
                members.sort_by(|a, b| {
                    let o = a
                        .value
                        .partial_cmp(&b.value)
                        .unwrap_or(std::cmp::Ordering::Equal);
                    if op == "bottomk" {
                        o
                    } else {
                        o.reverse()
                    }
                });
                out.extend(members.into_iter().take(k));
            }
            return out;
        }
        _ => {}
    }
    let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
    for s in v {
        groups
            .entry(group_labels(&s.labels, g))
            .or_default()
            .push(s.value);
    }
    groups
        .into_iter()
        .map(|(labels, values)| {
            let n = values.len() as f64;
            let value = match op {
                "sum" => values.iter().sum(),
                "avg" => values.iter().sum::<f64>() / n,
                "count" => n,
                "max" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b > a { b } else { a })
                }
                "min" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a })
                }
                "stddev" => variance(&values).sqrt(),
                "stdvar" => variance(&values),
                _ => f64::NAN,
            };
            Sample { labels, value }
        })
        .collect()
}

fn variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
}

/// The samples of a log range: per label set, (time, value) in time order.
fn samples(
    op: &str,
    r: &LogRange,
    source: &dyn Source,
    from: i64,
    to: i64,
) -> Result<BTreeMap<Labels, Vec<(i64, f64)>>, EvalError> {
    let pipeline = Pipeline::new(&r.log.pipeline)?;
    let post: Vec<_> = match &r.unwrap {
        Some(u) => u
            .filters
            .iter()
            .map(compile_filter)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let streams = source
        .select(&r.log.matchers, from, to)
        .map_err(EvalError::Source)?;
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for s in streams {
        for e in &s.entries {
            let Some((mut labels, line)) = pipeline.run(&s.labels, &e.metadata, &e.line, e.ts)
            else {
                continue;
            };
            let value = match &r.unwrap {
                None if op.starts_with("bytes") => line.len() as f64,
                None => 1.0,
                Some(u) => {
                    let raw = labels.get(&u.label).cloned();
                    // A line without the label (or with it empty) gives no sample, as in Loki.
                    if raw.as_deref().is_none_or(str::is_empty) && !labels.contains_key(ERROR) {
                        continue;
                    }
                    let v = if labels.contains_key(ERROR) {
                        Ok(0.0)
                    } else {
                        unwrap_value(raw.as_deref().unwrap_or(""), u.conversion)
                    };
                    let v = match v {
                        Ok(v) => v,
                        Err(e) => {
                            labels.insert(ERROR.into(), "SampleExtractionErr".into());
                            labels.insert(ERROR_DETAILS.into(), e);
                            0.0
                        }
                    };
                    if !post.iter().all(|f| f.test(&mut labels)) {
                        continue;
                    }
                    labels.remove(&u.label);
                    v
                }
            };
            out.entry(labels).or_default().push((e.ts, value));
        }
    }
    for points in out.values_mut() {
        points.sort_by_key(|p| p.0);
    }
    if let Some(labels) = out.keys().find(|l| l.contains_key(ERROR)) {
        let err = labels.get(ERROR).cloned().unwrap_or_default();
        return Err(EvalError::Pipeline(format!(
            "pipeline error: '{err}' for series: '{}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"{err}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )",
            print_labels(labels)
        )));
    }
    Ok(out)
}

/// `{a="b", c="d"}`.
pub fn print_labels(l: &Labels) -> String {
    let inner: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::print::go_quote(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn unwrap_value(raw: &str, c: Conversion) -> Result<f64, String> {
    let raw = raw.trim();
    match c {
        Conversion::None => raw
            .parse::<f64>()
            .map_err(|_| format!("strconv.ParseFloat: parsing {raw:?}: invalid syntax")),
        Conversion::Bytes => pipeline::bytes_value(raw),
        Conversion::Duration | Conversion::DurationSeconds => {
            pipeline::go_duration_value(raw).map_err(|e| format!("time: {e}"))
        }
    }
}

fn range_aggregation(
    op: &str,
    param: Option<f64>,
    r: &LogRange,
    g: Option<&Grouping>,
    source: &dyn Source,
    steps: &[i64],
) -> Result<Vec<Vec<Sample>>, EvalError> {
    let first = steps.first().copied().unwrap_or(0);
    let last = steps.last().copied().unwrap_or(0);
    let from = first - r.offset - r.range;
    let to = last - r.offset;
    let mut series = samples(op, r, source, from + 1, to)?;
    if let Some(g) = g {
        let mut grouped: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for (labels, points) in series {
            grouped
                .entry(group_labels(&labels, Some(g)))
                .or_default()
                .extend(points);
        }
        for p in grouped.values_mut() {
            p.sort_by_key(|x| x.0);
        }
        series = grouped;
    }
    let range_s = r.range as f64 / 1e9;
    let mut out = Vec::with_capacity(steps.len());
    for &t in steps {
        let hi = t - r.offset;
        let lo = hi - r.range;
        let mut vector = Vec::new();
        for (labels, points) in &series {
            let start = points.partition_point(|p| p.0 <= lo);
            let end = points.partition_point(|p| p.0 <= hi);
            let window = &points[start..end];
            if window.is_empty() {
                continue;
            }
            let values: Vec<f64> = window.iter().map(|p| p.1).collect();
            let value = match op {
                "count_over_time" => values.len() as f64,
                "rate" if r.unwrap.is_none() => values.len() as f64 / range_s,
                "rate" | "bytes_rate" => values.iter().sum::<f64>() / range_s,
                "bytes_over_time" | "sum_over_time" => values.iter().sum(),
                "avg_over_time" => values.iter().sum::<f64>() / values.len() as f64,
                "min_over_time" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a })
                }
                "max_over_time" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b > a { b } else { a })
                }
                "stddev_over_time" => variance(&values).sqrt(),
                "stdvar_over_time" => variance(&values),
                "quantile_over_time" => quantile(param.unwrap_or(f64::NAN), &values),
                "first_over_time" => values[0],
                "last_over_time" => values[values.len() - 1],
                "rate_counter" => counter_rate(window, lo, hi),
                "absent_over_time" => continue,
                _ => {
                    return Err(EvalError::Invalid(format!(
                        "unknown range aggregation {op}"
                    )))
                }
            };
            vector.push(Sample {
                labels: labels.clone(),
                value,
            });
        }
        if op == "absent_over_time" {
            let any = series
                .values()
                .any(|points| points.iter().any(|p| p.0 > lo && p.0 <= hi));
            vector.clear();
            if !any {
                let labels: Labels = r
                    .log
                    .matchers
                    .iter()
                    .filter(|m| m.op == MatchOp::Eq)
                    .map(|m| (m.name.clone(), m.value.clone()))
                    .collect();
                vector.push(Sample { labels, value: 1.0 });
            }
        }
        out.push(vector);
    }
    Ok(out)
}

/// Prometheus's `quantile` (φ-quantile of the values, interpolated).
fn quantile(q: f64, values: &[f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(v.len() - 1);
    let weight = rank - rank.floor();
    v[lower] * (1.0 - weight) + v[upper] * weight
}

/// `rate_counter`: Prometheus's extrapolated rate of a counter over `(lo, hi]`.
fn counter_rate(points: &[(i64, f64)], lo: i64, hi: i64) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let mut increase = points[points.len() - 1].1 - points[0].1;
    for w in points.windows(2) {
        if w[1].1 < w[0].1 {
            increase += w[0].1;
        }
    }
    let range_start = lo as f64 / 1e9;
    let range_end = hi as f64 / 1e9;
    let first_t = points[0].0 as f64 / 1e9;
    let last_t = points[points.len() - 1].0 as f64 / 1e9;
    let sampled = last_t - first_t;
    let avg_interval = sampled / (points.len() - 1) as f64;
    let threshold = avg_interval * 1.1;
    let mut to_start = first_t - range_start;
    if to_start >= threshold {
        to_start = avg_interval / 2.0;
    }
    // A counter is not extrapolated below zero (Prometheus's order: the threshold first).
    if increase > 0.0 && points[0].1 >= 0.0 {
        let to_zero = sampled * (points[0].1 / increase);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let mut to_end = range_end - last_t;
    if to_end >= threshold {
        to_end = avg_interval / 2.0;
    }
    let extrapolate = sampled + to_start + to_end;
    increase * (extrapolate / sampled) / (range_end - range_start)
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

/// The selections of `expr` evaluated at steps from `start` to `end` (an instant query has
/// `start == end`); a log query reads `[start, end]` itself.
pub fn selections(expr: &Expr, start: i64, end: i64) -> Vec<Selection> {
    fn walk(e: &MetricExpr, start: i64, end: i64, out: &mut Vec<Selection>) {
        match e {
            MetricExpr::Range { range, .. } => out.push(Selection {
                matchers: range.log.matchers.clone(),
                start: start - range.offset - range.range + 1,
                end: end - range.offset,
                line_filters: leading_filters(&range.log),
            }),
            MetricExpr::Vector { expr, .. } | MetricExpr::LabelReplace { expr, .. } => {
                walk(expr, start, end, out);
            }
            MetricExpr::Binary { lhs, rhs, .. } => {
                walk(lhs, start, end, out);
                walk(rhs, start, end, out);
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
        }),
        Expr::Metric(m) => walk(m, start, end, &mut out),
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
