//! Chat payloads with Alertmanager's default texts (its `default.tmpl`, written here in Rust):
//! the subject `[FIRING:2] GroupValues (CommonValues)`, the link to the alerts of the receiver,
//! and the plain or Markdown list of alerts with their labels, annotations and source. Built
//! from the notification's webhook payload, which holds all a template sees.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

fn map(v: &Json) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Json, key: &str) -> String {
    v.get(key).and_then(Json::as_str).unwrap_or("").to_string()
}

/// `__subject`: `[STATUS:firing count] group label values (common label values not grouped)`.
pub fn subject(n: &Json) -> String {
    let status = text(n, "status");
    let firing = alerts(n, "firing").len();
    let group = map(&n["groupLabels"]);
    let common = map(&n["commonLabels"]);
    let mut out = format!("[{}", status.to_uppercase());
    if status == "firing" {
        out.push_str(&format!(":{firing}"));
    }
    out.push_str("] ");
    out.push_str(&group.values().cloned().collect::<Vec<_>>().join(" "));
    out.push(' ');
    if common.len() > group.len() {
        let rest: Vec<String> = common
            .iter()
            .filter(|(k, _)| !group.contains_key(*k))
            .map(|(_, v)| v.clone())
            .collect();
        out.push_str(&format!("({})", rest.join(" ")));
    }
    out
}

/// `__alertmanagerURL`: the alerts of the receiver in the UI at the external URL.
pub fn alertmanager_url(n: &Json) -> String {
    let receiver: String =
        form_urlencoded::byte_serialize(text(n, "receiver").as_bytes()).collect();
    format!("{}/#/alerts?receiver={receiver}", text(n, "externalURL"))
}

fn alerts<'a>(n: &'a Json, status: &str) -> Vec<&'a Json> {
    n["alerts"]
        .as_array()
        .map(|a| a.iter().filter(|a| a["status"] == status).collect())
        .unwrap_or_default()
}

/// `__text_alert_list` (plain) or `__text_alert_list_markdown`.
pub(super) fn alert_list(list: &[&Json], markdown: bool) -> String {
    let (indent, gap) = if markdown { ("  ", "\n") } else { (" ", "") };
    let mut out = String::new();
    for a in list {
        if markdown {
            out.push('\n');
        }
        out.push_str("Labels:\n");
        for (k, v) in map(&a["labels"]) {
            out.push_str(&format!("{indent}- {k} = {v}\n"));
        }
        out.push_str(gap);
        out.push_str("Annotations:\n");
        for (k, v) in map(&a["annotations"]) {
            out.push_str(&format!("{indent}- {k} = {v}\n"));
        }
        out.push_str(gap);
        out.push_str(&format!("Source: {}\n", text(a, "generatorURL")));
    }
    if markdown {
        out.push('\n');
    }
    out
}

/// The firing and resolved sections of Discord's (plain) and Teams' (Markdown) default text.
pub(super) fn sections(n: &Json, markdown: bool) -> String {
    let head = if markdown { "# " } else { "" };
    let mut out = String::from("\n");
    for (status, title) in [
        ("firing", "Alerts Firing:"),
        ("resolved", "Alerts Resolved:"),
    ] {
        let list = alerts(n, status);
        if !list.is_empty() {
            out.push_str(&format!(
                "\n{head}{title}\n{}\n",
                alert_list(&list, markdown)
            ));
        }
        out.push('\n');
    }
    out
}

fn setting(s: &BTreeMap<String, String>, key: &str) -> Option<String> {
    s.get(key).filter(|v| !v.is_empty()).cloned()
}

/// Slack's incoming-webhook or `chat.postMessage` body: one attachment with the default title,
/// link, fallback and colour.
pub fn slack(s: &BTreeMap<String, String>, n: &Json) -> Json {
    let title = setting(s, "title").unwrap_or_else(|| subject(n));
    let link = setting(s, "title_link").unwrap_or_else(|| alertmanager_url(n));
    let firing = n["status"] == "firing";
    let mut attachment = Map::new();
    attachment.insert("title".into(), title.clone().into());
    attachment.insert("title_link".into(), link.clone().into());
    attachment.insert(
        "fallback".into(),
        setting(s, "fallback")
            .unwrap_or_else(|| format!("{title} | {link}"))
            .into(),
    );
    attachment.insert(
        "color".into(),
        setting(s, "color")
            .unwrap_or_else(|| if firing { "danger" } else { "good" }.into())
            .into(),
    );
    for key in [
        "pretext",
        "text",
        "footer",
        "callback_id",
        "image_url",
        "thumb_url",
    ] {
        if let Some(v) = setting(s, key) {
            attachment.insert(key.into(), v.into());
        }
    }
    attachment.insert("mrkdwn_in".into(), json!(["fallback", "pretext", "text"]));
    let mut body = Map::new();
    if let Some(c) = setting(s, "channel") {
        body.insert("channel".into(), c.into());
    }
    body.insert(
        "username".into(),
        setting(s, "username")
            .unwrap_or_else(|| "Alertmanager".into())
            .into(),
    );
    for key in ["icon_emoji", "icon_url"] {
        if let Some(v) = setting(s, key) {
            body.insert(key.into(), v.into());
        }
    }
    body.insert("attachments".into(), json!([attachment]));
    Json::Object(body)
}

/// Discord's webhook body: one embed with the default title and message, red while firing,
/// green when resolved (Discord's limits: 256 characters of title, 4,096 of description).
pub fn discord(s: &BTreeMap<String, String>, n: &Json) -> Json {
    let title: String = setting(s, "title")
        .unwrap_or_else(|| subject(n))
        .chars()
        .take(256)
        .collect();
    let description: String = setting(s, "message")
        .unwrap_or_else(|| sections(n, false))
        .chars()
        .take(4096)
        .collect();
    let color = if n["status"] == "firing" {
        0x992D22
    } else {
        0x2ECC71
    };
    let mut body = Map::new();
    if let Some(c) = setting(s, "content") {
        body.insert("content".into(), c.into());
    }
    for key in ["username", "avatar_url"] {
        if let Some(v) = setting(s, key) {
            body.insert(key.into(), v.into());
        }
    }
    body.insert(
        "embeds".into(),
        json!([{"title": title, "description": description, "color": color}]),
    );
    Json::Object(body)
}

/// Microsoft Teams' workflow (Power Automate) body: an Adaptive Card with the default title,
/// coloured by status, and the Markdown list of alerts.
pub fn teams(s: &BTreeMap<String, String>, n: &Json) -> Json {
    let title = setting(s, "title").unwrap_or_else(|| subject(n));
    let text = setting(s, "text").unwrap_or_else(|| sections(n, true));
    let color = if n["status"] == "firing" {
        "Attention"
    } else {
        "Good"
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.2",
                "body": [
                    {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
                     "wrap": true, "style": "heading", "color": color},
                    {"type": "TextBlock", "text": text, "wrap": true},
                ],
                "msteams": {"width": "full"},
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(status: &str) -> Json {
        json!({
            "receiver": "team x",
            "status": status,
            "alerts": [
                {"status": "firing", "labels": {"alertname": "Down", "job": "api", "instance": "a"},
                 "annotations": {"summary": "a is down"}, "generatorURL": "http://vigil/graph"},
                {"status": "resolved", "labels": {"alertname": "Down", "job": "api", "instance": "b"},
                 "annotations": {}, "generatorURL": "http://vigil/graph"},
            ],
            "groupLabels": {"alertname": "Down"},
            "commonLabels": {"alertname": "Down", "job": "api"},
            "commonAnnotations": {},
            "externalURL": "http://vigil:9700",
        })
    }

    #[test]
    fn the_subject_and_link_read_as_alertmanagers_default_template_writes_them() {
        let n = notification("firing");
        assert_eq!(subject(&n), "[FIRING:1] Down (api)");
        assert_eq!(subject(&notification("resolved")), "[RESOLVED] Down (api)");
        assert_eq!(
            alertmanager_url(&n),
            "http://vigil:9700/#/alerts?receiver=team+x"
        );
    }

    #[test]
    fn payloads_have_the_shapes_the_services_take() {
        let n = notification("firing");
        let s = BTreeMap::from([("channel".to_string(), "#ops".to_string())]);
        let slack = slack(&s, &n);
        assert_eq!(slack["channel"], "#ops");
        assert_eq!(slack["username"], "Alertmanager");
        let a = &slack["attachments"][0];
        assert_eq!(a["title"], "[FIRING:1] Down (api)");
        assert_eq!(a["color"], "danger");
        assert_eq!(
            a["fallback"],
            "[FIRING:1] Down (api) | http://vigil:9700/#/alerts?receiver=team+x"
        );
        let discord = discord(&BTreeMap::new(), &n);
        let e = &discord["embeds"][0];
        assert_eq!(e["color"], 0x992D22);
        let d = e["description"].as_str().expect("description");
        assert!(
            d.contains("Alerts Firing:\nLabels:\n - alertname = Down\n - instance = a\n"),
            "{d}"
        );
        assert!(
            d.contains("Annotations:\n - summary = a is down\nSource: http://vigil/graph\n"),
            "{d}"
        );
        assert!(
            d.contains("Alerts Resolved:\nLabels:\n - alertname = Down\n - instance = b\n"),
            "{d}"
        );
        let teams = teams(&BTreeMap::new(), &n);
        let card = &teams["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][0]["color"], "Attention");
        let t = card["body"][1]["text"].as_str().expect("text");
        assert!(
            t.contains("# Alerts Firing:\n\nLabels:\n  - alertname = Down\n"),
            "{t}"
        );
    }
}

/// A request a notifier makes: where, with which extra headers, what body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The URL.
    pub url: String,
    /// Headers beyond `Content-Type`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Json,
}

/// The hex SHA-256 of a group key: Alertmanager's dedup key and alias of a group's incident.
pub fn group_key_hash(n: &Json) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text(n, "groupKey").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// PagerDuty Events API v2: `trigger` while anything fires, `resolve` after, one incident per
/// group (the dedup key), Alertmanager's default summary and details.
pub fn pagerduty(s: &BTreeMap<String, String>, n: &Json) -> Result<Request, String> {
    let url = setting(s, "url").ok_or("pagerduty_config has no url")?;
    let key = setting(s, "routing_key")
        .ok_or("pagerduty_config has no routing_key (the Events API v1 service_key is not sent)")?;
    let firing = n["status"] == "firing";
    let list = |status: &str| alert_list(&alerts(n, status), false);
    let client = setting(s, "client").unwrap_or_else(|| "Alertmanager".into());
    let summary: String = setting(s, "description")
        .unwrap_or_else(|| subject(n))
        .chars()
        .take(1024)
        .collect();
    let mut body = json!({
        "routing_key": key,
        "event_action": if firing { "trigger" } else { "resolve" },
        "dedup_key": group_key_hash(n),
        "client": client,
        "client_url": setting(s, "client_url").unwrap_or_else(|| alertmanager_url(n)),
        "payload": {
            "summary": summary,
            "source": setting(s, "source").unwrap_or_else(|| client.clone()),
            "severity": setting(s, "severity").unwrap_or_else(|| "error".into()),
            "custom_details": {
                "firing": list("firing"),
                "resolved": list("resolved"),
                "num_firing": alerts(n, "firing").len().to_string(),
                "num_resolved": alerts(n, "resolved").len().to_string(),
            },
        },
    });
    for key in ["class", "component", "group"] {
        if let Some(v) = setting(s, key) {
            body["payload"][key] = v.into();
        }
    }
    Ok(Request {
        url,
        headers: Vec::new(),
        body,
    })
}

/// Opsgenie's Alert API: create (while anything fires) or close the group's alert, found by
/// its alias; the key in `Authorization: GenieKey …`.
pub fn opsgenie(s: &BTreeMap<String, String>, n: &Json) -> Result<Request, String> {
    let base = setting(s, "api_url").ok_or("opsgenie_config has no api_url")?;
    let key = setting(s, "api_key").ok_or("opsgenie_config has no api_key")?;
    let alias = group_key_hash(n);
    let headers = vec![("Authorization".to_string(), format!("GenieKey {key}"))];
    let source = setting(s, "source").unwrap_or_else(|| alertmanager_url(n));
    if n["status"] != "firing" {
        return Ok(Request {
            url: join_url(
                &base,
                &format!("v2/alerts/{alias}/close?identifierType=alias"),
            ),
            headers,
            body: json!({ "source": source }),
        });
    }
    let description = opsgenie_description(n);
    let message: String = setting(s, "message")
        .unwrap_or_else(|| subject(n))
        .chars()
        .take(130)
        .collect();
    let mut body = json!({
        "alias": alias,
        "message": message,
        "description": setting(s, "description").unwrap_or(description),
        "details": map(&n["commonLabels"]),
        "source": source,
    });
    for key in ["entity", "note", "priority"] {
        if let Some(v) = setting(s, key) {
            body[key] = v.into();
        }
    }
    Ok(Request {
        url: join_url(&base, "v2/alerts"),
        headers,
        body,
    })
}

/// Opsgenie's default description: the common annotations' values, then the firing and
/// resolved alert lists.
pub(super) fn opsgenie_description(n: &Json) -> String {
    let common: Vec<String> = map(&n["commonAnnotations"]).into_values().collect();
    let mut description = common.join(" ");
    for (status, title) in [
        ("firing", "Alerts Firing:"),
        ("resolved", "Alerts Resolved:"),
    ] {
        description.push('\n');
        let list = alerts(n, status);
        if !list.is_empty() {
            description.push_str(&format!("{title}\n{}", alert_list(&list, false)));
        }
    }
    description
}

/// Mattermost's incoming-webhook body: the default Markdown text, as Alertmanager's username,
/// with the channel and icon when set.
pub fn mattermost(s: &BTreeMap<String, String>, n: &Json) -> Json {
    let mut body = Map::new();
    body.insert(
        "text".into(),
        setting(s, "text")
            .unwrap_or_else(|| sections(n, true))
            .into(),
    );
    body.insert(
        "username".into(),
        setting(s, "username")
            .unwrap_or_else(|| "Alertmanager".into())
            .into(),
    );
    for key in ["channel", "icon_url", "icon_emoji"] {
        if let Some(v) = setting(s, key) {
            body.insert(key.into(), v.into());
        }
    }
    Json::Object(body)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// The default HTML body of an email: Vigil's own page (not Alertmanager's `email.tmpl`):
/// the subject as a heading, a link to the alerts, and a table per alert of its labels and
/// annotations with its source.
pub fn email_html(n: &Json) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>");
    let subject = html_escape(&subject(n));
    out.push_str(&format!(
        "{subject}</title></head>\n<body style=\"font-family: sans-serif\">\n<h2>{subject}</h2>\n<p><a href=\"{}\">View in Alertmanager</a></p>\n",
        html_escape(&alertmanager_url(n))
    ));
    for (status, title) in [("firing", "Firing"), ("resolved", "Resolved")] {
        let list = alerts(n, status);
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!("<h3>{} {title}</h3>\n", list.len()));
        for a in list {
            out.push_str("<table border=\"1\" cellpadding=\"4\" style=\"border-collapse: collapse; margin-bottom: 12px\">\n");
            for (k, v) in map(&a["labels"]) {
                out.push_str(&format!(
                    "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
                    html_escape(&k),
                    html_escape(&v)
                ));
            }
            for (k, v) in map(&a["annotations"]) {
                out.push_str(&format!(
                    "<tr><th align=\"left\"><i>{}</i></th><td>{}</td></tr>\n",
                    html_escape(&k),
                    html_escape(&v)
                ));
            }
            out.push_str(&format!(
                "<tr><td colspan=\"2\"><a href=\"{0}\">Source</a></td></tr>\n</table>\n",
                html_escape(&text(a, "generatorURL"))
            ));
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// Telegram's `sendMessage`: the default message (the firing and resolved alert lists),
/// escaped for the HTML parse mode.
pub fn telegram(s: &BTreeMap<String, String>, n: &Json) -> Result<Request, String> {
    let base = setting(s, "api_url").ok_or("telegram_config has no api_url")?;
    let token = setting(s, "bot_token").ok_or("telegram_config has no bot_token")?;
    let chat: i64 = setting(s, "chat_id")
        .and_then(|c| c.parse().ok())
        .ok_or("telegram_config has no numeric chat_id")?;
    let mode = setting(s, "parse_mode").unwrap_or_else(|| "HTML".into());
    let mut message = setting(s, "message").unwrap_or_else(|| sections(n, false));
    if mode == "HTML" {
        message = message
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
    }
    let message: String = message.chars().take(4096).collect();
    let mut body = json!({
        "chat_id": chat,
        "text": message,
        "parse_mode": mode,
        "disable_notification": setting(s, "disable_notifications").as_deref() == Some("true"),
    });
    if let Some(thread) = setting(s, "message_thread_id").and_then(|t| t.parse::<i64>().ok()) {
        body["message_thread_id"] = thread.into();
    }
    Ok(Request {
        url: join_url(&base, &format!("bot{token}/sendMessage")),
        headers: Vec::new(),
        body,
    })
}

#[cfg(test)]
mod incident_tests {
    use super::*;

    fn n(status: &str) -> Json {
        json!({
            "receiver": "oncall", "status": status, "groupKey": "{}:{alertname=\"Down\"}",
            "alerts": [{"status": status, "labels": {"alertname": "Down", "instance": "<a>"},
                        "annotations": {"summary": "down"}, "generatorURL": "http://g"}],
            "groupLabels": {"alertname": "Down"}, "commonLabels": {"alertname": "Down", "instance": "<a>"},
            "commonAnnotations": {"summary": "down"}, "externalURL": "http://vigil",
        })
    }

    #[test]
    fn incidents_open_and_close_by_group() {
        let s = BTreeMap::from([
            ("url".to_string(), "http://pd/v2/enqueue".to_string()),
            ("routing_key".to_string(), "rk".to_string()),
        ]);
        let open = pagerduty(&s, &n("firing")).expect("request");
        assert_eq!(open.body["event_action"], "trigger");
        assert_eq!(open.body["payload"]["severity"], "error");
        assert_eq!(open.body["payload"]["custom_details"]["num_firing"], "1");
        let close = pagerduty(&s, &n("resolved")).expect("request");
        assert_eq!(close.body["event_action"], "resolve");
        assert_eq!(open.body["dedup_key"], close.body["dedup_key"]);
        assert_eq!(open.body["dedup_key"].as_str().map(str::len), Some(64));

        let s = BTreeMap::from([
            ("api_url".to_string(), "http://og/".to_string()),
            ("api_key".to_string(), "k".to_string()),
        ]);
        let create = opsgenie(&s, &n("firing")).expect("request");
        assert_eq!(create.url, "http://og/v2/alerts");
        assert_eq!(
            create.headers,
            vec![("Authorization".into(), "GenieKey k".into())]
        );
        assert_eq!(create.body["message"], "[FIRING:1] Down (<a>)");
        let close = opsgenie(&s, &n("resolved")).expect("request");
        assert_eq!(
            close.url,
            format!(
                "http://og/v2/alerts/{}/close?identifierType=alias",
                create.body["alias"].as_str().unwrap()
            )
        );

        let s = BTreeMap::from([
            ("api_url".to_string(), "http://tg".to_string()),
            ("bot_token".to_string(), "T".to_string()),
            ("chat_id".to_string(), "42".to_string()),
        ]);
        let msg = telegram(&s, &n("firing")).expect("request");
        assert_eq!(msg.url, "http://tg/botT/sendMessage");
        assert_eq!(msg.body["chat_id"], 42);
        assert!(msg.body["text"]
            .as_str()
            .unwrap()
            .contains(" - instance = &lt;a&gt;\n"));
    }
}
