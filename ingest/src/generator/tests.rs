use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};

use prost::Message;

use super::*;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn span(
    trace: u8,
    id: u8,
    parent: u8,
    name: &str,
    kind: i32,
    ms: u64,
    error: bool,
    attrs: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            vec![parent; 8]
        },
        name: name.into(),
        kind,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_000_000_000 + ms * 1_000_000,
        attributes: attrs,
        status: Some(Status {
            message: String::new(),
            code: if error {
                status::StatusCode::Error as i32
            } else {
                status::StatusCode::Ok as i32
            },
        }),
        ..Span::default()
    }
}

fn resource(service: Option<&str>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: service
                .map(|s| vec![kv("service.name", s)])
                .unwrap_or_default(),
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..ScopeSpans::default()
        }],
        schema_url: String::new(),
    }
}

/// The value of the last sample of the series named `name` whose labels include `labels`.
fn value(req: &WriteRequest, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    req.timeseries
        .iter()
        .find(|ts| {
            let has = |k: &str, v: &str| ts.labels.iter().any(|l| l.name == k && l.value == v);
            has("__name__", name) && labels.iter().all(|(k, v)| has(k, v))
        })
        .and_then(|ts| ts.samples.last())
        .map(|s| s.value)
}

fn tenant() -> Tenant {
    Tenant::from_header(Some(b"t1")).unwrap()
}

#[test]
fn spans_become_red_metrics_and_service_graph_edges() {
    let g = Generator::new(GeneratorConfig {
        dimensions: vec!["http.method".into()],
        ..GeneratorConfig::default()
    });
    // web (client, 30 ms) calls api (server, 20 ms, failed), which queries a database; a
    // span of a resource without a service name still counts in span metrics.
    let request = ExportTraceServiceRequest {
        resource_spans: vec![
            resource(
                Some("web"),
                vec![
                    span(
                        1,
                        1,
                        0,
                        "GET /",
                        2,
                        40,
                        false,
                        vec![kv("http.method", "GET")],
                    ),
                    span(1, 2, 1, "call api", 3, 30, false, vec![]),
                ],
            ),
            resource(
                Some("api"),
                vec![
                    span(
                        1,
                        3,
                        2,
                        "handle",
                        2,
                        20,
                        true,
                        vec![kv("http.method", "GET")],
                    ),
                    span(
                        1,
                        4,
                        3,
                        "SELECT",
                        3,
                        5,
                        false,
                        vec![kv("db.system", "postgresql")],
                    ),
                ],
            ),
            resource(None, vec![span(2, 9, 0, "orphan", 1, 1, false, vec![])]),
        ],
    };
    let delta = g.digest(&request);
    g.apply(&tenant(), delta, 60_500);
    let out = g.collect(75_000);
    assert_eq!(out.len(), 1);
    let (t, req) = &out[0];
    assert_eq!(t, &tenant());

    let server_get = [
        ("service", "web"),
        ("span_name", "GET /"),
        ("span_kind", "SPAN_KIND_SERVER"),
        ("status_code", "STATUS_CODE_OK"),
        ("http_method", "GET"),
    ];
    assert_eq!(
        value(req, "traces_spanmetrics_calls_total", &server_get),
        Some(1.0)
    );
    assert_eq!(
        value(
            req,
            "traces_spanmetrics_latency_bucket",
            &[("service", "web"), ("span_name", "GET /"), ("le", "0.032")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            req,
            "traces_spanmetrics_latency_bucket",
            &[("service", "web"), ("span_name", "GET /"), ("le", "0.064")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            req,
            "traces_spanmetrics_latency_sum",
            &[("service", "web"), ("span_name", "GET /")]
        ),
        Some(0.04)
    );
    assert_eq!(
        value(
            req,
            "traces_spanmetrics_calls_total",
            &[("service", "api"), ("status_code", "STATUS_CODE_ERROR")]
        ),
        Some(1.0)
    );
    // The size counts the span's protobuf encoding.
    let size = request.resource_spans[0].scope_spans[0].spans[0].encoded_len() as f64;
    assert_eq!(
        value(req, "traces_spanmetrics_size_total", &server_get),
        Some(size)
    );
    // No service: no `service` label at all.
    let orphan = req
        .timeseries
        .iter()
        .find(|ts| {
            ts.labels
                .iter()
                .any(|l| l.name == "span_name" && l.value == "orphan")
        })
        .expect("orphan series");
    assert!(orphan.labels.iter().all(|l| l.name != "service"));

    // Edges: web → api (failed: the server side failed), api → postgresql (database).
    let web_api = [("client", "web"), ("server", "api")];
    assert_eq!(
        value(req, "traces_service_graph_request_total", &web_api),
        Some(1.0)
    );
    assert_eq!(
        value(req, "traces_service_graph_request_failed_total", &web_api),
        Some(1.0)
    );
    assert_eq!(
        value(
            req,
            "traces_service_graph_request_server_seconds_sum",
            &web_api
        ),
        Some(0.02)
    );
    assert_eq!(
        value(
            req,
            "traces_service_graph_request_client_seconds_sum",
            &web_api
        ),
        Some(0.03)
    );
    let plain =
        req.timeseries
            .iter()
            .find(|ts| {
                ts.labels.iter().any(|l| {
                    l.name == "__name__" && l.value == "traces_service_graph_request_total"
                }) && ts
                    .labels
                    .iter()
                    .any(|l| l.name == "client" && l.value == "web")
            })
            .expect("edge");
    assert!(plain.labels.iter().all(|l| l.name != "connection_type"));
    // The root span of web waited in vain for a caller: `user` calls it.
    assert_eq!(
        value(
            req,
            "traces_service_graph_request_total",
            &[
                ("client", "user"),
                ("server", "web"),
                ("connection_type", "virtual_node")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            req,
            "traces_service_graph_request_total",
            &[
                ("client", "api"),
                ("server", "postgresql"),
                ("connection_type", "database")
            ]
        ),
        Some(1.0)
    );

    // A first write starts with a zero just before the minute; exemplars name the trace.
    let calls = req
        .timeseries
        .iter()
        .find(|ts| {
            ts.labels
                .iter()
                .any(|l| l.value == "traces_spanmetrics_calls_total")
        })
        .expect("calls");
    let samples: Vec<(i64, f64)> = calls
        .samples
        .iter()
        .map(|s| (s.timestamp, s.value))
        .collect();
    assert_eq!(samples[0], (59_000, 0.0));
    assert_eq!(samples[1].0, 75_000);
    let bucket = req
        .timeseries
        .iter()
        .find(|ts| {
            ts.labels
                .iter()
                .any(|l| l.name == "le" && l.value == "0.064")
                && ts.labels.iter().any(|l| l.value == "GET /")
        })
        .expect("bucket");
    assert_eq!(bucket.exemplars.len(), 1);
    assert_eq!(bucket.exemplars[0].labels[0].name, "traceID");
    assert_eq!(bucket.exemplars[0].labels[0].value, hex::encode([1u8; 16]));

    // The next collection: cumulative, no zero sample, exemplars written once.
    g.apply(&tenant(), g.digest(&request), 80_000);
    let out = g.collect(90_000);
    let req = &out[0].1;
    assert_eq!(
        value(req, "traces_spanmetrics_calls_total", &server_get),
        Some(2.0)
    );
    assert!(req.timeseries.iter().all(|ts| ts.samples.len() == 1));
    // Series not updated for `stale_after` are forgotten.
    assert!(g.collect(90_000 + 16 * 60_000).is_empty());
}

#[test]
fn a_series_limit_and_a_disabled_generator_count_nothing_more() {
    let g = Generator::new(GeneratorConfig {
        max_series: 1,
        ..GeneratorConfig::default()
    });
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource(
            Some("web"),
            vec![
                span(1, 1, 0, "a", 1, 1, false, vec![]),
                span(1, 2, 1, "b", 1, 1, false, vec![]),
            ],
        )],
    };
    g.apply(&tenant(), g.digest(&request), 1000);
    let out = g.collect(2000);
    let names: Vec<&str> = out[0]
        .1
        .timeseries
        .iter()
        .filter(|ts| {
            ts.labels
                .iter()
                .any(|l| l.value == "traces_spanmetrics_calls_total")
        })
        .flat_map(|ts| {
            ts.labels
                .iter()
                .filter(|l| l.name == "span_name")
                .map(|l| l.value.as_str())
        })
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let off = Generator::new(GeneratorConfig {
        enabled: false,
        ..GeneratorConfig::default()
    });
    assert!(off.digest(&request).is_empty());
}

#[test]
fn unpaired_halves_expire_after_the_wait() {
    let g = Generator::new(GeneratorConfig {
        graph_wait: Duration::from_secs(10),
        ..GeneratorConfig::default()
    });
    // A root server span with nobody calling it: `user` calls it, once the wait is over.
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource(
            Some("api"),
            vec![span(1, 1, 0, "h", 2, 1, false, vec![])],
        )],
    };
    g.apply(&tenant(), g.digest(&request), 0);
    let edge = [
        ("client", "user"),
        ("server", "api"),
        ("connection_type", "virtual_node"),
    ];
    let out = g.collect(5_000);
    assert_eq!(
        value(&out[0].1, "traces_service_graph_request_total", &edge),
        None
    );
    let out = g.collect(10_000);
    assert_eq!(
        value(&out[0].1, "traces_service_graph_request_total", &edge),
        Some(1.0)
    );
}
