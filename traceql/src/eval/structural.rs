//! Structural operators between the spans of two spansets, as Tempo's parquet span
//! implementation computes them over nested-set numbers (`ChildOf`, `DescendantOf`,
//! `SiblingOf`): `L > R` keeps the spans of `R` whose parent is in `L`, `<` those that are a
//! parent of a span in `L`, `>>` and `<<` the same for descendants and ancestors, `~` those
//! sharing a parent with another span of `L`. Root spans share the parent number -1, so two
//! roots are siblings; spans no root reaches relate to nothing. The negated forms keep the
//! spans of `R` for which no span of `L` relates (all of `R` when `L` is empty); the union
//! forms keep both spans of every related pair.
//!
//! Each relation is one pass over the trace (marks per span, counts per parent), not a
//! comparison of every pair.

use super::tree::Tree;
use crate::ast::SpansetOp;

/// A relation a span of the right side may have to some span of the left side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    /// Its parent is on the left.
    Child,
    /// One of its children is on the left.
    Parent,
    /// One of its ancestors is on the left.
    Descendant,
    /// One of its descendants is on the left.
    Ancestor,
    /// Another span with its parent is on the left.
    Sibling,
}

impl Rel {
    /// The relation the other way round: `r` is `rel` to `l` when `l` is `rel.inverse()` to
    /// `r`.
    fn inverse(self) -> Rel {
        match self {
            Rel::Child => Rel::Parent,
            Rel::Parent => Rel::Child,
            Rel::Descendant => Rel::Ancestor,
            Rel::Ancestor => Rel::Descendant,
            Rel::Sibling => Rel::Sibling,
        }
    }
}

/// What `op` keeps: the right side's related spans, its unrelated ones, or both sides of the
/// related pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Related,
    Unrelated,
    Pairs,
}

fn parts(op: SpansetOp) -> Option<(Rel, Keep)> {
    use SpansetOp::*;
    Some(match op {
        Child => (Rel::Child, Keep::Related),
        Parent => (Rel::Parent, Keep::Related),
        Descendant => (Rel::Descendant, Keep::Related),
        Ancestor => (Rel::Ancestor, Keep::Related),
        Sibling => (Rel::Sibling, Keep::Related),
        NotChild => (Rel::Child, Keep::Unrelated),
        NotParent => (Rel::Parent, Keep::Unrelated),
        NotDescendant => (Rel::Descendant, Keep::Unrelated),
        NotAncestor => (Rel::Ancestor, Keep::Unrelated),
        NotSibling => (Rel::Sibling, Keep::Unrelated),
        UnionChild => (Rel::Child, Keep::Pairs),
        UnionParent => (Rel::Parent, Keep::Pairs),
        UnionDescendant => (Rel::Descendant, Keep::Pairs),
        UnionAncestor => (Rel::Ancestor, Keep::Pairs),
        UnionSibling => (Rel::Sibling, Keep::Pairs),
        And | Union => return None,
    })
}

/// The spans `lhs op rhs` keeps, ascending; `op` is structural. `lhs` and `rhs` hold span
/// indexes of the trace `tree` describes.
pub(crate) fn relate(tree: &Tree, op: SpansetOp, lhs: &[usize], rhs: &[usize]) -> Vec<usize> {
    let Some((rel, keep)) = parts(op) else {
        return Vec::new();
    };
    let n = tree.left.len();
    let mut out = vec![false; n];
    match keep {
        Keep::Related | Keep::Unrelated => {
            let related = related_to(tree, rel, lhs);
            for &r in rhs {
                out[r] = related[r] == (keep == Keep::Related);
            }
        }
        Keep::Pairs => {
            let right = related_to(tree, rel, lhs);
            let left = related_to(tree, rel.inverse(), rhs);
            for &r in rhs {
                out[r] |= right[r];
            }
            for &l in lhs {
                out[l] |= left[l];
            }
        }
    }
    (0..n).filter(|&i| out[i]).collect()
}

/// For every span of the trace, whether it is `rel` to some span of `set`.
fn related_to(tree: &Tree, rel: Rel, set: &[usize]) -> Vec<bool> {
    let n = tree.left.len();
    let mut member = vec![false; n];
    for &s in set {
        member[s] = tree.numbered(s);
    }
    let mut out = vec![false; n];
    match rel {
        Rel::Child => {
            for &s in &tree.preorder {
                out[s] = tree.parent[s].is_some_and(|p| member[p]);
            }
        }
        Rel::Parent => {
            for &s in &tree.preorder {
                if let (true, Some(p)) = (member[s], tree.parent[s]) {
                    out[p] = true;
                }
            }
        }
        Rel::Descendant => {
            // Preorder visits a parent before its children.
            for &s in &tree.preorder {
                out[s] = tree.parent[s].is_some_and(|p| out[p] || member[p]);
            }
        }
        Rel::Ancestor => {
            for &s in tree.preorder.iter().rev() {
                if let Some(p) = tree.parent[s] {
                    if out[s] || member[s] {
                        out[p] = true;
                    }
                }
            }
        }
        Rel::Sibling => {
            // Spans of the set per parent number (the root's -1 at 0, a parent's left number
            // `l` at `l + 1`).
            let slot = |s: usize| (tree.nested_parent[s] + 1) as usize;
            let mut count = vec![0u32; 2 * n + 2];
            for (s, &m) in member.iter().enumerate() {
                if m {
                    count[slot(s)] += 1;
                }
            }
            for &s in &tree.preorder {
                out[s] = count[slot(s)] > u32::from(member[s]);
            }
        }
    }
    out
}
