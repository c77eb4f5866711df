//! Alertmanager's time intervals (`timeinterval`): times of day, weekdays, days of the month
//! (negative ones count from the month's end), months and years, in a time zone (`location`),
//! as `time_intervals` and routes' `mute_time_intervals`/`active_time_intervals` name them;
//! errors worded as Alertmanager's.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use saphyr::Yaml;

/// A range of a calendar field, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First value.
    pub begin: i32,
    /// Last value.
    pub end: i32,
}

/// Minutes of the day, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minutes {
    /// First minute.
    pub start: u32,
    /// Minute after the last.
    pub end: u32,
}

/// One time interval: a time is in it when every field given holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeInterval {
    /// Times of day.
    pub times: Option<Vec<Minutes>>,
    /// Weekdays, Sunday 0 to Saturday 6.
    pub weekdays: Option<Vec<Span>>,
    /// Days of the month; negative ones count from its end (-1 is the last day).
    pub days_of_month: Option<Vec<Span>>,
    /// Months, 1 to 12.
    pub months: Option<Vec<Span>>,
    /// Years.
    pub years: Option<Vec<Span>>,
    /// The time zone the fields are read in (UTC when absent).
    pub location: Option<Tz>,
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn days_in_month(year: i32, month: u32) -> i32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    match (
        NaiveDate::from_ymd_opt(year, month, 1),
        NaiveDate::from_ymd_opt(ny, nm, 1),
    ) {
        (Some(a), Some(b)) => (b - a).num_days() as i32,
        _ => 31,
    }
}

fn any_span(spans: &Option<Vec<Span>>, v: i32) -> bool {
    spans
        .as_ref()
        .is_none_or(|s| s.iter().any(|r| v >= r.begin && v <= r.end))
}

impl TimeInterval {
    /// Whether the instant `t` is in the interval.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let tz = self.location.unwrap_or(Tz::UTC);
        let t = tz.from_utc_datetime(&t.naive_utc());
        if let Some(times) = &self.times {
            let m = t.hour() * 60 + t.minute();
            if !times.iter().any(|r| m >= r.start && m < r.end) {
                return false;
            }
        }
        if let Some(days) = &self.days_of_month {
            let n = days_in_month(t.year(), t.month());
            let day = t.day() as i32;
            let inside = days.iter().any(|r| {
                let resolve = |d: i32| if d < 0 { n + d + 1 } else { d };
                let (begin, end) = (resolve(r.begin), resolve(r.end));
                if begin > n {
                    return false;
                }
                let (begin, end) = (begin.clamp(-n, n), end.clamp(-n, n));
                day >= begin && day <= end
            });
            if !inside {
                return false;
            }
        }
        any_span(&self.months, t.month() as i32)
            && any_span(&self.weekdays, t.weekday().num_days_from_sunday() as i32)
            && any_span(&self.years, t.year())
    }

    /// One interval of a `time_intervals` list.
    pub fn parse(y: &Yaml<'_>) -> Result<Self, String> {
        let get = |k: &str| y.as_mapping_get(k).filter(|v| !v.is_null());
        let mut out = TimeInterval::default();
        if let Some(list) = get("times") {
            let mut times = Vec::new();
            for r in list.as_vec().ok_or("times must be a list")? {
                let start = r.as_mapping_get("start_time").and_then(Yaml::as_str);
                let end = r.as_mapping_get("end_time").and_then(Yaml::as_str);
                let (Some(start), Some(end)) = (start, end) else {
                    return Err("both start and end times must be provided".into());
                };
                let (start, end) = (minute_of_day(start)?, minute_of_day(end)?);
                if start >= end {
                    return Err("start time cannot be equal or greater than end time".into());
                }
                times.push(Minutes { start, end });
            }
            out.times = Some(times);
        }
        out.weekdays = spans(get("weekdays"), weekday_range)?;
        out.days_of_month = spans(get("days_of_month"), day_range)?;
        out.months = spans(get("months"), month_range)?;
        out.years = spans(get("years"), year_range)?;
        if let Some(l) = get("location") {
            let name = l.as_str().ok_or("location must be a string")?;
            out.location = Some(match name {
                "" | "UTC" => Tz::UTC,
                "Local" => Tz::UTC,
                n => n
                    .parse::<Tz>()
                    .map_err(|_| format!("unknown time zone {n}"))?,
            });
        }
        Ok(out)
    }
}

/// `HH:MM` (or `24:00`) as minutes of the day.
fn minute_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("couldn't parse timestamp {s}, invalid format");
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn spans(
    y: Option<&Yaml<'_>>,
    one: fn(&str) -> Result<Span, String>,
) -> Result<Option<Vec<Span>>, String> {
    let Some(y) = y else {
        return Ok(None);
    };
    let list = y.as_vec().ok_or("a list of ranges expected")?;
    let mut out = Vec::new();
    for item in list {
        let text = item
            .as_str()
            .map(str::to_string)
            .or_else(|| item.as_integer().map(|i| i.to_string()))
            .ok_or("a range must be a string")?;
        out.push(one(&text)?);
    }
    Ok(Some(out))
}

/// `a:b` or `a` (then `b` is `a`); a `-` before a digit is a sign, not a separator.
fn bounds(s: &str) -> Result<(&str, &str), String> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [one] => Ok((one, one)),
        [a, b] => Ok((a, b)),
        _ => Err(format!("invalid range {s}")),
    }
}

fn weekday_range(s: &str) -> Result<Span, String> {
    let (a, b) = bounds(s)?;
    let day = |d: &str| {
        WEEKDAYS
            .iter()
            .position(|w| w.eq_ignore_ascii_case(d))
            .map(|i| i as i32)
            .ok_or_else(|| format!("{d} is not a valid weekday"))
    };
    let (begin, end) = (day(a)?, day(b)?);
    if begin > end {
        return Err("start day cannot be before end day".into());
    }
    Ok(Span { begin, end })
}

fn day_range(s: &str) -> Result<Span, String> {
    let (a, b) = bounds(s)?;
    let num = |d: &str| {
        d.parse::<i32>()
            .map_err(|_| format!("{d} is not a valid day of the month"))
    };
    let (begin, end) = (num(a)?, num(b)?);
    for d in [begin, end] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(format!("{d} is not a valid day of the month: out of range"));
        }
    }
    if begin < 0 && end > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    let check = |d: i32| if d < 0 { 28 + d } else { d };
    if check(begin) > check(end) {
        return Err(format!("end day {end} is always before start day {begin}"));
    }
    Ok(Span { begin, end })
}

fn month_range(s: &str) -> Result<Span, String> {
    let (a, b) = bounds(s)?;
    let month = |m: &str| -> Result<i32, String> {
        if let Ok(n) = m.parse::<i32>() {
            return if (1..=12).contains(&n) {
                Ok(n)
            } else {
                Err(format!("{n} is not a valid month"))
            };
        }
        MONTHS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(m))
            .map(|i| i as i32 + 1)
            .ok_or_else(|| format!("{m} is not a valid month"))
    };
    let (begin, end) = (month(a)?, month(b)?);
    if begin > end {
        return Err(format!("end month {b} is before start month {a}"));
    }
    Ok(Span { begin, end })
}

fn year_range(s: &str) -> Result<Span, String> {
    let (a, b) = bounds(s)?;
    let year = |y: &str| {
        y.parse::<i32>()
            .map_err(|_| format!("{y} is not a valid year"))
    };
    let (begin, end) = (year(a)?, year(b)?);
    if begin > end {
        return Err(format!("end year {end} is before start year {begin}"));
    }
    Ok(Span { begin, end })
}
