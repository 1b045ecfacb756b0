//! What every task of a plan shares: the run's context ([`Cx`]: where requests, lines and
//! follow-up work go, the counters, what the run learned of the server), the ledger line a
//! task writes ([`LineOf`]) and the facts of an answer ([`Meta`]).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::work::Work;
use super::write::{Call, Write, WriteDone};
use crate::ledger::{Op, OutcomeRecord, Record, Status};
use crate::send::counters::Counters;
use crate::send::pool::{BatchStatus, Outcome};
use crate::values::{Batch, Kind, Origin};

/// How the server treats a block of a value that already has a record (learned from its
/// answers during the run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Behaviour {
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
pub(super) struct Learned {
    pub(super) live: Behaviour,
    pub(super) expired: Behaviour,
    /// A renewal is out whose answer will teach the behaviour: the next ones wait for it,
    /// so that a server that refuses them all is sent one refused request, not hundreds.
    pub(super) live_probe: bool,
    pub(super) expired_probe: bool,
}

impl Learned {
    pub(super) fn of(&self, live: bool) -> Behaviour {
        if live { self.live } else { self.expired }
    }

    pub(super) fn learn(&mut self, live: bool, behaviour: Behaviour) {
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

    pub(super) fn probing(&self, live: bool) -> bool {
        if live {
            self.live_probe
        } else {
            self.expired_probe
        }
    }

    pub(super) fn set_probe(&mut self, live: bool, on: bool) {
        if live {
            self.live_probe = on;
        } else {
            self.expired_probe = on;
        }
    }
}

/// Why a record is deleted when the server refuses a second one.
pub(super) const WHY_DUPLICATE: &str = "the server refuses a second block record for a value (ERROR_DUPLICATE_RECORD_FOUND): the record is deleted and its values blocked again at once";
/// Why an old record is deleted when the server added a new one.
pub(super) const WHY_SUPERSEDED: &str = "the server added a new block record for the renewed values and kept the old one: the old one is deleted";

/// What a task's handlers need.
pub(super) struct Cx<'a, K: Kind> {
    pub(super) kind: K,
    pub(super) op: Op,
    pub(super) run_id: &'a str,
    pub(super) counters: &'a Counters,
    pub(super) learned: &'a mut Learned,
    pub(super) seq: &'a mut u64,
    pub(super) now: DateTime<Utc>,
    /// The run is stopping: no delete is started any more.
    pub(super) stopping: bool,
    pub(super) task: u64,
    /// Requests to send now.
    pub(super) out: Vec<Write<K>>,
    /// Work that follows (queued ahead of the plan's own).
    pub(super) spawned: Vec<Work<K>>,
    pub(super) lines: Vec<Record>,
    /// Values whose fate was decided (counted) by this answer.
    pub(super) settled: u64,
}

/// What the handlers of every task share in one run.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a, K: Kind> {
    pub(super) kind: K,
    pub(super) op: Op,
    pub(super) run_id: &'a str,
    pub(super) counters: &'a Counters,
}

impl<'a, K: Kind> Scope<'a, K> {
    /// The context of one handler call of task `task`.
    pub(super) fn cx<'b>(
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
pub(super) struct Meta {
    pub(super) attempts: u32,
    pub(super) http_status: Option<u16>,
    pub(super) error: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) started_at: DateTime<Utc>,
    pub(super) finished_at: DateTime<Utc>,
}

impl Meta {
    pub(super) fn of<K: Kind>(outcome: &Outcome<Write<K>>) -> Meta {
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
pub(super) struct LineOf<'a, K: Kind> {
    pub(super) status: Status,
    pub(super) values: Vec<K::Value>,
    pub(super) till: Option<DateTime<Utc>>,
    pub(super) block_ids: Option<Vec<Option<u64>>>,
    pub(super) already: bool,
    /// The block again of values a deleted record also held.
    pub(super) reblocked: bool,
    pub(super) source: String,
    pub(super) meta: &'a Meta,
    /// Replaces the answer's error (a duplicate refusal, a failed look).
    pub(super) error: Option<String>,
    pub(super) kind: Option<String>,
}

impl<'a, K: Kind> LineOf<'a, K> {
    /// A line of `values` with `status`, and nothing else to say (the fields below are
    /// set where there is).
    pub(super) fn new(
        status: Status,
        values: Vec<K::Value>,
        source: String,
        meta: &'a Meta,
    ) -> Self {
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
    pub(super) fn next_seq(&mut self) -> u64 {
        *self.seq += 1;
        *self.seq
    }

    pub(super) fn send(&mut self, call: Call<K>) {
        self.out.push(Write {
            task: self.task,
            call,
        });
    }

    /// Sends a block; returns its seq (a bisected request's halves keep it).
    pub(super) fn post(
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

    pub(super) fn line(&mut self, seq: u64, line: LineOf<'_, K>) {
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
    pub(super) fn blocked_line(
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

/// `values` without those whose key is in `without`.
pub(super) fn minus<K: Kind>(values: &[K::Value], without: &[&[K::Value]]) -> Vec<K::Value> {
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

pub(super) fn stamp(till: Option<DateTime<Utc>>) -> String {
    till.map_or_else(
        || "an unknown time".to_owned(),
        |till| till.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}
