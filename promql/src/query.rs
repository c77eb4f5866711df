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

/// Most levels a query may nest: brackets (`(`, `[`) around a point of the query plus every
/// operator of the query bound the depth of its syntax tree, which the parser, the evaluator and
/// dropping the tree all recurse over. A query deeper than this is refused before it is parsed.
pub const MAX_NESTING: usize = 1024;

/// Parses a query; a query that could nest deeper than [`MAX_NESTING`] is refused before the
/// (recursive) parser sees it.
pub fn parse(query: &str) -> Result<Query> {
    let depth = nesting_bound(query);
    if depth > MAX_NESTING {
        return Err(QueryError::BadData(format!(
            "query nests too deeply: {depth} levels of parentheses, brackets and operators, at \
             most {MAX_NESTING} are allowed"
        )));
    }
    let expr = promql_parser::parser::parse(query).map_err(QueryError::BadData)?;
    Ok(Query {
        expr,
        text: query.to_string(),
    })
}

/// An upper bound of the depth of the syntax tree of `query`, from its text alone: every node on
/// a path from the root to a leaf is either a bracketed node (parentheses, a call, an
/// aggregation, a range or subquery) whose brackets enclose the leaf, or an operator with a token
/// of its own; so the deepest bracket nesting plus the number of operator tokens, plus one,
/// bounds it. Strings, label matchers and comments are skipped.
fn nesting_bound(query: &str) -> usize {
    let b = query.as_bytes();
    let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' && q != b'`' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                // Label matchers: strings and operators inside do not nest.
                while i < b.len() && b[i] != b'}' {
                    if let q @ (b'"' | b'\'' | b'`') = b[i] {
                        i += 1;
                        while i < b.len() && b[i] != q {
                            i += if b[i] == b'\\' && q != b'`' { 2 } else { 1 };
                        }
                    }
                    i += 1;
                }
            }
            b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'!' | b'=' => {
                operators += 1;
                // Two-character operators (`==`, `!=`, `<=`, `>=`) are one.
                if b.get(i + 1) == Some(&b'=') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                let word = &query[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|op| word.eq_ignore_ascii_case(op))
                {
                    operators += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    deepest + operators + 1
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nesting_bound_holds_and_deep_queries_are_refused_before_parsing() {
        assert_eq!(nesting_bound("up"), 1);
        assert_eq!(nesting_bound("sum by (job) (rate(x{a=~\"(((\"}[5m]))"), 4);
        assert_eq!(nesting_bound("a + b * -c"), 4);
        assert_eq!(nesting_bound("a and b or c unless d"), 4);
        assert_eq!(nesting_bound("\"((((\" # ((((\n"), 1);
        for query in [
            "1".to_string() + &"+1".repeat(20_000),
            "(".repeat(100_000) + "1" + &")".repeat(100_000),
            "-".repeat(100_000) + "1",
            "sum(".repeat(5_000) + "up" + &")".repeat(5_000),
        ] {
            let e = parse(&query).unwrap_err();
            assert_eq!(e.error_type(), "bad_data");
            assert!(e.to_string().contains("query nests too deeply"), "{e}");
        }
        // Deep, but within the limit: parsed.
        let query = "1".to_string() + &"+1".repeat(MAX_NESTING - 2);
        assert!(parse(&query).is_ok());
    }
}
