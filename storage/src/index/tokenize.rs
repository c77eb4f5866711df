//! Tokens of log bodies for the full-text index.
//!
//! Every maximal run of alphanumeric characters is a token, lowercased. Where a run of
//! characters that can form an IPv4 address, a UUID, a path or an e-mail address is exactly one
//! of those, it is a token as a whole as well, so `10.1.2.3` yields `10`, `1`, `2`, `3` and
//! `10.1.2.3`. Hex ids are alphanumeric runs already.

/// Calls `f` with each token of `text` (lowercased; a token may come more than once).
pub fn tokens(text: &str, mut f: impl FnMut(&str)) {
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
    let lens = [8, 4, 4, 4, 12];
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
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
    use super::*;

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
