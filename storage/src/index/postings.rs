//! Series postings in memory, for the series registry: label look-ups over every series a
//! tenant has, without reading series files.

use std::collections::HashMap;

use arrow::array::{AsArray, RecordBatch};
use roaring::RoaringBitmap;

use super::flat::TermPart;
use super::lookup::{select_with, Lookup, Selected};

/// Series postings in memory: for `metric_name`, `label_keys` and each `label:{name}`, the
/// ordinals of the series holding each term (the columns of a series file's index).
#[derive(Debug, Default)]
pub struct SeriesPostings {
    columns: HashMap<String, HashMap<Box<[u8]>, RoaringBitmap>>,
    len: u32,
}

impl SeriesPostings {
    /// Number of series added.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether no series was added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the rows of `batch` (a `series` table batch) as the next ordinals.
    pub fn add(&mut self, batch: &RecordBatch) {
        let first = self.len;
        let rows = batch.num_rows() as u32;
        self.len += rows;
        if let Some(names) = batch
            .column_by_name("metric_name")
            .and_then(|c| c.as_string_opt::<i32>())
        {
            for (i, name) in names.iter().enumerate() {
                if let Some(name) = name {
                    self.insert("metric_name", name, first + i as u32);
                }
            }
        }
        super::build::map_terms(batch, "labels", "label", |row, column, term, _| {
            self.insert(column, term, first + row as u32);
        });
    }

    fn insert(&mut self, column: &str, term: &str, ordinal: u32) {
        let terms = match self.columns.get_mut(column) {
            Some(t) => t,
            None => self.columns.entry(column.to_owned()).or_default(),
        };
        match terms.get_mut(term.as_bytes()) {
            Some(p) => {
                p.insert(ordinal);
            }
            None => {
                terms.insert(term.as_bytes().into(), RoaringBitmap::from_iter([ordinal]));
            }
        }
    }

    /// The ordinals of the series `lookup` may select.
    pub fn select(&self, lookup: &Lookup) -> Selected {
        select_with(lookup, &|l| self.leaf(l))
    }

    fn leaf(&self, lookup: &Lookup) -> Selected {
        match lookup {
            Lookup::AnyOf { column, terms } => self.known(column, |c| {
                terms
                    .iter()
                    .filter_map(|t| c.get(t.as_slice()))
                    .fold(RoaringBitmap::new(), |a, b| a | b)
            }),
            Lookup::AllOf { column, terms } => self.known(column, |c| {
                let mut out: Option<RoaringBitmap> = None;
                for t in terms {
                    let p = c.get(t.as_slice()).cloned().unwrap_or_default();
                    out = Some(match out {
                        None => p,
                        Some(o) => o & p,
                    });
                }
                out.unwrap_or_default()
            }),
            Lookup::NoneOf { column, terms } => {
                self.union_where(column, |t| !terms.iter().any(|x| x == t))
            }
            Lookup::Matching { column, predicate } => self.union_where(column, |t| predicate(t)),
            Lookup::Part { column, part, at } => self.union_where(column, |t| match at {
                TermPart::Prefix => t.starts_with(part),
                TermPart::Suffix => t.ends_with(part),
                TermPart::Inside => memchr::memmem::find(t, part).is_some(),
            }),
            Lookup::And(_) | Lookup::Or(_) => self.select(lookup),
        }
    }

    /// The series holding a term of `column` that `keep` accepts.
    fn union_where(&self, column: &str, keep: impl Fn(&[u8]) -> bool) -> Selected {
        self.known(column, |c| {
            c.iter()
                .filter(|(t, _)| keep(t))
                .fold(RoaringBitmap::new(), |a, (_, b)| a | b)
        })
    }

    /// `f` applied to `column`'s terms; a label no series has selects none, a column that is
    /// not indexed selects all.
    fn known(
        &self,
        column: &str,
        f: impl FnOnce(&HashMap<Box<[u8]>, RoaringBitmap>) -> RoaringBitmap,
    ) -> Selected {
        match self.columns.get(column) {
            Some(c) => Selected::Rows(f(c)),
            None if column.starts_with("label:") || column == "metric_name" => {
                Selected::Rows(RoaringBitmap::new())
            }
            None => Selected::All,
        }
    }
}
