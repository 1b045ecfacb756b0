//! A renewal: the values of live records blocked again with a new blockTill, and what the
//! server's answer says about the old record (updated in place, refused as a duplicate, or
//! kept beside a new one), learnt once per run and acted on.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cx::{Behaviour, Cx, Learned, LineOf, Meta, WHY_DUPLICATE, WHY_SUPERSEDED};
use super::work::{Held, Renewal, Replace, Work};
use super::write::{Call, Write, WriteDone};
use crate::api::get::GetRecord;
use crate::ledger::Status;
use crate::send::pool::{BatchStatus, Outcome};
use crate::values::Kind;

pub(super) struct RenewTask<K: Kind> {
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

impl<K: Kind> RenewTask<K> {
    /// Ends a renewal the run stops: if it was teaching the behaviour, it no longer is.
    pub(super) fn stop(&self, learned: &mut Learned) {
        if self.probe {
            learned.set_probe(self.live, false);
        }
    }

    pub(super) fn start(renewal: Renewal<K>, cx: &mut Cx<'_, K>) -> RenewTask<K> {
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

    pub(super) fn answer(&mut self, outcome: Outcome<Write<K>>, cx: &mut Cx<'_, K>) {
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
