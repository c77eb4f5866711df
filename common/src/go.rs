//! Go's text forms that the query languages print so that Go tools read them back: strings as
//! `strconv.Quote` writes them, durations as `time.Duration.String()` does; and durations read
//! as `time.ParseDuration` reads them, with its error texts.

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

/// Go's `time.ParseDuration`, in nanoseconds, with Go's error text: an optional sign, then
/// decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1.5h` or
/// `2h45m`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(text));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        rest = after;
        let mut frac = "";
        if let Some(after) = rest.strip_prefix('.') {
            let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            (frac, rest) = after.split_at(frac_len);
        } else if int.is_empty() {
            return Err(invalid());
        }
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .bytes()
            .position(|b| b == b'.' || b.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, after) = rest.split_at(unit_len);
        rest = after;
        let scale: u128 = match unit {
            "" => return Err(format!("time: missing unit in duration {}", quote(text))),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit),
                    quote(text)
                ))
            }
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        // The fraction, truncated to the nanosecond (Go stops reading digits past 2^63).
        let (mut f, mut f_scale): (u128, u128) = (0, 1);
        for d in frac.bytes().take(20) {
            f = f * 10 + u128::from(d - b'0');
            f_scale *= 10;
        }
        total = whole
            .checked_mul(scale)
            .and_then(|v| v.checked_add(f * scale / f_scale))
            .and_then(|v| total.checked_add(v))
            .filter(|&t| t <= 1 << 63)
            .ok_or_else(invalid)?;
    }
    let total = i128::try_from(total).map_err(|_| invalid())?;
    i64::try_from(if negative { -total } else { total }).map_err(|_| invalid())
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
