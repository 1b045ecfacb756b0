//! Dedupe across every input of a run: each contact ID is sent at most once.
//!
//! The constraint: memory must stay in the tens of MB for tens of millions of IDs, so the
//! seen set is a compressed bitmap (`RoaringTreemap`), not a `HashSet` (100M sequential IDs:
//! about 14 MB instead of 1.8 GB). `--resume` seeds a second bitmap with the IDs the ledger
//! already shows blocked, so they are counted as skipped rather than as duplicates.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use roaring::RoaringTreemap;

/// What the filter decided about one ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time in this run: send it.
    New,
    /// Already read earlier in this run (any input).
    Duplicate,
    /// The ledger says it is already blocked (`--resume`).
    AlreadyBlocked,
}

/// The set of IDs seen so far in this run, plus the optional `--resume` set.
#[derive(Default)]
pub struct Dedupe {
    seen: RoaringTreemap,
    already_blocked: RoaringTreemap,
}

impl Dedupe {
    pub fn new() -> Self {
        Self::default()
    }

    /// A filter that also skips the IDs in `already_blocked` (from the ledger, for `--resume`).
    pub fn resuming(already_blocked: RoaringTreemap) -> Self {
        Dedupe {
            seen: RoaringTreemap::new(),
            already_blocked,
        }
    }

    /// Records `id` and says whether it should be sent.
    pub fn check(&mut self, id: u64) -> Seen {
        if !self.seen.insert(id) {
            Seen::Duplicate
        } else if self.already_blocked.contains(id) {
            Seen::AlreadyBlocked
        } else {
            Seen::New
        }
    }

    /// Bytes the seen set occupies once serialized; a fair proxy for its memory use.
    pub fn memory_bytes(&self) -> u64 {
        self.seen.serialized_size() as u64 + self.already_blocked.serialized_size() as u64
    }
}

/// The seen set for text values (emails, IPs): the 128-bit hash of each normal form
/// (`input::value::value_hash`), never the string itself, so memory is about 16 bytes per
/// value plus the table's slack (at most about 40 bytes each; 1M emails in under 40 MB),
/// whatever the addresses' length. Two distinct values sharing a 128-bit hash is not a
/// practical concern (about 10^-27 for a million values).
#[derive(Default)]
pub struct HashedDedupe {
    seen: HashSet<u128, BuildHasherDefault<Prehashed>>,
    already_blocked: HashSet<u128, BuildHasherDefault<Prehashed>>,
}

impl HashedDedupe {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `values` distinct values from the start, so that the table is not
    /// reallocated (and briefly held twice) while it fills.
    pub fn with_capacity(mut self, values: usize) -> Self {
        self.seen.reserve(values);
        self
    }

    /// A filter that also skips the values whose hashes are in `already_blocked`.
    pub fn resuming(already_blocked: impl IntoIterator<Item = u128>) -> Self {
        HashedDedupe {
            seen: HashSet::default(),
            already_blocked: already_blocked.into_iter().collect(),
        }
    }

    /// Records the value with this hash and says whether it should be sent.
    pub fn check(&mut self, hash: u128) -> Seen {
        if !self.seen.insert(hash) {
            Seen::Duplicate
        } else if self.already_blocked.contains(&hash) {
            Seen::AlreadyBlocked
        } else {
            Seen::New
        }
    }

    /// Whether the value with this hash was checked before (whatever the answer was).
    pub fn contains(&self, hash: u128) -> bool {
        self.seen.contains(&hash)
    }

    /// Bytes the tables hold (slots of 16 bytes plus one control byte each).
    pub fn memory_bytes(&self) -> u64 {
        ((self.seen.capacity() + self.already_blocked.capacity()) * 17) as u64
    }
}

/// The keys are already well-mixed hashes: use their low 64 bits as they are instead of
/// hashing them again.
#[derive(Default)]
struct Prehashed(u64);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_dedupe_by_hash_and_resume_skips_known_ones() {
        use crate::input::value::value_hash;
        let mut dedupe = HashedDedupe::resuming([value_hash("old@example.com")]);
        assert_eq!(dedupe.check(value_hash("a@example.com")), Seen::New);
        assert_eq!(dedupe.check(value_hash("a@example.com")), Seen::Duplicate);
        assert_eq!(
            dedupe.check(value_hash("old@example.com")),
            Seen::AlreadyBlocked
        );
        assert_eq!(dedupe.check(value_hash("b@example.com")), Seen::New);
    }

    #[test]
    fn a_million_text_values_stay_under_64_bytes_each() {
        let mut dedupe = HashedDedupe::new();
        for i in 0..1_000_000u64 {
            let hash = crate::input::value::value_hash(&format!("user{i}@example.com"));
            assert_eq!(dedupe.check(hash), Seen::New);
        }
        let per_value = dedupe.memory_bytes() / 1_000_000;
        assert!(per_value <= 64, "{per_value} bytes per value");
    }

    #[test]
    fn first_sighting_is_new_and_repeats_are_duplicates() {
        let mut dedupe = Dedupe::new();
        assert_eq!(dedupe.check(827), Seen::New);
        assert_eq!(dedupe.check(828), Seen::New);
        assert_eq!(dedupe.check(827), Seen::Duplicate);
        assert_eq!(dedupe.check(u64::MAX), Seen::New);
        assert_eq!(dedupe.check(u64::MAX), Seen::Duplicate);
    }

    #[test]
    fn resume_skips_blocked_ids_once_then_counts_repeats_as_duplicates() {
        let blocked: RoaringTreemap = [5u64, 6].into_iter().collect();
        let mut dedupe = Dedupe::resuming(blocked);
        assert_eq!(dedupe.check(5), Seen::AlreadyBlocked);
        assert_eq!(dedupe.check(5), Seen::Duplicate);
        assert_eq!(dedupe.check(7), Seen::New);
    }

    #[test]
    fn ten_million_sequential_ids_stay_small() {
        let mut dedupe = Dedupe::new();
        for id in 1..=10_000_000u64 {
            dedupe.check(id);
        }
        assert!(
            dedupe.memory_bytes() < 10 * 1024 * 1024,
            "{}",
            dedupe.memory_bytes()
        );
    }
}
