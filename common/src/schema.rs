//! The Arrow schemas of the stored tables. Column names are the OTLP field names in snake_case,
//! plus `service_name` (from the `service.name` resource attribute); they are a contract with SQL
//! users and with every segment on disk, so a change here needs a new segment schema version.
//!
//! Ids are fixed-size binary (16 bytes for trace ids, 8 for span ids); attributes are
//! `Map<Utf8, Utf8>` whose values are the attribute values rendered as text (see
//! `ingest`'s conversion: ints in decimal, doubles in shortest round-trip form, booleans as
//! `true`/`false`, bytes in base64, arrays and key-value lists as JSON).

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

/// Version of the on-disk segment schema, recorded in the manifest. 2: samples files hold
/// `value` as `value_int`/`value_scale`/`value_float` (`storage::samples_layout`); readers
/// still read version-1 files (one `value` column), telling the layouts apart by their columns.
pub const SCHEMA_VERSION: u32 = 2;

/// Name of the `spans` table.
pub const SPANS: &str = "spans";
/// Name of the `logs` table.
pub const LOGS: &str = "logs";
/// Name of the `samples` table.
pub const SAMPLES: &str = "samples";
/// Name of the `series` table.
pub const SERIES: &str = "series";

/// `service_name` used when the resource has no `service.name`, as the OpenTelemetry spec says.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The data type of an attribute map column.
pub fn attributes_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, true),
            ])),
            false,
        )),
        false,
    )
}

fn attrs(name: &str) -> Field {
    Field::new(name, attributes_type(), false)
}

/// 16-byte trace id type.
pub fn trace_id_type() -> DataType {
    DataType::FixedSizeBinary(16)
}

/// 8-byte span id type.
pub fn span_id_type() -> DataType {
    DataType::FixedSizeBinary(8)
}

/// Struct fields of one element of the `events` list column.
pub fn event_fields() -> Fields {
    Fields::from(vec![
        Field::new("time_unix_nano", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        attrs("attributes"),
        Field::new("dropped_attributes_count", DataType::UInt32, false),
    ])
}

/// Struct fields of one element of the `links` list column.
pub fn link_fields() -> Fields {
    Fields::from(vec![
        Field::new("trace_id", trace_id_type(), false),
        Field::new("span_id", span_id_type(), false),
        Field::new("trace_state", DataType::Utf8, true),
        attrs("attributes"),
        Field::new("dropped_attributes_count", DataType::UInt32, false),
        Field::new("flags", DataType::UInt32, false),
    ])
}

/// The `spans` table: one row per span; segments hold each trace in one run of rows, traces in
/// order of their first start.
pub fn spans_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("trace_id", trace_id_type(), false),
            Field::new("span_id", span_id_type(), false),
            Field::new("parent_span_id", span_id_type(), true),
            Field::new("trace_state", DataType::Utf8, true),
            Field::new("flags", DataType::UInt32, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("kind", DataType::Int32, false),
            Field::new("service_name", DataType::Utf8, false),
            Field::new("start_time_unix_nano", DataType::Int64, false),
            Field::new("end_time_unix_nano", DataType::Int64, false),
            Field::new("duration_nano", DataType::Int64, false),
            Field::new("status_code", DataType::Int32, false),
            Field::new("status_message", DataType::Utf8, true),
            attrs("resource_attributes"),
            Field::new("resource_schema_url", DataType::Utf8, true),
            Field::new("scope_name", DataType::Utf8, true),
            Field::new("scope_version", DataType::Utf8, true),
            attrs("scope_attributes"),
            Field::new("scope_schema_url", DataType::Utf8, true),
            attrs("attributes"),
            Field::new("dropped_attributes_count", DataType::UInt32, false),
            Field::new(
                "events",
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(event_fields()),
                    false,
                ))),
                false,
            ),
            Field::new("dropped_events_count", DataType::UInt32, false),
            Field::new(
                "links",
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(link_fields()),
                    false,
                ))),
                false,
            ),
            Field::new("dropped_links_count", DataType::UInt32, false),
            Field::new(ATTRIBUTE_TYPES, DataType::Utf8, true),
            Field::new(RESOURCE_DROPPED_ATTRIBUTES, DataType::UInt32, true),
            Field::new(SCOPE_DROPPED_ATTRIBUTES, DataType::UInt32, true),
        ]))
    }))
}

/// Column of `spans` that keeps the OTLP types of the row's attribute values, which the maps
/// hold as text: one letter per map entry ([`attr_type`]), in the order resource attributes,
/// scope attributes, span attributes, then each event's and each link's attributes; null when
/// every value is a string (most rows). TraceQL compares typed values, and Tempo's API gives
/// them back typed.
pub const ATTRIBUTE_TYPES: &str = "attribute_types";

/// Column of `spans`: the resource's `dropped_attributes_count`, null when 0 (most rows; rows
/// written before the column existed read as 0).
pub const RESOURCE_DROPPED_ATTRIBUTES: &str = "resource_dropped_attributes_count";

/// Column of `spans`: the instrumentation scope's `dropped_attributes_count`, null when 0.
pub const SCOPE_DROPPED_ATTRIBUTES: &str = "scope_dropped_attributes_count";

/// The letters of [`ATTRIBUTE_TYPES`].
pub mod attr_type {
    /// A string, or no value.
    pub const STRING: u8 = b's';
    /// A boolean (`true` / `false`).
    pub const BOOL: u8 = b'b';
    /// A 64-bit integer, in decimal.
    pub const INT: u8 = b'i';
    /// A double, in shortest round-trip form (`NaN`, `+Inf`, `-Inf`).
    pub const DOUBLE: u8 = b'd';
    /// Bytes, in standard base64.
    pub const BYTES: u8 = b'y';
    /// An array, as JSON.
    pub const ARRAY: u8 = b'a';
    /// A key-value list, as a JSON object.
    pub const KVLIST: u8 = b'k';
}

/// The `logs` table: one row per log record; segments sorted by `service_name`, then time.
pub fn logs_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("time_unix_nano", DataType::Int64, false),
            Field::new("observed_time_unix_nano", DataType::Int64, false),
            Field::new("severity_number", DataType::Int32, false),
            Field::new("severity_text", DataType::Utf8, true),
            Field::new("body", DataType::Utf8, true),
            Field::new("trace_id", trace_id_type(), true),
            Field::new("span_id", span_id_type(), true),
            Field::new("flags", DataType::UInt32, false),
            Field::new("event_name", DataType::Utf8, true),
            Field::new("service_name", DataType::Utf8, false),
            attrs("resource_attributes"),
            Field::new("resource_schema_url", DataType::Utf8, true),
            Field::new("scope_name", DataType::Utf8, true),
            Field::new("scope_version", DataType::Utf8, true),
            attrs("scope_attributes"),
            Field::new("scope_schema_url", DataType::Utf8, true),
            attrs("attributes"),
            Field::new("dropped_attributes_count", DataType::UInt32, false),
        ]))
    }))
}

/// The `samples` table: one row per (series, timestamp) sample of the Prometheus data model;
/// segments sorted by `series_id`, then `timestamp_ms`.
pub fn samples_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("series_id", DataType::UInt64, false),
            Field::new("metric_name", DataType::Utf8, false),
            Field::new("timestamp_ms", DataType::Int64, false),
            Field::new("value", DataType::Float64, false),
        ]))
    }))
}

/// The `series` table: one row per series, keyed by the 64-bit label fingerprint `series_id`.
/// `labels` holds every label but `__name__`, sorted by name.
pub fn series_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("series_id", DataType::UInt64, false),
            Field::new("metric_name", DataType::Utf8, false),
            attrs("labels"),
            Field::new("metric_type", DataType::Utf8, false),
            Field::new("unit", DataType::Utf8, false),
            Field::new("description", DataType::Utf8, false),
        ]))
    }))
}

/// Exemplars of metrics: one row per exemplar of the series `series_id` (a `series` row), at
/// `timestamp_ms`, with its `value` and `labels` (`trace_id`, `span_id` and the like).
pub fn exemplars_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("series_id", DataType::UInt64, false),
            Field::new("timestamp_ms", DataType::Int64, false),
            Field::new("value", DataType::Float64, false),
            attrs("labels"),
        ]))
    }))
}

/// The stable 64-bit fingerprint of a series: xxh3 over the metric name and the sorted labels,
/// each part terminated by a 0xff byte (which never appears in UTF-8).
pub fn series_fingerprint<'a>(
    metric_name: &str,
    sorted_labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> u64 {
    // One buffer hashed in one call is several times faster than feeding the streaming hasher
    // many small pieces, and gives the same digest.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        buf.clear();
        buf.extend_from_slice(b"__name__\xff");
        buf.extend_from_slice(metric_name.as_bytes());
        buf.push(0xff);
        for (k, v) in sorted_labels {
            buf.extend_from_slice(k.as_bytes());
            buf.push(0xff);
            buf.extend_from_slice(v.as_bytes());
            buf.push(0xff);
        }
        xxhash_rust::xxh3::xxh3_64(buf)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_every_part() {
        let a = series_fingerprint("up", [("job", "a")]);
        assert_eq!(a, series_fingerprint("up", [("job", "a")]));
        assert_ne!(a, series_fingerprint("up", [("job", "b")]));
        assert_ne!(a, series_fingerprint("up2", [("job", "a")]));
        assert_ne!(
            series_fingerprint("up", [("a", "bc")]),
            series_fingerprint("up", [("ab", "c")])
        );
    }

    #[test]
    fn fingerprint_is_the_streaming_digest() {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for part in [&b"__name__\xffup\xff"[..], b"job\xff", b"a\xff"] {
            h.update(part);
        }
        assert_eq!(series_fingerprint("up", [("job", "a")]), h.digest());
    }

    #[test]
    fn schemas_have_the_contract_columns() {
        for c in [
            "trace_id",
            "span_id",
            "parent_span_id",
            "name",
            "kind",
            "start_time_unix_nano",
            "duration_nano",
            "status_code",
            "service_name",
        ] {
            assert!(spans_schema().field_with_name(c).is_ok(), "{c}");
        }
        for c in [
            "severity_number",
            "severity_text",
            "body",
            "trace_id",
            "service_name",
        ] {
            assert!(logs_schema().field_with_name(c).is_ok(), "{c}");
        }
    }
}
