//! Times and durations as the Prometheus and Loki APIs accept them in parameters, and times as
//! Prometheus writes them.
//!
//! A time is RFC 3339 (`2026-12-06T10:00:00Z`, fractions and offsets allowed) or a Unix time: in
//! seconds with an optional fraction (`1733479200.5`) or, in the Loki forms, an integer of more
//! than ten digits in nanoseconds (`1733479200000000000`). A duration is seconds with an
//! optional fraction (`15`, `0.5`) or Prometheus's duration syntax (`5m`, `1h30m`, `2d`, `1w`,
//! `1y`, `100ms`).

use std::time::{Duration, SystemTime};

use crate::{Error, Result};

/// Largest time or duration magnitude accepted, ms (≈ 285,000 years): differences and sums of
/// such values stay far inside an `i64`.
const MAX_MS: f64 = (1u64 << 53) as f64;

/// Which API's forms a time parameter may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeForms {
    /// Prometheus: RFC 3339 or Unix seconds (every number is seconds).
    Prometheus,
    /// Loki: RFC 3339, Unix seconds, or Unix nanoseconds (an integer of more than ten digits).
    Loki,
}

/// The time parameter `name` with value `s`, in ms since the epoch.
pub(crate) fn parse_time(name: &str, s: &str, forms: TimeForms) -> Result<i64> {
    parse_time_nanos(name, s, forms).map(|ns| round_div(ns, 1_000_000))
}

/// The time parameter `name` with value `s`, in ns since the epoch.
pub(crate) fn parse_time_nanos(name: &str, s: &str, forms: TimeForms) -> Result<i64> {
    let bad = || {
        Error::BadData(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"
        ))
    };
    let digits = s.strip_prefix('-').unwrap_or(s);
    if forms == TimeForms::Loki && digits.len() > 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map_err(|_| bad());
    }
    if let Ok(secs) = s.parse::<f64>() {
        let ms = secs * 1000.0;
        if !ms.is_finite() || ms.abs() > MAX_MS {
            return Err(bad());
        }
        return Ok((secs * 1e9).round() as i64);
    }
    let t = match rfc3339_with_offset(s) {
        Some(t) => t,
        None => humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).map_err(|_| bad())?,
    };
    Ok(match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).map_err(|_| bad())?,
        Err(e) => -i64::try_from(e.duration().as_nanos()).map_err(|_| bad())?,
    })
}

/// An RFC 3339 time with a numeric offset (`2026-12-06T10:00:00+02:00`), which humantime does
/// not read: the local time read as UTC, then the offset taken off.
fn rfc3339_with_offset(s: &str) -> Option<SystemTime> {
    let t = s.find(['T', 't'])?;
    let at = s[t..].rfind(['+', '-'])? + t;
    let (local, offset) = s.split_at(at);
    let sign: i64 = if offset.starts_with('-') { -1 } else { 1 };
    let (h, m) = offset[1..].split_once(':')?;
    let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    let local = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = Duration::from_secs(h * 3600 + m * 60);
    if sign > 0 {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

/// The duration parameter `name` with value `s`, in ms.
pub(crate) fn parse_duration(name: &str, s: &str) -> Result<i64> {
    let bad = || {
        Error::BadData(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid duration"
        ))
    };
    if let Ok(secs) = s.parse::<f64>() {
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() > MAX_MS {
            return Err(bad());
        }
        return Ok(ms as i64);
    }
    common::duration::parse_prometheus(s)
        .filter(|&ms| ms as f64 <= MAX_MS)
        .ok_or_else(bad)
}

/// `a / b` rounded half away from zero.
fn round_div(a: i64, b: i64) -> i64 {
    let q = a / b;
    let r = a % b;
    if 2 * r.abs() >= b {
        q + a.signum()
    } else {
        q
    }
}

/// Unix seconds as Prometheus writes them: integer seconds, then `.` and three digits of
/// milliseconds when there are any.
pub(crate) fn format_time(t: i64) -> String {
    let (sign, t) = if t < 0 { ("-", -t) } else { ("", t) };
    match t % 1000 {
        0 => format!("{sign}{}", t / 1000),
        f => format!("{sign}{}.{f:03}", t / 1000),
    }
}

/// The time now, ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimeForms::{Loki, Prometheus};

    #[test]
    fn times_in_every_form_the_apis_accept() {
        assert_eq!(parse_time("t", "1.5", Prometheus).unwrap(), 1500);
        assert_eq!(
            parse_time("t", "1435781451.781", Prometheus).unwrap(),
            1_435_781_451_781
        );
        assert_eq!(
            parse_time("t", "2015-07-01T20:10:51.781Z", Prometheus).unwrap(),
            1_435_781_451_781
        );
        assert_eq!(
            parse_time("t", "2015-07-01T22:10:51.781+02:00", Prometheus).unwrap(),
            1_435_781_451_781
        );
        assert_eq!(
            parse_time("t", "2015-07-01T18:10:51.781-02:00", Prometheus).unwrap(),
            1_435_781_451_781
        );
        // Loki: more than ten digits are nanoseconds, ten or fewer seconds.
        assert_eq!(
            parse_time_nanos("t", "1435781451781000123", Loki).unwrap(),
            1_435_781_451_781_000_123
        );
        assert_eq!(
            parse_time("t", "1435781451", Loki).unwrap(),
            1_435_781_451_000
        );
        assert_eq!(
            parse_time("t", "1435781451.5", Loki).unwrap(),
            1_435_781_451_500
        );
        // Prometheus reads every number as seconds: this one is out of range.
        assert!(parse_time("t", "1435781451781000123", Prometheus).is_err());
        for bad in ["yesterday", "1e300", "NaN", "", "2015-07-01T20:10:51+2"] {
            let e = parse_time("start", bad, Prometheus).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid parameter \"start\""),
                "{e}"
            );
        }
        assert_eq!(parse_time("t", "-1.5", Prometheus).unwrap(), -1500);
    }

    #[test]
    fn durations_in_seconds_or_prometheus_syntax() {
        assert_eq!(parse_duration("s", "15s").unwrap(), 15_000);
        assert_eq!(parse_duration("s", "0.5").unwrap(), 500);
        assert_eq!(parse_duration("s", "5m").unwrap(), 300_000);
        assert_eq!(parse_duration("s", "1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("s", "1d2h").unwrap(), 93_600_000);
        assert_eq!(parse_duration("s", "1w").unwrap(), 604_800_000);
        assert_eq!(parse_duration("s", "100ms").unwrap(), 100);
        for bad in ["-1e300", "m5", "30m1h", "1.5h", "5mm", "", "1x"] {
            assert!(parse_duration("step", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_written_as_prometheus_writes_them() {
        assert_eq!(format_time(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_time(1_500), "1.500");
        assert_eq!(format_time(-2_000), "-2");
    }
}
