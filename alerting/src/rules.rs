//! Rule files in Prometheus's format: `groups` of alerting and recording rules.
//!
//! [`parse`] reads a file as Prometheus's `rulefmt.Parse` does: the first YAML document,
//! unknown fields refused (unless told to ignore them), then every group and rule validated;
//! each error is worded as Prometheus words it, with the line and column of the offending node,
//! so that a file Prometheus refuses is refused here with the same message. [`check_files`] is
//! `promtool check rules` (`promtool test rules` is [`crate::unittest`]).

mod check;
mod load;
mod model;
mod validate;
mod yaml;

pub use check::{check_files, duplicates, CheckOptions, CheckOutcome, Duplicate};
pub use load::{parse, parse_file};
pub use model::{
    Language, NameValidation, ParseOptions, Pos, Rule, RuleFile, RuleGroup, TRACEQL_RULE_WINDOW,
};
