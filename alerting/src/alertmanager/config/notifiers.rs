//! Receivers and their notifiers: what each notifier's own decoder checks, `global`'s defaults
//! and secret pairs, and each notifier's settings merged with `global` in Alertmanager's order
//! of kinds, with the errors Alertmanager gives.

use std::collections::BTreeMap;

use saphyr::Yaml;

use super::auth::{http_authorization, Authorization, Secret};
use super::fields::{get, list, pairs, scalar, string_map, text};
use crate::alertmanager::schema::NOTIFIERS;

/// One notifier of a receiver, its settings merged with `global`.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// Its kind: `webhook`, `slack`, `email` … (the list key without `_configs`).
    pub kind: String,
    /// Whether resolved alerts are notified too.
    pub send_resolved: bool,
    /// Its scalar settings (`url`, `api_url`, `channel` …), with what it takes from `global`.
    pub settings: BTreeMap<String, String>,
    /// The `Authorization` its `http_config` (or `global.http_config`) gives requests.
    pub authorization: Option<Authorization>,
    /// Its TLS settings: `http_config.tls_config` (or the global one); an email notifier's
    /// own `tls_config`.
    pub tls: TlsSettings,
    /// An email notifier's `headers` (templates), Alertmanager's `Subject`, `To` and `From`
    /// defaults under them.
    pub headers: BTreeMap<String, String>,
    /// The configuration's templates, which its text settings render against.
    pub templates: std::sync::Arc<common::template::TemplateSet>,
}

/// A `tls_config`, as Prometheus's common HTTP client reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsSettings {
    /// `ca_file`: the CA certificates (PEM) that sign the server's; the Mozilla roots without.
    pub ca_file: Option<String>,
    /// `cert_file` and `key_file`: a client certificate and its key (PEM).
    pub cert_file: Option<String>,
    /// See `cert_file`.
    pub key_file: Option<String>,
    /// `server_name`: the name the server's certificate must carry (SNI too).
    pub server_name: Option<String>,
    /// `insecure_skip_verify`: the server's certificate is not checked.
    pub insecure_skip_verify: bool,
}

impl TlsSettings {
    /// The settings of the `tls_config` mapping `y`.
    pub(super) fn read(y: Option<&Yaml<'_>>) -> Self {
        let Some(y) = y else {
            return Self::default();
        };
        TlsSettings {
            ca_file: text(y, "ca_file"),
            cert_file: text(y, "cert_file"),
            key_file: text(y, "key_file"),
            server_name: text(y, "server_name"),
            insecure_skip_verify: get(y, "insecure_skip_verify").and_then(Yaml::as_bool)
                == Some(true),
        }
    }
}

/// A receiver: where a route's notifications go.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    /// Its name, unique in the file.
    pub name: String,
    /// Its labels (`name` always among them).
    pub labels: BTreeMap<String, String>,
    /// Its notifiers, in Alertmanager's order of kinds.
    pub integrations: Vec<Integration>,
}

/// Alertmanager's `global` defaults.
const GLOBAL_DEFAULTS: &[(&str, &str)] = &[
    ("resolve_timeout", "5m"),
    ("smtp_hello", "localhost"),
    ("smtp_require_tls", "true"),
    ("slack_app_url", "https://slack.com/api/chat.postMessage"),
    ("pagerduty_url", "https://events.pagerduty.com/v2/enqueue"),
    ("opsgenie_api_url", "https://api.opsgenie.com/"),
    ("wechat_api_url", "https://qyapi.weixin.qq.com/cgi-bin/"),
    (
        "victorops_api_url",
        "https://alert.victorops.com/integrations/generic/20131114/alert/",
    ),
    ("telegram_api_url", "https://api.telegram.org"),
    ("webex_api_url", "https://webexapis.com/v1/messages"),
    ("rocketchat_api_url", "https://open.rocket.chat/"),
];

/// Notifier kinds whose `send_resolved` is on unless set.
const RESOLVED_BY_DEFAULT: &[&str] = &[
    "webhook",
    "pagerduty",
    "opsgenie",
    "pushover",
    "victorops",
    "sns",
    "telegram",
    "discord",
    "webex",
    "msteams",
    "msteamsv2",
    "jira",
    "mattermost",
    "incidentio",
];

pub(super) fn both(y: &Yaml<'_>, a: &str, b: &str) -> Result<(), String> {
    if text(y, a).is_some() && text(y, b).is_some() {
        return Err(format!("at most one of {a} & {b} must be configured"));
    }
    Ok(())
}

pub(super) fn one_of(y: &Yaml<'_>, a: &str, b: &str) -> Result<(), String> {
    if text(y, a).is_none() && text(y, b).is_none() {
        return Err(format!("one of {a} or {b} must be configured"));
    }
    both(y, a, b)
}

/// What a notifier's own `UnmarshalYAML` checks.
pub(super) fn check_notifier(kind: &str, y: &Yaml<'_>) -> Result<(), String> {
    match kind {
        "webhook" => {
            one_of(y, "url", "url_file")?;
            if let Some(url) = text(y, "url") {
                if url != "<secret>" && !url.contains("{{") {
                    check_url(&url).map_err(|e| format!("invalid URL: {e}"))?;
                }
            }
        }
        "email" if text(y, "to").is_none() => {
            return Err("missing to address in email config".into());
        }
        "pagerduty" => {
            if [
                "routing_key",
                "routing_key_file",
                "service_key",
                "service_key_file",
            ]
            .iter()
            .all(|k| text(y, k).is_none())
            {
                return Err("missing service or routing key in PagerDuty config".into());
            }
            both(y, "routing_key", "routing_key_file")?;
            both(y, "service_key", "service_key_file")?;
        }
        "slack" => {
            for f in list(get(y, "fields")) {
                if text(f, "title").is_none() {
                    return Err("missing title in Slack field configuration".into());
                }
                if text(f, "value").is_none() {
                    return Err("missing value in Slack field configuration".into());
                }
            }
            for a in list(get(y, "actions")) {
                if text(a, "type").is_none() {
                    return Err("missing type in Slack action configuration".into());
                }
                if text(a, "text").is_none() {
                    return Err("missing text in Slack action configuration".into());
                }
                if text(a, "url").is_none() && text(a, "name").is_none() {
                    return Err("missing name or url in Slack action configuration".into());
                }
            }
            both(y, "api_url", "api_url_file")?;
            both(y, "app_token", "app_token_file")?;
            let url = text(y, "api_url").is_some() || text(y, "api_url_file").is_some();
            let token = text(y, "app_token").is_some() || text(y, "app_token_file").is_some();
            if url && token {
                return Err("at most one of api_url/api_url_file & app_token/app_token_file must be configured".into());
            }
            if get(y, "update_message").and_then(Yaml::as_bool) == Some(true)
                && text(y, "api_url").as_deref() != Some("https://slack.com/api/chat.postMessage")
            {
                return Err("update_message can only be used with bot tokens. api_url must be set to https://slack.com/api/chat.postMessage".into());
            }
        }
        "opsgenie" => {
            both(y, "api_key", "api_key_file")?;
            for r in list(get(y, "responders")) {
                let view = format!(
                    "{{{} {} {} {}}}",
                    text(r, "id").unwrap_or_default(),
                    text(r, "name").unwrap_or_default(),
                    text(r, "username").unwrap_or_default(),
                    text(r, "type").unwrap_or_default()
                );
                if ["id", "name", "username"]
                    .iter()
                    .all(|k| text(r, k).is_none())
                {
                    return Err(format!("opsGenieConfig responder {view} has to have at least one of id, username or name specified"));
                }
                let ty = text(r, "type").unwrap_or_default().to_lowercase();
                if !ty.contains("{{")
                    && !matches!(
                        ty.as_str(),
                        "team" | "teams" | "user" | "escalation" | "schedule"
                    )
                {
                    return Err(format!("opsGenieConfig responder {view} type does not match valid options ^(team|teams|user|escalation|schedule)$"));
                }
            }
        }
        "wechat" => {
            let ty = text(y, "message_type").unwrap_or_else(|| "text".into());
            if ty != "text" && ty != "markdown" {
                return Err(format!(
                    "weChat message type {ty:?} does not match valid options ^(text|markdown)$"
                ));
            }
            both(y, "api_secret", "api_secret_file")?;
        }
        "pushover" => {
            one_of(y, "user_key", "user_key_file")?;
            one_of(y, "token", "token_file")?;
            if get(y, "monospace").and_then(Yaml::as_bool) == Some(true)
                && get(y, "html").and_then(Yaml::as_bool) == Some(true)
            {
                return Err("at most one of monospace & html must be configured".into());
            }
        }
        "victorops" => {
            if text(y, "routing_key").is_none() {
                return Err("missing Routing key in VictorOps config".into());
            }
            both(y, "api_key", "api_key_file")?;
            for (k, _) in pairs(get(y, "custom_fields")) {
                let k = scalar(k).unwrap_or_default();
                if [
                    "routing_key",
                    "message_type",
                    "state_message",
                    "entity_display_name",
                    "monitoring_tool",
                    "entity_id",
                    "entity_state",
                ]
                .contains(&k.as_str())
                {
                    return Err(format!("victorOps config contains custom field {k} which cannot be used as it conflicts with the fixed/static fields"));
                }
            }
        }
        "sns" => {
            let set = |k: &str| text(y, k).is_some();
            let (t, p, n) = (set("target_arn"), set("topic_arn"), set("phone_number"));
            if (t != p) == n {
                return Err(
                    "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
                        .into(),
                );
            }
        }
        "telegram" => {
            both(y, "bot_token", "bot_token_file")?;
            if text(y, "chat_id").is_none() && text(y, "chat_id_file").is_none() {
                return Err("missing chat_id or chat_id_file on telegram_config".into());
            }
            both(y, "chat_id", "chat_id_file")?;
            if let Some(mode) = text(y, "parse_mode") {
                if !["Markdown", "MarkdownV2", "HTML"].contains(&mode.as_str()) {
                    return Err("unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string".into());
                }
            }
        }
        "discord" | "msteams" | "msteamsv2" => one_of(y, "webhook_url", "webhook_url_file")?,
        "webex" => {
            if text(y, "room_id").is_none() {
                return Err("missing room_id on webex_config".into());
            }
            let auth = get(y, "http_config").and_then(|h| get(h, "authorization"));
            if auth.is_none() {
                return Err("missing webex_configs.http_config.authorization".into());
            }
        }
        "jira" => {
            if text(y, "project").is_none() {
                return Err("missing project in jira_config".into());
            }
            if text(y, "issue_type").is_none() {
                return Err("missing issue_type in jira_config".into());
            }
            if let Some(t) = text(y, "api_type") {
                if !["auto", "cloud", "datacenter"].contains(&t.as_str()) {
                    return Err(
                        "unknown api_type on jira_config, must be auto, cloud or datacenter".into(),
                    );
                }
            }
        }
        "rocketchat" => {
            both(y, "token", "token_file")?;
            both(y, "token_id", "token_id_file")?;
        }
        "mattermost" => {
            for f in list(get(y, "fields")) {
                if text(f, "title").is_none() {
                    return Err("missing title in Mattermost field configuration".into());
                }
                if text(f, "value").is_none() {
                    return Err("missing value in Mattermost field configuration".into());
                }
            }
            both(y, "webhook_url", "webhook_url_file")?;
        }
        "incidentio" => {
            one_of(y, "url", "url_file")?;
            both(y, "alert_source_token", "alert_source_token_file")?;
        }
        _ => {}
    }
    Ok(())
}

/// A URL as Alertmanager's `ParseURL` takes it: http or https, with a host.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("unsupported scheme \"\" for URL".to_string());
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?} for URL"));
    }
    if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() {
        return Err("missing host for URL".into());
    }
    Ok(())
}

pub(super) fn check_receiver(y: &Yaml<'_>) -> Result<(), String> {
    for (k, v) in pairs(Some(y)) {
        let key = scalar(k).unwrap_or_default();
        let Some(kind) = key.strip_suffix("_configs") else {
            continue;
        };
        for entry in list(Some(v)) {
            if !entry.is_null() {
                check_notifier(kind, entry)?;
            }
        }
    }
    let name = text(y, "name").ok_or("missing name in receiver")?;
    if let Some(label) = get(y, "labels").and_then(|l| text(l, "name")) {
        if label != name {
            return Err(format!(
                "receiver label \"name\" must match receiver name {name:?}, got {label:?}"
            ));
        }
    }
    Ok(())
}

/// `global` with its defaults, then its pairs of inline and file secrets checked.
pub(super) fn global(y: Option<&Yaml<'_>>) -> Result<BTreeMap<String, String>, String> {
    let mut g: BTreeMap<String, String> = GLOBAL_DEFAULTS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in pairs(y) {
        if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
            g.insert(k, v);
        }
    }
    let set = |k: &str| g.get(k).is_some_and(|v| !v.is_empty());
    let pair = |a: &str, b: &str| -> Result<(), String> {
        if set(a) && set(b) {
            return Err(format!("at most one of {a} & {b} must be configured"));
        }
        Ok(())
    };
    pair("slack_app_token", "slack_app_token_file")?;
    pair("slack_api_url", "slack_api_url_file")?;
    if (set("slack_app_token") || set("slack_app_token_file"))
        && (set("slack_api_url") || set("slack_api_url_file"))
        && g.get("slack_api_url").map_or("", String::as_str)
            != g.get("slack_app_url").map_or("", String::as_str)
    {
        return Err("at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file must be configured".into());
    }
    for (a, b) in [
        ("opsgenie_api_key", "opsgenie_api_key_file"),
        ("victorops_api_key", "victorops_api_key_file"),
        ("telegram_bot_token", "telegram_bot_token_file"),
        ("smtp_auth_password", "smtp_auth_password_file"),
        ("rocketchat_token", "rocketchat_token_file"),
        ("rocketchat_token_id", "rocketchat_token_id_file"),
        ("smtp_auth_secret", "smtp_auth_secret_file"),
        ("wechat_api_secret", "wechat_api_secret_file"),
        ("mattermost_webhook_url", "mattermost_webhook_url_file"),
    ] {
        pair(a, b)?;
    }
    Ok(g)
}

/// A notifier's settings with what it takes from `global`, checked as Alertmanager's
/// `Config.UnmarshalYAML` checks them.
pub(super) fn merge(
    kind: &str,
    y: &Yaml<'_>,
    g: &BTreeMap<String, String>,
    global_http: Option<&Yaml<'_>>,
) -> Result<Integration, String> {
    let mut s: BTreeMap<String, String> = pairs(Some(y))
        .into_iter()
        .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let global = |k: &str| g.get(k).filter(|v| !v.is_empty()).cloned();
    let fill = |s: &mut BTreeMap<String, String>, key: &str, from: &str| {
        if !s.contains_key(key) {
            if let Some(v) = global(from) {
                s.insert(key.to_string(), v);
            }
        }
    };
    // Both of a pair from `global` when neither is set here.
    let fill_pair = |s: &mut BTreeMap<String, String>, a: &str, b: &str, ga: &str, gb: &str| {
        if !s.contains_key(a) && !s.contains_key(b) {
            for (k, from) in [(a, ga), (b, gb)] {
                if let Some(v) = global(from) {
                    s.insert(k.to_string(), v);
                }
            }
        }
    };
    let has = |s: &BTreeMap<String, String>, k: &str| s.contains_key(k);
    match kind {
        "email" => {
            fill(&mut s, "smarthost", "smtp_smarthost");
            if !has(&s, "smarthost") {
                return Err("no global SMTP smarthost set".into());
            }
            fill(&mut s, "from", "smtp_from");
            if !has(&s, "from") {
                return Err("no global SMTP from set".into());
            }
            fill(&mut s, "hello", "smtp_hello");
            fill(&mut s, "auth_username", "smtp_auth_username");
            fill_pair(
                &mut s,
                "auth_password",
                "auth_password_file",
                "smtp_auth_password",
                "smtp_auth_password_file",
            );
            fill_pair(
                &mut s,
                "auth_secret",
                "auth_secret_file",
                "smtp_auth_secret",
                "smtp_auth_secret_file",
            );
            fill(&mut s, "auth_identity", "smtp_auth_identity");
            fill(&mut s, "require_tls", "smtp_require_tls");
        }
        "slack" => {
            fill(&mut s, "app_url", "slack_app_url");
            let local_auth = get(y, "http_config")
                .and_then(|h| get(h, "authorization"))
                .is_some();
            if !has(&s, "app_token")
                && !has(&s, "app_token_file")
                && !local_auth
                && !has(&s, "api_url")
            {
                fill(&mut s, "app_token", "slack_app_token");
                fill(&mut s, "app_token_file", "slack_app_token_file");
            }
            if !has(&s, "api_url") && !has(&s, "api_url_file") {
                fill(&mut s, "api_url", "slack_api_url");
                fill(&mut s, "api_url_file", "slack_api_url_file");
            }
            let token = has(&s, "app_token") || has(&s, "app_token_file");
            if !has(&s, "api_url") && !has(&s, "api_url_file") && !token {
                return Err("no Slack API URL nor App token set either inline or in a file".into());
            }
            if token {
                if local_auth {
                    return Err(
                        "http authorization can't be set when using Slack App tokens".into(),
                    );
                }
                if let Some(app) = s.get("app_url").cloned() {
                    s.insert("api_url".into(), app);
                }
            }
        }
        "pagerduty" => fill(&mut s, "url", "pagerduty_url"),
        "opsgenie" => {
            fill(&mut s, "api_url", "opsgenie_api_url");
            fill(&mut s, "api_key", "opsgenie_api_key");
            fill(&mut s, "api_key_file", "opsgenie_api_key_file");
            if !has(&s, "api_key") && !has(&s, "api_key_file") {
                return Err("no global OpsGenie API Key set either inline or in a file".into());
            }
        }
        "wechat" => {
            fill(&mut s, "api_url", "wechat_api_url");
            fill_pair(
                &mut s,
                "api_secret",
                "api_secret_file",
                "wechat_api_secret",
                "wechat_api_secret_file",
            );
            if !has(&s, "api_secret") && !has(&s, "api_secret_file") {
                return Err("no global Wechat Api Secret set either inline or in a file".into());
            }
            fill(&mut s, "corp_id", "wechat_api_corp_id");
            if !has(&s, "corp_id") {
                return Err("no global Wechat CorpID set".into());
            }
        }
        "victorops" => {
            fill(&mut s, "api_url", "victorops_api_url");
            fill(&mut s, "api_key", "victorops_api_key");
            fill(&mut s, "api_key_file", "victorops_api_key_file");
            if !has(&s, "api_key") && !has(&s, "api_key_file") {
                return Err("no global VictorOps API Key set".into());
            }
        }
        "telegram" => {
            fill(&mut s, "api_url", "telegram_api_url");
            fill_pair(
                &mut s,
                "bot_token",
                "bot_token_file",
                "telegram_bot_token",
                "telegram_bot_token_file",
            );
            if !has(&s, "bot_token") && !has(&s, "bot_token_file") {
                return Err("missing bot_token or bot_token_file on telegram_config".into());
            }
        }
        "webex" => fill(&mut s, "api_url", "webex_api_url"),
        "jira" => {
            fill(&mut s, "api_url", "jira_api_url");
            if !has(&s, "api_url") {
                return Err("no global Jira Cloud URL set".into());
            }
        }
        "rocketchat" => {
            fill(&mut s, "api_url", "rocketchat_api_url");
            fill(&mut s, "token_id", "rocketchat_token_id");
            fill(&mut s, "token_id_file", "rocketchat_token_id_file");
            if !has(&s, "token_id") && !has(&s, "token_id_file") {
                return Err("no global Rocketchat TokenID set either inline or in a file".into());
            }
            fill(&mut s, "token", "rocketchat_token");
            fill(&mut s, "token_file", "rocketchat_token_file");
            if !has(&s, "token") && !has(&s, "token_file") {
                return Err("no global Rocketchat Token set either inline or in a file".into());
            }
        }
        "mattermost" => {
            fill_pair(
                &mut s,
                "webhook_url",
                "webhook_url_file",
                "mattermost_webhook_url",
                "mattermost_webhook_url_file",
            );
            if !has(&s, "webhook_url") && !has(&s, "webhook_url_file") {
                return Err("missing webhook_url or webhook_url_file on mattermost_config".into());
            }
        }
        _ => {}
    }
    let send_resolved = get(y, "send_resolved")
        .and_then(Yaml::as_bool)
        .unwrap_or(RESOLVED_BY_DEFAULT.contains(&kind));
    s.remove("send_resolved");
    // A notifier's own `http_config` replaces the global one (the email notifier has none);
    // a Slack app token is sent as a bearer token.
    let slack_token = (kind == "slack")
        .then(|| {
            s.get("app_token")
                .cloned()
                .map(Secret::Inline)
                .or_else(|| s.get("app_token_file").cloned().map(Secret::File))
        })
        .flatten();
    let authorization = if kind == "email" {
        None
    } else if let Some(token) = slack_token {
        Some(Authorization::Credentials {
            kind: "Bearer".into(),
            credentials: token,
        })
    } else {
        http_authorization(get(y, "http_config").or(global_http))
    };
    let tls = if kind == "email" {
        TlsSettings::read(get(y, "tls_config"))
    } else {
        TlsSettings::read(
            get(y, "http_config")
                .or(global_http)
                .and_then(|h| get(h, "tls_config")),
        )
    };
    let headers = if kind == "email" {
        string_map(get(y, "headers"))
    } else {
        BTreeMap::new()
    };
    Ok(Integration {
        kind: kind.to_string(),
        send_resolved,
        settings: s,
        authorization,
        tls,
        headers,
        templates: Default::default(),
    })
}

/// Kinds whose empty list entry (`- `) is an error rather than an empty notifier.
const NULL_ENTRY_REFUSED: &[&str] = &[
    "webhook",
    "email",
    "pushover",
    "pagerduty",
    "incidentio",
    "victorops",
    "sns",
    "telegram",
    "discord",
    "webex",
    "msteams",
    "msteamsv2",
    "jira",
    "mattermost",
];

pub(super) fn receivers(
    list_y: &[Yaml<'_>],
    g: &BTreeMap<String, String>,
    global_http: Option<&Yaml<'_>>,
) -> Result<Vec<Receiver>, String> {
    let mut out: Vec<Receiver> = Vec::new();
    let empty = Yaml::Mapping(Default::default());
    for y in list_y {
        let name = text(y, "name").unwrap_or_default();
        if out.iter().any(|r| r.name == name) {
            return Err(format!("notification config name {name:?} is not unique"));
        }
        let mut integrations = Vec::new();
        for (key, _) in NOTIFIERS {
            let kind = key.trim_end_matches("_configs");
            for entry in list(get(y, key)) {
                if entry.is_null() && NULL_ENTRY_REFUSED.contains(&kind) {
                    return Err(format!("missing {kind} config"));
                }
                let entry = if entry.is_null() { &empty } else { entry };
                integrations.push(merge(kind, entry, g, global_http)?);
            }
        }
        let mut labels = string_map(get(y, "labels"));
        labels.insert("name".into(), name.clone());
        out.push(Receiver {
            name,
            labels,
            integrations,
        });
    }
    Ok(out)
}
