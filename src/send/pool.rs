//! The worker pool: sends operations (`api::Operation`: a block batch, a DELETE, a list
//! page; it knows none of them) at the configured rate, at most `concurrency` at a time
//! (fixed, or `auto`: see `concurrency.rs`),
//! retrying, waiting out 429s, bisecting refused batches, and stopping on abort or interrupt.
//!
//! Constraints kept here:
//! - Pacing is shared: every attempt, retries included, passes one `Gate` (`gate/`: the
//!   `--rate` schedule, the limit the server advertises, a "not before" instant that a 429
//!   moves forward for everyone, and a pace set by the admitted rate the gate measures,
//!   never above `--rate`). A `PoolConfig` and its clones share one gate, so that every
//!   run of one command (a listing, then its deletes) shares one pace, one advertised
//!   budget and one 429 state.
//! - A place in flight is for a request on the wire: an attempt takes one (and waits for its
//!   turn at the gate holding it), gives it back when its answer comes, and takes one again
//!   after its retry backoff. A batch waiting out its backoff holds only a place among the
//!   *live* batches (`PoolConfig::max_live`), which bounds memory.
//! - Workers never touch the terminal or the ledger: each finished batch is an `Outcome`
//!   sent to the collector, which must already be draining (else workers block on a full
//!   channel while the dispatcher waits for their permits: a deadlock).
//! - Memory is bounded by the live bound × batch size: the dispatcher only takes the next
//!   batch off the (bounded) channel once a live place is free, and then waits for a
//!   place in flight holding that one batch.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use futures_util::FutureExt as _;

use crate::api::{Operation, Step};
use crate::net::client::{Answer, Client};
use crate::send::breaker::Breaker;
use crate::send::concurrency::{Concurrency, InFlight, Slot};
use crate::send::gate::{AdvertisedLimit, DEFAULT_RETRY_AFTER, Estimate, Gate, Pause, Reply};
use crate::send::rate::Rate;

/// Pacing and retry settings of one run.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub rate: Rate,
    pub burst: u32,
    pub concurrency: Concurrency,
    /// The bound for `Concurrency::Auto`.
    pub max_concurrency: usize,
    pub max_attempts: u32,
    pub max_wait: Duration,
    pub backoff: Backoff,
    /// How long in-flight requests may take to finish after an interrupt.
    pub drain_deadline: Duration,
    /// The gate of the command's runs (see [`PoolConfig::gate`]).
    pub gate: SharedGate,
}

/// The one gate of a command: made at its first use, then shared by every clone of the
/// `PoolConfig` that holds it.
#[derive(Clone, Default)]
pub struct SharedGate(Arc<std::sync::OnceLock<Arc<Gate>>>);

impl std::fmt::Debug for SharedGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.0.get().is_some() {
            "in use"
        } else {
            "not used yet"
        };
        f.debug_tuple("SharedGate").field(&state).finish()
    }
}

impl PoolConfig {
    /// The most requests that can ever be in flight (sizes channels and the connection pool).
    pub fn max_in_flight(&self) -> usize {
        match self.concurrency {
            Concurrency::Fixed(n) => n,
            Concurrency::Auto => self.max_concurrency,
        }
    }

    /// The most batches alive at once: in flight, waiting for a place, or waiting out a
    /// retry backoff (which holds no place in flight).
    pub fn max_live(&self) -> usize {
        self.max_in_flight().saturating_mul(2).saturating_add(8)
    }

    /// The gate of this configuration (`--rate`, `--burst`, and `--max-wait` as the
    /// longest an advertised budget may hold a request), the same for all its clones.
    pub fn gate(&self) -> Arc<Gate> {
        self.gate
            .0
            .get_or_init(|| Arc::new(Gate::new(self.rate, self.burst).with_max_wait(self.max_wait)))
            .clone()
    }
}

/// Exponential backoff with full jitter.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt `attempt + 1`, after `attempt` failed ones (from 1).
    /// `unit` is a random number in [0, 1): full jitter picks uniformly in [0, ceiling].
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The ceiling of the jittered delay: base × 2^(attempt-1), at most `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        self.base
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max)
    }
}

/// How one batch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchStatus {
    /// Done as asked (blocked; deleted or found already gone; a page read).
    Done,
    Failed,
    /// The server refused this single ID by name (400 after bisection).
    Refused,
}

impl BatchStatus {
    /// `Done`, by the name the block path (and its tests) knew it by.
    #[allow(non_upper_case_globals)]
    pub const Blocked: BatchStatus = BatchStatus::Done;
}

/// A finished batch (or part of one, after bisection), for the collector.
pub struct Outcome<W: Operation> {
    pub batch: W,
    pub status: BatchStatus,
    /// What the answer told, when `status` is `Done`.
    pub done: Option<W::Done>,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// The kind of failure where the error text does not tell it (`unrecognized_answer`,
    /// `internal`).
    pub kind: Option<&'static str>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl<W: Operation> std::fmt::Debug for Outcome<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("batch", &self.batch)
            .field("status", &self.status)
            .field("done", &self.done)
            .field("attempts", &self.attempts)
            .field("http_status", &self.http_status)
            .field("error", &self.error)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Counters the pool keeps for progress and the summary.
#[derive(Debug, Default)]
pub struct PoolCounters {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub in_flight_ids: AtomicU64,
    /// Attempts whose answer was worth another attempt, by kind (`api::failure_kind`):
    /// touched only on such answers.
    pub retried: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl PoolCounters {
    fn note_retry(&self, http_status: Option<u16>, reason: &str) {
        let kind = crate::api::failure_kind(http_status, Some(reason));
        let mut retried = self.retried.lock().unwrap_or_else(|p| p.into_inner());
        *retried.entry(kind).or_default() += 1;
    }

    /// Attempts retried, by kind, most first.
    pub fn retried(&self) -> Vec<(String, u64)> {
        let retried = self.retried.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, u64)> = retried.iter().map(|(k, n)| (k.clone(), *n)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// Why the pool stopped dispatching early, if it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The server refused the credentials or the account, or its certificate.
    Aborted(String),
    /// SIGINT/SIGTERM.
    Interrupted,
    /// The circuit breaker: no answer (or only 5xx) for a while; the last error.
    Unreachable(String),
    /// A 429 asked to wait longer than `--max-wait`: come back at `until`.
    RateLimited {
        until: DateTime<Utc>,
        reason: String,
    },
}

impl Stop {
    /// The word for it in the summary's `stopped_by` and the ledger's `stopped` line.
    pub fn name(&self) -> &'static str {
        match self {
            Stop::Aborted(_) => "aborted",
            Stop::Interrupted => "interrupted",
            Stop::Unreachable(_) => "unreachable",
            Stop::RateLimited { .. } => "max_wait",
        }
    }
}

/// What the pool reports when it is done.
#[derive(Debug, Default)]
pub struct PoolEnd {
    /// IDs taken off the channel but never finished (interrupt deadline) or never dispatched.
    pub ids_not_sent: u64,
    pub stop: Option<Stop>,
    /// What the server admitted, requests per second, as the gate measured it at the
    /// latest 429 episode; `None` when no 429 came. (`estimate.per_second`.)
    pub admitted_per_second: Option<f64>,
    /// That estimate in full: what it counted over how long, its own uncertainty (one
    /// request either way), and how many 429 episodes the run had.
    pub estimate: Option<Estimate>,
    /// The limit the server advertised in its rate-limit headers, if it did: the family,
    /// the quota, the window (advertised or learnt), and how often its budget made a
    /// request wait for the window's end.
    pub advertised: Option<AdvertisedLimit>,
    /// The 429 episodes of the command so far (the gate is shared by its runs), for the
    /// ledger's `rate_limited` lines.
    pub pauses: Vec<Pause>,
}

/// Everything a worker needs, shared.
struct Shared<W: Operation> {
    client: Client,
    gate: Arc<Gate>,
    config: PoolConfig,
    counters: Arc<PoolCounters>,
    outcomes: mpsc::Sender<Outcome<W>>,
    /// Cancelled on abort or interrupt: no new dispatch, no new retries.
    stop: CancellationToken,
    /// The first reason to stop early (abort, breaker, a 429 beyond --max-wait).
    stop_reason: Mutex<Option<Stop>>,
    breaker: Mutex<Breaker>,
    in_flight: Arc<InFlight>,
    /// IDs of batches dispatched but stopped before their first attempt.
    not_sent: AtomicU64,
}

/// Runs the pool until `batches` is closed and drained, or until `interrupt` fires or the
/// server refuses the credentials, pacing through the command's gate (`PoolConfig::gate`:
/// the `PoolEnd` reports what the gate knows at the end, earlier runs of the command
/// included).
pub async fn run<W: Operation>(
    client: Client,
    config: PoolConfig,
    mut batches: mpsc::Receiver<Vec<W>>,
    outcomes: mpsc::Sender<Outcome<W>>,
    counters: Arc<PoolCounters>,
    interrupt: CancellationToken,
) -> PoolEnd {
    let gate = config.gate();
    let in_flight = InFlight::new(
        config.concurrency,
        config.max_in_flight(),
        config.rate.per_second(),
    );
    let live = InFlight::new(
        Concurrency::Fixed(config.max_live()),
        config.max_live(),
        config.rate.per_second(),
    );
    let stop = interrupt.child_token();
    let drain_deadline = config.drain_deadline;
    let shared = Arc::new(Shared {
        client,
        gate,
        in_flight: in_flight.clone(),
        config,
        counters,
        outcomes,
        stop: stop.clone(),
        stop_reason: Mutex::new(None),
        breaker: Mutex::new(Breaker::default()),
        not_sent: AtomicU64::new(0),
    });
    let mut workers = JoinSet::new();
    let mut ids_not_sent = 0u64;
    // The producer hands batches over in small chunks (see `pipeline::ChannelSink`).
    let mut pending = VecDeque::new();

    // Take a live place first, then a batch, then a place in flight: a batch never waits
    // in memory for a free worker (beyond the one chunk in `pending`). The place in flight
    // comes last: a retry that gave its place back during its backoff takes one again,
    // and the dispatcher must not hold it while it waits for work that may only come
    // after that retry's answer (a plan's next request does: `job/apply/`).
    loop {
        let Some(alive) = live.acquire(&stop).await else {
            break;
        };
        if pending.is_empty() {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                chunk = batches.recv() => match chunk {
                    Some(chunk) => pending.extend(chunk),
                    None => break,
                },
            }
        }
        let Some(batch) = pending.pop_front() else {
            continue;
        };
        let Some(slot) = in_flight.acquire(&stop).await else {
            pending.push_front(batch);
            break;
        };
        shared
            .counters
            .in_flight_ids
            .fetch_add(batch.size(), Ordering::Relaxed);
        let shared = shared.clone();
        workers.spawn(async move {
            let ids = batch.size();
            let mut pending = vec![batch];
            let mut slot = Some(slot);
            // Boxed: the request's future is several kilobytes (hyper's, the timeout's),
            // and as part of this task's own future it was copied at every spawn. A panic
            // is caught here, where the batches still to send are known: they become
            // failed lines (kind `internal`) instead of vanishing.
            let sent = std::panic::AssertUnwindSafe(Box::pin(send_batch(
                &shared,
                &mut pending,
                &mut slot,
            )))
            .catch_unwind()
            .await;
            if let Some(message) = sent.err().map(|panic| panic_message(panic.as_ref())) {
                record_panic(&shared, pending, message).await;
            }
            shared
                .counters
                .in_flight_ids
                .fetch_sub(ids, Ordering::Relaxed);
            drop(slot);
            drop(alive);
        });
        while let Some(joined) = workers.try_join_next() {
            note_join_error(joined);
        }
    }

    // Stopped early: whatever is still queued was never sent. Closing the channel tells
    // the producer to stop reading.
    batches.close();
    while let Ok(chunk) = batches.try_recv() {
        pending.extend(chunk);
    }
    ids_not_sent += pending.iter().map(Operation::size).sum::<u64>();

    let drain = async {
        while let Some(joined) = workers.join_next().await {
            note_join_error(joined);
        }
    };
    if interrupt.is_cancelled() {
        if tokio::time::timeout(drain_deadline, drain).await.is_err() {
            tracing::warn!(
                deadline = %humantime::format_duration(drain_deadline),
                "In-flight requests did not finish in time; their batches stay unsent and --resume will send them"
            );
            workers.abort_all();
            ids_not_sent += shared.counters.in_flight_ids.swap(0, Ordering::Relaxed);
        }
    } else {
        drain.await;
    }

    ids_not_sent += shared.not_sent.load(Ordering::Relaxed);
    let stopped = shared
        .stop_reason
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    let stop = match stopped {
        Some(stop) => Some(stop),
        None if interrupt.is_cancelled() => Some(Stop::Interrupted),
        None => None,
    };
    let report = shared.gate.report();
    PoolEnd {
        ids_not_sent,
        stop,
        admitted_per_second: report.estimate.map(|estimate| estimate.per_second),
        estimate: report.estimate,
        advertised: report.advertised,
        pauses: shared.gate.pauses(),
    }
}

/// A worker task that ended in a way `catch_unwind` did not see (cancelled by the drain
/// deadline, which is counted as not sent). Its IDs cannot be named here; the summary's
/// sum check reports any that went missing.
fn note_join_error(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "A worker stopped with a panic outside its batch");
    }
}

/// Records the batches a panicked worker still held as failed, kind `internal`: whether
/// they reached the server is unknown, so `retry` re-sends them.
async fn record_panic<W: Operation>(shared: &Shared<W>, pending: Vec<W>, message: String) {
    tracing::error!(panic = %message, batches = pending.len(), "A worker panicked; its batches are recorded as failed (internal)");
    for batch in pending {
        let now = Utc::now();
        let outcome = Outcome {
            batch,
            status: BatchStatus::Failed,
            done: None,
            attempts: 0,
            http_status: None,
            error: Some(format!(
                "internal error (a bug: please report it): {message}; the batch may or may not have reached the server"
            )),
            kind: Some("internal"),
            started_at: now,
            finished_at: now,
        };
        let _ = shared.outcomes.send(outcome).await;
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// Stops dispatching for `reason`, keeping the first reason given.
fn stop_run<W: Operation>(shared: &Shared<W>, reason: Stop) {
    let mut stop = shared
        .stop_reason
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if stop.is_none() {
        *stop = Some(reason);
    }
    drop(stop);
    shared.stop.cancel();
}

/// Sends one batch to its end, bisecting on 400, and reports every part's outcome. The
/// batch in hand stays on `pending` until it ends, so that a panic can still name it.
/// `slot` is the worker's place in flight, when it holds one.
async fn send_batch<W: Operation>(
    shared: &Shared<W>,
    pending: &mut Vec<W>,
    slot: &mut Option<Slot>,
) {
    // Bisection as an explicit stack instead of recursion: async recursion needs boxing.
    while let Some(batch) = pending.last() {
        let end = attempt_batch(shared, batch, slot).await;
        pending.pop();
        match end {
            BatchEnd::Split(left, right) => {
                pending.push(right);
                pending.push(left);
            }
            BatchEnd::NotSent(batch) => {
                shared.not_sent.fetch_add(batch.size(), Ordering::Relaxed);
            }
            BatchEnd::Done(outcome) => {
                // The collector only stops after every sender is gone, so this cannot
                // fail while the run is alive.
                let _ = shared.outcomes.send(outcome).await;
            }
        }
    }
}

/// How the retry loop for one batch ended.
enum BatchEnd<W: Operation> {
    Done(Outcome<W>),
    /// The API refused the batch as invalid: send these halves instead.
    Split(W, W),
    /// The run stopped before the batch was sent (or the server turned it away with a
    /// 429): it was not acted on.
    NotSent(W),
}

/// What the ledger line of a batch needs to know about its attempts.
struct Tally {
    /// When the first attempt was sent (after the gate, so waiting in line is not counted).
    started_at: Option<DateTime<Utc>>,
    attempts: u32,
    /// The final attempt's status: none when it got no HTTP answer.
    http_status: Option<u16>,
}

impl Tally {
    fn end<W: Operation>(
        &self,
        batch: &W,
        status: BatchStatus,
        error: Option<String>,
    ) -> BatchEnd<W> {
        BatchEnd::Done(self.outcome(batch, status, error))
    }

    fn outcome<W: Operation>(
        &self,
        batch: &W,
        status: BatchStatus,
        error: Option<String>,
    ) -> Outcome<W> {
        let finished_at = Utc::now();
        Outcome {
            batch: batch.clone(),
            status,
            done: None,
            attempts: self.attempts,
            http_status: self.http_status,
            error,
            kind: None,
            started_at: self.started_at.unwrap_or(finished_at),
            finished_at,
        }
    }
}

/// The retry loop for one batch: the operation's reading of each answer, applied.
/// `slot` is the worker's place in flight: given back while the batch waits out a retry
/// backoff, taken again before the next attempt.
async fn attempt_batch<W: Operation>(
    shared: &Shared<W>,
    batch: &W,
    slot: &mut Option<Slot>,
) -> BatchEnd<W> {
    let config = &shared.config;
    let request = batch.prepare(&shared.client);
    let mut tally = Tally {
        started_at: None,
        attempts: 0,
        http_status: None,
    };
    if let Some(step) = batch.without_request() {
        let (status, done, error, kind) = match step {
            Step::Done(done) => (BatchStatus::Done, Some(done), None, None),
            Step::Failed { reason, kind } => (BatchStatus::Failed, None, Some(reason), kind),
            other => (BatchStatus::Failed, None, Some(format!("{other:?}")), None),
        };
        let mut outcome = tally.outcome(batch, status, error);
        outcome.done = done;
        outcome.kind = kind;
        return BatchEnd::Done(outcome);
    }
    let mut waited_on_429 = Duration::ZERO;
    loop {
        if slot.is_none() {
            match shared.in_flight.acquire(&shared.stop).await {
                Some(place) => *slot = Some(place),
                None => {
                    return not_sent_or_failed(&tally, batch, "stopped before retrying");
                }
            }
        }
        let turn = tokio::select! {
            biased;
            _ = shared.stop.cancelled(), if tally.attempts == 0 => return BatchEnd::NotSent(batch.clone()),
            turn = shared.gate.wait_turn() => turn,
        };
        let ticket = match turn {
            Ok(ticket) => ticket,
            Err(spent) => {
                // The server's advertised quota is spent until later than --max-wait.
                let wait = spent.until.saturating_duration_since(Instant::now());
                let now = Utc::now();
                let until = chrono::Duration::from_std(wait)
                    .ok()
                    .and_then(|wait| now.checked_add_signed(wait))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                if !shared.stop.is_cancelled() {
                    tracing::error!(wait = %humantime::format_duration(wait), max_wait = %humantime::format_duration(config.max_wait), "The server's advertised quota is spent for longer than --max-wait; stopping the run");
                }
                let reason = format!(
                    "the server's advertised rate limit has no request left until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                stop_run(shared, Stop::RateLimited { until, reason });
                return not_sent_or_failed(
                    &tally,
                    batch,
                    "stopped: the server's advertised quota is spent for longer than --max-wait",
                );
            }
        };
        tally.started_at.get_or_insert_with(Utc::now);
        tally.attempts += 1;
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let sent = ticket.sent;
        let answer = shared.client.send_call(W::http(&request)).await;
        shared.in_flight.observe(sent.elapsed());
        tally.http_status = match &answer {
            Answer::Http { status, .. } => Some(*status),
            Answer::Transport { .. } => None,
        };
        if let Answer::Http {
            status, advertised, ..
        } = &answer
        {
            // The server counted anything but a 429 against its limit: the gate measures
            // what it admits (a 429 reaches the gate below, with its wait), and reads the
            // limit it advertised.
            let reply = if *status == 429 {
                Reply::None
            } else {
                Reply::Admitted
            };
            shared.gate.answered(&ticket, reply, advertised.as_deref());
        }
        let verdict = batch.judge(&answer);
        if !matches!(
            verdict,
            Step::Retry {
                server_fault: true,
                ..
            }
        ) {
            shared
                .breaker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .success();
        }
        let reason = match verdict {
            Step::Done(done) => {
                let mut outcome = tally.outcome(batch, BatchStatus::Done, None);
                outcome.done = Some(done);
                return BatchEnd::Done(outcome);
            }
            Step::Split { reason } if batch.size() > 1 => {
                tracing::debug!(batch = batch.seq(), ids = batch.size(), %reason, "Splitting a refused batch");
                let (left, right) = batch.split();
                return BatchEnd::Split(left, right);
            }
            Step::Split { reason } | Step::Refused { reason } => {
                return tally.end(batch, BatchStatus::Refused, Some(reason));
            }
            Step::Failed { reason, kind } => {
                let mut outcome = tally.outcome(batch, BatchStatus::Failed, Some(reason));
                outcome.kind = kind;
                return BatchEnd::Done(outcome);
            }
            Step::Abort { reason } => {
                if !shared.stop.is_cancelled() {
                    tracing::error!(
                        status = tally.http_status,
                        "The server refused the credentials or the account, or its certificate could not be verified; stopping the run"
                    );
                }
                stop_run(shared, Stop::Aborted(reason.clone()));
                return tally.end(batch, BatchStatus::Failed, Some(reason));
            }
            Step::RateLimited {
                retry_after,
                reason,
            } => {
                // A 429 does not use an attempt; the whole pool waits.
                tally.attempts -= 1;
                shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                let now = Utc::now();
                let wait = retry_after.map_or(DEFAULT_RETRY_AFTER, |r| r.delay_from(now));
                waited_on_429 = waited_on_429.saturating_add(wait);
                if wait > config.max_wait || waited_on_429 > config.max_wait {
                    // Holding the whole pool that long helps nobody: stop, and say when
                    // the server asks to come back. The server did not act on this batch.
                    let until = chrono::Duration::from_std(wait)
                        .ok()
                        .and_then(|wait| now.checked_add_signed(wait))
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    if !shared.stop.is_cancelled() {
                        tracing::error!(wait = %humantime::format_duration(wait), max_wait = %humantime::format_duration(config.max_wait), "The server asks to wait longer than --max-wait; stopping the run");
                    }
                    stop_run(shared, Stop::RateLimited { until, reason });
                    return not_sent_or_failed(
                        &tally,
                        batch,
                        "stopped: the server asked to wait longer than --max-wait",
                    );
                }
                shared.gate.rate_limited(sent, wait);
                if shared.stop.is_cancelled() {
                    return not_sent_or_failed(
                        &tally,
                        batch,
                        "stopped before retrying after a 429",
                    );
                }
                continue;
            }
            Step::Retry {
                reason,
                server_fault,
            } => {
                if server_fault
                    && shared
                        .breaker
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .failure(Instant::now())
                {
                    if !shared.stop.is_cancelled() {
                        tracing::error!(%reason, "The server is unreachable or failing every request; stopping the run");
                    }
                    stop_run(shared, Stop::Unreachable(reason.clone()));
                }
                reason
            }
        };
        if tally.attempts >= config.max_attempts {
            return tally.end(batch, BatchStatus::Failed, Some(reason));
        }
        if shared.stop.is_cancelled() {
            let error = format!("{reason} (stopped before retrying)");
            return tally.end(batch, BatchStatus::Failed, Some(error));
        }
        let delay = config
            .backoff
            .delay(tally.attempts, rand::rng().random::<f64>());
        tracing::debug!(batch = batch.seq(), attempts = tally.attempts, ?delay, %reason, "Retrying a batch");
        // A place in flight is for a request on the wire: give it back while waiting.
        slot.take();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.stop.cancelled() => {
                let error = format!("{reason} (stopped before retrying)");
                return tally.end(batch, BatchStatus::Failed, Some(error));
            }
        }
        match shared.in_flight.acquire(&shared.stop).await {
            Some(place) => *slot = Some(place),
            None => {
                let error = format!("{reason} (stopped before retrying)");
                return tally.end(batch, BatchStatus::Failed, Some(error));
            }
        }
        // Counted here, where another attempt is sure to go: not for the last attempt's
        // fault, nor for a retry the run stopped before.
        shared.counters.note_retry(tally.http_status, &reason);
    }
}

/// A batch the run stops on after 429s: if no attempt ever got past a 429, the server
/// never acted on it and it is not sent; otherwise an earlier attempt's answer was a
/// fault and the batch is recorded failed.
fn not_sent_or_failed<W: Operation>(tally: &Tally, batch: &W, why: &str) -> BatchEnd<W> {
    if tally.attempts == 0 {
        BatchEnd::NotSent(batch.clone())
    } else {
        tally.end(batch, BatchStatus::Failed, Some(why.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        };
        let ceilings: Vec<_> = (1..=8).map(|a| backoff.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(backoff.ceiling(1000), Duration::from_secs(30));
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_ceiling() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
        };
        assert_eq!(backoff.delay(3, 0.0), Duration::ZERO);
        assert_eq!(backoff.delay(3, 0.5), Duration::from_millis(200));
        assert_eq!(backoff.delay(3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff.delay(3, 7.0), Duration::from_millis(400));
    }
}
