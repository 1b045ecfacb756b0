//! Which lines of a ledger a command may act on: those of runs whose run line names the
//! command's own target, so that a sandbox run never makes a real run skip anything, and
//! one account's ledger never undoes another's.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::Record;
use crate::values::count::plural;

/// Admits the lines of runs against one target. Lines of other targets, and of runs with
/// no run line (written before run lines existed, or torn), are counted by target and
/// never used.
#[derive(Debug)]
pub struct TargetFilter {
    target: String,
    /// Each run's target, from its run line.
    runs: HashMap<String, String>,
    /// Lines skipped, by the target they belong to.
    skipped: BTreeMap<String, u64>,
    /// Lines admitted (run lines not counted).
    admitted: u64,
}

/// What a run with no run line is counted under.
pub const UNKNOWN_TARGET: &str = "(no run line: unknown target)";

impl TargetFilter {
    pub fn new(target: impl Into<String>) -> TargetFilter {
        TargetFilter {
            target: target.into(),
            runs: HashMap::new(),
            skipped: BTreeMap::new(),
            admitted: 0,
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
            self.admitted += 1;
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

    pub fn target(&self) -> &str {
        &self.target
    }

    /// Lines skipped, by target.
    #[cfg(test)]
    pub fn skipped(&self) -> &BTreeMap<String, u64> {
        &self.skipped
    }

    /// Whether the ledger holds lines of other targets and none of this one: a command
    /// pointed at the wrong target (or the wrong ledger).
    pub fn only_others(&self) -> bool {
        self.admitted == 0 && !self.skipped.is_empty()
    }

    /// The targets skipped, for messages: `sandbox: 3 lines; https://...: 1 line`.
    pub fn skipped_list(&self) -> String {
        self.skipped
            .iter()
            .map(|(target, lines)| format!("{target}: {}", plural(*lines, "line")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Logs a warning naming the targets whose lines were skipped, if any.
    pub fn warn_skipped(&self, path: &Path) {
        if self.skipped.is_empty() {
            return;
        }
        let total: u64 = self.skipped.values().sum();
        tracing::warn!(
            ledger = %path.display(),
            skipped_lines = total,
            targets = %self.skipped_list(),
            this_target = %self.target,
            "Ignoring ledger lines written against another target; only this target's lines are used"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::tests::{at, batch};
    use crate::ledger::{RunRecord, Status};

    fn run_record(run: &str, target: &str) -> Record {
        Record::Run(RunRecord {
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
            Record::Outcome(batch("sand", Status::Blocked, &[1, 2], till)),
            run_record("real", "https://acme.acquire.io"),
            Record::Outcome(batch("real", Status::Blocked, &[3], till)),
            // A run with no run line (an older ledger, or a hand-written one).
            Record::Outcome(batch("old", Status::Blocked, &[4], till)),
        ];
        let mut filter = TargetFilter::new("https://acme.acquire.io");
        let admitted: Vec<&str> = records
            .iter()
            .filter(|r| filter.admits(r))
            .map(Record::run)
            .collect();
        assert_eq!(admitted, ["real"]);
        let skipped: Vec<(&str, u64)> = filter
            .skipped()
            .iter()
            .map(|(target, lines)| (target.as_str(), *lines))
            .collect();
        assert_eq!(skipped, [(UNKNOWN_TARGET, 1), ("sandbox", 1)]);
        assert!(!filter.only_others());
        let mut elsewhere = TargetFilter::new("https://other.acquire.io");
        records.iter().for_each(|r| {
            elsewhere.admits(r);
        });
        assert!(elsewhere.only_others());
        assert!(elsewhere.skipped_list().contains("sandbox: 1 line"));
    }
}
