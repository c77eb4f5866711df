//! Notification counters on `/metrics`, named as Alertmanager names them.

use std::sync::LazyLock;

use prometheus::{register_int_counter_vec, IntCounterVec};

static NOTIFICATIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alertmanager_notifications_total",
        "notification attempts, by integration",
        &["integration"]
    )
    .expect("metric registers once")
});

static FAILED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alertmanager_notifications_failed_total",
        "notification attempts that failed, by integration",
        &["integration"]
    )
    .expect("metric registers once")
});

static RECEIVED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alertmanager_alerts_received_total",
        "alerts received, by status",
        &["status"]
    )
    .expect("metric registers once")
});

/// Counts one notification attempt through `integration`.
pub(crate) fn notified(integration: &str, ok: bool) {
    NOTIFICATIONS.with_label_values(&[integration]).inc();
    if !ok {
        FAILED.with_label_values(&[integration]).inc();
    }
}

/// Counts alerts received (`firing` or `resolved`).
pub(crate) fn received(status: &str, n: usize) {
    RECEIVED.with_label_values(&[status]).inc_by(n as u64);
}
