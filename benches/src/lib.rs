//! Load generation shared by the benchmark programs: `loadgen` (OTLP ingest against a running
//! server) and `indexbench` (index and query benchmark on a generated store).

pub mod gen;
