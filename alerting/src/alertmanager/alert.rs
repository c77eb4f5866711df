//! Alerts as Alertmanager keeps them (`types.Alert`): labels, annotations, start and end,
//! whether the end was given or is a timeout; their fingerprint (Prometheus's FNV-64a over the
//! sorted label pairs); how two reports of one alert merge; label sets printed as Prometheus
//! prints them.

use std::collections::BTreeMap;

pub use super::route::LabelSet;

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its identity.
    pub labels: LabelSet,
    /// Its description.
    pub annotations: BTreeMap<String, String>,
    /// When it started (ms).
    pub starts_at: i64,
    /// When it ends or ended (ms).
    pub ends_at: i64,
    /// The link to what produced it.
    pub generator_url: String,
    /// When it was last reported (ms).
    pub updated_at: i64,
    /// Whether `ends_at` is a timeout rather than given by the sender.
    pub timeout: bool,
}

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Prometheus's fingerprint of a label set.
pub fn fingerprint(labels: &LabelSet) -> u64 {
    labels.iter().fold(FNV_OFFSET, |h, (k, v)| {
        let h = fnv(fnv(h, k.as_bytes()), &[SEPARATOR]);
        fnv(fnv(h, v.as_bytes()), &[SEPARATOR])
    })
}

/// A label set as Prometheus's `LabelSet.String` prints it: `{a="1", b="2"}`.
pub fn label_set_string(labels: &LabelSet) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", super::matchers::go_quote(v)))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

impl Alert {
    /// Its fingerprint.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// Whether it has ended by `now` (ms).
    pub fn resolved(&self, now: i64) -> bool {
        self.ends_at <= now
    }

    /// This alert and a newer report of it as one, as Alertmanager merges them: the newer
    /// report's content, the earliest start, and the end the rules below choose.
    pub fn merge(&self, other: &Alert, now: i64) -> Alert {
        let (older, newer) = if other.updated_at < self.updated_at {
            (other, self)
        } else {
            (self, other)
        };
        let mut out = newer.clone();
        out.starts_at = older.starts_at.min(newer.starts_at);
        if newer.resolved(now) {
            if older.resolved(now) && older.ends_at > newer.ends_at {
                out.ends_at = older.ends_at;
            }
        } else if older.ends_at > newer.ends_at && !older.timeout {
            out.ends_at = older.ends_at;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fingerprints_are_prometheus_fnv64a_of_the_sorted_pairs() {
        // Known values of Prometheus's `labelSetToFingerprint` (FNV-64a offset basis for none).
        assert_eq!(
            format!("{:016x}", fingerprint(&labels(&[]))),
            "cbf29ce484222325"
        );
        assert_eq!(
            format!("{:016x}", fingerprint(&labels(&[("foo", "bar")]))),
            "3fff2c2d7595e046"
        );
        assert_eq!(
            format!(
                "{:016x}",
                fingerprint(&labels(&[("foo", "bar"), ("baz", "qux")]))
            ),
            "e4d83091cd448e77"
        );
        assert_eq!(
            label_set_string(&labels(&[("b", "2"), ("a", "x\"y")])),
            r#"{a="x\"y", b="2"}"#
        );
    }

    #[test]
    fn merging_keeps_the_earliest_start_and_a_given_end_over_a_timeout() {
        let a = Alert {
            labels: labels(&[("a", "1")]),
            annotations: BTreeMap::new(),
            starts_at: 100,
            ends_at: 10_000,
            generator_url: String::new(),
            updated_at: 1,
            timeout: false,
        };
        let b = Alert {
            starts_at: 200,
            ends_at: 5_000,
            updated_at: 2,
            timeout: true,
            ..a.clone()
        };
        let m = a.merge(&b, 1_000);
        assert_eq!((m.starts_at, m.ends_at, m.updated_at), (100, 10_000, 2));
        // A newer explicit resolution wins.
        let resolved = Alert {
            ends_at: 900,
            updated_at: 3,
            timeout: false,
            ..a.clone()
        };
        assert_eq!(a.merge(&resolved, 1_000).ends_at, 900);
    }
}
