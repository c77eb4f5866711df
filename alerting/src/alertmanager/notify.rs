//! Notifiers: Slack, Discord, Microsoft Teams (workflows), Mattermost, PagerDuty (Events API
//! v2), Opsgenie and Telegram with their texts rendered from the configuration's templates and
//! Alertmanager's defaults ([`texts`], [`chat`]), email over SMTP ([`smtp`]), and the webhook
//! (`webhook_configs`: the version 4 payload posted as JSON to `url`, with a `User-Agent`
//! naming Vigil). The other kinds fail their notifications with an error that says so. HTTPS
//! through rustls (ring) with the Mozilla roots, or the `tls_config` of `http_config` ([`tls`]).

use futures::future::BoxFuture;
use serde_json::Value as Json;

use super::config::{Integration, TlsSettings};
use super::dispatch::Notifier;
use super::{chat, smtp, texts, tls};

pub use super::NOTIFICATION_ID;

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

/// An HTTP and HTTPS client for notifications: TLS through rustls with the ring provider and
/// the Mozilla roots (webpki-roots), so it needs no system certificate store.
#[derive(Clone)]
pub struct Client {
    inner: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        http_body_util::Full<bytes::Bytes>,
    >,
    timeout: std::time::Duration,
    user_agent: &'static str,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose requests time out after `timeout`.
    pub fn new(timeout: std::time::Duration, user_agent: &'static str) -> Result<Self, String> {
        Self::with_tls(timeout, user_agent, &TlsSettings::default())
    }

    /// A client whose requests time out after `timeout`, with the TLS settings `tls`.
    pub fn with_tls(
        timeout: std::time::Duration,
        user_agent: &'static str,
        tls: &TlsSettings,
    ) -> Result<Self, String> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls::client_config(tls)?)
            .https_or_http();
        let builder = match &tls.server_name {
            Some(name) => {
                let name = tls::server_name(tls, name)?;
                builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
            }
            None => builder,
        };
        let connector = builder.enable_http1().build();
        let inner =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Self {
            inner,
            timeout,
            user_agent,
        })
    }

    /// POSTs `body` (JSON) to `url` with `headers`; the status code of the answer.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: String,
    ) -> Result<u16, String> {
        let mut req = http::Request::post(url)
            .header("Content-Type", "application/json")
            .header("User-Agent", self.user_agent);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|e| format!("POST {url}: {e}"))?;
        match tokio::time::timeout(self.timeout, self.inner.request(req)).await {
            Ok(Ok(resp)) => Ok(resp.status().as_u16()),
            Ok(Err(e)) => {
                // hyper's error names only its kind ("client error (Connect)"); the causes say
                // what failed (a refused connection, an unknown certificate issuer).
                let mut text = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    text.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                Err(format!("POST {url}: {text}"))
            }
            Err(_) => Err(format!("POST {url}: timed out after {:?}", self.timeout)),
        }
    }
}

/// Sends notifications over HTTP or HTTPS, and email over SMTP.
#[derive(Debug, Clone)]
pub struct HttpNotifier {
    client: Client,
    timeout: std::time::Duration,
}

impl HttpNotifier {
    /// A notifier whose requests time out after `timeout`.
    pub fn new(timeout: std::time::Duration) -> Result<Self, String> {
        let client = Client::new(timeout, USER_AGENT)?;
        Ok(Self { client, timeout })
    }
}

const USER_AGENT: &str = concat!("Vigil-Alertmanager/", env!("CARGO_PKG_VERSION"));

impl Notifier for HttpNotifier {
    fn send(
        &self,
        integration: &Integration,
        id: &str,
        payload: &Json,
    ) -> BoxFuture<'static, Result<(), String>> {
        let id = id.to_string();
        let timeout = self.timeout;
        let tls = integration.tls.clone();
        let client = if tls == TlsSettings::default() || integration.kind == "email" {
            Ok(self.client.clone())
        } else {
            Client::with_tls(timeout, USER_AGENT, &tls)
        };
        let templates = std::sync::Arc::clone(&integration.templates);
        let headers_in = integration.headers.clone();
        let payload = payload.clone();
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
        // Secrets given as files are read at each notification, so that a rotated file counts.
        let mut settings = integration.settings.clone();
        let authorization = integration.authorization.clone();
        let files: Vec<(String, String)> = settings
            .iter()
            .filter_map(|(k, v)| Some((k.strip_suffix("_file")?.to_string(), v.clone())))
            .collect();
        for (key, path) in files {
            if let std::collections::btree_map::Entry::Vacant(slot) = settings.entry(key) {
                match std::fs::read_to_string(&path) {
                    Ok(v) => {
                        slot.insert(v.trim_end_matches(['\n', '\r']).to_string());
                    }
                    Err(e) => {
                        let e = format!("{}_file {path}: {e}", slot.key());
                        return Box::pin(async move { Err(e) });
                    }
                }
            }
        }
        let url = url.or_else(|| settings.get("url").cloned());
        Box::pin(async move {
            let client = client?;
            let settings = texts::render_settings(&templates, &settings, &payload)?;
            if kind == "email" {
                let headers = texts::render_headers(&templates, &headers_in, &payload)?;
                return smtp::send(&settings, &headers, &tls, &payload, &id, timeout).await;
            }
            let json_body = || Ok::<_, String>(payload.clone());
            let plain = |key: &str, what: &str| {
                settings
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("{what} has no {key}"))
            };
            let request = match kind.as_str() {
                "webhook" => chat::Request {
                    url: url.ok_or("webhook_config has no url")?,
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
                "mattermost" => chat::Request {
                    url: plain("webhook_url", "mattermost_config")?,
                    headers: Vec::new(),
                    body: chat::mattermost(&settings, &json_body()?),
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
            let mut headers = request.headers;
            if let Some(a) = authorization {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                {
                    headers.push(("Authorization".to_string(), a.header()?));
                }
            }
            headers.push((NOTIFICATION_ID.to_string(), id));
            if let Some(secret) = secret {
                let secret = secret?;
                headers.push((
                    SIGNATURE.to_string(),
                    format!("sha256={}", hmac_sha256_hex(&secret, body.as_bytes())),
                ));
            }
            let status = client.post(&url, &headers, body).await?;
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(format!("POST {url}: unexpected status code {status}"))
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
    client: Client,
}

impl RemoteAlertmanagers {
    /// Forwarding to the Alertmanagers at `urls` (base URLs).
    pub fn new(urls: Vec<String>, timeout: std::time::Duration) -> Result<Self, String> {
        let client = Client::new(timeout, concat!("Vigil/", env!("CARGO_PKG_VERSION")))?;
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
            let mut headers = Vec::new();
            if let Some(org) = &org {
                headers.push((common::TENANT_HEADER.to_string(), org.clone()));
            }
            let client = self.client.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let outcome = match client.post(&url, &headers, body).await {
                    Ok(status) if (200..300).contains(&status) => Ok(()),
                    Ok(status) => Err(format!("status {status}")),
                    Err(e) => Err(e),
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

    #[tokio::test]
    async fn the_client_speaks_tls_and_plain_http() {
        let client = Client::new(std::time::Duration::from_secs(5), "test").expect("client");
        // A plain HTTP server: a POST over http gets its answer, one over https fails the TLS
        // handshake (with an error, not a panic: the ring provider is in place).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let status = client
            .post(&format!("http://{addr}/hook"), &[], "{}".into())
            .await
            .expect("plain http");
        assert_eq!(status, 204);
        let err = client
            .post(&format!("https://{addr}/hook"), &[], "{}".into())
            .await
            .expect_err("not a TLS server");
        assert!(err.starts_with("POST https://"), "{err}");
    }

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
