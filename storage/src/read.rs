//! Storage's read interface, what every query engine reads through: a [`ReadView`] of the
//! stored tables (the seam the engine implements), series selection through the series
//! postings ([`select_series`], [`label_equals`], [`label_matching`]), sample runs of chosen
//! series in a time window ([`SampleReader`]), exemplars ([`read_exemplars`]) and the format
//! of segment files for engines that scan Parquet themselves ([`segment_format`]).

mod exemplars;
mod samples;
mod scan;
mod series;
mod view;

pub use exemplars::{read_exemplars, Exemplar};
pub use samples::SampleReader;
pub use scan::{segment_format, DerivedColumn, SegmentFormat};
pub use series::{label_equals, label_matching, select_series, METRIC_NAME_LABEL};
pub use view::{MetricRead, ReadView, TableSnapshot};
