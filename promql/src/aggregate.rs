//! Aggregation operators.

use std::collections::HashMap;

use promql_parser::parser::token;
use promql_parser::parser::LabelModifier;

use crate::error::{exec_err, Result};
use crate::ev::{go_quote, group_labels, Ev, Val};
use crate::value::{format_value, Labels, Sample, METRIC_NAME};

/// Neumaier's compensated summation step, as Prometheus's `kahanSumInc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus's `quantile`: linear interpolation between the closest ranks.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaNs sort first, as Prometheus's heap order puts them.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Whether a label name is valid (UTF-8 names are allowed in Prometheus 3; only the empty
/// name and invalid UTF-8, which a Rust string cannot hold, are not).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

struct Group {
    labels: Labels,
    drop_name: bool,
    members: Vec<usize>,
}

pub(crate) fn aggregate(
    ev: &mut Ev<'_>,
    op: u16,
    param: Option<Val>,
    input: Vec<Sample>,
    modifier: &Option<LabelModifier>,
) -> Result<Vec<Sample>> {
    let mut count_values_label = None;
    if op == token::T_COUNT_VALUES {
        let Some(Val::Str(name)) = &param else {
            return exec_err("count_values needs a string parameter");
        };
        if !valid_label_name(name) {
            return exec_err(format!("invalid label name {name:?}"));
        }
        // `"a\xc5z"` holds the byte 0xc5 for Prometheus (see `Ev::invalid_utf8_literal`).
        if name.chars().any(|ch| ('\u{80}'..='\u{ff}').contains(&ch)) {
            if let Some(bytes) = ev.invalid_utf8_literal("count_values", 0) {
                return exec_err(format!("invalid label name {}", go_quote(&bytes)));
            }
        }
        count_values_label = Some(name.clone());
    }
    // Groups in order of first appearance.
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (i, s) in input.iter().enumerate() {
        let mut key = group_labels(&s.labels, modifier);
        if let Some(label) = &count_values_label {
            key.set(label, &format_value(s.v));
        }
        let g = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(Group {
                labels: key,
                drop_name: false,
                members: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].members.push(i);
        groups[g].drop_name |= s.drop_name;
    }
    let scalar_param = |p: &Option<Val>| match p {
        Some(Val::Scalar(v)) => Ok(*v),
        _ => exec_err("expected a scalar parameter"),
    };
    match op {
        token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK => {
            let k = scalar_param(&param)?;
            if k.is_nan() {
                return exec_err("Parameter value is NaN");
            }
            if k < 1.0 {
                return Ok(Vec::new());
            }
            let k = if k >= i64::MAX as f64 {
                usize::MAX
            } else {
                k as usize
            };
            let mut out = Vec::new();
            for g in &groups {
                let mut members: Vec<&Sample> = g.members.iter().map(|&i| &input[i]).collect();
                if op != token::T_LIMITK {
                    let top = op == token::T_TOPK;
                    // NaN ranks last for both.
                    members.sort_by(|a, b| {
                        let (x, y) = (a.v, b.v);
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if top => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                }
                out.extend(members.into_iter().take(k).cloned());
            }
            Ok(out)
        }
        token::T_LIMIT_RATIO => {
            let mut r = scalar_param(&param)?;
            if r.is_nan() {
                return exec_err("Ratio value is NaN");
            }
            if !(-1.0..=1.0).contains(&r) {
                let capped = r.clamp(-1.0, 1.0);
                let at = ev.arg_offset("limit_ratio", 0);
                ev.warn(
                    &format!(
                        "ratio value should be between -1 and 1, got {}, capping to {}",
                        format_value(r),
                        format_value(capped)
                    ),
                    at,
                );
                r = capped;
            }
            Ok(input
                .into_iter()
                .filter(|s| {
                    let offset = label_hash(&s.labels) as f64 / u64::MAX as f64;
                    (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
                })
                .collect())
        }
        _ => {
            let q = if op == token::T_QUANTILE {
                let q = scalar_param(&param)?;
                if !(0.0..=1.0).contains(&q) {
                    let at = ev.arg_offset("quantile", 0);
                    ev.warn(
                        &format!(
                            "quantile value should be between 0 and 1, got {}",
                            format_value(q)
                        ),
                        at,
                    );
                }
                q
            } else {
                0.0
            };
            let mut out = Vec::with_capacity(groups.len());
            for g in groups {
                let vals: Vec<f64> = g.members.iter().map(|&i| input[i].v).collect();
                let v =
                    match op {
                        token::T_SUM => {
                            let (mut s, mut c) = (0.0, 0.0);
                            for &v in &vals {
                                (s, c) = kahan_inc(v, s, c);
                            }
                            s + c
                        }
                        token::T_AVG => avg(&vals),
                        token::T_COUNT | token::T_COUNT_VALUES => vals.len() as f64,
                        token::T_GROUP => 1.0,
                        token::T_MIN => vals.iter().copied().fold(f64::NAN, |m, v| {
                            if m.is_nan() || v < m {
                                v
                            } else {
                                m
                            }
                        }),
                        token::T_MAX => vals.iter().copied().fold(f64::NAN, |m, v| {
                            if m.is_nan() || v > m {
                                v
                            } else {
                                m
                            }
                        }),
                        token::T_STDDEV => variance(&vals).sqrt(),
                        token::T_STDVAR => variance(&vals),
                        token::T_QUANTILE => {
                            let mut vals = vals;
                            quantile(q, &mut vals)
                        }
                        _ => return exec_err("unsupported aggregation"),
                    };
                let drop_name = g.drop_name && g.labels.get(METRIC_NAME).is_some();
                out.push(Sample {
                    labels: g.labels,
                    t: 0,
                    v,
                    drop_name,
                });
            }
            Ok(out)
        }
    }
}

/// Prometheus's `avg`: a compensated sum, or an incremental mean once the sum overflows.
pub(crate) fn avg(vals: &[f64]) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    let mut mean = 0.0f64;
    let mut incremental = false;
    for (i, &v) in vals.iter().enumerate() {
        let n = (i + 1) as f64;
        if !incremental {
            let (s, nc) = kahan_inc(v, sum, c);
            if !s.is_infinite() || v.is_infinite() {
                sum = s;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (n - 1.0);
            c /= n - 1.0;
        }
        let q = (n - 1.0) / n;
        (mean, c) = kahan_inc(v / n, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        (sum + c) / vals.len() as f64
    }
}

/// Population variance by Welford's method, as Prometheus computes `stdvar`.
pub(crate) fn variance(vals: &[f64]) -> f64 {
    let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
    for &v in vals {
        n += 1.0;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
    }
    m2 / n
}

/// Prometheus's label-set hash (xxhash64 of `name 0xff value 0xff …`).
pub(crate) fn label_hash(labels: &Labels) -> u64 {
    let mut b = Vec::new();
    for (n, v) in labels.pairs() {
        b.extend_from_slice(n.as_bytes());
        b.push(0xff);
        b.extend_from_slice(v.as_bytes());
        b.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&b, 0)
}
