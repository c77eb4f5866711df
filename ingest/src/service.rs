//! What every OTLP front end shares: admission under the in-flight byte budget, decoding and
//! conversion off the async runtime, the append to storage and the export response.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use common::{Signal, Tenant};
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
use storage::Sink;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::convert::{self, Converted};
use crate::error::{Error, Result};
use crate::metrics::{self, Protocol};
use crate::otlp_json::{JsonRequest, JsonResponse};

/// Requests at least this large are decoded and converted on the blocking pool: below it the
/// work takes well under the half millisecond a runtime thread may be held.
const BLOCKING_THRESHOLD: usize = 32 * 1024;

/// Size limits of the OTLP receivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestLimits {
    /// Largest request accepted, in bytes after decompression (and, for HTTP, also as sent).
    pub max_request_bytes: usize,
    /// Most request bytes (after decompression) being decoded, converted and appended at once;
    /// past it requests are refused as retryable (HTTP 503, gRPC `UNAVAILABLE`).
    pub max_inflight_bytes: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 16 * 1024 * 1024,
            max_inflight_bytes: 512 * 1024 * 1024,
        }
    }
}

/// State shared by the HTTP and gRPC receivers: where rows go and how much may be in flight.
pub struct IngestState {
    sink: Arc<dyn Sink>,
    limits: IngestLimits,
    inflight: Arc<Semaphore>,
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
        }
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
pub(crate) enum Input<R> {
    /// An OTLP/HTTP protobuf body (decompressed); it is also the WAL payload.
    Protobuf(Bytes),
    /// An OTLP/HTTP JSON body (decompressed).
    Json(Bytes),
    /// A request that gRPC already decoded.
    Message(R),
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
    /// Converts the request into rows.
    fn convert(&self) -> Converted;
    /// The response for `outcome`, with a partial success when items were refused.
    fn response(outcome: &Outcome) -> Self::Response;
}

impl OtlpRequest for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;
    type Response = ExportTraceServiceResponse;

    fn convert(&self) -> Converted {
        convert::traces(self)
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

    fn convert(&self) -> Converted {
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

    fn convert(&self) -> Converted {
        convert::metrics(self)
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
/// the sink, holding `permit` of the in-flight budget until the append is durable.
///
/// The WAL payload is the protobuf encoding of the request: the body itself when it came as
/// protobuf, a fresh encoding when it came as JSON or through gRPC.
///
/// A request whose items are all invalid fails with [`Error::InvalidArgument`] carrying the
/// converter's message; an empty request succeeds without touching storage.
pub(crate) async fn export<R: OtlpRequest>(
    state: &IngestState,
    tenant: Tenant,
    protocol: Protocol,
    input: Input<R>,
    size: usize,
    permit: OwnedSemaphorePermit,
) -> Result<Outcome> {
    let signal = R::SIGNAL;
    let work = move || decode_and_convert(input);
    let (payload, converted) = if size >= BLOCKING_THRESHOLD {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::Internal(format!("conversion task failed: {e}")))??
    } else {
        work()?
    };

    let Converted {
        rows,
        accepted,
        rejected,
        error,
    } = converted;
    metrics::observe_rejected(signal, "invalid", rejected);
    let error_message = error.unwrap_or_default();
    if accepted == 0 {
        if rejected > 0 {
            let message = if error_message.is_empty() {
                format!("all {rejected} items were invalid")
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

    let appended = state.sink.append(tenant, signal, payload, rows).await;
    drop(permit);
    if let Err(e) = appended {
        let error = Error::Storage(e);
        metrics::observe_rejected(signal, error.reason(), accepted);
        return Err(error);
    }
    metrics::observe_accepted(signal, protocol, accepted);
    Ok(Outcome {
        accepted,
        rejected,
        error_message,
    })
}

fn decode_and_convert<R: OtlpRequest>(input: Input<R>) -> Result<(Bytes, Converted)> {
    let (request, payload) = match input {
        Input::Protobuf(body) => {
            let request = R::decode(&body[..])
                .map_err(|e| Error::InvalidArgument(format!("invalid protobuf: {e}")))?;
            (request, body)
        }
        Input::Json(body) => {
            let request =
                R::from_json(&body).map_err(|e| Error::InvalidArgument(e.to_string()))?;
            let payload = Bytes::from(request.encode_to_vec());
            (request, payload)
        }
        Input::Message(request) => {
            let payload = Bytes::from(request.encode_to_vec());
            (request, payload)
        }
    };
    let converted = request.convert();
    Ok((payload, converted))
}
