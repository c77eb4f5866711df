//! `/api/v1/query_exemplars`: the exemplars of the series that a query's selectors match, in
//! `[start, end]`, from the head and the exemplars files of the metrics segments.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::RecordBatch;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use common::Tenant;
use object_store::ObjectStoreExt;
use promql::value::{format_value, Labels};
use storage::exemplars::Columns;
use storage::ReadView;

use super::{
    format_time, json_str, labels_json, parse_time, query_param, success, tenant, ApiError, Params,
    PromState,
};
use crate::prom_read::ReadError;

/// One exemplar as the API answers it.
#[derive(Debug, Clone, PartialEq)]
struct Exemplar {
    t: i64,
    v: f64,
    labels: Vec<(String, String)>,
}

pub(super) async fn query_exemplars(
    State(state): State<Arc<PromState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::from(raw, &headers, &body);
    let answer = async {
        let query = query_param(&params)?;
        let start = params
            .get("start")
            .map_or(Ok(i64::MIN), |s| parse_time("start", s))?;
        let end = params
            .get("end")
            .map_or(Ok(i64::MAX), |s| parse_time("end", s))?;
        if end < start {
            return Err(ApiError::bad_data(
                "end timestamp must not be before start timestamp",
            ));
        }
        let tenant = tenant(&headers)?;
        // Only the selectors' matchers matter here, not their windows.
        let selectors: Vec<_> = promql::selections(&state.limits.options, &query, 0, 0)
            .into_iter()
            .map(|s| s.0)
            .collect();
        let st = Arc::clone(&state);
        state
            .run(async move {
                let view = st.reader.view();
                let mut series: BTreeMap<u64, Labels> = BTreeMap::new();
                for m in &selectors {
                    for (id, row) in st.reader.series(&tenant, m)? {
                        series.entry(id).or_insert(row.labels);
                    }
                }
                let found = read(view.as_ref(), &tenant, &series, start, end).await?;
                Ok(success(&render(&series, found)))
            })
            .await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// The exemplars of the series in `series` with a time in `[start, end]`, by series, each
/// list in time order without repeats.
async fn read(
    view: &dyn ReadView,
    tenant: &Tenant,
    series: &BTreeMap<u64, Labels>,
    start: i64,
    end: i64,
) -> Result<HashMap<u64, Vec<Exemplar>>, ReadError> {
    let mut out: HashMap<u64, Vec<Exemplar>> = HashMap::new();
    if series.is_empty() {
        return Ok(out);
    }
    let (head, segments) = view.exemplars(tenant);
    let store = view.object_store();
    let mut batches: Vec<RecordBatch> = head;
    for file in segments.iter().filter_map(|s| s.exemplars.as_ref()) {
        if file.max_time < start || file.min_time > end {
            continue;
        }
        let path = object_store::path::Path::from(file.path.as_str());
        let bytes = store
            .get(&path)
            .await
            .map_err(|e| ReadError::Store(format!("{}: {e}", file.path)))?
            .bytes()
            .await
            .map_err(|e| ReadError::Store(format!("{}: {e}", file.path)))?;
        let decoded = tokio::task::spawn_blocking(move || storage::exemplars::decode(bytes))
            .await
            .map_err(|e| ReadError::Store(e.to_string()))?
            .map_err(|e| ReadError::Store(format!("{}: {e}", file.path)))?;
        batches.extend(decoded);
    }
    for b in &batches {
        let cols = Columns::of(b).map_err(|e| ReadError::Store(e.to_string()))?;
        for i in 0..b.num_rows() {
            let (id, t) = (cols.series_id.value(i), cols.timestamp.value(i));
            if t < start || t > end || !series.contains_key(&id) {
                continue;
            }
            let labels = cols.labels(i);
            out.entry(id).or_default().push(Exemplar {
                t,
                v: cols.value.value(i),
                labels: labels
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
    }
    for list in out.values_mut() {
        // A flush under way can show an exemplar in the head and in its new segment; an
        // exporter can send one again with every cumulative export.
        list.sort_by(|a, b| (a.t, a.v.to_bits(), &a.labels).cmp(&(b.t, b.v.to_bits(), &b.labels)));
        list.dedup_by(|a, b| a.t == b.t && a.v.to_bits() == b.v.to_bits() && a.labels == b.labels);
    }
    Ok(out)
}

/// The `data` of the answer: one entry per series with exemplars, in label order.
fn render(series: &BTreeMap<u64, Labels>, mut found: HashMap<u64, Vec<Exemplar>>) -> String {
    let mut with: Vec<(&Labels, Vec<Exemplar>)> = series
        .iter()
        .filter_map(|(id, l)| found.remove(id).map(|e| (l, e)))
        .collect();
    with.sort_by(|a, b| a.0.compare(b.0));
    let items: Vec<String> = with
        .iter()
        .map(|(labels, list)| {
            let ex: Vec<String> = list
                .iter()
                .map(|e| {
                    let l: Vec<String> = e
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{}:{}", json_str(k), json_str(v)))
                        .collect();
                    format!(
                        r#"{{"labels":{{{}}},"value":"{}","timestamp":{}}}"#,
                        l.join(","),
                        format_value(e.v),
                        format_time(e.t)
                    )
                })
                .collect();
            format!(
                r#"{{"seriesLabels":{},"exemplars":[{}]}}"#,
                labels_json(labels),
                ex.join(",")
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}
