//! Metrics as a fleet of Prometheus targets produces them when scraped: every target scraped
//! every 15 s at its own offset with a little jitter; counters that grow by varying increments
//! and reset when their target restarts; memory gauges in bytes with many digits; classic
//! histograms whose `_sum` is a float with all its digits; targets that go away (their series
//! end with a stale marker, as Prometheus writes one when a target disappears) and new targets
//! that replace them (series churn: long-running processes newly discovered).
//!
//! The series names and labels are the ones `promcompare`'s query set reads:
//! `http_requests_total{job, instance, route}`, `memory_usage_bytes{job, instance}` and
//! `request_duration_seconds_{bucket, sum, count}{job, instance[, le]}`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Seconds between scrapes.
pub const STEP_S: i64 = 15;
/// Histogram bucket bounds.
pub const BUCKETS: [&str; 8] = ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"];
const BOUNDS: [f64; 7] = [0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];
/// Routes of each target's request counters.
const ROUTES: usize = 6;
/// Series of one target: counters, one gauge, buckets, `_sum`, `_count`.
pub const SERIES_PER_TARGET: usize = ROUTES + 1 + BUCKETS.len() + 2;
/// The Prometheus staleness marker.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// One sample of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Metric name.
    pub name: &'static str,
    /// Labels but the name, sorted by name.
    pub labels: Vec<(&'static str, String)>,
    /// Milliseconds.
    pub t: i64,
    pub v: f64,
}

/// One scraped target.
#[derive(Debug)]
struct Target {
    job: String,
    instance: String,
    /// Offset of its scrapes from the 15 s grid, ms: the milliseconds part stays in
    /// [200, 800] so that, with jitter, no sample falls on a whole second (where query windows
    /// end; Prometheus 2.42 and 3.x treat window edges differently).
    offset_ms: i64,
    /// Requests per second on each route.
    rates: [f64; ROUTES],
    counters: [f64; ROUTES],
    memory: f64,
    buckets: [f64; BUCKETS.len()],
    sum: f64,
    count: f64,
    /// Scrape index at which it goes away (a stale marker is written then), if it does.
    ends_at: Option<i64>,
    /// Scrape index of its first sample.
    starts_at: i64,
}

impl Target {
    fn new(rng: &mut StdRng, job: usize, instance: String, starts_at: i64) -> Self {
        let mut rates = [0.0; ROUTES];
        for r in &mut rates {
            *r = rng.random_range(0.05..40.0);
        }
        Self {
            job: format!("job{job}"),
            instance,
            offset_ms: rng.random_range(0..15) * 1000 + rng.random_range(200..=800),
            rates,
            counters: [0.0; ROUTES],
            memory: (rng.random_range(50_000..2_000_000u64) * 4096) as f64,
            buckets: [0.0; BUCKETS.len()],
            sum: 0.0,
            count: 0.0,
            ends_at: None,
            starts_at,
        }
    }

    fn restart(&mut self) {
        self.counters = [0.0; ROUTES];
        self.buckets = [0.0; BUCKETS.len()];
        self.sum = 0.0;
        self.count = 0.0;
    }

    /// Advances one scrape interval.
    fn step(&mut self, rng: &mut StdRng) {
        // Restarts: about once in two days of scrapes.
        if rng.random_range(0..11_520u32) == 0 {
            self.restart();
        }
        for (c, rate) in self.counters.iter_mut().zip(self.rates) {
            // Requests in 15 s, varying around the route's rate.
            let n = (rate * STEP_S as f64 * rng.random_range(0.5..1.5)).floor();
            *c += n;
        }
        let pages: i64 = rng.random_range(-300..=320);
        self.memory = (self.memory + (pages * 4096) as f64).max(4096.0 * 1000.0);
        let observations = rng.random_range(0..60u32);
        for _ in 0..observations {
            // Latencies spread over the buckets, log-uniformly from 1 ms to 8 s.
            let d = 10f64.powf(rng.random_range(-3.0..0.9));
            self.sum += d;
            self.count += 1.0;
            for (b, bound) in self.buckets.iter_mut().zip(BOUNDS) {
                if d <= bound {
                    *b += 1.0;
                }
            }
            self.buckets[BUCKETS.len() - 1] += 1.0;
        }
    }

    /// The samples of one scrape at `t` ms, or stale markers for every series when `stale`.
    fn samples(&self, t: i64, stale: bool, out: &mut Vec<Point>) {
        let value = |v: f64| if stale { STALE_NAN } else { v };
        let base = || {
            vec![
                ("instance", self.instance.clone()),
                ("job", self.job.clone()),
            ]
        };
        for (r, c) in self.counters.iter().enumerate() {
            out.push(Point {
                name: "http_requests_total",
                labels: vec![
                    ("instance", self.instance.clone()),
                    ("job", self.job.clone()),
                    ("route", format!("/r{r}")),
                ],
                t,
                v: value(*c),
            });
        }
        out.push(Point {
            name: "memory_usage_bytes",
            labels: base(),
            t,
            v: value(self.memory),
        });
        for (le, b) in BUCKETS.iter().zip(self.buckets) {
            out.push(Point {
                name: "request_duration_seconds_bucket",
                labels: vec![
                    ("instance", self.instance.clone()),
                    ("job", self.job.clone()),
                    ("le", (*le).to_string()),
                ],
                t,
                v: value(b),
            });
        }
        out.push(Point {
            name: "request_duration_seconds_sum",
            labels: base(),
            t,
            v: value(self.sum),
        });
        out.push(Point {
            name: "request_duration_seconds_count",
            labels: base(),
            t,
            v: value(self.count),
        });
    }
}

/// The fleet: scrape after scrape, in time order.
#[derive(Debug)]
pub struct Fleet {
    rng: StdRng,
    targets: Vec<Target>,
    start_ms: i64,
    /// The next scrape index.
    k: i64,
    replaced: usize,
}

impl Fleet {
    /// About `series` series (whole targets of [`SERIES_PER_TARGET`]), the first scrape at
    /// `start_ms` (on the 15 s grid), over `scrapes` scrapes; one target in twenty goes away at
    /// a random scrape and another takes its place one scrape later.
    pub fn new(seed: u64, series: usize, start_ms: i64, scrapes: i64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = (series / SERIES_PER_TARGET).max(1);
        let targets = (0..n)
            .map(|i| {
                let mut t = Target::new(&mut rng, i % 10, format!("host{i}"), 0);
                if i % 20 == 7 && scrapes > 4 {
                    t.ends_at = Some(rng.random_range(2..scrapes - 1));
                }
                t
            })
            .collect();
        Self {
            rng,
            targets,
            start_ms,
            k: 0,
            replaced: 0,
        }
    }

    /// The samples of the next scrape round, each target at its own offset plus jitter.
    pub fn next_round(&mut self) -> Vec<Point> {
        let mut out = Vec::new();
        let k = self.k;
        let mut newcomers = Vec::new();
        for target in &mut self.targets {
            if k < target.starts_at {
                continue;
            }
            let jitter = self.rng.random_range(-100..=100);
            let t = self.start_ms + k * STEP_S * 1000 + target.offset_ms + jitter;
            match target.ends_at {
                Some(end) if k > end => continue,
                Some(end) if k == end => {
                    // Gone: Prometheus writes a stale marker for each of its series at the
                    // scrape that failed to find it.
                    target.samples(t, true, &mut out);
                    newcomers.push(target.job.clone());
                    continue;
                }
                _ => {}
            }
            target.step(&mut self.rng);
            target.samples(t, false, &mut out);
        }
        for job in newcomers {
            self.replaced += 1;
            let job = job.trim_start_matches("job").parse().unwrap_or(0);
            let name = format!("host-new{}", self.replaced);
            let mut target = Target::new(&mut self.rng, job, name, k + 1);
            // A process that has been running for a while, newly discovered: its counters start
            // high. (A counter that starts from zero inside a rate window is where Prometheus 3,
            // whose semantics Vigil follows, and 2.42 extrapolate differently: 3 caps the
            // extrapolation at half an interval before it considers the zero point, 2.42 does
            // the reverse.)
            for _ in 0..self.rng.random_range(200..2_000) {
                target.step(&mut self.rng);
            }
            self.targets.push(target);
        }
        self.k += 1;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_never_decrease_but_at_restarts_and_series_end_stale() {
        let mut fleet = Fleet::new(7, 20 * SERIES_PER_TARGET, 0, 3000);
        let mut last: std::collections::HashMap<String, (i64, f64)> = Default::default();
        let (mut stale, mut resets, mut samples) = (0, 0, 0);
        for _ in 0..3000 {
            for p in fleet.next_round() {
                samples += 1;
                assert_ne!(p.t % 1000, 0, "a sample on a whole second: {p:?}");
                let key = format!("{}{:?}", p.name, p.labels);
                if p.v.to_bits() == STALE_NAN.to_bits() {
                    stale += 1;
                    last.remove(&key);
                    continue;
                }
                if let Some(&(t, v)) = last.get(&key) {
                    assert!(p.t > t, "time goes back in {key}");
                    if p.name.ends_with("_total") && p.v < v {
                        resets += 1;
                    }
                }
                last.insert(key, (p.t, p.v));
            }
        }
        assert!(samples > 3000 * 19 * SERIES_PER_TARGET, "{samples}");
        // Target 7 goes away (its series end stale) and a newcomer takes its place.
        assert_eq!(stale, SERIES_PER_TARGET);
        assert!(last.keys().any(|k| k.contains("host-new1")));
        assert!(
            resets > 0,
            "no counter reset in 3,000 scrapes of 20 targets"
        );
    }
}
