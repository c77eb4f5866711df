//! Vector aggregations (`sum`, `topk`, `sort` …) with `by` and `without`.

use std::collections::BTreeMap;

use super::model::{Labels, Sample};
use crate::ast::Grouping;

/// The labels of a sample's group.
pub(super) fn group_labels(labels: &Labels, g: Option<&Grouping>) -> Labels {
    match g {
        None => Labels::new(),
        Some(g) if g.without => labels
            .iter()
            .filter(|(k, _)| !g.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(g) => labels
            .iter()
            .filter(|(k, _)| g.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

pub(super) fn vector_aggregation(
    op: &str,
    param: Option<f64>,
    g: Option<&Grouping>,
    v: Vec<Sample>,
) -> Vec<Sample> {
    match op {
        "sort" | "sort_desc" => {
            let mut v = v;
            v.sort_by(|a, b| {
                let o = a
                    .value
                    .partial_cmp(&b.value)
                    .unwrap_or(std::cmp::Ordering::Equal);
                if op == "sort" {
                    o
                } else {
                    o.reverse()
                }
            });
            return v;
        }
        "topk" | "bottomk" | "approx_topk" => {
            let k = param.unwrap_or(1.0) as usize;
            let mut groups: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
            for s in v {
                groups
                    .entry(group_labels(&s.labels, g))
                    .or_default()
                    .push(s);
            }
            let mut out = Vec::new();
            for (_, mut members) in groups {
                members.sort_by(|a, b| {
                    let o = a
                        .value
                        .partial_cmp(&b.value)
                        .unwrap_or(std::cmp::Ordering::Equal);
                    if op == "bottomk" {
                        o
                    } else {
                        o.reverse()
                    }
                });
                out.extend(members.into_iter().take(k));
            }
            return out;
        }
        _ => {}
    }
    let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
    for s in v {
        groups
            .entry(group_labels(&s.labels, g))
            .or_default()
            .push(s.value);
    }
    groups
        .into_iter()
        .map(|(labels, values)| {
            let n = values.len() as f64;
            let value = match op {
                "sum" => values.iter().sum(),
                "avg" => values.iter().sum::<f64>() / n,
                "count" => n,
                "max" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b > a { b } else { a })
                }
                "min" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a })
                }
                "stddev" => variance(&values).sqrt(),
                "stdvar" => variance(&values),
                _ => f64::NAN,
            };
            Sample { labels, value }
        })
        .collect()
}

pub(super) fn variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
}
