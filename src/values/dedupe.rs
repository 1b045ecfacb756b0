//! Dedupe across every input of a run: each value is sent at most once.
//!
//! The constraint: memory must stay in the tens of MB for tens of millions of values, so
//! the seen set is a set of *keys* in a compact form chosen by the kind ([`SeenSet`]):
//! contact IDs in a compressed bitmap (`RoaringTreemap`: 100M sequential IDs in about
//! 14 MB instead of 1.8 GB in a `HashSet`), strings as their 128-bit hash in a hash set
//! (about 17 to 35 bytes a value whatever its length; never the string itself).
//! `--resume` seeds a second set with the values the ledger shows blocked now, so they
//! are counted as skipped rather than as duplicates.

use super::kind::Kind;
use super::sets::SeenSet;

/// What the filter decided about one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time in this run: send it.
    New,
    /// Already read earlier in this run (any input).
    Duplicate,
    /// The ledger says it is blocked now (`--resume`).
    AlreadyBlocked,
}

/// The values seen so far in this run, plus the optional `--resume` set.
pub struct Dedupe<K: Kind> {
    seen: K::Seen,
    already_blocked: K::Seen,
}

impl<K: Kind> Default for Dedupe<K> {
    fn default() -> Self {
        Dedupe {
            seen: K::Seen::default(),
            already_blocked: K::Seen::default(),
        }
    }
}

impl<K: Kind> Dedupe<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A filter that also skips the values in `already_blocked` (from the ledger, for
    /// `--resume`).
    pub fn resuming(already_blocked: K::Seen) -> Self {
        Dedupe {
            seen: K::Seen::default(),
            already_blocked,
        }
    }

    /// Room for `values` distinct values from the start.
    pub fn with_capacity(mut self, values: usize) -> Self {
        self.seen.reserve(values);
        self
    }

    /// Records the value with this key and says whether it should be sent.
    #[inline]
    pub fn check(&mut self, key: K::Key) -> Seen {
        if !self.seen.insert(key) {
            Seen::Duplicate
        } else if self.already_blocked.contains(key) {
            Seen::AlreadyBlocked
        } else {
            Seen::New
        }
    }

    /// Whether the value with this key was checked before (whatever the answer was).
    pub fn contains(&self, key: K::Key) -> bool {
        self.seen.contains(key)
    }

    /// Bytes the sets occupy, roughly.
    pub fn memory_bytes(&self) -> u64 {
        self.seen.memory_bytes() + self.already_blocked.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::kind::{Contact, Text};
    use crate::values::sets::StringSet;
    use crate::values::text::value_hash;
    use roaring::RoaringTreemap;

    #[test]
    fn text_values_dedupe_by_hash_and_resume_skips_known_ones() {
        let mut known = StringSet::default();
        known.insert(value_hash("old@example.com"));
        let mut dedupe = Dedupe::<Text>::resuming(known);
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
        let mut dedupe = Dedupe::<Text>::new();
        for i in 0..1_000_000u64 {
            let hash = value_hash(&format!("user{i}@example.com"));
            assert_eq!(dedupe.check(hash), Seen::New);
        }
        let per_value = dedupe.memory_bytes() / 1_000_000;
        assert!(per_value <= 64, "{per_value} bytes per value");
    }

    #[test]
    fn first_sighting_is_new_and_repeats_are_duplicates() {
        let mut dedupe = Dedupe::<Contact>::new();
        assert_eq!(dedupe.check(827), Seen::New);
        assert_eq!(dedupe.check(828), Seen::New);
        assert_eq!(dedupe.check(827), Seen::Duplicate);
        assert_eq!(dedupe.check(u64::MAX), Seen::New);
        assert_eq!(dedupe.check(u64::MAX), Seen::Duplicate);
    }

    #[test]
    fn resume_skips_blocked_ids_once_then_counts_repeats_as_duplicates() {
        let blocked: RoaringTreemap = [5u64, 6].into_iter().collect();
        let mut dedupe = Dedupe::<Contact>::resuming(blocked);
        assert_eq!(dedupe.check(5), Seen::AlreadyBlocked);
        assert_eq!(dedupe.check(5), Seen::Duplicate);
        assert_eq!(dedupe.check(7), Seen::New);
    }

    #[test]
    fn ten_million_sequential_ids_stay_small() {
        let mut dedupe = Dedupe::<Contact>::new();
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
