//! One rule group evaluated as Prometheus's rule manager evaluates it (`rules/group.go`): its
//! rules in file order at one timestamp, each querying at that time less the group's
//! `query_offset`; recording rules' series and alerting rules' `ALERTS` and `ALERTS_FOR_STATE`
//! samples written after each rule (so later rules see earlier ones' output, as Prometheus
//! commits each rule's samples), with a staleness marker for every series a rule wrote last time
//! and not this time; each rule's health, last error and evaluation time kept for the rules API.
//! Queries and writes go through a [`Backend`], so the same evaluation serves the server
//! (engines over storage, the write path) and `vigil rules test` (an in-memory source).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use promql::value::{stale_nan, Labels, Sample, Value};

use crate::alerts::{record, Alert, AlertState, AlertingRule, Restore, ALERT_NAME};
use crate::rules::{Language, Rule, RuleGroup};
use common::template::QueryResult;

/// Where a group's rules read and write one tenant's data.
pub trait Backend {
    /// The value of `expr` in `language` at `t` (ms).
    fn query(&self, language: Language, expr: &str, t: i64) -> Result<Value, String>;
    /// Writes `samples` durably (recorded series, `ALERTS`, `ALERTS_FOR_STATE`, staleness
    /// markers); later queries see them.
    fn write(&self, samples: Vec<Sample>) -> Result<(), String>;
}

/// The samples of an instant query's result as a rule sees them: a vector's samples (the metric
/// name gone where the query drops it), or a scalar as one sample without labels.
pub fn rule_samples(value: Value, t: i64) -> Result<Vec<Sample>, String> {
    match value {
        Value::Vector(v) => Ok(v
            .into_iter()
            .map(|s| Sample {
                labels: if s.drop_name {
                    s.labels.without_name()
                } else {
                    s.labels
                },
                t,
                v: s.v,
                drop_name: false,
            })
            .collect()),
        Value::Scalar { v, .. } => Ok(vec![Sample {
            labels: Labels::new(Vec::new()),
            t,
            v,
            drop_name: false,
        }]),
        other => Err(format!(
            "rule result is not a vector or scalar: {}",
            other.type_name()
        )),
    }
}

/// What a group's evaluation is set up with beyond its file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupDefaults {
    /// Interval of a group that names none.
    pub interval: Duration,
    /// Query offset of a group that names none.
    pub query_offset: Duration,
    /// Labels templates see as `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// What templates see as `$externalURL`.
    pub external_url: String,
    /// How often a firing alert is sent to the Alertmanager again (Prometheus's
    /// `--rules.alert.resend-delay`, 1m).
    pub resend_delay: Duration,
}

/// How a rule's last evaluation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// Evaluated without error.
    Ok,
    /// Its last evaluation failed.
    Err,
}

impl Health {
    /// The name Prometheus's rules API gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// A rule of a group with its state.
#[derive(Debug, Clone)]
pub struct RuleState {
    /// The rule as its file has it.
    pub rule: Rule,
    /// The language of its expression.
    pub language: Language,
    /// Its expression as Prometheus's rules API prints it: PromQL in its canonical form
    /// (`Expr.String()`), any other language as written. Made once, when the group is read.
    pub query: String,
    /// Its labels: the group's, overridden by the rule's.
    pub labels: BTreeMap<String, String>,
    /// An alerting rule's alerts; `None` for a recording rule.
    pub alerting: Option<AlertingRule>,
    /// How its last evaluation went.
    pub health: Health,
    /// The error of its last evaluation, if it failed.
    pub last_error: Option<String>,
    /// When it was last evaluated (ms).
    pub last_evaluation: Option<i64>,
    /// How long its last evaluation took.
    pub evaluation_time: Duration,
    /// The series it wrote at its last successful evaluation.
    written: HashSet<Labels>,
}

impl RuleState {
    /// The state of an alerting rule: its alerts' highest (firing over pending over inactive).
    pub fn state(&self) -> AlertState {
        self.alerting
            .as_ref()
            .map(|a| {
                a.alerts()
                    .fold(AlertState::Inactive, |s, a| match (s, a.state) {
                        (AlertState::Firing, _) | (_, AlertState::Firing) => AlertState::Firing,
                        (AlertState::Pending, _) | (_, AlertState::Pending) => AlertState::Pending,
                        _ => AlertState::Inactive,
                    })
            })
            .unwrap_or(AlertState::Inactive)
    }

    /// Its pending and firing alerts.
    pub fn active_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerting
            .iter()
            .flat_map(|a| a.alerts())
            .filter(|a| a.state != AlertState::Inactive)
    }
}

/// A rule group and the state of its rules.
#[derive(Debug, Clone)]
pub struct Group {
    /// The file it was read from.
    pub file: String,
    /// Its name.
    pub name: String,
    /// How often it is evaluated.
    pub interval: Duration,
    /// How far behind the evaluation time its rules query.
    pub query_offset: Duration,
    /// Most alerts or series per rule and evaluation (0: no limit).
    pub limit: u64,
    /// Its rules, in file order.
    pub rules: Vec<RuleState>,
    /// When it was last evaluated (ms).
    pub last_evaluation: Option<i64>,
    /// How long its last evaluation took.
    pub evaluation_time: Duration,
    /// How often firing alerts are sent again.
    pub resend_delay: Duration,
    /// Alerts the last evaluation has for the Alertmanager, with their rule's expression.
    pub outbox: Vec<(String, Alert)>,
    /// Series of rules a reload removed or changed, ended by the next evaluation.
    stale: HashSet<Labels>,
}

impl Group {
    /// `group` of `file`, not evaluated yet.
    pub fn new(file: &str, group: &RuleGroup, defaults: &GroupDefaults) -> Self {
        let rules = group
            .rules
            .iter()
            .map(|r| {
                let mut labels = group.labels.clone();
                labels.extend(r.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                let alerting = r.alert.as_deref().map(|name| {
                    AlertingRule::new(name, r.for_, r.keep_firing_for, labels.clone())
                        .with_templates(
                            r.annotations.clone(),
                            defaults.external_labels.clone(),
                            &defaults.external_url,
                        )
                });
                let language = Language::of(r.language, group.language, &r.expr);
                let expr = r.expr.trim();
                let query = match language {
                    Language::PromQl => promql::parse(expr)
                        .map_or_else(|_| expr.to_string(), |q| q.expr.to_string()),
                    _ => expr.to_string(),
                };
                RuleState {
                    rule: r.clone(),
                    language,
                    query,
                    labels,
                    alerting,
                    health: Health::Unknown,
                    last_error: None,
                    last_evaluation: None,
                    evaluation_time: Duration::ZERO,
                    written: HashSet::new(),
                }
            })
            .collect();
        Self {
            file: file.to_string(),
            name: group.name.clone(),
            interval: group.interval.unwrap_or(defaults.interval),
            query_offset: group.query_offset.unwrap_or(defaults.query_offset),
            limit: group.limit,
            rules,
            last_evaluation: None,
            evaluation_time: Duration::ZERO,
            resend_delay: defaults.resend_delay,
            outbox: Vec::new(),
            stale: HashSet::new(),
        }
    }

    /// Takes over the state of `old`, the same group before a reload (Prometheus's
    /// `CopyState`): the alerts and written series of each rule that is still there, matched by
    /// name and kind in order.
    pub fn copy_state(&mut self, old: Group) {
        self.last_evaluation = old.last_evaluation;
        self.evaluation_time = old.evaluation_time;
        let mut olds: Vec<Option<RuleState>> = old.rules.into_iter().map(Some).collect();
        for rule in &mut self.rules {
            let same = olds.iter_mut().find(|o| {
                o.as_ref().is_some_and(|o| {
                    o.rule.name() == rule.rule.name()
                        && o.rule.alert.is_some() == rule.rule.alert.is_some()
                        && o.labels == rule.labels
                })
            });
            let Some(o) = same.and_then(Option::take) else {
                continue;
            };
            rule.health = o.health;
            rule.last_error = o.last_error;
            rule.last_evaluation = o.last_evaluation;
            rule.evaluation_time = o.evaluation_time;
            rule.written = o.written;
            if let (Some(new), Some(old)) = (&mut rule.alerting, o.alerting) {
                new.take_alerts(old);
            }
        }
        // What the rules that went (or changed) wrote ends at the next evaluation, as
        // Prometheus's `CopyState` hands their series to `staleSeries`.
        for o in olds.into_iter().flatten() {
            self.stale.extend(o.written);
        }
        self.stale.extend(old.stale);
    }

    /// Staleness markers at `t` for every series the group wrote last: what a group removed by
    /// a reload writes, so that its series end at once rather than after the lookback.
    pub fn stale_markers(&self, t: i64) -> Vec<Sample> {
        self.rules
            .iter()
            .flat_map(|r| &r.written)
            .map(|labels| Sample {
                labels: labels.clone(),
                t,
                v: stale_nan(),
                drop_name: false,
            })
            .collect()
    }

    /// The `ALERTS_FOR_STATE` selector each alerting rule with a `for` restores from, by rule
    /// index: what [`Group::restore`] needs, read from storage by the caller.
    pub fn restore_queries(&self, outage_tolerance: Duration) -> Vec<(usize, String)> {
        let range = outage_tolerance.as_millis().max(1);
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let a = r.alerting.as_ref()?;
                (!a.hold().is_zero()).then(|| {
                    (
                        i,
                        format!(
                            "ALERTS_FOR_STATE{{{ALERT_NAME}={}}}[{range}ms]",
                            promql_string(a.name())
                        ),
                    )
                })
            })
            .collect()
    }

    /// Restores the alerts of each alerting rule from the `ALERTS_FOR_STATE` series its
    /// restore query found (`found[i]` for the rule at index `i`), at its next evaluation.
    pub fn restore(&mut self, found: Vec<(usize, Value)>, grace: Duration) {
        for (i, value) in found {
            let Some(rule) = self.rules.get_mut(i).and_then(|r| r.alerting.as_mut()) else {
                continue;
            };
            let Value::Matrix(series) = value else {
                continue;
            };
            let prior = series
                .into_iter()
                .filter_map(|s| {
                    let &(t, v) = s.points.last()?;
                    Some((s.labels.without_name(), (t, v)))
                })
                .collect();
            rule.restore(Restore {
                prior,
                grace: i64::try_from(grace.as_millis()).unwrap_or(i64::MAX),
            });
        }
    }

    /// Evaluates every rule at `t` (ms), querying through `backend` at `t` less the query
    /// offset and writing each rule's samples, stamped with the query time, before the next
    /// rule runs. A rule that fails keeps its error for the API and writes nothing. Returns how
    /// many rules failed.
    pub fn eval(&mut self, t: i64, backend: &dyn Backend) -> usize {
        let started = Instant::now();
        let tq = t - i64::try_from(self.query_offset.as_millis()).unwrap_or(0);
        let mut failed = 0;
        self.outbox.clear();
        if !self.stale.is_empty() {
            let markers = self
                .stale
                .drain()
                .map(|labels| Sample {
                    labels,
                    t: tq,
                    v: stale_nan(),
                    drop_name: false,
                })
                .collect();
            if let Err(e) = backend.write(markers) {
                tracing::warn!(group = %self.name, error = %e, "writing staleness markers of removed rules failed");
            }
        }
        let interval = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        let resend = i64::try_from(self.resend_delay.as_millis()).unwrap_or(i64::MAX);
        for rule in &mut self.rules {
            let began = Instant::now();
            let result = eval_rule(rule, t, tq, self.limit, backend).and_then(|mut samples| {
                let now: HashSet<Labels> = samples.iter().map(|s| s.labels.clone()).collect();
                for gone in rule.written.difference(&now) {
                    samples.push(Sample {
                        labels: gone.clone(),
                        t: tq,
                        v: stale_nan(),
                        drop_name: false,
                    });
                }
                if !samples.is_empty() {
                    backend.write(samples)?;
                }
                Ok(now)
            });
            rule.evaluation_time = began.elapsed();
            rule.last_evaluation = Some(t);
            match result {
                Ok(now) => {
                    rule.health = Health::Ok;
                    rule.last_error = None;
                    rule.written = now;
                    if let Some(a) = &mut rule.alerting {
                        let expr = rule.rule.expr.trim().to_string();
                        self.outbox.extend(
                            a.to_send(t, resend, interval)
                                .into_iter()
                                .map(|alert| (expr.clone(), alert)),
                        );
                    }
                }
                Err(e) => {
                    failed += 1;
                    rule.health = Health::Err;
                    rule.last_error = Some(e);
                }
            }
        }
        self.last_evaluation = Some(t);
        self.evaluation_time = started.elapsed();
        failed
    }
}

/// One rule's evaluation: its query at `tq`, then what it records or alerts on.
fn eval_rule(
    rule: &mut RuleState,
    t: i64,
    tq: i64,
    limit: u64,
    backend: &dyn Backend,
) -> Result<Vec<Sample>, String> {
    let result = rule_samples(backend.query(rule.language, &rule.rule.expr, tq)?, tq)?;
    match &mut rule.alerting {
        None => record(
            rule.rule.record.as_deref().unwrap_or(""),
            &rule.labels,
            tq,
            &result,
            limit,
        )
        .map_err(|e| e.to_string()),
        Some(alerting) => {
            let query = |q: &str| -> Result<QueryResult, String> {
                let samples = rule_samples(backend.query(Language::PromQl, q, tq)?, tq)?;
                Ok(samples
                    .into_iter()
                    .map(|s| (s.labels.pairs().iter().cloned().collect(), s.v))
                    .collect())
            };
            let mut samples = alerting
                .eval(t, &result, limit, Some(&query))
                .map_err(|e| e.to_string())?;
            for s in &mut samples {
                s.t = tq;
            }
            Ok(samples)
        }
    }
}

/// `s` as a PromQL string literal.
fn promql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use promql::MemSource;

    use super::*;
    use crate::rules::{parse, ParseOptions};
    use crate::unittest::MemBackend;

    fn group(yaml: &str) -> Group {
        let file = parse(yaml, ParseOptions::default()).expect("rule file");
        let defaults = GroupDefaults {
            interval: Duration::from_secs(60),
            ..GroupDefaults::default()
        };
        Group::new("rules.yml", &file.groups[0], &defaults)
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// `up{instance="a"}` = `v` every minute over `minutes`.
    fn backend(points: &[(i64, f64)]) -> MemBackend {
        let mut source = MemSource::new();
        source
            .append(labels(&[("__name__", "up"), ("instance", "a")]), points)
            .expect("series");
        MemBackend(RefCell::new(source))
    }

    fn written(b: &MemBackend, expr: &str, t: i64) -> Vec<Sample> {
        rule_samples(b.query(Language::PromQl, expr, t).expect("query"), t).expect("vector")
    }

    #[test]
    fn later_rules_see_earlier_ones_output_and_group_labels_apply() {
        let mut g = group(
            "groups:\n- name: g\n  labels: {team: db, tier: x}\n  rules:\n  - record: a:up\n    expr: up * 2\n    labels: {tier: y}\n  - record: b:up\n    expr: a:up + 1\n",
        );
        let b = backend(&[(0, 1.0)]);
        assert_eq!(g.eval(0, &b), 0);
        let got = written(&b, "b:up", 0);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].v, 3.0);
        assert_eq!(
            got[0].labels,
            labels(&[
                ("__name__", "b:up"),
                ("instance", "a"),
                ("team", "db"),
                ("tier", "x")
            ])
        );
        assert_eq!(written(&b, "a:up", 0)[0].labels.get("tier"), Some("y"));
        assert!(g.rules.iter().all(|r| r.health == Health::Ok));
    }

    #[test]
    fn a_series_that_goes_ends_with_a_staleness_marker_at_the_query_time() {
        let mut g = group(
            "groups:\n- name: g\n  query_offset: 30s\n  rules:\n  - record: big\n    expr: up > 5\n",
        );
        // up is 10 at 0, 1 from one minute on.
        let b = backend(&[(0, 10.0), (60_000, 1.0)]);
        g.eval(30_000, &b);
        g.eval(90_000, &b);
        // Written at 0 (the query time), then a marker at 60 s: without it the lookback would
        // still show the series at 61 s.
        assert_eq!(written(&b, "big", 59_000).len(), 1);
        assert_eq!(written(&b, "big", 59_000)[0].v, 10.0);
        assert!(written(&b, "big", 61_000).is_empty());
        assert_eq!(written(&b, "count_over_time(big[2m])", 61_000)[0].v, 1.0);
    }

    #[test]
    fn a_failing_rule_keeps_its_error_and_the_others_run() {
        let mut g = group(
            "groups:\n- name: g\n  rules:\n  - record: m\n    expr: up{instance=\"a\"}[5m]\n  - record: n\n    expr: up\n",
        );
        let b = backend(&[(0, 1.0)]);
        assert_eq!(g.eval(0, &b), 1);
        assert_eq!(g.rules[0].health, Health::Err);
        assert_eq!(
            g.rules[0].last_error.as_deref(),
            Some("rule result is not a vector or scalar: matrix")
        );
        assert_eq!(g.rules[1].health, Health::Ok);
    }

    const DOWN: &str =
        "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 10m\n";

    /// The group's `Down` alert after a restart at `t` whose `ALERTS_FOR_STATE` was last written
    /// at `down_at` with activation `active_s`, under `grace`.
    fn restored(down_at: i64, active_s: f64, t: i64, grace: Duration) -> Alert {
        let mut g = group(DOWN);
        let b = backend(&[(t, 0.0)]);
        b.0.borrow_mut()
            .append(
                labels(&[
                    ("__name__", "ALERTS_FOR_STATE"),
                    ("alertname", "Down"),
                    ("instance", "a"),
                ]),
                &[(down_at, active_s)],
            )
            .expect("state series");
        let found = g
            .restore_queries(Duration::from_secs(3600))
            .into_iter()
            .map(|(i, q)| (i, b.query(Language::PromQl, &q, t).expect("query")))
            .collect();
        g.restore(found, grace);
        g.eval(t, &b);
        let alert = g.rules[0].active_alerts().next().cloned();
        alert.expect("an alert")
    }

    #[test]
    fn restored_alerts_keep_their_pending_time_as_prometheus_restores_it() {
        let (min, t) = (60_000, 3_600_000);
        // Firing before the restart (active 20 min before going down): firing again at once,
        // active since the same time.
        let a = restored(
            t - 5 * min,
            ((t - 25 * min) / 1000) as f64,
            t,
            Duration::ZERO,
        );
        assert_eq!(a.state, AlertState::Firing);
        assert_eq!(a.active_at, t - 25 * min);
        // Pending for 4 of its 10 minutes when it went down 5 minutes ago: the 6 left still
        // to wait, counted from now.
        let a = restored(
            t - 5 * min,
            ((t - 9 * min) / 1000) as f64,
            t,
            Duration::ZERO,
        );
        assert_eq!(a.state, AlertState::Pending);
        assert_eq!(a.active_at, t - 4 * min);
        // With a grace period longer than what is left, the alert waits the grace period.
        let a = restored(
            t - min,
            ((t - 9 * min) / 1000) as f64,
            t,
            Duration::from_secs(300),
        );
        assert_eq!(a.active_at, t + 5 * min - 10 * min);
        // A `for` shorter than the grace period restores nothing.
        let a = restored(
            t - min,
            ((t - 30 * min) / 1000) as f64,
            t,
            Duration::from_secs(3600),
        );
        assert_eq!(a.active_at, t);
    }
}
