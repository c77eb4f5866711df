//! Notifiers: the webhook (`webhook_configs`: the version 4 payload posted as JSON to `url`,
//! with a `User-Agent` naming Vigil). Slack, Discord, Teams and the others follow; until then a
//! receiver naming them fails its notifications with an error that says so.

use futures::future::BoxFuture;
use serde_json::Value as Json;

use super::config::Integration;
use super::dispatch::Notifier;

/// The header carrying a notification's id: the same on every attempt and after a restart, so
/// a receiver can drop the one repeat a crash between delivery and its record may cause.
pub const NOTIFICATION_ID: &str = "X-Vigil-Notification-Id";

/// Sends notifications over HTTP.
#[derive(Debug, Clone)]
pub struct HttpNotifier {
    client: reqwest::Client,
}

impl HttpNotifier {
    /// A notifier whose requests time out after `timeout`.
    pub fn new(timeout: std::time::Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("Vigil-Alertmanager/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client })
    }
}

impl Notifier for HttpNotifier {
    fn send(
        &self,
        integration: &Integration,
        id: &str,
        payload: &Json,
    ) -> BoxFuture<'static, Result<(), String>> {
        let id = id.to_string();
        let client = self.client.clone();
        let kind = integration.kind.clone();
        let url = integration.settings.get("url").cloned();
        let body = payload.to_string();
        Box::pin(async move {
            if kind != "webhook" {
                return Err(format!("{kind} notifications are not supported yet"));
            }
            let url = url.ok_or("webhook_config has no url (url_file is not read yet)")?;
            let resp = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header(NOTIFICATION_ID, id)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("POST {url}: {e}"))?;
            let status = resp.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!(
                    "POST {url}: unexpected status code {}",
                    status.as_u16()
                ))
            }
        })
    }
}

/// Alerts forwarded to external Alertmanagers (`POST /api/v2/alerts`, as Prometheus's notifier
/// sends them), instead of Vigil's own; the tenant in `X-Scope-OrgID` unless it is the default
/// one. A failed post is logged and counted, and the alerts go again at their next resend, as
/// with Prometheus.
#[derive(Debug, Clone)]
pub struct RemoteAlertmanagers {
    urls: Vec<String>,
    client: reqwest::Client,
}

impl RemoteAlertmanagers {
    /// Forwarding to the Alertmanagers at `urls` (base URLs).
    pub fn new(urls: Vec<String>, timeout: std::time::Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("Vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { urls, client })
    }
}

/// `alerts` as the v2 API's postable alerts.
pub fn postable_alerts(alerts: &[super::alert::Alert]) -> Json {
    use crate::timefmt::rfc3339;
    Json::Array(
        alerts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": rfc3339(Some(a.starts_at)),
                    "endsAt": rfc3339(Some(a.ends_at)),
                    "generatorURL": a.generator_url,
                })
            })
            .collect(),
    )
}

impl crate::manager::AlertSink for RemoteAlertmanagers {
    fn send(&self, tenant: &common::Tenant, alerts: Vec<super::alert::Alert>, _now: i64) {
        let body = postable_alerts(&alerts).to_string();
        let org = (*tenant != common::Tenant::default_tenant()).then(|| tenant.to_string());
        for base in &self.urls {
            let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
            let mut req = self
                .client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body.clone());
            if let Some(org) = &org {
                req = req.header(common::TENANT_HEADER, org);
            }
            tokio::spawn(async move {
                let outcome = match req.send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("status {}", r.status().as_u16())),
                    Err(e) => Err(e.to_string()),
                };
                super::metrics::notified("alertmanager", outcome.is_ok());
                if let Err(e) = outcome {
                    tracing::warn!(%url, error = %e, "sending alerts to an Alertmanager failed");
                }
            });
        }
    }
}
