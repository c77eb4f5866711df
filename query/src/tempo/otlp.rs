//! Rows of the `spans` table back to OTLP: `ResourceSpans` grouped by resource and scope, with
//! attribute values typed again from the row's `attribute_types` letters
//! (`common::schema::ATTRIBUTE_TYPES`). Inside arrays and key-value lists (kept as JSON) a number
//! comes back as an integer when it is written as one, bytes as their base64 text.

use std::collections::HashMap;

use arrow::array::{
    Array, AsArray, FixedSizeBinaryArray, Int32Array, Int64Array, ListArray, MapArray, RecordBatch,
    StringArray, StructArray, UInt32Array,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::schema::{
    attr_type, ATTRIBUTE_TYPES, RESOURCE_DROPPED_ATTRIBUTES, SCOPE_DROPPED_ATTRIBUTES,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::{Error, Result};

/// The spans of `batches` (rows of the `spans` table, any order) as OTLP: one `ResourceSpans`
/// per distinct resource, one `ScopeSpans` per distinct scope in it, spans by start time.
pub(crate) fn resource_spans(batches: &[RecordBatch]) -> Result<Vec<ResourceSpans>> {
    let mut out: Vec<ResourceSpans> = Vec::new();
    // Resource key -> place in `out`; resource place and scope key -> place in its scope list.
    let mut resources: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut scopes: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut key = Vec::new();
    for b in batches {
        let b = &as_stored(b)?;
        let cols = Columns::of(b)?;
        for row in 0..b.num_rows() {
            let mut types = Letters(
                cols.types
                    .filter(|t| !t.is_null(row))
                    .map_or(&b""[..], |t| t.value(row).as_bytes()),
            );
            let resource = attributes(cols.resource_attributes, row, &mut types);
            let resource_url = text(cols.resource_schema_url, row);
            let scope_attrs = attributes(cols.scope_attributes, row, &mut types);
            let scope = InstrumentationScope {
                name: text(cols.scope_name, row),
                version: text(cols.scope_version, row),
                attributes: scope_attrs,
                dropped_attributes_count: dropped(cols.scope_dropped, row),
            };
            let scope_url = text(cols.scope_schema_url, row);
            let span = cols.span(row, &mut types);

            key.clear();
            attributes_key(&resource, &mut key);
            bytes_key(resource_url.as_bytes(), &mut key);
            let r = match resources.get(key.as_slice()) {
                Some(&r) => r,
                None => {
                    out.push(ResourceSpans {
                        resource: Some(Resource {
                            attributes: resource,
                            dropped_attributes_count: dropped(cols.resource_dropped, row),
                            entity_refs: Vec::new(),
                        }),
                        scope_spans: Vec::new(),
                        schema_url: resource_url,
                    });
                    resources.insert(key.clone(), out.len() - 1);
                    out.len() - 1
                }
            };
            key.clear();
            key.extend_from_slice(&(r as u64).to_le_bytes());
            bytes_key(scope.name.as_bytes(), &mut key);
            bytes_key(scope.version.as_bytes(), &mut key);
            attributes_key(&scope.attributes, &mut key);
            key.extend_from_slice(&scope.dropped_attributes_count.to_le_bytes());
            bytes_key(scope_url.as_bytes(), &mut key);
            let scope_list = &mut out[r].scope_spans;
            let s = match scopes.get(key.as_slice()) {
                Some(&s) => s,
                None => {
                    scope_list.push(ScopeSpans {
                        scope: Some(scope),
                        spans: Vec::new(),
                        schema_url: scope_url,
                    });
                    scopes.insert(key.clone(), scope_list.len() - 1);
                    scope_list.len() - 1
                }
            };
            scope_list[s].spans.push(span);
        }
    }
    for r in &mut out {
        for s in &mut r.scope_spans {
            s.spans
                .sort_by_key(|s| (s.start_time_unix_nano, s.span_id.clone()));
        }
    }
    Ok(out)
}

/// Appends to `out` bytes that are equal for equal `attrs` and differ for different ones (a
/// grouping key, cheaper than any text form).
fn attributes_key(attrs: &[KeyValue], out: &mut Vec<u8>) {
    out.extend_from_slice(&(attrs.len() as u64).to_le_bytes());
    for kv in attrs {
        bytes_key(kv.key.as_bytes(), out);
        value_key(kv.value.as_ref(), out);
    }
}

/// `b` with its length ahead, so that consecutive fields cannot run into each other.
fn bytes_key(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

/// One attribute value, tagged by its type (see [`attributes_key`]).
fn value_key(v: Option<&AnyValue>, out: &mut Vec<u8>) {
    match v.and_then(|v| v.value.as_ref()) {
        None => out.push(0),
        Some(Value::StringValue(s)) => {
            out.push(1);
            bytes_key(s.as_bytes(), out);
        }
        Some(Value::BoolValue(b)) => out.extend_from_slice(&[2, u8::from(*b)]),
        Some(Value::IntValue(i)) => {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Some(Value::DoubleValue(d)) => {
            out.push(4);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Some(Value::ArrayValue(a)) => {
            out.push(5);
            out.extend_from_slice(&(a.values.len() as u64).to_le_bytes());
            for v in &a.values {
                value_key(Some(v), out);
            }
        }
        Some(Value::KvlistValue(l)) => {
            out.push(6);
            attributes_key(&l.values, out);
        }
        Some(Value::BytesValue(b)) => {
            out.push(7);
            bytes_key(b, out);
        }
        Some(Value::StringValueStrindex(i)) => {
            out.push(8);
            out.extend_from_slice(&i.to_le_bytes());
        }
    }
}

/// `b` with the columns' types of the `spans` schema: scans read strings as views, which
/// the readers below do not take.
pub(crate) fn as_stored(b: &RecordBatch) -> Result<RecordBatch> {
    let schema = common::schema::spans_schema();
    let mut fields = Vec::with_capacity(b.num_columns());
    let mut columns = Vec::with_capacity(b.num_columns());
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        match schema.field_with_name(f.name()) {
            Ok(want) if want.data_type() != c.data_type() => {
                let cast = arrow::compute::cast(c, want.data_type())
                    .map_err(|e| Error::Storage(storage::Error::Read(e.to_string())))?;
                fields.push(std::sync::Arc::new(want.clone()));
                columns.push(cast);
            }
            _ => {
                fields.push(std::sync::Arc::clone(f));
                columns.push(std::sync::Arc::clone(c));
            }
        }
    }
    RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
        columns,
    )
    .map_err(|e| Error::Storage(storage::Error::Read(e.to_string())))
}

/// The columns of a `spans` batch, found by name.
struct Columns<'a> {
    trace_id: &'a FixedSizeBinaryArray,
    span_id: &'a FixedSizeBinaryArray,
    parent_span_id: &'a FixedSizeBinaryArray,
    trace_state: &'a StringArray,
    flags: &'a UInt32Array,
    name: &'a StringArray,
    kind: &'a Int32Array,
    start: &'a Int64Array,
    end: &'a Int64Array,
    status_code: &'a Int32Array,
    status_message: &'a StringArray,
    resource_attributes: &'a MapArray,
    resource_schema_url: &'a StringArray,
    scope_name: &'a StringArray,
    scope_version: &'a StringArray,
    scope_attributes: &'a MapArray,
    scope_schema_url: &'a StringArray,
    attributes: &'a MapArray,
    dropped_attributes_count: &'a UInt32Array,
    events: &'a ListArray,
    dropped_events_count: &'a UInt32Array,
    links: &'a ListArray,
    dropped_links_count: &'a UInt32Array,
    types: Option<&'a StringArray>,
    resource_dropped: Option<&'a UInt32Array>,
    scope_dropped: Option<&'a UInt32Array>,
}

/// A nullable count column's value at `row`, 0 when null or absent.
fn dropped(column: Option<&UInt32Array>, row: usize) -> u32 {
    column
        .filter(|c| !c.is_null(row))
        .map_or(0, |c| c.value(row))
}

/// Column `name` of `b` as a `T`, or an error naming it.
pub(crate) fn column<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            Error::Storage(storage::Error::Read(format!(
                "spans rows without a readable {name} column"
            )))
        })
}

fn field<'a, T: 'static>(s: &'a StructArray, name: &str) -> Result<&'a T> {
    s.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            Error::Storage(storage::Error::Read(format!(
                "span events or links without {name}"
            )))
        })
}

impl<'a> Columns<'a> {
    fn of(b: &'a RecordBatch) -> Result<Self> {
        Ok(Self {
            trace_id: column(b, "trace_id")?,
            span_id: column(b, "span_id")?,
            parent_span_id: column(b, "parent_span_id")?,
            trace_state: column(b, "trace_state")?,
            flags: column(b, "flags")?,
            name: column(b, "name")?,
            kind: column(b, "kind")?,
            start: column(b, "start_time_unix_nano")?,
            end: column(b, "end_time_unix_nano")?,
            status_code: column(b, "status_code")?,
            status_message: column(b, "status_message")?,
            resource_attributes: column(b, "resource_attributes")?,
            resource_schema_url: column(b, "resource_schema_url")?,
            scope_name: column(b, "scope_name")?,
            scope_version: column(b, "scope_version")?,
            scope_attributes: column(b, "scope_attributes")?,
            scope_schema_url: column(b, "scope_schema_url")?,
            attributes: column(b, "attributes")?,
            dropped_attributes_count: column(b, "dropped_attributes_count")?,
            events: column(b, "events")?,
            dropped_events_count: column(b, "dropped_events_count")?,
            links: column(b, "links")?,
            dropped_links_count: column(b, "dropped_links_count")?,
            // Rows written before the column existed hold strings only.
            types: b
                .column_by_name(ATTRIBUTE_TYPES)
                .and_then(|c| c.as_string_opt()),
            // … and drop no resource or scope attributes.
            resource_dropped: b
                .column_by_name(RESOURCE_DROPPED_ATTRIBUTES)
                .and_then(|c| c.as_any().downcast_ref::<UInt32Array>()),
            scope_dropped: b
                .column_by_name(SCOPE_DROPPED_ATTRIBUTES)
                .and_then(|c| c.as_any().downcast_ref::<UInt32Array>()),
        })
    }

    fn span(&self, row: usize, types: &mut Letters<'_>) -> Span {
        let attributes = attributes(self.attributes, row, types);
        let events = self.events_of(row, types).unwrap_or_default();
        let links = self.links_of(row, types).unwrap_or_default();
        let (start, end) = (self.start.value(row), self.end.value(row));
        Span {
            trace_id: self.trace_id.value(row).to_vec(),
            span_id: self.span_id.value(row).to_vec(),
            trace_state: text(self.trace_state, row),
            parent_span_id: if self.parent_span_id.is_null(row) {
                Vec::new()
            } else {
                self.parent_span_id.value(row).to_vec()
            },
            flags: self.flags.value(row),
            name: self.name.value(row).to_string(),
            kind: self.kind.value(row),
            start_time_unix_nano: u64::try_from(start).unwrap_or_default(),
            end_time_unix_nano: u64::try_from(end).unwrap_or_default(),
            attributes,
            dropped_attributes_count: self.dropped_attributes_count.value(row),
            events,
            dropped_events_count: self.dropped_events_count.value(row),
            links,
            dropped_links_count: self.dropped_links_count.value(row),
            status: Some(Status {
                message: text(self.status_message, row),
                code: self.status_code.value(row),
            }),
        }
    }

    fn events_of(&self, row: usize, types: &mut Letters<'_>) -> Result<Vec<Event>> {
        let (s, range) = list_range(self.events, row)?;
        let time: &Int64Array = field(s, "time_unix_nano")?;
        let name: &StringArray = field(s, "name")?;
        let attrs: &MapArray = field(s, "attributes")?;
        let dropped: &UInt32Array = field(s, "dropped_attributes_count")?;
        Ok(range
            .map(|i| Event {
                time_unix_nano: u64::try_from(time.value(i)).unwrap_or_default(),
                name: name.value(i).to_string(),
                attributes: attributes(attrs, i, types),
                dropped_attributes_count: dropped.value(i),
            })
            .collect())
    }

    fn links_of(&self, row: usize, types: &mut Letters<'_>) -> Result<Vec<Link>> {
        let (s, range) = list_range(self.links, row)?;
        let trace_id: &FixedSizeBinaryArray = field(s, "trace_id")?;
        let span_id: &FixedSizeBinaryArray = field(s, "span_id")?;
        let state: &StringArray = field(s, "trace_state")?;
        let attrs: &MapArray = field(s, "attributes")?;
        let dropped: &UInt32Array = field(s, "dropped_attributes_count")?;
        let flags: &UInt32Array = field(s, "flags")?;
        Ok(range
            .map(|i| Link {
                trace_id: trace_id.value(i).to_vec(),
                span_id: span_id.value(i).to_vec(),
                trace_state: text(state, i),
                attributes: attributes(attrs, i, types),
                dropped_attributes_count: dropped.value(i),
                flags: flags.value(i),
            })
            .collect())
    }
}

/// The struct items of list `l` at `row`, and their range of indexes.
fn list_range(l: &ListArray, row: usize) -> Result<(&StructArray, std::ops::Range<usize>)> {
    let items = l.values().as_struct_opt().ok_or_else(|| {
        Error::Storage(storage::Error::Read(
            "span events or links are not structs".into(),
        ))
    })?;
    let offsets = l.value_offsets();
    Ok((items, offsets[row] as usize..offsets[row + 1] as usize))
}

/// The text at `row`, empty when null (as OTLP leaves an unset string).
pub(crate) fn text(a: &StringArray, row: usize) -> String {
    if a.is_null(row) {
        String::new()
    } else {
        a.value(row).to_string()
    }
}

/// The type letters of a row, taken one per map entry in order (strings past their end).
struct Letters<'a>(&'a [u8]);

impl Letters<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&c, rest)) => {
                self.0 = rest;
                c
            }
            None => attr_type::STRING,
        }
    }
}

/// The entries of map `m` at `row` as typed key-values.
fn attributes(m: &MapArray, row: usize, types: &mut Letters<'_>) -> Vec<KeyValue> {
    let offsets = m.value_offsets();
    let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
    let (Some(keys), Some(values)) = (
        m.keys().as_string_opt::<i32>(),
        m.values().as_string_opt::<i32>(),
    ) else {
        return Vec::new();
    };
    (from..to)
        .map(|i| {
            let letter = types.next();
            let value = (!values.is_null(i)).then(|| typed(values.value(i), letter));
            KeyValue {
                key: keys.value(i).to_string(),
                value: Some(AnyValue { value }),
                ..Default::default()
            }
        })
        .collect()
}

/// The value of `text` stored with type `letter`; text it does not parse as stays a string.
fn typed(text: &str, letter: u8) -> Value {
    let string = || Value::StringValue(text.to_string());
    match letter {
        attr_type::BOOL => match text {
            "true" => Value::BoolValue(true),
            "false" => Value::BoolValue(false),
            _ => string(),
        },
        attr_type::INT => text.parse().map_or_else(|_| string(), Value::IntValue),
        attr_type::DOUBLE => match text {
            "NaN" => Value::DoubleValue(f64::NAN),
            "+Inf" => Value::DoubleValue(f64::INFINITY),
            "-Inf" => Value::DoubleValue(f64::NEG_INFINITY),
            _ => text.parse().map_or_else(|_| string(), Value::DoubleValue),
        },
        attr_type::BYTES => STANDARD
            .decode(text)
            .map_or_else(|_| string(), Value::BytesValue),
        attr_type::ARRAY | attr_type::KVLIST => serde_json::from_str(text)
            .ok()
            .and_then(|j| from_json(&j))
            .unwrap_or_else(string),
        _ => string(),
    }
}

/// An array or key-value list back from the JSON the maps hold it as.
fn from_json(j: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as J;
    Some(match j {
        J::Null => return None,
        J::Bool(b) => Value::BoolValue(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::IntValue(i),
            None => Value::DoubleValue(n.as_f64()?),
        },
        J::String(s) => match s.as_str() {
            "NaN" => Value::DoubleValue(f64::NAN),
            "+Inf" => Value::DoubleValue(f64::INFINITY),
            "-Inf" => Value::DoubleValue(f64::NEG_INFINITY),
            _ => Value::StringValue(s.clone()),
        },
        J::Array(items) => Value::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|v| AnyValue {
                    value: from_json(v),
                })
                .collect(),
        }),
        J::Object(kvs) => Value::KvlistValue(KeyValueList {
            values: kvs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(AnyValue {
                        value: from_json(v),
                    }),
                    ..Default::default()
                })
                .collect(),
        }),
    })
}
