//! Counters shared by the stages of a run, read by the progress display and the summary:
//! the one place a run's figures are kept while it goes.
//!
//! Plain relaxed atomics: each counter is only ever added to, and readers only need a
//! recent value, not a consistent snapshot across counters. What is kept per kind of
//! failure (a few per run) sits behind a mutex, touched only on failures.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

#[derive(Debug, Default)]
pub struct Counters {
    /// Valid rows read (including duplicates and resumed ones).
    pub rows: AtomicU64,
    /// Bad rows, each with a `rejected` ledger line.
    pub rejected: AtomicU64,
    /// Inputs that could not be read to their end (corrupt gzip, I/O error).
    pub inputs_broken: AtomicU64,
    /// Rows whose value was already read earlier in this run.
    pub duplicates: AtomicU64,
    /// Rows skipped by `--resume` because the ledger shows them done (blocked now, or
    /// unblocked for an unblock).
    pub already_blocked: AtomicU64,
    /// Rows left to the other copies by `--shard`.
    pub other_shards: AtomicU64,
    /// Values read but never sent because the run stopped (abort, interrupt).
    pub not_sent: AtomicU64,
    /// Rows left unread because the run stopped (abort, interrupt).
    pub unread: AtomicU64,
    /// Inputs whose unread rows could not be counted (stdin, or too long to count): 0 or more.
    pub unread_uncounted: AtomicU64,
    pub ids_blocked: AtomicU64,
    /// Of `ids_blocked`, those the server said were blocked already.
    pub ids_already: AtomicU64,
    pub ids_failed: AtomicU64,
    /// Values the server refused by name (a 400 for that one value).
    pub ids_refused: AtomicU64,
    /// `unblock`: values whose block record was deleted.
    pub ids_unblocked: AtomicU64,
    /// `unblock`: values with no block record, or whose DELETE deleted nothing.
    pub ids_not_blocked: AtomicU64,
    /// `unblock`: block records deleted.
    pub records_deleted: AtomicU64,
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
    /// Values whose outcome was decided with no request (no record to delete, a value
    /// the list did not show): in the outcome counts, not in what was sent.
    pub ids_unsent: AtomicU64,
    /// The earliest and latest block-till of the blocked lines, in ms since the epoch
    /// (0: none yet).
    till_first: AtomicI64,
    till_last: AtomicI64,
    /// Failed (and refused) lines by kind of failure.
    failures: Mutex<BTreeMap<String, FailureCount>>,
}

/// The failed lines of one kind of failure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FailureCount {
    pub kind: String,
    pub values: u64,
    pub lines: u64,
    /// The first error of this kind, as the ledger has it.
    pub example: String,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Values whose fate is settled: blocked, failed, rejected, duplicate or skipped
    /// (resumed, other shard), unblocked or found not blocked.
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

    /// Notes the block-till of a blocked line.
    pub fn note_block_till(&self, till: DateTime<Utc>) {
        let millis = till.timestamp_millis();
        let _ = self
            .till_first
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |first| {
                (first == 0 || millis < first).then_some(millis)
            });
        self.till_last.fetch_max(millis, Ordering::Relaxed);
    }

    /// The earliest and latest block-till blocked, if anything was.
    pub fn block_till_range(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let at = |millis: i64| Utc.timestamp_millis_opt(millis).single();
        let first = self.till_first.load(Ordering::Relaxed);
        (first != 0)
            .then(|| Some((at(first)?, at(self.till_last.load(Ordering::Relaxed))?)))
            .flatten()
    }

    /// Counts a failed (or refused) line of `values` values.
    pub fn note_failure(&self, kind: String, values: u64, error: Option<&str>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let entry = failures
            .entry(kind.clone())
            .or_insert_with(|| FailureCount {
                kind,
                example: error.unwrap_or_default().to_owned(),
                ..FailureCount::default()
            });
        entry.values += values;
        entry.lines += 1;
    }

    /// Failed lines by kind, most values first.
    pub fn failures(&self) -> Vec<FailureCount> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<FailureCount> = failures.values().cloned().collect();
        out.sort_by(|a, b| b.values.cmp(&a.values).then_with(|| a.kind.cmp(&b.kind)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_till_range_and_failures_are_kept() {
        let counters = Counters::default();
        assert_eq!(counters.block_till_range(), None);
        let (a, b) = (
            Utc.timestamp_millis_opt(2_000).unwrap(),
            Utc.timestamp_millis_opt(1_000).unwrap(),
        );
        counters.note_block_till(a);
        counters.note_block_till(b);
        assert_eq!(counters.block_till_range(), Some((b, a)));
        counters.note_failure("timeout".into(), 100, Some("no answer"));
        counters.note_failure("http 503".into(), 300, Some("busy"));
        counters.note_failure("timeout".into(), 100, Some("later"));
        let failures = counters.failures();
        assert_eq!(failures[0].kind, "http 503");
        assert_eq!((failures[1].values, failures[1].lines), (200, 2));
        assert_eq!(failures[1].example, "no answer");
    }
}
