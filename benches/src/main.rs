//! `loadgen`: pushes OTLP logs, spans or metric points at a running Vigil as fast as it
//! acknowledges them, over gRPC or HTTP, and prints accepted items/s, p99 ack latency, and the
//! bytes per item the store holds after a flush.
//!
//! Every request is generated before the clock starts, so the generator's own cost stays out of
//! the figures; `benches/run.sh` pins the server and the generator to different cores.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;

use benches::gen::{self, Generated, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Signal {
    Logs,
    Traces,
    Metrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    Grpc,
    Http,
}

/// OTLP load generator for Vigil.
#[derive(Debug, Parser)]
struct Args {
    /// What to send.
    #[arg(long, value_enum)]
    signal: Signal,
    /// How to send it.
    #[arg(long, value_enum, default_value = "grpc")]
    protocol: Protocol,
    /// OTLP/gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    grpc: String,
    /// OTLP/HTTP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    otlp_http: String,
    /// Vigil's HTTP API (for the flush before measuring disk bytes).
    #[arg(long, default_value = "http://127.0.0.1:9700")]
    api: String,
    /// Items per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Distinct requests generated up front (each is sent once before any repeats).
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to push.
    #[arg(long, default_value = "20s", value_parser = humantime_parse)]
    duration: Duration,
    /// Give log records random trace and span ids.
    #[arg(long)]
    trace_context: bool,
    /// The server's data directory; when given, flush and report bytes per item on disk for the
    /// first pass over the distinct requests (sent once each, before the timed run).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn humantime_parse(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|e| format!("{e}"))?;
    match unit {
        "s" | "" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        other => Err(format!("unknown unit {other:?}")),
    }
}

#[derive(Clone)]
enum Client {
    Traces(TraceServiceClient<tonic::transport::Channel>),
    Logs(LogsServiceClient<tonic::transport::Channel>),
    Metrics(MetricsServiceClient<tonic::transport::Channel>),
    Http(reqwest::Client, String),
}

impl Client {
    async fn send(&mut self, req: &Request) -> anyhow::Result<()> {
        match (self, req) {
            (Client::Traces(c), Request::Traces(r)) => {
                c.export(r.clone()).await?;
            }
            (Client::Logs(c), Request::Logs(r)) => {
                c.export(r.clone()).await?;
            }
            (Client::Metrics(c), Request::Metrics(r)) => {
                c.export(r.clone()).await?;
            }
            (Client::Http(c, url), r) => {
                let body = match r {
                    Request::Traces(r) => r.encode_to_vec(),
                    Request::Logs(r) => r.encode_to_vec(),
                    Request::Metrics(r) => r.encode_to_vec(),
                };
                let resp = c
                    .post(url.as_str())
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("http {}", resp.status());
                }
            }
            _ => bail!("client and request disagree"),
        }
        Ok(())
    }
}

async fn connect(args: &Args) -> anyhow::Result<Client> {
    if args.protocol == Protocol::Http {
        let path = match args.signal {
            Signal::Logs => "/v1/logs",
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        };
        return Ok(Client::Http(
            reqwest::Client::new(),
            format!("{}{}", args.otlp_http, path),
        ));
    }
    let channel = tonic::transport::Endpoint::from_shared(args.grpc.clone())?
        .connect()
        .await
        .with_context(|| format!("failed to connect to {}", args.grpc))?;
    Ok(match args.signal {
        Signal::Traces => {
            Client::Traces(TraceServiceClient::new(channel).max_decoding_message_size(64 << 20))
        }
        Signal::Logs => Client::Logs(LogsServiceClient::new(channel)),
        Signal::Metrics => Client::Metrics(MetricsServiceClient::new(channel)),
    })
}

struct Outcome {
    items: u64,
    errors: u64,
    elapsed: Duration,
    latency: hdrhistogram::Histogram<u64>,
}

/// Sends `requests` (cycling) with `concurrency` in flight until `deadline` or, when `once`,
/// until each was sent once.
async fn drive(args: &Args, data: &Arc<Generated>, once: bool) -> anyhow::Result<Outcome> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + args.duration;
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let mut client = connect(args).await?;
        let data = Arc::clone(data);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("valid sigfig");
            let (mut items, mut errors) = (0u64, 0u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if once && i >= data.requests.len() {
                    break;
                }
                if !once && Instant::now() >= deadline {
                    break;
                }
                let req = &data.requests[i % data.requests.len()];
                let t = Instant::now();
                match client.send(req).await {
                    Ok(()) => {
                        items += data.items_per_request as u64;
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        errors += 1;
                        if errors < 3 {
                            eprintln!("request failed: {e:#}");
                        }
                    }
                }
            }
            (items, errors, hist)
        }));
    }
    let mut out = Outcome {
        items: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: hdrhistogram::Histogram::new(3)?,
    };
    for t in tasks {
        let (items, errors, hist) = t.await?;
        out.items += items;
        out.errors += errors;
        out.latency.add(&hist)?;
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

/// Bytes of all files under `path`, and of the `.idx` index files among them.
fn dir_bytes(path: &std::path::Path) -> (u64, u64) {
    let (mut total, mut index) = (0, 0);
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => {
                    let (t, i) = dir_bytes(&e.path());
                    total += t;
                    index += i;
                }
                Ok(m) => {
                    total += m.len();
                    if e.path().extension().is_some_and(|x| x == "idx") {
                        index += m.len();
                    }
                }
                Err(_) => {}
            }
        }
    }
    (total, index)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let t = Instant::now();
    let data = Arc::new(gen::generate(
        args.signal == Signal::Logs,
        args.signal == Signal::Traces,
        args.batch,
        args.requests,
        args.trace_context,
        args.seed,
    ));
    eprintln!(
        "generated {} requests x {} items in {:.1?}",
        data.requests.len(),
        data.items_per_request,
        t.elapsed()
    );
    let signal_name = format!("{:?}", args.signal).to_lowercase();

    if let Some(dir) = &args.data_dir {
        let first = drive(&args, &data, true).await?;
        if first.errors > 0 {
            bail!("{} requests failed in the first pass", first.errors);
        }
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/admin/flush", args.api))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("flush failed: {}", resp.status());
        }
        let store = dir.join("store");
        let (bytes, index_bytes) = dir_bytes(&store);
        let items = first.items;
        println!(
            "disk signal={signal_name} items={items} store_bytes={bytes} bytes_per_item={:.2} index_bytes={index_bytes} index_share_of_data={:.3} raw_text_bytes={} ratio_to_raw={:.4}",
            bytes as f64 / items.max(1) as f64,
            index_bytes as f64 / bytes.saturating_sub(index_bytes).max(1) as f64,
            data.raw_text_bytes,
            if data.raw_text_bytes > 0 { bytes as f64 / data.raw_text_bytes as f64 } else { 0.0 }
        );
    }

    let run = drive(&args, &data, false).await?;
    let secs = run.elapsed.as_secs_f64();
    println!(
        "throughput signal={signal_name} protocol={:?} items={} errors={} seconds={secs:.1} items_per_sec={:.0} p50_ms={:.2} p99_ms={:.2} batch={} concurrency={}",
        args.protocol,
        run.items,
        run.errors,
        run.items as f64 / secs,
        run.latency.value_at_quantile(0.5) as f64 / 1000.0,
        run.latency.value_at_quantile(0.99) as f64 / 1000.0,
        args.batch,
        args.concurrency,
    );
    Ok(())
}
