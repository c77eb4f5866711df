//! Tests of the conversion: every column of handcrafted requests, rejections, replay decoding,
//! and properties of random valid requests.

use std::collections::BTreeMap;

use arrow::array::{
    Array, AsArray, FixedSizeBinaryArray, Float64Array, Int32Array, Int64Array, ListArray,
    MapArray, StringArray, StructArray, UInt32Array, UInt64Array,
};
use arrow::record_batch::RecordBatch;
use common::schema::{series_fingerprint, UNKNOWN_SERVICE};
use common::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use prost::Message;
use storage::PayloadDecoder;

use super::metrics::STALE_NAN;
use super::*;

// ---------------------------------------------------------------------------------------------
// Building requests

const T0: u64 = 1_700_000_000_123_456_789;

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn empty_kv(key: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: None,
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

fn scope(name: &str, version: &str, attrs: Vec<KeyValue>) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        version: version.into(),
        attributes: attrs,
        ..Default::default()
    })
}

/// One attribute of every value type, a duplicate key (the last wins) and an empty value.
fn every_type() -> Vec<KeyValue> {
    vec![
        kv("str", s("first")),
        kv("int", Value::IntValue(-7)),
        kv("double", Value::DoubleValue(0.25)),
        kv("whole", Value::DoubleValue(3.0)),
        kv("inf", Value::DoubleValue(f64::NEG_INFINITY)),
        kv("bool", Value::BoolValue(true)),
        kv("bytes", Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
        kv(
            "array",
            Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(s("a")),
                    },
                    AnyValue {
                        value: Some(Value::IntValue(1)),
                    },
                ],
            }),
        ),
        kv(
            "kvlist",
            Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("k", Value::BoolValue(false)),
                    kv("n", Value::DoubleValue(1.5)),
                ],
            }),
        ),
        empty_kv("empty"),
        kv("str", s("last")),
    ]
}

fn every_type_rendered() -> Vec<(String, Option<String>)> {
    [
        ("int", Some("-7")),
        ("double", Some("0.25")),
        ("whole", Some("3")),
        ("inf", Some("-Inf")),
        ("bool", Some("true")),
        ("bytes", Some("3q2+7w==")),
        ("array", Some(r#"["a",1]"#)),
        ("kvlist", Some(r#"{"k":false,"n":1.5}"#)),
        ("empty", None),
        ("str", Some("last")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
    .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect()
}

fn id16(seed: u8) -> Vec<u8> {
    (0..16).map(|i| seed.wrapping_add(i)).collect()
}

fn id8(seed: u8) -> Vec<u8> {
    (0..8).map(|i| seed.wrapping_add(i)).collect()
}

// ---------------------------------------------------------------------------------------------
// Reading batches

fn col<'b, T: 'static>(b: &'b RecordBatch, name: &str) -> &'b T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has another type"))
}

fn strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    col::<StringArray>(b, name)
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

fn str_values(b: &RecordBatch, name: &str) -> Vec<String> {
    let a = col::<StringArray>(b, name);
    assert_eq!(a.null_count(), 0, "{name}");
    a.iter().map(|v| v.unwrap_or_default().to_owned()).collect()
}

fn i64s(b: &RecordBatch, name: &str) -> Vec<i64> {
    col::<Int64Array>(b, name).values().to_vec()
}

fn i32s(b: &RecordBatch, name: &str) -> Vec<i32> {
    col::<Int32Array>(b, name).values().to_vec()
}

fn u32s(b: &RecordBatch, name: &str) -> Vec<u32> {
    col::<UInt32Array>(b, name).values().to_vec()
}

fn ids(b: &RecordBatch, name: &str) -> Vec<Option<Vec<u8>>> {
    col::<FixedSizeBinaryArray>(b, name)
        .iter()
        .map(|v| v.map(<[u8]>::to_vec))
        .collect()
}

fn map_rows(a: &MapArray) -> Vec<Vec<(String, Option<String>)>> {
    (0..a.len()).map(|i| map_entries(&a.value(i))).collect()
}

fn map_entries(entries: &StructArray) -> Vec<(String, Option<String>)> {
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    keys.iter()
        .zip(values.iter())
        .map(|(k, v)| (k.unwrap_or_default().to_owned(), v.map(str::to_owned)))
        .collect()
}

fn maps(b: &RecordBatch, name: &str) -> Vec<Vec<(String, Option<String>)>> {
    map_rows(col::<MapArray>(b, name))
}

/// The batch must have exactly the table's schema (names, types, nullability).
fn assert_schema(b: &RecordBatch, want: SchemaRef) {
    assert_eq!(b.schema(), want);
}

// ---------------------------------------------------------------------------------------------
// Traces

fn full_span() -> Span {
    Span {
        trace_id: id16(1),
        span_id: id8(0x20),
        trace_state: String::new(),
        parent_span_id: Vec::new(),
        flags: 0x301,
        name: "GET /cart".into(),
        kind: 2,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 1_500_000,
        attributes: every_type(),
        dropped_attributes_count: 3,
        events: vec![
            Event {
                time_unix_nano: T0 + 10,
                name: "exception".into(),
                attributes: vec![kv("exception.type", s("E")), kv("n", Value::IntValue(2))],
                dropped_attributes_count: 1,
            },
            Event {
                time_unix_nano: T0 + 20,
                name: "done".into(),
                ..Default::default()
            },
        ],
        dropped_events_count: 4,
        links: vec![Link {
            trace_id: id16(0x40),
            span_id: id8(0x50),
            trace_state: "a=b".into(),
            attributes: vec![kv("link.k", s("v"))],
            dropped_attributes_count: 2,
            flags: 0x100,
        }],
        dropped_links_count: 5,
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
    }
}

fn traces_request() -> ExportTraceServiceRequest {
    let child = Span {
        trace_id: id16(1),
        span_id: id8(0x30),
        parent_span_id: id8(0x20),
        trace_state: "k=v".into(),
        name: "db".into(),
        kind: 3,
        start_time_unix_nano: T0 + 100,
        end_time_unix_nano: T0 + 50,
        ..Default::default()
    };
    let orphan = Span {
        trace_id: id16(9),
        span_id: id8(9),
        name: "bg".into(),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        status: Some(Status {
            message: String::new(),
            code: 1,
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource(vec![
                    kv("service.name", s("checkout")),
                    kv("host.name", s("h1")),
                ]),
                scope_spans: vec![
                    ScopeSpans {
                        scope: scope("lib", "1.2", vec![kv("scope.k", Value::IntValue(1))]),
                        spans: vec![full_span(), child],
                        schema_url: "https://scope".into(),
                    },
                    ScopeSpans {
                        scope: None,
                        spans: vec![],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://resource".into(),
            },
            ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![orphan],
                    ..Default::default()
                }],
                schema_url: String::new(),
            },
        ],
    }
}

#[test]
fn spans_fill_every_column() {
    let c = traces(&traces_request());
    assert_eq!((c.accepted, c.rejected, c.error.as_deref()), (3, 0, None));
    let rows = c.rows.expect("rows");
    assert!(rows.series.is_none());
    let b = &rows.batch;
    assert_schema(b, common::schema::spans_schema());
    assert_eq!(b.num_rows(), 3);

    assert_eq!(
        ids(b, "trace_id"),
        [Some(id16(1)), Some(id16(1)), Some(id16(9))]
    );
    assert_eq!(
        ids(b, "span_id"),
        [Some(id8(0x20)), Some(id8(0x30)), Some(id8(9))]
    );
    assert_eq!(ids(b, "parent_span_id"), [None, Some(id8(0x20)), None]);
    assert_eq!(strs(b, "trace_state"), [None, Some("k=v".into()), None]);
    assert_eq!(u32s(b, "flags"), [0x301, 0, 0]);
    assert_eq!(str_values(b, "name"), ["GET /cart", "db", "bg"]);
    assert_eq!(i32s(b, "kind"), [2, 3, 0]);
    assert_eq!(
        str_values(b, "service_name"),
        ["checkout", "checkout", UNKNOWN_SERVICE]
    );
    let t0 = T0 as i64;
    assert_eq!(i64s(b, "start_time_unix_nano"), [t0, t0 + 100, 1]);
    assert_eq!(i64s(b, "end_time_unix_nano"), [t0 + 1_500_000, t0 + 50, 2]);
    // An end before the start is stored as it came.
    assert_eq!(i64s(b, "duration_nano"), [1_500_000, -50, 1]);
    assert_eq!(i32s(b, "status_code"), [2, 0, 1]);
    assert_eq!(strs(b, "status_message"), [Some("boom".into()), None, None]);
    let res = pairs(&[("service.name", "checkout"), ("host.name", "h1")]);
    assert_eq!(maps(b, "resource_attributes"), [res.clone(), res, vec![]]);
    let https = |u: &str| Some(u.to_owned());
    assert_eq!(
        strs(b, "resource_schema_url"),
        [https("https://resource"), https("https://resource"), None]
    );
    assert_eq!(strs(b, "scope_name"), [https("lib"), https("lib"), None]);
    assert_eq!(strs(b, "scope_version"), [https("1.2"), https("1.2"), None]);
    let sc = pairs(&[("scope.k", "1")]);
    assert_eq!(maps(b, "scope_attributes"), [sc.clone(), sc, vec![]]);
    assert_eq!(
        strs(b, "scope_schema_url"),
        [https("https://scope"), https("https://scope"), None]
    );
    assert_eq!(
        maps(b, "attributes"),
        [every_type_rendered(), vec![], vec![]]
    );
    assert_eq!(u32s(b, "dropped_attributes_count"), [3, 0, 0]);
    assert_eq!(u32s(b, "dropped_events_count"), [4, 0, 0]);
    assert_eq!(u32s(b, "dropped_links_count"), [5, 0, 0]);

    let events = col::<ListArray>(b, "events");
    assert_eq!(events.value_offsets(), [0, 2, 2, 2]);
    let ev = events.values().as_struct();
    let ev = RecordBatch::from(ev.clone());
    assert_eq!(i64s(&ev, "time_unix_nano"), [t0 + 10, t0 + 20]);
    assert_eq!(str_values(&ev, "name"), ["exception", "done"]);
    assert_eq!(
        maps(&ev, "attributes"),
        [pairs(&[("exception.type", "E"), ("n", "2")]), vec![]]
    );
    assert_eq!(u32s(&ev, "dropped_attributes_count"), [1, 0]);

    let links = col::<ListArray>(b, "links");
    assert_eq!(links.value_offsets(), [0, 1, 1, 1]);
    let l = RecordBatch::from(links.values().as_struct().clone());
    assert_eq!(ids(&l, "trace_id"), [Some(id16(0x40))]);
    assert_eq!(ids(&l, "span_id"), [Some(id8(0x50))]);
    assert_eq!(strs(&l, "trace_state"), [Some("a=b".into())]);
    assert_eq!(maps(&l, "attributes"), [pairs(&[("link.k", "v")])]);
    assert_eq!(u32s(&l, "dropped_attributes_count"), [2]);
    assert_eq!(u32s(&l, "flags"), [0x100]);
}

#[test]
fn bad_spans_are_rejected_one_by_one() {
    let good = full_span();
    let with = |f: &dyn Fn(&mut Span)| {
        let mut s = good.clone();
        f(&mut s);
        s
    };
    let cases: Vec<(Span, &str)> = vec![
        (
            with(&|s| s.trace_id.clear()),
            "trace_id must be 16 bytes, got 0",
        ),
        (
            with(&|s| s.trace_id = vec![0; 16]),
            "trace_id must not be all zeros",
        ),
        (
            with(&|s| s.span_id = vec![1; 9]),
            "span_id must be 8 bytes, got 9",
        ),
        (
            with(&|s| s.span_id = vec![0; 8]),
            "span_id must not be all zeros",
        ),
        (
            with(&|s| s.parent_span_id = vec![1; 3]),
            "parent_span_id must be empty or 8 bytes, got 3",
        ),
        (
            with(&|s| s.start_time_unix_nano = 0),
            "start_time_unix_nano must not be 0",
        ),
        (
            with(&|s| s.end_time_unix_nano = u64::MAX),
            "end_time_unix_nano 18446744073709551615 is after the year 2262",
        ),
        (
            with(&|s| s.events[1].time_unix_nano = 1 << 63),
            "event 1: time_unix_nano 9223372036854775808 is after the year 2262",
        ),
        (
            with(&|s| s.links[0].span_id.clear()),
            "link 0: span_id must be 8 bytes, got 0",
        ),
    ];
    for (span, want) in &cases {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![good.clone(), span.clone()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let c = traces(&req);
        assert_eq!((c.accepted, c.rejected), (1, 1), "{want}");
        assert_eq!(
            c.error.as_deref(),
            Some(&*format!("span 1 of scope 0 of resource 0: {want}"))
        );
        assert_eq!(c.rows.expect("rows").batch.num_rows(), 1);
    }

    // Positions name the resource and scope too; with nothing accepted there are no rows.
    let bad = |s: &Span| ScopeSpans {
        spans: vec![s.clone()],
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans::default(),
            ResourceSpans {
                scope_spans: vec![ScopeSpans::default(), bad(&cases[0].0), bad(&cases[5].0)],
                ..Default::default()
            },
        ],
    };
    let c = traces(&req);
    assert!(c.rows.is_none());
    assert_eq!((c.accepted, c.rejected), (0, 2));
    assert_eq!(
        c.error.as_deref(),
        Some("span 0 of scope 1 of resource 1: trace_id must be 16 bytes, got 0")
    );
}

#[test]
fn an_empty_request_converts_to_nothing() {
    let c = traces(&ExportTraceServiceRequest::default());
    assert!(c.rows.is_none() && c.error.is_none());
    assert_eq!((c.accepted, c.rejected), (0, 0));
    let c = metrics(&ExportMetricsServiceRequest::default());
    assert!(c.rows.is_none() && c.error.is_none());
}

// ---------------------------------------------------------------------------------------------
// Logs

fn record(body: Option<Value>) -> LogRecord {
    LogRecord {
        time_unix_nano: T0,
        observed_time_unix_nano: T0 + 5,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: body.map(|v| AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

#[test]
fn log_records_fill_every_column() {
    let bodies = vec![
        Some(s("plain \"text\"")),
        Some(Value::IntValue(42)),
        Some(Value::DoubleValue(2.5)),
        Some(Value::DoubleValue(f64::NAN)),
        Some(Value::BoolValue(false)),
        Some(Value::BytesValue(vec![1, 2, 3])),
        Some(Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(s("x")),
                },
                AnyValue { value: None },
            ],
        })),
        Some(Value::KvlistValue(KeyValueList {
            values: vec![
                kv("msg", s("hi")),
                kv("n", Value::IntValue(-1)),
                kv(
                    "nested",
                    Value::KvlistValue(KeyValueList {
                        values: vec![kv("b", Value::BytesValue(vec![255]))],
                    }),
                ),
            ],
        })),
        None,
    ];
    let mut records: Vec<LogRecord> = bodies.into_iter().map(record).collect();
    records[0].trace_id = id16(3);
    records[0].span_id = id8(4);
    records[0].flags = 1;
    records[0].attributes = every_type();
    records[0].dropped_attributes_count = 2;
    records[0].event_name = "app.start".into();
    records[1].time_unix_nano = 0;
    records[1].severity_number = 17;
    records[1].severity_text = String::new();
    let n = records.len();
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(vec![
                kv("service.name", s("api")),
                kv("service.name", s("api2")),
            ]),
            scope_logs: vec![ScopeLogs {
                scope: scope("logger", "", vec![]),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: "https://r".into(),
        }],
    };
    let c = logs(&req);
    assert_eq!(
        (c.accepted, c.rejected, c.error.as_deref()),
        (n as u64, 0, None)
    );
    let rows = c.rows.expect("rows");
    assert!(rows.series.is_none());
    let b = &rows.batch;
    assert_schema(b, common::schema::logs_schema());

    let t0 = T0 as i64;
    let mut times = vec![t0; n];
    times[1] = t0 + 5; // time_unix_nano 0: the observed time stands in
    assert_eq!(i64s(b, "time_unix_nano"), times);
    assert_eq!(i64s(b, "observed_time_unix_nano"), vec![t0 + 5; n]);
    let mut sev = vec![9; n];
    sev[1] = 17;
    assert_eq!(i32s(b, "severity_number"), sev);
    let mut sev_text = vec![Some("INFO".to_owned()); n];
    sev_text[1] = None;
    assert_eq!(strs(b, "severity_text"), sev_text);
    let want_bodies = [
        Some("plain \"text\""),
        Some("42"),
        Some("2.5"),
        Some("\"NaN\""),
        Some("false"),
        Some("\"AQID\""),
        Some(r#"["x",null]"#),
        Some(r#"{"msg":"hi","n":-1,"nested":{"b":"/w=="}}"#),
        None,
    ];
    assert_eq!(strs(b, "body"), want_bodies.map(|b| b.map(str::to_owned)));
    let mut trace_ids = vec![None; n];
    trace_ids[0] = Some(id16(3));
    assert_eq!(ids(b, "trace_id"), trace_ids);
    let mut span_ids = vec![None; n];
    span_ids[0] = Some(id8(4));
    assert_eq!(ids(b, "span_id"), span_ids);
    let mut flags = vec![0; n];
    flags[0] = 1;
    assert_eq!(u32s(b, "flags"), flags);
    let mut events = vec![None; n];
    events[0] = Some("app.start".to_owned());
    assert_eq!(strs(b, "event_name"), events);
    // The last of duplicate keys wins, in the service name as in the map.
    assert_eq!(str_values(b, "service_name"), vec!["api2"; n]);
    assert_eq!(
        maps(b, "resource_attributes"),
        vec![pairs(&[("service.name", "api2")]); n]
    );
    assert_eq!(
        strs(b, "resource_schema_url"),
        vec![Some("https://r".to_owned()); n]
    );
    assert_eq!(strs(b, "scope_name"), vec![Some("logger".to_owned()); n]);
    assert_eq!(strs(b, "scope_version"), vec![None; n]);
    assert_eq!(maps(b, "scope_attributes"), vec![vec![]; n]);
    assert_eq!(strs(b, "scope_schema_url"), vec![None; n]);
    let mut attrs = vec![vec![]; n];
    attrs[0] = every_type_rendered();
    assert_eq!(maps(b, "attributes"), attrs);
    let mut dropped = vec![0; n];
    dropped[0] = 2;
    assert_eq!(u32s(b, "dropped_attributes_count"), dropped);
}

#[test]
fn bad_log_records_are_rejected() {
    let good = record(Some(s("ok")));
    let mut short_trace = good.clone();
    short_trace.trace_id = vec![1; 5];
    let mut short_span = good.clone();
    short_span.span_id = vec![1; 3];
    let mut late = good.clone();
    late.observed_time_unix_nano = u64::MAX;
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![good.clone(), short_trace, short_span, late, good],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let c = logs(&req);
    assert_eq!((c.accepted, c.rejected), (2, 3));
    assert_eq!(
        c.error.as_deref(),
        Some("log record 1 of scope 0 of resource 0: trace_id must be empty or 16 bytes, got 5")
    );
    let rows = c.rows.expect("rows");
    assert_eq!(rows.batch.num_rows(), 2);
    assert_eq!(
        str_values(&rows.batch, "service_name"),
        [UNKNOWN_SERVICE, UNKNOWN_SERVICE]
    );
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// The samples of a converted metrics request, with their labels from the series batch.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    ts: i64,
    value: f64,
}

/// A row of the series batch.
#[derive(Debug, Clone, PartialEq)]
struct SeriesRow {
    name: String,
    labels: Vec<(String, String)>,
    prom_type: String,
    unit: String,
    description: String,
}

fn samples_of(c: &Converted) -> (Vec<Sample>, BTreeMap<u64, SeriesRow>) {
    let rows = c.rows.as_ref().expect("rows");
    let b = &rows.batch;
    assert_schema(b, common::schema::samples_schema());
    let series = rows.series.as_ref().expect("series");
    assert_schema(series, common::schema::series_schema());

    let mut by_id = BTreeMap::new();
    let sids = col::<UInt64Array>(series, "series_id").values().to_vec();
    let labels = maps(series, "labels");
    for (i, id) in sids.iter().enumerate() {
        let row = SeriesRow {
            name: str_values(series, "metric_name")[i].clone(),
            labels: labels[i]
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().expect("label value")))
                .collect(),
            prom_type: str_values(series, "metric_type")[i].clone(),
            unit: str_values(series, "unit")[i].clone(),
            description: str_values(series, "description")[i].clone(),
        };
        // Labels are sorted, and the id is their fingerprint.
        let mut sorted = row.labels.clone();
        sorted.sort();
        assert_eq!(row.labels, sorted);
        let fp = series_fingerprint(
            &row.name,
            row.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        assert_eq!(*id, fp, "{row:?}");
        assert!(by_id.insert(*id, row).is_none(), "series {id} twice");
    }

    let names = str_values(b, "metric_name");
    let ts = i64s(b, "timestamp_ms");
    let values = col::<Float64Array>(b, "value").values().to_vec();
    let samples = col::<UInt64Array>(b, "series_id")
        .values()
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let series = by_id
                .get(id)
                .expect("every sample's series is in the series batch");
            assert_eq!(series.name, names[i]);
            Sample {
                name: names[i].clone(),
                labels: series.labels.iter().cloned().collect(),
                ts: ts[i],
                value: values[i],
            }
        })
        .collect();
    (samples, by_id)
}

fn gauge_point(attrs: Vec<KeyValue>, t: u64, v: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: t,
        value: Some(v),
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        description: format!("about {name}"),
        data: Some(data),
        ..Default::default()
    }
}

fn metrics_request(
    resource_attrs: Vec<KeyValue>,
    metrics: Vec<Metric>,
) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(resource_attrs),
            scope_metrics: vec![ScopeMetrics {
                scope: scope("meter", "0.1", vec![kv("ignored", s("x"))]),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn labels(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = [
        ("job", "shop/api"),
        ("instance", "i-1"),
        ("otel_scope_name", "meter"),
        ("otel_scope_version", "0.1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        l.insert(k.to_string(), v.to_string());
    }
    l
}

fn sample(name: &str, extra: &[(&str, &str)], ts: i64, value: f64) -> Sample {
    Sample {
        name: name.into(),
        labels: labels(extra),
        ts,
        value,
    }
}

fn service_attrs() -> Vec<KeyValue> {
    vec![
        kv("service.name", s("api")),
        kv("service.namespace", s("shop")),
        kv("service.instance.id", s("i-1")),
    ]
}

const MS: i64 = (T0 / 1_000_000) as i64;

#[test]
fn gauges_and_sums_become_one_sample_per_point() {
    use number_data_point::Value::{AsDouble, AsInt};
    let attrs = || {
        vec![
            kv("state", s("used")),
            kv("http.method", s("GET")),
            kv("code", Value::IntValue(200)),
        ]
    };
    let req = metrics_request(
        service_attrs(),
        vec![
            metric(
                "system.memory.usage",
                "By",
                metric::Data::Gauge(Gauge {
                    data_points: vec![
                        gauge_point(attrs(), T0, AsInt(1024)),
                        gauge_point(vec![], T0 + 2_000_000, AsDouble(0.5)),
                    ],
                }),
            ),
            metric(
                "requests",
                "1",
                metric::Data::Sum(Sum {
                    data_points: vec![gauge_point(vec![], T0, AsInt(7))],
                    aggregation_temporality: 2,
                    is_monotonic: true,
                }),
            ),
            metric(
                "queue.size",
                "{item}",
                metric::Data::Sum(Sum {
                    data_points: vec![gauge_point(vec![], T0, AsDouble(-3.5))],
                    aggregation_temporality: 1,
                    is_monotonic: false,
                }),
            ),
            metric(
                "cpu.utilization",
                "1",
                metric::Data::Gauge(Gauge {
                    data_points: vec![gauge_point(vec![], T0, AsDouble(0.25))],
                }),
            ),
            metric(
                "jobs.done",
                "1",
                metric::Data::Sum(Sum {
                    data_points: vec![gauge_point(vec![], T0, AsInt(3))],
                    aggregation_temporality: 1,
                    is_monotonic: true,
                }),
            ),
        ],
    );
    let c = metrics(&req);
    assert_eq!((c.accepted, c.rejected, c.error.as_deref()), (6, 0, None));
    let (samples, series) = samples_of(&c);
    let used = [("state", "used"), ("http_method", "GET"), ("code", "200")];
    assert_eq!(
        samples,
        [
            sample("system_memory_usage_bytes", &used, MS, 1024.0),
            sample("system_memory_usage_bytes", &[], MS + 2, 0.5),
            sample("requests_total", &[], MS, 7.0),
            sample("queue_size", &[], MS, -3.5),
            sample("cpu_utilization_ratio", &[], MS, 0.25),
            sample("jobs_done_total", &[], MS, 3.0),
        ]
    );
    let types: Vec<(&str, &str, &str, &str)> = series
        .values()
        .map(|s| {
            (
                s.name.as_str(),
                s.prom_type.as_str(),
                s.unit.as_str(),
                s.description.as_str(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        types,
        [
            (
                "cpu_utilization_ratio",
                "gauge",
                "1",
                "about cpu.utilization"
            ),
            ("jobs_done_total", "delta_counter", "1", "about jobs.done"),
            ("queue_size", "delta_gauge", "{item}", "about queue.size"),
            ("requests_total", "counter", "1", "about requests"),
            (
                "system_memory_usage_bytes",
                "gauge",
                "By",
                "about system.memory.usage"
            ),
        ]
    );
    assert_eq!(series.len(), 6, "one row per distinct series");
}

#[test]
fn histograms_become_cumulative_buckets() {
    let point = |sum: Option<f64>, attrs: Vec<KeyValue>| HistogramDataPoint {
        attributes: attrs,
        time_unix_nano: T0,
        count: 15,
        sum,
        bucket_counts: vec![1, 2, 3, 4, 5],
        explicit_bounds: vec![0.005, 0.5, 1.0, 2.5],
        ..Default::default()
    };
    let req = metrics_request(
        service_attrs(),
        vec![metric(
            "http.server.duration",
            "s",
            metric::Data::Histogram(Histogram {
                data_points: vec![
                    point(Some(12.5), vec![]),
                    point(None, vec![kv("route", s("/a"))]),
                    HistogramDataPoint {
                        time_unix_nano: T0,
                        count: 3,
                        sum: Some(1.0),
                        ..Default::default()
                    },
                ],
                aggregation_temporality: 2,
            }),
        )],
    );
    let c = metrics(&req);
    assert_eq!((c.accepted, c.rejected, c.error.as_deref()), (3, 0, None));
    let (samples, series) = samples_of(&c);
    let b = "http_server_duration_seconds_bucket";
    let mut want = vec![
        sample(b, &[("le", "0.005")], MS, 1.0),
        sample(b, &[("le", "0.5")], MS, 3.0),
        sample(b, &[("le", "1")], MS, 6.0),
        sample(b, &[("le", "2.5")], MS, 10.0),
        sample(b, &[("le", "+Inf")], MS, 15.0),
        sample("http_server_duration_seconds_sum", &[], MS, 12.5),
        sample("http_server_duration_seconds_count", &[], MS, 15.0),
    ];
    for (le, v) in [
        ("0.005", 1.0),
        ("0.5", 3.0),
        ("1", 6.0),
        ("2.5", 10.0),
        ("+Inf", 15.0),
    ] {
        want.push(sample(b, &[("le", le), ("route", "/a")], MS, v));
    }
    want.push(sample(
        "http_server_duration_seconds_count",
        &[("route", "/a")],
        MS,
        15.0,
    ));
    // No bucket counts: only the +Inf bucket.
    want.push(sample(b, &[("le", "+Inf")], MS, 3.0));
    want.push(sample("http_server_duration_seconds_sum", &[], MS, 1.0));
    want.push(sample("http_server_duration_seconds_count", &[], MS, 3.0));
    assert_eq!(samples, want);
    assert!(series
        .values()
        .all(|s| s.prom_type == "histogram" && s.unit == "s"));
    // The third point's series are the first one's.
    assert_eq!(series.len(), 13);

    // Delta temporality: the same samples, typed as delta.
    let mut delta = req.clone();
    if let Some(metric::Data::Histogram(h)) =
        &mut delta.resource_metrics[0].scope_metrics[0].metrics[0].data
    {
        h.aggregation_temporality = 1;
    }
    let c = metrics(&delta);
    let (delta_samples, delta_series) = samples_of(&c);
    assert_eq!(delta_samples, want);
    assert!(delta_series
        .values()
        .all(|s| s.prom_type == "delta_histogram"));
}

#[test]
fn exponential_histograms_become_classic_buckets() {
    let req = metrics_request(
        service_attrs(),
        vec![metric(
            "latency",
            "ms",
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![
                    ExponentialHistogramDataPoint {
                        time_unix_nano: T0,
                        count: 10,
                        sum: Some(3.0),
                        scale: 0,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: 0,
                            bucket_counts: vec![2, 3],
                        }),
                        negative: Some(Buckets {
                            offset: 1,
                            bucket_counts: vec![4],
                        }),
                        zero_threshold: 0.0,
                        ..Default::default()
                    },
                    ExponentialHistogramDataPoint {
                        attributes: vec![kv("scale", s("1"))],
                        time_unix_nano: T0,
                        count: 6,
                        scale: 1,
                        zero_count: 0,
                        zero_threshold: 1e-9,
                        positive: Some(Buckets {
                            offset: -1,
                            bucket_counts: vec![1, 0, 5],
                        }),
                        ..Default::default()
                    },
                ],
                aggregation_temporality: 2,
            }),
        )],
    );
    let c = metrics(&req);
    assert_eq!((c.accepted, c.rejected, c.error.as_deref()), (2, 0, None));
    let (samples, _) = samples_of(&c);
    let b = "latency_milliseconds_bucket";
    let sc = ("scale", "1");
    assert_eq!(
        samples,
        [
            // Negative bucket 1 holds [-4, -2): its upper bound is -2.
            sample(b, &[("le", "-2")], MS, 4.0),
            sample(b, &[("le", "0")], MS, 5.0),
            sample(b, &[("le", "2")], MS, 7.0),
            sample(b, &[("le", "4")], MS, 10.0),
            sample(b, &[("le", "+Inf")], MS, 10.0),
            sample("latency_milliseconds_sum", &[], MS, 3.0),
            sample("latency_milliseconds_count", &[], MS, 10.0),
            // Scale 1: base sqrt(2); buckets -1, 0, 1 end at 2^0, 2^0.5, 2^1.
            sample(b, &[("le", "0.000000001"), sc], MS, 0.0),
            sample(b, &[("le", "1"), sc], MS, 1.0),
            sample(b, &[("le", "1.4142135623730951"), sc], MS, 1.0),
            sample(b, &[("le", "2"), sc], MS, 6.0),
            sample(b, &[("le", "+Inf"), sc], MS, 6.0),
            sample("latency_milliseconds_count", &[sc], MS, 6.0),
        ]
    );
}

#[test]
fn summaries_become_quantiles_sum_and_count() {
    let req = metrics_request(
        service_attrs(),
        vec![metric(
            "rpc.latency",
            "ms",
            metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T0,
                    count: 100,
                    sum: 250.5,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 2.0,
                        },
                        ValueAtQuantile {
                            quantile: 0.99,
                            value: 9.5,
                        },
                        ValueAtQuantile {
                            quantile: 1.0,
                            value: 12.0,
                        },
                    ],
                    ..Default::default()
                }],
            }),
        )],
    );
    let c = metrics(&req);
    let (samples, series) = samples_of(&c);
    let n = "rpc_latency_milliseconds";
    assert_eq!(
        samples,
        [
            sample(n, &[("quantile", "0.5")], MS, 2.0),
            sample(n, &[("quantile", "0.99")], MS, 9.5),
            sample(n, &[("quantile", "1")], MS, 12.0),
            sample("rpc_latency_milliseconds_sum", &[], MS, 250.5),
            sample("rpc_latency_milliseconds_count", &[], MS, 100.0),
        ]
    );
    assert!(series.values().all(|s| s.prom_type == "summary"));
}

#[test]
fn target_info_carries_the_other_resource_attributes() {
    let mut attrs = service_attrs();
    attrs.push(kv("host.name", s("h1")));
    attrs.push(kv("k8s.pod.uid", Value::IntValue(5)));
    attrs.push(kv("empty", s("")));
    let point = |t| gauge_point(vec![], t, number_data_point::Value::AsInt(1));
    let req = metrics_request(
        attrs,
        vec![metric(
            "up",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![point(T0 + 9_000_000), point(T0)],
            }),
        )],
    );
    let (samples, series) = samples_of(&metrics(&req));
    let target = samples.last().expect("target_info").clone();
    assert_eq!(samples.len(), 3);
    assert_eq!(target.name, "target_info");
    assert_eq!(target.ts, MS + 9, "the latest point's time");
    assert_eq!(target.value, 1.0);
    let want: BTreeMap<String, String> = [
        ("host_name", "h1"),
        ("instance", "i-1"),
        ("job", "shop/api"),
        ("k8s_pod_uid", "5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(target.labels, want);
    let row = series
        .values()
        .find(|s| s.name == "target_info")
        .expect("series");
    assert_eq!((row.prom_type.as_str(), row.unit.as_str()), ("gauge", ""));

    // Only service attributes: no target_info; no service.namespace: job is the name alone.
    let req = metrics_request(
        vec![kv("service.name", s("solo"))],
        vec![metric(
            "up",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![point(T0)],
            }),
        )],
    );
    let (samples, _) = samples_of(&metrics(&req));
    assert_eq!(samples.len(), 1);
    let want: BTreeMap<String, String> = [
        ("job", "solo"),
        ("otel_scope_name", "meter"),
        ("otel_scope_version", "0.1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(samples[0].labels, want);
}

#[test]
fn label_names_are_sanitised_and_collisions_joined() {
    let attrs = vec![
        kv("a.b", s("dot")),
        kv("a-b", s("dash")),
        kv("1st", s("one")),
        kv("job", s("overridden by the resource")),
        kv("blank", s("")),
        empty_kv("none"),
        kv("dup", s("old")),
        kv("dup", s("new")),
    ];
    let req = metrics_request(
        service_attrs(),
        vec![metric(
            "m",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![gauge_point(attrs, T0, number_data_point::Value::AsInt(1))],
            }),
        )],
    );
    let (samples, _) = samples_of(&metrics(&req));
    // `a-b` sorts before `a.b`, so its value comes first.
    assert_eq!(
        samples,
        [sample(
            "m",
            &[("a_b", "dash;dot"), ("key_1st", "one"), ("dup", "new")],
            MS,
            1.0
        )]
    );
}

#[test]
fn no_recorded_value_points_become_stale_markers() {
    let flagged = NumberDataPoint {
        time_unix_nano: T0,
        flags: 1,
        value: None,
        ..Default::default()
    };
    let hist = HistogramDataPoint {
        time_unix_nano: T0,
        flags: 1,
        explicit_bounds: vec![1.0],
        bucket_counts: vec![0, 0],
        sum: Some(0.0),
        ..Default::default()
    };
    let req = metrics_request(
        vec![],
        vec![
            metric(
                "g",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: vec![flagged],
                }),
            ),
            metric(
                "h",
                "",
                metric::Data::Histogram(Histogram {
                    data_points: vec![hist],
                    aggregation_temporality: 2,
                }),
            ),
        ],
    );
    let c = metrics(&req);
    assert_eq!((c.accepted, c.rejected), (2, 0));
    let b = &c.rows.expect("rows").batch;
    let values = col::<Float64Array>(b, "value");
    assert_eq!(values.len(), 5);
    assert!(values.values().iter().all(|v| v.to_bits() == STALE_NAN));
}

#[test]
fn bad_points_and_nameless_metrics_are_rejected() {
    use number_data_point::Value::AsInt;
    let ok = || gauge_point(vec![], T0, AsInt(1));
    let req = metrics_request(
        vec![],
        vec![
            metric(
                "ok",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: vec![ok(), gauge_point(vec![], 0, AsInt(1))],
                }),
            ),
            metric(
                "",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: vec![ok(), ok(), ok()],
                }),
            ),
            metric(
                "h",
                "",
                metric::Data::Histogram(Histogram {
                    data_points: vec![
                        HistogramDataPoint {
                            time_unix_nano: T0,
                            explicit_bounds: vec![1.0],
                            bucket_counts: vec![1],
                            ..Default::default()
                        },
                        HistogramDataPoint {
                            time_unix_nano: T0,
                            explicit_bounds: vec![2.0, 1.0],
                            ..Default::default()
                        },
                    ],
                    aggregation_temporality: 2,
                }),
            ),
            metric(
                "novalue",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        time_unix_nano: T0,
                        ..Default::default()
                    }],
                }),
            ),
            metric(
                "e",
                "",
                metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        time_unix_nano: T0,
                        scale: 21,
                        ..Default::default()
                    }],
                    aggregation_temporality: 2,
                }),
            ),
        ],
    );
    let c = metrics(&req);
    assert_eq!((c.accepted, c.rejected), (1, 8));
    assert_eq!(
        c.error.as_deref(),
        Some("data point 1 of metric 0 of scope 0 of resource 0: time_unix_nano must not be 0")
    );
    let (samples, _) = samples_of(&c);
    assert_eq!(samples.len(), 1);

    let errors = |m: Metric| {
        metrics(&metrics_request(vec![], vec![ok_metric(), m]))
            .error
            .unwrap_or_default()
    };
    fn ok_metric() -> Metric {
        metric(
            "ok",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![gauge_point(vec![], T0, AsInt(1))],
            }),
        )
    }
    assert_eq!(
        errors(metric(
            "",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![gauge_point(vec![], T0, AsInt(1))]
            })
        )),
        "metric 1 of scope 0 of resource 0: metric name is empty"
    );
    let h = |p: HistogramDataPoint| {
        metric(
            "h",
            "",
            metric::Data::Histogram(Histogram {
                data_points: vec![p],
                aggregation_temporality: 2,
            }),
        )
    };
    assert_eq!(
        errors(h(HistogramDataPoint { time_unix_nano: T0, explicit_bounds: vec![1.0], bucket_counts: vec![1], ..Default::default() })),
        "data point 0 of metric 1 of scope 0 of resource 0: bucket_counts has 1 entries for 1 explicit_bounds, expected 2"
    );
    assert_eq!(
        errors(h(HistogramDataPoint { time_unix_nano: T0, explicit_bounds: vec![1.0, f64::NAN], ..Default::default() })),
        "data point 0 of metric 1 of scope 0 of resource 0: explicit_bounds must be strictly increasing"
    );
    assert_eq!(
        errors(metric(
            "g",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    time_unix_nano: T0,
                    ..Default::default()
                }]
            })
        )),
        "data point 0 of metric 1 of scope 0 of resource 0: data point has no value"
    );
}

// ---------------------------------------------------------------------------------------------
// Replay

#[test]
fn the_decoder_replays_exactly_what_ingest_converted() {
    let d = OtlpDecoder;
    let traces_req = traces_request();
    let rows = d
        .decode(Signal::Traces, &traces_req.encode_to_vec())
        .expect("decode");
    assert_eq!(rows.batch, traces(&traces_req).rows.expect("rows").batch);

    let logs_req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record(Some(s("x")))],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let rows = d
        .decode(Signal::Logs, &logs_req.encode_to_vec())
        .expect("decode");
    assert_eq!(rows.batch, logs(&logs_req).rows.expect("rows").batch);

    let metrics_req = metrics_request(
        service_attrs(),
        vec![metric(
            "x",
            "s",
            metric::Data::Gauge(Gauge {
                data_points: vec![gauge_point(vec![], T0, number_data_point::Value::AsInt(1))],
            }),
        )],
    );
    let rows = d
        .decode(Signal::Metrics, &metrics_req.encode_to_vec())
        .expect("decode");
    let want = metrics(&metrics_req).rows.expect("rows");
    assert_eq!(rows.batch, want.batch);
    assert_eq!(rows.series, want.series);

    // Nothing accepted: empty rows of the right shape.
    let rows = d.decode(Signal::Metrics, &[]).expect("decode");
    assert_eq!(rows.batch.num_rows(), 0);
    assert_eq!(rows.series.map(|s| s.num_rows()), Some(0));

    let err = d
        .decode(Signal::Logs, b"\xff\xff\xff")
        .expect_err("garbage");
    assert!(
        err.starts_with("failed to decode otlp logs request"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties of random valid requests

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::StringValue),
        any::<i64>().prop_map(Value::IntValue),
        any::<f64>().prop_map(Value::DoubleValue),
        any::<bool>().prop_map(Value::BoolValue),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::BytesValue),
    ]
}

/// Attributes with distinct keys.
fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::btree_map("[a-z.]{1,8}", scalar(), 0..5)
        .prop_map(|m| m.into_iter().map(|(k, v)| kv(&k, v)).collect())
}

/// The value rendered back: the value the text must parse to.
fn check_rendered(v: &Value, text: &str) {
    match v {
        Value::StringValue(s) => assert_eq!(text, s),
        Value::IntValue(i) => assert_eq!(text.parse::<i64>().ok(), Some(*i)),
        Value::DoubleValue(d) if d.is_nan() => assert_eq!(text, "NaN"),
        Value::DoubleValue(d) if d.is_infinite() => {
            assert_eq!(text, if *d > 0.0 { "+Inf" } else { "-Inf" });
        }
        Value::DoubleValue(d) => assert_eq!(
            text.parse::<f64>().map(f64::to_bits).ok(),
            Some(d.to_bits())
        ),
        Value::BoolValue(b) => assert_eq!(text, b.to_string()),
        Value::BytesValue(b) => {
            use base64::Engine as _;
            assert_eq!(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .as_ref(),
                Some(b)
            );
        }
        other => panic!("not a scalar: {other:?}"),
    }
}

fn check_attrs(kvs: &[KeyValue], got: &[(String, Option<String>)]) {
    assert_eq!(kvs.len(), got.len());
    for (kv, (k, v)) in kvs.iter().zip(got) {
        assert_eq!(&kv.key, k);
        let value = kv
            .value
            .as_ref()
            .and_then(|v| v.value.as_ref())
            .expect("value");
        check_rendered(value, v.as_deref().expect("non-null"));
    }
}

fn nonzero_id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), len)
        .prop_filter("non-zero", |v| v.iter().any(|&b| b != 0))
}

fn span() -> impl Strategy<Value = Span> {
    (
        nonzero_id(16),
        nonzero_id(8),
        1..=i64::MAX as u64,
        0..=i64::MAX as u64,
        attributes(),
        "[ -~]{0,12}",
    )
        .prop_map(|(trace_id, span_id, start, end, attributes, name)| Span {
            trace_id,
            span_id,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes,
            name,
            ..Default::default()
        })
}

fn shape<T: std::fmt::Debug>(
    item: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<Vec<Vec<T>>>> {
    let scope = proptest::collection::vec(item, 0..6);
    proptest::collection::vec(proptest::collection::vec(scope, 0..3), 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_spans_round_trip(shape in shape(span()), svc in "[a-z]{1,6}") {
        let req = ExportTraceServiceRequest {
            resource_spans: shape.iter().map(|scopes| ResourceSpans {
                resource: resource(vec![kv("service.name", s(&svc))]),
                scope_spans: scopes.iter().map(|spans| ScopeSpans { spans: spans.clone(), ..Default::default() }).collect(),
                schema_url: String::new(),
            }).collect(),
        };
        let spans: Vec<&Span> = shape.iter().flatten().flatten().collect();
        let c = traces(&req);
        prop_assert_eq!((c.accepted, c.rejected), (spans.len() as u64, 0));
        let Some(rows) = c.rows else {
            prop_assert!(spans.is_empty());
            return Ok(());
        };
        let b = &rows.batch;
        prop_assert_eq!(b.num_rows(), spans.len());
        let (trace_ids, span_ids) = (ids(b, "trace_id"), ids(b, "span_id"));
        let (start, end) = (i64s(b, "start_time_unix_nano"), i64s(b, "end_time_unix_nano"));
        let attrs = maps(b, "attributes");
        for (i, span) in spans.iter().enumerate() {
            prop_assert_eq!(trace_ids[i].as_ref(), Some(&span.trace_id));
            prop_assert_eq!(span_ids[i].as_ref(), Some(&span.span_id));
            prop_assert_eq!(start[i] as u64, span.start_time_unix_nano);
            prop_assert_eq!(end[i] as u64, span.end_time_unix_nano);
            check_attrs(&span.attributes, &attrs[i]);
        }
        prop_assert!(str_values(b, "service_name").iter().all(|s| *s == svc));
    }

    #[test]
    fn random_log_records_round_trip(
        shape in shape((0..=i64::MAX as u64, 0..=i64::MAX as u64, attributes(), scalar()))
    ) {
        let records: Vec<Vec<Vec<LogRecord>>> = shape.iter().map(|r| r.iter().map(|s| s.iter().map(|(t, o, attrs, body)| LogRecord {
            time_unix_nano: *t,
            observed_time_unix_nano: *o,
            attributes: attrs.clone(),
            body: Some(AnyValue { value: Some(body.clone()) }),
            ..Default::default()
        }).collect()).collect()).collect();
        let req = ExportLogsServiceRequest {
            resource_logs: records.iter().map(|scopes| ResourceLogs {
                scope_logs: scopes.iter().map(|l| ScopeLogs { log_records: l.clone(), ..Default::default() }).collect(),
                ..Default::default()
            }).collect(),
        };
        let flat: Vec<&LogRecord> = records.iter().flatten().flatten().collect();
        let c = logs(&req);
        prop_assert_eq!((c.accepted, c.rejected), (flat.len() as u64, 0));
        let Some(rows) = c.rows else {
            prop_assert!(flat.is_empty());
            return Ok(());
        };
        let b = &rows.batch;
        prop_assert_eq!(b.num_rows(), flat.len());
        let (time, observed, attrs) = (i64s(b, "time_unix_nano"), i64s(b, "observed_time_unix_nano"), maps(b, "attributes"));
        let bodies = strs(b, "body");
        for (i, r) in flat.iter().enumerate() {
            let t = if r.time_unix_nano == 0 { r.observed_time_unix_nano } else { r.time_unix_nano };
            prop_assert_eq!(time[i] as u64, t);
            prop_assert_eq!(observed[i] as u64, r.observed_time_unix_nano);
            check_attrs(&r.attributes, &attrs[i]);
            let body = r.body.as_ref().and_then(|b| b.value.as_ref()).expect("body");
            let text = bodies[i].as_deref().expect("body text");
            match body {
                // Non-string bodies are JSON: strings of base64 bytes and of non-finite doubles.
                Value::BytesValue(_) => check_rendered(body, text.trim_matches('"')),
                Value::DoubleValue(d) if !d.is_finite() => check_rendered(body, text.trim_matches('"')),
                _ => check_rendered(body, text),
            }
        }
    }

    #[test]
    fn random_gauges_round_trip(
        shape in shape((1..=u64::MAX, any::<f64>(), proptest::collection::btree_map("[a-z]{1,4}", "[a-z0-9]{1,4}", 0..4)))
    ) {
        let req = ExportMetricsServiceRequest {
            resource_metrics: shape.iter().map(|scopes| ResourceMetrics {
                scope_metrics: scopes.iter().map(|points| ScopeMetrics {
                    metrics: vec![metric("g", "", metric::Data::Gauge(Gauge {
                        data_points: points.iter().map(|(t, v, attrs)| NumberDataPoint {
                            time_unix_nano: *t,
                            value: Some(number_data_point::Value::AsDouble(*v)),
                            attributes: attrs.iter().map(|(k, v)| kv(k, s(v))).collect(),
                            ..Default::default()
                        }).collect(),
                    }))],
                    ..Default::default()
                }).collect(),
                ..Default::default()
            }).collect(),
        };
        let points: Vec<_> = shape.iter().flatten().flatten().collect();
        let c = metrics(&req);
        prop_assert_eq!((c.accepted, c.rejected), (points.len() as u64, 0));
        if points.is_empty() {
            prop_assert!(c.rows.is_none());
            return Ok(());
        }
        let (samples, series) = samples_of(&c);
        prop_assert_eq!(samples.len(), points.len());
        let distinct: std::collections::BTreeSet<_> = points.iter().map(|(_, _, a)| a).collect();
        prop_assert_eq!(series.len(), distinct.len());
        for (sample, (t, v, attrs)) in samples.iter().zip(&points) {
            prop_assert_eq!(sample.ts as u64, t / 1_000_000);
            prop_assert_eq!(sample.value.to_bits(), v.to_bits());
            prop_assert_eq!(&sample.labels, attrs);
        }
    }
}

#[test]
fn series_rows_that_storage_knows_are_left_out() {
    let point = |t, shard: &str| {
        gauge_point(
            vec![kv("shard", s(shard))],
            t,
            number_data_point::Value::AsInt(1),
        )
    };
    let req = metrics_request(
        service_attrs(),
        vec![metric(
            "up",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![point(T0, "a"), point(T0, "b"), point(T0 + 1, "a")],
            }),
        )],
    );
    let all = metrics(&req);
    let (samples, series) = samples_of(&all);
    let ids: Vec<u64> = series.keys().copied().collect();
    assert_eq!(ids.len(), 2, "two `up` series");

    let known_id = ids[0];
    let known = move |id: u64| id == known_id;
    let skipping = metrics_skipping(&req, Some(&known), &ConvertLimits::default());
    let rows = skipping.rows.as_ref().expect("rows");
    assert_eq!(
        rows.batch,
        all.rows.as_ref().unwrap().batch,
        "samples unchanged"
    );
    let left: Vec<u64> = col::<UInt64Array>(rows.series.as_ref().unwrap(), "series_id")
        .values()
        .to_vec();
    let mut want: Vec<u64> = ids[1..].to_vec();
    let mut got = left.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(samples.len(), 3);

    let none = metrics_skipping(&req, Some(&|_| true), &ConvertLimits::default());
    assert_eq!(
        none.rows
            .as_ref()
            .unwrap()
            .series
            .as_ref()
            .unwrap()
            .num_rows(),
        0
    );
}
