//! What every OTLP front end shares: admission under the in-flight byte budget, decoding and
//! conversion off the async runtime, the append to storage and the export response.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use common::{Clock, Signal, Tenant};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use storage::{KnownSeries, Sink};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::convert::{self, ConvertLimits, Converted, KnownFn};
use crate::error::{Error, Result};
use crate::generator::{Delta, Generator};
use crate::metrics::{self, Protocol};
use crate::otlp_json::{JsonRequest, JsonResponse};

/// Requests at least this large are decoded and converted on the blocking pool: below it the
/// work takes well under the half millisecond a runtime thread may be held.
const BLOCKING_THRESHOLD: usize = 32 * 1024;

/// The header (HTTP) or metadata key (gRPC) that names the tenant.
/// The tenant named by an `X-Scope-OrgID` value (see [`Tenant::from_header`]).
pub(crate) fn tenant_from(value: Option<&[u8]>) -> Result<Tenant> {
    Ok(Tenant::from_header(value)?)
}

/// Size limits of the OTLP receivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestLimits {
    /// Largest request accepted, in bytes after decompression (and, for HTTP, also as sent).
    pub max_request_bytes: usize,
    /// Most request bytes (after decompression) being decoded, converted and appended at once;
    /// past it requests are refused as retryable (HTTP 503, gRPC `UNAVAILABLE`).
    pub max_inflight_bytes: usize,
    /// What each item is checked against (label value length).
    pub convert: ConvertLimits,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 16 * 1024 * 1024,
            max_inflight_bytes: 512 * 1024 * 1024,
            convert: ConvertLimits::default(),
        }
    }
}

/// State shared by the HTTP and gRPC receivers: where rows go and how much may be in flight.
pub struct IngestState {
    sink: Arc<dyn Sink>,
    limits: IngestLimits,
    inflight: Arc<Semaphore>,
    generator: Option<Arc<Generator>>,
}

impl fmt::Debug for IngestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngestState")
            .field("limits", &self.limits)
            .field("inflight_available", &self.inflight.available_permits())
            .finish_non_exhaustive()
    }
}

impl IngestState {
    /// State appending to `sink` under `limits`.
    pub fn new(sink: Arc<dyn Sink>, limits: IngestLimits) -> Self {
        let permits = limits.max_inflight_bytes.min(Semaphore::MAX_PERMITS);
        Self {
            sink,
            limits,
            inflight: Arc::new(Semaphore::new(permits)),
            generator: None,
        }
    }

    /// The same state, feeding the spans of every accepted trace export to `generator`.
    pub fn with_generator(mut self, generator: Arc<Generator>) -> Self {
        self.generator = Some(generator);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &IngestLimits {
        &self.limits
    }

    /// Reserves `bytes` of the in-flight budget until the permit is dropped, or fails with
    /// [`Error::Overloaded`] at once: waiting would only pile up memory behind a busy server.
    pub(crate) fn admit(&self, bytes: usize) -> Result<OwnedSemaphorePermit> {
        // A request larger than the whole budget takes all of it rather than never fitting.
        let cost = bytes
            .min(self.limits.max_inflight_bytes)
            .min(u32::MAX as usize) as u32;
        Arc::clone(&self.inflight)
            .try_acquire_many_owned(cost)
            .map_err(|_| Error::Overloaded)
    }
}

/// An export request as it arrived.
pub(crate) enum Input {
    /// An OTLP/HTTP protobuf body (decompressed); it is also the WAL payload.
    Protobuf(Bytes),
    /// An OTLP/HTTP JSON body (decompressed).
    Json(Bytes),
}

/// What an export achieved, in items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Items appended.
    pub(crate) accepted: u64,
    /// Items refused as invalid.
    pub(crate) rejected: u64,
    /// Why the first refused item was refused.
    pub(crate) error_message: String,
}

/// One OTLP export request type: its signal, conversion and response.
pub(crate) trait OtlpRequest: Message + Default + JsonRequest + Send + 'static {
    /// The signal it carries.
    const SIGNAL: Signal;
    /// Its response type.
    type Response: Message + JsonResponse + Default + Send + 'static;
    /// Converts the request into rows; `known` tells which series storage has a row for
    /// already (metrics leave those rows out).
    fn convert(&self, known: Option<&KnownFn>, limits: &ConvertLimits) -> Converted;
    /// The response for `outcome`, with a partial success when items were refused.
    fn response(outcome: &Outcome) -> Self::Response;
    /// What the request adds to span metrics and the service graph (traces only).
    fn digest(&self, _generator: &Generator) -> Option<Delta> {
        None
    }
}

impl OtlpRequest for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;
    type Response = ExportTraceServiceResponse;

    fn convert(&self, _known: Option<&KnownFn>, _limits: &ConvertLimits) -> Converted {
        convert::traces(self)
    }

    fn digest(&self, generator: &Generator) -> Option<Delta> {
        Some(generator.digest(self))
    }

    fn response(outcome: &Outcome) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: saturating_i64(outcome.rejected),
                error_message: outcome.error_message.clone(),
            }),
        }
    }
}

impl OtlpRequest for ExportLogsServiceRequest {
    const SIGNAL: Signal = Signal::Logs;
    type Response = ExportLogsServiceResponse;

    fn convert(&self, _known: Option<&KnownFn>, _limits: &ConvertLimits) -> Converted {
        convert::logs(self)
    }

    fn response(outcome: &Outcome) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: saturating_i64(outcome.rejected),
                error_message: outcome.error_message.clone(),
            }),
        }
    }
}

impl OtlpRequest for ExportMetricsServiceRequest {
    const SIGNAL: Signal = Signal::Metrics;
    type Response = ExportMetricsServiceResponse;

    fn convert(&self, known: Option<&KnownFn>, limits: &ConvertLimits) -> Converted {
        convert::metrics_skipping(self, known, limits)
    }

    fn response(outcome: &Outcome) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: (outcome.rejected > 0).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: saturating_i64(outcome.rejected),
                error_message: outcome.error_message.clone(),
            }),
        }
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Decodes `input` (if it is not yet), converts it and appends the accepted rows of `tenant` to
/// the sink, holding the request's share of the in-flight budget until the append is durable.
///
/// The WAL payload is the protobuf encoding of the request: the message bytes themselves when
/// it came as protobuf (OTLP/HTTP or gRPC), a fresh encoding when it came as JSON. The budget is
/// charged with the message size.
///
/// Fails with [`Error::Overloaded`] when the budget is spent, with a storage backpressure error
/// when the heads stay full for the engine's bounded wait, with [`Error::InvalidArgument`]
/// carrying the converter's message when every item is invalid; an empty request succeeds
/// without touching storage.
pub(crate) async fn export<R: OtlpRequest>(
    state: &Arc<IngestState>,
    tenant: Tenant,
    protocol: Protocol,
    input: Input,
) -> Result<Outcome> {
    let signal = R::SIGNAL;
    let (Input::Protobuf(body) | Input::Json(body)) = &input;
    let size = body.len();
    let permit = admit_body(state, signal, protocol, size)?;
    wait_for_room(state).await?;
    let known = known_series::<R>(state, &tenant);
    let limits = state.limits.convert;
    let generator = state.generator.clone();
    let prepared = match input {
        Input::Protobuf(body) => {
            let work = move || {
                let request = R::decode(&body[..])
                    .map_err(|e| Error::InvalidArgument(format!("invalid protobuf: {e}")))?;
                let converted = request.convert(known.as_deref(), &limits);
                Ok(Prepared {
                    payload: body,
                    delta: generator.and_then(|g| request.digest(&g)),
                    converted,
                    permit,
                })
            };
            run_sized(size, work).await?
        }
        Input::Json(body) => {
            let work = move || {
                let request =
                    R::from_json(&body).map_err(|e| Error::InvalidArgument(e.to_string()))?;
                let payload = Bytes::from(request.encode_to_vec());
                let converted = request.convert(known.as_deref(), &limits);
                Ok(Prepared {
                    payload,
                    delta: generator.and_then(|g| request.digest(&g)),
                    converted,
                    permit,
                })
            };
            run_sized(size, work).await?
        }
    };
    append(state, tenant, signal, protocol, prepared).await
}

/// [`export`] for a Prometheus remote-write request (`body`: the decompressed protobuf).
pub(crate) async fn export_remote_write(
    state: &Arc<IngestState>,
    tenant: Tenant,
    body: Bytes,
) -> Result<Outcome> {
    let signal = Signal::Metrics;
    let protocol = Protocol::RemoteWrite;
    let size = body.len();
    let permit = admit_body(state, signal, protocol, size)?;
    wait_for_room(state).await?;
    let known = state.sink.known_series(&tenant);
    let limits = state.limits.convert;
    let work = move || {
        let request = crate::remote_write::WriteRequest::decode(&body[..])
            .map_err(|e| Error::InvalidArgument(format!("invalid protobuf: {e}")))?;
        let converted = convert::remote_write(&request, known.as_deref(), &limits);
        Ok(Prepared {
            payload: crate::remote_write::payload(&body),
            converted,
            delta: None,
            permit,
        })
    };
    let prepared = run_sized(size, work).await?;
    append(state, tenant, signal, protocol, prepared).await
}

/// A converted request, ready to append.
struct Prepared {
    payload: Bytes,
    converted: Converted,
    /// What the spans add to the generator's series, once appended.
    delta: Option<Delta>,
    permit: OwnedSemaphorePermit,
}

fn admit_body(
    state: &IngestState,
    signal: Signal,
    protocol: Protocol,
    size: usize,
) -> Result<OwnedSemaphorePermit> {
    metrics::observe_bytes(signal, protocol, size);
    state.admit(size)
}

/// Which series storage knows already, for metrics requests.
fn known_series<R: OtlpRequest>(state: &IngestState, tenant: &Tenant) -> Option<KnownSeries> {
    (R::SIGNAL == Signal::Metrics)
        .then(|| state.sink.known_series(tenant))
        .flatten()
}

/// Waits (bounded) until storage has room for more rows, before the request is decoded, so a
/// full head slows exporters down instead of spending CPU on requests it would turn away.
async fn wait_for_room(state: &IngestState) -> Result<()> {
    state.sink.wait_for_room().await.map_err(Error::Storage)
}

/// Runs `work` inline when `size` says it is quick, else on the blocking pool.
async fn run_sized<T: Send + 'static>(
    size: usize,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    if size < BLOCKING_THRESHOLD {
        work()
    } else {
        on_blocking_pool(work).await
    }
}

async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("conversion task failed: {e}")))?
}

async fn append(
    state: &IngestState,
    tenant: Tenant,
    signal: Signal,
    protocol: Protocol,
    prepared: Prepared,
) -> Result<Outcome> {
    let Prepared {
        payload,
        converted,
        delta,
        permit,
    } = prepared;
    let Converted {
        rows,
        accepted,
        rejected,
        error,
    } = converted;
    metrics::observe_rejected(signal, "invalid", rejected);
    let error_message = error.unwrap_or_default();
    let exemplars_only = rows.as_ref().is_some_and(|r| r.exemplars.is_some());
    if accepted == 0 && !exemplars_only {
        if rejected > 0 {
            let message = if error_message.is_empty() {
                format!("all {rejected} items are invalid")
            } else {
                error_message
            };
            return Err(Error::InvalidArgument(message));
        }
        return Ok(Outcome::default());
    }
    let Some(rows) = rows else {
        metrics::observe_rejected(signal, "internal", accepted);
        return Err(Error::Internal(format!(
            "conversion accepted {accepted} items but produced no rows"
        )));
    };

    let generated = delta.filter(|d| !d.is_empty()).map(|d| (tenant.clone(), d));
    let appended = state.sink.append(tenant, signal, payload, rows).await;
    drop(permit);
    if let Err(e) = appended {
        let error = Error::Storage(e);
        metrics::observe_rejected(signal, error.reason(), accepted);
        return Err(error);
    }
    // Counted once durable: a refused request, retried, counts once.
    if let (Some(g), Some((tenant, delta))) = (&state.generator, generated) {
        g.apply(&tenant, delta, common::SystemClock.now_nanos() / 1_000_000);
    }
    metrics::observe_accepted(signal, protocol, accepted);
    Ok(Outcome {
        accepted,
        rejected,
        error_message,
    })
}

/// A fake sink and sample requests shared by the receivers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::future::BoxFuture;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use parking_lot::Mutex;
    use storage::Rows;

    use super::*;

    /// One recorded append.
    #[derive(Debug, Clone)]
    pub(crate) struct Append {
        pub(crate) tenant: Tenant,
        pub(crate) signal: Signal,
        pub(crate) payload: Bytes,
        pub(crate) rows: usize,
    }

    /// Records appends, or refuses them with backpressure when told to.
    #[derive(Debug, Default)]
    pub(crate) struct FakeSink {
        pub(crate) appends: Mutex<Vec<Append>>,
        pub(crate) backpressure: AtomicBool,
    }

    impl FakeSink {
        pub(crate) fn appends(&self) -> Vec<Append> {
            self.appends.lock().clone()
        }

        pub(crate) fn refuse(&self) {
            self.backpressure.store(true, Ordering::SeqCst);
        }
    }

    impl Sink for FakeSink {
        fn append(
            &self,
            tenant: Tenant,
            signal: Signal,
            payload: Bytes,
            rows: Rows,
        ) -> BoxFuture<'static, storage::Result<u64>> {
            let result = if self.backpressure.load(Ordering::SeqCst) {
                Err(storage::Error::Backpressure { bytes: 2, limit: 1 })
            } else {
                let mut appends = self.appends.lock();
                appends.push(Append {
                    tenant,
                    signal,
                    payload,
                    rows: rows.batch.num_rows(),
                });
                Ok(appends.len() as u64)
            };
            Box::pin(async move { result })
        }
    }

    /// A state over a fresh fake sink.
    pub(crate) fn state(limits: IngestLimits) -> (Arc<IngestState>, Arc<FakeSink>) {
        let sink = Arc::new(FakeSink::default());
        let state = Arc::new(IngestState::new(Arc::clone(&sink) as _, limits));
        (state, sink)
    }

    fn service_name(name: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(name.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    /// `good` valid spans followed by `bad` spans with a 3-byte trace id.
    pub(crate) fn traces(good: usize, bad: usize) -> ExportTraceServiceRequest {
        let span = |i: usize, trace_id: Vec<u8>| Span {
            trace_id,
            span_id: vec![i as u8 + 1; 8],
            name: format!("span-{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            end_time_unix_nano: 1_700_000_000_000_001_000 + i as u64,
            ..Default::default()
        };
        let spans = (0..good)
            .map(|i| span(i, vec![7; 16]))
            .chain((0..bad).map(|i| span(good + i, vec![7; 3])))
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: service_name("checkout"),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// `n` log records.
    pub(crate) fn logs(n: usize) -> ExportLogsServiceRequest {
        let records = (0..n)
            .map(|i| LogRecord {
                time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                observed_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                severity_number: 9,
                severity_text: "INFO".into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("line {i}"))),
                }),
                ..Default::default()
            })
            .collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: service_name("checkout"),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// A gauge with `n` data points.
    pub(crate) fn metrics(n: usize) -> ExportMetricsServiceRequest {
        let points = (0..n)
            .map(|i| NumberDataPoint {
                time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1_000_000_000,
                value: Some(number_data_point::Value::AsDouble(i as f64)),
                ..Default::default()
            })
            .collect();
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: service_name("checkout"),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "queue_depth".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: points,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn tenant_comes_from_the_header_or_defaults() {
        assert_eq!(tenant_from(None).unwrap(), Tenant::default_tenant());
        assert_eq!(tenant_from(Some(b"team-a")).unwrap().as_str(), "team-a");
        let err = tenant_from(Some(b"../etc")).unwrap_err();
        assert_eq!(err.code(), common::ErrorCode::InvalidArgument);
        assert!(tenant_from(Some(b"\xff")).is_err());
    }

    #[test]
    fn admission_is_bounded_and_released_on_drop() {
        let (state, _) = state(IngestLimits {
            max_request_bytes: 100,
            max_inflight_bytes: 100,
            ..IngestLimits::default()
        });
        let a = state.admit(60).unwrap();
        assert!(matches!(state.admit(60), Err(Error::Overloaded)));
        drop(a);
        // A request larger than the whole budget still fits in an idle server.
        let b = state.admit(1_000).unwrap();
        assert!(matches!(state.admit(1), Err(Error::Overloaded)));
        drop(b);
        assert!(state.admit(100).is_ok());
    }

    #[tokio::test]
    async fn protobuf_payload_is_the_body_itself() {
        let (state, sink) = state(IngestLimits::default());
        let body = Bytes::from(traces(2, 0).encode_to_vec());
        let outcome = export::<ExportTraceServiceRequest>(
            &state,
            Tenant::new("t1").unwrap(),
            Protocol::HttpProtobuf,
            Input::Protobuf(body.clone()),
        )
        .await
        .unwrap();
        assert_eq!(outcome.accepted, 2);
        let appends = sink.appends();
        assert_eq!(appends.len(), 1);
        assert_eq!(appends[0].payload, body);
        assert_eq!(appends[0].signal, Signal::Traces);
        assert_eq!(appends[0].rows, 2);
        assert_eq!(
            state.inflight.available_permits(),
            state.limits.max_inflight_bytes
        );
    }

    #[tokio::test]
    async fn large_requests_are_converted_off_the_runtime() {
        let (state, sink) = state(IngestLimits::default());
        let request = logs(2_000);
        assert!(request.encoded_len() > BLOCKING_THRESHOLD);
        let body = Bytes::from(request.encode_to_vec());
        let outcome = export::<ExportLogsServiceRequest>(
            &state,
            Tenant::default_tenant(),
            Protocol::HttpProtobuf,
            Input::Protobuf(body),
        )
        .await
        .unwrap();
        assert_eq!(outcome.accepted, 2_000);
        assert_eq!(sink.appends()[0].rows, 2_000);
    }

    #[tokio::test]
    async fn all_invalid_is_an_error_and_empty_is_not() {
        let (state, sink) = state(IngestLimits::default());
        let err = export::<ExportTraceServiceRequest>(
            &state,
            Tenant::default_tenant(),
            Protocol::Grpc,
            Input::Protobuf(traces(0, 2).encode_to_vec().into()),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("trace_id")),
            "{err}"
        );
        let outcome = export::<ExportTraceServiceRequest>(
            &state,
            Tenant::default_tenant(),
            Protocol::Grpc,
            Input::Protobuf(Bytes::new()),
        )
        .await
        .unwrap();
        assert_eq!(outcome, Outcome::default());
        assert!(sink.appends().is_empty());
    }
}
