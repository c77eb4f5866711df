//! The manifest: an append-only log of versioned JSON entries per tenant and signal under
//! `{tenant}/{signal}/_manifest/{version:020}.json`, each committed with put-if-absent.

use serde::{Deserialize, Serialize};

/// One Parquet segment as the manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Unique id of the segment (also its file stem).
    pub id: String,
    /// Object-store path of the main Parquet file (`spans`, `logs` or `samples` rows).
    pub path: String,
    /// Object-store path of the series Parquet file, for metrics segments.
    #[serde(default)]
    pub series_path: Option<String>,
    /// Smallest value of the table's time column (its own unit; see `common::schema::time_column`).
    pub min_time: i64,
    /// Largest value of the table's time column.
    pub max_time: i64,
    /// Number of rows.
    pub rows: u64,
    /// Size of the Parquet file in bytes.
    pub bytes: u64,
    /// Highest WAL sequence number whose rows this segment holds; replay skips records at or
    /// below the highest `max_lsn` of a tenant and signal.
    pub max_lsn: u64,
    /// Segment schema version (`common::schema::SCHEMA_VERSION`).
    pub schema_version: u32,
}
