use std::fmt;
use std::str::FromStr;

/// The three kinds of telemetry Vigil stores. Each has its own WAL records, head and segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans (table `spans`).
    Traces,
    /// Log records (table `logs`).
    Logs,
    /// Metric samples (tables `samples` and `series`).
    Metrics,
}

impl Signal {
    /// Every signal, in a fixed order.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];

    /// The name used in paths and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }

    /// The name of the signal's main table.
    pub fn table(self) -> &'static str {
        match self {
            Signal::Traces => crate::schema::SPANS,
            Signal::Logs => crate::schema::LOGS,
            Signal::Metrics => crate::schema::SAMPLES,
        }
    }

    /// The signal whose main table is `table` (`None` for `series` and unknown names).
    pub fn from_table(table: &str) -> Option<Self> {
        Signal::ALL.into_iter().find(|s| s.table() == table)
    }

    /// The schema of the signal's main table.
    pub fn schema(self) -> arrow::datatypes::SchemaRef {
        match self {
            Signal::Traces => crate::schema::spans_schema(),
            Signal::Logs => crate::schema::logs_schema(),
            Signal::Metrics => crate::schema::samples_schema(),
        }
    }

    /// The column the main table is pruned and partitioned by, and how many nanoseconds one
    /// unit of it is.
    pub fn time_column(self) -> (&'static str, i64) {
        match self {
            Signal::Traces => ("start_time_unix_nano", 1),
            Signal::Logs => ("time_unix_nano", 1),
            Signal::Metrics => ("timestamp_ms", 1_000_000),
        }
    }

    /// The byte that stands for this signal in WAL records.
    pub fn to_byte(self) -> u8 {
        match self {
            Signal::Traces => 1,
            Signal::Logs => 2,
            Signal::Metrics => 3,
        }
    }

    /// The inverse of [`Signal::to_byte`].
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Signal::Traces),
            2 => Some(Signal::Logs),
            3 => Some(Signal::Metrics),
            _ => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Signal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "traces" => Ok(Signal::Traces),
            "logs" => Ok(Signal::Logs),
            "metrics" => Ok(Signal::Metrics),
            other => Err(format!("unknown signal {other:?}")),
        }
    }
}
