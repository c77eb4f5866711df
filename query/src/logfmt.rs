//! Logfmt lines (`a=b c="d e"`) as the search APIs take them in their `tags` parameters.

/// Why a logfmt line could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogfmtError {
    /// A quoted value runs to the end of the line.
    Unclosed,
    /// A `=value` with nothing before it.
    NoKey,
    /// A key holds a `"` (only when keys may not).
    QuoteInKey,
}

/// The pairs of a logfmt line, in order; a bare key has an empty value. Inside quotes `\n` and
/// `\t` are a newline and a tab, and a backslash keeps any other character. A key may hold a
/// quote only when `quotes_in_keys`.
pub(crate) fn pairs(
    text: &str,
    quotes_in_keys: bool,
) -> Result<Vec<(String, String)>, LogfmtError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            if c == '"' && !quotes_in_keys {
                return Err(LogfmtError::QuoteInKey);
            }
            key.push(c);
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                loop {
                    match chars.next() {
                        None => return Err(LogfmtError::Unclosed),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some(c) => value.push(c),
                            None => return Err(LogfmtError::Unclosed),
                        },
                        Some(c) => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(LogfmtError::NoKey);
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_into_pairs_with_quotes_escapes_and_bare_keys() {
        let got = pairs(r#" a=1  b="x \"y\"\tz" c "#, false).unwrap();
        let want = [("a", "1"), ("b", "x \"y\"\tz"), ("c", "")];
        assert_eq!(
            got,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
        assert_eq!(pairs(r#"a="open"#, false), Err(LogfmtError::Unclosed));
        assert_eq!(pairs("=v", true), Err(LogfmtError::NoKey));
        assert_eq!(pairs(r#"a"b=1"#, false), Err(LogfmtError::QuoteInKey));
        assert_eq!(
            pairs(r#"a"b=1"#, true),
            Ok(vec![("a\"b".to_string(), "1".to_string())])
        );
    }
}
