//! Alertmanager inside Vigil (issue 16, point 2), built up from its parts: label matchers as
//! Alertmanager parses them ([`matchers`]) the routing tree ([`route`]), time intervals
//! ([`timeinterval`]) and whole configuration files ([`config`]: `alertmanager.yml` loaded or
//! refused as Alertmanager's `config.Load` does); grouping, silences, notifiers and the v2 API
//! follow.

pub mod alert;
mod api;
pub mod chat;
pub mod config;
pub mod dispatch;
pub mod matchers;
mod metrics;
pub mod notify;
pub mod route;
mod schema;
pub mod silence;
pub mod smtp;
pub mod store;
pub mod texts;
pub mod timeinterval;
pub mod tls;

pub use api::{alertmanager_router, Alertmanagers, DEFAULT_CONFIG};

/// The header carrying a notification's id: the same on every attempt and after a restart, so
/// a receiver can drop the one repeat a crash between delivery and its record may cause.
pub const NOTIFICATION_ID: &str = "X-Vigil-Notification-Id";
