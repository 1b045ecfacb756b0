//! `verify`'s comparison, for every kind of value: what this target's ledger claims (the
//! values whose latest line says blocked, until a time still to come; and those it says
//! unblocked), against the account's live records, as listed.
//!
//! Memory: the ledger's latest state per value (`Latest`: bitmaps or 128-bit hashes) and
//! sets of keys; never a string. The differing values' text is written as found: `+`
//! while listing (a record names it), `-` and `*` by a second pass over the ledger.
//!
//! Marks, as `rclone check` prints them:
//! - `=` held, with the blockTill the ledger says;
//! - `-` claimed, but no live record holds it;
//! - `*` held, with another blockTill (a later one still keeps the claim; an earlier one
//!   does not);
//! - `+` a live record holds it, though the ledger's latest line says unblocked.

use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::list::ListedRecord;
use crate::ledger::{Latest, LedgerError, Record, State, TargetFilter, read_records};
use crate::values::sets::SeenSet;
use crate::values::{Kind, ValueType};

/// The figures of one type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyCounts {
    /// Values the ledger says are blocked now.
    pub claimed: u64,
    /// `=`: held with the blockTill the ledger says.
    pub held: u64,
    /// `*`: held until later than the ledger says (the claim holds).
    pub held_longer: u64,
    /// `*`: held, but ending sooner than the ledger says (the claim does not hold).
    pub held_shorter: u64,
    /// `-`: claimed, but no live record holds it.
    pub missing: u64,
    /// `+`: held, though the ledger's latest line says unblocked.
    pub unexpected: u64,
}

impl VerifyCounts {
    /// Whether every claim holds.
    pub fn clean(&self) -> bool {
        self.missing == 0 && self.held_shorter == 0 && self.unexpected == 0
    }

    pub fn add(&mut self, other: &VerifyCounts) {
        self.claimed += other.claimed;
        self.held += other.held;
        self.held_longer += other.held_longer;
        self.held_shorter += other.held_shorter;
        self.missing += other.missing;
        self.unexpected += other.unexpected;
    }
}

/// The check of one type, whatever its kind (one listing serves every type).
pub trait Check: Send {
    fn value_type(&self) -> ValueType;
    /// Takes in one page of records; writes a `+` line for each value held that the
    /// ledger says unblocked.
    fn page(&mut self, records: &[ListedRecord], combined: &mut dyn Write) -> io::Result<()>;
    /// The figures, after writing a `-` or `*` line for each differing claim.
    fn finish(
        self: Box<Self>,
        ledger: &Path,
        target: &str,
        combined: &mut dyn Write,
    ) -> anyhow::Result<VerifyCounts>;
}

/// The claims of one kind and what the listing found of them.
pub struct Claims<K: Kind> {
    kind: K,
    latest: Latest<K>,
    now: DateTime<Utc>,
    claimed: K::Seen,
    unblocked: K::Seen,
    /// Claimed values some live record holds until exactly, later than, or sooner than
    /// the ledger says.
    exact: K::Seen,
    later: K::Seen,
    sooner: K::Seen,
    /// `+` values written already.
    unexpected: K::Seen,
}

impl<K: Kind> Claims<K> {
    /// Reads this target's lines of `kind` (only the values whose latest line is of
    /// `run`, when given).
    pub fn load(
        kind: K,
        ledger: &Path,
        target: &str,
        run: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Claims<K>, LedgerError> {
        let mut latest = Latest::new(kind);
        let mut of_run = K::Seen::default();
        let mut filter = TargetFilter::new(target);
        read_records(ledger, |_, record| {
            if !filter.admits(&record) {
                return;
            }
            latest.apply(&record);
            if let (Some(run), Record::Outcome(line)) = (run, &record)
                && let Some(values) = latest.of_kind(line)
            {
                for value in values {
                    if line.run == run {
                        of_run.insert(K::key(value));
                    } else {
                        of_run.remove(K::key(value));
                    }
                }
            }
        })?;
        let in_run = |key: K::Key| run.is_none() || of_run.contains(key);
        let mut claimed = K::Seen::default();
        for key in latest.blocked_at(now).keys() {
            if in_run(key) {
                claimed.insert(key);
            }
        }
        let mut unblocked = K::Seen::default();
        for key in latest
            .keys_where(|entry| entry.state == State::Unblocked)
            .keys()
        {
            if in_run(key) {
                unblocked.insert(key);
            }
        }
        Ok(Claims {
            kind,
            latest,
            now,
            claimed,
            unblocked,
            exact: K::Seen::default(),
            later: K::Seen::default(),
            sooner: K::Seen::default(),
            unexpected: K::Seen::default(),
        })
    }
}

fn till_of(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

impl<K: Kind> Check for Claims<K> {
    fn value_type(&self) -> ValueType {
        self.kind.value_type()
    }

    fn page(&mut self, records: &[ListedRecord], combined: &mut dyn Write) -> io::Result<()> {
        for record in records {
            let Some(till) = till_of(&record.block_till).filter(|till| *till > self.now) else {
                continue; // expired (or unreadable): it blocks nothing
            };
            for value in record.values_of(self.kind) {
                let key = K::key(&value);
                if self.claimed.contains(key) {
                    let claim = self
                        .latest
                        .entry(key)
                        .and_then(|entry| entry.till)
                        .map(|t| t.timestamp_millis());
                    let held = till.timestamp_millis();
                    match claim {
                        Some(claim) if claim == held => self.exact.insert(key),
                        Some(claim) if held > claim => self.later.insert(key),
                        _ => self.sooner.insert(key),
                    };
                } else if self.unblocked.contains(key) && self.unexpected.insert(key) {
                    writeln!(combined, "+ {value}")?;
                }
            }
        }
        Ok(())
    }

    fn finish(
        self: Box<Self>,
        ledger: &Path,
        target: &str,
        combined: &mut dyn Write,
    ) -> anyhow::Result<VerifyCounts> {
        let mut counts = VerifyCounts {
            claimed: self.claimed.count(),
            unexpected: self.unexpected.count(),
            ..VerifyCounts::default()
        };
        // Each claim's mark: `=` if some record holds it as claimed, else `*` (later
        // first), else `-`.
        let mut differing = K::Seen::default();
        for key in self.claimed.keys() {
            if self.exact.contains(key) {
                counts.held += 1;
            } else if self.later.contains(key) {
                counts.held_longer += 1;
                differing.insert(key);
            } else if self.sooner.contains(key) {
                counts.held_shorter += 1;
                differing.insert(key);
            } else {
                counts.missing += 1;
                differing.insert(key);
            }
        }
        if differing.count() == 0 {
            return Ok(counts);
        }
        // Their text, from the lines that name them.
        let mut written = K::Seen::default();
        let mut filter = TargetFilter::new(target);
        let mut failure = None;
        read_records(ledger, |_, record| {
            if failure.is_some() || !filter.admits(&record) {
                return;
            }
            let Record::Outcome(line) = &record else {
                return;
            };
            let Some(values) = self.latest.of_kind(line) else {
                return;
            };
            for value in values {
                let key = K::key(value);
                if !differing.contains(key) || !written.insert(key) {
                    continue;
                }
                let mark = if self.later.contains(key) || self.sooner.contains(key) {
                    '*'
                } else {
                    '-'
                };
                if let Err(error) = writeln!(combined, "{mark} {value}") {
                    failure = Some(error);
                    return;
                }
            }
        })?;
        if let Some(error) = failure {
            return Err(error.into());
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::tests::{at, batch};
    use crate::values::Contact;

    #[test]
    fn each_claim_gets_its_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.jsonl");
        let till = at(1000, 0);
        let mut text = String::new();
        let run = serde_json::json!({"run":"r1","status":"run","command":"sync","target":"t",
            "started_at":"2021-01-01T00:00:00.000Z","version":"x"});
        text += &format!("{run}\n");
        let line = Record::Outcome(batch(
            "r1",
            crate::ledger::Status::Blocked,
            &[1, 2, 3, 4],
            till,
        ));
        text += &format!("{}\n", serde_json::to_string(&line).unwrap());
        let mut unblocked =
            crate::ledger::record::tests::unblock(crate::ledger::Status::Unblocked, &[5], Some(9));
        unblocked.run = "r1".into();
        text += &format!(
            "{}\n",
            serde_json::to_string(&Record::Outcome(unblocked)).unwrap()
        );
        std::fs::write(&path, text).unwrap();
        let now = at(0, 0);
        let mut claims = Box::new(Claims::load(Contact, &path, "t", None, now).unwrap());
        let record = |id, contact, till: DateTime<Utc>| ListedRecord {
            id,
            kind: "contact".into(),
            contact: Some(contact),
            block_till: till.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ..ListedRecord::default()
        };
        let mut out = Vec::new();
        claims
            .page(
                &[
                    record(1, 1, till),
                    record(2, 2, at(2000, 0)),
                    record(3, 3, at(500, 0)),
                    record(5, 5, till),
                    record(6, 6, till),
                ],
                &mut out,
            )
            .unwrap();
        let counts = claims.finish(&path, "t", &mut out).unwrap();
        assert_eq!(
            counts,
            VerifyCounts {
                claimed: 4,
                held: 1,
                held_longer: 1,
                held_shorter: 1,
                missing: 1,
                unexpected: 1,
            }
        );
        assert!(!counts.clean());
        assert_eq!(String::from_utf8(out).unwrap(), "+ 5\n* 2\n* 3\n- 4\n");
    }
}
