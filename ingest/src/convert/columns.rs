//! Column builders shared by the signals: attribute maps, fixed-size ids and list offsets,
//! written straight into Arrow buffers.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeBinaryArray, MapArray, NullBufferBuilder, PrimitiveArray, StringBuilder,
    StructArray,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowPrimitiveType, DataType, FieldRef, Fields};
use arrow::error::ArrowError;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

use super::attrs::{for_each_last, write_value};

/// Offsets of a list-like column (maps, lists) as Arrow wants them.
#[derive(Debug)]
pub(super) struct Offsets {
    offsets: Vec<i32>,
    overflow: bool,
}

impl Offsets {
    pub(super) fn with_capacity(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            overflow: false,
        }
    }

    /// Ends the current row at `child_len` children in total.
    pub(super) fn end_row(&mut self, child_len: usize) {
        match i32::try_from(child_len) {
            Ok(o) => self.offsets.push(o),
            Err(_) => {
                self.overflow = true;
                self.offsets.push(self.offsets.last().copied().unwrap_or(0));
            }
        }
    }

    pub(super) fn finish(self) -> Result<OffsetBuffer<i32>, ArrowError> {
        if self.overflow {
            return Err(ArrowError::ComputeError(
                "list column exceeds 2^31 entries".into(),
            ));
        }
        Ok(OffsetBuffer::new(ScalarBuffer::from(self.offsets)))
    }
}

/// A `Map<Utf8, Utf8>` column of rendered attributes (`common::schema::attributes_type`).
#[derive(Debug)]
pub(super) struct MapColumn {
    keys: StringBuilder,
    values: StringBuilder,
    len: usize,
    offsets: Offsets,
}

impl MapColumn {
    pub(super) fn with_capacity(rows: usize, entries: usize) -> Self {
        Self {
            keys: StringBuilder::with_capacity(entries, entries * 16),
            values: StringBuilder::with_capacity(entries, entries * 16),
            len: 0,
            offsets: Offsets::with_capacity(rows),
        }
    }

    /// Appends one entry to the current row.
    pub(super) fn entry(&mut self, key: &str, value: Option<&str>) {
        self.keys.append_value(key);
        self.values.append_option(value);
        self.len += 1;
    }

    /// Appends one entry whose value is `value` rendered as text (null for an empty value).
    pub(super) fn rendered_entry(&mut self, key: &str, value: Option<&AnyValue>) {
        self.keys.append_value(key);
        if write_value(value, &mut self.values) {
            self.values.append_value("");
        } else {
            self.values.append_null();
        }
        self.len += 1;
    }

    /// Ends the current row.
    pub(super) fn end_row(&mut self) {
        self.offsets.end_row(self.len);
    }

    /// Appends a whole row of attributes, keeping the last of duplicate keys.
    pub(super) fn push_attrs(&mut self, kvs: &[KeyValue]) {
        for_each_last(kvs, |kv| self.rendered_entry(&kv.key, kv.value.as_ref()));
        self.end_row();
    }

    /// Appends a whole row of attributes rendered before (see [`RenderedAttrs`]).
    pub(super) fn push_rendered(&mut self, attrs: &RenderedAttrs<'_>) {
        for (k, v) in &attrs.0 {
            self.entry(k, v.as_deref());
        }
        self.end_row();
    }

    pub(super) fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        let entries_field = map_entries_field()?;
        let DataType::Struct(fields) = entries_field.data_type() else {
            return Err(ArrowError::SchemaError(
                "map entries are not a struct".into(),
            ));
        };
        let keys: ArrayRef = Arc::new(self.keys.finish());
        let values: ArrayRef = Arc::new(self.values.finish());
        let entries = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
        let offsets = self.offsets.finish()?;
        Ok(Arc::new(MapArray::try_new(
            entries_field,
            offsets,
            entries,
            None,
            false,
        )?))
    }
}

/// The entries field of `common::schema::attributes_type`, so that built maps match it exactly.
fn map_entries_field() -> Result<FieldRef, ArrowError> {
    match common::schema::attributes_type() {
        DataType::Map(field, _) => Ok(field),
        other => Err(ArrowError::SchemaError(format!(
            "attributes type is {other}, not a map"
        ))),
    }
}

/// Attributes rendered once (resource and scope attributes repeat on every row of their
/// items), duplicates removed, with their type letters (`attrs::type_letter`).
#[derive(Debug, Default)]
pub(super) struct RenderedAttrs<'a>(
    pub(super) Vec<(&'a str, Option<Cow<'a, str>>)>,
    pub(super) Vec<u8>,
);

impl<'a> RenderedAttrs<'a> {
    pub(super) fn new(kvs: &'a [KeyValue]) -> Self {
        let mut out = Vec::with_capacity(kvs.len());
        let mut types = Vec::with_capacity(kvs.len());
        for_each_last(kvs, |kv| {
            out.push((kv.key.as_str(), render(kv.value.as_ref())));
            types.push(super::attrs::type_letter(kv.value.as_ref()));
        });
        Self(out, types)
    }
}

/// `value` as text, borrowed when it is a string; `None` for an empty value.
pub(super) fn render(value: Option<&AnyValue>) -> Option<Cow<'_, str>> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => Some(Cow::Borrowed(s.as_str())),
        _ => {
            let mut s = String::new();
            write_value(value, &mut s).then_some(Cow::Owned(s))
        }
    }
}

/// A `FixedSizeBinary` column of ids, nullable or not.
#[derive(Debug)]
pub(super) struct IdColumn {
    width: usize,
    bytes: Vec<u8>,
    nulls: Option<NullBufferBuilder>,
}

impl IdColumn {
    pub(super) fn new(width: usize, rows: usize, nullable: bool) -> Self {
        Self {
            width,
            bytes: Vec::with_capacity(width * rows),
            nulls: nullable.then(|| NullBufferBuilder::new(rows)),
        }
    }

    /// Appends an id whose length the caller has checked.
    pub(super) fn push(&mut self, id: &[u8]) {
        debug_assert_eq!(id.len(), self.width);
        self.bytes.extend_from_slice(id);
        if let Some(n) = &mut self.nulls {
            n.append_non_null();
        }
    }

    /// Appends a null (a nullable column only) or, with `id` present, the id.
    pub(super) fn push_opt(&mut self, id: Option<&[u8]>) {
        match id {
            Some(id) => self.push(id),
            None => {
                self.bytes.resize(self.bytes.len() + self.width, 0);
                if let Some(n) = &mut self.nulls {
                    n.append_null();
                }
            }
        }
    }

    pub(super) fn finish(mut self) -> Result<ArrayRef, ArrowError> {
        let nulls = self.nulls.as_mut().and_then(NullBufferBuilder::finish);
        let width = i32::try_from(self.width)
            .map_err(|_| ArrowError::ComputeError("id width overflows i32".into()))?;
        Ok(Arc::new(FixedSizeBinaryArray::try_new(
            width,
            Buffer::from_vec(self.bytes),
            nulls,
        )?))
    }
}

/// A non-null primitive column from a vector.
pub(super) fn primitive<T: ArrowPrimitiveType>(values: Vec<T::Native>) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(values), None))
}

/// Appends `s`, or null when it is empty (OTLP has no other way of leaving a string unset).
pub(super) fn push_nonempty(b: &mut StringBuilder, s: &str) {
    if s.is_empty() {
        b.append_null();
    } else {
        b.append_value(s);
    }
}

/// A string builder for `rows` values of about `avg` bytes.
pub(super) fn strings(rows: usize, avg: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * avg)
}

/// A struct array of the given fields and children.
pub(super) fn struct_array(
    fields: Fields,
    columns: Vec<ArrayRef>,
) -> Result<StructArray, ArrowError> {
    StructArray::try_new(fields, columns, None)
}
