//! PromQL for Vigil: a parsed query ([`parse`]) evaluated with Prometheus 3 semantics
//! ([`instant`], [`range`]) over a [`Source`] of series. Pure: no I/O and no HTTP; the caller
//! says what the query reads ([`selections`]), loads it, and hands it over (a [`Preloaded`]
//! source), so the same evaluator runs under the HTTP API, the rule evaluator and the tests.
//!
//! Native histograms are not supported yet: series hold float samples only.

mod aggregate;
mod cursor;
mod error;
mod ev;
mod eval;
mod functions;
mod histogram;
pub mod notation;
mod query;
mod select;
mod source;
pub mod value;

pub use promql_parser::{label, parser as ast};

pub use error::QueryError;
pub use ev::selector_matchers;
pub use eval::{instant, range, selections};
pub use query::{parse, Cancel, Options, Query, QueryResult, MAX_NESTING};
pub use source::{matches, MemSource, Preloaded, Samples, Source, StoredSeries};
