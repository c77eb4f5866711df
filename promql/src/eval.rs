//! The evaluator: Prometheus 3 semantics, one evaluation time at a time.
//!
//! A range query is the instant query evaluated at every step (which is how Prometheus defines
//! it); each selector reads its series from storage once per query, over the window all of
//! its evaluations need, and subquery steps are cached so that overlapping windows of
//! consecutive steps evaluate each inner step once.

use std::collections::HashMap;

use promql_parser::label::Matcher;
use promql_parser::parser::token::{self, TokenType};
use promql_parser::parser::{
    AggregateExpr, AtModifier, BinaryExpr, Expr, LabelModifier, Offset, VectorMatchCardinality,
    VectorSelector,
};

use crate::error::{exec_err, QueryError, Result};
use crate::ev::{ms, offset_ms, selector_matchers, Ev, RangeArg, Val};
use crate::functions;
use crate::query::{Options, Query, QueryResult};
use crate::source::{MemSource, Source};
use crate::value::{Labels, Sample, Series, Value, METRIC_NAME};

/// Evaluates `expr` at `t_ms`.
pub fn instant(
    source: &dyn Source,
    opts: &Options,
    query: &Query,
    t_ms: i64,
) -> Result<QueryResult> {
    let expr = &query.expr;
    let mut ev = Ev::new(source, opts, query, t_ms, t_ms, 0);
    let v = ev.eval(expr, t_ms)?;
    let value = match v {
        Val::Scalar(v) => Value::Scalar { t: t_ms, v },
        Val::Str(v) => Value::String { t: t_ms, v },
        Val::Vector(samples) => Value::Vector(finish_vector(samples, t_ms)?),
        Val::Matrix(series) => Value::Matrix(finish_matrix(series)?),
    };
    Ok(ev.result(value))
}

/// Evaluates `expr` at every step from `start_ms` to `end_ms`.
pub fn range(
    source: &dyn Source,
    opts: &Options,
    query: &Query,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<QueryResult> {
    let expr = &query.expr;
    if step_ms <= 0 {
        return Err(QueryError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
                .into(),
        ));
    }
    match expr.value_type() {
        promql_parser::parser::value::ValueType::Vector
        | promql_parser::parser::value::ValueType::Scalar => {}
        other => {
            let name = match other {
                promql_parser::parser::value::ValueType::Matrix => "range vector".to_string(),
                t => t.to_string(),
            };
            return Err(QueryError::BadData(format!(
                "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
            )));
        }
    }
    let mut ev = Ev::new(source, opts, query, start_ms, end_ms, step_ms);
    let mut out = RangeSeries::default();
    let mut points = 0usize;
    let mut t = start_ms;
    while t <= end_ms {
        ev.check_deadline()?;
        let samples = match ev.eval(expr, t)? {
            // A scalar is one series without labels.
            Val::Scalar(v) => vec![Sample {
                labels: Labels::default(),
                t,
                v,
                drop_name: false,
            }],
            Val::Vector(samples) => samples,
            _ => return exec_err("range query of a value that is neither scalar nor vector"),
        };
        points += samples.len();
        out.step += 1;
        for s in samples {
            let at = out.series_of(s.labels, s.drop_name)?;
            out.series[at].points.push((t, s.v));
        }
        ev.count_samples(points)?;
        let Some(next) = t.checked_add(step_ms) else {
            break;
        };
        t = next;
    }
    let mut series = out.series;
    series.sort_by(|a, b| a.labels.compare(&b.labels));
    Ok(ev.result(Value::Matrix(series)))
}

/// The output series of a range query as its steps are evaluated. A series' samples share
/// one `Labels` allocation from step to step, so the labels are looked up (and their name
/// dropped) by that allocation's identity; a label set built anew (an aggregation's group) is
/// found by its value, once per step.
#[derive(Default)]
struct RangeSeries {
    series: Vec<Series>,
    /// Output series by label value.
    by_labels: HashMap<Labels, usize>,
    /// Output series by the identity of an evaluated sample's labels and whether its name is
    /// dropped; the entry keeps those labels alive, so the identity is not reused.
    by_id: HashMap<(usize, bool), (Labels, usize)>,
    /// The step each output series last got a sample at (a second one is an error).
    last_step: Vec<usize>,
    step: usize,
}

impl RangeSeries {
    fn series_of(&mut self, labels: Labels, drop_name: bool) -> Result<usize> {
        let key = (labels.shared_id(), drop_name);
        let at = match self.by_id.get(&key) {
            Some(&(_, at)) => at,
            None => {
                let out = if drop_name {
                    labels.without_name()
                } else {
                    labels.clone()
                };
                let at = match self.by_labels.get(&out) {
                    Some(&at) => at,
                    None => {
                        self.series.push(Series {
                            labels: out.clone(),
                            points: Vec::new(),
                            drop_name: false,
                        });
                        self.last_step.push(0);
                        self.by_labels.insert(out, self.series.len() - 1);
                        self.series.len() - 1
                    }
                };
                self.by_id.insert(key, (labels, at));
                at
            }
        };
        if self.last_step[at] == self.step {
            return exec_err("vector cannot contain metrics with the same labelset");
        }
        self.last_step[at] = self.step;
        Ok(at)
    }
}

/// What a query evaluated from `start_ms` to `end_ms` reads: the matchers of each selector
/// and the time window (inclusive) its evaluations need. A caller that loads these into a
/// [`crate::MemSource`] can evaluate the query on it.
pub fn selections(
    opts: &Options,
    query: &Query,
    start_ms: i64,
    end_ms: i64,
) -> Vec<(Vec<Matcher>, i64, i64)> {
    let empty = MemSource::new();
    let ev = Ev::new(&empty, opts, query, start_ms, end_ms, 0);
    // Selectors with the same matchers (`a / a offset 1h`) are read once, over both windows.
    let mut out: Vec<(Vec<Matcher>, i64, i64)> = Vec::new();
    for (lo, hi, m) in ev.windows.into_values() {
        match out.iter_mut().find(|o| o.0 == m) {
            Some(o) => {
                o.1 = o.1.min(lo);
                o.2 = o.2.max(hi);
            }
            None => out.push((m, lo, hi)),
        }
    }
    out
}

/// Drops the names marked for dropping and checks that no two samples are left with one
/// label set.
fn finish_vector(mut samples: Vec<Sample>, t: i64) -> Result<Vec<Sample>> {
    for s in &mut samples {
        if s.drop_name {
            s.labels.remove(METRIC_NAME);
            s.drop_name = false;
        }
        s.t = t;
    }
    check_unique(samples.iter().map(|s| &s.labels))?;
    Ok(samples)
}

fn finish_matrix(mut series: Vec<Series>) -> Result<Vec<Series>> {
    for s in &mut series {
        if s.drop_name {
            s.labels.remove(METRIC_NAME);
            s.drop_name = false;
        }
    }
    check_unique(series.iter().map(|s| &s.labels))?;
    series.sort_by(|a, b| a.labels.compare(&b.labels));
    Ok(series)
}

fn check_unique<'a>(labels: impl Iterator<Item = &'a Labels>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for l in labels {
        if !seen.insert(l) {
            return exec_err("vector cannot contain metrics with the same labelset");
        }
    }
    Ok(())
}

impl<'a> Ev<'a> {
    /// Records the storage window each selector needs when `e` is evaluated at times in
    /// `[lo, hi]`.
    pub(crate) fn plan(&mut self, e: &Expr, lo: i64, hi: i64) {
        match e {
            Expr::VectorSelector(vs) => {
                let (lo, hi) = self.shifted(&vs.at, &vs.offset, lo, hi);
                self.widen(vs, lo.saturating_sub(self.opts.lookback_ms), hi);
            }
            Expr::MatrixSelector(m) => {
                let (lo, hi) = self.shifted(&m.vs.at, &m.vs.offset, lo, hi);
                self.widen(&m.vs, lo.saturating_sub(ms(&m.range)), hi);
            }
            Expr::Subquery(sq) => {
                let (lo, hi) = self.shifted(&sq.at, &sq.offset, lo, hi);
                self.plan(&sq.expr, lo.saturating_sub(ms(&sq.range)), hi);
            }
            Expr::Aggregate(a) => {
                self.plan(&a.expr, lo, hi);
                if let Some(p) = &a.param {
                    self.plan(p, lo, hi);
                }
            }
            Expr::Unary(u) => self.plan(&u.expr, lo, hi),
            Expr::Binary(b) => {
                self.plan(&b.lhs, lo, hi);
                self.plan(&b.rhs, lo, hi);
            }
            Expr::Paren(p) => self.plan(&p.expr, lo, hi),
            Expr::Call(c) => {
                for a in &c.args.args {
                    self.plan(a, lo, hi);
                }
            }
            _ => {}
        }
    }

    fn shifted(
        &self,
        at: &Option<AtModifier>,
        offset: &Option<Offset>,
        lo: i64,
        hi: i64,
    ) -> (i64, i64) {
        let o = offset_ms(offset);
        match at {
            None => (lo.saturating_sub(o), hi.saturating_sub(o)),
            Some(_) => {
                let t = self.at_time(at, lo).saturating_sub(o);
                (t, t)
            }
        }
    }

    fn widen(&mut self, vs: &VectorSelector, lo: i64, hi: i64) {
        let key = vs as *const VectorSelector as usize;
        let w = self
            .windows
            .entry(key)
            .or_insert_with(|| (lo, hi, selector_matchers(vs)));
        w.0 = w.0.min(lo);
        w.1 = w.1.max(hi);
    }

    pub(crate) fn eval(&mut self, e: &Expr, t: i64) -> Result<Val> {
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(mut samples) => {
                    for s in &mut samples {
                        s.v = -s.v;
                        s.drop_name = true;
                    }
                    Ok(Val::Vector(samples))
                }
                _ => exec_err("unary minus of a value that is neither scalar nor vector"),
            },
            Expr::VectorSelector(vs) => self.instant_selector(vs, t).map(Val::Vector),
            Expr::MatrixSelector(m) => Ok(Val::Matrix(self.range_selector(m, t)?.series)),
            Expr::Subquery(sq) => Ok(Val::Matrix(self.subquery(sq, t)?.series)),
            Expr::Aggregate(a) => self.aggregate(a, t),
            Expr::Binary(b) => self.binary(b, t),
            Expr::Call(c) => functions::call(self, c, t),
            Expr::Extension(_) => exec_err("extension expressions are not supported"),
        }
    }

    /// A range-vector argument: a matrix selector or a subquery (in parentheses or not).
    pub(crate) fn range_arg(&mut self, e: &Expr, t: i64) -> Result<RangeArg> {
        match e {
            Expr::MatrixSelector(m) => self.range_selector(m, t),
            Expr::Subquery(sq) => self.subquery(sq, t),
            Expr::Paren(p) => self.range_arg(&p.expr, t),
            _ => exec_err("expected a range vector"),
        }
    }

    pub(crate) fn vector(&mut self, e: &Expr, t: i64) -> Result<Vec<Sample>> {
        match self.eval(e, t)? {
            Val::Vector(v) => Ok(v),
            _ => exec_err("expected an instant vector"),
        }
    }

    pub(crate) fn scalar(&mut self, e: &Expr, t: i64) -> Result<f64> {
        match self.eval(e, t)? {
            Val::Scalar(v) => Ok(v),
            _ => exec_err("expected a scalar"),
        }
    }

    pub(crate) fn string(&mut self, e: &Expr, t: i64) -> Result<String> {
        match self.eval(e, t)? {
            Val::Str(v) => Ok(v),
            _ => exec_err("expected a string"),
        }
    }

    fn binary(&mut self, b: &BinaryExpr, t: i64) -> Result<Val> {
        let op = b.op;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let lhs = self.eval(&b.lhs, t)?;
        let rhs = self.eval(&b.rhs, t)?;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let (v, keep) = scalar_op(op, l, r)?;
                if op.is_comparison_operator() {
                    // Comparisons of scalars need `bool` (the parser enforces it).
                    return Ok(Val::Scalar(if keep { 1.0 } else { 0.0 }));
                }
                Ok(Val::Scalar(v))
            }
            (Val::Vector(l), Val::Scalar(r)) => self
                .vector_scalar(op, l, r, false, return_bool)
                .map(Val::Vector),
            (Val::Scalar(l), Val::Vector(r)) => self
                .vector_scalar(op, r, l, true, return_bool)
                .map(Val::Vector),
            (Val::Vector(l), Val::Vector(r)) => {
                let card = b
                    .modifier
                    .as_ref()
                    .map(|m| m.card.clone())
                    .unwrap_or(VectorMatchCardinality::OneToOne);
                let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
                if op.is_set_operator() {
                    return Ok(Val::Vector(set_op(op, l, r, &matching)));
                }
                vector_vector(op, l, r, &card, &matching, return_bool).map(Val::Vector)
            }
            _ => exec_err("binary operation on unsupported operand types"),
        }
    }

    fn vector_scalar(
        &mut self,
        op: TokenType,
        v: Vec<Sample>,
        s: f64,
        swap: bool,
        return_bool: bool,
    ) -> Result<Vec<Sample>> {
        let mut out = Vec::with_capacity(v.len());
        for mut x in v {
            let (l, r) = if swap { (s, x.v) } else { (x.v, s) };
            let (mut value, keep) = scalar_op(op, l, r)?;
            if op.is_comparison_operator() {
                value = x.v;
                if return_bool {
                    value = if keep { 1.0 } else { 0.0 };
                } else if !keep {
                    continue;
                }
            }
            if !op.is_comparison_operator() || return_bool {
                x.drop_name = true;
            }
            x.v = value;
            out.push(x);
        }
        Ok(out)
    }

    fn aggregate(&mut self, a: &AggregateExpr, t: i64) -> Result<Val> {
        let id = a.op.id();
        let param = match &a.param {
            Some(p) => Some(self.eval(p, t)?),
            None => None,
        };
        let input = self.vector(&a.expr, t)?;
        crate::aggregate::aggregate(self, id, param, input, &a.modifier).map(Val::Vector)
    }
}

/// Applies a binary operator to two floats: the value, and for comparisons whether it holds.
pub(crate) fn scalar_op(op: TokenType, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op.id() {
        token::T_ADD => (l + r, true),
        token::T_SUB => (l - r, true),
        token::T_MUL => (l * r, true),
        token::T_DIV => (l / r, true),
        token::T_POW => (l.powf(r), true),
        token::T_MOD => (l % r, true),
        token::T_ATAN2 => (l.atan2(r), true),
        token::T_EQLC => (l, l == r),
        token::T_NEQ => (l, l != r),
        token::T_GTR => (l, l > r),
        token::T_LSS => (l, l < r),
        token::T_GTE => (l, l >= r),
        token::T_LTE => (l, l <= r),
        _ => return exec_err(format!("operator {op} not allowed here")),
    })
}

/// The signature two samples match on.
fn signature(labels: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => labels.keep(&on.labels),
        Some(LabelModifier::Exclude(ign)) => labels.drop(&ign.labels, true),
        None => labels.drop(&[], true),
    }
}

fn set_op(
    op: TokenType,
    l: Vec<Sample>,
    r: Vec<Sample>,
    matching: &Option<LabelModifier>,
) -> Vec<Sample> {
    let rsigs: std::collections::HashSet<Labels> =
        r.iter().map(|s| signature(&s.labels, matching)).collect();
    match op.id() {
        token::T_LAND => l
            .into_iter()
            .filter(|s| rsigs.contains(&signature(&s.labels, matching)))
            .collect(),
        token::T_LUNLESS => l
            .into_iter()
            .filter(|s| !rsigs.contains(&signature(&s.labels, matching)))
            .collect(),
        _ => {
            let lsigs: std::collections::HashSet<Labels> =
                l.iter().map(|s| signature(&s.labels, matching)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !lsigs.contains(&signature(&s.labels, matching))),
            );
            out
        }
    }
}

fn vector_vector(
    op: TokenType,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    card: &VectorMatchCardinality,
    matching: &Option<LabelModifier>,
    return_bool: bool,
) -> Result<Vec<Sample>> {
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    // `many` is the side whose samples the result keeps; `one` must be unique per signature.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut ones: HashMap<Labels, usize> = HashMap::new();
    for (i, s) in one.iter().enumerate() {
        let sig = signature(&s.labels, matching);
        if let Some(&prev) = ones.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let mut pair = [&one[prev].labels, &s.labels];
            pair.sort_by(|a, b| a.compare(b));
            return exec_err(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                pair[0], pair[1]
            ));
        }
        ones.insert(sig, i);
    }
    let include: &[String] = match card {
        VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => &l.labels,
        _ => &[],
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut matched: HashMap<Labels, usize> = HashMap::new();
    let mut inserted: std::collections::HashSet<Labels> = std::collections::HashSet::new();
    let mut out = Vec::new();
    for m in many {
        let sig = signature(&m.labels, matching);
        let Some(&oi) = ones.get(&sig) else { continue };
        let o = &one[oi];
        if one_to_one {
            let n = matched.entry(sig.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                return exec_err(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                );
            }
        }
        let (l, r) = if one_to_many { (o.v, m.v) } else { (m.v, o.v) };
        let (mut value, keep) = scalar_op(op, l, r)?;
        let comparison = op.is_comparison_operator();
        if comparison {
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
        }
        let drop_name = !comparison || return_bool;
        let mut labels = m.labels.clone();
        if one_to_one {
            labels = match matching {
                Some(LabelModifier::Include(on)) => labels.keep(&on.labels),
                Some(LabelModifier::Exclude(ign)) => labels.drop(&ign.labels, false),
                None => labels,
            };
        }
        for name in include {
            match o.labels.get(name) {
                Some(v) => labels.set(name, v),
                None => labels.remove(name),
            }
        }
        if !one_to_one {
            let key = if drop_name {
                labels.without_name()
            } else {
                labels.clone()
            };
            if !inserted.insert(key) {
                return exec_err(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                );
            }
        }
        out.push(Sample {
            labels,
            t: 0,
            v: value,
            drop_name: drop_name || m.drop_name,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
