//! The write seam: what ingest hands the engine ([`Rows`] through a [`Sink`]) and how WAL
//! payloads turn back into rows on replay ([`PayloadDecoder`]).

use std::sync::Arc;

use arrow::array::RecordBatch;
use bytes::Bytes;
use common::{Signal, Tenant};
use futures::future::BoxFuture;

use crate::Result;

/// Rows converted from one request: the main table's rows, and for metrics the series they use.
#[derive(Debug, Clone)]
pub struct Rows {
    /// Rows of `spans`, `logs` or `samples`, in that table's schema.
    pub batch: RecordBatch,
    /// For metrics: rows of `series` (schema `common::schema::series_schema`) for every series
    /// that `batch` references, except those [`Sink::known_series`] said storage knows. `None`
    /// for traces and logs.
    pub series: Option<RecordBatch>,
    /// For metrics: exemplars of the samples (schema `common::schema::exemplars_schema`), of
    /// series that `series` or storage holds. `None` when there are none.
    pub exemplars: Option<RecordBatch>,
}

/// Whether storage knows a series id already (see [`Sink::known_series`]).
pub type KnownSeries = Arc<dyn Fn(u64) -> bool + Send + Sync>;

/// Where acknowledged rows go: the engine in production, a fake in tests.
pub trait Sink: Send + Sync + 'static {
    /// Makes `payload` (the OTLP protobuf request, kept for replay) durable in the WAL, then adds
    /// `rows` to the head; resolves with the WAL sequence number once both are done, which is when
    /// the client may be acknowledged. Fails with `Error::Backpressure` when the head is full.
    fn append(
        &self,
        tenant: Tenant,
        signal: Signal,
        payload: Bytes,
        rows: Rows,
    ) -> BoxFuture<'static, Result<u64>>;

    /// A test for series ids whose `series` row storage already holds for `tenant`: conversion
    /// may leave those rows out of [`Rows::series`]. `None` (the default): send every row.
    fn known_series(&self, _tenant: &Tenant) -> Option<KnownSeries> {
        None
    }

    /// Resolves once the heads have room for more rows, or fails with `Error::Backpressure`
    /// after a bounded wait; called before a request is decoded. The default never waits.
    fn wait_for_room(&self) -> BoxFuture<'static, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Turns a WAL payload back into rows during replay (implemented by `ingest`).
pub trait PayloadDecoder: Send + Sync {
    /// Decodes the OTLP protobuf `payload` of `signal` and converts it exactly as ingest did.
    fn decode(&self, signal: Signal, payload: &[u8]) -> std::result::Result<Rows, String>;
}
