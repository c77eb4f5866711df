//! An `alertmanager.yml` read as Alertmanager's `config.Load` reads it, so that a file
//! Alertmanager takes loads here and a file it refuses is refused with its words: the checks
//! each part makes while it is decoded (routes, receivers and each notifier, inhibition rules,
//! time intervals), in document order, the first one failing ending the load; then unknown
//! fields, reported with their lines as the strict YAML decoder reports them; then the checks of
//! the whole file (secrets given twice in `global`, notifiers' settings merged with `global`,
//! receivers and time intervals named and used, the root route).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use saphyr::{LoadableYamlNode, MarkedYaml, Yaml, YamlLoader};
use saphyr_parser::Parser;

use super::matchers::{parse_compat, Matcher};
use super::route::Route;
use super::schema::{unknown_fields, CONFIG, NOTIFIERS};
use super::timeinterval::TimeInterval;

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
}

/// A secret given inline or as a file read at each use (so that a rotated file takes effect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// The secret itself.
    Inline(String),
    /// A file holding it (trailing newlines dropped).
    File(String),
}

impl Secret {
    /// The secret's value.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(v) => Ok(v.clone()),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|v| v.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("{path}: {e}")),
        }
    }
}

/// An `http_config`'s authentication, as prometheus/common's HTTP client applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `authorization` (type, `Bearer` by default) or `bearer_token`: `Authorization: <type> <credentials>`.
    Credentials {
        /// The scheme.
        kind: String,
        /// The credentials.
        credentials: Secret,
    },
    /// `basic_auth`.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Secret,
    },
}

impl Authorization {
    /// The `Authorization` header's value.
    pub fn header(&self) -> Result<String, String> {
        match self {
            Authorization::Credentials { kind, credentials } => {
                Ok(format!("{kind} {}", credentials.read()?))
            }
            Authorization::Basic { username, password } => {
                use base64_like::encode;
                Ok(format!(
                    "Basic {}",
                    encode(&format!("{username}:{}", password.read()?))
                ))
            }
        }
    }
}

/// Standard base64 (RFC 4648, with padding), for basic authentication.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(super) fn encode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn encodes_as_rfc_4648() {
            // RFC 4648, section 10.
            for (plain, coded) in [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foob", "Zm9vYg=="),
                ("fooba", "Zm9vYmE="),
                ("foobar", "Zm9vYmFy"),
            ] {
                assert_eq!(super::encode(plain), coded);
            }
        }
    }
}

/// The authentication of an `http_config` node.
fn http_authorization(http: Option<&Yaml<'_>>) -> Option<Authorization> {
    let http = http?;
    let secret = |y: &Yaml<'_>, inline: &str, file: &str| {
        text(y, inline)
            .map(Secret::Inline)
            .or_else(|| text(y, file).map(Secret::File))
    };
    if let Some(a) = get(http, "authorization") {
        let credentials = secret(a, "credentials", "credentials_file")?;
        return Some(Authorization::Credentials {
            kind: text(a, "type").unwrap_or_else(|| "Bearer".into()),
            credentials,
        });
    }
    if let Some(b) = get(http, "basic_auth") {
        return Some(Authorization::Basic {
            username: text(b, "username").unwrap_or_default(),
            password: secret(b, "password", "password_file")
                .unwrap_or(Secret::Inline(String::new())),
        });
    }
    secret(http, "bearer_token", "bearer_token_file").map(|credentials| {
        Authorization::Credentials {
            kind: "Bearer".into(),
            credentials,
        }
    })
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

/// An inhibition rule: alerts matching `target` are muted while an alert matching `source`
/// with the same values of the `equal` labels fires.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// Its name, if it has one.
    pub name: String,
    /// What the muting alert matches.
    pub source: Vec<Matcher>,
    /// What the muted alerts match.
    pub target: Vec<Matcher>,
    /// Labels whose values must be equal.
    pub equal: Vec<String>,
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `global` with Alertmanager's defaults.
    pub global: BTreeMap<String, String>,
    /// How long an alert that is not updated stays firing.
    pub resolve_timeout: Duration,
    /// The routing tree.
    pub route: Route,
    /// The receivers.
    pub receivers: Vec<Receiver>,
    /// Inhibition rules.
    pub inhibit_rules: Vec<InhibitRule>,
    /// Named time intervals (`time_intervals` and `mute_time_intervals`).
    pub time_intervals: BTreeMap<String, Vec<TimeInterval>>,
    /// Template file globs.
    pub templates: Vec<String>,
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

fn classic_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A scalar as text, whatever its YAML type; `None` for null and non-scalars.
fn scalar(y: &Yaml<'_>) -> Option<String> {
    if y.is_null() {
        return None;
    }
    y.as_str()
        .map(str::to_string)
        .or_else(|| y.as_integer().map(|i| i.to_string()))
        .or_else(|| y.as_floating_point().map(|f| f.to_string()))
        .or_else(|| y.as_bool().map(|b| b.to_string()))
}

fn get<'a, 'b>(y: &'a Yaml<'b>, key: &str) -> Option<&'a Yaml<'b>> {
    y.as_mapping_get(key).filter(|v| !v.is_null())
}

/// A non-empty scalar field.
fn text(y: &Yaml<'_>, key: &str) -> Option<String> {
    get(y, key).and_then(scalar).filter(|s| !s.is_empty())
}

fn list<'a, 'b>(y: Option<&'a Yaml<'b>>) -> &'a [Yaml<'b>] {
    y.and_then(Yaml::as_vec).map_or(&[], Vec::as_slice)
}

fn pairs<'a, 'b>(y: Option<&'a Yaml<'b>>) -> Vec<(&'a Yaml<'b>, &'a Yaml<'b>)> {
    y.and_then(Yaml::as_mapping)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

fn string_map(y: Option<&Yaml<'_>>) -> BTreeMap<String, String> {
    pairs(y)
        .into_iter()
        .filter_map(|(k, v)| Some((scalar(k)?, scalar(v).unwrap_or_default())))
        .collect()
}

fn duration(text: &str) -> Result<Duration, String> {
    common::duration::parse_prometheus(text)
        .filter(|ms| *ms >= 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| format!("not a valid duration string: {text:?}"))
}

/// `match_re`-style maps: label names checked, values compiled.
fn check_regex_map(y: Option<&Yaml<'_>>) -> Result<(), String> {
    for (k, v) in pairs(y) {
        let name = scalar(k).unwrap_or_default();
        if !classic_name(&name) {
            return Err(format!("invalid label name {name:?}"));
        }
        let Some(value) = scalar(v) else {
            return Err(format!("invalid regexp value for {name:?}"));
        };
        regex::Regex::new(&format!("^(?:{value})$")).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn check_label_names(y: Option<&Yaml<'_>>) -> Result<(), String> {
    for (k, _) in pairs(y) {
        let name = scalar(k).unwrap_or_default();
        if !classic_name(&name) {
            return Err(format!("invalid label name {name:?}"));
        }
    }
    Ok(())
}

fn check_matcher_lines(y: Option<&Yaml<'_>>) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    for line in list(y) {
        out.extend(parse_compat(&scalar(line).unwrap_or_default())?);
    }
    Ok(out)
}

/// What `Route.UnmarshalYAML` checks, children first (they decode before their parent's checks).
fn check_route(y: &Yaml<'_>) -> Result<(), String> {
    for (k, v) in pairs(Some(y)) {
        match scalar(k).as_deref() {
            Some("match_re") => check_regex_map(Some(v))?,
            Some("matchers") => {
                check_matcher_lines(Some(v))?;
            }
            Some("routes") => {
                for child in list(Some(v)) {
                    if !child.is_null() {
                        check_route(child)?;
                    }
                }
            }
            _ => {}
        }
    }
    check_label_names(get(y, "match"))?;
    let mut all = false;
    let mut labels = Vec::new();
    for g in list(get(y, "group_by")) {
        let g = scalar(g).unwrap_or_default();
        if g == "..." {
            all = true;
        } else if !classic_name(&g) {
            return Err(format!("invalid label name {g:?} in group_by list"));
        } else {
            labels.push(g);
        }
    }
    if all && !labels.is_empty() {
        return Err(
            "cannot have wildcard group_by (`...`) and other labels at the same time".into(),
        );
    }
    let mut seen = BTreeSet::new();
    for l in &labels {
        if !seen.insert(l) {
            return Err(format!("duplicated label {l:?} in group_by"));
        }
    }
    for (key, what) in [
        ("group_interval", "group_interval cannot be zero"),
        ("repeat_interval", "repeat_interval cannot be zero"),
    ] {
        if let Some(v) = get(y, key).and_then(scalar) {
            if duration(&v)?.is_zero() {
                return Err(what.into());
            }
        }
    }
    for (k, _) in pairs(get(y, "labels")) {
        let name = scalar(k).unwrap_or_default();
        if !classic_name(&name) {
            return Err(format!("invalid label name {name:?} in route labels"));
        }
    }
    Ok(())
}

fn check_inhibit_rule(y: &Yaml<'_>) -> Result<(), String> {
    for (k, v) in pairs(Some(y)) {
        match scalar(k).as_deref() {
            Some("source_match_re" | "target_match_re") => check_regex_map(Some(v))?,
            Some("source_matchers" | "target_matchers") => {
                check_matcher_lines(Some(v))?;
            }
            _ => {}
        }
    }
    check_label_names(get(y, "source_match"))?;
    check_label_names(get(y, "target_match"))?;
    for e in list(get(y, "equal")) {
        let e = scalar(e).unwrap_or_default();
        if !classic_name(&e) {
            return Err(format!("invalid label name {e:?} in equal list"));
        }
    }
    Ok(())
}

fn both(y: &Yaml<'_>, a: &str, b: &str) -> Result<(), String> {
    if text(y, a).is_some() && text(y, b).is_some() {
        return Err(format!("at most one of {a} & {b} must be configured"));
    }
    Ok(())
}

fn one_of(y: &Yaml<'_>, a: &str, b: &str) -> Result<(), String> {
    if text(y, a).is_none() && text(y, b).is_none() {
        return Err(format!("one of {a} or {b} must be configured"));
    }
    both(y, a, b)
}

/// What a notifier's own `UnmarshalYAML` checks.
fn check_notifier(kind: &str, y: &Yaml<'_>) -> Result<(), String> {
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
fn check_url(url: &str) -> Result<(), String> {
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

fn check_receiver(y: &Yaml<'_>) -> Result<(), String> {
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

fn check_time_intervals(y: &Yaml<'_>, what: &str) -> Result<Vec<TimeInterval>, String> {
    let mut out = Vec::new();
    for spec in list(get(y, "time_intervals")) {
        out.push(TimeInterval::parse(spec)?);
    }
    if text(y, "name").is_none() {
        return Err(format!("missing name in {what}"));
    }
    Ok(out)
}

/// `global` with its defaults, then its pairs of inline and file secrets checked.
fn global(y: Option<&Yaml<'_>>) -> Result<BTreeMap<String, String>, String> {
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
fn merge(
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
    Ok(Integration {
        kind: kind.to_string(),
        send_resolved,
        settings: s,
        authorization,
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

fn receivers(
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

fn route_names<'a>(y: &'a Yaml<'a>, out: &mut Vec<(String, Vec<String>)>) {
    for child in list(get(y, "routes")) {
        route_names(child, out);
    }
    let mut names: Vec<String> = list(get(y, "active_time_intervals"))
        .iter()
        .filter_map(scalar)
        .collect();
    names.extend(
        list(get(y, "mute_time_intervals"))
            .iter()
            .filter_map(scalar),
    );
    out.push((text(y, "receiver").unwrap_or_default(), names));
}

fn inhibit_rules(list_y: &[Yaml<'_>]) -> Result<Vec<InhibitRule>, String> {
    let mut out = Vec::new();
    for y in list_y {
        let side = |m: &str, re: &str, ms: &str| -> Result<Vec<Matcher>, String> {
            let mut v = Vec::new();
            for (k, val) in string_map(get(y, m)) {
                v.push(Matcher::new(&k, super::matchers::MatchOp::Equal, &val)?);
            }
            for (k, val) in string_map(get(y, re)) {
                v.push(Matcher::new(
                    &k,
                    super::matchers::MatchOp::Regex,
                    &format!("^(?:{val})$"),
                )?);
            }
            v.extend(check_matcher_lines(get(y, ms))?);
            Ok(v)
        };
        out.push(InhibitRule {
            name: text(y, "name").unwrap_or_default(),
            source: side("source_match", "source_match_re", "source_matchers")?,
            target: side("target_match", "target_match_re", "target_matchers")?,
            equal: list(get(y, "equal")).iter().filter_map(scalar).collect(),
        });
    }
    Ok(out)
}

/// Loads a configuration from its text, as Alertmanager's `config.Load`.
pub fn load(text_in: &str) -> Result<Config, String> {
    let docs = Yaml::load_from_str(text_in).map_err(|e| format!("yaml: {e}"))?;
    let Some(root) = docs.first().filter(|d| !d.is_null()) else {
        return Err("no route provided in config".into());
    };
    // What each part checks while it is decoded, in document order.
    let mut intervals: Vec<(&'static str, String, Vec<TimeInterval>)> = Vec::new();
    for (k, v) in pairs(Some(root)) {
        match scalar(k).as_deref() {
            Some("route") if !v.is_null() => check_route(v)?,
            Some("inhibit_rules") => {
                for r in list(Some(v)) {
                    check_inhibit_rule(r)?;
                }
            }
            Some("receivers") => {
                for r in list(Some(v)) {
                    check_receiver(r)?;
                }
            }
            Some(k @ ("time_intervals" | "mute_time_intervals")) => {
                let (key, what) = if k == "time_intervals" {
                    ("time_intervals", "time interval")
                } else {
                    ("mute_time_intervals", "mute time interval")
                };
                for t in list(Some(v)) {
                    let parsed = check_time_intervals(t, what)?;
                    intervals.push((key, text(t, "name").unwrap_or_default(), parsed));
                }
            }
            _ => {}
        }
    }
    // Unknown fields, as the strict decoder reports them.
    let mut parser = Parser::new_from_str(text_in);
    let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
    loader.early_parse(false);
    parser
        .load(&mut loader, true)
        .map_err(|e| format!("yaml: line {}: {}", e.marker().line(), e.info()))?;
    if let Some(marked) = loader.into_documents().first() {
        let mut unknown = Vec::new();
        unknown_fields(marked, &CONFIG, &mut unknown);
        if !unknown.is_empty() {
            return Err(format!(
                "yaml: unmarshal errors:\n  {}",
                unknown.join("\n  ")
            ));
        }
    }
    // The whole file.
    let g = global(get(root, "global"))?;
    let global_http = get(root, "global").and_then(|g| get(g, "http_config"));
    let receivers = receivers(list(get(root, "receivers")), &g, global_http)?;
    let route_y = get(root, "route").ok_or("no routes provided")?;
    if text(route_y, "receiver").is_none() {
        return Err("root route must specify a default receiver".into());
    }
    if ["match", "match_re", "matchers"].iter().any(|k| {
        get(route_y, k).is_some_and(|v| !pairs(Some(v)).is_empty() || !list(Some(v)).is_empty())
    }) {
        return Err("root route must not have any matchers".into());
    }
    if !list(get(route_y, "mute_time_intervals")).is_empty() {
        return Err("root route must not have any mute time intervals".into());
    }
    if !list(get(route_y, "active_time_intervals")).is_empty() {
        return Err("root route must not have any active time intervals".into());
    }
    let mut used = Vec::new();
    route_names(route_y, &mut used);
    for (receiver, _) in &used {
        if !receiver.is_empty() && !receivers.iter().any(|r| &r.name == receiver) {
            return Err(format!("undefined receiver {receiver:?} used in route"));
        }
    }
    let mut time_intervals = BTreeMap::new();
    for key in ["mute_time_intervals", "time_intervals"] {
        for (_, name, parsed) in intervals.iter().filter(|(k, _, _)| *k == key) {
            if time_intervals
                .insert(name.clone(), parsed.clone())
                .is_some()
            {
                let what = if key == "time_intervals" {
                    "time interval"
                } else {
                    "mute time interval"
                };
                return Err(format!("{what} {name:?} is not unique"));
            }
        }
    }
    for (_, names) in &used {
        for n in names {
            if !time_intervals.contains_key(n) {
                return Err(format!("undefined time interval {n:?} used in route"));
            }
        }
    }
    if get(route_y, "continue").and_then(Yaml::as_bool) == Some(true) {
        return Err("cannot have continue in root route".into());
    }
    let route = Route::root(route_y)?;
    Ok(Config {
        resolve_timeout: duration(g.get("resolve_timeout").map_or("5m", String::as_str))?,
        global: g,
        route,
        receivers,
        inhibit_rules: inhibit_rules(list(get(root, "inhibit_rules")))?,
        time_intervals,
        templates: list(get(root, "templates"))
            .iter()
            .filter_map(scalar)
            .collect(),
    })
}

/// What `check_files` printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOutcome {
    /// 0 when every file loads, 1 otherwise.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Checks configuration files as `amtool check-config` does: each file loaded, what it holds
/// summarised, the error of a file that does not load.
pub fn check_files(files: &[std::path::PathBuf]) -> CheckOutcome {
    use std::fmt::Write as _;
    let mut out = CheckOutcome::default();
    let mut failed = 0;
    for path in files {
        let loaded = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| load(&text));
        match loaded {
            Ok(c) => {
                let _ = writeln!(out.stdout, "Checking '{}'  SUCCESS", path.display());
                let _ = writeln!(out.stdout, "Found:");
                let _ = writeln!(out.stdout, " - global config");
                let _ = writeln!(out.stdout, " - route");
                let _ = writeln!(out.stdout, " - {} inhibit rules", c.inhibit_rules.len());
                let _ = writeln!(out.stdout, " - {} receivers", c.receivers.len());
                let _ = writeln!(out.stdout, " - {} templates", c.templates.len());
                out.stdout.push('\n');
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(out.stdout, "Checking '{}'  FAILED: {e}", path.display());
                out.stdout.push('\n');
            }
        }
    }
    if failed > 0 {
        out.exit_code = 1;
        let _ = writeln!(
            out.stderr,
            "vigil: error: failed to validate {failed} file(s)"
        );
    }
    out
}
