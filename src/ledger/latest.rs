//! "Latest status per ID": which IDs a ledger shows blocked, failed or refused.
//!
//! Constraint kept here: for any ID the latest line that names it wins (a later blocked
//! line clears an earlier failure and vice versa; rejected lines name no ID and change
//! nothing), and memory stays proportional to the compressed ID sets (roaring bitmaps),
//! never to the number of lines. Failed IDs are kept grouped by their line's
//! `block_till`, because that is how `blockade retry` must re-send them. Refused IDs are
//! failed ones the server refused by name: they sit in those groups too, and apart.
//!
//! A command that acts on a ledger (`--resume`, `retry`) loads it through a
//! [`TargetFilter`]: only the lines of runs against its own target count, so that a
//! sandbox run never makes a real run skip anything.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use roaring::RoaringTreemap;

use super::{LedgerError, LedgerReadStats, Record, Status, UnblockRecord, read_records};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatestStatus {
    blocked: RoaringTreemap,
    /// IDs whose latest line is `refused` (a subset of `failed`).
    refused: RoaringTreemap,
    /// Every failed ID, i.e. the union of `failed_by_till`: lets a line that touches no
    /// failed ID skip the per-group work.
    failed: RoaringTreemap,
    failed_by_till: BTreeMap<DateTime<Utc>, RoaringTreemap>,
    /// IDs whose latest line is an unblock's `unblocked` or `not_blocked`.
    unblocked: RoaringTreemap,
    /// IDs whose latest line is an unblock's `failed` (not in `failed`: `retry` must not
    /// block what the moderator meant to unblock).
    unblock_failed: RoaringTreemap,
}

impl LatestStatus {
    /// Reads only the lines of runs against `target`; `filter` counts the others.
    pub fn load_for(
        path: &Path,
        filter: &mut TargetFilter,
    ) -> Result<(LatestStatus, LedgerReadStats), LedgerError> {
        let mut latest = LatestStatus::default();
        let stats = read_records(path, |_, record| {
            if filter.admits(&record) {
                latest.apply(&record);
            }
        })?;
        Ok((latest, stats))
    }

    #[cfg(test)]
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> LatestStatus {
        let mut latest = LatestStatus::default();
        for record in records {
            latest.apply(&record);
        }
        latest
    }

    /// Applies the next line of a ledger (lines must come in file order).
    pub fn apply(&mut self, record: &Record) {
        let batch = match record {
            Record::Batch(batch) => batch,
            Record::Unblock(unblock) => return self.apply_unblock(unblock),
            // Emails and IPs have their own view (`LatestText`).
            Record::Reject(_) | Record::Run(_) | Record::Text(_) => return,
        };
        let ids: RoaringTreemap = batch.ids.iter().copied().collect();
        if !self.unblocked.is_empty() {
            self.unblocked -= &ids;
        }
        if !self.unblock_failed.is_empty() {
            self.unblock_failed -= &ids;
        }
        match batch.status {
            Status::Blocked => {
                self.forget_failed(&ids, None);
                self.refused -= &ids;
                self.blocked |= &ids;
            }
            Status::Failed | Status::Refused => {
                self.blocked -= &ids;
                self.forget_failed(&ids, Some(batch.block_till));
                self.failed |= &ids;
                if batch.status == Status::Refused {
                    self.refused |= &ids;
                } else {
                    self.refused -= &ids;
                }
                *self.failed_by_till.entry(batch.block_till).or_default() |= ids;
            }
            Status::Rejected | Status::Run | Status::Unblocked | Status::NotBlocked => {}
        }
    }

    /// An unblock line: `unblocked`/`not_blocked` take the IDs out of blocked and failed;
    /// a `failed` one takes them out of failed (so `retry` does not block them again) and
    /// leaves blocked as it was (the record is probably still there).
    fn apply_unblock(&mut self, unblock: &UnblockRecord) {
        let ids: RoaringTreemap = unblock.ids.iter().copied().collect();
        self.forget_failed(&ids, None);
        self.refused -= &ids;
        if unblock.status == Status::Failed {
            self.unblocked -= &ids;
            self.unblock_failed |= ids;
        } else {
            self.blocked -= &ids;
            self.unblock_failed -= &ids;
            self.unblocked |= ids;
        }
    }

    /// IDs whose latest outcome is an unblock's `unblocked` or `not_blocked`.
    pub fn unblocked(&self) -> &RoaringTreemap {
        &self.unblocked
    }

    /// IDs whose latest outcome is a failed unblock.
    pub fn unblock_failed(&self) -> &RoaringTreemap {
        &self.unblock_failed
    }

    /// Folds in the state of a ledger whose lines all come after this one's (the next
    /// shard or file): the result equals reading both ledgers' lines in that order,
    /// because every ID the later ledger names ends up in its blocked or failed set.
    pub fn merge_later(&mut self, later: LatestStatus) {
        let settled_later = &(&later.blocked | &later.failed) | &later.unblocked;
        let named_later = &settled_later | &later.unblock_failed;
        self.blocked -= &settled_later;
        self.blocked |= later.blocked;
        self.unblocked -= &named_later;
        self.unblocked |= later.unblocked;
        self.unblock_failed -= &named_later;
        self.unblock_failed |= later.unblock_failed;
        self.refused -= &named_later;
        self.refused |= later.refused;
        self.forget_failed(&named_later, None);
        self.failed |= later.failed;
        for (till, ids) in later.failed_by_till {
            *self.failed_by_till.entry(till).or_default() |= ids;
        }
    }

    /// IDs whose latest outcome is blocked.
    pub fn blocked(&self) -> &RoaringTreemap {
        &self.blocked
    }

    /// The blocked set itself, for `--resume` (no copy of a possibly large bitmap).
    pub fn into_blocked(self) -> RoaringTreemap {
        self.blocked
    }

    /// IDs whose latest outcome is failed, grouped by that line's `block_till`, earliest first.
    pub fn failed_by_block_till(&self) -> Vec<(DateTime<Utc>, RoaringTreemap)> {
        self.failed_by_till
            .iter()
            .map(|(till, ids)| (*till, ids.clone()))
            .collect()
    }

    /// IDs whose latest outcome is refused: the server refused them by name.
    pub fn refused(&self) -> &RoaringTreemap {
        &self.refused
    }

    /// Failed IDs for `retry`: grouped by block-till, without the refused ones unless
    /// `include_refused`.
    pub fn to_retry(&self, include_refused: bool) -> Vec<(DateTime<Utc>, RoaringTreemap)> {
        let mut groups = self.failed_by_block_till();
        if !include_refused && !self.refused.is_empty() {
            for (_, ids) in &mut groups {
                *ids -= &self.refused;
            }
            groups.retain(|(_, ids)| !ids.is_empty());
        }
        groups
    }

    /// IDs whose latest outcome is failed (refused ones included).
    pub fn failed(&self) -> &RoaringTreemap {
        &self.failed
    }

    pub fn failed_count(&self) -> u64 {
        self.failed.len()
    }

    /// Removes `ids` from every failed group except `keep` (the group they are about to
    /// join). Groups are only visited when the line names an already failed ID, and the
    /// walk stops once all of those are found; each ID sits in at most one group.
    fn forget_failed(&mut self, ids: &RoaringTreemap, keep: Option<DateTime<Utc>>) {
        let mut moving = &self.failed & ids;
        if moving.is_empty() {
            return;
        }
        self.failed -= &moving;
        let mut emptied = Vec::new();
        for (till, group) in &mut self.failed_by_till {
            if moving.is_empty() {
                break;
            }
            let here = &*group & &moving;
            if here.is_empty() {
                continue;
            }
            moving -= &here;
            if Some(*till) != keep {
                *group -= &here;
                if group.is_empty() {
                    emptied.push(*till);
                }
            }
        }
        for till in emptied {
            self.failed_by_till.remove(&till);
        }
    }
}

/// Decides which lines of a ledger a command may act on: those of runs whose run line
/// names the command's own target. Lines of other targets, and of runs with no run line
/// (written before run lines existed, or torn), are counted by target and never used.
#[derive(Debug)]
pub struct TargetFilter {
    target: String,
    /// Each run's target, from its run line.
    runs: HashMap<String, String>,
    /// Lines skipped, by the target they belong to.
    skipped: BTreeMap<String, u64>,
}

/// What a run with no run line is counted under.
const UNKNOWN_TARGET: &str = "(no run line: unknown target)";

impl TargetFilter {
    pub fn new(target: impl Into<String>) -> TargetFilter {
        TargetFilter {
            target: target.into(),
            runs: HashMap::new(),
            skipped: BTreeMap::new(),
        }
    }

    /// Whether `record` belongs to a run against this target. Run lines themselves are
    /// remembered, not admitted.
    pub fn admits(&mut self, record: &Record) -> bool {
        if let Record::Run(run) = record {
            self.runs.insert(run.run.clone(), run.target.clone());
            return false;
        }
        let target = self
            .runs
            .get(record.run())
            .map_or(UNKNOWN_TARGET, String::as_str);
        if target == self.target {
            return true;
        }
        match self.skipped.get_mut(target) {
            Some(count) => *count += 1,
            None => {
                self.skipped.insert(target.to_owned(), 1);
            }
        }
        false
    }

    /// Lines skipped, by target.
    pub fn skipped(&self) -> &BTreeMap<String, u64> {
        &self.skipped
    }

    /// Logs a warning naming the targets whose lines were skipped, if any.
    pub fn warn_skipped(&self, path: &Path) {
        if self.skipped.is_empty() {
            return;
        }
        let total: u64 = self.skipped.values().sum();
        let targets = self
            .skipped
            .iter()
            .map(|(target, lines)| {
                format!("{target}: {}", crate::ui::summary::plural(*lines, "line"))
            })
            .collect::<Vec<_>>()
            .join("; ");
        tracing::warn!(
            ledger = %path.display(),
            skipped_lines = total,
            %targets,
            this_target = %self.target,
            "Ignoring ledger lines written against another target; only this target's lines are used"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::RejectRecord;
    use crate::ledger::record::tests::{at, batch};

    fn line(status: Status, ids: &[u64], till: DateTime<Utc>) -> Record {
        Record::Batch(batch("r1", status, ids, till))
    }

    fn set(ids: &[u64]) -> RoaringTreemap {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_later_failure_takes_an_id_out_of_blocked() {
        let till = at(100, 0);
        let latest = LatestStatus::from_records([
            line(Status::Blocked, &[1, 2, 3], till),
            line(Status::Failed, &[2], till),
        ]);
        assert_eq!(latest.blocked(), &set(&[1, 3]));
        assert_eq!(latest.failed_by_block_till(), [(till, set(&[2]))]);
        assert_eq!(latest.failed_count(), 1);
    }

    #[test]
    fn a_later_block_clears_an_earlier_failure() {
        let till = at(100, 0);
        let latest = LatestStatus::from_records([
            line(Status::Failed, &[1, 2, 3], till),
            line(Status::Blocked, &[1, 3], till),
        ]);
        assert_eq!(latest.blocked(), &set(&[1, 3]));
        assert_eq!(latest.failed_by_block_till(), [(till, set(&[2]))]);
        assert_eq!(latest.failed_count(), 1);
    }

    #[test]
    fn failures_are_grouped_by_their_latest_block_till() {
        let (early, late) = (at(100, 0), at(200, 0));
        let latest = LatestStatus::from_records([
            line(Status::Failed, &[5, 6], late),
            line(Status::Failed, &[1, 2], early),
            // ID 6 failed again with another block_till: it moves to that group.
            line(Status::Failed, &[6], early),
            // ID 5 gets blocked: its group empties and disappears.
            line(Status::Blocked, &[5], late),
        ]);
        assert_eq!(latest.failed_by_block_till(), [(early, set(&[1, 2, 6]))]);
        assert_eq!(latest.failed(), &set(&[1, 2, 6]));
        assert_eq!(latest.blocked(), &set(&[5]));
    }

    #[test]
    fn rejected_lines_change_nothing() {
        let till = at(100, 0);
        let reject = Record::Reject(RejectRecord {
            run: "r1".to_owned(),
            status: Status::Rejected,
            source: "a.csv:2".to_owned(),
            input: "1".to_owned(),
            error: "duplicate header".to_owned(),
        });
        let with = LatestStatus::from_records([line(Status::Failed, &[1], till), reject]);
        let without = LatestStatus::from_records([line(Status::Failed, &[1], till)]);
        assert_eq!(with, without);
    }

    #[test]
    fn merging_a_later_ledger_equals_reading_both_in_order() {
        let (early, late) = (at(100, 0), at(200, 0));
        let first = [
            line(Status::Failed, &[1, 2, 3], early),
            line(Status::Blocked, &[4, 5], early),
            line(Status::Failed, &[7], late),
        ];
        let second = [
            line(Status::Blocked, &[1], early),
            line(Status::Failed, &[4], late),
            line(Status::Failed, &[2], late),
            line(Status::Blocked, &[8], late),
        ];
        let mut merged = LatestStatus::from_records(first.clone());
        merged.merge_later(LatestStatus::from_records(second.clone()));
        let in_order = LatestStatus::from_records(first.into_iter().chain(second));
        assert_eq!(merged, in_order);
        assert_eq!(merged.blocked(), &set(&[1, 5, 8]));
        assert_eq!(
            merged.failed_by_block_till(),
            [(early, set(&[3])), (late, set(&[2, 4, 7]))]
        );
    }

    #[test]
    fn refused_ids_are_retried_only_when_asked_and_a_block_clears_them() {
        let till = at(100, 0);
        let latest = LatestStatus::from_records([
            line(Status::Failed, &[1, 2], till),
            line(Status::Refused, &[3], till),
            line(Status::Refused, &[4], till),
            line(Status::Blocked, &[4], till),
        ]);
        assert_eq!(latest.refused(), &set(&[3]));
        assert_eq!(latest.to_retry(false), [(till, set(&[1, 2]))]);
        assert_eq!(latest.to_retry(true), [(till, set(&[1, 2, 3]))]);
        assert_eq!(latest.blocked(), &set(&[4]));
    }

    fn run_record(run: &str, target: &str) -> Record {
        Record::Run(crate::ledger::RunRecord {
            run: run.to_owned(),
            status: Status::Run,
            command: "block".to_owned(),
            target: target.to_owned(),
            started_at: at(0, 0),
            version: String::new(),
        })
    }

    #[test]
    fn only_lines_of_runs_against_the_same_target_are_admitted() {
        let till = at(100, 0);
        let records = [
            run_record("sand", "sandbox"),
            Record::Batch(batch("sand", Status::Blocked, &[1, 2], till)),
            run_record("real", "https://acme.acquire.io"),
            Record::Batch(batch("real", Status::Blocked, &[3], till)),
            // A run with no run line (an older ledger, or a hand-written one).
            Record::Batch(batch("old", Status::Blocked, &[4], till)),
        ];
        let mut filter = TargetFilter::new("https://acme.acquire.io");
        let latest =
            LatestStatus::from_records(records.iter().filter(|r| filter.admits(r)).cloned());
        assert_eq!(latest.blocked(), &set(&[3]));
        let skipped: Vec<(&str, u64)> = filter
            .skipped()
            .iter()
            .map(|(target, lines)| (target.as_str(), *lines))
            .collect();
        assert_eq!(skipped, [(UNKNOWN_TARGET, 1), ("sandbox", 1)]);
    }

    #[test]
    fn load_reads_a_ledger_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let till = at(100, 0);
        let lines = [
            line(Status::Failed, &[1, 2], till),
            line(Status::Blocked, &[2], till),
        ]
        .iter()
        .map(|record| serde_json::to_string(record).expect("serializes") + "\n")
        .collect::<String>();
        std::fs::write(&path, lines + "{torn").expect("seeded");
        // Hand-written lines have no run line: their target is the unknown one.
        let mut filter = TargetFilter::new(UNKNOWN_TARGET);
        let (latest, stats) = LatestStatus::load_for(&path, &mut filter).expect("loads");
        assert_eq!(latest.blocked(), &set(&[2]));
        assert_eq!(latest.failed(), &set(&[1]));
        assert_eq!(stats.bad_line_count, 1);
    }

    fn unblock_line(status: Status, ids: &[u64]) -> Record {
        Record::Unblock(crate::ledger::UnblockRecord {
            run: "u1".to_owned(),
            batch: 1,
            status,
            op: crate::ledger::UNBLOCK_OP.to_owned(),
            ids: ids.to_vec(),
            block_ids: None,
            attempts: 1,
            http_status: Some(200),
            error: None,
            kind: None,
            source: "test".to_owned(),
            started_at: at(0, 0),
            finished_at: at(0, 1),
            ms: 1,
        })
    }

    #[test]
    fn unblock_lines_clear_blocked_and_failed_and_a_later_block_wins_again() {
        let till = at(86_400, 0);
        let lines = vec![
            line(Status::Blocked, &[1, 2, 3], till),
            line(Status::Failed, &[4], till),
            unblock_line(Status::Unblocked, &[1]),
            unblock_line(Status::NotBlocked, &[4]),
            unblock_line(Status::Failed, &[2]),
        ];
        let latest = LatestStatus::from_records(lines.clone());
        let ids = |set: &RoaringTreemap| set.iter().collect::<Vec<_>>();
        assert_eq!(
            ids(latest.blocked()),
            [2, 3],
            "a failed unblock leaves it blocked"
        );
        assert_eq!(ids(latest.unblocked()), [1, 4]);
        assert_eq!(ids(latest.unblock_failed()), [2]);
        assert!(
            latest.failed().is_empty(),
            "retry must not block what was unblocked"
        );

        let mut again = lines.clone();
        again.push(line(Status::Blocked, &[1, 2], till));
        let latest = LatestStatus::from_records(again);
        assert_eq!(ids(latest.blocked()), [1, 2, 3]);
        assert_eq!(ids(latest.unblocked()), [4]);
        assert!(latest.unblock_failed().is_empty());

        // Split anywhere, merged: the same as read in one go.
        for cut in 0..=lines.len() {
            let mut merged = LatestStatus::from_records(lines[..cut].to_vec());
            merged.merge_later(LatestStatus::from_records(lines[cut..].to_vec()));
            assert_eq!(
                merged,
                LatestStatus::from_records(lines.clone()),
                "cut at {cut}"
            );
        }
    }
}
