//! The write path: an append is checked against the head limit, made durable in the WAL, then
//! applied to its table's head (and its series to the tenant's registry) in WAL order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use common::{Signal, Tenant};
use futures::future::BoxFuture;

use super::sink::{KnownSeries, Rows, Sink};
use super::state::Engine;
use crate::metrics;
use crate::wal::WalEntry;
use crate::{Error, Result};

impl Sink for Engine {
    fn known_series(&self, tenant: &Tenant) -> Option<KnownSeries> {
        let registry = self.registry(tenant);
        Some(Arc::new(move |id| registry.contains(id)))
    }

    fn wait_for_room(&self) -> BoxFuture<'static, Result<()>> {
        let head_bytes = Arc::clone(&self.head_bytes);
        let drained = Arc::clone(&self.head_drained);
        let limit = self.config.max_head_bytes;
        let deadline = tokio::time::Instant::now() + self.config.head_full_wait;
        Box::pin(async move {
            loop {
                let notified = drained.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before the check, so a flush finishing in between still wakes us.
                notified.as_mut().enable();
                let held = head_bytes.load(Ordering::Relaxed);
                if held <= limit {
                    return Ok(());
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    return Err(Error::Backpressure { bytes: held, limit });
                }
            }
        })
    }

    fn append(
        &self,
        tenant: Tenant,
        signal: Signal,
        payload: Bytes,
        rows: Rows,
    ) -> BoxFuture<'static, Result<u64>> {
        let held = self.head_bytes.load(Ordering::Relaxed);
        if held > self.config.max_head_bytes {
            let limit = self.config.max_head_bytes;
            return Box::pin(async move { Err(Error::Backpressure { bytes: held, limit }) });
        }
        let table = self.table(&tenant, signal);
        let registry = rows.series.as_ref().map(|_| self.registry(&tenant));
        let head_bytes = Arc::clone(&self.head_bytes);
        let now = self.clock.now_nanos();
        let apply = Box::new(move |lsn: u64| {
            if let (Some(reg), Some(s)) = (&registry, &rows.series) {
                reg.add(s);
            }
            let added = table.insert(rows, lsn, now);
            head_bytes.fetch_add(added, Ordering::Relaxed);
            metrics::HEAD_BYTES
                .with_label_values(&[signal.as_str()])
                .add(added as i64);
        });
        Box::pin(self.wal.append(
            WalEntry {
                tenant,
                signal,
                payload,
            },
            apply,
        ))
    }
}
