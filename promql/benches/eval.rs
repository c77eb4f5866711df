//! Cost of PromQL evaluation over series in memory: samples read per second for a range query
//! of `sum by (job) (rate(...[5m]))` and a `histogram_quantile`, over 1,000 series × 6 h at
//! 15 s (1.44M samples), 60 s steps.
//!
//! `cargo bench -p promql --bench eval`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use promql::value::Labels;
use promql::MemSource;
use promql::{parse, range, Options};

const SERIES: usize = 1_000;
const HOURS: i64 = 6;
const STEP_MS: i64 = 15_000;

fn labels(pairs: &[(&str, String)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn store() -> (MemSource, usize) {
    let mut s = MemSource::new();
    let points = (HOURS * 3_600_000 / STEP_MS) as usize;
    let mut total = 0;
    for i in 0..SERIES {
        let counter: Vec<(i64, f64)> = (0..points)
            .map(|k| (k as i64 * STEP_MS + 3_300, (k * (i % 7 + 1)) as f64))
            .collect();
        total += counter.len();
        s.append(
            labels(&[
                ("__name__", "http_requests_total".into()),
                ("job", format!("job{}", i % 10)),
                ("instance", format!("i{i}")),
            ]),
            &counter,
        )
        .expect("in order");
    }
    // 100 classic histograms of 10 buckets.
    for i in 0..100 {
        for (b, le) in ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "50", "+Inf"]
            .iter()
            .enumerate()
        {
            let bucket: Vec<(i64, f64)> = (0..points)
                .map(|k| (k as i64 * STEP_MS + 3_300, (k * (b + 1)) as f64))
                .collect();
            total += bucket.len();
            s.append(
                labels(&[
                    ("__name__", "latency_seconds_bucket".into()),
                    ("job", format!("job{}", i % 10)),
                    ("instance", format!("i{i}")),
                    ("le", le.to_string()),
                ]),
                &bucket,
            )
            .expect("in order");
        }
    }
    (s, total)
}

fn bench(c: &mut Criterion) {
    let (s, _) = store();
    let opts = Options::default();
    let end = HOURS * 3_600_000;
    let mut g = c.benchmark_group("promql");
    g.sample_size(10);
    for (name, q, samples) in [
        (
            "sum_rate",
            "sum by (job) (rate(http_requests_total[5m]))",
            SERIES as u64 * (end / STEP_MS) as u64,
        ),
        (
            "histogram_quantile",
            "histogram_quantile(0.9, sum by (job, le) (rate(latency_seconds_bucket[5m])))",
            1_000 * (end / STEP_MS) as u64,
        ),
    ] {
        let q = parse(q).expect("parses");
        g.throughput(Throughput::Elements(samples));
        g.bench_function(name, |b| {
            b.iter(|| range(&s, &opts, &q, 0, end, 60_000).expect("evaluates"));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
