//! Wires the stages of a sending run together: producer → pool → collector.
//!
//! ```text
//! producer thread ──batches──► pool (rate gate, permits, retries) ──outcomes──► collector
//!        └────────────────────────rejects─────────────────────────────────────────┘
//! ```
//! The producer (reading inputs for `block`, reading the ledger for `retry`) runs on its own
//! thread because file reading and gzip are blocking. The collector is the only writer of
//! the ledger; it starts before anything else so that workers never wait on a full channel
//! nobody drains. Every channel is bounded: memory is set by concurrency × batch size.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::api::Operation;
use crate::exit::RuntimeError;
use crate::input::Reject;
use crate::ledger::{LedgerWriter, Op, PauseRecord, Record, RejectRecord, Status, StopRecord};
use crate::net::client::Client;
use crate::send::counters::Counters;
use crate::send::pool::{self, Outcome, PoolConfig, PoolCounters, PoolEnd, Stop};

/// Where a producer puts what it makes.
pub trait Sink<W> {
    /// Queues a batch for sending; `false` means stop producing (the run is stopping).
    fn batch(&mut self, batch: W) -> bool;
    /// Records a bad input row.
    fn reject(&mut self, reject: Reject);
    /// Whether the producer should stop now (interrupt or abort).
    fn stopping(&self) -> bool;
}

/// Chunks of batches waiting for the pool at most: with `CHUNK`, memory is bounded by
/// (this + 2) × 16 batches, whatever the input size.
const CHANNEL_CHUNKS: usize = 4;

/// Most batches the producer gathers before it waits for the pool to take them.
const CHUNK: usize = 16;

/// The sink of a real run: bounded channels to the pool and the collector.
///
/// Batches go to the pool in chunks: while the pool keeps up, each batch goes at once (a
/// chunk of one); when it falls behind, the producer gathers up to `CHUNK` batches before
/// it blocks. Handing over one batch at a time made the producer and the pool wake each
/// other for every batch, a visible share of a run's CPU.
pub struct ChannelSink<W> {
    batches: mpsc::Sender<Vec<W>>,
    rejects: mpsc::Sender<Reject>,
    counters: Arc<Counters>,
    interrupt: CancellationToken,
    gathered: Vec<W>,
}

impl<W: Operation> ChannelSink<W> {
    /// Hands over what is gathered, waiting for room. False when the pool stopped taking
    /// batches (abort): those batches are counted as not sent.
    fn hand_over(&mut self) -> bool {
        let chunk = std::mem::take(&mut self.gathered);
        if chunk.is_empty() {
            return true;
        }
        match self.batches.blocking_send(chunk) {
            Ok(()) => true,
            Err(mpsc::error::SendError(chunk)) => {
                self.count_not_sent(&chunk);
                false
            }
        }
    }

    fn count_not_sent(&self, chunk: &[W]) {
        let ids: u64 = chunk.iter().map(Operation::size).sum();
        Counters::add(&self.counters.not_sent, ids);
    }

    /// Hands over the last gathered batches (end of input).
    fn finish(&mut self) {
        if self.stopping() {
            let chunk = std::mem::take(&mut self.gathered);
            self.count_not_sent(&chunk);
        } else {
            self.hand_over();
        }
    }
}

impl<W: Operation> Sink<W> for ChannelSink<W> {
    fn batch(&mut self, batch: W) -> bool {
        if self.stopping() {
            self.gathered.push(batch);
            let chunk = std::mem::take(&mut self.gathered);
            self.count_not_sent(&chunk);
            return false;
        }
        self.gathered.push(batch);
        if self.gathered.len() >= CHUNK {
            return self.hand_over();
        }
        match self.batches.try_send(std::mem::take(&mut self.gathered)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(chunk)) => {
                self.gathered = chunk;
                true
            }
            Err(mpsc::error::TrySendError::Closed(chunk)) => {
                self.count_not_sent(&chunk);
                false
            }
        }
    }

    fn reject(&mut self, reject: Reject) {
        Counters::add(&self.counters.rejected, 1);
        let _ = self.rejects.blocking_send(reject);
    }

    fn stopping(&self) -> bool {
        self.interrupt.is_cancelled() || self.batches.is_closed()
    }
}

/// Everything a sending run needs, checked and ready.
pub struct Run {
    pub run_id: String,
    /// The command: its outcome lines are lines of this `Op`.
    pub op: Op,
    pub client: Client,
    pub pool: PoolConfig,
    pub ledger: LedgerWriter,
    pub interrupt: CancellationToken,
    /// The pool's counters, made by the caller so that a display can read them while the
    /// run goes on.
    pub pool_counters: Arc<PoolCounters>,
}

/// What a sending run left behind for the summary.
pub struct RunEnd {
    pub pool: PoolEnd,
    pub pool_counters: Arc<PoolCounters>,
}

/// Runs `produce` on its own thread, sends its batches through the pool, records every
/// outcome (as a line of the run's `op`) and reject in the ledger.
pub async fn execute<W, P>(
    run: Run,
    counters: Arc<Counters>,
    produce: P,
) -> Result<RunEnd, RuntimeError>
where
    W: Recorded,
    P: FnOnce(&mut ChannelSink<W>) + Send + 'static,
{
    let depth = run.pool.max_in_flight().max(1) * 2;
    let (batch_tx, batch_rx) = mpsc::channel::<Vec<W>>(CHANNEL_CHUNKS);
    let (outcome_tx, outcome_rx) = mpsc::channel::<Outcome<W>>(depth);
    let (reject_tx, reject_rx) = mpsc::channel::<Reject>(1024);
    let producer_done = CancellationToken::new();

    // 1. The collector first: it must be draining before any worker can send.
    let (run_id, op, record_counters) = (run.run_id.clone(), run.op, counters.clone());
    let collector = tokio::spawn(collect(
        outcome_rx,
        reject_rx,
        run.ledger,
        run.run_id.clone(),
        move |outcome| W::record(&run_id, op, outcome, &record_counters),
        producer_done.clone(),
        run.interrupt.clone(),
    ));

    // 2. The producer, on a thread of its own (blocking reads).
    let mut sink = ChannelSink {
        batches: batch_tx,
        rejects: reject_tx,
        counters: counters.clone(),
        interrupt: run.interrupt.clone(),
        gathered: Vec::with_capacity(CHUNK),
    };
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("blockade-reader".into())
        .spawn(move || {
            produce(&mut sink);
            sink.finish();
            drop(sink);
            let _ = done_tx.send(());
        })
        .map_err(|e| RuntimeError(format!("cannot start the reader thread: {e}")))?;

    // 3. The pool, until the batches run out or the run stops.
    let pool_counters = run.pool_counters;
    // The pool runs as a task of its own: a future awaited directly by `block_on` wakes it
    // through the runtime's eventfd, one write syscall per finished request.
    let pool_end = tokio::spawn(pool::run(
        run.client,
        run.pool,
        batch_rx,
        outcome_tx,
        pool_counters.clone(),
        run.interrupt.clone(),
    ))
    .await
    .map_err(|e| RuntimeError(format!("the worker pool stopped: {e}")))?;

    // 4. Wait for the producer to notice and count what it leaves unread (it may be stuck
    //    on a stdin that never ends: then give it a moment only), and for the collector to
    //    drain.
    if run.interrupt.is_cancelled() || pool_end.stop.is_some() {
        let _ = tokio::time::timeout(Duration::from_secs(3), done_rx).await;
    } else {
        let _ = done_rx.await;
    }
    producer_done.cancel();
    let ledger = collector
        .await
        .map_err(|e| RuntimeError(format!("the ledger writer stopped: {e}")))??;
    let mut ledger = ledger;
    write(&mut ledger, &ending_lines(&run.run_id, &pool_end))?;
    ledger
        .sync()
        .map_err(|e| RuntimeError(format!("cannot sync the ledger: {e}")))?;
    Ok(RunEnd {
        pool: pool_end,
        pool_counters,
    })
}

/// Most records the collector writes in one go.
const WRITE_AT_ONCE: usize = 64;

/// The single ledger writer: one line per outcome and per reject, in arrival order. What
/// has queued up since the last write goes out in one write. If a write fails the run is
/// stopped: nothing may be sent that cannot be recorded. `record` makes (and counts) an
/// outcome's line.
async fn collect<W: Recorded>(
    mut outcomes: mpsc::Receiver<Outcome<W>>,
    mut rejects: mpsc::Receiver<Reject>,
    mut ledger: LedgerWriter,
    run_id: String,
    record: impl Fn(Outcome<W>) -> Record,
    producer_done: CancellationToken,
    stop_run: CancellationToken,
) -> Result<LedgerWriter, RuntimeError> {
    let mut outcomes_open = true;
    let mut rejects_open = true;
    let mut records = Vec::with_capacity(WRITE_AT_ONCE);
    while outcomes_open || rejects_open {
        tokio::select! {
            outcome = outcomes.recv(), if outcomes_open => match outcome {
                Some(outcome) => {
                    records.push(record(outcome));
                    while records.len() < WRITE_AT_ONCE && let Ok(outcome) = outcomes.try_recv() {
                        records.push(record(outcome));
                    }
                }
                None => outcomes_open = false,
            },
            reject = rejects.recv(), if rejects_open => match reject {
                Some(reject) => {
                    records.push(reject_record(&run_id, reject));
                    while records.len() < WRITE_AT_ONCE && let Ok(reject) = rejects.try_recv() {
                        records.push(reject_record(&run_id, reject));
                    }
                }
                None => rejects_open = false,
            },
            // A producer stuck on input that never ends: take what it sent and stop.
            _ = producer_done.cancelled(), if rejects_open && !outcomes_open => {
                while let Ok(reject) = rejects.try_recv() {
                    records.push(reject_record(&run_id, reject));
                }
                rejects_open = false;
            }
        }
        if !records.is_empty() {
            write(&mut ledger, &records).inspect_err(|_| stop_run.cancel())?;
            records.clear();
        }
    }
    Ok(ledger)
}

fn write(ledger: &mut LedgerWriter, records: &[Record]) -> Result<(), RuntimeError> {
    ledger.append_all(records).map_err(|e| {
        RuntimeError(format!(
            "cannot write the ledger ({e}); the run was stopped, and what was sent after the last \
             written line is not recorded: run again with --resume to send it again"
        ))
    })
}

/// The lines about no value that end a run: one per 429 episode, and, if the run stopped
/// early, why. (Written at the end: the gate keeps the episodes, the pool the stop.)
pub fn ending_lines(run_id: &str, pool: &PoolEnd) -> Vec<Record> {
    // The gate counts in `Instant`s; the ledger says UTC.
    let (now, utc_now) = (tokio::time::Instant::now(), chrono::Utc::now());
    let utc = |at: tokio::time::Instant| {
        utc_now - chrono::Duration::from_std(now.saturating_duration_since(at)).unwrap_or_default()
    };
    let hundredths = |rate: f64| (rate * 100.0).round() / 100.0;
    let mut lines: Vec<Record> = pool
        .pauses
        .iter()
        .map(|pause| {
            Record::Pause(PauseRecord {
                run: run_id.to_owned(),
                status: Status::RateLimited,
                started_at: utc(pause.began),
                wait_ms: pause.wait.as_millis() as u64,
                admitted_per_s: hundredths(pause.admitted_per_second),
                pace_per_s: hundredths(pause.pace_per_second),
                answers: pause.answers,
            })
        })
        .collect();
    if let Some(stop) = &pool.stop {
        let (until, detail) = match stop {
            Stop::Aborted(detail) | Stop::Unreachable(detail) => (None, detail.clone()),
            Stop::Interrupted => (None, String::new()),
            Stop::RateLimited { until, reason } => (Some(*until), reason.clone()),
        };
        lines.push(Record::Stop(StopRecord {
            run: run_id.to_owned(),
            status: Status::Stopped,
            reason: stop.name().to_owned(),
            at: utc_now,
            until,
            detail,
        }));
    }
    lines
}

/// An operation whose outcomes the collector writes to the ledger (and counts), as lines
/// of the command `op`.
pub trait Recorded: Operation {
    fn record(run_id: &str, op: Op, outcome: Outcome<Self>, counters: &Counters) -> Record;
}

fn reject_record(run_id: &str, reject: Reject) -> Record {
    Record::Reject(RejectRecord {
        run: run_id.to_owned(),
        status: Status::Rejected,
        source: reject.origin.to_string(),
        input: reject.input,
        error: reject.reason,
    })
}
