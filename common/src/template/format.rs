//! Numbers printed as Go prints them (`%v`, `%g`, `%.4g`, `%e`, `%f`), and Prometheus's
//! `humanize` family built on them.

use super::value::Value;

/// The decimal digits of a finite, non-zero `v` (no trailing zeros) and the position of the
/// decimal point (`0.0123`: digits `123`, point at -1); `precision` significant digits, or the
/// shortest that reads back as `v`.
fn digits(v: f64, precision: Option<usize>) -> (String, i32) {
    let e = match precision {
        Some(p) => format!("{:.*e}", p.max(1) - 1, v.abs()),
        None => format!("{:e}", v.abs()),
    };
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while d.len() > 1 && d.ends_with('0') {
        d.pop();
    }
    (d, exp + 1)
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// `d.ddde±XX` with `prec` digits after the point.
fn fmt_e(neg: bool, d: &str, dp: i32, prec: usize) -> String {
    let mut out = String::from(if neg { "-" } else { "" });
    out.push_str(&d[..1]);
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.as_bytes().get(i).map_or('0', |&c| c as char));
        }
    }
    let exp = if d == "0" { 0 } else { dp - 1 };
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.abs()));
    out
}

/// Fixed notation with `decimals` digits after the point.
fn fmt_f(neg: bool, d: &str, dp: i32, decimals: usize) -> String {
    let digit = |i: i32| -> char {
        if i < 0 {
            '0'
        } else {
            d.as_bytes().get(i as usize).map_or('0', |&c| c as char)
        }
    };
    let mut out = String::from(if neg { "-" } else { "" });
    if dp > 0 {
        for i in 0..dp {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        for i in 0..decimals as i32 {
            out.push(digit(dp + i));
        }
    }
    out
}

/// Go's `strconv.FormatFloat(v, 'g', precision, 64)`; `None` is the shortest form, `%v`'s.
fn go_g(v: f64, precision: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let neg = v.is_sign_negative() && v != 0.0;
    let (d, dp) = if v == 0.0 {
        ("0".to_string(), 1)
    } else {
        digits(v, precision)
    };
    let nd = d.len() as i32;
    let mut eprec = precision.map_or(6, |p| p as i32);
    if precision.is_some() && eprec > nd && nd >= dp {
        eprec = nd;
    }
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        let p = precision.map_or(nd, |p| (p as i32).min(nd));
        return fmt_e(neg, &d, dp, (p - 1).max(0) as usize);
    }
    let p = match precision {
        Some(p) if (p as i32) <= dp => p as i32,
        _ => nd,
    };
    fmt_f(neg, &d, dp, (p - dp).max(0) as usize)
}

/// A float as Go's `%v` prints it (`1`, `0.5`, `1e+06`).
pub fn go_float(v: f64) -> String {
    go_g(v, None)
}

/// A float as Go's `strconv.FormatFloat(v, 'e', -1, 64)` prints it (`1e+00`, `2.5e-07`): the
/// form of alert values in Prometheus's APIs.
pub fn go_exp(v: f64) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let neg = v.is_sign_negative() && v != 0.0;
    let (d, dp) = if v == 0.0 {
        ("0".to_string(), 1)
    } else {
        digits(v, None)
    };
    fmt_e(neg, &d, dp, d.len() - 1)
}

fn g4(v: f64) -> String {
    go_g(v, Some(4))
}

/// Prometheus's `humanize`: SI prefixes, 4 significant digits (`1.235k`, `12m`).
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus's `humanize1024`: binary prefixes (`1ki`, `1.5Mi`).
pub fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus's `humanizePercentage`: a ratio as a percentage (`0.1234` → `12.34%`).
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Prometheus's `humanizeDuration`: seconds as `1d 2h 3m 4s`, or `1.5s`, `12ms`.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's `%v` of a value.
pub(crate) fn print(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Num(n) => go_float(*n),
        Value::Int(n) => n.to_string(),
        Value::Str(s) => s.clone(),
        Value::Map(m) => {
            let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", print(v))).collect();
            format!("map[{}]", inner.join(" "))
        }
        Value::List(l) => {
            let inner: Vec<String> = l.iter().map(print).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Time(ns, tz) => go_time(*ns, *tz, "2006-01-02 15:04:05.999999999 -0700 MST"),
    }
}

/// Go's `time.Time.Format`: `ns` (Unix nanoseconds) in zone `tz` (UTC without one), written by
/// Go's reference-time `layout` (`2006-01-02T15:04:05Z07:00` and its parts).
pub(crate) fn go_time(ns: i64, tz: Option<chrono_tz::Tz>, layout: &str) -> String {
    use chrono::{Datelike, Offset, TimeZone, Timelike};
    let utc = if ns == super::value::ZERO_TIME {
        // Go's zero time, January 1 of year 1, is beyond what Unix nanoseconds reach.
        chrono::NaiveDate::from_ymd_opt(1, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
            .unwrap_or_default()
    } else {
        chrono::Utc.timestamp_nanos(ns)
    };
    let t = utc.with_timezone(&tz.unwrap_or(chrono_tz::UTC));
    let offset = t.offset().fix().local_minus_utc();
    let zone = t.format("%Z").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let zoned = |colon: bool, z: bool| {
        if z && offset == 0 {
            return "Z".to_string();
        }
        let sign = if offset < 0 { '-' } else { '+' };
        let m = offset.abs() / 60;
        if colon {
            format!("{sign}{:02}:{:02}", m / 60, m % 60)
        } else {
            format!("{sign}{:02}{:02}", m / 60, m % 60)
        }
    };
    // The layout's elements, longest first where one is a prefix of another.
    const ELEMENTS: &[&str] = &[
        "January", "Jan", "Monday", "Mon", "MST", "2006", "Z07:00", "Z0700", "-07:00", "-0700",
        "-07", "01", "02", "_2", "06", "15", "03", "04", "05", "PM", "pm", "1", "2", "3", "4", "5",
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        // Fractional seconds: `.000` (fixed) or `.999` (trailing zeros dropped).
        for sep in ['.', ','] {
            if let Some(after) = rest.strip_prefix(sep) {
                let digits = after
                    .chars()
                    .take_while(|c| *c == '0' || *c == '9')
                    .collect::<String>();
                let uniform = digits.chars().all(|c| c == '0') || digits.chars().all(|c| c == '9');
                if !digits.is_empty()
                    && uniform
                    && !after[digits.len()..].starts_with(|c: char| c.is_ascii_digit())
                {
                    let n = digits.len().min(9);
                    let frac = format!("{nanos:09}")[..n].to_string();
                    if digits.starts_with('0') {
                        out.push(sep);
                        out.push_str(&frac);
                    } else {
                        let frac = frac.trim_end_matches('0');
                        if !frac.is_empty() {
                            out.push(sep);
                            out.push_str(frac);
                        }
                    }
                    rest = &after[digits.len()..];
                    continue 'outer;
                }
            }
        }
        for e in ELEMENTS {
            if let Some(after) = rest.strip_prefix(e) {
                out.push_str(&match *e {
                    "January" => t.format("%B").to_string(),
                    "Jan" => t.format("%b").to_string(),
                    "Monday" => t.format("%A").to_string(),
                    "Mon" => t.format("%a").to_string(),
                    "MST" => zone.clone(),
                    "2006" => format!("{:04}", t.year()),
                    "06" => format!("{:02}", t.year() % 100),
                    "01" => format!("{:02}", t.month()),
                    "1" => t.month().to_string(),
                    "02" => format!("{:02}", t.day()),
                    "_2" => format!("{:>2}", t.day()),
                    "2" => t.day().to_string(),
                    "15" => format!("{:02}", t.hour()),
                    "03" => format!("{hour12:02}"),
                    "3" => hour12.to_string(),
                    "04" => format!("{:02}", t.minute()),
                    "4" => t.minute().to_string(),
                    "05" => format!("{:02}", t.second()),
                    "5" => t.second().to_string(),
                    "PM" => if t.hour() >= 12 { "PM" } else { "AM" }.to_string(),
                    "pm" => if t.hour() >= 12 { "pm" } else { "am" }.to_string(),
                    "Z07:00" => zoned(true, true),
                    "Z0700" => zoned(false, true),
                    "-07:00" => zoned(true, false),
                    "-0700" => zoned(false, false),
                    _ => zoned(false, false)[..3].to_string(),
                });
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %g %e %q %%`, with a
/// precision (`%.2f`); a verb that does not fit its value prints as Go's `%!d(string=x)`.
pub(crate) fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut n = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(*d);
                chars.next();
            }
            precision = Some(n.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let bad = |type_name: &str, shown: String| format!("%!{verb}({type_name}={shown})");
        out.push_str(&match (verb, arg) {
            ('v', v) => print(v),
            ('s', Value::Str(s)) => s.clone(),
            ('s', Value::Num(n)) => bad("float64", go_float(*n)),
            ('s', Value::Int(n)) => bad("int64", n.to_string()),
            ('s', v) => print(v),
            ('q', Value::Str(s)) => format!("{s:?}"),
            ('d', Value::Num(n)) => bad("float64", go_float(*n)),
            ('d', Value::Int(n)) => n.to_string(),
            ('f' | 'F' | 'g' | 'e', Value::Int(n)) => bad("int64", n.to_string()),
            ('f' | 'F', Value::Num(n)) => match special(*n) {
                Some(s) => s,
                None => format!("{:.*}", precision.unwrap_or(6), n),
            },
            ('g', Value::Num(n)) => go_g(*n, precision),
            ('e', Value::Num(n)) => match special(*n) {
                Some(s) => s,
                None if *n == 0.0 => fmt_e(false, "0", 1, precision.unwrap_or(6)),
                None => {
                    let p = precision.unwrap_or(6);
                    let (d, dp) = digits(*n, Some(p + 1));
                    fmt_e(n.is_sign_negative(), &d, dp, p)
                }
            },
            (_, Value::Str(s)) => bad("string", s.clone()),
            (_, v) => bad("value", print(v)),
        });
    }
    if args.next().is_some() {
        out.push_str("%!(EXTRA)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        for (v, want) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_float(v), want, "{v}");
        }
        for (v, want) in [
            (2.0, "2"),
            (1.5, "1.5"),
            (1234.5, "1234"),
            (12000.0, "1.2e+04"),
            (0.000123, "0.000123"),
            (1.23456, "1.235"),
        ] {
            assert_eq!(go_g(v, Some(4)), want, "%.4g of {v}");
        }
    }

    #[test]
    fn the_humanize_family_matches_prometheus() {
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(1_000_000.0), "1M");
        assert_eq!(humanize(0.012), "12m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize_1024(1024.0), "1ki");
        assert_eq!(humanize_1024(1_572_864.0), "1.5Mi");
        assert_eq!(humanize_percentage(0.1234), "12.34%");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(61.0), "1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.012), "12ms");
        assert_eq!(humanize_duration(0.0), "0s");
    }

    #[test]
    fn printf_formats_the_verbs_templates_use() {
        let n = |v| Value::Num(v);
        assert_eq!(printf("%.2f%%", &[n(12.345)]), "12.35%");
        assert_eq!(
            printf("%s is %v", &[Value::Str("a".into()), n(3.0)]),
            "a is 3"
        );
        assert_eq!(printf("%.3g", &[n(0.0012345)]), "0.00123");
        assert_eq!(printf("%e", &[n(1234.5)]), "1.234500e+03");
        assert_eq!(printf("%d", &[Value::Str("x".into())]), "%!d(string=x)");
        assert_eq!(printf("%s", &[]), "%!s(MISSING)");
    }
}
