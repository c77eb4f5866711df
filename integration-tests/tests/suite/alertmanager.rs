//! Alertmanager inside Vigil: an `alertmanager.yml` routes the alerts of Vigil's rules, and of
//! any ruler posting to `/api/v2/alerts`, to a webhook (payload version 4) after `group_wait`;
//! silences made through the v2 API stop notifications; the v2 API answers in Alertmanager's
//! shapes.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::harness::{poll, Vigil};

/// A local webhook receiver: every body it is sent, in order, checking the signature of those
/// that carry one (HMAC-SHA256 under `s3cret`, as `vigil_hmac_secret` asks).
async fn sink() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let store = Arc::clone(&got);
    let app = Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let store = Arc::clone(&store);
            async move {
                let mut v: Value = serde_json::from_str(&body).expect("webhook body is JSON");
                if let Some(sig) = headers.get("x-vigil-signature") {
                    let want = format!(
                        "sha256={}",
                        alerting::alertmanager::notify::hmac_sha256_hex(b"s3cret", body.as_bytes())
                    );
                    v["signature_ok"] = Value::Bool(sig.to_str().ok() == Some(want.as_str()));
                }
                store.lock().await.push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

const RULES: &str = r#"groups:
  - name: watch
    interval: 1s
    rules:
      - alert: Always
        expr: vector(1)
        labels:
          severity: page
        annotations:
          summary: "always on"
"#;

async fn v2(vigil: &Vigil, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = vigil.api_url(path);
    let req = match method {
        "GET" => vigil.http().get(url),
        "DELETE" => vigil.http().delete(url),
        _ => vigil
            .http()
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.unwrap_or(Value::Null).to_string()),
    };
    let resp = req.send().await.expect("v2 request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_alerts_reach_a_webhook_grouped_and_silences_stop_them() {
    let (hook, received) = sink().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("rules.yml"), RULES).expect("rules");
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n  routes:\n    - matchers: ['team=\"other\"']\n      receiver: nowhere\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n        vigil_hmac_secret: s3cret\n  - name: nowhere\n"
        ),
    )
    .expect("alertmanager config");
    let rules = dir.path().join("rules.yml");
    let vigil = Vigil::start_with(&[
        ("VIGIL_RULE_FILES", rules.to_str().expect("utf-8")),
        ("VIGIL_ALERTMANAGER_CONFIG", am.to_str().expect("utf-8")),
        ("VIGIL_EVALUATION_INTERVAL", "1s"),
    ])
    .await;

    // The rule's alert arrives as Alertmanager's webhook payload, version 4.
    let first = poll(
        "a notification arrives",
        Duration::from_secs(60),
        || async {
            received
                .lock()
                .await
                .first()
                .cloned()
                .ok_or_else(|| "nothing yet".to_string())
        },
    )
    .await;
    assert_eq!(
        first["signature_ok"], true,
        "signed as vigil_hmac_secret asks: {first}"
    );
    assert_eq!(first["version"], "4", "{first}");
    assert_eq!(first["receiver"], "hook");
    assert_eq!(first["status"], "firing");
    assert_eq!(first["groupKey"], "{}:{alertname=\"Always\"}");
    assert_eq!(first["groupLabels"], json!({"alertname": "Always"}));
    assert_eq!(first["commonLabels"]["severity"], "page");
    assert_eq!(first["commonAnnotations"]["summary"], "always on");
    assert_eq!(first["notification_reason"], "first notification");
    assert_eq!(first["truncatedAlerts"], 0);
    let alert = &first["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(alert["labels"]["alertname"], "Always");
    let fp = alert["fingerprint"].as_str().expect("fingerprint");
    assert_eq!(fp.len(), 16, "{fp}");
    assert!(
        alert["generatorURL"]
            .as_str()
            .is_some_and(|u| u.contains("/graph?g0.expr=vector%281%29")),
        "{alert}"
    );

    // Nothing changes: the repeat interval (1h) holds further notifications back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(received.lock().await.len(), 1);

    // The v2 API: the alert with its receiver, its group, the receivers, the status.
    let (status, alerts) = v2(&vigil, "GET", "/api/v2/alerts", None).await;
    assert_eq!(status, 200, "{alerts}");
    let listed = alerts
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["labels"]["alertname"] == "Always")
        .cloned()
        .expect("the rule's alert is listed");
    assert_eq!(listed["fingerprint"], fp);
    assert_eq!(listed["receivers"], json!([{"name": "hook"}]));
    assert_eq!(listed["status"]["state"], "active");
    let (_, groups) = v2(&vigil, "GET", "/api/v2/alerts/groups", None).await;
    assert_eq!(groups[0]["receiver"]["name"], "hook", "{groups}");
    assert_eq!(groups[0]["labels"], json!({"alertname": "Always"}));
    let (_, receivers) = v2(&vigil, "GET", "/api/v2/receivers", None).await;
    assert_eq!(receivers, json!([{"name": "hook"}, {"name": "nowhere"}]));
    let (_, st) = v2(&vigil, "GET", "/api/v2/status", None).await;
    assert!(
        st["config"]["original"]
            .as_str()
            .is_some_and(|c| c.contains("webhook_configs")),
        "{st}"
    );

    // An alert posted by another ruler, as Prometheus posts them, routes to its receiver.
    let (status, body) = v2(
        &vigil,
        "POST",
        "/api/v2/alerts",
        Some(json!([{"labels": {"alertname": "External", "team": "other"}, "annotations": {"summary": "from elsewhere"}}])),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, filtered) = v2(
        &vigil,
        "GET",
        "/api/v2/alerts?filter=team%3D%22other%22",
        None,
    )
    .await;
    let filtered = filtered.as_array().expect("list");
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert_eq!(filtered[0]["receivers"], json!([{"name": "nowhere"}]));
    let (status, bad) = v2(
        &vigil,
        "POST",
        "/api/v2/alerts",
        Some(json!([{"labels": {}}])),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad, "at least one label pair required");

    // A silence mutes the rule's alert: it shows as suppressed.
    let now = std::time::SystemTime::now();
    let ends = chrono::DateTime::<chrono::Utc>::from(now + Duration::from_secs(3600)).to_rfc3339();
    let starts = chrono::DateTime::<chrono::Utc>::from(now).to_rfc3339();
    let (status, created) = v2(
        &vigil,
        "POST",
        "/api/v2/silences",
        Some(json!({"matchers": [{"name": "alertname", "value": "Always", "isRegex": false}], "startsAt": starts, "endsAt": ends, "createdBy": "test", "comment": "maintenance"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["silenceID"]
        .as_str()
        .expect("silence id")
        .to_string();
    let (_, silence) = v2(&vigil, "GET", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(silence["status"]["state"], "active", "{silence}");
    assert_eq!(silence["matchers"][0]["isEqual"], true);
    let (_, alerts) = v2(
        &vigil,
        "GET",
        "/api/v2/alerts?filter=alertname%3DAlways",
        None,
    )
    .await;
    assert_eq!(alerts[0]["status"]["state"], "suppressed", "{alerts}");
    assert_eq!(alerts[0]["status"]["silencedBy"], json!([id]));
    let (status, _) = v2(&vigil, "DELETE", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(status, 200);
    let (_, silence) = v2(&vigil, "GET", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(silence["status"]["state"], "expired");
    // Expiring it again fails as Alertmanager fails it.
    let (status, why) = v2(&vigil, "DELETE", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(status, 500);
    assert_eq!(why, format!("silence {id} already expired"));
}

/// Runs `amtool` (Debian's `prometheus-alertmanager`, which `.ci/run` installs) against
/// `vigil`: its exit code and standard output.
fn amtool(vigil: &Vigil, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new("amtool")
        .arg(format!("--alertmanager.url={}", vigil.api_url("")))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("amtool must be installed (apt-get install prometheus-alertmanager): {e}")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0, "amtool {args:?} exited with {code}: {stderr}");
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_adds_and_queries_alerts_and_manages_silences() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        "route:\n  receiver: team\n  group_by: [alertname]\nreceivers:\n  - name: team\n",
    )
    .expect("alertmanager config");
    let vigil =
        Vigil::start_with(&[("VIGIL_ALERTMANAGER_CONFIG", am.to_str().expect("utf-8"))]).await;

    amtool(
        &vigil,
        &[
            "alert",
            "add",
            "alertname=DiskFull",
            "host=db1",
            "--annotation=summary=disk is full",
        ],
    );
    let (_, out) = amtool(&vigil, &["alert", "query", "-o", "json"]);
    let alerts: Value = serde_json::from_str(&out).expect("amtool prints JSON");
    assert_eq!(alerts[0]["labels"]["host"], "db1", "{alerts}");
    assert_eq!(alerts[0]["annotations"]["summary"], "disk is full");
    assert_eq!(alerts[0]["receivers"][0]["name"], "team");

    let (_, id) = amtool(
        &vigil,
        &[
            "silence",
            "add",
            "alertname=DiskFull",
            "-c",
            "replacing the disk",
            "-a",
            "ops",
        ],
    );
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "a silence id: {id:?}");
    let (_, ids) = amtool(&vigil, &["silence", "query", "-q"]);
    assert_eq!(ids.trim(), id);
    // Silenced alerts leave the default query and show with --silenced.
    let (_, out) = amtool(&vigil, &["alert", "query", "-o", "json"]);
    assert_eq!(out.trim(), "[]", "{out}");
    let (_, out) = amtool(&vigil, &["alert", "query", "--silenced", "-o", "json"]);
    let alerts: Value = serde_json::from_str(&out).expect("amtool prints JSON");
    assert_eq!(alerts[0]["status"]["silencedBy"][0], id.as_str());

    // Changing the end and the comment keeps the id (Alertmanager's `canUpdate`) ...
    // (amtool 0.25's `silence update -q` prints a pointer, not the id: the list says it.)
    amtool(
        &vigil,
        &[
            "silence",
            "update",
            &id,
            "--duration=3h",
            "-c",
            "still replacing",
        ],
    );
    let (_, ids) = amtool(&vigil, &["silence", "query", "-q"]);
    assert_eq!(ids.trim(), id);
    let (_, out) = amtool(&vigil, &["silence", "query", "-o", "json"]);
    let listed: Value = serde_json::from_str(&out).expect("amtool prints JSON");
    assert_eq!(listed[0]["comment"], "still replacing", "{listed}");
    // ... changing the matchers expires it and makes a new one.
    let (_, mut changed) = v2(&vigil, "GET", &format!("/api/v2/silence/{id}"), None).await;
    changed["matchers"][0]["value"] = "DiskFull|DiskSlow".into();
    changed["matchers"][0]["isRegex"] = true.into();
    let (status, posted) = v2(&vigil, "POST", "/api/v2/silences", Some(changed)).await;
    assert_eq!(status, 200, "{posted}");
    let new_id = posted["silenceID"].as_str().expect("id").to_string();
    assert_ne!(new_id, id);
    let (_, old) = v2(&vigil, "GET", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(old["status"]["state"], "expired", "{old}");
    let (_, ids) = amtool(&vigil, &["silence", "query", "-q"]);
    assert_eq!(ids.trim(), new_id);
    let replaced = id;
    let id = new_id;

    amtool(&vigil, &["silence", "expire", &id]);
    let (_, active) = amtool(&vigil, &["silence", "query", "-q"]);
    assert_eq!(active.trim(), "");
    let (_, expired) = amtool(&vigil, &["silence", "query", "-q", "--expired"]);
    let mut expired: Vec<&str> = expired.lines().collect();
    expired.sort_unstable();
    let mut want = vec![id.as_str(), replaced.as_str()];
    want.sort_unstable();
    assert_eq!(expired, want);
    let (_, out) = amtool(&vigil, &["alert", "query", "-o", "json"]);
    let alerts: Value = serde_json::from_str(&out).expect("amtool prints JSON");
    assert_eq!(alerts[0]["status"]["state"], "active", "{alerts}");

    let (_, config) = amtool(&vigil, &["config", "show"]);
    assert!(config.contains("receiver: team"), "{config}");
}

/// A webhook receiver that answers the first request only after `hold`: every (notification
/// id, body) it is sent, in order.
async fn slow_sink(hold: Duration) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let store = Arc::clone(&got);
    let app = Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let store = Arc::clone(&store);
            async move {
                let id = headers
                    .get("x-vigil-notification-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let v: Value = serde_json::from_str(&body).expect("webhook body is JSON");
                let first = {
                    let mut s = store.lock().await;
                    s.push((id, v));
                    s.len() == 1
                };
                if first {
                    tokio::time::sleep(hold).await;
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_cut_by_sigkill_is_sent_again_with_its_id_and_a_sent_one_is_not() {
    let (hook, received) = slow_sink(Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("rules.yml"), RULES).expect("rules");
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n"
        ),
    )
    .expect("alertmanager config");
    let rules = dir.path().join("rules.yml");
    let mut vigil = Vigil::start_with(&[
        ("VIGIL_RULE_FILES", rules.to_str().expect("utf-8")),
        ("VIGIL_ALERTMANAGER_CONFIG", am.to_str().expect("utf-8")),
        ("VIGIL_EVALUATION_INTERVAL", "1s"),
    ])
    .await;
    let count = || async { received.lock().await.len() };

    // Killed while the receiver holds the first delivery: it was recorded, not seen sent.
    poll(
        "the first delivery starts",
        Duration::from_secs(60),
        || async {
            if count().await >= 1 {
                Ok(())
            } else {
                Err("nothing yet".to_string())
            }
        },
    )
    .await;
    vigil.kill().await;
    vigil.restart().await;
    let (first_id, second_id) = poll("it is sent again", Duration::from_secs(60), || async {
        let r = received.lock().await;
        match r.as_slice() {
            [a, b, ..] => Ok((a.0.clone(), b.0.clone())),
            _ => Err(format!("{} deliveries", r.len())),
        }
    })
    .await;
    assert_eq!(first_id.len(), 36, "{first_id:?}");
    assert_eq!(first_id, second_id, "the repeat carries the same id");

    // Killed after the delivery was recorded as sent: nothing goes out again; a silence made
    // before the kill is still there.
    let now = std::time::SystemTime::now();
    let ends = chrono::DateTime::<chrono::Utc>::from(now + Duration::from_secs(3600)).to_rfc3339();
    let starts = chrono::DateTime::<chrono::Utc>::from(now).to_rfc3339();
    let (status, created) = v2(
        &vigil,
        "POST",
        "/api/v2/silences",
        Some(json!({"matchers": [{"name": "alertname", "value": "Other", "isRegex": false}], "startsAt": starts, "endsAt": ends, "createdBy": "test", "comment": "kept"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    vigil.kill().await;
    vigil.restart().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(count().await, 2, "{:?}", received.lock().await);
    let (_, silences) = v2(&vigil, "GET", "/api/v2/silences", None).await;
    assert_eq!(silences[0]["id"], created["silenceID"], "{silences}");
    assert_eq!(silences[0]["comment"], "kept");
}

/// A webhook receiver answering each request after a random delay (0 to 300 ms): every
/// (notification id, body) it is sent.
async fn unsteady_sink(seed: u64) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let rng = Arc::new(Mutex::new(crate::crash::SplitMix64(seed)));
    let store = Arc::clone(&got);
    let app = Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let store = Arc::clone(&store);
            let rng = Arc::clone(&rng);
            async move {
                let id = headers
                    .get("x-vigil-notification-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let v: Value = serde_json::from_str(&body).expect("webhook body is JSON");
                store.lock().await.push((id, v));
                let delay = rng.lock().await.between(0, 300);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// Rounds of: a new alert posted (with every earlier one, as a ruler re-sends them), SIGKILL
/// at a random point (before `group_wait` ends, while the receiver holds the request, after
/// it answered), restart, the alerts posted again. Counted at the end: every alert's group
/// was delivered (nothing dropped), and a group delivered more than once was delivered again
/// only with the same notification id (the crash fell between delivery and its record).
/// The seed is printed; `VIGIL_E2E_ALERT_KILL_SEED` replays a schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_of_delivery_drops_nothing_and_repeats_only_with_the_same_id() {
    let seed = std::env::var("VIGIL_E2E_ALERT_KILL_SEED").map_or_else(
        |_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
        },
        |s| s.parse().expect("VIGIL_E2E_ALERT_KILL_SEED is a u64"),
    );
    eprintln!("alert kill test seed: VIGIL_E2E_ALERT_KILL_SEED={seed}");
    let mut rng = crate::crash::SplitMix64(seed);
    let (hook, received) = unsteady_sink(seed ^ 0x5eed).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1h\n  repeat_interval: 4h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n"
        ),
    )
    .expect("alertmanager config");
    let mut vigil =
        Vigil::start_with(&[("VIGIL_ALERTMANAGER_CONFIG", am.to_str().expect("utf-8"))]).await;
    let ends = chrono::DateTime::<chrono::Utc>::from(
        std::time::SystemTime::now() + Duration::from_secs(3600),
    )
    .to_rfc3339();
    let alerts = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| json!({"labels": {"alertname": format!("Round{i}")}, "endsAt": ends}))
                .collect(),
        )
    };
    const ROUNDS: usize = 8;
    let mut kills = Vec::new();
    for round in 0..ROUNDS {
        let (status, body) = v2(&vigil, "POST", "/api/v2/alerts", Some(alerts(round + 1))).await;
        assert_eq!(status, 200, "{body}");
        let at = rng.between(0, 2_000);
        kills.push(at);
        tokio::time::sleep(Duration::from_millis(at)).await;
        vigil.kill().await;
        vigil.restart().await;
        let (status, body) = v2(&vigil, "POST", "/api/v2/alerts", Some(alerts(round + 1))).await;
        assert_eq!(status, 200, "{body}");
    }
    let group_of = |v: &Value| {
        v["groupLabels"]["alertname"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    poll(
        "every group is delivered",
        Duration::from_secs(30),
        || async {
            let r = received.lock().await;
            let missing: Vec<String> = (0..ROUNDS)
                .map(|i| format!("Round{i}"))
                .filter(|name| !r.iter().any(|(_, v)| group_of(v) == *name))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not yet delivered: {missing:?}"))
            }
        },
    )
    .await;
    // Time for any stray repeat to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = received.lock().await;
    let mut repeats = 0;
    for i in 0..ROUNDS {
        let name = format!("Round{i}");
        let ids: Vec<&String> = r
            .iter()
            .filter(|(_, v)| group_of(v) == name)
            .map(|(id, _)| id)
            .collect();
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            1,
            "{name}: a repeat must carry the first delivery's id (kills at {kills:?} ms): {ids:?}"
        );
        // Each repeat needs a crash between a delivery and its record: a group posted in
        // round i lives through ROUNDS - i kills (two kills in a row can both land while its
        // delivery is in flight, seed 1796683164048763855 does).
        assert!(
            ids.len() <= 1 + (ROUNDS - i),
            "{name}: delivered {} times through {} kills",
            ids.len(),
            ROUNDS - i
        );
        repeats += ids.len() - 1;
    }
    eprintln!(
        "{ROUNDS} groups delivered through {ROUNDS} kills at {kills:?} ms; {repeats} repeated with their id"
    );
}

const GOOD_CONFIG: &str = "route:\n  receiver: team\n  group_by: [alertname, job]\n  routes:\n    - matchers: ['severity=\"page\"']\n      receiver: oncall\ninhibit_rules:\n  - source_matchers: [severity=\"page\"]\n    target_matchers: [severity=\"warning\"]\n    equal: [job]\nreceivers:\n  - name: team\n    webhook_configs:\n      - url: http://chat-bridge.internal/alerts\n  - name: oncall\n";
const BAD_CONFIG: &str =
    "route:\n  receiver: team\n  routes:\n    - receiver: nope\nreceivers:\n  - name: team\n";

#[test]
fn alertmanager_check_answers_as_amtool_check_config() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let good = dir.path().join("good.yml");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&good, GOOD_CONFIG).expect("config");
    std::fs::write(&bad, BAD_CONFIG).expect("config");
    let run = |program: &str, args: &[&str], file: &std::path::Path| {
        let out = std::process::Command::new(program)
            .args(args)
            .arg(file)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        (
            out.status.code().expect("exit code"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let vigil = env!("CARGO_BIN_EXE_vigil-under-test");
    let (code, out) = run(vigil, &["alertmanager", "check"], &good);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("SUCCESS")
            && out.contains(" - 1 inhibit rules")
            && out.contains(" - 2 receivers"),
        "{out}"
    );
    let (code, out) = run(vigil, &["alertmanager", "check"], &bad);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED: undefined receiver \"nope\" used in route"),
        "{out}"
    );
    // The same verdicts as Alertmanager's own checker.
    for (file, want) in [(&good, 0), (&bad, 1)] {
        let (code, out) = run("amtool", &["check-config"], file);
        assert_eq!(code, want, "amtool check-config {}: {out}", file.display());
    }
    // Template files: checked after the summary, with Go's errors, word for word as amtool.
    let with_templates = dir.path().join("templated.yml");
    std::fs::write(
        &with_templates,
        "templates: ['t/*.tmpl']\nroute:\n  receiver: team\nreceivers:\n  - name: team\n",
    )
    .expect("config");
    std::fs::create_dir(dir.path().join("t")).expect("dir");
    for (template, want) in [
        ("{{ define \"x\" }}{{ range .Alerts.Firing }}{{ .Labels.job | toUpper }}{{ end }}{{ end }}\n", 0),
        ("{{ define \"x\" }}\n{{ .Foo \n", 1),
        ("{{ define \"x\" }}{{ .Foo }}\n\n", 1),
        ("{{ define \"x\" }}{{ nosuch .Foo }}{{ end }}\n", 1),
    ] {
        std::fs::write(dir.path().join("t/a.tmpl"), template).expect("template");
        let (code, ours) = run(vigil, &["alertmanager", "check"], &with_templates);
        let (amtool_code, theirs) = run("amtool", &["check-config"], &with_templates);
        assert_eq!((code, amtool_code), (want, want), "{template:?}: {ours}");
        assert_eq!(ours, theirs, "{template:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_alerts_can_go_to_a_real_alertmanager_instead() {
    // A real Alertmanager 0.25 (Debian's `prometheus-alertmanager`, which `.ci/run` installs).
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: default\nreceivers:\n  - name: default\n",
    )
    .expect("alertmanager config");
    let mut am = std::process::Command::new("prometheus-alertmanager")
        .arg(format!(
            "--config.file={}",
            dir.path().join("am.yml").display()
        ))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("am").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect(
            "prometheus-alertmanager must be installed (apt-get install prometheus-alertmanager)",
        );
    let am_url = format!("http://127.0.0.1:{port}");
    std::fs::write(dir.path().join("rules.yml"), RULES).expect("rules");
    let rules = dir.path().join("rules.yml");
    let vigil = Vigil::start_with(&[
        ("VIGIL_RULE_FILES", rules.to_str().expect("utf-8")),
        ("VIGIL_EVALUATION_INTERVAL", "1s"),
        ("VIGIL_ALERTMANAGERS", &am_url),
    ])
    .await;
    let client = reqwest::Client::new();
    let got = poll(
        "the alert reaches Alertmanager",
        Duration::from_secs(60),
        || async {
            let r = client
                .get(format!("{am_url}/api/v2/alerts"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let v: Value = r.json().await.map_err(|e| e.to_string())?;
            match v.as_array().and_then(|a| a.first()) {
                Some(a) => Ok(a.clone()),
                None => Err("no alerts yet".to_string()),
            }
        },
    )
    .await;
    let _ = am.kill();
    let _ = am.wait();
    assert_eq!(got["labels"]["alertname"], "Always", "{got}");
    assert_eq!(got["labels"]["severity"], "page");
    assert_eq!(got["annotations"]["summary"], "always on");
    assert_eq!(got["status"]["state"], "active");
    assert!(
        got["generatorURL"]
            .as_str()
            .is_some_and(|u| u.contains("g0.expr=vector%281%29")),
        "{got}"
    );
    // Instead of Vigil's own: nothing there.
    let (_, own) = v2(&vigil, "GET", "/api/v2/alerts", None).await;
    assert_eq!(own, json!([]), "{own}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alertmanager_configuration_reloads_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(&am, "route:\n  receiver: a\nreceivers:\n  - name: a\n").expect("config");
    let vigil =
        Vigil::start_with(&[("VIGIL_ALERTMANAGER_CONFIG", am.to_str().expect("utf-8"))]).await;
    let reload = || async {
        let r = vigil
            .http()
            .post(vigil.api_url("/-/reload"))
            .send()
            .await
            .expect("reload");
        (r.status().as_u16(), r.text().await.expect("body"))
    };
    std::fs::write(
        &am,
        "route:\n  receiver: b\nreceivers:\n  - name: a\n  - name: b\n",
    )
    .expect("config");
    let (status, text) = reload().await;
    assert_eq!(status, 200, "{text}");
    let (_, receivers) = v2(&vigil, "GET", "/api/v2/receivers", None).await;
    assert_eq!(receivers, json!([{"name": "a"}, {"name": "b"}]));
    // An alert is routed by the new tree.
    v2(
        &vigil,
        "POST",
        "/api/v2/alerts",
        Some(json!([{"labels": {"alertname": "X"}}])),
    )
    .await;
    let (_, alerts) = v2(&vigil, "GET", "/api/v2/alerts", None).await;
    assert_eq!(alerts[0]["receivers"], json!([{"name": "b"}]), "{alerts}");

    std::fs::write(
        &am,
        "route:\n  receiver: missing\nreceivers:\n  - name: a\n",
    )
    .expect("config");
    let (status, text) = reload().await;
    assert_eq!(status, 500);
    assert!(
        text.contains("alertmanager.yml")
            && text.contains("undefined receiver \"missing\" used in route"),
        "{text}"
    );
    let (_, st) = v2(&vigil, "GET", "/api/v2/status", None).await;
    assert!(
        st["config"]["original"]
            .as_str()
            .is_some_and(|c| c.contains("receiver: b")),
        "the old configuration stays: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_incident_services_get_their_payloads_with_default_and_user_templates() {
    let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let store = Arc::clone(&got);
    let app = Router::new().route(
        "/{*path}",
        post(
            move |axum::extract::Path(path): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  body: String| {
                let store = Arc::clone(&store);
                async move {
                    let mut v: Value = serde_json::from_str(&body).expect("JSON body");
                    if let Some(auth) = headers.get("authorization") {
                        v["authorization_header"] = auth.to_str().unwrap_or("").into();
                    }
                    store.lock().await.push((path, v));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("rules.yml"), RULES).expect("rules");
    // A secret given as a file: the Discord webhook URL.
    let discord_file = dir.path().join("discord-url");
    std::fs::write(&discord_file, format!("{base}/discord\n")).expect("url file");
    let discord_file = discord_file.display();
    // A template file of the configuration, found relative to it.
    std::fs::create_dir(dir.path().join("templates")).expect("templates dir");
    std::fs::write(
        dir.path().join("templates/chat.tmpl"),
        "{{ define \"chat.text\" }}{{ range .Alerts.Firing }}{{ .Labels.alertname | toUpper }} ({{ .Labels.severity }}) since {{ .StartsAt.Format \"2006\" }}: {{ .Annotations.summary }}{{ end }}{{ end }}",
    )
    .expect("template");
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "global:\n  http_config:\n    basic_auth: {{username: u, password: p}}\ntemplates: ['templates/*.tmpl']\nroute:\n  receiver: chat\n  group_by: [alertname]\n  group_wait: 1s\nreceivers:\n  - name: chat\n    slack_configs:\n      - api_url: {base}/slack\n        channel: '#ops'\n    discord_configs:\n      - webhook_url_file: {discord_file}\n    msteamsv2_configs:\n      - webhook_url: {base}/teams\n        http_config:\n          authorization: {{credentials: sekrit}}\n    pagerduty_configs:\n      - url: {base}/pagerduty\n        routing_key: rk\n    opsgenie_configs:\n      - api_url: {base}/opsgenie/\n        api_key: ok\n    telegram_configs:\n      - api_url: {base}/telegram\n        bot_token: tok\n        chat_id: 42\n    mattermost_configs:\n      - webhook_url: {base}/mattermost\n        channel: ops\n        text: '{{{{ template \"chat.text\" . }}}}'\n"
        ),
    )
    .expect("alertmanager config");
    let rules = dir.path().join("rules.yml");
    let _vigil = Vigil::start_with(&[
        ("VIGIL_RULE_FILES", rules.to_str().expect("utf-8")),
        ("VIGIL_ALERTMANAGER_CONFIG", am.to_str().expect("utf-8")),
        ("VIGIL_EVALUATION_INTERVAL", "1s"),
    ])
    .await;
    let services = [
        "slack",
        "discord",
        "teams",
        "pagerduty",
        "opsgenie/v2/alerts",
        "telegram/bottok/sendMessage",
        "mattermost",
    ];
    let all = poll(
        "all seven services are notified",
        Duration::from_secs(60),
        || async {
            let g = got.lock().await.clone();
            if services
                .iter()
                .all(|s| g.iter().any(|(k, _)| k.starts_with(s)))
            {
                Ok(g)
            } else {
                Err(format!("{g:?}"))
            }
        },
    )
    .await;
    let by = |s: &str| {
        all.iter()
            .find(|(k, _)| k.starts_with(s))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {s} notification in {all:?}"))
    };
    let slack = by("slack");
    assert_eq!(slack["channel"], "#ops", "{slack}");
    // `global.http_config` applies where a notifier has none; its own replaces it.
    assert_eq!(slack["authorization_header"], "Basic dTpw", "{slack}");
    assert_eq!(slack["attachments"][0]["title"], "[FIRING:1] Always (page)");
    assert_eq!(slack["attachments"][0]["color"], "danger");
    let discord = by("discord");
    assert_eq!(
        discord["embeds"][0]["title"], "[FIRING:1] Always (page)",
        "{discord}"
    );
    assert!(discord["embeds"][0]["description"]
        .as_str()
        .is_some_and(|d| d.contains("Alerts Firing:") && d.contains(" - summary = always on")));
    let teams = by("teams");
    assert_eq!(teams["authorization_header"], "Bearer sekrit", "{teams}");
    assert_eq!(
        teams["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive",
        "{teams}"
    );
    assert_eq!(
        teams["attachments"][0]["content"]["body"][0]["text"],
        "[FIRING:1] Always (page)"
    );
    let pd = by("pagerduty");
    assert_eq!(pd["routing_key"], "rk", "{pd}");
    assert_eq!(pd["event_action"], "trigger");
    assert_eq!(pd["payload"]["summary"], "[FIRING:1] Always (page)");
    let og = by("opsgenie/v2/alerts");
    assert_eq!(og["authorization_header"], "GenieKey ok", "{og}");
    assert_eq!(og["message"], "[FIRING:1] Always (page)");
    assert_eq!(og["alias"], pd["dedup_key"]);
    let tg = by("telegram/bottok/sendMessage");
    assert_eq!(tg["chat_id"], 42, "{tg}");
    assert_eq!(tg["parse_mode"], "HTML");
    assert!(tg["text"]
        .as_str()
        .is_some_and(|t| t.contains("Alerts Firing:")));
    // Mattermost, its text from the configuration's own template.
    let mm = by("mattermost");
    assert_eq!(mm["channel"], "ops", "{mm}");
    assert_eq!(mm["username"], "Alertmanager", "{mm}");
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(mm["text"], format!("ALWAYS (page) since {year}: always on"));
}
