//! Tempo's streaming gRPC service (`tempopb.StreamingQuerier`) on the HTTP port, as Tempo serves
//! it with `stream_over_http_enabled` and Grafana's Tempo data source calls it when streaming is
//! on: `Search`, `SearchTags`, `SearchTagsV2`, `SearchTagValues`, `SearchTagValuesV2`,
//! `MetricsQueryRange`, `MetricsQueryInstant`. Each call answers with one message — the whole
//! answer, the same the HTTP API gives — and ends the stream; errors are gRPC statuses
//! (`INVALID_ARGUMENT` for a bad query). The tenant is the `x-scope-orgid` metadata.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::future::BoxFuture;
use futures::Stream;
use tonic::server::{Grpc, ServerStreamingService};
use tonic::Status;
use tonic_prost::ProstCodec;
use traceql::metrics::MetricsRequest;

use super::kit::tenant;
use super::tempo_metrics::MAX_SERIES;
use crate::tempo::{answer, wire, TempoEngine};
use crate::{Error, Result};

/// The service's name, as Grafana's client addresses it.
const SERVICE: &str = "tempopb.StreamingQuerier";

/// Most traces a search returns when the request names no limit (Tempo's default).
const DEFAULT_LIMIT: u32 = 20;

/// Spans shown per spanset when the request names none (Tempo's default).
const DEFAULT_SPSS: u32 = 3;

/// The routes, to be merged into the Tempo API's router.
pub(crate) fn routes(engine: Arc<TempoEngine>) -> Router {
    Router::new()
        .route(&path("Search"), post(call(search)))
        .route(&path("SearchTags"), post(call(tags_v1)))
        .route(&path("SearchTagsV2"), post(call(tags_v2)))
        .route(&path("SearchTagValues"), post(call(tag_values_v1)))
        .route(&path("SearchTagValuesV2"), post(call(tag_values_v2)))
        .route(&path("MetricsQueryRange"), post(call(query_range)))
        .route(&path("MetricsQueryInstant"), post(call(query_instant)))
        .with_state(engine)
}

fn path(method: &str) -> String {
    format!("/{SERVICE}/{method}")
}

/// An axum handler answering one streaming method with `answer`.
fn call<Req, Resp, F, Fut>(
    answer: F,
) -> impl Fn(State<Arc<TempoEngine>>, Request) -> BoxFuture<'static, Response> + Clone + Send + 'static
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Arc<TempoEngine>, HeaderMap, Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp>> + Send + 'static,
{
    move |State(engine): State<Arc<TempoEngine>>, request: Request| {
        let answer = answer.clone();
        Box::pin(async move {
            let mut grpc = Grpc::new(ProstCodec::<Resp, Req>::default());
            let service = Once {
                engine,
                answer,
                _types: PhantomData,
            };
            grpc.server_streaming(service, request)
                .await
                .map(Body::new)
                .into_response()
        })
    }
}

/// A streaming method that answers with one message.
struct Once<Req, Resp, F> {
    engine: Arc<TempoEngine>,
    answer: F,
    _types: PhantomData<fn(Req) -> Resp>,
}

type OneMessage<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl<Req, Resp, F, Fut> ServerStreamingService<Req> for Once<Req, Resp, F>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    F: Fn(Arc<TempoEngine>, HeaderMap, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp>> + Send + 'static,
{
    type Response = Resp;
    type ResponseStream = OneMessage<Resp>;
    type Future = BoxFuture<'static, Result<tonic::Response<OneMessage<Resp>>, Status>>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        let headers = request.metadata().clone().into_headers();
        let answered = (self.answer)(Arc::clone(&self.engine), headers, request.into_inner());
        Box::pin(async move {
            let message = answered.await.map_err(|e| status(&e))?;
            let stream: OneMessage<Resp> = Box::pin(futures::stream::once(async { Ok(message) }));
            Ok(tonic::Response::new(stream))
        })
    }
}

/// A query error as the gRPC status Tempo would answer with.
fn status(e: &Error) -> Status {
    match e {
        Error::BadData(_) | Error::Tenant(_) | Error::TooManyRows { .. } => {
            Status::invalid_argument(e.to_string())
        }
        Error::Timeout(_) => Status::deadline_exceeded(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

/// A request's `[start, end]` window (Unix seconds, 0 when unset) in ns.
fn window(start: u32, end: u32) -> Result<(i64, i64)> {
    let set = |s: u32| (s != 0).then_some(i64::from(s));
    crate::tempo::seconds_window(set(start), set(end), super::kit::now_ms() / 1000)
}

async fn search(
    engine: Arc<TempoEngine>,
    headers: HeaderMap,
    req: wire::SearchRequest,
) -> Result<wire::SearchResponse> {
    let tenant = tenant(&headers)?;
    let q = if req.query.trim().is_empty() {
        let tags: Vec<String> = req
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={}", common::go::quote(v)))
            .collect();
        let ms = |v: u32| (v > 0).then(|| format!("{v}ms"));
        crate::tempo::legacy_query(
            &tags.join(" "),
            ms(req.min_duration_ms).as_deref(),
            ms(req.max_duration_ms).as_deref(),
        )?
    } else {
        req.query.clone()
    };
    let limit = if req.limit == 0 {
        DEFAULT_LIMIT
    } else {
        req.limit
    };
    let spss = if req.spans_per_span_set == 0 {
        DEFAULT_SPSS
    } else {
        req.spans_per_span_set
    };
    let (found, inspected) = engine
        .search(tenant, &q, window(req.start, req.end)?, limit as usize)
        .await?;
    Ok(answer::search(&found, spss as usize, inspected))
}

async fn tags_v1(
    engine: Arc<TempoEngine>,
    headers: HeaderMap,
    req: wire::SearchTagsRequest,
) -> Result<wire::SearchTagsResponse> {
    let (span, resource) = engine
        .tag_keys(tenant(&headers)?, window(req.start, req.end)?)
        .await?;
    Ok(answer::tags_v1(span, resource))
}

async fn tags_v2(
    engine: Arc<TempoEngine>,
    headers: HeaderMap,
    req: wire::SearchTagsRequest,
) -> Result<wire::SearchTagsV2Response> {
    let (span, resource) = engine
        .tag_keys(tenant(&headers)?, window(req.start, req.end)?)
        .await?;
    answer::tags_v2(&req.scope, span, resource)
}

async fn tag_values_v1(
    engine: Arc<TempoEngine>,
    headers: HeaderMap,
    req: wire::SearchTagValuesRequest,
) -> Result<wire::SearchTagValuesResponse> {
    let tag = answer::v1_tag(&req.tag_name);
    let values = engine
        .tag_values(
            tenant(&headers)?,
            &tag,
            &req.query,
            window(req.start, req.end)?,
        )
        .await?;
    Ok(wire::SearchTagValuesResponse {
        tag_values: values.into_iter().map(|v| v.value).collect(),
    })
}

async fn tag_values_v2(
    engine: Arc<TempoEngine>,
    headers: HeaderMap,
    req: wire::SearchTagValuesRequest,
) -> Result<wire::SearchTagValuesV2Response> {
    let tag_values = engine
        .tag_values(
            tenant(&headers)?,
            &req.tag_name,
            &req.query,
            window(req.start, req.end)?,
        )
        .await?;
    Ok(wire::SearchTagValuesV2Response { tag_values })
}

fn nanos(v: u64, name: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::BadData(format!("invalid {name} {v}: out of range")))
}

async fn query_range(
    engine: Arc<TempoEngine>,
    headers: HeaderMap,
    req: wire::QueryRangeRequest,
) -> Result<wire::QueryRangeResponse> {
    let (start, end) = (nanos(req.start, "start")?, nanos(req.end, "end")?);
    let step = if req.step == 0 {
        super::tempo_metrics::default_step(start, end)
    } else {
        nanos(req.step, "step")?
    };
    let request = MetricsRequest {
        start_ns: start,
        end_ns: end,
        step_ns: step,
        max_exemplars: if req.exemplars == 0 {
            super::tempo_metrics::DEFAULT_EXEMPLARS
        } else {
            req.exemplars as usize
        },
    };
    let (out, spans) = engine
        .metrics(tenant(&headers)?, &req.query, request, MAX_SERIES)
        .await?;
    Ok(answer::range(&out, spans, MAX_SERIES))
}

async fn query_instant(
    engine: Arc<TempoEngine>,
    headers: HeaderMap,
    req: wire::QueryInstantRequest,
) -> Result<wire::QueryInstantResponse> {
    let (start, end) = (nanos(req.start, "start")?, nanos(req.end, "end")?);
    let request = MetricsRequest {
        start_ns: start,
        end_ns: end,
        step_ns: end - start,
        max_exemplars: 0,
    };
    let (out, spans) = engine
        .metrics(tenant(&headers)?, &req.query, request, MAX_SERIES)
        .await?;
    Ok(answer::instant(&out, spans, MAX_SERIES))
}
