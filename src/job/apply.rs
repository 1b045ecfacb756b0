//! Applying a plan through the send engine: `sync`'s blocks, renewals and prunes, and
//! `unblock`'s deletes, where a request may depend on the answer to another.
//!
//! Most planned work is one request: a block of fresh values, the delete of a record that
//! holds only values to unblock. Some is a short chain ([`Work`]):
//! - a record that also holds values which must stay blocked is deleted, and those values
//!   are blocked again at once: with the record's own blockTill (the values of an email or
//!   IP record that were not asked for: an exact unblock, a prune), or with a new one (a
//!   renewal the server refused as a duplicate record);
//! - a renewal the server answered without saying whether it updated the old record or
//!   added a new one is followed by a look at the old record (GET, once per run: the
//!   answer is the server's way for every record), and an old record left beside a new one
//!   is deleted (its other values blocked again at once).
//!
//! Constraint kept here: **a value is never left unblocked between the delete of its
//! record and its block again for longer than one request.** The pool (`send/pool.rs`) is
//! driven directly, as the listing drives it, not through the pipeline's producer thread,
//! which cannot wait for an answer: the block that follows a delete is handed to the pool
//! the moment the delete's answer is in. At most `--concurrency` (its bound, for `auto`)
//! tasks are open at once, so the pool has a free place for it. An interrupt stops new
//! work at once, but every delete already sent is still followed by its block; only then
//! are the pool's retries stopped.
//!
//! Every answer becomes ledger lines here (one per request; a failed delete that concerned
//! values to unblock and values to renew gets a line for each), and is counted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::write::{Call, Write, WriteDone};
use crate::api::delete::{Delete, DeleteWhat};
use crate::api::get::GetRecord;
use crate::exit::RuntimeError;
use crate::input::Reject;
use crate::ledger::{Op, OutcomeRecord, Record, RejectRecord, Status};
use crate::send::counters::Counters;
use crate::send::pipeline::{self, Run, RunEnd};
use crate::send::pool::{self, BatchStatus, Outcome, PoolEnd};
use crate::values::{Batch, Kind, Origin};

/// A block record as a plan knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Held<K: Kind> {
    pub id: u64,
    /// Its blockTill, when known.
    pub till: Option<DateTime<Utc>>,
    /// Every value of the kind it holds, in normal form.
    pub values: Vec<K::Value>,
    /// A sync of this tool made it (per the ledger). A renewal deletes an old record it
    /// no longer needs (the server added a new one) only then: someone else's record is
    /// left to expire on its own.
    pub ours: bool,
}

/// One piece of planned work.
#[derive(Clone, Debug)]
pub enum Work<K: Kind> {
    /// Block values that have no record (one POST; a refused batch is bisected).
    Block {
        values: Vec<K::Value>,
        till: DateTime<Utc>,
        source: Arc<str>,
    },
    /// Block again values that have records.
    Renew(Renewal<K>),
    /// Delete one record, then block at once what must stay blocked.
    Replace(Replace<K>),
    /// Values with no record to delete: `not_blocked` (or `failed`, kind `not_listed`),
    /// without a request.
    Absent {
        values: Vec<K::Value>,
        what: DeleteWhat,
        source: Arc<str>,
    },
}

/// Values that have records, to block until `till`: renewals of blocks about to end
/// (`live`), or values whose every record has expired.
#[derive(Clone, Debug)]
pub struct Renewal<K: Kind> {
    pub till: DateTime<Utc>,
    pub live: bool,
    /// Each record, with the values of it to block.
    pub records: Vec<(Held<K>, Vec<K::Value>)>,
    pub source: Arc<str>,
}

/// The delete of one record, and what follows it.
#[derive(Clone, Debug)]
pub struct Replace<K: Kind> {
    /// The record's id, and what it holds when the plan knows it (from the list); `None`:
    /// it is looked at first (GET), to learn what else it holds.
    pub record: u64,
    pub held: Option<Held<K>>,
    /// Values to unblock (an unblock's, a prune's).
    pub unblock: Vec<K::Value>,
    /// Values to block again, until `renew_till`, once the record is gone.
    pub renew: Vec<K::Value>,
    pub renew_till: Option<DateTime<Utc>>,
    /// The status of their lines: `renewed`, or `blocked` (an expired record's values).
    pub renew_status: Status,
    /// Values a newer record already blocks (an old record the server kept beside a new
    /// one): neither unblocked nor blocked again.
    pub superseded: Vec<K::Value>,
    /// Block the record's other values again, with its blockTill (not for an expired
    /// record: they are not blocked).
    pub keep_others: bool,
    pub source: Arc<str>,
    /// Why the record is deleted, for the ledger.
    pub why: Arc<str>,
}

impl<K: Kind> Replace<K> {
    /// Delete `held`, then block `renew` again at once until `till` (their lines with
    /// `status`), and the record's other values too when `keep_others`.
    pub fn renewing(
        held: Held<K>,
        renew: Vec<K::Value>,
        (till, status): (DateTime<Utc>, Status),
        keep_others: bool,
        source: Arc<str>,
        why: Arc<str>,
    ) -> Self {
        Replace {
            record: held.id,
            held: Some(held),
            unblock: Vec::new(),
            renew,
            renew_till: Some(till),
            renew_status: status,
            superseded: Vec::new(),
            keep_others,
            source,
            why,
        }
    }
}

impl<K: Kind> Work<K> {
    /// The values whose fate this work decides (and counts).
    pub fn counted(&self) -> u64 {
        match self {
            Work::Block { values, .. } | Work::Absent { values, .. } => values.len() as u64,
            Work::Renew(renewal) => renewal.counted(),
            Work::Replace(replace) => (replace.unblock.len() + replace.renew.len()) as u64,
        }
    }
}

impl<K: Kind> Renewal<K> {
    pub fn counted(&self) -> u64 {
        self.records.iter().map(|(_, v)| v.len() as u64).sum()
    }

    /// One [`Replace`] per record: delete it, block its values again at once.
    fn into_replaces(self, why: &str) -> Vec<Work<K>> {
        let why: Arc<str> = Arc::from(why);
        let status = if self.live {
            Status::Renewed
        } else {
            Status::Blocked
        };
        self.records
            .into_iter()
            .map(|(held, renew)| {
                Work::Replace(Replace::renewing(
                    held,
                    renew,
                    (self.till, status),
                    self.live,
                    self.source.clone(),
                    why.clone(),
                ))
            })
            .collect()
    }
}

/// Where a plan's producer puts its work.
pub trait WorkSink<K: Kind> {
    /// Queues `work`; `false` means stop producing (the run is stopping). The sink
    /// counted the refused work's values as not sent; the producer counts the rest.
    fn work(&mut self, work: Work<K>) -> bool;
}

/// The real run's sink: a bounded channel to the executor.
struct ChannelWorkSink<K: Kind> {
    tx: mpsc::Sender<Work<K>>,
    counters: Arc<Counters>,
}

impl<K: Kind> WorkSink<K> for ChannelWorkSink<K> {
    fn work(&mut self, work: Work<K>) -> bool {
        let counted = work.counted();
        if self.tx.blocking_send(work).is_err() {
            Counters::add(&self.counters.not_sent, counted);
            return false;
        }
        true
    }
}

/// How the server treats a block of a value that already has a record (learned from its
/// answers during the run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Behaviour {
    #[default]
    Unknown,
    /// It gives the record the new blockTill.
    Update,
    /// It adds a second record and leaves the old one.
    Add,
    /// It refuses with `ERROR_DUPLICATE_RECORD_FOUND`.
    Reject,
}

/// What the run learned, for live records and for expired ones (a server may treat them
/// differently).
#[derive(Default)]
struct Learned {
    live: Behaviour,
    expired: Behaviour,
    /// A renewal is out whose answer will teach the behaviour: the next ones wait for it,
    /// so that a server that refuses them all is sent one refused request, not hundreds.
    live_probe: bool,
    expired_probe: bool,
}

impl Learned {
    fn of(&self, live: bool) -> Behaviour {
        if live { self.live } else { self.expired }
    }

    fn learn(&mut self, live: bool, behaviour: Behaviour) {
        let slot = if live {
            &mut self.live
        } else {
            &mut self.expired
        };
        if *slot != behaviour {
            tracing::info!(
                records = if live { "live" } else { "expired" },
                ?behaviour,
                "Learned how the server treats a block of a value that already has a record"
            );
        }
        *slot = behaviour;
    }

    fn probing(&self, live: bool) -> bool {
        if live {
            self.live_probe
        } else {
            self.expired_probe
        }
    }

    fn set_probe(&mut self, live: bool, on: bool) {
        if live {
            self.live_probe = on;
        } else {
            self.expired_probe = on;
        }
    }
}

/// Why a record is deleted when the server refuses a second one.
const WHY_DUPLICATE: &str = "the server refuses a second block record for a value (ERROR_DUPLICATE_RECORD_FOUND): the record is deleted and its values blocked again at once";
/// Why an old record is deleted when the server added a new one.
const WHY_SUPERSEDED: &str = "the server added a new block record for the renewed values and kept the old one: the old one is deleted";

/// What a task's handlers need.
struct Cx<'a, K: Kind> {
    kind: K,
    op: Op,
    run_id: &'a str,
    counters: &'a Counters,
    learned: &'a mut Learned,
    seq: &'a mut u64,
    now: DateTime<Utc>,
    /// The run is stopping: no delete is started any more.
    stopping: bool,
    task: u64,
    /// Requests to send now.
    out: Vec<Write<K>>,
    /// Work that follows (queued ahead of the plan's own).
    spawned: Vec<Work<K>>,
    lines: Vec<Record>,
    /// Values whose fate was decided (counted) by this answer.
    settled: u64,
}

/// What the handlers of every task share in one run.
#[derive(Clone, Copy)]
struct Scope<'a, K: Kind> {
    kind: K,
    op: Op,
    run_id: &'a str,
    counters: &'a Counters,
}

impl<'a, K: Kind> Scope<'a, K> {
    /// The context of one handler call of task `task`.
    fn cx<'b>(
        self,
        learned: &'b mut Learned,
        seq: &'b mut u64,
        stopping: bool,
        task: u64,
    ) -> Cx<'b, K>
    where
        'a: 'b,
    {
        Cx {
            kind: self.kind,
            op: self.op,
            run_id: self.run_id,
            counters: self.counters,
            learned,
            seq,
            now: Utc::now(),
            stopping,
            task,
            out: Vec::new(),
            spawned: Vec::new(),
            lines: Vec::new(),
            settled: 0,
        }
    }
}

/// The request-related fields of a line.
struct Meta {
    attempts: u32,
    http_status: Option<u16>,
    error: Option<String>,
    kind: Option<String>,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
}

impl Meta {
    fn of<K: Kind>(outcome: &Outcome<Write<K>>) -> Meta {
        Meta {
            attempts: outcome.attempts,
            http_status: outcome.http_status,
            error: outcome.error.clone(),
            kind: outcome.kind.map(str::to_owned),
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
        }
    }
}

/// One line of a task's outcome.
struct LineOf<'a, K: Kind> {
    status: Status,
    values: Vec<K::Value>,
    till: Option<DateTime<Utc>>,
    block_ids: Option<Vec<Option<u64>>>,
    already: bool,
    /// The block again of values a deleted record also held.
    reblocked: bool,
    source: String,
    meta: &'a Meta,
    /// Replaces the answer's error (a duplicate refusal, a failed look).
    error: Option<String>,
    kind: Option<String>,
}

impl<'a, K: Kind> LineOf<'a, K> {
    /// A line of `values` with `status`, and nothing else to say (the fields below are
    /// set where there is).
    fn new(status: Status, values: Vec<K::Value>, source: String, meta: &'a Meta) -> Self {
        LineOf {
            status,
            values,
            till: None,
            block_ids: None,
            already: false,
            reblocked: false,
            source,
            meta,
            error: None,
            kind: None,
        }
    }
}

impl<K: Kind> Cx<'_, K> {
    fn next_seq(&mut self) -> u64 {
        *self.seq += 1;
        *self.seq
    }

    fn send(&mut self, call: Call<K>) {
        self.out.push(Write {
            task: self.task,
            call,
        });
    }

    /// Sends a block; returns its seq (a bisected request's halves keep it).
    fn post(
        &mut self,
        values: Vec<K::Value>,
        till: DateTime<Utc>,
        source: &str,
        duplicate: bool,
    ) -> u64 {
        let seq = self.next_seq();
        let origin = Origin {
            path: Arc::from(source),
            line: 0,
        };
        self.send(Call::Post {
            batch: Batch {
                seq,
                kind: self.kind,
                values,
                block_till: till,
                first: origin.clone(),
                last: origin,
            },
            duplicate_is_answer: duplicate,
        });
        seq
    }

    fn line(&mut self, seq: u64, line: LineOf<'_, K>) {
        if line.values.is_empty() {
            return;
        }
        let meta = line.meta;
        if meta.attempts == 0 && !line.reblocked {
            Counters::add(&self.counters.ids_unsent, line.values.len() as u64);
        }
        self.lines.push(Record::Outcome(OutcomeRecord {
            run: self.run_id.to_owned(),
            batch: seq,
            op: self.op,
            status: line.status,
            value_type: self.kind.value_type(),
            ids: K::to_values(line.values),
            block_till: line.till,
            attempts: meta.attempts,
            http_status: meta.http_status,
            error: line.error.or_else(|| meta.error.clone()),
            kind: line.kind.or_else(|| meta.kind.clone()),
            block_ids: line.block_ids,
            already: line.already,
            reblocked: line.reblocked,
            source: line.source,
            ms: (meta.finished_at - meta.started_at)
                .num_milliseconds()
                .max(0) as u64,
            started_at: meta.started_at,
            finished_at: meta.finished_at,
        }));
    }

    /// Records and counts the answer to a block of values this run was asked to block
    /// (`status`: `blocked` or `renewed`).
    fn blocked_line(
        &mut self,
        outcome: Outcome<Write<K>>,
        status: Status,
        source: &str,
    ) -> (BatchStatus, Vec<K::Value>) {
        let meta = Meta::of(&outcome);
        let Call::Post { batch, .. } = outcome.batch.call else {
            return (outcome.status, Vec::new());
        };
        let n = batch.values.len() as u64;
        self.settled += n;
        let (status, already, block_ids) = match (outcome.status, outcome.done) {
            (BatchStatus::Done, Some(WriteDone::Blocked(done))) => {
                Counters::add(&self.counters.ids_blocked, n);
                Counters::add(&self.counters.batches_blocked, 1);
                if status == Status::Renewed {
                    Counters::add(&self.counters.ids_renewed, n);
                }
                if done.already {
                    Counters::add(&self.counters.ids_already, n);
                }
                (status, done.already, done.block_ids)
            }
            (BatchStatus::Refused, _) => {
                Counters::add(&self.counters.ids_refused, n);
                (Status::Refused, false, None)
            }
            _ => {
                Counters::add(&self.counters.ids_failed, n);
                Counters::add(&self.counters.batches_failed, 1);
                (Status::Failed, false, None)
            }
        };
        let values = batch.values.clone();
        self.line(
            batch.seq,
            LineOf {
                till: Some(batch.block_till),
                block_ids,
                already,
                ..LineOf::new(status, batch.values, source.to_owned(), &meta)
            },
        );
        let ended = if status == Status::Refused {
            BatchStatus::Refused
        } else if matches!(status, Status::Failed) {
            BatchStatus::Failed
        } else {
            BatchStatus::Done
        };
        (ended, values)
    }
}

/// A task: one [`Work`] on its way.
enum Task<K: Kind> {
    Block(BlockTask),
    Renew(RenewTask<K>),
    Replace(ReplaceTask<K>),
    Absent(AbsentTask),
}

struct BlockTask {
    source: Arc<str>,
}

struct AbsentTask {
    source: Arc<str>,
}

/// Where a replace stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Looking,
    Deleting,
    /// The record is gone: its values are being blocked again.
    Blocking,
    Done,
}

struct ReplaceTask<K: Kind> {
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

struct RenewTask<K: Kind> {
    till: DateTime<Utc>,
    live: bool,
    source: Arc<str>,
    records: Vec<Held<K>>,
    renew: Vec<Vec<K::Value>>,
    owner: HashMap<K::Key, usize>,
    /// Per record: its values not answered yet, whether all were renewed, and whether the
    /// answer's record ids said the record was updated (`Some(true)`) or not.
    left: Vec<usize>,
    ok: Vec<bool>,
    updated: Vec<Option<bool>>,
    /// Records renewed whose fate waits for the look (GET) at one of them.
    waiting: Vec<usize>,
    looking: bool,
    /// This task teaches the behaviour (the parked renewals wait for it).
    probe: bool,
}

impl<K: Kind> Task<K> {
    /// Starts `work`: its first requests go to `cx.out`.
    fn start(work: Work<K>, cx: &mut Cx<'_, K>) -> Task<K> {
        match work {
            Work::Block {
                values,
                till,
                source,
            } => {
                cx.post(values, till, &source, false);
                Task::Block(BlockTask { source })
            }
            Work::Absent {
                values,
                what,
                source,
            } => {
                let seq = cx.next_seq();
                cx.send(Call::Delete(Delete {
                    seq,
                    kind: cx.kind,
                    values,
                    what,
                    source: source.clone(),
                }));
                Task::Absent(AbsentTask { source })
            }
            Work::Renew(renewal) => Task::Renew(RenewTask::start(renewal, cx)),
            Work::Replace(replace) => Task::Replace(ReplaceTask::start(replace, cx)),
        }
    }

    /// The answer to one of its requests (or to a part of one, after bisection).
    fn answer(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        match self {
            Task::Block(task) => {
                cx.blocked_line(outcome, Status::Blocked, &task.source);
            }
            Task::Absent(task) => absent_line(outcome, &task.source, cx),
            Task::Renew(task) => task.answer(outcome, cx),
            Task::Replace(task) => task.answer(outcome, cx),
        }
    }

    /// Whether a value is unblocked and waits for this task's next request.
    fn urgent(&self) -> bool {
        matches!(self, Task::Replace(task) if matches!(task.stage, Stage::Deleting | Stage::Blocking))
    }

    /// Values a deleted record also held whose block again was never answered (the pool
    /// stopped): they are left unblocked.
    fn left_unblocked(&self) -> u64 {
        match self {
            Task::Replace(task) => task.reblock_waiting,
            _ => 0,
        }
    }

    /// Ends a task the run stops: a renewal that was teaching the behaviour no longer is.
    fn stop(&self, learned: &mut Learned) {
        if let Task::Renew(task) = self
            && task.probe
        {
            learned.set_probe(task.live, false);
        }
    }
}

/// The line of values with no record to delete (no request was made).
fn absent_line<K: Kind>(outcome: Outcome<Write<K>>, source: &str, cx: &mut Cx<'_, K>) {
    let meta = Meta::of(&outcome);
    let Call::Delete(delete) = outcome.batch.call else {
        return;
    };
    let n = delete.values.len() as u64;
    cx.settled += n;
    let status = if outcome.status == BatchStatus::Done {
        Counters::add(&cx.counters.ids_not_blocked, n);
        Status::NotBlocked
    } else {
        Counters::add(&cx.counters.ids_failed, n);
        Counters::add(&cx.counters.batches_failed, 1);
        Status::Failed
    };
    cx.line(
        delete.seq,
        LineOf::new(status, delete.values, source.to_owned(), &meta),
    );
}

/// `values` without those whose key is in `without`.
fn minus<K: Kind>(values: &[K::Value], without: &[&[K::Value]]) -> Vec<K::Value> {
    let gone: HashSet<K::Key> = without.iter().flat_map(|v| v.iter().map(K::key)).collect();
    let mut seen = HashSet::new();
    values
        .iter()
        .filter(|v| {
            let key = K::key(v);
            !gone.contains(&key) && seen.insert(key)
        })
        .cloned()
        .collect()
}

fn stamp(till: Option<DateTime<Utc>>) -> String {
    till.map_or_else(
        || "an unknown time".to_owned(),
        |till| till.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

impl<K: Kind> ReplaceTask<K> {
    fn start(work: Replace<K>, cx: &mut Cx<'_, K>) -> ReplaceTask<K> {
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

    fn answer(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
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

impl<K: Kind> RenewTask<K> {
    fn start(renewal: Renewal<K>, cx: &mut Cx<'_, K>) -> RenewTask<K> {
        let mut task = RenewTask {
            till: renewal.till,
            live: renewal.live,
            source: renewal.source,
            records: Vec::new(),
            renew: Vec::new(),
            owner: HashMap::new(),
            left: Vec::new(),
            ok: Vec::new(),
            updated: Vec::new(),
            waiting: Vec::new(),
            looking: false,
            probe: false,
        };
        let mut values = Vec::new();
        for (index, (held, renew)) in renewal.records.into_iter().enumerate() {
            for value in &renew {
                task.owner.insert(K::key(value), index);
            }
            values.extend(renew.iter().cloned());
            task.left.push(renew.len());
            task.ok.push(true);
            task.updated.push(None);
            task.records.push(held);
            task.renew.push(renew);
        }
        if cx.learned.of(task.live) == Behaviour::Unknown {
            task.probe = true;
            cx.learned.set_probe(task.live, true);
        }
        let source = task.source.clone();
        cx.post(values, task.till, &source, true);
        task
    }

    fn status(&self) -> Status {
        if self.live {
            Status::Renewed
        } else {
            Status::Blocked
        }
    }

    fn answer(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        if let Call::Get(_) = outcome.batch.call {
            self.looked(outcome, cx);
            self.end_probe(cx);
            return;
        }
        if let (BatchStatus::Done, Some(WriteDone::Duplicate)) = (outcome.status, &outcome.done) {
            self.refused_as_duplicate(outcome, cx);
            self.end_probe(cx);
            return;
        }
        let block_ids = match &outcome.done {
            Some(WriteDone::Blocked(done)) => done.block_ids.clone(),
            _ => None,
        };
        let source = self.source.clone();
        let (ended, values) = cx.blocked_line(outcome, self.status(), &source);
        if !self.live {
            if ended == BatchStatus::Done {
                // Update or add: either way the value is blocked; an old expired record
                // left beside a new one blocks nothing.
                cx.learned.learn(false, Behaviour::Update);
            }
            self.end_probe(cx);
            return;
        }
        for (i, value) in values.iter().enumerate() {
            let Some(&r) = self.owner.get(&K::key(value)) else {
                continue;
            };
            self.left[r] = self.left[r].saturating_sub(1);
            if ended != BatchStatus::Done {
                self.ok[r] = false;
            } else if let Some(Some(id)) = block_ids.as_ref().and_then(|ids| ids.get(i)) {
                let same = *id == self.records[r].id;
                self.updated[r] = Some(self.updated[r].unwrap_or(false) || same);
            }
            if self.left[r] == 0 && self.ok[r] {
                self.decide(r, cx);
            }
        }
        self.end_probe(cx);
    }

    /// The record's values are renewed: was the record updated, or is it an old one
    /// beside a new record?
    fn decide(&mut self, r: usize, cx: &mut Cx<'_, K>) {
        match self.updated[r] {
            Some(true) => cx.learned.learn(true, Behaviour::Update),
            Some(false) => {
                cx.learned.learn(true, Behaviour::Add);
                self.supersede(r, cx);
            }
            None => match cx.learned.live {
                Behaviour::Update => {}
                Behaviour::Add => self.supersede(r, cx),
                Behaviour::Unknown | Behaviour::Reject => {
                    self.waiting.push(r);
                    if !self.looking {
                        self.looking = true;
                        let seq = cx.next_seq();
                        cx.send(Call::Get(GetRecord {
                            seq,
                            id: self.records[r].id,
                        }));
                    }
                }
            },
        }
    }

    fn supersede(&self, r: usize, cx: &mut Cx<'_, K>) {
        let held = self.records[r].clone();
        if !held.ours {
            // Someone else's record: it keeps blocking until its own blockTill.
            return;
        }
        cx.spawned.push(Work::Replace(Replace {
            superseded: self.renew[r].clone(),
            ..Replace::renewing(
                held,
                Vec::new(),
                (self.till, Status::Renewed),
                true,
                self.source.clone(),
                Arc::from(WHY_SUPERSEDED),
            )
        }));
    }

    /// The look at an old record after its values were renewed: a later blockTill says
    /// the server updated it; its old one, that it added a new record beside it.
    fn looked(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        self.looking = false;
        let Call::Get(get) = &outcome.batch.call else {
            return;
        };
        let old = self
            .records
            .iter()
            .find(|held| held.id == get.id)
            .and_then(|held| held.till);
        let learned = match (outcome.status, &outcome.done) {
            (BatchStatus::Done, Some(WriteDone::Looked(Some(record)))) => {
                match (record.block_till_at(), old) {
                    (Some(now_till), Some(old)) if now_till > old => Some(Behaviour::Update),
                    (Some(_), Some(_)) => Some(Behaviour::Add),
                    _ => None,
                }
            }
            _ => None,
        };
        let waiting = std::mem::take(&mut self.waiting);
        match learned {
            Some(behaviour) => {
                cx.learned.learn(true, behaviour);
                if behaviour == Behaviour::Add {
                    for r in waiting {
                        self.supersede(r, cx);
                    }
                }
            }
            None => tracing::info!(
                record = get.id,
                error = outcome.error.as_deref(),
                "Could not tell whether the server updated a renewed record or added a new one; old records, if any, are left to expire"
            ),
        }
    }

    /// The server refuses a second record: every record of the batch is deleted and its
    /// values blocked again at once.
    fn refused_as_duplicate(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
        cx.learned.learn(self.live, Behaviour::Reject);
        let meta = Meta::of(&outcome);
        let Call::Post { batch, .. } = outcome.batch.call else {
            return;
        };
        // Each record with the values of it this answer concerns (a bisected request's
        // half may hold only some of a record's values).
        let mut records: Vec<(usize, Vec<K::Value>)> = Vec::new();
        for value in &batch.values {
            let Some(&r) = self.owner.get(&K::key(value)) else {
                continue;
            };
            match records.iter_mut().find(|(index, _)| *index == r) {
                Some((_, values)) => values.push(value.clone()),
                None => records.push((r, vec![value.clone()])),
            }
        }
        cx.line(
            batch.seq,
            LineOf {
                status: Status::Refused,
                values: batch.values,
                till: Some(batch.block_till),
                block_ids: None,
                already: false,
                reblocked: false,
                source: self.source.to_string(),
                meta: &meta,
                error: Some(
                    "HTTP 400 ERROR_DUPLICATE_RECORD_FOUND: the server refuses a second block record; each record is deleted and its values blocked again at once (see the next lines)".to_owned(),
                ),
                kind: Some("duplicate".to_owned()),
            },
        );
        let status = self.status();
        for (r, renew) in records {
            let held = self.records[r].clone();
            cx.spawned.push(Work::Replace(Replace::renewing(
                held,
                renew,
                (self.till, status),
                self.live,
                self.source.clone(),
                Arc::from(WHY_DUPLICATE),
            )));
        }
    }

    fn end_probe(&mut self, cx: &mut Cx<'_, K>) {
        if self.probe && !self.looking && cx.learned.of(self.live) != Behaviour::Unknown {
            self.probe = false;
            cx.learned.set_probe(self.live, false);
        }
    }
}

/// An open task and the values its requests in flight concern.
struct Open<K: Kind> {
    task: Task<K>,
    /// Sizes of its requests still in flight (a bisected request's halves add up to it).
    in_flight: u64,
    /// Values it was to decide, not yet decided.
    unsettled: u64,
}

/// Runs the work `produce` makes (on its own thread: it reads spool files) through the
/// pool, writes every line and counts every value. Values never sent (the run stopped,
/// or the server refused the key) are counted as not sent.
pub async fn execute<K, P>(
    run: Run,
    counters: Arc<Counters>,
    op: Op,
    kind: K,
    rejects: Vec<Reject>,
    produce: P,
) -> Result<RunEnd, RuntimeError>
where
    K: Kind,
    P: FnOnce(&mut dyn WorkSink<K>) + Send + 'static,
{
    let window = run.pool.max_in_flight().max(1);
    let (work_tx, mut work_rx) = mpsc::channel::<Work<K>>(window.max(4));
    let producer_counters = counters.clone();
    let producer = std::thread::Builder::new()
        .name("blockade-plan".into())
        .spawn(move || {
            let mut sink = ChannelWorkSink {
                tx: work_tx,
                counters: producer_counters,
            };
            produce(&mut sink);
        })
        .map_err(|e| RuntimeError(format!("cannot start the plan's reader thread: {e}")))?;
    // Room for every request the open tasks may have out at once (a replace's two
    // blocks), so that handing one over never waits.
    let room = window * 4 + 8;
    let (batch_tx, batch_rx) = mpsc::channel::<Vec<Write<K>>>(room);
    let (outcome_tx, mut outcome_rx) = mpsc::channel::<Outcome<Write<K>>>(room);
    let pool_stop = CancellationToken::new();
    let pool = tokio::spawn(pool::run(
        run.client,
        run.pool,
        batch_rx,
        outcome_tx,
        run.pool_counters.clone(),
        pool_stop.clone(),
    ));
    let mut ledger = run.ledger;
    // The bad input rows first, each a line.
    Counters::add(&counters.rejected, rejects.len() as u64);
    let rejected: Vec<Record> = rejects
        .into_iter()
        .map(|reject| {
            Record::Reject(RejectRecord {
                run: run.run_id.clone(),
                status: Status::Rejected,
                source: reject.origin.to_string(),
                input: reject.input,
                error: reject.reason,
            })
        })
        .collect();
    write_lines(&mut ledger, &rejected)?;
    let mut open: HashMap<u64, Open<K>> = HashMap::new();
    let mut backlog: VecDeque<Work<K>> = VecDeque::new();
    let mut parked: Option<Work<K>> = None;
    let mut learned = Learned::default();
    let (mut seq, mut next_task) = (0u64, 0u64);
    let scope = Scope {
        kind,
        op,
        run_id: &run.run_id,
        counters: &counters,
    };
    let mut source_open = true;
    let mut stopping = false;
    let mut failure: Option<RuntimeError> = None;

    loop {
        // Admit work while there is room: follow-ups first, then a parked renewal once
        // the behaviour is known, then the plan's own.
        while !stopping && open.len() < window {
            let work = if let Some(work) = backlog.pop_front() {
                work
            } else if let Some(work) = parked.take() {
                work
            } else if source_open {
                match work_rx.try_recv() {
                    Ok(work) => work,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        source_open = false;
                        break;
                    }
                }
            } else {
                break;
            };
            let work = match work {
                Work::Renew(renewal) => {
                    let live = renewal.live;
                    match learned.of(live) {
                        Behaviour::Reject => {
                            backlog.extend(renewal.into_replaces(WHY_DUPLICATE));
                            continue;
                        }
                        Behaviour::Unknown if learned.probing(live) => {
                            parked = Some(Work::Renew(renewal));
                            break;
                        }
                        _ => Work::Renew(renewal),
                    }
                }
                other => other,
            };
            next_task += 1;
            let unsettled = work.counted();
            let mut cx = scope.cx(&mut learned, &mut seq, stopping, next_task);
            let task = Task::start(work, &mut cx);
            let (out, spawned, lines, settled) = (cx.out, cx.spawned, cx.lines, cx.settled);
            let mut entry = Open {
                task,
                in_flight: 0,
                unsettled,
            };
            if let Err(error) = write_lines(&mut ledger, &lines) {
                failure = Some(error);
                stopping = true;
            }
            backlog.extend(spawned);
            entry.unsettled = entry.unsettled.saturating_sub(settled);
            if !hand_over(&batch_tx, out, &mut entry).await {
                stopping = true;
            }
            if entry.in_flight > 0 {
                open.insert(next_task, entry);
            } else {
                Counters::add(&counters.not_sent, entry.unsettled);
                entry.task.stop(&mut learned);
            }
        }
        if open.is_empty() && (stopping || (!source_open && backlog.is_empty() && parked.is_none()))
        {
            break;
        }
        let room_for_more = !stopping && open.len() < window && source_open && parked.is_none();
        tokio::select! {
            biased;
            outcome = outcome_rx.recv() => {
                let Some(outcome) = outcome else {
                    break; // the pool ended (it refused the key, or stopped)
                };
                let id = outcome.batch.task;
                let Some(mut entry) = open.remove(&id) else {
                    continue;
                };
                entry.in_flight = entry.in_flight.saturating_sub(
                    crate::api::Operation::size(&outcome.batch),
                );
                let mut cx = scope.cx(&mut learned, &mut seq, stopping, id);
                entry.task.answer(outcome, &mut cx);
                let (out, spawned, lines, settled) = (cx.out, cx.spawned, cx.lines, cx.settled);
                if let Err(error) = write_lines(&mut ledger, &lines) {
                    failure = Some(error);
                    stopping = true;
                }
                let handed: u64 = spawned.iter().map(Work::counted).sum();
                entry.unsettled = entry.unsettled.saturating_sub(settled + handed);
                // While stopping, only the blocks that follow a delete go out.
                let urgent = entry.task.urgent();
                if !stopping || urgent {
                    backlog.extend(spawned);
                    if !hand_over(&batch_tx, out, &mut entry).await {
                        stopping = true;
                    }
                } else {
                    Counters::add(&counters.not_sent, handed);
                }
                if entry.in_flight > 0 {
                    open.insert(id, entry);
                } else {
                    Counters::add(&counters.not_sent, entry.unsettled);
                    entry.task.stop(&mut learned);
                }
            }
            work = work_rx.recv(), if room_for_more => match work {
                Some(work) => backlog.push_back(work),
                None => source_open = false,
            },
            () = run.interrupt.cancelled(), if !stopping => {
                stopping = true;
            }
        }
        if stopping && !pool_stop.is_cancelled() && !open.values().any(|o| o.task.urgent()) {
            // Nothing unblocked waits for a request: stop the pool's retries now.
            pool_stop.cancel();
        }
    }

    // What was never sent: open tasks' undecided values, queued work, the plan's rest.
    for entry in open.values() {
        Counters::add(&counters.not_sent, entry.unsettled);
        let left = entry.task.left_unblocked();
        if left > 0 {
            tracing::error!(
                values = left,
                "The run stopped between the delete of a record and the block again of the other values it held: they are unblocked now (the ledger's unblocked line names them)"
            );
            Counters::add(&counters.reblock_failed, left);
        }
    }
    let queued: u64 = backlog.iter().chain(parked.iter()).map(Work::counted).sum();
    Counters::add(&counters.not_sent, queued);
    work_rx.close();
    while let Some(work) = work_rx.recv().await {
        Counters::add(&counters.not_sent, work.counted());
    }
    drop(batch_tx);
    if stopping {
        pool_stop.cancel();
    }
    while outcome_rx.recv().await.is_some() {}
    let pool_end = pool
        .await
        .map_err(|e| RuntimeError(format!("the worker pool stopped: {e}")))?;
    let _ = tokio::task::spawn_blocking(move || producer.join()).await;
    let mut pool_end = pool_end;
    let stop = match pool_end.stop.take() {
        Some(stop) => Some(stop),
        None if run.interrupt.is_cancelled() => Some(pool::Stop::Interrupted),
        None => None,
    };
    let pool_end = PoolEnd {
        // Counted above, value by value: the pool's own count is of requests.
        ids_not_sent: 0,
        stop,
        ..pool_end
    };
    if failure.is_none() {
        write_lines(&mut ledger, &pipeline::ending_lines(&run.run_id, &pool_end))?;
    }
    ledger
        .sync()
        .map_err(|e| RuntimeError(format!("cannot sync the ledger: {e}")))?;
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(RunEnd {
        pool: pool_end,
        pool_counters: run.pool_counters,
    })
}

fn write_lines(
    ledger: &mut crate::ledger::LedgerWriter,
    lines: &[Record],
) -> Result<(), RuntimeError> {
    if lines.is_empty() {
        return Ok(());
    }
    ledger.append_all(lines).map_err(|e| {
        RuntimeError(format!(
            "cannot write the ledger ({e}); the run was stopped, and what was sent after the last written line is not recorded: run the command again"
        ))
    })
}

/// Hands a task's requests to the pool; false when the pool is gone.
async fn hand_over<K: Kind>(
    batch_tx: &mpsc::Sender<Vec<Write<K>>>,
    out: Vec<Write<K>>,
    entry: &mut Open<K>,
) -> bool {
    for write in out {
        let size = crate::api::Operation::size(&write);
        if batch_tx.send(vec![write]).await.is_err() {
            return false;
        }
        entry.in_flight += size;
    }
    true
}
