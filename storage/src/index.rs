//! Segment index sidecars (`.idx`): per indexed column, a sorted term dictionary (an `fst` map)
//! from term to a roaring bitmap of the segment's row ordinals.
//!
//! Layout, all integers little-endian:
//!
//! ```text
//! magic "VIGILIDX" | version u16 | zstd frame of the body | crc32c u32 of everything before it
//! body: rows u32 | row group count u32 | rows per row group u32... | column count u16
//!       per column: name len u16 | name | unit rows u32 | fst len u64 | fst
//!                   | postings len u64 | postings
//!       id column count u16
//!       per id column: name len u16 | name | run count u32 | 8-byte id prefixes u64...
//!                      | (first row, rows) varint pairs
//! ```
//!
//! Id columns (trace ids of span segments, which are sorted by them) keep only the first eight
//! bytes of each id and its run of rows: about 10 bytes per trace where an fst of random
//! 16-byte terms cost over 40.
//!
//! The body is compressed (random-looking terms leave the fst with little to share; zstd takes
//! about 40% off); a reader decompresses an index once and keeps it decoded.
//!
//! A column's postings hold *units*: unit `u` stands for rows `u * unit_rows ..
//! (u + 1) * unit_rows`. Columns whose values cluster (sorted columns, ids) use one-row units;
//! free text and scattered values use blocks, which keeps the index small (a random per-row
//! value would otherwise cost about a bit per row per term) at the price of a block-sized
//! superset, which the query re-checks anyway.
//!
//! The fst maps each term to the offset of its posting list in the column's postings; a list is
//! its length (varint), an encoding byte and the units: a contiguous range (two varints), delta
//! varints, a bitset, or portable roaring, whichever is smallest. A term of a single unit maps to
//! that unit (tagged by the lowest bit) instead, and has no posting list.

mod build;
mod cache;
mod chunks;
mod flat;
mod format;
mod lookup;
mod matcher;
mod postings;
mod terms;
mod tokenize;

pub use build::{index_batches, IndexKind, IndexOptions, SegmentIndexer, DEFAULT_BLOCK_ROWS};
pub use cache::{load_uncached, IndexCache};
pub use flat::TermPart;
pub use format::{
    ColumnIndex, IdColumn, IdRuns, IndexBuilder, IndexError, SegmentIndex, MAGIC, VERSION,
};
pub use lookup::{select_with, Lookup, Selected, TermPredicate};
pub use matcher::TokenMatcher;
pub use postings::SeriesPostings;
pub use terms::Terms;
pub use tokenize::tokens;
