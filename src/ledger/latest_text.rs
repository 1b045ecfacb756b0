//! "Latest status per value" for emails and IPs, keyed by the 128-bit hash of the normal
//! form (`input::value::value_hash`), never by the string: about 25 bytes per distinct
//! value (a 16-byte key, 8 bytes of status and line number, a control byte), whatever the
//! addresses' length. As for contacts, the latest line that names a value wins.
//!
//! It also remembers which ledger line holds each value's latest outcome, so that `retry`
//! can take the strings to re-send from those lines in a second pass without ever
//! holding them all.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use super::{LedgerError, LedgerReadStats, Record, Status, TargetFilter, TextRecord, read_records};
use crate::input::ValueType;
use crate::input::value::value_hash;

/// What a value's latest line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextState {
    Blocked,
    Failed,
    Refused,
    /// Unblocked, or not blocked per an unblock.
    Unblocked,
    /// An unblock failed: not re-blocked by `retry`.
    UnblockFailed,
}

impl TextState {
    fn of(record: &TextRecord) -> TextState {
        match (record.is_unblock(), record.status) {
            (true, Status::Failed) => TextState::UnblockFailed,
            (_, Status::Unblocked | Status::NotBlocked) => TextState::Unblocked,
            (_, Status::Failed) => TextState::Failed,
            (_, Status::Refused) => TextState::Refused,
            _ => TextState::Blocked,
        }
    }

    fn code(self) -> u64 {
        self as u64
    }

    fn from_code(code: u64) -> TextState {
        match code {
            0 => TextState::Blocked,
            1 => TextState::Failed,
            2 => TextState::Refused,
            3 => TextState::Unblocked,
            _ => TextState::UnblockFailed,
        }
    }
}

/// Counts of values by their latest state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TextCounts {
    pub blocked: u64,
    pub failed: u64,
    pub refused: u64,
    pub unblocked: u64,
}

/// The latest state of every email (or IP) a ledger names.
#[derive(Debug)]
pub struct LatestText {
    value_type: ValueType,
    /// Hash halves → line number << 8 | state code.
    latest: HashMap<[u64; 2], u64, BuildHasherDefault<FirstHalf>>,
}

fn key(hash: u128) -> [u64; 2] {
    [hash as u64, (hash >> 64) as u64]
}

impl LatestText {
    pub fn new(value_type: ValueType) -> LatestText {
        LatestText {
            value_type,
            latest: HashMap::default(),
        }
    }

    /// Reads the lines of `value_type` of runs against `filter`'s target.
    pub fn load_for(
        path: &Path,
        filter: &mut TargetFilter,
        value_type: ValueType,
    ) -> Result<(LatestText, LedgerReadStats), LedgerError> {
        let mut latest = LatestText::new(value_type);
        let stats = read_records(path, |line, record| {
            if filter.admits(&record) {
                latest.apply(line, &record);
            }
        })?;
        Ok((latest, stats))
    }

    /// Applies the next line (in file order; `line` is its 1-based number).
    pub fn apply(&mut self, line: u64, record: &Record) {
        let Record::Text(text) = record else { return };
        if text.value_type() != Some(self.value_type) {
            return;
        }
        let entry = line << 8 | TextState::of(text).code();
        for value in &text.ids {
            self.latest.insert(key(value_hash(value)), entry);
        }
    }

    /// The latest state of the value with this hash, and the line that says it.
    pub fn get(&self, hash: u128) -> Option<(TextState, u64)> {
        self.latest
            .get(&key(hash))
            .map(|entry| (TextState::from_code(entry & 0xff), entry >> 8))
    }

    /// The hashes of the values whose latest line says blocked (for `--resume`).
    pub fn blocked_hashes(&self) -> impl Iterator<Item = u128> + '_ {
        self.latest
            .iter()
            .filter(|(_, entry)| TextState::from_code(*entry & 0xff) == TextState::Blocked)
            .map(|([low, high], _)| u128::from(*low) | u128::from(*high) << 64)
    }

    pub fn counts(&self) -> TextCounts {
        let mut counts = TextCounts::default();
        for entry in self.latest.values() {
            match TextState::from_code(entry & 0xff) {
                TextState::Blocked => counts.blocked += 1,
                TextState::Failed | TextState::UnblockFailed => counts.failed += 1,
                TextState::Refused => counts.refused += 1,
                TextState::Unblocked => counts.unblocked += 1,
            }
        }
        counts
    }

    /// How many values' latest state passes `keep`.
    pub fn count_where(&self, keep: impl Fn(TextState) -> bool) -> u64 {
        self.latest
            .values()
            .filter(|entry| keep(TextState::from_code(*entry & 0xff)))
            .count() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// Merges a ledger read after this one (shards' ledgers): its lines win.
    pub fn merge_later(&mut self, later: LatestText) {
        self.latest.extend(later.latest);
    }
}

/// The keys are well-mixed hashes already: the first half is the table's hash.
#[derive(Default)]
struct FirstHalf {
    hash: u64,
    words: u8,
}

impl Hasher for FirstHalf {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write(&mut self, bytes: &[u8]) {
        // Arrays hash their length first on some paths; fold any bytes in.
        for &byte in bytes {
            self.hash = self.hash.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        if self.words == 0 {
            self.hash ^= value;
        }
        self.words = self.words.saturating_add(1);
    }

    fn write_usize(&mut self, _: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn line(status: Status, op: Option<&str>, value_type: &str, ids: &[&str]) -> Record {
        let at = chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        Record::Text(TextRecord {
            run: "r".into(),
            batch: 1,
            status,
            value_type: value_type.into(),
            op: op.map(str::to_owned),
            ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            block_till: Some(at),
            attempts: 1,
            http_status: None,
            error: None,
            kind: None,
            block_ids: None,
            already: false,
            source: "a.txt:1".into(),
            started_at: at,
            finished_at: at,
            ms: 0,
        })
    }

    #[test]
    fn the_latest_line_wins_and_other_types_are_ignored() {
        let mut latest = LatestText::new(ValueType::Email);
        latest.apply(
            1,
            &line(Status::Failed, None, "email", &["a@b.co", "c@d.co"]),
        );
        latest.apply(2, &line(Status::Blocked, None, "email", &["a@b.co"]));
        latest.apply(3, &line(Status::Failed, None, "ip", &["10.0.0.1"]));
        latest.apply(
            4,
            &line(Status::Unblocked, Some("unblock"), "email", &["e@f.co"]),
        );
        assert_eq!(
            latest.get(value_hash("a@b.co")),
            Some((TextState::Blocked, 2))
        );
        assert_eq!(
            latest.get(value_hash("c@d.co")),
            Some((TextState::Failed, 1))
        );
        assert_eq!(latest.get(value_hash("10.0.0.1")), None);
        assert_eq!(
            latest.counts(),
            TextCounts {
                blocked: 1,
                failed: 1,
                refused: 0,
                unblocked: 1
            }
        );
        let blocked: Vec<u128> = latest.blocked_hashes().collect();
        assert_eq!(blocked, [value_hash("a@b.co")]);
    }

    #[test]
    fn a_failed_unblock_is_not_a_failed_block() {
        let mut latest = LatestText::new(ValueType::Ip);
        latest.apply(1, &line(Status::Failed, Some("unblock"), "ip", &["::1"]));
        assert_eq!(
            latest.get(value_hash("::1")),
            Some((TextState::UnblockFailed, 1))
        );
    }
}
