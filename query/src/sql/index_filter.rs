//! Turning a scan's pushed-down filters into segment index look-ups.
//!
//! Each filter that the index can answer becomes a [`Lookup`]; the look-ups of all filters are
//! ANDed. A look-up only ever selects a superset of the matching rows, and DataFusion re-applies
//! every filter above the scan, so a filter that is not understood here is simply left out.
//!
//! | filter | look-up |
//! |---|---|
//! | `col = 'v'`, `col IN (...)` | the rows of those terms |
//! | `col != 'v'`, `col NOT IN (...)` | the rows of every other term |
//! | `col ~ 're'`, `regexp_like(col, 're')`, `col LIKE 'p'` on a term column | the terms matching |
//! | `match(body, 'text')`, `body = 'text'` | rows holding every token of the text |
//! | `body LIKE '%...%'` | rows holding every word the pattern encloses with separators, and a token holding each word it cuts off (`%refus%`: a token with `refus` in it) |
//! | `attributes['k'] = 'v'` (and `resource_attributes`) | as `=` on the attribute's column |
//! | `a AND b`, `a OR b` | intersection, union |

use std::sync::Arc;

use common::schema::{LOGS, SAMPLES, SERIES, SPANS};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{Cast, InList, Like, ScalarFunction, TryCast};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use storage::index::{tokens, Lookup, TermPart};

use super::match_udf::MATCH;

/// The look-up the `filters` of a scan of `table` make, or `None` when the index cannot narrow
/// down any of them.
pub(crate) fn lookup(table: &str, filters: &[Expr]) -> Option<Lookup> {
    let mut parts: Vec<Lookup> = filters.iter().filter_map(|f| translate(table, f)).collect();
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Lookup::And(parts)),
    }
}

fn translate(table: &str, expr: &Expr) -> Option<Lookup> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (translate(table, left), translate(table, right)) {
                (Some(a), Some(b)) => Some(Lookup::And(vec![a, b])),
                (a, b) => a.or(b),
            },
            Operator::Or => Some(Lookup::Or(vec![
                translate(table, left)?,
                translate(table, right)?,
            ])),
            Operator::Eq | Operator::NotEq => {
                let (column, value) = column_and_literal(table, left, right)
                    .or_else(|| column_and_literal(table, right, left))?;
                compare(column, value, *op == Operator::NotEq)
            }
            Operator::RegexMatch
            | Operator::RegexIMatch
            | Operator::RegexNotMatch
            | Operator::RegexNotIMatch => {
                let (column, pattern) = column_and_literal(table, left, right)?;
                let Target::Terms(column) = column else {
                    return None;
                };
                let insensitive = matches!(op, Operator::RegexIMatch | Operator::RegexNotIMatch);
                let negated = matches!(op, Operator::RegexNotMatch | Operator::RegexNotIMatch);
                regex_lookup(column, &text(&pattern)?, insensitive, negated)
            }
            _ => None,
        },
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let column = target(table, expr)?;
            let Target::Terms(column) = column else {
                return None;
            };
            let terms = list
                .iter()
                .map(|e| literal(e).and_then(|v| term_of(&column, &v)))
                .collect::<Option<Vec<_>>>()?;
            Some(if *negated {
                Lookup::NoneOf { column, terms }
            } else {
                Lookup::AnyOf { column, terms }
            })
        }
        Expr::Like(like) => like_lookup(table, like),
        Expr::ScalarFunction(ScalarFunction { func, args }) => match (func.name(), args.as_slice())
        {
            (MATCH, [column, text_arg]) => {
                let Target::Body = target(table, column)? else {
                    return None;
                };
                Some(all_tokens(&text(&literal(text_arg)?)?))
            }
            ("regexp_like", [column, pattern]) | ("regexp_like", [column, pattern, _]) => {
                let Target::Terms(column) = target(table, column)? else {
                    return None;
                };
                let flags = match args.get(2) {
                    Some(f) => text(&literal(f)?)?,
                    None => String::new(),
                };
                if !flags.chars().all(|c| c == 'i') {
                    return None;
                }
                regex_lookup(column, &text(&literal(pattern)?)?, !flags.is_empty(), false)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Indexed integer columns (their terms are decimal text).
const INT_COLUMNS: [&str; 3] = ["severity_number", "kind", "status_code"];

/// What a column of a filter is to the index.
enum Target {
    /// A column whose whole values are terms of this index column.
    Terms(String),
    /// The log body, indexed by its tokens.
    Body,
}

/// The index target of `expr` in `table`: an indexed column, or an attribute look-up
/// (`attributes['k']`, `resource_attributes['k']`).
fn target(table: &str, expr: &Expr) -> Option<Target> {
    if let Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) = expr {
        let data_type = field.data_type();
        // Only casts that keep every value as the index spells it: integers widened, strings
        // re-encoded.
        let keeps = match target(table, expr)? {
            Target::Terms(name) if INT_COLUMNS.contains(&name.as_str()) => data_type.is_integer(),
            Target::Terms(name) if name == "series_id" => {
                matches!(data_type, DataType::UInt64 | DataType::Decimal128(_, 0))
            }
            _ => matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ),
        };
        return if keeps { target(table, expr) } else { None };
    }
    if let Expr::Column(c) = expr {
        let name = c.name.as_str();
        let indexed = match table {
            LOGS => {
                if name == "body" {
                    return Some(Target::Body);
                }
                matches!(name, "service_name" | "severity_text" | "severity_number")
            }
            SPANS => matches!(
                name,
                "trace_id" | "service_name" | "name" | "kind" | "status_code"
            ),
            SAMPLES => matches!(name, "series_id" | "metric_name"),
            SERIES => name == "metric_name",
            _ => false,
        };
        return indexed.then(|| Target::Terms(name.to_owned()));
    }
    if let Expr::ScalarFunction(ScalarFunction { func, args }) = expr {
        if func.name() != "get_field" {
            return None;
        }
        let [Expr::Column(map), key] = args.as_slice() else {
            return None;
        };
        let prefix = match (table, map.name.as_str()) {
            (LOGS | SPANS, "attributes") => "attr",
            (LOGS | SPANS, "resource_attributes") => "resource",
            (SERIES, "labels") => "label",
            _ => return None,
        };
        let key = text(&literal(key)?)?;
        return Some(Target::Terms(format!("{prefix}:{key}")));
    }
    None
}

fn strip_casts(expr: &Expr) -> &Expr {
    match expr {
        Expr::Cast(c) => strip_casts(&c.expr),
        Expr::TryCast(c) => strip_casts(&c.expr),
        other => other,
    }
}

fn column_and_literal(table: &str, column: &Expr, value: &Expr) -> Option<(Target, ScalarValue)> {
    Some((target(table, column)?, literal(value)?))
}

fn literal(expr: &Expr) -> Option<ScalarValue> {
    match strip_casts(expr) {
        Expr::Literal(v, _) if !v.is_null() => Some(v.clone()),
        _ => None,
    }
}

/// The text of a string literal.
fn text(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        ScalarValue::Dictionary(_, v) => text(v),
        _ => None,
    }
}

/// A literal as the index spells it: strings as their bytes, integers in decimal, ids as their
/// raw bytes.
fn term(value: &ScalarValue) -> Option<Vec<u8>> {
    if let Some(s) = text(value) {
        return Some(s.into_bytes());
    }
    match value {
        ScalarValue::Int8(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::Int16(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::Int32(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::Int64(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::UInt8(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::UInt16(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::UInt32(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::UInt64(Some(v)) => Some(v.to_string().into_bytes()),
        ScalarValue::FixedSizeBinary(_, Some(b))
        | ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => Some(b.clone()),
        _ => None,
    }
}

/// A literal as `column` of the index spells it: series ids as their 8 big-endian bytes, all
/// else as [`term`] does.
fn term_of(column: &str, value: &ScalarValue) -> Option<Vec<u8>> {
    if column != "series_id" {
        return term(value);
    }
    let id = match value {
        ScalarValue::UInt64(Some(v)) => *v,
        ScalarValue::Int64(Some(v)) => u64::try_from(*v).ok()?,
        ScalarValue::UInt32(Some(v)) => u64::from(*v),
        ScalarValue::Int32(Some(v)) => u64::try_from(*v).ok()?,
        ScalarValue::Decimal128(Some(v), _, 0) => u64::try_from(*v).ok()?,
        _ => return None,
    };
    Some(id.to_be_bytes().to_vec())
}

fn compare(column: Target, value: ScalarValue, negated: bool) -> Option<Lookup> {
    match column {
        Target::Terms(column) => {
            let terms = vec![term_of(&column, &value)?];
            Some(if negated {
                Lookup::NoneOf { column, terms }
            } else {
                Lookup::AnyOf { column, terms }
            })
        }
        // A body equal to the text has exactly the text's tokens.
        Target::Body if !negated => Some(all_tokens(&text(&value)?)),
        Target::Body => None,
    }
}

/// Rows whose body has every token of `text`.
fn all_tokens(text: &str) -> Lookup {
    let mut terms: Vec<Vec<u8>> = Vec::new();
    tokens(text, |t| terms.push(t.as_bytes().to_vec()));
    terms.sort_unstable();
    terms.dedup();
    Lookup::AllOf {
        column: "body".into(),
        terms,
    }
}

fn regex_lookup(column: String, pattern: &str, insensitive: bool, negated: bool) -> Option<Lookup> {
    let re = regex::bytes::RegexBuilder::new(pattern)
        .case_insensitive(insensitive)
        .build()
        .ok()?;
    Some(Lookup::Matching {
        column,
        predicate: Arc::new(move |t: &[u8]| re.is_match(t) != negated),
    })
}

fn like_lookup(table: &str, like: &Like) -> Option<Lookup> {
    let Like {
        negated,
        expr,
        pattern,
        escape_char,
        case_insensitive,
    } = like;
    if *negated {
        return None;
    }
    let pattern = text(&literal(pattern)?)?;
    let items = like_items(&pattern, *escape_char)?;
    match target(table, expr)? {
        Target::Body => {
            let ascii = items
                .iter()
                .all(|i| !matches!(i, LikeItem::Char(c) if !c.is_ascii()));
            let (mut terms, mut parts) = (Vec::new(), Vec::new());
            for (word, before, after) in literal_runs(&items) {
                let term = word.to_lowercase().into_bytes();
                let at = match (before, after) {
                    (true, true) => {
                        terms.push(term);
                        continue;
                    }
                    // A run cut off by `%` or `_` is part of a longer token (in ASCII text:
                    // elsewhere the tokens are not plain alphanumeric runs).
                    _ if !ascii => continue,
                    (true, false) => TermPart::Prefix,
                    (false, true) => TermPart::Suffix,
                    (false, false) => TermPart::Inside,
                };
                parts.push(Lookup::Part {
                    column: "body".into(),
                    part: term,
                    at,
                });
            }
            if !terms.is_empty() {
                terms.sort_unstable();
                terms.dedup();
                parts.insert(
                    0,
                    Lookup::AllOf {
                        column: "body".into(),
                        terms,
                    },
                );
            }
            match parts.len() {
                0 => None,
                1 => parts.pop(),
                _ => Some(Lookup::And(parts)),
            }
        }
        Target::Terms(column) => {
            let mut re = String::from("^");
            for item in &items {
                match item {
                    LikeItem::Char(c) => re.push_str(&regex::escape(&c.to_string())),
                    LikeItem::One => re.push('.'),
                    LikeItem::Many => re.push_str(".*"),
                }
            }
            re.push('$');
            regex_lookup(column, &format!("(?s){re}"), *case_insensitive, false)
        }
    }
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LikeItem {
    Char(char),
    /// `_`
    One,
    /// `%`
    Many,
}

fn like_items(pattern: &str, escape: Option<char>) -> Option<Vec<LikeItem>> {
    let escape = escape.unwrap_or('\\');
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            c if c == escape => LikeItem::Char(chars.next()?),
            '%' => LikeItem::Many,
            '_' => LikeItem::One,
            c => LikeItem::Char(c),
        });
    }
    Some(out)
}

/// The runs of literal alphanumeric characters of a LIKE pattern, each with whether a literal
/// separator (or the start / end of the pattern) bounds it before and after. Every matching text
/// holds each run inside one token (an alphanumeric run of the text); a bounded side is that
/// token's start or end. Anything else next to a run — `%`, `_` — could extend it.
fn literal_runs(items: &[LikeItem]) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let LikeItem::Char(c) = items[i] else {
            i += 1;
            continue;
        };
        if !c.is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let mut word = String::new();
        while let Some(LikeItem::Char(c)) = items.get(i) {
            if !c.is_alphanumeric() {
                break;
            }
            word.push(*c);
            i += 1;
        }
        let bounded = |item: Option<&LikeItem>| match item {
            None => true,
            Some(LikeItem::Char(c)) => !c.is_alphanumeric(),
            Some(_) => false,
        };
        let before = if start == 0 {
            None
        } else {
            items.get(start - 1)
        };
        out.push((word, bounded(before), bounded(items.get(i))));
    }
    out
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    /// The runs of `pattern`, `=` marking a bounded side.
    fn runs(pattern: &str) -> Vec<String> {
        literal_runs(&like_items(pattern, None).unwrap())
            .into_iter()
            .map(|(w, b, a)| {
                format!(
                    "{}{w}{}",
                    if b { "=" } else { "" },
                    if a { "=" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn runs_know_which_side_a_separator_bounds() {
        assert_eq!(runs("%connection refused%"), ["connection=", "=refused"]);
        assert_eq!(
            runs("% connection refused %"),
            ["=connection=", "=refused="]
        );
        assert_eq!(runs("%error: disk full"), ["error=", "=disk=", "=full="]);
        assert_eq!(runs("GET /api/v1%"), ["=GET=", "=api=", "=v1"]);
        assert_eq!(runs("%a_b c%"), ["a", "b=", "=c"]);
        assert_eq!(runs(r"%x\%y z%"), ["x=", "=y=", "=z"]);
    }

    #[test]
    fn filters_become_lookups() {
        let l = lookup(LOGS, &[col("service_name").eq(lit("api"))]).unwrap();
        assert_eq!(format!("{l:?}"), r#"service_name in ["api"]"#);
        let l = lookup(LOGS, &[col("body").like(lit("%: Connection refused (%"))]).unwrap();
        assert_eq!(
            format!("{l:?}"),
            r#"body has all ["connection", "refused"]"#
        );
        let l = lookup(
            SPANS,
            &[col("kind")
                .eq(lit(2i32))
                .or(col("name").in_list(vec![lit("a"), lit("b")], false))],
        )
        .unwrap();
        assert_eq!(
            format!("{l:?}"),
            r#"Or([kind in ["2"], name in ["a", "b"]])"#
        );
        // Not indexed, or not understood: no look-up.
        assert!(lookup(LOGS, &[col("trace_id").eq(lit("x"))]).is_none());
        let l = lookup(LOGS, &[col("body").like(lit("%refused%"))]).unwrap();
        assert_eq!(format!("{l:?}"), r#"body has Inside "refused""#);
        let l = lookup(LOGS, &[col("body").like(lit("%Conn refused: x%"))]).unwrap();
        assert_eq!(
            format!("{l:?}"),
            r#"And([body has all ["refused"], body has Suffix "conn", body has Prefix "x"])"#
        );
        // Outside ASCII only whole words narrow the read.
        assert!(lookup(LOGS, &[col("body").like(lit("%café%"))]).is_none());
        assert!(lookup(
            SPANS,
            &[col("kind")
                .eq(lit(2i32))
                .or(col("duration_nano").gt(lit(5i64)))]
        )
        .is_none());
    }
}
