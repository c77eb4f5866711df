//! Range aggregations: a log range's lines read and run through the pipeline into samples
//! (a count, a line's bytes, or an `unwrap`ped value), then aggregated over each step's window
//! `(T-R, T]`, shifted by `offset`.

use std::collections::BTreeMap;

use super::aggregate::{group_labels, variance};
use super::error::EvalError;
use super::filter::{bytes_value, compile_filter, go_duration_value};
use super::model::{Counted, Counting, Labels, Sample, Source, Stream, ERROR, ERROR_DETAILS};
use super::pipeline::Pipeline;
use crate::ast::*;

/// The samples of a log range: per label set, (time, value) in time order.
/// Only the labels in `kept` (and the error labels) are left on the samples when given: the
/// caller adds up the series over the others.
fn samples(
    op: &str,
    r: &LogRange,
    source: &dyn Source,
    (from, to): (i64, i64),
    kept: Option<&[String]>,
) -> Result<BTreeMap<Labels, Vec<(i64, f64)>>, EvalError> {
    let pipeline = match kept {
        Some(kept) => {
            let mut needed = kept.to_vec();
            if let Some(u) = &r.unwrap {
                needed.push(u.label.clone());
                // Filters after `unwrap` read labels too.
                let mut names = Vec::new();
                for f in &u.filters {
                    super::pipeline::label_filter_names(f, &mut names);
                }
                needed.extend(names);
            }
            Pipeline::with_hints(&r.log.pipeline, &needed)?
        }
        None => Pipeline::new(&r.log.pipeline)?,
    };
    let post: Vec<_> = match &r.unwrap {
        Some(u) => u
            .filters
            .iter()
            .map(compile_filter)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let streams = source
        .select(&r.log.matchers, from, to)
        .map_err(EvalError::Source)?;
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for s in streams {
        for e in &s.entries {
            let Some((mut labels, line)) = pipeline.run(&s.labels, &e.metadata, &e.line, e.ts)
            else {
                continue;
            };
            let value = match &r.unwrap {
                None if op.starts_with("bytes") => line.len() as f64,
                None => 1.0,
                Some(u) => {
                    let raw = labels.get(&u.label).cloned();
                    // A line without the label (or with it empty) gives no sample, as in Loki.
                    if raw.as_deref().is_none_or(str::is_empty) && !labels.contains_key(ERROR) {
                        continue;
                    }
                    let v = if labels.contains_key(ERROR) {
                        Ok(0.0)
                    } else {
                        unwrap_value(raw.as_deref().unwrap_or(""), u.conversion)
                    };
                    let v = match v {
                        Ok(v) => v,
                        Err(e) => {
                            labels.insert(ERROR.into(), "SampleExtractionErr".into());
                            labels.insert(ERROR_DETAILS.into(), e);
                            0.0
                        }
                    };
                    if !post.iter().all(|f| f.test(&mut labels)) {
                        continue;
                    }
                    labels.remove(&u.label);
                    v
                }
            };
            if let Some(kept) = kept {
                labels.retain(|k, _| kept.contains(k) || k == ERROR || k == ERROR_DETAILS);
            }
            out.entry(labels).or_default().push((e.ts, value));
        }
    }
    for points in out.values_mut() {
        points.sort_by_key(|p| p.0);
    }
    if let Some(labels) = out.keys().find(|l| l.contains_key(ERROR)) {
        let err = labels.get(ERROR).cloned().unwrap_or_default();
        return Err(EvalError::Pipeline(format!(
            "pipeline error: '{err}' for series: '{}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"{err}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )",
            print_labels(labels)
        )));
    }
    Ok(out)
}

/// `{a="b", c="d"}`.
fn print_labels(l: &Labels) -> String {
    let inner: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::print::go_quote(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn unwrap_value(raw: &str, c: Conversion) -> Result<f64, String> {
    let raw = raw.trim();
    match c {
        Conversion::None => raw
            .parse::<f64>()
            .map_err(|_| format!("strconv.ParseFloat: parsing {raw:?}: invalid syntax")),
        Conversion::Bytes => bytes_value(raw),
        Conversion::Duration | Conversion::DurationSeconds => {
            go_duration_value(raw).map_err(|e| format!("time: {e}"))
        }
    }
}

/// Most buckets one counted selection may have; past it the lines are read.
const MAX_BUCKETS: i64 = 1_000_000;

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The buckets a range aggregation `op` over `r` at steps `first..=last` every `step` is
/// answered from, when it only counts lines (or their bytes) that only line filters select.
pub(super) fn counting(
    op: &str,
    r: &LogRange,
    first: i64,
    last: i64,
    step: i64,
    kept: Option<&[String]>,
) -> Option<Counting> {
    let counts = matches!(
        op,
        "count_over_time" | "rate" | "bytes_over_time" | "bytes_rate"
    );
    let only_filters = r.log.pipeline.iter().all(|s| matches!(s, Stage::Line(_)));
    if !counts || !only_filters || r.unwrap.is_some() || r.range <= 0 {
        return None;
    }
    let width = if last > first {
        gcd(r.range, step.max(1))
    } else {
        r.range
    };
    let buckets = (last - first + r.range) / width;
    (buckets <= MAX_BUCKETS).then(|| Counting {
        end: last - r.offset,
        width,
        buckets: buckets as usize,
        bytes: op.starts_with("bytes"),
        labels: kept.map(<[String]>::to_vec),
    })
}

/// The lines of `streams` that pass every line filter of `filters`, counted per series and
/// bucket of `c`: what [`Source::counts`] answers, computed from the lines (a source holding
/// them in memory, and the reference the stores' counts are tested against).
pub fn count_lines(
    streams: &[Stream],
    filters: &[LineFilter],
    c: &Counting,
) -> Result<Vec<Counted>, EvalError> {
    let stages: Vec<Stage> = filters.iter().cloned().map(Stage::Line).collect();
    let pipeline = Pipeline::new(&stages)?;
    let mut out: BTreeMap<Labels, BTreeMap<usize, (u64, u64)>> = BTreeMap::new();
    let oldest = c.end - c.width * c.buckets as i64;
    for s in streams {
        for e in &s.entries {
            if e.ts <= oldest || e.ts > c.end {
                continue;
            }
            let Some((mut labels, line)) = pipeline.run(&s.labels, &e.metadata, &e.line, e.ts)
            else {
                continue;
            };
            if let Some(kept) = &c.labels {
                labels.retain(|k, _| kept.contains(k));
            }
            let k = ((c.end - e.ts) / c.width) as usize;
            let b = out.entry(labels).or_default().entry(k).or_default();
            b.0 += 1;
            b.1 += line.len() as u64;
        }
    }
    Ok(out
        .into_iter()
        .map(|(labels, b)| Counted {
            labels,
            buckets: b.into_iter().map(|(k, (l, n))| (k, l, n)).collect(),
        })
        .collect())
}

/// A counting range aggregation answered from `counted` lines in the buckets of `c`.
fn from_counts(
    op: &str,
    r: &LogRange,
    g: Option<&Grouping>,
    counted: Vec<Counted>,
    c: &Counting,
    steps: &[i64],
) -> Vec<Vec<Sample>> {
    // Per series: prefix sums of lines and bytes over the buckets, newest bucket first.
    let mut series: BTreeMap<Labels, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for s in counted {
        let labels = match g {
            Some(g) => group_labels(&s.labels, Some(g)),
            None => s.labels,
        };
        let (lines, bytes) = series
            .entry(labels)
            .or_insert_with(|| (vec![0; c.buckets + 1], vec![0; c.buckets + 1]));
        for (k, l, b) in s.buckets {
            if k < c.buckets {
                lines[k + 1] += l;
                bytes[k + 1] += b;
            }
        }
    }
    for (lines, bytes) in series.values_mut() {
        for k in 1..lines.len() {
            lines[k] += lines[k - 1];
            bytes[k] += bytes[k - 1];
        }
    }
    let per = (r.range / c.width) as usize;
    let range_s = r.range as f64 / 1e9;
    steps
        .iter()
        .map(|&t| {
            let first = ((c.end - (t - r.offset)) / c.width).clamp(0, c.buckets as i64) as usize;
            let last = (first + per).min(c.buckets);
            series
                .iter()
                .filter_map(|(labels, (lines, bytes))| {
                    let n = lines[last] - lines[first];
                    let b = (bytes[last] - bytes[first]) as f64;
                    let value = match op {
                        _ if n == 0 => return None,
                        "count_over_time" => n as f64,
                        "rate" => n as f64 / range_s,
                        "bytes_over_time" => b,
                        _ => b / range_s,
                    };
                    Some(Sample {
                        labels: labels.clone(),
                        value,
                    })
                })
                .collect()
        })
        .collect()
}

pub(super) fn range_aggregation(
    op: &str,
    param: Option<f64>,
    r: &LogRange,
    g: Option<&Grouping>,
    source: &dyn Source,
    steps: &[i64],
    kept: Option<&[String]>,
) -> Result<Vec<Vec<Sample>>, EvalError> {
    let first = steps.first().copied().unwrap_or(0);
    let last = steps.last().copied().unwrap_or(0);
    let step = if steps.len() > 1 {
        steps[1] - steps[0]
    } else {
        0
    };
    if let Some(c) = counting(op, r, first, last, step, kept) {
        let filters: Vec<LineFilter> = r
            .log
            .pipeline
            .iter()
            .filter_map(|s| match s {
                Stage::Line(l) => Some(l.clone()),
                _ => None,
            })
            .collect();
        if let Some(counted) = source.counts(&r.log.matchers, &filters, &c) {
            let counted = counted.map_err(EvalError::Source)?;
            return Ok(from_counts(op, r, g, counted, &c, steps));
        }
    }
    let from = first - r.offset - r.range;
    let to = last - r.offset;
    // A sum over the series of an aggregation that adds up its samples only needs the labels
    // the sum keeps.
    let additive = matches!(
        op,
        "count_over_time" | "rate" | "bytes_over_time" | "bytes_rate" | "sum_over_time"
    );
    let mut series = samples(
        op,
        r,
        source,
        (from + 1, to),
        kept.filter(|_| additive && g.is_none()),
    )?;
    if let Some(g) = g {
        let mut grouped: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for (labels, points) in series {
            grouped
                .entry(group_labels(&labels, Some(g)))
                .or_default()
                .extend(points);
        }
        for p in grouped.values_mut() {
            p.sort_by_key(|x| x.0);
        }
        series = grouped;
    }
    let range_s = r.range as f64 / 1e9;
    let mut out = Vec::with_capacity(steps.len());
    for &t in steps {
        let hi = t - r.offset;
        let lo = hi - r.range;
        let mut vector = Vec::new();
        for (labels, points) in &series {
            let start = points.partition_point(|p| p.0 <= lo);
            let end = points.partition_point(|p| p.0 <= hi);
            let window = &points[start..end];
            if window.is_empty() {
                continue;
            }
            let values: Vec<f64> = window.iter().map(|p| p.1).collect();
            let value = match op {
                "count_over_time" => values.len() as f64,
                "rate" if r.unwrap.is_none() => values.len() as f64 / range_s,
                "rate" | "bytes_rate" => values.iter().sum::<f64>() / range_s,
                "bytes_over_time" | "sum_over_time" => values.iter().sum(),
                "avg_over_time" => values.iter().sum::<f64>() / values.len() as f64,
                "min_over_time" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a })
                }
                "max_over_time" => {
                    values
                        .iter()
                        .copied()
                        .fold(f64::NAN, |a, b| if a.is_nan() || b > a { b } else { a })
                }
                "stddev_over_time" => variance(&values).sqrt(),
                "stdvar_over_time" => variance(&values),
                "quantile_over_time" => quantile(param.unwrap_or(f64::NAN), &values),
                "first_over_time" => values[0],
                "last_over_time" => values[values.len() - 1],
                "rate_counter" => counter_rate(window, lo, hi),
                "absent_over_time" => continue,
                _ => {
                    return Err(EvalError::Invalid(format!(
                        "unknown range aggregation {op}"
                    )))
                }
            };
            vector.push(Sample {
                labels: labels.clone(),
                value,
            });
        }
        if op == "absent_over_time" {
            let any = series
                .values()
                .any(|points| points.iter().any(|p| p.0 > lo && p.0 <= hi));
            vector.clear();
            if !any {
                let labels: Labels = r
                    .log
                    .matchers
                    .iter()
                    .filter(|m| m.op == MatchOp::Eq)
                    .map(|m| (m.name.clone(), m.value.clone()))
                    .collect();
                vector.push(Sample { labels, value: 1.0 });
            }
        }
        out.push(vector);
    }
    Ok(out)
}

/// Prometheus's `quantile` (φ-quantile of the values, interpolated).
fn quantile(q: f64, values: &[f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(v.len() - 1);
    let weight = rank - rank.floor();
    v[lower] * (1.0 - weight) + v[upper] * weight
}

/// `rate_counter`: Prometheus's extrapolated rate of a counter over `(lo, hi]`.
fn counter_rate(points: &[(i64, f64)], lo: i64, hi: i64) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let mut increase = points[points.len() - 1].1 - points[0].1;
    for w in points.windows(2) {
        if w[1].1 < w[0].1 {
            increase += w[0].1;
        }
    }
    let range_start = lo as f64 / 1e9;
    let range_end = hi as f64 / 1e9;
    let first_t = points[0].0 as f64 / 1e9;
    let last_t = points[points.len() - 1].0 as f64 / 1e9;
    let sampled = last_t - first_t;
    let avg_interval = sampled / (points.len() - 1) as f64;
    let threshold = avg_interval * 1.1;
    let mut to_start = first_t - range_start;
    if to_start >= threshold {
        to_start = avg_interval / 2.0;
    }
    // A counter is not extrapolated below zero (Prometheus's order: the threshold first).
    if increase > 0.0 && points[0].1 >= 0.0 {
        let to_zero = sampled * (points[0].1 / increase);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let mut to_end = range_end - last_t;
    if to_end >= threshold {
        to_end = avg_interval / 2.0;
    }
    let extrapolate = sampled + to_start + to_end;
    increase * (extrapolate / sampled) / (range_end - range_start)
}
