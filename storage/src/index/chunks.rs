//! Body tokens by chunk: log lines repeat most of their words (methods, paths, addresses,
//! user agents, the second of the timestamp), so an indexer tokenizes each distinct chunk (see
//! [`tokenize::ascii_chunks`]) once and keeps the ids of its tokens; a repeated chunk then
//! costs one hash and one look-up here, plus one array access per token in [`Terms::post`],
//! instead of a tokenizer pass and a term-table look-up per token.

use super::terms::{same_bytes, Terms};
use super::tokenize;

/// Slots of the chunk table (a power of two). A slot holds the last chunk hashed to it, so the
/// table is bounded; a chunk that lost its slot is simply tokenized again.
const SLOTS: usize = 1 << 16;
/// Bytes of chunk text and token ids kept before the cache starts over.
const MAX_ARENA: usize = 8 << 20;

/// A direct-mapped cache from chunk bytes to the term ids of their tokens, for one term table.
#[derive(Debug)]
pub(super) struct ChunkCache {
    /// Empty until the first chunk; then `slot_count` slots.
    slots: Vec<ChunkSlot>,
    slot_count: usize,
    /// Bytes of text (and of ids) after which the cache starts over.
    max_arena: usize,
    /// The text of every cached chunk, back to back.
    text: Vec<u8>,
    /// The token ids of every cached chunk, back to back.
    ids: Vec<u32>,
    /// Scratch for a chunk's ids and lowercased tokens.
    scratch: Vec<u32>,
    lower: String,
}

/// A slot (16 bytes: a table of 64Ki slots fills 1 MiB): the high half of the chunk's hash
/// (0: empty; the low bits chose the slot), its text and its token ids in the arenas.
#[derive(Debug, Clone, Copy, Default)]
struct ChunkSlot {
    check: u32,
    text_start: u32,
    ids_start: u32,
    text_len: u16,
    ids_len: u16,
}

impl Default for ChunkCache {
    fn default() -> Self {
        Self::with_limits(SLOTS, MAX_ARENA)
    }
}

impl ChunkCache {
    /// A cache of `slots` slots (a power of two) that starts over past `max_arena` bytes.
    fn with_limits(slots: usize, max_arena: usize) -> Self {
        Self {
            slots: Vec::new(),
            slot_count: slots,
            max_arena,
            text: Vec::new(),
            ids: Vec::new(),
            scratch: Vec::new(),
            lower: String::new(),
        }
    }

    /// Posts the tokens of `body` for row `row` in `terms` (the tokens [`super::tokens`]
    /// gives).
    pub(super) fn add(&mut self, terms: &mut Terms, body: &str, row: u32) {
        if !body.is_ascii() {
            super::tokens(body, |t| terms.add(t.as_bytes(), row));
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![ChunkSlot::default(); self.slot_count];
        }
        tokenize::ascii_chunks(body, |chunk| self.add_chunk(terms, chunk, row));
    }

    fn add_chunk(&mut self, terms: &mut Terms, chunk: &str, row: u32) {
        let bytes = chunk.as_bytes();
        let hash = xxhash_rust::xxh3::xxh3_64(bytes);
        let at = hash as usize & (self.slot_count - 1);
        let check = (hash >> 32) as u32 | 1;
        let s = self.slots[at];
        if s.check == check
            && s.text_len as usize == bytes.len()
            && same_bytes(
                &self.text[s.text_start as usize..s.text_start as usize + s.text_len as usize],
                bytes,
            )
        {
            let ids = s.ids_start as usize..s.ids_start as usize + s.ids_len as usize;
            for &id in &self.ids[ids] {
                terms.post(id, row);
            }
            return;
        }
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        tokenize::ascii_chunk_tokens(chunk, &mut self.lower, &mut |t| {
            let id = terms.intern(t.as_bytes());
            terms.post(id, row);
            ids.push(id);
        });
        // A chunk too long for a slot is not kept (a chunk has fewer tokens than bytes).
        let Ok(text_len) = u16::try_from(bytes.len()) else {
            self.scratch = ids;
            return;
        };
        if self.text.len() + bytes.len() > self.max_arena
            || 4 * (self.ids.len() + ids.len()) > self.max_arena
        {
            self.text.clear();
            self.ids.clear();
            self.slots.fill(ChunkSlot::default());
        }
        self.slots[at] = ChunkSlot {
            check,
            text_start: self.text.len() as u32,
            ids_start: self.ids.len() as u32,
            text_len,
            ids_len: ids.len() as u16,
        };
        self.text.extend_from_slice(bytes);
        self.ids.extend_from_slice(&ids);
        self.scratch = ids;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sorted(terms: Terms) -> Vec<(Vec<u8>, Vec<u32>)> {
        terms
            .into_sorted()
            .into_iter()
            .map(|(t, b)| (t.into_vec(), b.iter().collect()))
            .collect()
    }

    proptest! {
        /// Through the chunk cache (small enough here to lose slots and start over), a column
        /// gets exactly the terms and units that adding every token of the tokenizer gives.
        #[test]
        fn cached_chunks_post_what_the_tokenizer_gives(
            lines in prop::collection::vec(prop::collection::vec((
                "[a-fA-F0-9]{1,6}|[.:/@_%~+-]|10\\.0\\.[0-9]{1,2}\\.[0-9]{1,3}|/api/v[12]/[xY]|a\\.B@ex\\.com|GET|Grüße|3F2504E0-4F89-11D3-9A0C-0305E82C3301",
                "[ ,\\[\\]\"=]?",
            ), 0..10), 0..60),
            unit_rows in prop::sample::select(vec![1u32, 4, 8192]),
            slots in prop::sample::select(vec![1usize, 4, 1 << 16]),
            max_arena in prop::sample::select(vec![16usize, 1 << 20]),
        ) {
            let mut cached = Terms::new(unit_rows);
            let mut plain = Terms::new(unit_rows);
            let mut cache = ChunkCache::with_limits(slots, max_arena);
            for (row, pieces) in lines.iter().enumerate() {
                let body: String = pieces.iter().map(|(p, sep)| format!("{p}{sep}")).collect();
                // Lines repeat, as log lines do.
                for r in [row, row + 1] {
                    cache.add(&mut cached, &body, r as u32);
                    super::super::tokens(&body, |t| plain.add(t.as_bytes(), r as u32));
                }
            }
            prop_assert_eq!(sorted(cached), sorted(plain));
        }
    }
}
