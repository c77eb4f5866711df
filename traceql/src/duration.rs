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

/// Go's `time.ParseDuration` (`common::go::parse_duration`); the lexer hands it no sign.
fn go(text: &str) -> Option<i64> {
    common::go::parse_duration(text).ok()
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
