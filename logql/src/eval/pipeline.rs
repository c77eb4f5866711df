//! A log pipeline run on one line: line filters, parsers (`json`, `logfmt`, `regexp`,
//! `pattern`, `unpack`), label filters, formatting, `drop` and `keep`, as Loki runs them. Labels
//! a stage adds that a stream label or structured metadata already holds go to
//! `<name>_extracted`; a stage that fails sets `__error__` (and `__error_details__`).

use common::template::{Dialect, Template, Value};
use regex::Regex;

use super::error::EvalError;
use super::filter::{anchored, compile_filter, ip_pattern, set_error, Filter, IpPattern};
use super::json::{self, Json};
use super::model::{line_labels, Labels, ERROR};
use super::parsers::{
    decolorize, flatten, json_path, logfmt, pattern, pattern_match, sanitize, PatternPart,
};
use crate::ast::*;

/// A pipeline made ready to run: regular expressions compiled, patterns split.
#[derive(Debug)]
pub(crate) struct Pipeline {
    stages: Vec<Compiled>,
    /// When set, the only labels `json` and `logfmt` (without extractions) need to add: those
    /// the query keeps and the later stages read (Loki's parser hints).
    wanted: Option<std::collections::BTreeSet<String>>,
}

/// The label names `f` reads.
pub(crate) fn label_filter_names(f: &LabelFilter, out: &mut Vec<String>) {
    match f {
        LabelFilter::Matcher(m) => out.push(m.name.clone()),
        LabelFilter::Ip { name, .. }
        | LabelFilter::Duration { name, .. }
        | LabelFilter::Bytes { name, .. }
        | LabelFilter::Number { name, .. } => out.push(name.clone()),
        LabelFilter::And(a, b) | LabelFilter::Or(a, b) => {
            label_filter_names(a, out);
            label_filter_names(b, out);
        }
    }
}

#[derive(Debug)]
enum LineValue {
    Text(String, Option<Regex>),
    Pattern(Vec<PatternPart>),
    Ip(IpPattern),
}

#[derive(Debug)]
enum Compiled {
    Line(FilterOp, Vec<LineValue>),
    Json(Vec<Extraction>),
    Logfmt {
        strict: bool,
        keep_empty: bool,
        extractions: Vec<Extraction>,
    },
    Regexp(Regex),
    Pattern(Vec<PatternPart>),
    Unpack,
    Labels(Filter),
    LineFormat(Template),
    LabelFormat(Vec<(String, Format)>),
    Decolorize,
    Drop(Vec<Selection>),
    Keep(Vec<Selection>),
}

/// What a `label_format` entry sets its label to.
#[derive(Debug)]
enum Format {
    Rename(String),
    Template(Template),
}

#[derive(Debug)]
enum Selection {
    Name(String),
    Matcher(String, MatchOp, String, Option<Regex>),
}

fn unanchored(re: &str) -> Result<Regex, EvalError> {
    Regex::new(re).map_err(|e| EvalError::Invalid(format!("error parsing regexp: {e}")))
}

/// Adds a parsed label: to `<name>_extracted` when the name is taken already.
pub(crate) fn add(labels: &mut Labels, key: String, value: String) {
    if labels.contains_key(&key) {
        labels.insert(format!("{key}_extracted"), value);
    } else {
        labels.insert(key, value);
    }
}

impl Pipeline {
    /// `stages` made ready to run; a regular expression or pattern that does not compile
    /// is an error.
    pub(crate) fn new(stages: &[Stage]) -> Result<Self, EvalError> {
        let mut out = Vec::new();
        for s in stages {
            out.push(match s {
                Stage::Line(l) => {
                    let mut values = Vec::new();
                    for v in &l.values {
                        values.push(match (v, l.op) {
                            (FilterValue::Ip(p), FilterOp::Contains | FilterOp::NotContains) => {
                                LineValue::Ip(ip_pattern(p)?)
                            }
                            (FilterValue::Ip(_), _) => {
                                return Err(EvalError::Invalid(
                                    "ip: invalid operation: ip() is only allowed with |= and !=".into(),
                                ))
                            }
                            (FilterValue::Text(t), FilterOp::Match | FilterOp::NotMatch) => {
                                LineValue::Text(t.clone(), Some(unanchored(t)?))
                            }
                            (FilterValue::Text(t), FilterOp::Pattern | FilterOp::NotPattern) => {
                                let parts = pattern(t)?;
                                if parts.iter().any(|p| matches!(p, PatternPart::Capture(Some(_)))) {
                                    return Err(EvalError::Invalid(format!(
                                        "invalid pattern {t:?}: named captures are not allowed in a line filter"
                                    )));
                                }
                                LineValue::Pattern(parts)
                            }
                            (FilterValue::Text(t), _) => LineValue::Text(t.clone(), None),
                        });
                    }
                    Compiled::Line(l.op, values)
                }
                Stage::Json(e) => {
                    for x in e {
                        if let Some(path) = &x.expression {
                            if path.matches('[').count() != path.matches(']').count() || path.ends_with('.') {
                                return Err(EvalError::Invalid(format!(
                                    "cannot parse expression [{path}]: syntax error"
                                )));
                            }
                        }
                    }
                    Compiled::Json(e.clone())
                }
                Stage::Logfmt {
                    strict,
                    keep_empty,
                    extractions,
                } => Compiled::Logfmt {
                    strict: *strict,
                    keep_empty: *keep_empty,
                    extractions: extractions.clone(),
                },
                Stage::Regexp(r) => {
                    let re = Regex::new(r).map_err(|e| {
                        let text = e.to_string();
                        if text.contains("duplicate capture group name") {
                            EvalError::Invalid("duplicate extracted label name".into())
                        } else {
                            EvalError::Invalid(format!("error parsing regexp: {text}"))
                        }
                    })?;
                    if re.capture_names().flatten().next().is_none() {
                        return Err(EvalError::Invalid(
                            "at least one named capture must be supplied".into(),
                        ));
                    }
                    Compiled::Regexp(re)
                }
                Stage::Pattern(p) => {
                    let parts = pattern(p)?;
                    if !parts.iter().any(|p| matches!(p, PatternPart::Capture(Some(_)))) {
                        return Err(EvalError::Invalid(
                            "at least one capture is required".into(),
                        ));
                    }
                    Compiled::Pattern(parts)
                }
                Stage::Unpack => Compiled::Unpack,
                Stage::Labels(f) => Compiled::Labels(compile_filter(f)?),
                Stage::LineFormat(t) => Compiled::LineFormat(template(t)?),
                Stage::LabelFormat(list) => {
                    let mut out = Vec::new();
                    for l in list {
                        out.push((
                            l.name.clone(),
                            match &l.value {
                                LabelFormatValue::Rename(src) => Format::Rename(src.clone()),
                                LabelFormatValue::Template(t) => Format::Template(template(t)?),
                            },
                        ));
                    }
                    Compiled::LabelFormat(out)
                }
Stage::Decolorize => Compiled::Decolorize,
                Stage::Drop(list) | Stage::Keep(list) => {
                    let mut sel = Vec::new();
                    for s in list {
                        sel.push(match s {
                            LabelSelection::Name(n) => Selection::Name(n.clone()),
                            LabelSelection::Matcher(m) => {
                                let re = match m.op {
                                    MatchOp::Re | MatchOp::Nre => Some(anchored(&m.value)?),
                                    _ => None,
                                };
                                Selection::Matcher(m.name.clone(), m.op, m.value.clone(), re)
                            }
                        });
                    }
                    if matches!(s, Stage::Drop(_)) {
                        Compiled::Drop(sel)
                    } else {
                        Compiled::Keep(sel)
                    }
                }
            });
        }
        Ok(Pipeline {
            stages: out,
            wanted: None,
        })
    }

    /// [`Pipeline::new`], with parsers adding only the labels in `needed` and those the stages
    /// read, when every stage's reads are known (filters and parsers only: templates, `drop`,
    /// `keep` and `unpack` may read or keep any label, and leave every label parsed).
    pub(crate) fn with_hints(stages: &[Stage], needed: &[String]) -> Result<Self, EvalError> {
        let mut pipeline = Self::new(stages)?;
        let mut names: Vec<String> = needed.to_vec();
        for s in stages {
            match s {
                Stage::Labels(f) => label_filter_names(f, &mut names),
                Stage::Line(_)
                | Stage::Json(_)
                | Stage::Logfmt { .. }
                | Stage::Regexp(_)
                | Stage::Pattern(_)
                | Stage::Decolorize => {}
                Stage::Unpack
                | Stage::LineFormat(_)
                | Stage::LabelFormat(_)
                | Stage::Drop(_)
                | Stage::Keep(_) => return Ok(pipeline),
            }
        }
        // A parsed name that collides comes back with `_extracted`.
        let stripped: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_suffix("_extracted").map(str::to_string))
            .collect();
        pipeline.wanted = Some(names.into_iter().chain(stripped).collect());
        Ok(pipeline)
    }

    fn wants(&self, name: &str) -> bool {
        self.wanted.as_ref().is_none_or(|w| w.contains(name))
    }

    /// Runs the pipeline on `line` of a stream with `labels` and `metadata`: the labels and
    /// line it ends with, or `None` when a filter drops the line.
    pub(crate) fn run(
        &self,
        labels: &Labels,
        metadata: &[(String, String)],
        line: &str,
        ts: i64,
    ) -> Option<(Labels, String)> {
        // An empty label is no label (a stream `{app="s", name=""}` is `{app="s"}`).
        let mut labels = line_labels(labels, metadata);
        let mut line = line.to_string();
        for s in &self.stages {
            match s {
                Compiled::Line(op, values) => {
                    let hit = |v: &LineValue| match v {
                        LineValue::Text(t, None) => line.contains(t.as_str()),
                        LineValue::Text(_, Some(re)) => re.is_match(&line),
                        LineValue::Pattern(p) => pattern_match(p, &line).1,
                        LineValue::Ip(p) => p.in_line(&line),
                    };
                    let pass = match op {
                        FilterOp::Contains | FilterOp::Match | FilterOp::Pattern => {
                            values.iter().any(hit)
                        }
                        FilterOp::NotContains | FilterOp::NotMatch | FilterOp::NotPattern => {
                            !values.iter().any(hit)
                        }
                    };
                    if !pass {
                        return None;
                    }
                }
                Compiled::Json(extractions) => {
                    if labels.contains_key(ERROR) {
                        continue;
                    }
                    match json::parse(&line) {
                        Ok(Json::Object(fields)) => {
                            if extractions.is_empty() {
                                let mut found = Vec::new();
                                flatten("", &fields, &mut found);
                                // A key given twice keeps its first value.
                                let mut seen = std::collections::BTreeSet::new();
                                for (k, v) in found {
                                    if seen.insert(k.clone()) && self.wants(&k) {
                                        add(&mut labels, k, v);
                                    }
                                }
                            } else {
                                for e in extractions {
                                    let path =
                                        e.expression.clone().unwrap_or_else(|| e.name.clone());
                                    let v = json_path(&Json::Object(fields.clone()), &path);
                                    add(&mut labels, e.name.clone(), v.unwrap_or_default());
                                }
                            }
                        }
                        Ok(_) => set_error(
                            &mut labels,
                            "JSONParserErr",
                            "Value is not an object".into(),
                        ),
                        Err(e) => set_error(&mut labels, "JSONParserErr", e),
                    }
                }
                Compiled::Logfmt {
                    strict,
                    keep_empty,
                    extractions,
                } => {
                    if labels.contains_key(ERROR) {
                        continue;
                    }
                    match logfmt(&line, *strict) {
                        Ok(pairs) => {
                            let mut seen = std::collections::BTreeSet::new();
                            if extractions.is_empty() {
                                for (k, v) in pairs {
                                    let k = sanitize(&k);
                                    if (v.is_empty() && !keep_empty) || !seen.insert(k.clone()) {
                                        continue;
                                    }
                                    if self.wants(&k) {
                                        add(&mut labels, k, v);
                                    }
                                }
                            } else {
                                for e in extractions {
                                    let key =
                                        e.expression.clone().unwrap_or_else(|| e.name.clone());
                                    if let Some((_, v)) = pairs.iter().find(|(k, _)| *k == key) {
                                        add(&mut labels, e.name.clone(), v.clone());
                                    }
                                }
                            }
                        }
                        Err(e) => set_error(&mut labels, "LogfmtParserErr", e),
                    }
                }
                Compiled::Regexp(re) => {
                    if let Some(c) = re.captures(&line) {
                        let found: Vec<(String, String)> = re
                            .capture_names()
                            .flatten()
                            .filter_map(|n| {
                                c.name(n).map(|m| (sanitize(n), m.as_str().to_string()))
                            })
                            .collect();
                        for (k, v) in found {
                            add(&mut labels, k, v);
                        }
                    }
                }
                Compiled::Pattern(parts) => {
                    let found: Vec<(String, String)> = pattern_match(parts, &line)
                        .0
                        .into_iter()
                        .filter_map(|(v, n)| n.map(|n| (n.clone(), v.to_string())))
                        .collect();
                    for (k, v) in found {
                        add(&mut labels, k, v);
                    }
                }
                Compiled::Unpack => {
                    if labels.contains_key(ERROR) {
                        continue;
                    }
                    match json::parse(&line) {
                        Ok(Json::Object(fields)) => {
                            let mut entry = None;
                            for (k, v) in fields {
                                if let Json::Str(s) = v {
                                    if k == "_entry" {
                                        entry = Some(s);
                                    } else {
                                        add(&mut labels, sanitize(&k), s);
                                    }
                                }
                            }
                            if let Some(e) = entry {
                                line = e;
                            }
                        }
                        Ok(_) => set_error(
                            &mut labels,
                            "JSONParserErr",
                            "Value is not an object".into(),
                        ),
                        Err(e) => set_error(&mut labels, "JSONParserErr", e),
                    }
                }
                Compiled::Labels(f) => {
                    if !f.test(&mut labels) {
                        return None;
                    }
                }
                Compiled::LineFormat(t) => match render(t, &labels, &line, ts) {
                    Ok(l) => line = l,
                    Err(e) => set_error(&mut labels, "TemplateFormatErr", e),
                },
                Compiled::LabelFormat(list) => {
                    let before = labels.clone();
                    for (name, f) in list {
                        match f {
                            Format::Rename(src) => {
                                let v = before.get(src).cloned().unwrap_or_default();
                                labels.remove(src);
                                labels.insert(name.clone(), v);
                            }
                            Format::Template(t) => match render(t, &before, &line, ts) {
                                Ok(v) => {
                                    labels.insert(name.clone(), v);
                                }
                                Err(e) => set_error(&mut labels, "TemplateFormatErr", e),
                            },
                        }
                    }
                }
                Compiled::Decolorize => line = decolorize(&line),
                Compiled::Drop(sel) => {
                    labels.retain(|k, v| !sel.iter().any(|s| s.selects(k, v)));
                }
                Compiled::Keep(sel) => {
                    labels.retain(|k, v| sel.iter().any(|s| s.selects(k, v)));
                }
            }
        }
        Some((labels, line))
    }
}

impl Selection {
    fn selects(&self, k: &str, v: &str) -> bool {
        match self {
            Selection::Name(n) => n == k,
            Selection::Matcher(n, op, value, re) => {
                n == k
                    && match op {
                        MatchOp::Eq => v == value,
                        MatchOp::Neq => v != value,
                        MatchOp::Re => re.as_ref().is_some_and(|r| r.is_match(v)),
                        MatchOp::Nre => !re.as_ref().is_some_and(|r| r.is_match(v)),
                    }
            }
        }
    }
}

/// A `line_format` or `label_format` template, parsed with Loki's functions.
fn template(text: &str) -> Result<Template, EvalError> {
    Template::parse_as("", text, Dialect::Loki).map_err(EvalError::Invalid)
}

/// `t` rendered for a line: its labels as `.`, `__line__` and `__timestamp__` at hand.
fn render(t: &Template, labels: &Labels, line: &str, ts: i64) -> Result<String, String> {
    let data = Value::labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    t.render(
        &data,
        &[
            ("$__line__", Value::Str(line.to_string())),
            ("$__timestamp__", Value::Time(ts, None)),
        ],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_log;

    fn run(query: &str, line: &str) -> Option<(Labels, String)> {
        let log = parse_log(query).expect("query");
        let p = Pipeline::new(&log.pipeline).expect("pipeline");
        let labels: Labels = [("app".to_string(), "api".to_string())].into();
        p.run(&labels, &[], line, 1_700_000_000_123_000_000)
    }

    #[test]
    fn line_and_label_format_render_lokis_templates() {
        let (_, line) = run(
            r#"{app="api"} | logfmt | line_format `{{.level | ToUpper}} {{ .path | trunc 4 }} {{ __line__ | len }} {{ regexReplaceAll "(\\d+)ms" .took "${1}" }}`"#,
            "level=warn path=/api/users took=15ms",
        )
        .expect("kept");
        assert_eq!(line, "WARN /api 36 15");
        let (labels, _) = run(
            r#"{app="api"} | logfmt | label_format dst=level, msg="{{ .app }}:{{ TrimSuffix .took \"ms\" }}", at="{{ __timestamp__ | unixEpochMillis }}""#,
            "level=warn took=15ms",
        )
        .expect("kept");
        assert_eq!(labels.get("dst").map(String::as_str), Some("warn"));
        assert!(!labels.contains_key("level"), "renamed away");
        assert_eq!(labels.get("msg").map(String::as_str), Some("api:15"));
        assert_eq!(labels.get("at").map(String::as_str), Some("1700000000123"));
        // A template that fails at run time marks the line, as Loki does.
        let (labels, _) = run(r#"{app="api"} | line_format "{{ div 1 0 }}""#, "x").expect("kept");
        assert_eq!(
            labels.get(ERROR).map(String::as_str),
            Some("TemplateFormatErr")
        );
        // A template naming no function Loki has is refused before any line is read.
        let log = parse_log(r#"{app="api"} | line_format "{{ nosuch .x }}""#).expect("parses");
        assert!(Pipeline::new(&log.pipeline).is_err());
    }
}
