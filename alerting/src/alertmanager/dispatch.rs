//! The Alertmanager of one tenant, as Alertmanager's dispatcher and notification pipeline
//! work: alerts kept by fingerprint (reports of one alert merged), routed into aggregation
//! groups (route and `group_by` labels) that notify first after `group_wait`, then every
//! `group_interval` when something changed, and again after `repeat_interval`; each
//! notification after inhibition, silences and the route's time intervals, deduplicated against
//! a notification log as Alertmanager's `DedupStage` does, then sent (webhook payload version 4)
//! with retries.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde_json::{json, Map, Value as Json};
use tokio::sync::{watch, Notify};

use super::alert::{label_set_string, Alert, LabelSet};
use super::config::{Config, InhibitRule, Integration};
use super::route::{matches_all, Route};
pub use super::silence::Silence;
use super::store::{self, Loaded, LogKey, Pending, Store};
use crate::timefmt::{rfc3339, ZERO_TIME};

/// Sends a notification to an integration; resolves once the receiver took it.
pub trait Notifier: Send + Sync + 'static {
    /// Sends `payload` through `integration`, with the notification's `id` (the same on every
    /// attempt, also after a restart).
    fn send(
        &self,
        integration: &Integration,
        id: &str,
        payload: &Json,
    ) -> futures::future::BoxFuture<'static, Result<(), String>>;
}

/// An aggregation group.
#[derive(Debug, Clone)]
struct Group {
    receiver: String,
    group_labels: LabelSet,
    group_key: String,
    interval: Duration,
    repeat: Duration,
    mute_time_intervals: Vec<String>,
    active_time_intervals: Vec<String>,
    alerts: BTreeMap<u64, Alert>,
    next_flush: i64,
}

/// What the notification log holds of the last notification of a group to an integration.
#[derive(Debug, Clone, Default)]
struct LogEntry {
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    at: i64,
}

impl LogEntry {
    fn stored(&self) -> store::LogEntry {
        store::LogEntry {
            firing: self.firing.iter().copied().collect(),
            resolved: self.resolved.iter().copied().collect(),
            at: self.at,
        }
    }

    fn from_stored(e: &store::LogEntry) -> Self {
        Self {
            firing: e.firing.iter().copied().collect(),
            resolved: e.resolved.iter().copied().collect(),
            at: e.at,
        }
    }
}

/// A notification a flush decided to send.
struct Outgoing {
    pending: Pending,
    entry: LogEntry,
    integration: Integration,
    within: Duration,
    /// Nothing to send: only the log learns of it.
    silent: bool,
}

/// The notifications of one group's flush: once all went out, its resolved alerts leave it.
struct FlushTicket {
    remaining: AtomicUsize,
    ok: AtomicBool,
    group_key: String,
    resolved: Vec<u64>,
}

impl FlushTicket {
    fn done(&self, am: &Alertmanager, ok: bool, now: i64) {
        if !ok {
            self.ok.store(false, Ordering::SeqCst);
        }
        if self.remaining.fetch_sub(1, Ordering::SeqCst) == 1 && self.ok.load(Ordering::SeqCst) {
            remove_resolved(&mut am.state.lock(), &self.group_key, &self.resolved, now);
        }
    }
}

/// Removes the alerts `resolved` from group `key` if they are still resolved (not reported
/// again since), and the group when it is left empty.
fn remove_resolved(state: &mut State, key: &str, resolved: &[u64], now: i64) {
    if let Some(g) = state.groups.get_mut(key) {
        for fp in resolved {
            if g.alerts.get(fp).is_some_and(|a| a.resolved(now)) {
                g.alerts.remove(fp);
            }
        }
        if g.alerts.is_empty() {
            state.groups.remove(key);
        }
    }
}

/// A random id in the form of a UUID (version 4).
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let r = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let (a, b) = (r(), r());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

#[derive(Default)]
struct State {
    alerts: BTreeMap<u64, Alert>,
    groups: BTreeMap<String, Group>,
    log: BTreeMap<LogKey, LogEntry>,
    /// Notifications a previous run recorded and did not see sent.
    pending: Vec<Pending>,
    silences: BTreeMap<String, Silence>,
}

/// One tenant's Alertmanager.
pub struct Alertmanager {
    config: RwLock<Arc<Config>>,
    store: Option<Store>,
    state: Mutex<State>,
    wake: Notify,
    notifier: Arc<dyn Notifier>,
    external_url: String,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanager")
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

/// How an alert stands, for the API.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStatus {
    /// The alert.
    pub alert: Alert,
    /// The receivers its routes name.
    pub receivers: Vec<String>,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

/// A group as the API lists it.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// Its labels.
    pub labels: LabelSet,
    /// Its receiver.
    pub receiver: String,
    /// Its alerts' fingerprints.
    pub alerts: Vec<u64>,
}

/// Notification reasons (Alertmanager 0.32's `notification_reason`).
fn reason(
    entry: Option<&LogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
) -> &'static str {
    match entry {
        None => "first notification",
        Some(e) if !firing.is_subset(&e.firing) => "new alerts added",
        Some(_) if firing.is_empty() => "all alerts resolved",
        Some(e) if !resolved.is_subset(&e.resolved) => "some alerts resolved",
        Some(_) => "repeat interval elapsed",
    }
}

/// Alertmanager's `DedupStage.needsUpdate`.
fn needs_update(
    entry: Option<&LogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat: Duration,
    now: i64,
) -> bool {
    let Some(e) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&e.firing) {
        return true;
    }
    if firing.is_empty() {
        return !e.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&e.resolved) {
        return true;
    }
    e.at < now - i64::try_from(repeat.as_millis()).unwrap_or(i64::MAX)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn common(maps: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let Some(first) = maps.first() else {
        return BTreeMap::new();
    };
    first
        .iter()
        .filter(|(k, v)| maps.iter().all(|m| m.get(*k) == Some(v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn map_json(m: &BTreeMap<String, String>) -> Json {
    Json::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// The webhook payload (version 4) of a notification of group `g`.
fn webhook_payload(
    g: &Group,
    alerts: &[&Alert],
    external_url: &str,
    reason: &str,
    truncated: usize,
    now: i64,
) -> Json {
    let firing = alerts.iter().any(|a| !a.resolved(now));
    let labels: Vec<&BTreeMap<String, String>> = alerts.iter().map(|a| &a.labels).collect();
    let annotations: Vec<&BTreeMap<String, String>> =
        alerts.iter().map(|a| &a.annotations).collect();
    json!({
        "receiver": g.receiver,
        "status": if firing { "firing" } else { "resolved" },
        "alerts": alerts.iter().map(|a| {
            let resolved = a.resolved(now);
            json!({
                "status": if resolved { "resolved" } else { "firing" },
                "labels": map_json(&a.labels),
                "annotations": map_json(&a.annotations),
                "startsAt": rfc3339(Some(a.starts_at)),
                "endsAt": if resolved { rfc3339(Some(a.ends_at)) } else { ZERO_TIME.to_string() },
                "generatorURL": a.generator_url,
                "fingerprint": format!("{:016x}", a.fingerprint()),
            })
        }).collect::<Vec<_>>(),
        "notification_reason": reason,
        "groupLabels": map_json(&g.group_labels),
        "commonLabels": map_json(&common(&labels)),
        "commonAnnotations": map_json(&common(&annotations)),
        "routeLabels": {},
        "externalURL": external_url,
        "version": "4",
        "groupKey": g.group_key,
        "truncatedAlerts": truncated,
    })
}

/// Whether `a` is inhibited by a firing alert of `alerts` under `rules`; the inhibiting
/// alerts' fingerprints.
fn inhibited_by(
    rules: &[InhibitRule],
    alerts: &BTreeMap<u64, Alert>,
    a: &Alert,
    now: i64,
) -> Vec<String> {
    let fp = a.fingerprint();
    let mut out = Vec::new();
    for rule in rules {
        if !matches_all(&rule.target, &a.labels) {
            continue;
        }
        for (sfp, s) in alerts {
            if *sfp == fp || s.resolved(now) || !matches_all(&rule.source, &s.labels) {
                continue;
            }
            // An alert matching both sides does not inhibit another matching both sides.
            if matches_all(&rule.target, &s.labels) && matches_all(&rule.source, &a.labels) {
                continue;
            }
            if rule
                .equal
                .iter()
                .all(|l| s.labels.get(l) == a.labels.get(l))
            {
                out.push(format!("{sfp:016x}"));
            }
        }
    }
    out
}

impl Alertmanager {
    /// An Alertmanager over `config`, sending through `notifier`, keeping its silences and
    /// notification log in `store` (with what the store held) when there is one.
    pub fn new(
        config: Arc<Config>,
        notifier: Arc<dyn Notifier>,
        external_url: &str,
        store: Option<(Store, Loaded)>,
    ) -> Self {
        let mut state = State::default();
        let store = store.map(|(store, loaded)| {
            state.silences = loaded
                .silences
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect();
            state.log = loaded
                .log
                .iter()
                .map(|(k, e)| (k.clone(), LogEntry::from_stored(e)))
                .collect();
            // A pending notification is being sent again: the groups count as notified of it,
            // so that they do not send the same news under a new id meanwhile.
            for p in &loaded.pending {
                if state.log.get(&p.key).is_none_or(|e| e.at < p.entry.at) {
                    state
                        .log
                        .insert(p.key.clone(), LogEntry::from_stored(&p.entry));
                }
            }
            state.pending = loaded.pending;
            store
        });
        Self {
            config: RwLock::new(config),
            store,
            state: Mutex::new(state),
            wake: Notify::new(),
            notifier,
            external_url: external_url.to_string(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read())
    }

    /// Routes by `config` from now on: the aggregation groups are made anew from the alerts
    /// kept, as Alertmanager's reload makes a new dispatcher; the notification log keeps them
    /// from repeating what they already sent.
    pub fn set_config(&self, config: Arc<Config>, now: i64) {
        *self.config.write() = config;
        let alerts: Vec<Alert> = {
            let mut state = self.state.lock();
            state.groups.clear();
            std::mem::take(&mut state.alerts).into_values().collect()
        };
        self.route_all(alerts, now);
    }

    /// Takes `alerts` reported at `now`: each merged with what is kept of it, then routed.
    pub fn put(&self, mut alerts: Vec<Alert>, now: i64) {
        let resolved = alerts.iter().filter(|a| a.resolved(now)).count();
        super::metrics::received("resolved", resolved);
        super::metrics::received("firing", alerts.len() - resolved);
        for a in &mut alerts {
            a.updated_at = now;
        }
        self.route_all(alerts, now);
    }

    fn route_all(&self, alerts: Vec<Alert>, now: i64) {
        let config = self.config();
        let mut state = self.state.lock();
        for a in alerts {
            let fp = a.fingerprint();
            let merged = match state.alerts.get(&fp) {
                // An alert that resolved before this one started is a new alert.
                Some(old) if !(old.resolved(now) && old.ends_at < a.starts_at) => {
                    old.merge(&a, now)
                }
                _ => a,
            };
            state.alerts.insert(fp, merged.clone());
            for route in config.route.matches(&merged.labels) {
                let group_labels: LabelSet = if route.opts.group_by_all {
                    merged.labels.clone()
                } else {
                    merged
                        .labels
                        .iter()
                        .filter(|(k, _)| route.opts.group_by.contains(*k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                };
                let group_key = format!("{}:{}", route.key, label_set_string(&group_labels));
                let group = state.groups.entry(group_key.clone()).or_insert_with(|| {
                    let wait = ms(route.opts.group_wait);
                    Group {
                        receiver: route.opts.receiver.clone(),
                        group_labels,
                        group_key,
                        interval: route.opts.group_interval,
                        repeat: route.opts.repeat_interval,
                        mute_time_intervals: route.opts.mute_time_intervals.clone(),
                        active_time_intervals: route.opts.active_time_intervals.clone(),
                        alerts: BTreeMap::new(),
                        // An alert that started long enough ago is notified at once.
                        next_flush: if merged.starts_at + wait < now {
                            now
                        } else {
                            now + wait
                        },
                    }
                });
                group.alerts.insert(fp, merged.clone());
            }
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Every alert kept, with its receivers, silences and inhibitions, by fingerprint.
    pub fn alerts(&self, now: i64) -> Vec<AlertStatus> {
        let config = self.config();
        let state = self.state.lock();
        state
            .alerts
            .values()
            .map(|a| AlertStatus {
                alert: a.clone(),
                receivers: config
                    .route
                    .matches(&a.labels)
                    .iter()
                    .map(|r| r.opts.receiver.clone())
                    .collect(),
                silenced_by: state
                    .silences
                    .values()
                    .filter(|s| s.mutes(&a.labels, now))
                    .map(|s| s.id.clone())
                    .collect(),
                inhibited_by: inhibited_by(&config.inhibit_rules, &state.alerts, a, now),
            })
            .collect()
    }

    /// The aggregation groups.
    pub fn groups(&self) -> Vec<GroupView> {
        self.state
            .lock()
            .groups
            .values()
            .map(|g| GroupView {
                labels: g.group_labels.clone(),
                receiver: g.receiver.clone(),
                alerts: g.alerts.keys().copied().collect(),
            })
            .collect()
    }

    /// Adds or changes a silence, expiring the silence `replaces` at `now` in the same step;
    /// with a store, only once it is on disk.
    pub fn set_silence(
        &self,
        silence: Silence,
        replaces: Option<&str>,
        now: i64,
    ) -> Result<(), String> {
        let mut state = self.state.lock();
        let mut next = state.silences.clone();
        if let Some(old) = replaces.and_then(|id| next.get_mut(id)) {
            old.ends_at = now;
            old.starts_at = old.starts_at.min(now);
            old.updated_at = now;
        }
        next.insert(silence.id.clone(), silence);
        self.save_silences(&next)?;
        state.silences = next;
        Ok(())
    }

    fn save_silences(&self, silences: &BTreeMap<String, Silence>) -> Result<(), String> {
        match &self.store {
            Some(store) => store.save_silences(&silences.values().cloned().collect::<Vec<_>>()),
            None => Ok(()),
        }
    }

    /// The silences.
    pub fn silences(&self) -> Vec<Silence> {
        self.state.lock().silences.values().cloned().collect()
    }

    /// Ends a silence now; `Ok(false)` when there is none with `id`, an error when it has ended
    /// already or cannot be stored.
    pub fn expire_silence(&self, id: &str, now: i64) -> Result<bool, String> {
        let mut state = self.state.lock();
        let mut next = state.silences.clone();
        let Some(s) = next.get_mut(id) else {
            return Ok(false);
        };
        // As Alertmanager's `Silences.Expire`: an expired silence cannot be expired again.
        if s.ends_at <= now {
            return Err(format!("silence {id} already expired"));
        }
        s.ends_at = now;
        s.starts_at = s.starts_at.min(now);
        s.updated_at = now;
        self.save_silences(&next)?;
        state.silences = next;
        Ok(true)
    }

    /// Flushes groups when they are due, until `stop`.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        // What a previous run recorded and did not see sent goes out first, with its id.
        let pending = std::mem::take(&mut self.state.lock().pending);
        let config = self.config();
        for p in pending {
            let integration = config
                .receivers
                .iter()
                .find(|r| r.name == p.key.1)
                .and_then(|r| r.integrations.get(p.key.2))
                .cloned();
            match integration {
                Some(integration) => {
                    let this = Arc::clone(&self);
                    tokio::spawn(async move {
                        let entry = LogEntry::from_stored(&p.entry);
                        let _ = this
                            .deliver(p, entry, integration, Duration::from_secs(3600))
                            .await;
                    });
                }
                None => {
                    tracing::warn!(receiver = %p.key.1, "a pending notification's receiver is gone from the configuration; dropped");
                }
            }
        }
        loop {
            let now = now_ms();
            let due = self
                .state
                .lock()
                .groups
                .values()
                .map(|g| g.next_flush)
                .min();
            let wait = due.map_or(Duration::from_secs(60), |d| {
                Duration::from_millis(u64::try_from(d - now).unwrap_or(0))
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            self.flush_due(now_ms());
        }
    }

    /// Notifies every group that is due at `now`.
    pub fn flush_due(self: &Arc<Self>, now: i64) {
        let config = self.config();
        let mut outgoing = Vec::new();
        {
            let mut state = self.state.lock();
            // Alerts resolved a while ago are forgotten, and log entries past the retention.
            state
                .alerts
                .retain(|_, a| !a.resolved(now - 15 * 60 * 1000));
            state
                .log
                .retain(|_, e| e.at >= now - store::LOG_RETENTION_MS);
            let due: Vec<String> = state
                .groups
                .values()
                .filter(|g| g.next_flush <= now)
                .map(|g| g.group_key.clone())
                .collect();
            for key in due {
                let Some(group) = state.groups.get(&key).cloned() else {
                    continue;
                };
                let sends = self.flush_group(&config, &state, &group, now);
                let resolved: Vec<u64> = group
                    .alerts
                    .iter()
                    .filter(|(_, a)| a.resolved(now))
                    .map(|(fp, _)| *fp)
                    .collect();
                if sends.is_empty() {
                    // Nothing to send: the resolved alerts leave the group now.
                    remove_resolved(&mut state, &key, &resolved, now);
                } else {
                    // They leave once every notification of this flush went out, as
                    // Alertmanager deletes them only after a successful notify.
                    let ticket = Arc::new(FlushTicket {
                        remaining: AtomicUsize::new(sends.len()),
                        ok: AtomicBool::new(true),
                        group_key: key.clone(),
                        resolved,
                    });
                    outgoing.extend(sends.into_iter().map(|o| (o, Arc::clone(&ticket))));
                }
                if let Some(g) = state.groups.get_mut(&key) {
                    g.next_flush = now + ms(g.interval);
                }
            }
        }
        // Recorded before it is sent, outside the lock: a crash from here on sends it after the
        // restart.
        for (o, ticket) in outgoing {
            if o.silent {
                if let Some(store) = &self.store {
                    if let Err(e) = store.sent(&o.pending.id, &o.pending.key, &o.pending.entry) {
                        tracing::error!(error = %e, "recording the notification log failed");
                    }
                }
                self.state.lock().log.insert(o.pending.key, o.entry);
                ticket.done(self, true, now);
                continue;
            }
            if let Some(store) = &self.store {
                if let Err(e) = store.pending(&o.pending) {
                    tracing::error!(error = %e, "recording a notification failed; the next flush of its group retries");
                    ticket.done(self, false, now);
                    continue;
                }
            }
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let ok = this
                    .deliver(o.pending, o.entry, o.integration, o.within)
                    .await;
                ticket.done(&this, ok, now_ms());
            });
        }
    }

    fn flush_group(&self, config: &Config, state: &State, g: &Group, now: i64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let time = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        let in_any = |names: &[String]| {
            names.iter().any(|n| {
                config
                    .time_intervals
                    .get(n)
                    .is_some_and(|list| list.iter().any(|i| i.contains(time)))
            })
        };
        if in_any(&g.mute_time_intervals)
            || (!g.active_time_intervals.is_empty() && !in_any(&g.active_time_intervals))
        {
            return out;
        }
        let alerts: Vec<&Alert> = g
            .alerts
            .values()
            .filter(|a| !state.silences.values().any(|s| s.mutes(&a.labels, now)))
            .filter(|a| inhibited_by(&config.inhibit_rules, &state.alerts, a, now).is_empty())
            .collect();
        let firing: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| !a.resolved(now))
            .map(|a| a.fingerprint())
            .collect();
        let resolved: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| a.resolved(now))
            .map(|a| a.fingerprint())
            .collect();
        let Some(receiver) = config.receivers.iter().find(|r| r.name == g.receiver) else {
            return out;
        };
        for (i, integration) in receiver.integrations.iter().enumerate() {
            let log_key = (g.group_key.clone(), g.receiver.clone(), i);
            let entry = state.log.get(&log_key);
            if !needs_update(
                entry,
                &firing,
                &resolved,
                integration.send_resolved,
                g.repeat,
                now,
            ) {
                continue;
            }
            let why = reason(entry, &firing, &resolved);
            let sent: Vec<&Alert> = alerts
                .iter()
                .copied()
                .filter(|a| integration.send_resolved || !a.resolved(now))
                .collect();
            if sent.is_empty() {
                // Nothing this integration shows (resolved alerts it is not told about): the
                // log still learns the group is clear, as Alertmanager's pipeline logs an
                // empty send.
                out.push(Outgoing {
                    pending: Pending {
                        id: new_id(),
                        key: log_key,
                        entry: LogEntry {
                            firing: firing.clone(),
                            resolved: resolved.clone(),
                            at: now,
                        }
                        .stored(),
                        payload: Json::Null,
                    },
                    entry: LogEntry {
                        firing: firing.clone(),
                        resolved: resolved.clone(),
                        at: now,
                    },
                    integration: integration.clone(),
                    within: g.interval,
                    silent: true,
                });
                continue;
            }
            let max = integration
                .settings
                .get("max_alerts")
                .and_then(|m| m.parse::<usize>().ok())
                .filter(|m| *m > 0)
                .unwrap_or(usize::MAX);
            let truncated = sent.len().saturating_sub(max);
            let shown: Vec<&Alert> = sent.into_iter().take(max).collect();
            let payload = webhook_payload(g, &shown, &self.external_url, why, truncated, now);
            let entry = LogEntry {
                firing: firing.clone(),
                resolved: resolved.clone(),
                at: now,
            };
            out.push(Outgoing {
                pending: Pending {
                    id: new_id(),
                    key: log_key,
                    entry: entry.stored(),
                    payload,
                },
                entry,
                integration: integration.clone(),
                within: g.interval,
                silent: false,
            });
        }
        out
    }

    /// Sends a notification, retrying with backoff for at most `within`; logs it once sent.
    /// Returns whether it went out.
    async fn deliver(
        &self,
        p: Pending,
        entry: LogEntry,
        integration: Integration,
        within: Duration,
    ) -> bool {
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(500);
        let log_key = p.key.clone();
        loop {
            match self.notifier.send(&integration, &p.id, &p.payload).await {
                Ok(()) => {
                    if let Some(store) = &self.store {
                        if let Err(e) = store.sent(&p.id, &p.key, &p.entry) {
                            tracing::error!(error = %e, "recording a sent notification failed");
                        }
                    }
                    // Deliveries for one group may overlap (retries outlive a group
                    // interval): the log keeps the newest.
                    let mut state = self.state.lock();
                    if state.log.get(&log_key).is_none_or(|e| e.at <= entry.at) {
                        state.log.insert(log_key, entry);
                    }
                    drop(state);
                    super::metrics::notified(&integration.kind, true);
                    return true;
                }
                Err(e) => {
                    super::metrics::notified(&integration.kind, false);
                    if started.elapsed() + backoff > within {
                        if let Some(store) = &self.store {
                            if let Err(e) = store.abandoned(&p.id, &p.key) {
                                tracing::error!(error = %e, "recording a given-up notification failed");
                            }
                        }
                        tracing::warn!(receiver = %log_key.1, integration = %integration.kind, error = %e, "notification failed; the next flush of its group retries");
                        return false;
                    }
                    tracing::debug!(error = %e, "notification failed, retrying");
                    tokio::time::sleep(jittered(backoff)).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// The routes of the configuration, for the API.
    pub fn route(&self) -> Route {
        self.config().route.clone()
    }
}

/// `d` lengthened by a random part of up to half of it, so that notifications failing
/// together do not retry together.
fn jittered(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A fresh `RandomState` is randomly keyed: its hash of nothing is a random number.
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    d + d.mul_f64((r % 1_000) as f64 / 2_000.0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests;
