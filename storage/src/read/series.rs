//! Series selection: look-ups in the series postings by label, and the `series` rows they
//! select. A look-up is a superset (postings hold terms, not every matcher form): the caller
//! checks each row it gets against its own matchers.

use std::sync::Arc;

use arrow::array::RecordBatch;
use common::Tenant;

use super::view::ReadView;
use crate::index::Lookup;

/// The label that holds a series' metric name in PromQL and in the `series` table's look-ups.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// The postings column of label `name` (`__name__` is the metric name).
fn column(name: &str) -> String {
    if name == METRIC_NAME_LABEL {
        "metric_name".to_string()
    } else {
        format!("label:{name}")
    }
}

/// Series whose label `name` is `value`.
pub fn label_equals(name: &str, value: &str) -> Lookup {
    Lookup::AnyOf {
        column: column(name),
        terms: vec![value.as_bytes().to_vec()],
    }
}

/// Series whose label `name` has a value `accept` takes (a label the series lacks is never
/// offered: callers handle matchers that accept the empty value themselves).
pub fn label_matching(name: &str, accept: impl Fn(&str) -> bool + Send + Sync + 'static) -> Lookup {
    Lookup::Matching {
        column: column(name),
        predicate: Arc::new(move |t: &[u8]| std::str::from_utf8(t).is_ok_and(&accept)),
    }
}

/// The rows of the `series` table of `tenant` that `lookup` may select (every series when it
/// is `None`, or when the view has no postings).
pub fn select_series(
    view: &dyn ReadView,
    tenant: &Tenant,
    lookup: Option<&Lookup>,
) -> Vec<RecordBatch> {
    match lookup {
        Some(l) => view
            .select_series(tenant, l)
            .unwrap_or_else(|| view.series(tenant)),
        None => view.series(tenant),
    }
}
