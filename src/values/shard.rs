//! `--shard K/N`: one of N copies of blockade takes exactly the IDs whose hash falls in
//! shard K, so N copies split one list with no overlap and no gap.
//!
//! The constraint: the hash must be stable across runs, machines, versions and platforms,
//! so it is a fixed mixing function written here (splitmix64's finalizer), never std's
//! randomly keyed `Hash`. Changing it would re-deal every ID: don't.

use std::fmt;
use std::str::FromStr;

/// Shard `index` (1-based, as people count) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether `id` belongs to this shard.
    pub fn owns(&self, id: u64) -> bool {
        shard_of(id, self.count) == self.index
    }
}

/// The shard (1..=count) an ID falls in.
pub fn shard_of(id: u64, count: u32) -> u32 {
    (mix(id) % u64::from(count.max(1))) as u32 + 1
}

/// splitmix64's finalizer: a fixed, well-spread bijection on u64.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const HINT: &str = "expected K/N with 1 <= K <= N, e.g. --shard 2/8 (a Kubernetes Indexed Job passes $((JOB_COMPLETION_INDEX+1))/N)";
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("'{text}': {HINT}"))?;
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| format!("'{text}': {HINT}"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("'{text}': {HINT}"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("'{text}': {HINT}"));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
        for bad in ["0/8", "9/8", "1/0", "2", "a/b", "-1/3"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("K/N"), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        // These values are part of the contract between runs and machines (computed once,
        // independently, from splitmix64's published constants). If this test fails, the
        // shards of a job split across versions would overlap: do not update them.
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
        assert_eq!(mix(827), 0xcd4b_546d_ee4c_877b);
        let shards: Vec<u32> = [1u64, 2, 3, 827, 828, u64::MAX]
            .iter()
            .map(|&id| shard_of(id, 8))
            .collect();
        assert_eq!(shards, [6, 3, 1, 4, 1, 4]);
    }

    #[test]
    fn sequential_ids_spread_evenly() {
        let mut counts = [0u32; 8];
        for id in 1..=80_000u64 {
            counts[shard_of(id, 8) as usize - 1] += 1;
        }
        for count in counts {
            assert!((9_000..=11_000).contains(&count), "{counts:?}");
        }
    }

    proptest! {
        #[test]
        fn shards_partition_any_input(ids in proptest::collection::vec(any::<u64>(), 0..500), count in 1u32..20) {
            for id in ids {
                let owners = (1..=count).filter(|&k| Shard { index: k, count }.owns(id)).count();
                prop_assert_eq!(owners, 1, "id {} is owned by {} shards of {}", id, owners, count);
            }
        }
    }
}
