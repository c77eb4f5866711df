//! `loadgen`: pushes OTLP logs, spans or metric points at a running Vigil as fast as it
//! acknowledges them, over gRPC or HTTP, and prints accepted items/s, p99 ack latency, and the
//! bytes per item the store holds after a flush.
//!
//! It sends what a user's exporters send: every request distinct (fresh lines, ids, timestamps
//! and values; nothing is ever sent twice) and gzip-compressed at the level OTel SDKs and
//! Collectors use (6) unless `--no-gzip`. Every request is generated, encoded and compressed
//! before the clock starts, on all cores, so the generator's own cost stays out of the figures;
//! then the sender pins itself to `--pin-core` (`benches/run.sh` puts the server on the other
//! core). The pool holds enough requests for `--duration` at `--max-rate`; a run that exhausts it
//! stops early and says so (the figure is then still items over the time they took).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::{BufMut, Bytes, BytesMut};
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt as _, Full};
use prost::Message;
use tower::{Service, ServiceExt};

use benches::gen::{Request, SdkFleet, Source};

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
    /// Loki's push API (logs only): snappy protobuf `PushRequest`s to `--api`.
    Loki,
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
    /// Items per request (log records, spans, metric points).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Distinct metric series (metrics only): every one gets a point every 15 s of data time.
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// Requests in the pool (each sent once); by default enough for `--duration` at
    /// `--max-rate`.
    #[arg(long)]
    requests: Option<usize>,
    /// The highest rate (items/s) the pool is sized for; by default 400k for logs and spans,
    /// 1.5M for metric points.
    #[arg(long)]
    max_rate: Option<usize>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to push.
    #[arg(long, default_value = "20s", value_parser = humantime_parse)]
    duration: Duration,
    /// Give log records random trace and span ids.
    #[arg(long)]
    trace_context: bool,
    /// Send requests uncompressed (to compare; exporters send gzip).
    #[arg(long)]
    no_gzip: bool,
    /// The server's data directory; when given, the first `--disk-requests` requests are sent
    /// before the timed run, flushed, and the bytes per item on disk reported.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Requests of the on-disk measurement.
    #[arg(long, default_value_t = 200)]
    disk_requests: usize,
    /// After the flush, wait until the server's compaction has settled (no manifest written
    /// for 10 s) and report the bytes of the live segments too (start the server with
    /// `VIGIL_COMPACTION_MIN_AGE=0s`).
    #[arg(long)]
    compacted: bool,
    /// The core the sender runs on once the pool is built (none: any core).
    #[arg(long)]
    pin_core: Option<usize>,
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

/// One request as it goes on the wire.
#[derive(Debug)]
struct Body {
    /// The encoded request, gzipped unless `--no-gzip`; for gRPC with the 5-byte message prefix.
    bytes: Bytes,
    items: u64,
    /// Bytes of the log lines as text (logs only).
    raw_text_bytes: u64,
    /// Bytes of the encoded request before compression.
    encoded_len: u64,
}

/// Every request of the run, in sending order.
#[derive(Debug)]
struct Pool {
    bodies: Vec<Body>,
    wire_bytes: u64,
    encoded_bytes: u64,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::new(6),
    );
    enc.write_all(data).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

fn items_and_encoding(req: &Request) -> (u64, Vec<u8>) {
    match req {
        Request::Logs(r) => (
            r.resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len() as u64)
                .sum(),
            r.encode_to_vec(),
        ),
        Request::Traces(r) => (
            r.resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len() as u64)
                .sum(),
            r.encode_to_vec(),
        ),
        Request::Metrics(r) => {
            use opentelemetry_proto::tonic::metrics::v1::metric::Data;
            let points = r
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(|m| match &m.data {
                    Some(Data::Sum(s)) => s.data_points.len() as u64,
                    Some(Data::Gauge(g)) => g.data_points.len() as u64,
                    _ => 0,
                })
                .sum();
            (points, r.encode_to_vec())
        }
    }
}

/// A logs request as a Loki client pushes it: one stream per resource (`service_name` and
/// `instance` labels), the records' lines and times.
fn loki_encoding(req: &Request) -> (u64, Vec<u8>) {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let Request::Logs(r) = req else {
        panic!("the loki protocol carries logs only");
    };
    let attr = |rl: &opentelemetry_proto::tonic::logs::v1::ResourceLogs, key: &str| {
        rl.resource
            .as_ref()
            .and_then(|res| res.attributes.iter().find(|kv| kv.key == key))
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(V::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    let mut items = 0;
    let streams = r
        .resource_logs
        .iter()
        .map(|rl| {
            let entries: Vec<ingest::EntryAdapter> = rl
                .scope_logs
                .iter()
                .flat_map(|sl| &sl.log_records)
                .map(|rec| {
                    items += 1;
                    let line = match rec.body.as_ref().and_then(|b| b.value.as_ref()) {
                        Some(V::StringValue(s)) => s.clone(),
                        _ => String::new(),
                    };
                    ingest::EntryAdapter {
                        timestamp: Some(ingest::Timestamp {
                            seconds: (rec.time_unix_nano / 1_000_000_000) as i64,
                            nanos: (rec.time_unix_nano % 1_000_000_000) as i32,
                        }),
                        line,
                        ..Default::default()
                    }
                })
                .collect();
            ingest::StreamAdapter {
                labels: format!(
                    "{{service_name={:?}, instance={:?}}}",
                    attr(rl, "service.name"),
                    attr(rl, "service.instance.id")
                ),
                entries,
                ..Default::default()
            }
        })
        .collect();
    (items, ingest::PushRequest { streams }.encode_to_vec())
}

/// Builds the pool on every core: each thread its own seeded stream (for metrics, its own
/// series), the threads' requests interleaved so that each stream stays in time order.
fn build_pool(args: &Args, count: usize) -> Pool {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = count.div_ceil(threads);
    let grpc = args.protocol == Protocol::Grpc;
    let loki = args.protocol == Protocol::Loki;
    let compress = !args.no_gzip;
    let chunks: Vec<Vec<Body>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    let seed = args.seed.wrapping_add(k as u64);
                    let mut source = Source::new(seed);
                    let mut fleet = SdkFleet::new(seed, args.series / threads, k);
                    (0..per_thread)
                        .map(|_| {
                            let raw_before = source.raw_text_bytes;
                            let req = match args.signal {
                                Signal::Logs => source.logs_with(args.batch, args.trace_context),
                                Signal::Traces => source.traces(args.batch),
                                Signal::Metrics => fleet.next_request(args.batch),
                            };
                            let raw_text_bytes = source.raw_text_bytes - raw_before;
                            let (items, encoded) = if loki {
                                loki_encoding(&req)
                            } else {
                                items_and_encoding(&req)
                            };
                            let encoded_len = encoded.len() as u64;
                            let payload = if loki {
                                snap::raw::Encoder::new()
                                    .compress_vec(&encoded)
                                    .expect("snappy")
                            } else if compress {
                                gzip(&encoded)
                            } else {
                                encoded
                            };
                            let bytes = if grpc {
                                let mut framed = BytesMut::with_capacity(payload.len() + 5);
                                framed.put_u8(u8::from(compress));
                                framed.put_u32(
                                    u32::try_from(payload.len()).expect("request under 4 GiB"),
                                );
                                framed.put_slice(&payload);
                                framed.freeze()
                            } else {
                                Bytes::from(payload)
                            };
                            Body {
                                bytes,
                                items,
                                raw_text_bytes,
                                encoded_len,
                            }
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread"))
            .collect()
    });
    let mut iters: Vec<_> = chunks.into_iter().map(Vec::into_iter).collect();
    let mut bodies = Vec::with_capacity(count);
    while bodies.len() < count {
        let before = bodies.len();
        for it in &mut iters {
            if let Some(b) = it.next() {
                if bodies.len() < count {
                    bodies.push(b);
                }
            }
        }
        if bodies.len() == before {
            break;
        }
    }
    let wire_bytes = bodies.iter().map(|b| b.bytes.len() as u64).sum();
    let encoded_bytes = bodies.iter().map(|b| b.encoded_len).sum();
    Pool {
        bodies,
        wire_bytes,
        encoded_bytes,
    }
}
/// A connection that sends pool bodies as they are.
#[derive(Clone)]
enum Client {
    /// A gRPC channel and the method's path; the bodies are framed already.
    Grpc(tonic::transport::Channel, &'static str, bool),
    /// An HTTP client, the URL and whether bodies are gzipped.
    Http(reqwest::Client, String, bool),
}

impl Client {
    async fn send(&mut self, body: &Body) -> anyhow::Result<()> {
        match self {
            Client::Grpc(channel, path, gzipped) => {
                let mut req = http::Request::builder()
                    .method("POST")
                    .uri(*path)
                    .header("content-type", "application/grpc")
                    .header("te", "trailers");
                if *gzipped {
                    req = req.header("grpc-encoding", "gzip");
                }
                let req = req.body(tonic::body::Body::new(Full::new(body.bytes.clone())))?;
                let resp = channel.ready().await?.call(req).await?;
                // The status comes in the headers (an early failure) or in the trailers.
                let status_of = |map: &http::HeaderMap| {
                    let text =
                        |name: &str| map.get(name).map(|v| v.to_str().unwrap_or("?").to_string());
                    (text("grpc-status"), text("grpc-message"))
                };
                let (mut status, mut message) = status_of(resp.headers());
                let mut resp_body = resp.into_body();
                while let Some(frame) = resp_body.frame().await {
                    if let Ok(trailers) = frame?.into_trailers() {
                        (status, message) = status_of(&trailers);
                    }
                }
                match status.as_deref() {
                    Some("0") => Ok(()),
                    other => bail!("grpc-status {other:?}: {}", message.unwrap_or_default()),
                }
            }
            Client::Http(client, url, gzipped) => {
                let mut req = client
                    .post(url.as_str())
                    .header("content-type", "application/x-protobuf");
                if *gzipped {
                    req = req.header("content-encoding", "gzip");
                }
                let resp = req.body(body.bytes.clone()).send().await?;
                if !resp.status().is_success() {
                    bail!("http {}", resp.status());
                }
                Ok(())
            }
        }
    }
}

async fn connect(args: &Args) -> anyhow::Result<Client> {
    let gzipped = !args.no_gzip;
    if args.protocol == Protocol::Loki {
        if args.signal != Signal::Logs {
            bail!("--protocol loki carries logs only");
        }
        // Snappy, as Loki's clients compress protobuf pushes (no Content-Encoding).
        return Ok(Client::Http(
            reqwest::Client::new(),
            format!("{}/loki/api/v1/push", args.api),
            false,
        ));
    }
    if args.protocol == Protocol::Http {
        let path = match args.signal {
            Signal::Logs => "/v1/logs",
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        };
        return Ok(Client::Http(
            reqwest::Client::new(),
            format!("{}{}", args.otlp_http, path),
            gzipped,
        ));
    }
    let channel = tonic::transport::Endpoint::from_shared(args.grpc.clone())?
        .connect()
        .await
        .with_context(|| format!("failed to connect to {}", args.grpc))?;
    let path = match args.signal {
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    };
    Ok(Client::Grpc(channel, path, gzipped))
}

struct Outcome {
    items: u64,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: hdrhistogram::Histogram<u64>,
    exhausted: bool,
}

/// Sends the pool's bodies `range` in order, each once, with `concurrency` in flight, until the
/// range is done or, when `deadline` is given, the time is up.
async fn drive(
    args: &Args,
    pool: &Arc<Pool>,
    range: std::ops::Range<usize>,
    timed: bool,
) -> anyhow::Result<Outcome> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let start = Instant::now();
    let deadline = start + args.duration;
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let mut client = connect(args).await?;
        let pool = Arc::clone(pool);
        let next = Arc::clone(&next);
        let end = range.end;
        tasks.push(tokio::spawn(async move {
            let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("valid sigfig");
            let (mut items, mut requests, mut errors, mut exhausted) = (0u64, 0u64, 0u64, false);
            loop {
                if timed && Instant::now() >= deadline {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    exhausted = true;
                    break;
                }
                let body = &pool.bodies[i];
                let t = Instant::now();
                match client.send(body).await {
                    Ok(()) => {
                        items += body.items;
                        requests += 1;
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
            (items, requests, errors, exhausted, hist)
        }));
    }
    let mut out = Outcome {
        items: 0,
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: hdrhistogram::Histogram::new(3)?,
        exhausted: false,
    };
    for t in tasks {
        let (items, requests, errors, exhausted, hist) = t.await?;
        out.items += items;
        out.requests += requests;
        out.errors += errors;
        out.exhausted |= exhausted;
        out.latency.add(&hist)?;
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

/// Pins the calling thread, and so every thread it starts later, to `core`.
fn pin_to_core(core: usize) -> anyhow::Result<()> {
    // SAFETY: `set` is a properly initialised cpu_set_t on the stack; sched_setaffinity only
    // reads it.
    #[allow(unsafe_code)]
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        bail!(
            "sched_setaffinity to core {core}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// The bytes of the segments the manifests under `store` hold live (Parquet files and index
/// sidecars; files compaction replaced are left out even before they are deleted), once no
/// manifest has been written for 10 s (at most 10 minutes): `(bytes, index bytes, segments)`.
async fn compacted_bytes(store: &std::path::Path) -> anyhow::Result<(u64, u64, usize)> {
    let mut last = (0usize, Instant::now());
    for _ in 0..600 {
        let count = manifests(store).len();
        if count != last.0 {
            last = (count, Instant::now());
        } else if last.1.elapsed() >= Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut live: std::collections::BTreeMap<(PathBuf, String), storage::SegmentMeta> =
        Default::default();
    let mut files = manifests(store);
    // Per table, entries apply in version order (the file names are zero-padded versions).
    files.sort();
    for f in files {
        let mut entry: serde_json::Value = serde_json::from_slice(&std::fs::read(&f)?)?;
        let removed: Vec<String> = serde_json::from_value(entry["removed"].take())?;
        let added: Vec<storage::SegmentMeta> = serde_json::from_value(entry["added"].take())?;
        let table = f.parent().map(PathBuf::from).unwrap_or_default();
        for id in removed {
            live.remove(&(table.clone(), id));
        }
        for seg in added {
            live.insert((table.clone(), seg.id.clone()), seg);
        }
    }
    let bytes = live.values().map(storage::SegmentMeta::total_bytes).sum();
    let index = live.values().map(|s| s.index_bytes).sum();
    Ok((bytes, index, live.len()))
}

/// The manifest entries under `store` (`{tenant}/{signal}/_manifest/*.json`).
fn manifests(store: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for tenant in std::fs::read_dir(store).into_iter().flatten().flatten() {
        for table in std::fs::read_dir(tenant.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = table.path().join("_manifest");
            for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if f.path().extension().is_some_and(|x| x == "json") {
                    out.push(f.path());
                }
            }
        }
    }
    out
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

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let max_rate = args.max_rate.unwrap_or(match args.signal {
        Signal::Logs | Signal::Traces => 400_000,
        Signal::Metrics => 1_500_000,
    });
    let disk_requests = if args.data_dir.is_some() {
        args.disk_requests
    } else {
        0
    };
    let count = args.requests.unwrap_or_else(|| {
        disk_requests
            + (max_rate as f64 * args.duration.as_secs_f64() / args.batch.max(1) as f64).ceil()
                as usize
    });
    let t = Instant::now();
    let pool = Arc::new(build_pool(&args, count));
    let pool_items: u64 = pool.bodies.iter().map(|b| b.items).sum();
    eprintln!(
        "generated {} distinct requests, {pool_items} items, {:.1} MB encoded, {:.1} MB on the wire{}, in {:.1?}",
        pool.bodies.len(),
        pool.encoded_bytes as f64 / 1e6,
        pool.wire_bytes as f64 / 1e6,
        if args.no_gzip { "" } else { " (gzip)" },
        t.elapsed()
    );
    if let Some(core) = args.pin_core {
        pin_to_core(core)?;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&args, &pool, disk_requests.min(pool.bodies.len())))
}

async fn run(args: &Args, pool: &Arc<Pool>, disk_requests: usize) -> anyhow::Result<()> {
    let signal_name = format!("{:?}", args.signal).to_lowercase();
    if let Some(dir) = &args.data_dir {
        let first = drive(args, pool, 0..disk_requests, false).await?;
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
        let raw_text_bytes: u64 = pool.bodies[..disk_requests]
            .iter()
            .map(|b| b.raw_text_bytes)
            .sum();
        println!(
            "disk signal={signal_name} items={items} store_bytes={bytes} bytes_per_item={:.2} index_bytes={index_bytes} index_share_of_data={:.3} raw_text_bytes={raw_text_bytes} ratio_to_raw={:.4}",
            bytes as f64 / items.max(1) as f64,
            index_bytes as f64 / bytes.saturating_sub(index_bytes).max(1) as f64,
            if raw_text_bytes > 0 { bytes as f64 / raw_text_bytes as f64 } else { 0.0 }
        );
        if args.compacted {
            let (bytes, index_bytes, segments) = compacted_bytes(&store).await?;
            println!(
                "compacted signal={signal_name} items={items} segments={segments} store_bytes={bytes} bytes_per_item={:.2} index_bytes={index_bytes} raw_text_bytes={raw_text_bytes} ratio_to_raw={:.4}",
                bytes as f64 / items.max(1) as f64,
                if raw_text_bytes > 0 { bytes as f64 / raw_text_bytes as f64 } else { 0.0 }
            );
        }
    }
    if disk_requests == pool.bodies.len() {
        return Ok(());
    }

    let run = drive(args, pool, disk_requests..pool.bodies.len(), true).await?;
    let secs = run.elapsed.as_secs_f64();
    if run.exhausted {
        eprintln!(
            "the pool ran out after {secs:.1}s (raise --max-rate or --requests for a longer run)"
        );
    }
    let pool_items: u64 = pool.bodies.iter().map(|b| b.items).sum();
    println!(
        "throughput signal={signal_name} protocol={:?} items={} requests={} errors={} seconds={secs:.1} items_per_sec={:.0} p50_ms={:.2} p99_ms={:.2} batch={} concurrency={} gzip={} wire_bytes_per_item={:.1} distinct=all",
        args.protocol,
        run.items,
        run.requests,
        run.errors,
        run.items as f64 / secs,
        run.latency.value_at_quantile(0.5) as f64 / 1000.0,
        run.latency.value_at_quantile(0.99) as f64 / 1000.0,
        args.batch,
        args.concurrency,
        !args.no_gzip,
        pool.wire_bytes as f64 / pool_items.max(1) as f64,
    );
    Ok(())
}
