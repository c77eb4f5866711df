//! Loki's and Grafana's LogQL cases (`../shared/conformance/logql/`, or `VIGIL_LOGQL_CORPUS`),
//! read at test time and never copied (Loki's files are AGPL-3.0):
//!
//! - `extracted/logql_parse_cases.yaml` (Loki's `ParseTestCases`): a query parses, or fails
//!   with Loki's message at Loki's line and column;
//! - `extracted/logql_string_cases.yaml` (Loki's `ast_test.go`): queries that parse back to the
//!   same query from their printed form, log queries printed exactly as written, and queries
//!   that must fail with Loki's words;
//! - `lezer/cases.yaml` (Grafana's LogQL grammar tests): queries the grammar takes parse.
//!
//! Grafana's grammar cases check syntax only: seven of them are queries Loki's parser refuses
//! (a selector of empty-compatible matchers, `sort … without`), and fail here with Loki's
//! words. One Loki case needs bytes that are not UTF-8, which the YAML transcription lost.
//!
//! Cases that fail are listed with the reason in `tests/corpus-failures.txt`; a case failing
//! that is not listed, a listed case that passes, or one failing for another reason fails the
//! test. Regenerate the list with `VIGIL_LOGQL_UPDATE_FAILURES=1`. The corpus must be there.

use std::collections::BTreeMap;
use std::path::PathBuf;

use saphyr::Yaml;

fn corpus() -> PathBuf {
    let dir = match std::env::var_os("VIGIL_LOGQL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/logql"),
    };
    assert!(
        dir.is_dir(),
        "no LogQL corpus at {} (set VIGIL_LOGQL_CORPUS)",
        dir.display()
    );
    dir
}

fn read(path: &str) -> String {
    std::fs::read_to_string(corpus().join(path)).expect(path)
}

/// The document of `text`, its scalars kept as written (`query: 0.123e3` is a query, not a
/// number).
fn doc(text: &str) -> Yaml<'_> {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut loader: saphyr::YamlLoader<'_, Yaml<'_>> = saphyr::YamlLoader::default();
    loader.early_parse(false);
    parser.load(&mut loader, true).expect("yaml");
    loader.into_documents().remove(0)
}

fn scalar<'a>(y: &'a Yaml<'_>) -> Option<&'a str> {
    match y {
        Yaml::Representation(s, _, _) => Some(s.as_ref()),
        other => other.as_str(),
    }
}

/// The value of `key` in the mapping `y` (keys compared as written).
fn get<'a, 'b>(y: &'a Yaml<'b>, key: &str) -> Option<&'a Yaml<'b>> {
    y.as_mapping()?
        .iter()
        .find(|(k, _)| scalar(k) == Some(key))
        .map(|(_, v)| v)
}

fn text<'a>(y: &'a Yaml<'_>, key: &str) -> Option<&'a str> {
    get(y, key).and_then(scalar)
}

fn int(y: &Yaml<'_>, key: &str) -> usize {
    text(y, key).and_then(|t| t.parse().ok()).unwrap_or(0)
}

fn list<'a, 'b>(y: &'a Yaml<'b>, key: &str) -> &'a [Yaml<'b>] {
    get(y, key)
        .and_then(Yaml::as_vec)
        .map_or(&[], Vec::as_slice)
}

#[derive(Default)]
struct Tally {
    cases: usize,
    failures: BTreeMap<String, String>,
}

impl Tally {
    fn check(&mut self, key: String, outcome: Result<(), String>) {
        self.cases += 1;
        if let Err(reason) = outcome {
            self.failures.insert(key, reason.replace(['\n', '\t'], " "));
        }
    }
}

fn short(q: &str) -> String {
    let one_line: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(100).collect()
}

fn parse_cases(t: &mut Tally) {
    let body = read("extracted/logql_parse_cases.yaml");
    let doc = doc(&body);
    for (i, c) in list(&doc, "cases").iter().enumerate() {
        let q = text(c, "query").unwrap_or_default();
        let key = format!("parse#{i} {}", short(q));
        let got = logql::parse(q);
        let outcome = match text(c, "expect") {
            Some("ok") => got.map(|_| ()).map_err(|e| format!("does not parse: {e}")),
            _ => {
                let want = (
                    text(c, "error").unwrap_or_default().to_string(),
                    int(c, "error_line"),
                    int(c, "error_col"),
                );
                match got {
                    Ok(e) => Err(format!("parses (as {e}); Loki says {want:?}")),
                    Err(e) if (e.message.clone(), e.line, e.col) == want => Ok(()),
                    Err(e) => Err(format!(
                        "fails with {:?} at {}:{}; Loki says {:?} at {}:{}",
                        e.message, e.line, e.col, want.0, want.1, want.2
                    )),
                }
            }
        };
        t.check(key, outcome);
    }
}

fn string_cases(t: &mut Tally) {
    let body = read("extracted/logql_string_cases.yaml");
    let doc = doc(&body);
    for (i, q) in list(&doc, "sample_expr_roundtrip_ok").iter().enumerate() {
        let q = scalar(q).unwrap_or_default();
        let outcome = (|| {
            let e = logql::parse(q).map_err(|e| format!("does not parse: {e}"))?;
            let printed = e.to_string();
            let again = logql::parse(&printed)
                .map_err(|err| format!("printed as {printed:?}, which does not parse: {err}"))?;
            if again == e {
                Ok(())
            } else {
                Err(format!(
                    "printed as {printed:?}, which parses to another query"
                ))
            }
        })();
        t.check(format!("roundtrip#{i} {}", short(q)), outcome);
    }
    for group in [
        "sample_expr_fail_topk_zero",
        "sample_expr_fail_sort_grouping",
    ] {
        let g = get(&doc, group).expect(group);
        let want = text(g, "error_contains").unwrap_or_default();
        for (i, q) in list(g, "queries").iter().enumerate() {
            let q = scalar(q).unwrap_or_default();
            let outcome = match logql::parse(q) {
                Ok(e) => Err(format!("parses (as {e})")),
                Err(e) if e.to_string().contains(want) => Ok(()),
                Err(e) => Err(format!("fails with {e:?}, not {want:?}")),
            };
            t.check(format!("{group}#{i} {}", short(q)), outcome);
        }
    }
    for (i, c) in list(&doc, "log_selector_roundtrip_exact")
        .iter()
        .enumerate()
    {
        let q = text(c, "selector").unwrap_or_default();
        let outcome = match logql::parse_log(q) {
            Ok(l) if l.to_string() == q => Ok(()),
            Ok(l) => Err(format!("printed as {:?}", l.to_string())),
            Err(e) => Err(format!("does not parse: {e}")),
        };
        t.check(format!("selector#{i} {}", short(q)), outcome);
    }
}

fn lezer_cases(t: &mut Tally) {
    let body = read("lezer/cases.yaml");
    let doc = doc(&body);
    for (i, c) in list(&doc, "cases").iter().enumerate() {
        if text(c, "lezer_error_node") != Some("false") {
            continue;
        }
        let q = text(c, "query").unwrap_or_default();
        let outcome = logql::parse(q)
            .map(|_| ())
            .map_err(|e| format!("does not parse: {e}"));
        t.check(format!("lezer#{i} {}", short(q)), outcome);
    }
}

#[test]
fn loki_and_grafana_logql_cases_parse_and_fail_as_loki() {
    let mut t = Tally::default();
    parse_cases(&mut t);
    string_cases(&mut t);
    lezer_cases(&mut t);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-failures.txt");
    if std::env::var_os("VIGIL_LOGQL_UPDATE_FAILURES").is_some() {
        let mut out = String::from(
            "# LogQL corpus cases that fail, with the reason (tests/corpus.rs).\n\
             # Regenerate: VIGIL_LOGQL_UPDATE_FAILURES=1 cargo test -p logql --test corpus\n",
        );
        for (case, reason) in &t.failures {
            out.push_str(&format!("{case}\t{reason}\n"));
        }
        std::fs::write(&path, out).expect("write the failure list");
    }
    let listed_text = std::fs::read_to_string(&path).unwrap_or_default();
    let listed: BTreeMap<&str, &str> = listed_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').unwrap_or((l, "")))
        .collect();
    let new: Vec<String> = t
        .failures
        .iter()
        .filter(|(c, r)| listed.get(c.as_str()) != Some(&r.as_str()))
        .map(|(c, r)| format!("{c}: {r}"))
        .collect();
    let fixed: Vec<&&str> = listed
        .keys()
        .filter(|c| !t.failures.contains_key(**c))
        .collect();
    println!(
        "LogQL corpus: {} of {} cases pass",
        t.cases - t.failures.len(),
        t.cases
    );
    assert!(
        new.is_empty(),
        "{} cases fail unlisted or for another reason than {} says:\n{}",
        new.len(),
        path.display(),
        new.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "{} listed cases pass now; remove them from {}:\n{fixed:?}",
        fixed.len(),
        path.display()
    );
    assert!(t.cases >= 340, "only {} cases read", t.cases);
}
