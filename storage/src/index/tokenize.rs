//! Tokens of log bodies for the full-text index.
//!
//! Every maximal run of alphanumeric characters is a token, lowercased. Where a run of
//! characters that can form an IPv4 address, a UUID, a path or an e-mail address is exactly one
//! of those, it is a token as a whole as well, so `10.1.2.3` yields `10`, `1`, `2`, `3` and
//! `10.1.2.3`. Hex ids are alphanumeric runs already.

/// Calls `f` with each token of `text` (lowercased; a token may come more than once).
pub fn tokens(text: &str, f: impl FnMut(&str)) {
    if text.is_ascii() {
        ascii_tokens(text, f);
    } else {
        unicode_tokens(text, f);
    }
}

/// Byte classes of ASCII text: separators, characters that only widen a chunk, digits and
/// lowercase letters, uppercase letters.
const SEP: u8 = 0;
const WIDE: u8 = 1;
const ALNUM: u8 = 2;
const UPPER: u8 = 3;

const CLASS: [u8; 256] = {
    let mut t = [SEP; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_alphanumeric() {
            ALNUM
        } else if matches!(
            c,
            b'.' | b'-' | b'_' | b'/' | b'@' | b':' | b'+' | b'%' | b'~'
        ) {
            WIDE
        } else {
            SEP
        };
        b += 1;
    }
    t
};

/// [`tokens`] of ASCII text, a byte at a time (the same tokens as the general path): the
/// tokens of each of its chunks.
fn ascii_tokens(text: &str, mut f: impl FnMut(&str)) {
    let mut lower = String::new();
    ascii_chunks(text, |chunk| ascii_chunk_tokens(chunk, &mut lower, &mut f));
}

/// Calls `f` with each chunk of ASCII `text`: a maximal run of characters that can form a
/// token or an address, id, path or e-mail, without trailing `.`, `:`, `-` or `_` (possibly
/// empty). A token never spans two chunks, and a chunk's tokens depend on nothing but its
/// bytes (see [`ascii_chunk_tokens`]), which lets an indexer tokenize a repeated chunk once.
pub(super) fn ascii_chunks<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let b = text.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        while i < n && CLASS[b[i] as usize] == SEP {
            i += 1;
        }
        let start = i;
        while i < n && CLASS[b[i] as usize] != SEP {
            i += 1;
        }
        let mut end = i;
        while end > start && matches!(b[end - 1], b'.' | b':' | b'-' | b'_') {
            end -= 1;
        }
        if end > start {
            f(&text[start..end]);
        }
    }
}

/// The tokens of one chunk of ASCII text (see [`ascii_chunks`]), lowercased through `lower`.
pub(super) fn ascii_chunk_tokens(chunk: &str, lower: &mut String, f: &mut impl FnMut(&str)) {
    let mut emit = |s: &str, upper: bool| {
        if upper {
            lower.clear();
            lower.push_str(s);
            lower.make_ascii_lowercase();
            f(lower);
        } else {
            f(s);
        }
    };
    let b = chunk.as_bytes();
    let end = b.len();
    let mut runs = 0;
    let mut any_upper = false;
    let mut j = 0;
    while j < end {
        while j < end && CLASS[b[j] as usize] == WIDE {
            j += 1;
        }
        let run = j;
        let mut upper = false;
        while j < end && CLASS[b[j] as usize] >= ALNUM {
            upper |= CLASS[b[j] as usize] == UPPER;
            j += 1;
        }
        if j > run {
            runs += 1;
            any_upper |= upper;
            emit(&chunk[run..j], upper);
        }
    }
    if runs > 1 && is_ascii_shape(chunk) {
        emit(chunk, any_upper);
    }
}

/// Whether an ASCII chunk is an IPv4 address, a UUID, a path or an e-mail address; each check
/// runs only when a cheap necessary condition of its shape holds.
fn is_ascii_shape(s: &str) -> bool {
    let b = s.as_bytes();
    (b[0] == b'/' && is_path(s))
        || (b.len() == 36 && is_uuid(s))
        || (b[0].is_ascii_digit() && b.len() <= 15 && is_ipv4(s))
        || (b.contains(&b'@') && is_email(s))
}

/// [`tokens`] of any text, a character at a time.
fn unicode_tokens(text: &str, mut f: impl FnMut(&str)) {
    let mut lower = String::new();
    let mut emit = |s: &str, f: &mut dyn FnMut(&str)| {
        if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
            lower.clear();
            lower.extend(s.chars().flat_map(char::to_lowercase));
            f(&lower);
        } else {
            f(s);
        }
    };
    for chunk in text.split(|c: char| !is_wide(c)) {
        let chunk = chunk.trim_end_matches(['.', ':', '-', '_']);
        if chunk.is_empty() {
            continue;
        }
        let mut runs = 0;
        for run in chunk.split(|c: char| !c.is_alphanumeric()) {
            if !run.is_empty() {
                runs += 1;
                emit(run, &mut f);
            }
        }
        if runs > 1 && (is_ipv4(chunk) || is_uuid(chunk) || is_path(chunk) || is_email(chunk)) {
            emit(chunk, &mut f);
        }
    }
}

/// Characters that can be part of an address, id, path or e-mail.
fn is_wide(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '@' | ':' | '+' | '%' | '~')
}

fn is_ipv4(s: &str) -> bool {
    let mut parts = 0;
    for p in s.split('.') {
        parts += 1;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if p.parse::<u16>().map_or(true, |n| n > 255) {
            return false;
        }
    }
    parts == 4
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_path(s: &str) -> bool {
    s.starts_with('/') && s.len() > 1 && !s.contains('@') && !s.contains("//")
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    type Tokenizer = fn(&str, &mut dyn FnMut(&str));

    fn collect(text: &str, tokenize: Tokenizer) -> Vec<String> {
        let mut out = Vec::new();
        tokenize(text, &mut |t| out.push(t.to_owned()));
        out
    }

    proptest! {
        /// The ASCII path gives exactly the tokens of the general one.
        #[test]
        fn the_ascii_path_agrees_with_the_general_one(
            pieces in prop::collection::vec((
                "[a-fA-F0-9]{1,12}|[.:/@_%~+-]|10\\.0\\.[0-9]{1,3}\\.[0-9]{1,4}|3F2504E0-4F89-11D3-9A0C-0305E82C3301|/api/v1/[xY]|/a@b\\.c|a\\.B@ex\\.com|[Zz]",
                "[ ,\\[\\]\"=]?",
            ), 0..12)
        ) {
            let text: String = pieces.iter().map(|(p, sep)| format!("{p}{sep}")).collect();
            let fast = collect(&text, |t, f| ascii_tokens(t, f));
            let general = collect(&text, |t, f| unicode_tokens(t, f));
            prop_assert_eq!(fast, general, "{:?}", text);
        }
    }

    fn all(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokens(text, |t| out.push(t.to_owned()));
        out
    }

    #[test]
    fn words_are_lowercased_alphanumeric_runs() {
        assert_eq!(
            all("Connection REFUSED, retrying (attempt=3)"),
            ["connection", "refused", "retrying", "attempt", "3"]
        );
        assert_eq!(all("Grüße aus Köln"), ["grüße", "aus", "köln"]);
        assert!(all(" ,;()[]{} ").is_empty());
    }

    #[test]
    fn addresses_ids_paths_and_emails_stay_whole_as_well() {
        let t = all("from 10.0.12.7: GET /api/v1/users ok");
        assert!(t.contains(&"10.0.12.7".to_owned()), "{t:?}");
        assert!(t.contains(&"12".to_owned()));
        assert!(t.contains(&"/api/v1/users".to_owned()));
        assert!(t.contains(&"users".to_owned()));

        let t = all("req 3F2504E0-4F89-11D3-9A0C-0305E82C3301 done");
        assert!(
            t.contains(&"3f2504e0-4f89-11d3-9a0c-0305e82c3301".to_owned()),
            "{t:?}"
        );
        assert!(t.contains(&"0305e82c3301".to_owned()));

        let t = all("mail to Ops.Team@Example.com.");
        assert!(t.contains(&"ops.team@example.com".to_owned()), "{t:?}");
        assert!(t.contains(&"example".to_owned()));

        let t = all("trace 4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(t.contains(&"4bf92f3577b34da6a3ce929d0e0e4736".to_owned()));

        // Not one of those shapes: only the words.
        assert_eq!(all("1.2.3.4.5"), ["1", "2", "3", "4", "5"]);
        assert_eq!(all("999.1.1.1"), ["999", "1", "1", "1"]);
        assert_eq!(all("a-b"), ["a", "b"]);
    }
}
