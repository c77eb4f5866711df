//! The rule evaluator of `vigil serve`: rule files from `[alerting]` evaluated on their interval,
//! recorded series and `ALERTS` written through the write path (queryable, durable across
//! SIGKILL), alerts listed on `/api/v1/alerts` and `/api/v1/rules` in Prometheus's shapes, their
//! `for` progress restored after a crash, reloads on `POST /-/reload` and SIGHUP that refuse a
//! bad file and keep the old rules, and rules per tenant.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use serde_json::Value;

use crate::harness::{poll, send_signal, Vigil};
use crate::prometheus_api::ok;

const RULES: &str = r#"groups:
  - name: availability
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value }})"
  - name: sql
    interval: 1s
    language: sql
    rules:
      - record: vigil:logs:count
        expr: SELECT 'logs' AS "table", count(*) AS value FROM logs
"#;

const ACME_RULES: &str = r#"groups:
  - name: acme-only
    interval: 1s
    rules:
      - alert: AcmeAlways
        expr: vector(1)
"#;

fn up(instance: &str, value: f64, t: i64) -> TimeSeries {
    let label = |n: &str, v: &str| Label {
        name: n.into(),
        value: v.into(),
    };
    TimeSeries {
        labels: vec![
            label("__name__", "up"),
            label("instance", instance),
            label("job", "api"),
        ],
        samples: vec![Sample {
            value,
            timestamp: t,
        }],
        exemplars: vec![],
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// A server whose tenant `default` evaluates `rules.yml` and tenant `acme` `acme.yml`, both in
/// `dir`, with restored alerts counting their whole pending time (no grace period).
async fn start(dir: &Path) -> Vigil {
    std::fs::write(dir.join("rules.yml"), RULES).expect("rule file");
    std::fs::write(dir.join("acme.yml"), ACME_RULES).expect("rule file");
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[alerting]\nfor_grace_period = \"0s\"\n[alerting.tenants.acme]\nrule_files = [\"{}\"]\n",
            dir.join("acme.yml").display()
        ),
    )
    .expect("config file");
    let rule_files = format!("{}/rules*.yml", dir.display());
    Vigil::start_with(&[
        ("VIGIL_CONFIG", config.to_str().expect("utf-8 path")),
        ("VIGIL_RULE_FILES", &rule_files),
        ("VIGIL_EVALUATION_INTERVAL", "1s"),
    ])
    .await
}

/// The alerts of `/api/v1/alerts`.
async fn alerts(vigil: &Vigil) -> Vec<Value> {
    ok(vigil, "GET", "/api/v1/alerts", &[]).await["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn firing(vigil: &Vigil) -> Value {
    poll("InstanceDown fires", Duration::from_secs(60), || async {
        let list = alerts(vigil).await;
        match list
            .iter()
            .find(|a| a["labels"]["alertname"] == "InstanceDown")
        {
            Some(a) if a["state"] == "firing" => Ok(a.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

async fn rules_as(vigil: &Vigil, tenant: Option<&str>, query: &str) -> (u16, Value) {
    let mut req = vigil
        .http()
        .get(vigil.api_url(&format!("/api/v1/rules{query}")));
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let resp = req.send().await.expect("rules request");
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    (status, body)
}

async fn instant(vigil: &Vigil, query: &str) -> Vec<Value> {
    ok(vigil, "GET", "/api/v1/query", &[("query", query)]).await["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_record_and_alert_durably_and_restore_their_state_after_a_crash() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut vigil = start(dir.path()).await;
    let t = now_ms();
    vigil
        .remote_write(&WriteRequest {
            timeseries: vec![up("a", 0.0, t), up("b", 1.0, t)],
            metadata: vec![],
        })
        .await;

    // Pending for 2 s, then firing, with the rule's labels and rendered annotations.
    let alert = firing(&vigil).await;
    assert_eq!(alert["labels"]["instance"], "a", "{alert}");
    assert_eq!(alert["labels"]["severity"], "page", "{alert}");
    assert_eq!(alert["annotations"]["summary"], "a of api is down (0)");
    assert_eq!(alert["value"], "0e+00");
    let active_at = alert["activeAt"].as_str().expect("activeAt").to_string();

    // The rules API as Prometheus answers it.
    let (status, body) = rules_as(&vigil, None, "").await;
    assert_eq!(status, 200, "{body}");
    let groups = body["data"]["groups"].as_array().expect("groups");
    let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, ["availability", "sql"], "{body}");
    let availability = &groups[0];
    assert_eq!(availability["interval"], 1.0);
    assert!(availability["file"]
        .as_str()
        .unwrap()
        .ends_with("rules.yml"));
    let recording = &availability["rules"][0];
    assert_eq!(recording["type"], "recording", "{recording}");
    assert_eq!(recording["name"], "job:up:sum");
    assert_eq!(recording["health"], "ok", "{recording}");
    let alerting = &availability["rules"][1];
    assert_eq!(alerting["type"], "alerting");
    assert_eq!(alerting["state"], "firing");
    assert_eq!(alerting["duration"], 2.0);
    assert_eq!(alerting["labels"]["severity"], "page");
    assert_eq!(alerting["alerts"].as_array().map(Vec::len), Some(1));
    assert_ne!(alerting["lastEvaluation"], "0001-01-01T00:00:00Z");
    let sql = &groups[1]["rules"][0];
    assert_eq!(sql["health"], "ok", "{sql}");
    assert_eq!(sql["language"], "sql");
    // Filters.
    let (_, only_alerts) = rules_as(&vigil, None, "?type=alert").await;
    let only: Vec<&str> = only_alerts["data"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(only, ["alerting"]);
    let (status, bad) = rules_as(&vigil, None, "?type=nope").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["errorType"], "bad_data");

    // What the rules wrote reads back through PromQL.
    let recorded = poll(
        "job:up:sum is recorded",
        Duration::from_secs(30),
        || async {
            let r = instant(&vigil, "job:up:sum").await;
            if r.is_empty() {
                Err("no series yet".to_string())
            } else {
                Ok(r)
            }
        },
    )
    .await;
    assert_eq!(recorded[0]["metric"]["job"], "api");
    assert_eq!(recorded[0]["value"][1], "1");
    let sql_recorded = instant(&vigil, "vigil:logs:count").await;
    assert_eq!(sql_recorded.len(), 1, "{sql_recorded:?}");
    assert_eq!(sql_recorded[0]["metric"]["table"], "logs");
    let alerts_series = instant(&vigil, "ALERTS{alertstate=\"firing\"}").await;
    assert_eq!(alerts_series.len(), 1, "{alerts_series:?}");
    assert_eq!(alerts_series[0]["metric"]["alertname"], "InstanceDown");

    // After a SIGKILL the alert fires again at its first evaluation, active since the same
    // time: its `for` progress came back from ALERTS_FOR_STATE, durably written.
    vigil.kill().await;
    vigil.restart().await;
    let back = poll("the alert is back", Duration::from_secs(60), || async {
        let list = alerts(&vigil).await;
        list.into_iter()
            .find(|a| a["labels"]["alertname"] == "InstanceDown")
            .ok_or_else(|| "no alert yet".to_string())
    })
    .await;
    assert_eq!(back["state"], "firing", "{back}");
    assert_eq!(back["activeAt"], active_at.as_str(), "{back}");

    // Tenants see their own rules only.
    let (_, acme) = rules_as(&vigil, Some("acme"), "").await;
    let acme_groups: Vec<&str> = acme["data"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(acme_groups, ["acme-only"], "{acme}");

    // A bad file is refused with its name and line; the old rules keep running.
    let path = dir.path().join("rules.yml");
    std::fs::write(
        &path,
        "groups:\n  - name: availability\n    rules:\n      - record: x\n        expr: sum(\n",
    )
    .expect("rule file");
    let resp = vigil
        .http()
        .post(vigil.api_url("/-/reload"))
        .send()
        .await
        .expect("reload");
    assert_eq!(resp.status().as_u16(), 500);
    let text = resp.text().await.expect("body");
    assert!(
        text.contains("rules.yml") && text.contains("5:15") && text.contains("could not parse"),
        "{text}"
    );
    let (_, still) = rules_as(&vigil, None, "").await;
    assert_eq!(still["data"]["groups"].as_array().map(Vec::len), Some(2));
    assert_eq!(alerts(&vigil).await.len(), 1);

    // A good file on SIGHUP: the group that stays keeps its firing alert.
    std::fs::write(
        &path,
        RULES.replace(
            "  - name: sql\n",
            "      - alert: Always\n        expr: vector(1)\n  - name: sql\n",
        ),
    )
    .expect("rule file");
    send_signal(vigil.pid(), libc::SIGHUP);
    let reloaded = poll("the new rule runs", Duration::from_secs(30), || async {
        let list = alerts(&vigil).await;
        if list.iter().any(|a| a["labels"]["alertname"] == "Always") {
            Ok(list)
        } else {
            Err(format!("{list:?}"))
        }
    })
    .await;
    let kept = reloaded
        .iter()
        .find(|a| a["labels"]["alertname"] == "InstanceDown")
        .expect("InstanceDown kept");
    assert_eq!(kept["state"], "firing");
    assert_eq!(kept["activeAt"], active_at.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigil_watches_itself_with_its_built_in_rule_group() {
    let vigil = Vigil::start_with(&[
        ("VIGIL_SELF_WATCH", "true"),
        ("VIGIL_SELF_WATCH_INTERVAL", "1s"),
    ])
    .await;
    // Vigil's own metrics, in the tenant `vigil`, through PromQL.
    let query = |q: &'static str| {
        let vigil = &vigil;
        async move {
            let r = vigil
                .http()
                .get(format!(
                    "{}?{}",
                    vigil.api_url("/api/v1/query"),
                    crate::prometheus_api::encode(&[("query", q)])
                ))
                .header("X-Scope-OrgID", "vigil")
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let v: Value = r.json().await.map_err(|e| e.to_string())?;
            Ok::<Vec<Value>, String>(v["data"]["result"].as_array().cloned().unwrap_or_default())
        }
    };
    let found = poll(
        "Vigil's metrics are in its store",
        Duration::from_secs(60),
        || async {
            let r = query("vigil_data_dir_size_bytes").await?;
            if r.is_empty() {
                Err("nothing yet".to_string())
            } else {
                Ok(r)
            }
        },
    )
    .await;
    assert_eq!(found[0]["metric"]["job"], "vigil", "{found:?}");
    assert!(found[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse::<f64>().ok())
        .is_some_and(|v| v > 0.0));
    // Something to watch: requests with an item Vigil refuses (a metric without a name), two
    // self-watch rounds apart, so that the counter of refused items rises between samples.
    let refuse = || async {
        let bad = serde_json::json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "", "gauge": {"dataPoints": [{"asDouble": 1, "timeUnixNano": "1"}]}}
        ]}]}]});
        vigil
            .http()
            .post(vigil.otlp_http_url("/v1/metrics"))
            .header("Content-Type", "application/json")
            .body(bad.to_string())
            .send()
            .await
            .expect("otlp request");
    };
    refuse().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    refuse().await;
    let rejected = poll(
        "refused items are counted",
        Duration::from_secs(30),
        || async {
            let r = query("vigil_ingest_items_rejected_total").await?;
            match r.first() {
                Some(s) if s["value"][1] == "2" => Ok(s.clone()),
                _ => Err(format!("{r:?}")),
            }
        },
    )
    .await;
    assert_eq!(rejected["metric"]["signal"], "metrics", "{rejected}");
    // The built-in group runs for the tenant `vigil`, every rule healthy.
    let (status, body) = rules_as(&vigil, Some("vigil"), "").await;
    assert_eq!(status, 200, "{body}");
    let group = &body["data"]["groups"][0];
    assert_eq!(group["name"], "vigil-self-watch", "{body}");
    assert_eq!(group["rules"].as_array().map(Vec::len), Some(8));
    poll(
        "every self-watch rule evaluated fine",
        Duration::from_secs(60),
        || async {
            let (_, body) = rules_as(&vigil, Some("vigil"), "").await;
            let rules = body["data"]["groups"][0]["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if rules.iter().all(|r| r["health"] == "ok") {
                Ok(())
            } else {
                Err(format!("{rules:?}"))
            }
        },
    )
    .await;
    // The refused item shows as VigilIngestRejecting going pending.
    poll(
        "the rejection is noticed",
        Duration::from_secs(60),
        || async {
            let r = vigil
                .http()
                .get(vigil.api_url("/api/v1/alerts"))
                .header("X-Scope-OrgID", "vigil")
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let v: Value = r.json().await.map_err(|e| e.to_string())?;
            let alerts = v["data"]["alerts"].as_array().cloned().unwrap_or_default();
            match alerts
                .iter()
                .find(|a| a["labels"]["alertname"] == "VigilIngestRejecting")
            {
                Some(a) if a["state"] == "pending" && a["labels"]["vigil_self_watch"] == "true" => {
                    Ok(())
                }
                _ => Err(format!("{alerts:?}")),
            }
        },
    )
    .await;
    // The tenant `default` is untouched.
    let (_, default) = rules_as(&vigil, None, "").await;
    assert_eq!(
        default["data"]["groups"],
        serde_json::json!([]),
        "{default}"
    );
}
