//! A Jaeger trace search as the TraceQL spanset filter it means, and the forms of Jaeger's
//! query parameters (`cmd/query/app/query_parser.go`): tags, Go durations and trace ids.
//!
//! Jaeger finds a trace when one of its spans has the service, the operation, every tag and a
//! duration within the bounds; so does `{ c1 && c2 && … }`:
//!
//! | parameter | condition |
//! |---|---|
//! | `service` | `resource.service.name = "s"` |
//! | `operation` | `name = "o"` |
//! | a tag `k: v` | `."k" = "v"`, or the number or boolean `v` is written as |
//! | `error: true` / `false` | also `status = error` / `status != error` |
//! | `span.kind`, `otel.status_code`, `otel.status_description`, `otel.scope.name`, `otel.scope.version` | also the intrinsic the translator writes the tag from (`kind`, `status`, `statusMessage`, `instrumentation:name`, `instrumentation:version`) |
//! | `minDuration`, `maxDuration` | `duration >= …`, `duration <= …` |
//!
//! Jaeger also matches tags against the fields of span logs; this search does not.

use std::collections::BTreeMap;

use common::go::quote;

use crate::logfmt::LogfmtError;
use crate::{Error, Result};

/// What a Jaeger search asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SearchQuery {
    /// The service (`service`), required.
    pub(crate) service: String,
    /// The operation (`operation`), any when empty.
    pub(crate) operation: String,
    /// Tags every matching span has (`tag`, `tags`).
    pub(crate) tags: BTreeMap<String, String>,
    /// The shortest span duration, ns (`minDuration`), none when 0.
    pub(crate) min_duration: i64,
    /// The longest span duration, ns (`maxDuration`), none when 0.
    pub(crate) max_duration: i64,
}

impl SearchQuery {
    /// The TraceQL query of this search.
    pub(crate) fn traceql(&self) -> String {
        let mut terms = vec![format!("resource.service.name = {}", quote(&self.service))];
        if !self.operation.is_empty() {
            terms.push(format!("name = {}", quote(&self.operation)));
        }
        terms.extend(self.tags.iter().map(|(k, v)| tag_term(k, v)));
        if self.min_duration > 0 {
            terms.push(format!("duration >= {}ns", self.min_duration));
        }
        if self.max_duration > 0 {
            terms.push(format!("duration <= {}ns", self.max_duration));
        }
        format!("{{ {} }}", terms.join(" && "))
    }
}

/// One tag as a condition on a span: the attribute, or what the translator wrote it from.
fn tag_term(key: &str, value: &str) -> String {
    let attribute = attribute_term(key, value);
    let intrinsic = match (key, value) {
        ("error", "true") => Some("status = error".to_string()),
        ("error", "false") => Some("status != error".to_string()),
        ("span.kind", kind) if super::model::kind_number(kind).is_some() => {
            Some(format!("kind = {kind}"))
        }
        ("otel.status_code", "OK") => Some("status = ok".to_string()),
        ("otel.status_code", "ERROR") => Some("status = error".to_string()),
        ("otel.status_description", text) => Some(format!("statusMessage = {}", quote(text))),
        ("otel.scope.name", text) => Some(format!("instrumentation:name = {}", quote(text))),
        ("otel.scope.version", text) => Some(format!("instrumentation:version = {}", quote(text))),
        _ => None,
    };
    match intrinsic {
        Some(i) => format!("({i} || {attribute})"),
        None => attribute,
    }
}

/// Attribute `key` (of the span or its resource) equal to `value` as text, or to the number or
/// boolean the text writes (Jaeger compares a tag's text, whatever its type).
fn attribute_term(key: &str, value: &str) -> String {
    let field = format!(".\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
    let mut alternatives = vec![format!("{field} = {}", quote(value))];
    if is_number(value) || value == "true" || value == "false" {
        alternatives.push(format!("{field} = {value}"));
    }
    if alternatives.len() == 1 {
        alternatives.remove(0)
    } else {
        format!("({})", alternatives.join(" || "))
    }
}

/// Whether `text` is a decimal integer or fraction TraceQL reads as a number (`12`, `0.25`).
fn is_number(text: &str) -> bool {
    let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac)
}

/// The tags of a search: each `tag` a `key:value` (the value may hold colons), then each
/// `tags` a JSON object of strings (Jaeger UI sends one) or logfmt (`k=v k2="a b"`); a later
/// key wins, as in Jaeger.
pub(crate) fn parse_tags(simple: &[&str], objects: &[&str]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for tag in simple {
        let Some((key, value)) = tag.split_once(':') else {
            return Err(Error::BadData(format!(
                "malformed 'tag' parameter, expecting key:value, received: {tag}"
            )));
        };
        out.insert(key.to_string(), value.to_string());
    }
    for text in objects {
        let bad = |why: String| {
            Error::BadData(format!(
                "malformed 'tags' parameter, cannot unmarshal JSON: {why}"
            ))
        };
        if !text.trim_start().starts_with('{') {
            out.extend(logfmt(text).map_err(bad)?);
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        for (key, value) in object {
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(bad(format!(
                        "the value of {key:?} is not a string: {other}"
                    )))
                }
            };
            out.insert(key, value);
        }
    }
    Ok(out)
}

/// The pairs of a logfmt `tags` parameter (a key may hold quotes), or why not.
fn logfmt(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    crate::logfmt::pairs(text, true).map_err(|e| match e {
        // (Keys may hold quotes here, so a quote left open is the only quote error.)
        LogfmtError::Unclosed | LogfmtError::QuoteInKey => format!("unclosed quote in {text:?}"),
        LogfmtError::NoKey => format!("a value without a key in {text:?}"),
    })
}

pub(crate) use common::go::parse_duration as go_duration;

/// A trace id as Jaeger reads one (`model.TraceIDFromString`): up to 32 hex digits, with
/// Go's error text.
pub(crate) fn parse_trace_id(text: &str) -> std::result::Result<[u8; 16], String> {
    if text.len() > 32 {
        return Err(format!(
            "TraceID cannot be longer than 32 hex characters: {text}"
        ));
    }
    let parse = |part: &str| {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "strconv.ParseUint: parsing {}: invalid syntax",
                quote(part)
            ));
        }
        u64::from_str_radix(part, 16).map_err(|_| {
            format!(
                "strconv.ParseUint: parsing {}: value out of range",
                quote(part)
            )
        })
    };
    let split = text.len().saturating_sub(16);
    let (high, low) = if split > 0 && text.is_char_boundary(split) {
        (parse(&text[..split])?, parse(&text[split..])?)
    } else {
        (0, parse(text)?)
    };
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_one_spanset_filter_that_traceql_reads() {
        let q = SearchQuery {
            service: "checkout".into(),
            operation: "POST /cart".into(),
            tags: parse_tags(
                &["http.status_code:500"],
                &[r#"{"error":"true","span.kind":"server","msg":"a \"b\"","ratio":0.5}"#],
            )
            .unwrap(),
            min_duration: 1_500_000,
            max_duration: go_duration("2s").unwrap(),
        };
        let text = q.traceql();
        assert_eq!(
            text,
            r#"{ resource.service.name = "checkout" && name = "POST /cart" && (status = error || (."error" = "true" || ."error" = true)) && (."http.status_code" = "500" || ."http.status_code" = 500) && ."msg" = "a \"b\"" && (."ratio" = "0.5" || ."ratio" = 0.5) && (kind = server || ."span.kind" = "server") && duration >= 1500000ns && duration <= 2000000000ns }"#
        );
        traceql::parse_and_validate(&text).unwrap();
        let plain = SearchQuery {
            service: "s".into(),
            ..Default::default()
        };
        assert_eq!(plain.traceql(), r#"{ resource.service.name = "s" }"#);
        let intrinsics = SearchQuery {
            service: "s".into(),
            tags: parse_tags(
                &[
                    "otel.status_code:OK",
                    "otel.status_description:no: really",
                    "otel.scope.name:io.x",
                    "otel.scope.version:1.0",
                    "error:false",
                    "span.kind:sideways",
                ],
                &[],
            )
            .unwrap(),
            ..Default::default()
        };
        let text = intrinsics.traceql();
        assert!(text.contains(r#"statusMessage = "no: really""#), "{text}");
        assert!(text.contains("status != error"), "{text}");
        assert!(!text.contains("kind = sideways"), "{text}");
        traceql::parse_and_validate(&text).unwrap();
    }

    #[test]
    fn tags_come_as_jaeger_ui_and_people_write_them() {
        let tags = parse_tags(&["a:1", "a:2"], &["k=v x=\"y z\"", r#"{"a":"3"}"#]).unwrap();
        assert_eq!(
            tags.into_iter().collect::<Vec<_>>(),
            [("a", "3"), ("k", "v"), ("x", "y z")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let e = parse_tags(&["nocolon"], &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            "malformed 'tag' parameter, expecting key:value, received: nocolon"
        );
        for bad in [r#"{"a":"#, r#"{"a":[1]}"#, r#"a="open"#] {
            let e = parse_tags(&[], &[bad]).unwrap_err().to_string();
            assert!(
                e.starts_with("malformed 'tags' parameter, cannot unmarshal JSON: "),
                "{e}"
            );
        }
    }

    #[test]
    fn durations_read_as_go_reads_them() {
        for (text, ns) in [
            ("0", 0),
            ("1ns", 1),
            ("1.5h", 5_400_000_000_000),
            ("2h45m", 9_900_000_000_000),
            ("300ms", 300_000_000),
            ("-1.5s", -1_500_000_000),
            ("+10us", 10_000),
            ("7µs", 7_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
        ] {
            assert_eq!(go_duration(text), Ok(ns), "{text}");
        }
        assert_eq!(
            go_duration("abc"),
            Err(r#"time: invalid duration "abc""#.into())
        );
        assert_eq!(
            go_duration("10"),
            Err(r#"time: missing unit in duration "10""#.into())
        );
        assert_eq!(
            go_duration("10d"),
            Err(r#"time: unknown unit "d" in duration "10d""#.into())
        );
        for bad in ["", "-", ".", "s", "1..5s", "99999999999h"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trace_ids_read_as_jaeger_reads_them() {
        let mut want = [0u8; 16];
        want[15] = 0xab;
        assert_eq!(parse_trace_id("ab"), Ok(want));
        want[7] = 1;
        assert_eq!(parse_trace_id("100000000000000ab"), Ok(want));
        let full = "5b8efff798038103d269b633813fc60c";
        assert_eq!(parse_trace_id(full).map(hex::encode), Ok(full.to_string()));
        assert_eq!(
            parse_trace_id("xyz"),
            Err(r#"strconv.ParseUint: parsing "xyz": invalid syntax"#.into())
        );
        assert!(parse_trace_id(&"a".repeat(33))
            .unwrap_err()
            .starts_with("TraceID cannot be longer than 32 hex characters"));
        assert!(parse_trace_id("").is_err());
        assert!(parse_trace_id("ééééééééééé").is_err());
    }
}
