//! `promtool test rules`: unit-test files that load input series, evaluate rule files over them
//! step by step, and compare the alerts firing and expressions' values at chosen times
//! (`start_timestamp`, `fuzzy_compare`, `external_labels`/`external_url`, `--run`). Native
//! histograms and `group_eval_order` are not supported yet; a test that needs native histograms
//! fails and says so.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use promql::notation::{parse_metric, parse_series, Item};
use promql::value::{stale_nan, Labels, Sample, Value as PromValue};
use promql::{MemSource, Options};
use saphyr::{LoadableYamlNode, Yaml};

use crate::alerts::AlertState;
use crate::group::{rule_samples, Backend, Group, GroupDefaults};
use crate::rules::{parse_file, Language, ParseOptions, RuleFile};

/// What a run printed and how it ended (0: every test passed, 1: a failure).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestOutcome {
    /// The process exit code.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// How unit tests run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOptions {
    /// Only tests whose name matches one of these regular expressions (all when empty).
    pub run: Vec<String>,
    /// Accept fields Prometheus does not know in the rule files.
    pub ignore_unknown_fields: bool,
    /// Expressions may use `@` (on in Prometheus since 2.33).
    pub at_modifier: bool,
    /// Expressions may use negative offsets (on in Prometheus since 2.33).
    pub negative_offset: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            run: Vec::new(),
            ignore_unknown_fields: false,
            at_modifier: true,
            negative_offset: true,
        }
    }
}

/// Runs the unit-test files as `promtool test rules` does.
pub fn test_files(files: &[PathBuf], options: &TestOptions) -> TestOutcome {
    let mut out = TestOutcome::default();
    for path in files {
        let _ = writeln!(out.stdout, "Unit Testing:  {}", path.display());
        match test_file(path, options) {
            Ok(()) => out.stdout.push_str("  SUCCESS\n"),
            Err(errors) => {
                out.exit_code = 1;
                out.stderr.push_str("  FAILED:\n");
                for e in errors {
                    let _ = writeln!(out.stderr, "{e}");
                }
            }
        }
        out.stdout.push('\n');
    }
    out
}

fn text<'a>(y: &'a Yaml<'_>, key: &str) -> Option<&'a str> {
    y.as_mapping_get(key).and_then(Yaml::as_str)
}

/// A scalar as text, whatever its YAML type (`values: 1`, `eval_time: 0`).
fn scalar(y: &Yaml<'_>) -> Option<String> {
    y.as_str()
        .map(str::to_string)
        .or_else(|| y.as_integer().map(|i| i.to_string()))
        .or_else(|| y.as_floating_point().map(|f| f.to_string()))
}

/// A duration field in ms (`5m`, `0`, or seconds as a number).
fn duration(y: Option<&Yaml<'_>>, default: i64) -> Result<i64, String> {
    let Some(y) = y else {
        return Ok(default);
    };
    let s = scalar(y).ok_or("duration expected")?;
    common::duration::parse_prometheus(&s)
        .ok_or_else(|| format!("not a valid duration string: {s:?}"))
}

fn string_map(y: Option<&Yaml<'_>>) -> BTreeMap<String, String> {
    y.and_then(Yaml::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v).unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default()
}

fn test_file(path: &Path, options: &TestOptions) -> Result<(), Vec<String>> {
    let body =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    let docs = Yaml::load_from_str(&body).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    let root = docs
        .first()
        .ok_or_else(|| vec!["empty test file".to_string()])?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut rules = Vec::new();
    for f in root
        .as_mapping_get("rule_files")
        .and_then(Yaml::as_vec)
        .map(|v| v.iter().filter_map(Yaml::as_str).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let parse = ParseOptions {
            ignore_unknown_fields: options.ignore_unknown_fields,
            ..ParseOptions::default()
        };
        rules.push(parse_file(&dir.join(f), parse)?);
    }
    for rule in rules.iter().flat_map(|f| &f.groups).flat_map(|g| &g.rules) {
        if let Ok(q) = promql::parse(&rule.expr) {
            let (at, negative) = modifiers(&q.expr);
            if at && !options.at_modifier {
                return Err(vec![format!(
                    "    rule {}: @ modifier is disabled",
                    rule.name()
                )]);
            }
            if negative && !options.negative_offset {
                return Err(vec![format!(
                    "    rule {}: negative offset is disabled",
                    rule.name()
                )]);
            }
        }
    }
    let fuzzy = root
        .as_mapping_get("fuzzy_compare")
        .and_then(Yaml::as_bool)
        .unwrap_or(false);
    let interval =
        duration(root.as_mapping_get("evaluation_interval"), 60_000).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    for test in root
        .as_mapping_get("tests")
        .and_then(Yaml::as_vec)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = text(test, "name").unwrap_or("");
        let run = &options.run;
        if !run.is_empty()
            && !run
                .iter()
                .any(|r| regex::Regex::new(r).is_ok_and(|re| re.is_match(name)))
        {
            continue;
        }
        if let Err(mut e) = run_test(test, &rules, interval, fuzzy) {
            if !name.is_empty() {
                for m in &mut e {
                    *m = format!("    name: {name},\n{m}");
                }
            }
            errors.extend(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// One alert expected or found: labels and annotations.
type AlertView = (BTreeMap<String, String>, BTreeMap<String, String>);

/// Whether `e` uses `@` and a negative offset.
fn modifiers(e: &promql::ast::Expr) -> (bool, bool) {
    use promql::ast::{Expr, Offset};
    let neg = |o: &Option<Offset>| matches!(o, Some(Offset::Neg(_)));
    let or = |a: (bool, bool), b: (bool, bool)| (a.0 || b.0, a.1 || b.1);
    match e {
        Expr::Aggregate(a) => {
            let p = a.param.as_deref().map_or((false, false), modifiers);
            or(modifiers(&a.expr), p)
        }
        Expr::Unary(u) => modifiers(&u.expr),
        Expr::Binary(b) => or(modifiers(&b.lhs), modifiers(&b.rhs)),
        Expr::Paren(p) => modifiers(&p.expr),
        Expr::Subquery(s) => or((s.at.is_some(), neg(&s.offset)), modifiers(&s.expr)),
        Expr::VectorSelector(v) => (v.at.is_some(), neg(&v.offset)),
        Expr::MatrixSelector(m) => (m.vs.at.is_some(), neg(&m.vs.offset)),
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .fold((false, false), |acc, a| or(acc, modifiers(a))),
        _ => (false, false),
    }
}

/// The start of a test group's clock: `start_timestamp` as Unix seconds or RFC 3339, in ms.
fn start_ms(test: &Yaml<'_>) -> Result<i64, Vec<String>> {
    let Some(y) = test.as_mapping_get("start_timestamp") else {
        return Ok(0);
    };
    let s = scalar(y).unwrap_or_default();
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1000.0).round() as i64);
    }
    let t = humantime::parse_rfc3339_weak(&s)
        .map_err(|e| vec![format!("    start_timestamp {s:?}: {e}")])?;
    let since = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| vec![format!("    start_timestamp {s:?} is before 1970")])?;
    Ok(since.as_millis() as i64)
}

/// The in-memory source a test's series and rules' output live in.
pub(crate) struct MemBackend(pub(crate) RefCell<MemSource>);

impl Backend for MemBackend {
    fn query(&self, language: Language, expr: &str, t: i64) -> Result<PromValue, String> {
        if language != Language::PromQl {
            return Err(format!(
                "{} rules are not evaluated by unit tests",
                language.as_str()
            ));
        }
        let query = promql::parse(expr).map_err(|e| e.to_string())?;
        let source = self.0.borrow();
        Ok(promql::instant(&*source, &Options::default(), &query, t)
            .map_err(|e| e.to_string())?
            .value)
    }

    fn write(&self, samples: Vec<Sample>) -> Result<(), String> {
        let mut source = self.0.borrow_mut();
        for s in samples {
            source
                .append(s.labels, &[(s.t, s.v)])
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Whether `a` and `b` differ by at most two units in the last place (`fuzzy_compare`).
fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() || a.signum() != b.signum() {
        return a == b || (a.is_nan() && b.is_nan());
    }
    (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 2
}

fn run_test(
    test: &Yaml<'_>,
    rules: &[RuleFile],
    eval_interval: i64,
    fuzzy: bool,
) -> Result<(), Vec<String>> {
    let step = duration(test.as_mapping_get("interval"), eval_interval).map_err(|e| vec![e])?;
    let start = start_ms(test)?;
    let external_labels = string_map(test.as_mapping_get("external_labels"));
    let external_url = text(test, "external_url").unwrap_or("");
    let mut source = MemSource::new();
    for s in test
        .as_mapping_get("input_series")
        .and_then(Yaml::as_vec)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let series = text(s, "series").unwrap_or("");
        let values = s
            .as_mapping_get("values")
            .and_then(scalar)
            .unwrap_or_default();
        let desc = parse_series(&format!("{series} {values}"))
            .map_err(|e| vec![format!("    could not parse series {series:?}: {e}")])?;
        let mut samples = Vec::new();
        for (k, item) in desc.values.iter().enumerate() {
            let t = start + k as i64 * step;
            match item {
                Item::Float(v) => samples.push((t, *v)),
                Item::Stale => samples.push((t, stale_nan())),
                Item::Omitted => {}
                Item::Histogram(_) => {
                    return Err(vec!["    native histograms are not supported yet".into()])
                }
            }
        }
        source
            .append(Labels::new(desc.labels), &samples)
            .map_err(|e| vec![format!("    {e}")])?;
    }
    let alert_tests = test
        .as_mapping_get("alert_rule_test")
        .and_then(Yaml::as_vec)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let expr_tests = test
        .as_mapping_get("promql_expr_test")
        .and_then(Yaml::as_vec)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut checks: Vec<i64> = Vec::new();
    for t in alert_tests.iter().chain(expr_tests) {
        checks.push(start + duration(t.as_mapping_get("eval_time"), 0).map_err(|e| vec![e])?);
    }
    let end = checks.iter().copied().max().unwrap_or(start);
    // Every group of every file, evaluated in file order at each step.
    let defaults = GroupDefaults {
        interval: Duration::from_millis(eval_interval.max(0) as u64),
        query_offset: Duration::ZERO,
        external_labels,
        external_url: external_url.to_string(),
        resend_delay: Duration::from_secs(60),
    };
    let mut groups: Vec<Group> = rules
        .iter()
        .flat_map(|f| &f.groups)
        .map(|g| Group::new("", g, &defaults))
        .collect();
    let backend = MemBackend(RefCell::new(source));
    let mut errors = Vec::new();
    // Alerts at each checked time, by alert name.
    let mut firing_at: BTreeMap<i64, BTreeMap<String, Vec<AlertView>>> = BTreeMap::new();
    let mut t = start;
    while t <= end {
        for group in &mut groups {
            group.eval(t, &backend);
            for rule in &group.rules {
                if let Some(e) = &rule.last_error {
                    errors.push(format!("    rule {}: {e}", rule.rule.name()));
                }
            }
        }
        // A check between two evaluations sees the state of the earlier one, as promtool's.
        for &c in checks.iter().filter(|&&c| t <= c && c < t + eval_interval) {
            let at = firing_at.entry(c).or_default();
            if !at.is_empty() {
                continue;
            }
            for rule in groups
                .iter()
                .flat_map(|g| &g.rules)
                .filter_map(|r| r.alerting.as_ref())
            {
                let list = at.entry(rule.name().to_string()).or_default();
                for a in rule.alerts().filter(|a| a.state == AlertState::Firing) {
                    let labels: BTreeMap<String, String> =
                        a.labels.pairs().iter().cloned().collect();
                    list.push((labels, a.annotations.clone()));
                }
            }
        }
        t += eval_interval;
    }
    for at in alert_tests {
        let rel = duration(at.as_mapping_get("eval_time"), 0).map_err(|e| vec![e])?;
        let t = start + rel;
        let name = text(at, "alertname").unwrap_or("");
        let mut want: Vec<AlertView> = at
            .as_mapping_get("exp_alerts")
            .and_then(Yaml::as_vec)
            .map(|v| {
                v.iter()
                    .map(|e| {
                        let mut labels = string_map(e.as_mapping_get("exp_labels"));
                        labels.insert("alertname".into(), name.to_string());
                        (labels, string_map(e.as_mapping_get("exp_annotations")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut got = firing_at
            .get(&t)
            .and_then(|m| m.get(name))
            .cloned()
            .unwrap_or_default();
        want.sort();
        got.sort();
        if want != got {
            errors.push(format!(
                "    alertname: {name}, time: {}, \n        exp:{want:?}, \n        got:{got:?}",
                humantime::format_duration(Duration::from_millis(rel as u64))
            ));
        }
    }
    for et in expr_tests {
        let rel = duration(et.as_mapping_get("eval_time"), 0).map_err(|e| vec![e])?;
        let t = start + rel;
        let expr = text(et, "expr").unwrap_or("");
        let got: Vec<(Labels, f64)> = match backend
            .query(Language::PromQl, expr, t)
            .and_then(|v| rule_samples(v, t))
        {
            Ok(v) => v.into_iter().map(|s| (s.labels, s.v)).collect(),
            Err(e) => {
                errors.push(format!("    expr: {expr:?}, time: {t}ms, err: {e}"));
                continue;
            }
        };
        let mut want: Vec<(Labels, f64)> = Vec::new();
        for s in et
            .as_mapping_get("exp_samples")
            .and_then(Yaml::as_vec)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if s.as_mapping_get("histogram").is_some() {
                errors.push("    native histograms are not supported yet".into());
                continue;
            }
            let labels = match text(s, "labels") {
                Some(l) => match parse_metric(l) {
                    Ok((pairs, _)) => Labels::new(pairs),
                    Err(e) => {
                        errors.push(format!("    could not parse labels {l:?}: {e}"));
                        continue;
                    }
                },
                None => Labels::new(Vec::new()),
            };
            let v = s
                .as_mapping_get("value")
                .and_then(scalar)
                .and_then(|v| promql::value::parse_number(&v))
                .unwrap_or(0.0);
            want.push((labels, v));
        }
        let key = |x: &(Labels, f64)| x.0.to_string();
        let mut got_sorted = got.clone();
        got_sorted.sort_by_key(key);
        want.sort_by_key(key);
        let same = got_sorted.len() == want.len()
            && got_sorted.iter().zip(&want).all(|(g, w)| {
                g.0 == w.0
                    && (g.1 == w.1 || (g.1.is_nan() && w.1.is_nan()) || (fuzzy && close(g.1, w.1)))
            });
        if !same {
            errors.push(format!(
                "    expr: {expr:?}, time: {},\n        exp: {:?}\n        got: {:?}",
                humantime::format_duration(Duration::from_millis(rel as u64)),
                want.iter()
                    .map(|(l, v)| format!("{l} {v}"))
                    .collect::<Vec<_>>(),
                got_sorted
                    .iter()
                    .map(|(l, v)| format!("{l} {v}"))
                    .collect::<Vec<_>>()
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
