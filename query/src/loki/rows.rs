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

use crate::sql::labels_udf::{self, LABELS_TEXT};
use crate::{Error, Result};

/// The columns [`streams`] reads, as a SQL select list.
pub(crate) const COLUMNS: &str = "time_unix_nano, body, service_name, \
     map_keys(resource_attributes) AS rk, map_values(resource_attributes) AS rv, \
     map_keys(attributes) AS ak, map_values(attributes) AS av, severity_number, severity_text, \
     trace_id, span_id";

/// SQL text of `s` as a string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The select list and the grouping of the rows of [`counted`]: the columns that make a line's
/// labels (of its attributes only those that can be one of `names`, when given; of the resource
/// and record attribute maps only those `maps` says may hold one), the bucket `k` of a line in
/// buckets of `width` back from `end`, the lines, and their bytes when `bytes`.
pub(crate) fn count_query(
    names: Option<&[String]>,
    maps: (bool, bool),
    end: i64,
    width: i64,
    bytes: bool,
) -> (String, String) {
    let args: String = names
        .unwrap_or_default()
        .iter()
        .map(|n| format!(", {}", lit(n)))
        .collect();
    let map = |name: &str, read: bool| {
        if read {
            format!("{LABELS_TEXT}({name}{args})")
        } else {
            "''".to_string()
        }
    };
    let mut select = format!(
        "service_name, severity_number, severity_text, {} AS rl, {} AS al",
        map("resource_attributes", maps.0),
        map("attributes", maps.1)
    );
    let mut group = String::from("service_name, severity_number, severity_text, rl, al");
    for id in ["trace_id", "span_id"] {
        if names.is_none_or(|n| n.iter().any(|n| n == id)) {
            select.push_str(&format!(", {id}"));
            group.push_str(&format!(", {id}"));
        }
    }
    select.push_str(&format!(
        ", ({end} - time_unix_nano) / {width} AS k, count(*) AS lines"
    ));
    if bytes {
        select.push_str(", sum(octet_length(body)) AS bytes");
    }
    group.push_str(", k");
    (select, group)
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
pub(crate) const LABEL_COLUMNS: &str =
    "service_name, labels_text(resource_attributes) AS rl, severity_number, severity_text";

/// The columns of a scan that make a line's labels: the string lists of its maps, its
/// severity, trace and span ids; those a scan lacks are absent (`None`).
struct LabelColumns {
    service: StringArray,
    resource: Pairs,
    attributes: Option<Pairs>,
    severity_number: Int32Array,
    severity_text: StringArray,
    trace: Option<FixedSizeBinaryArray>,
    span: Option<FixedSizeBinaryArray>,
}

/// The (key, value) pairs of a map: as its key and value lists, or as `labels_text` strings.
enum Pairs {
    Lists(Box<(ListArray, StringArray, StringArray)>),
    Text(StringArray),
}

impl Pairs {
    /// The pairs of columns `{prefix}k` and `{prefix}v`, or of `{prefix}l`; `None` when the
    /// batch has neither.
    fn new(batch: &RecordBatch, prefix: &str) -> Result<Option<Self>> {
        if let Some(text) = batch.column_by_name(&format!("{prefix}l")) {
            return Ok(Some(Pairs::Text(strings(text)?.as_string::<i32>().clone())));
        }
        if batch.column_by_name(&format!("{prefix}k")).is_none() {
            return Ok(None);
        }
        let (list, keys) = string_list(batch, &format!("{prefix}k"))?;
        let (_, values) = string_list(batch, &format!("{prefix}v"))?;
        Ok(Some(Pairs::Lists(Box::new((list, keys, values)))))
    }

    /// The pairs of row `row`.
    fn row(&self, row: usize) -> Result<Vec<(String, String)>> {
        match self {
            Pairs::Text(text) => labels_udf::decode(text.value(row))
                .ok_or_else(|| Error::Executor("malformed labels_text".into())),
            Pairs::Lists(lists) => {
                let (list, keys, values) = &**lists;
                let offsets = list.value_offsets();
                Ok((offsets[row] as usize..offsets[row + 1] as usize)
                    .map(|i| {
                        let v = if values.is_null(i) {
                            ""
                        } else {
                            values.value(i)
                        };
                        (keys.value(i).to_string(), v.to_string())
                    })
                    .collect())
            }
        }
    }
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
    fn new(batch: &RecordBatch) -> Result<Self> {
        let resource = Pairs::new(batch, "r")?
            .ok_or_else(|| Error::Executor("logs scan lacks the resource attributes".into()))?;
        let attributes = Pairs::new(batch, "a")?;
        let binary = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_fixed_size_binary_opt().cloned())
        };
        Ok(Self {
            service: strings(column(batch, "service_name")?)?
                .as_string::<i32>()
                .clone(),
            resource,
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

    /// The stream labels and structured metadata of row `row`.
    fn labels(&self, row: usize, promoted: &[String]) -> Result<(Labels, Vec<(String, String)>)> {
        let text = if self.severity_text.is_null(row) {
            ""
        } else {
            self.severity_text.value(row)
        };
        let level = detected_level(self.severity_number.value(row), text);
        let (labels, mut metadata) = stream_labels(
            self.service.value(row),
            self.resource.row(row)?,
            (level != "unknown").then_some(level),
            promoted,
        );
        if let Some(attributes) = &self.attributes {
            for (k, v) in attributes.row(row)? {
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
        Ok((labels, metadata))
    }
}

/// The stream label sets of `batches` (rows of [`LABEL_COLUMNS`]).
pub(crate) fn label_sets(batches: &[RecordBatch], promoted: &[String]) -> Result<Vec<Labels>> {
    let mut out = Vec::new();
    for batch in batches {
        let cols = LabelColumns::new(batch)?;
        for row in 0..batch.num_rows() {
            out.push(cols.labels(row, promoted)?.0);
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
        let cols = LabelColumns::new(batch)?;
        let time = column(batch, "time_unix_nano")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| Error::Executor("time_unix_nano is not Int64".into()))?
            .clone();
        let body = strings(column(batch, "body")?)?;
        let body = body.as_string::<i32>();
        for row in 0..batch.num_rows() {
            let (labels, metadata) = cols.labels(row, promoted)?;
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

/// The series of `batches` (rows of [`count_query`]) of the streams `selector` selects, their
/// lines counted per bucket, labelled with only the `kept` labels when given.
pub(crate) fn counted(
    batches: &[RecordBatch],
    promoted: &[String],
    selector: &Selector,
    kept: Option<&[String]>,
) -> Result<Vec<Counted>> {
    let mut out: HashMap<Labels, Vec<(usize, u64, u64)>> = HashMap::new();
    for batch in batches {
        let cols = LabelColumns::new(batch)?;
        let int = |name: &str| -> Result<Option<Int64Array>> {
            let Some(c) = batch.column_by_name(name) else {
                return Ok(None);
            };
            let c = arrow::compute::cast(c, &DataType::Int64)
                .map_err(|e| Error::Executor(e.to_string()))?;
            Ok(Some(c.as_primitive::<Int64Type>().clone()))
        };
        let missing = |name: &str| Error::Executor(format!("logs counts lack column {name}"));
        let k = int("k")?.ok_or_else(|| missing("k"))?;
        let lines = int("lines")?.ok_or_else(|| missing("lines"))?;
        let bytes = int("bytes")?;
        for row in 0..batch.num_rows() {
            let (labels, metadata) = cols.labels(row, promoted)?;
            if !selector.matches(&labels) {
                continue;
            }
            let b = match &bytes {
                Some(b) if !b.is_null(row) => b.value(row),
                _ => 0,
            };
            let mut labels = line_labels(&labels, &metadata);
            if let Some(kept) = kept {
                labels.retain(|k, _| kept.contains(k));
            }
            out.entry(labels).or_default().push((
                k.value(row) as usize,
                lines.value(row) as u64,
                b as u64,
            ));
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
