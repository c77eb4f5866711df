//! The SQL engine on DataFusion: per tenant, a session ([`session_for_tenant`]) sees the tables
//! `spans`, `logs`, `samples` (each a union of the head batches in memory and the Parquet
//! segments whose time range and index can match the query, pruned further by statistics and
//! bloom filters) and `series`, with trace and span ids comparable to hex strings and
//! `match(body, '…')` answered by the token index. [`SqlEngine::execute`] runs one read-only
//! statement under [`SqlLimits`] and returns Arrow batches; no HTTP is involved.

mod derived;
mod engine;
mod id_literal;
mod index_filter;
pub(crate) mod labels_udf;
mod match_udf;
mod scan_exec;
mod session;
mod table;
mod time_range;

pub use engine::{SqlEngine, SqlLimits, SqlResult};
pub use session::session_for_tenant;
