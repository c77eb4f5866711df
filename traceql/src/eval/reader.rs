//! Field values of one trace's spans, read the way a pipeline's `by()` and `select()` read
//! them, for the metrics engine: what it groups by, what it measures, and `compare()`'s
//! selection filter.

use super::field::{load, Ctx, Program};
use super::model::{TraceData, Value};
use super::tree::Tree;
use crate::ast::{Field, FieldExpr};

/// A `{ … }` body compiled once, to test spans of any trace.
#[derive(Debug)]
pub(crate) struct SpanFilter(Program);

impl SpanFilter {
    /// Compiles `e`; the query should be valid ([`crate::ast::Expr::validate`]).
    pub(crate) fn new(e: &FieldExpr) -> SpanFilter {
        SpanFilter(Program::compile(e))
    }
}

/// Reads fields of the spans of one trace.
#[derive(Debug)]
pub(crate) struct SpanReader<'a> {
    pub(crate) trace: &'a TraceData,
    pub(crate) tree: &'a Tree,
}

impl SpanReader<'_> {
    /// The value of `f` for the span at `index` (its first event and link), `nil` when the
    /// span lacks it.
    pub(crate) fn value(&self, f: &Field, index: usize) -> Value {
        load(f, &Ctx::first(self.trace, self.tree, index)).to_value()
    }

    /// Whether `filter` holds for the span at `index`, as `{ … }` would keep it.
    pub(crate) fn matches(&self, filter: &SpanFilter, index: usize) -> bool {
        let mut stack = Vec::new();
        filter.0.matches(self.trace, self.tree, index, &mut stack)
    }
}
