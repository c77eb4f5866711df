//! Writes the span metrics and service graph of [`ingest::generator::Generator`] every
//! collection interval, per tenant, through the remote-write path (WAL first), and once more
//! when the server stops.

use std::sync::Arc;

use common::Clock;
use ingest::generator::Generator;
use ingest::IngestState;
use tokio::sync::watch;

/// Collects and writes until `stop`, then once more.
pub(crate) async fn run(
    state: Arc<IngestState>,
    generator: Arc<Generator>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = generator.config().collection_interval;
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        let now_ms = common::SystemClock.now_nanos() / 1_000_000;
        for (tenant, request) in generator.collect(now_ms) {
            if let Err(e) = ingest::write_request(&state, tenant.clone(), &request).await {
                tracing::warn!(error = %e, tenant = %tenant, "writing span metrics failed");
            }
        }
        if stopping {
            return;
        }
    }
}
