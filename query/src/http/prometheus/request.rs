//! What the Prometheus API's handlers share: the error answer, and the parameters they read
//! (`query`, `match[]`, `limit`, `timeout`).

use axum::response::Response;
use promql::label::Matcher;

use crate::http::kit::{error_response, Params};
use crate::prometheus::PromEngine;
use crate::{Error, Result};

/// The API's name in request metrics and logs.
pub(super) const API: &str = "prometheus";

/// The response to `answer`: itself, or its error as Prometheus answers errors.
pub(super) fn reply(answer: Result<Response>) -> Response {
    answer.unwrap_or_else(|e| error_response(API, &e))
}

/// The parsed `query` parameter, or Prometheus's `bad_data` answer.
pub(super) fn query_param(params: &Params) -> Result<promql::Query> {
    let text = params
        .get("query")
        .ok_or_else(|| Error::BadData("invalid parameter \"query\": query is empty".into()))?;
    promql::parse(text).map_err(|e| Error::BadData(format!("invalid parameter \"query\": {e}")))
}

/// The evaluation options of a request: the engine's, with the request's `timeout`.
pub(super) fn options(engine: &PromEngine, params: &Params) -> Result<promql::Options> {
    let mut options = engine.limits().options.clone();
    options.timeout = params.timeout(options.timeout)?;
    Ok(options)
}

/// The matchers of each `match[]` parameter.
pub(super) fn match_params(params: &Params) -> Result<Vec<Vec<Matcher>>> {
    let mut out = Vec::new();
    for m in params.all("match[]") {
        let q = promql::parse(m)
            .map_err(|e| Error::BadData(format!("invalid parameter \"match[]\": {e}")))?;
        let promql::ast::Expr::VectorSelector(vs) = q.expr else {
            return Err(Error::BadData(format!(
                "invalid parameter \"match[]\": {m} is not a series selector"
            )));
        };
        out.push(promql::selector_matchers(&vs));
    }
    Ok(out)
}

/// The `limit` parameter (none, empty or 0: no limit).
pub(super) fn limit_of(params: &Params) -> Result<usize> {
    match params.get("limit") {
        None | Some("") | Some("0") => Ok(usize::MAX),
        Some(s) => s.parse::<usize>().map_err(|_| {
            Error::BadData(format!("invalid parameter \"limit\": cannot parse \"{s}\""))
        }),
    }
}
