//! Durations as Tempo's lexer reads them (Prometheus's form first, `1d2h`, then Go's
//! `time.ParseDuration`, `1.5ms`), and as Go prints them (`1h30m0s`), which reads back the same.

const NS_PER_MS: i64 = 1_000_000;

/// Nanoseconds of `text`, or `None` when it is not a duration (or does not fit in an `i64`).
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    prometheus(text).or_else(|| go(text))
}

/// Prometheus's `model.ParseDuration` (`common::duration::parse_prometheus`), in nanoseconds.
fn prometheus(text: &str) -> Option<i64> {
    common::duration::parse_prometheus(text)?.checked_mul(NS_PER_MS)
}

/// Go's `time.ParseDuration` of a duration without a sign: numbers with optional fractions,
/// each followed by one of `ns us µs μs ms s m h`.
fn go(text: &str) -> Option<i64> {
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = r.bytes().take_while(u8::is_ascii_digit).count();
            frac = &r[..frac_len];
            rest = &r[frac_len..];
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        // Go accumulates the whole part exactly and truncates the fraction.
        if int.len() > 20 {
            return None;
        }
        let whole: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        total = total.checked_add(whole.checked_mul(unit)?)?;
        let mut scale: i128 = 1;
        let mut f: i128 = 0;
        for d in frac.bytes().take(30) {
            f = f * 10 + i128::from(d - b'0');
            scale *= 10;
        }
        total = total.checked_add(f * unit / scale)?;
        if total > i128::from(i64::MAX) {
            return None;
        }
    }
    i64::try_from(total).ok()
}

pub(crate) use common::go::duration as format_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_both_forms_and_print_back() {
        let s = 1_000_000_000;
        for (text, ns) in [
            ("1s", s),
            ("1h30m", 5_400 * s),
            ("1.5ms", 1_500_000),
            ("2d", 172_800 * s),
            ("1w", 604_800 * s),
            ("1y", 31_536_000 * s),
            ("100ms", 100_000_000),
            ("1µs", 1_000),
            ("3us", 3_000),
            ("7ns", 7),
            ("1s1s", 2 * s),
            (".5s", s / 2),
        ] {
            assert_eq!(parse_duration(text), Some(ns), "{text}");
            assert_eq!(parse_duration(&format_duration(ns)), Some(ns), "{text}");
        }
        for bad in [
            "",
            "1",
            "1x",
            "5m5",
            "1.5.5s",
            ".s",
            "300y",
            "9999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(5_400 * s), "1h30m0s");
        assert_eq!(format_duration(-1_500_000), "-1.5ms");
        assert_eq!(format_duration(i64::MIN), "-2562047h47m16.854775808s");
    }
}
