//! Log rows as Loki sees them: a stream's labels are `service_name`, the promoted resource
//! attributes (dots as underscores), the resource attributes a Loki push sent as labels (names
//! without dots) and `level` and `detected_level` from the severity; everything else (record
//! attributes, the other resource attributes, trace and span ids, the severity text) is
//! structured metadata.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray, ListArray, RecordBatch};
use arrow::array::{Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use logql::eval::{line_labels, Counted, Entry, Labels, Selector, Stream};

use crate::{Error, Result};

/// The columns [`streams`] reads, as a SQL select list.
pub(crate) const COLUMNS: &str = "time_unix_nano, body, service_name, \
     map_keys(resource_attributes) AS rk, map_values(resource_attributes) AS rv, \
     map_keys(attributes) AS ak, map_values(attributes) AS av, severity_number, severity_text, \
     trace_id, span_id";

/// The columns that make a line's labels and metadata (the grouping of [`counted`]).
pub(crate) const LINE_LABEL_COLUMNS: &str = "service_name, map_keys(resource_attributes), \
     map_values(resource_attributes), map_keys(attributes), map_values(attributes), \
     severity_number, severity_text, trace_id, span_id";

/// The select list of [`counted`]: the line label columns, then the bucket `k` of a line in
/// buckets of `width` back from `end`, and the lines and their bytes.
pub(crate) fn count_columns(end: i64, width: i64) -> String {
    format!(
        "service_name, map_keys(resource_attributes) AS rk, map_values(resource_attributes) AS rv, \
         map_keys(attributes) AS ak, map_values(attributes) AS av, severity_number, \
         severity_text, trace_id, span_id, ({end} - time_unix_nano) / {width} AS k, \
         count(*) AS lines, sum(octet_length(body)) AS bytes"
    )
}

fn strings(col: &ArrayRef) -> Result<ArrayRef> {
    arrow::compute::cast(col, &DataType::Utf8).map_err(|e| Error::Executor(e.to_string()))
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::Executor(format!("logs scan lacks column {name}")))
}

/// Loki's `detected_level` of an OTLP severity: by number range, else by text.
fn detected_level(number: i32, text: &str) -> &'static str {
    match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => match text.to_ascii_lowercase().as_str() {
            "trace" => "trace",
            "debug" | "dbg" => "debug",
            "info" | "information" => "info",
            "warn" | "warning" => "warn",
            "error" | "err" => "error",
            "fatal" | "critical" | "crit" | "panic" => "fatal",
            _ => "unknown",
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `k` is a Prometheus label name.
fn label_name(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
}

/// The stream labels of a record of `service` with the resource attributes `resource` and the
/// severity `level` (when known), and the resource attributes that are structured metadata
/// instead.
fn stream_labels(
    service: &str,
    resource: Vec<(String, String)>,
    level: Option<&str>,
    promoted: &[String],
) -> (Labels, Vec<(String, String)>) {
    let mut labels = Labels::new();
    let mut metadata = Vec::new();
    labels.insert("service_name".into(), service.to_string());
    for (k, v) in resource {
        if promoted.contains(&k) {
            labels.insert(k.replace('.', "_"), v);
        } else if k == "service.name" {
        } else if label_name(&k) {
            labels.insert(k, v);
        } else {
            metadata.push((k.replace(['.', '-', '/'], "_"), v));
        }
    }
    if let Some(level) = level {
        // Labels a Loki push sent keep their values.
        for name in ["level", "detected_level"] {
            labels
                .entry(name.to_string())
                .or_insert_with(|| level.to_string());
        }
    }
    (labels, metadata)
}

/// The SQL select list of [`label_sets`]: each distinct service, resource and severity once.
pub(crate) const LABEL_COLUMNS: &str = "service_name, map_keys(resource_attributes) AS rk, \
     map_values(resource_attributes) AS rv, severity_number, severity_text";

/// The columns of a scan that make a line's labels: the string lists of its maps, its
/// severity, trace and span ids; those a scan lacks are absent (`None`).
struct LabelColumns {
    service: StringArray,
    resource: (ListArray, StringArray, StringArray),
    attributes: Option<(ListArray, StringArray, StringArray)>,
    severity_number: Int32Array,
    severity_text: StringArray,
    trace: Option<FixedSizeBinaryArray>,
    span: Option<FixedSizeBinaryArray>,
}

/// A list column of strings, its values as strings.
fn string_list(batch: &RecordBatch, name: &str) -> Result<(ListArray, StringArray)> {
    let list = column(batch, name)?
        .as_list_opt::<i32>()
        .ok_or_else(|| Error::Executor(format!("{name} is not a list")))?
        .clone();
    let values = strings(list.values())?.as_string::<i32>().clone();
    Ok((list, values))
}

impl LabelColumns {
    fn new(batch: &RecordBatch, with_attributes: bool) -> Result<Self> {
        let (rk, rkv) = string_list(batch, "rk")?;
        let (_, rvv) = string_list(batch, "rv")?;
        let attributes = if with_attributes {
            let (ak, akv) = string_list(batch, "ak")?;
            let (_, avv) = string_list(batch, "av")?;
            Some((ak, akv, avv))
        } else {
            None
        };
        let binary = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_fixed_size_binary_opt().cloned())
        };
        Ok(Self {
            service: strings(column(batch, "service_name")?)?
                .as_string::<i32>()
                .clone(),
            resource: (rk, rkv, rvv),
            attributes,
            severity_number: column(batch, "severity_number")?
                .as_primitive_opt::<Int32Type>()
                .ok_or_else(|| Error::Executor("severity_number is not Int32".into()))?
                .clone(),
            severity_text: strings(column(batch, "severity_text")?)?
                .as_string::<i32>()
                .clone(),
            trace: binary("trace_id"),
            span: binary("span_id"),
        })
    }

    /// The (key, value) pairs of row `row` of a map's key and value lists.
    fn pairs(lists: &(ListArray, StringArray, StringArray), row: usize) -> Vec<(String, String)> {
        let (list, keys, values) = lists;
        let (start, end) = (
            list.value_offsets()[row] as usize,
            list.value_offsets()[row + 1] as usize,
        );
        (start..end)
            .map(|i| {
                let v = if values.is_null(i) {
                    ""
                } else {
                    values.value(i)
                };
                (keys.value(i).to_string(), v.to_string())
            })
            .collect()
    }

    /// The stream labels and structured metadata of row `row`.
    fn labels(&self, row: usize, promoted: &[String]) -> (Labels, Vec<(String, String)>) {
        let text = if self.severity_text.is_null(row) {
            ""
        } else {
            self.severity_text.value(row)
        };
        let level = detected_level(self.severity_number.value(row), text);
        let (labels, mut metadata) = stream_labels(
            self.service.value(row),
            Self::pairs(&self.resource, row),
            (level != "unknown").then_some(level),
            promoted,
        );
        if let Some(attributes) = &self.attributes {
            for (k, v) in Self::pairs(attributes, row) {
                metadata.push((k.replace(['.', '-', '/'], "_"), v));
            }
        }
        for (name, ids) in [("trace_id", &self.trace), ("span_id", &self.span)] {
            if let Some(ids) = ids {
                if !ids.is_null(row) {
                    metadata.push((name.into(), hex(ids.value(row))));
                }
            }
        }
        if !text.is_empty() {
            metadata.push(("severity_text".into(), text.to_string()));
        }
        (labels, metadata)
    }
}

/// The stream label sets of `batches` (rows of [`LABEL_COLUMNS`]).
pub(crate) fn label_sets(batches: &[RecordBatch], promoted: &[String]) -> Result<Vec<Labels>> {
    let mut out = Vec::new();
    for batch in batches {
        let cols = LabelColumns::new(batch, false)?;
        for row in 0..batch.num_rows() {
            out.push(cols.labels(row, promoted).0);
        }
    }
    Ok(out)
}

/// The streams of `batches` (rows of [`COLUMNS`]) that `selector` selects, their lines in time
/// order.
pub(crate) fn streams(
    batches: &[RecordBatch],
    promoted: &[String],
    selector: &Selector,
) -> Result<Vec<Stream>> {
    let mut by_labels: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
    for batch in batches {
        let cols = LabelColumns::new(batch, true)?;
        let time = column(batch, "time_unix_nano")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| Error::Executor("time_unix_nano is not Int64".into()))?
            .clone();
        let body = strings(column(batch, "body")?)?;
        let body = body.as_string::<i32>();
        for row in 0..batch.num_rows() {
            let (labels, metadata) = cols.labels(row, promoted);
            if !selector.matches(&labels) {
                continue;
            }
            let line = if body.is_null(row) {
                ""
            } else {
                body.value(row)
            };
            by_labels.entry(labels).or_default().push(Entry {
                ts: time.value(row),
                line: line.to_string(),
                metadata,
            });
        }
    }
    Ok(by_labels
        .into_iter()
        .map(|(labels, mut entries)| {
            entries.sort_by_key(|e| e.ts);
            Stream { labels, entries }
        })
        .collect())
}

/// The series of `batches` (rows of [`count_columns`]) of the streams `selector` selects, their
/// lines counted per bucket.
pub(crate) fn counted(
    batches: &[RecordBatch],
    promoted: &[String],
    selector: &Selector,
) -> Result<Vec<Counted>> {
    let mut out: HashMap<Labels, Vec<(usize, u64, u64)>> = HashMap::new();
    for batch in batches {
        let cols = LabelColumns::new(batch, true)?;
        let int = |name: &str| -> Result<Int64Array> {
            let c = arrow::compute::cast(column(batch, name)?, &DataType::Int64)
                .map_err(|e| Error::Executor(e.to_string()))?;
            Ok(c.as_primitive::<Int64Type>().clone())
        };
        let (k, lines, bytes) = (int("k")?, int("lines")?, int("bytes")?);
        for row in 0..batch.num_rows() {
            let (labels, metadata) = cols.labels(row, promoted);
            if !selector.matches(&labels) {
                continue;
            }
            let b = if bytes.is_null(row) {
                0
            } else {
                bytes.value(row)
            };
            out.entry(line_labels(&labels, &metadata))
                .or_default()
                .push((k.value(row) as usize, lines.value(row) as u64, b as u64));
        }
    }
    Ok(out
        .into_iter()
        .map(|(labels, buckets)| Counted { labels, buckets })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_come_from_the_severity() {
        assert_eq!(detected_level(9, ""), "info");
        assert_eq!(detected_level(17, "whatever"), "error");
        assert_eq!(detected_level(0, "WARNING"), "warn");
        assert_eq!(detected_level(0, ""), "unknown");
        assert!(label_name("app") && !label_name("k8s.pod.name") && !label_name("1x"));
    }
}
