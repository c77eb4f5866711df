//! The real OpenTelemetry exporters pointed at a [`Vigil`], over each OTLP transport, and the
//! resource and instrumentation scope the tests send with them.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{
    Compression, LogExporter, MetricExporter, Protocol, RetryPolicy, SpanExporter,
    WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;

use crate::harness::Vigil;

/// An OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// OTLP/gRPC, gzip-compressed.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, gzip-compressed.
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies, uncompressed.
    HttpJson,
}

/// How long one export may take before the exporter gives up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(20);

/// The tenant header.
pub(crate) const TENANT_HEADER: &str = "X-Scope-OrgID";

/// The `service.name` of everything the SDK-based tests send.
pub(crate) const SERVICE: &str = "checkout";
/// The `service.instance.id` of everything the SDK-based tests send.
pub(crate) const INSTANCE: &str = "checkout-7f9c";
/// The resource schema URL.
pub(crate) const RESOURCE_SCHEMA: &str = "https://opentelemetry.io/schemas/1.26.0";
/// The instrumentation scope.
pub(crate) const SCOPE_NAME: &str = "vigil-e2e";
pub(crate) const SCOPE_VERSION: &str = "1.2.3";
pub(crate) const SCOPE_SCHEMA: &str = "https://opentelemetry.io/schemas/1.27.0";

/// The resource: exactly these attributes (no SDK defaults, no environment detectors).
pub(crate) fn resource() -> Resource {
    Resource::builder_empty()
        .with_schema_url(
            [
                KeyValue::new("service.name", SERVICE),
                KeyValue::new("service.instance.id", INSTANCE),
                KeyValue::new("deployment.environment", "e2e"),
                KeyValue::new("host.cpu.count", 8_i64),
            ],
            RESOURCE_SCHEMA,
        )
        .build()
}

/// `resource_attributes` as the server renders them.
pub(crate) fn resource_attributes() -> serde_json::Value {
    crate::harness::string_map([
        ("service.name", SERVICE),
        ("service.instance.id", INSTANCE),
        ("deployment.environment", "e2e"),
        ("host.cpu.count", "8"),
    ])
}

/// The instrumentation scope.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(SCOPE_VERSION)
        .with_schema_url(SCOPE_SCHEMA)
        .with_attributes([KeyValue::new("scope.team", "payments")])
        .build()
}

/// `scope_attributes` as the server renders them.
pub(crate) fn scope_attributes() -> serde_json::Value {
    crate::harness::string_map([("scope.team", "payments")])
}

/// A blocking HTTP client for the SDK's export threads. It is built on a thread of its own:
/// reqwest's blocking client must not be created inside an async context.
fn blocking_client() -> reqwest::blocking::Client {
    std::thread::spawn(|| {
        reqwest::blocking::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .expect("build blocking http client")
    })
    .join()
    .expect("client thread")
}

fn grpc_metadata(tenant: Option<&str>) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    if let Some(tenant) = tenant {
        metadata.insert("x-scope-orgid", tenant.parse().expect("ascii tenant"));
    }
    metadata
}

fn http_headers(tenant: Option<&str>) -> HashMap<String, String> {
    tenant
        .map(|t| HashMap::from([(TENANT_HEADER.to_string(), t.to_string())]))
        .unwrap_or_default()
}

/// Builds an exporter of one signal over `transport`. Retries are off: a test wants to see each
/// failure, and the crash test must know exactly which requests were acknowledged.
macro_rules! exporter {
    ($exporter:ty, $vigil:expr, $transport:expr, $tenant:expr, $path:literal) => {{
        let (vigil, tenant): (&Vigil, Option<&str>) = ($vigil, $tenant);
        match $transport {
            Transport::Grpc => <$exporter>::builder()
                .with_tonic()
                .with_endpoint(vigil.grpc_endpoint())
                .with_timeout(EXPORT_TIMEOUT)
                .with_compression(Compression::Gzip)
                .with_metadata(grpc_metadata(tenant))
                .with_retry_policy(RetryPolicy::disabled())
                .build(),
            Transport::HttpProtobuf | Transport::HttpJson => {
                let (protocol, compression) = if $transport == Transport::HttpProtobuf {
                    (Protocol::HttpBinary, Some(Compression::Gzip))
                } else {
                    (Protocol::HttpJson, None)
                };
                let mut builder = <$exporter>::builder()
                    .with_http()
                    .with_http_client(blocking_client())
                    .with_protocol(protocol)
                    .with_endpoint(vigil.otlp_http_url($path))
                    .with_timeout(EXPORT_TIMEOUT)
                    .with_headers(http_headers(tenant))
                    .with_retry_policy(RetryPolicy::disabled());
                if let Some(compression) = compression {
                    builder = builder.with_compression(compression);
                }
                builder.build()
            }
        }
        .expect("build exporter")
    }};
}

/// A span exporter sending to `vigil`.
pub(crate) fn span_exporter(
    vigil: &Vigil,
    transport: Transport,
    tenant: Option<&str>,
) -> SpanExporter {
    exporter!(SpanExporter, vigil, transport, tenant, "/v1/traces")
}

/// A log exporter sending to `vigil`.
pub(crate) fn log_exporter(
    vigil: &Vigil,
    transport: Transport,
    tenant: Option<&str>,
) -> LogExporter {
    exporter!(LogExporter, vigil, transport, tenant, "/v1/logs")
}

/// A metric exporter (cumulative temporality) sending to `vigil`.
pub(crate) fn metric_exporter(
    vigil: &Vigil,
    transport: Transport,
    tenant: Option<&str>,
) -> MetricExporter {
    exporter!(MetricExporter, vigil, transport, tenant, "/v1/metrics")
}

/// A span exporter over plain (uncompressed) gRPC, for tests that call `export` themselves.
pub(crate) fn plain_grpc_span_exporter(vigil: &Vigil, timeout: Duration) -> SpanExporter {
    SpanExporter::builder()
        .with_tonic()
        .with_endpoint(vigil.grpc_endpoint())
        .with_timeout(timeout)
        .with_retry_policy(RetryPolicy::disabled())
        .build()
        .expect("build exporter")
}

/// A minimal sampled root span with the given ids, for tests that build export batches
/// themselves; `seq` becomes its only attribute.
pub(crate) fn span_data(
    trace_id: u128,
    span_id: u64,
    start: std::time::SystemTime,
    seq: i64,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace_id),
            SpanId::from(span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: format!("op-{seq}").into(),
        start_time: start,
        end_time: start + Duration::from_micros(250),
        attributes: vec![KeyValue::new("seq", seq)],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope(),
    }
}

/// Records spans with `record` on a tracer of an SDK provider whose batch processor exports
/// through `exporter`, then flushes; returns once the export was acknowledged.
pub(crate) async fn export_with_tracer<F, R>(
    exporter: SpanExporter,
    resource: Resource,
    record: F,
) -> R
where
    F: FnOnce(&SdkTracer) -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let out = record(&provider.tracer_with_scope(scope()));
        provider.force_flush().expect("span export failed");
        provider.shutdown().expect("tracer provider shutdown");
        out
    })
    .await
    .expect("sdk thread")
}

/// Emits log records with `emit` on a logger of an SDK provider whose batch processor exports
/// through `exporter`, then flushes; returns once the export was acknowledged.
pub(crate) async fn export_with_logger<F, R>(
    exporter: LogExporter,
    resource: Resource,
    emit: F,
) -> R
where
    F: FnOnce(&SdkLogger) -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let provider = SdkLoggerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let out = emit(&provider.logger_with_scope(scope()));
        provider.force_flush().expect("log export failed");
        provider.shutdown().expect("logger provider shutdown");
        out
    })
    .await
    .expect("sdk thread")
}

/// Records metrics with `record` on a meter of an SDK provider whose periodic reader exports
/// through `exporter` exactly once, at shutdown; returns once that export was acknowledged.
pub(crate) async fn export_with_meter<F, R>(
    exporter: MetricExporter,
    resource: Resource,
    record: F,
) -> R
where
    F: FnOnce(&Meter) -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        // The interval is never reached during a test: the only export is the one at shutdown,
        // so each series gets exactly one sample.
        let reader = PeriodicReader::builder(exporter)
            .with_interval(Duration::from_secs(3600))
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let out = record(&provider.meter_with_scope(scope()));
        provider.shutdown().expect("metric export failed");
        out
    })
    .await
    .expect("sdk thread")
}

/// A string attribute of OTLP protobuf messages.
pub(crate) fn kv(key: &str, value: &str) -> opentelemetry_proto::tonic::common::v1::KeyValue {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}
