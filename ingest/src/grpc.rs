//! The OTLP/gRPC receiver: the trace, logs and metrics `Export` services on one listener, gzip
//! accepted and sent, requests limited to [`IngestLimits::max_request_bytes`] once decompressed.
//!
//! [`IngestLimits::max_request_bytes`]: crate::IngestLimits::max_request_bytes

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use common::Signal;
use http::HeaderValue;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::{Request as GrpcRequest, Response as GrpcResponse, Status};

use crate::metrics::{self, Protocol};
use crate::service::{self, tenant_from, IngestState, Input, OtlpRequest, TENANT_HEADER};

/// The three OTLP export services, ready to be served on one listener (alone with
/// [`serve_grpc`], or next to other gRPC services).
pub fn grpc_routes(state: Arc<IngestState>) -> Routes {
    let max = state.limits().max_request_bytes;
    let receiver = Arc::new(Receiver { state });
    let traces = TraceServiceServer::from_arc(Arc::clone(&receiver))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let logs = LogsServiceServer::from_arc(Arc::clone(&receiver))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let metrics = MetricsServiceServer::from_arc(receiver)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let router = Routes::new(traces)
        .add_service(logs)
        .add_service(metrics)
        .into_axum_router()
        .layer(axum::middleware::from_fn(oversize_is_resource_exhausted));
    Routes::from(router)
}

/// Serves [`grpc_routes`] on `listener` until `shutdown` resolves, then waits for open requests
/// to finish.
pub async fn serve_grpc(
    listener: tokio::net::TcpListener,
    state: Arc<IngestState>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_routes(grpc_routes(state))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// tonic refuses a message whose length prefix passes the limit with `OUT_OF_RANGE`, which OTLP
/// clients retry forever, and one that only passes it once decompressed with
/// `RESOURCE_EXHAUSTED`. Both become `RESOURCE_EXHAUSTED`, as OTLP expects for a request that
/// will never fit, and are counted here since they never reach [`Receiver`].
async fn oversize_is_resource_exhausted(request: Request, next: Next) -> Response {
    let signal = signal_of_path(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.headers().get(Status::GRPC_STATUS);
    let out_of_range = i32::from(tonic::Code::OutOfRange).to_string();
    let exhausted = i32::from(tonic::Code::ResourceExhausted).to_string();
    let oversize = status.is_some_and(|s| {
        s.as_bytes() == out_of_range.as_bytes() || s.as_bytes() == exhausted.as_bytes()
    });
    if oversize {
        if let Ok(value) = HeaderValue::from_str(&exhausted) {
            response.headers_mut().insert(Status::GRPC_STATUS, value);
        }
        if let Some(signal) = signal {
            metrics::observe_request(
                signal,
                Protocol::Grpc,
                metrics::grpc_code_label(tonic::Code::ResourceExhausted),
            );
        }
    }
    response
}

fn signal_of_path(path: &str) -> Option<Signal> {
    if path.starts_with("/opentelemetry.proto.collector.trace.") {
        Some(Signal::Traces)
    } else if path.starts_with("/opentelemetry.proto.collector.logs.") {
        Some(Signal::Logs)
    } else if path.starts_with("/opentelemetry.proto.collector.metrics.") {
        Some(Signal::Metrics)
    } else {
        None
    }
}

/// Implements the three services over the shared ingest path.
#[derive(Debug)]
struct Receiver {
    state: Arc<IngestState>,
}

impl Receiver {
    async fn export<R: OtlpRequest>(
        &self,
        request: GrpcRequest<R>,
    ) -> Result<GrpcResponse<R::Response>, Status> {
        let tenant = tenant_from(
            request
                .metadata()
                .get(TENANT_HEADER)
                .map(|v| v.as_bytes()),
        );
        let result = match tenant {
            Ok(tenant) => {
                let input = Input::Message(request.into_inner());
                service::export::<R>(&self.state, tenant, Protocol::Grpc, input).await
            }
            Err(error) => Err(error),
        };
        let result = result
            .map(|outcome| GrpcResponse::new(R::response(&outcome)))
            .map_err(|error| error.to_grpc_status());
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        metrics::observe_request(R::SIGNAL, Protocol::Grpc, metrics::grpc_code_label(code));
        result
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: GrpcRequest<ExportTraceServiceRequest>,
    ) -> Result<GrpcResponse<ExportTraceServiceResponse>, Status> {
        Receiver::export(self, request).await
    }
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        request: GrpcRequest<ExportLogsServiceRequest>,
    ) -> Result<GrpcResponse<ExportLogsServiceResponse>, Status> {
        Receiver::export(self, request).await
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: GrpcRequest<ExportMetricsServiceRequest>,
    ) -> Result<GrpcResponse<ExportMetricsServiceResponse>, Status> {
        Receiver::export(self, request).await
    }
}
