//! Answers: the Prometheus-style success envelope (`{"status":"success","data":…}` with
//! `warnings` and `infos`) and the one place where an [`Error`] becomes a response: its HTTP
//! status and `{"status":"error","errorType":…,"error":…}`, internal detail logged instead of
//! sent. The response carries its [`ErrorType`] for the request metrics.

use std::fmt::Write as _;

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::ErrorCode;

use crate::Error;

/// The `errorType` of an error response, kept in its extensions for the request metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ErrorType(pub(crate) &'static str);

/// `{"status":"success","data":<data>}`; `data` is JSON already.
pub fn success(data: &str) -> Response {
    success_with(data, &[], &[])
}

/// The success envelope with PromQL's `warnings` and `infos` annotations (left out when
/// empty).
pub(crate) fn success_with(data: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut body = String::with_capacity(data.len() + 32);
    body.push_str(r#"{"status":"success","data":"#);
    body.push_str(data);
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|w| json_str(w)).collect();
            let _ = write!(body, r#","{key}":[{}]"#, items.join(","));
        }
    }
    body.push('}');
    json(StatusCode::OK, body)
}

/// A JSON response.
pub fn json(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body.into()).into_response()
}

/// The response to `e` from API `api`: status by its class, body with its `errorType`.
pub fn error_response(api: &'static str, e: &Error) -> Response {
    let code = e.code();
    if code == ErrorCode::Internal {
        tracing::error!(error = %e, api, "query failed");
    }
    let kind = e.error_type();
    let status = match kind {
        "timeout" | "canceled" => StatusCode::SERVICE_UNAVAILABLE,
        _ => code.http_status(),
    };
    let body = format!(
        r#"{{"status":"error","errorType":"{kind}","error":{}}}"#,
        json_str(&e.client_message())
    );
    let mut response = json(status, body);
    response.extensions_mut().insert(ErrorType(kind));
    response
}

/// `s` as a JSON string.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_json_str(&mut out, s);
    out
}

/// Appends `s` as a JSON string.
pub(crate) fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An error as Loki and Tempo answer it (Go's `http.Error`): the status by its class, the
/// message in plain text and a newline; internal detail logged instead of sent.
pub(crate) fn text_error(api: &'static str, e: &Error) -> Response {
    let status = match e.code() {
        ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, api, "query failed");
    }
    (status, format!("{}\n", e.client_message())).into_response()
}

/// A handler's answer in Loki's or Tempo's way: its JSON, or [`text_error`].
pub(crate) fn json_or_text_error(
    api: &'static str,
    answer: crate::Result<serde_json::Value>,
) -> Response {
    match answer {
        Ok(body) => json(StatusCode::OK, body.to_string()),
        Err(e) => text_error(api, &e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn errors_map_to_status_and_type_in_one_place() {
        let cases = [
            (Error::BadData("bad".into()), 400, "bad_data"),
            (
                Error::Promql(promql::QueryError::Execution("x".into())),
                422,
                "execution",
            ),
            (Error::Timeout(Duration::from_secs(1)), 503, "timeout"),
            (Error::Promql(promql::QueryError::Canceled), 503, "canceled"),
            (
                Error::Storage(storage::Error::Read("secret /path".into())),
                500,
                "internal",
            ),
        ];
        for (e, status, kind) in cases {
            let r = error_response("test", &e);
            assert_eq!(r.status().as_u16(), status, "{e}");
            assert_eq!(r.extensions().get::<ErrorType>(), Some(&ErrorType(kind)));
        }
    }

    #[test]
    fn json_strings_escape_what_json_requires() {
        let s = "a\"b\\c\n\u{1}é";
        let parsed: String = serde_json::from_str(&json_str(s)).unwrap();
        assert_eq!(parsed, s);
    }
}
