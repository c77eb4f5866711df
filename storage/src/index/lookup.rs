//! Evaluating a query's look-ups against a segment index: which rows may match.
//!
//! Every answer is a superset of the matching rows (postings in blocks widen it to whole blocks),
//! so the caller still applies its filters to the rows it reads. A look-up the index cannot
//! answer — a column that is not indexed, a dictionary too large to scan — selects every row.

use std::fmt;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::flat::TermPart;
use super::format::{ColumnIndex, SegmentIndex};

/// A predicate over the terms of a dictionary (e.g. a regular expression).
pub type TermPredicate = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// Dictionaries with more terms than this are not scanned for `!=` or regular expressions.
const MAX_SCANNED_TERMS: usize = 200_000;

/// What a query asks of an index column.
#[derive(Clone)]
pub enum Lookup {
    /// Rows whose `column` holds one of `terms` (`=`, `IN`).
    AnyOf {
        /// Index column.
        column: String,
        /// Accepted terms.
        terms: Vec<Vec<u8>>,
    },
    /// Rows whose `column` holds a term that is none of `terms` (`!=`, `NOT IN`).
    NoneOf {
        /// Index column.
        column: String,
        /// Rejected terms.
        terms: Vec<Vec<u8>>,
    },
    /// Rows whose `column` holds a term for which `predicate` holds.
    Matching {
        /// Index column.
        column: String,
        /// The test, e.g. a regular expression.
        predicate: TermPredicate,
    },
    /// Rows whose `column` holds a term with `part` in it where `at` says (a token of a body
    /// that a text search cuts off: `refus` of `refused`).
    Part {
        /// Index column.
        column: String,
        /// The bytes a term must hold.
        part: Vec<u8>,
        /// Where.
        at: TermPart,
    },
    /// Rows whose `column` holds every one of `terms` (tokens of a body).
    AllOf {
        /// Index column.
        column: String,
        /// Required terms.
        terms: Vec<Vec<u8>>,
    },
    /// Rows every look-up selects.
    And(Vec<Lookup>),
    /// Rows any look-up selects.
    Or(Vec<Lookup>),
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |t: &Vec<Vec<u8>>| {
            t.iter()
                .map(|t| String::from_utf8_lossy(t).into_owned())
                .collect::<Vec<_>>()
        };
        match self {
            Lookup::AnyOf { column, terms } => write!(f, "{column} in {:?}", show(terms)),
            Lookup::NoneOf { column, terms } => write!(f, "{column} not in {:?}", show(terms)),
            Lookup::Matching { column, .. } => write!(f, "{column} matches <predicate>"),
            Lookup::Part { column, part, at } => {
                write!(f, "{column} has {at:?} {:?}", String::from_utf8_lossy(part))
            }
            Lookup::AllOf { column, terms } => write!(f, "{column} has all {:?}", show(terms)),
            Lookup::And(l) => f.debug_tuple("And").field(l).finish(),
            Lookup::Or(l) => f.debug_tuple("Or").field(l).finish(),
        }
    }
}

/// The rows a look-up leaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Selected {
    /// The index cannot narrow the rows down.
    All,
    /// Only these rows (ordinals in the segment) may match.
    Rows(RoaringBitmap),
}

impl Selected {
    /// Whether no row can match.
    pub fn is_empty(&self) -> bool {
        matches!(self, Selected::Rows(r) if r.is_empty())
    }

    fn and(self, other: Selected) -> Selected {
        match (self, other) {
            (Selected::All, x) | (x, Selected::All) => x,
            (Selected::Rows(a), Selected::Rows(b)) => Selected::Rows(a & b),
        }
    }

    fn or(self, other: Selected) -> Selected {
        match (self, other) {
            (Selected::All, _) | (_, Selected::All) => Selected::All,
            (Selected::Rows(a), Selected::Rows(b)) => Selected::Rows(a | b),
        }
    }
}

/// The rows `lookup` selects, given the rows of each look-up that is neither `And` nor `Or`.
pub fn select_with(lookup: &Lookup, leaf: &impl Fn(&Lookup) -> Selected) -> Selected {
    match lookup {
        Lookup::And(parts) => {
            let mut out = Selected::All;
            for p in parts {
                out = out.and(select_with(p, leaf));
                if out.is_empty() {
                    break;
                }
            }
            out
        }
        Lookup::Or(parts) => {
            let mut out = Selected::Rows(RoaringBitmap::new());
            for p in parts {
                out = out.or(select_with(p, leaf));
                if out == Selected::All {
                    break;
                }
            }
            out
        }
        other => leaf(other),
    }
}

impl SegmentIndex {
    /// The rows of this segment that may satisfy `lookup`.
    pub fn select(&self, lookup: &Lookup) -> Selected {
        select_with(lookup, &|l| self.leaf(l))
    }

    fn leaf(&self, lookup: &Lookup) -> Selected {
        match lookup {
            Lookup::And(_) | Lookup::Or(_) => self.select(lookup),
            Lookup::AnyOf { column, terms } => match self.ids(column) {
                Some(ids) => Selected::Rows(
                    terms
                        .iter()
                        .map(|t| ids.get(t))
                        .fold(RoaringBitmap::new(), |a, b| a | b),
                ),
                None => self.on_column(column, |c| {
                    let mut units = RoaringBitmap::new();
                    for t in terms {
                        if let Some(rows) = c.get(t).ok()? {
                            units |= rows;
                        }
                    }
                    Some(units)
                }),
            },
            Lookup::AllOf { column, terms } => self.on_column(column, |c| {
                let mut units: Option<RoaringBitmap> = None;
                for t in terms {
                    let rows = c.get(t).ok()?.unwrap_or_default();
                    let next = match units {
                        None => rows,
                        Some(u) => u & rows,
                    };
                    if next.is_empty() {
                        return Some(next);
                    }
                    units = Some(next);
                }
                units
            }),
            Lookup::NoneOf { column, terms } => self.on_column(column, |c| {
                if c.len() > MAX_SCANNED_TERMS {
                    return None;
                }
                let (units, _) = c.matching(|t| !terms.iter().any(|x| x == t)).ok()?;
                Some(units)
            }),
            Lookup::Part { column, part, at } => self.on_column(column, |c| {
                let (units, _) = c.containing(part, *at).ok()?;
                Some(units)
            }),
            Lookup::Matching { column, predicate } => self.on_column(column, |c| {
                if c.len() > MAX_SCANNED_TERMS {
                    return None;
                }
                let (units, _) = c.matching(|t| predicate(t)).ok()?;
                Some(units)
            }),
        }
    }

    /// Applies `f` (which returns units, or `None` when it cannot tell) to `column`. A missing
    /// attribute column means "absent from every row" when the keys column lacks the key, and
    /// "not indexed" otherwise; any other missing column is not indexed.
    fn on_column(
        &self,
        column: &str,
        f: impl FnOnce(&ColumnIndex) -> Option<RoaringBitmap>,
    ) -> Selected {
        let Some(c) = self.column(column) else {
            if let Some((prefix, key)) = column.split_once(':') {
                let keys = self.column(&format!("{prefix}_keys"));
                if keys.is_some_and(|k| !k.contains(key.as_bytes())) {
                    return Selected::Rows(RoaringBitmap::new());
                }
            }
            return Selected::All;
        };
        match f(c) {
            Some(units) => Selected::Rows(self.units_to_rows(&units, c.unit_rows())),
            None => Selected::All,
        }
    }

    fn units_to_rows(&self, units: &RoaringBitmap, unit_rows: u32) -> RoaringBitmap {
        if unit_rows <= 1 {
            return units.clone();
        }
        let mut rows = RoaringBitmap::new();
        for u in units {
            let start = u64::from(u) * u64::from(unit_rows);
            let end = (start + u64::from(unit_rows)).min(u64::from(self.rows));
            if start < end {
                rows.insert_range(start as u32..end as u32);
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::index::IndexBuilder;

    fn index() -> SegmentIndex {
        let mut b = IndexBuilder::new();
        for row in 0..100u32 {
            b.add("service_name", if row < 50 { b"api" } else { b"web" }, row);
            let body = b.column("body", 10);
            body.add(if row % 7 == 0 { b"seven" } else { b"other" }, row);
            if row == 95 {
                body.add(b"rare", row);
            }
            b.add("attr_keys", b"method", row);
            b.add(
                "attr:method",
                if row % 2 == 0 { b"GET" } else { b"PUT" },
                row,
            );
        }
        SegmentIndex::decode(Bytes::from(b.finish(100, &[64, 36]))).unwrap()
    }

    fn any(column: &str, terms: &[&str]) -> Lookup {
        Lookup::AnyOf {
            column: column.into(),
            terms: terms.iter().map(|t| t.as_bytes().to_vec()).collect(),
        }
    }

    fn rows(s: Selected) -> Vec<u32> {
        match s {
            Selected::Rows(r) => r.iter().collect(),
            Selected::All => panic!("expected rows"),
        }
    }

    #[test]
    fn equality_and_in_select_term_rows() {
        let idx = index();
        assert_eq!(
            rows(idx.select(&any("service_name", &["web"]))),
            (50..100).collect::<Vec<_>>()
        );
        assert!(idx.select(&any("service_name", &["db"])).is_empty());
        assert_eq!(
            rows(idx.select(&any("service_name", &["db", "api"]))).len(),
            50
        );
    }

    #[test]
    fn block_units_widen_to_whole_blocks_clipped_to_the_segment() {
        let idx = index();
        assert_eq!(
            rows(idx.select(&Lookup::AllOf {
                column: "body".into(),
                terms: vec![b"rare".to_vec(), b"other".to_vec()],
            })),
            (90..100).collect::<Vec<_>>()
        );
        assert!(idx
            .select(&Lookup::AllOf {
                column: "body".into(),
                terms: vec![b"rare".to_vec(), b"absent".to_vec()],
            })
            .is_empty());
    }

    #[test]
    fn not_equal_and_predicates_scan_the_dictionary() {
        let idx = index();
        let not_api = Lookup::NoneOf {
            column: "service_name".into(),
            terms: vec![b"api".to_vec()],
        };
        assert_eq!(rows(idx.select(&not_api)), (50..100).collect::<Vec<_>>());
        let part = |part: &[u8], at| Lookup::Part {
            column: "body".into(),
            part: part.to_vec(),
            at,
        };
        assert_eq!(
            rows(idx.select(&part(b"ar", TermPart::Inside))),
            (90..100).collect::<Vec<_>>()
        );
        assert_eq!(rows(idx.select(&part(b"sev", TermPart::Prefix))).len(), 100);
        assert!(idx.select(&part(b"sev", TermPart::Suffix)).is_empty());
        let starts_w = Lookup::Matching {
            column: "service_name".into(),
            predicate: Arc::new(|t: &[u8]| t.starts_with(b"w")),
        };
        assert_eq!(rows(idx.select(&starts_w)).len(), 50);
    }

    #[test]
    fn id_columns_select_the_run_of_rows_of_an_id() {
        let mut b = IndexBuilder::new();
        let ids: [&[u8]; 3] = [
            b"\x01aaaaaaaXXXXXXXX",
            b"\x02bbbbbbbYYYYYYYY",
            b"\x03ccccccc",
        ];
        for row in 0..9u32 {
            b.ids("trace_id").add(ids[row as usize / 3], row);
        }
        let idx = SegmentIndex::decode(Bytes::from(b.finish(9, &[9]))).unwrap();
        let one = |id: &[u8]| Lookup::AnyOf {
            column: "trace_id".into(),
            terms: vec![id.to_vec()],
        };
        assert_eq!(rows(idx.select(&one(ids[1]))), [3, 4, 5]);
        assert!(idx.select(&one(b"\x09zzzzzzz")).is_empty());
        // Other look-ups on ids cannot use the index.
        let not = Lookup::NoneOf {
            column: "trace_id".into(),
            terms: vec![ids[0].to_vec()],
        };
        assert_eq!(idx.select(&not), Selected::All);
    }

    #[test]
    fn and_or_combine_and_unindexed_columns_select_everything() {
        let idx = index();
        let both = Lookup::And(vec![
            any("service_name", &["api"]),
            any("attr:method", &["PUT"]),
        ]);
        assert_eq!(rows(idx.select(&both)).len(), 25);
        let either = Lookup::Or(vec![any("service_name", &["api"]), any("name", &["x"])]);
        assert_eq!(idx.select(&either), Selected::All);
        // An attribute key no row has: nothing; an unknown plain column: cannot tell.
        assert!(idx.select(&any("attr:user", &["u1"])).is_empty());
        assert_eq!(idx.select(&any("severity_text", &["INFO"])), Selected::All);
    }
}
