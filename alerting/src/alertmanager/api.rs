//! The Alertmanager v2 API on port 9700, as `amtool`, Grafana and Prometheus's notifier call
//! it: `GET`/`POST /api/v2/alerts`, `GET /api/v2/alerts/groups`, `GET`/`POST /api/v2/silences`,
//! `GET`/`DELETE /api/v2/silence/{id}`, `GET /api/v2/status`, `GET /api/v2/receivers`. One
//! Alertmanager per tenant (`X-Scope-OrgID`), all with the configured routing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::Tenant;
use parking_lot::Mutex;
use query::kit::{instrument, json, tenant, Params};
use serde_json::{json, Value as Json};
use tokio::sync::watch;

use super::alert::{Alert, LabelSet};
use super::config::{load_in, Config};
use super::dispatch::{new_id, AlertStatus, Alertmanager, Notifier, Silence};
use super::matchers::{parse_compat, MatchOp, Matcher};
use super::store::Store;
use crate::timefmt::{parse_rfc3339, rfc3339};

/// What an `alertmanager.yml` without routes of its own gives: every alert kept and listed,
/// none sent.
pub const DEFAULT_CONFIG: &str = "route:\n  receiver: default\nreceivers:\n  - name: default\n";

/// The Alertmanagers of all tenants, created as tenants first send alerts.
pub struct Alertmanagers {
    config: parking_lot::RwLock<(Arc<Config>, String)>,
    notifier: Arc<dyn Notifier>,
    external_url: String,
    started: i64,
    tenants: Mutex<BTreeMap<Tenant, Arc<Alertmanager>>>,
    stop: watch::Receiver<bool>,
    state_dir: Option<std::path::PathBuf>,
    /// The folder relative template globs are taken from.
    config_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Alertmanagers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanagers")
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

impl Alertmanagers {
    /// Alertmanagers routing by the configuration `text` (`None`: [`DEFAULT_CONFIG`]; its
    /// relative template globs taken from `config_dir`), sending
    /// through `notifier`, keeping each tenant's silences and notification log under
    /// `state_dir` (in memory only when `None`); their dispatchers stop with `stop`. The
    /// tenants found under `state_dir` start at once, so that what they had pending goes out.
    pub fn new(
        text: Option<String>,
        config_dir: Option<std::path::PathBuf>,
        notifier: Arc<dyn Notifier>,
        external_url: &str,
        stop: watch::Receiver<bool>,
        state_dir: Option<std::path::PathBuf>,
    ) -> Result<Self, String> {
        let text = text.unwrap_or_else(|| DEFAULT_CONFIG.to_string());
        let config = Arc::new(load_in(&text, config_dir.as_deref())?);
        let ams = Self {
            config_dir,
            config: parking_lot::RwLock::new((config, text)),
            notifier,
            external_url: external_url.to_string(),
            started: now_ms(),
            tenants: Mutex::new(BTreeMap::new()),
            stop,
            state_dir,
        };
        if let Some(dir) = &ams.state_dir {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if let Some(t) = e.file_name().to_str().and_then(|n| Tenant::new(n).ok()) {
                        ams.open(&t)?;
                    }
                }
            }
        }
        Ok(ams)
    }

    fn open(&self, tenant: &Tenant) -> Result<Arc<Alertmanager>, String> {
        let mut tenants = self.tenants.lock();
        if let Some(am) = tenants.get(tenant) {
            return Ok(Arc::clone(am));
        }
        let store = match &self.state_dir {
            Some(dir) => Some(Store::open(&dir.join(tenant.as_str()))?),
            None => None,
        };
        let am = Arc::new(Alertmanager::new(
            Arc::clone(&self.config.read().0),
            Arc::clone(&self.notifier),
            &self.external_url,
            store,
        ));
        tokio::spawn(Arc::clone(&am).run(self.stop.clone()));
        tenants.insert(tenant.clone(), Arc::clone(&am));
        Ok(am)
    }

    /// Loads the configuration `text` (`None`: [`DEFAULT_CONFIG`]) and, when it loads, routes
    /// every tenant's alerts by it from now on; when it does not, nothing changes and the
    /// error says why.
    pub fn reload(&self, text: Option<String>) -> Result<(), String> {
        let text = text.unwrap_or_else(|| DEFAULT_CONFIG.to_string());
        let config = Arc::new(load_in(&text, self.config_dir.as_deref())?);
        *self.config.write() = (Arc::clone(&config), text);
        for am in self.tenants.lock().values() {
            am.set_config(Arc::clone(&config), now_ms());
        }
        Ok(())
    }

    /// The Alertmanager of `tenant`, started on first use. A store that cannot be opened
    /// leaves the tenant's Alertmanager in memory, and says so in the log.
    pub fn tenant(&self, tenant: &Tenant) -> Arc<Alertmanager> {
        match self.open(tenant) {
            Ok(am) => am,
            Err(e) => {
                tracing::error!(tenant = %tenant, error = %e, "opening the Alertmanager state failed; this tenant's silences and notification log are kept in memory only");
                let am = Arc::new(Alertmanager::new(
                    Arc::clone(&self.config.read().0),
                    Arc::clone(&self.notifier),
                    &self.external_url,
                    None,
                ));
                tokio::spawn(Arc::clone(&am).run(self.stop.clone()));
                self.tenants.lock().insert(tenant.clone(), Arc::clone(&am));
                am
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The v2 API over `ams`.
pub fn alertmanager_router(ams: Arc<Alertmanagers>) -> Router {
    instrument(
        "alertmanager",
        Router::new()
            .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
            .route("/api/v2/alerts/groups", get(get_groups))
            .route("/api/v2/silences", get(get_silences).post(post_silence))
            .route(
                "/api/v2/silence/{id}",
                get(get_silence).delete(delete_silence),
            )
            .route("/api/v2/status", get(status))
            .route("/api/v2/receivers", get(receivers))
            .with_state(ams),
    )
}

/// A 400 as Alertmanager's API answers it: the message as a JSON string.
fn bad_request(message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        Json::String(message.to_string()).to_string(),
    )
}

fn ok(body: &Json) -> Response {
    json(StatusCode::OK, body.to_string())
}

fn tenant_am(ams: &Alertmanagers, headers: &HeaderMap) -> Result<Arc<Alertmanager>, Box<Response>> {
    let t = tenant(headers).map_err(|e| Box::new(bad_request(&e.client_message())))?;
    Ok(ams.tenant(&t))
}

fn labels_json(m: &BTreeMap<String, String>) -> Json {
    serde_json::to_value(m).unwrap_or_default()
}

fn alert_json(s: &AlertStatus, now: i64) -> Json {
    let a = &s.alert;
    let state = if a.resolved(now) {
        "unprocessed"
    } else if s.silenced_by.is_empty() && s.inhibited_by.is_empty() {
        "active"
    } else {
        "suppressed"
    };
    json!({
        "annotations": labels_json(&a.annotations),
        "endsAt": rfc3339(Some(a.ends_at)),
        "fingerprint": format!("{:016x}", a.fingerprint()),
        "receivers": s.receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "startsAt": rfc3339(Some(a.starts_at)),
        "status": {
            "inhibitedBy": s.inhibited_by,
            "silencedBy": s.silenced_by,
            "mutedBy": [],
            "state": state,
        },
        "updatedAt": rfc3339(Some(a.updated_at)),
        "generatorURL": a.generator_url,
        "labels": labels_json(&a.labels),
    })
}

/// The alert filters of `/api/v2/alerts` and `/alerts/groups`.
struct AlertFilter {
    matchers: Vec<Matcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
    receiver: Option<regex::Regex>,
}

fn flag(params: &Params, key: &str) -> Result<bool, String> {
    match params.get(key) {
        None | Some("") | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(format!("{key} in query must be of type boolean: {v:?}")),
    }
}

impl AlertFilter {
    fn from(params: &Params) -> Result<Self, String> {
        let mut matchers = Vec::new();
        for f in params.all("filter") {
            matchers.extend(parse_compat(f)?);
        }
        let receiver = params
            .get("receiver")
            .filter(|r| !r.is_empty())
            .map(|r| regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| e.to_string()))
            .transpose()?;
        Ok(Self {
            matchers,
            active: flag(params, "active")?,
            silenced: flag(params, "silenced")?,
            inhibited: flag(params, "inhibited")?,
            receiver,
        })
    }

    fn keep(&self, s: &AlertStatus, now: i64) -> bool {
        let suppressed = !s.silenced_by.is_empty() || !s.inhibited_by.is_empty();
        if s.alert.resolved(now) {
            return false;
        }
        if !self.active && !suppressed {
            return false;
        }
        if !self.silenced && !s.silenced_by.is_empty() {
            return false;
        }
        if !self.inhibited && !s.inhibited_by.is_empty() {
            return false;
        }
        if let Some(re) = &self.receiver {
            if !s.receivers.iter().any(|r| re.is_match(r)) {
                return false;
            }
        }
        super::route::matches_all(&self.matchers, &s.alert.labels)
    }
}

/// The tenant's Alertmanager and the alert filter of a request.
fn filtered(
    ams: &Alertmanagers,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(Arc<Alertmanager>, AlertFilter), Box<Response>> {
    let am = tenant_am(ams, headers)?;
    let params = Params::from(query, headers, &[]);
    let filter = AlertFilter::from(&params).map_err(|e| Box::new(bad_request(&e)))?;
    Ok((am, filter))
}

async fn get_alerts(
    State(ams): State<Arc<Alertmanagers>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (am, filter) = match filtered(&ams, q.as_deref(), &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let now = now_ms();
    let list: Vec<Json> = am
        .alerts(now)
        .iter()
        .filter(|s| filter.keep(s, now))
        .map(|s| alert_json(s, now))
        .collect();
    ok(&Json::Array(list))
}

async fn get_groups(
    State(ams): State<Arc<Alertmanagers>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (am, filter) = match filtered(&ams, q.as_deref(), &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let now = now_ms();
    let statuses: BTreeMap<u64, AlertStatus> = am
        .alerts(now)
        .into_iter()
        .map(|s| (s.alert.fingerprint(), s))
        .collect();
    let groups: Vec<Json> = am
        .groups()
        .iter()
        .filter_map(|g| {
            let alerts: Vec<Json> = g
                .alerts
                .iter()
                .filter_map(|fp| statuses.get(fp))
                .filter(|s| filter.keep(s, now))
                .map(|s| alert_json(s, now))
                .collect();
            (!alerts.is_empty()).then(|| {
                json!({
                    "labels": labels_json(&g.labels),
                    "routeLabels": {},
                    "receiver": {"name": g.receiver},
                    "alerts": alerts,
                })
            })
        })
        .collect();
    ok(&Json::Array(groups))
}

fn string_map(v: Option<&Json>) -> Result<BTreeMap<String, String>, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let obj = v
        .as_object()
        .ok_or("labels and annotations must be objects")?;
    obj.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_string()))
                .ok_or_else(|| format!("value of {k:?} must be a string"))
        })
        .collect()
}

fn time_field(v: &Json, key: &str) -> Result<Option<i64>, String> {
    match v.get(key).and_then(Json::as_str) {
        None | Some("") => Ok(None),
        Some(s) => parse_rfc3339(s),
    }
}

/// One alert of a `POST /api/v2/alerts` body, as Alertmanager takes it.
fn postable(v: &Json, now: i64, resolve_timeout: i64) -> Result<Alert, String> {
    // Labels with empty values are dropped, as Alertmanager's `removeEmptyLabels` does.
    let labels: LabelSet = string_map(v.get("labels"))?
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if labels.is_empty() {
        return Err("at least one label pair required".into());
    }
    if let Some(k) = labels.keys().find(|k| k.is_empty()) {
        return Err(format!("invalid label set: invalid name {k:?}"));
    }
    let annotations = string_map(v.get("annotations"))?;
    let ends = time_field(v, "endsAt")?;
    let starts = time_field(v, "startsAt")?.or(ends).unwrap_or(now);
    let (ends_at, timeout) = match ends {
        Some(e) => (e, false),
        None => (now + resolve_timeout, true),
    };
    if ends_at < starts {
        return Err("start time must be before end time".into());
    }
    Ok(Alert {
        labels,
        annotations,
        starts_at: starts,
        ends_at,
        generator_url: v
            .get("generatorURL")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
        updated_at: now,
        timeout,
    })
}

async fn post_alerts(
    State(ams): State<Arc<Alertmanagers>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let am = match tenant_am(&ams, &headers) {
        Ok(am) => am,
        Err(r) => return *r,
    };
    let parsed: Json = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(&format!("parsing alerts body: {e}")),
    };
    let Some(list) = parsed.as_array() else {
        return bad_request("the body must be a list of alerts");
    };
    let now = now_ms();
    let timeout = i64::try_from(am.config().resolve_timeout.as_millis()).unwrap_or(i64::MAX);
    let mut alerts = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for v in list {
        match postable(v, now, timeout) {
            Ok(a) => alerts.push(a),
            Err(e) => errors.push(e),
        }
    }
    am.put(alerts, now);
    if errors.is_empty() {
        StatusCode::OK.into_response()
    } else {
        // As Alertmanager: the valid alerts are taken, the errors reported.
        bad_request(&errors.join("; "))
    }
}

fn silence_json(s: &Silence, now: i64) -> Json {
    json!({
        "id": s.id,
        "status": {"state": s.state(now)},
        "updatedAt": rfc3339(Some(s.updated_at)),
        "comment": s.comment,
        "annotations": {},
        "createdBy": s.created_by,
        "endsAt": rfc3339(Some(s.ends_at)),
        "startsAt": rfc3339(Some(s.starts_at)),
        "matchers": s.matchers.iter().map(|m| json!({
            "name": m.name,
            "value": m.value,
            "isRegex": matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
            "isEqual": matches!(m.op, MatchOp::Equal | MatchOp::Regex),
        })).collect::<Vec<_>>(),
    })
}

async fn get_silences(
    State(ams): State<Arc<Alertmanagers>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let am = match tenant_am(&ams, &headers) {
        Ok(am) => am,
        Err(r) => return *r,
    };
    let params = Params::from(q.as_deref(), &headers, &[]);
    let mut filter = Vec::new();
    for f in params.all("filter") {
        match parse_compat(f) {
            Ok(m) => filter.extend(m),
            Err(e) => return bad_request(&e),
        }
    }
    let now = now_ms();
    let list: Vec<Json> = am
        .silences()
        .iter()
        .filter(|s| {
            // A silence is listed when, for each filter, one of its matchers has that name and
            // a value the filter matches (Alertmanager's `CheckSilenceMatchesFilterLabels`).
            filter.iter().all(|f| {
                s.matchers
                    .iter()
                    .any(|m| m.name == f.name && f.matches(&m.value))
            })
        })
        .map(|s| silence_json(s, now))
        .collect();
    ok(&Json::Array(list))
}

async fn post_silence(
    State(ams): State<Arc<Alertmanagers>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let am = match tenant_am(&ams, &headers) {
        Ok(am) => am,
        Err(r) => return *r,
    };
    let v: Json = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(&format!("parsing silence body: {e}")),
    };
    let now = now_ms();
    let silence = (|| -> Result<Silence, String> {
        let mut matchers = Vec::new();
        for m in v
            .get("matchers")
            .and_then(Json::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let name = m.get("name").and_then(Json::as_str).unwrap_or("");
            let value = m.get("value").and_then(Json::as_str).unwrap_or("");
            let regex = m.get("isRegex").and_then(Json::as_bool).unwrap_or(false);
            let equal = m.get("isEqual").and_then(Json::as_bool).unwrap_or(true);
            let op = match (regex, equal) {
                (false, true) => MatchOp::Equal,
                (false, false) => MatchOp::NotEqual,
                (true, true) => MatchOp::Regex,
                (true, false) => MatchOp::NotRegex,
            };
            if name.is_empty() {
                return Err("invalid label matcher: empty name".into());
            }
            matchers.push(Matcher::new(name, op, value)?);
        }
        if matchers.is_empty() {
            return Err("at least one matcher required".into());
        }
        if matchers.iter().all(|m| m.matches("")) {
            return Err("at least one matcher must not match the empty string".into());
        }
        let starts = time_field(&v, "startsAt")?.ok_or("invalid zero start timestamp")?;
        let ends = time_field(&v, "endsAt")?.ok_or("invalid zero end timestamp")?;
        if starts >= ends {
            return Err("Failed to create silence: start time must be before end time".into());
        }
        if ends < now {
            return Err("Failed to create silence: end time can't be in the past".into());
        }
        Ok(Silence {
            id: v
                .get("id")
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(new_id, str::to_string),
            matchers,
            starts_at: starts,
            ends_at: ends,
            updated_at: now,
            created_by: v
                .get("createdBy")
                .and_then(Json::as_str)
                .unwrap_or("")
                .into(),
            comment: v.get("comment").and_then(Json::as_str).unwrap_or("").into(),
        })
    })();
    match silence {
        Ok(mut s) => {
            let given = v
                .get("id")
                .and_then(Json::as_str)
                .is_some_and(|id| !id.is_empty());
            let prev = am.silences().into_iter().find(|x| x.id == s.id);
            if given && prev.is_none() {
                return (
                    StatusCode::NOT_FOUND,
                    format!("silence {} not found\n", s.id),
                )
                    .into_response();
            }
            // As Alertmanager's `Silences.Set`: a change that `can_update` allows keeps the
            // id; any other change of an existing silence expires it and makes a new one.
            let mut replaces = None;
            if !prev.as_ref().is_some_and(|p| can_update(p, &s, now)) {
                if let Some(p) = prev.filter(|p| p.state(now) != "expired") {
                    replaces = Some(p.id);
                }
                if given {
                    s.id = new_id();
                }
                s.starts_at = s.starts_at.max(now);
            }
            let id = s.id.clone();
            match am.set_silence(s, replaces.as_deref(), now) {
                Ok(()) => ok(&json!({ "silenceID": id })),
                Err(e) => {
                    tracing::error!(error = %e, "storing a silence failed");
                    json(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Json::String("failed to store the silence".into()).to_string(),
                    )
                }
            }
        }
        Err(e) => bad_request(&e),
    }
}

/// Whether `next` may change `prev` in place (Alertmanager's `canUpdate`): the same
/// matchers, and for an active silence the same start and an end not in the past, for a
/// pending one a start not in the past; an expired silence is never changed.
fn can_update(prev: &Silence, next: &Silence, now: i64) -> bool {
    if prev.matchers != next.matchers {
        return false;
    }
    match prev.state(now) {
        "active" => next.starts_at == prev.starts_at && next.ends_at >= now,
        "pending" => next.starts_at >= now,
        _ => false,
    }
}

async fn get_silence(
    State(ams): State<Arc<Alertmanagers>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let am = match tenant_am(&ams, &headers) {
        Ok(am) => am,
        Err(r) => return *r,
    };
    match am.silences().into_iter().find(|s| s.id == id) {
        Some(s) => ok(&silence_json(&s, now_ms())),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete_silence(
    State(ams): State<Arc<Alertmanagers>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let am = match tenant_am(&ams, &headers) {
        Ok(am) => am,
        Err(r) => return *r,
    };
    match am.expire_silence(&id, now_ms()) {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        // As Alertmanager answers: a 500 with the reason as a JSON string.
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            Json::String(e).to_string(),
        ),
    }
}

async fn status(State(ams): State<Arc<Alertmanagers>>) -> Response {
    ok(&json!({
        "cluster": {"name": "", "status": "disabled", "peers": []},
        "config": {"original": ams.config.read().1},
        "uptime": rfc3339(Some(ams.started)),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": env!("CARGO_PKG_VERSION"),
        },
    }))
}

async fn receivers(State(ams): State<Arc<Alertmanagers>>) -> Response {
    let config = Arc::clone(&ams.config.read().0);
    let list: Vec<Json> = config
        .receivers
        .iter()
        .map(|r| json!({ "name": r.name }))
        .collect();
    ok(&Json::Array(list))
}
