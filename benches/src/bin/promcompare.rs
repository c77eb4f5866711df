//! Vigil and Prometheus side by side (`benches/promcompare.sh` starts both).
//!
//! `gen` writes one data set — counters, gauges and classic histograms, `--series` series over
//! `--hours` hours at 15 s — as an OpenMetrics file for `promtool tsdb create-blocks-from
//! openmetrics` and, with `--vigil`, sends the same samples to Vigil by remote_write. `run`
//! sends a query set of instant and range queries to both, checks that the answers agree
//! (same series, values within 1e-9 relative) and prints the latency of each on both.
//!
//! Sample timestamps sit 3.3 s past the 15 s grid and query times on whole minutes, so no
//! sample falls on a window edge, where Prometheus 2.42 (closed windows) and 3.x (left-open)
//! differ.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ingest::remote_write::{Label, MetricMetadata, Sample, TimeSeries, WriteRequest};
use prost::Message;
use serde_json::Value;

/// Seconds between samples.
const STEP_S: i64 = 15;
/// Offset of sample timestamps from the 15 s grid, ms.
const OFFSET_MS: i64 = 3_300;
/// Histogram bucket bounds.
const BUCKETS: [&str; 8] = ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"];

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate the data set.
    Gen {
        /// Series in all (counters 60%, gauges 20%, histogram buckets 20%).
        #[arg(long, default_value_t = 5_000)]
        series: usize,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        /// End of the data, Unix seconds (a whole minute).
        #[arg(long)]
        end: i64,
        /// Where the OpenMetrics text goes.
        #[arg(long)]
        openmetrics: String,
        /// Vigil's base URL, to remote_write the same samples to.
        #[arg(long)]
        vigil: Option<String>,
    },
    /// Run the query set on both and compare.
    Run {
        #[arg(long)]
        vigil: String,
        #[arg(long)]
        prometheus: String,
        /// End of the data, Unix seconds (as given to `gen`).
        #[arg(long)]
        end: i64,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        /// Timed runs per query (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

/// One generated series: name, labels, kind.
struct Gen {
    name: String,
    labels: Vec<(String, String)>,
    kind: Kind,
    seed: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    /// Bucket `i` of a histogram (cumulative; `_sum` and `_count` generated beside).
    Bucket(usize),
    Sum,
    Count,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The value of series `g` at point `k` (deterministic; counters never decrease).
fn value(g: &Gen, k: i64) -> f64 {
    let r = |j: i64| (mix(g.seed ^ (j as u64).wrapping_mul(0x9e37_79b9)) % 1000) as f64;
    match g.kind {
        Kind::Counter => (k * 7 + (g.seed % 13) as i64 * k / 3) as f64,
        Kind::Gauge => 50.0 + r(k) / 10.0,
        Kind::Bucket(i) => (k * (i as i64 + 1) * 3) as f64,
        Kind::Count => (k * BUCKETS.len() as i64 * 3) as f64,
        Kind::Sum => k as f64 * 1.25,
    }
}

fn series_set(n: usize) -> Vec<Gen> {
    let mut out = Vec::with_capacity(n);
    let counters = n * 6 / 10;
    let gauges = n * 2 / 10;
    for i in 0..counters {
        out.push(Gen {
            name: "http_requests_total".into(),
            labels: vec![
                ("job".into(), format!("job{}", i % 10)),
                ("instance".into(), format!("host{}", i % 100)),
                ("route".into(), format!("/r{}", i / 100)),
            ],
            kind: Kind::Counter,
            seed: i as u64,
        });
    }
    for i in 0..gauges {
        out.push(Gen {
            name: "memory_usage_bytes".into(),
            labels: vec![
                ("job".into(), format!("job{}", i % 10)),
                ("instance".into(), format!("host{i}")),
            ],
            kind: Kind::Gauge,
            seed: 1_000_000 + i as u64,
        });
    }
    let histograms = (n - counters - gauges) / (BUCKETS.len() + 2);
    for i in 0..histograms {
        let labels = vec![
            ("job".into(), format!("job{}", i % 10)),
            ("instance".into(), format!("host{i}")),
        ];
        for (b, le) in BUCKETS.iter().enumerate() {
            let mut l = labels.clone();
            l.push(("le".into(), le.to_string()));
            out.push(Gen {
                name: "request_duration_seconds_bucket".into(),
                labels: l,
                kind: Kind::Bucket(b),
                seed: i as u64,
            });
        }
        for (name, kind) in [
            ("request_duration_seconds_sum", Kind::Sum),
            ("request_duration_seconds_count", Kind::Count),
        ] {
            out.push(Gen {
                name: name.into(),
                labels: labels.clone(),
                kind,
                seed: i as u64,
            });
        }
    }
    out
}

fn generate(
    series: usize,
    hours: i64,
    end: i64,
    openmetrics: &str,
    vigil: Option<&str>,
) -> Result<()> {
    let set = series_set(series);
    let points = hours * 3600 / STEP_S;
    let start_ms = (end - hours * 3600) * 1000;
    let ts = |k: i64| start_ms + k * STEP_S * 1000 + OFFSET_MS;
    // OpenMetrics: grouped by family, each series' samples in time order.
    let mut om = BufWriter::new(std::fs::File::create(openmetrics)?);
    let family = |name: &str| {
        name.trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count")
            .trim_end_matches("_total")
            .to_string()
    };
    let mut last_family = String::new();
    for g in &set {
        let f = family(&g.name);
        if f != last_family {
            let t = match g.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                _ => "histogram",
            };
            writeln!(om, "# TYPE {f} {t}")?;
            last_family = f;
        }
        let labels: Vec<String> = g
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        let prefix = format!("{}{{{}}}", g.name, labels.join(","));
        for k in 0..points {
            let t = ts(k);
            writeln!(om, "{prefix} {} {}.{:03}", value(g, k), t / 1000, t % 1000)?;
        }
    }
    writeln!(om, "# EOF")?;
    om.flush()?;
    let total = set.len() as i64 * points;
    println!(
        "generated {} series x {points} points = {total} samples",
        set.len()
    );

    if let Some(url) = vigil {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = reqwest::Client::new();
        let started = Instant::now();
        // A request per 100 series (all their points).
        for chunk in set.chunks(100) {
            let req = WriteRequest {
                timeseries: chunk
                    .iter()
                    .map(|g| {
                        let mut labels = vec![Label {
                            name: "__name__".into(),
                            value: g.name.clone(),
                        }];
                        labels.extend(g.labels.iter().map(|(k, v)| Label {
                            name: k.clone(),
                            value: v.clone(),
                        }));
                        TimeSeries {
                            labels,
                            samples: (0..points)
                                .map(|k| Sample {
                                    value: value(g, k),
                                    timestamp: ts(k),
                                })
                                .collect(),
                            exemplars: vec![],
                        }
                    })
                    .collect(),
                metadata: vec![MetricMetadata {
                    r#type: 1,
                    metric_family_name: "http_requests_total".into(),
                    help: String::new(),
                    unit: String::new(),
                }],
            };
            let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
            loop {
                let (status, text) = rt.block_on(async {
                    let r = client
                        .post(format!("{url}/api/v1/write"))
                        .header("Content-Encoding", "snappy")
                        .header("Content-Type", "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = r.status().as_u16();
                    Ok::<_, anyhow::Error>((status, r.text().await?))
                })?;
                match status {
                    204 => break,
                    503 | 429 => std::thread::sleep(std::time::Duration::from_millis(200)),
                    s => bail!("remote write answered {s}: {text}"),
                }
            }
        }
        println!(
            "remote_write to vigil: {total} samples in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A query of the set: text, instant time or range, and how many series it reads.
struct Q {
    expr: String,
    range: Option<(i64, i64, i64)>,
    time: i64,
}

fn query_set(end: i64, hours: i64) -> Vec<Q> {
    let t = end - 600;
    let exprs = [
        // Over 1,000+ series.
        "sum(rate(http_requests_total[5m]))",
        "sum by (job) (rate(http_requests_total[5m]))",
        "sum by (route) (increase(http_requests_total[1h]))",
        "topk(5, rate(http_requests_total[5m]))",
        "avg by (job) (memory_usage_bytes)",
        "max_over_time(memory_usage_bytes[10m])",
        "count(http_requests_total)",
        "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
        "histogram_quantile(0.5, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))",
        "sum(rate(request_duration_seconds_sum[5m])) / sum(rate(request_duration_seconds_count[5m]))",
        "rate(http_requests_total[5m]) > 2",
        "quantile(0.95, memory_usage_bytes)",
        "stddev by (job) (memory_usage_bytes)",
        "sum by (job) (rate(http_requests_total[5m])) / on (job) group_left sum by (job) (memory_usage_bytes)",
        "avg_over_time(memory_usage_bytes[30m])",
        // Small.
        "rate(http_requests_total{instance=\"host7\", route=\"/r3\"}[5m])",
        "memory_usage_bytes{instance=\"host42\"}",
        "deriv(memory_usage_bytes{instance=\"host3\"}[15m])",
        "delta(memory_usage_bytes{instance=\"host5\"}[10m])",
        "irate(http_requests_total{instance=\"host1\", route=\"/r0\"}[5m])",
    ];
    let mut out = Vec::new();
    for e in exprs {
        out.push(Q {
            expr: e.to_string(),
            range: None,
            time: t,
        });
        out.push(Q {
            expr: e.to_string(),
            range: Some((end - 3600, end, 60)),
            time: 0,
        });
        out.push(Q {
            expr: e.to_string(),
            range: Some((end - hours * 3600 + 3600, end, 300)),
            time: 0,
        });
    }
    out
}

fn get(rt: &tokio::runtime::Runtime, c: &reqwest::Client, url: &str) -> Result<Value> {
    rt.block_on(async {
        let r = c.get(url).send().await?;
        let v: Value = r.json().await?;
        Ok::<_, anyhow::Error>(v)
    })
    .with_context(|| url.to_string())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Series label set → points, from a Prometheus API answer.
fn points(v: &Value) -> Result<BTreeMap<String, Vec<(String, f64)>>> {
    if v["status"] != "success" {
        bail!("query failed: {v}");
    }
    let data = &v["data"];
    let mut out = BTreeMap::new();
    let num = |p: &Value| -> (String, f64) {
        let t = p[0].to_string();
        let v = p[1].as_str().unwrap_or("NaN");
        let f = match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            s => s.parse().unwrap_or(f64::NAN),
        };
        (t, f)
    };
    match data["resultType"].as_str() {
        Some("scalar") => {
            out.insert("scalar".into(), vec![num(&data["result"])]);
        }
        Some("vector") => {
            for s in data["result"].as_array().into_iter().flatten() {
                out.insert(s["metric"].to_string(), vec![num(&s["value"])]);
            }
        }
        Some("matrix") => {
            for s in data["result"].as_array().into_iter().flatten() {
                let pts = s["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(num)
                    .collect();
                out.insert(s["metric"].to_string(), pts);
            }
        }
        other => bail!("unexpected result type {other:?}"),
    }
    Ok(out)
}

fn agree(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Why two answers differ, if they do.
fn diff(
    v: &BTreeMap<String, Vec<(String, f64)>>,
    p: &BTreeMap<String, Vec<(String, f64)>>,
) -> Option<String> {
    if v.len() != p.len() {
        return Some(format!("{} series vs {}", v.len(), p.len()));
    }
    for ((lv, pv), (lp, pp)) in v.iter().zip(p) {
        if lv != lp {
            return Some(format!("series {lv} vs {lp}"));
        }
        if pv.len() != pp.len() {
            return Some(format!("{lv}: {} points vs {}", pv.len(), pp.len()));
        }
        for (a, b) in pv.iter().zip(pp) {
            if a.0 != b.0 || !agree(a.1, b.1) {
                return Some(format!("{lv}: {a:?} vs {b:?}"));
            }
        }
    }
    None
}

fn run(vigil: &str, prometheus: &str, end: i64, hours: i64, runs: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let c = reqwest::Client::new();
    let mut agreed = 0;
    let mut ratios_big = Vec::new();
    let mut ratios_small = Vec::new();
    let queries = query_set(end, hours);
    println!("| query | kind | series | vigil ms | prometheus ms | ratio | agree |");
    println!("|---|---|---|---|---|---|---|");
    for q in &queries {
        let path = match q.range {
            None => format!("/api/v1/query?query={}&time={}", encode(&q.expr), q.time),
            Some((s, e, step)) => format!(
                "/api/v1/query_range?query={}&start={s}&end={e}&step={step}",
                encode(&q.expr)
            ),
        };
        let mut times = [Vec::new(), Vec::new()];
        let mut answers = Vec::new();
        for (i, base) in [vigil, prometheus].iter().enumerate() {
            let url = format!("{base}{path}");
            let first = get(&rt, &c, &url)?;
            for _ in 0..runs {
                let t0 = Instant::now();
                let _ = get(&rt, &c, &url)?;
                times[i].push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            times[i].sort_by(|a, b| a.total_cmp(b));
            answers.push(points(&first)?);
        }
        let why = diff(&answers[0], &answers[1]);
        agreed += usize::from(why.is_none());
        let (tv, tp) = (times[0][runs / 2], times[1][runs / 2]);
        let ratio = tv / tp;
        let series_read = if q.expr.contains("instance=\"") {
            1
        } else {
            1000
        };
        if series_read >= 1000 {
            ratios_big.push(ratio);
        } else {
            ratios_small.push(ratio);
        }
        let kind = match q.range {
            None => "instant".to_string(),
            Some((s, e, step)) => format!("range {}h/{step}s", (e - s) / 3600),
        };
        println!(
            "| `{}` | {kind} | {} | {tv:.1} | {tp:.1} | {ratio:.2} | {} |",
            q.expr,
            answers[0].len(),
            why.as_deref().unwrap_or("yes")
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!(
        "agreement: {agreed}/{} queries; median latency ratio vigil/prometheus: {:.2} on queries over 1,000+ series, {:.2} on small ones",
        queries.len(),
        median(&mut ratios_big),
        median(&mut ratios_small)
    );
    Ok(())
}

fn main() -> Result<()> {
    match Args::parse().cmd {
        Cmd::Gen {
            series,
            hours,
            end,
            openmetrics,
            vigil,
        } => generate(series, hours, end, &openmetrics, vigil.as_deref()),
        Cmd::Run {
            vigil,
            prometheus,
            end,
            hours,
            runs,
        } => run(&vigil, &prometheus, end, hours, runs),
    }
}
