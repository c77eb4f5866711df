//! Scans through `session_for_tenant`: union of head and segments, time pruning, id literals.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use common::schema::{LOGS, SPANS};
use common::Tenant;
use datafusion::prelude::SessionContext;
use query::session_for_tenant;
use serde_json::json;

use crate::fake_view::{batch, log, span, FakeView};

pub(crate) const TRACE_A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const TRACE_B: &str = "5b8aa5a2d2c872e8321cf37308d69df2";
pub(crate) const TRACE_C: &str = "0af7651916cd43dd8448eb211c80319c";

async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

async fn table(ctx: &SessionContext, sql: &str) -> Result<String> {
    Ok(pretty_format_batches(&collect(ctx, sql).await?)?.to_string())
}

async fn count(ctx: &SessionContext, sql: &str) -> Result<usize> {
    Ok(collect(ctx, sql).await?.iter().map(|b| b.num_rows()).sum())
}

/// The physical plan line of `VigilScanExec` in `EXPLAIN sql`.
async fn scan_line(ctx: &SessionContext, sql: &str) -> Result<String> {
    let text = table(ctx, &format!("EXPLAIN {sql}")).await?;
    let line = text
        .lines()
        .find_map(|l| {
            l.find("VigilScanExec:")
                .map(|i| l[i..].trim_end_matches([' ', '|']).to_string())
        })
        .unwrap_or_else(|| panic!("no VigilScanExec in\n{text}"));
    Ok(line)
}

/// Two segments of two spans and two head batches of one span each.
fn spans_view() -> Result<Arc<FakeView>> {
    let view = FakeView::new()?;
    let t = Tenant::default_tenant();
    view.add_segment(
        &t,
        SPANS,
        &batch(
            SPANS,
            &[
                span(
                    TRACE_A,
                    "0000000000000001",
                    "GET /cart",
                    100,
                    json!({"http.method": "GET"}),
                ),
                span(
                    TRACE_A,
                    "0000000000000002",
                    "SELECT cart",
                    110,
                    json!({"db.system": "postgresql"}),
                ),
            ],
        )?,
    )?;
    view.add_segment(
        &t,
        SPANS,
        &batch(
            SPANS,
            &[
                span(
                    TRACE_B,
                    "0000000000000003",
                    "POST /pay",
                    200,
                    json!({"http.method": "POST"}),
                ),
                span(TRACE_B, "0000000000000004", "charge", 210, json!({})),
            ],
        )?,
    )?;
    view.add_head(
        &t,
        SPANS,
        batch(
            SPANS,
            &[span(
                TRACE_C,
                "0000000000000005",
                "GET /",
                300,
                json!({"http.method": "GET"}),
            )],
        )?,
    );
    view.add_head(
        &t,
        SPANS,
        batch(
            SPANS,
            &[span(TRACE_C, "0000000000000006", "render", 310, json!({}))],
        )?,
    );
    Ok(view)
}

#[tokio::test]
async fn select_returns_every_row_of_head_and_segments_once() -> Result<()> {
    let ctx = session_for_tenant(spans_view()?, Tenant::default_tenant());
    let text = table(
        &ctx,
        "SELECT name, start_time_unix_nano FROM spans ORDER BY start_time_unix_nano",
    )
    .await?;
    let expected = "\
+-------------+----------------------+
| name        | start_time_unix_nano |
+-------------+----------------------+
| GET /cart   | 100                  |
| SELECT cart | 110                  |
| POST /pay   | 200                  |
| charge      | 210                  |
| GET /       | 300                  |
| render      | 310                  |
+-------------+----------------------+";
    assert_eq!(text, expected);
    let text = table(
        &ctx,
        "SELECT count(*) AS n, count(DISTINCT span_id) AS spans FROM spans",
    )
    .await?;
    assert!(text.contains("| 6 | 6     |"), "{text}");
    Ok(())
}

#[tokio::test]
async fn time_predicates_prune_segments_before_opening_them() -> Result<()> {
    let view = FakeView::new()?;
    let t = Tenant::default_tenant();
    for start in [0, 100, 200, 300] {
        let rows: Vec<_> = (0..3)
            .map(|i| {
                span(
                    TRACE_A,
                    &format!("{:016x}", start + i),
                    "op",
                    start + i * 10,
                    json!({}),
                )
            })
            .collect();
        view.add_segment(&t, SPANS, &batch(SPANS, &rows)?)?;
    }
    view.add_head(
        &t,
        SPANS,
        batch(
            SPANS,
            &[span(TRACE_B, "00000000000000ff", "op", 1_000, json!({}))],
        )?,
    );
    // A segment whose file is missing: the query fails if it is ever opened.
    view.add_missing_segment(&t, SPANS, 5_000, 6_000);
    let ctx = session_for_tenant(view, t);

    let cases = [
        // (filter, pruned segments of 5, matching rows)
        ("start_time_unix_nano >= 100 AND start_time_unix_nano < 200", 4, 3),
        ("start_time_unix_nano BETWEEN 110 AND 210", 3, 4),
        ("start_time_unix_nano = 320", 4, 1),
        ("400 <= start_time_unix_nano AND start_time_unix_nano < 5000", 5, 1),
        ("start_time_unix_nano > arrow_cast(215, 'UInt64') AND start_time_unix_nano < 4999", 3, 5),
        ("start_time_unix_nano < arrow_cast(15, 'Int8')", 4, 2),
        ("start_time_unix_nano IN (10, 310)", 1, 2),
        ("(start_time_unix_nano < 5 OR start_time_unix_nano > 305) AND start_time_unix_nano < 4000", 1, 4),
        ("start_time_unix_nano > 100000", 5, 0),
        // Compared as doubles, with bounds widened by the rounding error.
        ("start_time_unix_nano > 150 AND start_time_unix_nano < 3000.5", 3, 7),
    ];
    for (filter, pruned, rows) in cases {
        let sql = format!("SELECT span_id FROM spans WHERE {filter}");
        let line = scan_line(&ctx, &sql).await?;
        assert_eq!(
            line,
            format!("VigilScanExec: table=spans, segments_total=5, segments_pruned_by_time={pruned}, segments_skipped_by_index=0, rows_selected_by_index=0/0, head_batches=1"),
            "{filter}"
        );
        assert_eq!(count(&ctx, &sql).await?, rows, "{filter}");
    }

    // Without a time filter the missing segment is opened, which proves the ones above were not.
    let err = collect(&ctx, "SELECT span_id FROM spans")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
    Ok(())
}

#[tokio::test]
async fn trace_ids_compare_with_hex_in_either_case() -> Result<()> {
    let view = spans_view()?;
    let t = Tenant::default_tenant();
    view.add_head(
        &t,
        LOGS,
        batch(
            LOGS,
            &[
                log(100, "added to cart", Some(TRACE_A)),
                log(150, "no trace", None),
            ],
        )?,
    );
    let ctx = session_for_tenant(view, t);
    let upper = TRACE_A.to_uppercase();

    let names = |sql: String| {
        let ctx = ctx.clone();
        async move {
            table(
                &ctx,
                &format!("SELECT name FROM spans WHERE {sql} ORDER BY name"),
            )
            .await
        }
    };
    let a = "+-------------+\n| name        |\n+-------------+\n| GET /cart   |\n| SELECT cart |\n+-------------+";
    assert_eq!(names(format!("trace_id = '{TRACE_A}'")).await?, a);
    assert_eq!(names(format!("trace_id = '{upper}'")).await?, a);
    assert_eq!(names(format!("'{upper}' = trace_id")).await?, a);
    assert_eq!(
        count(
            &ctx,
            &format!("SELECT 1 FROM spans WHERE trace_id != '{upper}'")
        )
        .await?,
        4
    );
    assert_eq!(
        count(
            &ctx,
            &format!(
                "SELECT 1 FROM spans WHERE trace_id IN ('{upper}', '{}')",
                TRACE_C.to_uppercase()
            )
        )
        .await?,
        4
    );
    assert_eq!(
        count(
            &ctx,
            &format!("SELECT 1 FROM spans WHERE trace_id NOT IN ('{TRACE_A}')")
        )
        .await?,
        4
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT 1 FROM spans WHERE span_id = '0000000000000003'"
        )
        .await?,
        1
    );
    assert_eq!(
        count(&ctx, &format!("SELECT 1 FROM spans s JOIN logs l ON s.trace_id = l.trace_id WHERE l.trace_id = '{upper}'")).await?,
        2
    );
    assert_eq!(
        count(
            &ctx,
            &format!("SELECT body FROM logs WHERE trace_id = '{upper}'")
        )
        .await?,
        1
    );

    let err = collect(&ctx, "SELECT 1 FROM spans WHERE trace_id = 'not-hex'")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("trace_id") && msg.contains("32 hex digits"),
        "{msg}"
    );
    let err = collect(&ctx, "SELECT 1 FROM logs WHERE span_id IN ('00')")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("span_id"), "{err}");
    Ok(())
}

#[tokio::test]
async fn trace_id_lookups_use_the_bloom_filter() -> Result<()> {
    let view = FakeView::new()?;
    let t = Tenant::default_tenant();
    // Sorted by trace id like real segments; the looked-up id lies between the ids of the
    // first row group, so only the bloom filter can rule that row group out.
    let ids = [
        "10000000000000000000000000000000",
        "30000000000000000000000000000000",
        "50000000000000000000000000000000",
        "70000000000000000000000000000000",
    ];
    let rows: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            span(
                id,
                &format!("{:016x}", i + 1),
                "op",
                100 + i as i64,
                json!({}),
            )
        })
        .collect();
    view.add_segment(&t, SPANS, &batch(SPANS, &rows)?)?;
    let ctx = session_for_tenant(view, t);

    let absent = "20000000000000000000000000000000";
    let text = table(
        &ctx,
        &format!("EXPLAIN ANALYZE SELECT name FROM spans WHERE trace_id = '{absent}'"),
    )
    .await?;
    assert!(
        text.contains("row_groups_pruned_bloom_filter=1 total"),
        "{text}"
    );
    assert!(
        text.contains("row_groups_pruned_statistics=2 total"),
        "{text}"
    );
    assert_eq!(
        count(
            &ctx,
            &format!("SELECT 1 FROM spans WHERE trace_id = '{}'", ids[1])
        )
        .await?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn map_values_are_accessible_by_key() -> Result<()> {
    let ctx = session_for_tenant(spans_view()?, Tenant::default_tenant());
    let text = table(
        &ctx,
        "SELECT name, attributes['http.method'] AS method FROM spans \
         WHERE attributes['http.method'] = 'GET' ORDER BY name",
    )
    .await?;
    let expected = "\
+-----------+--------+
| name      | method |
+-----------+--------+
| GET /     | GET    |
| GET /cart | GET    |
+-----------+--------+";
    assert_eq!(text, expected);
    let text = table(
        &ctx,
        "SELECT events[1]['name'] AS event FROM spans WHERE span_id = '0000000000000001'",
    )
    .await?;
    assert!(text.contains("| retry |"), "{text}");
    Ok(())
}

#[tokio::test]
async fn series_is_a_table_too() -> Result<()> {
    let view = FakeView::new()?;
    let t = Tenant::default_tenant();
    view.add_series(
        &t,
        batch(
            "series",
            &[json!({
                "series_id": 42, "metric_name": "http_requests_total", "labels": {"job": "api"},
                "metric_type": "counter", "unit": "", "description": "requests"
            })],
        )?,
    );
    let ctx = session_for_tenant(view, t);
    let text = table(&ctx, "SELECT series_id, labels['job'] AS job FROM series").await?;
    assert!(text.contains("| 42        | api |"), "{text}");
    Ok(())
}
