//! What one evaluation of a rule makes of its query's result, as Prometheus's rule manager does
//! (`rules/alerting.go`, `rules/recording.go`): an alerting rule's alerts moving from pending to
//! firing to resolved, with the `ALERTS` and `ALERTS_FOR_STATE` samples it writes; a recording
//! rule's series. Querying is the caller's: these types take the instant vector the rule's
//! expression gave at the evaluation time, so the same logic serves the server's evaluator and
//! `vigil rules test`.

use std::collections::BTreeMap;
use std::time::Duration;

use promql::value::{Labels, Sample, METRIC_NAME};

use common::template::{expand_alert, QueryFn};

/// The label holding an alert's name.
pub const ALERT_NAME: &str = "alertname";
/// The label holding an alert's state in `ALERTS`.
pub const ALERT_STATE: &str = "alertstate";
/// How long a resolved alert is kept (and reported) after it resolved.
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// Why an evaluation produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Two results have the same labels once the rule's labels are applied.
    #[error("vector contains metrics with the same labelset after applying {0} labels")]
    DuplicateLabels(&'static str),
    /// More alerts or series than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} {what}")]
    Limit {
        /// The limit.
        limit: u64,
        /// How many there were.
        count: usize,
        /// `alerts` or `series`.
        what: &'static str,
    },
}

/// The state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// Resolved: its condition no longer holds.
    Inactive,
    /// Its condition holds, for less than the rule's `for`.
    Pending,
    /// Its condition has held for the rule's `for` (or is kept firing by `keep_firing_for`).
    Firing,
}

impl AlertState {
    /// The name Prometheus gives the state (`alertstate` label, APIs).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule: a label set its expression returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The result's labels without the metric name, with the rule's labels and `alertname`.
    pub labels: Labels,
    /// The value of the latest result.
    pub value: f64,
    /// Its state.
    pub state: AlertState,
    /// When the condition began to hold (ms).
    pub active_at: i64,
    /// When it began firing (ms), if it did.
    pub fired_at: Option<i64>,
    /// When it resolved (ms), if it did.
    pub resolved_at: Option<i64>,
    /// Since when it is kept firing while its condition no longer holds (ms).
    pub keep_firing_since: Option<i64>,
    /// The rule's annotations, rendered with the latest result's labels and value.
    pub annotations: BTreeMap<String, String>,
    /// When it was last sent to the Alertmanager (ms).
    pub last_sent_at: Option<i64>,
    /// Until when the last sending holds it firing (ms): the end it was sent with.
    pub valid_until: i64,
}

impl Alert {
    /// Whether it is due to be sent at `t` (Prometheus's `needsSending`): firing and not sent
    /// within `resend_delay`, or resolved since it was last sent.
    fn needs_sending(&self, t: i64, resend_delay: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at.unwrap_or(i64::MIN);
        if self.resolved_at.is_some_and(|r| r > last) {
            return true;
        }
        last.saturating_add(resend_delay) < t
    }
}

/// An alerting rule and its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    name: String,
    hold: i64,
    keep_firing_for: i64,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    external_labels: BTreeMap<String, String>,
    external_url: String,
    active: BTreeMap<Labels, Alert>,
    restore: Option<Restore>,
}

/// What a restart restores of an alerting rule's alerts: the last `ALERTS_FOR_STATE` sample of
/// each, applied by the first evaluation as Prometheus's `RestoreForState` applies it, so an alert
/// that was firing fires again at once and a pending one keeps the time it had spent pending.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// Each alert's labels (as in [`Alert::labels`]) with the time of its last
    /// `ALERTS_FOR_STATE` sample (ms) and that sample's value (when it became active, s).
    pub prior: BTreeMap<Labels, (i64, f64)>,
    /// Least time an alert restored as pending still waits before it fires (Prometheus's
    /// `--rules.alert.for-grace-period`), ms.
    pub grace: i64,
}

impl Restore {
    /// When the alert with `labels`, active again at `t`, counts as active since.
    fn active_at(&self, labels: &Labels, hold: i64, t: i64) -> Option<i64> {
        let &(last, value) = self.prior.get(labels)?;
        if promql::value::is_stale_nan(value) || !value.is_finite() {
            return None;
        }
        // Prometheus keeps whole seconds of both.
        let down_at = last.div_euclid(1000) * 1000;
        let active_at = (value as i64) * 1000;
        let remaining = hold - (down_at - active_at);
        Some(if remaining <= 0 {
            active_at
        } else if remaining < self.grace {
            t + self.grace - hold
        } else {
            active_at + (t - down_at)
        })
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl AlertingRule {
    /// A rule named `name` whose alerts fire after `hold` (`for`), stay firing for
    /// `keep_firing_for` after the condition clears, and carry `labels`.
    pub fn new(
        name: &str,
        hold: Duration,
        keep_firing_for: Duration,
        labels: BTreeMap<String, String>,
    ) -> Self {
        Self {
            name: name.to_string(),
            hold: ms(hold),
            keep_firing_for: ms(keep_firing_for),
            labels,
            annotations: BTreeMap::new(),
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            active: BTreeMap::new(),
            restore: None,
        }
    }

    /// The rule with `annotations`, and the external labels and URL its templates see. Label
    /// values and annotations are Go templates, rendered at each evaluation with the result's
    /// labels (`$labels`) and value (`$value`), as Prometheus renders them.
    pub fn with_templates(
        mut self,
        annotations: BTreeMap<String, String>,
        external_labels: BTreeMap<String, String>,
        external_url: &str,
    ) -> Self {
        self.annotations = annotations;
        self.external_labels = external_labels;
        self.external_url = external_url.to_string();
        self
    }

    /// `text` rendered for a result with `labels` and `value`; a template that fails renders
    /// as Prometheus's `<error expanding template: …>`.
    fn expand(
        &self,
        text: &str,
        labels: &BTreeMap<String, String>,
        value: f64,
        query: Option<&QueryFn<'_>>,
    ) -> String {
        if !text.contains("{{") {
            return text.to_string();
        }
        expand_alert(
            &format!("__alert_{}", self.name),
            text,
            labels,
            &self.external_labels,
            &self.external_url,
            value,
            query,
        )
        .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
    }

    /// Restores the alerts of `restore` at the next evaluation (after a restart). A rule whose
    /// `for` is shorter than the grace period restores nothing, as in Prometheus: its alerts wait
    /// their `for` again.
    pub fn restore(&mut self, restore: Restore) {
        if self.hold >= restore.grace {
            self.restore = Some(restore);
        }
    }

    /// How long an alert stays pending before it fires (`for`).
    pub fn hold(&self) -> Duration {
        Duration::from_millis(self.hold.max(0) as u64)
    }

    /// How long an alert keeps firing after its condition cleared.
    pub fn keep_firing_for(&self) -> Duration {
        Duration::from_millis(self.keep_firing_for.max(0) as u64)
    }

    /// The alerts to send to the Alertmanager at `t` (firing ones every `resend_delay`,
    /// resolved ones once more), each held valid for four times the longer of `resend_delay`
    /// and the evaluation `interval` (ms), as Prometheus sends them.
    pub fn to_send(&mut self, t: i64, resend_delay: i64, interval: i64) -> Vec<Alert> {
        let hold = 4 * resend_delay.max(interval);
        self.active
            .values_mut()
            .filter(|a| a.needs_sending(t, resend_delay))
            .map(|a| {
                a.last_sent_at = Some(t);
                a.valid_until = t + hold;
                a.clone()
            })
            .collect()
    }

    /// Takes over the alerts of `old` (the same rule before a reload).
    pub fn take_alerts(&mut self, old: AlertingRule) {
        self.active = old.active;
        self.restore = old.restore;
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its alerts: pending, firing, and resolved within [`RESOLVED_RETENTION`], by labels.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Applies the result of the rule's expression at `t` (ms), at most `limit` alerts pending
    /// or firing (0: no limit); `query` answers its templates' `query` calls at `t`. Returns the
    /// `ALERTS` and `ALERTS_FOR_STATE` samples to write at `t`. On a limit error every alert is
    /// dropped, as Prometheus does.
    pub fn eval(
        &mut self,
        t: i64,
        result: &[Sample],
        limit: u64,
        query: Option<&QueryFn<'_>>,
    ) -> Result<Vec<Sample>, RuleError> {
        let mut current: BTreeMap<Labels, (f64, BTreeMap<String, String>)> = BTreeMap::new();
        for s in result {
            let seen: BTreeMap<String, String> = s.labels.pairs().iter().cloned().collect();
            let mut rule_labels: BTreeMap<String, String> = self
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), self.expand(v, &seen, s.v, query)))
                .collect();
            rule_labels.insert(ALERT_NAME.to_string(), self.name.clone());
            let labels = with_labels(&s.labels, None, &rule_labels);
            let annotations = self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), self.expand(v, &seen, s.v, query)))
                .collect();
            if current.insert(labels, (s.v, annotations)).is_some() {
                return Err(RuleError::DuplicateLabels("alert"));
            }
        }
        let restore = self.restore.take();
        for (labels, (v, annotations)) in &current {
            match self.active.get_mut(labels) {
                Some(a) if a.state != AlertState::Inactive => {
                    a.value = *v;
                    a.annotations.clone_from(annotations);
                }
                _ => {
                    self.active.insert(
                        labels.clone(),
                        Alert {
                            labels: labels.clone(),
                            value: *v,
                            state: AlertState::Pending,
                            active_at: restore
                                .as_ref()
                                .and_then(|r| r.active_at(labels, self.hold, t))
                                .unwrap_or(t),
                            fired_at: None,
                            resolved_at: None,
                            keep_firing_since: None,
                            annotations: annotations.clone(),
                            last_sent_at: None,
                            valid_until: 0,
                        },
                    );
                }
            }
        }
        let mut out = Vec::new();
        let mut live = 0usize;
        let (hold, keep_for) = (self.hold, self.keep_firing_for);
        self.active.retain(|labels, a| {
            if current.contains_key(labels) {
                a.keep_firing_since = None;
            } else {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(t);
                    keep_firing = t - since < keep_for;
                }
                let drop = a.state == AlertState::Pending
                    || a.resolved_at
                        .is_some_and(|r| t - r > ms(RESOLVED_RETENTION));
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(t);
                }
                if !keep_firing {
                    return !drop;
                }
            }
            live += 1;
            if a.state == AlertState::Pending && t - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(t);
            }
            out.push(series_sample(a, "ALERTS", Some(a.state.as_str()), t, 1.0));
            out.push(series_sample(
                a,
                "ALERTS_FOR_STATE",
                None,
                t,
                (a.active_at / 1000) as f64,
            ));
            true
        });
        if limit > 0 && live as u64 > limit {
            self.active.clear();
            return Err(RuleError::Limit {
                limit,
                count: live,
                what: "alerts",
            });
        }
        Ok(out)
    }
}

/// `series` named `name` (no name when `None`), with `set` applied over its labels: each
/// replaces the label of its name, and an empty value removes it (Prometheus's label builder).
fn with_labels(series: &Labels, name: Option<&str>, set: &BTreeMap<String, String>) -> Labels {
    let mut pairs: Vec<(String, String)> = series
        .pairs()
        .iter()
        .filter(|(k, _)| k != METRIC_NAME && !set.contains_key(k))
        .cloned()
        .collect();
    if let Some(n) = name {
        pairs.push((METRIC_NAME.to_string(), n.to_string()));
    }
    pairs.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
    // `Labels::new` drops the empty values.
    Labels::new(pairs)
}

/// A sample of `ALERTS` or `ALERTS_FOR_STATE` for alert `a`.
fn series_sample(a: &Alert, name: &str, state: Option<&str>, t: i64, v: f64) -> Sample {
    let mut pairs = a.labels.pairs().to_vec();
    pairs.push((METRIC_NAME.to_string(), name.to_string()));
    if let Some(s) = state {
        pairs.push((ALERT_STATE.to_string(), s.to_string()));
    }
    Sample {
        labels: Labels::new(pairs),
        t,
        v,
        drop_name: false,
    }
}

/// The series a recording rule writes from its expression's result at `t`: named `record`,
/// with the rule's `labels` (an empty value removes the label), at most `limit` (0: no limit).
pub fn record(
    record: &str,
    labels: &BTreeMap<String, String>,
    t: i64,
    result: &[Sample],
    limit: u64,
) -> Result<Vec<Sample>, RuleError> {
    let mut seen: BTreeMap<Labels, ()> = BTreeMap::new();
    let mut out = Vec::with_capacity(result.len());
    for s in result {
        let labels = with_labels(&s.labels, Some(record), labels);
        if seen.insert(labels.clone(), ()).is_some() {
            return Err(RuleError::DuplicateLabels("rule"));
        }
        out.push(Sample {
            labels,
            t,
            v: s.v,
            drop_name: false,
        });
    }
    if limit > 0 && out.len() as u64 > limit {
        return Err(RuleError::Limit {
            limit,
            count: out.len(),
            what: "series",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql::value::Value;
    use promql::{MemSource, Options};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// `up` of two instances, one every minute for 20 minutes: `a` is 0 from minute 2 to 9,
    /// `b` always 1.
    fn source() -> MemSource {
        let mut s = MemSource::new();
        let a: Vec<(i64, f64)> = (0..20)
            .map(|m| (m * 60_000, if (2..10).contains(&m) { 0.0 } else { 1.0 }))
            .collect();
        let b: Vec<(i64, f64)> = (0..20).map(|m| (m * 60_000, 1.0)).collect();
        s.append(labels(&[("__name__", "up"), ("instance", "a")]), &a)
            .unwrap();
        s.append(labels(&[("__name__", "up"), ("instance", "b")]), &b)
            .unwrap();
        s
    }

    fn query(source: &MemSource, expr: &str, t: i64) -> Vec<Sample> {
        let q = promql::parse(expr).unwrap();
        match promql::instant(source, &Options::default(), &q, t)
            .unwrap()
            .value
        {
            Value::Vector(v) => v,
            other => panic!("{other:?}"),
        }
    }

    fn states(rule: &AlertingRule) -> Vec<(String, &'static str)> {
        rule.alerts()
            .map(|a| {
                (
                    a.labels.get("instance").unwrap_or("").to_string(),
                    a.state.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn alerts_go_pending_then_firing_then_resolved_with_prometheus_timing() {
        let src = source();
        let mut rule = AlertingRule::new(
            "InstanceDown",
            Duration::from_secs(180),
            Duration::ZERO,
            BTreeMap::from([("severity".to_string(), "page".to_string())]),
        );
        let mut seen = Vec::new();
        for m in 0..14 {
            let t = m * 60_000;
            let out = rule.eval(t, &query(&src, "up == 0", t), 0, None).unwrap();
            seen.push((m, states(&rule), out.len()));
        }
        // Minute 2: pending; 5 (3 minutes later): firing; 10: resolved, kept as inactive.
        assert_eq!(seen[1].1, []);
        assert_eq!(seen[2].1, [("a".to_string(), "pending")]);
        assert_eq!(seen[4].1, [("a".to_string(), "pending")]);
        assert_eq!(seen[5].1, [("a".to_string(), "firing")]);
        assert_eq!(seen[9].1, [("a".to_string(), "firing")]);
        assert_eq!(seen[10].1, [("a".to_string(), "inactive")]);
        assert_eq!(seen[10].2, 0, "a resolved alert writes no ALERTS sample");
        assert_eq!(seen[5].2, 2, "ALERTS and ALERTS_FOR_STATE");

        let a = rule.alerts().next().unwrap();
        assert_eq!(a.active_at, 120_000);
        assert_eq!(a.fired_at, Some(300_000));
        assert_eq!(a.resolved_at, Some(600_000));
        assert_eq!(
            a.labels,
            labels(&[
                ("alertname", "InstanceDown"),
                ("instance", "a"),
                ("severity", "page")
            ])
        );
    }

    #[test]
    fn alerts_series_carry_state_and_the_activation_time() {
        let src = source();
        let mut rule = AlertingRule::new(
            "Down",
            Duration::from_secs(60),
            Duration::ZERO,
            BTreeMap::new(),
        );
        rule.eval(120_000, &query(&src, "up == 0", 120_000), 0, None)
            .unwrap();
        let out = rule
            .eval(180_000, &query(&src, "up == 0", 180_000), 0, None)
            .unwrap();
        assert_eq!(
            out,
            [
                Sample {
                    labels: labels(&[
                        ("__name__", "ALERTS"),
                        ("alertname", "Down"),
                        ("alertstate", "firing"),
                        ("instance", "a")
                    ]),
                    t: 180_000,
                    v: 1.0,
                    drop_name: false
                },
                Sample {
                    labels: labels(&[
                        ("__name__", "ALERTS_FOR_STATE"),
                        ("alertname", "Down"),
                        ("instance", "a")
                    ]),
                    t: 180_000,
                    v: 120.0,
                    drop_name: false
                },
            ]
        );
    }

    #[test]
    fn keep_firing_for_holds_a_cleared_alert_and_pending_ones_vanish() {
        let src = source();
        let mut rule = AlertingRule::new(
            "Down",
            Duration::ZERO,
            Duration::from_secs(120),
            BTreeMap::new(),
        );
        let mut by_minute = BTreeMap::new();
        for m in 0..16 {
            let t = m * 60_000;
            rule.eval(t, &query(&src, "up == 0", t), 0, None).unwrap();
            by_minute.insert(m, states(&rule));
        }
        // Firing at once (no `for`), cleared at 10, kept firing until 12, inactive from 12.
        assert_eq!(by_minute[&2], [("a".to_string(), "firing")]);
        assert_eq!(by_minute[&10], [("a".to_string(), "firing")]);
        assert_eq!(by_minute[&11], [("a".to_string(), "firing")]);
        assert_eq!(by_minute[&12], [("a".to_string(), "inactive")]);

        let mut pending = AlertingRule::new(
            "Down",
            Duration::from_secs(3600),
            Duration::ZERO,
            BTreeMap::new(),
        );
        pending
            .eval(120_000, &query(&src, "up == 0", 120_000), 0, None)
            .unwrap();
        assert_eq!(states(&pending), [("a".to_string(), "pending")]);
        pending
            .eval(600_000, &query(&src, "up == 0", 600_000), 0, None)
            .unwrap();
        assert_eq!(
            states(&pending),
            [],
            "a pending alert that clears is forgotten"
        );
    }

    #[test]
    fn labels_and_annotations_render_with_the_results_labels_and_value() {
        let src = source();
        let mut rule = AlertingRule::new(
            "Down",
            Duration::ZERO,
            Duration::ZERO,
            BTreeMap::from([("where".to_string(), "{{ $labels.instance }}-x".to_string())]),
        )
        .with_templates(
            BTreeMap::from([
                ("summary".to_string(), "{{ $labels.__name__ }} of {{ $labels.instance }} is {{ $value }}; severity {{ $labels.alertname }}.".to_string()),
                ("bad".to_string(), "{{ $nope }}".to_string()),
            ]),
            BTreeMap::new(),
            "",
        );
        rule.eval(120_000, &query(&src, "up < 1", 120_000), 0, None)
            .unwrap();
        let a = rule.alerts().next().unwrap();
        assert_eq!(a.labels.get("where"), Some("a-x"));
        // `$labels` are the result's labels (the name, not the rule's labels or alertname).
        assert_eq!(
            a.annotations["summary"],
            "up of a is 0; severity <no value>."
        );
        assert_eq!(
            a.annotations["bad"],
            "<error expanding template: template: __alert_Down:1: undefined variable \"$nope\">"
        );
    }

    #[test]
    fn limits_and_duplicate_label_sets_fail_the_evaluation() {
        let src = source();
        let mut rule = AlertingRule::new("Up", Duration::ZERO, Duration::ZERO, BTreeMap::new());
        let err = rule.eval(0, &query(&src, "up", 0), 1, None).unwrap_err();
        assert_eq!(err.to_string(), "exceeded limit of 1 with 2 alerts");
        assert_eq!(rule.alerts().count(), 0);
        // Two series that differ only by name are one alert once the name is gone.
        let mut named = MemSource::new();
        for name in ["x", "y"] {
            named
                .append(labels(&[("__name__", name), ("i", "1")]), &[(0, 1.0)])
                .unwrap();
        }
        let err = rule
            .eval(0, &query(&named, "{__name__=~\"x|y\"}", 0), 0, None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector contains metrics with the same labelset after applying alert labels"
        );

        let rec = BTreeMap::from([
            ("instance".to_string(), String::new()),
            ("team".to_string(), "db".to_string()),
        ]);
        let err = record("job:up", &rec, 0, &query(&src, "up", 0), 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector contains metrics with the same labelset after applying rule labels"
        );
        let out = record("job:up:sum", &rec, 0, &query(&src, "sum(up)", 0), 0).unwrap();
        assert_eq!(
            out[0].labels,
            labels(&[("__name__", "job:up:sum"), ("team", "db")])
        );
        let err = record("up2", &BTreeMap::new(), 0, &query(&src, "up", 0), 1).unwrap_err();
        assert_eq!(err.to_string(), "exceeded limit of 1 with 2 series");
    }
}
