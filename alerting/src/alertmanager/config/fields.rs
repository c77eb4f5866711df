//! Reading an Alertmanager configuration's YAML as its decoder reads fields (scalars whatever
//! their YAML type, null as absent), and the checks of label names, regular expressions and
//! matcher lines that routes and inhibition rules share.

use std::collections::BTreeMap;
use std::time::Duration;

use saphyr::Yaml;

use crate::alertmanager::matchers::{parse_compat, Matcher};

pub(super) fn classic_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A scalar as text, whatever its YAML type; `None` for null and non-scalars.
pub(super) fn scalar(y: &Yaml<'_>) -> Option<String> {
    if y.is_null() {
        return None;
    }
    y.as_str()
        .map(str::to_string)
        .or_else(|| y.as_integer().map(|i| i.to_string()))
        .or_else(|| y.as_floating_point().map(|f| f.to_string()))
        .or_else(|| y.as_bool().map(|b| b.to_string()))
}

pub(super) fn get<'a, 'b>(y: &'a Yaml<'b>, key: &str) -> Option<&'a Yaml<'b>> {
    y.as_mapping_get(key).filter(|v| !v.is_null())
}

/// A non-empty scalar field.
pub(super) fn text(y: &Yaml<'_>, key: &str) -> Option<String> {
    get(y, key).and_then(scalar).filter(|s| !s.is_empty())
}

pub(super) fn list<'a, 'b>(y: Option<&'a Yaml<'b>>) -> &'a [Yaml<'b>] {
    y.and_then(Yaml::as_vec).map_or(&[], Vec::as_slice)
}

pub(super) fn pairs<'a, 'b>(y: Option<&'a Yaml<'b>>) -> Vec<(&'a Yaml<'b>, &'a Yaml<'b>)> {
    y.and_then(Yaml::as_mapping)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

pub(super) fn string_map(y: Option<&Yaml<'_>>) -> BTreeMap<String, String> {
    pairs(y)
        .into_iter()
        .filter_map(|(k, v)| Some((scalar(k)?, scalar(v).unwrap_or_default())))
        .collect()
}

pub(super) fn duration(text: &str) -> Result<Duration, String> {
    common::duration::parse_prometheus(text)
        .filter(|ms| *ms >= 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| format!("not a valid duration string: {text:?}"))
}

/// `match_re`-style maps: label names checked, values compiled.
pub(super) fn check_regex_map(y: Option<&Yaml<'_>>) -> Result<(), String> {
    for (k, v) in pairs(y) {
        let name = scalar(k).unwrap_or_default();
        if !classic_name(&name) {
            return Err(format!("invalid label name {name:?}"));
        }
        let Some(value) = scalar(v) else {
            return Err(format!("invalid regexp value for {name:?}"));
        };
        regex::Regex::new(&format!("^(?:{value})$")).map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub(super) fn check_label_names(y: Option<&Yaml<'_>>) -> Result<(), String> {
    for (k, _) in pairs(y) {
        let name = scalar(k).unwrap_or_default();
        if !classic_name(&name) {
            return Err(format!("invalid label name {name:?}"));
        }
    }
    Ok(())
}

pub(super) fn check_matcher_lines(y: Option<&Yaml<'_>>) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    for line in list(y) {
        out.extend(parse_compat(&scalar(line).unwrap_or_default())?);
    }
    Ok(out)
}
