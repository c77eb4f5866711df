//! `ExportLogsServiceRequest` and the log messages under it.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use serde_json::Value;

use super::attributes::{any_value, key_values, resource, scope};
use super::value::{self, members, Path, Result};

/// Reads an `ExportLogsServiceRequest` (the same JSON as `LogsData`).
pub(super) fn request(v: &Value, path: &Path<'_>) -> Result<ExportLogsServiceRequest> {
    let mut out = ExportLogsServiceRequest::default();
    for (k, v) in members(v, path)? {
        if let "resourceLogs" | "resource_logs" = k {
            out.resource_logs = value::list(v, &path.field("resourceLogs"), resource_logs)?;
        }
    }
    Ok(out)
}

fn resource_logs(v: &Value, path: &Path<'_>) -> Result<ResourceLogs> {
    let mut out = ResourceLogs::default();
    for (k, v) in members(v, path)? {
        match k {
            "resource" => out.resource = Some(resource(v, &path.field("resource"))?),
            "scopeLogs" | "scope_logs" => {
                out.scope_logs = value::list(v, &path.field("scopeLogs"), scope_logs)?;
            }
            "schemaUrl" | "schema_url" => {
                out.schema_url = value::string(v, &path.field("schemaUrl"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn scope_logs(v: &Value, path: &Path<'_>) -> Result<ScopeLogs> {
    let mut out = ScopeLogs::default();
    for (k, v) in members(v, path)? {
        match k {
            "scope" => out.scope = Some(scope(v, &path.field("scope"))?),
            "logRecords" | "log_records" => {
                out.log_records = value::list(v, &path.field("logRecords"), log_record)?;
            }
            "schemaUrl" | "schema_url" => {
                out.schema_url = value::string(v, &path.field("schemaUrl"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn severity(name: &str) -> Option<i32> {
    SeverityNumber::from_str_name(name).map(|s| s as i32)
}

fn log_record(v: &Value, path: &Path<'_>) -> Result<LogRecord> {
    let mut out = LogRecord::default();
    for (k, v) in members(v, path)? {
        match k {
            "timeUnixNano" | "time_unix_nano" => {
                out.time_unix_nano = value::u64(v, &path.field("timeUnixNano"))?;
            }
            "observedTimeUnixNano" | "observed_time_unix_nano" => {
                out.observed_time_unix_nano = value::u64(v, &path.field("observedTimeUnixNano"))?;
            }
            "severityNumber" | "severity_number" => {
                out.severity_number =
                    value::enumeration(v, &path.field("severityNumber"), severity)?;
            }
            "severityText" | "severity_text" => {
                out.severity_text = value::string(v, &path.field("severityText"))?;
            }
            "body" => out.body = Some(any_value(v, &path.field("body"))?),
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                out.dropped_attributes_count =
                    value::u32(v, &path.field("droppedAttributesCount"))?;
            }
            "flags" => out.flags = value::u32(v, &path.field("flags"))?,
            "traceId" | "trace_id" => out.trace_id = value::hex_id(v, &path.field("traceId"))?,
            "spanId" | "span_id" => out.span_id = value::hex_id(v, &path.field("spanId"))?,
            "eventName" | "event_name" => {
                out.event_name = value::string(v, &path.field("eventName"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}
