//! What a plan hands to the executor: [`Work`] (a block, a renewal, the replace of a
//! record, values with no record), the records it knows ([`Held`]), and the sink it is
//! handed over through.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::api::delete::DeleteWhat;
use crate::ledger::Status;
use crate::send::counters::Counters;
use crate::values::Kind;

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
    pub(super) fn into_replaces(self, why: &str) -> Vec<Work<K>> {
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
pub(super) struct ChannelWorkSink<K: Kind> {
    pub(super) tx: mpsc::Sender<Work<K>>,
    pub(super) counters: Arc<Counters>,
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
