//! A column's terms laid end to end, for searches inside terms (a body search for `refus` may
//! match the token `refused`): one substring search over all the terms' text instead of a walk
//! of the dictionary. Built from the dictionary the first time a column is searched so, and kept
//! with the decoded index (about the size of the dictionary's text plus 16 bytes a term).

use bytes::Bytes;
use memchr::memmem;

/// Where in a term a searched part must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermPart {
    /// Anywhere.
    Inside,
    /// At its start.
    Prefix,
    /// At its end.
    Suffix,
}

/// Every term's bytes, end to end, with where each ends and its dictionary output.
#[derive(Clone)]
pub(super) struct FlatTerms {
    text: Vec<u8>,
    ends: Vec<usize>,
    outputs: Vec<u64>,
}

impl FlatTerms {
    /// The terms of `dictionary`, in its order.
    pub(super) fn new(dictionary: &fst::Map<Bytes>) -> Self {
        use fst::Streamer;
        let mut out = FlatTerms {
            text: Vec::new(),
            ends: Vec::with_capacity(dictionary.len()),
            outputs: Vec::with_capacity(dictionary.len()),
        };
        let mut stream = dictionary.stream();
        while let Some((term, output)) = stream.next() {
            out.text.extend_from_slice(term);
            out.ends.push(out.text.len());
            out.outputs.push(output);
        }
        out
    }

    /// Calls `f` with the output of each term `keep` holds for, in dictionary order.
    pub(super) fn each(&self, mut keep: impl FnMut(&[u8]) -> bool, mut f: impl FnMut(u64)) {
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            if keep(&self.text[start..end]) {
                f(self.outputs[i]);
            }
            start = end;
        }
    }

    /// Calls `f` once with the output of each term holding `part` where `at` says.
    pub(super) fn find(&self, part: &[u8], at: TermPart, mut f: impl FnMut(u64)) {
        if part.is_empty() {
            return self.each(|_| true, f);
        }
        let mut last = None;
        for p in memmem::find_iter(&self.text, part) {
            // The term the match starts in: the first whose end lies past `p`.
            let i = self.ends.partition_point(|&e| e <= p);
            let (start, end) = (if i == 0 { 0 } else { self.ends[i - 1] }, self.ends[i]);
            let fits = p + part.len() <= end
                && match at {
                    TermPart::Inside => true,
                    TermPart::Prefix => p == start,
                    TermPart::Suffix => p + part.len() == end,
                };
            if fits && last != Some(i) {
                last = Some(i);
                f(self.outputs[i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(found: impl FnOnce(&FlatTerms, &mut dyn FnMut(u64))) -> Vec<u64> {
        let map = fst::Map::from_iter(
            ["abab", "ba", "bab", "cab", "refused"]
                .iter()
                .enumerate()
                .map(|(i, t)| (*t, i as u64)),
        )
        .unwrap();
        let map = fst::Map::new(Bytes::from(map.into_fst().into_inner())).unwrap();
        let flat = FlatTerms::new(&map);
        let mut out = Vec::new();
        found(&flat, &mut |o| out.push(o));
        out
    }

    #[test]
    fn parts_are_found_inside_terms_never_across_two() {
        // "abab" "ba" "bab" "cab" "refused" end to end: "abba" spans two terms, no term has it.
        assert_eq!(
            terms(|f, o| f.find(b"abba", TermPart::Inside, o)),
            Vec::<u64>::new()
        );
        assert_eq!(
            terms(|f, o| f.find(b"ab", TermPart::Inside, o)),
            vec![0, 2, 3]
        );
        assert_eq!(terms(|f, o| f.find(b"ab", TermPart::Prefix, o)), vec![0]);
        assert_eq!(
            terms(|f, o| f.find(b"ab", TermPart::Suffix, o)),
            vec![0, 2, 3]
        );
        assert_eq!(terms(|f, o| f.find(b"ba", TermPart::Prefix, o)), vec![1, 2]);
        assert_eq!(terms(|f, o| f.find(b"fuse", TermPart::Inside, o)), vec![4]);
        assert_eq!(terms(|f, o| f.each(|t| t.len() == 3, o)), vec![2, 3]);
    }
}
