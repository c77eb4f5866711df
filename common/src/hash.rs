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

/// A hasher for string keys: one xxh3 call per written slice (a `str` key is one slice and a
/// terminator byte), where a streaming hasher would copy the key into its buffer first.
#[derive(Debug, Default, Clone, Copy)]
pub struct StrHasher(u64);

impl Hasher for StrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by strings.
pub type StrMap<K, V> = HashMap<K, V, BuildHasherDefault<StrHasher>>;

/// A set of series ids.
pub type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// A map keyed by series id.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_maps_tell_keys_apart() {
        let mut m = StrMap::<&str, usize>::default();
        for (i, k) in ["", "a", "ab", "b", "http.route"].iter().enumerate() {
            assert!(m.insert(k, i).is_none());
        }
        assert_eq!(m.get("ab"), Some(&2));
        assert_eq!(m.get("http.route"), Some(&4));
        assert_eq!(m.get("abc"), None);
    }

    #[test]
    fn id_sets_behave_as_sets() {
        let mut s = IdSet::default();
        assert!(s.insert(7));
        assert!(!s.insert(7));
        assert!(s.insert(u64::MAX));
        assert_eq!(s.len(), 2);
    }
}
