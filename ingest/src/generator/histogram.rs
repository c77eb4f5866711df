//! A classic Prometheus histogram with fixed buckets, cumulative since it was created, with
//! the latest exemplar of each bucket (a trace id and the value observed).

/// Span-metrics latency buckets, seconds (Tempo's `ExponentialBuckets(0.002, 2, 14)`).
pub(crate) const LATENCY_BUCKETS: [f64; 14] = [
    0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
    16.384,
];

/// Service-graph latency buckets, seconds (Tempo's `ExponentialBuckets(0.1, 2, 8)`).
pub(crate) const GRAPH_BUCKETS: [f64; 8] = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8];

/// A bucket's exemplar: the trace and the value observed.
pub(crate) type BucketExemplar = Option<([u8; 16], f64)>;

/// One bucket as written: its `le`, the cumulative count and its exemplar.
pub(crate) type Bucket = (String, u64, BucketExemplar);

/// Observations per bucket (not cumulative; the last counts those above every bound), their
/// sum and count, and an exemplar per bucket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
    exemplars: Vec<BucketExemplar>,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
            exemplars: vec![None; bounds.len() + 1],
        }
    }

    /// Counts `value` (seconds), remembering `trace` as its bucket's exemplar.
    pub(crate) fn observe(&mut self, value: f64, trace: [u8; 16]) {
        let at = self.bounds.partition_point(|b| *b < value);
        self.counts[at] += 1;
        self.sum += value;
        self.count += 1;
        self.exemplars[at] = Some((trace, value));
    }

    /// Adds `other`'s observations (same buckets); its exemplars replace these.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum += other.sum;
        self.count += other.count;
        for (a, b) in self.exemplars.iter_mut().zip(&other.exemplars) {
            if b.is_some() {
                *a = *b;
            }
        }
    }

    /// `(le, cumulative count, exemplar)` per bucket, `+Inf` last, taking the exemplars (each
    /// is written once).
    pub(crate) fn buckets(&mut self) -> Vec<Bucket> {
        let mut out = Vec::with_capacity(self.counts.len());
        let mut total = 0;
        for (i, count) in self.counts.iter().enumerate() {
            total += count;
            let le = match self.bounds.get(i) {
                Some(b) => format_le(*b),
                None => "+Inf".to_string(),
            };
            out.push((le, total, self.exemplars[i].take()));
        }
        out
    }

    pub(crate) fn sum(&self) -> f64 {
        self.sum
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

/// A bucket bound as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it.
/// (Rust's `Display` of an `f64` is the shortest text that reads back the same, never with
/// an exponent, as Go's is for these bounds.)
fn format_le(v: f64) -> String {
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_with_exemplars_taken_once() {
        let mut h = Histogram::new(&GRAPH_BUCKETS);
        h.observe(0.05, [1; 16]);
        h.observe(0.1, [2; 16]);
        h.observe(0.3, [3; 16]);
        h.observe(100.0, [4; 16]);
        let mut other = Histogram::new(&GRAPH_BUCKETS);
        other.observe(0.15, [5; 16]);
        h.merge(&other);
        assert_eq!((h.count(), h.sum()), (5, 0.05 + 0.1 + 0.3 + 100.0 + 0.15));
        let b = h.buckets();
        let le: Vec<&str> = b.iter().map(|(l, _, _)| l.as_str()).collect();
        assert_eq!(
            le,
            ["0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "6.4", "12.8", "+Inf"]
        );
        let counts: Vec<u64> = b.iter().map(|(_, c, _)| *c).collect();
        assert_eq!(counts, [2, 3, 4, 4, 4, 4, 4, 4, 5]);
        // 0.1 is in the 0.1 bucket (le is inclusive); its exemplar is the later one.
        assert_eq!(b[0].2, Some(([2; 16], 0.1)));
        assert_eq!(b[1].2, Some(([5; 16], 0.15)));
        assert_eq!(b[8].2, Some(([4; 16], 100.0)));
        assert!(h.buckets().iter().all(|(_, _, e)| e.is_none()));
        assert_eq!(format_le(LATENCY_BUCKETS[0]), "0.002");
        assert_eq!(format_le(LATENCY_BUCKETS[13]), "16.384");
    }
}
