//! What the span-metrics and service-graph generator is told.

use std::time::Duration;

/// Settings of the generator (`[generator]` in the server's configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Whether spans are turned into metrics at all.
    pub enabled: bool,
    /// Extra span-metrics labels: attribute keys looked up in the resource, then the span
    /// (`http.method` becomes label `http_method`).
    pub dimensions: Vec<String>,
    /// How often the series are written (each write stamps every series with its time).
    pub collection_interval: Duration,
    /// Most series (span metrics and service-graph edges together) one tenant may have;
    /// spans that would add one more are counted in no series and in
    /// `vigil_generator_dropped_spans_total`.
    pub max_series: usize,
    /// A series not updated for this long is no longer written.
    pub stale_after: Duration,
    /// How long half of a service-graph edge (a client span or a server span) waits for the
    /// other half.
    pub graph_wait: Duration,
    /// Most half edges waiting at once, per tenant.
    pub graph_max_items: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dimensions: Vec::new(),
            collection_interval: Duration::from_secs(15),
            max_series: 10_000,
            stale_after: Duration::from_secs(15 * 60),
            graph_wait: Duration::from_secs(10),
            graph_max_items: 10_000,
        }
    }
}
