//! A dedicated Tokio runtime for query execution, so that a heavy query competes with other
//! queries for its threads and never with ingest for the server's runtime (InfluxDB's
//! `DedicatedExecutor`, in small), and the one way every engine runs a query on it: under a
//! timeout, with the work cancelled (not only the answer dropped) when time runs out or the
//! caller stops waiting ([`QueryExecutor::run`]).

use std::future::Future;
use std::io;
use std::time::Duration;

use promql::Cancel;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::{AbortHandle, JoinHandle};

use crate::{metrics, Error, Result};

/// Stack of each query thread.
const QUERY_STACK_BYTES: usize = 64 * 1024 * 1024;

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
            // Evaluation recurses over a query's syntax tree, up to `promql::MAX_NESTING` deep
            // (in a debug build a level takes kilobytes); the memory is reserved, not used.
            .thread_stack_size(QUERY_STACK_BYTES)
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

    /// Runs `work` on the query runtime and waits at most `timeout` for it. When time runs out,
    /// or when the returned future is dropped (the client went away), the task is aborted and
    /// `cancel` is raised, which stops work that runs without yielding (a PromQL evaluation
    /// checks it between steps).
    pub async fn run<F, T>(&self, timeout: Duration, cancel: Cancel, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let handle = self.spawn(async move {
            let _running = metrics::Running::start();
            work.await
        });
        let _stop = StopOnDrop {
            abort: handle.abort_handle(),
            cancel,
        };
        match tokio::time::timeout(timeout, handle).await {
            Err(_elapsed) => {
                metrics::TIMEOUTS.inc();
                Err(Error::Timeout(timeout))
            }
            Ok(Err(join)) => Err(Error::Executor(join.to_string())),
            Ok(Ok(out)) => out,
        }
    }
}

/// Stops a query task: aborts it at its next await and raises its cancel flag.
struct StopOnDrop {
    abort: AbortHandle,
    cancel: Cancel,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.abort.abort();
        self.cancel.cancel();
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
    async fn a_run_past_its_timeout_raises_the_cancel_flag_of_work_that_never_yields() {
        let executor = QueryExecutor::new(1).unwrap();
        let cancel = Cancel::default();
        let seen = cancel.clone();
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stopped);
        let out: Result<()> = executor
            .run(Duration::from_millis(50), cancel, async move {
                // Busy work that only a cancel flag can stop.
                while !seen.is_cancelled() {
                    std::hint::spin_loop();
                }
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(matches!(out, Err(Error::Timeout(_))), "{out:?}");
        for _ in 0..200 {
            if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the work went on after its timeout");
    }

    #[tokio::test]
    async fn aborting_the_handle_cancels_the_task() {
        let executor = QueryExecutor::new(1).unwrap();
        let handle = executor.spawn(std::future::pending::<()>());
        handle.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
    }
}
