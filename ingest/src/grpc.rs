//! The OTLP/gRPC receiver: the trace, logs and metrics `Export` services on one listener, gzip
//! accepted and sent, requests limited to [`IngestLimits::max_request_bytes`] once decompressed.
//!
//! [`IngestLimits::max_request_bytes`]: crate::IngestLimits::max_request_bytes

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::{Buf, Bytes};
use common::Signal;
use futures::future::BoxFuture;
use http::HeaderValue;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tonic::codec::{
    BufferSettings, Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings,
};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::{Request as GrpcRequest, Response as GrpcResponse, Status};

use crate::metrics::{self, Protocol};
use crate::service::{self, tenant_from, IngestState, Input, OtlpRequest};

/// The three OTLP export services, ready to be served on one listener (alone with
/// [`serve_grpc`], or next to other gRPC services).
///
/// Requests are not decoded by tonic: the service receives the message bytes (decompressed and
/// size-checked by tonic) and hands them to the shared ingest path, which decodes them once,
/// answers a malformed message with `INVALID_ARGUMENT`, and keeps the very same bytes as the
/// WAL payload instead of encoding the request again.
pub fn grpc_routes(state: Arc<IngestState>) -> Routes {
    let router = Routes::new(RawExport::<ExportTraceServiceRequest>::new(Arc::clone(
        &state,
    )))
    .add_service(RawExport::<ExportLogsServiceRequest>::new(Arc::clone(
        &state,
    )))
    .add_service(RawExport::<ExportMetricsServiceRequest>::new(state))
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
/// will never fit, and are counted here since they never reach [`RawExport`].
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

/// The gRPC service of one OTLP export request type `R`, taking its message as bytes.
struct RawExport<R> {
    state: Arc<IngestState>,
    _request: PhantomData<fn() -> R>,
}

impl<R> RawExport<R> {
    fn new(state: Arc<IngestState>) -> Self {
        Self {
            state,
            _request: PhantomData,
        }
    }
}

impl<R> Clone for RawExport<R> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.state))
    }
}

impl NamedService for RawExport<ExportTraceServiceRequest> {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl NamedService for RawExport<ExportLogsServiceRequest> {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

impl NamedService for RawExport<ExportMetricsServiceRequest> {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
}

impl<R, B> tower::Service<http::Request<B>> for RawExport<R>
where
    R: OtlpRequest,
    RawExport<R>: NamedService,
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let state = Arc::clone(&self.state);
        let export_path = format!("/{}/Export", <Self as NamedService>::NAME);
        Box::pin(async move {
            if req.uri().path() != export_path {
                return Ok(
                    Status::unimplemented(format!("unknown method {}", req.uri().path()))
                        .into_http(),
                );
            }
            let mut gzip = EnabledCompressionEncodings::default();
            gzip.enable(CompressionEncoding::Gzip);
            let max = state.limits().max_request_bytes;
            let mut grpc = Grpc::new(RawCodec::<R::Response>::default())
                .apply_compression_config(gzip, gzip)
                .apply_max_message_size_config(Some(max), None);
            Ok(grpc.unary(ExportCall::<R>::new(state), req).await)
        })
    }
}

/// One `Export` call: the message bytes through the shared ingest path.
struct ExportCall<R> {
    state: Arc<IngestState>,
    _request: PhantomData<fn() -> R>,
}

impl<R> ExportCall<R> {
    fn new(state: Arc<IngestState>) -> Self {
        Self {
            state,
            _request: PhantomData,
        }
    }
}

impl<R: OtlpRequest> UnaryService<Bytes> for ExportCall<R> {
    type Response = R::Response;
    type Future = BoxFuture<'static, Result<GrpcResponse<R::Response>, Status>>;

    fn call(&mut self, request: GrpcRequest<Bytes>) -> Self::Future {
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            let tenant = tenant_from(
                request
                    .metadata()
                    .get(common::TENANT_HEADER)
                    .map(|v| v.as_bytes()),
            );
            let result = match tenant {
                Ok(tenant) => {
                    let input = Input::Protobuf(request.into_inner());
                    service::export::<R>(&state, tenant, Protocol::Grpc, input).await
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
        })
    }
}

/// Encodes responses with prost and passes request messages through as bytes.
struct RawCodec<T>(PhantomData<fn() -> T>);

impl<T> Default for RawCodec<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T: prost::Message + Send + 'static> Codec for RawCodec<T> {
    type Encode = T;
    type Decode = Bytes;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = BytesDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesDecoder
    }
}

/// Yields a whole message as bytes.
struct BytesDecoder;

impl Decoder for BytesDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use common::Signal;
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use prost::Message;
    use tokio::sync::oneshot;
    use tonic::transport::Channel;

    use super::*;
    use crate::service::testing::{self, FakeSink};
    use crate::IngestLimits;

    /// A running server; stops when dropped.
    struct Server {
        addr: SocketAddr,
        state: Arc<IngestState>,
        sink: Arc<FakeSink>,
        _stop: oneshot::Sender<()>,
    }

    async fn start(limits: IngestLimits) -> Server {
        let (state, sink) = testing::state(limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve_grpc(listener, Arc::clone(&state), async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            state,
            sink,
            _stop: stop,
        }
    }

    impl Server {
        async fn channel(&self) -> Channel {
            Channel::from_shared(format!("http://{}", self.addr))
                .unwrap()
                .connect()
                .await
                .unwrap()
        }

        async fn traces(&self) -> TraceServiceClient<Channel> {
            TraceServiceClient::new(self.channel().await)
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(64 << 20)
        }
    }

    fn with_tenant<T>(message: T, tenant: &str) -> GrpcRequest<T> {
        let mut request = GrpcRequest::new(message);
        request
            .metadata_mut()
            .insert("x-scope-orgid", tenant.parse().unwrap());
        request
    }

    #[tokio::test]
    async fn gzipped_traces_reach_the_sink_with_the_tenant() {
        let server = start(IngestLimits::default()).await;
        let request = testing::traces(3, 0);
        let response = server
            .traces()
            .await
            .export(with_tenant(request.clone(), "team-b"))
            .await
            .unwrap();
        assert_eq!(response.into_inner().partial_success, None);
        let appends = server.sink.appends();
        assert_eq!(appends.len(), 1);
        assert_eq!(appends[0].tenant.as_str(), "team-b");
        assert_eq!(appends[0].signal, Signal::Traces);
        assert_eq!(appends[0].rows, 3);
        assert_eq!(
            ExportTraceServiceRequest::decode(&appends[0].payload[..]).unwrap(),
            request
        );
    }

    #[tokio::test]
    async fn logs_and_metrics_are_served_on_the_same_listener() {
        let server = start(IngestLimits::default()).await;
        let channel = server.channel().await;
        LogsServiceClient::new(channel.clone())
            .export(testing::logs(2))
            .await
            .unwrap();
        MetricsServiceClient::new(channel)
            .send_compressed(CompressionEncoding::Gzip)
            .export(testing::metrics(3))
            .await
            .unwrap();
        let appends = server.sink.appends();
        assert_eq!(
            appends
                .iter()
                .map(|a| (a.signal, a.tenant.as_str().to_string()))
                .collect::<Vec<_>>(),
            [
                (Signal::Logs, "default".to_string()),
                (Signal::Metrics, "default".to_string())
            ]
        );
    }

    #[tokio::test]
    async fn partial_success_and_invalid_requests() {
        let server = start(IngestLimits::default()).await;
        let mut client = server.traces().await;
        let partial = client
            .export(testing::traces(2, 1))
            .await
            .unwrap()
            .into_inner()
            .partial_success
            .unwrap();
        assert_eq!(partial.rejected_spans, 1);
        assert!(partial.error_message.contains("trace_id"));

        let status = client.export(testing::traces(0, 1)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);

        let status = client
            .export(with_tenant(testing::traces(1, 0), "a/b"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("tenant"));
        assert_eq!(server.sink.appends().len(), 1);
    }

    #[tokio::test]
    async fn overload_is_unavailable() {
        let server = start(IngestLimits {
            max_inflight_bytes: 1000,
            ..IngestLimits::default()
        })
        .await;
        let mut client = server.traces().await;
        let held = server.state.admit(1000).unwrap();
        let status = client.export(testing::traces(1, 0)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        drop(held);
        client.export(testing::traces(1, 0)).await.unwrap();

        server.sink.refuse();
        let status = client.export(testing::traces(1, 0)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }

    #[tokio::test]
    async fn oversize_messages_are_resource_exhausted() {
        let server = start(IngestLimits {
            max_request_bytes: 2048,
            ..IngestLimits::default()
        })
        .await;
        let big = testing::traces(100, 0);
        assert!(big.encoded_len() > 2048);
        // Uncompressed: refused on the length prefix.
        let mut plain = TraceServiceClient::new(server.channel().await);
        let status = plain.export(big.clone()).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        // Compressed below the limit but above it once inflated.
        let status = server.traces().await.export(big).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        assert!(server.sink.appends().is_empty());
        // The server still works.
        plain.export(testing::traces(1, 0)).await.unwrap();
    }
}
