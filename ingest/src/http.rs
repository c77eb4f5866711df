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
use crate::service::{self, tenant_from, IngestState, Input, OtlpRequest, TENANT_HEADER};

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
        Err(error) => return error_response(R::SIGNAL, Protocol::HttpUnknown, Format::Json, &error),
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
    let tenant = tenant_from(headers.get(TENANT_HEADER).map(HeaderValue::as_bytes))?;
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

