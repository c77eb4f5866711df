//! Prometheus's rule-file cases (`../shared/conformance/prometheus-rules/`, or
//! `VIGIL_RULES_CORPUS`): every `rulefmt_parse` and `promtool_check_rules` expectation of its
//! manifest, run through [`alerting::rules`]. Files that must parse do; files that must fail do,
//! with an error holding Prometheus's wording; `promtool check rules` cases end with promtool's
//! exit code; `promtool_test_rules` cases (`vigil rules test`) end with promtool's exit code,
//! except the ones listed in `KNOWN_UNIT_TEST_FAILURES` with their reason.

use std::path::{Path, PathBuf};

use alerting::rules::{
    check_files, duplicates, parse_file, CheckOptions, NameValidation, ParseOptions,
};
use alerting::unittest::{test_files, TestOptions};
use saphyr::{LoadableYamlNode, Yaml};

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_RULES_CORPUS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "VIGIL_RULES_CORPUS={} is not a directory",
                dir.display()
            );
            Some(dir)
        }
        None => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/conformance/prometheus-rules");
            dir.is_dir().then_some(dir)
        }
    }
}

fn text<'a>(case: &'a Yaml<'_>, key: &str) -> Option<&'a str> {
    case.as_mapping_get(key).and_then(Yaml::as_str)
}

fn options(case: &Yaml<'_>) -> ParseOptions {
    ParseOptions {
        ignore_unknown_fields: case
            .as_mapping_get("ignore_unknown_fields")
            .and_then(Yaml::as_bool)
            .unwrap_or(false),
        names: match text(case, "validation") {
            Some("legacy") => NameValidation::Legacy,
            _ => NameValidation::Utf8,
        },
    }
}

/// Runs one case; `Err` says how it failed.
fn run(dir: &Path, section: &str, case: &Yaml<'_>) -> Result<(), String> {
    let file = text(case, "file").ok_or("case without a file")?;
    let path = dir.join(file);
    let opts = options(case);
    if let Some(exit) = case.as_mapping_get("exit").and_then(Yaml::as_integer) {
        let flags: Vec<&str> = case
            .as_mapping_get("flags")
            .and_then(Yaml::as_vec)
            .map(|v| v.iter().filter_map(Yaml::as_str).collect())
            .unwrap_or_default();
        let check = CheckOptions {
            parse: opts,
            lint_duplicates: !flags.contains(&"--lint=none"),
            lint_fatal: flags.contains(&"--lint-fatal"),
        };
        let out = check_files(&[path], check);
        return if i64::from(out.exit_code) == exit {
            Ok(())
        } else {
            Err(format!(
                "exit code {} instead of {exit}\n{}{}",
                out.exit_code, out.stdout, out.stderr
            ))
        };
    }
    let parsed = parse_file(&path, opts);
    if let Some(names) = case.as_mapping_get("duplicates").and_then(Yaml::as_vec) {
        let file = parsed.map_err(|e| e.join("\n"))?;
        let found: Vec<String> = duplicates(&file).into_iter().map(|d| d.metric).collect();
        let want: Vec<String> = names
            .iter()
            .filter_map(Yaml::as_str)
            .map(str::to_string)
            .collect();
        return if found == want {
            Ok(())
        } else {
            Err(format!("duplicates {found:?} instead of {want:?}"))
        };
    }
    let expect = match (text(case, "expect"), section) {
        (Some(e), _) => e,
        // rules_extrafields.yml: unknown fields, refused unless they are to be ignored.
        (None, "promtool_check_rules") => {
            let strict = parse_file(&path, ParseOptions::default());
            let lenient = parse_file(
                &path,
                ParseOptions {
                    ignore_unknown_fields: true,
                    ..ParseOptions::default()
                },
            );
            return match (strict, lenient) {
                (Err(e), Ok(_)) if e.iter().any(|m| m.contains("not found in type")) => Ok(()),
                (s, l) => Err(format!(
                    "unknown fields: strict {:?}, ignored {:?}",
                    s.err(),
                    l.err()
                )),
            };
        }
        _ => return Err("case without an expectation".into()),
    };
    match (expect, parsed) {
        ("ok", Ok(_)) => Ok(()),
        ("ok", Err(e)) => Err(format!("refused: {}", e.join("\n"))),
        ("fail", Ok(_)) => Err("accepted".into()),
        ("fail", Err(e)) => match text(case, "error") {
            Some(want) if !e.iter().any(|m| m.contains(want)) => {
                Err(format!("errors {e:?} do not hold {want:?}"))
            }
            _ => Ok(()),
        },
        (other, _) => Err(format!("unknown expectation {other:?}")),
    }
}

#[test]
fn prometheus_rule_unit_tests_run_as_promtool_test_rules() {
    let Some(dir) = corpus() else {
        eprintln!("skipped: no rule-file corpus (set VIGIL_RULES_CORPUS)");
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("manifest.yaml")).expect("manifest.yaml");
    let docs = Yaml::load_from_str(&manifest).expect("manifest parses");
    let cases = docs[0]
        .as_mapping_get("promtool_test_rules")
        .and_then(Yaml::as_vec)
        .expect("promtool_test_rules");
    let mut outcomes = Vec::new();
    for case in cases {
        let file = text(case, "file").expect("file");
        let run: Vec<String> = case
            .as_mapping_get("run")
            .and_then(Yaml::as_vec)
            .map(|v| {
                v.iter()
                    .filter_map(Yaml::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let want = case
            .as_mapping_get("exit")
            .and_then(Yaml::as_integer)
            .expect("exit");
        let note = text(case, "note").unwrap_or("");
        let options = TestOptions {
            run: run.clone(),
            ignore_unknown_fields: options(case).ignore_unknown_fields,
            // The manifest's notes name promtool's loader options: "zero value" turns them off.
            at_modifier: !note.contains("(@ disabled)"),
            negative_offset: !note.contains("(negative offset disabled)"),
        };
        let out = test_files(&[dir.join(file)], &options);
        let key = format!("{file} {run:?} exit {want}");
        outcomes.push((
            key,
            i64::from(out.exit_code) == want,
            format!("{}{}", out.stdout, out.stderr),
        ));
    }
    let passed = outcomes.iter().filter(|o| o.1).count();
    eprintln!("{passed} of {} unit-test cases pass", outcomes.len());
    let failing: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.1)
        .map(|o| o.0.as_str())
        .collect();
    let known: Vec<&str> = KNOWN_UNIT_TEST_FAILURES.iter().map(|k| k.0).collect();
    assert_eq!(
        failing,
        known,
        "the failing unit-test cases changed (a listed case that now passes must leave the list)\n{}",
        outcomes
            .iter()
            .filter(|o| !o.1)
            .map(|o| format!("{}\n{}", o.0, o.2))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// `promtool test rules` cases that fail, with the reason.
const KNOWN_UNIT_TEST_FAILURES: &[(&str, &str)] = &[(
    "promtool/unittest.yml [] exit 0",
    "its first test group loads native histograms, which the evaluator does not have",
)];

#[test]
fn prometheus_rule_file_cases_read_and_check_as_promtool() {
    let Some(dir) = corpus() else {
        eprintln!("skipped: no rule-file corpus (set VIGIL_RULES_CORPUS)");
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("manifest.yaml")).expect("manifest.yaml");
    let docs = Yaml::load_from_str(&manifest).expect("manifest parses");
    let mut failures = Vec::new();
    let mut total = 0;
    for section in ["rulefmt_parse", "promtool_check_rules"] {
        let cases = docs[0]
            .as_mapping_get(section)
            .and_then(Yaml::as_vec)
            .unwrap_or_else(|| panic!("manifest has no {section}"));
        for case in cases {
            total += 1;
            if let Err(e) = run(&dir, section, case) {
                failures.push(format!("{section} {:?}: {e}", text(case, "file")));
            }
        }
    }
    eprintln!("{} of {total} rule-file cases pass", total - failures.len());
    assert!(total >= 22, "only {total} cases in the manifest");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn errors_name_the_line_and_column_prometheus_names() {
    let text = "groups:\n  - name: yolo\n    rules:\n      - record: ylo\n        expr: rate(hi)\n";
    let errors = alerting::rules::parse(text, ParseOptions::default()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .starts_with("5:15: group \"yolo\", rule 1, \"ylo\": could not parse expression: "),
        "{errors:?}"
    );
    let text = "groups:\n  - name: a\n  - name: a\n";
    let errors = alerting::rules::parse(text, ParseOptions::default()).unwrap_err();
    assert_eq!(
        errors,
        ["3:5: groupname: \"a\" is repeated in the same file"]
    );
    let text = "groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: 1\n        annotation: {}\n";
    let errors = alerting::rules::parse(text, ParseOptions::default()).unwrap_err();
    assert_eq!(
        errors,
        ["yaml: unmarshal errors:\n  line 6: field annotation not found in type rulefmt.Rule"]
    );
}

/// Loki's ruler files (`../shared/conformance/logql/ruler-testdata/`, AGPL-3.0, read at test
/// time): lokitool's format (a `namespace` per document) with LogQL expressions, which load and
/// check as LogQL rules; `loki_basic_failure.yaml` (a group without a name) is refused.
#[test]
fn lokis_ruler_files_load_with_logql_rules() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/logql/ruler-testdata");
    assert!(dir.is_dir(), "no Loki ruler corpus at {}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7);
    let mut logql_rules = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = parse_file(path, ParseOptions::default());
        if name == "loki_basic_failure.yaml" {
            let errors = parsed.expect_err("an unnamed group is refused");
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains("Groupname must not be empty")),
                "{errors:?}"
            );
            continue;
        }
        let file = parsed.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!file.groups.is_empty(), "{name}");
        for g in &file.groups {
            for r in &g.rules {
                if alerting::rules::Language::of(r.language, g.language, &r.expr)
                    == alerting::rules::Language::LogQl
                {
                    logql_rules += 1;
                }
            }
        }
    }
    assert!(logql_rules >= 4, "{logql_rules} LogQL rules found");
}
