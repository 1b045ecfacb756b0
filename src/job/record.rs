//! The ledger line of a block batch's outcome (`blocked`, `failed`, `refused`), for every
//! kind of value, counted as it is written: what `block` and `retry` send through the
//! pipeline, as lines of the run's `Op`. (A plan's requests, `sync`'s and `unblock`'s,
//! are recorded by `job/apply/`.)

use chrono::{DateTime, Utc};

use crate::api::failure_kind;
use crate::ledger::{Op, OutcomeRecord, Record, Status};
use crate::send::counters::Counters;
use crate::send::pipeline::Recorded;
use crate::send::pool::{BatchStatus, Outcome};
use crate::values::{Batch, Kind};

impl<K: Kind> Recorded for Batch<K> {
    fn record(run_id: &str, op: Op, outcome: Outcome<Batch<K>>, counters: &Counters) -> Record {
        let n = outcome.batch.values.len() as u64;
        if outcome.attempts == 0 {
            Counters::add(&counters.ids_unsent, n);
        }
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
            op,
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
