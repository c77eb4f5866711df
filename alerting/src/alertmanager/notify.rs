//! Notifiers: Slack, Discord, Microsoft Teams (workflows), PagerDuty (Events API v2), Opsgenie
//! and Telegram with Alertmanager's default texts ([`chat`]), and the webhook (`webhook_configs`: the version 4 payload posted as JSON to `url`,
//! with a `User-Agent` naming Vigil). The other kinds follow; until then a receiver naming them
//! fails its notifications with an error that says so. Plain HTTP only, so far: the client has
//! no TLS yet.

use futures::future::BoxFuture;
use serde_json::Value as Json;

use super::chat;
use super::config::Integration;
use super::dispatch::Notifier;

/// The header carrying a notification's id: the same on every attempt and after a restart, so
/// a receiver can drop the one repeat a crash between delivery and its record may cause.
pub const NOTIFICATION_ID: &str = "X-Vigil-Notification-Id";

/// The header carrying a webhook body's HMAC-SHA256 signature, when the webhook config names a
/// secret (`vigil_hmac_secret` or `vigil_hmac_secret_file`, Vigil's extension): `sha256=` and
/// the hex digest, as GitHub's `X-Hub-Signature-256`.
pub const SIGNATURE: &str = "X-Vigil-Signature";

/// HMAC-SHA256 of `body` under `key` (RFC 2104), in hex.
pub fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

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
        let secret = integration
            .settings
            .get("vigil_hmac_secret")
            .map(|s| Ok(s.clone().into_bytes()))
            .or_else(|| {
                integration
                    .settings
                    .get("vigil_hmac_secret_file")
                    .map(|f| std::fs::read(f).map_err(|e| format!("{f}: {e}")))
            });
        let body = payload.to_string();
        let settings = integration.settings.clone();
        Box::pin(async move {
            let json_body = || payload_json(&body);
            let plain = |key: &str, what: &str| {
                settings
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("{what} has no {key} ({key}_file is not read yet)"))
            };
            let request = match kind.as_str() {
                "webhook" => chat::Request {
                    url: url.ok_or("webhook_config has no url (url_file is not read yet)")?,
                    headers: Vec::new(),
                    body: Json::Null,
                },
                "slack" => chat::Request {
                    url: plain("api_url", "slack_config")?,
                    headers: Vec::new(),
                    body: chat::slack(&settings, &json_body()?),
                },
                "discord" => chat::Request {
                    url: plain("webhook_url", "discord_config")?,
                    headers: Vec::new(),
                    body: chat::discord(&settings, &json_body()?),
                },
                "msteamsv2" => chat::Request {
                    url: plain("webhook_url", "msteamsv2_config")?,
                    headers: Vec::new(),
                    body: chat::teams(&settings, &json_body()?),
                },
                "pagerduty" => chat::pagerduty(&settings, &json_body()?)?,
                "opsgenie" => chat::opsgenie(&settings, &json_body()?)?,
                "telegram" => chat::telegram(&settings, &json_body()?)?,
                other => return Err(format!("{other} notifications are not supported yet")),
            };
            // The webhook sends the payload as it is; the others their own body.
            let body = if request.body.is_null() {
                body
            } else {
                request.body.to_string()
            };
            let url = request.url;
            let mut req = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header(NOTIFICATION_ID, id);
            for (k, v) in &request.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            if let Some(secret) = secret {
                let secret = secret?;
                req = req.header(
                    SIGNATURE,
                    format!("sha256={}", hmac_sha256_hex(&secret, body.as_bytes())),
                );
            }
            let resp = req
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

fn payload_json(body: &str) -> Result<Json, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test cases 1 and 2.
        assert_eq!(
            hmac_sha256_hex(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hmac_sha256_hex(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
