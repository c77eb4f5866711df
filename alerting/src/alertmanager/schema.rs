//! The fields each part of an Alertmanager configuration may hold, named by the Go type that
//! Alertmanager's strict YAML decoder names in `field X not found in type T` (`config.plain`,
//! `opsgenie.plain` …), and the check that reports every unknown field with its line, as
//! `yaml.UnmarshalStrict` reports them.

use crate::yaml::{entries, is_null, pos, scalar, untagged, Node};
use saphyr::YamlData;

/// A mapping type: its Go name and its fields.
pub(crate) struct Ty {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [(&'static str, Sub)],
}

/// What a field holds.
pub(crate) enum Sub {
    /// A scalar, or anything not checked further.
    Leaf,
    /// A mapping of a type.
    Ty(&'static Ty),
    /// A list of mappings of a type.
    List(&'static Ty),
}

use Sub::{Leaf, List, Ty as T};

/// Every unknown field under `node`, read as `ty`, in document order.
pub(crate) fn unknown_fields(node: &Node<'_>, ty: &Ty, out: &mut Vec<String>) {
    if is_null(node) {
        return;
    }
    let Some(entries) = entries(node) else {
        return;
    };
    for (k, v) in entries {
        let Some((name, _)) = scalar(k) else {
            continue;
        };
        match ty.fields.iter().find(|(f, _)| *f == name) {
            None => out.push(format!(
                "line {}: field {name} not found in type {}",
                pos(k).line,
                ty.name
            )),
            Some((_, Leaf)) => {}
            Some((_, T(sub))) => unknown_fields(v, sub, out),
            Some((_, List(sub))) => {
                if let YamlData::Sequence(items) = &untagged(v).data {
                    for item in items {
                        unknown_fields(item, sub, out);
                    }
                }
            }
        }
    }
}

pub(crate) static TLS: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("ca", Leaf),
        ("ca_file", Leaf),
        ("ca_ref", Leaf),
        ("cert", Leaf),
        ("cert_file", Leaf),
        ("cert_ref", Leaf),
        ("key", Leaf),
        ("key_file", Leaf),
        ("key_ref", Leaf),
        ("server_name", Leaf),
        ("insecure_skip_verify", Leaf),
        ("min_version", Leaf),
        ("max_version", Leaf),
        ("next_protos", Leaf),
    ],
};

static BASIC_AUTH: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("username", Leaf),
        ("username_file", Leaf),
        ("username_ref", Leaf),
        ("password", Leaf),
        ("password_file", Leaf),
        ("password_ref", Leaf),
    ],
};

static AUTHORIZATION: Ty = Ty {
    name: "config.Authorization",
    fields: &[
        ("type", Leaf),
        ("credentials", Leaf),
        ("credentials_file", Leaf),
        ("credentials_ref", Leaf),
    ],
};

static OAUTH2: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("client_id", Leaf),
        ("client_secret", Leaf),
        ("client_secret_file", Leaf),
        ("client_secret_ref", Leaf),
        ("scopes", Leaf),
        ("token_url", Leaf),
        ("endpoint_params", Leaf),
        ("tls_config", T(&TLS)),
        ("proxy_url", Leaf),
        ("no_proxy", Leaf),
        ("proxy_from_environment", Leaf),
        ("proxy_connect_header", Leaf),
    ],
};

pub(crate) static HTTP: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("basic_auth", T(&BASIC_AUTH)),
        ("authorization", T(&AUTHORIZATION)),
        ("oauth2", T(&OAUTH2)),
        ("bearer_token", Leaf),
        ("bearer_token_file", Leaf),
        ("tls_config", T(&TLS)),
        ("follow_redirects", Leaf),
        ("enable_http2", Leaf),
        ("http_headers", Leaf),
        ("proxy_url", Leaf),
        ("no_proxy", Leaf),
        ("proxy_from_environment", Leaf),
        ("proxy_connect_header", Leaf),
    ],
};

static GLOBAL: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("resolve_timeout", Leaf),
        ("http_config", T(&HTTP)),
        ("jira_api_url", Leaf),
        ("smtp_from", Leaf),
        ("smtp_hello", Leaf),
        ("smtp_smarthost", Leaf),
        ("smtp_auth_username", Leaf),
        ("smtp_auth_password", Leaf),
        ("smtp_auth_password_file", Leaf),
        ("smtp_auth_secret", Leaf),
        ("smtp_auth_secret_file", Leaf),
        ("smtp_auth_identity", Leaf),
        ("smtp_require_tls", Leaf),
        ("smtp_tls_config", T(&TLS)),
        ("smtp_force_implicit_tls", Leaf),
        ("slack_api_url", Leaf),
        ("slack_api_url_file", Leaf),
        ("slack_app_token", Leaf),
        ("slack_app_token_file", Leaf),
        ("slack_app_url", Leaf),
        ("pagerduty_url", Leaf),
        ("opsgenie_api_url", Leaf),
        ("opsgenie_api_key", Leaf),
        ("opsgenie_api_key_file", Leaf),
        ("wechat_api_url", Leaf),
        ("wechat_api_secret", Leaf),
        ("wechat_api_secret_file", Leaf),
        ("wechat_api_corp_id", Leaf),
        ("victorops_api_url", Leaf),
        ("victorops_api_key", Leaf),
        ("victorops_api_key_file", Leaf),
        ("telegram_api_url", Leaf),
        ("telegram_bot_token", Leaf),
        ("telegram_bot_token_file", Leaf),
        ("webex_api_url", Leaf),
        ("rocketchat_api_url", Leaf),
        ("rocketchat_token", Leaf),
        ("rocketchat_token_file", Leaf),
        ("rocketchat_token_id", Leaf),
        ("rocketchat_token_id_file", Leaf),
        ("mattermost_webhook_url", Leaf),
        ("mattermost_webhook_url_file", Leaf),
    ],
};

static ROUTE: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("receiver", Leaf),
        ("group_by", Leaf),
        ("match", Leaf),
        ("match_re", Leaf),
        ("matchers", Leaf),
        ("mute_time_intervals", Leaf),
        ("active_time_intervals", Leaf),
        ("continue", Leaf),
        ("routes", List(&ROUTE)),
        ("group_wait", Leaf),
        ("group_interval", Leaf),
        ("repeat_interval", Leaf),
        ("labels", Leaf),
    ],
};

static INHIBIT: Ty = Ty {
    name: "common.plain",
    fields: &[
        ("name", Leaf),
        ("source_match", Leaf),
        ("source_match_re", Leaf),
        ("source_matchers", Leaf),
        ("target_match", Leaf),
        ("target_match_re", Leaf),
        ("target_matchers", Leaf),
        ("equal", Leaf),
    ],
};

static TIME_SPEC: Ty = Ty {
    name: "timeinterval.plain",
    fields: &[
        ("times", Leaf),
        ("weekdays", Leaf),
        ("days_of_month", Leaf),
        ("months", Leaf),
        ("years", Leaf),
        ("location", Leaf),
    ],
};

static TIME_INTERVAL: Ty = Ty {
    name: "config.plain",
    fields: &[("name", Leaf), ("time_intervals", List(&TIME_SPEC))],
};

/// A notifier type: its list key in a receiver and its schema.
macro_rules! notifier {
    ($id:ident, $go:expr, [$($f:expr),* $(,)?]) => {
        static $id: Ty = Ty {
            name: $go,
            fields: &[("send_resolved", Leaf), ("http_config", T(&HTTP)), $($f),*],
        };
    };
}

notifier!(
    WEBHOOK,
    "webhook.plain",
    [
        ("url", Leaf),
        ("url_file", Leaf),
        ("max_alerts", Leaf),
        ("timeout", Leaf),
        ("payload", Leaf),
        // Vigil's extension: an HMAC-SHA256 signature of each body (docs/0021).
        ("vigil_hmac_secret", Leaf),
        ("vigil_hmac_secret_file", Leaf),
    ]
);

static EMAIL_THREADING: Ty = Ty {
    name: "email.ThreadingConfig",
    fields: &[("enabled", Leaf), ("thread_by_date", Leaf)],
};

static EMAIL: Ty = Ty {
    name: "email.plain",
    fields: &[
        ("send_resolved", Leaf),
        ("to", Leaf),
        ("from", Leaf),
        ("hello", Leaf),
        ("smarthost", Leaf),
        ("auth_username", Leaf),
        ("auth_password", Leaf),
        ("auth_password_file", Leaf),
        ("auth_secret", Leaf),
        ("auth_secret_file", Leaf),
        ("auth_identity", Leaf),
        ("headers", Leaf),
        ("html", Leaf),
        ("text", Leaf),
        ("require_tls", Leaf),
        ("tls_config", T(&TLS)),
        ("force_implicit_tls", Leaf),
        ("threading", T(&EMAIL_THREADING)),
    ],
};

static PD_IMAGE: Ty = Ty {
    name: "pagerduty.PagerdutyImage",
    fields: &[("src", Leaf), ("alt", Leaf), ("href", Leaf)],
};
static PD_LINK: Ty = Ty {
    name: "pagerduty.PagerdutyLink",
    fields: &[("href", Leaf), ("text", Leaf)],
};
notifier!(
    PAGERDUTY,
    "pagerduty.plain",
    [
        ("service_key", Leaf),
        ("service_key_file", Leaf),
        ("routing_key", Leaf),
        ("routing_key_file", Leaf),
        ("url", Leaf),
        ("client", Leaf),
        ("client_url", Leaf),
        ("description", Leaf),
        ("details", Leaf),
        ("images", List(&PD_IMAGE)),
        ("links", List(&PD_LINK)),
        ("source", Leaf),
        ("severity", Leaf),
        ("class", Leaf),
        ("component", Leaf),
        ("group", Leaf),
        ("timeout", Leaf),
    ]
);

static SLACK_FIELD: Ty = Ty {
    name: "slack.plain",
    fields: &[("title", Leaf), ("value", Leaf), ("short", Leaf)],
};
static SLACK_CONFIRM: Ty = Ty {
    name: "slack.plain",
    fields: &[
        ("text", Leaf),
        ("title", Leaf),
        ("ok_text", Leaf),
        ("dismiss_text", Leaf),
    ],
};
static SLACK_ACTION: Ty = Ty {
    name: "slack.plain",
    fields: &[
        ("type", Leaf),
        ("text", Leaf),
        ("url", Leaf),
        ("style", Leaf),
        ("name", Leaf),
        ("value", Leaf),
        ("confirm", T(&SLACK_CONFIRM)),
    ],
};
notifier!(
    SLACK,
    "slack.plain",
    [
        ("api_url", Leaf),
        ("api_url_file", Leaf),
        ("app_token", Leaf),
        ("app_token_file", Leaf),
        ("app_url", Leaf),
        ("channel", Leaf),
        ("username", Leaf),
        ("color", Leaf),
        ("title", Leaf),
        ("title_link", Leaf),
        ("pretext", Leaf),
        ("text", Leaf),
        ("message_text", Leaf),
        ("fields", List(&SLACK_FIELD)),
        ("short_fields", Leaf),
        ("footer", Leaf),
        ("fallback", Leaf),
        ("callback_id", Leaf),
        ("icon_emoji", Leaf),
        ("icon_url", Leaf),
        ("image_url", Leaf),
        ("thumb_url", Leaf),
        ("link_names", Leaf),
        ("mrkdwn_in", Leaf),
        ("actions", List(&SLACK_ACTION)),
        ("update_message", Leaf),
        ("timeout", Leaf),
    ]
);

static OPSGENIE_RESPONDER: Ty = Ty {
    name: "opsgenie.OpsGenieConfigResponder",
    fields: &[
        ("id", Leaf),
        ("name", Leaf),
        ("username", Leaf),
        ("type", Leaf),
    ],
};
notifier!(
    OPSGENIE,
    "opsgenie.plain",
    [
        ("api_key", Leaf),
        ("api_key_file", Leaf),
        ("api_url", Leaf),
        ("message", Leaf),
        ("description", Leaf),
        ("source", Leaf),
        ("details", Leaf),
        ("entity", Leaf),
        ("responders", List(&OPSGENIE_RESPONDER)),
        ("actions", Leaf),
        ("tags", Leaf),
        ("note", Leaf),
        ("priority", Leaf),
        ("update_alerts", Leaf),
    ]
);

notifier!(
    WECHAT,
    "wechat.plain",
    [
        ("api_secret", Leaf),
        ("api_secret_file", Leaf),
        ("corp_id", Leaf),
        ("message", Leaf),
        ("api_url", Leaf),
        ("to_user", Leaf),
        ("to_party", Leaf),
        ("to_tag", Leaf),
        ("agent_id", Leaf),
        ("message_type", Leaf),
    ]
);

notifier!(
    PUSHOVER,
    "pushover.plain",
    [
        ("user_key", Leaf),
        ("user_key_file", Leaf),
        ("token", Leaf),
        ("token_file", Leaf),
        ("title", Leaf),
        ("message", Leaf),
        ("url", Leaf),
        ("url_title", Leaf),
        ("device", Leaf),
        ("sound", Leaf),
        ("priority", Leaf),
        ("retry", Leaf),
        ("expire", Leaf),
        ("ttl", Leaf),
        ("html", Leaf),
        ("monospace", Leaf),
    ]
);

notifier!(
    VICTOROPS,
    "victorops.plain",
    [
        ("api_key", Leaf),
        ("api_key_file", Leaf),
        ("api_url", Leaf),
        ("routing_key", Leaf),
        ("message_type", Leaf),
        ("state_message", Leaf),
        ("entity_display_name", Leaf),
        ("monitoring_tool", Leaf),
        ("custom_fields", Leaf),
    ]
);

static SIGV4: Ty = Ty {
    name: "sigv4.plain",
    fields: &[
        ("region", Leaf),
        ("access_key", Leaf),
        ("secret_key", Leaf),
        ("profile", Leaf),
        ("role_arn", Leaf),
        ("service", Leaf),
        ("use_fips_sts_endpoint", Leaf),
        ("external_id", Leaf),
    ],
};
notifier!(
    SNS,
    "sns.plain",
    [
        ("api_url", Leaf),
        ("sigv4", T(&SIGV4)),
        ("topic_arn", Leaf),
        ("phone_number", Leaf),
        ("target_arn", Leaf),
        ("subject", Leaf),
        ("message", Leaf),
        ("attributes", Leaf),
        ("use_aws_http_client", Leaf),
    ]
);

notifier!(
    TELEGRAM,
    "telegram.plain",
    [
        ("api_url", Leaf),
        ("bot_token", Leaf),
        ("bot_token_file", Leaf),
        ("chat_id", Leaf),
        ("chat_id_file", Leaf),
        ("message_thread_id", Leaf),
        ("message", Leaf),
        ("disable_notifications", Leaf),
        ("parse_mode", Leaf),
        ("timeout", Leaf),
    ]
);

notifier!(
    DISCORD,
    "discord.plain",
    [
        ("webhook_url", Leaf),
        ("webhook_url_file", Leaf),
        ("content", Leaf),
        ("title", Leaf),
        ("message", Leaf),
        ("username", Leaf),
        ("avatar_url", Leaf),
    ]
);

notifier!(
    WEBEX,
    "webex.plain",
    [("api_url", Leaf), ("message", Leaf), ("room_id", Leaf)]
);

notifier!(
    MSTEAMS,
    "msteams.plain",
    [
        ("webhook_url", Leaf),
        ("webhook_url_file", Leaf),
        ("title", Leaf),
        ("summary", Leaf),
        ("text", Leaf),
    ]
);

notifier!(
    MSTEAMSV2,
    "msteamsv2.plain",
    [
        ("webhook_url", Leaf),
        ("webhook_url_file", Leaf),
        ("title", Leaf),
        ("text", Leaf),
    ]
);

notifier!(
    JIRA,
    "jira.plain",
    [
        ("api_url", Leaf),
        ("api_type", Leaf),
        ("project", Leaf),
        ("summary", Leaf),
        ("description", Leaf),
        ("labels", Leaf),
        ("priority", Leaf),
        ("issue_type", Leaf),
        ("reopen_transition", Leaf),
        ("resolve_transition", Leaf),
        ("wont_fix_resolution", Leaf),
        ("reopen_duration", Leaf),
        ("fields", Leaf),
    ]
);

static ROCKET_FIELD: Ty = Ty {
    name: "rocketchat.RocketchatAttachmentField",
    fields: &[("short", Leaf), ("title", Leaf), ("value", Leaf)],
};
static ROCKET_ACTION: Ty = Ty {
    name: "rocketchat.RocketchatAttachmentAction",
    fields: &[
        ("type", Leaf),
        ("text", Leaf),
        ("url", Leaf),
        ("imageurl", Leaf),
        ("iswebview", Leaf),
        ("webviewheightratio", Leaf),
        ("msg", Leaf),
        ("msginchatwindow", Leaf),
        ("msgprocessingtype", Leaf),
    ],
};
notifier!(
    ROCKETCHAT,
    "rocketchat.plain",
    [
        ("api_url", Leaf),
        ("token_id", Leaf),
        ("token_id_file", Leaf),
        ("token", Leaf),
        ("token_file", Leaf),
        ("channel", Leaf),
        ("color", Leaf),
        ("title", Leaf),
        ("title_link", Leaf),
        ("text", Leaf),
        ("fields", List(&ROCKET_FIELD)),
        ("short_fields", Leaf),
        ("emoji", Leaf),
        ("icon_url", Leaf),
        ("image_url", Leaf),
        ("thumb_url", Leaf),
        ("link_names", Leaf),
        ("actions", List(&ROCKET_ACTION)),
    ]
);

static MM_FIELD: Ty = Ty {
    name: "mattermost.plain",
    fields: &[("title", Leaf), ("value", Leaf), ("short", Leaf)],
};
static MM_ATTACHMENT: Ty = Ty {
    name: "mattermost.MattermostAttachment",
    fields: &[
        ("fallback", Leaf),
        ("color", Leaf),
        ("pretext", Leaf),
        ("text", Leaf),
        ("author_name", Leaf),
        ("author_link", Leaf),
        ("author_icon", Leaf),
        ("title", Leaf),
        ("title_link", Leaf),
        ("fields", List(&MM_FIELD)),
        ("thumb_url", Leaf),
        ("footer", Leaf),
        ("footer_icon", Leaf),
        ("image_url", Leaf),
    ],
};
static MM_PROPS: Ty = Ty {
    name: "mattermost.MattermostProps",
    fields: &[("card", Leaf)],
};
static MM_PRIORITY: Ty = Ty {
    name: "mattermost.MattermostPriority",
    fields: &[
        ("priority", Leaf),
        ("requested_ack", Leaf),
        ("persistent_notifications", Leaf),
    ],
};
notifier!(
    MATTERMOST,
    "mattermost.plain",
    [
        ("webhook_url", Leaf),
        ("webhook_url_file", Leaf),
        ("channel", Leaf),
        ("username", Leaf),
        ("text", Leaf),
        ("fallback", Leaf),
        ("color", Leaf),
        ("pretext", Leaf),
        ("author_name", Leaf),
        ("author_link", Leaf),
        ("author_icon", Leaf),
        ("title", Leaf),
        ("title_link", Leaf),
        ("fields", List(&MM_FIELD)),
        ("thumb_url", Leaf),
        ("footer", Leaf),
        ("footer_icon", Leaf),
        ("image_url", Leaf),
        ("icon_url", Leaf),
        ("icon_emoji", Leaf),
        ("attachments", List(&MM_ATTACHMENT)),
        ("type", Leaf),
        ("props", T(&MM_PROPS)),
        ("priority", T(&MM_PRIORITY)),
    ]
);

notifier!(
    INCIDENTIO,
    "incidentio.plain",
    [
        ("url", Leaf),
        ("url_file", Leaf),
        ("alert_source_token", Leaf),
        ("alert_source_token_file", Leaf),
        ("max_alerts", Leaf),
        ("timeout", Leaf),
    ]
);

/// The notifier list keys of a receiver, in the order Alertmanager checks them.
pub(crate) const NOTIFIERS: &[(&str, &Ty)] = &[
    ("webhook_configs", &WEBHOOK),
    ("email_configs", &EMAIL),
    ("slack_configs", &SLACK),
    ("pushover_configs", &PUSHOVER),
    ("pagerduty_configs", &PAGERDUTY),
    ("incidentio_configs", &INCIDENTIO),
    ("opsgenie_configs", &OPSGENIE),
    ("wechat_configs", &WECHAT),
    ("victorops_configs", &VICTOROPS),
    ("sns_configs", &SNS),
    ("telegram_configs", &TELEGRAM),
    ("discord_configs", &DISCORD),
    ("webex_configs", &WEBEX),
    ("msteams_configs", &MSTEAMS),
    ("msteamsv2_configs", &MSTEAMSV2),
    ("jira_configs", &JIRA),
    ("rocketchat_configs", &ROCKETCHAT),
    ("mattermost_configs", &MATTERMOST),
];

static RECEIVER: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("name", Leaf),
        ("labels", Leaf),
        ("webhook_configs", List(&WEBHOOK)),
        ("email_configs", List(&EMAIL)),
        ("slack_configs", List(&SLACK)),
        ("pushover_configs", List(&PUSHOVER)),
        ("pagerduty_configs", List(&PAGERDUTY)),
        ("incidentio_configs", List(&INCIDENTIO)),
        ("opsgenie_configs", List(&OPSGENIE)),
        ("wechat_configs", List(&WECHAT)),
        ("victorops_configs", List(&VICTOROPS)),
        ("sns_configs", List(&SNS)),
        ("telegram_configs", List(&TELEGRAM)),
        ("discord_configs", List(&DISCORD)),
        ("webex_configs", List(&WEBEX)),
        ("msteams_configs", List(&MSTEAMS)),
        ("msteamsv2_configs", List(&MSTEAMSV2)),
        ("jira_configs", List(&JIRA)),
        ("rocketchat_configs", List(&ROCKETCHAT)),
        ("mattermost_configs", List(&MATTERMOST)),
    ],
};

/// The whole configuration file.
pub(crate) static CONFIG: Ty = Ty {
    name: "config.plain",
    fields: &[
        ("global", T(&GLOBAL)),
        ("route", T(&ROUTE)),
        ("inhibit_rules", List(&INHIBIT)),
        ("receivers", List(&RECEIVER)),
        ("templates", Leaf),
        ("mute_time_intervals", List(&TIME_INTERVAL)),
        ("time_intervals", List(&TIME_INTERVAL)),
        ("tracing", Leaf),
        ("event_recorder", Leaf),
    ],
};
