//! Tempo's and Grafana's TraceQL cases (`../shared/conformance/traceql/`, or
//! `VIGIL_TRACEQL_CORPUS`), read at test time and never copied (Tempo's file is AGPL-3.0):
//!
//! - `test_examples.yaml` (Tempo's `pkg/traceql`): every `valid` query parses and validates,
//!   and its printed form parses back to the same tree (Tempo's stringer round trip); every
//!   `parse_fails` query fails to parse; every `validate_fails` query parses and fails
//!   validation with [`Error::Validate`]; every `unsupported` query parses and fails with
//!   [`Error::Unsupported`]. The `dump` section is a debugging hook and is empty.
//! - `lezer/cases.yaml` (Grafana's query-editor grammar tests): the cases the grammar takes
//!   without an error node, all of them valid TraceQL, must parse, validate and round-trip like
//!   `valid`. `lezer/expression.txt` is the same 128 queries in Lezer's test format (`# title`,
//!   the query, `==>`, the tree); those are run too, except the ones `cases.yaml` already holds,
//!   so that a query added to one file alone is not missed. The Lezer trees themselves are the
//!   editor's concern (its grammar is looser than Tempo's) and are not compared.
//!
//! Cases that fail are listed with the reason in `tests/corpus-failures.txt` (section, query
//! with `\t` and `\n` escaped, reason, tab-separated); a failing case that is not listed, a
//! listed case that passes, or one failing for another reason fails the test. Regenerate the
//! list with `VIGIL_TRACEQL_UPDATE_FAILURES=1`. The corpus must be there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use saphyr::Yaml;
use traceql::{parse, Error};

fn corpus() -> PathBuf {
    let dir = match std::env::var_os("VIGIL_TRACEQL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/traceql"),
    };
    assert!(
        dir.is_dir(),
        "no TraceQL corpus at {} (set VIGIL_TRACEQL_CORPUS)",
        dir.display()
    );
    dir
}

fn read(path: &str) -> String {
    std::fs::read_to_string(corpus().join(path)).expect(path)
}

/// The document of `text`, its scalars kept as written (`- 2 + 3` is a query, not a number).
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

fn get<'a, 'b>(y: &'a Yaml<'b>, key: &str) -> Option<&'a Yaml<'b>> {
    y.as_mapping()?
        .iter()
        .find(|(k, _)| scalar(k) == Some(key))
        .map(|(_, v)| v)
}

fn strings(y: &Yaml<'_>, key: &str) -> Vec<String> {
    get(y, key)
        .and_then(Yaml::as_vec)
        .map(|v| v.iter().filter_map(scalar).map(str::to_string).collect())
        .unwrap_or_default()
}

#[derive(Default)]
struct Tally {
    /// Per section: cases, and cases passed.
    sections: BTreeMap<&'static str, (usize, usize)>,
    failures: BTreeMap<String, String>,
}

impl Tally {
    fn check(&mut self, section: &'static str, q: &str, outcome: Result<(), String>) {
        let counts = self.sections.entry(section).or_default();
        counts.0 += 1;
        match outcome {
            Ok(()) => counts.1 += 1,
            Err(reason) => {
                let key = format!("{section}\t{}", escape(q));
                self.failures.insert(key, escape(&reason));
            }
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// Parses, validates and round-trips through the printer.
fn valid(q: &str) -> Result<(), String> {
    let e = parse(q).map_err(|e| format!("does not parse: {e}"))?;
    e.validate()
        .map_err(|e| format!("does not validate: {e}"))?;
    let printed = e.to_string();
    let again = parse(&printed)
        .map_err(|err| format!("printed as {printed:?}, which does not parse: {err}"))?;
    if again != e {
        return Err(format!(
            "printed as {printed:?}, which parses to another tree"
        ));
    }
    again
        .validate()
        .map_err(|err| format!("printed as {printed:?}, which does not validate: {err}"))
}

fn fails_to_parse(q: &str) -> Result<(), String> {
    match parse(q) {
        Ok(e) => Err(format!("parses, as {e}")),
        Err(Error::Parse { .. }) => Ok(()),
        Err(e) => Err(format!("fails with another kind of error: {e:?}")),
    }
}

fn fails_validation(q: &str, unsupported: bool) -> Result<(), String> {
    let e = parse(q).map_err(|e| format!("does not parse: {e}"))?;
    match (e.validate(), unsupported) {
        (Ok(()), _) => Err("validates".into()),
        (Err(Error::Validate(_)), false) | (Err(Error::Unsupported(_)), true) => Ok(()),
        (Err(err), _) => Err(format!("fails with another kind of error: {err:?}")),
    }
}

fn tempo_cases(t: &mut Tally) {
    let body = read("test_examples.yaml");
    let doc = doc(&body);
    for q in strings(&doc, "valid") {
        t.check("valid", &q, valid(&q));
    }
    for q in strings(&doc, "parse_fails") {
        t.check("parse_fails", &q, fails_to_parse(&q));
    }
    for q in strings(&doc, "validate_fails") {
        t.check("validate_fails", &q, fails_validation(&q, false));
    }
    for q in strings(&doc, "unsupported") {
        t.check("unsupported", &q, fails_validation(&q, true));
    }
}

/// The queries of Lezer's test format: `# title`, the query, `==>`, the tree, a blank line.
fn lezer_tests(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut query: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut query, line) {
            (_, l) if l.starts_with("# ") => query = Some(Vec::new()),
            (Some(lines), "==>") => {
                out.push(lines.join("\n").trim().to_string());
                query = None;
            }
            (Some(lines), l) => lines.push(l),
            (None, _) => {}
        }
    }
    out
}

fn lezer_cases(t: &mut Tally) {
    let body = read("lezer/cases.yaml");
    let doc = doc(&body);
    let mut seen = BTreeSet::new();
    for c in get(&doc, "cases").and_then(Yaml::as_vec).expect("cases") {
        if get(c, "lezer_error_node").and_then(scalar) != Some("false") {
            continue;
        }
        let q = get(c, "query").and_then(scalar).unwrap_or_default();
        seen.insert(q.to_string());
        t.check("lezer", q, valid(q));
    }
    let tests = lezer_tests(&read("lezer/expression.txt"));
    assert!(tests.len() >= 120, "only {} Lezer tests read", tests.len());
    for q in tests.iter().filter(|q| !seen.contains(*q)) {
        t.check("lezer-expression", q, valid(q));
    }
}

#[test]
fn tempo_and_grafana_traceql_cases_parse_validate_and_fail_as_tempo() {
    let mut t = Tally::default();
    tempo_cases(&mut t);
    lezer_cases(&mut t);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-failures.txt");
    if std::env::var_os("VIGIL_TRACEQL_UPDATE_FAILURES").is_some() {
        let mut out = String::from(
            "# TraceQL corpus cases that fail: section, query, reason (tests/corpus.rs).\n\
             # Regenerate: VIGIL_TRACEQL_UPDATE_FAILURES=1 cargo test -p traceql --test corpus\n",
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
        .map(|l| l.rsplit_once('\t').unwrap_or((l, "")))
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
    for (section, (cases, passed)) in &t.sections {
        println!("TraceQL corpus, {section}: {passed} of {cases} cases pass");
    }
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
    for (section, least) in [
        ("valid", 280),
        ("parse_fails", 80),
        ("validate_fails", 65),
        ("unsupported", 20),
        ("lezer", 120),
    ] {
        let read = t.sections.get(section).map_or(0, |c| c.0);
        assert!(read >= least, "only {read} {section} cases read");
    }
}
