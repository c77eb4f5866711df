//! `vigil rules check` answers as `promtool check rules` (the summary on stdout, the errors on
//! stderr with file, line and column, promtool's exit codes), and `vigil rules test` as
//! `promtool test rules`.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vigil-under-test");

fn check(args: &[&str], files: &[(&str, &str)]) -> (i32, String, String) {
    rules("check", args, files, &[])
}

/// Runs `vigil rules <sub> args files...`; `extra` files are written beside them but not named.
fn rules(
    sub: &str,
    args: &[&str],
    files: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cmd = Command::new(BIN);
    cmd.args(["rules", sub]).args(args);
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).expect("file written");
    }
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("rule file written");
        cmd.arg(path);
    }
    let out = cmd.output().expect("vigil runs");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = "groups:\n  - name: api\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n      - alert: Down\n        expr: up == 0\n        for: 5m\n        annotations:\n          summary: \"{{ $labels.instance }} is down\"\n";
const BAD: &str = "groups:\n  - name: api\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up\n";
const TWICE: &str = "groups:\n  - name: a\n    rules:\n      - alert: Down\n        expr: up == 0\n      - alert: Down\n        expr: up == 0\n";

#[test]
fn rules_check_counts_rules_and_exits_as_promtool() {
    let (code, stdout, stderr) = check(&[], &[("good.yml", GOOD)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("  SUCCESS: 2 rules found"), "{stdout}");

    let (code, stdout, stderr) = check(&[], &[("good.yml", GOOD), ("bad.yml", BAD)]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("Checking ") && stdout.contains("bad.yml"),
        "{stdout}"
    );
    assert!(stderr.contains("  FAILED:"), "{stderr}");
    assert!(
        stderr.contains(
            "bad.yml: 5:15: group \"api\", rule 1, \"job:up:sum\": could not parse expression"
        ),
        "{stderr}"
    );

    // Duplicates are a lint finding: reported, fatal only when asked.
    let (code, _, stderr) = check(&[], &[("twice.yml", TWICE)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("1 duplicate rule(s) found.\nMetric: Down"),
        "{stderr}"
    );
    let (code, _, _) = check(&["--lint-fatal"], &[("twice.yml", TWICE)]);
    assert_eq!(code, 3);
    let (code, _, _) = check(&["--lint=none", "--lint-fatal"], &[("twice.yml", TWICE)]);
    assert_eq!(code, 0);
}

const UNIT: &str = "rule_files: [good.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'up{job=\"api\", instance=\"a\"}'\n        values: '1 1 0 0 0 0 0 0 0 0'\n    alert_rule_test:\n      - eval_time: 3m\n        alertname: Down\n        exp_alerts: []\n      - eval_time: 7m30s\n        alertname: Down\n        exp_alerts:\n          - exp_labels: {job: api, instance: a}\n            exp_annotations: {summary: a is down}\n    promql_expr_test:\n      - expr: job:up:sum\n        eval_time: 1m\n        exp_samples:\n          - labels: 'job:up:sum{job=\"api\"}'\n            value: 1\n";

#[test]
fn rules_test_evaluates_rules_over_input_series_as_promtool() {
    // `Down` (up == 0 for 5m) is pending from 2m and fires at 7m; its annotation is rendered;
    // 7m30s, between two evaluations, sees the one at 7m.
    let (code, stdout, stderr) = rules("test", &[], &[("unit.yml", UNIT)], &[("good.yml", GOOD)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("  SUCCESS"), "{stdout}");

    let wrong = UNIT.replace("eval_time: 3m", "eval_time: 7m");
    let (code, stdout, stderr) = rules("test", &[], &[("unit.yml", &wrong)], &[("good.yml", GOOD)]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("alertname: Down, time: 7m"), "{stderr}");
}

#[test]
fn a_rule_that_fails_to_evaluate_leaves_the_next_rules_state_alone() {
    // `Bad` fails at every evaluation (many-to-many matching: `up` and `job:up:sum` share the
    // job); `Down` after it in the same group must still fire under its own name.
    let rules_file = GOOD.replace(
        "      - alert: Down\n",
        "      - alert: Bad\n        expr: up + on(job) {__name__=~\"up|job:up:sum\"}\n      - alert: Down\n",
    );
    let (code, stdout, stderr) = rules(
        "test",
        &[],
        &[("unit.yml", UNIT)],
        &[("good.yml", &rules_file)],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("rule Bad: "), "{stderr}");
    assert!(!stderr.contains("alertname: Down"), "{stderr}");
}
