//! Tempo's search without TraceQL (`/api/search?tags=…&minDuration=…&maxDuration=…`), as
//! the TraceQL query it means: each `key=value` of the logfmt `tags` is a span or resource
//! attribute equal to the value (an integer value also matches the integer attribute, as
//! Tempo's dedicated integer columns do), `name` and `status.code` are the intrinsics, and the
//! durations bound the trace's duration (`traceDuration`), as Tempo's block search does.

use crate::logfmt::LogfmtError;
use crate::{Error, Result};

/// The TraceQL query of a search by `tags` (logfmt) and trace durations (Go's duration text,
/// e.g. `100ms`); `{}` when every part is empty.
pub(crate) fn query(tags: &str, min: Option<&str>, max: Option<&str>) -> Result<String> {
    let mut terms = Vec::new();
    for (key, value) in logfmt(tags)? {
        terms.push(tag_term(&key, &value));
    }
    for (name, op, text) in [("minDuration", ">=", min), ("maxDuration", "<=", max)] {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            continue;
        };
        let term = format!("traceDuration {op} {text}");
        // The parser reads Go's durations; anything else is named as the parameter it came in.
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
            || traceql::parse(&format!("{{ {term} }}")).is_err()
        {
            return Err(Error::BadData(format!(
                "invalid {name} {text:?}: want a duration such as 100ms or 1.5s"
            )));
        }
        terms.push(term);
    }
    if terms.is_empty() {
        return Ok("{}".to_string());
    }
    Ok(format!("{{ {} }}", terms.join(" && ")))
}

/// One tag as a TraceQL condition.
fn tag_term(key: &str, value: &str) -> String {
    let quoted = common::go::quote(value);
    match key {
        "name" => format!("name = {quoted}"),
        "status.code" => match value.to_ascii_lowercase().as_str() {
            "ok" | "1" | "status_code_ok" => "status = ok".to_string(),
            "error" | "2" | "status_code_error" => "status = error".to_string(),
            "unset" | "0" | "status_code_unset" => "status = unset".to_string(),
            _ => "false".to_string(),
        },
        _ => {
            let field = format!(".\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
            match value.parse::<i64>() {
                Ok(n) => format!("({field} = {quoted} || {field} = {n})"),
                Err(_) => format!("{field} = {quoted}"),
            }
        }
    }
}

/// The pairs of the logfmt `tags` parameter (keys may not hold quotes).
fn logfmt(text: &str) -> Result<Vec<(String, String)>> {
    crate::logfmt::pairs(text, false).map_err(|e| {
        let why = match e {
            LogfmtError::Unclosed => "a quoted value is not closed",
            LogfmtError::NoKey => "a value without a key",
            LogfmtError::QuoteInKey => "a key cannot hold a quote",
        };
        Error::BadData(format!("invalid tags {text:?}: {why}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_durations_become_one_spanset_filter() {
        let q = query(
            r#"service.name=cart http.status_code=500 msg="a \"b\" c" name=GET"#,
            Some("100ms"),
            Some("2s"),
        )
        .unwrap();
        assert_eq!(
            q,
            r#"{ ."service.name" = "cart" && (."http.status_code" = "500" || ."http.status_code" = 500) && ."msg" = "a \"b\" c" && name = "GET" && traceDuration >= 100ms && traceDuration <= 2s }"#
        );
        traceql::parse_and_validate(&q).unwrap();
        assert_eq!(query("", None, Some(" ")).unwrap(), "{}");
        assert_eq!(
            query("status.code=error", None, None).unwrap(),
            "{ status = error }"
        );
    }

    #[test]
    fn bad_parts_are_named() {
        let e = query("", Some("10 parsecs"), None).unwrap_err().to_string();
        assert!(e.contains("minDuration"), "{e}");
        let e = query("", None, Some("1s }||{ true"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("maxDuration"), "{e}");
        let e = query(r#"a="open"#, None, None).unwrap_err().to_string();
        assert!(e.contains("not closed"), "{e}");
        let e = query("=x", None, None).unwrap_err().to_string();
        assert!(e.contains("without a key"), "{e}");
    }
}
