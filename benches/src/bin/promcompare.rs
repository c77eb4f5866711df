//! Vigil and Prometheus side by side (`benches/promcompare.sh` starts both).
//!
//! `live` writes one data set to both by remote_write, in time order as scrapes produce it (see
//! [`benches::scrape`]: jittered scrape times, counters with varying increments and resets,
//! gauges and histogram sums with many digits, targets that go away with stale markers and
//! new ones in their place), so that recent data sits in each server's head as it would in
//! production. `run` sends a query set of instant and range queries to both, checks that the
//! answers agree (same series, values within 1e-9 relative) and prints the latency of each on
//! both.
//!
//! Sample timestamps never fall on a whole second and query times are whole minutes, so no
//! sample falls on a window edge, where Prometheus 2.42 (closed windows) and 3.x (left-open)
//! differ.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use benches::scrape;
use clap::{Parser, Subcommand};
use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;
use serde_json::Value;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the data set to both servers by remote_write, in time order.
    Live {
        /// Series in all (about; whole targets of 17 series).
        #[arg(long, default_value_t = 5_000)]
        series: usize,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        /// End of the data, Unix seconds (a whole minute).
        #[arg(long)]
        end: i64,
        /// Base URLs to remote_write to.
        #[arg(long, required = true)]
        to: Vec<String>,
        /// Scrape rounds per request.
        #[arg(long, default_value_t = 4)]
        rounds_per_request: usize,
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
        /// What this run measures (printed with the summary).
        #[arg(long, default_value = "")]
        label: String,
    },
}

/// A series: metric name and labels.
type SeriesKey = (String, Vec<(&'static str, String)>);

/// Sends the data set to `urls` by remote_write, a request per `rounds_per_request` scrape
/// rounds; returns the samples sent.
fn live(
    series: usize,
    hours: i64,
    end: i64,
    urls: &[String],
    rounds_per_request: usize,
) -> Result<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let scrapes = hours * 3600 / scrape::STEP_S;
    let start_ms = (end - hours * 3600) * 1000;
    let mut fleet = scrape::Fleet::new(42, series, start_ms, scrapes);
    let started = Instant::now();
    let mut total = 0u64;
    // Series (name and labels) -> the order it first appeared in.
    let mut ids: BTreeMap<SeriesKey, usize> = BTreeMap::new();
    let mut k = 0;
    while k < scrapes {
        let mut by_series: BTreeMap<usize, TimeSeries> = BTreeMap::new();
        for _ in 0..rounds_per_request {
            if k >= scrapes {
                break;
            }
            k += 1;
            for p in fleet.next_round() {
                total += 1;
                let next = ids.len();
                let id = *ids
                    .entry((p.name.to_string(), p.labels.clone()))
                    .or_insert(next);
                by_series
                    .entry(id)
                    .or_insert_with(|| {
                        let mut labels = vec![Label {
                            name: "__name__".into(),
                            value: p.name.to_string(),
                        }];
                        labels.extend(p.labels.iter().map(|(k, v)| Label {
                            name: (*k).to_string(),
                            value: v.clone(),
                        }));
                        TimeSeries {
                            labels,
                            samples: Vec::new(),
                            exemplars: vec![],
                        }
                    })
                    .samples
                    .push(Sample {
                        value: p.v,
                        timestamp: p.t,
                    });
            }
        }
        let req = WriteRequest {
            timeseries: by_series.into_values().collect(),
            metadata: vec![],
        };
        let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
        for url in urls {
            loop {
                let (status, text) = rt.block_on(async {
                    let r = client
                        .post(format!("{url}/api/v1/write"))
                        .header("Content-Encoding", "snappy")
                        .header("Content-Type", "application/x-protobuf")
                        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = r.status().as_u16();
                    Ok::<_, anyhow::Error>((status, r.text().await?))
                })?;
                match status {
                    200 | 204 => break,
                    503 | 429 => std::thread::sleep(std::time::Duration::from_millis(200)),
                    s => bail!("remote write to {url} answered {s}: {text}"),
                }
            }
        }
    }
    println!(
        "wrote {} series, {total} samples, {scrapes} scrapes over {hours} h to {} servers in {:.1} s",
        ids.len(),
        urls.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(total)
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
        // One series each.
        "rate(http_requests_total{instance=\"host7\", route=\"/r3\"}[5m])",
        "memory_usage_bytes{instance=\"host42\"}",
        "deriv(memory_usage_bytes{instance=\"host3\"}[15m])",
        "delta(memory_usage_bytes{instance=\"host5\"}[10m])",
        "irate(http_requests_total{instance=\"host1\", route=\"/r0\"}[5m])",
        "timestamp(memory_usage_bytes{instance=\"host9\"})",
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

fn run(
    vigil: &str,
    prometheus: &str,
    end: i64,
    hours: i64,
    runs: usize,
    label: &str,
) -> Result<()> {
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
        let urls = [vigil, prometheus].map(|base| format!("{base}{path}"));
        let mut answers = Vec::new();
        for url in &urls {
            answers.push(points(&get(&rt, &c, url)?)?);
        }
        // Timed runs alternate between the servers, so a pause of either (a collection, a
        // background task on the shared core) falls on both sides alike.
        for _ in 0..runs {
            for (i, url) in urls.iter().enumerate() {
                let t0 = Instant::now();
                let _ = get(&rt, &c, url)?;
                times[i].push(t0.elapsed().as_secs_f64() * 1000.0);
            }
        }
        for t in &mut times {
            t.sort_by(|a, b| a.total_cmp(b));
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
        "{label}agreement: {agreed}/{} queries; median latency ratio vigil/prometheus: {:.2} on queries over 1,000+ series, {:.2} on single-series ones (max {:.2})",
        queries.len(),
        median(&mut ratios_big),
        median(&mut ratios_small),
        ratios_small.iter().copied().fold(f64::NAN, f64::max)
    );
    Ok(())
}

fn main() -> Result<()> {
    match Args::parse().cmd {
        Cmd::Live {
            series,
            hours,
            end,
            to,
            rounds_per_request,
        } => live(series, hours, end, &to, rounds_per_request).map(|_| ()),
        Cmd::Run {
            vigil,
            prometheus,
            end,
            hours,
            runs,
            label,
        } => run(&vigil, &prometheus, end, hours, runs, &label),
    }
}
