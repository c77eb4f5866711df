//! Runs Prometheus's PromQL test scripts against the evaluator, as upstream's `promqltest`
//! does (docs/reference/promqltest-format.md): each instant eval also runs with `@`-pinned
//! variants at other times and once in range mode. Where series are stored and queries
//! evaluated is a [`Backend`]: the evaluator over an in-memory source here ([`Memory`]), the
//! server's read path (storage engine, segments, hot window) in `query`'s tests.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use promql_parser::parser::{AtModifier, Expr};

use promql::value::{stale_nan, Labels, Sample, Series, Value};
use promql::{MemSource, Options, Query, QueryResult};

use crate::script::{self, Command, Eval, EvalAt, Expected, Item, MessageMatch, SeriesDesc};

/// Where a script's series are stored and its queries evaluated. Errors are the query's error
/// text, compared with the script's expected messages.
pub trait Backend {
    /// Forgets every series (a `clear` command).
    fn clear(&mut self) -> Result<(), String>;

    /// Stores the float samples of one `load` command: each series with its samples in time
    /// order, each newer than what the series already holds.
    fn load(&mut self, series: Vec<(Labels, Vec<(i64, f64)>)>) -> Result<(), String>;

    /// Evaluates `query` at `t_ms`.
    fn instant(&mut self, query: &Query, opts: &Options, t_ms: i64) -> Result<QueryResult, String>;

    /// Evaluates `query` from `start_ms` to `end_ms` every `step_ms`.
    fn range(
        &mut self,
        query: &Query,
        opts: &Options,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, String>;
}

/// The evaluator over series held in memory ([`MemSource`]).
#[derive(Debug, Default)]
pub struct Memory(MemSource);

impl Backend for Memory {
    fn clear(&mut self) -> Result<(), String> {
        self.0 = MemSource::new();
        Ok(())
    }

    fn load(&mut self, series: Vec<(Labels, Vec<(i64, f64)>)>) -> Result<(), String> {
        for (labels, samples) in series {
            self.0.append(labels, &samples)?;
        }
        Ok(())
    }

    fn instant(&mut self, query: &Query, opts: &Options, t_ms: i64) -> Result<QueryResult, String> {
        promql::instant(&self.0, opts, query, t_ms).map_err(|e| e.to_string())
    }

    fn range(
        &mut self,
        query: &Query,
        opts: &Options,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, String> {
        promql::range(&self.0, opts, query, start_ms, end_ms, step_ms).map_err(|e| e.to_string())
    }
}

/// The outcome of one eval command.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseOutcome {
    /// Line of the eval command.
    pub line: usize,
    /// The expression.
    pub expr: String,
    /// Whether the case involves native histograms: a series one of its selectors reads holds
    /// one (loaded as such, or made by a `load with nhcb` from classic buckets), or its
    /// expected output does.
    pub native_histograms: bool,
    /// `Err(reason)` when it failed.
    pub result: Result<(), String>,
}

/// Runs a whole script on the in-memory evaluator; `Err` when it does not parse.
pub fn run_script(text: &str) -> Result<Vec<CaseOutcome>, String> {
    run_script_on(text, &mut Memory::default())
}

/// Runs a whole script on `backend`; `Err` when it does not parse, or when the backend fails
/// to clear or to store what the script loads.
pub fn run_script_on(text: &str, backend: &mut dyn Backend) -> Result<Vec<CaseOutcome>, String> {
    let commands = script::parse(text).map_err(|e| format!("line {}: {}", e.line, e.message))?;
    // What is loaded since the last `clear`, to refuse out-of-order samples as upstream does.
    let mut loaded = MemSource::new();
    // Series holding native histograms, loaded since the last `clear`.
    let mut nh_series: Vec<Labels> = Vec::new();
    let mut load_error: Option<String> = None;
    let mut out = Vec::new();
    for cmd in commands {
        match cmd {
            Command::Clear => {
                loaded = MemSource::new();
                nh_series.clear();
                load_error = None;
                backend.clear()?;
            }
            Command::Load(load) => {
                if load.nhcb {
                    nh_series.extend(load.series.iter().filter_map(nhcb_series));
                }
                // A later line of one series within a block replaces the earlier one.
                let mut defs: BTreeMap<Labels, &SeriesDesc> = BTreeMap::new();
                for s in &load.series {
                    defs.insert(Labels::new(s.labels.clone()), s);
                }
                let mut batch = Vec::with_capacity(defs.len());
                for (labels, s) in defs {
                    let mut samples = Vec::new();
                    for (k, item) in s.values.iter().enumerate() {
                        let t = k as i64 * load.step_ms;
                        match item {
                            Item::Omitted => {}
                            Item::Float(v) => samples.push((t, *v)),
                            Item::Stale => samples.push((t, stale_nan())),
                            Item::Histogram(_) => {
                                if nh_series.last() != Some(&labels) {
                                    nh_series.push(labels.clone());
                                }
                            }
                        }
                    }
                    match loaded.append(labels.clone(), &samples) {
                        Ok(()) => batch.push((labels, samples)),
                        Err(e) => load_error = Some(e),
                    }
                }
                backend.load(batch)?;
            }
            Command::Eval(e) => {
                let nh = expects_histograms(&e.expected) || reads_histograms(&e.expr, &nh_series);
                let result = match &load_error {
                    Some(err) => Err(format!("load failed: {err}")),
                    None => run_eval(backend, &e),
                };
                out.push(CaseOutcome {
                    line: e.line,
                    expr: e.expr.clone(),
                    native_histograms: nh,
                    result,
                });
            }
        }
    }
    Ok(out)
}

/// The native histogram series a `load with nhcb` makes of a classic bucket series: the family's
/// name, the labels but `le`.
fn nhcb_series(s: &SeriesDesc) -> Option<Labels> {
    let name = s.labels.iter().find(|(k, _)| k == "__name__")?;
    let base = name.1.strip_suffix("_bucket")?;
    s.labels.iter().any(|(k, _)| k == "le").then(|| {
        Labels::new(
            s.labels
                .iter()
                .filter(|(k, _)| k != "le")
                .map(|(k, v)| {
                    let v = if k == "__name__" {
                        base.to_string()
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect(),
        )
    })
}

/// Whether a selector of `expr` matches one of `nh_series`.
fn reads_histograms(expr: &str, nh_series: &[Labels]) -> bool {
    let Ok(query) = promql::parse(expr) else {
        return false;
    };
    promql::selections(&Options::default(), &query, 0, 0)
        .iter()
        .any(|(matchers, _, _)| {
            nh_series
                .iter()
                .any(|labels| matchers.iter().all(|m| promql::matches(m, labels)))
        })
}

fn expects_histograms(e: &Expected) -> bool {
    let series = match e {
        Expected::Series(s) => s,
        Expected::RangeVector { series, .. } => series,
        _ => return false,
    };
    series
        .iter()
        .any(|s| s.values.iter().any(|v| matches!(v, Item::Histogram(_))))
}

/// Functions whose result depends on the evaluation time even under `@` (upstream's list, and
/// the query-bound functions `start()`/`end()`/`range()`/`step()`, whose corpus cases
/// upstream's runner also leaves without variants).
const AT_UNSAFE: &[&str] = &[
    "start",
    "end",
    "range",
    "step",
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

fn run_eval(backend: &mut dyn Backend, e: &Eval) -> Result<(), String> {
    let opts = Options::default();
    let query = promql::parse(&e.expr).map_err(|err| format!("parse error: {err}"))?;
    match e.at {
        EvalAt::Range {
            start_ms,
            end_ms,
            step_ms,
        } => {
            let res = backend.range(&query, &opts, start_ms, end_ms, step_ms);
            let Some(res) = check_failure(e, res)? else {
                return Ok(());
            };
            check_annotations(e, &res)?;
            if e.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            // Upstream's runner checks that a range query's series come in label order.
            if let Value::Matrix(series) = &res.value {
                if let Some(w) = series
                    .windows(2)
                    .find(|w| w[0].labels.compare(&w[1].labels) != std::cmp::Ordering::Less)
                {
                    return Err(format!(
                        "range result not sorted by labels: {} before {}",
                        w[0].labels, w[1].labels
                    ));
                }
            }
            compare(e, &res.value, Some((start_ms, step_ms)))
        }
        EvalAt::Instant { at_ms } => {
            let exclude_range = matches!(
                e.expected,
                Expected::String(_) | Expected::RangeVector { .. }
            ) || ["start()", "end()", "range()", "step()"]
                .iter()
                .any(|f| e.expr.contains(f));
            let at_ms = match &e.expected {
                Expected::RangeVector { end_ms, .. } => *end_ms,
                _ => at_ms,
            };
            let mut queries = vec![(query.clone(), at_ms)];
            queries.extend(at_variants(&query, at_ms));
            for (q, t) in queries {
                let res = backend.instant(&q, &opts, t);
                let Some(res) = check_failure(e, res).map_err(|m| format!("at {t}: {m}"))? else {
                    continue;
                };
                check_annotations(e, &res).map_err(|m| format!("at {t}: {m}"))?;
                compare(e, &res.value, None).map_err(|m| format!("{} at {t}: {m}", q.expr))?;
                if exclude_range {
                    continue;
                }
                let range = backend
                    .range(&q, &opts, t - 60_000, t + 60_000, 60_000)
                    .map_err(|err| format!("range mode of {} at {t}: {err}", q.expr))?;
                if e.ordered {
                    continue;
                }
                let Value::Matrix(series) = &range.value else {
                    return Err("range mode gave no matrix".into());
                };
                let vector: Vec<Sample> = series
                    .iter()
                    .filter_map(|s| {
                        s.points.iter().find(|p| p.0 == t).map(|p| Sample {
                            labels: s.labels.clone(),
                            t,
                            v: p.1,
                            drop_name: false,
                        })
                    })
                    .collect();
                let value = match res.value {
                    Value::Scalar { .. } => match vector.first() {
                        Some(s) => Value::Scalar { t, v: s.v },
                        None => return Err("range mode gave no point for a scalar".into()),
                    },
                    _ => Value::Vector(vector),
                };
                compare(e, &value, None)
                    .map_err(|m| format!("range mode of {} at {t}: {m}", q.expr))?;
            }
            Ok(())
        }
    }
}

/// `Ok(None)`: the query failed as expected. `Ok(Some)`: it succeeded and should have.
fn check_failure(
    e: &Eval,
    res: Result<QueryResult, String>,
) -> Result<Option<QueryResult>, String> {
    match (res, &e.fail) {
        (Ok(_), Some(_)) => Err(format!(
            "expected error evaluating query {:?} but got none",
            e.expr
        )),
        (Ok(r), None) => Ok(Some(r)),
        (Err(err), Some(m)) => {
            if message_matches(m, &err) {
                Ok(None)
            } else {
                Err(format!("expected error {m:?}, got {err:?}"))
            }
        }
        (Err(err), None) => Err(format!("unexpected error: {err}")),
    }
}

fn message_matches(m: &MessageMatch, text: &str) -> bool {
    match m {
        MessageMatch::Any => true,
        MessageMatch::Exact(s) => s == text,
        MessageMatch::Regex(r) => regex::Regex::new(r).is_ok_and(|re| re.is_match(text)),
    }
}

fn check_annotations(e: &Eval, res: &QueryResult) -> Result<(), String> {
    for (kind, exp, got) in [
        ("warn", &e.warn, &res.warnings),
        ("info", &e.info, &res.infos),
    ] {
        if exp.none && !got.is_empty() {
            return Err(format!("unexpected {kind} annotations: {got:?}"));
        }
        if exp.expected.is_empty() {
            continue;
        }
        if got.is_empty() {
            return Err(format!("expected {kind} annotations, got none"));
        }
        for m in &exp.expected {
            if !got.iter().any(|g| message_matches(m, g)) {
                return Err(format!("expected {kind} {m:?}, got {got:?}"));
            }
        }
        for g in got {
            if !exp.expected.iter().any(|m| message_matches(m, g)) {
                return Err(format!("unexpected {kind} {g:?}"));
            }
        }
    }
    Ok(())
}

/// How close compared floats must be (upstream's runner uses `almost.Equal` with 1e-6).
const EPSILON: f64 = 1e-6;

fn almost_equal(a: f64, b: f64) -> bool {
    promql::value::almost_equal(a, b, EPSILON)
}

fn float_of(item: &Item) -> Result<Option<f64>, String> {
    match item {
        Item::Omitted => Ok(None),
        Item::Float(v) => Ok(Some(*v)),
        Item::Stale => Ok(Some(stale_nan())),
        Item::Histogram(_) => Err("native histograms are not supported".into()),
    }
}

/// Compares a result with the expectation; `range` is the (start, step) of a range eval.
fn compare(e: &Eval, value: &Value, range: Option<(i64, i64)>) -> Result<(), String> {
    match (&e.expected, value) {
        (Expected::Scalar(exp), Value::Scalar { v, .. }) => {
            if almost_equal(*exp, *v) {
                Ok(())
            } else {
                Err(format!("expected scalar {exp} but got {v}"))
            }
        }
        (Expected::Scalar(_), other) => {
            Err(format!("expected scalar result, got {}", other.type_name()))
        }
        (Expected::String(exp), Value::String { v, .. }) => {
            if exp == v {
                Ok(())
            } else {
                Err(format!("expected string {exp:?} but got {v:?}"))
            }
        }
        (Expected::String(_), other) => {
            Err(format!("expected string result, got {}", other.type_name()))
        }
        (
            Expected::RangeVector {
                start_ms,
                end_ms,
                step_ms,
                series,
            },
            Value::Matrix(m),
        ) => compare_matrix(series, m, *start_ms, *step_ms, Some(*end_ms)),
        (Expected::RangeVector { .. }, other) => {
            Err(format!("expected range vector, got {}", other.type_name()))
        }
        (Expected::Series(exp), Value::Matrix(m)) => match range {
            Some((start, step)) => compare_matrix(exp, m, start, step, None),
            None => Err("unexpected matrix result of an instant eval".into()),
        },
        (Expected::Series(exp), Value::Vector(v)) => compare_vector(e, exp, v),
        (Expected::Series(_), other) => Err(format!(
            "expected vector or matrix, got {}",
            other.type_name()
        )),
    }
}

fn compare_vector(e: &Eval, exp: &[SeriesDesc], got: &[Sample]) -> Result<(), String> {
    let expected: Vec<(Labels, &SeriesDesc)> = exp
        .iter()
        .map(|s| (Labels::new(s.labels.clone()), s))
        .collect();
    let mut seen = vec![false; expected.len()];
    for (pos, s) in got.iter().enumerate() {
        let Some(i) = expected.iter().position(|(l, _)| *l == s.labels) else {
            return Err(format!(
                "unexpected metric {} in result, has value {}",
                s.labels, s.v
            ));
        };
        if e.ordered && i != pos {
            return Err(format!(
                "expected metric {} with {:?} at position {} but was at {}",
                s.labels,
                expected[i].1.values,
                i + 1,
                pos + 1
            ));
        }
        let exp_v = match expected[i].1.values.first() {
            Some(item) => float_of(item)?,
            None => None,
        };
        let Some(exp_v) = exp_v else {
            return Err(format!("expected no value for {}", s.labels));
        };
        if !almost_equal(exp_v, s.v) {
            return Err(format!("expected {exp_v} for {} but got {}", s.labels, s.v));
        }
        seen[i] = true;
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!(
            "expected metric {} with {:?} not found",
            expected[i].0, expected[i].1.values
        ));
    }
    Ok(())
}

fn compare_matrix(
    exp: &[SeriesDesc],
    got: &[Series],
    start: i64,
    step: i64,
    end: Option<i64>,
) -> Result<(), String> {
    for w in got.windows(2) {
        if w[0].labels.compare(&w[1].labels) == std::cmp::Ordering::Greater {
            return Err("matrix is not sorted".into());
        }
    }
    let expected: Vec<(Labels, &SeriesDesc)> = exp
        .iter()
        .map(|s| (Labels::new(s.labels.clone()), s))
        .collect();
    let mut seen = vec![false; expected.len()];
    for s in got {
        let Some(i) = expected.iter().position(|(l, _)| *l == s.labels) else {
            return Err(format!(
                "unexpected metric {} in result, has {:?}",
                s.labels, s.points
            ));
        };
        let mut points = Vec::new();
        for (k, item) in expected[i].1.values.iter().enumerate() {
            let t = start + k as i64 * step;
            if end.is_some_and(|end| t > end) {
                return Err(format!(
                    "expected {} points, more than the range holds",
                    k + 1
                ));
            }
            if let Some(v) = float_of(item)? {
                points.push((t, v));
            }
        }
        if points.len() != s.points.len() {
            return Err(format!(
                "expected {} points for {}, got {}: {:?}",
                points.len(),
                s.labels,
                s.points.len(),
                s.points
            ));
        }
        for (a, b) in points.iter().zip(&s.points) {
            if a.0 != b.0 || !almost_equal(a.1, b.1) {
                return Err(format!(
                    "expected {:?} for {} but got {:?}",
                    points, s.labels, s.points
                ));
            }
        }
        seen[i] = true;
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!("expected metric {} not found", expected[i].0));
    }
    Ok(())
}

/// The `@`-pinned variants of an instant query at `t`, as upstream's `atModifierTestCases`
/// (annotation positions refer to the original text, as they coincide upstream).
fn at_variants(query: &Query, t: i64) -> Vec<(Query, i64)> {
    if uses_unsafe_function(&query.expr) {
        return Vec::new();
    }
    let mut pinned = query.clone();
    pin(&mut pinned.expr, t);
    let times = if t == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * t, 0, t / 5, t, 10 * t]
    };
    times.into_iter().map(|at| (pinned.clone(), at)).collect()
}

fn uses_unsafe_function(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => {
            AT_UNSAFE.contains(&c.func.name) || c.args.args.iter().any(|a| uses_unsafe_function(a))
        }
        Expr::Aggregate(a) => {
            uses_unsafe_function(&a.expr)
                || a.param.as_ref().is_some_and(|p| uses_unsafe_function(p))
        }
        Expr::Unary(u) => uses_unsafe_function(&u.expr),
        Expr::Binary(b) => uses_unsafe_function(&b.lhs) || uses_unsafe_function(&b.rhs),
        Expr::Paren(p) => uses_unsafe_function(&p.expr),
        Expr::Subquery(s) => uses_unsafe_function(&s.expr),
        _ => false,
    }
}

fn at_of(t: i64) -> AtModifier {
    let st = if t >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(t as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_millis(t.unsigned_abs())
    };
    AtModifier::At(st)
}

/// Sets `@ t` on every selector and subquery outside subqueries that has none (`@ start()` /
/// `@ end()` are replaced, as upstream does); the insides of subqueries are left alone.
fn pin(e: &mut Expr, t: i64) {
    let unpinned = |at: &Option<AtModifier>| !matches!(at, Some(AtModifier::At(_)));
    match e {
        Expr::VectorSelector(vs) if unpinned(&vs.at) => vs.at = Some(at_of(t)),
        Expr::MatrixSelector(m) if unpinned(&m.vs.at) => m.vs.at = Some(at_of(t)),
        // What a subquery holds is evaluated relative to its (now pinned) steps.
        Expr::Subquery(sq) if unpinned(&sq.at) => sq.at = Some(at_of(t)),
        Expr::Aggregate(a) => {
            pin(&mut a.expr, t);
            if let Some(p) = &mut a.param {
                pin(p, t);
            }
        }
        Expr::Unary(u) => pin(&mut u.expr, t),
        Expr::Binary(b) => {
            pin(&mut b.lhs, t);
            pin(&mut b.rhs, t);
        }
        Expr::Paren(p) => pin(&mut p.expr, t),
        Expr::Call(c) => {
            for a in &mut c.args.args {
                pin(a, t);
            }
        }
        _ => {}
    }
}
