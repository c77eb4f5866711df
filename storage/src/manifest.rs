//! The manifest: an append-only log of versioned JSON entries per tenant and signal under
//! `{tenant}/{signal}/_manifest/{version:020}.json`, each committed with put-if-absent.

use serde::{Deserialize, Serialize};

/// One Parquet segment as the manifest records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Unique id of the segment (also its file stem).
    pub id: String,
    /// Object-store path of the main Parquet file (`spans`, `logs` or `samples` rows).
    pub path: String,
    /// Object-store path of the series Parquet file, for metrics segments.
    #[serde(default)]
    pub series_path: Option<String>,
    /// Smallest value of the table's time column (its own unit; see `common::Signal::time_column`).
    pub min_time: i64,
    /// Largest value of the table's time column.
    pub max_time: i64,
    /// Number of rows.
    pub rows: u64,
    /// Size of the Parquet file in bytes.
    pub bytes: u64,
    /// Highest WAL sequence number whose rows this segment holds; replay skips records at or
    /// below the highest `max_lsn` of a tenant and signal.
    pub max_lsn: u64,
    /// Segment schema version (`common::schema::SCHEMA_VERSION`).
    pub schema_version: u32,
    /// Object-store path of the index sidecar (`.idx`) of the main file. Absent for segments
    /// written without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_path: Option<String>,
    /// Object-store path of the series postings (`.series.idx`) of the series file, for metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_index_path: Option<String>,
    /// Size of the index sidecars in bytes.
    #[serde(default)]
    pub index_bytes: u64,
    /// Size of the series file in bytes.
    #[serde(default)]
    pub series_bytes: u64,
    /// Whether the index covers log bodies (flushes leave them to compaction).
    #[serde(default)]
    pub index_body: bool,
    /// zstd level of its free-text columns (log bodies); `None` in segments written before it
    /// was recorded.
    #[serde(default)]
    pub text_zstd_level: Option<i32>,
    /// Clock time the segment was written, nanoseconds since the epoch (0: unknown, old).
    #[serde(default)]
    pub created_nanos: i64,
    /// The exemplars of the segment's samples, for metrics segments that have any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsFile>,
}

/// The exemplars file of a metrics segment (`{id}.exemplars.parquet`, schema
/// `common::schema::exemplars_schema`, sorted by series then time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExemplarsFile {
    /// Object-store path.
    pub path: String,
    /// Exemplars in it.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Earliest exemplar timestamp (ms).
    pub min_time: i64,
    /// Latest exemplar timestamp (ms).
    pub max_time: i64,
}

impl SegmentMeta {
    /// Every file of the segment.
    pub fn files(&self) -> Vec<String> {
        let mut out = vec![self.path.clone()];
        out.extend(self.series_path.clone());
        out.extend(self.index_path.clone());
        out.extend(self.series_index_path.clone());
        out.extend(self.exemplars.as_ref().map(|e| e.path.clone()));
        out
    }

    /// Bytes of every file of the segment.
    pub fn total_bytes(&self) -> u64 {
        let exemplars = self.exemplars.as_ref().map_or(0, |e| e.bytes);
        self.bytes + self.series_bytes + self.index_bytes + exemplars
    }
}

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::{Error, Result};

/// One committed manifest entry. The tag is the entry format version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "format")]
pub(crate) enum ManifestEntry {
    /// Format 1.
    #[serde(rename = "1")]
    V1 {
        /// Sequence number of this entry (also its file name).
        seq: u64,
        /// Segments this entry adds.
        #[serde(default)]
        added: Vec<SegmentMeta>,
        /// Ids of segments this entry removes.
        #[serde(default)]
        removed: Vec<String>,
        /// Wall-clock time of the commit, nanoseconds since the epoch.
        #[serde(default)]
        committed_at_nanos: i64,
    },
}

/// The folder of a table's manifest entries.
pub(crate) fn manifest_dir(tenant: &str, signal: &str) -> Path {
    Path::from(format!("{tenant}/{signal}/_manifest"))
}

fn entry_path(tenant: &str, signal: &str, seq: u64) -> Path {
    Path::from(format!("{tenant}/{signal}/_manifest/{seq:020}.json"))
}

/// The state a manifest log describes.
#[derive(Debug, Default)]
pub(crate) struct ManifestState {
    /// Highest committed sequence number (0 when empty).
    pub(crate) seq: u64,
    /// Live segments in commit order.
    pub(crate) segments: Vec<SegmentMeta>,
}

impl ManifestState {
    fn apply(&mut self, entry: ManifestEntry) {
        let ManifestEntry::V1 {
            seq,
            added,
            removed,
            ..
        } = entry;
        self.seq = self.seq.max(seq);
        self.segments.retain(|s| !removed.contains(&s.id));
        self.segments.extend(added);
    }
}

/// Reads every entry of a table's manifest in order.
pub(crate) async fn load(
    store: &Arc<dyn ObjectStore>,
    tenant: &str,
    signal: &str,
) -> Result<ManifestState> {
    let dir = manifest_dir(tenant, signal);
    let mut paths: Vec<(u64, Path)> = store
        .list(Some(&dir))
        .try_filter_map(|meta| async move {
            let seq = meta
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .and_then(|s| s.parse::<u64>().ok());
            Ok(seq.map(|s| (s, meta.location)))
        })
        .try_collect()
        .await?;
    paths.sort();
    let mut state = ManifestState::default();
    for (_, path) in paths {
        let bytes = store.get(&path).await?.bytes().await?;
        let entry: ManifestEntry = serde_json::from_slice(&bytes).map_err(|e| Error::Manifest {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        state.apply(entry);
    }
    Ok(state)
}

/// Commits the next entry with put-if-absent; on a conflict (another writer took the sequence
/// number) it retries with the following number.
pub(crate) async fn commit(
    store: &Arc<dyn ObjectStore>,
    tenant: &str,
    signal: &str,
    after_seq: u64,
    added: Vec<SegmentMeta>,
    removed: Vec<String>,
    now_nanos: i64,
) -> Result<u64> {
    let mut seq = after_seq + 1;
    loop {
        let entry = ManifestEntry::V1 {
            seq,
            added: added.clone(),
            removed: removed.clone(),
            committed_at_nanos: now_nanos,
        };
        let body = serde_json::to_vec_pretty(&entry).map_err(|e| Error::Manifest {
            path: entry_path(tenant, signal, seq).to_string(),
            message: e.to_string(),
        })?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match store
            .put_opts(
                &entry_path(tenant, signal, seq),
                PutPayload::from(body),
                opts,
            )
            .await
        {
            Ok(_) => return Ok(seq),
            Err(object_store::Error::AlreadyExists { .. }) => {
                tracing::warn!(
                    tenant,
                    signal,
                    seq,
                    "manifest entry taken by another writer"
                );
                seq += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn meta(id: &str, lsn: u64) -> SegmentMeta {
        SegmentMeta {
            id: id.into(),
            path: format!("t/logs/d/{id}.parquet"),
            series_path: None,
            min_time: 1,
            max_time: 2,
            rows: 3,
            bytes: 4,
            max_lsn: lsn,
            schema_version: 1,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn commits_replay_in_order_and_conflicts_take_the_next_number() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let s1 = commit(&store, "t", "logs", 0, vec![meta("a", 5)], vec![], 0)
            .await
            .unwrap();
        let s2 = commit(&store, "t", "logs", s1, vec![meta("b", 9)], vec![], 0)
            .await
            .unwrap();
        // a writer that did not see s2 still commits, after it
        let s3 = commit(
            &store,
            "t",
            "logs",
            s1,
            vec![meta("c", 12)],
            vec!["a".into()],
            0,
        )
        .await
        .unwrap();
        assert_eq!((s1, s2, s3), (1, 2, 3));
        let state = load(&store, "t", "logs").await.unwrap();
        assert_eq!(state.seq, 3);
        let ids: Vec<_> = state.segments.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
    }

    #[test]
    fn format_1_entries_stay_readable() {
        let text = r#"{"format":"1","seq":7,"added":[{"id":"x","path":"p","min_time":1,"max_time":2,"rows":3,"bytes":4,"max_lsn":5,"schema_version":1}]}"#;
        let entry: ManifestEntry = serde_json::from_str(text).unwrap();
        let mut state = ManifestState::default();
        state.apply(entry);
        assert_eq!(state.seq, 7);
        assert_eq!(state.segments[0].max_lsn, 5);
    }
}
