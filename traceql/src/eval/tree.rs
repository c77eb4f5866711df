//! A trace's shape: parents resolved by span id, Tempo's nested-set numbering, the root span
//! and the trace's duration.
//!
//! The numbering is Tempo's (`assignNestedSetModelBoundsAndServiceStats` in its parquet
//! encodings): a depth-first walk from each root span in storage order, children in storage
//! order, one counter from 1 that numbers a span's `nestedSetLeft` on the way down and its
//! `nestedSetRight` on the way up; `nestedSetParent` is the parent's left number, `-1` for a
//! root. Spans that no root reaches (their parent was never received) keep all three at 0
//! and take part in no structural relation. Zipkin's client and server spans may share an
//! id: a child then picks the one of the other kind; three spans or more sharing an id leave
//! the whole trace unnumbered, as in Tempo.

use std::collections::HashMap;

use super::model::{SpanData, TraceData};
use crate::ast::Kind;

/// The shape of one trace.
#[derive(Debug)]
pub(crate) struct Tree {
    /// Each span's parent, found by id (whether or not a root reaches it).
    pub(crate) parent: Vec<Option<usize>>,
    /// How many spans name each span as their parent.
    pub(crate) child_count: Vec<i64>,
    /// `nestedSetLeft`, 0 when unnumbered.
    pub(crate) left: Vec<i64>,
    /// `nestedSetRight`, 0 when unnumbered.
    pub(crate) right: Vec<i64>,
    /// `nestedSetParent`: the parent's left number, -1 for a root, 0 when unnumbered.
    pub(crate) nested_parent: Vec<i64>,
    /// The numbered spans in the order of their left numbers (a depth-first preorder).
    pub(crate) preorder: Vec<usize>,
    /// The span `rootName` and `rootServiceName` read: the first without a parent, else the
    /// earliest.
    pub(crate) root: Option<usize>,
    /// `traceDuration`: the latest end minus the earliest start.
    pub(crate) duration: i64,
}

/// Whether a span has no parent (OTLP leaves the parent id empty; stores may keep zeros).
pub(crate) fn is_root(span: &SpanData) -> bool {
    span.parent_span_id.is_none_or(|p| p == [0; 8])
}

impl Tree {
    pub(crate) fn new(trace: &TraceData) -> Tree {
        let spans = &trace.spans;
        let n = spans.len();
        let mut by_id: HashMap<[u8; 8], Vec<usize>> = HashMap::with_capacity(n);
        for (i, s) in spans.iter().enumerate() {
            by_id.entry(s.span_id).or_default().push(i);
        }
        let parent: Vec<Option<usize>> = spans
            .iter()
            .map(|s| find_parent(spans, &by_id, s))
            .collect();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                children[*p].push(i);
            }
        }
        let mut tree = Tree {
            child_count: children.iter().map(|c| c.len() as i64).collect(),
            parent,
            left: vec![0; n],
            right: vec![0; n],
            nested_parent: vec![0; n],
            preorder: Vec::with_capacity(n),
            root: spans
                .iter()
                .position(is_root)
                .or_else(|| (0..n).min_by_key(|&i| spans[i].start_unix_nano)),
            duration: duration(trace),
        };
        if by_id.values().all(|ids| ids.len() <= 2) {
            tree.number(spans, &children);
        }
        tree
    }

    /// Tempo's depth-first numbering, without recursion (a trace may be one long chain).
    fn number(&mut self, spans: &[SpanData], children: &[Vec<usize>]) {
        let mut bound = 1;
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in (0..spans.len()).filter(|&i| is_root(&spans[i])) {
            self.left[root] = bound;
            self.nested_parent[root] = -1;
            self.preorder.push(root);
            bound += 1;
            stack.push((root, 0));
            while let Some((node, next)) = stack.last_mut() {
                let node = *node;
                if let Some(&child) = children[node].get(*next) {
                    *next += 1;
                    self.left[child] = bound;
                    self.nested_parent[child] = self.left[node];
                    self.preorder.push(child);
                    bound += 1;
                    stack.push((child, 0));
                } else {
                    self.right[node] = bound;
                    bound += 1;
                    stack.pop();
                }
            }
        }
    }

    /// Whether a root reaches the span: only such spans relate structurally.
    pub(crate) fn numbered(&self, i: usize) -> bool {
        self.left[i] != 0
    }
}

/// The parent of `span` by id; of two spans sharing the id (Zipkin's client and server
/// halves), the one of the other kind: a server span's parent is the client, any other's
/// the server.
fn find_parent(
    spans: &[SpanData],
    by_id: &HashMap<[u8; 8], Vec<usize>>,
    span: &SpanData,
) -> Option<usize> {
    if is_root(span) {
        return None;
    }
    let candidates = by_id.get(&span.parent_span_id?)?;
    match candidates.as_slice() {
        [one] => Some(*one),
        [a, b] => {
            let want = if span.kind == Kind::Server {
                Kind::Client
            } else {
                Kind::Server
            };
            [*a, *b].into_iter().find(|&i| spans[i].kind == want)
        }
        _ => None,
    }
}

fn duration(trace: &TraceData) -> i64 {
    let start = trace.spans.iter().map(|s| s.start_unix_nano).min();
    let end = trace
        .spans
        .iter()
        .map(|s| s.start_unix_nano.saturating_add(s.duration_nano))
        .max();
    match (start, end) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => 0,
    }
}
