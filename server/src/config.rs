//! Configuration: defaults < TOML file (`--config`) < `VIGIL_…` environment < flags. Unknown
//! TOML keys are errors that name the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde::{Deserialize, Serialize};

/// The effective configuration of `vigil serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    /// Local data directory: WAL and, by default, the segment store.
    pub(crate) data_dir: PathBuf,
    /// OTLP/gRPC listener.
    pub(crate) otlp_grpc_addr: SocketAddr,
    /// OTLP/HTTP listener.
    pub(crate) otlp_http_addr: SocketAddr,
    /// HTTP API listener (SQL, admin, /metrics, /healthz, /ready).
    pub(crate) http_addr: SocketAddr,
    /// Log output: `text` or `json`.
    pub(crate) log_format: LogFormat,
    /// Default log filter when `RUST_LOG` is unset.
    pub(crate) log_level: String,
    pub(crate) wal: WalSection,
    pub(crate) storage: StorageSection,
    pub(crate) limits: LimitsSection,
    pub(crate) query: QuerySection,
    pub(crate) index: IndexSection,
    pub(crate) compaction: CompactionSection,
    pub(crate) retention: RetentionSection,
    pub(crate) alerting: AlertingSection,
    pub(crate) loki: LokiSection,
    pub(crate) generator: GeneratorSection,
}

/// Span metrics and the service graph derived from ingested spans (`[generator]`), written to
/// each tenant's metrics as Tempo's metrics-generator names them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct GeneratorSection {
    /// Whether spans become metrics.
    pub(crate) enabled: bool,
    /// Extra span-metrics labels: attribute keys, looked up in the resource, then the span.
    pub(crate) dimensions: Vec<String>,
    /// How often the series are written.
    #[serde(with = "humantime_serde")]
    pub(crate) collection_interval: Duration,
    /// Most series per tenant.
    pub(crate) max_series: usize,
    /// How long a series may go without an update before it is no longer written.
    #[serde(with = "humantime_serde")]
    pub(crate) stale_after: Duration,
    /// How long half of a service-graph edge waits for the other half.
    #[serde(with = "humantime_serde")]
    pub(crate) graph_wait: Duration,
    /// Most half edges waiting at once, per tenant.
    pub(crate) graph_max_items: usize,
}

impl Default for GeneratorSection {
    fn default() -> Self {
        let d = ingest::generator::GeneratorConfig::default();
        Self {
            enabled: d.enabled,
            dimensions: d.dimensions,
            collection_interval: d.collection_interval,
            max_series: d.max_series,
            stale_after: d.stale_after,
            graph_wait: d.graph_wait,
            graph_max_items: d.graph_max_items,
        }
    }
}

impl GeneratorSection {
    /// The generator's settings.
    pub(crate) fn to_config(&self) -> ingest::generator::GeneratorConfig {
        ingest::generator::GeneratorConfig {
            enabled: self.enabled,
            dimensions: self.dimensions.clone(),
            collection_interval: self.collection_interval,
            max_series: self.max_series,
            stale_after: self.stale_after,
            graph_wait: self.graph_wait,
            graph_max_items: self.graph_max_items,
        }
    }
}

/// The Loki API (`[loki]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LokiSection {
    /// OTLP resource attributes that become stream labels (dots as underscores).
    pub(crate) promoted_resource_attributes: Vec<String>,
    /// Most log lines one query may read.
    pub(crate) max_lines_read: usize,
    /// Most lines a log query may return (its `limit` at most).
    pub(crate) max_entries_limit: usize,
    /// Most series a metric query may answer with.
    pub(crate) max_query_series: usize,
}

impl Default for LokiSection {
    fn default() -> Self {
        let limits = query::LokiLimits::default();
        Self {
            promoted_resource_attributes: query::DEFAULT_PROMOTED
                .iter()
                .map(|s| s.to_string())
                .collect(),
            max_lines_read: limits.max_lines_read,
            max_entries_limit: limits.max_entries_limit,
            max_query_series: limits.max_series,
        }
    }
}

/// Rule evaluation (`[alerting]`): rule files in Prometheus's format, evaluated for the tenant
/// `default` unless `[alerting.tenants.NAME]` gives a tenant its own files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AlertingSection {
    /// Rule file globs of the tenant `default`.
    pub(crate) rule_files: Vec<String>,
    /// An Alertmanager configuration file (routing and receivers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alertmanager_config: Option<PathBuf>,
    /// External Alertmanagers (base URLs) that rules' alerts go to instead of Vigil's own.
    pub(crate) alertmanagers: Vec<String>,
    /// Vigil watches itself: its own metrics written to the tenant `vigil` and the built-in
    /// rule group evaluated over them.
    pub(crate) self_watch: bool,
    /// How often Vigil writes its own metrics and evaluates the self-watch group.
    #[serde(with = "humantime_serde")]
    pub(crate) self_watch_interval: Duration,
    /// Interval of groups that name none.
    #[serde(with = "humantime_serde")]
    pub(crate) evaluation_interval: Duration,
    /// How far behind the evaluation time groups that name none query.
    #[serde(with = "humantime_serde")]
    pub(crate) query_offset: Duration,
    /// Labels templates see as `$externalLabels`.
    pub(crate) external_labels: std::collections::BTreeMap<String, String>,
    /// What templates see as `$externalURL`.
    pub(crate) external_url: String,
    /// How often a firing alert is sent to the Alertmanager again.
    #[serde(with = "humantime_serde")]
    pub(crate) resend_delay: Duration,
    /// Least time a pending alert restored after a restart still waits before it fires.
    #[serde(with = "humantime_serde")]
    pub(crate) for_grace_period: Duration,
    /// How far back a restart looks for alerts' state.
    #[serde(with = "humantime_serde")]
    pub(crate) for_outage_tolerance: Duration,
    /// Tenants with their own rule files.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) tenants: std::collections::BTreeMap<String, TenantRules>,
}

/// `[alerting.tenants.NAME]`: the rule files of one tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TenantRules {
    pub(crate) rule_files: Vec<String>,
}

impl Default for AlertingSection {
    fn default() -> Self {
        Self {
            rule_files: Vec::new(),
            alertmanager_config: None,
            alertmanagers: Vec::new(),
            self_watch: true,
            self_watch_interval: Duration::from_secs(15),
            evaluation_interval: Duration::from_secs(60),
            query_offset: Duration::ZERO,
            external_labels: std::collections::BTreeMap::new(),
            external_url: String::new(),
            resend_delay: Duration::from_secs(60),
            for_grace_period: Duration::from_secs(600),
            for_outage_tolerance: Duration::from_secs(3600),
            tenants: std::collections::BTreeMap::new(),
        }
    }
}

/// Background merging of small segments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CompactionSection {
    pub(crate) enabled: bool,
    /// How often the compactor (and retention) runs.
    #[serde(with = "humantime_serde")]
    pub(crate) interval: Duration,
    /// Segments younger than this are not merged yet.
    #[serde(with = "humantime_serde")]
    pub(crate) min_age: Duration,
    /// Largest merged segment, in bytes of its inputs.
    pub(crate) target_bytes: u64,
    /// Largest merged segment, in rows (bounds a merge's memory).
    pub(crate) target_rows: u64,
    /// How long replaced and expired files stay on disk for queries still reading them.
    #[serde(with = "humantime_serde")]
    pub(crate) grace: Duration,
    /// Testing aid: stop forever at `read`, `written` or `committed` of the first compaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pause_at: Option<String>,
}

impl Default for CompactionSection {
    fn default() -> Self {
        let d = storage::CompactionConfig::default();
        Self {
            enabled: d.enabled,
            interval: d.interval,
            min_age: d.min_age,
            target_bytes: d.target_bytes,
            target_rows: d.target_rows,
            grace: d.grace,
            pause_at: None,
        }
    }
}

/// Retention periods of one tenant (or the default), per signal; absent: keep forever.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RetentionPeriods {
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub(crate) traces: Option<Duration>,
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub(crate) logs: Option<Duration>,
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub(crate) metrics: Option<Duration>,
}

impl RetentionPeriods {
    pub(crate) fn periods(&self) -> storage::SignalRetention {
        storage::SignalRetention {
            traces: self.traces,
            logs: self.logs,
            metrics: self.metrics,
        }
    }
}

/// How long data is kept: `[retention]` for every tenant, `[retention.tenants.NAME]` to
/// override single signals of one tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RetentionSection {
    #[serde(flatten)]
    pub(crate) default: RetentionPeriods,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) tenants: std::collections::BTreeMap<String, RetentionPeriods>,
}

impl RetentionSection {
    pub(crate) fn periods(&self) -> storage::SignalRetention {
        self.default.periods()
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// When the WAL fsyncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Fsync {
    /// Group commit: fsync before every acknowledgement.
    Always,
    /// Acknowledge after write(2), fsync every `fsync_interval`.
    Interval,
    /// Never fsync (benchmarks of the rest of the pipeline only).
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct WalSection {
    pub(crate) fsync: Fsync,
    #[serde(with = "humantime_serde")]
    pub(crate) fsync_interval: Duration,
    pub(crate) segment_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StorageSection {
    pub(crate) flush_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub(crate) flush_age: Duration,
    #[serde(with = "humantime_serde")]
    pub(crate) flush_check_interval: Duration,
    pub(crate) max_head_bytes: u64,
    /// How long a request waits for the heads to drain before it is refused.
    #[serde(with = "humantime_serde")]
    pub(crate) head_full_wait: Duration,
    pub(crate) zstd_level: i32,
    /// zstd level of free-text columns (log bodies) at flush.
    pub(crate) text_zstd_level: i32,
    /// zstd level of free-text columns when compaction rewrites them.
    pub(crate) compact_text_zstd_level: i32,
    pub(crate) row_group_rows: usize,
    /// Testing aid: stop forever at `written` (segment files durable, manifest not committed)
    /// or `committed` (manifest committed, head and WAL not released) of the first flush.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flush_pause_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LimitsSection {
    /// Largest OTLP request, as sent and once decompressed.
    pub(crate) max_request_bytes: usize,
    /// Most request bytes being processed at once before answering "retry later".
    pub(crate) max_inflight_bytes: usize,
    /// Longest label value of a metric series; longer ones are refused with their point.
    pub(crate) max_label_value_bytes: usize,
    /// Threads that decode and convert requests, flush heads and do file I/O; 0 picks twice
    /// the available cores, at least 4.
    pub(crate) blocking_threads: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct QuerySection {
    /// Threads of the query runtime.
    pub(crate) threads: usize,
    #[serde(with = "humantime_serde")]
    pub(crate) timeout: Duration,
    pub(crate) max_rows: usize,
    /// How far back a PromQL instant selector looks for a sample.
    #[serde(with = "humantime_serde")]
    pub(crate) lookback_delta: Duration,
    /// Most samples a PromQL query may hold.
    pub(crate) max_samples: usize,
    /// Metrics samples newer than this stay in memory after their flush, so PromQL over
    /// recent windows reads memory, not segments (`0s`: off).
    #[serde(with = "humantime_serde")]
    pub(crate) hot_window: Duration,
    /// Most bytes those samples take (16 per sample); past it the oldest leave memory first.
    pub(crate) hot_max_bytes: usize,
}

/// Segment index sidecars (`.idx`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct IndexSection {
    /// Write an index beside every new segment (queries use those that exist either way).
    pub(crate) enabled: bool,
    /// Rows per posting block of log bodies, severities, span names and attributes.
    pub(crate) block_rows: u32,
    /// Most distinct values an attribute key may have in a segment and still be indexed.
    pub(crate) max_attribute_values: usize,
    /// Bytes of decoded indexes kept in memory for queries.
    pub(crate) cache_bytes: usize,
    /// Tokenize log bodies when a head is flushed (the default); when off, compaction does
    /// it, off the ingest path, and until then body searches read new segments in full.
    pub(crate) body_at_flush: bool,
}

impl Default for IndexSection {
    fn default() -> Self {
        Self {
            enabled: true,
            block_rows: storage::index::DEFAULT_BLOCK_ROWS,
            max_attribute_values: 1000,
            cache_bytes: 512 * 1024 * 1024,
            body_at_flush: true,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./vigil-data"),
            otlp_grpc_addr: ([0, 0, 0, 0], 4317).into(),
            otlp_http_addr: ([0, 0, 0, 0], 4318).into(),
            http_addr: ([0, 0, 0, 0], 9700).into(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            wal: WalSection::default(),
            storage: StorageSection::default(),
            limits: LimitsSection::default(),
            query: QuerySection::default(),
            index: IndexSection::default(),
            compaction: CompactionSection::default(),
            retention: RetentionSection::default(),
            alerting: AlertingSection::default(),
            loki: LokiSection::default(),
            generator: GeneratorSection::default(),
        }
    }
}

impl Default for WalSection {
    fn default() -> Self {
        Self {
            fsync: Fsync::Always,
            fsync_interval: Duration::from_millis(100),
            segment_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            flush_bytes: 256 * 1024 * 1024,
            flush_age: Duration::from_secs(300),
            flush_check_interval: Duration::from_secs(1),
            max_head_bytes: 2 * 1024 * 1024 * 1024,
            head_full_wait: Duration::from_secs(5),
            zstd_level: 6,
            text_zstd_level: 3,
            compact_text_zstd_level: 10,
            row_group_rows: 1_048_576,
            flush_pause_at: None,
        }
    }
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            max_request_bytes: 16 * 1024 * 1024,
            max_inflight_bytes: 512 * 1024 * 1024,
            max_label_value_bytes: 64 * 1024,
            blocking_threads: 0,
        }
    }
}

impl Default for QuerySection {
    fn default() -> Self {
        let hot = storage::HotConfig::default();
        Self {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            timeout: Duration::from_secs(60),
            max_rows: 100_000,
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            hot_window: Duration::from_millis(hot.window_ms.max(0) as u64),
            hot_max_bytes: hot.max_bytes,
        }
    }
}

/// Settings given as flags or `VIGIL_…` environment variables (flags win).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct Overrides {
    /// TOML configuration file.
    #[arg(long, env = "VIGIL_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Local data directory [default: ./vigil-data].
    #[arg(long, env = "VIGIL_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// OTLP/gRPC listen address [default: 0.0.0.0:4317].
    #[arg(long, env = "VIGIL_OTLP_GRPC_ADDR")]
    pub(crate) otlp_grpc_addr: Option<SocketAddr>,
    /// OTLP/HTTP listen address [default: 0.0.0.0:4318].
    #[arg(long, env = "VIGIL_OTLP_HTTP_ADDR")]
    pub(crate) otlp_http_addr: Option<SocketAddr>,
    /// HTTP API listen address [default: 0.0.0.0:9700].
    #[arg(long, env = "VIGIL_HTTP_ADDR")]
    pub(crate) http_addr: Option<SocketAddr>,
    /// Log format.
    #[arg(long, env = "VIGIL_LOG_FORMAT")]
    pub(crate) log_format: Option<LogFormat>,
    /// Log filter (overridden by RUST_LOG).
    #[arg(long, env = "VIGIL_LOG_LEVEL")]
    pub(crate) log_level: Option<String>,
    /// WAL fsync policy.
    #[arg(long, env = "VIGIL_WAL_FSYNC")]
    pub(crate) wal_fsync: Option<Fsync>,
    /// Fsync interval for `--wal-fsync interval` (e.g. `100ms`).
    #[arg(long, env = "VIGIL_WAL_FSYNC_INTERVAL", value_parser = humantime::parse_duration)]
    pub(crate) wal_fsync_interval: Option<Duration>,
    /// Flush a head once it holds this many bytes.
    #[arg(long, env = "VIGIL_FLUSH_BYTES")]
    pub(crate) flush_bytes: Option<u64>,
    /// Flush a head once its oldest row is this old (e.g. `5m`).
    #[arg(long, env = "VIGIL_FLUSH_AGE", value_parser = humantime::parse_duration)]
    pub(crate) flush_age: Option<Duration>,
    /// Refuse appends (retryably) while the heads hold more than this many bytes.
    #[arg(long, env = "VIGIL_MAX_HEAD_BYTES")]
    pub(crate) max_head_bytes: Option<u64>,
    /// How long a request waits for full heads to drain before "retry later" (e.g. `5s`).
    #[arg(long, env = "VIGIL_HEAD_FULL_WAIT", value_parser = humantime::parse_duration)]
    pub(crate) head_full_wait: Option<Duration>,
    /// zstd level of Parquet segments.
    #[arg(long, env = "VIGIL_ZSTD_LEVEL")]
    pub(crate) zstd_level: Option<i32>,
    /// Largest OTLP request in bytes, as sent and decompressed.
    #[arg(long, env = "VIGIL_MAX_REQUEST_BYTES")]
    pub(crate) max_request_bytes: Option<usize>,
    /// Most request bytes in flight before answering "retry later".
    #[arg(long, env = "VIGIL_MAX_INFLIGHT_BYTES")]
    pub(crate) max_inflight_bytes: Option<usize>,
    /// Longest label value of a metric series in bytes; longer ones are refused.
    #[arg(long, env = "VIGIL_MAX_LABEL_VALUE_BYTES")]
    pub(crate) max_label_value_bytes: Option<usize>,
    /// Threads of the query runtime.
    #[arg(long, env = "VIGIL_QUERY_THREADS")]
    pub(crate) query_threads: Option<usize>,
    /// How far back a PromQL instant selector looks for a sample (e.g. `5m`).
    #[arg(long, env = "VIGIL_QUERY_LOOKBACK_DELTA", value_parser = humantime::parse_duration)]
    pub(crate) query_lookback_delta: Option<Duration>,
    /// Most samples a PromQL query may hold.
    #[arg(long, env = "VIGIL_QUERY_MAX_SAMPLES")]
    pub(crate) query_max_samples: Option<usize>,
    /// Recent metrics samples kept in memory for queries (e.g. `3h`; `0s`: off).
    #[arg(long, env = "VIGIL_QUERY_HOT_WINDOW", value_parser = humantime::parse_duration)]
    pub(crate) query_hot_window: Option<Duration>,
    /// Most bytes of those samples.
    #[arg(long, env = "VIGIL_QUERY_HOT_MAX_BYTES")]
    pub(crate) query_hot_max_bytes: Option<usize>,
    /// Threads that decode, convert, flush and do file I/O (0: twice the cores, at least 4).
    #[arg(long, env = "VIGIL_BLOCKING_THREADS")]
    pub(crate) blocking_threads: Option<usize>,
    /// Write `.idx` index sidecars beside new segments (`true` or `false`).
    #[arg(long, env = "VIGIL_INDEX_ENABLED")]
    pub(crate) index_enabled: Option<bool>,
    /// Rows per posting block of the segment indexes.
    #[arg(long, env = "VIGIL_INDEX_BLOCK_ROWS")]
    pub(crate) index_block_rows: Option<u32>,
    /// Tokenize log bodies at flush instead of at compaction (`true` or `false`).
    #[arg(long, env = "VIGIL_INDEX_BODY_AT_FLUSH")]
    pub(crate) index_body_at_flush: Option<bool>,
    /// Run the compactor (`true` or `false`).
    #[arg(long, env = "VIGIL_COMPACTION_ENABLED")]
    pub(crate) compaction_enabled: Option<bool>,
    /// How often compaction and retention run (e.g. `1m`).
    #[arg(long, env = "VIGIL_COMPACTION_INTERVAL", value_parser = humantime::parse_duration)]
    pub(crate) compaction_interval: Option<Duration>,
    /// Segments younger than this are not merged yet (e.g. `5m`).
    #[arg(long, env = "VIGIL_COMPACTION_MIN_AGE", value_parser = humantime::parse_duration)]
    pub(crate) compaction_min_age: Option<Duration>,
    /// Largest merged segment in bytes.
    #[arg(long, env = "VIGIL_COMPACTION_TARGET_BYTES")]
    pub(crate) compaction_target_bytes: Option<u64>,
    /// How long replaced files stay for running queries (e.g. `5m`).
    #[arg(long, env = "VIGIL_COMPACTION_GRACE", value_parser = humantime::parse_duration)]
    pub(crate) compaction_grace: Option<Duration>,
    /// Testing aid: stop forever at this point of the first compaction.
    #[arg(long, env = "VIGIL_COMPACTION_PAUSE_AT", hide = true)]
    pub(crate) compaction_pause_at: Option<String>,
    /// Testing aid: stop forever at this point of the first flush.
    #[arg(long, env = "VIGIL_FLUSH_PAUSE_AT", hide = true)]
    pub(crate) flush_pause_at: Option<String>,
    /// Keep spans this long (e.g. `7d`; default: forever).
    #[arg(long, env = "VIGIL_RETENTION_TRACES", value_parser = humantime::parse_duration)]
    pub(crate) retention_traces: Option<Duration>,
    /// Keep logs this long (e.g. `7d`; default: forever).
    #[arg(long, env = "VIGIL_RETENTION_LOGS", value_parser = humantime::parse_duration)]
    pub(crate) retention_logs: Option<Duration>,
    /// Keep metric samples this long (e.g. `90d`; default: forever).
    #[arg(long, env = "VIGIL_RETENTION_METRICS", value_parser = humantime::parse_duration)]
    pub(crate) retention_metrics: Option<Duration>,
    /// Rule files of the tenant `default`, comma-separated globs.
    #[arg(long, env = "VIGIL_RULE_FILES", value_delimiter = ',')]
    pub(crate) rule_files: Option<Vec<String>>,
    /// An Alertmanager configuration file.
    #[arg(long, env = "VIGIL_ALERTMANAGER_CONFIG")]
    pub(crate) alertmanager_config: Option<PathBuf>,
    /// Interval of rule groups that name none (default `1m`).
    #[arg(long, env = "VIGIL_EVALUATION_INTERVAL", value_parser = humantime::parse_duration)]
    pub(crate) evaluation_interval: Option<Duration>,
    /// External Alertmanagers that rules' alerts go to instead of Vigil's own (comma-separated
    /// base URLs).
    #[arg(long, env = "VIGIL_ALERTMANAGERS", value_delimiter = ',')]
    pub(crate) alertmanagers: Option<Vec<String>>,
    /// Vigil watches itself (default true).
    #[arg(long, env = "VIGIL_SELF_WATCH")]
    pub(crate) self_watch: Option<bool>,
    /// How often Vigil writes its own metrics and checks them (default `15s`).
    #[arg(long, env = "VIGIL_SELF_WATCH_INTERVAL", value_parser = humantime::parse_duration)]
    pub(crate) self_watch_interval: Option<Duration>,
    /// `generator.enabled`
    #[arg(long, env = "VIGIL_GENERATOR_ENABLED")]
    pub(crate) generator_enabled: Option<bool>,
    /// `generator.dimensions` (comma-separated attribute keys)
    #[arg(long, env = "VIGIL_GENERATOR_DIMENSIONS", value_delimiter = ',')]
    pub(crate) generator_dimensions: Option<Vec<String>>,
    /// `generator.collection_interval`
    #[arg(long, env = "VIGIL_GENERATOR_COLLECTION_INTERVAL", value_parser = humantime::parse_duration)]
    pub(crate) generator_collection_interval: Option<Duration>,
}

impl Config {
    /// Builds the effective configuration from the file named by `overrides.config`, then the
    /// overrides themselves.
    pub(crate) fn load(overrides: &Overrides) -> anyhow::Result<Self> {
        let mut config = match &overrides.config {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        let o = overrides.clone();
        macro_rules! set {
            ($src:expr => $dst:expr) => {
                if let Some(v) = $src {
                    $dst = v;
                }
            };
        }
        set!(o.data_dir => config.data_dir);
        set!(o.otlp_grpc_addr => config.otlp_grpc_addr);
        set!(o.otlp_http_addr => config.otlp_http_addr);
        set!(o.http_addr => config.http_addr);
        set!(o.log_format => config.log_format);
        set!(o.log_level => config.log_level);
        set!(o.wal_fsync => config.wal.fsync);
        set!(o.wal_fsync_interval => config.wal.fsync_interval);
        set!(o.flush_bytes => config.storage.flush_bytes);
        set!(o.flush_age => config.storage.flush_age);
        set!(o.max_head_bytes => config.storage.max_head_bytes);
        set!(o.head_full_wait => config.storage.head_full_wait);
        set!(o.zstd_level => config.storage.zstd_level);
        set!(o.max_request_bytes => config.limits.max_request_bytes);
        set!(o.max_inflight_bytes => config.limits.max_inflight_bytes);
        set!(o.max_label_value_bytes => config.limits.max_label_value_bytes);
        set!(o.query_threads => config.query.threads);
        set!(o.query_lookback_delta => config.query.lookback_delta);
        set!(o.query_max_samples => config.query.max_samples);
        set!(o.query_hot_window => config.query.hot_window);
        set!(o.query_hot_max_bytes => config.query.hot_max_bytes);
        set!(o.blocking_threads => config.limits.blocking_threads);
        set!(o.index_enabled => config.index.enabled);
        set!(o.index_block_rows => config.index.block_rows);
        set!(o.index_body_at_flush => config.index.body_at_flush);
        set!(o.compaction_enabled => config.compaction.enabled);
        set!(o.compaction_interval => config.compaction.interval);
        set!(o.compaction_min_age => config.compaction.min_age);
        set!(o.compaction_target_bytes => config.compaction.target_bytes);
        set!(o.compaction_grace => config.compaction.grace);
        if o.compaction_pause_at.is_some() {
            config.compaction.pause_at = o.compaction_pause_at;
        }
        if o.flush_pause_at.is_some() {
            config.storage.flush_pause_at = o.flush_pause_at;
        }
        if o.retention_traces.is_some() {
            config.retention.default.traces = o.retention_traces;
        }
        if o.retention_logs.is_some() {
            config.retention.default.logs = o.retention_logs;
        }
        if o.retention_metrics.is_some() {
            config.retention.default.metrics = o.retention_metrics;
        }
        if let Some(files) = o.rule_files {
            config.alerting.rule_files = files
                .into_iter()
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect();
        }
        if o.alertmanager_config.is_some() {
            config.alerting.alertmanager_config = o.alertmanager_config;
        }
        set!(o.evaluation_interval => config.alerting.evaluation_interval);
        set!(o.self_watch => config.alerting.self_watch);
        set!(o.self_watch_interval => config.alerting.self_watch_interval);
        set!(o.generator_enabled => config.generator.enabled);
        set!(o.generator_collection_interval => config.generator.collection_interval);
        if let Some(dims) = o.generator_dimensions {
            config.generator.dimensions = dims
                .into_iter()
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .collect();
        }
        if let Some(urls) = o.alertmanagers {
            config.alerting.alertmanagers = urls
                .into_iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect();
        }
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (name, level) in [
            ("zstd_level", self.storage.zstd_level),
            ("text_zstd_level", self.storage.text_zstd_level),
            (
                "compact_text_zstd_level",
                self.storage.compact_text_zstd_level,
            ),
        ] {
            if !(1..=22).contains(&level) {
                bail!("storage.{name} must be 1 to 22, got {level}");
            }
        }
        if self.compaction.interval.is_zero() {
            bail!("compaction.interval must be positive");
        }
        if self.index.block_rows == 0 {
            bail!("index.block_rows must be at least 1");
        }
        if self.query.threads == 0 {
            bail!("query.threads must be at least 1");
        }
        if self.limits.max_request_bytes == 0 || self.limits.max_inflight_bytes == 0 {
            bail!("limits must be positive");
        }
        if self.generator.collection_interval.is_zero() {
            bail!("generator.collection_interval must be positive");
        }
        if self.alerting.self_watch_interval.is_zero() {
            bail!("alerting.self_watch_interval must be positive");
        }
        if self.alerting.evaluation_interval.is_zero() {
            bail!("alerting.evaluation_interval must be positive");
        }
        for tenant in self.alerting.tenants.keys() {
            common::Tenant::new(tenant).with_context(|| format!("alerting.tenants.{tenant}"))?;
        }
        if self.limits.max_inflight_bytes < self.limits.max_request_bytes {
            bail!("limits.max_inflight_bytes must be at least limits.max_request_bytes");
        }
        Ok(())
    }

    /// The configuration as TOML, as `vigil config show` prints it.
    pub(crate) fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_the_file() {
        let (_d, path) = write(
            "data_dir = \"/from/file\"\nhttp_addr = \"127.0.0.1:1\"\n[storage]\nzstd_level = 9\n",
        );
        let o = Overrides {
            config: Some(path),
            http_addr: Some("127.0.0.1:2".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::load(&o).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.http_addr.port(), 2);
        assert_eq!(c.storage.zstd_level, 9);
        assert_eq!(c.otlp_grpc_addr.port(), 4317);
    }

    #[test]
    fn unknown_keys_are_named() {
        let (_d, path) = write("data_dir = \"x\"\nbogus_key = 1\n");
        let o = Overrides {
            config: Some(path),
            ..Default::default()
        };
        let err = format!("{:#}", Config::load(&o).unwrap_err());
        assert!(err.contains("bogus_key"), "{err}");
    }

    #[test]
    fn compression_levels_out_of_range_are_named() {
        let (_d, path) = write("[storage]\ncompact_text_zstd_level = 23\n");
        let o = Overrides {
            config: Some(path),
            ..Default::default()
        };
        let err = format!("{:#}", Config::load(&o).unwrap_err());
        assert!(
            err.contains("storage.compact_text_zstd_level must be 1 to 22, got 23"),
            "{err}"
        );
    }

    #[test]
    fn retention_has_a_default_and_per_tenant_overrides() {
        let (_d, path) = write(
            "[retention]\nlogs = \"7d\"\nmetrics = \"90d\"\n[retention.tenants.acme]\nlogs = \"1d\"\n",
        );
        let o = Overrides {
            config: Some(path),
            retention_traces: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        let c = Config::load(&o).unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(c.retention.periods().logs, Some(7 * day));
        assert_eq!(c.retention.periods().metrics, Some(90 * day));
        assert_eq!(
            c.retention.periods().traces,
            Some(Duration::from_secs(3600))
        );
        assert_eq!(c.retention.tenants["acme"].periods().logs, Some(day));
        assert_eq!(c.retention.tenants["acme"].periods().metrics, None);
        let back: Config = toml::from_str(&c.to_toml().unwrap()).unwrap();
        assert_eq!(back.retention.tenants["acme"].logs, Some(day));
    }

    #[test]
    fn shown_config_reads_back_the_same() {
        let c = Config::default();
        let back: Config = toml::from_str(&c.to_toml().unwrap()).unwrap();
        assert_eq!(back.to_toml().unwrap(), c.to_toml().unwrap());
    }
}
