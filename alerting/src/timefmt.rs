//! Times as Go's JSON encoding writes and reads them (RFC 3339 with nanoseconds, trailing
//! zeros cut; Go's zero time for none), for the Prometheus and Alertmanager APIs.

use std::time::{Duration, UNIX_EPOCH};

/// Go's zero time, written for a time that is not set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time as Go's JSON encoding writes it (RFC 3339 with the fraction's trailing zeros cut);
/// `None` is Go's zero time.
pub fn rfc3339(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return ZERO_TIME.to_string();
    };
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    let s = humantime::format_rfc3339_nanos(t).to_string();
    match s.split_once('.') {
        Some((head, frac)) => {
            let frac = frac.trim_end_matches('Z').trim_end_matches('0');
            if frac.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{frac}Z")
            }
        }
        None => s,
    }
}

/// A time in RFC 3339 (any offset, any fraction) as ms since the epoch; Go's zero time and
/// years before 1970 read as `None`.
pub fn parse_rfc3339(s: &str) -> Result<Option<i64>, String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| format!("{s:?}: {e}"))?;
    let ms = t.timestamp_millis();
    Ok((ms >= 0).then_some(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_go_writes_them() {
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(Some(1_530_736_032_606)), "2018-07-04T20:27:12.606Z");
        assert_eq!(rfc3339(Some(1_530_736_032_600)), "2018-07-04T20:27:12.6Z");
    }

    #[test]
    fn times_read_in_any_offset() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Ok(Some(1000)));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:01.5+01:00"), Ok(Some(1500)));
        assert_eq!(parse_rfc3339(ZERO_TIME), Ok(None));
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
