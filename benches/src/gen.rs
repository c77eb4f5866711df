//! Seeded generation of realistic OTLP requests: access-log lines, multi-span traces, counter
//! and gauge points over a fixed set of series.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// One pre-built request.
#[derive(Debug)]
pub enum Request {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

const SERVICES: [&str; 5] = ["checkout", "cart", "frontend", "payments", "search"];
const ROUTES: [&str; 12] = [
    "/api/v1/users/{id}",
    "/api/v1/users/{id}/orders",
    "/api/v1/orders/{id}",
    "/api/v1/cart",
    "/api/v1/cart/items/{id}",
    "/api/v1/search",
    "/static/js/app.{id}.js",
    "/static/css/main.css",
    "/healthz",
    "/api/v1/payments/{id}/capture",
    "/api/v1/products/{id}",
    "/login",
];
const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
const AGENTS: [&str; 6] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Go-http-client/2.0",
];
const STATUSES: [u32; 10] = [200, 200, 200, 200, 200, 200, 201, 304, 404, 500];

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn resource(service: &str, instance: usize) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("service.instance.id", s(&format!("{service}-{instance}"))),
            kv("host.name", s(&format!("node-{}", instance % 3))),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "loadgen".into(),
        version: "1.0.0".into(),
        ..Default::default()
    }
}

const START_NANOS: u64 = 1_764_000_000_000_000_000;

/// A Zipf-like sampler over `0..n`: rank `i` has weight `1 / (i + 1)^s`, as client addresses,
/// users and pages are in real traffic.
#[derive(Debug)]
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random_range(0.0..total);
        self.cumulative.partition_point(|&c| c < x)
    }
}

/// The state of the access-log generator: who the clients are and how big each page is.
#[derive(Debug)]
pub struct AccessLog {
    clients: Vec<String>,
    client_rank: Zipf,
    user_rank: Zipf,
    route_rank: Zipf,
    /// Typical response size of each route.
    sizes: Vec<u32>,
}

impl AccessLog {
    fn new(rng: &mut StdRng) -> Self {
        let clients = (0..5_000)
            .map(|_| {
                format!(
                    "{}.{}.{}.{}",
                    [10, 172, 192, 203][rng.random_range(0..4)],
                    rng.random_range(0..32),
                    rng.random_range(0..256),
                    rng.random_range(1..255)
                )
            })
            .collect();
        Self {
            clients,
            client_rank: Zipf::new(5_000, 1.1),
            user_rank: Zipf::new(100_000, 1.1),
            route_rank: Zipf::new(ROUTES.len(), 1.0),
            sizes: (0..ROUTES.len())
                .map(|_| rng.random_range(200..60_000))
                .collect(),
        }
    }

    /// One request at second `secs`.
    fn hit(&self, rng: &mut StdRng, secs: u64) -> Hit {
        let ip = self.clients[self.client_rank.sample(rng)].clone();
        let r = self.route_rank.sample(rng);
        let id = (self.user_rank.sample(rng) + 1).to_string();
        let route = ROUTES[r].replace("{id}", &id);
        let status = STATUSES[rng.random_range(0..STATUSES.len())];
        // Static files always have the same size; API answers vary a little.
        let size = if route.starts_with("/static") {
            self.sizes[r]
        } else {
            self.sizes[r] + rng.random_range(0..64)
        };
        let method = METHODS[rng.random_range(0..METHODS.len())];
        let agent = AGENTS[rng.random_range(0..AGENTS.len())];
        Hit {
            ip,
            route,
            status,
            size,
            method,
            agent,
            secs,
        }
    }

    /// One combined-format line at second `secs`.
    fn line(&self, rng: &mut StdRng, secs: u64) -> String {
        self.hit(rng, secs).combined()
    }
}

/// One request of the access log.
#[derive(Debug)]
struct Hit {
    ip: String,
    route: String,
    status: u32,
    size: u32,
    method: &'static str,
    agent: &'static str,
    secs: u64,
}

impl Hit {
    fn clock(&self) -> (u64, u64, u64) {
        let s = self.secs;
        ((s / 3600) % 24, (s / 60) % 60, s % 60)
    }

    /// The combined log format (Apache, nginx).
    fn combined(&self) -> String {
        let (h, m, sec) = self.clock();
        format!(
            "{} - - [25/Nov/2026:{h:02}:{m:02}:{sec:02} +0000] \"{} {} HTTP/1.1\" {} {} \"-\" \"{}\"",
            self.ip, self.method, self.route, self.status, self.size, self.agent,
        )
    }

    /// A JSON access log line, as nginx's `escape=json` log formats write them.
    fn json(&self) -> String {
        let (h, m, sec) = self.clock();
        format!(
            "{{\"time\":\"2026-11-25T{h:02}:{m:02}:{sec:02}Z\",\"remote_addr\":\"{}\",\"method\":\"{}\",\"path\":\"{}\",\"protocol\":\"HTTP/1.1\",\"status\":{},\"bytes\":{},\"user_agent\":\"{}\"}}",
            self.ip, self.method, self.route, self.status, self.size, self.agent,
        )
    }

    /// The severity an access logger gives the request: error for 5xx, warn for 4xx.
    fn severity(&self) -> (i32, &'static str) {
        match self.status {
            500.. => (17, "ERROR"),
            400.. => (13, "WARN"),
            _ => (9, "INFO"),
        }
    }
}

/// Log records as a file-tailing collector produces them from an access log: the record time
/// is the line's own timestamp (second precision), the observed time is when the batch was read
/// (nanosecond clock, a few hundred nanoseconds apart within a batch).
fn logs(
    rng: &mut StdRng,
    access: &AccessLog,
    batch: usize,
    trace_context: bool,
    t: &mut u64,
    raw: &mut u64,
) -> Request {
    let service = SERVICES[rng.random_range(0..SERVICES.len())];
    let mut observed = *t + rng.random_range(0..1_000_000_000u64);
    let records = (0..batch)
        .map(|_| {
            // About 2,000 lines a second.
            *t += rng.random_range(0..1_000_000u64);
            observed += rng.random_range(100..1_000u64);
            let secs = *t / 1_000_000_000;
            let line = access.line(rng, secs);
            *raw += line.len() as u64;
            let mut rec = LogRecord {
                time_unix_nano: secs * 1_000_000_000,
                observed_time_unix_nano: observed.max(*t),
                severity_number: 9,
                severity_text: "INFO".into(),
                body: Some(AnyValue {
                    value: Some(s(&line)),
                }),
                ..Default::default()
            };
            if trace_context {
                let mut tid = vec![0u8; 16];
                rng.fill_bytes(&mut tid);
                let mut sid = vec![0u8; 8];
                rng.fill_bytes(&mut sid);
                rec.trace_id = tid;
                rec.span_id = sid;
            }
            rec
        })
        .collect();
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(service, rng.random_range(0..4))),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// Access-log records of one service as a log pipeline ships them for LogQL: `gap_ns` apart
/// on average, the severity from the status (error for 5xx, warn for 4xx), JSON lines from the
/// services in `json` and combined-format lines from the others.
fn access_logs(
    rng: &mut StdRng,
    access: &AccessLog,
    batch: usize,
    gap_ns: u64,
    json: &[&str],
    t: &mut u64,
    raw: &mut u64,
) -> Request {
    let service = SERVICES[rng.random_range(0..SERVICES.len())];
    let as_json = json.contains(&service);
    let records = (0..batch)
        .map(|_| {
            *t += rng.random_range(0..2 * gap_ns.max(1));
            let hit = access.hit(rng, *t / 1_000_000_000);
            let line = if as_json { hit.json() } else { hit.combined() };
            *raw += line.len() as u64;
            let (number, text) = hit.severity();
            LogRecord {
                time_unix_nano: *t,
                observed_time_unix_nano: *t + rng.random_range(1_000_000..50_000_000u64),
                severity_number: number,
                severity_text: text.into(),
                body: Some(AnyValue {
                    value: Some(s(&line)),
                }),
                ..Default::default()
            }
        })
        .collect();
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(service, rng.random_range(0..4))),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn traces(rng: &mut StdRng, batch: usize, t: &mut u64, gap_ns: u64) -> Request {
    const SPANS_PER_TRACE: usize = 8;
    let service = SERVICES[rng.random_range(0..SERVICES.len())];
    let mut spans = Vec::with_capacity(batch);
    while spans.len() < batch {
        let mut trace_id = vec![0u8; 16];
        rng.fill_bytes(&mut trace_id);
        *t += rng.random_range(0..gap_ns.max(1));
        let root_start = *t;
        let mut root_id = vec![0u8; 8];
        rng.fill_bytes(&mut root_id);
        let route = ROUTES[rng.random_range(0..ROUTES.len())];
        for i in 0..SPANS_PER_TRACE.min(batch - spans.len()) {
            let span_id = if i == 0 {
                root_id.clone()
            } else {
                let mut id = vec![0u8; 8];
                rng.fill_bytes(&mut id);
                id
            };
            let start = root_start + (i as u64) * rng.random_range(10_000..500_000u64);
            let dur = rng.random_range(50_000..20_000_000u64);
            let status = STATUSES[rng.random_range(0..STATUSES.len())];
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id,
                parent_span_id: if i == 0 { vec![] } else { root_id.clone() },
                name: if i == 0 {
                    format!("{} {route}", METHODS[rng.random_range(0..METHODS.len())])
                } else {
                    [
                        "SELECT orders",
                        "redis GET",
                        "grpc Cart/Get",
                        "render",
                        "kafka send",
                    ][rng.random_range(0..5)]
                    .to_string()
                },
                kind: if i == 0 {
                    span::SpanKind::Server as i32
                } else {
                    span::SpanKind::Client as i32
                },
                start_time_unix_nano: start,
                end_time_unix_nano: start + dur,
                attributes: vec![
                    kv("http.route", s(route)),
                    kv(
                        "http.response.status_code",
                        any_value::Value::IntValue(status as i64),
                    ),
                ],
                status: Some(Status {
                    code: if status >= 500 { 2 } else { 0 },
                    message: String::new(),
                }),
                ..Default::default()
            });
        }
    }
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(service, rng.random_range(0..4))),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// One request: `batch` points, one per series of a fixed set of series, all at one timestamp
/// 15 s after the previous request's.
fn metrics(rng: &mut StdRng, batch: usize, step: u64, values: &mut [f64]) -> Request {
    let t = START_NANOS + step * 15_000_000_000;
    let points: Vec<NumberDataPoint> = (0..batch)
        .map(|i| {
            values[i] += rng.random_range(0.0..10.0f64).floor();
            NumberDataPoint {
                attributes: vec![
                    kv("http.route", s(ROUTES[i % ROUTES.len()])),
                    kv("http.request.method", s(METHODS[(i / ROUTES.len()) % 3])),
                    kv("shard", s(&(i / 36).to_string())),
                ],
                start_time_unix_nano: START_NANOS,
                time_unix_nano: t,
                value: Some(number_data_point::Value::AsDouble(values[i])),
                ..Default::default()
            }
        })
        .collect();
    Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource("checkout", 0)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: vec![Metric {
                    name: "http.server.requests".into(),
                    unit: "1".into(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: points,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// Metric points as a fleet of SDKs exports them: `series` distinct series, every one once per
/// 15 s export round, each request's timestamp jittered by up to 250 ms (a collection clock is
/// never exact). Even series are counters that grow by varying increments and now and then
/// reset (a restarted process: the value starts again from zero with a new start time); odd
/// series are gauges with all the digits a float measurement has.
#[derive(Debug)]
pub struct SdkFleet {
    rng: StdRng,
    instance: usize,
    values: Vec<f64>,
    starts: Vec<u64>,
    next: usize,
    round: u64,
}

impl SdkFleet {
    /// `series` series of the resource instance `instance` (fleets with different instances
    /// have different series).
    pub fn new(seed: u64, series: usize, instance: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let values = (0..series.max(1))
            .map(|i| {
                if i % 2 == 0 {
                    rng.random_range(0.0..1e6f64).floor()
                } else {
                    rng.random_range(0.0..100.0)
                }
            })
            .collect();
        Self {
            rng,
            instance,
            values,
            starts: vec![START_NANOS; series.max(1)],
            next: 0,
            round: 0,
        }
    }

    /// The next request: the next `batch` points of the round (a request never holds one
    /// series twice; the last request of a round may be shorter).
    pub fn next_request(&mut self, batch: usize) -> Request {
        let t =
            START_NANOS + self.round * 15_000_000_000 + self.rng.random_range(0..250_000_000u64);
        let end = (self.next + batch).min(self.values.len());
        let (mut counters, mut gauges) = (Vec::new(), Vec::new());
        for i in self.next..end {
            let attributes = vec![
                kv("http.route", s(ROUTES[(i / 2) % ROUTES.len()])),
                kv(
                    "http.request.method",
                    s(METHODS[(i / 2 / ROUTES.len()) % 3]),
                ),
                kv("shard", s(&(i / 72).to_string())),
            ];
            let value = if i % 2 == 0 {
                if self.rng.random_range(0..20_000u32) == 0 {
                    self.values[i] = 0.0;
                    self.starts[i] = t - 1_000_000_000;
                } else {
                    self.values[i] += self.rng.random_range(0..40u32) as f64;
                }
                self.values[i]
            } else {
                let v = self.values[i] + self.rng.random_range(-1.0..1.0) * 0.731;
                self.values[i] = v.abs();
                self.values[i]
            };
            let point = NumberDataPoint {
                attributes,
                start_time_unix_nano: self.starts[i],
                time_unix_nano: t,
                value: Some(number_data_point::Value::AsDouble(value)),
                ..Default::default()
            };
            if i % 2 == 0 {
                counters.push(point);
            } else {
                gauges.push(point);
            }
        }
        self.next = end;
        if self.next == self.values.len() {
            self.next = 0;
            self.round += 1;
        }
        let mut metrics = Vec::new();
        if !counters.is_empty() {
            metrics.push(Metric {
                name: "http.server.requests".into(),
                unit: "1".into(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: counters,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            });
        }
        if !gauges.is_empty() {
            metrics.push(Metric {
                name: "http.server.active_load".into(),
                unit: "1".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: gauges,
                })),
                ..Default::default()
            });
        }
        Request::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource("checkout", self.instance)),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope()),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }
}

/// An endless, seeded stream of requests of every signal (for data sets too large to build up
/// front).
#[derive(Debug)]
pub struct Source {
    rng: StdRng,
    access: AccessLog,
    t: u64,
    /// Bytes of the log lines generated so far.
    pub raw_text_bytes: u64,
    values: Vec<f64>,
    step: u64,
    trace_gap_ns: u64,
}

impl Source {
    /// A stream seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let access = AccessLog::new(&mut rng);
        Self {
            rng,
            access,
            t: START_NANOS,
            raw_text_bytes: 0,
            values: Vec::new(),
            step: 0,
            trace_gap_ns: 2_000_000,
        }
    }

    /// The same stream with traces starting up to `ns` apart (uniformly; 2 ms by default).
    pub fn with_trace_gap(mut self, ns: u64) -> Self {
        self.trace_gap_ns = ns;
        self
    }

    /// The next logs request of `batch` access-log records.
    pub fn logs(&mut self, batch: usize) -> Request {
        self.logs_with(batch, false)
    }

    /// The next logs request of `batch` access-log records, with random trace and span ids
    /// when `trace_context`.
    pub fn logs_with(&mut self, batch: usize, trace_context: bool) -> Request {
        logs(
            &mut self.rng,
            &self.access,
            batch,
            trace_context,
            &mut self.t,
            &mut self.raw_text_bytes,
        )
    }

    /// The next request of `batch` access-log records of one service for LogQL: `gap_ns`
    /// apart on average, severities from the status, JSON lines from the services in `json`.
    pub fn access_logs(&mut self, batch: usize, gap_ns: u64, json: &[&str]) -> Request {
        access_logs(
            &mut self.rng,
            &self.access,
            batch,
            gap_ns,
            json,
            &mut self.t,
            &mut self.raw_text_bytes,
        )
    }

    /// The first record time of every stream (Unix nanoseconds).
    pub const START_NANOS: u64 = START_NANOS;

    /// The next traces request of `batch` spans (traces of eight spans).
    pub fn traces(&mut self, batch: usize) -> Request {
        traces(&mut self.rng, batch, &mut self.t, self.trace_gap_ns)
    }

    /// The next metrics request: one point for each of `series` series, 15 s after the last.
    pub fn metrics(&mut self, series: usize) -> Request {
        self.values.resize(series, 0.0);
        let r = metrics(&mut self.rng, series, self.step, &mut self.values);
        self.step += 1;
        r
    }
}
