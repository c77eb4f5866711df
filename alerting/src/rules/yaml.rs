//! A rule file's YAML decoded into [`RuleFile`] as Go's `yaml.v3` decodes Prometheus's
//! `rulefmt.RuleGroups`: the first document only, anchors and aliases resolved, merge keys
//! (`<<`) applied, scalars kept as written (`expr: 1` is the text `1`), unknown fields and
//! values of the wrong kind collected into one "unmarshal errors" report with their lines.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use saphyr::{MarkedYaml, YamlData, YamlLoader};
use saphyr_parser::Parser;

use super::model::{Language, Rule, RuleFile, RuleGroup};

/// Decodes `text`; `Err` is the whole error report.
pub(super) fn decode(text: &str, ignore_unknown: bool) -> Result<RuleFile, String> {
    let mut parser = Parser::new_from_str(text);
    let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
    loader.early_parse(false);
    parser
        .load(&mut loader, true)
        .map_err(|e| format!("yaml: line {}: {}", e.marker().line(), e.info()))?;
    let documents = loader.into_documents();
    let Some(root) = documents.first() else {
        return Ok(RuleFile::default());
    };
    let mut decoder = Decoder {
        errors: Vec::new(),
        ignore_unknown,
    };
    let mut file = decoder.file(root);
    // lokitool's and mimirtool's files hold one namespace per document (`---`).
    for more in &documents[1..] {
        let next = decoder.file(more);
        file.groups.extend(next.groups);
    }
    if decoder.errors.is_empty() {
        Ok(file)
    } else {
        Err(format!(
            "yaml: unmarshal errors:\n  {}",
            decoder.errors.join("\n  ")
        ))
    }
}

use crate::yaml::{entries, is_null, kind, pos, scalar, untagged, Node};

struct Decoder {
    errors: Vec<String>,
    ignore_unknown: bool,
}

impl Decoder {
    fn type_error(&mut self, node: &Node<'_>, into: &str) {
        let line = pos(node).line;
        match scalar(node) {
            Some((text, _)) => self.errors.push(format!(
                "line {line}: cannot unmarshal {} `{text}` into {into}",
                kind(node)
            )),
            None => self.errors.push(format!(
                "line {line}: cannot unmarshal {} into {into}",
                kind(node)
            )),
        }
    }

    fn unknown(&mut self, key: &Node<'_>, name: &str, ty: &str) {
        if !self.ignore_unknown {
            self.errors.push(format!(
                "line {}: field {name} not found in type {ty}",
                pos(key).line
            ));
        }
    }

    /// The entries of a mapping of type `ty`, keyed by their names; nothing for null.
    fn fields<'n, 'a>(
        &mut self,
        node: &'n Node<'a>,
        ty: &str,
    ) -> Vec<(&'n str, &'n Node<'a>, &'n Node<'a>)> {
        if is_null(node) {
            return Vec::new();
        }
        let Some(entries) = entries(node) else {
            self.type_error(node, ty);
            return Vec::new();
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match scalar(k) {
                Some((name, _)) => out.push((name, k, v)),
                None => self.type_error(k, "string"),
            }
        }
        out
    }

    fn file(&mut self, root: &Node<'_>) -> RuleFile {
        let mut file = RuleFile::default();
        for (name, key, value) in self.fields(root, "rulefmt.RuleGroups") {
            match name {
                "groups" => file.groups = self.list(value, "[]rulefmt.RuleGroup", Self::group),
                // lokitool's and mimirtool's files name their namespace; the groups are what
                // counts here.
                "namespace" => {}
                _ => self.unknown(key, name, "rulefmt.RuleGroups"),
            }
        }
        file
    }

    fn list<T>(
        &mut self,
        node: &Node<'_>,
        ty: &str,
        mut item: impl FnMut(&mut Self, &Node<'_>) -> T,
    ) -> Vec<T> {
        if is_null(node) {
            return Vec::new();
        }
        match &untagged(node).data {
            YamlData::Sequence(items) => items.iter().map(|n| item(self, n)).collect(),
            _ => {
                self.type_error(node, ty);
                Vec::new()
            }
        }
    }

    fn group(&mut self, node: &Node<'_>) -> RuleGroup {
        let mut g = RuleGroup {
            pos: pos(node),
            ..RuleGroup::default()
        };
        for (name, key, value) in self.fields(node, "rulefmt.RuleGroup") {
            match name {
                "name" => g.name = self.string(value),
                "interval" => g.interval = self.duration(value),
                "query_offset" => g.query_offset = self.duration(value),
                "limit" => g.limit = self.unsigned(value),
                "labels" => g.labels = self.string_map(value),
                "language" => g.language = self.language(value),
                "rules" => g.rules = self.list(value, "[]rulefmt.Rule", Self::rule),
                _ => self.unknown(key, name, "rulefmt.RuleGroup"),
            }
        }
        g
    }

    fn rule(&mut self, node: &Node<'_>) -> Rule {
        let mut r = Rule::default();
        for (name, key, value) in self.fields(node, "rulefmt.Rule") {
            match name {
                "record" => {
                    // An empty name is no name, as Prometheus reads it.
                    r.record = Some(self.string(value)).filter(|n| !n.is_empty());
                    r.at.record = pos(value);
                }
                "alert" => {
                    r.alert = Some(self.string(value)).filter(|n| !n.is_empty());
                    r.at.alert = pos(value);
                }
                "expr" => {
                    r.expr = self.string(value);
                    r.at.expr = pos(value);
                }
                "for" => r.for_ = self.duration(value).unwrap_or_default(),
                "keep_firing_for" => r.keep_firing_for = self.duration(value).unwrap_or_default(),
                "labels" => r.labels = self.string_map(value),
                "annotations" => r.annotations = self.string_map(value),
                "language" => r.language = self.language(value),
                _ => self.unknown(key, name, "rulefmt.Rule"),
            }
        }
        r
    }

    /// A scalar as a string (null is empty).
    fn string(&mut self, node: &Node<'_>) -> String {
        if is_null(node) {
            return String::new();
        }
        match scalar(node) {
            Some((text, _)) => text.to_string(),
            None => {
                self.type_error(node, "string");
                String::new()
            }
        }
    }

    fn unsigned(&mut self, node: &Node<'_>) -> u64 {
        if is_null(node) {
            return 0;
        }
        match scalar(node).and_then(|(t, _)| t.parse::<u64>().ok()) {
            Some(n) => n,
            None => {
                self.type_error(node, "int");
                0
            }
        }
    }

    /// A Prometheus duration (`5m`); null is `None`.
    fn duration(&mut self, node: &Node<'_>) -> Option<Duration> {
        if is_null(node) {
            return None;
        }
        let text: Cow<'_, str> = match scalar(node) {
            Some((t, _)) => Cow::Borrowed(t),
            None => {
                self.type_error(node, "model.Duration");
                return None;
            }
        };
        match common::duration::parse_prometheus(&text) {
            Some(ms) if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            _ => {
                self.errors.push(format!(
                    "line {}: not a valid duration string: {text:?}",
                    pos(node).line
                ));
                None
            }
        }
    }

    /// A rule language (`promql`, `sql`); null is `None`.
    fn language(&mut self, node: &Node<'_>) -> Option<Language> {
        if is_null(node) {
            return None;
        }
        let name = self.string(node);
        let language = Language::from_name(&name);
        if language.is_none() {
            self.errors.push(format!(
                "line {}: unknown rule language {name:?}: use promql, sql, logql or traceql",
                pos(node).line
            ));
        }
        language
    }

    fn string_map(&mut self, node: &Node<'_>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (name, _, value) in self.fields(node, "map[string]string") {
            let v = self.string(value);
            out.insert(name.to_string(), v);
        }
        out
    }
}
