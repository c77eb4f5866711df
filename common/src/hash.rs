//! Hashing for keys that are hashes already.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher that passes a `u64` key through: series ids are xxh3 digests, so hashing them again
/// only costs time.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than u64; fold them in so it stays a valid hasher.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A set of series ids.
pub type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// A map keyed by series id.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sets_behave_as_sets() {
        let mut s = IdSet::default();
        assert!(s.insert(7));
        assert!(!s.insert(7));
        assert!(s.insert(u64::MAX));
        assert_eq!(s.len(), 2);
    }
}
