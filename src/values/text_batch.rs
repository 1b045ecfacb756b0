//! Batches of emails or IP addresses (`--type email|ip`): the chunker and the batch type,
//! beside the contact ones in `batch.rs`, which stay as they are (the contact hot path
//! does not pay for strings).
//!
//! Rows are grouped by block-till and cut at `--batch-size`, as for contacts; the number
//! of groups open at once is capped the same way ([`crate::values::batch::MAX_OPEN_GROUPS`]), so
//! memory is bounded by that cap times the batch size, whatever the input.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::input::{Origin, TextRow, ValueType};
use crate::values::batch::{MAX_OPEN_GROUPS, SourceSpan};

/// One request's worth of emails or IPs (normal forms), all with the same block-till.
#[derive(Clone, Debug, PartialEq)]
pub struct TextBatch {
    /// Sequence number within the run, from 1.
    pub seq: u64,
    pub value_type: ValueType,
    pub values: Vec<String>,
    pub block_till: DateTime<Utc>,
    pub first: Origin,
    pub last: Origin,
}

impl TextBatch {
    /// Where the batch came from, for the ledger's `source` (as `Batch::source`).
    pub fn source(&self) -> String {
        SourceSpan {
            first: &self.first,
            last: &self.last,
        }
        .to_string()
    }

    /// Its two halves (for bisecting a refused batch); they keep the parent's origins and
    /// sequence number.
    pub fn split(&self) -> (TextBatch, TextBatch) {
        let mid = self.values.len() / 2;
        let half = |values: &[String]| TextBatch {
            values: values.to_vec(),
            ..self.clone_empty()
        };
        (half(&self.values[..mid]), half(&self.values[mid..]))
    }

    fn clone_empty(&self) -> TextBatch {
        TextBatch {
            seq: self.seq,
            value_type: self.value_type,
            values: Vec::new(),
            block_till: self.block_till,
            first: self.first.clone(),
            last: self.last.clone(),
        }
    }
}

struct OpenGroup {
    values: Vec<String>,
    first: Origin,
    last: Origin,
}

/// Cuts text rows into batches of at most `batch_size` values per block-till.
pub struct TextChunker {
    batch_size: usize,
    value_type: ValueType,
    next_seq: u64,
    open: HashMap<DateTime<Utc>, OpenGroup>,
}

impl TextChunker {
    pub fn new(batch_size: usize, value_type: ValueType) -> Self {
        TextChunker {
            batch_size: batch_size.max(1),
            value_type,
            next_seq: 1,
            open: HashMap::new(),
        }
    }

    /// Adds one row; returns a batch when the row completes one, or when too many groups
    /// are open and the fullest had to be cut early (at most one batch per push).
    pub fn push(&mut self, row: TextRow) -> Option<TextBatch> {
        let mut early = None;
        if !self.open.contains_key(&row.block_till) && self.open.len() >= MAX_OPEN_GROUPS {
            let fullest = self
                .open
                .iter()
                .max_by_key(|(_, group)| group.values.len())
                .map(|(till, _)| *till);
            early = fullest.and_then(|till| {
                let group = self.open.remove(&till)?;
                Some(self.cut(till, group))
            });
        }
        let group = self
            .open
            .entry(row.block_till)
            .or_insert_with(|| OpenGroup {
                values: Vec::new(),
                first: row.origin.clone(),
                last: row.origin.clone(),
            });
        group.values.push(row.value);
        group.last = row.origin;
        if group.values.len() >= self.batch_size {
            let group = self.open.remove(&row.block_till)?;
            // A full group and an early cut in one push cannot both happen: the early cut
            // only happens when this row opened a new group, which holds one value, and
            // with batch size 1 nothing stays open to cut early.
            return Some(self.cut(row.block_till, group));
        }
        early
    }

    /// Cuts every group still open (end of input), ordered by block-till.
    pub fn finish(&mut self) -> Vec<TextBatch> {
        let mut groups: Vec<_> = self.open.drain().collect();
        groups.sort_by_key(|(till, _)| *till);
        groups
            .into_iter()
            .map(|(till, group)| self.cut(till, group))
            .collect()
    }

    fn cut(&mut self, block_till: DateTime<Utc>, group: OpenGroup) -> TextBatch {
        let seq = self.next_seq;
        self.next_seq += 1;
        TextBatch {
            seq,
            value_type: self.value_type,
            values: group.values,
            block_till,
            first: group.first,
            last: group.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row(value: &str, day: i64, line: u64) -> TextRow {
        TextRow {
            value: value.to_owned(),
            block_till: "2030-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
                + chrono::Duration::days(day),
            origin: Origin {
                path: Arc::from("a.txt"),
                line,
            },
        }
    }

    #[test]
    fn cuts_at_batch_size_per_block_till_and_keeps_every_value() {
        let mut chunker = TextChunker::new(2, ValueType::Email);
        let mut batches = Vec::new();
        for i in 0..5u64 {
            batches.extend(chunker.push(row(&format!("u{i}@example.com"), 0, i + 1)));
        }
        batches.extend(chunker.push(row("other@example.com", 1, 6)));
        batches.extend(chunker.finish());
        let sizes: Vec<_> = batches.iter().map(|b| b.values.len()).collect();
        assert_eq!(sizes, [2, 2, 1, 1]);
        assert_eq!(batches[0].source(), "a.txt:1-2");
        assert_eq!(batches[3].values, ["other@example.com"]);
        assert!(batches.iter().all(|b| b.value_type == ValueType::Email));
        let seqs: Vec<_> = batches.iter().map(|b| b.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }

    #[test]
    fn too_many_open_groups_cut_early_without_losing_values() {
        let mut chunker = TextChunker::new(100, ValueType::Ip);
        let total = MAX_OPEN_GROUPS as u64 * 2;
        let mut seen = 0;
        for i in 0..total {
            if let Some(batch) =
                chunker.push(row(&format!("10.0.{}.{}", i / 256, i % 256), i as i64, i))
            {
                seen += batch.values.len() as u64;
            }
            assert!(chunker.open.len() <= MAX_OPEN_GROUPS);
        }
        seen += chunker
            .finish()
            .iter()
            .map(|b| b.values.len() as u64)
            .sum::<u64>();
        assert_eq!(seen, total);
    }

    #[test]
    fn split_halves_cover_the_batch() {
        let mut chunker = TextChunker::new(3, ValueType::Email);
        let batch = ["a@b.co", "c@d.co"]
            .iter()
            .zip(1..)
            .find_map(|(v, l)| chunker.push(row(v, 0, l)))
            .or_else(|| chunker.finish().pop())
            .unwrap();
        let (left, right) = batch.split();
        assert_eq!(left.values, ["a@b.co"]);
        assert_eq!(right.values, ["c@d.co"]);
        assert_eq!(left.block_till, batch.block_till);
    }
}
