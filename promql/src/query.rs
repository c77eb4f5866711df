//! A query as the caller hands it to the evaluator: its text parsed ([`parse`]), the limits it
//! runs under ([`Options`], with a [`Cancel`] flag the caller may raise), and what comes back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use promql_parser::parser::Expr;

use crate::error::{QueryError, Result};
use crate::value::Value;

/// Limits and defaults of evaluation.
#[derive(Debug, Clone)]
pub struct Options {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_ms: i64,
    /// Most samples a query may hold at once.
    pub max_samples: usize,
    /// Step of a subquery that names none (Prometheus: the global evaluation interval, 1m).
    pub subquery_step_ms: i64,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Raised by the caller to stop the evaluation (its deadline passed, or nobody waits for
    /// the answer any more); the evaluator checks it as often as its own deadline.
    pub cancel: Cancel,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lookback_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            subquery_step_ms: 60_000,
            timeout: Duration::from_secs(120),
            cancel: Cancel::default(),
        }
    }
}

/// A query's result and its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// `PromQL warning: …` annotations.
    pub warnings: Vec<String>,
    /// `PromQL info: …` annotations.
    pub infos: Vec<String>,
}

/// A parsed query with its text (annotations give positions in it).
#[derive(Debug, Clone)]
pub struct Query {
    /// The syntax tree.
    pub expr: Expr,
    /// The text it was parsed from.
    pub text: String,
}

/// Parses a query.
pub fn parse(query: &str) -> Result<Query> {
    let expr = promql_parser::parser::parse(query).map_err(QueryError::BadData)?;
    Ok(Query {
        expr,
        text: query.to_string(),
    })
}

/// A flag that stops an evaluation under way: shared by clones, raised once.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks every evaluation holding this flag to stop with [`QueryError::Canceled`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
