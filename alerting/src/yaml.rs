//! YAML nodes with their positions as Go's YAML decoders see them: tags dropped, scalars as
//! written with their style, merge keys (`<<`) applied, kinds named as `yaml.v3` names them in
//! errors. Shared by the rule-file and Alertmanager-configuration decoders.

use saphyr::{MarkedYaml, YamlData};
use saphyr_parser::ScalarStyle;

use crate::rules::Pos;

pub(crate) type Node<'a> = MarkedYaml<'a>;

/// Where `node` starts.
pub(crate) fn pos(node: &Node<'_>) -> Pos {
    Pos {
        line: node.span.start.line(),
        column: node.span.start.col() + 1,
    }
}

/// `node` without its tag.
pub(crate) fn untagged<'n, 'a>(node: &'n Node<'a>) -> &'n Node<'a> {
    match &node.data {
        YamlData::Tagged(_, inner) => untagged(inner),
        _ => node,
    }
}

/// The text of a scalar node, with whether it was written plain (unquoted).
pub(crate) fn scalar<'n>(node: &'n Node<'_>) -> Option<(&'n str, bool)> {
    match &untagged(node).data {
        YamlData::Representation(text, style, _) => {
            Some((text.as_ref(), *style == ScalarStyle::Plain))
        }
        _ => None,
    }
}

pub(crate) fn is_null(node: &Node<'_>) -> bool {
    matches!(scalar(node), Some((t, true)) if matches!(t, "" | "~" | "null" | "Null" | "NULL"))
}

/// The YAML kind of a node, as `yaml.v3` names it in errors.
pub(crate) fn kind(node: &Node<'_>) -> &'static str {
    match &untagged(node).data {
        YamlData::Sequence(_) => "!!seq",
        YamlData::Mapping(_) => "!!map",
        YamlData::Representation(text, ScalarStyle::Plain, _) => plain_kind(text),
        YamlData::Representation(..) => "!!str",
        _ => "!!str",
    }
}

fn plain_kind(text: &str) -> &'static str {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => "!!null",
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => "!!bool",
        _ if text.parse::<i64>().is_ok() => "!!int",
        _ if text.parse::<f64>().is_ok() => "!!float",
        _ => "!!str",
    }
}

/// The entries of a mapping node with merge keys applied (an entry written in the mapping
/// wins over a merged one); `None` when `node` is no mapping.
pub(crate) fn entries<'n, 'a>(node: &'n Node<'a>) -> Option<Vec<(&'n Node<'a>, &'n Node<'a>)>> {
    let YamlData::Mapping(map) = &untagged(node).data else {
        return None;
    };
    let mut own: Vec<(&Node<'a>, &Node<'a>)> = Vec::new();
    let mut merged: Vec<(&Node<'a>, &Node<'a>)> = Vec::new();
    for (k, v) in map {
        if scalar(k) == Some(("<<", true)) {
            let sources: Vec<&Node<'a>> = match &untagged(v).data {
                YamlData::Sequence(items) => items.iter().collect(),
                _ => vec![v],
            };
            for source in sources {
                merged.extend(entries(source).unwrap_or_default());
            }
        } else {
            own.push((k, v));
        }
    }
    for (k, v) in merged {
        let name = scalar(k).map(|s| s.0);
        if !own.iter().any(|(o, _)| scalar(o).map(|s| s.0) == name) {
            own.push((k, v));
        }
    }
    Some(own)
}
