//! `match(body, 'text')`: whether a log body holds every token of `text`, with the tokens the
//! full-text index uses (lowercased alphanumeric runs, plus whole addresses, ids, paths and
//! e-mails). The segment index answers it by intersecting the tokens' postings; this function
//! checks the rows it selects.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use storage::index::tokens;

/// The function's SQL name.
pub(crate) const MATCH: &str = "match";

/// The `match` function.
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(MatchUdf::new())
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MatchUdf {
    signature: Signature,
}

impl MatchUdf {
    fn new() -> Self {
        let strings = [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View];
        let exact = strings
            .iter()
            .flat_map(|a| {
                strings
                    .iter()
                    .map(move |b| TypeSignature::Exact(vec![a.clone(), b.clone()]))
            })
            .collect();
        Self {
            signature: Signature::one_of(exact, Volatility::Immutable),
        }
    }
}

/// The tokens a body must hold, with a quick substring pre-check: a body whose lowercased text
/// lacks one of the tokens as a substring cannot hold it as a token, and most bodies are
/// rejected that way without being tokenized.
struct Wanted {
    tokens: HashSet<String>,
    finders: Vec<memchr::memmem::Finder<'static>>,
    lower: Vec<u8>,
    found: HashSet<String>,
}

impl Wanted {
    fn new(text: &str) -> Self {
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
    fn matches(&mut self, body: &str) -> bool {
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

impl ScalarUDFImpl for MatchUdf {
    fn name(&self) -> &str {
        MATCH
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [body, text] = args.args.as_slice() else {
            return exec_err!("match takes two arguments: match(body, 'text')");
        };
        let ColumnarValue::Scalar(text) = text else {
            return exec_err!("the second argument of match must be a constant string");
        };
        let Some(text) = scalar_text(text) else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
        };
        let mut wanted = Wanted::new(&text);
        match body {
            ColumnarValue::Scalar(v) => {
                let out = scalar_text(v).map(|b| wanted.matches(&b));
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(out)))
            }
            ColumnarValue::Array(a) => {
                let out: BooleanArray = match a.data_type() {
                    DataType::Utf8 => a
                        .as_string::<i32>()
                        .iter()
                        .map(|b| b.map(|b| wanted.matches(b)))
                        .collect(),
                    DataType::LargeUtf8 => a
                        .as_string::<i64>()
                        .iter()
                        .map(|b| b.map(|b| wanted.matches(b)))
                        .collect(),
                    DataType::Utf8View => a
                        .as_string_view()
                        .iter()
                        .map(|b| b.map(|b| wanted.matches(b)))
                        .collect(),
                    other => return exec_err!("match cannot search a {other} column"),
                };
                Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
            }
        }
    }
}

fn scalar_text(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_substring_pre_check_keeps_token_semantics() {
        let mut w = Wanted::new("Connection refused");
        assert!(w.matches("dial tcp: CONNECTION refused"));
        assert!(!w.matches("connection refusedly"));
        assert!(!w.matches("no match here"));
        assert!(Wanted::new("ÄRGER").matches("großer Ärger heute"));
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
            let mut w = Wanted::new(&text);
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
