//! Load generation shared by the benchmark programs: `loadgen` (OTLP ingest against a running
//! server), `indexbench` (index and query benchmark on a generated store), `logbench` (LogQL on a
//! generated day of access logs) and `promcompare`
//! (PromQL side by side with Prometheus, on scraped-looking data).

pub mod gen;
pub mod scrape;
pub mod store;
