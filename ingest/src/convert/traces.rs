//! Spans to rows of the `spans` table.

use std::sync::Arc;

use arrow::array::{ArrayRef, ListArray, StringBuilder, UInt32Array};
use arrow::datatypes::{DataType, Int32Type, Int64Type, UInt32Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use common::schema::{event_fields, link_fields, spans_schema, UNKNOWN_SERVICE};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::Span;
use storage::Rows;

use super::attrs::{find, push_type_letters};
use super::columns::{
    primitive, push_nonempty, render, strings, struct_array, IdColumn, MapColumn, Offsets,
    RenderedAttrs,
};
use super::converted::{Converted, Tally};

pub(super) fn convert(req: &ExportTraceServiceRequest) -> Converted {
    let spans = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans);
    let mut size = Size::default();
    for span in spans {
        size.rows += 1;
        size.attrs += span.attributes.len();
        size.events += span.events.len();
        size.event_attrs += span
            .events
            .iter()
            .map(|e| e.attributes.len())
            .sum::<usize>();
        size.links += span.links.len();
        size.link_attrs += span.links.iter().map(|l| l.attributes.len()).sum::<usize>();
    }
    let mut cols = Columns::new(&size);
    let mut tally = Tally::default();

    for (ri, rs) in req.resource_spans.iter().enumerate() {
        let res_kvs = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let resource = RenderedAttrs::new(res_kvs);
        let service = find(res_kvs, "service.name").and_then(|v| render(Some(v)));
        let service = service
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(UNKNOWN_SERVICE);
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            let scope = ss.scope.as_ref();
            let scope_attrs = RenderedAttrs::new(scope.map_or(&[][..], |s| &s.attributes[..]));
            let ctx = Context {
                service,
                resource: &resource,
                resource_dropped: rs
                    .resource
                    .as_ref()
                    .map_or(0, |r| r.dropped_attributes_count),
                resource_schema_url: &rs.schema_url,
                scope,
                scope_attrs: &scope_attrs,
                scope_schema_url: &ss.schema_url,
            };
            for (pi, span) in ss.spans.iter().enumerate() {
                match check(span) {
                    Ok(times) => {
                        cols.push(span, &times, &ctx);
                        tally.accept();
                    }
                    Err(e) => tally.reject(1, || {
                        format!("span {pi} of scope {si} of resource {ri}: {e}")
                    }),
                }
            }
        }
    }
    let rows = cols.finish().map(|batch| Rows {
        batch,
        series: None,
        exemplars: None,
    });
    tally.finish(rows)
}

#[derive(Debug, Default)]
struct Size {
    rows: usize,
    attrs: usize,
    events: usize,
    event_attrs: usize,
    links: usize,
    link_attrs: usize,
}

/// What the spans of one scope share.
struct Context<'a> {
    service: &'a str,
    resource: &'a RenderedAttrs<'a>,
    resource_dropped: u32,
    resource_schema_url: &'a str,
    scope: Option<&'a InstrumentationScope>,
    scope_attrs: &'a RenderedAttrs<'a>,
    scope_schema_url: &'a str,
}

/// The validated times of a span, as stored.
struct Times {
    start: i64,
    end: i64,
}

/// Checks everything that can make a span unstorable before anything of it is appended.
fn check(span: &Span) -> Result<Times, String> {
    check_id("trace_id", &span.trace_id, 16)?;
    check_id("span_id", &span.span_id, 8)?;
    if !span.parent_span_id.is_empty() && span.parent_span_id.len() != 8 {
        return Err(format!(
            "parent_span_id must be empty or 8 bytes, got {}",
            span.parent_span_id.len()
        ));
    }
    if span.start_time_unix_nano == 0 {
        return Err("start_time_unix_nano must not be 0".into());
    }
    let start = nanos("start_time_unix_nano", span.start_time_unix_nano)?;
    let end = nanos("end_time_unix_nano", span.end_time_unix_nano)?;
    for (i, e) in span.events.iter().enumerate() {
        nanos("time_unix_nano", e.time_unix_nano).map_err(|m| format!("event {i}: {m}"))?;
    }
    for (i, l) in span.links.iter().enumerate() {
        check_id("trace_id", &l.trace_id, 16).map_err(|m| format!("link {i}: {m}"))?;
        check_id("span_id", &l.span_id, 8).map_err(|m| format!("link {i}: {m}"))?;
    }
    Ok(Times { start, end })
}

fn check_id(name: &str, id: &[u8], len: usize) -> Result<(), String> {
    if id.len() != len {
        return Err(format!("{name} must be {len} bytes, got {}", id.len()));
    }
    if id.iter().all(|&b| b == 0) {
        return Err(format!("{name} must not be all zeros"));
    }
    Ok(())
}

/// A `fixed64` nanosecond time as the `Int64` the tables store.
pub(super) fn nanos(name: &str, t: u64) -> Result<i64, String> {
    i64::try_from(t).map_err(|_| format!("{name} {t} is after the year 2262"))
}

struct Columns {
    trace_id: IdColumn,
    span_id: IdColumn,
    parent_span_id: IdColumn,
    trace_state: StringBuilder,
    flags: Vec<u32>,
    name: StringBuilder,
    kind: Vec<i32>,
    service_name: StringBuilder,
    start: Vec<i64>,
    end: Vec<i64>,
    duration: Vec<i64>,
    status_code: Vec<i32>,
    status_message: StringBuilder,
    resource_attributes: MapColumn,
    resource_schema_url: StringBuilder,
    scope_name: StringBuilder,
    scope_version: StringBuilder,
    scope_attributes: MapColumn,
    scope_schema_url: StringBuilder,
    attributes: MapColumn,
    dropped_attributes_count: Vec<u32>,
    events: Offsets,
    event_time: Vec<i64>,
    event_name: StringBuilder,
    event_attributes: MapColumn,
    event_dropped: Vec<u32>,
    dropped_events_count: Vec<u32>,
    links: Offsets,
    link_trace_id: IdColumn,
    link_span_id: IdColumn,
    link_trace_state: StringBuilder,
    link_attributes: MapColumn,
    link_dropped: Vec<u32>,
    link_flags: Vec<u32>,
    dropped_links_count: Vec<u32>,
    attribute_types: StringBuilder,
    resource_dropped: Vec<Option<u32>>,
    scope_dropped: Vec<Option<u32>>,
    /// The current row's type letters.
    types: Vec<u8>,
}

impl Columns {
    fn new(s: &Size) -> Self {
        let n = s.rows;
        Self {
            trace_id: IdColumn::new(16, n, false),
            span_id: IdColumn::new(8, n, false),
            parent_span_id: IdColumn::new(8, n, true),
            trace_state: strings(n, 0),
            flags: Vec::with_capacity(n),
            name: strings(n, 24),
            kind: Vec::with_capacity(n),
            service_name: strings(n, 16),
            start: Vec::with_capacity(n),
            end: Vec::with_capacity(n),
            duration: Vec::with_capacity(n),
            status_code: Vec::with_capacity(n),
            status_message: strings(n, 0),
            // Resource and scope attributes are not counted up front: they repeat per row.
            resource_attributes: MapColumn::with_capacity(n, n * 4),
            resource_schema_url: strings(n, 0),
            scope_name: strings(n, 16),
            scope_version: strings(n, 8),
            scope_attributes: MapColumn::with_capacity(n, 0),
            scope_schema_url: strings(n, 0),
            attributes: MapColumn::with_capacity(n, s.attrs),
            dropped_attributes_count: Vec::with_capacity(n),
            events: Offsets::with_capacity(n),
            event_time: Vec::with_capacity(s.events),
            event_name: strings(s.events, 16),
            event_attributes: MapColumn::with_capacity(s.events, s.event_attrs),
            event_dropped: Vec::with_capacity(s.events),
            dropped_events_count: Vec::with_capacity(n),
            links: Offsets::with_capacity(n),
            link_trace_id: IdColumn::new(16, s.links, false),
            link_span_id: IdColumn::new(8, s.links, false),
            link_trace_state: strings(s.links, 0),
            link_attributes: MapColumn::with_capacity(s.links, s.link_attrs),
            link_dropped: Vec::with_capacity(s.links),
            link_flags: Vec::with_capacity(s.links),
            dropped_links_count: Vec::with_capacity(n),
            attribute_types: strings(n, 0),
            resource_dropped: Vec::with_capacity(n),
            scope_dropped: Vec::with_capacity(n),
            types: Vec::new(),
        }
    }

    /// Appends the row's `attribute_types`: null when every value is a string.
    fn push_types(&mut self, span: &Span, ctx: &Context<'_>) {
        let t = &mut self.types;
        t.clear();
        t.extend_from_slice(&ctx.resource.1);
        t.extend_from_slice(&ctx.scope_attrs.1);
        push_type_letters(&span.attributes, t);
        for e in &span.events {
            push_type_letters(&e.attributes, t);
        }
        for l in &span.links {
            push_type_letters(&l.attributes, t);
        }
        if t.iter().all(|&c| c == common::schema::attr_type::STRING) {
            self.attribute_types.append_null();
        } else {
            // Letters are ASCII.
            self.attribute_types
                .append_value(std::str::from_utf8(t).unwrap_or_default());
        }
    }

    fn push(&mut self, span: &Span, t: &Times, ctx: &Context<'_>) {
        self.trace_id.push(&span.trace_id);
        self.span_id.push(&span.span_id);
        self.parent_span_id
            .push_opt((!span.parent_span_id.is_empty()).then_some(&span.parent_span_id[..]));
        push_nonempty(&mut self.trace_state, &span.trace_state);
        self.flags.push(span.flags);
        self.name.append_value(&span.name);
        self.kind.push(span.kind);
        self.service_name.append_value(ctx.service);
        self.start.push(t.start);
        self.end.push(t.end);
        // Both are in 0..=i64::MAX, so the difference cannot overflow.
        self.duration.push(t.end - t.start);
        let status = span.status.as_ref();
        self.status_code.push(status.map_or(0, |s| s.code));
        push_nonempty(&mut self.status_message, status.map_or("", |s| &s.message));
        self.resource_attributes.push_rendered(ctx.resource);
        push_nonempty(&mut self.resource_schema_url, ctx.resource_schema_url);
        push_nonempty(&mut self.scope_name, ctx.scope.map_or("", |s| &s.name));
        push_nonempty(
            &mut self.scope_version,
            ctx.scope.map_or("", |s| &s.version),
        );
        self.scope_attributes.push_rendered(ctx.scope_attrs);
        push_nonempty(&mut self.scope_schema_url, ctx.scope_schema_url);
        self.attributes.push_attrs(&span.attributes);
        self.dropped_attributes_count
            .push(span.dropped_attributes_count);
        self.resource_dropped
            .push((ctx.resource_dropped > 0).then_some(ctx.resource_dropped));
        let scope_dropped = ctx.scope.map_or(0, |s| s.dropped_attributes_count);
        self.scope_dropped
            .push((scope_dropped > 0).then_some(scope_dropped));

        for e in &span.events {
            // Checked to fit by `check`.
            self.event_time
                .push(i64::try_from(e.time_unix_nano).unwrap_or(i64::MAX));
            self.event_name.append_value(&e.name);
            self.event_attributes.push_attrs(&e.attributes);
            self.event_dropped.push(e.dropped_attributes_count);
        }
        self.events.end_row(self.event_time.len());
        self.dropped_events_count.push(span.dropped_events_count);

        for l in &span.links {
            self.link_trace_id.push(&l.trace_id);
            self.link_span_id.push(&l.span_id);
            push_nonempty(&mut self.link_trace_state, &l.trace_state);
            self.link_attributes.push_attrs(&l.attributes);
            self.link_dropped.push(l.dropped_attributes_count);
            self.link_flags.push(l.flags);
        }
        self.links.end_row(self.link_flags.len());
        self.dropped_links_count.push(span.dropped_links_count);
        self.push_types(span, ctx);
    }

    fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let schema = spans_schema();
        let events = struct_array(
            event_fields(),
            vec![
                primitive::<Int64Type>(self.event_time),
                Arc::new(self.event_name.finish()),
                self.event_attributes.finish()?,
                primitive::<UInt32Type>(self.event_dropped),
            ],
        )?;
        let links = struct_array(
            link_fields(),
            vec![
                self.link_trace_id.finish()?,
                self.link_span_id.finish()?,
                Arc::new(self.link_trace_state.finish()),
                self.link_attributes.finish()?,
                primitive::<UInt32Type>(self.link_dropped),
                primitive::<UInt32Type>(self.link_flags),
            ],
        )?;
        let columns: Vec<ArrayRef> = vec![
            self.trace_id.finish()?,
            self.span_id.finish()?,
            self.parent_span_id.finish()?,
            Arc::new(self.trace_state.finish()),
            primitive::<UInt32Type>(self.flags),
            Arc::new(self.name.finish()),
            primitive::<Int32Type>(self.kind),
            Arc::new(self.service_name.finish()),
            primitive::<Int64Type>(self.start),
            primitive::<Int64Type>(self.end),
            primitive::<Int64Type>(self.duration),
            primitive::<Int32Type>(self.status_code),
            Arc::new(self.status_message.finish()),
            self.resource_attributes.finish()?,
            Arc::new(self.resource_schema_url.finish()),
            Arc::new(self.scope_name.finish()),
            Arc::new(self.scope_version.finish()),
            self.scope_attributes.finish()?,
            Arc::new(self.scope_schema_url.finish()),
            self.attributes.finish()?,
            primitive::<UInt32Type>(self.dropped_attributes_count),
            list(&schema, "events", self.events, events)?,
            primitive::<UInt32Type>(self.dropped_events_count),
            list(&schema, "links", self.links, links)?,
            primitive::<UInt32Type>(self.dropped_links_count),
            Arc::new(self.attribute_types.finish()),
            Arc::new(UInt32Array::from(self.resource_dropped)),
            Arc::new(UInt32Array::from(self.scope_dropped)),
        ];
        RecordBatch::try_new(schema, columns)
    }
}

/// The list column `name` of `schema` over `values`.
fn list(
    schema: &arrow::datatypes::Schema,
    name: &str,
    offsets: Offsets,
    values: arrow::array::StructArray,
) -> Result<ArrayRef, ArrowError> {
    let DataType::List(item) = schema.field_with_name(name)?.data_type() else {
        return Err(ArrowError::SchemaError(format!(
            "{name} is not a list column"
        )));
    };
    Ok(Arc::new(ListArray::try_new(
        Arc::clone(item),
        offsets.finish()?,
        Arc::new(values),
        None,
    )?))
}
