//! Vigil's alerting (issue 16, docs/0018). This crate holds, so far, rule files in Prometheus's
//! format: read as Prometheus reads them ([`rules::parse`]: strict fields, anchors, aliases and
//! merge keys, Prometheus's error wording with line and column) and checked as
//! `promtool check rules` checks them ([`rules::check_files`], behind `vigil rules check`);
//! and what one evaluation of a rule makes of its query's result ([`alerts`]: alert states with
//! Prometheus's timing, `ALERTS` and `ALERTS_FOR_STATE`, recorded series). The group evaluator,
//! Alertmanager-compatible routing, silences and notifiers build on them.
//!
//! It depends on `common` and the query engines only (DESIGN.md), never on storage internals
//! or HTTP routers.

pub mod alerts;
pub mod rules;
pub mod template;
