//! `ExportMetricsServiceRequest` and the metric messages under it: every data type (gauge, sum,
//! histogram, exponential histogram, summary), exemplars and data point flags.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use serde_json::Value;

use super::attributes::{key_values, resource, scope};
use super::value::{self, members, Path, Result};

/// Reads an `ExportMetricsServiceRequest` (the same JSON as `MetricsData`).
pub(super) fn request(v: &Value, path: &Path<'_>) -> Result<ExportMetricsServiceRequest> {
    let mut out = ExportMetricsServiceRequest::default();
    for (k, v) in members(v, path)? {
        if let "resourceMetrics" | "resource_metrics" = k {
            out.resource_metrics =
                value::list(v, &path.field("resourceMetrics"), resource_metrics)?;
        }
    }
    Ok(out)
}

fn resource_metrics(v: &Value, path: &Path<'_>) -> Result<ResourceMetrics> {
    let mut out = ResourceMetrics::default();
    for (k, v) in members(v, path)? {
        match k {
            "resource" => out.resource = Some(resource(v, &path.field("resource"))?),
            "scopeMetrics" | "scope_metrics" => {
                out.scope_metrics = value::list(v, &path.field("scopeMetrics"), scope_metrics)?;
            }
            "schemaUrl" | "schema_url" => {
                out.schema_url = value::string(v, &path.field("schemaUrl"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn scope_metrics(v: &Value, path: &Path<'_>) -> Result<ScopeMetrics> {
    let mut out = ScopeMetrics::default();
    for (k, v) in members(v, path)? {
        match k {
            "scope" => out.scope = Some(scope(v, &path.field("scope"))?),
            "metrics" => out.metrics = value::list(v, &path.field("metrics"), metric)?,
            "schemaUrl" | "schema_url" => {
                out.schema_url = value::string(v, &path.field("schemaUrl"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn metric(v: &Value, path: &Path<'_>) -> Result<Metric> {
    let mut out = Metric::default();
    for (k, v) in members(v, path)? {
        match k {
            "name" => out.name = value::string(v, &path.field("name"))?,
            "description" => out.description = value::string(v, &path.field("description"))?,
            "unit" => out.unit = value::string(v, &path.field("unit"))?,
            "metadata" => out.metadata = key_values(v, &path.field("metadata"))?,
            "gauge" => out.data = Some(Data::Gauge(gauge(v, &path.field("gauge"))?)),
            "sum" => out.data = Some(Data::Sum(sum(v, &path.field("sum"))?)),
            "histogram" => {
                out.data = Some(Data::Histogram(histogram(v, &path.field("histogram"))?));
            }
            "exponentialHistogram" | "exponential_histogram" => {
                out.data = Some(Data::ExponentialHistogram(exponential_histogram(
                    v,
                    &path.field("exponentialHistogram"),
                )?));
            }
            "summary" => out.data = Some(Data::Summary(summary(v, &path.field("summary"))?)),
            _ => {}
        }
    }
    Ok(out)
}

fn temporality(name: &str) -> Option<i32> {
    AggregationTemporality::from_str_name(name).map(|t| t as i32)
}

fn gauge(v: &Value, path: &Path<'_>) -> Result<Gauge> {
    let mut out = Gauge::default();
    for (k, v) in members(v, path)? {
        if let "dataPoints" | "data_points" = k {
            out.data_points = value::list(v, &path.field("dataPoints"), number_point)?;
        }
    }
    Ok(out)
}

fn sum(v: &Value, path: &Path<'_>) -> Result<Sum> {
    let mut out = Sum::default();
    for (k, v) in members(v, path)? {
        match k {
            "dataPoints" | "data_points" => {
                out.data_points = value::list(v, &path.field("dataPoints"), number_point)?;
            }
            "aggregationTemporality" | "aggregation_temporality" => {
                out.aggregation_temporality =
                    value::enumeration(v, &path.field("aggregationTemporality"), temporality)?;
            }
            "isMonotonic" | "is_monotonic" => {
                out.is_monotonic = value::boolean(v, &path.field("isMonotonic"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn histogram(v: &Value, path: &Path<'_>) -> Result<Histogram> {
    let mut out = Histogram::default();
    for (k, v) in members(v, path)? {
        match k {
            "dataPoints" | "data_points" => {
                out.data_points = value::list(v, &path.field("dataPoints"), histogram_point)?;
            }
            "aggregationTemporality" | "aggregation_temporality" => {
                out.aggregation_temporality =
                    value::enumeration(v, &path.field("aggregationTemporality"), temporality)?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn exponential_histogram(v: &Value, path: &Path<'_>) -> Result<ExponentialHistogram> {
    let mut out = ExponentialHistogram::default();
    for (k, v) in members(v, path)? {
        match k {
            "dataPoints" | "data_points" => {
                out.data_points = value::list(v, &path.field("dataPoints"), exponential_point)?;
            }
            "aggregationTemporality" | "aggregation_temporality" => {
                out.aggregation_temporality =
                    value::enumeration(v, &path.field("aggregationTemporality"), temporality)?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn summary(v: &Value, path: &Path<'_>) -> Result<Summary> {
    let mut out = Summary::default();
    for (k, v) in members(v, path)? {
        if let "dataPoints" | "data_points" = k {
            out.data_points = value::list(v, &path.field("dataPoints"), summary_point)?;
        }
    }
    Ok(out)
}

fn number_point(v: &Value, path: &Path<'_>) -> Result<NumberDataPoint> {
    use number_data_point::Value as V;
    let mut out = NumberDataPoint::default();
    for (k, v) in members(v, path)? {
        match k {
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "startTimeUnixNano" | "start_time_unix_nano" => {
                out.start_time_unix_nano = value::u64(v, &path.field("startTimeUnixNano"))?;
            }
            "timeUnixNano" | "time_unix_nano" => {
                out.time_unix_nano = value::u64(v, &path.field("timeUnixNano"))?;
            }
            "asDouble" | "as_double" => {
                out.value = Some(V::AsDouble(value::f64(v, &path.field("asDouble"))?));
            }
            "asInt" | "as_int" => out.value = Some(V::AsInt(value::i64(v, &path.field("asInt"))?)),
            "exemplars" => out.exemplars = value::list(v, &path.field("exemplars"), exemplar)?,
            "flags" => out.flags = value::u32(v, &path.field("flags"))?,
            _ => {}
        }
    }
    Ok(out)
}

fn histogram_point(v: &Value, path: &Path<'_>) -> Result<HistogramDataPoint> {
    let mut out = HistogramDataPoint::default();
    for (k, v) in members(v, path)? {
        match k {
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "startTimeUnixNano" | "start_time_unix_nano" => {
                out.start_time_unix_nano = value::u64(v, &path.field("startTimeUnixNano"))?;
            }
            "timeUnixNano" | "time_unix_nano" => {
                out.time_unix_nano = value::u64(v, &path.field("timeUnixNano"))?;
            }
            "count" => out.count = value::u64(v, &path.field("count"))?,
            "sum" => out.sum = Some(value::f64(v, &path.field("sum"))?),
            "bucketCounts" | "bucket_counts" => {
                out.bucket_counts = value::u64s(v, &path.field("bucketCounts"))?;
            }
            "explicitBounds" | "explicit_bounds" => {
                out.explicit_bounds = value::f64s(v, &path.field("explicitBounds"))?;
            }
            "exemplars" => out.exemplars = value::list(v, &path.field("exemplars"), exemplar)?,
            "flags" => out.flags = value::u32(v, &path.field("flags"))?,
            "min" => out.min = Some(value::f64(v, &path.field("min"))?),
            "max" => out.max = Some(value::f64(v, &path.field("max"))?),
            _ => {}
        }
    }
    Ok(out)
}

fn exponential_point(v: &Value, path: &Path<'_>) -> Result<ExponentialHistogramDataPoint> {
    let mut out = ExponentialHistogramDataPoint::default();
    for (k, v) in members(v, path)? {
        match k {
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "startTimeUnixNano" | "start_time_unix_nano" => {
                out.start_time_unix_nano = value::u64(v, &path.field("startTimeUnixNano"))?;
            }
            "timeUnixNano" | "time_unix_nano" => {
                out.time_unix_nano = value::u64(v, &path.field("timeUnixNano"))?;
            }
            "count" => out.count = value::u64(v, &path.field("count"))?,
            "sum" => out.sum = Some(value::f64(v, &path.field("sum"))?),
            "scale" => out.scale = value::i32(v, &path.field("scale"))?,
            "zeroCount" | "zero_count" => out.zero_count = value::u64(v, &path.field("zeroCount"))?,
            "positive" => out.positive = Some(buckets(v, &path.field("positive"))?),
            "negative" => out.negative = Some(buckets(v, &path.field("negative"))?),
            "flags" => out.flags = value::u32(v, &path.field("flags"))?,
            "exemplars" => out.exemplars = value::list(v, &path.field("exemplars"), exemplar)?,
            "min" => out.min = Some(value::f64(v, &path.field("min"))?),
            "max" => out.max = Some(value::f64(v, &path.field("max"))?),
            "zeroThreshold" | "zero_threshold" => {
                out.zero_threshold = value::f64(v, &path.field("zeroThreshold"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn buckets(v: &Value, path: &Path<'_>) -> Result<Buckets> {
    let mut out = Buckets::default();
    for (k, v) in members(v, path)? {
        match k {
            "offset" => out.offset = value::i32(v, &path.field("offset"))?,
            "bucketCounts" | "bucket_counts" => {
                out.bucket_counts = value::u64s(v, &path.field("bucketCounts"))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn summary_point(v: &Value, path: &Path<'_>) -> Result<SummaryDataPoint> {
    let mut out = SummaryDataPoint::default();
    for (k, v) in members(v, path)? {
        match k {
            "attributes" => out.attributes = key_values(v, &path.field("attributes"))?,
            "startTimeUnixNano" | "start_time_unix_nano" => {
                out.start_time_unix_nano = value::u64(v, &path.field("startTimeUnixNano"))?;
            }
            "timeUnixNano" | "time_unix_nano" => {
                out.time_unix_nano = value::u64(v, &path.field("timeUnixNano"))?;
            }
            "count" => out.count = value::u64(v, &path.field("count"))?,
            "sum" => out.sum = value::f64(v, &path.field("sum"))?,
            "quantileValues" | "quantile_values" => {
                out.quantile_values = value::list(v, &path.field("quantileValues"), quantile)?;
            }
            "flags" => out.flags = value::u32(v, &path.field("flags"))?,
            _ => {}
        }
    }
    Ok(out)
}

fn quantile(v: &Value, path: &Path<'_>) -> Result<ValueAtQuantile> {
    let mut out = ValueAtQuantile::default();
    for (k, v) in members(v, path)? {
        match k {
            "quantile" => out.quantile = value::f64(v, &path.field("quantile"))?,
            "value" => out.value = value::f64(v, &path.field("value"))?,
            _ => {}
        }
    }
    Ok(out)
}

fn exemplar(v: &Value, path: &Path<'_>) -> Result<Exemplar> {
    use exemplar::Value as V;
    let mut out = Exemplar::default();
    for (k, v) in members(v, path)? {
        match k {
            "filteredAttributes" | "filtered_attributes" => {
                out.filtered_attributes = key_values(v, &path.field("filteredAttributes"))?;
            }
            "timeUnixNano" | "time_unix_nano" => {
                out.time_unix_nano = value::u64(v, &path.field("timeUnixNano"))?;
            }
            "asDouble" | "as_double" => {
                out.value = Some(V::AsDouble(value::f64(v, &path.field("asDouble"))?));
            }
            "asInt" | "as_int" => out.value = Some(V::AsInt(value::i64(v, &path.field("asInt"))?)),
            "spanId" | "span_id" => out.span_id = value::hex_id(v, &path.field("spanId"))?,
            "traceId" | "trace_id" => out.trace_id = value::hex_id(v, &path.field("traceId"))?,
            _ => {}
        }
    }
    Ok(out)
}
