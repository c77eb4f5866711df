//! Prometheus names for OTLP metrics and attributes, as the OpenTelemetry compatibility spec
//! ("OTLP Metric points to Prometheus") builds them.
//!
//! Metric names: characters outside `[a-zA-Z0-9_:]` become `_`, runs of `_` collapse to one, a
//! leading digit gets a `_` prefix; then the unit suffix (`s` -> `seconds`, `By/s` ->
//! `bytes_per_second`, `{packet}` -> nothing, gauges in `1` -> `ratio`) unless the name already
//! contains it as a whole `_`-separated word, then `_total` for monotonic sums.
//!
//! Label names: characters outside `[a-zA-Z0-9_]` become `_`, runs of `_` collapse to one, a
//! leading digit gets a `key_` prefix.

use std::borrow::Cow;

/// How a metric's type shapes its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Suffixes {
    /// An OTLP gauge: unit `1` becomes `ratio`.
    Gauge,
    /// A monotonic sum: `_total` goes last.
    Counter,
    /// Anything else: the unit suffix only.
    Other,
}

/// The Prometheus name of the OTLP metric `name` in `unit`.
pub(super) fn metric_name(name: &str, unit: &str, kind: Suffixes) -> String {
    let mut out = String::with_capacity(name.len() + 24);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    sanitize_into(&mut out, name, is_metric_char);
    if kind == Suffixes::Counter {
        // The unit goes before `_total`; the name is rebuilt with `_total` at the end.
        strip_word_suffix(&mut out, "total");
    }
    let (main, per) = unit_words(unit);
    if !main.is_empty() && !has_word(&out, &main) {
        push_word(&mut out, &main);
    }
    if !per.is_empty() {
        let per = format!("per_{per}");
        if !has_word(&out, &per) {
            push_word(&mut out, &per);
        }
    }
    if kind == Suffixes::Gauge && unit.trim() == "1" && !has_word(&out, "ratio") {
        push_word(&mut out, "ratio");
    }
    if kind == Suffixes::Counter {
        push_word(&mut out, "total");
    }
    out
}

/// Whether `key` is already a valid, normalised Prometheus label name.
pub(super) fn is_label_name(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
        && !b.windows(2).any(|w| w == b"__")
}

/// The Prometheus label name of the attribute `key`; empty for an empty key.
pub(super) fn label_name(key: &str) -> Cow<'_, str> {
    if key.is_empty() || is_label_name(key) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 4);
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push_str("key_");
    }
    sanitize_into(&mut out, key, |c| c.is_ascii_alphanumeric() || c == '_');
    Cow::Owned(out)
}

fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Appends `s` to `out` with invalid characters replaced by `_` and runs of `_` collapsed
/// (including with a `_` that `out` already ends with).
fn sanitize_into(out: &mut String, s: &str, valid: impl Fn(char) -> bool) {
    for c in s.chars() {
        let c = if valid(c) { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
}

/// Appends `_word` (just `word` to an empty name), without doubling a trailing `_`.
fn push_word(out: &mut String, word: &str) {
    if !out.is_empty() && !out.ends_with('_') {
        out.push('_');
    }
    out.push_str(word);
}

/// Whether `word` (possibly several `_`-joined words) occurs in `name` as whole words.
fn has_word(name: &str, word: &str) -> bool {
    name.match_indices(word).any(|(i, _)| {
        let end = i + word.len();
        (i == 0 || name.as_bytes()[i - 1] == b'_')
            && (end == name.len() || name.as_bytes()[end] == b'_')
    })
}

/// Removes a trailing `_word` (or the whole name if it is `word`).
fn strip_word_suffix(name: &mut String, word: &str) {
    if name == word {
        name.clear();
    } else if name.ends_with(word) && name[..name.len() - word.len()].ends_with('_') {
        name.truncate(name.len() - word.len() - 1);
    }
}

/// The Prometheus words of an OTLP (UCUM) unit: the main unit and the "per" unit, e.g.
/// `("bytes", "second")` for `By/s`. Annotations in braces are dropped, `1` has no word.
fn unit_words(unit: &str) -> (Cow<'static, str>, Cow<'static, str>) {
    let unit = strip_annotations(unit);
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main.trim(), per.trim()),
        None => (unit.trim(), ""),
    };
    let main = match main {
        "d" => "days".into(),
        "h" => "hours".into(),
        "min" => "minutes".into(),
        "s" => "seconds".into(),
        "ms" => "milliseconds".into(),
        "us" => "microseconds".into(),
        "ns" => "nanoseconds".into(),
        "By" => "bytes".into(),
        "KiBy" => "kibibytes".into(),
        "MiBy" => "mebibytes".into(),
        "GiBy" => "gibibytes".into(),
        "TiBy" => "tebibytes".into(),
        "KBy" => "kilobytes".into(),
        "MBy" => "megabytes".into(),
        "GBy" => "gigabytes".into(),
        "TBy" => "terabytes".into(),
        "m" => "meters".into(),
        "V" => "volts".into(),
        "A" => "amperes".into(),
        "J" => "joules".into(),
        "W" => "watts".into(),
        "g" => "grams".into(),
        "Cel" => "celsius".into(),
        "Hz" => "hertz".into(),
        "%" => "percent".into(),
        "1" => "".into(),
        other => unit_word(other),
    };
    let per = match per {
        "s" => "second".into(),
        "m" => "minute".into(),
        "h" => "hour".into(),
        "d" => "day".into(),
        "w" => "week".into(),
        "mo" => "month".into(),
        "y" => "year".into(),
        other => unit_word(other),
    };
    (main, per)
}

/// An unknown unit as a name word: sanitised, without leading or trailing `_`.
fn unit_word(unit: &str) -> Cow<'static, str> {
    let mut out = String::with_capacity(unit.len());
    sanitize_into(&mut out, unit, is_metric_char);
    Cow::Owned(out.trim_matches('_').to_owned())
}

/// `unit` without its `{...}` annotations.
fn strip_annotations(unit: &str) -> Cow<'_, str> {
    if !unit.contains('{') {
        return Cow::Borrowed(unit);
    }
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_follow_the_spec() {
        use Suffixes::*;
        let cases = [
            (
                "http.server.duration",
                "s",
                Other,
                "http_server_duration_seconds",
            ),
            (
                "system.memory.usage",
                "By",
                Gauge,
                "system_memory_usage_bytes",
            ),
            ("requests", "1", Counter, "requests_total"),
            ("requests_total", "1", Counter, "requests_total"),
            ("cpu.utilization", "1", Gauge, "cpu_utilization_ratio"),
            ("cpu.utilization", "1", Other, "cpu_utilization"),
            ("utilization_ratio", "1", Gauge, "utilization_ratio"),
            ("latency", "ms", Other, "latency_milliseconds"),
            ("latency_milliseconds", "ms", Other, "latency_milliseconds"),
            ("io", "By/s", Gauge, "io_bytes_per_second"),
            ("io_bytes_per_second", "By/s", Gauge, "io_bytes_per_second"),
            ("packets", "{packet}", Counter, "packets_total"),
            ("packets", "{packet}/s", Gauge, "packets_per_second"),
            (
                "db.client.connections",
                "{connection}",
                Gauge,
                "db_client_connections",
            ),
            ("requests_total", "s", Counter, "requests_seconds_total"),
            ("total", "", Counter, "total"),
            ("temp", "Cel", Gauge, "temp_celsius"),
            ("a..b--c", "", Other, "a_b_c"),
            ("ns:metric.x", "", Other, "ns:metric_x"),
            ("2xx.count", "", Other, "_2xx_count"),
            ("dur.", "s", Other, "dur_seconds"),
            ("widgets", "widget-things", Other, "widgets_widget_things"),
            ("speed", "m/s", Gauge, "speed_meters_per_second"),
            ("ratio.x", "%", Gauge, "ratio_x_percent"),
            ("héllo", "", Other, "h_llo"),
        ];
        for (name, unit, kind, want) in cases {
            assert_eq!(
                metric_name(name, unit, kind),
                want,
                "{name} {unit} {kind:?}"
            );
        }
    }

    #[test]
    fn label_names_follow_the_spec() {
        let cases = [
            ("http.method", "http_method"),
            ("ok_name", "ok_name"),
            ("1st", "key_1st"),
            ("_1", "_1"),
            ("__name__", "_name_"),
            ("a..b", "a_b"),
            ("a.-b", "a_b"),
            ("日本", "_"),
            ("", ""),
        ];
        for (key, want) in cases {
            assert_eq!(label_name(key), want, "{key}");
            assert!(key.is_empty() || is_label_name(&label_name(key)), "{key}");
        }
    }
}
