//! Scans that use segment indexes: segments skipped, rows selected, and results identical to a
//! full scan (a property test over random logs and random predicates).

use std::sync::Arc;

use anyhow::Result;
use arrow::util::pretty::pretty_format_batches;
use common::schema::{LOGS, SAMPLES, SERIES};
use common::Tenant;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use query::session_for_tenant;
use serde_json::{json, Value};
use storage::index::IndexOptions;

use crate::fake_view::{batch, FakeView};

/// Indexes in blocks of 4 rows, so that block postings (and row groups of 2) are exercised.
pub(crate) fn small_blocks() -> Option<IndexOptions> {
    Some(IndexOptions {
        block_rows: 4,
        ..Default::default()
    })
}

fn log(time: i64, service: &str, severity: i32, body: &str, attrs: Value) -> Value {
    json!({
        "time_unix_nano": time,
        "observed_time_unix_nano": time,
        "severity_number": severity,
        "severity_text": if severity >= 17 { "ERROR" } else { "INFO" },
        "body": body,
        "trace_id": null,
        "span_id": null,
        "flags": 0,
        "service_name": service,
        "resource_attributes": {},
        "scope_attributes": {},
        "attributes": attrs,
        "dropped_attributes_count": 0
    })
}

async fn rows(ctx: &SessionContext, sql: &str) -> Result<String> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(pretty_format_batches(&batches)?.to_string())
}

async fn scan_line(ctx: &SessionContext, sql: &str) -> Result<String> {
    let text = rows(ctx, &format!("EXPLAIN ANALYZE {sql}")).await?;
    Ok(text
        .lines()
        .find_map(|l| l.find("VigilScanExec:").map(|i| l[i..].to_string()))
        .unwrap_or_else(|| panic!("no VigilScanExec in\n{text}")))
}

/// Three segments of eight records: the api segment alone has "refused"; web has 10.0.0.7.
fn three_segments(index: Option<IndexOptions>) -> Result<Arc<FakeView>> {
    let view = FakeView::with_index(index)?;
    let t = Tenant::default_tenant();
    for (s, service) in ["api", "web", "db"].iter().enumerate() {
        let records: Vec<Value> = (0..8)
            .map(|i| {
                let body = match (*service, i) {
                    ("api", 5) => "dial tcp: connection refused".to_string(),
                    ("web", 2) => "GET /cart from 10.0.0.7".to_string(),
                    _ => format!("request {i} ok"),
                };
                log(
                    s as i64 * 100 + i,
                    service,
                    9,
                    &body,
                    json!({"method": "GET"}),
                )
            })
            .collect();
        view.add_segment(&t, LOGS, &batch(LOGS, &records)?)?;
    }
    Ok(view)
}

#[tokio::test]
async fn a_rare_token_skips_segments_without_it_and_selects_its_block() -> Result<()> {
    let view = three_segments(small_blocks())?;
    let ctx = session_for_tenant(view, Tenant::default_tenant());
    let sql = "SELECT service_name, body FROM logs WHERE match(body, 'Connection refused')";
    let line = scan_line(&ctx, sql).await?;
    assert!(
        line.contains("segments_skipped_by_index=2, rows_selected_by_index=4/24"),
        "{line}"
    );
    let out = rows(&ctx, sql).await?;
    assert!(out.contains("dial tcp: connection refused"), "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");

    // An address stays whole; a LIKE pattern uses the words it encloses; = on a sorted column
    // selects single rows.
    let line = scan_line(&ctx, "SELECT body FROM logs WHERE match(body, '10.0.0.7')").await?;
    assert!(line.contains("segments_skipped_by_index=2"), "{line}");
    let like = "SELECT body FROM logs WHERE body LIKE '%: connection refused%'";
    assert!(scan_line(&ctx, like)
        .await?
        .contains("segments_skipped_by_index=2"));
    assert!(rows(&ctx, like).await?.contains("dial tcp"));
    let line = scan_line(&ctx, "SELECT body FROM logs WHERE service_name = 'db'").await?;
    assert!(
        line.contains("segments_skipped_by_index=2, rows_selected_by_index=8/24"),
        "{line}"
    );
    // A word the pattern cuts off selects the tokens holding it, here the segment with
    // `refused` (as the whole word does); one no token holds selects nothing.
    let part = "SELECT body FROM logs WHERE body LIKE '%efuse%'";
    let line = scan_line(&ctx, part).await?;
    assert!(line.contains("segments_skipped_by_index=2"), "{line}");
    assert!(rows(&ctx, part).await?.contains("connection refused"));
    let line = scan_line(&ctx, "SELECT body FROM logs WHERE body LIKE '%efusx%'").await?;
    assert!(line.contains("segments_skipped_by_index=3"), "{line}");
    Ok(())
}

#[tokio::test]
async fn a_damaged_or_missing_index_falls_back_to_a_full_scan() -> Result<()> {
    let view = three_segments(small_blocks())?;
    let snapshot = storage::ReadView::snapshot(view.as_ref(), &Tenant::default_tenant(), LOGS);
    let first = snapshot.segments[0].index_path.clone().expect("indexed");
    let second = snapshot.segments[1].index_path.clone().expect("indexed");
    let mut bytes = std::fs::read(view.file(&first))?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(view.file(&first), bytes)?;
    std::fs::remove_file(view.file(&second))?;
    let ctx = session_for_tenant(view, Tenant::default_tenant());
    let sql = "SELECT body FROM logs WHERE match(body, 'refused')";
    let line = scan_line(&ctx, sql).await?;
    // Only the third segment's index is usable, and it lacks the token.
    assert!(
        line.contains("segments_skipped_by_index=1, rows_selected_by_index=0/8"),
        "{line}"
    );
    assert!(rows(&ctx, sql).await?.contains("connection refused"));
    Ok(())
}

const SERVICES: [&str; 3] = ["api", "web", "db"];
const WORDS: [&str; 8] = [
    "GET",
    "post",
    "refused",
    "timeout",
    "10.0.0.7",
    "/cart",
    "ok",
    "Disk-Full",
];

/// A generated record: service, severity, body words, attribute `k` value.
type Record = (usize, i32, Vec<usize>, Option<usize>);

fn record() -> impl Strategy<Value = Record> {
    (
        0..SERVICES.len(),
        prop_oneof![Just(9), Just(17)],
        prop::collection::vec(0..WORDS.len(), 0..5),
        prop::option::of(0..3usize),
    )
}

/// A random predicate over the indexed columns, in SQL.
fn predicate() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0..SERVICES.len()).prop_map(|s| format!("service_name = '{}'", SERVICES[s])),
        (0..SERVICES.len()).prop_map(|s| format!("service_name != '{}'", SERVICES[s])),
        (0..SERVICES.len(), 0..SERVICES.len())
            .prop_map(|(a, b)| format!("service_name IN ('{}', '{}')", SERVICES[a], SERVICES[b])),
        Just("service_name ~ '^(a|d)'".to_string()),
        Just("severity_number = 17".to_string()),
        Just("severity_text != 'INFO'".to_string()),
        (0..WORDS.len()).prop_map(|w| format!("match(body, '{}')", WORDS[w])),
        (0..WORDS.len(), 0..WORDS.len())
            .prop_map(|(a, b)| format!("match(body, '{} {}')", WORDS[a], WORDS[b])),
        (0..WORDS.len(), 0..6usize).prop_map(|(w, shape)| {
            let w = WORDS[w];
            // Patterns that end or start inside a word must not require it as a token.
            let head = &w[..w.len() - 1];
            match shape {
                0 => format!("body LIKE '%{w}%'"),
                1 => format!("body LIKE '% {w} %'"),
                2 => format!("body LIKE '{w} %'"),
                3 => format!("body LIKE '% {head}%'"),
                4 => format!("body LIKE '%{}_ %'", head),
                _ => format!("body ILIKE '% {} %'", w.to_uppercase()),
            }
        }),
        (0..3usize).prop_map(|v| format!("attributes['k'] = 'v{v}'")),
        (0..3usize).prop_map(|v| format!("attributes['k'] != 'v{v}'")),
        Just("body = 'ok'".to_string()),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} OR {b})")),
        ]
    })
}

fn view_of(segments: &[Vec<Record>], index: Option<IndexOptions>) -> Result<Arc<FakeView>> {
    let view = FakeView::with_index(index)?;
    let t = Tenant::default_tenant();
    let mut time = 0;
    for records in segments {
        if records.is_empty() {
            continue;
        }
        let mut rows: Vec<Value> = Vec::new();
        for (service, severity, words, attr) in records {
            time += 1;
            let body: Vec<&str> = words.iter().map(|&w| WORDS[w]).collect();
            let attrs = match attr {
                Some(v) => json!({ "k": format!("v{v}") }),
                None => json!({}),
            };
            rows.push(log(
                time,
                SERVICES[*service],
                *severity,
                &body.join(" "),
                attrs,
            ));
        }
        view.add_segment(&t, LOGS, &batch(LOGS, &rows)?)?;
    }
    Ok(view)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn results_with_and_without_the_index_are_identical(
        segments in prop::collection::vec(prop::collection::vec(record(), 0..12), 1..4),
        predicate in predicate(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let sql = format!(
            "SELECT time_unix_nano, service_name, body FROM logs WHERE {predicate} \
             ORDER BY time_unix_nano"
        );
        let (with, without) = runtime.block_on(async {
            let t = Tenant::default_tenant();
            let indexed = session_for_tenant(view_of(&segments, small_blocks()).unwrap(), t.clone());
            let plain = session_for_tenant(view_of(&segments, None).unwrap(), t);
            (rows(&indexed, &sql).await.unwrap(), rows(&plain, &sql).await.unwrap())
        });
        prop_assert_eq!(with, without, "{}", sql);
    }
}

/// A series row of metric `name` with `labels`.
fn series_row(id: u64, name: &str, labels: Value) -> Value {
    json!({
        "series_id": id,
        "metric_name": name,
        "labels": labels,
        "metric_type": "counter",
        "unit": "",
        "description": ""
    })
}

/// Series `1..=12` of metrics `a`/`b` with labels `shard` (id % 4) and, on even ids, `zone`.
pub(crate) fn series_view(index: Option<IndexOptions>) -> Result<Arc<FakeView>> {
    let view = FakeView::with_index(index)?;
    let t = Tenant::default_tenant();
    let rows: Vec<Value> = (1..=12u64)
        .map(|id| {
            let mut labels = json!({ "shard": (id % 4).to_string() });
            if id % 2 == 0 {
                labels["zone"] = json!(format!("z{}", id % 3));
            }
            series_row(id, if id <= 6 { "a" } else { "b" }, labels)
        })
        .collect();
    view.add_series(&t, batch(SERIES, &rows)?);
    // Two segments of samples, each sorted by series: 3 samples per series.
    for ids in [1..=6u64, 7..=12] {
        let samples: Vec<Value> = ids
            .flat_map(|id| {
                (0..3i64).map(move |k| {
                    json!({
                        "series_id": id,
                        "metric_name": if id <= 6 { "a" } else { "b" },
                        "timestamp_ms": 1000 * k + id as i64,
                        "value": id as f64 + k as f64 / 10.0
                    })
                })
            })
            .collect();
        view.add_segment(&t, SAMPLES, &batch(SAMPLES, &samples)?)?;
    }
    Ok(view)
}

#[tokio::test]
async fn label_matchers_select_series_through_postings_and_samples_through_their_index(
) -> Result<()> {
    let ctx = session_for_tenant(series_view(small_blocks())?, Tenant::default_tenant());
    let out = rows(
        &ctx,
        "SELECT series_id FROM series WHERE metric_name = 'b' AND labels['shard'] = '2' \
         ORDER BY series_id",
    )
    .await?;
    assert_eq!(
        out.lines().filter(|l| l.contains("| 10 ")).count(),
        1,
        "{out}"
    );
    assert_eq!(out.lines().count(), 5, "{out}");

    // The samples of series 10: one segment skipped, three rows of the other selected.
    let sql =
        "SELECT timestamp_ms, value FROM samples WHERE series_id IN (10) ORDER BY timestamp_ms";
    let line = scan_line(&ctx, sql).await?;
    assert!(
        line.contains("segments_skipped_by_index=1, rows_selected_by_index=3/36"),
        "{line}"
    );
    let out = rows(&ctx, sql).await?;
    assert!(out.contains("| 10.1 ") && out.contains("| 2010 "), "{out}");
    assert_eq!(out.lines().count(), 7, "{out}");
    let line = scan_line(&ctx, "SELECT value FROM samples WHERE series_id = 3").await?;
    assert!(line.contains("rows_selected_by_index=3/36"), "{line}");
    Ok(())
}

/// A random predicate over the `series` table's indexed columns, in SQL.
fn series_predicate() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop_oneof![Just("a"), Just("b"), Just("c")].prop_map(|m| format!("metric_name = '{m}'")),
        (0..5usize).prop_map(|v| format!("labels['shard'] = '{v}'")),
        (0..5usize).prop_map(|v| format!("labels['shard'] != '{v}'")),
        (0..4usize, 0..4usize).prop_map(|(a, b)| format!("labels['zone'] IN ('z{a}', 'z{b}')")),
        (0..4usize).prop_map(|v| format!("labels['zone'] NOT IN ('z{v}')")),
        Just("labels['zone'] ~ '1|2'".to_string()),
        Just("labels['shard'] LIKE '_'".to_string()),
        Just("labels['nope'] = 'x'".to_string()),
        Just("metric_name != 'a'".to_string()),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} OR {b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn series_selected_with_and_without_postings_are_identical(predicate in series_predicate()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let sql = format!("SELECT series_id FROM series WHERE {predicate} ORDER BY series_id");
        let (with, without) = runtime.block_on(async {
            let t = Tenant::default_tenant();
            let indexed = session_for_tenant(series_view(small_blocks()).unwrap(), t.clone());
            let plain = session_for_tenant(series_view(None).unwrap(), t);
            (rows(&indexed, &sql).await.unwrap(), rows(&plain, &sql).await.unwrap())
        });
        prop_assert_eq!(with, without, "{}", sql);
    }
}
