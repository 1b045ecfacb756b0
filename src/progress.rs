//! Progress while a run goes: an indicatif bar when stderr is a terminal, else (cron, CI,
//! a pipe) a plain log line every few seconds.
//!
//! The display only reads the shared counters on a timer; no stage ever prints. Log lines
//! are written through `write_above_bar` so they appear above the bar, not through it.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::counters::Counters;
use crate::pool::PoolCounters;
use crate::summary::group_digits;

/// The bar being shown, if any; log lines are written above it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// How often the plain (non-terminal) progress line is logged.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Writes `buf` to stderr, hiding the bar (if one is shown) while doing so.
pub fn write_above_bar(buf: &[u8]) -> io::Result<()> {
    let bar = ACTIVE_BAR.lock().ok().and_then(|bar| bar.clone());
    match bar {
        Some(bar) => bar.suspend(|| io::stderr().write_all(buf)),
        None => io::stderr().write_all(buf),
    }
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bar,
    Lines,
    Off,
}

impl Mode {
    /// A bar on a terminal; lines otherwise; nothing with `-q`.
    pub fn pick(quiet: bool, json_logs: bool) -> Mode {
        if quiet {
            Mode::Off
        } else if io::stderr().is_terminal() && !json_logs {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

/// A running progress display; `finish` stops it.
pub struct Progress {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing progress. `expected_rows` is an estimate (line count of the inputs)
    /// when one could be had cheaply.
    pub fn start(
        mode: Mode,
        expected_rows: Option<u64>,
        counters: Arc<Counters>,
        pool: Arc<PoolCounters>,
    ) -> Progress {
        let stop = CancellationToken::new();
        let task = match mode {
            Mode::Off => None,
            Mode::Bar => Some(tokio::spawn(show_bar(
                expected_rows,
                counters,
                pool,
                stop.clone(),
            ))),
            Mode::Lines => Some(tokio::spawn(show_lines(
                expected_rows,
                counters,
                pool,
                stop.clone(),
            ))),
        };
        Progress { stop, task }
    }

    pub async fn finish(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

struct Snapshot {
    settled: u64,
    blocked: u64,
    failed: u64,
    rejected: u64,
    requests: u64,
}

impl Snapshot {
    fn take(counters: &Counters, pool: &PoolCounters) -> Snapshot {
        Snapshot {
            settled: counters.settled(),
            blocked: Counters::get(&counters.ids_blocked),
            failed: Counters::get(&counters.ids_failed),
            rejected: Counters::get(&counters.rejected),
            requests: Counters::get(&pool.requests),
        }
    }
}

/// Requests per second over a sliding window of recent samples.
struct RateMeter {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RateMeter {
    fn new() -> Self {
        RateMeter {
            samples: std::collections::VecDeque::new(),
        }
    }

    fn observe(&mut self, requests: u64) -> f64 {
        let now = Instant::now();
        self.samples.push_back((now, requests));
        while self.samples.len() > 2 && now - self.samples[0].0 > Duration::from_secs(5) {
            self.samples.pop_front();
        }
        let (then, before) = self.samples[0];
        let secs = (now - then).as_secs_f64();
        if secs > 0.0 {
            (requests - before) as f64 / secs
        } else {
            0.0
        }
    }
}

async fn show_bar(
    expected: Option<u64>,
    counters: Arc<Counters>,
    pool: Arc<PoolCounters>,
    stop: CancellationToken,
) {
    let bar = ProgressBar::with_draw_target(expected, ProgressDrawTarget::stderr_with_hz(10));
    let template = if expected.is_some() {
        "{spinner} {elapsed_precise} [{bar:30}] {human_pos}/{human_len} IDs  {msg}  ETA {eta}"
    } else {
        "{spinner} {elapsed_precise} {human_pos} IDs  {msg}"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    if let Ok(mut active) = ACTIVE_BAR.lock() {
        *active = Some(bar.clone());
    }
    let mut meter = RateMeter::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.cancelled() => true,
        };
        let now = Snapshot::take(&counters, &pool);
        // Message first: setting the position may draw, and the frame must show one
        // snapshot, not a new position beside an old message.
        bar.set_message(format!(
            "{:.0} req/s  blocked {}  failed {}  rejected {}",
            meter.observe(now.requests),
            group_digits(now.blocked),
            group_digits(now.failed),
            group_digits(now.rejected)
        ));
        if let Some(len) = expected {
            // The estimate is a line count; never let the bar run past its end.
            bar.set_length(len.max(now.settled));
        }
        bar.set_position(now.settled);
        if stopping {
            break;
        }
    }
    bar.finish_and_clear();
    if let Ok(mut active) = ACTIVE_BAR.lock() {
        *active = None;
    }
}

async fn show_lines(
    expected: Option<u64>,
    counters: Arc<Counters>,
    pool: Arc<PoolCounters>,
    stop: CancellationToken,
) {
    let mut meter = RateMeter::new();
    let mut tick = tokio::time::interval(PLAIN_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let now = Snapshot::take(&counters, &pool);
        let of = expected
            .map(|n| format!(" of ~{}", group_digits(n.max(now.settled))))
            .unwrap_or_default();
        tracing::info!(
            blocked = now.blocked,
            failed = now.failed,
            rejected = now.rejected,
            "Progress: {}{of} rows settled, {:.0} req/s",
            group_digits(now.settled),
            meter.observe(now.requests),
        );
    }
}
