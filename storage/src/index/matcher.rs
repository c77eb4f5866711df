//! Whether a log body holds every token of a text, with the tokens the full-text index uses
//! (lowercased alphanumeric runs, plus whole addresses, ids, paths and e-mails): the check of
//! the rows an index look-up selects. Per-row work, so it lives here, built with full
//! optimization (the query crate is built lighter, docs/0016).

use std::collections::HashSet;

use super::tokenize::tokens;

/// The tokens a body must hold, with a quick substring pre-check: a body whose lowercased text
/// lacks one of the tokens as a substring cannot hold it as a token, and most bodies are
/// rejected that way without being tokenized.
#[derive(Debug)]
pub struct TokenMatcher {
    tokens: HashSet<String>,
    finders: Vec<memchr::memmem::Finder<'static>>,
    lower: Vec<u8>,
    found: HashSet<String>,
}

impl TokenMatcher {
    /// The matcher of the tokens of `text`.
    pub fn new(text: &str) -> Self {
        let mut wanted = HashSet::new();
        tokens(text, |t| {
            wanted.insert(t.to_owned());
        });
        let finders = wanted
            .iter()
            .map(|t| memchr::memmem::Finder::new(t.as_bytes()).into_owned())
            .collect();
        Self {
            tokens: wanted,
            finders,
            lower: Vec::new(),
            found: HashSet::new(),
        }
    }

    /// Whether `body` holds every wanted token.
    pub fn matches(&mut self, body: &str) -> bool {
        if !body.is_ascii() {
            return holds_all(body, &self.tokens, &mut self.found);
        }
        self.lower.clear();
        self.lower
            .extend(body.bytes().map(|b| b.to_ascii_lowercase()));
        let lower = &self.lower;
        let mut complex = false;
        for f in &self.finders {
            let needle = f.needle();
            if !needle.iter().all(u8::is_ascii_alphanumeric) {
                // An address, path or e-mail token: only the tokenizer knows its bounds.
                if f.find(lower).is_none() {
                    return false;
                }
                complex = true;
                continue;
            }
            // An alphanumeric token is a whole run: an occurrence with no alphanumeric
            // neighbour.
            let whole = f.find_iter(lower).any(|at| {
                let before = at.checked_sub(1).map(|i| lower[i]);
                let after = lower.get(at + needle.len()).copied();
                !before.is_some_and(|b| b.is_ascii_alphanumeric())
                    && !after.is_some_and(|b| b.is_ascii_alphanumeric())
            });
            if !whole {
                return false;
            }
        }
        !complex || holds_all(body, &self.tokens, &mut self.found)
    }
}

/// Whether `body` has every token of `wanted`.
fn holds_all(body: &str, wanted: &HashSet<String>, found: &mut HashSet<String>) -> bool {
    found.clear();
    tokens(body, |t| {
        if wanted.contains(t) && !found.contains(t) {
            found.insert(t.to_owned());
        }
    });
    found.len() == wanted.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_substring_pre_check_keeps_token_semantics() {
        let mut w = TokenMatcher::new("Connection refused");
        assert!(w.matches("dial tcp: CONNECTION refused"));
        assert!(!w.matches("connection refusedly"));
        assert!(!w.matches("no match here"));
        assert!(TokenMatcher::new("ÄRGER").matches("großer Ärger heute"));
    }

    proptest::proptest! {
        /// The substring fast path agrees with tokenizing the body.
        #[test]
        fn the_fast_path_agrees_with_the_tokenizer(
            body in proptest::collection::vec((0..8usize, 0..5usize), 0..12),
            query in proptest::collection::vec(0..8usize, 1..3),
        ) {
            const WORDS: [&str; 8] = ["GET", "get", "Ref", "refused", "10.0.0.7", "/cart", "a1", "x@y.io"];
            const SEPS: [&str; 5] = [" ", "", ".", "-", "/"];
            let body: String = body.iter().map(|&(w, s)| format!("{}{}", WORDS[w], SEPS[s])).collect();
            let text: Vec<&str> = query.iter().map(|&w| WORDS[w]).collect();
            let text = text.join(" ");
            let mut w = TokenMatcher::new(&text);
            let expected = holds_all(&body, &w.tokens.clone(), &mut HashSet::new());
            proptest::prop_assert_eq!(w.matches(&body), expected, "{} in {}", text, body);
        }
    }

    #[test]
    fn every_token_must_be_a_whole_token_of_the_body() {
        let wanted: HashSet<String> = ["connection", "refused"].map(String::from).into();
        let mut found = HashSet::new();
        assert!(holds_all(
            "dial tcp: Connection REFUSED",
            &wanted,
            &mut found
        ));
        assert!(!holds_all("connection refusedly", &wanted, &mut found));
        assert!(!holds_all("connection reset", &wanted, &mut found));
    }
}
