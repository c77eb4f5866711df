//! Decoded segment indexes of one store, kept for the queries that follow.
//!
//! Segment files are immutable under unique paths, so an entry never goes stale; the cache only
//! bounds its memory (a capacity in bytes of index files), dropping the oldest entries first. An
//! index that is missing or damaged is logged at each load attempt and the segment is read by a
//! full scan.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::Mutex;
use tracing::warn;

use super::format::SegmentIndex;

/// Decoded indexes by object-store path.
#[derive(Debug)]
pub struct IndexCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, (Arc<SegmentIndex>, usize)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl IndexCache {
    /// A cache holding at most `capacity` bytes of index files.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// The decoded index at `path`, from the cache or `store`; `None` (after a warning) when it
    /// cannot be read or decoded.
    pub async fn load(&self, store: &dyn ObjectStore, path: &str) -> Option<Arc<SegmentIndex>> {
        if let Some((idx, _)) = self.inner.lock().map.get(path) {
            return Some(Arc::clone(idx));
        }
        let idx = load_uncached(store, path).await?;
        self.insert(path, Arc::clone(&idx.0), idx.1);
        Some(idx.0)
    }

    /// Keeps an index decoded elsewhere (e.g. by the flush that wrote it).
    pub fn insert(&self, path: &str, index: Arc<SegmentIndex>, size: usize) {
        let mut cache = self.inner.lock();
        if cache.map.contains_key(path) {
            return;
        }
        cache.bytes += size;
        cache.order.push_back(path.to_owned());
        cache.map.insert(path.to_owned(), (index, size));
        while cache.bytes > self.capacity {
            let Some(old) = cache.order.pop_front() else {
                break;
            };
            if let Some((_, n)) = cache.map.remove(&old) {
                cache.bytes -= n;
            }
        }
    }
}

/// Reads and decodes the index at `path` with its size in bytes; `None` (after a warning) when
/// it cannot be read or decoded.
pub async fn load_uncached(
    store: &dyn ObjectStore,
    path: &str,
) -> Option<(Arc<SegmentIndex>, usize)> {
    let bytes = match store.get(&Path::from(path)).await {
        Ok(r) => match r.bytes().await {
            Ok(b) => b,
            Err(error) => {
                warn!(%error, path, "segment index unreadable; scanning the segment in full");
                return None;
            }
        },
        Err(error) => {
            warn!(%error, path, "segment index missing; scanning the segment in full");
            return None;
        }
    };
    let size = bytes.len();
    let idx = match SegmentIndex::decode(bytes) {
        Ok(idx) => Arc::new(idx),
        Err(error) => {
            warn!(%error, path, "segment index damaged; scanning the segment in full");
            return None;
        }
    };
    Some((idx, size))
}
