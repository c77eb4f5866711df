//! Prometheus's PromQL test corpus parses: every script of `../shared/conformance/promql` (or
//! `VIGIL_PROMQL_CORPUS`), with every `eval` line read as one eval command.

use promqltest::corpus::{corpus, test_files};

use promqltest::script::{parse, Command};

#[test]
fn every_corpus_script_parses_with_all_its_evals() {
    let Some(dir) = corpus() else {
        eprintln!("skipped: no PromQL corpus (set VIGIL_PROMQL_CORPUS)");
        return;
    };
    let files = test_files(&dir);
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let mut total = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let commands = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let evals: Vec<_> = commands
            .iter()
            .filter_map(|c| match c {
                Command::Eval(e) => Some(e),
                _ => None,
            })
            .collect();
        // Counted independently: lines that start an eval.
        let eval_lines = text
            .lines()
            .filter(|l| l.trim_start().starts_with("eval"))
            .count();
        assert_eq!(evals.len(), eval_lines, "{}", file.display());
        assert!(evals.iter().all(|e| !e.expr.is_empty()));
        total += evals.len();
        println!("{}: {} evals", file.display(), evals.len());
    }
    println!("{total} eval cases");
}
