//! Go's text forms that the query languages print so that Go tools read them back: strings as
//! `strconv.Quote` writes them, durations as `time.Duration.String()` does.

use std::fmt::Write as _;

/// Go's `strconv.Quote`: printable UTF-8 kept, `\"`, `\\`, `\n` … escaped, other control
/// characters as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() && (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.Duration.String()` of `ns` nanoseconds (`250ms`, `1.5µs`, `1m0s`, `1h30m0s`).
pub fn duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |v: u64, unit: u64, digits: usize| {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let f = format!("{rest:0digits$}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000, 6));
    }
    let h = u / 3_600_000_000_000;
    let m = (u / 60_000_000_000) % 60;
    let s = frac(u % 60_000_000_000, 1_000_000_000, 9);
    let mut out = String::from(sign);
    if h > 0 {
        let _ = write!(out, "{h}h{m}m");
    } else if m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}s");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_durations_print_as_go_prints_them() {
        assert_eq!(
            quote("a\"b\\c\n\x01\x7f\u{85}é"),
            r#""a\"b\\c\n\x01\x7f\u0085é""#
        );
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(1_500), "1.5µs");
        assert_eq!(duration(250_000_000), "250ms");
        assert_eq!(duration(60_000_000_000), "1m0s");
        assert_eq!(duration(5_400_000_000_000), "1h30m0s");
        assert_eq!(duration(-1_500_000), "-1.5ms");
        assert_eq!(duration(i64::MIN), "-2562047h47m16.854775808s");
    }
}
