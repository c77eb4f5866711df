//! Prometheus's PromQL test scripts (`promql/promqltest`, `*.test`): `load`, `clear` and `eval`
//! commands with their expected results, parsed as Prometheus's runner parses them (see
//! `docs/reference/promqltest-format.md`).
//!
//! Lines are trimmed; a line that starts with `#` counts as empty; an empty line ends a block.

use std::sync::OnceLock;

use promql::notation::{parse_metric, unquote};
pub use promql::notation::{parse_series, Item, SeriesDesc};
use promql::value::parse_number;
use regex::Regex;

/// A parse error, with the 1-based line it is on.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// Line of the script.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One command of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `load <step>` or `load_with_nhcb <step>` with its series.
    Load(Load),
    /// `clear`: drop everything loaded so far.
    Clear,
    /// `eval …` with its expectations.
    Eval(Eval),
}

/// Series to store, value `k` of each at `k * step_ms` (omitted values still take their slot).
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Line of the `load` command.
    pub line: usize,
    /// Milliseconds between consecutive values.
    pub step_ms: i64,
    /// `load_with_nhcb`: classic histograms are also stored as custom-bucket native histograms.
    pub nhcb: bool,
    /// The series lines (start-timestamp `@st` lines are kept apart in `start_times`).
    pub series: Vec<SeriesDesc>,
    /// `metric@st` lines: the start-timestamp items of the series line that follows, as written.
    pub start_times: Vec<(Labels, String)>,
}

/// Labels, sorted by name; the metric name is the `__name__` label.
pub type Labels = Vec<(String, String)>;

/// When an eval runs.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalAt {
    /// `eval instant at <t>`.
    Instant {
        /// Evaluation time, ms.
        at_ms: i64,
    },
    /// `eval range from <t> to <t> step <d>`.
    Range {
        /// First step, ms.
        start_ms: i64,
        /// Last step, ms.
        end_ms: i64,
        /// Step, ms.
        step_ms: i64,
    },
}

/// How an expected message is matched.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageMatch {
    /// Any message.
    Any,
    /// Exactly this text (`msg:`).
    Exact(String),
    /// A regular expression found anywhere in it (`regex:`).
    Regex(String),
}

/// What an eval expects of warnings or infos.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationExpectation {
    /// `expect warn …` / `expect info …` lines: each must match an annotation of that kind,
    /// and every annotation of that kind must match one of them.
    pub expected: Vec<MessageMatch>,
    /// `expect no_warn` / `expect no_info`.
    pub none: bool,
}

/// The expected result of an eval.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Series (possibly none): an instant vector (one value each) or a matrix (range evals).
    Series(Vec<SeriesDesc>),
    /// A scalar.
    Scalar(f64),
    /// `expect string "…"`.
    String(String),
    /// `expect range vector from … to … step …`: a range vector from an instant query, value
    /// `k` of each series at `start_ms + k * step_ms`.
    RangeVector {
        /// Timestamp of the first value.
        start_ms: i64,
        /// Timestamp of the last value.
        end_ms: i64,
        /// Distance between values.
        step_ms: i64,
        /// The series.
        series: Vec<SeriesDesc>,
    },
}

/// An `eval` command.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    /// Line of the `eval` command.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// When it runs.
    pub at: EvalAt,
    /// `expect fail …` / `eval_fail`: the query must fail with a matching message.
    pub fail: Option<MessageMatch>,
    /// Warnings expected.
    pub warn: AnnotationExpectation,
    /// Infos expected.
    pub info: AnnotationExpectation,
    /// `expect ordered` / `eval_ordered`: series must come in the expected order.
    pub ordered: bool,
    /// The expected result.
    pub expected: Expected,
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Vec<Command>, ParseError> {
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_owned()
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split([' ', '\t'])
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        if word == "clear" {
            out.push(Command::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let (next, load) = parse_load(&lines, i).map_err(err)?;
            out.push(Command::Load(load));
            i = next;
        } else if word.starts_with("eval") {
            let (next, eval) = parse_eval(&lines, i).map_err(err)?;
            out.push(Command::Eval(eval));
            i = next;
        } else {
            return Err(err(format!("invalid command {l:?}")));
        }
    }
    Ok(out)
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid pattern"))
}

/// The block of lines after line `i`: up to the next empty line.
fn block(lines: &[String], i: usize) -> impl Iterator<Item = (usize, &str)> {
    lines[i + 1..]
        .iter()
        .enumerate()
        .take_while(|(_, l)| !l.is_empty())
        .map(move |(k, l)| (i + 1 + k, l.as_str()))
}

fn parse_load(lines: &[String], i: usize) -> Result<(usize, Load), String> {
    static LOAD: OnceLock<Regex> = OnceLock::new();
    let caps = regex(&LOAD, r"^load(?:_(with_nhcb))?\s+(.+?)$")
        .captures(&lines[i])
        .ok_or_else(|| format!("invalid load command {:?}", lines[i]))?;
    let step_ms = parse_duration(&caps[2])?;
    let mut load = Load {
        line: i + 1,
        step_ms,
        nhcb: caps.get(1).is_some(),
        series: Vec::new(),
        start_times: Vec::new(),
    };
    let mut end = i + 1;
    for (n, l) in block(lines, i) {
        end = n + 1;
        let first = l.split([' ', '\t']).next().unwrap_or_default();
        if let Some(metric) = first.strip_suffix("@st") {
            let (labels, _) = parse_metric(metric).map_err(|e| format!("line {}: {e}", n + 1))?;
            load.start_times
                .push((labels, l[first.len()..].trim().to_owned()));
            continue;
        }
        let desc = parse_series(l).map_err(|e| format!("line {}: {e}", n + 1))?;
        // A series repeated within one load replaces the earlier line.
        match load.series.iter_mut().find(|s| s.labels == desc.labels) {
            Some(s) => *s = desc,
            None => load.series.push(desc),
        }
    }
    Ok((end, load))
}

fn parse_eval(lines: &[String], i: usize) -> Result<(usize, Eval), String> {
    static INSTANT: OnceLock<Regex> = OnceLock::new();
    static RANGE: OnceLock<Regex> = OnceLock::new();
    static EXPECT: OnceLock<Regex> = OnceLock::new();
    static RANGE_VECTOR: OnceLock<Regex> = OnceLock::new();
    let header = &lines[i];
    let instant = regex(
        &INSTANT,
        r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
    );
    let range = regex(
        &RANGE,
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    );
    let (modifier, at, expr) = if let Some(c) = instant.captures(header) {
        let at = c.get(2).map_or("", |m| m.as_str());
        (
            c.get(1).map(|m| m.as_str().to_owned()),
            EvalAt::Instant {
                at_ms: parse_duration(at)?,
            },
            c[3].to_owned(),
        )
    } else if let Some(c) = range.captures(header) {
        let (start_ms, end_ms) = (parse_duration(&c[2])?, parse_duration(&c[3])?);
        if end_ms < start_ms {
            return Err(format!(
                "end timestamp {} is before start timestamp {}",
                &c[3], &c[2]
            ));
        }
        (
            c.get(1).map(|m| m.as_str().to_owned()),
            EvalAt::Range {
                start_ms,
                end_ms,
                step_ms: parse_duration(&c[4])?,
            },
            c[5].to_owned(),
        )
    } else {
        return Err(format!("invalid eval command {header:?}"));
    };
    let mut eval = Eval {
        line: i + 1,
        expr,
        at,
        fail: None,
        warn: AnnotationExpectation::default(),
        info: AnnotationExpectation::default(),
        ordered: false,
        expected: Expected::Series(Vec::new()),
    };
    match modifier.as_deref() {
        Some("fail") => eval.fail = Some(MessageMatch::Any),
        Some("warn") => eval.warn.expected.push(MessageMatch::Any),
        Some("info") => eval.info.expected.push(MessageMatch::Any),
        Some("ordered") => eval.ordered = true,
        _ => {}
    }
    let is_range = matches!(eval.at, EvalAt::Range { .. });
    let mut series: Vec<SeriesDesc> = Vec::new();
    let mut range_vector: Option<(i64, i64, i64)> = None;
    let mut end = i + 1;
    for (n, l) in block(lines, i) {
        end = n + 1;
        let at_line = |e: String| format!("line {}: {e}", n + 1);
        if l.starts_with("expect range vector") {
            let c = regex(
                &RANGE_VECTOR,
                r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$",
            )
            .captures(l)
            .ok_or_else(|| at_line(format!("invalid range vector expectation {l:?}")))?;
            let (start, end_ms) = (parse_duration(&c[1])?, parse_duration(&c[2])?);
            range_vector = Some((start, end_ms, parse_duration(&c[3])?));
            // The instant query runs at the end of the range.
            eval.at = EvalAt::Instant { at_ms: end_ms };
            continue;
        }
        if let Some(rest) = l.strip_prefix("expect string") {
            let s = unquote(rest.trim()).map_err(at_line)?;
            eval.expected = Expected::String(s);
            continue;
        }
        if l.split(' ').next() == Some("expect") {
            let c = regex(
                &EXPECT,
                r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
            )
            .captures(l)
            .ok_or_else(|| at_line(format!("invalid expect statement {l:?}")))?;
            let matcher = match (c.get(2).map(|m| m.as_str()), c.get(3)) {
                (Some("msg"), Some(m)) => MessageMatch::Exact(m.as_str().trim().to_owned()),
                (Some("regex"), Some(m)) => MessageMatch::Regex(m.as_str().trim().to_owned()),
                _ => MessageMatch::Any,
            };
            match &c[1] {
                "ordered" => eval.ordered = true,
                "fail" => {
                    if eval.fail.is_some() {
                        return Err(at_line("more than one expect fail".into()));
                    }
                    eval.fail = Some(matcher);
                }
                "warn" => eval.warn.expected.push(matcher),
                "no_warn" => eval.warn.none = true,
                "info" => eval.info.expected.push(matcher),
                _ => eval.info.none = true,
            }
            continue;
        }
        if let Some(v) = parse_number(l) {
            eval.expected = Expected::Scalar(v);
            break;
        }
        let desc = parse_series(l).map_err(at_line)?;
        if !is_range && range_vector.is_none() && desc.values.len() > 1 {
            return Err(at_line(format!(
                "expecting multiple values in instant evaluation not allowed: {l:?}"
            )));
        }
        match series.iter_mut().find(|s| s.labels == desc.labels) {
            Some(s) => *s = desc,
            None => series.push(desc),
        }
    }
    if !eval.warn.expected.is_empty() && eval.warn.none {
        return Err("expect warn and expect no_warn together".into());
    }
    if !eval.info.expected.is_empty() && eval.info.none {
        return Err("expect info and expect no_info together".into());
    }
    if let Some((start_ms, end_ms, step_ms)) = range_vector {
        eval.expected = Expected::RangeVector {
            start_ms,
            end_ms,
            step_ms,
            series,
        };
    } else if matches!(eval.expected, Expected::Series(_)) {
        eval.expected = Expected::Series(series);
    }
    Ok((end, eval))
}

/// A Prometheus duration (`1m30s`, `0`, `10s53ms`) in milliseconds: units `y w d h m s ms` in
/// decreasing order, each at most once.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    common::duration::parse_prometheus(s)
        .ok_or_else(|| format!("not a valid duration string: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(desc: &SeriesDesc) -> Vec<Option<f64>> {
        desc.values
            .iter()
            .map(|i| match i {
                Item::Float(v) => Some(*v),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn durations_follow_prometheus() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("10s53ms"), Ok(10_053));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert!(parse_duration("30s1m").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1.5m").is_err());
    }

    #[test]
    fn series_descriptions_expand_like_prometheus() {
        let d = parse_series(
            r#"http_requests{job="api", instance="0"} 0+10x3 _ 5 _x2 stale -2+4x2 1x2"#,
        )
        .unwrap();
        assert_eq!(
            d.labels,
            vec![
                ("__name__".into(), "http_requests".into()),
                ("instance".into(), "0".into()),
                ("job".into(), "api".into()),
            ]
        );
        let f = floats(&d);
        assert_eq!(&f[..4], &[Some(0.0), Some(10.0), Some(20.0), Some(30.0)]);
        assert_eq!(d.values[4], Item::Omitted);
        assert_eq!(f[5], Some(5.0));
        assert_eq!(&d.values[6..8], &[Item::Omitted, Item::Omitted]);
        assert_eq!(d.values[8], Item::Stale);
        assert_eq!(&f[9..12], &[Some(-2.0), Some(2.0), Some(6.0)]);
        assert_eq!(&f[12..], &[Some(1.0), Some(1.0), Some(1.0)]);
        // Hex is off in value lists: 0x2 is 0 three times.
        assert_eq!(floats(&parse_series("m 0x2").unwrap()), [Some(0.0); 3]);
        assert_eq!(
            floats(&parse_series("{} 1-2x2 Inf -Inf").unwrap())[..3],
            [Some(1.0), Some(-1.0), Some(-3.0)]
        );
        assert!(parse_series("m 1m").is_err());
        let h = parse_series("m {{schema:0 sum:1 count:2}}+{{count:1}}x2").unwrap();
        assert_eq!(h.values.len(), 3);
    }

    #[test]
    fn evals_read_their_expectations() {
        let script = r#"
# a comment
load 5m
  metric{a="1"} 1 2 3

eval instant at 10m sum(metric)
  expect no_warn
  {} 3

eval range from 0 to 10m step 5m metric
  metric{a="1"} 1 2 3

eval instant at 0 1/0
  +Inf

eval instant at 1m metric[1m]
  expect range vector from 0 to 1m step 1m
  metric{a="1"} 1 _

eval instant at 0 foo(
  expect fail msg:something "quoted"

clear
"#;
        let cmds = parse(script).unwrap();
        assert_eq!(cmds.len(), 7, "{cmds:#?}");
        let Command::Load(load) = &cmds[0] else {
            panic!()
        };
        assert_eq!(
            (load.line, load.step_ms, load.series.len()),
            (3, 300_000, 1)
        );
        let Command::Eval(e) = &cmds[1] else { panic!() };
        assert_eq!(e.at, EvalAt::Instant { at_ms: 600_000 });
        assert!(e.warn.none);
        assert!(
            matches!(&e.expected, Expected::Series(s) if s.len() == 1 && s[0].labels.is_empty())
        );
        let Command::Eval(e) = &cmds[2] else { panic!() };
        assert_eq!(
            e.at,
            EvalAt::Range {
                start_ms: 0,
                end_ms: 600_000,
                step_ms: 300_000
            }
        );
        let Command::Eval(e) = &cmds[3] else { panic!() };
        assert_eq!(e.expected, Expected::Scalar(f64::INFINITY));
        let Command::Eval(e) = &cmds[4] else { panic!() };
        assert!(
            matches!(&e.expected, Expected::RangeVector { start_ms: 0, end_ms: 60_000, step_ms: 60_000, series } if series[0].values.len() == 2)
        );
        let Command::Eval(e) = &cmds[5] else { panic!() };
        assert_eq!(
            e.fail,
            Some(MessageMatch::Exact(r#"something "quoted""#.into()))
        );
        assert_eq!(cmds[6], Command::Clear);
    }
}
