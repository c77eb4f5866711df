//! LogQL line and label filters through the Loki API against a brute-force filter.

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::harness::{nanos, Vigil};
use crate::loki::{instant, loki, push};

/// A generated line (app, time, line, level, code) and whether a filter keeps it.
type Line = (String, i64, String, String, i64);
type Keep = Box<dyn Fn(&Line) -> bool>;

/// A property test: random logfmt lines pushed to random streams, then random LogQL line and
/// label filters answered by the server (the scan with the index pre-filter on `|=`), before
/// and after the lines are flushed to indexed segments, against a brute-force filter of the
/// same lines in the test. The seed is printed; `VIGIL_E2E_LOKI_SEED` replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_and_label_filters_agree_with_brute_force() {
    let seed = std::env::var("VIGIL_E2E_LOKI_SEED").map_or_else(
        |_| nanos(SystemTime::now()) as u64,
        |s| s.parse().expect("VIGIL_E2E_LOKI_SEED is a u64"),
    );
    eprintln!("loki filter test seed: VIGIL_E2E_LOKI_SEED={seed}");
    let mut rng = crate::crash::SplitMix64(seed);
    let vigil = Vigil::start().await;
    const WORDS: &[&str] = &[
        "alpha", "beta", "gamma", "delta", "timeout", "refused", "user", "order", "cache", "miss",
    ];
    const LEVELS: &[&str] = &["debug", "info", "warn", "error"];
    const APPS: &[&str] = &["a", "b", "c", "d"];
    let t0 = nanos(SystemTime::now()) - 300_000_000_000;
    let mut all: Vec<Line> = Vec::new();
    for i in 0..600i64 {
        let app = APPS[rng.between(0, 4) as usize];
        let level = LEVELS[rng.between(0, 4) as usize];
        let code = 100 * rng.between(1, 6) as i64 + rng.between(0, 5) as i64;
        let n = rng.between(1, 5);
        let mut words: Vec<String> = (0..n)
            .map(|_| WORDS[rng.between(0, 10) as usize].to_string())
            .collect();
        if rng.between(0, 50) == 0 {
            words.push(format!("needle{}", rng.between(0, 3)));
        }
        let line = format!("level={level} code={code} msg=\"{}\"", words.join(" "));
        all.push((
            app.to_string(),
            t0 + i * 100_000_000,
            line,
            level.to_string(),
            code,
        ));
    }
    for app in APPS {
        let values: Vec<Value> = all
            .iter()
            .filter(|e| e.0 == *app)
            .map(|e| json!([e.1.to_string(), e.2]))
            .collect();
        let body = json!({"streams": [{"stream": {"app": app}, "values": values}]});
        let (status, text) = push(
            &vigil,
            None,
            "application/json",
            None,
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, 204, "{text}");
    }
    let start = (t0 - 1).to_string();
    let end = (t0 + 600 * 100_000_000 + 1).to_string();
    for flushed in [false, true] {
        if flushed {
            vigil.flush().await;
        }
        for _ in 0..40 {
            let apps: Vec<&str> = APPS
                .iter()
                .copied()
                .filter(|_| rng.between(0, 2) == 0)
                .collect();
            let apps = if apps.is_empty() { vec!["a"] } else { apps };
            let word = if rng.between(0, 4) == 0 {
                format!("needle{}", rng.between(0, 3))
            } else {
                WORDS[rng.between(0, 10) as usize].to_string()
            };
            let other = WORDS[rng.between(0, 10) as usize];
            let level = LEVELS[rng.between(0, 4) as usize];
            let code = 100 * rng.between(1, 6) as i64;
            let kind = rng.between(0, 6);
            let (filter, keep): (String, Keep) = match kind {
                0 => (
                    format!(r#"|= "{word}""#),
                    Box::new({
                        let w = word.clone();
                        move |e| e.2.contains(&w)
                    }),
                ),
                1 => (
                    format!(r#"!= "{word}""#),
                    Box::new({
                        let w = word.clone();
                        move |e| !e.2.contains(&w)
                    }),
                ),
                2 => (
                    format!(r#"|~ "{word}|{other}""#),
                    Box::new({
                        let w = word.clone();
                        move |e| e.2.contains(&w) || e.2.contains(other)
                    }),
                ),
                3 => (
                    format!(r#"|= "{word}" or "{other}""#),
                    Box::new({
                        let w = word.clone();
                        move |e| e.2.contains(&w) || e.2.contains(other)
                    }),
                ),
                4 => (
                    format!(r#"| logfmt | level="{level}" or code >= {code}"#),
                    Box::new(move |e| e.3 == level || e.4 >= code),
                ),
                _ => (
                    format!(r#"|= "{word}" | logfmt | code < {code}"#),
                    Box::new({
                        let w = word.clone();
                        move |e| e.2.contains(&w) && e.4 < code
                    }),
                ),
            };
            let query = format!(r#"{{app=~"{}"}} {filter}"#, apps.join("|"));
            let (status, body, text) = loki(
                &vigil,
                None,
                "/loki/api/v1/query_range",
                &[
                    ("query", query.clone()),
                    ("start", start.clone()),
                    ("end", end.clone()),
                    ("limit", "5000".into()),
                    ("direction", "forward".into()),
                ],
                false,
            )
            .await;
            assert_eq!(status, 200, "{query}: {text}");
            let mut got: Vec<(String, i64)> = Vec::new();
            for s in body["data"]["result"].as_array().expect("streams") {
                let app = s["stream"]["app"].as_str().expect("app").to_string();
                for v in s["values"].as_array().unwrap() {
                    got.push((app.clone(), v[0].as_str().unwrap().parse().unwrap()));
                }
            }
            got.sort();
            let mut want: Vec<(String, i64)> = all
                .iter()
                .filter(|e| apps.contains(&e.0.as_str()) && keep(e))
                .map(|e| (e.0.clone(), e.1))
                .collect();
            want.sort();
            assert_eq!(got, want, "seed {seed}, flushed {flushed}: {query}");

            // The lines counted: text filters alone are counted per bucket in SQL, the others
            // read and counted by the pipeline; both against the brute-force count.
            let range = [10i64, 30, 60][rng.between(0, 3) as usize];
            let step = [10i64, 20, 30][rng.between(0, 3) as usize];
            let from = t0 / 1_000_000_000 + 5;
            let to = from + 60;
            let metric = format!("sum by (app) (count_over_time({query} [{range}s]))");
            let (status, body, text) = loki(
                &vigil,
                None,
                "/loki/api/v1/query_range",
                &[
                    ("query", metric.clone()),
                    ("start", from.to_string()),
                    ("end", to.to_string()),
                    ("step", step.to_string()),
                ],
                false,
            )
            .await;
            assert_eq!(status, 200, "{metric}: {text}");
            let mut got: Vec<(String, i64, u64)> = Vec::new();
            for s in body["data"]["result"].as_array().expect("matrix") {
                let app = s["metric"]["app"].as_str().expect("app").to_string();
                for v in s["values"].as_array().unwrap() {
                    let t = v[0].as_f64().unwrap() as i64;
                    got.push((app.clone(), t, v[1].as_str().unwrap().parse().unwrap()));
                }
            }
            got.sort();
            let mut want: Vec<(String, i64, u64)> = Vec::new();
            for app in &apps {
                for t in (from..=to).step_by(step as usize) {
                    let (hi, lo) = (t * 1_000_000_000, (t - range) * 1_000_000_000);
                    let n = all
                        .iter()
                        .filter(|e| e.0 == *app && e.1 > lo && e.1 <= hi && keep(e))
                        .count() as u64;
                    if n > 0 {
                        want.push((app.to_string(), t, n));
                    }
                }
            }
            want.sort();
            assert_eq!(got, want, "seed {seed}, flushed {flushed}: {metric}");
        }
    }
}

/// `sum by (level)` of counted lines reads only the labels it keeps, and the attribute maps only
/// when an index (or the unflushed rows) holds a key that can make `level`: a stream pushed with
/// a `level` label, lines with `level` as structured metadata and lines with neither must still
/// be told apart, before and after a flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summed_counts_find_the_level_wherever_it_comes_from() {
    let vigil = Vigil::start().await;
    let t0 = nanos(SystemTime::now()) - 60_000_000_000;
    let entries = |n: i64, metadata: Option<Value>| -> Vec<Value> {
        (0..n)
            .map(|i| {
                let (ts, line) = ((t0 + i * 1_000_000).to_string(), format!("line {i}"));
                match &metadata {
                    Some(m) => json!([ts, line, m]),
                    None => json!([ts, line]),
                }
            })
            .collect()
    };
    let body = json!({"streams": [
        {"stream": {"app": "p", "level": "warn"}, "values": entries(3, None)},
        {"stream": {"app": "p"}, "values": entries(5, Some(json!({"level": "debug"})))},
        {"stream": {"app": "p", "zone": "z1"}, "values": entries(7, None)},
        {"stream": {"app": "q"}, "values": entries(11, None)},
    ]});
    let (status, text) = push(
        &vigil,
        None,
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let time = (t0 / 1_000_000_000 + 30).to_string();
    for flushed in [false, true] {
        if flushed {
            vigil.flush().await;
        }
        for (query, want) in [
            (
                r#"sum by (level) (count_over_time({app="p"} [5m]))"#,
                vec![("", 7.0), ("debug", 5.0), ("warn", 3.0)],
            ),
            (
                r#"sum by (zone) (count_over_time({app=~"p|q"} [5m]))"#,
                vec![("", 19.0), ("z1", 7.0)],
            ),
            (
                r#"sum by (app) (count_over_time({app=~"p|q", level=""} [5m]))"#,
                vec![("p", 12.0), ("q", 11.0)],
            ),
        ] {
            let label = query[8..query.find(')').unwrap()].to_string();
            let (status, body, text) = instant(&vigil, query, &time).await;
            assert_eq!(status, 200, "{query}: {text}");
            let mut got: Vec<(String, f64)> = body["data"]["result"]
                .as_array()
                .expect("vector")
                .iter()
                .map(|s| {
                    (
                        s["metric"][&label].as_str().unwrap_or("").to_string(),
                        s["value"][1].as_str().unwrap().parse().unwrap(),
                    )
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let want: Vec<(String, f64)> = want.iter().map(|(l, n)| (l.to_string(), *n)).collect();
            assert_eq!(got, want, "{query} (flushed: {flushed})");
        }
    }
}
