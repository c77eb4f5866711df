//! Index benchmark: generates a store of access-log records, spans and metric samples (through
//! the OTLP conversion and the storage engine, flushed and compacted as the server would), then
//! times needle queries with the segment indexes, without them (full scans), and with DuckDB
//! over the same Parquet files.
//!
//! `cargo run --release -p benches --bin indexbench -- --dir /tmp/vigil-indexbench`
//! (`--reuse` queries a store generated before; sizes are flags).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, UInt64Type};
use benches::gen::{Request, Source};
use benches::store::{append, compact, open, quantiles, table_size, NoIndex};
use clap::Parser;
use common::{Signal, Tenant};
use datafusion::prelude::SessionContext;
use opentelemetry_proto::tonic::common::v1::any_value;
use storage::{Engine, ReadView};

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Data directory of the generated store.
    #[arg(long, default_value = "/tmp/vigil-indexbench")]
    dir: PathBuf,
    /// Query the store in `--dir` as it is instead of generating a new one.
    #[arg(long)]
    reuse: bool,
    /// With `--reuse`: drop the store's metrics (and the WAL) and generate them again.
    #[arg(long)]
    new_metrics: bool,
    /// Log records to generate.
    #[arg(long, default_value_t = 50_000_000)]
    logs: u64,
    /// Spans to generate (traces of eight spans).
    #[arg(long, default_value_t = 20_000_000)]
    spans: u64,
    /// Metric series.
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Days of samples at a 15 s interval.
    #[arg(long, default_value_t = 1.0)]
    days: f64,
    /// Timed runs of each log and series query (trace look-ups use `--traces` ids).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Trace ids looked up.
    #[arg(long, default_value_t = 100)]
    traces: usize,
    /// Most time between two traces' starts, ms (uniform; 69 spreads 20M spans over a day).
    #[arg(long, default_value_t = 2.0)]
    trace_gap_ms: f64,
    /// The DuckDB side (a Python script); skipped when Python or duckdb is missing.
    #[arg(long, default_value = "benches/duckdb_queries.py")]
    duckdb_script: PathBuf,
}

/// The rare token: appended to ten records spread over the whole run.
const RARE: &str = "xyzzy";
/// A common token: the Firefox user agent, about one line in six.
const COMMON: &str = "firefox";
const REQUEST_ITEMS: usize = 10_000;

/// Generates and stores the data set; returns sampled trace ids (hex).
async fn generate(args: &Args, engine: &Engine) -> anyhow::Result<Vec<String>> {
    let mut src = Source::new(42).with_trace_gap((args.trace_gap_ms * 1e6) as u64);
    let t = Instant::now();
    let mut n = 0u64;
    let every = (args.logs / 10).max(1);
    while n < args.logs {
        let mut req = src.logs(REQUEST_ITEMS);
        if let Request::Logs(r) = &mut req {
            for (i, rec) in r.resource_logs[0].scope_logs[0]
                .log_records
                .iter_mut()
                .enumerate()
            {
                if (n + i as u64) % every == every / 2 {
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
        "generated logs={n} raw_text_bytes={} in {:.1?}",
        src.raw_text_bytes,
        t.elapsed()
    );

    let t = Instant::now();
    let mut n = 0u64;
    let mut ids = Vec::new();
    let stride = (args.spans / args.traces.max(1) as u64).max(1);
    while n < args.spans {
        let req = src.traces(REQUEST_ITEMS);
        if let Request::Traces(r) = &req {
            for (i, span) in r.resource_spans[0].scope_spans[0].spans.iter().enumerate() {
                if (n + i as u64).is_multiple_of(stride) && ids.len() < args.traces {
                    ids.push(hex::encode(&span.trace_id));
                }
            }
        }
        n += append(engine, Signal::Traces, &req).await?;
    }
    println!("generated spans={n} in {:.1?}", t.elapsed());

    let t = Instant::now();
    let steps = (args.days * 86_400.0 / 15.0) as u64;
    let mut n = 0u64;
    for _ in 0..if args.series == 0 { 0 } else { steps } {
        n += append(engine, Signal::Metrics, &src.metrics(args.series)).await?;
    }
    println!(
        "generated samples={n} ({} series x {steps} steps) in {:.1?}",
        args.series,
        t.elapsed()
    );
    let t = Instant::now();
    let merged = compact(engine).await?;
    println!("compacted {merged} segments in {:.1?}", t.elapsed());
    if !ids.is_empty() {
        std::fs::write(args.dir.join("trace_ids.txt"), ids.join("\n"))?;
    }
    Ok(ids)
}

async fn run(ctx: &SessionContext, sql: &str) -> anyhow::Result<(Duration, usize)> {
    let t = Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok((t.elapsed(), batches.iter().map(|b| b.num_rows()).sum()))
}

/// Times `sqls` (each run once to warm up first) and returns p50/p99 and the rows of the last.
async fn time_queries(ctx: &SessionContext, sqls: &[String]) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::new();
    let mut rows = 0;
    for sql in sqls {
        run(ctx, sql).await.with_context(|| sql.clone())?;
        let (t, r) = run(ctx, sql).await?;
        times.push(t);
        rows = r;
    }
    let (p50, p99) = quantiles(&mut times);
    Ok((p50, p99, rows))
}

/// The series of `http_server_requests_total{shard="17"}` (36 of them).
const SERIES_SQL: &str = "SELECT series_id FROM series \
    WHERE metric_name = 'http_server_requests_total' AND labels['shard'] = '17'";

/// The samples query of the series `ids`: count and maximum per series over every sample.
fn samples_sql(ids: &[u64]) -> String {
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    format!(
        "SELECT series_id, count(*) AS samples, max(value) AS max FROM samples \
         WHERE series_id IN ({}) GROUP BY series_id",
        list.join(", ")
    )
}

/// Times `runs` label-matcher selections (series, then their samples; one warm-up) and returns
/// p50/p99 and the samples counted.
async fn time_series_selection(
    ctx: &SessionContext,
    runs: usize,
) -> anyhow::Result<(f64, f64, u64)> {
    let mut times = Vec::new();
    let mut samples = 0;
    for i in 0..=runs {
        let t = Instant::now();
        let mut ids = Vec::new();
        for b in ctx.sql(SERIES_SQL).await?.collect().await? {
            let col = b.column(0).as_primitive::<UInt64Type>();
            ids.extend(col.iter().flatten());
        }
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            bail!("no series matched {SERIES_SQL}");
        }
        let batches = ctx.sql(&samples_sql(&ids)).await?.collect().await?;
        let elapsed = t.elapsed();
        samples = batches
            .iter()
            .flat_map(|b| {
                b.column(1)
                    .as_primitive::<Int64Type>()
                    .iter()
                    .flatten()
                    .collect::<Vec<_>>()
            })
            .sum::<i64>() as u64;
        if i > 0 {
            times.push(elapsed);
        }
    }
    let (p50, p99) = quantiles(&mut times);
    Ok((p50, p99, samples))
}

fn store_sizes(engine: &Engine) {
    for (signal, table) in [
        ("logs", "logs"),
        ("traces", "spans"),
        ("metrics", "samples"),
    ] {
        let (segments, rows, data, index) = table_size(engine, table);
        println!(
            "store signal={signal} segments={segments} rows={rows} data_bytes={data} \
             bytes_per_row={:.2} index_bytes={index} index_share_of_data={:.3}",
            data as f64 / rows.max(1) as f64,
            index as f64 / data.max(1) as f64
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.reuse {
        if args.dir.exists() {
            std::fs::remove_dir_all(&args.dir)?;
        }
        std::fs::create_dir_all(&args.dir)?;
    } else if args.new_metrics {
        for old in ["store/default/metrics", "wal"] {
            let path = args.dir.join(old);
            if path.exists() {
                std::fs::remove_dir_all(path)?;
            }
        }
    }
    let engine = open(&args.dir).await?;
    let ids = if args.reuse {
        if args.new_metrics {
            let metrics_only = Args {
                logs: 0,
                spans: 0,
                ..args.clone()
            };
            generate(&metrics_only, &engine).await?;
        }
        std::fs::read_to_string(args.dir.join("trace_ids.txt"))?
            .lines()
            .map(String::from)
            .collect()
    } else {
        generate(&args, &engine).await?
    };
    store_sizes(&engine);

    let tenant = Tenant::default_tenant();
    let indexed =
        query::session_for_tenant(Arc::clone(&engine) as Arc<dyn ReadView>, tenant.clone());
    let plain = query::session_for_tenant(Arc::new(NoIndex(Arc::clone(&engine))), tenant.clone());
    // A full scan: no segment index and no Parquet statistics, page index or bloom filters.
    let full = query::session_for_tenant(Arc::new(NoIndex(Arc::clone(&engine))), tenant);
    {
        let state = full.state_ref();
        let mut state = state.write();
        let parquet = &mut state.table_options_mut().parquet.global;
        parquet.pruning = false;
        parquet.bloom_filter_on_read = false;
        parquet.enable_page_index = false;
    }
    let trace_sqls: Vec<String> = ids
        .iter()
        .map(|id| format!("SELECT span_id, name FROM spans WHERE trace_id = '{id}'"))
        .collect();
    let repeat = |sql: String| vec![sql; args.runs];
    let queries: Vec<(&str, Vec<String>)> = vec![
        ("trace_by_id", trace_sqls),
        (
            "rare_token",
            repeat(format!(
                "SELECT time_unix_nano, body FROM logs WHERE match(body, '{RARE}')"
            )),
        ),
        (
            "common_token",
            repeat(format!(
                "SELECT count(*) FROM logs WHERE match(body, '{COMMON}')"
            )),
        ),
    ];
    println!(
        "query | index p50 / p99 ms | no .idx, Parquet pruning on: p50 / p99 ms | \
         full scan p50 / p99 ms | full scan / index (p50) | rows"
    );
    for (name, sqls) in &queries {
        let (ip50, ip99, irows) = time_queries(&indexed, sqls).await?;
        let (pp50, pp99, prows) = time_queries(&plain, sqls).await?;
        let (fp50, fp99, frows) = time_queries(&full, sqls).await?;
        if irows != prows || irows != frows {
            bail!("{name}: {irows} rows with the index, {prows} and {frows} without");
        }
        println!(
            "{name} | {ip50:.1} / {ip99:.1} | {pp50:.1} / {pp99:.1} | {fp50:.1} / {fp99:.1} | \
             {:.1}x | {irows}",
            fp50 / ip50.max(0.001)
        );
    }

    // A label-matcher selection as a PromQL selector runs it: the matching series through the
    // series postings, then their samples over the whole store through the samples index.
    let (ip50, ip99, irows) = time_series_selection(&indexed, args.runs).await?;
    let (pp50, pp99, prows) = time_series_selection(&plain, args.runs).await?;
    let (fp50, fp99, frows) = time_series_selection(&full, args.runs).await?;
    if irows != prows || irows != frows {
        bail!("series_by_label: {irows} with the index, {prows} and {frows} without");
    }
    println!(
        "series_by_label | {ip50:.1} / {ip99:.1} | {pp50:.1} / {pp99:.1} | {fp50:.1} / {fp99:.1} | \
         {:.1}x | {irows}",
        fp50 / ip50.max(0.001)
    );

    let status = std::process::Command::new("python3")
        .arg(&args.duckdb_script)
        .arg(&args.dir)
        .arg(args.runs.to_string())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => println!("duckdb: skipped ({s})"),
        Err(e) => println!("duckdb: skipped ({e})"),
    }
    Ok(())
}
