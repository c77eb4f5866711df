//! The storage engine: the WAL, and the heads and segments of every tenant and signal. Rows come
//! in through the [`Sink`] (`write.rs`), become durable in the WAL and queryable in the heads,
//! are flushed to segments (`flush.rs`), merged and expired (`compact.rs`), and are read through
//! the [`crate::ReadView`] (`views.rs`); after a restart the WAL is replayed (`state.rs`) and
//! the hot window read back (`warm.rs`).

mod compact;
mod config;
mod flush;
mod registry;
mod sink;
mod state;
#[cfg(test)]
mod tests;
mod views;
mod warm;
mod write;

pub use self::config::{CompactionConfig, EngineConfig, RetentionConfig, SignalRetention};
pub use self::state::Engine;
pub use compact::MaintenanceReport;
pub use sink::{KnownSeries, PayloadDecoder, Rows, Sink};
