//! The chunker: turns a stream of rows into request-sized batches, for any kind of value.
//!
//! Pure and synchronous so that it is easy to test. Rows are grouped by their block-till
//! (one request carries one `blockTill`), each group is cut at `--batch-size`, and every
//! batch remembers the origins of its first and last row so the ledger can say where it
//! came from. The number of groups open at once is capped: with a per-row block-till
//! column every row could start a new group, and memory must not grow with the input.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::kind::Kind;

/// Most block-till groups kept open at once; past it the fullest group is sent early.
pub const MAX_OPEN_GROUPS: usize = 1024;

/// Where a row came from: the path as given (or `<stdin>`, or what a retry or unblock
/// read it from) and the 1-based physical line where the row starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub path: Arc<str>,
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

/// One valid value to send, with its block-till and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Row<V> {
    pub value: V,
    pub block_till: DateTime<Utc>,
    pub origin: Origin,
}

/// One request's worth of values, all with the same block-till.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch<K: Kind> {
    /// Sequence number within the run, from 1, in the order batches were cut.
    pub seq: u64,
    pub kind: K,
    pub values: Vec<K::Value>,
    pub block_till: DateTime<Utc>,
    pub first: Origin,
    pub last: Origin,
}

impl<K: Kind> Batch<K> {
    /// Where the batch came from, for the ledger's `source`: `a.csv:101-200`, or
    /// `a.csv:990-b.csv:10` when it spans two inputs.
    pub fn source(&self) -> String {
        SourceSpan {
            first: &self.first,
            last: &self.last,
        }
        .to_string()
    }

    /// Splits the batch into two halves (for bisecting a batch the API refused). The halves
    /// keep the parent's origins and sequence number: the ledger line says which IDs.
    pub fn split(&self) -> (Batch<K>, Batch<K>) {
        let mid = self.values.len() / 2;
        let half = |values: &[K::Value]| Batch {
            seq: self.seq,
            kind: self.kind,
            values: values.to_vec(),
            block_till: self.block_till,
            first: self.first.clone(),
            last: self.last.clone(),
        };
        (half(&self.values[..mid]), half(&self.values[mid..]))
    }
}

/// Formats a first..last origin pair compactly.
pub struct SourceSpan<'a> {
    pub first: &'a Origin,
    pub last: &'a Origin,
}

impl fmt::Display for SourceSpan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, last) = (self.first, self.last);
        if first.path != last.path {
            write!(f, "{first}-{last}")
        } else if first.line == last.line {
            write!(f, "{first}")
        } else {
            write!(f, "{}:{}-{}", first.path, first.line, last.line)
        }
    }
}

struct OpenGroup<V> {
    values: Vec<V>,
    first: Origin,
    last: Origin,
}

/// Cuts rows into batches of at most `batch_size` values per block-till.
pub struct Chunker<K: Kind> {
    kind: K,
    batch_size: usize,
    next_seq: u64,
    /// The group the last row went to. Inputs mostly share one block-till, so most rows
    /// land here without hashing (the map lookup was 6% of a run's CPU in a profile).
    hot: Option<(DateTime<Utc>, OpenGroup<K::Value>)>,
    /// Every other open group.
    parked: HashMap<DateTime<Utc>, OpenGroup<K::Value>>,
}

impl<K: Kind> Chunker<K> {
    /// `batch_size` must be at least 1 (the CLI checks it).
    pub fn new(kind: K, batch_size: usize) -> Self {
        Chunker {
            kind,
            batch_size: batch_size.max(1),
            next_seq: 1,
            hot: None,
            parked: HashMap::new(),
        }
    }

    /// Adds one row; returns a batch when the row completes one (or when too many groups
    /// are open and the fullest had to be cut early).
    #[inline]
    pub fn push(&mut self, row: Row<K::Value>) -> Option<Batch<K>> {
        let mut early = None;
        if self
            .hot
            .as_ref()
            .is_none_or(|(till, _)| *till != row.block_till)
        {
            early = self.make_hot(row.block_till, &row.origin);
        }
        let (till, group) = self.hot.as_mut().expect("make_hot always sets a hot group");
        group.values.push(row.value);
        group.last = row.origin;
        if group.values.len() >= self.batch_size {
            let till = *till;
            let group = self.hot.take().expect("checked above").1;
            // With batch size 1 no group stays open, so nothing was cut early: at most one
            // batch per push.
            return Some(self.cut(till, group));
        }
        early
    }

    /// Cuts every group still open (end of input). Ordered by block-till so runs are
    /// reproducible.
    pub fn finish(&mut self) -> Vec<Batch<K>> {
        let mut groups: Vec<_> = self.parked.drain().collect();
        groups.extend(self.hot.take());
        groups.sort_by_key(|(till, _)| *till);
        groups
            .into_iter()
            .map(|(till, group)| self.cut(till, group))
            .collect()
    }

    fn open_groups(&self) -> usize {
        self.parked.len() + usize::from(self.hot.is_some())
    }

    /// Makes `till`'s group the hot one (parking the current one), opening it if needed.
    /// Opening one too many cuts the fullest group early, which is returned.
    fn make_hot(&mut self, till: DateTime<Utc>, origin: &Origin) -> Option<Batch<K>> {
        if let Some((old_till, old)) = self.hot.take() {
            self.parked.insert(old_till, old);
        }
        if let Some(group) = self.parked.remove(&till) {
            self.hot = Some((till, group));
            return None;
        }
        let early = if self.open_groups() >= MAX_OPEN_GROUPS {
            let fullest = self
                .parked
                .iter()
                .max_by_key(|(_, group)| group.values.len())
                .map(|(till, _)| *till);
            fullest.and_then(|till| self.parked.remove(&till).map(|group| self.cut(till, group)))
        } else {
            None
        };
        let group = OpenGroup {
            values: Vec::with_capacity(self.batch_size),
            first: origin.clone(),
            last: origin.clone(),
        };
        self.hot = Some((till, group));
        early
    }

    fn cut(&mut self, till: DateTime<Utc>, group: OpenGroup<K::Value>) -> Batch<K> {
        let seq = self.next_seq;
        self.next_seq += 1;
        Batch {
            seq,
            kind: self.kind,
            values: group.values,
            block_till: till,
            first: group.first,
            last: group.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::kind::{Contact, Text, ValueType};

    fn till(day: u32) -> DateTime<Utc> {
        format!("2030-01-{day:02}T00:00:00Z").parse().unwrap()
    }

    fn row(id: u64, day: u32, path: &str, line: u64) -> Row<u64> {
        Row {
            value: id,
            block_till: till(day),
            origin: Origin {
                path: Arc::from(path),
                line,
            },
        }
    }

    fn run(
        chunker: &mut Chunker<Contact>,
        rows: impl IntoIterator<Item = Row<u64>>,
    ) -> Vec<Batch<Contact>> {
        let mut out: Vec<Batch<Contact>> =
            rows.into_iter().filter_map(|r| chunker.push(r)).collect();
        out.extend(chunker.finish());
        out
    }

    #[test]
    fn cuts_at_batch_size_and_keeps_the_remainder() {
        let mut chunker = Chunker::new(Contact, 100);
        let batches = run(&mut chunker, (1..=250).map(|i| row(i, 1, "a.csv", i + 1)));
        let sizes: Vec<_> = batches.iter().map(|b| b.values.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(batches[0].values, (1..=100).collect::<Vec<_>>());
        assert_eq!(batches.iter().map(|b| b.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(batches[1].source(), "a.csv:102-201");
        assert_eq!(batches[2].source(), "a.csv:202-251");
    }

    #[test]
    fn groups_by_block_till_and_never_mixes_them() {
        let mut chunker = Chunker::new(Contact, 3);
        let rows = (1..=10).map(|i| row(i, if i % 2 == 0 { 2 } else { 1 }, "a.csv", i));
        let batches = run(&mut chunker, rows);
        let total: usize = batches.iter().map(|b| b.values.len()).sum();
        assert_eq!(total, 10);
        for batch in &batches {
            let expected_parity = if batch.block_till == till(2) { 0 } else { 1 };
            assert!(batch.values.iter().all(|id| id % 2 == expected_parity));
            assert!(batch.values.len() <= 3);
        }
    }

    #[test]
    fn a_batch_spanning_two_files_names_both() {
        let mut chunker = Chunker::new(Contact, 4);
        let rows = [
            row(1, 1, "a.csv", 9),
            row(2, 1, "a.csv", 10),
            row(3, 1, "b.jsonl", 1),
            row(4, 1, "b.jsonl", 2),
        ];
        let batches = run(&mut chunker, rows);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].source(), "a.csv:9-b.jsonl:2");
    }

    #[test]
    fn single_row_source_has_one_line() {
        let mut chunker = Chunker::new(Contact, 10);
        let batches = run(&mut chunker, [row(1, 1, "-", 5)]);
        assert_eq!(batches[0].source(), "-:5");
    }

    #[test]
    fn too_many_open_groups_cuts_early_without_losing_rows() {
        let mut chunker = Chunker::new(Contact, 100);
        let rows = (0..(MAX_OPEN_GROUPS as u64 * 3)).map(|i| Row {
            value: i + 1,
            block_till: till(1) + chrono::Duration::seconds(i as i64),
            origin: Origin {
                path: Arc::from("a.csv"),
                line: i + 2,
            },
        });
        let mut early = 0;
        let mut ids = Vec::new();
        for r in rows {
            if let Some(batch) = chunker.push(r) {
                early += 1;
                ids.extend(batch.values);
            }
            assert!(chunker.open_groups() <= MAX_OPEN_GROUPS);
        }
        assert!(early > 0);
        for batch in chunker.finish() {
            ids.extend(batch.values);
        }
        ids.sort();
        assert_eq!(ids, (1..=MAX_OPEN_GROUPS as u64 * 3).collect::<Vec<_>>());
    }

    #[test]
    fn split_halves_cover_the_batch() {
        let mut chunker = Chunker::new(Contact, 5);
        let batch = run(&mut chunker, (1..=5).map(|i| row(i, 1, "a.csv", i)))
            .pop()
            .unwrap();
        let (left, right) = batch.split();
        assert_eq!(left.values, [1, 2]);
        assert_eq!(right.values, [3, 4, 5]);
        assert_eq!(left.block_till, batch.block_till);
    }

    #[test]
    fn strings_are_cut_the_same_way() {
        let email = Text::new(ValueType::Email).unwrap();
        let mut chunker = Chunker::new(email, 2);
        let mut batches = Vec::new();
        for i in 0..5u64 {
            batches.extend(chunker.push(Row {
                value: format!("u{i}@example.com"),
                block_till: till(1),
                origin: Origin {
                    path: Arc::from("a.txt"),
                    line: i + 1,
                },
            }));
        }
        batches.extend(chunker.finish());
        let sizes: Vec<_> = batches.iter().map(|b| b.values.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(batches[0].source(), "a.txt:1-2");
        assert_eq!(batches[2].values, ["u4@example.com"]);
    }
}
