//! Counters shared by the stages of a run, read by the progress display and the summary.
//!
//! Plain relaxed atomics: each counter is only ever added to, and readers only need a
//! recent value, not a consistent snapshot across counters.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    /// Valid rows read (including duplicates and resumed ones).
    pub rows: AtomicU64,
    /// Bad rows, each with a `rejected` ledger line.
    pub rejected: AtomicU64,
    /// Inputs that could not be read to their end (corrupt gzip, I/O error).
    pub inputs_broken: AtomicU64,
    /// Rows whose ID was already read earlier in this run.
    pub duplicates: AtomicU64,
    /// Rows skipped by `--resume` because the ledger shows them blocked.
    pub already_blocked: AtomicU64,
    /// Rows left to the other copies by `--shard`.
    pub other_shards: AtomicU64,
    /// IDs read but never sent because the run stopped (abort, interrupt).
    pub not_sent: AtomicU64,
    /// Rows left unread because the run stopped (abort, interrupt).
    pub unread: AtomicU64,
    /// Inputs whose unread rows could not be counted (stdin, or too long to count): 0 or more.
    pub unread_uncounted: AtomicU64,
    pub ids_blocked: AtomicU64,
    /// Of `ids_blocked`, those the server said were blocked already.
    pub ids_already: AtomicU64,
    pub ids_failed: AtomicU64,
    /// IDs the server refused by name (a 400 for that one ID).
    pub ids_refused: AtomicU64,
    /// `unblock`: contacts whose block record was deleted (one per record).
    pub ids_unblocked: AtomicU64,
    /// `unblock`: contacts with no block record, or whose DELETE deleted nothing.
    pub ids_not_blocked: AtomicU64,
    /// `unblock`: list requests sent to find block records, and the records listed.
    pub list_requests: AtomicU64,
    pub records_listed: AtomicU64,
    pub batches_blocked: AtomicU64,
    pub batches_failed: AtomicU64,
    /// `sync`: of `ids_blocked`, those whose block was renewed (it was about to end).
    pub ids_renewed: AtomicU64,
    /// `sync`: listed values the account already holds long enough (nothing sent).
    pub ids_held: AtomicU64,
    /// `sync --prune`: values to unblock that the inputs no longer name (in `rows` too:
    /// each ends unblocked, failed or not sent).
    pub ids_to_prune: AtomicU64,
    /// Values not asked for that a deleted record also held, blocked again at once with
    /// its blockTill (exact unblock, prune, a replaced record). Not rows: outside the sums.
    pub ids_reblocked: AtomicU64,
    /// Of those, the ones whose block again failed: they are left unblocked (exit 1).
    pub reblock_failed: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Rows whose fate is settled: blocked, failed, rejected, duplicate or skipped (resumed,
    /// other shard).
    pub fn settled(&self) -> u64 {
        [
            &self.ids_blocked,
            &self.ids_failed,
            &self.ids_refused,
            &self.rejected,
            &self.duplicates,
            &self.already_blocked,
            &self.other_shards,
            &self.ids_unblocked,
            &self.ids_not_blocked,
            &self.ids_held,
        ]
        .iter()
        .map(|c| Self::get(c))
        .sum()
    }
}
