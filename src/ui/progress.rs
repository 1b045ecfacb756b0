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

use std::sync::atomic::{AtomicU64, Ordering};

use crate::cli::{LogArgs, LogFormat};
use crate::send::counters::Counters;
use crate::send::pool::PoolCounters;
use crate::values::count::{group_digits, plural};

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
    /// The display the logging options ask for (see [`Mode::pick`]).
    pub fn for_log(log: &LogArgs) -> Mode {
        Mode::pick(log.quiet, log.log_format == LogFormat::Json)
    }

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

/// What a display shows: read on every tick, never pushed by the stages.
pub trait Gauge: Send + Sync + 'static {
    fn read(&self) -> Reading;
    /// The total `done` goes to, if known (it may grow, as a line count's estimate does).
    fn total(&self) -> Option<u64>;
    /// What `done` counts, plural: `IDs`, `emails`, `records`.
    fn unit(&self) -> &str;
}

/// One reading of a gauge.
pub struct Reading {
    /// What is settled so far (the bar's position).
    pub done: u64,
    /// Requests sent so far (for the rate).
    pub requests: u64,
    /// The rest of the line: `blocked 1,200  failed 0  rejected 1`.
    pub detail: String,
}

/// A sending run's progress: its counters, the pool's, and the rows expected.
pub struct RunGauge {
    pub counters: Arc<Counters>,
    pub pool: Arc<PoolCounters>,
    pub expected: Option<u64>,
    /// `IDs`, `emails`, `IP addresses`, `contacts`.
    pub unit: String,
}

impl Gauge for RunGauge {
    fn read(&self) -> Reading {
        let counters = &self.counters;
        let unblocked =
            Counters::get(&counters.ids_unblocked) + Counters::get(&counters.ids_not_blocked);
        let (verb, done) = if unblocked > 0 {
            ("unblocked", unblocked)
        } else {
            ("blocked", Counters::get(&counters.ids_blocked))
        };
        Reading {
            done: counters.settled(),
            requests: Counters::get(&self.pool.requests),
            detail: format!(
                "{verb} {}  failed {}  rejected {}",
                group_digits(done),
                group_digits(Counters::get(&counters.ids_failed)),
                group_digits(Counters::get(&counters.rejected))
            ),
        }
    }

    fn total(&self) -> Option<u64> {
        self.expected
    }

    fn unit(&self) -> &str {
        &self.unit
    }
}

/// A listing's progress: pages and records read, against the count the first page gave.
#[derive(Debug, Default)]
pub struct ListGauge {
    pub pages: AtomicU64,
    pub records: AtomicU64,
    /// The server's `count` of all records (0: not said).
    pub count: AtomicU64,
}

impl Gauge for ListGauge {
    fn read(&self) -> Reading {
        let pages = self.pages.load(Ordering::Relaxed);
        Reading {
            done: self.records.load(Ordering::Relaxed),
            requests: pages,
            detail: format!("listing the block list: {}", plural(pages, "page")),
        }
    }

    fn total(&self) -> Option<u64> {
        Some(self.count.load(Ordering::Relaxed)).filter(|count| *count > 0)
    }

    fn unit(&self) -> &str {
        "records"
    }
}

/// A running progress display; `finish` stops it.
pub struct Progress {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing what `gauge` reads.
    pub fn start(mode: Mode, gauge: Arc<dyn Gauge>) -> Progress {
        let stop = CancellationToken::new();
        let task = match mode {
            Mode::Off => None,
            Mode::Bar => Some(tokio::spawn(show_bar(gauge, stop.clone()))),
            Mode::Lines => Some(tokio::spawn(show_lines(gauge, stop.clone()))),
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

/// A count per second over a sliding window of recent samples.
struct RateMeter {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

/// The shortest window a rate is given for: before it, "0 req/s" would only mean "just
/// started" (issue 12), so no rate is shown.
const MIN_RATE_WINDOW: Duration = Duration::from_millis(500);

impl RateMeter {
    fn new() -> Self {
        RateMeter {
            samples: std::collections::VecDeque::new(),
        }
    }

    /// Records `count` now and returns the rate over the window, or `None` while the
    /// window is too short to say.
    fn observe(&mut self, count: u64) -> Option<f64> {
        self.observe_at(Instant::now(), count)
    }

    fn observe_at(&mut self, now: Instant, count: u64) -> Option<f64> {
        self.samples.push_back((now, count));
        while self.samples.len() > 2 && now - self.samples[0].0 > Duration::from_secs(5) {
            self.samples.pop_front();
        }
        let (then, before) = self.samples[0];
        let window = now.saturating_duration_since(then);
        (window >= MIN_RATE_WINDOW)
            .then(|| count.saturating_sub(before) as f64 / window.as_secs_f64())
    }
}

/// `12 req/s`, or nothing before a rate can be told.
fn rate_text(rate: Option<f64>) -> String {
    rate.map(|rate| format!("{rate:.0} req/s  "))
        .unwrap_or_default()
}

/// The time left at the recent settle rate, when the total is known and rows are moving.
fn eta(expected: Option<u64>, settled: u64, rate: Option<f64>) -> Option<Duration> {
    let left = expected?.saturating_sub(settled);
    let rate = rate.filter(|rate| *rate > 0.0)?;
    let secs = (left as f64 / rate).ceil();
    (secs < 1e9).then(|| Duration::from_secs(secs as u64))
}

async fn show_bar(gauge: Arc<dyn Gauge>, stop: CancellationToken) {
    let expected = gauge.total();
    let bar = ProgressBar::with_draw_target(expected, ProgressDrawTarget::stderr_with_hz(10));
    let unit = gauge.unit().to_owned();
    let template = format!(
        "{{spinner}} {{elapsed_precise}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit}  {{msg}}  ETA {{eta}}"
    );
    let open_ended = format!("{{spinner}} {{elapsed_precise}} {{human_pos}} {unit}  {{msg}}");
    let style = |template: &str| {
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    };
    bar.set_style(style(if expected.is_some() {
        &template
    } else {
        &open_ended
    }));
    if let Ok(mut active) = ACTIVE_BAR.lock() {
        *active = Some(bar.clone());
    }
    let mut meter = RateMeter::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut had_total = expected.is_some();
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.cancelled() => true,
        };
        let now = gauge.read();
        if let Some(len) = gauge.total() {
            if !had_total {
                // A listing learns its total from the first page.
                bar.set_style(style(&template));
                had_total = true;
            }
            // The estimate is a line count; never let the bar run past its end.
            bar.set_length(len.max(now.done));
        }
        // indicatif rate-limits the redraw of `set_position` on its own, so a frame drawn by
        // `set_message` could show the new counters beside an old position, until the next
        // tick. Both are set, then the frame is drawn from this one snapshot (issue 12).
        bar.set_position(now.done);
        bar.set_message(format!(
            "{}{}",
            rate_text(meter.observe(now.requests)),
            now.detail
        ));
        bar.force_draw();
        if stopping {
            break;
        }
    }
    bar.finish_and_clear();
    if let Ok(mut active) = ACTIVE_BAR.lock() {
        *active = None;
    }
}

async fn show_lines(gauge: Arc<dyn Gauge>, stop: CancellationToken) {
    let mut meter = RateMeter::new();
    let mut done_meter = RateMeter::new();
    // The first line, one period in, then has a whole period to measure over.
    let start = gauge.read();
    meter.observe(start.requests);
    done_meter.observe(start.done);
    let mut tick = tokio::time::interval(PLAIN_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let now = gauge.read();
        let total = gauge.total();
        let of = total
            .map(|n| format!(" of ~{}", group_digits(n.max(now.done))))
            .unwrap_or_default();
        let rate = meter
            .observe(now.requests)
            .map(|rate| format!(", {rate:.0} req/s"))
            .unwrap_or_default();
        let left = eta(total, now.done, done_meter.observe(now.done))
            .map(|left| format!(", ETA {}", humantime::format_duration(left)))
            .unwrap_or_default();
        tracing::info!(
            done = now.done,
            total,
            "Progress: {}{of} {} settled, {}{rate}{left}",
            group_digits(now.done),
            gauge.unit(),
            now.detail,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: the first plain progress line said "0 req/s" because its window was one
    /// sample long.
    #[test]
    fn no_rate_before_a_window_exists() {
        let mut meter = RateMeter::new();
        let start = Instant::now();
        assert_eq!(meter.observe_at(start, 0), None);
        assert_eq!(
            meter.observe_at(start + Duration::from_millis(100), 5),
            None
        );
        let rate = meter.observe_at(start + Duration::from_secs(2), 20);
        assert_eq!(rate, Some(10.0));
        assert_eq!(rate_text(None), "");
        assert_eq!(rate_text(rate), "10 req/s  ");
    }

    #[test]
    fn eta_needs_a_total_and_a_moving_rate() {
        assert_eq!(
            eta(Some(1_000), 400, Some(100.0)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(eta(None, 400, Some(100.0)), None);
        assert_eq!(eta(Some(1_000), 400, Some(0.0)), None);
        assert_eq!(eta(Some(1_000), 400, None), None);
        assert_eq!(eta(Some(10), 400, Some(1.0)), Some(Duration::ZERO));
    }
}
