//! A dedicated Tokio runtime for query execution, so that a heavy query competes with other
//! queries for its threads and never with ingest for the server's runtime (InfluxDB's
//! `DedicatedExecutor`, in small).

use std::future::Future;
use std::io;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// Owns the multi-thread runtime that queries execute on.
#[derive(Debug)]
pub struct QueryExecutor {
    handle: Handle,
    // `None` only while being dropped.
    runtime: Option<Runtime>,
}

impl QueryExecutor {
    /// Starts a runtime with `threads` worker threads (at least one) named `vigil-query`.
    pub fn new(threads: usize) -> io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("vigil-query")
            .enable_all()
            .build()?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// The default thread count: every available core (queries are CPU-bound, and the ingest
    /// runtime keeps its own threads).
    pub fn default_threads() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// Runs `future` on the query runtime. Awaiting the handle from any runtime yields its
    /// output; aborting (or dropping) the handle's task cancels the query.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }
}

impl Drop for QueryExecutor {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code; let the workers wind down
        // on their own instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_futures_on_its_own_threads_and_drops_inside_async_code() {
        let executor = QueryExecutor::new(2).unwrap();
        let name = executor
            .spawn(async { std::thread::current().name().map(str::to_string) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("vigil-query"));
        drop(executor);
    }

    #[tokio::test]
    async fn aborting_the_handle_cancels_the_task() {
        let executor = QueryExecutor::new(1).unwrap();
        let handle = executor.spawn(std::future::pending::<()>());
        handle.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
    }
}
