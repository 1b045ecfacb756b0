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
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::batch::{Batch, Chunker};
use crate::client::Client;
use crate::counters::Counters;
use crate::exit::RuntimeError;
use crate::input::Reject;
use crate::ledger::{BatchRecord, LedgerWriter, Record, RejectRecord, Status};
use crate::pool::{self, BatchStatus, Outcome, PoolConfig, PoolCounters, PoolEnd};
use crate::progress::{self, Progress};

/// Where a producer puts what it makes.
pub trait Sink {
    /// Queues a batch for sending; `false` means stop producing (the run is stopping).
    fn batch(&mut self, batch: Batch) -> bool;
    /// Records a bad input row.
    fn reject(&mut self, reject: Reject);
    /// Whether the producer should stop now (interrupt or abort).
    fn stopping(&self) -> bool;
}

/// Sends what is left in the chunker at the end of input. Once the sink refuses a batch
/// (the run is stopping, and the sink counted that one as not sent), the rest are counted
/// as not sent here.
pub fn flush(chunker: &mut Chunker, counters: &Counters, sink: &mut impl Sink) {
    let mut sending = true;
    for batch in chunker.finish() {
        if sending {
            sending = sink.batch(batch);
        } else {
            Counters::add(&counters.not_sent, batch.ids.len() as u64);
        }
    }
}

/// The sink of a real run: bounded channels to the pool and the collector.
pub struct ChannelSink {
    batches: mpsc::Sender<Batch>,
    rejects: mpsc::Sender<Reject>,
    counters: Arc<Counters>,
    interrupt: CancellationToken,
}

impl Sink for ChannelSink {
    fn batch(&mut self, batch: Batch) -> bool {
        let ids = batch.ids.len() as u64;
        if self.stopping() {
            Counters::add(&self.counters.not_sent, ids);
            return false;
        }
        Counters::add(&self.counters.queued, ids);
        if self.batches.blocking_send(batch).is_err() {
            // The pool stopped taking batches (abort): this one is not sent.
            Counters::add(&self.counters.not_sent, ids);
            return false;
        }
        true
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
    pub client: Client,
    pub pool: PoolConfig,
    pub ledger: LedgerWriter,
    pub progress: progress::Mode,
    pub expected_rows: Option<u64>,
    pub interrupt: CancellationToken,
}

/// What the run left behind for the summary.
pub struct RunEnd {
    pub pool: PoolEnd,
    pub pool_counters: Arc<PoolCounters>,
    pub elapsed: Duration,
}

/// Runs `produce` on its own thread, sends its batches through the pool, records every
/// outcome and reject in the ledger.
pub async fn execute<P>(
    run: Run,
    counters: Arc<Counters>,
    produce: P,
) -> Result<RunEnd, RuntimeError>
where
    P: FnOnce(&mut ChannelSink) + Send + 'static,
{
    let started = Instant::now();
    let depth = run.pool.max_in_flight().max(1) * 2;
    let (batch_tx, batch_rx) = mpsc::channel::<Batch>(depth);
    let (outcome_tx, outcome_rx) = mpsc::channel::<Outcome>(depth);
    let (reject_tx, reject_rx) = mpsc::channel::<Reject>(1024);
    let producer_done = CancellationToken::new();

    // 1. The collector first: it must be draining before any worker can send.
    let collector = tokio::spawn(collect(
        outcome_rx,
        reject_rx,
        run.ledger,
        run.run_id.clone(),
        counters.clone(),
        producer_done.clone(),
    ));

    // 2. The producer, on a thread of its own (blocking reads).
    let mut sink = ChannelSink {
        batches: batch_tx,
        rejects: reject_tx,
        counters: counters.clone(),
        interrupt: run.interrupt.clone(),
    };
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("blockade-reader".into())
        .spawn(move || {
            produce(&mut sink);
            drop(sink);
            let _ = done_tx.send(());
        })
        .map_err(|e| RuntimeError(format!("cannot start the reader thread: {e}")))?;

    // 3. Progress, then the pool until the batches run out or the run stops.
    let pool_counters = Arc::new(PoolCounters::default());
    let display = Progress::start(
        run.progress,
        run.expected_rows,
        counters.clone(),
        pool_counters.clone(),
    );
    let pool_end = pool::run(
        run.client,
        run.pool,
        batch_rx,
        outcome_tx,
        pool_counters.clone(),
        run.interrupt.clone(),
    )
    .await;

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
    ledger
        .sync()
        .map_err(|e| RuntimeError(format!("cannot sync the ledger: {e}")))?;
    display.finish().await;
    Ok(RunEnd {
        pool: pool_end,
        pool_counters,
        elapsed: started.elapsed(),
    })
}

/// The single ledger writer: one line per outcome and per reject, in arrival order.
async fn collect(
    mut outcomes: mpsc::Receiver<Outcome>,
    mut rejects: mpsc::Receiver<Reject>,
    mut ledger: LedgerWriter,
    run_id: String,
    counters: Arc<Counters>,
    producer_done: CancellationToken,
) -> Result<LedgerWriter, RuntimeError> {
    let mut outcomes_open = true;
    let mut rejects_open = true;
    while outcomes_open || rejects_open {
        let record = tokio::select! {
            outcome = outcomes.recv(), if outcomes_open => match outcome {
                Some(outcome) => batch_record(&run_id, outcome, &counters),
                None => { outcomes_open = false; continue; }
            },
            reject = rejects.recv(), if rejects_open => match reject {
                Some(reject) => reject_record(&run_id, reject),
                None => { rejects_open = false; continue; }
            },
            // A producer stuck on input that never ends: take what it sent and stop.
            _ = producer_done.cancelled(), if rejects_open && !outcomes_open => {
                while let Ok(reject) = rejects.try_recv() {
                    write(&mut ledger, &reject_record(&run_id, reject))?;
                }
                rejects_open = false;
                continue;
            }
        };
        write(&mut ledger, &record)?;
    }
    Ok(ledger)
}

fn write(ledger: &mut LedgerWriter, record: &Record) -> Result<(), RuntimeError> {
    ledger.append(record).map_err(|e| {
        RuntimeError(format!(
            "cannot write the ledger ({e}); what was sent after the last written line is not recorded: \
             run again with --resume to send it again"
        ))
    })
}

fn batch_record(run_id: &str, outcome: Outcome, counters: &Counters) -> Record {
    let ids = outcome.batch.ids.len() as u64;
    let status = match outcome.status {
        BatchStatus::Blocked => {
            Counters::add(&counters.ids_blocked, ids);
            Counters::add(&counters.batches_blocked, 1);
            Status::Blocked
        }
        BatchStatus::Failed => {
            Counters::add(&counters.ids_failed, ids);
            Counters::add(&counters.batches_failed, 1);
            tracing::debug!(batch = outcome.batch.seq, error = ?outcome.error, "Batch failed");
            Status::Failed
        }
    };
    let ms = (outcome.finished_at - outcome.started_at)
        .num_milliseconds()
        .max(0) as u64;
    Record::Batch(BatchRecord {
        run: run_id.to_owned(),
        batch: outcome.batch.seq,
        status,
        source: outcome.batch.source(),
        ids: outcome.batch.ids,
        block_till: outcome.batch.block_till,
        attempts: outcome.attempts,
        http_status: outcome.http_status,
        error: outcome.error,
        started_at: outcome.started_at,
        finished_at: outcome.finished_at,
        ms,
    })
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
