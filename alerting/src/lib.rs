//! Vigil's alerting (issue 16, docs/0018). This crate holds, so far, rule files in Prometheus's
//! format: read as Prometheus reads them ([`rules::parse`]: strict fields, anchors, aliases and
//! merge keys, Prometheus's error wording with line and column) and checked as
//! `promtool check rules` checks them ([`rules::check_files`], behind `vigil rules check`). The
//! evaluator, alert state, Alertmanager-compatible routing, silences and notifiers build on it.
//!
//! It depends on `common` and the query engines only (DESIGN.md), never on storage internals
//! or HTTP routers.

pub mod rules;
