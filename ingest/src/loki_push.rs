//! Loki's push API: `POST /loki/api/v1/push` with a JSON body (`{"streams":[{"stream":{…},
//! "values":[["<ns>","<line>",{<structured metadata>}]]}]}`, optionally gzip- or
//! deflate-encoded) or a snappy-compressed protobuf `logproto.PushRequest`, as Promtail,
//! Grafana Alloy and Loki's clients send it. A stream's labels become the resource attributes
//! of its records (kept as sent, read back as its stream labels), with `service.name` taken as
//! Loki's service-name discovery takes it; structured metadata becomes record attributes. The
//! records then go through the OTLP logs path (WAL, head, segments): a push is acknowledged
//! (204) once it is as durable as an OTLP export.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::body::{gunzip, read_body, ContentEncoding};
use crate::error::{Error, Result};
use crate::metrics::Protocol;
use crate::remote_write::unsnappy;
use crate::service::{self, tenant_from, IngestState, Input};

/// The path Loki's clients push to.
pub const LOKI_PUSH_PATH: &str = "/loki/api/v1/push";

/// Labels Loki's service-name discovery looks at, in order, for a stream without
/// `service_name`.
const SERVICE_NAME_LABELS: &[&str] = &[
    "service_name",
    "service",
    "app",
    "application",
    "app_name",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
];

/// The route of [`LOKI_PUSH_PATH`].
pub fn loki_push_router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route(LOKI_PUSH_PATH, post(handle))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn handle(State(state): State<Arc<IngestState>>, headers: HeaderMap, body: Body) -> Response {
    match push(&state, &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (e.http_status(), format!("{}\n", e.public_message())).into_response(),
    }
}

async fn push(state: &Arc<IngestState>, headers: &HeaderMap, body: Body) -> Result<()> {
    let tenant = tenant_from(
        headers
            .get(common::TENANT_HEADER)
            .map(HeaderValue::as_bytes),
    )?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let limit = state.limits().max_request_bytes;
    let wire = read_body(headers, body, ContentEncoding::Identity, limit).await?;
    let streams = match content_type.as_str() {
        "application/json" => {
            let json = match encoding.as_str() {
                "" | "identity" => wire,
                "gzip" => gunzip(&wire, limit)?,
                "deflate" => inflate(&wire, limit)?,
                other => {
                    return Err(Error::UnsupportedMediaType {
                        what: "content encoding",
                        value: other.to_string(),
                    })
                }
            };
            from_json(&json)?
        }
        "application/x-protobuf" | "application/protobuf" => {
            if !matches!(encoding.as_str(), "" | "snappy") {
                return Err(Error::UnsupportedMediaType {
                    what: "content encoding",
                    value: encoding,
                });
            }
            let raw = unsnappy(&wire, limit)?;
            from_protobuf(&raw)?
        }
        other => {
            return Err(Error::UnsupportedMediaType {
                what: "content type",
                value: other.to_string(),
            })
        }
    };
    let request = to_otlp(streams);
    if request.resource_logs.is_empty() {
        return Ok(());
    }
    let outcome = service::export::<ExportLogsServiceRequest>(
        state,
        tenant,
        Protocol::LokiPush,
        Input::Protobuf(Bytes::from(request.encode_to_vec())),
    )
    .await?;
    if outcome.rejected > 0 {
        return Err(Error::InvalidArgument(format!(
            "{} of {} entries refused: {}",
            outcome.rejected,
            outcome.rejected + outcome.accepted,
            outcome.error_message
        )));
    }
    Ok(())
}

/// A raw DEFLATE body (Go's `compress/flate`), decompressed up to `limit` bytes.
fn inflate(compressed: &[u8], limit: usize) -> Result<Bytes> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::InvalidArgument(format!("invalid deflate body: {e}")))?;
    if out.len() > limit {
        return Err(Error::TooLarge { limit });
    }
    Ok(Bytes::from(out))
}

/// A pushed entry: Unix nanoseconds, line, structured metadata.
type PushedEntry = (i64, String, Vec<(String, String)>);

/// One pushed stream: its labels and entries.
#[derive(Debug, Clone, PartialEq)]
struct PushedStream {
    labels: BTreeMap<String, String>,
    entries: Vec<PushedEntry>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

fn from_json(body: &[u8]) -> Result<Vec<PushedStream>> {
    use serde_json::Value;
    if body.is_empty() {
        return Err(bad("empty request body"));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let streams = v
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the body has no \"streams\" list"))?;
    let mut out = Vec::with_capacity(streams.len());
    for s in streams {
        let mut labels = BTreeMap::new();
        if let Some(obj) = s.get("stream").and_then(Value::as_object) {
            for (k, v) in obj {
                let v = v
                    .as_str()
                    .ok_or_else(|| bad(format!("label {k:?} has a value that is no string")))?;
                labels.insert(k.clone(), v.to_string());
            }
        }
        check_labels(&labels)?;
        let mut entries = Vec::new();
        for value in s
            .get("values")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let arr = value
                .as_array()
                .ok_or_else(|| bad("a value must be an array [\"<ns>\", \"<line>\"]"))?;
            let ts = arr
                .first()
                .and_then(|t| match t {
                    Value::String(s) => s.parse::<i64>().ok(),
                    Value::Number(n) => n.as_i64(),
                    _ => None,
                })
                .ok_or_else(|| bad("a value's timestamp must be a string of Unix nanoseconds"))?;
            let line = arr
                .get(1)
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a value's line must be a string"))?
                .to_string();
            let mut metadata = Vec::new();
            if let Some(m) = arr.get(2) {
                let obj = m
                    .as_object()
                    .ok_or_else(|| bad("structured metadata must be an object of strings"))?;
                for (k, v) in obj {
                    let v = v.as_str().ok_or_else(|| {
                        bad(format!(
                            "structured metadata {k:?} has a value that is no string"
                        ))
                    })?;
                    metadata.push((k.clone(), v.to_string()));
                }
            }
            entries.push((ts, line, metadata));
        }
        out.push(PushedStream { labels, entries });
    }
    Ok(out)
}

/// A stream needs labels, each a valid Prometheus label name.
fn check_labels(labels: &BTreeMap<String, String>) -> Result<()> {
    if labels.is_empty() {
        return Err(bad("error at least one label pair is required per stream"));
    }
    for k in labels.keys() {
        let valid = k
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if !valid || k.is_empty() {
            return Err(bad(format!("invalid label name {k:?}")));
        }
    }
    Ok(())
}

/// `logproto.PushRequest` (Loki's `pkg/push/push.proto`), the protobuf body of a push (sent
/// snappy-compressed).
#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    /// The streams.
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// One stream of a push.
#[derive(Clone, PartialEq, Message)]
pub struct StreamAdapter {
    /// Its labels, written as Prometheus writes a label set: `{a="b", c="d"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    /// Its lines.
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Unused here.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// One line of a stream.
#[derive(Clone, PartialEq, Message)]
pub struct EntryAdapter {
    /// When.
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    /// The line.
    #[prost(string, tag = "2")]
    pub line: String,
    /// Structured metadata.
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
    /// Labels a parser found (ignored on push).
    #[prost(message, repeated, tag = "4")]
    pub parsed: Vec<LabelPairAdapter>,
}

/// A name and a value.
#[derive(Clone, PartialEq, Message)]
pub struct LabelPairAdapter {
    /// The name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, Message)]
pub struct Timestamp {
    /// Unix seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

fn from_protobuf(body: &[u8]) -> Result<Vec<PushedStream>> {
    let req = PushRequest::decode(body).map_err(|e| bad(format!("invalid protobuf: {e}")))?;
    let mut out = Vec::with_capacity(req.streams.len());
    for s in req.streams {
        let labels = parse_labels(&s.labels)?;
        check_labels(&labels)?;
        let entries = s
            .entries
            .into_iter()
            .map(|e| {
                let ts = e.timestamp.map_or(0, |t| {
                    t.seconds.saturating_mul(1_000_000_000) + i64::from(t.nanos)
                });
                let metadata = e
                    .structured_metadata
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect();
                (ts, e.line, metadata)
            })
            .collect();
        out.push(PushedStream { labels, entries });
    }
    Ok(out)
}

/// A label set written as Prometheus writes one: `{a="b", c="d"}`.
fn parse_labels(s: &str) -> Result<BTreeMap<String, String>> {
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| {
            bad(format!(
                "invalid labels {s:?}: expected {{name=\"value\", …}}"
            ))
        })?;
    let mut out = BTreeMap::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| bad(format!("invalid labels {s:?}")))?;
        let name = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let after = after
            .strip_prefix('"')
            .ok_or_else(|| bad(format!("invalid labels {s:?}: values are quoted")))?;
        let mut value = String::new();
        let mut end = None;
        let mut chars = after.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, e)) => value.push(e),
                    None => break,
                },
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| bad(format!("invalid labels {s:?}: unterminated value")))?;
        out.insert(name, value);
        rest = after[end..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// The service name Loki gives a stream: the first of [`SERVICE_NAME_LABELS`] it has.
fn service_name(labels: &BTreeMap<String, String>) -> String {
    SERVICE_NAME_LABELS
        .iter()
        .find_map(|k| labels.get(*k).filter(|v| !v.is_empty()))
        .cloned()
        .unwrap_or_else(|| common::schema::UNKNOWN_SERVICE.to_string())
}

fn to_otlp(streams: Vec<PushedStream>) -> ExportLogsServiceRequest {
    let resource_logs = streams
        .into_iter()
        .filter(|s| !s.entries.is_empty())
        .map(|s| {
            let mut attributes = vec![kv("service.name", &service_name(&s.labels))];
            attributes.extend(s.labels.iter().map(|(k, v)| kv(k, v)));
            let log_records = s
                .entries
                .into_iter()
                .map(|(ts, line, metadata)| LogRecord {
                    time_unix_nano: ts.max(0) as u64,
                    observed_time_unix_nano: ts.max(0) as u64,
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(line)),
                    }),
                    attributes: metadata.iter().map(|(k, v)| kv(k, v)).collect(),
                    ..Default::default()
                })
                .collect();
            ResourceLogs {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_protobuf_pushes_read_alike() {
        let json = br#"{"streams":[{"stream":{"app":"api","env":"prod"},"values":[["1570818238000000000","hello",{"trace_id":"abc"}],["1570818238000000001","world"]]}]}"#;
        let a = from_json(json).expect("json");
        let pb = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{app="api", env="prod"}"#.into(),
                entries: vec![
                    EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: 1_570_818_238,
                            nanos: 0,
                        }),
                        line: "hello".into(),
                        structured_metadata: vec![LabelPairAdapter {
                            name: "trace_id".into(),
                            value: "abc".into(),
                        }],
                        parsed: vec![],
                    },
                    EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: 1_570_818_238,
                            nanos: 1,
                        }),
                        line: "world".into(),
                        ..Default::default()
                    },
                ],
                hash: 0,
            }],
        };
        let b = from_protobuf(&pb.encode_to_vec()).expect("protobuf");
        assert_eq!(a, b);
        let req = to_otlp(a);
        let attrs = &req.resource_logs[0].resource.as_ref().unwrap().attributes;
        assert_eq!(attrs[0], kv("service.name", "api"));
        assert_eq!(req.resource_logs[0].scope_logs[0].log_records.len(), 2);
    }

    #[test]
    fn bad_pushes_are_refused_with_the_reason() {
        for (body, want) in [
            (&b""[..], "empty request body"),
            (
                br#"{"streams":[{"stream":{"a":"b"},"values":[["1",{"x":1}]]}]}"#,
                "line must be a string",
            ),
            (
                br#"{"streams":[{"stream":{},"values":[["1","x"]]}]}"#,
                "at least one label pair",
            ),
            (
                br#"{"streams":[{"stream":{"a":"b"},"values":[["x","y"]]}]}"#,
                "Unix nanoseconds",
            ),
        ] {
            let e = from_json(body).expect_err("refused");
            assert!(e.to_string().contains(want), "{e}");
        }
        assert!(parse_labels("{a=b}").is_err());
        assert_eq!(
            parse_labels(r#"{a="x\"y", b="2"}"#).unwrap(),
            BTreeMap::from([("a".into(), "x\"y".into()), ("b".into(), "2".into())])
        );
    }
}
