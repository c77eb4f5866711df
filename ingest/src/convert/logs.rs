//! Log records to rows of the `logs` table.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder};
use arrow::datatypes::{Int32Type, Int64Type, UInt32Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use common::schema::{logs_schema, UNKNOWN_SERVICE};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use storage::Rows;

use super::attrs::{find, write_json};
use super::columns::{
    primitive, push_nonempty, render, strings, IdColumn, MapColumn, RenderedAttrs,
};
use super::converted::{Converted, Tally};
use super::traces::nanos;

pub(super) fn convert(req: &ExportLogsServiceRequest) -> Converted {
    let records = req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records);
    let (mut rows, mut attrs) = (0, 0);
    for r in records {
        rows += 1;
        attrs += r.attributes.len();
    }
    let mut cols = Columns::new(rows, attrs);
    let mut tally = Tally::default();

    for (ri, rl) in req.resource_logs.iter().enumerate() {
        let res_kvs = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let resource = RenderedAttrs::new(res_kvs);
        let service = find(res_kvs, "service.name").and_then(|v| render(Some(v)));
        let service = service
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(UNKNOWN_SERVICE);
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            let scope = sl.scope.as_ref();
            let scope_attrs = RenderedAttrs::new(scope.map_or(&[][..], |s| &s.attributes[..]));
            let ctx = Context {
                service,
                resource: &resource,
                resource_schema_url: &rl.schema_url,
                scope,
                scope_attrs: &scope_attrs,
                scope_schema_url: &sl.schema_url,
            };
            for (li, record) in sl.log_records.iter().enumerate() {
                match check(record) {
                    Ok(times) => {
                        cols.push(record, times, &ctx);
                        tally.accept();
                    }
                    Err(e) => tally.reject(1, || {
                        format!("log record {li} of scope {si} of resource {ri}: {e}")
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

/// What the records of one scope share.
struct Context<'a> {
    service: &'a str,
    resource: &'a RenderedAttrs<'a>,
    resource_schema_url: &'a str,
    scope: Option<&'a InstrumentationScope>,
    scope_attrs: &'a RenderedAttrs<'a>,
    scope_schema_url: &'a str,
}

/// `(time_unix_nano, observed_time_unix_nano)` as stored.
type Times = (i64, i64);

/// Checks everything that can make a record unstorable before anything of it is appended.
fn check(r: &LogRecord) -> Result<Times, String> {
    if !r.trace_id.is_empty() && r.trace_id.len() != 16 {
        return Err(format!(
            "trace_id must be empty or 16 bytes, got {}",
            r.trace_id.len()
        ));
    }
    if !r.span_id.is_empty() && r.span_id.len() != 8 {
        return Err(format!(
            "span_id must be empty or 8 bytes, got {}",
            r.span_id.len()
        ));
    }
    let observed = nanos("observed_time_unix_nano", r.observed_time_unix_nano)?;
    // The data model: "if time_unix_nano is unknown, use observed_time_unix_nano".
    let time = if r.time_unix_nano == 0 {
        observed
    } else {
        nanos("time_unix_nano", r.time_unix_nano)?
    };
    Ok((time, observed))
}

struct Columns {
    time: Vec<i64>,
    observed_time: Vec<i64>,
    severity_number: Vec<i32>,
    severity_text: StringBuilder,
    body: StringBuilder,
    trace_id: IdColumn,
    span_id: IdColumn,
    flags: Vec<u32>,
    event_name: StringBuilder,
    service_name: StringBuilder,
    resource_attributes: MapColumn,
    resource_schema_url: StringBuilder,
    scope_name: StringBuilder,
    scope_version: StringBuilder,
    scope_attributes: MapColumn,
    scope_schema_url: StringBuilder,
    attributes: MapColumn,
    dropped_attributes_count: Vec<u32>,
}

impl Columns {
    fn new(n: usize, attrs: usize) -> Self {
        Self {
            time: Vec::with_capacity(n),
            observed_time: Vec::with_capacity(n),
            severity_number: Vec::with_capacity(n),
            severity_text: strings(n, 5),
            body: strings(n, 128),
            trace_id: IdColumn::new(16, n, true),
            span_id: IdColumn::new(8, n, true),
            flags: Vec::with_capacity(n),
            event_name: strings(n, 0),
            service_name: strings(n, 16),
            resource_attributes: MapColumn::with_capacity(n, n * 4),
            resource_schema_url: strings(n, 0),
            scope_name: strings(n, 16),
            scope_version: strings(n, 8),
            scope_attributes: MapColumn::with_capacity(n, 0),
            scope_schema_url: strings(n, 0),
            attributes: MapColumn::with_capacity(n, attrs),
            dropped_attributes_count: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, r: &LogRecord, (time, observed): Times, ctx: &Context<'_>) {
        self.time.push(time);
        self.observed_time.push(observed);
        self.severity_number.push(r.severity_number);
        push_nonempty(&mut self.severity_text, &r.severity_text);
        match r.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(Value::StringValue(s)) => self.body.append_value(s),
            None | Some(Value::StringValueStrindex(_)) => self.body.append_null(),
            Some(v) => {
                // Writing into a string builder cannot fail.
                let _ = write_json(&mut self.body, Some(v));
                self.body.append_value("");
            }
        }
        self.trace_id
            .push_opt((!r.trace_id.is_empty()).then_some(&r.trace_id[..]));
        self.span_id
            .push_opt((!r.span_id.is_empty()).then_some(&r.span_id[..]));
        self.flags.push(r.flags);
        push_nonempty(&mut self.event_name, &r.event_name);
        self.service_name.append_value(ctx.service);
        self.resource_attributes.push_rendered(ctx.resource);
        push_nonempty(&mut self.resource_schema_url, ctx.resource_schema_url);
        push_nonempty(&mut self.scope_name, ctx.scope.map_or("", |s| &s.name));
        push_nonempty(
            &mut self.scope_version,
            ctx.scope.map_or("", |s| &s.version),
        );
        self.scope_attributes.push_rendered(ctx.scope_attrs);
        push_nonempty(&mut self.scope_schema_url, ctx.scope_schema_url);
        self.attributes.push_attrs(&r.attributes);
        self.dropped_attributes_count
            .push(r.dropped_attributes_count);
    }

    fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            primitive::<Int64Type>(self.time),
            primitive::<Int64Type>(self.observed_time),
            primitive::<Int32Type>(self.severity_number),
            Arc::new(self.severity_text.finish()),
            Arc::new(self.body.finish()),
            self.trace_id.finish()?,
            self.span_id.finish()?,
            primitive::<UInt32Type>(self.flags),
            Arc::new(self.event_name.finish()),
            Arc::new(self.service_name.finish()),
            self.resource_attributes.finish()?,
            Arc::new(self.resource_schema_url.finish()),
            Arc::new(self.scope_name.finish()),
            Arc::new(self.scope_version.finish()),
            self.scope_attributes.finish()?,
            Arc::new(self.scope_schema_url.finish()),
            self.attributes.finish()?,
            primitive::<UInt32Type>(self.dropped_attributes_count),
        ];
        RecordBatch::try_new(logs_schema(), columns)
    }
}
