//! Email notifications over SMTP, as Alertmanager's email notifier sends them: to the
//! `smarthost` (`host:port`; port 465 speaks TLS at once), `EHLO` with `hello`, `STARTTLS`
//! when the server offers it (required unless `require_tls: false`), `AUTH PLAIN` or
//! `AUTH LOGIN` with `auth_username` and `auth_password` when the server offers them, then one
//! message to every address of `to`: a `multipart/alternative` of the `text` and `html` bodies
//! (base64), the configured headers (`Subject` and the rest, non-ASCII ones RFC 2047-encoded),
//! `From`, `To`, `Date`, `Message-Id`, and the notification's id in `X-Vigil-Notification-Id`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::TlsSettings;
use super::NOTIFICATION_ID;

/// Sends the notification `n` as an email by `settings` (rendered), with `headers` (rendered).
pub async fn send(
    settings: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    tls: &TlsSettings,
    n: &Json,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    let smarthost = settings
        .get("smarthost")
        .ok_or("email_config has no smarthost")?;
    match tokio::time::timeout(timeout, deliver(settings, headers, tls, n, id, smarthost)).await {
        Ok(r) => r.map_err(|e| format!("SMTP {smarthost}: {e}")),
        Err(_) => Err(format!("SMTP {smarthost}: timed out after {timeout:?}")),
    }
}

async fn deliver(
    settings: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    tls: &TlsSettings,
    n: &Json,
    id: &str,
    smarthost: &str,
) -> Result<(), String> {
    let (host, port) = smarthost
        .rsplit_once(':')
        .ok_or_else(|| format!("address {smarthost}: missing port in address"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((host, port.parse::<u16>().map_err(|e| e.to_string())?))
        .await
        .map_err(|e| format!("establish connection to server: {e}"))?;
    let message = message(settings, headers, n, id)?;
    let connector = || -> Result<tokio_rustls::TlsConnector, String> {
        Ok(tokio_rustls::TlsConnector::from(Arc::new(
            super::tls::client_config(tls)?,
        )))
    };
    if port == "465" {
        // SMTPS: TLS from the first byte.
        let stream = connector()?
            .connect(super::tls::server_name(tls, host)?, tcp)
            .await
            .map_err(|e| format!("establish TLS connection to server: {e}"))?;
        let mut c = Conn::new(stream);
        c.expect(220).await?;
        let ext = c.ehlo(settings).await?;
        return c.transaction(settings, &ext, &message).await;
    }
    let mut c = Conn::new(tcp);
    c.expect(220).await?;
    let ext = c.ehlo(settings).await?;
    let require_tls = settings.get("require_tls").is_none_or(|v| v != "false");
    if has_ext(&ext, "STARTTLS") {
        c.command("STARTTLS", 220).await?;
        let stream = connector()?
            .connect(super::tls::server_name(tls, host)?, c.stream)
            .await
            .map_err(|e| format!("send STARTTLS command: {e}"))?;
        let mut c = Conn::new(stream);
        let ext = c.ehlo(settings).await?;
        return c.transaction(settings, &ext, &message).await;
    }
    if require_tls {
        return Err(format!(
            "'require_tls' is true (default) but {smarthost:?} does not advertise the STARTTLS extension"
        ));
    }
    c.transaction(settings, &ext, &message).await
}

fn has_ext(ext: &[String], name: &str) -> bool {
    ext.iter().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case(name))
    })
}

/// The mechanisms the server's `AUTH` extension lists.
fn auth_mechanisms(ext: &[String]) -> Vec<String> {
    ext.iter()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.next()
                .filter(|a| a.eq_ignore_ascii_case("AUTH"))
                .map(|_| w.map(str::to_uppercase).collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

/// An SMTP connection: replies read line by line.
struct Conn<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(stream: S) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("reply line too long".into());
            }
            let mut chunk = [0u8; 4096];
            let got = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|e| e.to_string())?;
            if got == 0 {
                return Err("connection closed by the server".into());
            }
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }

    /// A whole reply: its code and its lines' texts.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), String> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await?;
            let code: u16 = l
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("malformed reply {l:?}"))?;
            lines.push(l.get(4..).unwrap_or_default().to_string());
            if l.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, lines));
            }
        }
    }

    async fn expect(&mut self, want: u16) -> Result<Vec<String>, String> {
        let (code, lines) = self.reply().await?;
        if code != want {
            return Err(format!("{code} {}", lines.join(" ")));
        }
        Ok(lines)
    }

    async fn send(&mut self, text: &str) -> Result<(), String> {
        self.stream
            .write_all(text.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        self.stream.flush().await.map_err(|e| e.to_string())
    }

    async fn command(&mut self, cmd: &str, want: u16) -> Result<Vec<String>, String> {
        self.send(&format!("{cmd}\r\n")).await?;
        let verb = cmd.split_whitespace().next().unwrap_or_default();
        self.expect(want).await.map_err(|e| format!("{verb}: {e}"))
    }

    /// `EHLO`; the extensions the server lists.
    async fn ehlo(&mut self, settings: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
        let hello = settings.get("hello").map_or("localhost", String::as_str);
        let mut lines = self.command(&format!("EHLO {hello}"), 250).await?;
        if !lines.is_empty() {
            lines.remove(0);
        }
        Ok(lines)
    }

    /// Authentication when configured, then the message to every recipient.
    async fn transaction(
        &mut self,
        settings: &BTreeMap<String, String>,
        ext: &[String],
        message: &Message,
    ) -> Result<(), String> {
        if let Some(user) = settings.get("auth_username").filter(|u| !u.is_empty()) {
            let mechs = auth_mechanisms(ext);
            let password = settings.get("auth_password").cloned().unwrap_or_default();
            let identity = settings.get("auth_identity").cloned().unwrap_or_default();
            if mechs.iter().any(|m| m == "PLAIN") {
                let token = base64(format!("{identity}\0{user}\0{password}").as_bytes());
                self.command(&format!("AUTH PLAIN {token}"), 235).await?;
            } else if mechs.iter().any(|m| m == "LOGIN") {
                self.command("AUTH LOGIN", 334).await?;
                self.command(&base64(user.as_bytes()), 334).await?;
                self.command(&base64(password.as_bytes()), 235).await?;
            } else if !mechs.is_empty() {
                return Err(format!(
                    "find auth mechanism: unknown auth mechanism: {}",
                    mechs.join(" ")
                ));
            }
        }
        self.command(&format!("MAIL FROM:<{}>", message.from), 250)
            .await?;
        for to in &message.to {
            self.command(&format!("RCPT TO:<{to}>"), 250).await?;
        }
        self.command("DATA", 354).await?;
        let mut data = String::with_capacity(message.text.len() + 8);
        for line in message.text.split("\r\n") {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        self.send(&data).await?;
        self.expect(250).await.map_err(|e| format!("DATA: {e}"))?;
        // The message is accepted; a failed QUIT does not undo it.
        let _ = self.command("QUIT", 221).await;
        Ok(())
    }
}

/// A message ready for `DATA`: envelope sender, recipients, and the text (CRLF lines).
struct Message {
    from: String,
    to: Vec<String>,
    text: String,
}

/// The address of `a` (`Name <a@b>` or `a@b`).
fn address(a: &str) -> String {
    match (a.rfind('<'), a.rfind('>')) {
        (Some(l), Some(r)) if l < r => a[l + 1..r].trim().to_string(),
        _ => a.trim().to_string(),
    }
}

/// A header value, RFC 2047-encoded (`=?UTF-8?b?…?=`) when it is not plain ASCII.
fn header_value(v: &str) -> String {
    let v = v.replace(['\r', '\n'], " ");
    if v.is_ascii() {
        v
    } else {
        format!("=?UTF-8?b?{}?=", base64(v.as_bytes()))
    }
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A body part in base64, in lines of 76 characters.
fn base64_lines(body: &str) -> String {
    let encoded = base64(body.as_bytes());
    let mut out = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

fn message(
    settings: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    n: &Json,
    id: &str,
) -> Result<Message, String> {
    let from = settings.get("from").ok_or("email_config has no from")?;
    let to_list = settings.get("to").ok_or("email_config has no to")?;
    let to: Vec<String> = to_list
        .split(',')
        .map(address)
        .filter(|a| !a.is_empty())
        .collect();
    if to.is_empty() {
        return Err("email_config has no recipient in to".into());
    }
    let html = match settings.get("html") {
        Some(h) => h.clone(),
        None => super::chat::email_html(n),
    };
    let text = settings.get("text").cloned();
    let mut out = String::new();
    let has = |k: &str| headers.keys().any(|h| h.eq_ignore_ascii_case(k));
    for (k, v) in headers {
        out.push_str(&format!("{k}: {}\r\n", header_value(v)));
    }
    if !has("From") {
        out.push_str(&format!("From: {}\r\n", header_value(from)));
    }
    if !has("To") {
        out.push_str(&format!("To: {}\r\n", header_value(to_list)));
    }
    let host = settings.get("hello").map_or("localhost", String::as_str);
    out.push_str(&format!("Message-Id: <{id}@{host}>\r\n"));
    out.push_str(&format!(
        "Date: {}\r\n",
        chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000")
    ));
    out.push_str(&format!("{NOTIFICATION_ID}: {id}\r\n"));
    out.push_str("MIME-Version: 1.0\r\n");
    let boundary = format!("vigil-{id}");
    out.push_str(&format!(
        "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
    ));
    let parts = text
        .iter()
        .map(|t| ("text/plain", t.as_str()))
        .chain(std::iter::once(("text/html", html.as_str())));
    for (ty, body) in parts {
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: {ty}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            base64_lines(body)
        ));
    }
    out.push_str(&format!("--{boundary}--"));
    Ok(Message {
        from: address(from),
        to,
        text: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn addresses_and_headers_are_written_as_mail_takes_them() {
        assert_eq!(address("Ops Team <ops@example.com>"), "ops@example.com");
        assert_eq!(address(" ops@example.com "), "ops@example.com");
        assert_eq!(header_value("[FIRING:1] Down"), "[FIRING:1] Down");
        assert_eq!(header_value("Störung"), "=?UTF-8?b?U3TDtnJ1bmc=?=");
    }
}
