//! LogQL over the stored logs ([`LokiEngine`]): a query's selections loaded through SQL (time
//! range, `service_name` and leading line filters pushed down, so the segment index prunes
//! what they exclude), turned into Loki's streams (labels, structured metadata), and handed to
//! the pure `logql` evaluator.

mod engine;
mod rows;

pub use engine::{
    DetectedField, IndexStats, LokiAnswer, LokiEngine, LokiLimits, Pattern, DEFAULT_PROMOTED,
};
