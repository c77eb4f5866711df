//! Vigil's alerting (issue 16, docs/0018, docs/0020). Rule files in Prometheus's format, read as
//! Prometheus reads them ([`rules::parse`]: strict fields, anchors, aliases and merge keys,
//! Prometheus's error wording with line and column) and checked as `promtool check rules`
//! checks them ([`rules::check_files`], behind `vigil rules check`); what one evaluation of a
//! rule makes of its query's result ([`alerts`]: alert states with Prometheus's timing, `ALERTS`
//! and `ALERTS_FOR_STATE`, recorded series); a group's evaluation over a [`group::Backend`]
//! (staleness markers, restore after a restart); `promtool test rules` over an in-memory source
//! ([`unittest`]); and the server's [`RuleManager`] (rules per tenant on their intervals over the
//! engines, reloads) with Prometheus's rule APIs ([`rules_router`]). Alertmanager-compatible
//! routing, silences and notifiers follow.
//!
//! It depends on `common` and the query engines only (DESIGN.md), never on storage internals;
//! its HTTP APIs use `query`'s kit.

pub mod alertmanager;
pub mod alerts;
pub mod engines;
pub mod group;
mod http;
pub mod manager;
mod metrics;
pub mod rules;
pub use common::template;
pub mod timefmt;
pub mod unittest;
mod yaml;

pub use http::rules_router;
pub use manager::{ManagerOptions, RuleManager};
