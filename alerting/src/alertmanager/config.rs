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

mod auth;
mod fields;
mod notifiers;

pub use self::auth::{Authorization, Secret};
use self::fields::{
    check_label_names, check_matcher_lines, check_regex_map, classic_name, duration, get, list,
    pairs, scalar, string_map, text,
};
use self::notifiers::{check_receiver, global, receivers};
pub use self::notifiers::{Integration, Receiver, TlsSettings};
use super::matchers::Matcher;
use super::route::Route;
use super::schema::{unknown_fields, CONFIG};
use super::timeinterval::TimeInterval;

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

/// Loads a configuration from its text as [`load`] does, then the templates its `templates`
/// globs name (relative ones from `dir`, the file's folder, as Alertmanager takes them), which
/// its notifiers' texts render against. A template that does not parse fails the load.
pub fn load_in(text: &str, dir: Option<&std::path::Path>) -> Result<Config, String> {
    let mut config = load(text)?;
    let set = std::sync::Arc::new(load_templates(&config.templates, dir)?);
    // Relative file paths (secrets, CA and client certificates) are taken from the file's
    // folder, as Alertmanager's `resolveFilepaths` takes them.
    let resolve = |p: &mut String| {
        if let Some(d) = dir {
            if !p.is_empty() && std::path::Path::new(p.as_str()).is_relative() {
                *p = d.join(p.as_str()).to_string_lossy().into_owned();
            }
        }
    };
    for r in &mut config.receivers {
        for i in &mut r.integrations {
            i.templates = std::sync::Arc::clone(&set);
            for (k, v) in &mut i.settings {
                if k.ends_with("_file") {
                    resolve(v);
                }
            }
            for f in [
                &mut i.tls.ca_file,
                &mut i.tls.cert_file,
                &mut i.tls.key_file,
            ]
            .into_iter()
            .flatten()
            {
                resolve(f);
            }
            match &mut i.authorization {
                Some(Authorization::Credentials {
                    credentials: Secret::File(f),
                    ..
                })
                | Some(Authorization::Basic {
                    password: Secret::File(f),
                    ..
                }) => resolve(f),
                _ => {}
            }
        }
    }
    Ok(config)
}

/// The templates of the files matching `globs` (relative ones taken from `dir`), in path order
/// per glob; a glob matching nothing is no error, a file that does not parse is.
pub fn load_templates(
    globs: &[String],
    dir: Option<&std::path::Path>,
) -> Result<common::template::TemplateSet, String> {
    use std::path::Path;
    let mut set = common::template::TemplateSet::default();
    for pattern in globs {
        let full = match dir {
            Some(d) if !Path::new(pattern).is_absolute() => {
                d.join(pattern).to_string_lossy().into_owned()
            }
            _ => pattern.clone(),
        };
        let paths =
            glob::glob(&full).map_err(|e| format!("invalid template glob {pattern:?}: {e}"))?;
        let mut paths: Vec<_> = paths.filter_map(Result::ok).collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("failed to read template {}: {e}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            set.add(&name, &text)?;
        }
    }
    Ok(set)
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
                // The template files are checked after the summary, as amtool checks them.
                if !c.templates.is_empty() {
                    match load_templates(&c.templates, path.parent()) {
                        Ok(_) => {
                            let _ = writeln!(out.stdout, "  SUCCESS");
                        }
                        Err(e) => {
                            failed += 1;
                            let _ = writeln!(out.stdout, "  FAILED: {e}");
                        }
                    }
                }
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
