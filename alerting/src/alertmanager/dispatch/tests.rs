//! The dispatcher's tests: grouping, deduplication, resolved alerts, retries, outages.

use super::*;

/// A receiver that takes notifications unless told to fail.
#[derive(Default)]
struct Sink {
    got: Mutex<Vec<Json>>,
    fail: AtomicBool,
}

impl Notifier for Arc<Sink> {
    fn send(
        &self,
        _: &Integration,
        _: &str,
        payload: &Json,
    ) -> futures::future::BoxFuture<'static, Result<(), String>> {
        let result = if self.fail.load(Ordering::SeqCst) {
            Err("down".to_string())
        } else {
            self.got.lock().push(payload.clone());
            Ok(())
        };
        Box::pin(async move { result })
    }
}

#[tokio::test]
async fn a_resolved_alert_stays_in_its_group_until_its_notification_went_out() {
    let config = super::super::config::load(
        "route:\n  receiver: r\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://sink/\n",
    )
    .expect("config");
    let sink = Arc::new(Sink::default());
    let am = Arc::new(Alertmanager::new(
        Arc::new(config),
        Arc::new(Arc::clone(&sink)),
        "",
        None,
    ));
    let alert = |ends_at: i64| Alert {
        labels: [("alertname".to_string(), "A".to_string())].into(),
        annotations: BTreeMap::new(),
        starts_at: 0,
        ends_at,
        generator_url: String::new(),
        updated_at: 0,
        timeout: false,
    };
    let settle = || tokio::time::sleep(Duration::from_millis(100));
    am.put(vec![alert(100_000)], 1_000);
    am.flush_due(2_000);
    settle().await;
    assert_eq!(sink.got.lock().len(), 1);
    // Resolved while the receiver is down: the notification is given up, the alert stays.
    am.put(vec![alert(2_500)], 2_500);
    sink.fail.store(true, Ordering::SeqCst);
    am.flush_due(3_000);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(am.groups().len(), 1, "kept until it is sent");
    // Back up: the next flush sends the resolution and the group goes.
    sink.fail.store(false, Ordering::SeqCst);
    am.flush_due(4_000);
    settle().await;
    let got = sink.got.lock().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["status"], "resolved");
    assert!(am.groups().is_empty());
}

/// A receiver down for an hour while alerts come and go gets, when it is back, one
/// notification of its group holding every alert: those that fire and the one that
/// resolved meanwhile. (Simulated time: the dispatcher's clock is the `now` it is given;
/// the group interval is one second, so that each failed delivery's retries, which run on
/// the real clock, give up within the step.)
#[tokio::test]
async fn a_receiver_down_for_an_hour_gets_everything_grouped_when_it_returns() {
    let config = super::super::config::load(
        "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 4h\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://sink/\n",
    )
    .expect("config");
    let sink = Arc::new(Sink::default());
    sink.fail.store(true, Ordering::SeqCst);
    let am = Arc::new(Alertmanager::new(
        Arc::new(config),
        Arc::new(Arc::clone(&sink)),
        "",
        None,
    ));
    let minute = 60_000i64;
    let alert = |i: i64, starts_at: i64, ends_at: i64| Alert {
        labels: [
            ("alertname".to_string(), "Down".to_string()),
            ("instance".to_string(), format!("i{i:02}")),
        ]
        .into(),
        annotations: BTreeMap::new(),
        starts_at,
        ends_at,
        generator_url: String::new(),
        updated_at: 0,
        timeout: false,
    };
    // One new alert every 5 minutes for an hour, each re-sent as a ruler re-sends it; the
    // first resolves at minute 30.
    let mut now = 0;
    while now < 60 * minute {
        let mut batch = Vec::new();
        for i in 0..=(now / (5 * minute)) {
            let resolved = i == 0 && now >= 30 * minute;
            let ends = if resolved {
                30 * minute
            } else {
                now + 4 * minute
            };
            batch.push(alert(i, i * 5 * minute, ends));
        }
        am.put(batch, now);
        am.flush_due(now);
        tokio::time::sleep(Duration::from_millis(900)).await;
        now += 5 * minute;
    }
    assert!(sink.got.lock().is_empty(), "the receiver was down");
    sink.fail.store(false, Ordering::SeqCst);
    let firing: Vec<Alert> = (1..12)
        .map(|i| alert(i, i * 5 * minute, now + 4 * minute))
        .collect();
    am.put(firing, now);
    am.flush_due(now);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = sink.got.lock().clone();
    assert_eq!(got.len(), 1, "one grouped notification: {got:?}");
    let n = &got[0];
    assert_eq!(n["status"], "firing");
    assert_eq!(n["groupLabels"], serde_json::json!({"alertname": "Down"}));
    let alerts = n["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 12, "{n}");
    let resolved: Vec<&Json> = alerts
        .iter()
        .filter(|a| a["status"] == "resolved")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["labels"]["instance"], "i00");
}

#[test]
fn retries_are_jittered_by_up_to_half() {
    let d = Duration::from_secs(2);
    let all: Vec<Duration> = (0..50).map(|_| jittered(d)).collect();
    assert!(all.iter().all(|j| *j >= d && *j <= d * 3 / 2), "{all:?}");
    assert!(
        all.iter().any(|j| *j != all[0]),
        "not all the same: {all:?}"
    );
}

fn set(v: &[u64]) -> BTreeSet<u64> {
    v.iter().copied().collect()
}

#[test]
fn notifications_are_deduplicated_as_alertmanager_does() {
    let hour = Duration::from_secs(3600);
    // Nothing sent yet: only firing alerts are worth a notification.
    assert!(needs_update(None, &set(&[1]), &set(&[]), true, hour, 0));
    assert!(!needs_update(None, &set(&[]), &set(&[1]), true, hour, 0));
    let sent = LogEntry {
        firing: set(&[1, 2]),
        resolved: set(&[]),
        at: 0,
    };
    // A new firing alert.
    assert!(needs_update(
        Some(&sent),
        &set(&[1, 3]),
        &set(&[]),
        false,
        hour,
        1
    ));
    // The same alerts: only after the repeat interval.
    assert!(!needs_update(
        Some(&sent),
        &set(&[1, 2]),
        &set(&[]),
        false,
        hour,
        1
    ));
    assert!(needs_update(
        Some(&sent),
        &set(&[1, 2]),
        &set(&[]),
        false,
        hour,
        3_600_001
    ));
    // One resolved: news only to receivers of resolved notifications.
    assert!(needs_update(
        Some(&sent),
        &set(&[1]),
        &set(&[2]),
        true,
        hour,
        1
    ));
    assert!(!needs_update(
        Some(&sent),
        &set(&[1]),
        &set(&[2]),
        false,
        hour,
        1
    ));
    // All resolved: always, so the log forgets the firing ones.
    assert!(needs_update(
        Some(&sent),
        &set(&[]),
        &set(&[1, 2]),
        false,
        hour,
        1
    ));
    assert_eq!(
        reason(Some(&sent), &set(&[]), &set(&[1, 2])),
        "all alerts resolved"
    );
    assert_eq!(reason(None, &set(&[1]), &set(&[])), "first notification");
}
