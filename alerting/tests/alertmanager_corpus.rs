//! Alertmanager's conformance cases (`../shared/conformance/alertmanager/`, or
//! `VIGIL_ALERTMANAGER_CORPUS`), run through [`alerting::alertmanager`]: every matcher-parse case
//! (`matchers/parse_cases.yaml`, from Alertmanager's `matcher/parse` tests) gives the matchers
//! or the exact error Alertmanager gives; every routing case (`routing/route_cases.yaml` from
//! `dispatch/route_test.go`, `routing/cli_cases.yaml` from `amtool config routes test`) sends
//! its alert to the routes, with the options and keys, Alertmanager's tree gives; every time
//! interval case (`timeinterval/yaml_cases.yaml`) loads or fails with Alertmanager's error and
//! contains the instants it should; every configuration case (`config/manifest.yaml`, from
//! `config/config_test.go`) loads, or fails with Alertmanager's error. The corpus must
//! be there: a missing corpus fails.

use std::path::PathBuf;

use std::collections::BTreeMap;
use std::time::Duration;

use alerting::alertmanager::config::load;
use alerting::alertmanager::matchers::{parse_matcher, parse_matchers, Matcher};
use alerting::alertmanager::route::{LabelSet, Route};
use alerting::alertmanager::timeinterval::TimeInterval;
use saphyr::{LoadableYamlNode, Yaml};

fn corpus() -> PathBuf {
    let dir = match std::env::var_os("VIGIL_ALERTMANAGER_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/alertmanager")
        }
    };
    assert!(
        dir.is_dir(),
        "no Alertmanager corpus at {} (set VIGIL_ALERTMANAGER_CORPUS)",
        dir.display()
    );
    dir
}

fn text<'a>(y: &'a Yaml<'_>, key: &str) -> Option<&'a str> {
    y.as_mapping_get(key).and_then(Yaml::as_str)
}

fn triple(y: &Yaml<'_>) -> (String, String, String) {
    (
        text(y, "name").unwrap_or("").to_string(),
        text(y, "op").unwrap_or("").to_string(),
        text(y, "value").unwrap_or("").to_string(),
    )
}

fn of(m: &Matcher) -> (String, String, String) {
    (m.name.clone(), m.op.as_str().to_string(), m.value.clone())
}

#[test]
fn matcher_parse_cases_answer_as_alertmanager() {
    let path = corpus().join("matchers/parse_cases.yaml");
    let body = std::fs::read_to_string(&path).expect("parse_cases.yaml");
    let docs = Yaml::load_from_str(&body).expect("yaml");
    let mut failures = Vec::new();
    let mut count = 0;
    for (list, single) in [
        ("matchers_TestMatchers", false),
        ("matcher_TestMatcher", true),
    ] {
        let cases = docs[0]
            .as_mapping_get(list)
            .and_then(Yaml::as_vec)
            .unwrap_or_else(|| panic!("{list} in {}", path.display()));
        for case in cases {
            count += 1;
            let name = text(case, "name").unwrap_or("");
            let input = text(case, "input").unwrap_or("");
            let got: Result<Vec<(String, String, String)>, String> = if single {
                parse_matcher(input).map(|m| vec![of(&m)])
            } else {
                parse_matchers(input).map(|m| m.iter().map(of).collect())
            };
            let want: Result<Vec<(String, String, String)>, String> =
                match (text(case, "error"), case.as_mapping_get("expected")) {
                    (Some(e), _) => Err(e.to_string()),
                    (None, Some(e)) if single => Ok(vec![triple(e)]),
                    (None, Some(e)) => Ok(e
                        .as_vec()
                        .map(|v| v.iter().map(triple).collect())
                        .unwrap_or_default()),
                    (None, None) => Ok(Vec::new()),
                };
            if got != want {
                failures.push(format!(
                    "{list} / {name}: input {input:?}\n    want {want:?}\n    got  {got:?}"
                ));
            }
        }
    }
    assert!(count >= 75, "only {count} cases read");
    assert!(
        failures.is_empty(),
        "{} of {count} matcher cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn labels(y: Option<&Yaml<'_>>) -> LabelSet {
    y.and_then(Yaml::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| v.as_integer().map(|i| i.to_string()))?;
                    Some((k.as_str()?.to_string(), v))
                })
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default()
}

fn duration(y: Option<&Yaml<'_>>) -> Duration {
    let text = y.and_then(Yaml::as_str).unwrap_or("0s");
    let ms = common::duration::parse_prometheus(text).expect("a duration");
    Duration::from_millis(ms as u64)
}

/// A route as the cases describe it: receiver, group_by (`...` for all, as a sorted list),
/// group_wait, group_interval, repeat_interval.
type RouteView = (String, Vec<String>, Duration, Duration, Duration);

fn view(r: &Route) -> RouteView {
    let group_by = if r.opts.group_by_all {
        vec!["...".to_string()]
    } else {
        r.opts.group_by.iter().cloned().collect()
    };
    (
        r.opts.receiver.clone(),
        group_by,
        r.opts.group_wait,
        r.opts.group_interval,
        r.opts.repeat_interval,
    )
}

fn expected_view(y: &Yaml<'_>) -> RouteView {
    let mut group_by: Vec<String> = y
        .as_mapping_get("group_by")
        .and_then(Yaml::as_vec)
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    group_by.sort();
    (
        text(y, "receiver").unwrap_or("").to_string(),
        group_by,
        duration(y.as_mapping_get("group_wait")),
        duration(y.as_mapping_get("group_interval")),
        duration(y.as_mapping_get("repeat_interval")),
    )
}

#[test]
fn routing_cases_route_as_alertmanager() {
    let dir = corpus().join("routing");
    let body = std::fs::read_to_string(dir.join("route_cases.yaml")).expect("route_cases.yaml");
    let docs = Yaml::load_from_str(&body).expect("yaml");
    let suites = docs[0]
        .as_mapping_get("suites")
        .and_then(Yaml::as_mapping)
        .expect("suites");
    let mut failures = Vec::new();
    let mut count = 0;
    for (suite, spec) in suites {
        let suite = suite.as_str().unwrap_or("");
        let tree_text = text(spec, "route_tree_yaml").expect("route_tree_yaml");
        let tree_docs = Yaml::load_from_str(tree_text).expect("route tree yaml");
        let tree = match Route::root(&tree_docs[0]) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{suite}: tree refused: {e}"));
                continue;
            }
        };
        for case in spec
            .as_mapping_get("cases")
            .and_then(Yaml::as_vec)
            .expect("cases")
        {
            count += 1;
            let alert = labels(case.as_mapping_get("alert_labels"));
            let routes = tree.matches(&alert);
            let got: Vec<RouteView> = routes.iter().map(|r| view(r)).collect();
            let want: Vec<RouteView> = case
                .as_mapping_get("expected_routes")
                .and_then(Yaml::as_vec)
                .map(|v| v.iter().map(expected_view).collect())
                .unwrap_or_default();
            let got_keys: Vec<&str> = routes.iter().map(|r| r.key.as_str()).collect();
            let want_keys: Vec<&str> = case
                .as_mapping_get("expected_route_keys")
                .and_then(Yaml::as_vec)
                .map(|v| v.iter().filter_map(Yaml::as_str).collect())
                .unwrap_or_default();
            if got != want || got_keys != want_keys {
                failures.push(format!(
                    "{suite} {alert:?}:\n    want {want:?} {want_keys:?}\n    got  {got:?} {got_keys:?}"
                ));
            }
        }
    }
    let cli = std::fs::read_to_string(dir.join("cli_cases.yaml")).expect("cli_cases.yaml");
    let cli = Yaml::load_from_str(&cli).expect("yaml");
    for case in cli[0]
        .as_mapping_get("cases")
        .and_then(Yaml::as_vec)
        .expect("cases")
    {
        count += 1;
        let file = text(case, "config").expect("config");
        let config = std::fs::read_to_string(dir.join(file)).expect("config file");
        let config = Yaml::load_from_str(&config).expect("config yaml");
        let tree = Route::root(config[0].as_mapping_get("route").expect("route")).expect("tree");
        let alert = labels(case.as_mapping_get("alert_labels"));
        let got: Vec<&str> = tree
            .matches(&alert)
            .iter()
            .map(|r| r.opts.receiver.as_str())
            .collect();
        let want: Vec<&str> = case
            .as_mapping_get("expected_receivers")
            .and_then(Yaml::as_vec)
            .map(|v| v.iter().filter_map(Yaml::as_str).collect())
            .unwrap_or_default();
        if got != want {
            failures.push(format!("{file} {alert:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(count >= 28, "only {count} cases read");
    assert!(
        failures.is_empty(),
        "{} of {count} routing cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn time_interval_cases_load_and_contain_as_alertmanager() {
    let path = corpus().join("timeinterval/yaml_cases.yaml");
    let body = std::fs::read_to_string(&path).expect("yaml_cases.yaml");
    let docs = Yaml::load_from_str(&body).expect("yaml");
    let mut failures = Vec::new();
    let mut count = 0;
    for case in docs[0]
        .as_mapping_get("cases")
        .and_then(Yaml::as_vec)
        .expect("cases")
    {
        count += 1;
        let yaml = text(case, "yaml").expect("yaml");
        let what = text(case, "comment").unwrap_or(yaml);
        let intervals = Yaml::load_from_str(yaml).expect("case yaml");
        let parsed: Result<Vec<TimeInterval>, String> = intervals[0]
            .as_vec()
            .expect("a list of intervals")
            .iter()
            .map(TimeInterval::parse)
            .collect();
        let want_error = case
            .as_mapping_get("expect_error")
            .and_then(Yaml::as_bool)
            .unwrap_or(false);
        let intervals = match (parsed, want_error) {
            (Ok(i), false) => i,
            (Err(e), true) => {
                let want = text(case, "error").unwrap_or("");
                if e != want {
                    failures.push(format!("{what}: error {e:?}, want {want:?}"));
                }
                continue;
            }
            (Ok(_), true) => {
                failures.push(format!("{what}: loaded, want an error"));
                continue;
            }
            (Err(e), false) => {
                failures.push(format!("{what}: refused: {e}"));
                continue;
            }
        };
        for (key, want) in [("contains", true), ("excludes", false)] {
            for at in case
                .as_mapping_get(key)
                .and_then(Yaml::as_vec)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let at = at.as_str().expect("a time");
                let t = chrono::DateTime::parse_from_str(at, "%d %b %y %H:%M %z")
                    .unwrap_or_else(|e| panic!("{at}: {e}"))
                    .with_timezone(&chrono::Utc);
                let got = intervals.iter().any(|i| i.contains(t));
                if got != want {
                    failures.push(format!("{what}: {at} contained {got}, want {want}"));
                }
            }
        }
    }
    assert!(count >= 21, "only {count} cases read");
    assert!(
        failures.is_empty(),
        "{} of {count} time interval cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn configuration_cases_load_or_fail_as_alertmanager() {
    let dir = corpus().join("config");
    let body = std::fs::read_to_string(dir.join("manifest.yaml")).expect("manifest.yaml");
    let docs = Yaml::load_from_str(&body).expect("yaml");
    let mut failures = Vec::new();
    let mut count = 0;
    for case in docs[0]
        .as_mapping_get("cases")
        .and_then(Yaml::as_vec)
        .expect("cases")
    {
        count += 1;
        let file = text(case, "file").expect("file");
        let config = std::fs::read_to_string(dir.join(file)).expect("config file");
        let got = load(&config);
        match (text(case, "expect"), got) {
            (Some("load"), Ok(_)) => {}
            (Some("load"), Err(e)) => failures.push(format!("{file}: refused: {e}")),
            (_, Ok(_)) => failures.push(format!("{file}: loaded, want an error")),
            (_, Err(e)) => {
                let want = text(case, "error").unwrap_or("");
                let same = match want.strip_prefix("contains: ") {
                    Some(part) => e.contains(part),
                    None => e == want,
                };
                if !same {
                    failures.push(format!("{file}: error {e:?}, want {want:?}"));
                }
            }
        }
    }
    assert!(count >= 76, "only {count} cases read");
    assert!(
        failures.is_empty(),
        "{} of {count} configuration cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A notification with every part the default templates read: two firing alerts and a
/// resolved one, labels beyond the group's, common annotations, a receiver name to escape.
fn notification() -> serde_json::Value {
    serde_json::json!({
        "receiver": "team x/ops",
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "Down", "job": "api", "instance": "a:1", "env": "prod"},
             "annotations": {"summary": "a is down", "runbook": "http://rb/down"},
             "startsAt": "2026-12-07T10:00:00.5Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://vigil:9700/graph?g0.expr=up", "fingerprint": "0123456789abcdef"},
            {"status": "firing", "labels": {"alertname": "Down", "job": "api", "instance": "b:1", "env": "prod"},
             "annotations": {"summary": "b is down", "runbook": "http://rb/down"},
             "startsAt": "2026-12-07T10:01:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://vigil:9700/graph?g0.expr=up", "fingerprint": "1123456789abcdef"},
            {"status": "resolved", "labels": {"alertname": "Down", "job": "api", "instance": "c:1", "env": "prod"},
             "annotations": {"runbook": "http://rb/down"},
             "startsAt": "2026-12-07T09:00:00Z", "endsAt": "2026-12-07T09:30:00Z",
             "generatorURL": "http://vigil:9700/graph?g0.expr=up", "fingerprint": "2123456789abcdef"},
        ],
        "groupLabels": {"alertname": "Down"},
        "commonLabels": {"alertname": "Down", "job": "api", "env": "prod"},
        "commonAnnotations": {"runbook": "http://rb/down"},
        "externalURL": "http://vigil:9700",
        "groupKey": "{}:{alertname=\"Down\"}",
        "truncatedAlerts": 0,
    })
}

/// Alertmanager's `default.tmpl`, run by Vigil's template engine, writes what Vigil's built-in
/// defaults write, name by name: the engine reads Alertmanager's own templates (define,
/// template, range over `SortedPairs`, `.Alerts.Firing`, `urlquery`, `join`, `Remove` …) and
/// the built-ins (used when a configuration names no template files) match them.
#[test]
fn alertmanagers_default_template_renders_as_the_built_in_defaults() {
    use alerting::alertmanager::texts::{data, default_template};
    use alerting::template::{TemplateSet, Value};
    let path = corpus().join("templates/default.tmpl");
    let text = std::fs::read_to_string(&path).expect("default.tmpl");
    let mut set = TemplateSet::default();
    set.add("default.tmpl", &text).expect("default.tmpl parses");
    let names: Vec<String> = text
        .split("{{ define \"")
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_string))
        .collect();
    assert!(names.len() > 60, "{} templates defined", names.len());
    let mut resolved = notification();
    resolved["status"] = "resolved".into();
    let mut compared = 0;
    let mut failures = Vec::new();
    for n in [notification(), resolved] {
        let d = data(&n);
        for name in &names {
            let (call, dot) = if name.starts_with("__text_alert_list") {
                let Value::Map(m) = &d else { unreachable!() };
                (
                    format!("{{{{ template \"{name}\" .Alerts.Firing }}}}"),
                    Value::List(match &m["Alerts"] {
                        Value::List(l) => l
                            .iter()
                            .filter(|a| matches!(a, Value::Map(a) if a["Status"] == Value::Str("firing".into())))
                            .cloned()
                            .collect(),
                        _ => Vec::new(),
                    }),
                )
            } else {
                (format!("{{{{ template \"{name}\" . }}}}"), d.clone())
            };
            let Some(native) = default_template(name, &n, &dot) else {
                continue;
            };
            compared += 1;
            match set.render(&call, &d, None) {
                Ok(got) if got == native => {}
                Ok(got) => failures.push(format!(
                    "{name} ({}): Alertmanager's template writes\n{got:?}\nVigil's built-in writes\n{native:?}",
                    n["status"]
                )),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(compared >= 80, "compared {compared} renderings");
}
