//! Shared vocabulary of Vigil: the Arrow schemas of the stored tables (`spans`, `logs`, `samples`,
//! `series`), the signal and tenant types that key every piece of data, the error codes that every
//! crate maps its errors to, the clock that tests can move, and Go's template language as
//! Prometheus, Alertmanager and Loki use it (`template`).
//!
//! Nothing here does I/O; every other crate depends on this one.

mod clock;
pub mod duration;
mod error;
pub mod hash;
pub mod schema;
mod signal;
pub mod template;
mod tenant;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ErrorCode;
pub use signal::Signal;
pub use tenant::{Tenant, TenantError, DEFAULT_TENANT, TENANT_HEADER};
