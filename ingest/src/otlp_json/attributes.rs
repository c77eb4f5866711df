//! The messages every signal shares: `AnyValue`, `KeyValue`, `Resource`, `InstrumentationScope`.

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::Value;

use super::value::{self, members, Path, Result};

/// Reads a list of `KeyValue`.
pub(super) fn key_values(v: &Value, path: &Path<'_>) -> Result<Vec<KeyValue>> {
    value::list(v, path, key_value)
}

fn key_value(v: &Value, path: &Path<'_>) -> Result<KeyValue> {
    let mut out = KeyValue::default();
    for (k, v) in members(v, path)? {
        match k {
            "key" => out.key = value::string(v, &path.field("key"))?,
            "value" => out.value = Some(any_value(v, &path.field("value"))?),
            "keyStrindex" | "key_strindex" => {
                out.key_strindex = value::i32(v, &path.field("keyStrindex"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Reads an `AnyValue`; an object with none of the known members is the empty value.
pub(super) fn any_value(v: &Value, path: &Path<'_>) -> Result<AnyValue> {
    use any_value::Value as V;
    let mut out = AnyValue::default();
    for (k, v) in members(v, path)? {
        let value = match k {
            "stringValue" | "string_value" => {
                V::StringValue(value::string(v, &path.field("stringValue"))?)
            }
            "boolValue" | "bool_value" => {
                V::BoolValue(value::boolean(v, &path.field("boolValue"))?)
            }
            "intValue" | "int_value" => V::IntValue(value::i64(v, &path.field("intValue"))?),
            "doubleValue" | "double_value" => {
                V::DoubleValue(value::f64(v, &path.field("doubleValue"))?)
            }
            "bytesValue" | "bytes_value" => {
                V::BytesValue(value::bytes(v, &path.field("bytesValue"))?)
            }
            "arrayValue" | "array_value" => {
                V::ArrayValue(array_value(v, &path.field("arrayValue"))?)
            }
            "kvlistValue" | "kvlist_value" => {
                V::KvlistValue(kvlist_value(v, &path.field("kvlistValue"))?)
            }
            "stringValueStrindex" | "string_value_strindex" => {
                V::StringValueStrindex(value::i32(v, &path.field("stringValueStrindex"))?)
            }
            _ => continue,
        };
        out.value = Some(value);
    }
    Ok(out)
}

fn array_value(v: &Value, path: &Path<'_>) -> Result<ArrayValue> {
    let mut out = ArrayValue::default();
    for (k, v) in members(v, path)? {
        if k == "values" {
            out.values = value::list(v, &path.field("values"), any_value)?;
        }
    }
    Ok(out)
}

fn kvlist_value(v: &Value, path: &Path<'_>) -> Result<KeyValueList> {
    let mut out = KeyValueList::default();
    for (k, v) in members(v, path)? {
        if k == "values" {
            out.values = key_values(v, &path.field("values"))?;
        }
    }
    Ok(out)
}

/// Reads a `Resource`.
pub(super) fn resource(v: &Value, path: &Path<'_>) -> Result<Resource> {
    let mut out = Resource::default();
    for (k, v) in members(v, path)? {
        match k {
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                out.dropped_attributes_count =
                    value::u32(v, &path.field("droppedAttributesCount"))?;
            }
            "entityRefs" | "entity_refs" => {
                out.entity_refs = value::list(v, &path.field("entityRefs"), entity_ref)?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn entity_ref(v: &Value, path: &Path<'_>) -> Result<EntityRef> {
    let mut out = EntityRef::default();
    for (k, v) in members(v, path)? {
        match k {
            "schemaUrl" | "schema_url" => {
                out.schema_url = value::string(v, &path.field("schemaUrl"))?;
            }
            "type" => out.r#type = value::string(v, &path.field("type"))?,
            "idKeys" | "id_keys" => out.id_keys = value::strings(v, &path.field("idKeys"))?,
            "descriptionKeys" | "description_keys" => {
                out.description_keys = value::strings(v, &path.field("descriptionKeys"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Reads an `InstrumentationScope`.
pub(super) fn scope(v: &Value, path: &Path<'_>) -> Result<InstrumentationScope> {
    let mut out = InstrumentationScope::default();
    for (k, v) in members(v, path)? {
        match k {
            "name" => out.name = value::string(v, &path.field("name"))?,
            "version" => out.version = value::string(v, &path.field("version"))?,
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                out.dropped_attributes_count =
                    value::u32(v, &path.field("droppedAttributesCount"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}
