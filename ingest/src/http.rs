//! The OTLP/HTTP receiver: `POST /v1/traces`, `/v1/logs` and `/v1/metrics` with protobuf or JSON
//! bodies, optionally gzipped, answered in the encoding of the request.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::body::{read_body, ContentEncoding};
use crate::error::{Error, Result};
use crate::metrics::{self, Protocol};
use crate::otlp_json::{self, JsonResponse};
use crate::service::{self, tenant_from, IngestState, Input, OtlpRequest};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// The OTLP/HTTP routes. axum's default body limit is off: [`IngestLimits`] applies instead,
/// both to the body as sent and once decompressed.
///
/// [`IngestLimits`]: crate::IngestLimits
pub fn http_router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route("/v1/traces", post(handle::<ExportTraceServiceRequest>))
        .route("/v1/logs", post(handle::<ExportLogsServiceRequest>))
        .route("/v1/metrics", post(handle::<ExportMetricsServiceRequest>))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// The body encoding OTLP/HTTP allows, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn from_headers(headers: &HeaderMap) -> Result<Self> {
        let value = headers.get(CONTENT_TYPE);
        let text = value.and_then(|v| v.to_str().ok()).unwrap_or_default();
        let essence = text.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case(PROTOBUF) {
            Ok(Format::Protobuf)
        } else if essence.eq_ignore_ascii_case(JSON) {
            Ok(Format::Json)
        } else {
            Err(Error::UnsupportedMediaType {
                what: "content type",
                value: value
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default(),
            })
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        }
    }

    fn protocol(self) -> Protocol {
        match self {
            Format::Protobuf => Protocol::HttpProtobuf,
            Format::Json => Protocol::HttpJson,
        }
    }
}

async fn handle<R: OtlpRequest>(
    State(state): State<Arc<IngestState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = match Format::from_headers(&headers) {
        Ok(format) => format,
        // Without a usable content type there is no request encoding to answer in; JSON is the
        // one a person with curl can read.
        Err(error) => {
            return error_response(R::SIGNAL, Protocol::HttpUnknown, Format::Json, &error)
        }
    };
    match export::<R>(&state, &headers, body, format).await {
        Ok(response) => {
            let bytes = match format {
                Format::Protobuf => response.encode_to_vec(),
                Format::Json => response.to_json(),
            };
            metrics::observe_request(R::SIGNAL, format.protocol(), StatusCode::OK.as_str());
            ([(CONTENT_TYPE, format.content_type())], bytes).into_response()
        }
        Err(error) => error_response(R::SIGNAL, format.protocol(), format, &error),
    }
}

async fn export<R: OtlpRequest>(
    state: &Arc<IngestState>,
    headers: &HeaderMap,
    body: Body,
    format: Format,
) -> Result<R::Response> {
    let tenant = tenant_from(
        headers
            .get(common::TENANT_HEADER)
            .map(HeaderValue::as_bytes),
    )?;
    let encoding = ContentEncoding::from_headers(headers)?;
    let body = read_body(headers, body, encoding, state.limits().max_request_bytes).await?;
    let input = match format {
        Format::Protobuf => Input::Protobuf(body),
        Format::Json => Input::Json(body),
    };
    let outcome = service::export::<R>(state, tenant, format.protocol(), input).await?;
    Ok(R::response(&outcome))
}

/// `google.rpc.Status`, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// Turns an error into its OTLP/HTTP response, the only place that does: status code,
/// `Retry-After` when retrying helps, and a `google.rpc.Status` body in the request's encoding.
fn error_response(
    signal: common::Signal,
    protocol: Protocol,
    format: Format,
    error: &Error,
) -> Response {
    let status = error.http_status();
    metrics::observe_request(signal, protocol, status.as_str());
    let code = i32::from(error.code().grpc_code());
    let message = error.public_message();
    let body = match format {
        Format::Protobuf => RpcStatus { code, message }.encode_to_vec(),
        Format::Json => otlp_json::response::status(code, &message),
    };
    let mut response = (status, [(CONTENT_TYPE, format.content_type())], body).into_response();
    if error.is_retryable() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::body::to_bytes;
    use bytes::Bytes;
    use common::Signal;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;
    use crate::otlp_json::JsonRequest;
    use crate::service::testing::{self, FakeSink};
    use crate::IngestLimits;

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap()
        }

        fn rpc_status(&self) -> RpcStatus {
            RpcStatus::decode(&self.body[..]).unwrap()
        }

        fn content_type(&self) -> &str {
            self.headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        }
    }

    async fn post(
        state: &Arc<IngestState>,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = http::Request::post(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = http_router(Arc::clone(state))
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    const PB: (&str, &str) = ("content-type", "application/x-protobuf");
    const JS: (&str, &str) = ("content-type", "application/json");

    fn setup() -> (Arc<IngestState>, Arc<FakeSink>) {
        testing::state(IngestLimits::default())
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A traces document with `good` valid spans and `bad` spans whose trace id is too short.
    fn traces_json(good: usize, bad: usize) -> String {
        let span = |i: usize, trace_id: &str| {
            json!({
                "traceId": trace_id,
                "spanId": format!("{:016x}", i + 1),
                "name": format!("span-{i}"),
                "kind": "SPAN_KIND_SERVER",
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000000001000",
                "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}]
            })
        };
        let spans: Vec<Value> = (0..good)
            .map(|i| span(i, "0102030405060708090A0B0C0D0E0F10"))
            .chain((0..bad).map(|i| span(good + i, "010203")))
            .collect();
        json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]
        }]})
        .to_string()
    }

    #[tokio::test]
    async fn protobuf_traces_are_appended_for_the_tenant() {
        let (state, sink) = setup();
        let body = testing::traces(3, 0).encode_to_vec();
        let reply = post(
            &state,
            "/v1/traces",
            &[PB, ("X-Scope-OrgID", "team-a")],
            body.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type(), "application/x-protobuf");
        let response = ExportTraceServiceResponse::decode(&reply.body[..]).unwrap();
        assert_eq!(response.partial_success, None);

        let appends = sink.appends();
        assert_eq!(appends.len(), 1);
        assert_eq!(appends[0].tenant.as_str(), "team-a");
        assert_eq!(appends[0].signal, Signal::Traces);
        assert_eq!(appends[0].payload, Bytes::from(body));
        assert_eq!(appends[0].rows, 3);
    }

    #[tokio::test]
    async fn json_traces_are_stored_as_protobuf() {
        let (state, sink) = setup();
        let doc = traces_json(2, 0);
        let reply = post(
            &state,
            "/v1/traces",
            &[("content-type", "application/json; charset=utf-8")],
            doc.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(reply.json(), json!({}));

        let appends = sink.appends();
        assert_eq!(appends.len(), 1);
        assert_eq!(appends[0].tenant.as_str(), "default");
        assert_eq!(appends[0].rows, 2);
        let stored = ExportTraceServiceRequest::decode(&appends[0].payload[..]).unwrap();
        assert_eq!(
            stored,
            ExportTraceServiceRequest::from_json(doc.as_bytes()).unwrap()
        );
    }

    #[tokio::test]
    async fn partial_success_is_reported_in_both_encodings() {
        let (state, sink) = setup();
        let reply = post(
            &state,
            "/v1/traces",
            &[PB],
            testing::traces(3, 2).encode_to_vec(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let partial = ExportTraceServiceResponse::decode(&reply.body[..])
            .unwrap()
            .partial_success
            .unwrap();
        assert_eq!(partial.rejected_spans, 2);
        assert!(
            partial.error_message.contains("trace_id"),
            "{}",
            partial.error_message
        );

        let reply = post(&state, "/v1/traces", &[JS], traces_json(3, 2)).await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = reply.json();
        assert_eq!(body["partialSuccess"]["rejectedSpans"], json!("2"));
        assert!(body["partialSuccess"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("trace_id")));

        let rows: Vec<usize> = sink.appends().iter().map(|a| a.rows).collect();
        assert_eq!(rows, [3, 3]);
    }

    #[tokio::test]
    async fn all_invalid_items_are_a_bad_request() {
        let (state, sink) = setup();
        let reply = post(
            &state,
            "/v1/traces",
            &[PB],
            testing::traces(0, 2).encode_to_vec(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.content_type(), "application/x-protobuf");
        let status = reply.rpc_status();
        assert_eq!(status.code, i32::from(tonic::Code::InvalidArgument));
        assert!(status.message.contains("trace_id"), "{}", status.message);

        let reply = post(&state, "/v1/traces", &[JS], traces_json(0, 1)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["code"], json!(3));
        assert!(sink.appends().is_empty());
    }

    #[tokio::test]
    async fn undecodable_bodies_say_what_is_wrong() {
        let (state, _) = setup();
        let doc = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{}, {"spanId": "xyz"}]}]}]});
        let reply = post(&state, "/v1/traces", &[JS], doc.to_string()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.json(),
            json!({"code": 3, "message": "resourceSpans[0].scopeSpans[0].spans[1].spanId: invalid hex"})
        );

        let reply = post(&state, "/v1/logs", &[PB], vec![0xff, 0xff, 0xff]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.rpc_status().message.starts_with("invalid protobuf"));
    }

    #[tokio::test]
    async fn empty_requests_succeed_without_storing() {
        let (state, sink) = setup();
        let reply = post(&state, "/v1/metrics", &[PB], Vec::new()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            ExportMetricsServiceResponse::decode(&reply.body[..]).unwrap(),
            Default::default()
        );
        let reply = post(&state, "/v1/logs", &[JS], "{}").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(sink.appends().is_empty());
    }

    #[tokio::test]
    async fn logs_and_metrics_are_appended() {
        let (state, sink) = setup();
        let reply = post(&state, "/v1/logs", &[PB], testing::logs(4).encode_to_vec()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            ExportLogsServiceResponse::decode(&reply.body[..]).unwrap(),
            Default::default()
        );
        let doc = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
            "name": "queue_depth",
            "gauge": {"dataPoints": [
                {"timeUnixNano": "1700000000000000000", "asInt": "3"},
                {"time_unix_nano": 1700000001000000000u64, "as_double": 4.5}
            ]}
        }]}]}]});
        let reply = post(&state, "/v1/metrics", &[JS], doc.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let appends = sink.appends();
        assert_eq!(
            appends.iter().map(|a| a.signal).collect::<Vec<_>>(),
            [Signal::Logs, Signal::Metrics]
        );
        assert_eq!(appends[0].rows, 4);
        assert!(appends[1].rows >= 2);
    }

    #[tokio::test]
    async fn gzip_bodies_are_inflated() {
        let (state, sink) = setup();
        let body = testing::traces(2, 0).encode_to_vec();
        let headers = [PB, ("content-encoding", "gzip")];
        let reply = post(&state, "/v1/traces", &headers, gzip(&body)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(sink.appends()[0].payload, Bytes::from(body));

        let reply = post(&state, "/v1/traces", &headers, b"not gzip at all".to_vec()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.rpc_status().message.contains("gzip"));
    }

    #[tokio::test]
    async fn gzip_bomb_is_refused_while_inflating() {
        let (state, sink) = setup();
        // 100 members of 1 MiB of zeros: 100 MiB inflated, a few hundred KiB on the wire, far
        // below the 16 MiB limit on what is sent.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = e.finish().unwrap().repeat(100);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let reply = post(
            &state,
            "/v1/traces",
            &[PB, ("content-encoding", "gzip")],
            bomb,
        )
        .await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            reply.rpc_status().code,
            i32::from(tonic::Code::ResourceExhausted)
        );
        assert!(sink.appends().is_empty());
    }

    #[tokio::test]
    async fn oversize_bodies_are_refused() {
        let (state, sink) = testing::state(IngestLimits {
            max_request_bytes: 1024,
            ..IngestLimits::default()
        });
        let body = testing::traces(40, 0).encode_to_vec();
        assert!(body.len() > 1024);
        let reply = post(&state, "/v1/traces", &[PB], body).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        let reply = post(&state, "/v1/traces", &[JS], traces_json(40, 0)).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(reply.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("1024")));
        assert!(sink.appends().is_empty());
    }

    #[tokio::test]
    async fn unsupported_media_types_are_refused() {
        let (state, sink) = setup();
        let reply = post(
            &state,
            "/v1/traces",
            &[("content-type", "text/plain")],
            "hi",
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(reply.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("text/plain")));
        let reply = post(&state, "/v1/traces", &[], "hi").await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let reply = post(
            &state,
            "/v1/traces",
            &[PB, ("content-encoding", "br")],
            "hi",
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(reply.rpc_status().message.contains("br"));
        assert!(sink.appends().is_empty());
    }

    #[tokio::test]
    async fn overload_is_retryable() {
        let (state, sink) = testing::state(IngestLimits {
            max_inflight_bytes: 1000,
            ..IngestLimits::default()
        });
        let held = state.admit(1000).unwrap();
        let body = testing::traces(1, 0).encode_to_vec();
        let reply = post(&state, "/v1/traces", &[PB], body.clone()).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.headers.get(RETRY_AFTER).unwrap(), "1");
        assert_eq!(reply.rpc_status().code, i32::from(tonic::Code::Unavailable));
        drop(held);
        assert_eq!(
            post(&state, "/v1/traces", &[PB], body.clone()).await.status,
            StatusCode::OK
        );

        sink.refuse();
        let reply = post(&state, "/v1/traces", &[JS], traces_json(1, 0)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.headers.get(RETRY_AFTER).unwrap(), "1");
        assert_eq!(reply.json()["code"], json!(14));
        // The engine's own wording stays internal.
        assert!(!reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .contains("bytes"));
    }

    #[tokio::test]
    async fn bad_tenant_is_a_bad_request() {
        let (state, sink) = setup();
        let body = testing::traces(1, 0).encode_to_vec();
        let reply = post(
            &state,
            "/v1/traces",
            &[PB, ("x-scope-orgid", "../../etc")],
            body,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.rpc_status().message.contains("tenant"));
        assert!(sink.appends().is_empty());
    }

    #[tokio::test]
    async fn only_post_is_routed() {
        let (state, _) = setup();
        let response = http_router(state)
            .oneshot(
                http::Request::get("/v1/traces")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn requests_are_counted() {
        let (state, _) = setup();
        let requests = || {
            metrics::REQUESTS
                .with_label_values(&["logs", "http/protobuf", "200"])
                .get()
        };
        let items = || {
            metrics::ITEMS_RECEIVED
                .with_label_values(&["logs", "http/protobuf"])
                .get()
        };
        let (before_requests, before_items) = (requests(), items());
        let reply = post(&state, "/v1/logs", &[PB], testing::logs(5).encode_to_vec()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(requests() > before_requests);
        assert!(items() >= before_items + 5);
    }
}
