//! The panels, as inline SVG: one `<svg>` per panel, all with the same horizontal scale,
//! so that they read as one time axis. Windows are drawn as steps (a window is a stretch
//! of time, not a point); 429 episodes and stops are shaded behind every panel; each
//! window carries a `<title>` with its figures, shown on hover.

use std::fmt::Write;

use chrono::DateTime;

use super::format::{escape, fmt_ms, fmt_rate, fmt_utc};
use super::windows::Series;
use super::{Episode, Outcome, RunSpan, Stop, StopReason};
use crate::values::count::{group_digits, plural};

/// The drawing's width in SVG units (it scales to the page's width).
const WIDTH: f64 = 1200.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
/// Room above the plot area and below it (the time labels).
const TOP: f64 = 8.0;
const BOTTOM: f64 = 22.0;

pub(super) fn outcome_color(outcome: Outcome) -> &'static str {
    // Okabe-Ito: told apart with the common colour blindnesses.
    match outcome {
        Outcome::Blocked => "#009e73",
        Outcome::Renewed => "#56b4e9",
        Outcome::Unblocked => "#0072b2",
        Outcome::NotBlocked => "#999999",
        Outcome::Refused => "#e69f00",
        Outcome::Failed => "#d55e00",
    }
}

pub(super) const REQUESTS_OK: &str = "#0072b2";
pub(super) const REQUESTS_FAILED: &str = "#d55e00";
pub(super) const P50: &str = "#0072b2";
pub(super) const P95: &str = "#e69f00";
pub(super) const P99: &str = "#d55e00";
pub(super) const DONE: &str = "#555555";
pub(super) const SUCCEEDED: &str = "#009e73";
pub(super) const EPISODE_FILL: &str = "#f0c000";
/// The episodes' band as it looks on white (the legend's swatch).
pub(super) const EPISODE_SWATCH: &str = "#fae9a6";
pub(super) const STOP_FILL: &str = "#d55e00";

/// The horizontal scale shared by every panel.
#[derive(Clone, Copy, Debug)]
pub(super) struct Axis {
    start_ms: i64,
    end_ms: i64,
}

impl Axis {
    pub(super) fn new(series: &Series) -> Axis {
        Axis {
            start_ms: series.start_ms,
            end_ms: series.end_ms().max(series.start_ms + 1),
        }
    }

    pub(super) fn x(&self, at_ms: i64) -> f64 {
        let span = (self.end_ms - self.start_ms) as f64;
        let at = (at_ms.clamp(self.start_ms, self.end_ms) - self.start_ms) as f64;
        LEFT + at / span * (WIDTH - LEFT - RIGHT)
    }

    /// Ticks about every 110 units, at round times.
    fn ticks(&self) -> (i64, Vec<i64>) {
        const STEPS_MS: [i64; 20] = [
            1_000,
            2_000,
            5_000,
            10_000,
            15_000,
            30_000,
            60_000,
            120_000,
            300_000,
            600_000,
            900_000,
            1_800_000,
            3_600_000,
            7_200_000,
            10_800_000,
            21_600_000,
            43_200_000,
            86_400_000,
            172_800_000,
            604_800_000,
        ];
        let span = self.end_ms - self.start_ms;
        let wanted = span as f64 / ((WIDTH - LEFT - RIGHT) / 110.0);
        // Past a week, whole weeks.
        let step = STEPS_MS
            .iter()
            .copied()
            .find(|&step| step as f64 >= wanted)
            .unwrap_or_else(|| (wanted / 604_800_000.0).ceil() as i64 * 604_800_000);
        let first = (self.start_ms + step - 1).div_euclid(step) * step;
        let ticks = (0..)
            .map(|k| first + k * step)
            .take_while(|&t| t <= self.end_ms)
            .collect();
        (step, ticks)
    }

    fn tick_label(&self, at_ms: i64, step_ms: i64) -> String {
        let Some(at) = DateTime::from_timestamp_millis(at_ms) else {
            return String::new();
        };
        let days = self.end_ms - self.start_ms > 86_400_000;
        let format = match (days, step_ms < 60_000) {
            (true, _) => "%m-%d %H:%M",
            (false, true) => "%H:%M:%S",
            (false, false) => "%H:%M",
        };
        at.format(format).to_string()
    }
}

/// A vertical scale from 0 (or from a power of ten, on a log scale).
#[derive(Clone, Copy, Debug)]
struct Scale {
    low: f64,
    high: f64,
    log: bool,
    height: f64,
}

impl Scale {
    fn linear(max: f64, height: f64) -> (Scale, Vec<f64>) {
        let (high, step) = nice_ceiling(max);
        let ticks = (0..)
            .map(|k| k as f64 * step)
            .take_while(|&t| t <= high * 1.000_001)
            .collect();
        let scale = Scale {
            low: 0.0,
            high,
            log: false,
            height,
        };
        (scale, ticks)
    }

    /// From the 1, 2, 5 × 10^k at or below `min` to the one at or above `max`, ticks on
    /// those steps (only the powers of ten when it spans more than two decades).
    fn log(min: f64, max: f64, height: f64) -> (Scale, Vec<f64>) {
        let steps = |from: f64, to: f64| {
            let mut steps = Vec::new();
            let mut decade = 10f64.powf(from.max(1.0).log10().floor() - 1.0);
            while decade <= to * 10.0 {
                steps.extend([decade, 2.0 * decade, 5.0 * decade]);
                decade *= 10.0;
            }
            steps
        };
        let (min, max) = (min.max(1.0), max.max(1.0));
        let all = steps(min, max);
        let low = all
            .iter()
            .copied()
            .filter(|&s| s <= min)
            .fold(1.0, f64::max);
        let mut high = all.iter().copied().find(|&s| s >= max).unwrap_or(max);
        if high <= low {
            high = all.iter().copied().find(|&s| s > low).unwrap_or(low * 2.0);
        }
        let decades = (high / low).log10();
        let ticks = all
            .into_iter()
            .filter(|&s| s >= low * 0.999_999 && s <= high * 1.000_001)
            .filter(|&s| decades <= 2.0 || s.log10().fract().abs() < 1e-9)
            .collect();
        let scale = Scale {
            low,
            high,
            log: true,
            height,
        };
        (scale, ticks)
    }

    /// The y of a value, in the panel's plot area (TOP at the top).
    fn y(&self, value: f64) -> f64 {
        let share = if self.log {
            let value = value.max(self.low);
            (value / self.low).log10() / (self.high / self.low).log10()
        } else {
            (value - self.low) / (self.high - self.low)
        };
        TOP + self.height * (1.0 - share.clamp(0.0, 1.0))
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10^k at or above `max`, and a tick step for it.
fn nice_ceiling(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for (factor, ticks) in [
        (1.0, 5.0),
        (2.0, 4.0),
        (2.5, 5.0),
        (3.0, 3.0),
        (4.0, 4.0),
        (5.0, 5.0),
        (6.0, 3.0),
        (8.0, 4.0),
        (10.0, 5.0),
    ] {
        let high = factor * magnitude;
        if high >= max * 0.999_999 {
            return (high, high / ticks);
        }
    }
    (10.0 * magnitude, 2.0 * magnitude)
}

/// What every panel shares: the axis, the series, the shaded stretches.
pub(super) struct Frame<'a> {
    pub(super) axis: Axis,
    pub(super) series: &'a Series,
    pub(super) episodes: &'a [Episode],
    pub(super) stops: &'a [Stop],
}

impl Frame<'_> {
    fn open(&self, out: &mut String, height: f64, label: &str) {
        let total = height + TOP + BOTTOM;
        let _ = write!(
            out,
            r#"<svg class="panel" viewBox="0 0 {WIDTH} {total}" role="img" aria-label="{}">"#,
            escape(label)
        );
        let _ = write!(
            out,
            r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{height}" fill="#fff" stroke="#ccc"/>"##,
            WIDTH - LEFT - RIGHT
        );
        self.shading(out, height);
        self.time_grid(out, height);
    }

    /// 429 episodes and stops, behind the data.
    fn shading(&self, out: &mut String, height: f64) {
        let axis = self.axis;
        // Episodes closer than a pixel merge, so a run with thousands draws a few bands.
        let mut bands: Vec<(f64, f64)> = Vec::new();
        let mut episodes: Vec<&Episode> = self.episodes.iter().collect();
        episodes.sort_by_key(|e| e.started_at_ms);
        for episode in episodes {
            let x0 = axis.x(episode.started_at_ms);
            let x1 = axis
                .x(episode.started_at_ms + episode.wait_ms as i64)
                .max(x0 + 1.5);
            match bands.last_mut() {
                Some(last) if x0 <= last.1 + 1.0 => last.1 = last.1.max(x1),
                _ => bands.push((x0, x1)),
            }
        }
        for (x0, x1) in bands {
            let _ = write!(
                out,
                r#"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{height}" fill="{EPISODE_FILL}" fill-opacity="0.35"/>"#,
                x1 - x0
            );
        }
        for stop in self.stops {
            let (from, to) = stop_stretch(stop, axis.end_ms);
            let x0 = axis.x(from);
            let x1 = axis.x(to).max(x0 + 2.0);
            let _ = write!(
                out,
                r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{height}" fill="url(#stop-hatch)"/>"##,
                x1 - x0
            );
            let x = axis.x(stop.at_ms);
            let _ = write!(
                out,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="{STOP_FILL}" stroke-width="2"/>"#,
                TOP + height
            );
        }
    }

    fn time_grid(&self, out: &mut String, height: f64) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">UTC</text>"#,
            LEFT - 22.0,
            TOP + height + 15.0
        );
        let (step, ticks) = self.axis.ticks();
        for tick in ticks {
            let x = self.axis.x(tick);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#e4e4e4"/><text x="{x:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"##,
                TOP + height,
                TOP + height + 15.0,
                self.axis.tick_label(tick, step)
            );
        }
    }

    fn value_grid(&self, out: &mut String, scale: &Scale, ticks: &[f64], unit: &str) {
        for &tick in ticks {
            let y = scale.y(tick);
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                fmt_tick(tick)
            );
        }
        let middle = TOP + scale.height / 2.0;
        let _ = write!(
            out,
            r#"<text class="unit" transform="translate(14 {middle:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            escape(unit)
        );
    }

    /// One `<title>` per window with data, over the whole panel height.
    fn hover(&self, out: &mut String, height: f64, text: impl Fn(usize) -> Option<String>) {
        let series = self.series;
        out.push_str(r#"<g class="hover">"#);
        for at in 0..series.windows {
            let Some(text) = text(at) else { continue };
            let x0 = self.axis.x(series.window_start(at));
            let x1 = self.axis.x(series.window_start(at + 1));
            let _ = write!(
                out,
                r#"<rect x="{x0:.1}" y="{TOP}" width="{:.2}" height="{height}"><title>{} {}</title></rect>"#,
                (x1 - x0).max(0.5),
                window_label(series, at),
                escape(&text)
            );
        }
        out.push_str("</g></svg>");
    }

    /// A step path through `values` (`None` breaks it), in the plot's coordinates.
    fn step_path(&self, values: impl Iterator<Item = Option<f64>>, scale: &Scale) -> String {
        let mut path = String::new();
        let mut pen_down = false;
        for (at, value) in values.enumerate() {
            let Some(value) = value else {
                pen_down = false;
                continue;
            };
            let x0 = self.axis.x(self.series.window_start(at));
            let x1 = self.axis.x(self.series.window_start(at + 1));
            let y = scale.y(value);
            if pen_down {
                let _ = write!(path, "V{y:.1}H{x1:.1}");
            } else {
                let _ = write!(path, "M{x0:.1} {y:.1}H{x1:.1}");
                pen_down = true;
            }
        }
        path
    }

    /// The area between two step lines (`lower` below `upper`, window by window).
    fn band_path(&self, lower: &[f64], upper: &[f64], scale: &Scale) -> String {
        let mut path = String::new();
        let count = upper.len();
        if count == 0 {
            return path;
        }
        let x = |at: usize| self.axis.x(self.series.window_start(at));
        let _ = write!(path, "M{:.1} {:.1}", x(0), scale.y(upper[0]));
        for (at, &value) in upper.iter().enumerate() {
            let _ = write!(path, "V{:.1}H{:.1}", scale.y(value), x(at + 1));
        }
        for at in (0..count).rev() {
            let _ = write!(path, "V{:.1}H{:.1}", scale.y(lower[at]), x(at));
        }
        path.push('Z');
        path
    }
}

/// The stretch a stop shades, cut at `axis_end`.
pub(super) fn stop_stretch(stop: &Stop, axis_end: i64) -> (i64, i64) {
    match stop.reason {
        StopReason::MaxWait => (
            stop.at_ms,
            stop.until_ms.unwrap_or(stop.at_ms).min(axis_end),
        ),
        _ => (
            stop.since_ms.unwrap_or(stop.at_ms).min(stop.at_ms),
            stop.at_ms,
        ),
    }
}

fn window_label(series: &Series, at: usize) -> String {
    let start = series.window_start(at);
    let time = DateTime::from_timestamp_millis(start)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_default();
    format!("{time} UTC +{}:", fmt_ms(series.window_ms as u64))
}

fn fmt_tick(value: f64) -> String {
    let trim = |text: String| {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    };
    if value >= 1e6 {
        format!("{}M", trim(format!("{:.2}", value / 1e6)))
    } else if value >= 1e4 {
        format!("{}k", trim(format!("{:.1}", value / 1e3)))
    } else if value.fract() == 0.0 {
        group_digits(value as u64)
    } else {
        trim(format!("{value:.2}"))
    }
}

/// Values done per second, stacked by outcome.
pub(super) fn values_panel(frame: &Frame<'_>, out: &mut String) {
    const HEIGHT: f64 = 200.0;
    let series = frame.series;
    let outcomes: Vec<(Outcome, &Vec<u64>)> = Outcome::ALL
        .into_iter()
        .filter_map(|o| series.values.get(o.as_str()).map(|v| (o, v)))
        .collect();
    let totals: Vec<u64> = (0..series.windows)
        .map(|at| outcomes.iter().map(|(_, v)| v[at]).sum())
        .collect();
    let max = totals
        .iter()
        .map(|&t| series.per_second(t))
        .fold(0.0, f64::max);
    let (scale, ticks) = Scale::linear(max, HEIGHT);
    frame.open(out, HEIGHT, "values done per second, by outcome");
    frame.value_grid(out, &scale, &ticks, "values/s");
    let mut lower = vec![0.0; series.windows];
    for (outcome, values) in &outcomes {
        let upper: Vec<f64> = lower
            .iter()
            .zip(values.iter())
            .map(|(low, &v)| low + series.per_second(v))
            .collect();
        let _ = write!(
            out,
            r#"<path d="{}" fill="{}" fill-opacity="0.85"><title>{}</title></path>"#,
            frame.band_path(&lower, &upper, &scale),
            outcome_color(*outcome),
            outcome.as_str()
        );
        lower = upper;
    }
    frame.hover(out, HEIGHT, |at| {
        (totals[at] > 0).then(|| {
            outcomes
                .iter()
                .filter(|(_, v)| v[at] > 0)
                .map(|(o, v)| format!("{} {}/s", o.as_str(), fmt_rate(series.per_second(v[at]))))
                .collect::<Vec<_>>()
                .join(", ")
        })
    });
}

/// HTTP requests (attempts) per second: those of lines that ended well, and the others.
/// Each episode's measured admitted rate is marked.
pub(super) fn requests_panel(frame: &Frame<'_>, out: &mut String) {
    const HEIGHT: f64 = 140.0;
    let series = frame.series;
    let ok: Vec<f64> = series
        .requests_ok
        .iter()
        .map(|&r| series.per_second(r))
        .collect();
    let all: Vec<f64> = ok
        .iter()
        .zip(&series.requests_failed)
        .map(|(ok, &failed)| ok + series.per_second(failed))
        .collect();
    let admitted = frame
        .episodes
        .iter()
        .filter_map(|e| e.admitted_per_s)
        .fold(0.0, f64::max);
    let max = all.iter().copied().fold(admitted, f64::max);
    let (scale, ticks) = Scale::linear(max, HEIGHT);
    frame.open(out, HEIGHT, "requests per second");
    frame.value_grid(out, &scale, &ticks, "requests/s");
    let zero = vec![0.0; series.windows];
    let _ = write!(
        out,
        r#"<path d="{}" fill="{REQUESTS_OK}" fill-opacity="0.8"/><path d="{}" fill="{REQUESTS_FAILED}" fill-opacity="0.85"/>"#,
        frame.band_path(&zero, &ok, &scale),
        frame.band_path(&ok, &all, &scale),
    );
    for episode in frame.episodes {
        let Some(rate) = episode.admitted_per_s else {
            continue;
        };
        let x = frame.axis.x(episode.started_at_ms);
        let y = scale.y(rate);
        let _ = write!(
            out,
            r##"<path d="M{:.1} {:.1}l5 -8h-10z" fill="#000"><title>429: admitted {}/s measured</title></path>"##,
            x,
            y,
            fmt_rate(rate)
        );
    }
    frame.hover(out, HEIGHT, |at| {
        (all[at] > 0.0).then(|| {
            format!(
                "{} requests/s ({}/s of failed or refused lines)",
                fmt_rate(all[at]),
                fmt_rate(all[at] - ok[at])
            )
        })
    });
}

/// Latency p50, p95 and p99 per window, on a log scale.
pub(super) fn latency_panel(frame: &Frame<'_>, out: &mut String) {
    const HEIGHT: f64 = 170.0;
    let series = frame.series;
    let present = || series.p50.iter().chain(&series.p99).flatten().copied();
    let min = present().min().unwrap_or(1) as f64;
    let max = present().max().unwrap_or(1000) as f64;
    let (scale, ticks) = Scale::log(min, max, HEIGHT);
    frame.open(out, HEIGHT, "latency p50, p95 and p99 per window");
    frame.value_grid(out, &scale, &ticks, "ms (log)");
    for (values, color, dash) in [
        (&series.p99, P99, " stroke-dasharray=\"5 3\""),
        (&series.p95, P95, ""),
        (&series.p50, P50, ""),
    ] {
        let path = frame.step_path(values.iter().map(|v| v.map(|v| v as f64)), &scale);
        let _ = write!(
            out,
            r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>"#
        );
    }
    frame.hover(out, HEIGHT, |at| {
        series.p50[at].map(|p50| {
            format!(
                "p50 {} ms, p95 {} ms, p99 {} ms ({} lines)",
                group_digits(p50),
                group_digits(series.p95[at].unwrap_or(p50)),
                group_digits(series.p99[at].unwrap_or(p50)),
                group_digits(series.lines[at])
            )
        })
    });
}

/// Cumulative values done (any outcome, and succeeded) against the total.
pub(super) fn progress_panel(frame: &Frame<'_>, out: &mut String) {
    const HEIGHT: f64 = 150.0;
    let series = frame.series;
    let done = series.done.last().copied().unwrap_or(0);
    let max = series.total_values.unwrap_or(0).max(done) as f64;
    let (scale, ticks) = Scale::linear(max, HEIGHT);
    frame.open(out, HEIGHT, "cumulative progress against the total");
    frame.value_grid(out, &scale, &ticks, "values");
    if let Some(total) = series.total_values {
        let y = scale.y(total as f64);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#000" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" class="tick">total {}</text>"##,
            WIDTH - RIGHT,
            LEFT + 6.0,
            if y < TOP + 16.0 { y + 14.0 } else { y - 4.0 },
            group_digits(total)
        );
    }
    for (values, color) in [(&series.done, DONE), (&series.succeeded, SUCCEEDED)] {
        let path = frame.step_path(values.iter().map(|&v| Some(v as f64)), &scale);
        let _ = write!(
            out,
            r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>"#
        );
    }
    frame.hover(out, HEIGHT, |at| {
        let done = series.done[at];
        let share = series
            .total_values
            .filter(|&t| t > 0)
            .map(|t| {
                format!(
                    " of {} ({:.1} %)",
                    group_digits(t),
                    series.succeeded[at] as f64 * 100.0 / t as f64
                )
            })
            .unwrap_or_default();
        (series.lines[at] > 0).then(|| {
            format!(
                "done {}, succeeded {}{share}",
                group_digits(done),
                group_digits(series.succeeded[at])
            )
        })
    });
}

/// One row per run (shards run side by side), from its start to its last outcome; runs
/// that follow each other with room for the label share a row.
pub(super) fn runs_panel(frame: &Frame<'_>, runs: &[RunSpan], out: &mut String) {
    const ROW: f64 = 20.0;
    const ROWS_MAX: usize = 12;
    let placed: Vec<(&RunSpan, String, f64, f64)> = runs
        .iter()
        .map(|run| {
            let x0 = frame.axis.x(run.start_ms);
            let x1 = frame.axis.x(run.end_ms).max(x0 + 3.0);
            let values: u64 = run.values.iter().map(|(_, v)| v).sum();
            let what = [run.command.as_str(), run.value_type.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let label = format!("{} {what} · {} values", run.id, group_digits(values));
            (run, label, x0, x1)
        })
        .collect();
    // Where each run's drawing (bar and label) ends, and which side the label goes.
    // The label goes right of the bar, else left of it, else inside it.
    let extent = |label: &str, x0: f64, x1: f64| {
        let width = text_width(label);
        if x1 + 4.0 + width <= WIDTH - RIGHT {
            (x0, x1 + 4.0 + width, Side::Right)
        } else if x0 - 4.0 - width >= LEFT {
            (x0 - 4.0 - width, x1, Side::Left)
        } else {
            (x0, x1.max(x0 + 8.0 + width), Side::Inside)
        }
    };
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut row_ends: Vec<f64> = Vec::new();
    for (number, (_, label, x0, x1)) in placed.iter().enumerate() {
        let (from, to, _) = extent(label, *x0, *x1);
        match row_ends.iter().position(|&end| end + 12.0 < from) {
            Some(row) => {
                rows[row].push(number);
                row_ends[row] = to;
            }
            None => {
                rows.push(vec![number]);
                row_ends.push(to);
            }
        }
    }
    let hidden: usize = rows.iter().skip(ROWS_MAX).map(Vec::len).sum();
    rows.truncate(ROWS_MAX);
    let height = ROW * rows.len().max(1) as f64 + if hidden > 0 { ROW } else { 0.0 };
    frame.open(out, height, "runs");
    for (number, row) in rows.iter().enumerate() {
        let y = TOP + number as f64 * ROW + 3.0;
        for &at in row {
            let (run, label, x0, x1) = &placed[at];
            let (text_x, anchor, style) = match extent(label, *x0, *x1).2 {
                Side::Right => (x1 + 4.0, "start", ""),
                Side::Left => (x0 - 4.0, "end", ""),
                Side::Inside => (x0 + 6.0, "start", r#" style="fill:#fff""#),
            };
            let _ = write!(
                out,
                r##"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#5f7391"><title>{} {}: {} to {} UTC, {} requests</title></rect><text x="{text_x:.1}" y="{:.1}" class="tick" text-anchor="{anchor}"{style}>{}</text>"##,
                x1 - x0,
                ROW - 6.0,
                escape(label),
                escape(&run.target),
                fmt_utc(run.start_ms),
                fmt_utc(run.end_ms),
                group_digits(run.requests),
                y + ROW - 9.0,
                escape(label)
            );
        }
    }
    if hidden > 0 {
        let _ = write!(
            out,
            r#"<text x="{LEFT}" y="{:.1}" class="tick">and {hidden} more runs (listed below)</text>"#,
            TOP + ROWS_MAX as f64 * ROW + 14.0
        );
    }
    out.push_str("</svg>");
}

#[derive(Clone, Copy)]
enum Side {
    Right,
    Left,
    Inside,
}

/// About how wide `text` is at the ticks' 12 px.
fn text_width(text: &str) -> f64 {
    6.6 * text.chars().count() as f64
}

/// The 429 episodes and the stops, marked and labelled where there is room.
pub(super) fn events_panel(frame: &Frame<'_>, out: &mut String) {
    const HEIGHT: f64 = 30.0;
    frame.open(out, HEIGHT, "429 episodes and stops");
    let mut marks: Vec<(i64, String, &str)> = frame
        .episodes
        .iter()
        .map(|e| {
            let mut text = format!("429: wait {}", fmt_ms(e.wait_ms));
            if let Some(rate) = e.admitted_per_s {
                let _ = write!(text, ", admitted {}/s", fmt_rate(rate));
            }
            if let Some(answers) = e.answers {
                let _ = write!(text, ", {}", plural(answers, "429"));
            }
            (e.started_at_ms, text, EPISODE_FILL)
        })
        .collect();
    marks.extend(frame.stops.iter().map(|s| {
        let mut text = format!("stop: {}", s.reason.label());
        if !s.detail.is_empty() {
            let _ = write!(text, " ({})", s.detail);
        }
        (s.at_ms, text, STOP_FILL)
    }));
    marks.sort_by_key(|(at, _, _)| *at);
    // Marks closer than 30 units form a cluster, labelled once after its last mark (or
    // before its first, at the right edge), when the label has room.
    let mut clusters: Vec<Vec<(f64, i64, String, &str)>> = Vec::new();
    for (at, text, color) in marks {
        let x = frame.axis.x(at);
        match clusters.last_mut() {
            Some(cluster) if cluster.last().is_some_and(|last| x - last.0 < 30.0) => {
                cluster.push((x, at, text, color))
            }
            _ => clusters.push(vec![(x, at, text, color)]),
        }
    }
    let mut free_from = 0.0;
    for cluster in clusters {
        for (x, at, text, color) in &cluster {
            let _ = write!(
                out,
                r##"<path d="M{x:.1} {:.1}l6 10h-12z" fill="{color}" stroke="#333" stroke-width="0.6"><title>{} UTC {}</title></path>"##,
                TOP + 3.0,
                fmt_utc(*at),
                escape(text)
            );
        }
        let first = &cluster[0];
        let mut label: String = first.2.chars().take(60).collect();
        if cluster.len() > 1 {
            let _ = write!(label, " (and {} more)", cluster.len() - 1);
        }
        let width = text_width(&label);
        let after = cluster[cluster.len() - 1].0 + 8.0;
        let before = first.0 - 8.0;
        let (x, anchor, from, to) = if after + width <= WIDTH - RIGHT {
            (after, "start", after, after + width)
        } else {
            (before, "end", before - width, before)
        };
        if from >= free_from && from >= LEFT {
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{:.1}" class="tick" text-anchor="{anchor}">{}</text>"#,
                TOP + 13.0,
                escape(&label)
            );
            free_from = to + 10.0;
        }
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(7.0), (8.0, 2.0));
        assert_eq!(nice_ceiling(3_100.0), (4_000.0, 1_000.0));
        assert_eq!(nice_ceiling(524_700.0), (600_000.0, 200_000.0));
        assert_eq!(nice_ceiling(1.0), (1.0, 0.2));
        assert_eq!(nice_ceiling(180.0), (200.0, 50.0));
        assert_eq!(nice_ceiling(2200.0), (2500.0, 500.0));
        assert_eq!(nice_ceiling(0.0), (1.0, 0.25));
    }

    #[test]
    fn log_scales_end_on_one_two_five() {
        let (scale, ticks) = Scale::log(80.0, 3000.0, 100.0);
        assert_eq!((scale.low, scale.high), (50.0, 5_000.0));
        assert_eq!(
            ticks,
            vec![50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]
        );
        assert!((scale.y(500.0) - (TOP + 50.0)).abs() < 1e-9);
        let (scale, ticks) = Scale::log(95.0, 31_500.0, 100.0);
        assert_eq!((scale.low, scale.high), (50.0, 50_000.0));
        assert_eq!(ticks, vec![100.0, 1000.0, 10_000.0]);
        let (scale, ticks) = Scale::log(3.0, 200_000.0, 100.0);
        assert_eq!((scale.low, scale.high), (2.0, 200_000.0));
        assert_eq!(ticks, vec![10.0, 100.0, 1000.0, 10_000.0, 100_000.0]);
        let (scale, _) = Scale::log(143.0, 143.0, 100.0);
        assert_eq!((scale.low, scale.high), (100.0, 200.0));
    }

    #[test]
    fn tick_labels() {
        crate::testing::assert_writes(
            fmt_tick,
            &[
                (0.0, "0"),
                (2_500.0, "2,500"),
                (20_000.0, "20k"),
                (2_500_000.0, "2.5M"),
                (10_000_000.0, "10M"),
                (0.25, "0.25"),
            ],
        );
    }
}
