//! The checks of Prometheus's `RuleGroups.Validate` and `Rule.Validate`, worded as Prometheus
//! words them.

use std::collections::HashSet;

use super::model::{Language, NameValidation, Pos, Rule, RuleFile};
use common::template::Template;

/// Every error of a decoded file.
pub(super) fn validate(file: &RuleFile, names: NameValidation) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for g in &file.groups {
        if g.name.is_empty() {
            errors.push(format!("{}: Groupname must not be empty", g.pos));
        }
        if !seen.insert(&g.name) {
            errors.push(format!(
                "{}: groupname: \"{}\" is repeated in the same file",
                g.pos, g.name
            ));
        }
        for k in g.labels.keys() {
            if !label_name_ok(k, names) || k == "__name__" {
                errors.push(format!("invalid label name: {k}"));
            }
        }
        for (i, r) in g.rules.iter().enumerate() {
            let language = Language::of(r.language, g.language, &r.expr);
            for e in rule_errors(r, language, names) {
                let at = match (e.node, e.alt) {
                    (Some(n), Some(a)) => format!("{n}: {a}: "),
                    (Some(n), None) => format!("{n}: "),
                    _ => String::new(),
                };
                errors.push(format!(
                    "{at}group {:?}, rule {}, {:?}: {}",
                    g.name,
                    i + 1,
                    r.name(),
                    e.message
                ));
            }
        }
    }
    errors
}

/// An error of one rule, with the nodes Prometheus points at.
struct RuleError {
    message: String,
    node: Option<Pos>,
    alt: Option<Pos>,
}

fn at(node: Pos, message: impl Into<String>) -> RuleError {
    RuleError {
        message: message.into(),
        node: Some(node),
        alt: None,
    }
}

fn rule_errors(r: &Rule, language: Language, names: NameValidation) -> Vec<RuleError> {
    let mut out = Vec::new();
    let record = r.record.as_deref().unwrap_or("");
    let alert = r.alert.as_deref().unwrap_or("");
    if !record.is_empty() && !alert.is_empty() {
        out.push(RuleError {
            message: "only one of 'record' and 'alert' must be set".into(),
            node: Some(r.at.record),
            alt: Some(r.at.alert),
        });
    }
    if record.is_empty() && alert.is_empty() {
        out.push(RuleError {
            message: "one of 'record' or 'alert' must be set".into(),
            node: Some(r.at.record),
            alt: Some(r.at.alert),
        });
    }
    if r.expr.is_empty() {
        out.push(at(r.at.expr, "field 'expr' must be set in rule"));
    } else if language == Language::LogQl {
        match logql::parse(&r.expr) {
            Ok(logql::ast::Expr::Metric(_)) => {}
            Ok(logql::ast::Expr::Log(_)) => out.push(at(
                r.at.expr,
                "could not parse expression: a LogQL rule needs a metric query, not a log query",
            )),
            Err(e) => out.push(at(r.at.expr, format!("could not parse expression: {e}"))),
        }
    } else if language == Language::TraceQl {
        match traceql::parse_and_validate(&r.expr) {
            Ok(traceql::ast::Expr {
                query: traceql::ast::Query::Metrics(_),
                ..
            }) => {}
            Ok(_) => out.push(at(
                r.at.expr,
                "could not parse expression: a TraceQL rule needs a metrics query, not a search",
            )),
            Err(e) => out.push(at(r.at.expr, format!("could not parse expression: {e}"))),
        }
    } else if language != Language::PromQl {
        // SQL is planned when the rule is evaluated; a statement that does not plan is the
        // rule's error on the rules API.
    } else if let Err(e) = promql::parse(&r.expr) {
        out.push(at(
            r.at.expr,
            format!("could not parse expression: parse error: {e}"),
        ));
    }
    if !record.is_empty() {
        if !r.annotations.is_empty() {
            out.push(at(
                r.at.record,
                "invalid field 'annotations' in recording rule",
            ));
        }
        if !r.for_.is_zero() {
            out.push(at(r.at.record, "invalid field 'for' in recording rule"));
        }
        if !r.keep_firing_for.is_zero() {
            out.push(at(
                r.at.record,
                "invalid field 'keep_firing_for' in recording rule",
            ));
        }
        if !metric_name_ok(record, names) {
            out.push(at(
                r.at.record,
                format!("invalid recording rule name: {record}"),
            ));
        }
        // A valid UTF-8 name, but most likely a selector put where the name goes.
        if record.contains(['{', '}']) {
            out.push(at(
                r.at.record,
                format!(
                    "braces present in the recording rule name; should it be in expr?: {record}"
                ),
            ));
        }
    }
    for k in r.labels.keys() {
        if !label_name_ok(k, names) || k == "__name__" {
            out.push(RuleError {
                message: format!("invalid label name: {k}"),
                node: None,
                alt: None,
            });
        }
    }
    for k in r.annotations.keys() {
        if !label_name_ok(k, names) {
            out.push(RuleError {
                message: format!("invalid annotation name: {k}"),
                node: None,
                alt: None,
            });
        }
    }
    // Labels and annotations of alerting rules are templates, checked as Prometheus's
    // `testTemplateParsing` does.
    if !alert.is_empty() {
        let name = format!("__alert_{alert}");
        for (what, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for (k, v) in map {
                if let Err(e) = Template::parse(&name, v) {
                    out.push(RuleError {
                        message: format!("{what} {k:?}: {e}"),
                        node: None,
                        alt: None,
                    });
                }
            }
        }
    }
    out
}

/// Prometheus's `LabelName.IsValid` under `names`.
pub(super) fn label_name_ok(name: &str, names: NameValidation) -> bool {
    match names {
        NameValidation::Utf8 => !name.is_empty(),
        NameValidation::Legacy => legacy_name(name, false),
    }
}

/// Prometheus's `IsValidMetricName` under `names`.
fn metric_name_ok(name: &str, names: NameValidation) -> bool {
    match names {
        NameValidation::Utf8 => !name.is_empty(),
        NameValidation::Legacy => legacy_name(name, true),
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, with `:` allowed anywhere when `colons`.
fn legacy_name(name: &str, colons: bool) -> bool {
    let ok = |c: u8, first: bool| {
        c.is_ascii_alphabetic()
            || c == b'_'
            || (colons && c == b':')
            || (!first && c.is_ascii_digit())
    };
    !name.is_empty() && name.bytes().enumerate().all(|(i, c)| ok(c, i == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names_are_identifiers_and_metric_names_may_hold_colons() {
        assert!(legacy_name("job_instance", false));
        assert!(!legacy_name("ins-tance", false));
        assert!(!legacy_name("1abc", false));
        assert!(!legacy_name("a:b", false));
        assert!(legacy_name("job:rate5m:sum", true));
        assert!(!legacy_name("", true));
    }

    #[test]
    fn languages_are_told_apart_by_parsing() {
        let of = |expr: &str| Language::of(None, None, expr);
        assert_eq!(of("sum(rate(x[5m])) > 1"), Language::PromQl);
        assert_eq!(
            of(r#"sum(count_over_time({app="a"} |= "e" [1m]))"#),
            Language::LogQl
        );
        assert_eq!(
            of("{ status = error } | rate() by (resource.service.name) > 1"),
            Language::TraceQl
        );
        // What none parses stays PromQL, whose parser reports the error.
        assert_eq!(of("{ status = error }"), Language::PromQl);
        assert_eq!(
            Language::of(None, Some(Language::TraceQl), "x"),
            Language::TraceQl
        );
        assert_eq!(Language::from_name("TraceQL"), Some(Language::TraceQl));
    }
}
