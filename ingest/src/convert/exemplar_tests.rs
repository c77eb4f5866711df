//! Exemplars of OTLP points and remote-write series: which series they go to, and their labels.

use std::collections::HashMap;

use arrow::array::{Array, MapArray, RecordBatch, StringArray, UInt64Array};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, Exemplar, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
    ScopeMetrics,
};
use storage::ExemplarColumns as Columns;

use crate::remote_write::{Exemplar as RwExemplar, Label, TimeSeries, WriteRequest};

/// Series id → `name{k="v",...}` from the `series` rows.
fn names(series: &RecordBatch) -> HashMap<u64, String> {
    let ids = series
        .column(0)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap();
    let name = series
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let labels = series
        .column(2)
        .as_any()
        .downcast_ref::<MapArray>()
        .unwrap();
    (0..series.num_rows())
        .map(|i| {
            let entries = labels.value(i);
            let k = entries
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let v = entries
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let l: Vec<String> = (0..k.len())
                .map(|j| format!("{}={:?}", k.value(j), v.value(j)))
                .collect();
            (
                ids.value(i),
                format!("{}{{{}}}", name.value(i), l.join(",")),
            )
        })
        .collect()
}

/// Each exemplar as (series, time, value, labels).
/// An exemplar as the tests compare it: series, time, value, labels.
type Row = (String, i64, f64, Vec<(String, String)>);

fn exemplars(rows: &storage::Rows) -> Vec<Row> {
    let names = names(rows.series.as_ref().unwrap());
    let batch = rows.exemplars.as_ref().expect("exemplars");
    let c = Columns::of(batch).unwrap();
    (0..batch.num_rows())
        .map(|i| {
            let labels = c.labels(i);
            (
                names[&c.series_id.value(i)].clone(),
                c.timestamp.value(i),
                c.value.value(i),
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        })
        .collect()
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn histogram_exemplars_go_to_the_bucket_of_the_smallest_bound_at_or_above_their_value() {
    let ex = |v: f64, t_ns: u64, trace: Vec<u8>, attrs: Vec<KeyValue>| Exemplar {
        filtered_attributes: attrs,
        time_unix_nano: t_ns,
        value: Some(exemplar::Value::AsDouble(v)),
        span_id: vec![],
        trace_id: trace,
    };
    let attr = KeyValue {
        key: "http.route".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("/x".into())),
        }),
        ..Default::default()
    };
    let point = HistogramDataPoint {
        time_unix_nano: 9_000_000_000,
        count: 4,
        bucket_counts: vec![1, 1, 2],
        explicit_bounds: vec![1.0, 2.0],
        exemplars: vec![
            // On a bound: that bucket (`le` is inclusive).
            ex(1.0, 8_000_000_000, vec![0xaa; 16], vec![attr]),
            ex(1.5, 0, vec![0; 16], vec![]),
            ex(3.0, 8_500_000_000, vec![1, 2], vec![]),
        ],
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "lat".into(),
                    data: Some(metric::Data::Histogram(Histogram {
                        data_points: vec![point],
                        aggregation_temporality: 2,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let rows = super::metrics(&req).rows.unwrap();
    assert_eq!(
        exemplars(&rows),
        vec![
            (
                r#"lat_bucket{le="1"}"#.to_string(),
                8_000,
                1.0,
                l(&[("http_route", "/x"), ("trace_id", &"aa".repeat(16))]),
            ),
            // No time: the point's. An all-zero trace id is no trace id.
            (r#"lat_bucket{le="2"}"#.to_string(), 9_000, 1.5, l(&[])),
            // A trace id of the wrong length is left out.
            (r#"lat_bucket{le="+Inf"}"#.to_string(), 8_500, 3.0, l(&[])),
        ]
    );
}

#[test]
fn remote_write_exemplars_keep_their_labels_and_series_without_samples_get_a_series_row() {
    let label = |name: &str, value: &str| Label {
        name: name.into(),
        value: value.into(),
    };
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "x_total"), label("job", "j")],
            samples: vec![],
            exemplars: vec![RwExemplar {
                labels: vec![label("trace_id", "t1"), label("a", "1"), label("b", "")],
                value: 4.0,
                timestamp: 77,
            }],
        }],
        metadata: vec![],
    };
    let converted = super::remote_write(&req, None, &super::ConvertLimits::NONE);
    assert_eq!((converted.accepted, converted.rejected), (0, 0));
    let rows = converted.rows.unwrap();
    assert_eq!(rows.batch.num_rows(), 0);
    assert_eq!(
        exemplars(&rows),
        vec![(
            r#"x_total{job="j"}"#.to_string(),
            77,
            4.0,
            l(&[("a", "1"), ("trace_id", "t1")]),
        )]
    );
}
