//! PromQL for Vigil: an evaluator with Prometheus 3 semantics over a [`storage::Storage`],
//! and a runner of Prometheus's own test scripts (`script`, `runner`).
//!
//! Native histograms are not supported yet: series hold float samples only.

mod aggregate;
pub mod eval;
mod functions;
mod histogram;
pub mod runner;
pub mod script;
pub mod storage;
pub mod value;

pub use promql_parser::{label, parser as ast};

pub use eval::{instant, parse, range, selections, Options, Query, QueryError, QueryResult};
