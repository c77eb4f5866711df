//! `ExportTraceServiceRequest` and the trace messages under it.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{
    span::{Event, Link, SpanKind},
    status::StatusCode,
    ResourceSpans, ScopeSpans, Span, Status,
};
use serde_json::Value;

use super::attributes::{key_values, resource, scope};
use super::value::{self, members, Path, Result};

/// Reads an `ExportTraceServiceRequest` (the same JSON as `TracesData`).
pub(super) fn request(v: &Value, path: &Path<'_>) -> Result<ExportTraceServiceRequest> {
    let mut out = ExportTraceServiceRequest::default();
    for (k, v) in members(v, path)? {
        if let "resourceSpans" | "resource_spans" = k {
            out.resource_spans = value::list(v, &path.field("resourceSpans"), resource_spans)?;
        }
    }
    Ok(out)
}

fn resource_spans(v: &Value, path: &Path<'_>) -> Result<ResourceSpans> {
    let mut out = ResourceSpans::default();
    for (k, v) in members(v, path)? {
        match k {
            "resource" => out.resource = Some(resource(v, &path.field("resource"))?),
            "scopeSpans" | "scope_spans" => {
                out.scope_spans = value::list(v, &path.field("scopeSpans"), scope_spans)?;
            }
            "schemaUrl" | "schema_url" => {
                out.schema_url = value::string(v, &path.field("schemaUrl"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn scope_spans(v: &Value, path: &Path<'_>) -> Result<ScopeSpans> {
    let mut out = ScopeSpans::default();
    for (k, v) in members(v, path)? {
        match k {
            "scope" => out.scope = Some(scope(v, &path.field("scope"))?),
            "spans" => out.spans = value::list(v, &path.field("spans"), span)?,
            "schemaUrl" | "schema_url" => {
                out.schema_url = value::string(v, &path.field("schemaUrl"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn span_kind(name: &str) -> Option<i32> {
    SpanKind::from_str_name(name).map(|k| k as i32)
}

fn status_code(name: &str) -> Option<i32> {
    StatusCode::from_str_name(name).map(|c| c as i32)
}

fn span(v: &Value, path: &Path<'_>) -> Result<Span> {
    let mut out = Span::default();
    for (k, v) in members(v, path)? {
        match k {
            "traceId" | "trace_id" => out.trace_id = value::hex_id(v, &path.field("traceId"))?,
            "spanId" | "span_id" => out.span_id = value::hex_id(v, &path.field("spanId"))?,
            "traceState" | "trace_state" => {
                out.trace_state = value::string(v, &path.field("traceState"))?;
            }
            "parentSpanId" | "parent_span_id" => {
                out.parent_span_id = value::hex_id(v, &path.field("parentSpanId"))?;
            }
            "flags" => out.flags = value::u32(v, &path.field("flags"))?,
            "name" => out.name = value::string(v, &path.field("name"))?,
            "kind" => out.kind = value::enumeration(v, &path.field("kind"), span_kind)?,
            "startTimeUnixNano" | "start_time_unix_nano" => {
                out.start_time_unix_nano = value::u64(v, &path.field("startTimeUnixNano"))?;
            }
            "endTimeUnixNano" | "end_time_unix_nano" => {
                out.end_time_unix_nano = value::u64(v, &path.field("endTimeUnixNano"))?;
            }
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                out.dropped_attributes_count =
                    value::u32(v, &path.field("droppedAttributesCount"))?;
            }
            "events" => out.events = value::list(v, &path.field("events"), event)?,
            "droppedEventsCount" | "dropped_events_count" => {
                out.dropped_events_count = value::u32(v, &path.field("droppedEventsCount"))?;
            }
            "links" => out.links = value::list(v, &path.field("links"), link)?,
            "droppedLinksCount" | "dropped_links_count" => {
                out.dropped_links_count = value::u32(v, &path.field("droppedLinksCount"))?;
            }
            "status" => out.status = Some(status(v, &path.field("status"))?),
            _ => {}
        }
    }
    Ok(out)
}

fn event(v: &Value, path: &Path<'_>) -> Result<Event> {
    let mut out = Event::default();
    for (k, v) in members(v, path)? {
        match k {
            "timeUnixNano" | "time_unix_nano" => {
                out.time_unix_nano = value::u64(v, &path.field("timeUnixNano"))?;
            }
            "name" => out.name = value::string(v, &path.field("name"))?,
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

fn link(v: &Value, path: &Path<'_>) -> Result<Link> {
    let mut out = Link::default();
    for (k, v) in members(v, path)? {
        match k {
            "traceId" | "trace_id" => out.trace_id = value::hex_id(v, &path.field("traceId"))?,
            "spanId" | "span_id" => out.span_id = value::hex_id(v, &path.field("spanId"))?,
            "traceState" | "trace_state" => {
                out.trace_state = value::string(v, &path.field("traceState"))?;
            }
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                out.dropped_attributes_count =
                    value::u32(v, &path.field("droppedAttributesCount"))?;
            }
            "flags" => out.flags = value::u32(v, &path.field("flags"))?,
            _ => {}
        }
    }
    Ok(out)
}

fn status(v: &Value, path: &Path<'_>) -> Result<Status> {
    let mut out = Status::default();
    for (k, v) in members(v, path)? {
        match k {
            "message" => out.message = value::string(v, &path.field("message"))?,
            "code" => out.code = value::enumeration(v, &path.field("code"), status_code)?,
            _ => {}
        }
    }
    Ok(out)
}
