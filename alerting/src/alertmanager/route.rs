//! Alertmanager's routing tree (`dispatch/route.go`): each route's matchers (`matchers`, and the
//! older `match` and `match_re`, sorted as Alertmanager sorts them), options inherited from the
//! parent (`receiver`, `group_by` with `...` for every label, `group_wait`, `group_interval`,
//! `repeat_interval`; the time intervals are the route's own), and the walk that finds the
//! routes an alert goes to: the deepest matching routes, the first match among siblings unless
//! it says `continue`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use saphyr::Yaml;

use super::matchers::{parse_compat, MatchOp, Matcher};

/// What a route does with the alerts it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    /// Where its notifications go.
    pub receiver: String,
    /// The labels its alerts are grouped by.
    pub group_by: BTreeSet<String>,
    /// Group by every label (`group_by: ['...']`).
    pub group_by_all: bool,
    /// How long a new group waits before its first notification.
    pub group_wait: Duration,
    /// How long a group waits before notifying about alerts added to it.
    pub group_interval: Duration,
    /// How long before a notification that was sent is sent again.
    pub repeat_interval: Duration,
    /// Time intervals in which its notifications are muted.
    pub mute_time_intervals: Vec<String>,
    /// Time intervals outside of which its notifications are muted.
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    /// Alertmanager's `DefaultRouteOpts`.
    fn default() -> Self {
        Self {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

/// A node of the routing tree.
#[derive(Debug, Clone)]
pub struct Route {
    /// What an alert's labels must match, sorted by name, value and operator.
    pub matchers: Vec<Matcher>,
    /// Whether the walk goes on to the next sibling after this route matched.
    pub continue_matching: bool,
    /// Its options, with what it inherits filled in.
    pub opts: RouteOpts,
    /// Its child routes, in order.
    pub routes: Vec<Route>,
    /// Its key: the parent's key, `/`, and its matchers (`{}/{owner="team-A"}`).
    pub key: String,
}

/// Labels of an alert.
pub type LabelSet = BTreeMap<String, String>;

impl Route {
    /// The routes `labels` go to, in order: empty when this route does not match.
    pub fn matches(&self, labels: &LabelSet) -> Vec<&Route> {
        if !matches_all(&self.matchers, labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let found = child.matches(labels);
            let matched = !found.is_empty();
            all.extend(found);
            if matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// Every route of the tree, depth first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for r in &self.routes {
            out.extend(r.walk());
        }
        out
    }

    /// The tree of a `route:` node; the root must name a receiver and match everything.
    pub fn root(y: &Yaml<'_>) -> Result<Route, String> {
        let root = Route::parse(y, &RouteOpts::default(), None)?;
        if root.opts.receiver.is_empty() {
            return Err("root route must specify a default receiver".into());
        }
        if !root.matchers.is_empty() {
            return Err("root route must not have any matchers".into());
        }
        Ok(root)
    }

    fn parse(y: &Yaml<'_>, parent: &RouteOpts, parent_key: Option<&str>) -> Result<Route, String> {
        if y.as_mapping().is_none() && !y.is_null() {
            return Err("route must be a mapping".into());
        }
        let get = |k: &str| y.as_mapping_get(k).filter(|v| !v.is_null());
        let mut opts = parent.clone();
        opts.mute_time_intervals = strings(get("mute_time_intervals"), "mute_time_intervals")?;
        opts.active_time_intervals =
            strings(get("active_time_intervals"), "active_time_intervals")?;
        if let Some(r) = get("receiver") {
            opts.receiver = scalar(r).ok_or("receiver must be a string")?;
        }
        if let Some(g) = get("group_by") {
            let labels = strings(Some(g), "group_by")?;
            let all = labels.iter().any(|l| l == "...");
            if all && labels.len() > 1 {
                return Err(
                    "cannot have wildcard group_by (`...`) and other labels at the same time"
                        .into(),
                );
            }
            let mut seen = BTreeSet::new();
            for l in &labels {
                if !all && !seen.insert(l.clone()) {
                    return Err(format!("duplicated label {l:?} in group_by"));
                }
                if !all && l.is_empty() {
                    return Err("invalid label name \"\" in group_by list".into());
                }
            }
            opts.group_by_all = all;
            opts.group_by = if all { BTreeSet::new() } else { seen };
        }
        for (key, slot) in [
            ("group_wait", &mut opts.group_wait),
            ("group_interval", &mut opts.group_interval),
            ("repeat_interval", &mut opts.repeat_interval),
        ] {
            if let Some(v) = get(key) {
                let text = scalar(v).ok_or_else(|| format!("{key} must be a duration"))?;
                let ms = common::duration::parse_prometheus(&text)
                    .filter(|ms| *ms >= 0)
                    .ok_or_else(|| format!("not a valid duration string: {text:?}"))?;
                *slot = Duration::from_millis(ms as u64);
            }
        }
        if opts.group_interval.is_zero() {
            return Err("group_interval cannot be zero".into());
        }
        if opts.repeat_interval.is_zero() {
            return Err("repeat_interval cannot be zero".into());
        }
        let mut matchers = Vec::new();
        for (key, op) in [("match", MatchOp::Equal), ("match_re", MatchOp::Regex)] {
            let Some(m) = get(key).and_then(Yaml::as_mapping) else {
                continue;
            };
            for (k, v) in m {
                let name = scalar(k).ok_or_else(|| format!("{key}: label name expected"))?;
                let value = scalar(v).unwrap_or_default();
                let value = if op == MatchOp::Regex {
                    regex::Regex::new(&format!("^(?:{value})$"))
                        .map_err(|e| format!("error parsing regexp: {e}"))?;
                    format!("^(?:{value})$")
                } else {
                    value
                };
                matchers.push(Matcher::new(&name, op, &value)?);
            }
        }
        for line in strings(get("matchers"), "matchers")? {
            matchers.extend(parse_config_matchers(&line)?);
        }
        matchers.sort_by(|a, b| (&a.name, &a.value, a.op).cmp(&(&b.name, &b.value, b.op)));
        let own = format!(
            "{{{}}}",
            matchers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let key = match parent_key {
            Some(p) => format!("{p}/{own}"),
            None => own,
        };
        let continue_matching = get("continue").and_then(Yaml::as_bool).unwrap_or(false);
        let mut routes = Vec::new();
        if let Some(list) = get("routes").and_then(Yaml::as_vec) {
            for child in list {
                routes.push(Route::parse(child, &opts_for_children(&opts), Some(&key))?);
            }
        }
        Ok(Route {
            matchers,
            continue_matching,
            opts,
            routes,
            key,
        })
    }
}

/// What a child inherits: everything but the time intervals.
fn opts_for_children(opts: &RouteOpts) -> RouteOpts {
    RouteOpts {
        mute_time_intervals: Vec::new(),
        active_time_intervals: Vec::new(),
        ..opts.clone()
    }
}

/// Whether every matcher matches `labels` (an absent label reads as empty).
pub fn matches_all(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
}

/// The matchers of one line of a `matchers:` list in a configuration file, read as Alertmanager
/// reads them by default (both syntaxes, [`parse_compat`]).
pub fn parse_config_matchers(line: &str) -> Result<Vec<Matcher>, String> {
    parse_compat(line)
}

/// A scalar as text, whatever its YAML type.
fn scalar(y: &Yaml<'_>) -> Option<String> {
    y.as_str()
        .map(str::to_string)
        .or_else(|| y.as_integer().map(|i| i.to_string()))
        .or_else(|| y.as_floating_point().map(|f| f.to_string()))
        .or_else(|| y.as_bool().map(|b| b.to_string()))
}

/// A list of strings (absent: empty).
fn strings(y: Option<&Yaml<'_>>, what: &str) -> Result<Vec<String>, String> {
    let Some(y) = y else {
        return Ok(Vec::new());
    };
    let list = y.as_vec().ok_or_else(|| format!("{what} must be a list"))?;
    list.iter()
        .map(|v| scalar(v).ok_or_else(|| format!("{what} must hold strings")))
        .collect()
}
