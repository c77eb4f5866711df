//! Prometheus's PromQL test corpus against Vigil's evaluator: every case of every script runs
//! (instant evals with their `@` variants and range-mode check, as upstream's runner does).
//!
//! Cases that fail are listed with their reason in `tests/conformance-failures.txt`; a case that
//! fails without being listed fails this test (a regression), and so do a listed case that now
//! passes and a listed case that fails for another reason (the list must stay true). A case
//! counts as a native-histogram case only when a series one of its selectors reads, or its
//! expected output, holds a native histogram. `VIGIL_PROMQL_UPDATE_FAILURES=1` rewrites the list.
//! Pass counts are printed per file and for the core files without native histograms, of
//! which at least 95% must pass.

use std::collections::BTreeMap;
use std::path::PathBuf;

use promqltest::corpus::{corpus, test_files};

use promqltest::runner::run_script;

const CORE: &[&str] = &[
    "aggregators",
    "at_modifier",
    "collision",
    "functions",
    "histograms",
    "limit",
    "literals",
    "name_label_dropping",
    "operators",
    "range_queries",
    "selectors",
    "staleness",
    "subquery",
    "trig_functions",
];

/// Share of the core cases without native histograms that must pass.
const REQUIRED_PASS_SHARE: f64 = 0.95;

fn failures_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance-failures.txt")
}

fn one_line(reason: &str) -> String {
    let line: String = reason.replace(['\n', '\t'], " ");
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

#[derive(Default)]
struct Tally {
    pass: usize,
    total: usize,
}

#[test]
fn prometheus_promql_test_corpus() {
    let Some(dir) = corpus() else {
        eprintln!("skipped: no PromQL corpus (set VIGIL_PROMQL_CORPUS)");
        return;
    };
    let files = test_files(&dir);
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut tallies: BTreeMap<(bool, bool), Tally> = BTreeMap::new();
    for file in &files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let core = CORE.contains(&stem.as_str());
        let text = std::fs::read_to_string(file).unwrap();
        let outcomes = run_script(&text).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let (mut pass, mut nh_pass, mut nh) = (0, 0, 0);
        for o in &outcomes {
            let t = tallies.entry((core, o.native_histograms)).or_default();
            t.total += 1;
            nh += usize::from(o.native_histograms);
            match &o.result {
                Ok(()) => {
                    t.pass += 1;
                    pass += 1;
                    nh_pass += usize::from(o.native_histograms);
                }
                Err(reason) => {
                    let kind = if o.native_histograms { "[nh] " } else { "" };
                    failures.insert(
                        format!("{stem}.test:{}", o.line),
                        format!("{kind}{}", one_line(reason)),
                    );
                }
            }
        }
        println!(
            "{stem:22} {} {pass:4}/{:4} pass; native histograms {nh_pass}/{nh}",
            if core { "core" } else { "exp " },
            outcomes.len()
        );
    }
    for ((core, nh), t) in &tallies {
        println!(
            "{} {}: {}/{} pass",
            if *core { "core" } else { "experimental" },
            if *nh {
                "with native histograms"
            } else {
                "without native histograms"
            },
            t.pass,
            t.total
        );
    }

    let path = failures_file();
    let listed_text = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("VIGIL_PROMQL_UPDATE_FAILURES").is_some() {
        let mut out = String::from(
            "# PromQL corpus cases that fail, with the reason (tests/conformance.rs).\n\
             # Regenerate: VIGIL_PROMQL_UPDATE_FAILURES=1 cargo test -p promqltest --test conformance\n",
        );
        for (case, reason) in &failures {
            out.push_str(&format!("{case}\t{reason}\n"));
        }
        std::fs::write(&path, out).unwrap();
        println!("wrote {}", path.display());
    }
    let listed: BTreeMap<&str, &str> = listed_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').unwrap_or((l, "")))
        .collect();
    let regressions: Vec<String> = failures
        .iter()
        .filter(|(case, _)| !listed.contains_key(case.as_str()))
        .map(|(case, reason)| format!("{case}: {reason}"))
        .collect();
    let fixed: Vec<&str> = listed
        .keys()
        .filter(|case| !failures.contains_key(**case))
        .copied()
        .collect();
    // A listed case that now fails for another reason is a change to look at, too.
    let changed: Vec<String> = failures
        .iter()
        .filter_map(|(case, reason)| {
            let was = listed.get(case.as_str())?;
            (was != reason).then(|| format!("{case}:\n  listed: {was}\n  now:    {reason}"))
        })
        .collect();
    if std::env::var_os("VIGIL_PROMQL_UPDATE_FAILURES").is_none() {
        assert!(
            regressions.is_empty(),
            "{} cases fail that are not in {}:\n{}",
            regressions.len(),
            path.display(),
            regressions.join("\n")
        );
        assert!(
            fixed.is_empty(),
            "{} listed cases pass now; remove them from {}:\n{}",
            fixed.len(),
            path.display(),
            fixed.join("\n")
        );
        assert!(
            changed.is_empty(),
            "{} listed cases fail for another reason than {} says:\n{}",
            changed.len(),
            path.display(),
            changed.join("\n")
        );
    }
    let core = tallies
        .get(&(true, false))
        .expect("core cases without histograms");
    let share = core.pass as f64 / core.total as f64;
    println!(
        "core without native histograms: {:.1}% pass (required {:.0}%)",
        100.0 * share,
        100.0 * REQUIRED_PASS_SHARE
    );
    assert!(
        share >= REQUIRED_PASS_SHARE,
        "only {}/{} core cases without native histograms pass",
        core.pass,
        core.total
    );
}
