//! Label sets, samples and query results.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The label that holds a metric's name.
pub const METRIC_NAME: &str = "__name__";

/// A label set, sorted by name, names unique. Shared: a clone is a reference count (the
/// evaluator hands a series' labels to every step's sample); changes copy on write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<Vec<(String, String)>>);

impl Labels {
    /// Labels from pairs in any order (a later duplicate name wins); empty values are dropped,
    /// as Prometheus treats an empty label as an absent one.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.retain(|(_, v)| !v.is_empty());
        // Stable sort keeps later duplicates last; keep the last of each name.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for p in pairs {
            match out.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => out.push(p),
            }
        }
        Self(Arc::new(out))
    }

    /// An identity of this label set's shared allocation: equal for clones of one `Labels`
    /// (and stable while one of them lives), different for separately built equal sets.
    pub fn shared_id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// The pairs in name order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The metric name, if any.
    pub fn name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets `name` to `value` (an empty value removes it).
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) if self.0[i].1 == value => {}
            Ok(i) => Arc::make_mut(&mut self.0)[i].1 = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(i, (name.to_string(), value.to_string())),
        }
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Arc::make_mut(&mut self.0).remove(i);
        }
    }

    /// These labels without the metric name.
    pub fn without_name(&self) -> Labels {
        let mut l = self.clone();
        l.remove(METRIC_NAME);
        l
    }

    /// Only the labels named in `names`.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels(Arc::new(
            self.0
                .iter()
                .filter(|(n, _)| names.iter().any(|k| k == n))
                .cloned()
                .collect(),
        ))
    }

    /// All labels except those named in `names` (and, when `drop_name`, the metric name).
    pub fn drop(&self, names: &[String], drop_name: bool) -> Labels {
        if !self
            .0
            .iter()
            .any(|(n, _)| names.iter().any(|k| k == n) || drop_name && n == METRIC_NAME)
        {
            return self.clone();
        }
        Labels(Arc::new(
            self.0
                .iter()
                .filter(|(n, _)| !(names.iter().any(|k| k == n) || drop_name && n == METRIC_NAME))
                .cloned()
                .collect(),
        ))
    }

    /// Whether no label is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These labels as bytes that sort as [`Labels::compare`] does: each name and value with
    /// 0x00 written as 0x01 0x01 and 0x01 as 0x01 0x02, then a 0x00. Callers that sort the same
    /// series often keep the key, so a comparison is one `memcmp` over contiguous bytes instead of
    /// a walk through a string allocation per label.
    pub fn sort_key(&self) -> Box<[u8]> {
        let mut out = Vec::with_capacity(self.0.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
        for (n, v) in self.0.iter() {
            for s in [n, v] {
                for &b in s.as_bytes() {
                    match b {
                        0 | 1 => out.extend_from_slice(&[1, b + 1]),
                        _ => out.push(b),
                    }
                }
                out.push(0);
            }
        }
        out.into()
    }

    /// Prometheus's `labels.Compare`: pairwise by name, then value; a prefix sorts first.
    pub fn compare(&self, other: &Labels) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            match a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)) {
                Ordering::Equal => continue,
                o => return o,
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl fmt::Display for Labels {
    /// `{__name__="up", job="api"}`, as Prometheus's `labels.Labels.String()` prints a set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series.
    pub labels: Labels,
    /// Sample time, ms.
    pub t: i64,
    /// Value.
    pub v: f64,
    /// Prometheus 3's delayed name removal: the metric name goes when the query ends.
    pub drop_name: bool,
}

/// A series with points, of a range vector or a range query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series.
    pub labels: Labels,
    /// Points in time order, ms.
    pub points: Vec<(i64, f64)>,
    /// See [`Sample::drop_name`].
    pub drop_name: bool,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Time, ms.
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Time, ms.
        t: i64,
        /// Value.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector (instant queries of a range selector) or the result of a range query.
    Matrix(Vec<Series>),
}

impl Value {
    /// The type name Prometheus uses in API results and messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A sample value as Prometheus writes it: Go's `FormatFloat(v, 'f', -1, 64)` with `NaN`,
/// `+Inf` and `-Inf` for the specials.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Prometheus's `almost.Equal`: NaN equals NaN, and otherwise `a` and `b` differ by less than
/// `epsilon` relative to their magnitudes (absolutely, near zero).
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Whether a float is Prometheus's staleness marker (a specific NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The bits of the staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// A number as Go's `ParseInt(s, 0, 64)` then `ParseFloat` read it (`NaN`, `Inf`, `-Inf`,
/// `1e3`, `.5`, `0x1f`).
pub fn parse_number(s: &str) -> Option<f64> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(|v| sign * v as f64);
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        return None;
    }
    body.replace('_', "").parse::<f64>().ok().map(|v| sign * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn labels_sort_drop_empty_values_and_print_as_prometheus_does() {
        let a = l(&[("job", "api"), ("__name__", "up"), ("x", "")]);
        assert_eq!(a.to_string(), r#"{__name__="up", job="api"}"#);
        assert_eq!(a.get("x"), None);
        assert_eq!(l(&[("a", "1")]).to_string(), r#"{a="1"}"#);
        assert_eq!(l(&[]).to_string(), "{}");
        assert_eq!(
            l(&[("a", "1")]).compare(&l(&[("a", "1"), ("b", "2")])),
            Ordering::Less
        );
        assert!(is_stale_nan(stale_nan()) && !is_stale_nan(f64::NAN));
    }

    fn labels_of(pairs: Vec<(String, String)>) -> Labels {
        Labels::new(pairs)
    }

    proptest::proptest! {
        #[test]
        fn sort_keys_order_as_labels_compare(
            a in proptest::collection::vec(("[ab\x00\x01\x02]{0,3}", "[ab\x00\x01\x02]{0,3}"), 0..4),
            b in proptest::collection::vec(("[ab\x00\x01\x02]{0,3}", "[ab\x00\x01\x02]{0,3}"), 0..4),
        ) {
            let (a, b) = (labels_of(a), labels_of(b));
            proptest::prop_assert_eq!(a.sort_key().cmp(&b.sort_key()), a.compare(&b));
        }
    }
}
