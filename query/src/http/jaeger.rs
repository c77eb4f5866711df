//! Jaeger's query-service HTTP JSON API, the `/api` that `jaeger-query` serves to Jaeger UI
//! and Grafana's Jaeger data source, under `/jaeger` (beside Tempo's `/api`), over the
//! [`JaegerEngine`] (`cmd/query/app/http_handler.go` and `query_parser.go` of
//! `jaegertracing/jaeger`):
//!
//! - `GET /jaeger/api/services`: the services of the last day, sorted;
//! - `GET /jaeger/api/services/{service}/operations`: its span names, sorted;
//! - `GET /jaeger/api/operations?service=…[&spanKind=…]`: `{"name", "spanKind"}` pairs;
//! - `GET /jaeger/api/traces?service=…`: a search by `operation`, `tag`/`tags`, `start`/`end`
//!   (µs; without `start`, the `lookback` before now, else Jaeger's two days), `minDuration`/
//!   `maxDuration` (Go durations) and `limit` (100); or the traces named by `traceID`s;
//! - `GET /jaeger/api/traces/{traceID}[?start=…&end=…]`: one trace, 404 when there is none.
//!
//! Answers are Jaeger's envelope, `{"data", "total", "limit", "offset", "errors"}`; an error
//! is the same envelope with `data` null and `errors: [{"code", "msg"}]`, sent as Go's
//! `http.Error` sends it (plain-text type, a trailing newline), with Jaeger's messages.
//! `prettyPrint` indents the JSON. Lists that Jaeger writes as `null` when empty are `[]`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::ErrorCode;
use serde::Serialize;

use super::kit::{instrument, now_ms, tenant, Params};
use crate::jaeger::{
    go_duration, kind_number, parse_tags, parse_trace_id, trace_id_hex, JaegerEngine, Operation,
    SearchQuery, Trace,
};
use crate::{Error, Result};

const API: &str = "jaeger";

const NS_PER_US: i64 = 1_000;
const NS_PER_HOUR: i64 = 3_600_000_000_000;

/// The window of the service and operation lists, which Jaeger UI asks for without one: the
/// last day (the recent spans whose services a search would find, without reading the whole
/// store).
const LIST_LOOKBACK_NS: i64 = 24 * NS_PER_HOUR;

/// A search's window without `start` or `lookback` (Jaeger's
/// `defaultTraceQueryLookbackDuration`).
const SEARCH_LOOKBACK_NS: i64 = 48 * NS_PER_HOUR;

/// Traces a search returns without `limit` (Jaeger's `defaultQueryLimit`).
const DEFAULT_LIMIT: usize = 100;

pub(crate) fn router(engine: Arc<JaegerEngine>) -> Router {
    let routes = Router::new()
        .route("/jaeger/api/services", get(services))
        .route(
            "/jaeger/api/services/{service}/operations",
            get(service_operations),
        )
        .route("/jaeger/api/operations", get(operations))
        .route("/jaeger/api/traces", get(search))
        .route("/jaeger/api/traces/{id}", get(trace))
        .with_state(engine);
    instrument(API, routes)
}

/// Jaeger's answer envelope (`structuredResponse`).
#[derive(Serialize)]
struct Structured<T> {
    data: T,
    total: usize,
    limit: usize,
    offset: usize,
    errors: Option<Vec<StructuredError>>,
}

/// One error of an answer: a failed request's status, or a trace a search did not find.
#[derive(Serialize)]
struct StructuredError {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    msg: String,
    #[serde(rename = "traceID", skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
}

impl<T> Structured<Vec<T>> {
    /// A list, counted in `total`.
    fn list(data: Vec<T>) -> Self {
        Self {
            total: data.len(),
            data,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }

    /// Traces (Jaeger leaves `total` 0 for them), with the errors of traces not found.
    fn traces(data: Vec<T>, errors: Vec<StructuredError>) -> Self {
        Self {
            data,
            total: 0,
            limit: 0,
            offset: 0,
            errors: (!errors.is_empty()).then_some(errors),
        }
    }
}

/// Whether a request asks for indented JSON (`prettyPrint`, but not `false`).
fn pretty(params: &Params) -> bool {
    params
        .get("prettyPrint")
        .is_some_and(|v| !v.is_empty() && v != "false")
}

/// `body` as JSON, indented by four spaces when `pretty` (as Jaeger indents).
fn to_json<T: Serialize>(body: &T, pretty: bool) -> serde_json::Result<Vec<u8>> {
    if !pretty {
        return serde_json::to_vec(body);
    }
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    body.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out, formatter,
    ))?;
    Ok(out)
}

/// The answer to a request: its envelope, or the error.
fn respond<T: Serialize>(params: &Params, answer: Result<Structured<T>>) -> Response {
    match answer.map(|body| to_json(&body, pretty(params))) {
        Ok(Ok(body)) => super::kit::json(StatusCode::OK, body),
        Ok(Err(e)) => {
            tracing::error!(error = %e, api = API, "failed to write an answer");
            failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed writing HTTP response: {e}"),
            )
        }
        Err(e) => error(&e),
    }
}

/// An error answer as Jaeger's `handleError` writes it.
fn failure(status: StatusCode, msg: String) -> Response {
    let body = Structured::<Option<()>> {
        data: None,
        total: 0,
        limit: 0,
        offset: 0,
        errors: Some(vec![StructuredError {
            code: Some(status.as_u16()),
            msg,
            trace_id: None,
        }]),
    };
    let mut text = serde_json::to_string(&body).unwrap_or_default();
    text.push('\n');
    (
        status,
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        text,
    )
        .into_response()
}

/// The error answer to `e`: 400 for a bad request, 503 for a timeout, 500 (with the detail
/// logged, not sent) for a failure of the server.
fn error(e: &Error) -> Response {
    let status = match e.code() {
        ErrorCode::InvalidArgument | ErrorCode::TooLarge => StatusCode::BAD_REQUEST,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, api = API, "query failed");
    }
    failure(status, e.client_message())
}

/// Now, in ns since the epoch.
fn now_ns() -> i64 {
    now_ms().saturating_mul(1_000_000)
}

/// The window of the service and operation lists, ns.
fn list_window() -> (i64, i64) {
    let now = now_ns();
    (now.saturating_sub(LIST_LOOKBACK_NS), now)
}

/// Go's `strconv.ParseInt` of `text` into `bits` bits, with Go's error text.
fn go_int(text: &str, bits: u32) -> std::result::Result<i64, String> {
    let fail = |why: &str| {
        format!(
            "strconv.ParseInt: parsing {}: {why}",
            common::go::quote(text)
        )
    };
    let n: i64 = text
        .parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                fail("value out of range")
            }
            _ => fail("invalid syntax"),
        })?;
    let bound = 1i64 << (bits - 1).min(62);
    if bits < 64 && (n >= bound || n < -bound) {
        return Err(fail("value out of range"));
    }
    Ok(n)
}

/// The error of parameter `name` that did not parse, as Jaeger's `newParseError` words it.
fn parse_error(name: &str, why: impl std::fmt::Display) -> Error {
    Error::BadData(format!("unable to parse param '{name}': {why}"))
}

/// Time parameter `name` (µs since the epoch), in ns; `None` when absent or empty.
fn micros(params: &Params, name: &str) -> Result<Option<i64>> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => go_int(v, 64)
            .map(|us| Some(us.saturating_mul(NS_PER_US)))
            .map_err(|e| parse_error(name, e)),
    }
}

/// Duration parameter `name` (Go's form), in ns; 0 when absent or empty.
fn duration(params: &Params, name: &str) -> Result<i64> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => match go_duration(v) {
            Ok(ns) if ns < 0 => Err(parse_error(name, format!("negative duration {v:?}"))),
            Ok(ns) => Ok(ns),
            Err(e) => Err(parse_error(name, e)),
        },
    }
}

/// The error of a request without a service.
fn service_required() -> Error {
    Error::BadData("parameter 'service' is required".into())
}

async fn services(
    State(engine): State<Arc<JaegerEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::from(query.as_deref(), &headers, &[]);
    let answer = async {
        let services = engine.services(tenant(&headers)?, list_window()).await?;
        Ok(Structured::list(services))
    };
    respond(&params, answer.await)
}

async fn service_operations(
    State(engine): State<Arc<JaegerEngine>>,
    Path(service): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::from(query.as_deref(), &headers, &[]);
    let answer = async {
        let operations = engine
            .operations(tenant(&headers)?, &service, None, list_window())
            .await?;
        let mut names: Vec<String> = operations.into_iter().map(|o| o.name).collect();
        names.dedup();
        Ok(Structured::list(names))
    };
    respond(&params, answer.await)
}

async fn operations(
    State(engine): State<Arc<JaegerEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::from(query.as_deref(), &headers, &[]);
    let answer = async {
        let service = params
            .get("service")
            .filter(|s| !s.is_empty())
            .ok_or_else(service_required)?;
        let kind = match params.get("spanKind").filter(|k| !k.is_empty()) {
            None => None,
            Some(k) => Some(kind_number(k).ok_or_else(|| {
                parse_error(
                    "spanKind",
                    format!(
                        "unsupported span kind {k:?}: want server, client, producer, consumer \
                         or internal"
                    ),
                )
            })?),
        };
        let operations: Vec<Operation> = engine
            .operations(tenant(&headers)?, service, kind, list_window())
            .await?;
        Ok(Structured::list(operations))
    };
    respond(&params, answer.await)
}

async fn trace(
    State(engine): State<Arc<JaegerEngine>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::from(query.as_deref(), &headers, &[]);
    let answer = async {
        let tenant = tenant(&headers)?;
        let id = parse_trace_id(&id).map_err(Error::BadData)?;
        let window = match (micros(&params, "start")?, micros(&params, "end")?) {
            (None, None) => None,
            (start, end) => Some((
                start.unwrap_or(0),
                end.map_or(i64::MAX, |e| e.saturating_add(NS_PER_US - 1)),
            )),
        };
        engine.trace(tenant, id, window).await
    };
    match answer.await {
        Ok(Some(trace)) => respond(&params, Ok(Structured::traces(vec![trace], Vec::new()))),
        Ok(None) => failure(StatusCode::NOT_FOUND, "trace not found".into()),
        Err(e) => error(&e),
    }
}

/// A search as its parameters ask for it.
#[derive(Debug)]
enum Search {
    /// The traces named by `traceID`s.
    Ids(Vec<[u8; 16]>),
    /// A search over `window` (ns), for at most `limit` traces.
    Query {
        query: SearchQuery,
        window: (i64, i64),
        limit: usize,
    },
}

/// The search of `params` at `now` (ns), its parameters read in the order Jaeger reads them
/// (so that the first bad one is named as Jaeger names it).
fn parse_search(params: &Params, now: i64) -> Result<Search> {
    let text = |name: &str| params.get(name).unwrap_or("").to_string();
    let start = micros(params, "start")?;
    let end = micros(params, "end")?;
    let tags = parse_tags(&params.all("tag"), &params.all("tags"))?;
    let limit = match params.get("limit").filter(|v| !v.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(v) => match go_int(v, 32) {
            Ok(n) if n > 0 => usize::try_from(n).unwrap_or(DEFAULT_LIMIT),
            Ok(_) => DEFAULT_LIMIT,
            Err(e) => return Err(parse_error("limit", e)),
        },
    };
    let min_duration = duration(params, "minDuration")?;
    let max_duration = duration(params, "maxDuration")?;
    let ids = params
        .all("traceID")
        .into_iter()
        .map(|id| {
            parse_trace_id(id)
                .map_err(|e| Error::BadData(format!("cannot parse traceID param: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let service = text("service");
    if ids.is_empty() && service.is_empty() {
        return Err(service_required());
    }
    if min_duration != 0 && max_duration != 0 && max_duration < min_duration {
        return Err(Error::BadData(
            "'maxDuration' should be greater than 'minDuration'".into(),
        ));
    }
    if !ids.is_empty() {
        return Ok(Search::Ids(ids));
    }
    // Jaeger UI also sends the window it chose as `lookback` (`1h`, `2d`, `custom`…), which
    // Jaeger ignores; here it stands in for a missing `start`.
    let lookback = params
        .get("lookback")
        .and_then(|l| {
            common::duration::parse_prometheus(l)
                .map(|ms| ms.saturating_mul(1_000_000))
                .or_else(|| go_duration(l).ok())
        })
        .filter(|&ns| ns > 0)
        .unwrap_or(SEARCH_LOOKBACK_NS);
    let end = end.map_or(now, |e| e.saturating_add(NS_PER_US - 1));
    let start = start.unwrap_or_else(|| now.saturating_sub(lookback));
    Ok(Search::Query {
        query: SearchQuery {
            service,
            operation: text("operation"),
            tags,
            min_duration,
            max_duration,
        },
        window: (start, end),
        limit,
    })
}

async fn search(
    State(engine): State<Arc<JaegerEngine>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::from(query.as_deref(), &headers, &[]);
    let answer = async {
        let tenant = tenant(&headers)?;
        let found: Structured<Vec<Trace>> = match parse_search(&params, now_ns())? {
            Search::Ids(ids) => {
                let traces = engine.traces(&tenant, &ids).await?;
                let errors = ids
                    .iter()
                    .filter(|id| !traces.iter().any(|(found, _)| found == *id))
                    .map(|id| StructuredError {
                        code: None,
                        msg: "trace not found".into(),
                        trace_id: Some(trace_id_hex(id)),
                    })
                    .collect();
                Structured::traces(traces.into_iter().map(|(_, t)| t).collect(), errors)
            }
            Search::Query {
                query,
                window,
                limit,
            } => Structured::traces(
                engine.search(tenant, &query, window, limit).await?,
                Vec::new(),
            ),
        };
        Ok(found)
    };
    respond(&params, answer.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        Params::from(Some(query), &HeaderMap::new(), &[])
    }

    fn bad(query: &str) -> String {
        parse_search(&params(query), 0).unwrap_err().to_string()
    }

    #[test]
    fn search_parameters_read_as_jaeger_reads_them() {
        let now = 10 * SEARCH_LOOKBACK_NS;
        let Search::Query {
            query,
            window,
            limit,
        } = parse_search(
            &params(
                "service=cart&operation=GET&tags=%7B%22a%22%3A%22b%22%7D&tag=c:d\
                 &start=1000&end=2000&minDuration=1ms&maxDuration=1.5s&limit=7",
            ),
            now,
        )
        .unwrap()
        else {
            panic!("a query");
        };
        assert_eq!(window, (1_000_000, 2_000_999));
        assert_eq!(limit, 7);
        assert_eq!(query.service, "cart");
        assert_eq!(query.operation, "GET");
        assert_eq!(query.tags.len(), 2);
        assert_eq!(
            (query.min_duration, query.max_duration),
            (1_000_000, 1_500_000_000)
        );

        let Search::Query { window, limit, .. } =
            parse_search(&params("service=cart&lookback=2h"), now).unwrap()
        else {
            panic!("a query");
        };
        assert_eq!(window, (now - 2 * NS_PER_HOUR, now));
        assert_eq!(limit, DEFAULT_LIMIT);
        let Search::Query { window, .. } =
            parse_search(&params("service=cart&lookback=custom"), now).unwrap()
        else {
            panic!("a query");
        };
        assert_eq!(window, (now - SEARCH_LOOKBACK_NS, now));

        let Search::Ids(ids) = parse_search(&params("traceID=ab&traceID=cd"), now).unwrap() else {
            panic!("ids");
        };
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn bad_search_parameters_are_named_as_jaeger_names_them() {
        assert_eq!(bad(""), "parameter 'service' is required");
        assert_eq!(
            bad("service=s&start=abc"),
            r#"unable to parse param 'start': strconv.ParseInt: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            bad("service=s&minDuration=abc"),
            r#"unable to parse param 'minDuration': time: invalid duration "abc""#
        );
        assert_eq!(
            bad("service=s&limit=99999999999"),
            r#"unable to parse param 'limit': strconv.ParseInt: parsing "99999999999": value out of range"#
        );
        assert_eq!(
            bad("service=s&minDuration=2s&maxDuration=1s"),
            "'maxDuration' should be greater than 'minDuration'"
        );
        assert!(bad("service=s&maxDuration=-1s").contains("'maxDuration'"));
        assert!(bad("traceID=xyz").starts_with("cannot parse traceID param: "));
        assert!(bad("service=s&tag=x").starts_with("malformed 'tag' parameter"));
    }

    #[test]
    fn errors_are_jaegers_envelope() {
        let r = error(&Error::BadData("parameter 'service' is required".into()));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            r.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"text/plain; charset=utf-8"[..])
        );
        let r = error(&Error::Storage(storage::Error::Read("secret".into())));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = Structured::<Option<()>> {
            data: None,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![StructuredError {
                code: Some(400),
                msg: "m".into(),
                trace_id: None,
            }]),
        };
        assert_eq!(
            String::from_utf8(to_json(&body, false).unwrap()).unwrap(),
            r#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"m"}]}"#
        );
        assert!(String::from_utf8(to_json(&body, true).unwrap())
            .unwrap()
            .contains("\n    \"data\": null,"));
    }
}
