//! The Prometheus API over segments written before segment schema 2 (one `value` column), with
//! and without their indexes: PromQL reads the older layout as it reads the new one.

use std::sync::Arc;

use anyhow::Result;
use axum::body::{to_bytes, Body};
use axum::http::Request;
use query::{prometheus_router, PromEngine, PromLimits, QueryExecutor};
use serde_json::Value;
use tower::ServiceExt;

use crate::index::{series_view, small_blocks};

async fn instant(router: &axum::Router, query: &str) -> Result<Vec<(String, String)>> {
    let uri = format!(
        "/api/v1/query?query={}&time=3",
        form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
    );
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty())?)
        .await?;
    let body: Value = serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await?)?;
    assert_eq!(body["status"], "success", "{query}: {body}");
    let mut out: Vec<(String, String)> = body["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|s| {
            (
                s["metric"]["shard"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

#[tokio::test]
async fn promql_reads_segments_of_the_first_layout_with_and_without_indexes() -> Result<()> {
    for index in [small_blocks(), None] {
        let executor = Arc::new(QueryExecutor::new(1)?);
        let engine = PromEngine::new(series_view(index)?, executor, PromLimits::default());
        let router = prometheus_router(Arc::new(engine));
        // Series 1..=12 (`a` up to 6, `b` after), each with samples id + k/10 at k s + id ms.
        let shard2 = instant(&router, "a{shard=\"2\"}").await?;
        assert_eq!(
            shard2,
            [
                ("2".to_string(), "2.2".to_string()),
                ("2".into(), "6.2".into())
            ]
        );
        // Series 7 and 11 of this data share their labels ({shard="3"}): PromQL sees one
        // series with the samples of both.
        let all_b = instant(&router, "count_over_time(b[10s])").await?;
        assert_eq!(all_b.len(), 5, "{all_b:?}");
        assert!(
            all_b.contains(&("3".to_string(), "6".to_string())),
            "{all_b:?}"
        );
        let zoned = instant(&router, "max(b{zone!=\"\"})").await?;
        assert_eq!(zoned, [(String::new(), "12.2".to_string())]);
        let max = instant(&router, "max(max_over_time(a[1s]))").await?;
        assert_eq!(max, [(String::new(), "6.2".to_string())]);
    }
    Ok(())
}
