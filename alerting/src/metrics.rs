//! Metrics of rule evaluation on `/metrics`, named as Prometheus's rule manager names them
//! (`prometheus_rule_*`), by `tenant` and `rule_group` (`file;group`, as Prometheus's label).

use std::sync::LazyLock;

use prometheus::{
    register_gauge_vec, register_int_counter_vec, register_int_gauge, register_int_gauge_vec,
    GaugeVec, IntCounterVec, IntGauge, IntGaugeVec,
};

use crate::group::Group;

const LABELS: &[&str] = &["tenant", "rule_group"];

fn counter(name: &str, help: &str) -> IntCounterVec {
    register_int_counter_vec!(name, help, LABELS).expect("metric registers once")
}

fn gauge(name: &str, help: &str) -> GaugeVec {
    register_gauge_vec!(name, help, LABELS).expect("metric registers once")
}

/// Rules evaluated.
pub(crate) static EVALUATIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "prometheus_rule_evaluations_total",
        "rule evaluations, by tenant and rule group",
    )
});

/// Rule evaluations that failed.
pub(crate) static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "prometheus_rule_evaluation_failures_total",
        "rule evaluations that failed, by tenant and rule group",
    )
});

/// Group evaluations run.
pub(crate) static GROUP_ITERATIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "prometheus_rule_group_iterations_total",
        "rule group evaluations run, by tenant and rule group",
    )
});

/// Group evaluations skipped because the previous one ran past its interval.
pub(crate) static GROUP_ITERATIONS_MISSED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "prometheus_rule_group_iterations_missed_total",
        "rule group evaluations skipped because an evaluation ran past the interval",
    )
});

/// How long the last evaluation of a group took.
pub(crate) static GROUP_LAST_DURATION: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge(
        "prometheus_rule_group_last_duration_seconds",
        "duration of the last evaluation of the rule group, seconds",
    )
});

/// When a group was last evaluated.
pub(crate) static GROUP_LAST_EVALUATION: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge(
        "prometheus_rule_group_last_evaluation_timestamp_seconds",
        "evaluation time of the last evaluation of the rule group, unix seconds",
    )
});

/// A group's interval.
pub(crate) static GROUP_INTERVAL: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge(
        "prometheus_rule_group_interval_seconds",
        "evaluation interval of the rule group, seconds",
    )
});

/// Rules in a group.
pub(crate) static GROUP_RULES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "prometheus_rule_group_rules",
        "rules in the rule group",
        LABELS
    )
    .expect("metric registers once")
});

/// Whether the last reload of the rule files succeeded.
pub(crate) static CONFIG_LAST_RELOAD_SUCCESSFUL: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_rules_last_reload_successful",
        "whether the last reload of the rule files succeeded (1) or was refused (0)"
    )
    .expect("metric registers once")
});

/// When the rule files were last loaded.
pub(crate) static CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_rules_last_reload_success_timestamp_seconds",
        "when the rule files were last loaded, unix seconds"
    )
    .expect("metric registers once")
});

/// Counts one evaluation of `group`, in which `failed` rules failed.
pub(crate) fn observe_group(labels: &[&str; 2], group: &Group, failed: usize) {
    GROUP_ITERATIONS.with_label_values(labels).inc();
    EVALUATIONS
        .with_label_values(labels)
        .inc_by(group.rules.len() as u64);
    FAILURES.with_label_values(labels).inc_by(failed as u64);
    GROUP_LAST_DURATION
        .with_label_values(labels)
        .set(group.evaluation_time.as_secs_f64());
    if let Some(t) = group.last_evaluation {
        GROUP_LAST_EVALUATION
            .with_label_values(labels)
            .set(t as f64 / 1000.0);
    }
}
