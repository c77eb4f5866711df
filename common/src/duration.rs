//! Durations as Prometheus writes them (`5m`, `1h30m`, `2d`), in query parameters and in rule
//! and configuration files.

/// Prometheus's duration syntax: units `y w d h m s ms`, largest first, each at most once,
/// integers only (`1h30m`), or `0`; in ms. `None` when `s` is not such a duration or overflows.
pub fn parse_prometheus(s: &str) -> Option<i64> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let at = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        total = total.checked_add(n.checked_mul(UNITS[at].1)?)?;
        next_unit = at + 1;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations_take_units_largest_first_each_once() {
        assert_eq!(parse_prometheus("0"), Some(0));
        assert_eq!(parse_prometheus("1h30m"), Some(5_400_000));
        assert_eq!(parse_prometheus("2d"), Some(172_800_000));
        assert_eq!(parse_prometheus("1s500ms"), Some(1_500));
        assert_eq!(parse_prometheus("30m1h"), None);
        assert_eq!(parse_prometheus("1.5h"), None);
        assert_eq!(parse_prometheus(""), None);
        assert_eq!(parse_prometheus("5"), None);
    }
}
