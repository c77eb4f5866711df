//! Prometheus remote_write 1.0: `POST /api/v1/write` with a snappy-compressed protobuf
//! `WriteRequest`. Series keep the names and labels they are sent with; samples go through the
//! same WAL, head and segments as OTLP metrics. The WAL payload is the decompressed request
//! behind [`PAYLOAD_TAG`], which no OTLP payload can start with.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::body::{read_body, ContentEncoding};
use crate::error::{Error, Result};
use crate::metrics::{self, Protocol};
use crate::service::{self, tenant_from, IngestState};

pub(crate) mod wire;

pub(crate) use wire::payload;
pub use wire::{Exemplar, Label, MetricMetadata, Sample, TimeSeries, WriteRequest, PAYLOAD_TAG};

/// The path Prometheus's `remote_write` sends to.
pub const REMOTE_WRITE_PATH: &str = "/api/v1/write";

/// Decompresses a snappy block body, refusing one that would exceed `limit` bytes.
pub(crate) fn unsnappy(body: &[u8], limit: usize) -> Result<Bytes> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| Error::InvalidArgument(format!("invalid snappy body: {e}")))?;
    if len > limit {
        return Err(Error::TooLarge { limit });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map(Bytes::from)
        .map_err(|e| Error::InvalidArgument(format!("invalid snappy body: {e}")))
}

/// The route of [`REMOTE_WRITE_PATH`].
pub fn remote_write_router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route(REMOTE_WRITE_PATH, post(handle))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn handle(State(state): State<Arc<IngestState>>, headers: HeaderMap, body: Body) -> Response {
    match write(&state, &headers, body).await {
        Ok(()) => {
            metrics::observe_request(
                common::Signal::Metrics,
                Protocol::RemoteWrite,
                StatusCode::NO_CONTENT.as_str(),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            let status = error.http_status();
            metrics::observe_request(
                common::Signal::Metrics,
                Protocol::RemoteWrite,
                status.as_str(),
            );
            let mut response = (
                status,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{}\n", error.public_message()),
            )
                .into_response();
            if error.is_retryable() {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            response
        }
    }
}

async fn write(state: &Arc<IngestState>, headers: &HeaderMap, body: Body) -> Result<()> {
    let tenant = tenant_from(
        headers
            .get(common::TENANT_HEADER)
            .map(HeaderValue::as_bytes),
    )?;
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("snappy");
    if !encoding.eq_ignore_ascii_case("snappy") {
        return Err(Error::UnsupportedMediaType {
            what: "content encoding",
            value: encoding.to_string(),
        });
    }
    let limit = state.limits().max_request_bytes;
    let wire = read_body(headers, body, ContentEncoding::Identity, limit).await?;
    let decompressed = unsnappy(&wire, limit)?;
    write_payload(state, tenant, decompressed).await
}

/// Writes `request` for `tenant` through the path `POST /api/v1/write` takes (the WAL, then the
/// head): what writers inside the server use (recording rules, `ALERTS`). Resolves once the
/// write is as durable as an acknowledged remote write; fails as the endpoint would.
pub async fn write_request(
    state: &Arc<IngestState>,
    tenant: common::Tenant,
    request: &WriteRequest,
) -> Result<()> {
    use prost::Message;
    write_payload(state, tenant, Bytes::from(request.encode_to_vec())).await
}

async fn write_payload(
    state: &Arc<IngestState>,
    tenant: common::Tenant,
    body: Bytes,
) -> Result<()> {
    let outcome = service::export_remote_write(state, tenant, body).await?;
    // As Prometheus answers: the valid series are stored; the first refusal is the 400 that
    // tells the sender (which does not retry a 400) what was wrong.
    if outcome.rejected > 0 {
        return Err(Error::InvalidArgument(format!(
            "{} of {} samples refused: {}",
            outcome.rejected,
            outcome.rejected + outcome.accepted,
            outcome.error_message
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use prost::Message;
    use tower::ServiceExt;

    use super::*;
    use crate::service::testing::{self};
    use crate::IngestLimits;

    fn request() -> WriteRequest {
        let labels = |route: &str| {
            vec![
                Label {
                    name: "__name__".into(),
                    value: "http_requests_total".into(),
                },
                Label {
                    name: "route".into(),
                    value: route.into(),
                },
                Label {
                    name: "job".into(),
                    value: "api".into(),
                },
            ]
        };
        WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: labels("/a"),
                    samples: vec![
                        Sample {
                            value: 1.0,
                            timestamp: 1_700_000_000_000,
                        },
                        Sample {
                            value: 2.0,
                            timestamp: 1_700_000_015_000,
                        },
                    ],
                    exemplars: vec![],
                },
                TimeSeries {
                    labels: labels("/b"),
                    samples: vec![Sample {
                        value: 5.0,
                        timestamp: 1_700_000_000_000,
                    }],
                    exemplars: vec![],
                },
                // No name: refused, the rest still stored.
                TimeSeries {
                    labels: vec![Label {
                        name: "job".into(),
                        value: "x".into(),
                    }],
                    samples: vec![Sample {
                        value: 1.0,
                        timestamp: 1_700_000_000_000,
                    }],
                    exemplars: vec![],
                },
            ],
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "http_requests_total".into(),
                help: "Requests".into(),
                unit: String::new(),
            }],
        }
    }

    async fn post(body: Vec<u8>, encoding: Option<&str>) -> (StatusCode, String, usize) {
        let (state, sink) = testing::state(IngestLimits::default());
        let mut req =
            http::Request::post(REMOTE_WRITE_PATH).header(CONTENT_TYPE, "application/x-protobuf");
        if let Some(e) = encoding {
            req = req.header(CONTENT_ENCODING, e);
        }
        let resp = remote_write_router(state)
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let text = String::from_utf8_lossy(&to_bytes(resp.into_body(), 1 << 20).await.unwrap())
            .into_owned();
        (status, text, sink.appends().len())
    }

    #[tokio::test]
    async fn snappy_protobuf_is_stored_as_samples_and_series() {
        let body = snap::raw::Encoder::new()
            .compress_vec(&request().encode_to_vec())
            .unwrap();
        let (state, sink) = testing::state(IngestLimits::default());
        let resp = remote_write_router(state)
            .oneshot(
                http::Request::post(REMOTE_WRITE_PATH)
                    .header(CONTENT_ENCODING, "snappy")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        // The valid series are stored; the nameless one is named in the 400.
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("1 of 4 samples refused: timeseries 2: no __name__ label"),
            "{text}"
        );
        let appends = sink.appends();
        assert_eq!(appends.len(), 1);
        let a = &appends[0];
        assert_eq!(a.signal, common::Signal::Metrics);
        assert!(a.payload.starts_with(PAYLOAD_TAG));
        assert_eq!(a.rows, 3, "the nameless series is refused");
        // Replaying the WAL payload gives the rows the request converts to.
        let replayed =
            storage::PayloadDecoder::decode(&crate::convert::OtlpDecoder, a.signal, &a.payload)
                .unwrap();
        let direct =
            crate::convert::remote_write(&request(), None, &crate::convert::ConvertLimits::NONE)
                .rows
                .expect("rows");
        assert_eq!(replayed.batch, direct.batch);
        assert_eq!(replayed.series, direct.series);
        let series = direct.series.expect("series rows");
        assert_eq!(series.num_rows(), 2);
        let types = series
            .column_by_name("metric_type")
            .and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>())
            .expect("metric_type");
        assert_eq!(types.value(0), "counter", "from the request's metadata");
    }

    #[tokio::test]
    async fn bad_bodies_are_bad_requests() {
        let (status, text, appends) = post(b"not snappy".to_vec(), Some("snappy")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("snappy"), "{text}");
        assert_eq!(appends, 0);
        let garbage = snap::raw::Encoder::new().compress_vec(&[0xff; 16]).unwrap();
        let (status, text, _) = post(garbage, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("protobuf"), "{text}");
        let (status, _, _) = post(Vec::new(), Some("gzip")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
