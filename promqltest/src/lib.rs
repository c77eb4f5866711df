//! Test support: Prometheus's PromQL test scripts (the `promqltest` format,
//! docs/reference/promqltest-format.md) parsed ([`script`]) and run against Vigil's evaluator
//! ([`runner`]), as upstream's own runner does. Only tests and tools depend on this crate; the
//! `promql` crate itself holds the evaluator alone.

pub mod corpus;
pub mod runner;
pub mod script;
