//! The compact sets and maps of keys that keep memory bounded whatever the input's size:
//! contact IDs in compressed bitmaps (roaring), strings as 128-bit hashes in hash tables.
//! A kind names the ones it uses (`Kind::Seen`, `Kind::Map`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use roaring::RoaringTreemap;

/// A set of keys in bounded memory.
pub trait SeenSet<K>: Default + Send + Sync + 'static {
    /// Whether sizing the set up front ([`SeenSet::reserve`]) saves memory.
    const PRESIZE: bool = false;

    /// Adds `key`; false when it was there already.
    fn insert(&mut self, key: K) -> bool;
    fn contains(&self, key: K) -> bool;
    fn remove(&mut self, key: K) -> bool;
    fn count(&self) -> u64;
    /// Room for `n` keys up front (a growing hash table is briefly held twice).
    fn reserve(&mut self, _n: usize) {}
    /// Bytes the set occupies, roughly.
    fn memory_bytes(&self) -> u64;
    fn keys(&self) -> Box<dyn Iterator<Item = K> + '_>;
}

impl SeenSet<u64> for RoaringTreemap {
    #[inline]
    fn insert(&mut self, key: u64) -> bool {
        RoaringTreemap::insert(self, key)
    }

    #[inline]
    fn contains(&self, key: u64) -> bool {
        RoaringTreemap::contains(self, key)
    }

    fn remove(&mut self, key: u64) -> bool {
        RoaringTreemap::remove(self, key)
    }

    fn count(&self) -> u64 {
        self.len()
    }

    fn memory_bytes(&self) -> u64 {
        self.serialized_size() as u64
    }

    fn keys(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        Box::new(self.iter())
    }
}

/// The keys of strings: 128-bit hashes (`text::value_hash`). Two distinct values sharing
/// a 128-bit hash is not a practical concern (about 10^-27 for a million values).
pub type StringSet = HashSet<u128, BuildHasherDefault<Prehashed>>;

impl SeenSet<u128> for StringSet {
    const PRESIZE: bool = true;

    fn insert(&mut self, key: u128) -> bool {
        HashSet::insert(self, key)
    }

    fn contains(&self, key: u128) -> bool {
        HashSet::contains(self, &key)
    }

    fn remove(&mut self, key: u128) -> bool {
        HashSet::remove(self, &key)
    }

    fn count(&self) -> u64 {
        self.len() as u64
    }

    fn reserve(&mut self, n: usize) {
        HashSet::reserve(self, n);
    }

    /// Slots of 16 bytes plus one control byte each.
    fn memory_bytes(&self) -> u64 {
        (self.capacity() * 17) as u64
    }

    fn keys(&self) -> Box<dyn Iterator<Item = u128> + '_> {
        Box::new(self.iter().copied())
    }
}

/// The keys are already well-mixed hashes: use their low 64 bits as they are instead of
/// hashing them again.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; fold anything else in, so it is still correct.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

/// A map from keys to a small tag (a `u64` the caller encodes), in memory that suits the
/// kind: for contact IDs, one bitmap per distinct tag (tags repeat across millions of IDs:
/// a ledger's latest state per ID is a handful of states and block-tills); for strings,
/// a hash table of 128-bit hashes.
pub trait KeyMap<K>: Default + Send + Sync + 'static {
    /// Sets the tag of every key in `keys`.
    fn set_all(&mut self, keys: &[K], tag: u64);
    fn get(&self, key: K) -> Option<u64>;
    /// Every distinct tag, with how many keys carry it.
    fn tag_counts(&self) -> Vec<(u64, u64)>;
    /// The keys whose tag passes `keep`.
    fn keys_where<S: SeenSet<K>>(&self, keep: impl Fn(u64) -> bool) -> S;
    /// Keys carried, whatever their tag.
    fn count(&self) -> u64;
}

/// Contact IDs: a bitmap per tag, and one of every key named (so that setting keys that
/// were never seen skips the per-tag work).
#[derive(Debug, Default)]
pub struct GroupedIds {
    named: RoaringTreemap,
    groups: BTreeMap<u64, RoaringTreemap>,
}

impl KeyMap<u64> for GroupedIds {
    fn set_all(&mut self, keys: &[u64], tag: u64) {
        let ids: RoaringTreemap = keys.iter().copied().collect();
        let mut moving = &self.named & &ids;
        if !moving.is_empty() {
            let mut emptied = Vec::new();
            for (group_tag, group) in &mut self.groups {
                if moving.is_empty() {
                    break;
                }
                let here = &*group & &moving;
                if here.is_empty() {
                    continue;
                }
                moving -= &here;
                if *group_tag != tag {
                    *group -= &here;
                    if group.is_empty() {
                        emptied.push(*group_tag);
                    }
                }
            }
            for group_tag in emptied {
                self.groups.remove(&group_tag);
            }
        }
        self.named |= &ids;
        *self.groups.entry(tag).or_default() |= ids;
    }

    fn get(&self, key: u64) -> Option<u64> {
        if !self.named.contains(key) {
            return None;
        }
        self.groups
            .iter()
            .find(|(_, group)| group.contains(key))
            .map(|(tag, _)| *tag)
    }

    fn tag_counts(&self) -> Vec<(u64, u64)> {
        self.groups
            .iter()
            .map(|(tag, ids)| (*tag, ids.len()))
            .collect()
    }

    fn keys_where<S: SeenSet<u64>>(&self, keep: impl Fn(u64) -> bool) -> S {
        let mut out = S::default();
        for (tag, ids) in &self.groups {
            if keep(*tag) {
                for id in ids {
                    out.insert(id);
                }
            }
        }
        out
    }

    fn count(&self) -> u64 {
        self.named.len()
    }
}

/// Strings: hash → tag.
pub type HashedTags = HashMap<u128, u64, BuildHasherDefault<Prehashed>>;

impl KeyMap<u128> for HashedTags {
    fn set_all(&mut self, keys: &[u128], tag: u64) {
        for key in keys {
            self.insert(*key, tag);
        }
    }

    fn get(&self, key: u128) -> Option<u64> {
        HashMap::get(self, &key).copied()
    }

    fn tag_counts(&self) -> Vec<(u64, u64)> {
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        for tag in self.values() {
            *counts.entry(*tag).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    fn keys_where<S: SeenSet<u128>>(&self, keep: impl Fn(u64) -> bool) -> S {
        let mut out = S::default();
        for (key, tag) in self {
            if keep(*tag) {
                out.insert(*key);
            }
        }
        out
    }

    fn count(&self) -> u64 {
        self.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_map<K: Copy + std::fmt::Debug, M: KeyMap<K>, S: SeenSet<K>>(keys: [K; 3]) {
        let mut map = M::default();
        map.set_all(&keys, 1);
        map.set_all(&keys[1..], 2);
        assert_eq!(map.get(keys[0]), Some(1));
        assert_eq!(map.get(keys[2]), Some(2));
        assert_eq!(map.count(), 3);
        assert_eq!(map.tag_counts(), [(1, 1), (2, 2)]);
        let twos: S = map.keys_where(|tag| tag == 2);
        assert_eq!(twos.count(), 2);
        assert!(twos.contains(keys[1]) && !twos.contains(keys[0]));
        map.set_all(&keys[..1], 2);
        assert_eq!(map.tag_counts(), [(2, 3)]);
    }

    #[test]
    fn both_maps_keep_the_latest_tag_of_each_key() {
        check_map::<u64, GroupedIds, RoaringTreemap>([5, 6, 7]);
        check_map::<u128, HashedTags, StringSet>([5, 6, 1 << 100]);
    }
}
