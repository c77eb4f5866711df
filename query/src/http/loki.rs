//! The Loki HTTP API over the [`LokiEngine`], in Loki's shapes: `/loki/api/v1/query` and
//! `/query_range` (streams, vectors, matrices and scalars, with the `stats` object Grafana
//! reads, streams in the `categorize-labels` encoding when a client asks for it), `/labels`,
//! `/label/<name>/values`, `/series` and `/status/buildinfo`. Times in Loki's forms (RFC 3339,
//! Unix seconds, Unix nanoseconds); errors as Loki writes them, in plain text.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use logql::eval::{Labels, Stream, Value};
use serde_json::{json, Map, Value as Json};

use super::kit::time::{parse_duration, parse_time_nanos, TimeForms};
use super::kit::{instrument, tenant, Params};
use crate::loki::{LokiAnswer, LokiEngine};
use crate::{Error, Result};

const API: &str = "loki";

/// The header asking for streams with structured metadata beside each line.
const ENCODING_FLAGS: &str = "x-loki-response-encoding-flags";

pub(crate) fn router(engine: Arc<LokiEngine>) -> Router {
    let routes = Router::new()
        .route("/loki/api/v1/query", get(query).post(query))
        .route(
            "/loki/api/v1/query_range",
            get(query_range).post(query_range),
        )
        .route("/loki/api/v1/labels", get(labels).post(labels))
        .route("/loki/api/v1/label", get(labels))
        .route("/loki/api/v1/label/{name}/values", get(label_values))
        .route("/loki/api/v1/series", get(series).post(series))
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
        .route(
            "/loki/api/v1/index/stats",
            get(index_stats).post(index_stats),
        )
        .route("/loki/api/v1/index/volume", get(volume).post(volume))
        .route(
            "/loki/api/v1/index/volume_range",
            get(volume_range).post(volume_range),
        )
        .route("/loki/api/v1/detected_labels", get(detected_labels))
        .route("/loki/api/v1/detected_fields", get(detected_fields))
        .route(
            "/loki/api/v1/detected_field/{name}/values",
            get(detected_field_values),
        )
        .route("/loki/api/v1/patterns", get(patterns))
        .route("/loki/api/v1/tail", get(tail))
        .with_state(engine);
    instrument(API, routes)
}

fn error(e: &Error) -> Response {
    super::kit::text_error(API, e)
}

fn ok(body: Json) -> Response {
    super::kit::json(StatusCode::OK, body.to_string())
}

/// A handler's answer: its JSON, or its error as Loki writes one.
fn respond(answer: Result<Json>) -> Response {
    super::kit::json_or_text_error(API, answer)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn time(params: &Params, name: &str, default: i64) -> Result<i64> {
    match params.get(name) {
        None | Some("") => Ok(default),
        Some(s) => parse_time_nanos(name, s, TimeForms::Loki),
    }
}

/// `start` and `end` (`since` back from `end` when `start` is not given; an hour by default).
fn range(params: &Params) -> Result<(i64, i64)> {
    let end = time(params, "end", now_ns())?;
    let since = match params.get("since") {
        None | Some("") => 3_600_000_000_000,
        Some(s) => parse_duration("since", s)? * 1_000_000,
    };
    let start = time(params, "start", end - since)?;
    if end < start {
        return Err(Error::BadData(
            "end timestamp must not be before or equal to start time".into(),
        ));
    }
    Ok((start, end))
}

fn limit(params: &Params) -> Result<usize> {
    match params.get("limit") {
        None | Some("") => Ok(100),
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| Error::BadData(format!("invalid limit {s:?}: not a number"))),
    }
}

fn backward(params: &Params) -> Result<bool> {
    match params
        .get("direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("backward") => Ok(true),
        Some("forward") => Ok(false),
        Some(other) => Err(Error::BadData(format!(
            "invalid direction {other:?}: use forward or backward"
        ))),
    }
}

/// Loki's default step: the range over 250 points, at least a second.
fn default_step(start: i64, end: i64) -> i64 {
    let secs = ((end - start) as f64 / 1e9 / 250.0).ceil().max(1.0);
    (secs * 1e9) as i64
}

fn categorize(headers: &HeaderMap) -> bool {
    headers
        .get(ENCODING_FLAGS)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|f| f.trim() == "categorize-labels"))
}

fn labels_json(l: &Labels) -> Json {
    Json::Object(
        l.iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

fn seconds(ns: i64) -> Json {
    // Loki writes sample times as float seconds with millisecond precision.
    let ms = ns.div_euclid(1_000_000);
    serde_json::Number::from_f64(ms as f64 / 1000.0).map_or(Json::Null, Json::Number)
}

fn sample(ns: i64, v: f64) -> Json {
    json!([seconds(ns), promql::value::format_value(v)])
}

fn streams_json(streams: &[Stream], categorized: bool) -> Json {
    Json::Array(
        streams
            .iter()
            .map(|s| {
                let values: Vec<Json> = s
                    .entries
                    .iter()
                    .map(|e| {
                        if categorized {
                            let mut extra = Map::new();
                            if !e.metadata.is_empty() {
                                extra.insert(
                                    "structuredMetadata".into(),
                                    Json::Object(
                                        e.metadata
                                            .iter()
                                            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                                            .collect(),
                                    ),
                                );
                            }
                            json!([e.ts.to_string(), e.line, extra])
                        } else {
                            json!([e.ts.to_string(), e.line])
                        }
                    })
                    .collect();
                json!({"stream": labels_json(&s.labels), "values": values})
            })
            .collect(),
    )
}

/// Each stream's lines at least `interval` (ns) apart, in the order they are listed (Loki's
/// `interval` parameter).
fn thin(streams: &mut [Stream], interval: i64) {
    if interval <= 0 {
        return;
    }
    for s in streams {
        let mut last: Option<i64> = None;
        s.entries.retain(|e| match last {
            Some(l) if (e.ts - l).abs() < interval => false,
            _ => {
                last = Some(e.ts);
                true
            }
        });
    }
}

/// The zeroed `stats` object of Loki's query responses, in its shape.
fn stats() -> Json {
    let store = json!({
        "chunksDownloadTime": 0, "congestionControlLatency": 0, "totalChunksRef": 0,
        "totalChunksDownloaded": 0, "chunkRefsFetchTime": 0,
        "queryReferencedStructuredMetadata": false, "queryUsedV2Engine": false,
        "pipelineWrapperFilteredLines": 0,
        "chunk": {
            "compressedBytes": 0, "decompressedBytes": 0, "decompressedLines": 0,
            "decompressedStructuredMetadataBytes": 0, "headChunkBytes": 0, "headChunkLines": 0,
            "headChunkStructuredMetadataBytes": 0, "postFilterLines": 0, "totalDuplicates": 0
        },
        "dataobj": {
            "pageBatches": 0, "pagesDownloaded": 0, "pagesDownloadedBytes": 0, "pagesScanned": 0,
            "postFilterRows": 0, "postPredicateRows": 0, "postPredicateDecompressedBytes": 0,
            "postPredicateStructuredMetadataBytes": 0, "prePredicateDecompressedRows": 0,
            "prePredicateDecompressedBytes": 0,
            "prePredicateDecompressedStructuredMetadataBytes": 0, "totalPageDownloadTime": 0,
            "totalRowsAvailable": 0, "wireBytesTransferred": 0
        }
    });
    let cache = json!({
        "entriesFound": 0, "entriesRequested": 0, "entriesStored": 0, "bytesReceived": 0,
        "bytesSent": 0, "requests": 0, "downloadTime": 0, "queryLengthServed": 0
    });
    let caches: Map<String, Json> = [
        "chunk",
        "index",
        "statsResult",
        "seriesResult",
        "labelResult",
        "volumeResult",
        "instantMetricResult",
        "result",
        "logResult",
        "taskResult",
    ]
    .iter()
    .map(|k| (k.to_string(), cache.clone()))
    .collect();
    json!({
        "index": {
            "bloomFilterTime": 0, "chunkRefsLookupTime": 0, "postFilterChunks": 0,
            "totalChunks": 0, "totalStreams": 0, "usedBloomFilters": false, "shardsDuration": 0
        },
        "ingester": {
            "store": store.clone(), "totalBatches": 0, "totalChunksMatched": 0,
            "totalLinesSent": 0, "totalReached": 0
        },
        "querier": {"querierExecTime": 0, "store": store},
        "cache": caches,
        "summary": {
            "bytesProcessedPerSecond": 0, "execTime": 0, "linesProcessedPerSecond": 0,
            "queueTime": 0, "shards": 0, "splits": 0, "subqueries": 0, "totalBytesProcessed": 0,
            "totalEntriesReturned": 0, "totalLinesProcessed": 0,
            "totalStructuredMetadataBytesProcessed": 0, "totalPostFilterLines": 0
        }
    })
}

/// The `data` of a query answer.
fn answer_json(answer: &LokiAnswer, categorized: bool, at: i64) -> Json {
    let mut data = Map::new();
    match answer {
        LokiAnswer::Streams(s) => {
            data.insert("resultType".into(), "streams".into());
            if categorized {
                data.insert("encodingFlags".into(), json!(["categorize-labels"]));
            }
            data.insert("result".into(), streams_json(s, categorized));
        }
        LokiAnswer::Value(Value::Scalar(v)) => {
            data.insert("resultType".into(), "scalar".into());
            data.insert("result".into(), sample(at, *v));
        }
        LokiAnswer::Value(Value::Vector(v)) => {
            data.insert("resultType".into(), "vector".into());
            data.insert(
                "result".into(),
                Json::Array(
                    v.iter()
                        .map(|s| json!({"metric": labels_json(&s.labels), "value": sample(at, s.value)}))
                        .collect(),
                ),
            );
        }
        LokiAnswer::Value(Value::Matrix(m)) => {
            data.insert("resultType".into(), "matrix".into());
            data.insert(
                "result".into(),
                Json::Array(
                    m.iter()
                        .map(|s| {
                            let values: Vec<Json> =
                                s.points.iter().map(|(t, v)| sample(*t, *v)).collect();
                            json!({"metric": labels_json(&s.labels), "values": values})
                        })
                        .collect(),
                ),
            );
        }
    }
    data.insert("stats".into(), stats());
    json!({"status": "success", "data": data})
}

async fn query(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &body);
        let tenant = tenant(&headers)?;
        let query = params.required("query")?;
        let at = time(&params, "time", now_ns())?;
        if matches!(logql::parse(query), Ok(logql::ast::Expr::Log(_))) {
            return Err(Error::BadData(
                "log queries are not supported as an instant query type, please change your query to a range query type".into(),
            ));
        }
        let answer = engine
            .query(
                &tenant,
                query,
                at,
                at,
                1,
                limit(&params)?,
                backward(&params)?,
                true,
            )
            .await?;
        Ok(answer_json(&answer, categorize(&headers), at))
    };
    respond(run.await)
}

async fn query_range(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &body);
        let tenant = tenant(&headers)?;
        let query = params.required("query")?;
        let (start, end) = range(&params)?;
        let step = match params.get("step") {
            None | Some("") => default_step(start, end),
            Some(s) => parse_duration("step", s)? * 1_000_000,
        };
        if step <= 0 {
            return Err(Error::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if (end - start) / step > 11_000 {
            return Err(Error::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
            ));
        }
        let mut answer = engine
            .query(
                &tenant,
                query,
                start,
                end,
                step,
                limit(&params)?,
                backward(&params)?,
                false,
            )
            .await?;
        if let (LokiAnswer::Streams(streams), Some(i)) = (
            &mut answer,
            params.get("interval").filter(|i| !i.is_empty()),
        ) {
            let interval = parse_duration("interval", i)? * 1_000_000;
            thin(streams, interval);
        }
        Ok(answer_json(&answer, categorize(&headers), end))
    };
    respond(run.await)
}

async fn labels(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &body);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let names = engine
            .labels(
                &tenant,
                params.get("query").filter(|q| !q.is_empty()),
                start,
                end,
            )
            .await?;
        Ok(json!({"status": "success", "data": names}))
    };
    respond(run.await)
}

async fn label_values(
    State(engine): State<Arc<LokiEngine>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &[]);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let values = engine
            .label_values(
                &tenant,
                &name,
                params.get("query").filter(|q| !q.is_empty()),
                start,
                end,
            )
            .await?;
        Ok(json!({"status": "success", "data": values}))
    };
    respond(run.await)
}

async fn series(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &body);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let mut selectors: Vec<String> = params
            .all("match[]")
            .into_iter()
            .map(str::to_string)
            .collect();
        selectors.extend(params.all("match").into_iter().map(str::to_string));
        let sets = engine.series(&tenant, &selectors, start, end).await?;
        Ok(json!({"status": "success", "data": sets.iter().map(labels_json).collect::<Vec<_>>()}))
    };
    respond(run.await)
}

/// The selector of a request (`query`, `{}`-less queries refused by the parser).
fn selector(params: &Params) -> Result<String> {
    Ok(params.required("query")?.to_string())
}

async fn index_stats(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &body);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let s = engine
            .index_stats(&tenant, &selector(&params)?, start, end)
            .await?;
        Ok(
            json!({"streams": s.streams, "chunks": s.chunks, "bytes": s.bytes, "entries": s.entries}),
        )
    };
    respond(run.await)
}

async fn volume_answer(
    engine: &LokiEngine,
    params: &Params,
    headers: &HeaderMap,
    ranged: bool,
) -> Result<Json> {
    let tenant = tenant(headers)?;
    let (start, end) = range(params)?;
    let step = if ranged {
        match params.get("step") {
            None | Some("") => default_step(start, end),
            Some(s) => parse_duration("step", s)? * 1_000_000,
        }
    } else {
        0
    };
    let target: Vec<String> = params
        .get("targetLabels")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let by_series = params.get("aggregateBy") == Some("series");
    let limit = match params.get("limit") {
        None | Some("") => 100,
        Some(l) => l
            .parse()
            .map_err(|_| Error::BadData(format!("invalid limit {l:?}")))?,
    };
    let volumes = engine
        .volume(
            &tenant,
            &selector(params)?,
            start,
            end,
            step,
            &target,
            by_series,
            limit,
        )
        .await?;
    let result: Vec<Json> = volumes
        .iter()
        .map(|(labels, points)| {
            if ranged {
                let values: Vec<Json> = points
                    .iter()
                    .map(|(t, b)| json!([seconds(*t), b.to_string()]))
                    .collect();
                json!({"metric": labels_json(labels), "values": values})
            } else {
                let total: u64 = points.iter().map(|p| p.1).sum();
                json!({"metric": labels_json(labels), "value": [seconds(end), total.to_string()]})
            }
        })
        .collect();
    Ok(json!({
        "status": "success",
        "data": {"resultType": if ranged { "matrix" } else { "vector" }, "result": result, "stats": stats()},
    }))
}

async fn volume(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(q.as_deref(), &headers, &body);
    respond(volume_answer(&engine, &params, &headers, false).await)
}

async fn volume_range(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(q.as_deref(), &headers, &body);
    respond(volume_answer(&engine, &params, &headers, true).await)
}

async fn detected_labels(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &[]);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let query = params
            .get("query")
            .filter(|q| !q.is_empty())
            .unwrap_or(r#"{service_name=~".+"}"#);
        let labels = engine.detected_labels(&tenant, query, start, end).await?;
        let list: Vec<Json> = labels
            .iter()
            .map(|(l, c)| json!({"label": l, "cardinality": c}))
            .collect();
        Ok(json!({"detectedLabels": list}))
    };
    respond(run.await)
}

fn line_limit(params: &Params) -> Result<usize> {
    match params.get("line_limit") {
        None | Some("") => Ok(1000),
        Some(l) => l
            .parse()
            .map_err(|_| Error::BadData(format!("invalid line_limit {l:?}"))),
    }
}

async fn detected_fields(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &[]);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let fields = engine
            .detected_fields(
                &tenant,
                &selector(&params)?,
                start,
                end,
                line_limit(&params)?,
            )
            .await?;
        let list: Vec<Json> = fields
            .iter()
            .map(|(f, _)| {
                json!({
                    "label": f.label,
                    "type": f.kind,
                    "cardinality": f.cardinality,
                    "parsers": if f.parsers.is_empty() { Json::Null } else { json!(f.parsers) },
                })
            })
            .collect();
        Ok(json!({"fields": list, "limit": line_limit(&params)?}))
    };
    respond(run.await)
}

async fn detected_field_values(
    State(engine): State<Arc<LokiEngine>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &[]);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let fields = engine
            .detected_fields(
                &tenant,
                &selector(&params)?,
                start,
                end,
                line_limit(&params)?,
            )
            .await?;
        let values = fields
            .into_iter()
            .find(|(f, _)| f.label == name)
            .map(|(_, v)| v)
            .unwrap_or_default();
        Ok(json!({"values": values, "limit": line_limit(&params)?}))
    };
    respond(run.await)
}

async fn patterns(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let params = Params::from(q.as_deref(), &headers, &[]);
        let tenant = tenant(&headers)?;
        let (start, end) = range(&params)?;
        let step = match params.get("step") {
            None | Some("") => default_step(start, end),
            Some(s) => parse_duration("step", s)? * 1_000_000,
        };
        let found = engine
            .patterns(&tenant, &selector(&params)?, start, end, step)
            .await?;
        let data: Vec<Json> = found
            .iter()
            .map(|(p, level, samples)| {
                let samples: Vec<Json> = samples
                    .iter()
                    .map(|(t, n)| json!([t.div_euclid(1_000_000_000), n]))
                    .collect();
                json!({"pattern": p, "level": level, "samples": samples})
            })
            .collect();
        Ok(json!({"status": "success", "data": data}))
    };
    respond(run.await)
}

/// How often a tail looks for new lines.
const TAIL_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// `/loki/api/v1/tail`: a WebSocket on which the lines of a log query arrive as they are
/// stored (each message `{"streams":[…],"dropped_entries":null}`), from `start` (an hour ago by
/// default), at most `limit` lines per message. Lines are found by their timestamps, every
/// second: a line stored later than its timestamp's second has passed is not sent.
async fn tail(
    State(engine): State<Arc<LokiEngine>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    ws: std::result::Result<
        axum::extract::ws::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> Response {
    let setup = (|| {
        let params = Params::from(q.as_deref(), &headers, &[]);
        let tenant = tenant(&headers)?;
        let query = params.required("query")?.to_string();
        match logql::parse(&query).map_err(|e| Error::BadData(e.to_string()))? {
            logql::ast::Expr::Log(_) => {}
            logql::ast::Expr::Metric(_) => {
                return Err(Error::BadData(
                    "tailing a metric query is not supported".into(),
                ))
            }
        }
        let start = time(&params, "start", now_ns() - 3_600_000_000_000)?;
        Ok((tenant, query, start, limit(&params)?, categorize(&headers)))
    })();
    let (tenant, query, start, limit, categorized) = match setup {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return error(&Error::BadData(format!(
                "the tail API is a WebSocket: {rejection}"
            )))
        }
    };
    ws.on_upgrade(move |socket| tail_loop(engine, tenant, query, start, limit, categorized, socket))
}

async fn tail_loop(
    engine: Arc<LokiEngine>,
    tenant: common::Tenant,
    query: String,
    start: i64,
    limit: usize,
    categorized: bool,
    mut socket: axum::extract::ws::WebSocket,
) {
    use axum::extract::ws::{CloseFrame, Message};
    let mut from = start;
    loop {
        let now = now_ns();
        match engine.lines(&tenant, &query, from, now + 1, limit).await {
            Ok(mut streams) => {
                // Oldest first, as a tail shows them.
                for s in &mut streams {
                    s.entries.sort_by_key(|e| e.ts);
                }
                if let Some(last) = streams
                    .iter()
                    .flat_map(|s| s.entries.iter().map(|e| e.ts))
                    .max()
                {
                    from = last + 1;
                    let msg = json!({"streams": streams_json(&streams, categorized), "dropped_entries": Json::Null});
                    if socket
                        .send(Message::Text(msg.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Err(e) => {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: 1011,
                        reason: e
                            .client_message()
                            .chars()
                            .take(120)
                            .collect::<String>()
                            .into(),
                    })))
                    .await;
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TAIL_POLL) => {}
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn buildinfo() -> Response {
    ok(json!({
        "version": "3.5.0",
        "revision": env!("CARGO_PKG_VERSION"),
        "branch": "vigil",
        "buildUser": "vigil",
        "buildDate": "",
        "goVersion": "",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden bodies of Loki's own marshalling tests (`../shared/conformance/loki-api`):
    /// Vigil's `stats` object has every key Loki's has, with the same types.
    #[test]
    fn the_stats_object_has_lokis_shape() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/conformance/loki-api/golden-json/L0339-streams.json");
        let text = std::fs::read_to_string(&path).expect("golden file");
        let golden: Json = serde_json::from_str(&text).expect("json");
        fn shape(v: &Json) -> Json {
            match v {
                Json::Object(m) => {
                    Json::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
                }
                Json::Number(_) => json!("number"),
                Json::Bool(_) => json!("bool"),
                other => other.clone(),
            }
        }
        assert_eq!(shape(&stats()), shape(&golden["data"]["stats"]));
        let streams = vec![Stream {
            labels: [("test".to_string(), "test".to_string())].into(),
            entries: vec![
                logql::eval::Entry {
                    ts: 123456789012345,
                    line: "super line".into(),
                    metadata: vec![],
                },
                logql::eval::Entry {
                    ts: 123456789012346,
                    line: "super line with labels".into(),
                    metadata: vec![],
                },
            ],
        }];
        let mut body = answer_json(&LokiAnswer::Streams(streams), false, 0);
        body["warnings"] = golden["warnings"].clone();
        assert_eq!(body, golden);
    }
}
