//! Compaction under SIGKILL: the server is killed while it merges segments — after reading the
//! inputs, after writing the output, after committing it — and restarted. Every record must be
//! stored exactly once afterwards, the merge must finish, and the replaced files must go.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{base_time, list_files, metric_sum, nanos, poll, Vigil};

const SEGMENTS: usize = 4;
const PER_SEGMENT: usize = 250;

/// One OTLP/JSON logs request of `PER_SEGMENT` records, numbered from `first`.
fn request(first: usize) -> Value {
    let t0 = nanos(base_time());
    let records: Vec<Value> = (first..first + PER_SEGMENT)
        .map(|i| {
            json!({
                "timeUnixNano": (t0 + i as i64 * 1_000_000).to_string(),
                "severityNumber": 9,
                "severityText": "INFO",
                "body": { "stringValue": format!("record {i} done") }
            })
        })
        .collect();
    json!({ "resourceLogs": [{
        "resource": { "attributes": [
            { "key": "service.name", "value": { "stringValue": "compactor-test" } }
        ]},
        "scopeLogs": [{ "logRecords": records }]
    }]})
}

/// Sends request `s` and flushes it into a segment of its own.
async fn post_segment(vigil: &Vigil, s: usize) {
    let resp = vigil
        .http()
        .post(vigil.otlp_http_url("/v1/logs"))
        .json(&request(s * PER_SEGMENT))
        .send()
        .await
        .expect("POST /v1/logs");
    assert_eq!(resp.status().as_u16(), 200);
    vigil.flush().await;
}

/// Log segments live according to `/metrics`.
async fn live_segments(vigil: &Vigil) -> f64 {
    let text = vigil.metrics_text().await;
    metric_sum(&text, "vigil_storage_segments").unwrap_or(0.0)
}

fn segment_files(vigil: &Vigil) -> Vec<String> {
    list_files(&vigil.data_dir().join("store"))
        .into_iter()
        .filter(|f| f.contains("/logs/") && (f.ends_with(".parquet") || f.ends_with(".idx")))
        .collect()
}

async fn assert_each_record_once(vigil: &Vigil) {
    let rows = vigil
        .sql("SELECT count(*) AS n, count(DISTINCT body) AS d FROM logs")
        .await;
    let total = (SEGMENTS * PER_SEGMENT) as u64;
    assert_eq!(rows[0]["n"], json!(total), "{}", vigil.logs());
    assert_eq!(rows[0]["d"], json!(total), "{}", vigil.logs());
}

#[tokio::test]
async fn a_kill_at_any_point_of_a_compaction_loses_and_duplicates_nothing() {
    for point in ["read", "written", "committed"] {
        let mut vigil = Vigil::start_with(&[("VIGIL_COMPACTION_ENABLED", "false")]).await;
        for s in 0..SEGMENTS {
            post_segment(&vigil, s).await;
        }
        assert_eq!(live_segments(&vigil).await, SEGMENTS as f64);
        let inputs = segment_files(&vigil);
        vigil.stop().await;

        // Compact, stopping at `point`; kill the process there.
        vigil.set_env("VIGIL_COMPACTION_ENABLED", Some("true"));
        vigil.set_env("VIGIL_COMPACTION_MIN_AGE", Some("0s"));
        vigil.set_env("VIGIL_COMPACTION_INTERVAL", Some("100ms"));
        // Long enough for a query that read the manifest before a merge committed to finish
        // reading the merge's inputs (a zero grace made the count below fail now and then).
        vigil.set_env("VIGIL_COMPACTION_GRACE", Some("1s"));
        vigil.set_env("VIGIL_COMPACTION_PAUSE_AT", Some(point));
        vigil.restart().await;
        poll(
            &format!("compaction to pause at {point}"),
            Duration::from_secs(30),
            || async {
                if vigil.logs().contains("compaction paused") {
                    Ok(())
                } else {
                    Err("not paused yet".to_string())
                }
            },
        )
        .await;
        assert_each_record_once(&vigil).await;
        vigil.kill().await;

        // Restart without the pause: the merge completes and the replaced files are deleted.
        vigil.set_env("VIGIL_COMPACTION_PAUSE_AT", None);
        vigil.restart().await;
        assert_each_record_once(&vigil).await;
        poll("the merge to finish", Duration::from_secs(30), || async {
            let n = live_segments(&vigil).await;
            if n == 1.0 {
                Ok(())
            } else {
                Err(format!("{n} segments"))
            }
        })
        .await;
        assert_each_record_once(&vigil).await;
        poll(
            "replaced files to be deleted",
            Duration::from_secs(30),
            || async {
                let files = segment_files(&vigil);
                if files.iter().all(|f| !inputs.contains(f)) && files.len() == 2 {
                    Ok(())
                } else {
                    Err(format!("files: {files:?}"))
                }
            },
        )
        .await;
        let hits = vigil
            .sql("SELECT body FROM logs WHERE match(body, 'record 777')")
            .await;
        assert_eq!(hits.len(), 1, "{hits:?}");
        vigil.stop().await;
    }
}

#[tokio::test]
async fn flushed_log_segments_answer_body_searches_from_their_own_index() {
    // No compaction: what a body search skips here, the flush's own index skipped. With
    // `index.body_at_flush` off, flushes leave bodies to compaction and nothing is skipped.
    for (at_flush, skipped) in [(None, 1), (Some("false"), 0)] {
        let mut env = vec![("VIGIL_COMPACTION_ENABLED", "false")];
        env.extend(at_flush.map(|v| ("VIGIL_INDEX_BODY_AT_FLUSH", v)));
        let mut vigil = Vigil::start_with(&env).await;
        for s in 0..2 {
            post_segment(&vigil, s).await;
        }
        assert_eq!(live_segments(&vigil).await, 2.0);
        let search = "SELECT body FROM logs WHERE match(body, 'record 321')";
        let hits = vigil.sql(search).await;
        assert_eq!(hits.len(), 1, "{hits:?}");
        let plan = serde_json::to_string(&vigil.sql(&format!("EXPLAIN ANALYZE {search}")).await)
            .expect("plan as JSON");
        assert!(
            plan.contains(&format!("segments_skipped_by_index={skipped}")),
            "body_at_flush={at_flush:?}: the first segment's index lacks token 321: {plan}"
        );
        vigil.stop().await;
    }
}

#[tokio::test]
async fn a_lone_flushed_log_segment_is_recompressed_once_at_compactions_level() {
    // Flushes compress log bodies at `storage.text_zstd_level` (3), compaction at
    // `storage.compact_text_zstd_level` (10): a flushed segment with nothing to merge with is
    // rewritten alone, once.
    let vigil = Vigil::start_with(&[
        ("VIGIL_COMPACTION_MIN_AGE", "0s"),
        ("VIGIL_COMPACTION_INTERVAL", "100ms"),
        ("VIGIL_COMPACTION_GRACE", "0s"),
    ])
    .await;
    post_segment(&vigil, 0).await;
    let manifests = || -> Vec<String> {
        let mut files: Vec<String> = list_files(&vigil.data_dir().join("store"))
            .into_iter()
            .filter(|f| f.contains("/logs/_manifest/"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(vigil.data_dir().join("store").join(f)).unwrap())
            .collect()
    };
    poll(
        "the flushed segment to be rewritten",
        Duration::from_secs(30),
        || async {
            let m = manifests();
            match m.last() {
                Some(last) if last.contains("\"text_zstd_level\": 10") => Ok(()),
                _ => Err(format!("manifest entries: {m:?}")),
            }
        },
    )
    .await;
    let m = manifests();
    assert!(
        m.iter().any(|e| e.contains("\"text_zstd_level\": 3")),
        "the flush wrote level 3: {m:?}"
    );
    // Written at compaction's level, the segment stays as it is.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(manifests().len(), m.len(), "{:?}", manifests());
    assert_eq!(live_segments(&vigil).await, 1.0);
    let rows = vigil.sql("SELECT count(*) AS n FROM logs").await;
    assert_eq!(rows[0]["n"], json!(PER_SEGMENT as u64));
}
