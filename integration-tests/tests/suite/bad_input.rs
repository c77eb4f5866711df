//! Bad input gets a clear 4xx answer (or the matching gRPC code) that names the problem, stores
//! nothing wrong and does not disturb valid data sent next to it.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::bytes::{Buf, BufMut};
use prost::Message;
use serde_json::{json, Value};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::harness::{base_time, nanos, poll, Vigil};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// A length-delimited field 1 claiming far more bytes than follow: no protobuf decoder accepts it.
const GARBAGE: &[u8] = &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, b'x', b'y'];
const LIMIT: usize = 65_536;

const GRPC_PATHS: [&str; 3] = [
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
];
const HTTP_PATHS: [&str; 3] = ["/v1/traces", "/v1/logs", "/v1/metrics"];

/// `google.rpc.Status`, the body of OTLP/HTTP protobuf error responses.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A gRPC codec that sends and receives raw bytes, to put arbitrary bodies on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

async fn raw_grpc(vigil: &Vigil, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    let channel = Channel::from_shared(vigil.grpc_endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to otlp grpc");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("grpc ready");
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

async fn trace_client(vigil: &Vigil) -> TraceServiceClient<Channel> {
    TraceServiceClient::connect(vigil.grpc_endpoint())
        .await
        .expect("connect to otlp grpc")
}

/// POSTs `body` to an OTLP/HTTP path: status, content type and body.
async fn post(
    vigil: &Vigil,
    path: &str,
    content_type: &str,
    content_encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, Vec<u8>) {
    let mut req = vigil
        .http()
        .post(vigil.otlp_http_url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = content_encoding {
        req = req.header("content-encoding", encoding);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.bytes().await.expect("read body").to_vec();
    (status, content_type, body)
}

/// The `google.rpc.Status` of an OTLP/HTTP error answer, in protobuf or JSON.
fn rpc_status(content_type: &str, body: &[u8]) -> RpcStatus {
    if content_type.starts_with(JSON) {
        let value: Value = serde_json::from_slice(body).expect("json status body");
        RpcStatus {
            code: i32::try_from(value["code"].as_i64().unwrap_or(-1)).expect("code"),
            message: value["message"].as_str().unwrap_or_default().to_string(),
        }
    } else {
        RpcStatus::decode(body)
            .unwrap_or_else(|e| panic!("error body is not a google.rpc.Status ({e}): {body:?}"))
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn string_kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn proto_span(trace_id: &[u8], span_id: &[u8], name: &str) -> Span {
    let start = u64::try_from(nanos(base_time())).expect("positive");
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        name: name.to_string(),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000,
        ..Default::default()
    }
}

fn trace_request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", "bad-input".to_string())],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// A valid request whose one span carries an attribute of `size` bytes.
fn big_request(size: usize) -> ExportTraceServiceRequest {
    let mut span = proto_span(&[7; 16], &[7; 8], "big");
    span.attributes.push(string_kv("blob", "a".repeat(size)));
    trace_request(vec![span])
}

async fn count(vigil: &Vigil, table: &str) -> i64 {
    let rows = vigil
        .sql(&format!("SELECT count(*) AS n FROM {table}"))
        .await;
    rows[0]["n"].as_i64().expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_otlp_is_invalid_argument_naming_the_problem() {
    let vigil = Vigil::start().await;
    for path in HTTP_PATHS {
        let (status, content_type, body) =
            post(&vigil, path, PROTOBUF, None, GARBAGE.to_vec()).await;
        assert_eq!(status, 400, "garbage protobuf to {path}");
        let rpc = rpc_status(&content_type, &body);
        assert_eq!(
            rpc.code,
            i32::from(Code::InvalidArgument),
            "{path}: {rpc:?}"
        );
        assert!(
            rpc.message.to_lowercase().contains("protobuf"),
            "{path}: {rpc:?}"
        );

        let (status, content_type, body) =
            post(&vigil, path, JSON, None, b"{\"resourceSpans\": [".to_vec()).await;
        assert_eq!(status, 400, "truncated json to {path}");
        let rpc = rpc_status(&content_type, &body);
        assert_eq!(
            rpc.code,
            i32::from(Code::InvalidArgument),
            "{path}: {rpc:?}"
        );
        assert!(!rpc.message.is_empty(), "{path}: {rpc:?}");
    }
    for path in GRPC_PATHS {
        let status = raw_grpc(&vigil, path, GARBAGE.to_vec())
            .await
            .expect_err("garbage protobuf accepted");
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        let message = status.message().to_lowercase();
        assert!(
            message.contains("protobuf") || message.contains("decode"),
            "{path}: {status:?}"
        );
    }
    for table in ["spans", "logs", "samples"] {
        assert_eq!(
            count(&vigil, table).await,
            0,
            "{table} after malformed requests"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_span_is_rejected_alone_with_partial_success() {
    let vigil = Vigil::start().await;
    let short_trace_id = [0xab, 0xcd, 0xef];

    let request = trace_request(vec![
        proto_span(&short_trace_id, &[3; 8], "bad-http"),
        proto_span(&[1; 16], &[1; 8], "good-http"),
    ]);
    let (status, content_type, body) = post(
        &vigil,
        "/v1/traces",
        PROTOBUF,
        None,
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{:?}", String::from_utf8_lossy(&body));
    assert!(content_type.starts_with(PROTOBUF), "{content_type}");
    let response = ExportTraceServiceResponse::decode(&body[..]).expect("export response");
    let partial = response.partial_success.expect("partial_success is set");
    assert_eq!(partial.rejected_spans, 1, "{partial:?}");
    assert!(partial.error_message.contains("trace"), "{partial:?}");

    let request = trace_request(vec![
        proto_span(&[2; 16], &[2; 8], "good-grpc"),
        proto_span(&short_trace_id, &[4; 8], "bad-grpc"),
    ]);
    let response = trace_client(&vigil)
        .await
        .export(request)
        .await
        .expect("export with one invalid span")
        .into_inner();
    let partial = response.partial_success.expect("partial_success is set");
    assert_eq!(partial.rejected_spans, 1, "{partial:?}");
    assert!(partial.error_message.contains("trace"), "{partial:?}");

    // OTLP/JSON: ids are hex, so the short trace id is 6 hex digits.
    let start = nanos(base_time());
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bad-input"}}]},
        "scopeSpans": [{"spans": [
            {"traceId": "abcdef", "spanId": "0505050505050505", "name": "bad-json", "kind": 1,
             "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1_000).to_string()},
            {"traceId": "03".repeat(16), "spanId": "03".repeat(8), "name": "good-json", "kind": 1,
             "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1_000).to_string()},
        ]}],
    }]});
    let (status, content_type, body) = post(
        &vigil,
        "/v1/traces",
        JSON,
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{:?}", String::from_utf8_lossy(&body));
    assert!(content_type.starts_with(JSON), "{content_type}");
    let response: Value = serde_json::from_slice(&body).expect("json export response");
    let partial = &response["partialSuccess"];
    // proto3 JSON writes int64 as a string; parsers accept a number too.
    assert!(
        partial["rejectedSpans"] == json!("1") || partial["rejectedSpans"] == json!(1),
        "{response}"
    );
    let message = partial["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("trace"), "{response}");

    let rows = poll(
        "valid spans visible",
        std::time::Duration::from_secs(10),
        || async {
            let rows = vigil
                .sql("SELECT trace_id, span_id, name FROM spans ORDER BY name")
                .await;
            if rows.len() >= 3 {
                Ok(rows)
            } else {
                Err(format!("{rows:?}"))
            }
        },
    )
    .await;
    let got: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    assert_eq!(
        got,
        vec![
            json!({"trace_id": "02".repeat(16), "span_id": "02".repeat(8), "name": "good-grpc"}),
            json!({"trace_id": "01".repeat(16), "span_id": "01".repeat(8), "name": "good-http"}),
            json!({"trace_id": "03".repeat(16), "span_id": "03".repeat(8), "name": "good-json"}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_and_gzip_bombs_are_refused() {
    let limit = LIMIT.to_string();
    let vigil = Vigil::start_with(&[("VIGIL_MAX_REQUEST_BYTES", limit.as_str())]).await;

    // Too large as sent.
    let big = big_request(LIMIT + 10_000).encode_to_vec();
    let size = big.len();
    let (status, content_type, body) = post(&vigil, "/v1/traces", PROTOBUF, None, big).await;
    assert_eq!(status, 413, "body of {size} bytes");
    assert!(!rpc_status(&content_type, &body).message.is_empty());

    // Small as sent, too large once inflated: a valid request and a bomb of zeros.
    let inflated = big_request(1 << 20).encode_to_vec();
    let compressed = gzip(&inflated);
    assert!(compressed.len() < LIMIT);
    let (status, _, _) = post(&vigil, "/v1/traces", PROTOBUF, Some("gzip"), compressed).await;
    assert_eq!(status, 413, "gzip of a 1 MiB request");
    // 16 gzip members of 2 MiB of zeros each: 32 MiB once inflated, about 32 KiB as sent.
    let bomb = gzip(&vec![0; 2 << 20]).repeat(16);
    assert!(bomb.len() < LIMIT, "bomb of {} bytes", bomb.len());
    for path in HTTP_PATHS {
        let (status, _, _) = post(&vigil, path, PROTOBUF, Some("gzip"), bomb.clone()).await;
        assert_eq!(status, 413, "gzip bomb to {path}");
    }

    // The same over gRPC: too large as sent, and too large once decompressed.
    let status = trace_client(&vigil)
        .await
        .export(big_request(LIMIT + 10_000))
        .await
        .expect_err("oversized grpc request accepted");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let status = trace_client(&vigil)
        .await
        .send_compressed(CompressionEncoding::Gzip)
        .export(big_request(1 << 20))
        .await
        .expect_err("oversized gzip grpc request accepted");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // Nothing was stored, and a request within the limit still goes through.
    assert_eq!(count(&vigil, "spans").await, 0);
    let (status, _, body) = post(
        &vigil,
        "/v1/traces",
        PROTOBUF,
        None,
        big_request(1_000).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{:?}", String::from_utf8_lossy(&body));
    poll(
        "the small span",
        std::time::Duration::from_secs(10),
        || async {
            match count(&vigil, "spans").await {
                1 => Ok(()),
                n => Err(format!("{n} spans")),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_media_types_are_415() {
    let vigil = Vigil::start().await;
    let valid = trace_request(vec![proto_span(&[5; 16], &[5; 8], "valid")]).encode_to_vec();
    for path in HTTP_PATHS {
        let (status, _, _) = post(&vigil, path, "text/plain", None, valid.clone()).await;
        assert_eq!(status, 415, "text/plain to {path}");
        let (status, _, _) = post(&vigil, path, PROTOBUF, Some("br"), valid.clone()).await;
        assert_eq!(status, 415, "content-encoding br to {path}");
    }
    assert_eq!(count(&vigil, "spans").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_errors_are_400_with_the_engine_message() {
    let vigil = Vigil::start().await;
    for (query, named) in [
        ("SELEC * FROM spans", "SELEC"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT no_such_column FROM spans", "no_such_column"),
    ] {
        let (status, body) = vigil.sql_response(None, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["status"], json!("error"), "{query}: {body}");
        assert_eq!(body["errorType"], json!("bad_data"), "{query}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(named),
            "{query}: the error should name {named:?}: {body}"
        );
    }

    // A body that is not the expected JSON is bad data too.
    let resp = vigil
        .http()
        .post(vigil.api_url("/api/v1/sql"))
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .expect("POST /api/v1/sql");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("json error body");
    assert_eq!(body["status"], json!("error"), "{body}");
    assert_eq!(body["errorType"], json!("bad_data"), "{body}");
}
