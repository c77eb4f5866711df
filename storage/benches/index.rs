//! Cost of building a segment index: log records (access-log lines with attributes) and
//! series rows per second, and index bytes per record.
//!
//! `cargo bench -p storage --bench index`

use std::sync::Arc;

use arrow::array::{
    Int32Array, MapBuilder, MapFieldNames, RecordBatch, StringArray, StringBuilder,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use storage::index::{index_batches, IndexKind, IndexOptions, SegmentIndex};

/// Rows of the timed batch; index sizes are also reported for a segment of `BIG_ROWS` records.
const ROWS: usize = 65_536;
const BIG_ROWS: usize = 1 << 20;

/// A small deterministic generator (xorshift), enough to give the index realistic term counts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Skewed pick in `0..n`: small values far more often.
    fn skewed(&mut self, n: u64) -> u64 {
        let a = self.next() % n;
        let b = self.next() % n;
        a.min(b).min(self.next() % n)
    }
}

fn attributes(rows: &[(String, String)]) -> arrow::array::MapArray {
    let names = MapFieldNames {
        entry: "entries".into(),
        key: "key".into(),
        value: "value".into(),
    };
    let mut m = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
    for (method, status) in rows {
        m.keys().append_value("http.request.method");
        m.values().append_value(method);
        m.keys().append_value("http.response.status_code");
        m.values().append_value(status);
        m.append(true).expect("map row");
    }
    m.finish()
}

fn access_logs(rows: usize) -> (RecordBatch, usize) {
    let routes = [
        "/api/v1/users",
        "/api/v1/orders",
        "/static/app.js",
        "/login",
        "/api/v1/cart/items",
        "/healthz",
    ];
    let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    let statuses = ["200", "200", "200", "201", "304", "404", "500"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut bodies = Vec::with_capacity(rows);
    let mut attrs = Vec::with_capacity(rows);
    for i in 0..rows {
        let ip = rng.skewed(5000);
        let route = routes[rng.skewed(routes.len() as u64) as usize];
        let method = methods[rng.next() as usize % methods.len()];
        let status = statuses[rng.next() as usize % statuses.len()];
        let user = rng.skewed(100_000);
        bodies.push(format!(
            "10.{}.{}.{} - user{user} [25/Nov/2026:10:{:02}:{:02} +0000] \"{method} {route}?page={} HTTP/1.1\" {status} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
            ip / 65536 % 256, ip / 256 % 256, ip % 256, i / 60 % 60, i % 60, rng.next() % 50, rng.next() % 20000
        ));
        attrs.push((method.to_owned(), status.to_owned()));
    }
    let raw: usize = bodies.iter().map(String::len).sum();
    let batch = RecordBatch::try_from_iter([
        (
            "service_name",
            // Grouped by service, as the rows of a flushed segment are.
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| ["api", "web"][usize::from(i >= rows / 2)]),
            )) as _,
        ),
        (
            "severity_text",
            Arc::new(StringArray::from_iter_values((0..rows).map(|_| "INFO"))) as _,
        ),
        (
            "severity_number",
            Arc::new(Int32Array::from_iter_values((0..rows).map(|_| 9))) as _,
        ),
        (
            "body",
            Arc::new(StringArray::from_iter_values(&bodies)) as _,
        ),
        ("attributes", Arc::new(attributes(&attrs)) as _),
    ])
    .expect("batch");
    (batch, raw)
}

fn bench(c: &mut Criterion) {
    let (logs, _) = access_logs(ROWS);
    let (big, big_raw) = access_logs(BIG_ROWS);
    let mut g = c.benchmark_group("index");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    for block_rows in [256u32, 1024, 4096, 8192] {
        let opts = IndexOptions {
            block_rows,
            ..Default::default()
        };
        let size = index_batches(IndexKind::Logs, std::slice::from_ref(&big), &opts).len();
        eprintln!(
            "logs index, postings per {block_rows} rows: {size} bytes for {BIG_ROWS} \
             records = {:.2} B/record, {:.1}% of the raw text",
            size as f64 / BIG_ROWS as f64,
            100.0 * size as f64 / big_raw as f64
        );
        if block_rows == 1024 {
            let bytes = index_batches(IndexKind::Logs, std::slice::from_ref(&big), &opts);
            let idx = SegmentIndex::decode(bytes.into()).expect("decodes");
            for name in idx.column_names() {
                let c = idx.column(name).expect("listed");
                let (dict, postings) = c.sizes();
                eprintln!(
                    "  {name}: {} terms, dictionary {dict} B, postings {postings} B",
                    c.len()
                );
            }
        }
        g.bench_function(format!("logs/block_rows={block_rows}"), |b| {
            b.iter(|| index_batches(IndexKind::Logs, std::slice::from_ref(&logs), &opts));
        });
    }
    // What bodies cost: the index without them (as flushes wrote it before), and the tokenizer
    // alone.
    let no_body = IndexOptions {
        body: false,
        ..Default::default()
    };
    g.bench_function("logs/no_body", |b| {
        b.iter(|| index_batches(IndexKind::Logs, std::slice::from_ref(&logs), &no_body));
    });
    let bodies = logs
        .column_by_name("body")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .expect("body column")
        .clone();
    g.bench_function("tokens", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for body in bodies.iter().flatten() {
                storage::index::tokens(body, |t| n += t.len());
            }
            n
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
