//! The rule manager of `vigil serve`: reads each tenant's rule files (globs), evaluates every
//! group on its interval at timestamps aligned as Prometheus aligns them, restores alerts'
//! pending time after a restart from `ALERTS_FOR_STATE`, and reloads on request: the new files
//! are read and checked first, and a file that fails leaves the running rules untouched; groups
//! that stay keep their alerts, groups that go end their series with staleness markers.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::Tenant;
use parking_lot::RwLock;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use crate::alertmanager::alert::Alert;
use crate::alertmanager::Alertmanagers;
use crate::engines::{EngineBackend, Engines};
use crate::group::{Backend, Group, GroupDefaults};
use crate::metrics;
use crate::rules::{parse_file, ParseOptions, RuleFile};

/// Where each tenant's rules come from and how they are evaluated.
#[derive(Debug, Clone, Default)]
pub struct ManagerOptions {
    /// Rule file globs per tenant.
    pub files: BTreeMap<Tenant, Vec<String>>,
    /// Interval, offset and template context of groups that name none.
    pub defaults: GroupDefaults,
    /// Least time a restored pending alert still waits (Prometheus's
    /// `--rules.alert.for-grace-period`, 10m).
    pub for_grace_period: Duration,
    /// How long `ALERTS_FOR_STATE` is looked back at for a restore (Prometheus's
    /// `--rules.alert.for-outage-tolerance`, 1h).
    pub for_outage_tolerance: Duration,
    /// How rule files are read.
    pub parse: ParseOptions,
    /// Rule files given as text rather than read from disk (Vigil's self-watch group), with the
    /// tenant they belong to and the name the rules API shows as their file.
    pub builtin: Vec<(Tenant, String, String)>,
}

/// The tenant Vigil writes its own metrics to and evaluates its self-watch rules for.
pub const SELF_TENANT: &str = "vigil";

/// Vigil's self-watch rule group (`selfwatch.yml`), evaluated every `interval`.
pub fn self_watch_rules(interval: Duration) -> String {
    include_str!("selfwatch.yml").replace(
        "    interval: 30s\n",
        &format!("    interval: {}ms\n", interval.as_millis().max(1)),
    )
}

/// Where alerting rules' alerts go: an Alertmanager (Vigil's own, or another).
pub trait AlertSink: Send + Sync + 'static {
    /// Takes `alerts` of `tenant`, reported at `now` (ms).
    fn send(&self, tenant: &Tenant, alerts: Vec<Alert>, now: i64);
}

impl AlertSink for Alertmanagers {
    fn send(&self, tenant: &Tenant, alerts: Vec<Alert>, now: i64) {
        self.tenant(tenant).put(alerts, now);
    }
}

/// A rule's alert as Prometheus sends it to an Alertmanager: labels with the external labels
/// added, started when it fired, ending when it resolved or when its last sending runs out,
/// linked to its expression.
fn to_alertmanager(
    expr: &str,
    a: &crate::alerts::Alert,
    defaults: &GroupDefaults,
    now: i64,
) -> Alert {
    let mut labels: BTreeMap<String, String> = defaults.external_labels.clone();
    labels.extend(a.labels.pairs().iter().cloned());
    let encoded: String = form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    Alert {
        labels,
        annotations: a.annotations.clone(),
        starts_at: a.fired_at.unwrap_or(a.active_at),
        ends_at: a.resolved_at.unwrap_or(a.valid_until),
        generator_url: format!(
            "{}/graph?g0.expr={encoded}&g0.tab=1",
            defaults.external_url.trim_end_matches('/')
        ),
        updated_at: now,
        timeout: false,
    }
}

/// A group's latest state, replaced after each evaluation, for readers.
type Snapshot = Arc<RwLock<Arc<Group>>>;

/// A running group: its latest state for readers, and the task evaluating it.
struct Running {
    tenant: Tenant,
    snapshot: Snapshot,
    stop: watch::Sender<bool>,
    task: JoinHandle<Group>,
}

/// Loads, evaluates and reloads the rules of every tenant.
pub struct RuleManager {
    options: ManagerOptions,
    engines: Engines,
    alerts: Option<Arc<dyn AlertSink>>,
    running: Mutex<Vec<Running>>,
    /// Snapshots of the running groups, in file order, for readers that must not wait for a
    /// reload.
    snapshots: RwLock<Vec<(Tenant, Snapshot)>>,
}

impl std::fmt::Debug for RuleManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleManager")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A group key: tenant, file, name.
type Key = (Tenant, String, String);

impl RuleManager {
    /// A manager of `options`'s rules over `engines`; nothing runs before [`RuleManager::reload`].
    pub fn new(options: ManagerOptions, engines: Engines) -> Self {
        Self {
            options,
            engines,
            alerts: None,
            running: Mutex::new(Vec::new()),
            snapshots: RwLock::new(Vec::new()),
        }
    }

    /// The manager sending its alerts to `sink`.
    pub fn with_alert_sink(mut self, sink: Arc<dyn AlertSink>) -> Self {
        self.alerts = Some(sink);
        self
    }

    /// Every rule file of every tenant: the globs expanded, in order, each file once per
    /// tenant.
    fn files(&self) -> Result<Vec<(Tenant, PathBuf)>, Vec<String>> {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (tenant, globs) in &self.options.files {
            let mut seen = std::collections::BTreeSet::new();
            for pattern in globs {
                match glob::glob(pattern) {
                    Ok(paths) => {
                        let mut paths: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                        paths.sort();
                        for p in paths {
                            if seen.insert(p.clone()) {
                                out.push((tenant.clone(), p));
                            }
                        }
                    }
                    Err(e) => errors.push(format!("rule_files: invalid glob {pattern:?}: {e}")),
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Reads every rule file; a file that does not read or check fails the whole load, naming
    /// file and line.
    fn read(&self) -> Result<Vec<(Tenant, String, RuleFile)>, Vec<String>> {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (tenant, name, text) in &self.options.builtin {
            match crate::rules::parse(text, self.options.parse) {
                Ok(file) => out.push((tenant.clone(), name.clone(), file)),
                Err(e) => errors.extend(e.into_iter().map(|e| format!("{name}: {e}"))),
            }
        }
        for (tenant, path) in self.files()? {
            match parse_file(&path, self.options.parse) {
                Ok(file) => out.push((tenant, path.display().to_string(), file)),
                Err(e) => errors.extend(e.into_iter().map(|e| format!("{}: {e}", path.display()))),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Reads the rule files anew and runs what they hold, replacing what ran: groups that stay
    /// (same tenant, file and name) keep their alerts; groups that go write staleness markers
    /// for their series. On an error nothing changes and the errors are returned. Returns how
    /// many groups run.
    pub async fn reload(&self) -> Result<usize, Vec<String>> {
        // Files are read under the lock, so that of two reloads the later one runs the later
        // files.
        let mut running = self.running.lock().await;
        let files = match self.read() {
            Ok(f) => f,
            Err(e) => {
                metrics::CONFIG_LAST_RELOAD_SUCCESSFUL.set(0);
                return Err(e);
            }
        };
        let mut old: BTreeMap<Key, Group> = BTreeMap::new();
        for r in running.drain(..) {
            let _ = r.stop.send(true);
            match r.task.await {
                Ok(g) => {
                    old.insert((r.tenant, g.file.clone(), g.name.clone()), g);
                }
                Err(e) => tracing::error!(error = %e, "rule group task failed"),
            }
        }
        let mut next = Vec::new();
        for (tenant, file, rules) in &files {
            for g in &rules.groups {
                let mut group = Group::new(file, g, &self.options.defaults);
                let restore = match old.remove(&(tenant.clone(), file.clone(), g.name.clone())) {
                    Some(o) => {
                        group.copy_state(o);
                        false
                    }
                    None => true,
                };
                next.push((tenant.clone(), group, restore));
            }
        }
        // Groups that went: their series end now.
        let now = now_ms();
        for ((tenant, _, name), g) in old {
            let markers = g.stale_markers(now);
            if markers.is_empty() {
                continue;
            }
            if let Err(e) = self.engines.sink.write(tenant.clone(), markers).await {
                tracing::warn!(tenant = %tenant, group = %name, error = %e, "writing staleness markers of a removed rule group failed");
            }
        }
        let mut snapshots = Vec::with_capacity(next.len());
        for (tenant, group, restore) in next {
            let snapshot = Arc::new(RwLock::new(Arc::new(group.clone())));
            let (stop, stopped) = watch::channel(false);
            let backend = EngineBackend {
                tenant: tenant.clone(),
                engines: self.engines.clone(),
                runtime: tokio::runtime::Handle::current(),
            };
            let restore = restore.then_some((
                self.options.for_grace_period,
                self.options.for_outage_tolerance,
            ));
            let task = tokio::spawn(run_group(
                group,
                Arc::new(backend),
                Arc::clone(&snapshot),
                stopped,
                restore,
                self.alerts
                    .clone()
                    .map(|sink| (sink, self.options.defaults.clone())),
            ));
            snapshots.push((tenant.clone(), Arc::clone(&snapshot)));
            running.push(Running {
                tenant,
                snapshot,
                stop,
                task,
            });
        }
        let count = running.len();
        *self.snapshots.write() = snapshots;
        metrics::CONFIG_LAST_RELOAD_SUCCESSFUL.set(1);
        metrics::CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP.set(now / 1000);
        Ok(count)
    }

    /// The groups of `tenant`, each as of its latest evaluation, in file order.
    pub fn groups(&self, tenant: &Tenant) -> Vec<Arc<Group>> {
        self.snapshots
            .read()
            .iter()
            .filter(|(t, _)| t == tenant)
            .map(|(_, g)| Arc::clone(&g.read()))
            .collect()
    }

    /// Stops evaluating: each group finishes the evaluation it is in.
    pub async fn stop(&self) {
        let mut running = self.running.lock().await;
        for r in running.drain(..) {
            let _ = r.stop.send(true);
            let _ = r.task.await;
            drop(r.snapshot);
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where in each interval a group evaluates: a fixed offset from its key's hash, so that groups
/// spread over the interval and a restart keeps the same timestamps (Prometheus's
/// `EvalTimestamp`). In whole seconds when the interval is: `ALERTS_FOR_STATE` holds an alert's
/// activation in whole seconds, so a restore then gives back the exact time.
fn phase(group: &Group, interval: i64) -> i64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    group.file.hash(&mut h);
    group.name.hash(&mut h);
    let hash = h.finish();
    if interval % 1000 == 0 {
        (hash % (interval / 1000) as u64) as i64 * 1000
    } else {
        (hash % interval as u64) as i64
    }
}

/// The first evaluation time after `now` for a group of `interval` and `phase` (ms).
fn next_eval(now: i64, interval: i64, phase: i64) -> i64 {
    (now - phase).div_euclid(interval) * interval + phase + interval
}

/// Evaluates `group` on its interval until `stop`; returns it with its state.
async fn run_group(
    mut group: Group,
    backend: Arc<EngineBackend>,
    snapshot: Snapshot,
    mut stop: watch::Receiver<bool>,
    mut restore: Option<(Duration, Duration)>,
    alerts: Option<(Arc<dyn AlertSink>, GroupDefaults)>,
) -> Group {
    let interval = i64::try_from(group.interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let phase = phase(&group, interval);
    let key = format!("{};{}", group.file, group.name);
    let tenant = backend.tenant.to_string();
    let labels = [tenant.as_str(), key.as_str()];
    metrics::GROUP_INTERVAL
        .with_label_values(&labels)
        .set(interval as f64 / 1000.0);
    metrics::GROUP_RULES
        .with_label_values(&labels)
        .set(group.rules.len() as i64);
    let mut last: Option<i64> = None;
    loop {
        let now = now_ms();
        let t = next_eval(now, interval, phase);
        let wait = Duration::from_millis(u64::try_from(t - now).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return group,
        }
        if let Some(prev) = last {
            let missed = (t - prev) / interval - 1;
            if missed > 0 {
                metrics::GROUP_ITERATIONS_MISSED
                    .with_label_values(&labels)
                    .inc_by(missed as u64);
            }
        }
        last = Some(t);
        let b = Arc::clone(&backend);
        let r = restore.take();
        let evaluated = tokio::task::spawn_blocking(move || {
            if let Some((grace, tolerance)) = r {
                restore_group(&mut group, b.as_ref(), t, grace, tolerance);
            }
            let failed = group.eval(t, b.as_ref());
            (group, failed)
        })
        .await;
        let failed;
        (group, failed) = match evaluated {
            Ok(v) => v,
            Err(e) => {
                // The group went with its thread: go on from its latest snapshot.
                tracing::error!(error = %e, group = %key, "rule group evaluation panicked");
                (
                    Group::clone(&snapshot.read()),
                    group_rules_count_as_failed(&snapshot),
                )
            }
        };
        metrics::observe_group(&labels, &group, failed);
        if let Some((sink, defaults)) = &alerts {
            let now = now_ms();
            let outgoing: Vec<Alert> = std::mem::take(&mut group.outbox)
                .iter()
                .map(|(expr, a)| to_alertmanager(expr, a, defaults, now))
                .collect();
            if !outgoing.is_empty() {
                sink.send(&backend.tenant, outgoing, now);
            }
        }
        if failed > 0 {
            for r in group.rules.iter().filter(|r| r.last_error.is_some()) {
                tracing::warn!(tenant = %tenant, group = %key, rule = r.rule.name(), error = r.last_error.as_deref().unwrap_or(""), "rule evaluation failed");
            }
        }
        *snapshot.write() = Arc::new(group.clone());
    }
}

/// Every rule of the group in `snapshot`, counted failed (its evaluation panicked).
fn group_rules_count_as_failed(snapshot: &RwLock<Arc<Group>>) -> usize {
    snapshot.read().rules.len()
}

/// Restores `group`'s alerts from the `ALERTS_FOR_STATE` series of the last
/// `tolerance` before `t`.
fn restore_group(
    group: &mut Group,
    backend: &dyn Backend,
    t: i64,
    grace: Duration,
    tolerance: Duration,
) {
    use crate::rules::Language::PromQl;
    use promql::value::{Series, Value};
    let interval = i64::try_from(group.interval.as_millis()).unwrap_or(i64::MAX);
    let mut found = Vec::new();
    for (i, selector) in group.restore_queries(tolerance) {
        let series = match backend.query(PromQl, &selector, t) {
            Ok(Value::Matrix(series)) => series,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(group = %group.name, error = %e, "restoring alert state failed");
                continue;
            }
        };
        // An alert that resolved before the restart ended its series with a staleness marker,
        // which range selections leave out; an instant selection just after the last sample
        // (when the marker would have been written) does not see a series the marker ended.
        let instant = selector.split('[').next().unwrap_or(&selector).to_string();
        let mut by_last: BTreeMap<i64, Vec<Series>> = BTreeMap::new();
        for s in series {
            if let Some(&(last, _)) = s.points.last() {
                by_last.entry(last).or_default().push(s);
            }
        }
        let mut live = Vec::new();
        for (last, list) in by_last {
            let probe = last.saturating_add(interval).min(t);
            let Ok(Value::Vector(present)) = backend.query(PromQl, &instant, probe) else {
                continue;
            };
            let present: std::collections::HashSet<_> =
                present.iter().map(|s| s.labels.without_name()).collect();
            live.extend(
                list.into_iter()
                    .filter(|s| present.contains(&s.labels.without_name())),
            );
        }
        found.push((i, Value::Matrix(live)));
    }
    group.restore(found, grace);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Down` alert of a group (`for: 10m`, every minute) restored at `t` from
    /// `ALERTS_FOR_STATE` written at `points`.
    fn restored_active_at(points: &[(i64, f64)], t: i64) -> i64 {
        use std::cell::RefCell;
        let file = crate::rules::parse(
            "groups:\n- name: g\n  interval: 1m\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 10m\n",
            ParseOptions::default(),
        )
        .expect("rules");
        let mut group = Group::new("f", &file.groups[0], &GroupDefaults::default());
        let mut source = promql::MemSource::new();
        let labels = |pairs: &[(&str, &str)]| {
            promql::value::Labels::new(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        source
            .append(
                labels(&[("__name__", "up"), ("instance", "a")]),
                &[(t, 0.0)],
            )
            .expect("up");
        source
            .append(
                labels(&[
                    ("__name__", "ALERTS_FOR_STATE"),
                    ("alertname", "Down"),
                    ("instance", "a"),
                ]),
                points,
            )
            .expect("state");
        let backend = crate::unittest::MemBackend(RefCell::new(source));
        restore_group(
            &mut group,
            &backend,
            t,
            Duration::ZERO,
            Duration::from_secs(3600),
        );
        group.eval(t, &backend);
        let alert = group.rules[0].active_alerts().next().cloned();
        alert.expect("an alert").active_at
    }

    #[test]
    fn a_restart_restores_active_alerts_but_not_resolved_ones() {
        let (min, t) = (60_000, 7_200_000);
        let since = ((t - 40 * min) / 1000) as f64;
        // Active until the restart 5 minutes ago: restored, firing since then.
        assert_eq!(
            restored_active_at(&[(t - 6 * min, since), (t - 5 * min, since)], t),
            t - 40 * min
        );
        // Resolved 5 minutes before the restart (a staleness marker ended its series): the
        // alert that is back is new.
        let stale = promql::value::stale_nan();
        assert_eq!(
            restored_active_at(&[(t - 6 * min, since), (t - 5 * min, stale)], t),
            t
        );
    }

    #[test]
    fn the_self_watch_group_reads_and_checks_clean() {
        let text = self_watch_rules(Duration::from_secs(15));
        let file = crate::rules::parse(&text, ParseOptions::default()).expect("self-watch rules");
        assert_eq!(file.groups.len(), 1);
        let group = &file.groups[0];
        assert_eq!(group.interval, Some(Duration::from_secs(15)));
        assert_eq!(group.rules.len(), 8);
        assert!(group.rules.iter().all(|r| r.alert.is_some()));
        assert!(crate::rules::duplicates(&file).is_empty());
    }

    #[test]
    fn evaluation_times_are_aligned_to_the_interval_plus_the_phase() {
        assert_eq!(next_eval(10_500, 1_000, 200), 11_200);
        assert_eq!(next_eval(10_200, 1_000, 200), 11_200);
        assert_eq!(next_eval(10_199, 1_000, 200), 10_200);
        assert_eq!(next_eval(0, 60_000, 0), 60_000);
    }
}
