//! Metrics of the query crate, on `/metrics`: query API requests by API and endpoint (the
//! route's pattern, so the label set stays small), their errors by `errorType` and durations,
//! and the queries running on the query runtime.

use std::sync::LazyLock;

use prometheus::{
    register_histogram_vec, register_int_counter, register_int_counter_vec, register_int_gauge,
    HistogramVec, IntCounter, IntCounterVec, IntGauge,
};

/// Requests answered, by API, endpoint and HTTP status code.
pub(crate) static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_http_requests_total",
        "query api requests answered, by api, endpoint and status code",
        &["api", "endpoint", "code"]
    )
    .expect("metric registers once")
});

/// Error answers, by API, endpoint and `errorType`.
pub(crate) static ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_http_request_errors_total",
        "query api requests answered with an error, by api, endpoint and error type",
        &["api", "endpoint", "error_type"]
    )
    .expect("metric registers once")
});

/// Time to answer, by API and endpoint.
pub(crate) static DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "vigil_http_request_duration_seconds",
        "time to answer a query api request, by api and endpoint",
        &["api", "endpoint"],
        vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0
        ]
    )
    .expect("metric registers once")
});

/// Queries running on the query runtime now (a query whose timeout passed is no longer
/// running once its work has stopped).
static RUNNING: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_query_running",
        "queries running on the query runtime"
    )
    .expect("metric registers once")
});

/// Queries stopped by their timeout.
pub(crate) static TIMEOUTS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_query_timeouts_total",
        "queries stopped because they ran past their timeout"
    )
    .expect("metric registers once")
});

/// Counts a query as running for as long as it lives (its work ends or is dropped).
#[derive(Debug)]
pub(crate) struct Running(());

impl Running {
    /// Counts one more running query.
    pub(crate) fn start() -> Self {
        RUNNING.inc();
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.dec();
    }
}
