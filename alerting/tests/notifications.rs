//! Notifiers end to end against local services: email through an SMTP server that offers
//! STARTTLS and AUTH (certificates from a CA the test makes, named by `tls_config.ca_file`),
//! webhooks and chat over HTTPS with `http_config.tls_config`, Mattermost's body, and texts
//! from the configuration's own template files.

use std::sync::{Arc, Mutex};

use alerting::alertmanager::config::{load_in, Integration};
use alerting::alertmanager::dispatch::Notifier;
use alerting::alertmanager::notify::HttpNotifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A CA, and a certificate it signed for `localhost` and 127.0.0.1.
struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    Pki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

#[allow(deprecated)]
fn acceptor(pki: &Pki) -> tokio_rustls::TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![pki.cert.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
    )
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn decode_base64(s: &str) -> Vec<u8> {
    let abc = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let vals: Vec<u32> = s
        .bytes()
        .filter_map(|c| abc.iter().position(|a| *a == c).map(|p| p as u32))
        .collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, v)| n | (v << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// What the SMTP server saw: the commands, and the message of the `DATA` command.
#[derive(Default, Debug)]
struct Mailbox {
    commands: Vec<String>,
    message: String,
}

/// One SMTP session on `stream`; `Some(stream)` back when the client asked for STARTTLS.
async fn smtp_session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: bool,
    offer_starttls: bool,
    mailbox: &Mutex<Mailbox>,
) -> Option<S> {
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        mailbox.lock().unwrap().commands.push(line.clone());
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_uppercase();
        let reply = match verb.as_str() {
            "EHLO" if !tls && offer_starttls => "250-localhost\r\n250 STARTTLS\r\n".to_string(),
            "EHLO" => "250-localhost\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n".to_string(),
            "STARTTLS" => {
                r.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
                return Some(r.into_inner());
            }
            "AUTH" => "235 2.7.0 Authentication successful\r\n".into(),
            "MAIL" | "RCPT" => "250 OK\r\n".into(),
            "DATA" => {
                r.get_mut().write_all(b"354 go on\r\n").await.ok()?;
                let mut message = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).await.ok()? == 0 {
                        return None;
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    message.push_str(&l);
                }
                mailbox.lock().unwrap().message = message;
                "250 OK queued\r\n".into()
            }
            "QUIT" => {
                r.get_mut().write_all(b"221 bye\r\n").await.ok()?;
                return None;
            }
            _ => "502 unknown\r\n".into(),
        };
        r.get_mut().write_all(reply.as_bytes()).await.ok()?;
    }
}

/// An SMTP server on a free port (STARTTLS offered when `starttls`); its port and mailbox.
async fn smtp_server(pki: &Pki, starttls: bool) -> (u16, Arc<Mutex<Mailbox>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mailbox = Arc::new(Mutex::new(Mailbox::default()));
    let acceptor = acceptor(pki);
    let mb = Arc::clone(&mailbox);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            conn.write_all(b"220 localhost ESMTP test\r\n")
                .await
                .expect("greet");
            if let Some(plain) = smtp_session(conn, false, starttls, &mb).await {
                match acceptor.accept(plain).await {
                    Ok(tls) => {
                        smtp_session(tls, true, false, &mb).await;
                    }
                    Err(e) => mb.lock().unwrap().commands.push(format!("TLS failed: {e}")),
                }
            }
        }
    });
    (port, mailbox)
}

/// An HTTPS server answering 200 to every request; the requests' paths and bodies.
async fn https_server(pki: &Pki) -> (u16, Arc<Mutex<Vec<(String, Json)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let acceptor = acceptor(pki);
    let g = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let Ok(tls) = acceptor.accept(conn).await else {
                continue;
            };
            let g = Arc::clone(&g);
            tokio::spawn(async move {
                let mut r = BufReader::new(tls);
                loop {
                    let mut head = String::new();
                    let mut length = 0usize;
                    let mut path = String::new();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if path.is_empty() {
                            path = l.split_whitespace().nth(1).unwrap_or_default().to_string();
                        }
                        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if l == "\r\n" {
                            break;
                        }
                        head.push_str(&l);
                    }
                    let mut body = vec![0u8; length];
                    if r.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    g.lock()
                        .unwrap()
                        .push((path, serde_json::from_slice(&body).unwrap_or(Json::Null)));
                    let _ = r
                        .get_mut()
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                }
            });
        }
    });
    (port, got)
}

fn notification() -> Json {
    json!({
        "receiver": "ops", "status": "firing", "groupKey": "{}:{alertname=\"Down\"}",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "Down", "instance": "a:1", "severity": "page"},
             "annotations": {"summary": "a is down"}, "startsAt": "2026-12-07T10:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://vigil/graph", "fingerprint": "01"},
            {"status": "firing", "labels": {"alertname": "Down", "instance": "b:1", "severity": "page"},
             "annotations": {"summary": "b is down"}, "startsAt": "2026-12-07T10:05:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://vigil/graph", "fingerprint": "02"},
        ],
        "groupLabels": {"alertname": "Down"}, "commonLabels": {"alertname": "Down", "severity": "page"},
        "commonAnnotations": {}, "externalURL": "http://vigil:9700", "version": "4", "truncatedAlerts": 0,
    })
}

/// The integrations of `config` (receiver by receiver), with its templates from `dir`.
fn integrations(config: &str, dir: &std::path::Path) -> Vec<Integration> {
    let c = load_in(config, Some(dir)).expect("config loads");
    c.receivers
        .into_iter()
        .flat_map(|r| r.integrations)
        .collect()
}

const TEMPLATES: &str = r#"
{{ define "ops.subject" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on {{ .Alerts.Firing | len }} instance(s){{ end }}
{{ define "ops.text" -}}
{{ range .Alerts.Firing }}* {{ .Labels.instance }} since {{ .StartsAt.Format "15:04 MST" }}: {{ .Annotations.summary }}
{{ end }}labels: {{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
grouped by: {{ .GroupLabels.Names | join "," }}
{{- end }}
"#;

#[tokio::test]
async fn email_goes_through_starttls_and_auth_with_the_configurations_templates() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("ca");
    std::fs::create_dir(dir.path().join("templates")).expect("dir");
    std::fs::write(dir.path().join("templates/ops.tmpl"), TEMPLATES).expect("tmpl");
    let (port, mailbox) = smtp_server(&pki, true).await;
    let config = format!(
        r#"
route: {{receiver: mail}}
templates: ['templates/*.tmpl']
receivers:
- name: mail
  email_configs:
  - to: 'Ops Team <ops@example.com>, dev@example.com'
    from: vigil@example.com
    smarthost: localhost:{port}
    hello: vigil.example.com
    auth_username: vigil
    auth_password: s3cret
    tls_config: {{ca_file: ca.pem}}
    headers: {{Subject: '{{{{ template "ops.subject" . }}}}'}}
    text: '{{{{ template "ops.text" . }}}}'
"#
    );
    let integration = &integrations(&config, dir.path())[0];
    let notifier = HttpNotifier::new(std::time::Duration::from_secs(10)).expect("notifier");
    notifier
        .send(integration, "n-1", &notification())
        .await
        .expect("email sent");
    let mb = mailbox.lock().unwrap();
    let c = &mb.commands;
    assert_eq!(c[0], "EHLO vigil.example.com");
    assert_eq!(c[1], "STARTTLS");
    assert_eq!(c[2], "EHLO vigil.example.com", "{c:?}");
    assert_eq!(
        c[3],
        format!(
            "AUTH PLAIN {}",
            // "\0vigil\0s3cret"
            "AHZpZ2lsAHMzY3JldA=="
        )
    );
    assert_eq!(c[4], "MAIL FROM:<vigil@example.com>");
    assert_eq!(c[5], "RCPT TO:<ops@example.com>");
    assert_eq!(c[6], "RCPT TO:<dev@example.com>");
    assert_eq!(c[7], "DATA");
    let m = &mb.message;
    assert!(
        m.contains("Subject: [FIRING] Down on 2 instance(s)\r\n"),
        "{m}"
    );
    assert!(m.contains("From: vigil@example.com\r\n"), "{m}");
    assert!(
        m.contains("To: Ops Team <ops@example.com>, dev@example.com\r\n"),
        "{m}"
    );
    assert!(m.contains("X-Vigil-Notification-Id: n-1\r\n"), "{m}");
    assert!(
        m.contains("Content-Type: multipart/alternative; boundary="),
        "{m}"
    );
    // The text part, base64 in the message.
    let text_part = m
        .split(
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        )
        .nth(1)
        .and_then(|p| p.split("--").next())
        .expect("text part");
    let text = String::from_utf8(decode_base64(text_part)).expect("utf-8");
    assert_eq!(
        text,
        "* a:1 since 10:00 UTC: a is down\n* b:1 since 10:05 UTC: b is down\nlabels: alertname=Down severity=page \ngrouped by: alertname"
    );
    assert!(m.contains("Content-Type: text/html; charset=UTF-8"), "{m}");
}

#[tokio::test]
async fn email_refuses_an_unknown_certificate_and_a_server_without_starttls() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, _) = smtp_server(&pki, true).await;
    let notifier = HttpNotifier::new(std::time::Duration::from_secs(10)).expect("notifier");
    // No CA file: the test's CA is not among the Mozilla roots.
    let config = format!(
        "route: {{receiver: m}}\nreceivers:\n- name: m\n  email_configs:\n  - {{to: a@b.c, from: v@b.c, smarthost: 'localhost:{port}'}}\n"
    );
    let err = notifier
        .send(&integrations(&config, dir.path())[0], "n", &notification())
        .await
        .expect_err("unknown issuer");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // `insecure_skip_verify` takes it.
    let config = format!(
        "route: {{receiver: m}}\nreceivers:\n- name: m\n  email_configs:\n  - {{to: a@b.c, from: v@b.c, smarthost: 'localhost:{port}', tls_config: {{insecure_skip_verify: true}}}}\n"
    );
    notifier
        .send(&integrations(&config, dir.path())[0], "n", &notification())
        .await
        .expect("sent without verification");
    // A server without STARTTLS, with `require_tls` at its default.
    let (port, mailbox) = smtp_server(&pki, false).await;
    let config = format!(
        "route: {{receiver: m}}\nreceivers:\n- name: m\n  email_configs:\n  - {{to: a@b.c, from: v@b.c, smarthost: 'localhost:{port}'}}\n"
    );
    let err = notifier
        .send(&integrations(&config, dir.path())[0], "n", &notification())
        .await
        .expect_err("no STARTTLS");
    assert!(
        err.contains("'require_tls' is true (default) but") && err.contains("STARTTLS"),
        "{err}"
    );
    assert!(mailbox.lock().unwrap().message.is_empty());
}

#[tokio::test]
async fn https_receivers_use_the_tls_config_and_render_user_templates() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("ca");
    std::fs::write(dir.path().join("ops.tmpl"), TEMPLATES).expect("tmpl");
    let (port, got) = https_server(&pki).await;
    let config = format!(
        r#"
route: {{receiver: chat}}
templates: [ops.tmpl]
receivers:
- name: chat
  webhook_configs:
  - url: https://localhost:{port}/hook
    http_config: {{tls_config: {{ca_file: ca.pem}}}}
  slack_configs:
  - api_url: https://localhost:{port}/slack
    channel: '#{{{{ .CommonLabels.severity }}}}'
    title: '{{{{ template "ops.subject" . }}}}'
    text: '{{{{ template "ops.text" . }}}}'
    http_config: {{tls_config: {{ca_file: ca.pem}}}}
  mattermost_configs:
  - webhook_url: https://127.0.0.1:{port}/mattermost
    http_config: {{tls_config: {{ca_file: ca.pem}}}}
- name: untrusted
  webhook_configs:
  - url: https://localhost:{port}/untrusted
"#
    );
    let list = integrations(&config, dir.path());
    let notifier = HttpNotifier::new(std::time::Duration::from_secs(10)).expect("notifier");
    let n = notification();
    for i in &list[..3] {
        notifier
            .send(i, "n-2", &n)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", i.kind));
    }
    let err = notifier
        .send(&list[3], "n-3", &n)
        .await
        .expect_err("the test CA is not trusted without ca_file");
    assert!(err.contains("UnknownIssuer"), "{err}");
    let got = got.lock().unwrap();
    let by_path = |p: &str| {
        got.iter()
            .find(|(path, _)| path == p)
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| panic!("nothing at {p}: {got:?}"))
    };
    assert_eq!(
        by_path("/hook"),
        n,
        "the webhook sends the payload as it is"
    );
    let slack = by_path("/slack");
    assert_eq!(slack["channel"], "#page");
    let a = &slack["attachments"][0];
    assert_eq!(a["title"], "[FIRING] Down on 2 instance(s)");
    assert!(
        a["text"]
            .as_str()
            .unwrap()
            .starts_with("* a:1 since 10:00 UTC: a is down\n"),
        "{a}"
    );
    // Settings not given keep Alertmanager's defaults.
    assert_eq!(a["color"], "danger");
    assert_eq!(a["title_link"], "http://vigil:9700/#/alerts?receiver=ops");
    let mm = by_path("/mattermost");
    assert_eq!(mm["username"], "Alertmanager");
    let text = mm["text"].as_str().expect("text");
    assert!(
        text.contains("# Alerts Firing:\n\nLabels:\n  - alertname = Down\n  - instance = a:1\n"),
        "{text}"
    );
}

#[test]
fn a_template_file_that_does_not_parse_fails_the_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.tmpl"), "{{ define \"x\" }}{{ .Foo \n").expect("tmpl");
    let err = load_in(
        "route: {receiver: r}\ntemplates: ['*.tmpl']\nreceivers: [{name: r}]\n",
        Some(dir.path()),
    )
    .expect_err("bad template");
    assert_eq!(
        err,
        "template: bad.tmpl:2: unclosed action started at bad.tmpl:1"
    );
}
