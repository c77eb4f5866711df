//! The term table of one index column while it is built.

use roaring::RoaringBitmap;

/// The terms of one column while building. Term bytes live back to back in one arena; an
/// open-addressing table of slots carries each term's full hash, id and place in the arena, so
/// a look-up costs one slot access (plus the arena on a hash match). Each term id has the unit
/// it was last posted in, so a term repeated within a unit touches nothing else. New (term,
/// unit) pairs go to one flat list in arrival order, grouped by term only at the end.
///
/// A caller that already knows a term's id (see [`Terms::intern`]) posts it with
/// [`Terms::post`] without a look-up.
#[derive(Debug, Default)]
pub struct Terms {
    /// Rows per posting unit.
    unit_rows: u32,
    /// A power-of-two number of slots (none before the first term), at most half used.
    slots: Vec<Slot>,
    /// Every term's bytes; term `i` ends at `ends[i]` and starts where term `i - 1` ends.
    arena: Vec<u8>,
    ends: Vec<usize>,
    /// The unit each term was last posted in ([`NO_UNIT`] before its first).
    last_unit: Vec<u32>,
    /// (term id, unit) for each unit in which a term occurs, in arrival order.
    pairs: Vec<(u32, u32)>,
    /// Whether some term got a unit below its last one (its units are sorted at the end).
    unsorted: bool,
    /// The slot of the last term added, for runs of one term (a sorted column).
    last: Option<usize>,
}

/// The last unit of a term not posted yet.
const NO_UNIT: u32 = u32::MAX;

/// A slot of the term table; `hash == 0` marks a free one.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    hash: u64,
    id: u32,
    start: u32,
    len: u32,
}

/// `a == b` for slices of equal length, inline for the short ones that most terms are (a
/// library `memcmp` call costs more than the comparison).
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    if a.len() > 32 {
        return a == b;
    }
    let ((wa, ta), (wb, tb)) = (a.as_chunks::<8>(), b.as_chunks::<8>());
    wa.iter()
        .zip(wb)
        .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && ta.iter().zip(tb).all(|(x, y)| x == y)
}

/// The table hash of `term` (never 0, the mark of a free slot).
#[inline]
fn term_hash(term: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(term) | 1
}

/// Term `id` of an arena whose terms end at `ends`.
fn arena_term<'a>(arena: &'a [u8], ends: &[usize], id: u32) -> &'a [u8] {
    let id = id as usize;
    let start = if id == 0 { 0 } else { ends[id - 1] };
    &arena[start..ends[id]]
}

impl Terms {
    /// An empty column whose postings hold units of `unit_rows` rows (at least 1).
    pub(super) fn new(unit_rows: u32) -> Self {
        Self {
            unit_rows: unit_rows.max(1),
            ..Self::default()
        }
    }

    /// Rows per posting unit.
    pub(super) fn unit_rows(&self) -> u32 {
        self.unit_rows
    }

    fn term(&self, id: u32) -> &[u8] {
        arena_term(&self.arena, &self.ends, id)
    }

    fn unit_of(&self, row: u32) -> u32 {
        // Units are powers of two by default: a shift, not a division per term.
        match self.unit_rows {
            0 | 1 => row,
            u if u.is_power_of_two() => row >> u.trailing_zeros(),
            u => row / u,
        }
    }

    /// Records that row `row` has `term`. Consecutive rows with the same term (a sorted column)
    /// skip the dictionary look-up, and a term repeated within a unit touches no postings.
    pub fn add(&mut self, term: &[u8], row: u32) {
        let unit = self.unit_of(row);
        if let Some(at) = self.last {
            let s = self.slots[at];
            if s.len as usize == term.len()
                && same_bytes(
                    &self.arena[s.start as usize..(s.start + s.len) as usize],
                    term,
                )
            {
                self.post_unit(s.id, unit);
                return;
            }
        }
        self.reserve(1);
        let at = self.find_or_insert(term_hash(term), term);
        self.last = Some(at);
        self.post_unit(self.slots[at].id, unit);
    }

    /// The id of `term`, added without rows when new; ids count from 0 in order of arrival.
    pub fn intern(&mut self, term: &[u8]) -> u32 {
        self.reserve(1);
        let at = self.find_or_insert(term_hash(term), term);
        self.slots[at].id
    }

    /// Records that row `row` has the term of id `id` (from [`Terms::intern`]).
    #[inline]
    pub fn post(&mut self, id: u32, row: u32) {
        self.post_unit(id, self.unit_of(row));
    }

    /// Makes room for `more` new terms at most half filling the table.
    fn reserve(&mut self, more: usize) {
        let need = (self.ends.len() + more) * 2;
        if need <= self.slots.len() {
            return;
        }
        let size = need.next_power_of_two().max(1024);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        let mask = size - 1;
        for slot in old.into_iter().filter(|s| s.hash != 0) {
            let mut i = slot.hash as usize & mask;
            while self.slots[i].hash != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
        self.last = None;
    }

    /// The slot of `term` (hash `hash`), inserted when new. The table must have room for one
    /// more term.
    #[inline]
    fn find_or_insert(&mut self, hash: u64, term: &[u8]) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s.hash == 0 {
                let id = self.ends.len() as u32;
                self.slots[i] = Slot {
                    hash,
                    id,
                    start: self.arena.len() as u32,
                    len: term.len() as u32,
                };
                self.arena.extend_from_slice(term);
                self.ends.push(self.arena.len());
                self.last_unit.push(NO_UNIT);
                return i;
            }
            if s.hash == hash
                && s.len as usize == term.len()
                && same_bytes(
                    &self.arena[s.start as usize..(s.start + s.len) as usize],
                    term,
                )
            {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Posts `unit` for term `id` unless it was last posted in that unit.
    #[inline]
    fn post_unit(&mut self, id: u32, unit: u32) {
        let last = &mut self.last_unit[id as usize];
        if *last == unit {
            return;
        }
        if *last != NO_UNIT && *last > unit {
            self.unsorted = true;
        }
        *last = unit;
        self.pairs.push((id, unit));
    }

    /// Distinct terms.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no term was added.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The terms in order with their units.
    pub(super) fn into_sorted(self) -> Vec<(Box<[u8]>, RoaringBitmap)> {
        // Group the units by term (a counting sort keeps each term's units in arrival order).
        let n = self.len();
        let mut starts = vec![0u32; n + 1];
        for &(id, _) in &self.pairs {
            starts[id as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut units = vec![0u32; self.pairs.len()];
        for &(id, unit) in &self.pairs {
            let at = &mut next[id as usize];
            units[*at as usize] = unit;
            *at += 1;
        }
        // A term interned but never posted has no rows: it is left out.
        let mut order: Vec<u32> = (0..n as u32)
            .filter(|&id| starts[id as usize + 1] > starts[id as usize])
            .collect();
        order.sort_unstable_by(|&a, &b| self.term(a).cmp(self.term(b)));
        order
            .into_iter()
            .map(|id| {
                let run = &units[starts[id as usize] as usize..starts[id as usize + 1] as usize];
                let bitmap = if self.unsorted {
                    let mut run = run.to_vec();
                    run.sort_unstable();
                    run.dedup();
                    RoaringBitmap::from_sorted_iter(run)
                } else {
                    RoaringBitmap::from_sorted_iter(run.iter().copied())
                };
                (Box::from(self.term(id)), bitmap.unwrap_or_default())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The term table (open addressing, grown many times here, with runs, repeats within a
        /// unit and rows out of order) posts exactly the units a plain map would.
        #[test]
        fn terms_post_the_units_a_map_would(
            adds in proptest::collection::vec((0u32..3000, 0u32..5000), 0..4000),
            unit_rows in proptest::sample::select(vec![1u32, 3, 4, 8192]),
        ) {
            let mut terms = Terms::new(unit_rows);
            let mut model: std::collections::BTreeMap<Vec<u8>, std::collections::BTreeSet<u32>> =
                Default::default();
            for &(t, row) in &adds {
                // Short and long terms (the comparison takes another path above 32 bytes).
                let term = if t % 7 == 0 { format!("{t:0>40}") } else { format!("t{t}") };
                terms.add(term.as_bytes(), row);
                model.entry(term.into_bytes()).or_default().insert(row / unit_rows);
            }
            proptest::prop_assert_eq!(terms.len(), model.len());
            let got: Vec<(Vec<u8>, Vec<u32>)> = terms
                .into_sorted()
                .into_iter()
                .map(|(t, b)| (t.into_vec(), b.iter().collect()))
                .collect();
            let want: Vec<(Vec<u8>, Vec<u32>)> = model
                .into_iter()
                .map(|(t, u)| (t, u.into_iter().collect()))
                .collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
