//! The index file itself: [`IndexBuilder`] writes one (the layout in `index.rs`), and
//! [`SegmentIndex`] reads it back and answers term and id look-ups.

use std::collections::BTreeMap;

use bytes::Bytes;
use roaring::RoaringBitmap;

use super::flat::{FlatTerms, TermPart};
use super::terms::Terms;

/// First bytes of every index file.
pub const MAGIC: &[u8; 8] = b"VIGILIDX";
/// Flag (lowest bit) of a dictionary value that holds a unit rather than a posting offset; the
/// payload is the value shifted right by one. Small values keep the fst small: it stores each
/// output in as few bytes as it needs.
const INLINE_ROW: u64 = 1;

/// zstd level of index bodies.
const ZSTD_LEVEL: i32 = 3;

/// Format version written by this build.
pub const VERSION: u16 = 1;

/// Why an index file cannot be used; the segment is then read by a full scan.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IndexError {
    /// Not an index file, or one cut short.
    #[error("not a segment index: {0}")]
    Malformed(String),
    /// Written by a newer format.
    #[error("segment index version {0} is not supported (this build reads {VERSION})")]
    Version(u16),
    /// The checksum does not match: the file is corrupt.
    #[error("segment index checksum mismatch")]
    Checksum,
}

/// Collects the postings of a segment's rows, column by column. Rows may come in any order;
/// adding them in increasing order is fastest.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    pub(super) columns: BTreeMap<String, Terms>,
    pub(super) ids: BTreeMap<String, IdRuns>,
}

/// The rows of an id column (trace ids) while building: runs of rows with the same 8-byte id
/// prefix, in row order.
#[derive(Debug, Default)]
pub struct IdRuns {
    pub(super) runs: Vec<(u64, u32, u32)>,
}

impl IdRuns {
    /// Records that row `row` has id `id` (rows in increasing order).
    pub fn add(&mut self, id: &[u8], row: u32) {
        let key = id_prefix(id);
        match self.runs.last_mut() {
            Some((k, start, len)) if *k == key && *start + *len == row => *len += 1,
            _ => self.runs.push((key, row, 1)),
        }
    }
}

/// The first eight bytes of an id, big-endian (zero-padded when shorter).
fn id_prefix(id: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = id.len().min(8);
    b[..n].copy_from_slice(&id[..n]);
    u64::from_be_bytes(b)
}

/// A decoded id column: sorted 8-byte id prefixes, each with a run of rows. A look-up returns
/// the rows of every id sharing the prefix, a superset of the id's rows.
#[derive(Debug, Clone)]
pub struct IdColumn {
    pub(super) keys: Vec<u64>,
    pub(super) starts: Vec<u32>,
    pub(super) lens: Vec<u32>,
}

impl IdColumn {
    /// Rows whose id has the prefix of `id`.
    pub fn get(&self, id: &[u8]) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for (start, len) in self.runs(id) {
            out.insert_range(start..start + len);
        }
        out
    }

    /// The runs of rows `(first row, rows)` whose id has the prefix of `id`, in key order (for
    /// a column sorted by id, in row order).
    pub fn runs(&self, id: &[u8]) -> impl Iterator<Item = (u32, u32)> + '_ {
        let key = id_prefix(id);
        let from = self.keys.partition_point(|&k| k < key);
        (from..self.keys.len())
            .take_while(move |&i| self.keys[i] == key)
            .map(|i| (self.starts[i], self.lens[i]))
    }
}

impl IndexBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that row `row` of the segment has `term` in `column` (created with one-row units
    /// when new).
    pub fn add(&mut self, column: &str, term: &[u8], row: u32) {
        match self.columns.get_mut(column) {
            Some(terms) => terms.add(term, row),
            None => self.column(column, 1).add(term, row),
        }
    }

    /// The terms of `column`, to add many rows to it without looking the column up each time;
    /// a new column gets posting units of `unit_rows` rows.
    pub fn column(&mut self, column: &str, unit_rows: u32) -> &mut Terms {
        self.columns
            .entry(column.to_owned())
            .or_insert_with(|| Terms::new(unit_rows))
    }

    /// [`Self::add`] to a column that gets units of `unit_rows` rows when new.
    pub fn add_in(&mut self, column: &str, unit_rows: u32, term: &[u8], row: u32) {
        match self.columns.get_mut(column) {
            Some(terms) => terms.add(term, row),
            None => self.column(column, unit_rows).add(term, row),
        }
    }

    /// The id column `column` (ids of at most eight significant leading bytes are exact; longer
    /// ones are indexed by their first eight bytes).
    pub fn ids(&mut self, column: &str) -> &mut IdRuns {
        self.ids.entry(column.to_owned()).or_default()
    }

    /// Drops `column` (e.g. an attribute key over the cardinality cap).
    pub fn remove_column(&mut self, column: &str) {
        self.columns.remove(column);
    }

    /// Distinct terms recorded for `column`.
    pub fn term_count(&self, column: &str) -> usize {
        self.columns.get(column).map_or(0, Terms::len)
    }

    /// The encoded index file of a segment of `rows` rows stored in row groups of
    /// `row_groups` rows each.
    pub fn finish(self, rows: u32, row_groups: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&rows.to_le_bytes());
        out.extend_from_slice(&(row_groups.len() as u32).to_le_bytes());
        for g in row_groups {
            out.extend_from_slice(&g.to_le_bytes());
        }
        out.extend_from_slice(&(self.columns.len() as u16).to_le_bytes());
        for (name, terms) in self.columns {
            let unit_rows = terms.unit_rows();
            let terms = terms.into_sorted();
            let mut postings = Vec::new();
            let mut scratch = Vec::new();
            let mut map = fst::MapBuilder::memory();
            for (term, bitmap) in terms {
                if bitmap.len() == 1 {
                    // A term of one row keeps the row in the dictionary itself ("pulsing"):
                    // most distinct body tokens occur once, and a posting list costs ~20 bytes.
                    let row = bitmap.min().unwrap_or_default();
                    let _ = map.insert(&term, (u64::from(row) << 1) | INLINE_ROW);
                    continue;
                }
                let offset = postings.len() as u64;
                encode_posting(&bitmap, &mut scratch);
                write_varint(scratch.len() as u64, &mut postings);
                postings.extend_from_slice(&scratch);
                // Terms are sorted and distinct (they were hash map keys), which is all fst asks.
                let _ = map.insert(&term, offset << 1);
            }
            let fst = map.into_inner().unwrap_or_default();
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&unit_rows.to_le_bytes());
            out.extend_from_slice(&(fst.len() as u64).to_le_bytes());
            out.extend_from_slice(&fst);
            out.extend_from_slice(&(postings.len() as u64).to_le_bytes());
            out.extend_from_slice(&postings);
        }
        out.extend_from_slice(&(self.ids.len() as u16).to_le_bytes());
        for (name, mut ids) in self.ids {
            ids.runs.sort_unstable();
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(ids.runs.len() as u32).to_le_bytes());
            for (k, _, _) in &ids.runs {
                out.extend_from_slice(&k.to_le_bytes());
            }
            for (_, start, len) in &ids.runs {
                write_varint(u64::from(*start), &mut out);
                write_varint(u64::from(*len), &mut out);
            }
        }
        let mut file = Vec::with_capacity(out.len() / 2);
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&VERSION.to_le_bytes());
        // Compressing into a Vec cannot fail; an empty body would only cost the fallback.
        match zstd::bulk::compress(&out, ZSTD_LEVEL) {
            Ok(z) => file.extend_from_slice(&z),
            Err(_) => file.extend_from_slice(&zstd::bulk::compress(&[], 1).unwrap_or_default()),
        }
        let crc = crc32c::crc32c(&file);
        file.extend_from_slice(&crc.to_le_bytes());
        file
    }
}

/// Posting list encodings (the first byte of an entry's body).
const POSTING_ROARING: u8 = 0;
const POSTING_DELTAS: u8 = 1;
const POSTING_RANGE: u8 = 2;
const POSTING_BITSET: u8 = 3;

/// Encodes `rows` as the smallest of: a contiguous range (min, max), delta varints, a bitset
/// from the first row, or portable roaring. Small sets are the common case for body tokens,
/// where roaring's headers would cost more than the rows; block postings of common terms are
/// dense, where a bitset wins.
fn encode_posting(rows: &RoaringBitmap, out: &mut Vec<u8>) {
    out.clear();
    let (Some(min), Some(max)) = (rows.min(), rows.max()) else {
        out.push(POSTING_DELTAS);
        write_varint(0, out);
        return;
    };
    if u64::from(max - min) + 1 == rows.len() {
        out.push(POSTING_RANGE);
        write_varint(u64::from(min), out);
        write_varint(u64::from(max), out);
        return;
    }
    let span = u64::from(max - min) + 1;
    let bitset = span.div_ceil(8) as usize + 6;
    let roaring = rows.serialized_size().min(bitset);
    if rows.len() <= roaring as u64 {
        out.push(POSTING_DELTAS);
        write_varint(rows.len(), out);
        let mut prev = 0u32;
        for (i, r) in rows.iter().enumerate() {
            write_varint(u64::from(if i == 0 { r } else { r - prev }), out);
            prev = r;
        }
        if out.len() <= roaring + 1 {
            return;
        }
        out.clear();
    }
    if bitset <= rows.serialized_size() {
        out.push(POSTING_BITSET);
        write_varint(u64::from(min), out);
        write_varint(span, out);
        let start = out.len();
        out.resize(start + span.div_ceil(8) as usize, 0);
        for r in rows {
            let bit = (r - min) as usize;
            out[start + bit / 8] |= 1 << (bit % 8);
        }
        return;
    }
    out.push(POSTING_ROARING);
    // Writing into a Vec cannot fail.
    let _ = rows.serialize_into(&mut *out);
}

fn decode_posting(body: &[u8]) -> Result<RoaringBitmap, IndexError> {
    let bad = |what: &str| IndexError::Malformed(format!("posting list: {what}"));
    let (&tag, rest) = body.split_first().ok_or_else(|| bad("empty"))?;
    let mut at = 0;
    let mut next = || read_varint(rest, &mut at).ok_or_else(|| bad("truncated varint"));
    match tag {
        POSTING_RANGE => {
            let (min, max) = (next()?, next()?);
            let (min, max) = (
                u32::try_from(min).map_err(|_| bad("range"))?,
                u32::try_from(max).map_err(|_| bad("range"))?,
            );
            if min > max {
                return Err(bad("range"));
            }
            let mut b = RoaringBitmap::new();
            b.insert_range(min..=max);
            Ok(b)
        }
        POSTING_DELTAS => {
            let n = next()?;
            let mut b = RoaringBitmap::new();
            let mut row = 0u64;
            for i in 0..n {
                let d = next()?;
                row = if i == 0 { d } else { row + d };
                let r = u32::try_from(row).map_err(|_| bad("row out of range"))?;
                b.push(r);
            }
            Ok(b)
        }
        POSTING_BITSET => {
            let (min, span) = (next()?, next()?);
            let bits = rest.get(at..).ok_or_else(|| bad("bitset"))?;
            if span.div_ceil(8) != bits.len() as u64 || min + span > u64::from(u32::MAX) + 1 {
                return Err(bad("bitset length"));
            }
            let mut b = RoaringBitmap::new();
            for (i, &byte) in bits.iter().enumerate() {
                let mut byte = byte;
                while byte != 0 {
                    let bit = byte.trailing_zeros();
                    byte &= byte - 1;
                    b.push((min + i as u64 * 8 + u64::from(bit)) as u32);
                }
            }
            Ok(b)
        }
        POSTING_ROARING => RoaringBitmap::deserialize_from(rest).map_err(|e| bad(&e.to_string())),
        other => Err(bad(&format!("unknown encoding {other}"))),
    }
}

fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// A decoded index file.
#[derive(Debug, Clone)]
pub struct SegmentIndex {
    pub(super) rows: u32,
    pub(super) row_groups: Vec<u32>,
    pub(super) columns: BTreeMap<String, ColumnIndex>,
    pub(super) ids: BTreeMap<String, IdColumn>,
}

/// The term dictionary and postings of one column.
#[derive(Clone)]
pub struct ColumnIndex {
    pub(super) unit_rows: u32,
    pub(super) terms: fst::Map<Bytes>,
    pub(super) postings: Bytes,
    /// The terms end to end, once a search inside terms needed them.
    pub(super) flat: std::sync::OnceLock<FlatTerms>,
}

impl std::fmt::Debug for ColumnIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnIndex")
            .field("terms", &self.terms.len())
            .field("postings_bytes", &self.postings.len())
            .finish()
    }
}

struct Cursor {
    pub(super) bytes: Bytes,
    pub(super) at: usize,
}

impl Cursor {
    fn take(&mut self, n: usize) -> Result<Bytes, IndexError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| IndexError::Malformed(format!("truncated at byte {}", self.at)))?;
        let out = self.bytes.slice(self.at..end);
        self.at = end;
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, IndexError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, IndexError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A column name: its length (u16) and UTF-8 bytes.
    fn name(&mut self) -> Result<String, IndexError> {
        let len = self.u16()? as usize;
        String::from_utf8(self.take(len)?.to_vec())
            .map_err(|_| IndexError::Malformed("column name is not UTF-8".into()))
    }

    fn u64(&mut self) -> Result<u64, IndexError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }
}

impl SegmentIndex {
    /// Decodes an index file, checking magic, version and checksum.
    pub fn decode(bytes: Bytes) -> Result<Self, IndexError> {
        if bytes.len() < MAGIC.len() + 4 + 4 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(IndexError::Malformed("bad magic".into()));
        }
        let body_len = bytes.len() - 4;
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&bytes[body_len..]);
        if crc32c::crc32c(&bytes[..body_len]) != u32::from_le_bytes(crc) {
            return Err(IndexError::Checksum);
        }
        let version = u16::from_le_bytes([bytes[MAGIC.len()], bytes[MAGIC.len() + 1]]);
        if version != VERSION {
            return Err(IndexError::Version(version));
        }
        let body = zstd::stream::decode_all(&bytes[MAGIC.len() + 2..body_len])
            .map_err(|e| IndexError::Malformed(format!("compressed body: {e}")))?;
        let body_len = body.len();
        let mut c = Cursor {
            bytes: Bytes::from(body),
            at: 0,
        };
        let rows = c.u32()?;
        let groups = c.u32()? as usize;
        if groups > body_len / 4 {
            return Err(IndexError::Malformed("row group count".into()));
        }
        let row_groups = (0..groups)
            .map(|_| c.u32())
            .collect::<Result<Vec<_>, _>>()?;
        if row_groups.iter().map(|&g| u64::from(g)).sum::<u64>() != u64::from(rows) {
            return Err(IndexError::Malformed(
                "row groups do not add up to the rows".into(),
            ));
        }
        let count = c.u16()?;
        let mut columns = BTreeMap::new();
        for _ in 0..count {
            let name = c.name()?;
            let unit_rows = c.u32()?;
            if unit_rows == 0 {
                return Err(IndexError::Malformed(format!("zero unit rows in {name}")));
            }
            let fst_len = usize::try_from(c.u64()?)
                .map_err(|_| IndexError::Malformed("term dictionary too large".into()))?;
            let terms = fst::Map::new(c.take(fst_len)?)
                .map_err(|e| IndexError::Malformed(format!("term dictionary of {name}: {e}")))?;
            let postings_len = usize::try_from(c.u64()?)
                .map_err(|_| IndexError::Malformed("postings too large".into()))?;
            let postings = c.take(postings_len)?;
            columns.insert(
                name,
                ColumnIndex {
                    unit_rows,
                    terms,
                    postings,
                    flat: std::sync::OnceLock::new(),
                },
            );
        }
        let id_count = c.u16()?;
        let mut ids = BTreeMap::new();
        for _ in 0..id_count {
            let name = c.name()?;
            let n = c.u32()? as usize;
            let keys = c.take(
                n.checked_mul(8)
                    .ok_or_else(|| IndexError::Malformed("ids".into()))?,
            )?;
            let keys: Vec<u64> = keys
                .chunks_exact(8)
                .map(|k| u64::from_le_bytes([k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]]))
                .collect();
            let (mut starts, mut lens) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let rest = &c.bytes[c.at..];
            let mut at = 0;
            for _ in 0..n {
                let bad = || IndexError::Malformed(format!("row runs of {name}"));
                let start = read_varint(rest, &mut at).ok_or_else(bad)?;
                let len = read_varint(rest, &mut at).ok_or_else(bad)?;
                if start + len > u64::from(rows) {
                    return Err(bad());
                }
                starts.push(start as u32);
                lens.push(len as u32);
            }
            c.at += at;
            if keys.windows(2).any(|w| w[0] > w[1]) {
                return Err(IndexError::Malformed(format!("ids of {name} out of order")));
            }
            ids.insert(name, IdColumn { keys, starts, lens });
        }
        if c.at != body_len {
            return Err(IndexError::Malformed("trailing bytes".into()));
        }
        Ok(Self {
            rows,
            row_groups,
            columns,
            ids,
        })
    }

    /// Rows of the segment.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Rows of each Parquet row group of the segment, in file order.
    pub fn row_groups(&self) -> &[u32] {
        &self.row_groups
    }

    /// The index of `column`, if it was indexed.
    pub fn column(&self, column: &str) -> Option<&ColumnIndex> {
        self.columns.get(column)
    }

    /// Names of the indexed term columns.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(String::as_str)
    }

    /// The id column `column`, if it was indexed.
    pub fn ids(&self, column: &str) -> Option<&IdColumn> {
        self.ids.get(column)
    }
}

impl ColumnIndex {
    /// Rows per posting unit: the bitmaps this column returns hold unit numbers.
    pub fn unit_rows(&self) -> u32 {
        self.unit_rows
    }

    /// Distinct terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Bytes of the term dictionary and of the posting lists.
    pub fn sizes(&self) -> (usize, usize) {
        (self.terms.as_fst().size(), self.postings.len())
    }

    /// Whether the column has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    fn bitmap_at(&self, offset: u64) -> Result<RoaringBitmap, IndexError> {
        if offset & INLINE_ROW != 0 {
            let row = u32::try_from(offset >> 1)
                .map_err(|_| IndexError::Malformed("inline row out of range".into()))?;
            return Ok(RoaringBitmap::from_iter([row]));
        }
        let offset = offset >> 1;
        let mut at = usize::try_from(offset)
            .ok()
            .filter(|&a| a < self.postings.len())
            .ok_or_else(|| IndexError::Malformed("posting offset out of range".into()))?;
        let len = read_varint(&self.postings, &mut at)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| IndexError::Malformed("posting length".into()))?;
        let body = at
            .checked_add(len)
            .and_then(|end| self.postings.get(at..end))
            .ok_or_else(|| IndexError::Malformed("posting list out of range".into()))?;
        decode_posting(body)
    }

    /// Rows holding exactly `term`; `None` when the term does not occur.
    pub fn get(&self, term: &[u8]) -> Result<Option<RoaringBitmap>, IndexError> {
        match self.terms.get(term) {
            Some(offset) => self.bitmap_at(offset).map(Some),
            None => Ok(None),
        }
    }

    /// Every term, in order.
    pub fn all_terms(&self) -> Vec<Vec<u8>> {
        use fst::Streamer;
        let mut out = Vec::with_capacity(self.terms.len());
        let mut stream = self.terms.stream();
        while let Some((term, _)) = stream.next() {
            out.push(term.to_vec());
        }
        out
    }

    /// Whether `term` occurs.
    pub fn contains(&self, term: &[u8]) -> bool {
        self.terms.contains_key(term)
    }

    /// Union of the rows of every term for which `keep` holds (e.g. a regular expression over the
    /// dictionary), and how many terms matched.
    pub fn matching(
        &self,
        keep: impl FnMut(&[u8]) -> bool,
    ) -> Result<(RoaringBitmap, usize), IndexError> {
        let mut offsets = Vec::new();
        self.flat().each(keep, |o| offsets.push(o));
        self.union(&offsets)
    }

    /// Union of the rows of every term holding `part` where `at` says, and how many terms
    /// matched.
    pub fn containing(
        &self,
        part: &[u8],
        at: TermPart,
    ) -> Result<(RoaringBitmap, usize), IndexError> {
        let mut offsets = Vec::new();
        self.flat().find(part, at, |o| offsets.push(o));
        self.union(&offsets)
    }

    fn flat(&self) -> &FlatTerms {
        self.flat.get_or_init(|| FlatTerms::new(&self.terms))
    }

    fn union(&self, offsets: &[u64]) -> Result<(RoaringBitmap, usize), IndexError> {
        let mut out = RoaringBitmap::new();
        for &o in offsets {
            out |= self.bitmap_at(o)?;
        }
        Ok((out, offsets.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = IndexBuilder::new();
        for row in 0..1000u32 {
            b.add(
                "service_name",
                if row % 10 == 0 { b"api" } else { b"web" },
                row,
            );
            b.add("severity_text", b"INFO", row);
        }
        b.add("body", b"refused", 7);
        b.finish(1000, &[600, 400])
    }

    #[test]
    fn terms_map_to_their_rows() {
        let idx = SegmentIndex::decode(Bytes::from(sample())).unwrap();
        assert_eq!((idx.rows(), idx.row_groups()), (1000, &[600, 400][..]));
        let services = idx.column("service_name").unwrap();
        assert_eq!(services.len(), 2);
        let api = services.get(b"api").unwrap().unwrap();
        assert_eq!(api.len(), 100);
        assert!(api.contains(990) && !api.contains(991));
        assert_eq!(services.get(b"db").unwrap(), None);
        assert_eq!(
            idx.column("body")
                .unwrap()
                .get(b"refused")
                .unwrap()
                .unwrap(),
            RoaringBitmap::from_iter([7])
        );
        let (all, n) = services
            .matching(|t| t.starts_with(b"w") || t == b"api")
            .unwrap();
        assert_eq!((all.len(), n), (1000, 2));
        assert!(idx.column("trace_id").is_none());
        assert_eq!(
            idx.column_names().collect::<Vec<_>>(),
            ["body", "service_name", "severity_text"]
        );
    }

    #[test]
    fn damage_is_detected() {
        let good = sample();
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 1;
        assert_eq!(
            SegmentIndex::decode(Bytes::from(flipped)).unwrap_err(),
            IndexError::Checksum
        );
        let cut = good[..good.len() - 9].to_vec();
        assert!(SegmentIndex::decode(Bytes::from(cut)).is_err());
        assert!(matches!(
            SegmentIndex::decode(Bytes::from_static(b"PAR1....")),
            Err(IndexError::Malformed(_))
        ));
        let mut newer = good.clone();
        newer[8] = 9;
        newer[9] = 0;
        let n = newer.len() - 4;
        let crc = crc32c::crc32c(&newer[..n]);
        newer[n..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            SegmentIndex::decode(Bytes::from(newer)).unwrap_err(),
            IndexError::Version(9)
        );
    }

    #[test]
    fn every_posting_encoding_round_trips() {
        let sets: Vec<RoaringBitmap> = vec![
            RoaringBitmap::from_iter([3, 9]),
            (100..5000).collect(),
            (0..200_000).step_by(3).collect(),
            RoaringBitmap::from_iter([0, u32::MAX]),
            (0..70_000).filter(|r| r % 1000 != 7).collect(),
            (5..300).filter(|r| r % 3 != 0).collect(),
        ];
        let mut b = IndexBuilder::new();
        for (i, set) in sets.iter().enumerate() {
            for r in set {
                b.add("c", format!("t{i}").as_bytes(), r);
            }
        }
        let idx = SegmentIndex::decode(Bytes::from(b.finish(0, &[]))).unwrap();
        for (i, set) in sets.iter().enumerate() {
            let got = idx
                .column("c")
                .unwrap()
                .get(format!("t{i}").as_bytes())
                .unwrap();
            assert_eq!(got.as_ref(), Some(set), "set {i}");
        }
        let mut buf = Vec::new();
        encode_posting(&(100..5000).collect(), &mut buf);
        assert_eq!(buf[0], POSTING_RANGE);
        assert!(buf.len() <= 5);
        encode_posting(&RoaringBitmap::from_iter([3, 9, 400]), &mut buf);
        assert_eq!(buf[0], POSTING_DELTAS);
        encode_posting(&(5..300).filter(|r| r % 3 != 0).collect(), &mut buf);
        assert_eq!(buf[0], POSTING_BITSET);
    }

    #[test]
    fn an_empty_index_round_trips() {
        let idx = SegmentIndex::decode(Bytes::from(IndexBuilder::new().finish(0, &[]))).unwrap();
        assert_eq!(idx.column_names().count(), 0);
    }
}
