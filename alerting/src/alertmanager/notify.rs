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
