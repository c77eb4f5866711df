//! Series selection for PromQL: the series of a tenant that a selector's matchers pick, through
//! storage's series postings, decoded once into PromQL label sets and kept between queries.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, MapArray, RecordBatch, StringArray};
use arrow::datatypes::UInt64Type;
use common::hash::IdMap;
use common::Tenant;
use parking_lot::Mutex;
use promql::label::{MatchOp, Matcher};
use promql::matches;
use promql::value::{Labels, METRIC_NAME};
use storage::index::Lookup;
use storage::read::{label_equals, label_matching, select_series};
use storage::ReadView;

use crate::Result;

/// A series: labels (metric name included) and metadata; cheap to clone.
#[derive(Debug, Clone)]
pub struct SeriesRow {
    /// Whether its samples are per-interval increments (a `delta_` type).
    pub delta: bool,
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// Its stored metric type (`counter`, `gauge`, `histogram`, `summary`, the `delta_`
    /// forms, or an OTLP type name).
    pub metric_type: Arc<str>,
    /// Its unit, empty when none is known.
    pub unit: Arc<str>,
    /// Its description (Prometheus's `HELP`), empty when none is known.
    pub help: Arc<str>,
    /// [`Labels::sort_key`] of `labels`: queries sort the series they read by it.
    pub key: Arc<[u8]>,
}

/// Decoded series rows by tenant and id, shared by queries: decoding a row's labels into
/// strings cost more than the rest of selecting it. A series id is a fingerprint of the labels,
/// so its row never changes.
#[derive(Debug, Default)]
pub(crate) struct SeriesCache(Mutex<HashMap<Tenant, IdMap<Arc<SeriesRow>>>>);

/// Series rows cached per tenant at most (past it the tenant's cache starts over).
const MAX_CACHED_SERIES: usize = 1 << 20;

/// The series postings look-up that narrows `matchers` (a superset: matchers that match the
/// empty value, or negative ones, select every series and are checked afterwards).
fn lookup_of(matchers: &[Matcher]) -> Option<Lookup> {
    let parts: Vec<Lookup> = matchers
        .iter()
        .filter_map(|m| match &m.op {
            MatchOp::Equal if !m.value.is_empty() => Some(label_equals(&m.name, &m.value)),
            MatchOp::Re(re) if !re.is_match("") => {
                let re = re.clone();
                Some(label_matching(&m.name, move |v| re.is_match(v)))
            }
            _ => None,
        })
        .collect();
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(Lookup::And(parts)),
    }
}

/// The series of `tenant` matching all `matchers` (every series when there are none), in the
/// registry's order (callers order them as their answer needs).
pub(crate) fn select(
    view: &dyn ReadView,
    cache: &SeriesCache,
    tenant: &Tenant,
    matchers: &[Matcher],
) -> Result<Vec<(u64, Arc<SeriesRow>)>> {
    let lookup = lookup_of(matchers);
    let mut out = Vec::new();
    let mut cache = cache.0.lock();
    let cached = match cache.get_mut(tenant) {
        Some(c) => c,
        None => cache.entry(tenant.clone()).or_default(),
    };
    if cached.len() > MAX_CACHED_SERIES {
        cached.clear();
    }
    let mut keep = |id: u64, row: &Arc<SeriesRow>| {
        if matchers.iter().all(|m| matches(m, &row.labels)) {
            out.push((id, Arc::clone(row)));
        }
    };
    if let Some(ids) = view.select_series_ids(tenant, lookup.as_ref()) {
        // The registry lists each series once; only rows not decoded before are read.
        let mut missing = Vec::new();
        for id in ids {
            match cached.get(&id) {
                Some(row) => keep(id, row),
                None => missing.push(id),
            }
        }
        if let Some(rows) = (!missing.is_empty())
            .then(|| view.series_rows(tenant, &missing))
            .flatten()
        {
            read_series_batch(&rows, cached, &mut keep)?;
        }
        return Ok(out);
    }
    let batches = select_series(view, tenant, lookup.as_ref());
    let mut seen = IdMap::default();
    for b in &batches {
        read_series_batch(b, cached, |id, row| {
            if seen.insert(id, ()).is_none() {
                keep(id, row);
            }
        })?;
    }
    Ok(out)
}

/// Calls `f` with each row of a `series` batch, decoded once and kept in `cache`.
fn read_series_batch(
    b: &RecordBatch,
    cache: &mut IdMap<Arc<SeriesRow>>,
    mut f: impl FnMut(u64, &Arc<SeriesRow>),
) -> Result<()> {
    let bad = || storage::Error::Read("unexpected series table layout".into());
    let ids = b
        .column_by_name("series_id")
        .and_then(|c| c.as_primitive_opt::<UInt64Type>())
        .ok_or_else(bad)?;
    let names = b
        .column_by_name("metric_name")
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(bad)?;
    let labels = b
        .column_by_name("labels")
        .and_then(|c| c.as_any().downcast_ref::<MapArray>())
        .ok_or_else(bad)?;
    let text = |name: &str| {
        b.column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .cloned()
    };
    let (types, units, helps) = (text("metric_type"), text("unit"), text("description"));
    let keys = labels
        .keys()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(bad)?;
    let values = labels
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(bad)?;
    let offsets = labels.value_offsets();
    for row in 0..b.num_rows() {
        let id = ids.value(row);
        if let Some(cached) = cache.get(&id) {
            f(id, cached);
            continue;
        }
        let mut pairs = vec![(METRIC_NAME.to_string(), names.value(row).to_string())];
        for e in offsets[row] as usize..offsets[row + 1] as usize {
            if !values.is_null(e) {
                pairs.push((keys.value(e).to_string(), values.value(e).to_string()));
            }
        }
        let get = |a: &Option<StringArray>| -> Arc<str> {
            Arc::from(
                a.as_ref()
                    .filter(|a| !a.is_null(row))
                    .map_or("", |a| a.value(row)),
            )
        };
        let labels = Labels::new(pairs);
        let metric_type = get(&types);
        let decoded = cache.entry(id).or_insert_with(|| {
            Arc::new(SeriesRow {
                delta: metric_type.starts_with("delta_"),
                key: labels.sort_key().into(),
                labels,
                metric_type,
                unit: get(&units),
                help: get(&helps),
            })
        });
        f(id, decoded);
    }
    Ok(())
}
