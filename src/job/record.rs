//! The ledger line of each operation's outcome, written once for every kind of value:
//! a block batch's (`blocked`, `failed`, `refused`) and a delete's (`unblocked`,
//! `not_blocked`, `failed`), counted as they are written.

use chrono::{DateTime, Utc};

use crate::api::delete::{Delete, DeleteWhat};
use crate::api::failure_kind;
use crate::ledger::{Op, OutcomeRecord, Record, Status};
use crate::send::counters::Counters;
use crate::send::pipeline::Recorded;
use crate::send::pool::{BatchStatus, Outcome};
use crate::values::{Batch, Kind};

impl<K: Kind> Recorded for Batch<K> {
    fn record(run_id: &str, outcome: Outcome<Batch<K>>, counters: &Counters) -> Record {
        let n = outcome.batch.values.len() as u64;
        let done = outcome.done.unwrap_or_default();
        let status = match outcome.status {
            BatchStatus::Done => {
                Counters::add(&counters.ids_blocked, n);
                Counters::add(&counters.batches_blocked, 1);
                Status::Blocked
            }
            BatchStatus::Failed => {
                Counters::add(&counters.ids_failed, n);
                Counters::add(&counters.batches_failed, 1);
                tracing::debug!(
                    batch = outcome.batch.seq,
                    error = outcome.error.as_deref(),
                    "Batch failed"
                );
                Status::Failed
            }
            BatchStatus::Refused => {
                Counters::add(&counters.ids_refused, n);
                tracing::debug!(
                    batch = outcome.batch.seq,
                    error = outcome.error.as_deref(),
                    "Value refused by the server"
                );
                Status::Refused
            }
        };
        if done.already {
            Counters::add(&counters.ids_already, n);
        }
        let batch = outcome.batch;
        match status {
            Status::Blocked => counters.note_block_till(batch.block_till),
            _ => note_failure(
                counters,
                &outcome.kind,
                outcome.http_status,
                &outcome.error,
                n,
            ),
        }
        Record::Outcome(OutcomeRecord {
            run: run_id.to_owned(),
            batch: batch.seq,
            op: Op::Block,
            status,
            value_type: batch.kind.value_type(),
            source: batch.source(),
            ids: K::to_values(batch.values),
            block_till: Some(batch.block_till),
            attempts: outcome.attempts,
            http_status: outcome.http_status,
            error: outcome.error,
            kind: outcome.kind.map(str::to_owned),
            block_ids: done.block_ids,
            already: done.already,
            reblocked: false,
            ms: millis(outcome.started_at, outcome.finished_at),
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
        })
    }
}

impl<K: Kind> Recorded for Delete<K> {
    fn record(run_id: &str, outcome: Outcome<Delete<K>>, counters: &Counters) -> Record {
        let n = outcome.batch.values.len() as u64;
        let affected = outcome.done.as_ref().map(|done| done.affected);
        let status = unblock_status(outcome.status, affected, n, counters);
        match status {
            Status::Unblocked => Counters::add(&counters.records_deleted, 1),
            Status::Failed => note_failure(
                counters,
                &outcome.kind,
                outcome.http_status,
                &outcome.error,
                n,
            ),
            _ => {}
        }
        let delete = outcome.batch;
        let block_ids = match delete.what {
            DeleteWhat::Record(id) => Some(vec![Some(id); delete.values.len()]),
            DeleteWhat::NoRecord | DeleteWhat::NotListed(_) => None,
        };
        Record::Outcome(OutcomeRecord {
            run: run_id.to_owned(),
            batch: delete.seq,
            op: Op::Unblock,
            status,
            value_type: delete.kind.value_type(),
            ids: K::to_values(delete.values),
            block_till: None,
            attempts: outcome.attempts,
            http_status: outcome.http_status,
            error: outcome.error,
            kind: outcome.kind.map(str::to_owned),
            block_ids,
            already: false,
            reblocked: false,
            source: delete.source.to_string(),
            ms: millis(outcome.started_at, outcome.finished_at),
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
        })
    }
}

/// The ledger status of a delete's `n` values, counted: deleted (`affected` > 0), not
/// blocked (nothing to delete), or failed (a refusal included: the values stay blocked).
fn unblock_status(
    status: BatchStatus,
    affected: Option<u64>,
    n: u64,
    counters: &Counters,
) -> Status {
    match (status, affected) {
        (BatchStatus::Done, Some(affected)) if affected > 0 => {
            Counters::add(&counters.ids_unblocked, n);
            Status::Unblocked
        }
        (BatchStatus::Done, _) => {
            Counters::add(&counters.ids_not_blocked, n);
            Status::NotBlocked
        }
        (BatchStatus::Refused, _) => {
            Counters::add(&counters.ids_refused, n);
            Status::Failed
        }
        (BatchStatus::Failed, _) => {
            Counters::add(&counters.ids_failed, n);
            Counters::add(&counters.batches_failed, 1);
            Status::Failed
        }
    }
}

/// Counts a failed line by its kind: the line's own `kind`, else what its status and
/// error say (`api::failure_kind`), as `report` groups them.
fn note_failure(
    counters: &Counters,
    kind: &Option<&'static str>,
    http_status: Option<u16>,
    error: &Option<String>,
    n: u64,
) {
    let kind = kind.map_or_else(
        || failure_kind(http_status, error.as_deref()),
        str::to_owned,
    );
    counters.note_failure(kind, n, error.as_deref());
}

fn millis(started: DateTime<Utc>, finished: DateTime<Utc>) -> u64 {
    (finished - started).num_milliseconds().max(0) as u64
}
