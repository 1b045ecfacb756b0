//! "Latest state per value": what a ledger last said of each value of one kind, and until
//! when, for `--resume`, `retry`, `unblock`, `sync`, `verify` and `report`.
//!
//! Constraints kept here:
//! - For any value the latest line that names it wins (a later blocked line clears an
//!   earlier failure and vice versa; rejected lines name no value and change nothing).
//! - Time is part of the state: a `blocked` line counts as blocked *now* only while its
//!   `block_till` is in the future ([`Entry::blocked_at`]); past it the value is expired.
//! - Memory stays proportional to the kind's compact map (`Kind::Map`: a bitmap per
//!   distinct state and block-till for contact IDs, 128-bit hashes for strings), never to
//!   the number of lines, and never holds a string.
//!
//! A command that acts on a ledger loads it through a [`TargetFilter`]: only the lines of
//! runs against its own target count.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

use super::{LedgerError, LedgerReadStats, OutcomeRecord, Record, Status, TargetFilter};
use crate::values::Kind;
use crate::values::sets::KeyMap;

/// What a value's latest line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Blocked until the entry's `till` (expired once it is past).
    Blocked,
    /// A block failed; `retry` re-sends it with the entry's `till`.
    Failed,
    /// The server refused it by name; `retry --include-refused` re-sends it.
    Refused,
    /// Unblocked, or found not blocked, by an unblock.
    Unblocked,
    /// An unblock failed: the record is probably still there (until the entry's `till`,
    /// when the ledger knew it), and `retry` must not block it again.
    UnblockFailed,
}

const STATES: [State; 5] = [
    State::Blocked,
    State::Failed,
    State::Refused,
    State::Unblocked,
    State::UnblockFailed,
];

/// A value's latest state, and the block-till its line named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub state: State,
    pub till: Option<DateTime<Utc>>,
}

impl Entry {
    /// Whether the value counts as blocked at `now`: its latest line blocked it (or failed
    /// to unblock it) until a time still to come.
    pub fn blocked_at(self, now: DateTime<Utc>) -> bool {
        matches!(self.state, State::Blocked | State::UnblockFailed)
            && self.till.is_some_and(|till| till > now)
    }

    /// Packed for the kind's map: the block-till in milliseconds above three bits of state.
    fn tag(self) -> u64 {
        let millis = self.till.map_or(0, |till| {
            till.timestamp_millis().clamp(1, i64::MAX >> 4) as u64
        });
        millis << 3 | self.state as u64
    }

    fn from_tag(tag: u64) -> Entry {
        let state = STATES[(tag & 7) as usize % STATES.len()];
        let millis = (tag >> 3) as i64;
        let till = (millis != 0)
            .then(|| Utc.timestamp_millis_opt(millis).single())
            .flatten();
        Entry { state, till }
    }
}

/// Values by their latest state, at one instant (for reports and summaries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StateCounts {
    /// Blocked until a time still to come.
    pub blocked: u64,
    /// Blocked once, and the block has run out.
    pub expired: u64,
    pub failed: u64,
    pub refused: u64,
    pub unblocked: u64,
    pub unblock_failed: u64,
}

/// The latest state of every value of one kind that a ledger names.
pub struct Latest<K: Kind> {
    kind: K,
    map: K::Map,
}

impl<K: Kind> Latest<K> {
    pub fn new(kind: K) -> Latest<K> {
        Latest {
            kind,
            map: K::Map::default(),
        }
    }

    /// Reads the lines of this kind of runs against `filter`'s target.
    pub fn load(
        path: &Path,
        filter: &mut TargetFilter,
        kind: K,
    ) -> Result<(Latest<K>, LedgerReadStats), LedgerError> {
        let mut latest = Latest::new(kind);
        let stats = super::read_records(path, |_, record| {
            if filter.admits(&record) {
                latest.apply(&record);
            }
        })?;
        Ok((latest, stats))
    }

    /// Applies the next line of a ledger (lines must come in file order).
    pub fn apply(&mut self, record: &Record) {
        let Record::Outcome(line) = record else {
            return;
        };
        let Some(values) = self.of_kind(line) else {
            return;
        };
        let keys: Vec<K::Key> = values.iter().map(K::key).collect();
        match (line.blocks(), line.status) {
            (_, Status::Rejected | Status::Run) => {}
            (true, status) => {
                let state = match status {
                    Status::Failed => State::Failed,
                    Status::Refused => State::Refused,
                    _ => State::Blocked,
                };
                let entry = Entry {
                    state,
                    till: line.block_till,
                };
                self.map.set_all(&keys, entry.tag());
            }
            (false, Status::Failed | Status::Refused) => {
                // The record is probably still there: keep the block-till known, if any.
                for key in keys {
                    let till = self
                        .entry(key)
                        .filter(|entry| {
                            matches!(entry.state, State::Blocked | State::UnblockFailed)
                        })
                        .and_then(|entry| entry.till);
                    let entry = Entry {
                        state: State::UnblockFailed,
                        till,
                    };
                    self.map.set_all(&[key], entry.tag());
                }
            }
            (false, _) => {
                let entry = Entry {
                    state: State::Unblocked,
                    till: None,
                };
                self.map.set_all(&keys, entry.tag());
            }
        }
    }

    /// The line's values, when it is a line of this kind.
    pub fn of_kind<'a>(&self, line: &'a OutcomeRecord) -> Option<&'a [K::Value]> {
        if line.value_type != self.kind.value_type() {
            return None;
        }
        K::of_values(&line.ids)
    }

    pub fn kind(&self) -> K {
        self.kind
    }

    /// The latest entry of the value with this key.
    pub fn entry(&self, key: K::Key) -> Option<Entry> {
        self.map.get(key).map(Entry::from_tag)
    }

    /// The keys of the values whose entry passes `keep`.
    pub fn keys_where(&self, keep: impl Fn(Entry) -> bool) -> K::Seen {
        self.map.keys_where(|tag| keep(Entry::from_tag(tag)))
    }

    /// The values blocked at `now` (for `--resume`).
    pub fn blocked_at(&self, now: DateTime<Utc>) -> K::Seen {
        self.keys_where(|entry| entry.blocked_at(now))
    }

    /// How many values are in each state at `now`.
    pub fn counts(&self, now: DateTime<Utc>) -> StateCounts {
        let mut counts = StateCounts::default();
        for (tag, n) in self.map.tag_counts() {
            let entry = Entry::from_tag(tag);
            let slot = match entry.state {
                State::Blocked if entry.blocked_at(now) => &mut counts.blocked,
                State::Blocked => &mut counts.expired,
                State::Failed => &mut counts.failed,
                State::Refused => &mut counts.refused,
                State::Unblocked => &mut counts.unblocked,
                State::UnblockFailed => &mut counts.unblock_failed,
            };
            *slot += n;
        }
        counts
    }

    /// Values whose entry passes `keep`.
    pub fn count_where(&self, keep: impl Fn(Entry) -> bool) -> u64 {
        self.map
            .tag_counts()
            .into_iter()
            .filter(|(tag, _)| keep(Entry::from_tag(*tag)))
            .map(|(_, n)| n)
            .sum()
    }

    /// Every value the ledger names, whatever its state.
    pub fn len(&self) -> u64 {
        self.map.count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `line` holds the latest word on `value`: a second pass over a ledger takes
    /// each value from the line that set its state (same state, same block-till), since
    /// only keys are kept in memory.
    pub fn says(&self, line: &OutcomeRecord, value: &K::Value, state: State) -> bool {
        self.entry(K::key(value))
            .is_some_and(|entry| entry.state == state && entry.till == line.block_till)
    }
}

/// Whether a value in `state` is re-sent by `retry`.
pub fn to_retry(state: State, include_refused: bool) -> bool {
    state == State::Failed || (include_refused && state == State::Refused)
}

#[cfg(test)]
mod tests {
    use roaring::RoaringTreemap;

    use super::*;
    use crate::ledger::record::tests::{at, batch, unblock};
    use crate::values::sets::SeenSet;
    use crate::values::{Contact, Text, ValueType, Values};

    fn line(status: Status, ids: &[u64], till: DateTime<Utc>) -> Record {
        Record::Outcome(batch("r1", status, ids, till))
    }

    fn latest(records: &[Record]) -> Latest<Contact> {
        let mut latest = Latest::new(Contact);
        for record in records {
            latest.apply(record);
        }
        latest
    }

    fn set(ids: &[u64]) -> RoaringTreemap {
        ids.iter().copied().collect()
    }

    fn state_of(latest: &Latest<Contact>, id: u64) -> Option<State> {
        latest.entry(id).map(|entry| entry.state)
    }

    #[test]
    fn the_latest_line_wins_and_rejects_change_nothing() {
        let till = at(100, 0);
        let latest = latest(&[
            line(Status::Blocked, &[1, 2, 3], till),
            line(Status::Failed, &[2], till),
            line(Status::Failed, &[4], till),
            line(Status::Blocked, &[4], till),
            Record::Reject(crate::ledger::RejectRecord {
                run: "r1".into(),
                status: Status::Rejected,
                source: "a.csv:1".into(),
                input: "1".into(),
                error: "x".into(),
            }),
        ]);
        assert_eq!(latest.blocked_at(at(0, 0)), set(&[1, 3, 4]));
        assert_eq!(state_of(&latest, 2), Some(State::Failed));
        assert_eq!(latest.len(), 4);
    }

    #[test]
    fn a_block_counts_only_until_its_block_till() {
        let latest = latest(&[
            line(Status::Blocked, &[1], at(100, 0)),
            line(Status::Blocked, &[2], at(10, 0)),
        ]);
        assert_eq!(latest.blocked_at(at(50, 0)), set(&[1]));
        let counts = latest.counts(at(50, 0));
        assert_eq!((counts.blocked, counts.expired), (1, 1));
        assert_eq!(latest.blocked_at(at(5, 0)), set(&[1, 2]));
        assert!(!latest.entry(2).unwrap().blocked_at(at(50, 0)));
    }

    #[test]
    fn failures_keep_their_latest_block_till_for_retry() {
        let (a, b) = (at(100, 0), at(200, 0));
        let latest = latest(&[
            line(Status::Failed, &[1, 2], a),
            line(Status::Failed, &[2], b),
            line(Status::Refused, &[3], a),
        ]);
        assert_eq!(latest.entry(1).unwrap().till, Some(a));
        assert_eq!(latest.entry(2).unwrap().till, Some(b));
        let retried = latest.keys_where(|e| to_retry(e.state, false));
        assert_eq!(retried, set(&[1, 2]));
        let with_refused = latest.keys_where(|e| to_retry(e.state, true));
        assert_eq!(with_refused, set(&[1, 2, 3]));
        assert!(!latest.says(&batch("r1", Status::Failed, &[2], a), &2, State::Failed));
        assert!(latest.says(&batch("r1", Status::Failed, &[2], b), &2, State::Failed));
    }

    #[test]
    fn unblocks_clear_blocks_and_a_failed_unblock_stays_blocked_but_not_retried() {
        let till = at(100, 0);
        let latest = latest(&[
            line(Status::Blocked, &[1, 2, 3], till),
            line(Status::Failed, &[4], till),
            Record::Outcome(unblock(Status::Unblocked, &[1], Some(6))),
            Record::Outcome(unblock(Status::NotBlocked, &[4], None)),
            Record::Outcome(unblock(Status::Failed, &[2], Some(7))),
        ]);
        assert_eq!(latest.blocked_at(at(0, 0)), set(&[2, 3]));
        assert_eq!(state_of(&latest, 1), Some(State::Unblocked));
        assert_eq!(state_of(&latest, 4), Some(State::Unblocked));
        assert_eq!(state_of(&latest, 2), Some(State::UnblockFailed));
        assert_eq!(latest.count_where(|e| to_retry(e.state, true)), 0);
        // A later block wins again.
        let mut again = latest;
        again.apply(&line(Status::Blocked, &[1], till));
        assert_eq!(state_of(&again, 1), Some(State::Blocked));
    }

    #[test]
    fn strings_keep_their_state_by_hash_and_other_kinds_are_left_out() {
        let email = Text::new(ValueType::Email).unwrap();
        let mut latest = Latest::new(email);
        let mut line = batch("r1", Status::Blocked, &[], at(100, 0));
        line.value_type = ValueType::Email;
        line.ids = Values::Strings(vec!["a@x.io".into(), "b@x.io".into()]);
        latest.apply(&Record::Outcome(line.clone()));
        latest.apply(&self::line(Status::Failed, &[1], at(100, 0)));
        line.ids = Values::Strings(vec!["b@x.io".into()]);
        line.status = Status::Failed;
        latest.apply(&Record::Outcome(line));
        let blocked = latest.blocked_at(at(0, 0));
        assert_eq!(blocked.count(), 1);
        assert!(SeenSet::contains(&blocked, Text::key(&"a@x.io".to_owned())));
        assert_eq!(latest.counts(at(0, 0)).failed, 1);
        assert_eq!(latest.len(), 2);
    }

    #[test]
    fn entries_pack_and_unpack() {
        for state in STATES {
            for till in [None, Some(at(0, 7)), Some(DateTime::<Utc>::MAX_UTC)] {
                let entry = Entry { state, till };
                let back = Entry::from_tag(entry.tag());
                assert_eq!(back.state, state);
                assert_eq!(back.till.is_some(), till.is_some());
            }
        }
    }
}
