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
//!
//! Files, from the bottom: `work.rs` (what a plan hands over: [`Work`] and its sink) and
//! `write.rs` (the requests, as one operation for the pool); `cx.rs` (what every task
//! shares: the run's context, its ledger lines, what was learnt of the server);
//! `replace.rs` (a record deleted, then what must stay blocked blocked again) and
//! `renew.rs` (a renewal, and what the server's answer says about the old record); this
//! file runs them: the tasks, the pool, the ledger.

mod cx;
mod renew;
mod replace;
mod work;
mod write;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::cx::{Behaviour, Cx, Learned, LineOf, Meta, Scope, WHY_DUPLICATE};
use self::renew::RenewTask;
use self::replace::ReplaceTask;
use self::work::ChannelWorkSink;
pub use self::work::{Held, Renewal, Replace, Work, WorkSink};
use self::write::{Call, Write};
use crate::api::delete::Delete;
use crate::exit::RuntimeError;
use crate::input::Reject;
use crate::ledger::{Record, RejectRecord, Status};
use crate::send::counters::Counters;
use crate::send::pipeline::{self, Run, RunEnd};
use crate::send::pool::{self, BatchStatus, Outcome, PoolEnd};
use crate::values::Kind;

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
        matches!(self, Task::Replace(task) if task.urgent())
    }

    /// Values a deleted record also held whose block again was never answered (the pool
    /// stopped): they are left unblocked.
    fn left_unblocked(&self) -> u64 {
        match self {
            Task::Replace(task) => task.left_unblocked(),
            _ => 0,
        }
    }

    /// Ends a task the run stops: a renewal that was teaching the behaviour no longer is.
    fn stop(&self, learned: &mut Learned) {
        if let Task::Renew(task) = self {
            task.stop(learned);
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
        op: run.op,
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
