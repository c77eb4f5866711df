//! Notification texts as Alertmanager renders them: every text setting of a notifier (a Slack
//! title, a Discord message, an email subject) is a template over the notification's data,
//! run against the configuration's `templates` files. A `{{ template "NAME" . }}` naming one of
//! Alertmanager's default templates (`slack.default.title`, `__subject`,
//! `__text_alert_list` …) that no file defines is rendered by Vigil's own code ([`chat`]),
//! which writes what Alertmanager's `default.tmpl` writes (a test renders the real file and
//! compares).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::chat;
use common::template::{TemplateSet, Value};

/// The settings that are templates (every notifier's text fields); secrets, URLs of services
/// and switches are taken as they are.
pub const TEMPLATED: &[&str] = &[
    "title",
    "title_link",
    "pretext",
    "text",
    "footer",
    "fallback",
    "callback_id",
    "icon_emoji",
    "icon_url",
    "image_url",
    "thumb_url",
    "channel",
    "username",
    "color",
    "message",
    "content",
    "avatar_url",
    "summary",
    "description",
    "client",
    "client_url",
    "source",
    "severity",
    "class",
    "component",
    "group",
    "entity",
    "note",
    "priority",
    "subject",
    "html",
    "to",
    "from",
];

/// The template data of a notification (Alertmanager's `template.Data`), from its webhook
/// payload: `.Receiver`, `.Status`, `.Alerts` (each with `.Status`, `.Labels`, `.Annotations`,
/// `.StartsAt`, `.EndsAt`, `.GeneratorURL`, `.Fingerprint`), `.GroupLabels`, `.CommonLabels`,
/// `.CommonAnnotations`, `.ExternalURL`, `.GroupKey`, `.TruncatedAlerts`.
pub fn data(n: &Json) -> Value {
    let s = |v: &Json| Value::Str(v.as_str().unwrap_or_default().to_string());
    let kv = |v: &Json| {
        Value::Map(
            v.as_object()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), s(v))).collect())
                .unwrap_or_default(),
        )
    };
    let time = |v: &Json| {
        let t = v.as_str().unwrap_or_default();
        let ns = chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .filter(|t| t.timestamp() > -62_135_596_800)
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(common::template::ZERO_TIME);
        Value::Time(ns, None)
    };
    let alerts = n["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    Value::Map(BTreeMap::from([
                        ("Status".to_string(), s(&a["status"])),
                        ("Labels".to_string(), kv(&a["labels"])),
                        ("Annotations".to_string(), kv(&a["annotations"])),
                        ("StartsAt".to_string(), time(&a["startsAt"])),
                        ("EndsAt".to_string(), time(&a["endsAt"])),
                        ("GeneratorURL".to_string(), s(&a["generatorURL"])),
                        ("Fingerprint".to_string(), s(&a["fingerprint"])),
                    ]))
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Map(BTreeMap::from([
        ("Receiver".to_string(), s(&n["receiver"])),
        ("Status".to_string(), s(&n["status"])),
        ("Alerts".to_string(), Value::List(alerts)),
        ("GroupLabels".to_string(), kv(&n["groupLabels"])),
        ("CommonLabels".to_string(), kv(&n["commonLabels"])),
        ("CommonAnnotations".to_string(), kv(&n["commonAnnotations"])),
        ("ExternalURL".to_string(), s(&n["externalURL"])),
        ("GroupKey".to_string(), s(&n["groupKey"])),
        (
            "TruncatedAlerts".to_string(),
            Value::Num(n["truncatedAlerts"].as_f64().unwrap_or(0.0)),
        ),
    ]))
}

/// An alert list (`.Alerts`, `.Alerts.Firing`) back as webhook alerts, for the list templates.
fn alert_list_json(v: &Value) -> Vec<Json> {
    let Value::List(l) = v else {
        return Vec::new();
    };
    let text = |m: &BTreeMap<String, Value>, k: &str| match m.get(k) {
        Some(Value::Str(s)) => Json::String(s.clone()),
        _ => Json::String(String::new()),
    };
    let kv = |m: &BTreeMap<String, Value>, k: &str| match m.get(k) {
        Some(Value::Map(m)) => Json::Object(
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::Str(s) => s.clone(),
                        _ => String::new(),
                    };
                    (k.clone(), Json::String(s))
                })
                .collect(),
        ),
        _ => Json::Object(Default::default()),
    };
    l.iter()
        .filter_map(|a| match a {
            Value::Map(m) => Some(serde_json::json!({
                "status": text(m, "Status"),
                "labels": kv(m, "Labels"),
                "annotations": kv(m, "Annotations"),
                "generatorURL": text(m, "GeneratorURL"),
            })),
            _ => None,
        })
        .collect()
}

/// Alertmanager's default template `name` rendered for the notification `n` (`dot` is what
/// the call passed; the list templates read it, the others read the whole notification).
/// `None` for a name Alertmanager does not define.
pub fn default_template(name: &str, n: &Json, dot: &Value) -> Option<String> {
    let subject = || chat::subject(n);
    let url = || chat::alertmanager_url(n);
    let firing = n["status"] == "firing";
    Some(match name {
        "__alertmanager"
        | "slack.default.username"
        | "pagerduty.default.client"
        | "victorops.default.monitoring_tool"
        | "rocketchat.default.alias"
        | "mattermost.default.username" => "Alertmanager".to_string(),
        "__alertmanagerURL"
        | "slack.default.titlelink"
        | "pagerduty.default.clientURL"
        | "opsgenie.default.source"
        | "rocketchat.default.titlelink"
        | "mattermost.default.titlelink" => url(),
        "__subject"
        | "slack.default.title"
        | "pagerduty.default.description"
        | "opsgenie.default.message"
        | "pushover.default.title"
        | "sns.default.subject"
        | "discord.default.title"
        | "msteams.default.title"
        | "msteamsv2.default.title"
        | "jira.default.summary"
        | "rocketchat.default.title"
        | "mattermost.default.title"
        | "email.default.subject" => subject(),
        "slack.default.fallback" | "mattermost.default.fallback" => {
            format!("{} | {}", subject(), url())
        }
        "slack.default.color" | "mattermost.default.color" => {
            if firing { "danger" } else { "good" }.to_string()
        }
        "__description"
        | "slack.default.callbackid"
        | "slack.default.pretext"
        | "slack.default.iconemoji"
        | "slack.default.iconurl"
        | "slack.default.text"
        | "slack.default.footer"
        | "discord.default.content"
        | "rocketchat.default.emoji"
        | "rocketchat.default.iconurl"
        | "rocketchat.default.text" => String::new(),
        "telegram.default.message" | "discord.default.message" => chat::sections(n, false),
        "msteamsv2.default.text" | "mattermost.default.text" => chat::sections(n, true),
        "opsgenie.default.description" => chat::opsgenie_description(n),
        "__text_alert_list" => {
            let list = alert_list_json(dot);
            chat::alert_list(&list.iter().collect::<Vec<_>>(), false)
        }
        "__text_alert_list_markdown" => {
            let list = alert_list_json(dot);
            chat::alert_list(&list.iter().collect::<Vec<_>>(), true)
        }
        "email.default.html" => chat::email_html(n),
        _ => return None,
    })
}

/// `settings` with every templated one rendered for the notification `n` against `templates`.
pub fn render_settings(
    templates: &TemplateSet,
    settings: &BTreeMap<String, String>,
    n: &Json,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = settings.clone();
    let mut data_value = None;
    for key in TEMPLATED {
        let Some(text) = settings.get(*key) else {
            continue;
        };
        if !text.contains("{{") {
            continue;
        }
        let data = data_value.get_or_insert_with(|| data(n));
        let native = |name: &str, dot: &Value| default_template(name, n, dot).map(Ok);
        let rendered = templates
            .render(text, data, Some(&native))
            .map_err(|e| format!("{key}: {e}"))?;
        out.insert(key.to_string(), rendered);
    }
    Ok(out)
}

/// An email's headers rendered for the notification `n`: `headers` as configured, with
/// Alertmanager's default `Subject` (`email.default.subject`) when none is set.
pub fn render_headers(
    templates: &TemplateSet,
    headers: &BTreeMap<String, String>,
    n: &Json,
) -> Result<BTreeMap<String, String>, String> {
    let mut headers = headers.clone();
    if !headers.keys().any(|k| k.eq_ignore_ascii_case("subject")) {
        headers.insert(
            "Subject".into(),
            r#"{{ template "email.default.subject" . }}"#.into(),
        );
    }
    let data = data(n);
    let native = |name: &str, dot: &Value| default_template(name, n, dot).map(Ok);
    headers
        .into_iter()
        .map(|(k, v)| {
            let r = templates
                .render(&v, &data, Some(&native))
                .map_err(|e| format!("headers.{k}: {e}"))?;
            Ok((k, r))
        })
        .collect()
}
