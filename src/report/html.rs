//! `blockade report --html`: one self-contained, offline HTML picture of one or more runs
//! (issue 17 §7).
//!
//! This module is a pure renderer. Its input is [`Timeline`]: a few small lists (runs,
//! 429 episodes, stops, summary rows) and a stream of [`Event`]s, one per ledger outcome
//! line, pushed one at a time with [`Timeline::push`]. The events are not kept: each is
//! folded at once into a bounded number of time windows (`windows.rs`), so a 10M-line
//! ledger costs the same memory and the same page size as a 10,000-line one.
//!
//! What the page holds (`page.rs` and `svg.rs`):
//! - panels on one time axis, drawn as inline SVG written here (no script, no library):
//!   the runs, values done per second by outcome, requests per second, latency p50, p95
//!   and p99 per window, cumulative progress against the total; 429 episodes and stops
//!   shaded across all of them;
//! - the summary rows as given, the top errors, the runs;
//! - the computed series as JSON (`<script type="application/json"
//!   id="blockade-series">`), for machines and for the tests: [`Series`].
//!
//! Constraint kept here: the page loads nothing from anywhere (no script, font, style or
//! image from another host or file), and its size does not grow with the number of
//! events.
//!
//! Why SVG written here and not a vendored chart library (uPlot was measured against
//! it): docs/report-html.md.

mod format;
mod from_ledger;
mod page;
mod svg;
mod windows;

#[cfg(test)]
mod ledger_lines;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde::Serialize;

pub use windows::Series;

/// What one ledger outcome line says about the values it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Blocked,
    Failed,
    Refused,
    Unblocked,
    NotBlocked,
    Renewed,
}

impl Outcome {
    /// Every outcome, in the order the picture stacks and lists them.
    pub const ALL: [Outcome; 6] = [
        Outcome::Blocked,
        Outcome::Renewed,
        Outcome::Unblocked,
        Outcome::NotBlocked,
        Outcome::Refused,
        Outcome::Failed,
    ];

    /// The ledger's word for it (`status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Blocked => "blocked",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::Unblocked => "unblocked",
            Outcome::NotBlocked => "not_blocked",
            Outcome::Renewed => "renewed",
        }
    }

    /// From the ledger's `status`; `None` for `run`, `rejected` and anything unknown.
    #[cfg(test)]
    pub fn from_status(status: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == status)
    }

    /// The operation did what was asked (failed and refused did not).
    pub fn is_success(self) -> bool {
        !matches!(self, Outcome::Failed | Outcome::Refused)
    }

    fn index(self) -> usize {
        Outcome::ALL.iter().position(|&o| o == self).unwrap_or(0)
    }
}

/// One ledger outcome line (`blocked`, `failed`, `refused`, `unblocked`, `not_blocked`,
/// `renewed`; contact, email or IP lines alike), reduced to what the picture needs.
/// Borrowed: the adapter builds one per line and [`Timeline::push`]es it; nothing is
/// kept but counts per time window.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// The line's `run`.
    pub run: &'a str,
    /// `started_at` and `finished_at`, milliseconds since the Unix epoch (UTC). The
    /// event counts in the window of its `finished_at` (when the outcome was known).
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    /// The line's `ms`: first send to outcome, retries and their waits included.
    pub ms: u64,
    pub outcome: Outcome,
    /// How many values the line names (`ids.len()`).
    pub values: u64,
    /// HTTP requests the line took (`attempts`); 0 for a line written without a request
    /// (an unblock that found no block record). Lines with 0 draw no request and no
    /// latency.
    pub attempts: u32,
    /// For failed and refused lines: the kind of failure, as `report` groups failures
    /// (its `kind` field, or `api::failure_kind(http_status, error)`). `None` on
    /// success lines.
    pub kind: Option<&'a str>,
    /// The line's `error` text, kept as the example of its kind (the first one seen).
    pub error: Option<&'a str>,
}

/// One run, from its `run` line. A run that events name but no `RunInfo` describes is
/// still drawn, with its id alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunInfo {
    pub id: String,
    /// `block`, `retry`, `unblock`, `sync`, ...
    pub command: String,
    /// `sandbox`, or the API base URL.
    pub target: String,
    /// `contact`, `email` or `ip`.
    pub value_type: String,
    /// The run line's `started_at`, ms since the epoch (`None`: not known).
    pub started_at_ms: Option<i64>,
    /// Which ledger file the run came from (shards: one per shard).
    pub ledger: String,
}

/// One 429 episode: the pool paused every request for `wait_ms` from `started_at_ms`
/// (shaded), having measured what the server admitted before it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Episode {
    pub run: String,
    /// When its first 429 came back, ms since the epoch.
    pub started_at_ms: i64,
    /// The pause it imposed (Retry-After, or the backoff), ms.
    pub wait_ms: u64,
    /// The admitted rate the gate measured, requests per second.
    pub admitted_per_s: Option<f64>,
    /// The pace the pool restarted at, requests per second.
    pub pace_per_s: Option<f64>,
    /// How many 429 answers the episode counted.
    pub answers: Option<u64>,
}

/// Why a run stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The circuit breaker: no answer, or only 5xx, for a while.
    Breaker,
    /// A 429 asked to wait longer than `--max-wait`.
    MaxWait,
    /// 401/403/404 or an unverifiable certificate.
    Aborted,
    /// SIGINT/SIGTERM.
    Interrupted,
}

impl StopReason {
    /// From a `stopped` line's `reason` (the summary's `stopped_by`).
    pub fn from_ledger(reason: &str) -> StopReason {
        match reason {
            "unreachable" | "breaker" => StopReason::Breaker,
            "max_wait" => StopReason::MaxWait,
            "interrupted" => StopReason::Interrupted,
            _ => StopReason::Aborted,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StopReason::Breaker => "breaker",
            StopReason::MaxWait => "--max-wait",
            StopReason::Aborted => "aborted",
            StopReason::Interrupted => "interrupted",
        }
    }
}

/// A run's early stop. Shaded from `since_ms` (where the condition began: the breaker's
/// first failure in a row) to `at_ms`, and for `--max-wait` from `at_ms` to `until_ms`
/// (when the server asked to come back), cut at the axis' end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stop {
    pub run: String,
    pub reason: StopReason,
    /// When the run decided to stop, ms since the epoch.
    pub at_ms: i64,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// The last error, or what the summary says.
    pub detail: String,
}

/// One row of the summary table, already worded and formatted by the caller (the same
/// figures as the text summary and `report --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    pub label: String,
    pub value: String,
}

impl SummaryRow {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> SummaryRow {
        SummaryRow {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// Everything the page shows. Fill the public lists, [`push`](Timeline::push) every
/// outcome line, then [`render`].
#[derive(Debug, Default)]
pub struct Timeline {
    /// The page's heading (e.g. the ledger paths).
    pub title: String,
    pub runs: Vec<RunInfo>,
    pub episodes: Vec<Episode>,
    pub stops: Vec<Stop>,
    /// The values the runs set out to do, if known: the progress panel draws it.
    pub total_values: Option<u64>,
    pub summary: Vec<SummaryRow>,
    windows: windows::Windows,
    errors: HashMap<String, ErrorRow>,
    run_tallies: HashMap<String, RunTally>,
}

/// One kind of failure, over every failed or refused line pushed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorRow {
    pub kind: String,
    pub lines: u64,
    pub values: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The first error text seen for this kind.
    pub example: String,
}

/// One run as its events drew it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunSpan {
    pub id: String,
    pub command: String,
    pub target: String,
    pub value_type: String,
    pub ledger: String,
    /// The run line's time, else its first event's start.
    pub start_ms: i64,
    /// Its last event's finish (its start when it has none).
    pub end_ms: i64,
    pub lines: u64,
    pub requests: u64,
    /// Values by outcome (`Outcome::as_str`), only those present.
    pub values: Vec<(String, u64)>,
}

#[derive(Clone, Debug, Default)]
struct RunTally {
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    lines: u64,
    requests: u64,
    values: [u64; 6],
}

/// How many kinds of error the table lists.
pub const TOP_ERRORS: usize = 10;

impl Timeline {
    pub fn new(title: impl Into<String>) -> Timeline {
        Timeline {
            title: title.into(),
            ..Timeline::default()
        }
    }

    /// Counts one outcome line. Order does not matter (shards interleave).
    pub fn push(&mut self, event: &Event<'_>) {
        self.windows.push(event);
        let run = match self.run_tallies.get_mut(event.run) {
            Some(run) => run,
            None => self.run_tallies.entry(event.run.to_owned()).or_default(),
        };
        run.first_ms = Some(
            run.first_ms
                .map_or(event.started_at_ms, |t| t.min(event.started_at_ms)),
        );
        run.last_ms = Some(
            run.last_ms
                .map_or(event.finished_at_ms, |t| t.max(event.finished_at_ms)),
        );
        run.lines += 1;
        run.requests += u64::from(event.attempts);
        run.values[event.outcome.index()] += event.values;
        if !event.outcome.is_success() {
            let kind = event.kind.unwrap_or("unknown");
            let tally = match self.errors.get_mut(kind) {
                Some(tally) => tally,
                None => self
                    .errors
                    .entry(kind.to_owned())
                    .or_insert_with(|| ErrorRow {
                        kind: kind.to_owned(),
                        first_ms: event.finished_at_ms,
                        last_ms: event.finished_at_ms,
                        example: event.error.unwrap_or_default().to_owned(),
                        ..ErrorRow::default()
                    }),
            };
            tally.lines += 1;
            tally.values += event.values;
            tally.first_ms = tally.first_ms.min(event.finished_at_ms);
            tally.last_ms = tally.last_ms.max(event.finished_at_ms);
        }
    }

    /// The series the panels draw, as embedded in the page.
    pub fn series(&self) -> Series {
        let mut windows = self.windows.clone();
        // The axis also spans the runs' starts, the episodes and the stops.
        for run in &self.runs {
            if let Some(start) = run.started_at_ms {
                windows.touch(start);
            }
        }
        for episode in &self.episodes {
            windows.touch(episode.started_at_ms);
        }
        for stop in &self.stops {
            windows.touch(stop.at_ms);
            if let Some(since) = stop.since_ms {
                windows.touch(since);
            }
        }
        // A `--max-wait` stop shows some of the wait it refused (a twentieth of the axis,
        // at least 10 s), not only a line at the axis' end.
        if let Some((start, end)) = windows.span_ms() {
            let room = ((end - start) / 20).max(10_000);
            for stop in &self.stops {
                if let Some(until) = stop.until_ms.filter(|_| stop.reason == StopReason::MaxWait) {
                    windows.touch(until.min(stop.at_ms + room));
                }
            }
        }
        windows.series(self.total_values)
    }

    /// The most frequent kinds of failure (by values, then lines), at most `TOP_ERRORS`.
    pub fn top_errors(&self) -> Vec<ErrorRow> {
        let mut rows: Vec<ErrorRow> = self.errors.values().cloned().collect();
        rows.sort_by(|a, b| {
            (b.values, b.lines)
                .cmp(&(a.values, a.lines))
                .then_with(|| a.kind.cmp(&b.kind))
        });
        rows.truncate(TOP_ERRORS);
        rows
    }

    /// Every run, described or only named by events, ordered by start.
    pub fn run_spans(&self) -> Vec<RunSpan> {
        let mut spans: Vec<RunSpan> = Vec::new();
        let described: HashMap<&str, &RunInfo> =
            self.runs.iter().map(|run| (run.id.as_str(), run)).collect();
        let mut ids: Vec<&str> = self.runs.iter().map(|run| run.id.as_str()).collect();
        let mut unnamed: Vec<&str> = self
            .run_tallies
            .keys()
            .map(String::as_str)
            .filter(|id| !described.contains_key(id))
            .collect();
        unnamed.sort_unstable();
        ids.extend(unnamed);
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(*id));
        for id in ids {
            let info = described.get(id);
            let tally = self.run_tallies.get(id).cloned().unwrap_or_default();
            let start = info
                .and_then(|run| run.started_at_ms)
                .or(tally.first_ms)
                .unwrap_or_default();
            let start = tally.first_ms.map_or(start, |first| start.min(first));
            spans.push(RunSpan {
                id: id.to_owned(),
                command: info.map(|run| run.command.clone()).unwrap_or_default(),
                target: info.map(|run| run.target.clone()).unwrap_or_default(),
                value_type: info.map(|run| run.value_type.clone()).unwrap_or_default(),
                ledger: info.map(|run| run.ledger.clone()).unwrap_or_default(),
                start_ms: start,
                end_ms: tally.last_ms.unwrap_or(start).max(start),
                lines: tally.lines,
                requests: tally.requests,
                values: Outcome::ALL
                    .iter()
                    .filter(|o| tally.values[o.index()] > 0)
                    .map(|o| (o.as_str().to_owned(), tally.values[o.index()]))
                    .collect(),
            });
        }
        spans.sort_by(|a, b| (a.start_ms, &a.id).cmp(&(b.start_ms, &b.id)));
        spans
    }
}

/// The whole page.
pub fn render(timeline: &Timeline) -> String {
    page::render(timeline)
}
