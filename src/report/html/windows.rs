//! Events folded into time windows, in bounded memory whatever their number.
//!
//! A window is a stretch of `window_ms` on the axis, aligned on multiples of it since the
//! epoch; an event counts in the window of its `finished_at`. Windows start at 1 s; when
//! the events (in any order) span more than `WINDOWS_MAX` of them, the width grows to the
//! next step of `WIDTHS_MS`, each a multiple of the one before, and neighbours merge:
//! counts add, latency histograms add. So the result is the same as if the final width
//! had been known from the start, and each window's percentiles are those of exactly its
//! events (to the histogram's resolution: exact below 256 ms, within 1 % above).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{Event, Outcome};

/// At most this many windows on the axis (at least a fifth of it once the run is longer
/// than `WINDOWS_MAX` seconds).
pub const WINDOWS_MAX: usize = 600;

/// Window widths, ms: each divides the next, so windows merge exactly. Past the last,
/// the width doubles.
const WIDTHS_MS: [i64; 12] = [
    1_000, 2_000, 10_000, 30_000, 60_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000,
    21_600_000, 86_400_000,
];

/// Latencies above this (two days: a batch that waited out long 429 pauses) count as it.
const LATENCY_MAX_MS: u64 = 2 * 86_400_000;

/// Two significant figures: exact up to 255 ms, 1 % above; about 11 KB per window.
const LATENCY_FIGURES: u8 = 2;

#[derive(Clone, Debug)]
pub(super) struct Windows {
    width_ms: i64,
    /// The first and last window index spanned (events, or touched times).
    span: Option<(i64, i64)>,
    /// Only windows with events.
    data: BTreeMap<i64, Window>,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            width_ms: WIDTHS_MS[0],
            span: None,
            data: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Window {
    /// Values by outcome (`Outcome::index`).
    values: [u64; 6],
    lines: u64,
    /// HTTP requests (attempts) of lines that ended well, and of the others.
    requests_ok: u64,
    requests_failed: u64,
    /// `ms` of the lines that made a request.
    latency: Option<Histogram<u32>>,
}

impl Window {
    fn merge(&mut self, other: Window) {
        for (mine, theirs) in self.values.iter_mut().zip(other.values) {
            *mine += theirs;
        }
        self.lines += other.lines;
        self.requests_ok += other.requests_ok;
        self.requests_failed += other.requests_failed;
        match (&mut self.latency, other.latency) {
            (Some(mine), Some(theirs)) => mine
                .add(&theirs)
                .expect("same bounds, and u32 counts hold any window of a real run"),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }
}

fn new_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, LATENCY_MAX_MS, LATENCY_FIGURES)
        .expect("constant bounds are valid")
}

impl Windows {
    pub(super) fn push(&mut self, event: &Event<'_>) {
        let index = self.extend(event.finished_at_ms);
        let window = self.data.entry(index).or_default();
        window.values[event.outcome.index()] += event.values;
        window.lines += 1;
        if event.attempts > 0 {
            let attempts = u64::from(event.attempts);
            if event.outcome.is_success() {
                window.requests_ok += attempts;
            } else {
                window.requests_failed += attempts;
            }
            window
                .latency
                .get_or_insert_with(new_histogram)
                .saturating_record(event.ms.min(LATENCY_MAX_MS));
        }
    }

    /// Makes the axis span `at_ms` without counting anything there.
    pub(super) fn touch(&mut self, at_ms: i64) {
        self.extend(at_ms);
    }

    /// The time spanned so far: the first window's start, the last one's end.
    pub(super) fn span_ms(&self) -> Option<(i64, i64)> {
        self.span
            .map(|(first, last)| (first * self.width_ms, (last + 1) * self.width_ms))
    }

    /// Spans `at_ms`, widening the windows as needed; its window's index.
    fn extend(&mut self, at_ms: i64) -> i64 {
        loop {
            let index = at_ms.div_euclid(self.width_ms);
            let (first, last) = self.span.map_or((index, index), |(first, last)| {
                (first.min(index), last.max(index))
            });
            if last - first < WINDOWS_MAX as i64 {
                self.span = Some((first, last));
                return index;
            }
            self.widen();
        }
    }

    fn widen(&mut self) {
        let old = self.width_ms;
        let new = WIDTHS_MS
            .iter()
            .copied()
            .find(|&width| width > old)
            .unwrap_or(old * 2);
        let rekey = |index: i64| (index * old).div_euclid(new);
        let data = std::mem::take(&mut self.data);
        for (index, window) in data {
            match self.data.entry(rekey(index)) {
                std::collections::btree_map::Entry::Vacant(place) => {
                    place.insert(window);
                }
                std::collections::btree_map::Entry::Occupied(mut place) => {
                    place.get_mut().merge(window)
                }
            }
        }
        self.span = self.span.map(|(first, last)| (rekey(first), rekey(last)));
        self.width_ms = new;
    }

    pub(super) fn series(&self, total_values: Option<u64>) -> Series {
        let Some((first, last)) = self.span else {
            return Series {
                window_ms: self.width_ms,
                total_values,
                ..Series::default()
            };
        };
        let count = (last - first + 1) as usize;
        let mut series = Series {
            start_ms: first * self.width_ms,
            window_ms: self.width_ms,
            windows: count,
            total_values,
            values: BTreeMap::new(),
            lines: vec![0; count],
            requests_ok: vec![0; count],
            requests_failed: vec![0; count],
            p50: vec![None; count],
            p95: vec![None; count],
            p99: vec![None; count],
            done: vec![0; count],
            succeeded: vec![0; count],
        };
        let mut by_outcome = [(); 6].map(|()| vec![0u64; count]);
        for (&index, window) in &self.data {
            let at = (index - first) as usize;
            for (outcome, values) in by_outcome.iter_mut().enumerate() {
                values[at] = window.values[outcome];
            }
            series.lines[at] = window.lines;
            series.requests_ok[at] = window.requests_ok;
            series.requests_failed[at] = window.requests_failed;
            if let Some(latency) = window.latency.as_ref().filter(|h| !h.is_empty()) {
                series.p50[at] = Some(latency.value_at_quantile(0.50));
                series.p95[at] = Some(latency.value_at_quantile(0.95));
                series.p99[at] = Some(latency.value_at_quantile(0.99));
            }
        }
        let (mut done, mut succeeded) = (0, 0);
        for (at, (done_then, succeeded_then)) in series
            .done
            .iter_mut()
            .zip(&mut series.succeeded)
            .enumerate()
        {
            for outcome in Outcome::ALL {
                let values = by_outcome[outcome.index()][at];
                done += values;
                if outcome.is_success() {
                    succeeded += values;
                }
            }
            *done_then = done;
            *succeeded_then = succeeded;
        }
        for outcome in Outcome::ALL {
            let values = std::mem::take(&mut by_outcome[outcome.index()]);
            if values.iter().any(|&v| v > 0) {
                series.values.insert(outcome.as_str(), values);
            }
        }
        series
    }
}

/// What the panels draw, one entry per window (as embedded in the page, as JSON).
/// Counts, not rates: a rate is the count divided by `window_ms / 1000`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Series {
    /// The first window's start, ms since the epoch (UTC).
    pub start_ms: i64,
    pub window_ms: i64,
    pub windows: usize,
    /// Values done in each window, by outcome (`blocked`, `failed`, ...); only outcomes
    /// with some values.
    pub values: BTreeMap<&'static str, Vec<u64>>,
    /// Outcome lines finished in each window.
    pub lines: Vec<u64>,
    /// HTTP requests (attempts) of the lines that ended well, and of failed or refused ones.
    pub requests_ok: Vec<u64>,
    pub requests_failed: Vec<u64>,
    /// Latency percentiles of the lines that made a request (`ms`), ms; `null` for a
    /// window without any.
    pub p50: Vec<Option<u64>>,
    pub p95: Vec<Option<u64>>,
    pub p99: Vec<Option<u64>>,
    /// Cumulative values done by the end of each window: any outcome, and succeeded.
    pub done: Vec<u64>,
    pub succeeded: Vec<u64>,
    pub total_values: Option<u64>,
}

impl Series {
    /// The start of window `at`, ms since the epoch.
    pub fn window_start(&self, at: usize) -> i64 {
        self.start_ms + at as i64 * self.window_ms
    }

    pub fn end_ms(&self) -> i64 {
        self.window_start(self.windows)
    }

    /// `count` per window as a rate per second.
    pub fn per_second(&self, count: u64) -> f64 {
        count as f64 * 1000.0 / self.window_ms as f64
    }
}
