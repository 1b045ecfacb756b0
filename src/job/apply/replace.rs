//! A record deleted, then what must stay blocked blocked again at once: the values an
//! unblock or a prune was not asked about (with the record's own blockTill), and renewed
//! values whose record the server would not keep beside a new one (with the new one).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::cx::{Cx, LineOf, Meta, minus, stamp};
use super::work::{Held, Replace};
use super::write::{Call, Write, WriteDone};
use crate::api::delete::{Delete, DeleteWhat};
use crate::api::get::GetRecord;
use crate::ledger::Status;
use crate::send::counters::Counters;
use crate::send::pool::{BatchStatus, Outcome};
use crate::values::Kind;

/// Where a replace stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Looking,
    Deleting,
    /// The record is gone: its values are being blocked again.
    Blocking,
    Done,
}

pub(super) struct ReplaceTask<K: Kind> {
    work: Replace<K>,
    stage: Stage,
    /// The seq of the block again of the record's other values, and how many of them
    /// wait for its answer.
    reblock_seq: Option<u64>,
    reblock_waiting: u64,
    /// The record's values that are neither to unblock, to renew, nor superseded.
    others: Vec<K::Value>,
    /// They are blocked now, and are blocked again once the record is gone.
    reblock: bool,
    record_till: Option<DateTime<Utc>>,
}

impl<K: Kind> ReplaceTask<K> {
    /// Whether a value is unblocked and waits for this task's next request.
    pub(super) fn urgent(&self) -> bool {
        matches!(self.stage, Stage::Deleting | Stage::Blocking)
    }

    /// Values the deleted record also held whose block again was never answered.
    pub(super) fn left_unblocked(&self) -> u64 {
        self.reblock_waiting
    }

    pub(super) fn start(work: Replace<K>, cx: &mut Cx<'_, K>) -> ReplaceTask<K> {
        let mut task = ReplaceTask {
            stage: Stage::Looking,
            reblock_seq: None,
            reblock_waiting: 0,
            others: Vec::new(),
            reblock: false,
            record_till: None,
            work,
        };
        match task.work.held.clone() {
            None => {
                let seq = cx.next_seq();
                cx.send(Call::Get(GetRecord {
                    seq,
                    id: task.work.record,
                }));
            }
            Some(held) => task.delete(&held, cx),
        }
        task
    }

    /// Deletes the record, now that what it holds is known; or, when the values it holds
    /// that must stay blocked could not be blocked again, leaves it alone.
    fn delete(&mut self, held: &Held<K>, cx: &mut Cx<'_, K>) {
        if cx.stopping {
            // The run is stopping: no record is deleted any more (its values are counted
            // as not sent).
            self.stage = Stage::Done;
            return;
        }
        let work = &self.work;
        self.others = minus::<K>(
            &held.values,
            &[&work.unblock, &work.renew, &work.superseded],
        );
        self.record_till = held.till;
        // An expired record blocks nothing: its other values need no block again.
        let expired = held.till.is_some_and(|till| till <= cx.now);
        self.reblock = work.keep_others && !self.others.is_empty() && !expired;
        if self.reblock && held.till.is_none() {
            // Its other values could not be blocked again with their blockTill: leave the
            // record, and say why the values asked for are still blocked.
            let why = format!(
                "block record {} also holds {} other value(s), and its blockTill cannot be read; the record is left alone",
                work.record,
                self.others.len(),
            );
            self.fail_all(None, &why, cx);
            return;
        }
        let mut values: Vec<K::Value> = work.unblock.clone();
        values.extend(work.renew.iter().cloned());
        values.extend(self.others.iter().cloned());
        let seq = cx.next_seq();
        cx.send(Call::Delete(Delete {
            seq,
            kind: cx.kind,
            values,
            what: DeleteWhat::Record(work.record),
            source: work.source.clone(),
        }));
        self.stage = Stage::Deleting;
    }

    /// Records every value to unblock or renew as failed (the record stays).
    fn fail_all(&mut self, meta: Option<&Meta>, why: &str, cx: &mut Cx<'_, K>) {
        let now = Utc::now();
        let fallback = Meta {
            attempts: 0,
            http_status: None,
            error: None,
            kind: None,
            started_at: now,
            finished_at: now,
        };
        let meta = meta.unwrap_or(&fallback);
        let work = &self.work;
        let n = (work.unblock.len() + work.renew.len()) as u64;
        cx.settled += n;
        Counters::add(&cx.counters.ids_failed, n);
        if n > 0 {
            Counters::add(&cx.counters.batches_failed, 1);
        }
        let error = match &meta.error {
            Some(error) => format!("{why}: {error}"),
            None => why.to_owned(),
        };
        let seq = cx.next_seq();
        let source = work.source.to_string();
        let (unblock, renew, renew_till) =
            (work.unblock.clone(), work.renew.clone(), work.renew_till);
        cx.line(
            seq,
            LineOf {
                block_ids: Some(vec![Some(work.record); work.unblock.len()]),
                error: Some(error.clone()),
                ..LineOf::new(Status::Failed, unblock, source.clone(), meta)
            },
        );
        cx.line(
            seq,
            LineOf {
                till: renew_till,
                error: Some(error),
                ..LineOf::new(Status::Failed, renew, source, meta)
            },
        );
        self.stage = Stage::Done;
    }

    pub(super) fn answer(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        match (&outcome.batch.call, self.stage) {
            (Call::Get(_), _) => self.looked(outcome, cx),
            (Call::Delete(_), _) => self.deleted(outcome, cx),
            (Call::Post { batch, .. }, _) => {
                if Some(batch.seq) == self.reblock_seq {
                    self.reblocked(outcome, cx);
                } else {
                    let source = self.work.source.clone();
                    cx.blocked_line(outcome, self.work.renew_status, &source);
                }
            }
        }
    }

    /// Whether the record's `values` include one this task is about.
    fn holds_any(&self, values: &[K::Value]) -> bool {
        let held: HashSet<K::Key> = values.iter().map(K::key).collect();
        self.work
            .unblock
            .iter()
            .chain(&self.work.renew)
            .any(|v| held.contains(&K::key(v)))
    }

    fn looked(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        let meta = Meta::of(&outcome);
        match (outcome.status, outcome.done) {
            (BatchStatus::Done, Some(WriteDone::Looked(Some(record))))
                if self.holds_any(&record.values_of(cx.kind)) =>
            {
                let held = Held {
                    id: record.id,
                    till: record.block_till_at(),
                    values: record.values_of(cx.kind),
                    ours: false,
                };
                self.delete(&held, cx);
            }
            (BatchStatus::Done, Some(WriteDone::Looked(_))) => {
                // No such record, or it holds none of them any more (deleting it would
                // unblock only others): they are not blocked by it.
                let unblock = self.work.unblock.clone();
                cx.settled += unblock.len() as u64;
                Counters::add(&cx.counters.ids_not_blocked, unblock.len() as u64);
                let seq = cx.next_seq();
                let source = self.work.source.to_string();
                cx.line(
                    seq,
                    LineOf {
                        status: Status::NotBlocked,
                        values: unblock,
                        till: None,
                        block_ids: None,
                        already: false,
                        reblocked: false,
                        source,
                        meta: &meta,
                        error: Some(format!(
                            "block record {} is not there, or no longer holds them",
                            self.work.record
                        )),
                        kind: None,
                    },
                );
                let renew = std::mem::take(&mut self.work.renew);
                if let Some(till) = self.work.renew_till
                    && !renew.is_empty()
                {
                    let source = self.work.source.clone();
                    cx.post(renew, till, &source, false);
                    self.stage = Stage::Blocking;
                } else {
                    self.stage = Stage::Done;
                }
            }
            _ => {
                let why = format!(
                    "could not look at block record {} before deleting it",
                    self.work.record
                );
                self.fail_all(Some(&meta), &why, cx);
            }
        }
    }

    fn deleted(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        let meta = Meta::of(&outcome);
        let Call::Delete(delete) = &outcome.batch.call else {
            return;
        };
        let seq = delete.seq;
        let work = &self.work;
        let record = work.record;
        let affected = match (outcome.status, &outcome.done) {
            (BatchStatus::Done, Some(WriteDone::Deleted(done))) => done.affected,
            _ => {
                let why = format!("block record {record} could not be deleted");
                if work.unblock.is_empty() && work.renew.is_empty() {
                    // An old record beside a new one: it stays, and expires on its own.
                    tracing::warn!(
                        record,
                        error = meta.error.as_deref(),
                        "An old block record of renewed values could not be deleted; it expires on its own"
                    );
                    let source = format!("{}; {why}, it stays until it expires", work.source);
                    let superseded = work.superseded.clone();
                    cx.line(seq, LineOf::new(Status::Failed, superseded, source, &meta));
                    self.stage = Stage::Done;
                } else {
                    self.fail_all(Some(&meta), &why, cx);
                }
                return;
            }
        };
        let reblock = self.reblock && affected > 0;
        let renew_till = work.renew_till;
        let (unblock_n, renew) = (work.unblock.len() as u64, work.renew.clone());
        cx.settled += unblock_n;
        if affected > 0 {
            Counters::add(&cx.counters.records_deleted, 1);
            let mut unblocked: Vec<K::Value> = work.unblock.clone();
            unblocked.extend(work.renew.iter().cloned());
            if reblock {
                unblocked.extend(self.others.iter().cloned());
            }
            Counters::add(&cx.counters.ids_unblocked, unblock_n);
            let mut source = work.source.to_string();
            if !work.renew.is_empty() || reblock || !work.superseded.is_empty() {
                source = format!("{source}; block record {record}: {}", work.why);
            }
            if reblock {
                source = format!(
                    "{source}; {} not asked for, blocked again at once until {}",
                    self.others.len(),
                    stamp(self.record_till)
                );
            }
            if unblocked.is_empty() {
                // Only values a newer record blocks: they stay renewed.
                let superseded = work.superseded.clone();
                cx.line(
                    seq,
                    LineOf {
                        till: renew_till,
                        ..LineOf::new(Status::Renewed, superseded, source, &meta)
                    },
                );
            } else {
                let n = unblocked.len();
                cx.line(
                    seq,
                    LineOf {
                        block_ids: Some(vec![Some(record); n]),
                        ..LineOf::new(Status::Unblocked, unblocked, source, &meta)
                    },
                );
            }
        } else {
            // Nothing deleted: the record was gone already (someone else deleted it).
            let mut gone: Vec<K::Value> = work.unblock.clone();
            gone.extend(work.renew.iter().cloned());
            Counters::add(&cx.counters.ids_not_blocked, unblock_n);
            let source = work.source.to_string();
            cx.line(seq, LineOf::new(Status::NotBlocked, gone, source, &meta));
        }
        // At once: the values that must stay blocked.
        let source = work.source.clone();
        self.stage = Stage::Done;
        if reblock && let Some(till) = self.record_till {
            let others = self.others.clone();
            self.reblock_waiting = others.len() as u64;
            self.reblock_seq = Some(cx.post(others, till, &source, false));
            self.stage = Stage::Blocking;
        }
        if let Some(till) = renew_till
            && !renew.is_empty()
        {
            cx.post(renew, till, &source, false);
            self.stage = Stage::Blocking;
        }
    }

    /// The answer to the block again of the record's other values.
    fn reblocked(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        let meta = Meta::of(&outcome);
        let Call::Post { batch, .. } = outcome.batch.call else {
            return;
        };
        let n = batch.values.len() as u64;
        self.reblock_waiting = self.reblock_waiting.saturating_sub(n);
        let (status, block_ids, already) = match (outcome.status, outcome.done) {
            (BatchStatus::Done, Some(WriteDone::Blocked(done))) => {
                Counters::add(&cx.counters.ids_reblocked, n);
                (Status::Blocked, done.block_ids, done.already)
            }
            (status, _) => {
                tracing::error!(
                    values = n,
                    record = self.work.record,
                    error = meta.error.as_deref(),
                    "Values a deleted record also held could not be blocked again: they are unblocked now"
                );
                Counters::add(&cx.counters.reblock_failed, n);
                let status = if status == BatchStatus::Refused {
                    Status::Refused
                } else {
                    Status::Failed
                };
                (status, None, false)
            }
        };
        let source = format!(
            "{}; blocked again: block record {} also held them and was deleted",
            self.work.source, self.work.record
        );
        cx.line(
            batch.seq,
            LineOf {
                till: Some(batch.block_till),
                block_ids,
                already,
                reblocked: true,
                ..LineOf::new(status, batch.values, source, &meta)
            },
        );
    }
}
