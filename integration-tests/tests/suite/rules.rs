//! `vigil rules check` answers as `promtool check rules`: the summary on stdout, the errors on
//! stderr with file, line and column, and promtool's exit codes.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vigil-under-test");

fn check(args: &[&str], files: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cmd = Command::new(BIN);
    cmd.args(["rules", "check"]).args(args);
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
