//! `promtool check rules`: each file parsed and validated, then linted for duplicate rules;
//! the same output and exit codes (0 fine, 1 an error, 3 only lint findings under
//! `--lint-fatal`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::load::parse_file;
use super::model::{ParseOptions, RuleFile};

/// How files are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// How files are read.
    pub parse: ParseOptions,
    /// Report rules with the same name and labels (`--lint=duplicate-rules`, the default).
    pub lint_duplicates: bool,
    /// Lint findings fail the check with exit code 3 (`--lint-fatal`).
    pub lint_fatal: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            parse: ParseOptions::default(),
            lint_duplicates: true,
            lint_fatal: false,
        }
    }
}

/// What a check printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOutcome {
    /// The process exit code.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A rule name found more than once with the same labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The alert name or recorded series.
    pub metric: String,
    /// The group's labels merged with the rule's, by name.
    pub labels: BTreeMap<String, String>,
}

/// The rules of `file` whose name and labels (group labels under the rule's) another rule has
/// too, each reported once.
pub fn duplicates(file: &RuleFile) -> Vec<Duplicate> {
    let mut all: Vec<Duplicate> = file
        .groups
        .iter()
        .flat_map(|g| {
            g.rules.iter().map(|r| {
                let mut labels = g.labels.clone();
                labels.extend(r.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                Duplicate {
                    metric: r.name().to_string(),
                    labels,
                }
            })
        })
        .collect();
    all.sort_by(|a, b| (&a.metric, &a.labels).cmp(&(&b.metric, &b.labels)));
    let mut out: Vec<Duplicate> = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] && out.last() != Some(&w[1]) {
            out.push(w[1].clone());
        }
    }
    out
}

/// Checks `files` as `promtool check rules` does.
pub fn check_files(files: &[PathBuf], options: CheckOptions) -> CheckOutcome {
    let mut out = CheckOutcome::default();
    let (mut failed, mut errors) = (false, false);
    for path in files {
        let _ = writeln!(out.stdout, "Checking {}", path.display());
        match parse_file(path, options.parse) {
            Err(list) => {
                failed = true;
                errors = true;
                out.stderr.push_str("  FAILED:\n");
                for e in list {
                    let _ = writeln!(out.stderr, "{e}");
                }
            }
            Ok(file) => {
                let found = if options.lint_duplicates {
                    duplicates(&file)
                } else {
                    Vec::new()
                };
                if found.is_empty() {
                    let n: usize = file.groups.iter().map(|g| g.rules.len()).sum();
                    let _ = writeln!(out.stdout, "  SUCCESS: {n} rules found");
                } else {
                    failed = true;
                    out.stderr.push_str("  FAILED:\n");
                    let _ = writeln!(
                        out.stderr,
                        "lint error {} duplicate rule(s) found.",
                        found.len()
                    );
                    for d in &found {
                        let _ = write!(out.stderr, "Metric: {}\nLabel(s):\n", d.metric);
                        for (k, v) in &d.labels {
                            let _ = writeln!(out.stderr, "\t{k}: {v}");
                        }
                    }
                    out.stderr
                        .push_str("Might cause inconsistency while recording expressions\n");
                }
            }
        }
        out.stdout.push('\n');
    }
    out.exit_code = if failed && errors {
        1
    } else if failed && options.lint_fatal {
        3
    } else {
        0
    };
    out
}
