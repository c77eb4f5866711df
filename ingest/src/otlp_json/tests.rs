use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use serde_json::{json, Map, Value};

use super::*;

/// Rewrites every object key from lowerCamelCase to the proto's snake_case names.
fn to_snake_case(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let mut snake = String::new();
                for c in k.chars() {
                    if c.is_ascii_uppercase() {
                        snake.push('_');
                        snake.push(c.to_ascii_lowercase());
                    } else {
                        snake.push(c);
                    }
                }
                out.insert(snake, to_snake_case(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_snake_case).collect()),
        other => other.clone(),
    }
}

fn both_spellings<R: JsonRequest + PartialEq + std::fmt::Debug>(doc: &Value) -> R {
    let camel = R::from_json(doc.to_string().as_bytes()).unwrap();
    let snake_doc = to_snake_case(doc);
    assert_ne!(
        &snake_doc, doc,
        "the document should have camelCase names to rewrite"
    );
    let snake = R::from_json(snake_doc.to_string().as_bytes()).unwrap();
    assert_eq!(camel, snake);
    camel
}

fn string_value(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    })
}

fn traces_doc() -> Value {
    json!({
        "resourceSpans": [{
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}],
                "droppedAttributesCount": 1
            },
            "scopeSpans": [{
                "scope": {"name": "lib", "version": "1.2", "attributes": [], "droppedAttributesCount": 0},
                "spans": [{
                    "traceId": "5B8EFFF798038103D269B633813FC60C",
                    "spanId": "eee19b7ec3c1b174",
                    "parentSpanId": "",
                    "traceState": "k=v",
                    "flags": 257,
                    "name": "GET /cart",
                    "kind": "SPAN_KIND_SERVER",
                    "startTimeUnixNano": "1544712660000000000",
                    "endTimeUnixNano": 1544712661000000000u64,
                    "attributes": [
                        {"key": "int", "value": {"intValue": "-42"}},
                        {"key": "int_number", "value": {"intValue": 42}},
                        {"key": "double", "value": {"doubleValue": 1.5}},
                        {"key": "nan", "value": {"doubleValue": "NaN"}},
                        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
                        {"key": "bool", "value": {"boolValue": true}},
                        {"key": "bytes", "value": {"bytesValue": "AQID"}},
                        {"key": "array", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}},
                        {"key": "kvlist", "value": {"kvlistValue": {"values": [{"key": "inner", "value": {"boolValue": false}}]}}},
                        {"key": "empty", "value": {}}
                    ],
                    "droppedAttributesCount": 2,
                    "events": [{
                        "timeUnixNano": "1544712660500000000",
                        "name": "retry",
                        "attributes": [{"key": "attempt", "value": {"intValue": "2"}}],
                        "droppedAttributesCount": 3
                    }],
                    "droppedEventsCount": 4,
                    "links": [{
                        "traceId": "00000000000000000000000000000001",
                        "spanId": "0000000000000002",
                        "traceState": "x=y",
                        "attributes": [],
                        "droppedAttributesCount": 5,
                        "flags": 1
                    }],
                    "droppedLinksCount": 6,
                    "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                    "someFutureField": {"ignored": true}
                }],
                "schemaUrl": "https://opentelemetry.io/schemas/1.21.0"
            }],
            "schemaUrl": "https://opentelemetry.io/schemas/1.20.0"
        }]
    })
}

#[test]
fn traces_decode_in_both_spellings() {
    let req: ExportTraceServiceRequest = both_spellings_nan(&traces_doc());
    let rs = &req.resource_spans[0];
    assert_eq!(
        rs.resource,
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: string_value("checkout"),
                ..Default::default()
            }],
            dropped_attributes_count: 1,
            ..Default::default()
        })
    );
    assert_eq!(rs.schema_url, "https://opentelemetry.io/schemas/1.20.0");
    let ss = &rs.scope_spans[0];
    assert_eq!(
        ss.scope,
        Some(InstrumentationScope {
            name: "lib".into(),
            version: "1.2".into(),
            ..Default::default()
        })
    );
    assert_eq!(ss.schema_url, "https://opentelemetry.io/schemas/1.21.0");
    let s = &ss.spans[0];
    assert_eq!(
        s.trace_id,
        [
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c
        ]
    );
    assert_eq!(s.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
    assert!(s.parent_span_id.is_empty());
    assert_eq!(s.trace_state, "k=v");
    assert_eq!(s.flags, 257);
    assert_eq!(s.name, "GET /cart");
    assert_eq!(s.kind, span::SpanKind::Server as i32);
    assert_eq!(s.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(s.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(s.dropped_attributes_count, 2);
    assert_eq!(s.dropped_events_count, 4);
    assert_eq!(s.dropped_links_count, 6);
    assert_eq!(
        s.status,
        Some(Status {
            message: "boom".into(),
            code: status::StatusCode::Error as i32
        })
    );

    use any_value::Value as V;
    let attr = |i: usize| s.attributes[i].value.as_ref().and_then(|v| v.value.clone());
    assert_eq!(attr(0), Some(V::IntValue(-42)));
    assert_eq!(attr(1), Some(V::IntValue(42)));
    assert_eq!(attr(2), Some(V::DoubleValue(1.5)));
    assert!(matches!(attr(3), Some(V::DoubleValue(f)) if f.is_nan()));
    assert_eq!(attr(4), Some(V::DoubleValue(f64::NEG_INFINITY)));
    assert_eq!(attr(5), Some(V::BoolValue(true)));
    assert_eq!(attr(6), Some(V::BytesValue(vec![1, 2, 3])));
    assert_eq!(
        attr(7),
        Some(V::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(V::StringValue("a".into()))
                },
                AnyValue {
                    value: Some(V::IntValue(1))
                },
            ]
        }))
    );
    assert_eq!(
        attr(8),
        Some(V::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: "inner".into(),
                value: Some(AnyValue {
                    value: Some(V::BoolValue(false))
                }),
                ..Default::default()
            }]
        }))
    );
    assert_eq!(s.attributes[9].value, Some(AnyValue { value: None }));

    let e = &s.events[0];
    assert_eq!(
        (
            e.time_unix_nano,
            e.name.as_str(),
            e.dropped_attributes_count
        ),
        (1_544_712_660_500_000_000, "retry", 3)
    );
    assert_eq!(
        e.attributes[0].value,
        Some(AnyValue {
            value: Some(V::IntValue(2))
        })
    );
    let l = &s.links[0];
    assert_eq!(l.trace_id, {
        let mut id = vec![0; 16];
        id[15] = 1;
        id
    });
    assert_eq!(l.span_id, [0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(
        (l.trace_state.as_str(), l.dropped_attributes_count, l.flags),
        ("x=y", 5, 1)
    );
}

#[test]
fn json_and_protobuf_agree() {
    let req: ExportTraceServiceRequest = both_spellings_nan(&traces_doc());
    let round_trip = ExportTraceServiceRequest::decode(&req.encode_to_vec()[..]).unwrap();
    // NaN != NaN, so compare the encodings.
    assert_eq!(round_trip.encode_to_vec(), req.encode_to_vec());
}

#[test]
fn logs_decode_in_both_spellings() {
    let doc = json!({
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeLogs": [{
                "scope": {"name": "logger"},
                "logRecords": [{
                    "timeUnixNano": "1700000000000000001",
                    "observedTimeUnixNano": 1700000000000000002u64,
                    "severityNumber": "SEVERITY_NUMBER_WARN",
                    "severityText": "WARN",
                    "body": {"kvlistValue": {"values": [{"key": "msg", "value": {"stringValue": "disk low"}}]}},
                    "attributes": [{"key": "free_bytes", "value": {"intValue": "1024"}}],
                    "droppedAttributesCount": 1,
                    "flags": 1,
                    "traceId": "0102030405060708090a0b0c0d0e0f10",
                    "spanId": "0102030405060708",
                    "eventName": "disk.low"
                }, {
                    "severityNumber": 17,
                    "body": {"stringValue": "second"}
                }],
                "schemaUrl": "s"
            }],
            "schemaUrl": "r"
        }]
    });
    let req: ExportLogsServiceRequest = both_spellings(&doc);
    let rl = &req.resource_logs[0];
    assert_eq!(
        (rl.schema_url.as_str(), rl.scope_logs[0].schema_url.as_str()),
        ("r", "s")
    );
    assert_eq!(
        rl.scope_logs[0].scope.as_ref().map(|s| s.name.as_str()),
        Some("logger")
    );
    let r = &rl.scope_logs[0].log_records[0];
    assert_eq!(r.time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(r.observed_time_unix_nano, 1_700_000_000_000_000_002);
    assert_eq!(r.severity_number, 13);
    assert_eq!(r.severity_text, "WARN");
    assert_eq!(
        r.body,
        Some(AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "msg".into(),
                    value: string_value("disk low"),
                    ..Default::default()
                }]
            }))
        })
    );
    assert_eq!(
        r.attributes[0].value,
        Some(AnyValue {
            value: Some(any_value::Value::IntValue(1024))
        })
    );
    assert_eq!((r.dropped_attributes_count, r.flags), (1, 1));
    assert_eq!(r.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(r.span_id, (1..=8).collect::<Vec<u8>>());
    assert_eq!(r.event_name, "disk.low");
    let r2 = &rl.scope_logs[0].log_records[1];
    assert_eq!(r2.severity_number, 17);
    assert_eq!(r2.body, string_value("second"));
}

fn metrics_doc() -> Value {
    let exemplar = json!({
        "filteredAttributes": [{"key": "user", "value": {"stringValue": "u1"}}],
        "timeUnixNano": "1700000000000000000",
        "asInt": "7",
        "spanId": "0102030405060708",
        "traceId": "0102030405060708090A0B0C0D0E0F10"
    });
    json!({
        "resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeMetrics": [{
                "scope": {"name": "meter"},
                "metrics": [
                    {
                        "name": "temperature", "unit": "Cel", "description": "room temp",
                        "metadata": [{"key": "m", "value": {"stringValue": "x"}}],
                        "gauge": {"dataPoints": [{
                            "attributes": [{"key": "room", "value": {"stringValue": "a"}}],
                            "startTimeUnixNano": "1", "timeUnixNano": "2",
                            "asDouble": 21.5, "flags": 1,
                            "exemplars": [{"asDouble": "Infinity", "timeUnixNano": 3}]
                        }]}
                    },
                    {
                        "name": "requests", "unit": "1",
                        "sum": {
                            "dataPoints": [{"timeUnixNano": "2", "asInt": "9007199254740993", "exemplars": [exemplar]}],
                            "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
                            "isMonotonic": true
                        }
                    },
                    {
                        "name": "latency", "unit": "s",
                        "histogram": {
                            "dataPoints": [{
                                "timeUnixNano": "2", "count": "6", "sum": 3.5, "min": 0.1, "max": 2,
                                "bucketCounts": ["1", 2, "3"], "explicitBounds": [0.5, 1]
                            }],
                            "aggregationTemporality": 1
                        }
                    },
                    {
                        "name": "size",
                        "exponentialHistogram": {
                            "dataPoints": [{
                                "timeUnixNano": "2", "count": "10", "sum": 100, "scale": -2,
                                "zeroCount": "1", "zeroThreshold": 0.001,
                                "positive": {"offset": 3, "bucketCounts": ["4", "5"]},
                                "negative": {"offset": -1, "bucketCounts": [1]},
                                "min": -1, "max": 50
                            }],
                            "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA"
                        }
                    },
                    {
                        "name": "rpc_duration",
                        "summary": {"dataPoints": [{
                            "timeUnixNano": "2", "count": "4", "sum": 8,
                            "quantileValues": [{"quantile": 0.5, "value": 1.5}, {"quantile": 0.99, "value": "NaN"}]
                        }]}
                    }
                ]
            }]
        }]
    })
}

#[test]
fn metrics_decode_in_both_spellings() {
    let req: ExportMetricsServiceRequest = both_spellings_nan(&metrics_doc());
    let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 5);

    let m = &metrics[0];
    assert_eq!(
        (m.name.as_str(), m.unit.as_str(), m.description.as_str()),
        ("temperature", "Cel", "room temp")
    );
    assert_eq!(m.metadata.len(), 1);
    let Some(Data::Gauge(g)) = &m.data else {
        panic!("gauge expected")
    };
    let p = &g.data_points[0];
    assert_eq!(
        (p.start_time_unix_nano, p.time_unix_nano, p.flags),
        (1, 2, 1)
    );
    assert_eq!(p.value, Some(number_data_point::Value::AsDouble(21.5)));
    assert_eq!(p.attributes[0].key, "room");
    assert_eq!(
        p.exemplars[0].value,
        Some(exemplar::Value::AsDouble(f64::INFINITY))
    );
    assert_eq!(p.exemplars[0].time_unix_nano, 3);

    let Some(Data::Sum(s)) = &metrics[1].data else {
        panic!("sum expected")
    };
    assert_eq!(s.aggregation_temporality, 2);
    assert!(s.is_monotonic);
    // Beyond 2^53: only exact if read from the string.
    assert_eq!(
        s.data_points[0].value,
        Some(number_data_point::Value::AsInt(9_007_199_254_740_993))
    );
    let ex = &s.data_points[0].exemplars[0];
    assert_eq!(ex.value, Some(exemplar::Value::AsInt(7)));
    assert_eq!(ex.span_id, (1..=8).collect::<Vec<u8>>());
    assert_eq!(ex.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(ex.filtered_attributes[0].key, "user");

    let Some(Data::Histogram(h)) = &metrics[2].data else {
        panic!("histogram expected")
    };
    assert_eq!(h.aggregation_temporality, 1);
    let p = &h.data_points[0];
    assert_eq!(
        (p.count, p.sum, p.min, p.max),
        (6, Some(3.5), Some(0.1), Some(2.0))
    );
    assert_eq!(p.bucket_counts, [1, 2, 3]);
    assert_eq!(p.explicit_bounds, [0.5, 1.0]);

    let Some(Data::ExponentialHistogram(e)) = &metrics[3].data else {
        panic!("exponential histogram expected")
    };
    assert_eq!(e.aggregation_temporality, 1);
    let p = &e.data_points[0];
    assert_eq!(
        (p.count, p.sum, p.scale, p.zero_count, p.zero_threshold),
        (10, Some(100.0), -2, 1, 0.001)
    );
    assert_eq!(
        p.positive,
        Some(Buckets {
            offset: 3,
            bucket_counts: vec![4, 5]
        })
    );
    assert_eq!(
        p.negative,
        Some(Buckets {
            offset: -1,
            bucket_counts: vec![1]
        })
    );
    assert_eq!((p.min, p.max), (Some(-1.0), Some(50.0)));

    let Some(Data::Summary(s)) = &metrics[4].data else {
        panic!("summary expected")
    };
    let p = &s.data_points[0];
    assert_eq!((p.count, p.sum), (4, 8.0));
    assert_eq!(
        p.quantile_values[0],
        ValueAtQuantile {
            quantile: 0.5,
            value: 1.5
        }
    );
    assert_eq!(p.quantile_values[1].quantile, 0.99);
    assert!(p.quantile_values[1].value.is_nan());
}

/// Like [`both_spellings`], for documents holding NaN (which never equals itself): compares the
/// protobuf encodings.
fn both_spellings_nan<R: JsonRequest + Message>(doc: &Value) -> R {
    let camel = R::from_json(doc.to_string().as_bytes()).unwrap();
    let snake_doc = to_snake_case(doc);
    assert_ne!(
        &snake_doc, doc,
        "the document should have camelCase names to rewrite"
    );
    let snake = R::from_json(snake_doc.to_string().as_bytes()).unwrap();
    assert_eq!(camel.encode_to_vec(), snake.encode_to_vec());
    camel
}

fn decode_error<R: JsonRequest + std::fmt::Debug>(doc: &Value) -> String {
    R::from_json(doc.to_string().as_bytes())
        .unwrap_err()
        .to_string()
}

#[test]
fn errors_name_the_path() {
    let span = |trace_id: &str| json!({"traceId": trace_id, "spanId": "0102030405060708"});
    let doc = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        span("0102030405060708090a0b0c0d0e0f10"),
        span("0102030405060708090A0B0C0D0E0F10"),
        span("not hex"),
    ]}]}]});
    assert_eq!(
        decode_error::<ExportTraceServiceRequest>(&doc),
        "resourceSpans[0].scopeSpans[0].spans[2].traceId: invalid hex"
    );
    // Snake-case documents get the same (camelCase) path.
    assert_eq!(
        decode_error::<ExportTraceServiceRequest>(&to_snake_case(&doc)),
        "resourceSpans[0].scopeSpans[0].spans[2].traceId: invalid hex"
    );

    let doc =
        json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SPAN_KIND_BOGUS"}]}]}]});
    assert_eq!(
        decode_error::<ExportTraceServiceRequest>(&doc),
        "resourceSpans[0].scopeSpans[0].spans[0].kind: unknown enum value \"SPAN_KIND_BOGUS\""
    );

    let doc =
        json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]});
    assert_eq!(
        decode_error::<ExportLogsServiceRequest>(&doc),
        "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: invalid uint64 \"soon\""
    );

    let doc = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "ok"},
        {"sum": {"dataPoints": [{"attributes": [{"key": "k", "value": {"intValue": 1.5}}]}]}}
    ]}]}]});
    assert_eq!(
        decode_error::<ExportMetricsServiceRequest>(&doc),
        "resourceMetrics[0].scopeMetrics[0].metrics[1].sum.dataPoints[0].attributes[0].value.intValue: expected an integer, found 1.5"
    );

    let doc = json!({"resourceSpans": {"not": "an array"}});
    assert_eq!(
        decode_error::<ExportTraceServiceRequest>(&doc),
        "resourceSpans: expected an array, found an object"
    );
    assert_eq!(
        decode_error::<ExportTraceServiceRequest>(&json!([])),
        "expected an object, found an array"
    );
    let not_json = ExportTraceServiceRequest::from_json(b"{\"resourceSpans\": [").unwrap_err();
    assert!(
        not_json.to_string().starts_with("invalid json: "),
        "{not_json}"
    );
}

#[test]
fn ids_are_case_insensitive_and_may_be_empty() {
    let doc = |trace_id: &str, span_id: &str| json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": trace_id, "spanId": span_id}]}]}]});
    let req = |d: Value| ExportTraceServiceRequest::from_json(d.to_string().as_bytes()).unwrap();
    let upper = req(doc("ABCDEF0123456789ABCDEF0123456789", "ABCDEF0123456789"));
    let lower = req(doc("abcdef0123456789abcdef0123456789", "abcdef0123456789"));
    assert_eq!(upper, lower);
    assert_eq!(
        upper.resource_spans[0].scope_spans[0].spans[0].span_id,
        [0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89]
    );
    let empty = req(doc("", ""));
    let span = &empty.resource_spans[0].scope_spans[0].spans[0];
    assert!(span.trace_id.is_empty() && span.span_id.is_empty());
}

#[test]
fn integers_and_enums_take_every_form() {
    let doc = |start: Value, kind: Value| json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": start, "kind": kind}]}]}]});
    let span = |d: Value| {
        ExportTraceServiceRequest::from_json(d.to_string().as_bytes())
            .unwrap()
            .resource_spans[0]
            .scope_spans[0]
            .spans[0]
            .clone()
    };
    let a = span(doc(json!("1700000000123456789"), json!("SPAN_KIND_CLIENT")));
    let b = span(doc(json!(1_700_000_000_123_456_789u64), json!(3)));
    assert_eq!(a, b);
    assert_eq!(a.start_time_unix_nano, 1_700_000_000_123_456_789);
    assert_eq!(a.kind, 3);
    // Unknown enum numbers are kept, as proto3 enums are open.
    assert_eq!(span(doc(json!(0), json!(42))).kind, 42);
}

#[test]
fn nulls_and_unknown_fields_are_ignored() {
    let doc = json!({
        "resourceSpans": [{
            "resource": null,
            "extra": [1, 2, 3],
            "scopeSpans": [{"spans": [{"name": "n", "traceId": null, "futureField": {"a": 1}}]}]
        }],
        "unknownTopLevel": "x"
    });
    let req = ExportTraceServiceRequest::from_json(doc.to_string().as_bytes()).unwrap();
    let expected = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "n".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert_eq!(req, expected);
    assert_eq!(
        ExportTraceServiceRequest::from_json(b"{}").unwrap(),
        ExportTraceServiceRequest::default()
    );
}

#[test]
fn responses_follow_the_proto3_json_mapping() {
    let parse = |b: Vec<u8>| serde_json::from_slice::<Value>(&b).unwrap();
    assert_eq!(
        parse(ExportTraceServiceResponse::default().to_json()),
        json!({})
    );
    let traces = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "bad ids".into(),
        }),
    };
    assert_eq!(
        parse(traces.to_json()),
        json!({"partialSuccess": {"rejectedSpans": "3", "errorMessage": "bad ids"}})
    );
    let logs = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: 0,
            error_message: "warning only".into(),
        }),
    };
    assert_eq!(
        parse(logs.to_json()),
        json!({"partialSuccess": {"errorMessage": "warning only"}})
    );
    assert_eq!(
        parse(ExportMetricsServiceResponse::default().to_json()),
        json!({})
    );
    assert_eq!(
        parse(response::status(3, "bad")),
        json!({"code": 3, "message": "bad"})
    );
}
