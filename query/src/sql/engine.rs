//! [`SqlEngine`]: one read-only SQL statement of one tenant, planned and run on the query
//! runtime under a row limit and a timeout.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray, MapArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use common::Tenant;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SQLOptions, SessionContext};
use futures::StreamExt;
use parking_lot::Mutex;
use storage::ReadView;

use super::session::{build_session, register_store};
use crate::executor::QueryExecutor;
use crate::{Error, Result};

/// Limits that every SQL query runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlLimits {
    /// Most rows a result may have. A larger result is refused with an error that names this
    /// limit rather than truncated, so no client can mistake part of an answer for all of it;
    /// execution stops as soon as the limit is passed.
    pub max_result_rows: usize,
    /// Longest a query may take, planning included; past it the query is cancelled and fails
    /// with [`Error::Timeout`].
    pub timeout: Duration,
}

impl Default for SqlLimits {
    fn default() -> Self {
        Self {
            max_result_rows: 100_000,
            timeout: Duration::from_secs(60),
        }
    }
}

/// The answer of a SQL query: its schema and its rows.
#[derive(Debug, Clone)]
pub struct SqlResult {
    /// The result's columns.
    pub schema: SchemaRef,
    /// Its rows, at most [`SqlLimits::max_result_rows`] in all.
    pub batches: Vec<RecordBatch>,
}

/// SQL over a [`ReadView`], per tenant, executed on a [`QueryExecutor`].
pub struct SqlEngine {
    view: Arc<dyn ReadView>,
    executor: Arc<QueryExecutor>,
    /// One runtime environment for all sessions: it holds the store and the Parquet footer
    /// cache.
    runtime: Arc<RuntimeEnv>,
    /// A session per tenant, reused by its queries: building one registers every function and
    /// rule anew, which cost more than planning a short query. Reuse is safe because statements
    /// are read-only (no `SET`, DDL or DML changes a session) and tables take their snapshot
    /// when a query scans them; each query still plans on its own copy of the session state.
    sessions: Mutex<HashMap<Tenant, SessionContext>>,
}

impl std::fmt::Debug for SqlEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlEngine")
            .field("view", &self.view)
            .field("executor", &self.executor)
            .field("sessions", &self.sessions.lock().len())
            .finish_non_exhaustive()
    }
}

/// Tenants whose sessions are kept; past it the kept sessions are dropped and rebuilt on use.
const MAX_SESSIONS: usize = 256;

impl SqlEngine {
    /// An engine over `view` running queries on `executor`.
    pub fn new(view: Arc<dyn ReadView>, executor: Arc<QueryExecutor>) -> Self {
        let runtime = Arc::new(RuntimeEnv::default());
        register_store(&runtime, view.as_ref());
        Self {
            view,
            executor,
            runtime,
            sessions: Mutex::default(),
        }
    }

    /// The session of `tenant`, built on first use.
    fn session(&self, tenant: Tenant) -> SessionContext {
        if let Some(ctx) = self.sessions.lock().get(&tenant) {
            return ctx.clone();
        }
        let ctx = build_session(
            Arc::clone(&self.view),
            tenant.clone(),
            Arc::clone(&self.runtime),
        );
        let mut sessions = self.sessions.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        sessions.insert(tenant, ctx.clone());
        ctx
    }

    /// The keys of the attribute map `column` (`resource_attributes` or `attributes`) in the
    /// rows of `table` of `tenant` that may lie in `[start, end]` (ns): a superset, from the
    /// indexes of the segments meeting the range and the unflushed rows; `None` when a segment
    /// has no index to tell.
    pub async fn attribute_keys(
        &self,
        tenant: &Tenant,
        table: &str,
        column: &str,
        (start, end): (i64, i64),
    ) -> Option<BTreeSet<String>> {
        let index_column = match column {
            "resource_attributes" => "resource_keys",
            "attributes" => "attr_keys",
            _ => return None,
        };
        let snapshot = self.view.snapshot(tenant, table);
        let mut keys = BTreeSet::new();
        for batch in &snapshot.head {
            let map = batch.column_by_name(column)?;
            let map = map.as_any().downcast_ref::<MapArray>()?;
            let names = arrow::compute::cast(map.keys(), &arrow::datatypes::DataType::Utf8).ok()?;
            let names = names.as_string::<i32>();
            // Only the entries of this batch's rows (the map may be a slice).
            let offsets = map.value_offsets();
            let (from, to) = (offsets[0] as usize, offsets[map.len()] as usize);
            keys.extend((from..to).map(|i| names.value(i).to_string()));
        }
        for segment in snapshot
            .segments
            .iter()
            .filter(|s| s.min_time <= end && s.max_time >= start)
        {
            let index = self
                .view
                .segment_index(segment)
                .await
                .filter(|i| u64::from(i.rows()) == segment.rows)?;
            // No column: no row of the segment has a key.
            if let Some(c) = index.column(index_column) {
                keys.extend(
                    c.all_terms()
                        .into_iter()
                        .map(|t| String::from_utf8_lossy(&t).into_owned()),
                );
            }
        }
        Some(keys)
    }

    /// The executor queries run on (shared with the other engines).
    pub fn executor(&self) -> &Arc<QueryExecutor> {
        &self.executor
    }

    /// Plans and runs `sql` (one read-only statement: no DDL, DML or `SET`) over `tenant`'s
    /// tables, collecting at most `limits.max_result_rows` rows.
    pub async fn execute(
        &self,
        tenant: Tenant,
        sql: &str,
        limits: &SqlLimits,
    ) -> Result<SqlResult> {
        check_nesting(sql)?;
        let ctx = self.session(tenant);
        let max_rows = limits.max_result_rows;
        let sql = sql.to_string();
        self.executor
            .run(limits.timeout, promql::Cancel::default(), async move {
                run_query(&ctx, &sql, max_rows).await
            })
            .await
    }
}

impl SqlEngine {
    /// Plans and runs `sql` like [`SqlEngine::execute`], but hands each result batch to `f`
    /// with `state` as it comes instead of collecting them: for readers that reduce many rows
    /// (a TraceQL metrics query over a day of spans) and keep none. Runs on the query runtime
    /// under `limits.timeout`; `max_result_rows` does not apply. Returns the final state.
    pub async fn fold<S, F>(
        &self,
        tenant: Tenant,
        sql: &str,
        limits: &SqlLimits,
        state: S,
        mut f: F,
    ) -> Result<S>
    where
        S: Send + 'static,
        F: FnMut(&mut S, RecordBatch) -> Result<()> + Send + 'static,
    {
        check_nesting(sql)?;
        let ctx = self.session(tenant);
        let sql = sql.to_string();
        self.executor
            .run(limits.timeout, promql::Cancel::default(), async move {
                let mut stream = stream(&ctx, &sql).await?;
                let mut state = state;
                while let Some(batch) = stream.next().await {
                    f(&mut state, batch?)?;
                }
                Ok(state)
            })
            .await
    }
}

/// Most levels a SQL statement may nest: the deepest parentheses plus every operator bound the
/// depth of its expression trees, which parsing, planning and dropping them recurse over (a
/// 20,000-term sum overflowed a 64 MiB stack). Refused before DataFusion sees the text.
pub(crate) const MAX_NESTING: usize = 1024;

/// Refuses `sql` when its expressions may nest deeper than [`MAX_NESTING`].
fn check_nesting(sql: &str) -> Result<()> {
    let depth = nesting_bound(sql);
    if depth > MAX_NESTING {
        return Err(Error::BadData(format!(
            "query nests too deeply: {depth} levels of parentheses and operators, at most \
             {MAX_NESTING} are allowed"
        )));
    }
    Ok(())
}

/// An upper bound of the depth of the expression trees of `sql`, from its text alone: the
/// deepest parentheses plus the number of operators (symbols, and the words `AND`, `OR`, `NOT`),
/// plus one. String literals, quoted identifiers and comments are skipped.
fn nesting_bound(sql: &str) -> usize {
    let b = sql.as_bytes();
    let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'!' | b'=' | b'|' | b'&' => {
                operators += 1;
                // Two-character operators (`<=`, `<>`, `||`, `!=`, ...) are one.
                if matches!(b.get(i + 1), Some(b'=' | b'>' | b'|' | b'&')) {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &sql[start..i];
                if ["and", "or", "not"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w))
                {
                    operators += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    deepest + operators + 1
}

/// Plans `sql` (read-only statements only) and starts it.
async fn stream(ctx: &SessionContext, sql: &str) -> Result<SendableRecordBatchStream> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = ctx.sql_with_options(sql, options).await?;
    Ok(frame.execute_stream().await?)
}

/// Plans and runs `sql`, collecting at most `max_rows` rows.
async fn run_query(ctx: &SessionContext, sql: &str, max_rows: usize) -> Result<SqlResult> {
    let mut stream = stream(ctx, sql).await?;
    let schema = stream.schema();
    let mut batches = Vec::new();
    let mut rows = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        if rows > max_rows {
            return Err(Error::TooManyRows { limit: max_rows });
        }
        batches.push(batch);
    }
    Ok(SqlResult { schema, batches })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nesting_bound_counts_parentheses_and_operators_not_strings_or_comments() {
        assert_eq!(nesting_bound("SELECT 1"), 1);
        assert_eq!(
            nesting_bound("SELECT a + b * (c - d) FROM t WHERE x <= 3 AND y <> 'a+b'"),
            8
        );
        assert_eq!(nesting_bound("SELECT 1 -- a + b\n/* ((( */ + 2"), 2);
        assert_eq!(nesting_bound("SELECT \"a+b\" FROM t"), 1);
        assert!(nesting_bound(&format!("SELECT 1{}", "+1".repeat(20_000))) > MAX_NESTING);
        assert!(nesting_bound(&format!("SELECT 1{}", "+1".repeat(1_000))) <= MAX_NESTING);
    }
}
