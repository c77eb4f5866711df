//! Loki's declarative `.logqltest` scripts (`../shared/conformance/logql/logqltest/`, AGPL-3.0,
//! read at test time and never copied): log lines loaded, metric queries evaluated at an
//! instant or over a range, results compared with the expected vectors, matrices and scalars,
//! failures and empty results. Every `eval` is a case; cases that fail are listed with the
//! reason in `tests/logqltest-failures.txt` (regenerate with
//! `VIGIL_LOGQL_UPDATE_FAILURES=1`), and a change either way fails the test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use logql::ast::{LineFilter, Matcher};
use logql::eval::{
    count_lines, instant, range, Counted, Counting, Entry, Labels, MemSource, Source, Stream, Value,
};

/// The streams of a [`MemSource`], counted per bucket when a query only counts lines, as the
/// store answers such queries: every script runs through both paths.
struct Counter<'a>(&'a MemSource, &'a std::cell::Cell<usize>);

impl Source for Counter<'_> {
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<Stream>, String> {
        self.0.select(matchers, start, end)
    }

    fn counts(
        &self,
        matchers: &[Matcher],
        filters: &[LineFilter],
        c: &Counting,
    ) -> Option<Result<Vec<Counted>, String>> {
        let from = c.end - c.width * c.buckets as i64 + 1;
        self.1.set(self.1.get() + 1);
        Some(
            self.0
                .select(matchers, from, c.end)
                .and_then(|s| count_lines(&s, filters, c).map_err(|e| e.to_string())),
        )
    }
}

fn corpus() -> PathBuf {
    let dir = match std::env::var_os("VIGIL_LOGQL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/logql"),
    };
    let dir = dir.join("logqltest");
    assert!(dir.is_dir(), "no .logqltest scripts at {}", dir.display());
    dir
}

fn dur(s: &str) -> i64 {
    if s == "0" {
        return 0;
    }
    logql::parse_duration(s).unwrap_or_else(|e| panic!("duration {s:?}: {e}"))
}

/// `{a="b", c="d"}`.
fn labels(s: &str) -> Labels {
    let inner = s.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = Labels::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').expect("=");
        let name = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        assert!(after.starts_with('"'), "quoted value in {s}");
        let mut value = String::new();
        let mut chars = after[1..].char_indices();
        let mut end = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        value.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = i + 2;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(name, value);
        rest = after[end..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    out
}

/// The end of the `{…}` at the start of `s` (quotes respected).
fn brace_end(s: &str) -> usize {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '}' if !in_quote => return i + 1,
            _ => {}
        }
    }
    s.len()
}

/// A line without its `#` comment (quotes respected).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn load_line(line: &str, streams: &mut BTreeMap<Labels, Vec<Entry>>) {
    let line = line.trim();
    let end = brace_end(line);
    let stream = labels(&line[..end]);
    let rest = line[end..].trim_start();
    let quote = rest.chars().next().expect("a quoted line");
    let close = rest[1..].find(quote).expect("closing quote") + 1;
    let text = rest[1..close].to_string();
    let rest = rest[close + 1..].trim();
    let rest = rest.strip_prefix('@').expect("@ <start>").trim();
    let (start, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let start = dur(start);
    let (mut step, mut count) = (0, 1);
    let mut metadata = Vec::new();
    rest = rest.trim();
    while let Some(r) = rest.strip_prefix('[') {
        let close = r.find(']').expect("]");
        let inner = &r[..close];
        if let Some(rep) = inner.strip_prefix("repeat every ") {
            let (s, c) = rep.split_once(" for ").expect("for");
            step = dur(s.trim());
            count = c.trim().parse().expect("count");
        } else if let Some(md) = inner.strip_prefix("metadata ") {
            metadata = labels(&format!("{{{}}}", md.replace("\" ", "\", ")))
                .into_iter()
                .collect();
        }
        rest = r[close + 1..].trim();
    }
    let entries = streams.entry(stream).or_default();
    for i in 0..count {
        entries.push(Entry {
            ts: start + i as i64 * step,
            line: text.replace("{{.i}}", &i.to_string()),
            metadata: metadata.clone(),
        });
    }
}

fn value(s: &str) -> Option<f64> {
    Some(match s {
        "NaN" => f64::NAN,
        "Inf" | "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().ok()?,
    })
}

/// `_`, a number, or `a+bxc` / `a-bxc` / `axc` expanded.
fn points(words: &[&str]) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for w in words {
        if *w == "_" {
            out.push(None);
            continue;
        }
        if let Some(v) = value(w) {
            out.push(Some(v));
            continue;
        }
        if let Some((head, count)) = w.rsplit_once('x') {
            let count: usize = count.parse().unwrap_or_else(|_| panic!("points {w}"));
            let (base, delta) = match head[1..].find(['+', '-']) {
                Some(i) => {
                    let (b, d) = head.split_at(i + 1);
                    (value(b).expect("base"), value(d).expect("delta"))
                }
                None => (value(head).expect("base"), 0.0),
            };
            for i in 0..=count {
                out.push(Some(base + delta * i as f64));
            }
            continue;
        }
        if let Some((head, count)) = w.split_once("_x") {
            let _ = head;
            let count: usize = count.parse().expect("count");
            out.extend(std::iter::repeat_n(None, count + 1));
            continue;
        }
        panic!("point {w}");
    }
    out
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || ((a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-300))
}

struct Eval {
    at: String,
    query: String,
    instant: Option<i64>,
    range: Option<(i64, i64, i64)>,
    expect: Vec<String>,
}

fn run(e: &Eval, source: &dyn Source) -> Result<(), String> {
    let mut fail: Option<Option<String>> = None;
    let mut empty = false;
    let mut ordered = false;
    let mut expected: Vec<(Option<Labels>, Vec<Option<f64>>)> = Vec::new();
    for l in &e.expect {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix("expect fail") {
            fail = Some(Some(rest.trim().to_string()).filter(|s| !s.is_empty()));
        } else if l == "expect empty" {
            empty = true;
        } else if l == "expect ordered" {
            ordered = true;
        } else if l.starts_with("skip values-comparison") {
        } else if l.starts_with('{') {
            let end = brace_end(l);
            let words: Vec<&str> = l[end..].split_whitespace().collect();
            expected.push((Some(labels(&l[..end])), points(&words)));
        } else {
            let words: Vec<&str> = l.split_whitespace().collect();
            expected.push((None, points(&words)));
        }
    }
    let result = logql::parse(&e.query)
        .map_err(|e| e.to_string())
        .and_then(|q| match (e.instant, e.range) {
            (Some(t), _) => instant(&q, source, t).map_err(|e| e.to_string()),
            (_, Some((s, t, step))) => range(&q, source, s, t, step).map_err(|e| e.to_string()),
            _ => Err("no time".into()),
        });
    if let Some(want) = fail {
        return match (result, want) {
            (Ok(v), _) => Err(format!("succeeds with {v:?}; expected a failure")),
            (Err(_), None) => Ok(()),
            (Err(got), Some(want)) => {
                let ok = if let Some(msg) = want.strip_prefix("msg:") {
                    got.contains(msg.trim())
                } else if let Some(re) = want.strip_prefix("regex:") {
                    regex::Regex::new(re.trim()).is_ok_and(|r| r.is_match(&got))
                } else {
                    true
                };
                if ok {
                    Ok(())
                } else {
                    Err(format!("fails with {got:?}; expected {want}"))
                }
            }
        };
    }
    let got = result?;
    let steps: Vec<i64> = match (e.instant, e.range) {
        (Some(t), _) => vec![t],
        (_, Some((s, t, step))) => (0..)
            .map(|i| s + i * step)
            .take_while(|x| *x <= t)
            .collect(),
        _ => Vec::new(),
    };
    // Both sides as series of optional points, one per step.
    let got: Vec<(Option<Labels>, Vec<Option<f64>>)> = match got {
        Value::Scalar(v) => vec![(None, vec![Some(v)])],
        Value::Vector(v) => v
            .into_iter()
            .map(|s| (Some(s.labels), vec![Some(s.value)]))
            .collect(),
        Value::Matrix(m) => m
            .into_iter()
            .map(|s| {
                let at: BTreeMap<i64, f64> = s.points.into_iter().collect();
                (
                    Some(s.labels),
                    steps.iter().map(|t| at.get(t).copied()).collect(),
                )
            })
            .collect(),
    };
    if empty {
        return if got.is_empty() {
            Ok(())
        } else {
            Err(format!("expected empty, got {got:?}"))
        };
    }
    if got.len() != expected.len() {
        return Err(format!(
            "{} series, expected {}: {got:?}",
            got.len(),
            expected.len()
        ));
    }
    let eq = |a: &(Option<Labels>, Vec<Option<f64>>), b: &(Option<Labels>, Vec<Option<f64>>)| {
        let labels_eq = match (&a.0, &b.0) {
            (None, None) => true,
            (Some(x), Some(y)) => x == y,
            (None, Some(y)) | (Some(y), None) => y.is_empty(),
        };
        labels_eq
            && a.1.len() == b.1.len()
            && a.1.iter().zip(&b.1).all(|(x, y)| match (x, y) {
                (None, None) => true,
                (Some(x), Some(y)) => same(*x, *y),
                _ => false,
            })
    };
    if ordered {
        for (g, w) in got.iter().zip(&expected) {
            if !eq(g, w) {
                return Err(format!("in order, got {got:?}; expected {expected:?}"));
            }
        }
        return Ok(());
    }
    for w in &expected {
        if !got.iter().any(|g| eq(g, w)) {
            return Err(format!("no series {w:?} in {got:?}"));
        }
    }
    Ok(())
}

#[test]
fn lokis_logqltest_scripts_evaluate_as_loki() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "logqltest"))
        .collect();
    files.sort();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut cases = 0;
    let counted_evals = std::cell::Cell::new(0);
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("script");
        let lines: Vec<&str> = text.lines().collect();
        let mut streams: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
        let mut i = 0;
        while i < lines.len() {
            let raw = strip_comment(lines[i]);
            let line = raw.trim();
            i += 1;
            if line.is_empty() {
                continue;
            }
            if line == "clear" {
                streams.clear();
            } else if line == "load" {
                while i < lines.len() && lines[i].starts_with(' ') {
                    let l = strip_comment(lines[i]);
                    if !l.trim().is_empty() {
                        load_line(l, &mut streams);
                    }
                    i += 1;
                }
            } else if let Some(rest) = line.strip_prefix("eval ") {
                let at = format!("{file}:{i}");
                let mut e = Eval {
                    at,
                    query: String::new(),
                    instant: None,
                    range: None,
                    expect: Vec::new(),
                };
                if let Some(r) = rest.strip_prefix("instant at ") {
                    let (t, q) = r.split_once(' ').expect("query");
                    e.instant = Some(dur(t));
                    e.query = q.trim().to_string();
                } else if let Some(r) = rest.strip_prefix("range from ") {
                    let (s, r) = r.split_once(" to ").expect("to");
                    let (t, r) = r.split_once(" step ").expect("step");
                    let (step, q) = r.split_once(' ').expect("query");
                    e.range = Some((dur(s), dur(t), dur(step)));
                    e.query = q.trim().to_string();
                }
                while i < lines.len() && lines[i].starts_with(' ') {
                    let l = strip_comment(lines[i]).trim();
                    if !l.is_empty() {
                        e.expect.push(l.to_string());
                    }
                    i += 1;
                }
                let source = MemSource {
                    streams: streams
                        .iter()
                        .map(|(labels, entries)| {
                            let mut entries = entries.clone();
                            entries.sort_by_key(|x| x.ts);
                            Stream {
                                labels: labels.clone(),
                                entries,
                            }
                        })
                        .collect(),
                };
                cases += 1;
                let counted = Counter(&source, &counted_evals);
                let outcome = run(&e, &source).and_then(|()| {
                    run(&e, &counted).map_err(|r| format!("counted per bucket: {r}"))
                });
                if let Err(reason) = outcome {
                    let short: String = reason.chars().take(300).collect();
                    failures.insert(
                        format!("{} {}", e.at, e.query),
                        short.replace(['\n', '\t'], " "),
                    );
                }
            }
        }
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/logqltest-failures.txt");
    if std::env::var_os("VIGIL_LOGQL_UPDATE_FAILURES").is_some() {
        let mut out = String::from(
            "# .logqltest evals that fail, with the reason (tests/logqltest.rs).\n\
             # Regenerate: VIGIL_LOGQL_UPDATE_FAILURES=1 cargo test -p logql --test logqltest\n",
        );
        for (c, r) in &failures {
            out.push_str(&format!("{c}\t{r}\n"));
        }
        std::fs::write(&path, out).expect("write");
    }
    let listed_text = std::fs::read_to_string(&path).unwrap_or_default();
    let listed: BTreeMap<&str, &str> = listed_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').unwrap_or((l, "")))
        .collect();
    println!(
        ".logqltest: {} of {cases} evals pass, each also with lines counted per bucket where \
         a query only counts them ({} range aggregations counted)",
        cases - failures.len(),
        counted_evals.get()
    );
    assert!(
        counted_evals.get() > 0,
        "no query went through the counted path"
    );
    let new: Vec<String> = failures
        .iter()
        .filter(|(c, r)| listed.get(c.as_str()) != Some(&r.as_str()))
        .map(|(c, r)| format!("{c}: {r}"))
        .collect();
    let fixed: Vec<&&str> = listed
        .keys()
        .filter(|c| !failures.contains_key(**c))
        .collect();
    assert!(
        new.is_empty(),
        "{} evals fail unlisted or differently:\n{}",
        new.len(),
        new.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "{} listed evals pass now: {fixed:?}",
        fixed.len()
    );
    assert!(cases >= 900, "only {cases} evals read");
}
