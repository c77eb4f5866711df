//! Shared vocabulary of Vigil: the Arrow schemas of the stored tables (`spans`, `logs`, `samples`,
//! `series`), the signal and tenant types that key every piece of data, the error codes that every
//! crate maps its errors to, the clock that tests can move, and Go's template language as
//! Prometheus, Alertmanager and Loki use it (`template`).
//!
//! Nothing here does I/O; every other crate depends on this one.

mod clock;
pub mod duration;
mod error;
pub mod go;
pub mod hash;
pub mod label_name;
pub mod schema;
mod signal;
pub mod template;

/// jemalloc's options for Vigil's binaries (`_rjem_malloc_conf`, NUL-terminated): long page
/// decay and large thread caches (docs/0005). The server and the benchmarks that run its code
/// (`logbench`) export the same string.
pub const JEMALLOC_CONF: &[u8] = b"dirty_decay_ms:60000,muzzy_decay_ms:60000,tcache_max:1048576,tcache_nslots_small_max:2048,lg_tcache_nslots_mul:3\0";
mod tenant;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ErrorCode;
pub use signal::Signal;
pub use tenant::{Tenant, TenantError, DEFAULT_TENANT, TENANT_HEADER};
