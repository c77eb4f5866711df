//! SQL over Vigil's stored data. A [`storage::ReadView`] flows in; per tenant, a DataFusion
//! session ([`session_for_tenant`]) sees the tables `spans`, `logs`, `samples` (each a union of
//! the head batches in memory and the Parquet segments whose time range can match the query,
//! pruned further by statistics and bloom filters) and `series`, with trace and span ids
//! comparable to hex strings. Answers flow out of `POST /api/v1/sql` ([`sql_router`]) as JSON
//! or an Arrow IPC stream, computed on a dedicated runtime ([`QueryExecutor`]) under
//! [`QueryLimits`].

mod api;
mod error;
mod executor;
mod id_literal;
mod index_filter;
mod match_udf;
mod prom;
mod prom_read;
mod sample_value;
mod scan_exec;
mod session;
mod table;
mod time_range;

pub use api::{
    sql_router, sql_router_with_executor, QueryLimits, ARROW_STREAM, SQL_PATH, TENANT_HEADER,
};
pub use error::{Error, Result};
pub use executor::QueryExecutor;
pub use prom::{prometheus_router, PromLimits};
pub use session::session_for_tenant;
