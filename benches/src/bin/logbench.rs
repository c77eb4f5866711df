//! LogQL benchmark: generates a day of access logs (through the OTLP conversion and the storage
//! engine, flushed and compacted as the server would), then times the LogQL queries of a
//! Grafana logs dashboard through the Loki engine, with the segment indexes and without them,
//! and the same questions asked of DuckDB over the same Parquet files.
//!
//! `cargo run --release -p benches --bin logbench -- --dir /tmp/vigil-logbench`
//! (`--reuse` queries a store generated before; sizes are flags).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use benches::gen::{Request, Source};
use benches::store::{append, compact, open, quantiles, table_size, NoIndex};
use clap::Parser;
use common::{Signal, Tenant};
use datafusion::arrow::util::pretty::pretty_format_batches;
use logql::eval::Value;
use opentelemetry_proto::tonic::common::v1::any_value;
use query::{LokiAnswer, LokiEngine, LokiLimits, QueryExecutor, SqlEngine};
use storage::ReadView;

/// The server's allocator and its tuning (`server/src/main.rs`), so the queries allocate as
/// they do in `vigil serve`.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// SAFETY: jemalloc reads this symbol as `const char *` (a thin pointer, as `Option<&u8>` is) to
// a NUL-terminated option string, once, before the first allocation.
#[allow(non_upper_case_globals, unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: Option<&u8> = Some(&common::JEMALLOC_CONF[0]);

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Data directory of the generated store.
    #[arg(long, default_value = "/tmp/vigil-logbench")]
    dir: PathBuf,
    /// Query the store in `--dir` as it is instead of generating a new one.
    #[arg(long)]
    reuse: bool,
    /// Log records to generate.
    #[arg(long, default_value_t = 50_000_000)]
    logs: u64,
    /// Hours the records span.
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Timed runs of each query (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Query threads (the server's `query.threads`).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The DuckDB side (a Python script); skipped when Python or duckdb is missing.
    #[arg(long, default_value = "benches/duckdb_logql.py")]
    duckdb_script: PathBuf,
    /// Time only the queries of these names (all when none is given).
    #[arg(long)]
    only: Vec<String>,
    /// Print the plan and metrics of this SQL (`EXPLAIN ANALYZE`) over the store and stop.
    #[arg(long)]
    explain: Option<String>,
}

/// The rare token: appended to ten records of [`SERVICE`] spread over the day.
const RARE: &str = "xyzzy";
/// The service the line and volume queries select.
const SERVICE: &str = "checkout";
/// The service that logs JSON lines (the others log the combined format).
const JSON_SERVICE: &str = "frontend";
const REQUEST_ITEMS: usize = 10_000;
/// Records of [`SERVICE`] are about a fifth of all.
const SERVICES: u64 = 5;

/// Generates and stores the data set; returns the first and last record time.
async fn generate(args: &Args, engine: &storage::Engine) -> anyhow::Result<(i64, i64)> {
    let mut src = Source::new(7);
    let gap = (args.hours * 3.6e12 / args.logs.max(1) as f64) as u64;
    let t = Instant::now();
    let (mut n, mut service_n) = (0u64, 0u64);
    let every = (args.logs / SERVICES / 10).max(1);
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    while n < args.logs {
        let mut req = src.access_logs(REQUEST_ITEMS, gap, &[JSON_SERVICE]);
        if let Request::Logs(r) = &mut req {
            let rl = &mut r.resource_logs[0];
            let service = rl
                .resource
                .as_ref()
                .and_then(|r| r.attributes.first())
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| v.value.clone());
            let ours = matches!(service, Some(any_value::Value::StringValue(s)) if s == SERVICE);
            for rec in &mut rl.scope_logs[0].log_records {
                first = first.min(rec.time_unix_nano as i64);
                last = last.max(rec.time_unix_nano as i64);
                if !ours {
                    continue;
                }
                service_n += 1;
                if service_n % every == every / 2 {
                    if let Some(any_value::Value::StringValue(s)) =
                        rec.body.as_mut().and_then(|b| b.value.as_mut())
                    {
                        s.push_str(&format!(" {RARE}"));
                    }
                }
            }
        }
        n += append(engine, Signal::Logs, &req).await?;
    }
    println!(
        "generated logs={n} raw_text_bytes={} over {:.1} h in {:.1?}",
        src.raw_text_bytes,
        (last - first) as f64 / 3.6e12,
        t.elapsed()
    );
    let t = Instant::now();
    let merged = compact(engine).await?;
    println!("compacted {merged} segments in {:.1?}", t.elapsed());
    std::fs::write(args.dir.join("range.txt"), format!("{first} {last}"))?;
    Ok((first, last))
}

/// One LogQL query of the benchmark.
struct Query {
    name: &'static str,
    logql: String,
    start: i64,
    end: i64,
    step: i64,
    instant: bool,
}

/// What an answer holds: lines, or series and points.
fn size(answer: &LokiAnswer) -> (usize, usize) {
    match answer {
        LokiAnswer::Streams(s) => (s.len(), s.iter().map(|s| s.entries.len()).sum()),
        LokiAnswer::Value(Value::Matrix(m)) => (m.len(), m.iter().map(|s| s.points.len()).sum()),
        LokiAnswer::Value(Value::Vector(v)) => (v.len(), v.len()),
        LokiAnswer::Value(Value::Scalar(_)) => (0, 1),
    }
}

/// Runs `q` once to warm up, then `runs` times; returns p50/p99 and the answer's size.
async fn time_query(
    engine: &LokiEngine,
    q: &Query,
    runs: usize,
) -> anyhow::Result<(f64, f64, (usize, usize))> {
    let tenant = Tenant::default_tenant();
    let run = || {
        engine.query(
            &tenant, &q.logql, q.start, q.end, q.step, 1000, true, q.instant,
        )
    };
    let mut answer = run().await?;
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        answer = run().await?;
        times.push(t.elapsed());
    }
    let (p50, p99) = quantiles(&mut times);
    Ok((p50, p99, size(&answer)))
}

fn loki(view: Arc<dyn ReadView>, executor: &Arc<QueryExecutor>) -> LokiEngine {
    let sql = Arc::new(SqlEngine::new(view, Arc::clone(executor)));
    let limits = LokiLimits {
        timeout: Duration::from_secs(600),
        ..LokiLimits::default()
    };
    LokiEngine::new(
        sql,
        limits,
        query::DEFAULT_PROMOTED
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.reuse {
        if args.dir.exists() {
            std::fs::remove_dir_all(&args.dir)?;
        }
        std::fs::create_dir_all(&args.dir)?;
    }
    let engine = open(&args.dir).await?;
    let (first, last) = if args.reuse {
        let text = std::fs::read_to_string(args.dir.join("range.txt"))?;
        let mut it = text.split_whitespace().map(str::parse::<i64>);
        match (it.next(), it.next()) {
            (Some(Ok(a)), Some(Ok(b))) => (a, b),
            _ => bail!("range.txt of {} is not two times", args.dir.display()),
        }
    } else {
        generate(&args, &engine).await?
    };
    let (segments, rows, data, index) = table_size(&engine, "logs");
    println!(
        "store logs segments={segments} rows={rows} data_bytes={data} bytes_per_row={:.2} \
         index_bytes={index}",
        data as f64 / rows.max(1) as f64
    );

    let executor = Arc::new(QueryExecutor::new(args.threads)?);
    if let Some(sql) = &args.explain {
        let engine_store = Arc::clone(&engine);
        let engine = SqlEngine::new(Arc::clone(&engine) as Arc<dyn ReadView>, executor);
        let limits = query::SqlLimits {
            max_result_rows: 1_000_000,
            timeout: Duration::from_secs(600),
        };
        for seg in &engine_store
            .snapshot(&Tenant::default_tenant(), "logs")
            .segments
        {
            let Some(idx) = engine_store.segment_index(seg).await else {
                continue;
            };
            if let Some(body) = idx.column("body") {
                let t = Instant::now();
                let (_, matched) = body
                    .matching(|t| t.windows(5).any(|w| w == b"xyzzy"))
                    .unwrap_or_default();
                println!(
                    "segment rows={} body terms={} sizes={:?} unit_rows={} substring scan {:.1?} matched {matched}",
                    seg.rows,
                    body.len(),
                    body.sizes(),
                    body.unit_rows(),
                    t.elapsed()
                );
            }
        }
        let t = Instant::now();
        let out = engine
            .execute(
                Tenant::default_tenant(),
                &format!("EXPLAIN ANALYZE {sql}"),
                &limits,
            )
            .await?;
        let text = pretty_format_batches(&out.batches)?;
        println!("{text}\n{:.1?}", t.elapsed());
        return Ok(());
    }
    let indexed = loki(Arc::clone(&engine) as Arc<dyn ReadView>, &executor);
    let plain = loki(Arc::new(NoIndex(Arc::clone(&engine))), &executor);
    // The day as Grafana asks for it: the last record's minute, one step a minute.
    let end = (last / 60_000_000_000 + 1) * 60_000_000_000;
    let day = end - 86_400_000_000_000;
    let hour = end - 3_600_000_000_000;
    let queries = [
        Query {
            name: "rare_token_24h",
            logql: format!("{{service_name=\"{SERVICE}\"}} |= \"{RARE}\""),
            start: day.min(first),
            end,
            step: 60_000_000_000,
            instant: false,
        },
        Query {
            name: "volume_by_level_24h",
            logql: format!("sum by (level) (count_over_time({{service_name=\"{SERVICE}\"}}[1m]))"),
            start: day,
            end,
            step: 60_000_000_000,
            instant: false,
        },
        Query {
            name: "topk_json_5xx_1h",
            logql: format!(
                "topk(10, sum by (status) (rate({{service_name=\"{JSON_SERVICE}\"}} | json | status >= 500 [5m])))"
            ),
            start: hour,
            end,
            step: 15_000_000_000,
            instant: false,
        },
    ];
    println!(
        "query | index p50 / p99 ms | no index p50 / p99 ms | series or streams | points or lines"
    );
    for q in &queries {
        if !args.only.is_empty() && !args.only.iter().any(|n| n == q.name) {
            continue;
        }
        let (ip50, ip99, isize) = time_query(&indexed, q, args.runs).await?;
        let (pp50, pp99, psize) = time_query(&plain, q, args.runs).await?;
        if isize != psize {
            bail!("{}: {isize:?} with the index, {psize:?} without", q.name);
        }
        println!(
            "{} | {ip50:.1} / {ip99:.1} | {pp50:.1} / {pp99:.1} | {} | {}",
            q.name, isize.0, isize.1
        );
    }

    if !args.only.is_empty() {
        return Ok(());
    }
    let status = std::process::Command::new("python3")
        .arg(&args.duckdb_script)
        .arg(&args.dir)
        .arg(args.runs.to_string())
        .args([day.min(first), day, hour, end].map(|t| t.to_string()))
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => println!("duckdb: skipped ({s})"),
        Err(e) => println!("duckdb: skipped ({e})"),
    }
    Ok(())
}
