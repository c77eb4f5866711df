//! Log rows as Loki sees them: a stream's labels are `service_name`, the promoted resource
//! attributes (dots as underscores) and the resource attributes a Loki push sent as labels
//! (names without dots); everything else (record attributes, the other resource attributes,
//! trace and span ids, severity, `detected_level`) is structured metadata.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray, MapArray, RecordBatch};
use arrow::datatypes::DataType;
use logql::eval::{Entry, Labels, Stream};

use crate::{Error, Result};

/// The columns [`streams`] reads, as a SQL select list.
pub(crate) const COLUMNS: &str = "time_unix_nano, body, service_name, resource_attributes, \
     attributes, severity_number, severity_text, trace_id, span_id";

fn strings(col: &ArrayRef) -> Result<ArrayRef> {
    arrow::compute::cast(col, &DataType::Utf8).map_err(|e| Error::Executor(e.to_string()))
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::Executor(format!("logs scan lacks column {name}")))
}

/// The pairs of row `row` of a map column.
fn map_pairs(
    map: &MapArray,
    keys: &ArrayRef,
    values: &ArrayRef,
    row: usize,
) -> Vec<(String, String)> {
    let offsets = map.value_offsets();
    let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
    let keys = keys.as_string::<i32>();
    let values = values.as_string::<i32>();
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

/// The stream labels of a record of `service` with the resource attributes `resource`, and the
/// resource attributes that are structured metadata instead.
fn stream_labels(
    service: &str,
    resource: Vec<(String, String)>,
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
    (labels, metadata)
}

/// The SQL select list of [`label_sets`]: each distinct service and resource once.
pub(crate) const LABEL_COLUMNS: &str = "service_name, map_keys(resource_attributes) AS k, \
     map_values(resource_attributes) AS v";

/// The stream label sets of `batches` (rows of [`LABEL_COLUMNS`]).
pub(crate) fn label_sets(batches: &[RecordBatch], promoted: &[String]) -> Result<Vec<Labels>> {
    let mut out = Vec::new();
    for batch in batches {
        let service = strings(batch.column(0))?;
        let service = service.as_string::<i32>();
        let keys = batch.column(1).as_list::<i32>().clone();
        let values = batch.column(2).as_list::<i32>().clone();
        let (kv, vv) = (strings(keys.values())?, strings(values.values())?);
        let (kv, vv) = (kv.as_string::<i32>(), vv.as_string::<i32>());
        for row in 0..batch.num_rows() {
            let (ks, ke) = (
                keys.value_offsets()[row] as usize,
                keys.value_offsets()[row + 1] as usize,
            );
            let vs = values.value_offsets()[row] as usize;
            let pairs = (ks..ke)
                .map(|i| {
                    let j = vs + (i - ks);
                    let v = if vv.is_null(j) { "" } else { vv.value(j) };
                    (kv.value(i).to_string(), v.to_string())
                })
                .collect();
            out.push(stream_labels(service.value(row), pairs, promoted).0);
        }
    }
    Ok(out)
}

/// The streams of `batches`, their lines in time order.
pub(crate) fn streams(batches: &[RecordBatch], promoted: &[String]) -> Result<Vec<Stream>> {
    let mut by_labels: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
    for batch in batches {
        let time = column(batch, "time_unix_nano")?;
        let time = time
            .as_primitive_opt::<arrow::datatypes::Int64Type>()
            .ok_or_else(|| Error::Executor("time_unix_nano is not Int64".into()))?;
        let body = strings(column(batch, "body")?)?;
        let body = body.as_string::<i32>();
        let service = strings(column(batch, "service_name")?)?;
        let service = service.as_string::<i32>();
        let severity_text = strings(column(batch, "severity_text")?)?;
        let severity_text = severity_text.as_string::<i32>();
        let severity_number = column(batch, "severity_number")?;
        let severity_number = severity_number
            .as_primitive_opt::<arrow::datatypes::Int32Type>()
            .ok_or_else(|| Error::Executor("severity_number is not Int32".into()))?;
        let trace = column(batch, "trace_id")?
            .as_fixed_size_binary_opt()
            .cloned();
        let span = column(batch, "span_id")?
            .as_fixed_size_binary_opt()
            .cloned();
        let resource = column(batch, "resource_attributes")?.as_map().clone();
        let (rk, rv) = (strings(resource.keys())?, strings(resource.values())?);
        let attrs = column(batch, "attributes")?.as_map().clone();
        let (ak, av) = (strings(attrs.keys())?, strings(attrs.values())?);
        for row in 0..batch.num_rows() {
            let (labels, mut metadata) = stream_labels(
                service.value(row),
                map_pairs(&resource, &rk, &rv, row),
                promoted,
            );
            for (k, v) in map_pairs(&attrs, &ak, &av, row) {
                metadata.push((k.replace(['.', '-', '/'], "_"), v));
            }
            if let Some(t) = &trace {
                if !t.is_null(row) {
                    metadata.push(("trace_id".into(), hex(t.value(row))));
                }
            }
            if let Some(s) = &span {
                if !s.is_null(row) {
                    metadata.push(("span_id".into(), hex(s.value(row))));
                }
            }
            let text = if severity_text.is_null(row) {
                ""
            } else {
                severity_text.value(row)
            };
            if !text.is_empty() {
                metadata.push(("severity_text".into(), text.to_string()));
            }
            let level = detected_level(severity_number.value(row), text);
            if level != "unknown" {
                metadata.push(("detected_level".into(), level.to_string()));
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
