//! The limit a server advertises in its headers (GitHub's, the IETF draft's and its
//! structured fields), as the latest answers tell it, and the budget it leaves until its
//! window ends; and what it was, for the summary.

use std::time::Duration;

use tokio::time::Instant;

use super::clock::{MAX_PAUSE, later};
use super::episode::LEVEL;
use crate::net::ratelimit_headers::{Advertised, Family};

/// Slow rises of `remaining` that show a sliding window or a bucket, at least, and more than
/// this many per refill.
pub(super) const SLOW_RISES: u32 = 3;

/// The limit the server advertises, as the latest answers tell it, and the budget it
/// leaves until its window ends.
#[derive(Debug)]
pub(super) struct Budget {
    pub(super) family: Family,
    /// The quota per window, when given.
    pub(super) quota: Option<u64>,
    /// The window: advertised (`w=`), or learnt from the reset after a refill.
    pub(super) window: Option<Duration>,
    pub(super) window_advertised: bool,
    /// Requests with a sequence number below this may start before `end`.
    pub(super) allowed: u64,
    /// When the current window ends (as late as it can be), if known.
    pub(super) end: Option<Instant>,
    /// The latest answer by sequence: its number, when it was sent, its `remaining`.
    pub(super) latest: Option<(u64, Instant, u64)>,
    /// A window boundary seen (a refill), as late as it can have been.
    pub(super) boundary: Option<Instant>,
    /// The first request known to belong to the current window: answers to earlier ones
    /// tell of a window that has ended.
    pub(super) window_first: u64,
    /// Requests that waited for the window's end because the budget was spent.
    pub(super) waits: u64,
    /// Answers whose `remaining` rose by less than a refill: what is left comes back a
    /// little at a time, as a sliding window's or a token bucket's does.
    pub(super) slow_rises: u32,
    /// Answers that showed a refill (a window turning over).
    pub(super) refills: u32,
    /// The latest answer's reset at its earliest (less its rounding).
    pub(super) earliest_end: Option<Instant>,
    /// The longest reset seen (at its earliest), in whole seconds: with no window said, a
    /// window that never turns over is no longer than that.
    pub(super) longest_reset: Option<Duration>,
}

impl Budget {
    pub(super) fn new(family: Family) -> Budget {
        Budget {
            family,
            quota: None,
            window: None,
            window_advertised: false,
            allowed: u64::MAX,
            end: None,
            latest: None,
            boundary: None,
            window_first: 0,
            waits: 0,
            slow_rises: 0,
            refills: 0,
            earliest_end: None,
            longest_reset: None,
        }
    }

    /// Whether the server's quota comes back a little at a time (a sliding window, a token
    /// bucket) rather than all at once at a boundary: slow rises, and far more of them than
    /// refills. (A wait for a rounded reset empties a sliding window, and the answer after
    /// reads as a refill: one now and then does not make the window a fixed one. Answers
    /// counted out of order make a rare slow rise in a fixed window.)
    /// Its reset then says when the *oldest* request leaves the window, rounded up to a
    /// second, so waiting for it whenever `remaining` reads 0 would halve the pace (seen:
    /// 0.5 of a sliding window's limit). Pacing at the quota over the window is what such a
    /// limit admits; the 429 law stays on top.
    pub(super) fn sliding(&self) -> bool {
        self.slow_rises >= SLOW_RISES && self.slow_rises > SLOW_RISES * self.refills
    }

    /// The window a sliding limit is counted over: as said, or the longest reset seen.
    pub(super) fn sliding_window(&self) -> Option<Duration> {
        self.window.or(self.longest_reset)
    }

    /// The next window boundary after `now` that the last refill and the window predict.
    pub(super) fn predicted_end(&self, now: Instant) -> Option<Instant> {
        let (boundary, window) = (self.boundary?, self.window?);
        let since = now.checked_duration_since(boundary)?;
        let windows = u32::try_from(since.as_nanos() / window.as_nanos().max(1) + 1).ok()?;
        boundary.checked_add(window.checked_mul(windows)?)
    }

    /// An answer to request `seq`, sent at `sent`, answered at `now`.
    /// `started` is how many requests have started so far.
    pub(super) fn update(
        &mut self,
        now: Instant,
        seq: u64,
        sent: Instant,
        advertised: &Advertised,
        started: u64,
    ) {
        // A window that ended before this answer came: answers to requests sent in it are
        // about it, not about the one now.
        self.roll(now, started);
        self.family = advertised.family;
        if let Some(limit) = advertised.limit {
            self.quota = Some(limit);
        }
        if let Some(window) = advertised.window {
            self.window = Some(window.min(MAX_PAUSE));
            self.window_advertised = true;
        }
        let Some(remaining) = advertised.remaining else {
            return;
        };
        if seq < self.window_first || self.latest.is_some_and(|(latest, _, _)| seq <= latest) {
            // An older answer than one already read, or one from a window that has ended:
            // it says nothing newer.
            return;
        }
        let reset = advertised.reset.map(|reset| later(now, reset));
        if let Some(reset) = advertised.reset {
            // At its earliest (a Unix-second reset is up to a second late), in whole seconds.
            let reset = reset.saturating_sub(advertised.reset_precision);
            let whole = Duration::from_secs(reset.as_secs() + u64::from(reset.subsec_nanos() > 0))
                .clamp(Duration::from_secs(1), MAX_PAUSE);
            self.longest_reset = Some(self.longest_reset.map_or(whole, |l| l.max(whole)));
        }
        // A refill: more left than the previous answer left minus what went since. A
        // boundary passed between that answer's request and this answer.
        // (A jump of half the quota, or a window that counts nothing before the requests
        // sent since that answer; a sliding window's slow drift upward is neither.)
        // What is left, as the previous answer and the requests sent since predict it.
        let expected = self.latest.map(|(latest, latest_sent, before)| {
            (
                seq - latest,
                latest_sent,
                before.saturating_sub(seq - latest),
            )
        });
        let refill = expected.and_then(|(since, latest_sent, expected)| {
            let jump = self.quota.map_or(1, |quota| (quota / 2).max(1));
            let fresh = self
                .quota
                .is_some_and(|quota| remaining.saturating_add(since) >= quota);
            (remaining > expected && (remaining >= expected.saturating_add(jump) || fresh))
                .then_some(latest_sent)
        });
        let rose = expected.is_some_and(|(_, _, expected)| remaining > expected);
        if rose && refill.is_none() {
            self.slow_rises = self.slow_rises.saturating_add(1);
        }

        if let Some(after) = refill {
            self.refills = self.refills.saturating_add(1);
            // The boundary lies in (after, now]: keep it as late as it can be, or the one
            // the previous boundary and the window predict, when that fits. Requests sent
            // before this one were counted by the server before it answered this one.
            self.window_first = seq;
            let predicted = self
                .predicted_end(after)
                .filter(|&predicted| predicted <= now);
            let boundary = predicted.unwrap_or(now);
            if !self.window_advertised {
                self.window = match (advertised.family, advertised.reset, self.boundary) {
                    // A Unix-second reset is up to a second late: the window is the time
                    // between two boundaries (the shortest seen, in whole seconds).
                    (Family::Github, _, Some(previous)) => {
                        let spacing = boundary.saturating_duration_since(previous);
                        let whole = Duration::from_secs(spacing.as_secs_f64().round() as u64);
                        if whole.is_zero() {
                            self.window
                        } else {
                            Some(self.window.map_or(whole, |w| w.min(whole)).min(MAX_PAUSE))
                        }
                    }
                    // The first boundary: a Unix-second reset right after it is the window
                    // plus less than a second of rounding, less the time since the boundary
                    // (about half the time since the previous answer's request).
                    (Family::Github, Some(reset), None) => {
                        let since = now.saturating_duration_since(after) / 2;
                        let whole = Duration::from_secs((reset + since).as_secs());
                        (!whole.is_zero()).then_some(whole.min(MAX_PAUSE))
                    }
                    (Family::Github, None, None) => self.window,
                    // Right after a boundary a reset in seconds from now is the whole
                    // window, rounded up.
                    (_, Some(reset), _) => {
                        let whole = Duration::from_secs(
                            reset.as_secs() + u64::from(reset.subsec_nanos() > 0),
                        );
                        Some(whole.max(Duration::from_secs(1)).min(MAX_PAUSE))
                    }
                    (_, None, _) => self.window,
                };
            }
            self.boundary = Some(boundary);
        }
        self.earliest_end = advertised
            .reset
            .map(|reset| later(now, reset.saturating_sub(advertised.reset_precision)));
        let predicted = self.predicted_end(now);
        self.end = match (reset, predicted) {
            // The predicted boundary refines a rounded reset when they agree to within the
            // reset's precision; otherwise the server's own word wins.
            (Some(reset), Some(predicted))
                if predicted <= reset
                    && predicted
                        + advertised.reset_precision
                        + now.saturating_duration_since(sent)
                        + Duration::from_millis(1)
                        >= reset =>
            {
                Some(predicted)
            }
            (Some(reset), _) => {
                if predicted.is_some() {
                    self.boundary = None;
                }
                Some(reset)
            }
            (None, predicted) => predicted,
        };
        self.allowed = seq.saturating_add(1).saturating_add(remaining);
        self.latest = Some((seq, sent, remaining));
    }

    /// The window ended with no newer answer: a new quota starts for the requests from
    /// `sent` on.
    pub(super) fn roll(&mut self, now: Instant, sent: u64) {
        let Some(end) = self.end else {
            return;
        };
        if now < end {
            return;
        }
        self.end = self.predicted_end(now);
        self.window_first = sent;
        self.allowed = match (self.end, self.quota) {
            (Some(_), Some(quota)) => sent.saturating_add(quota),
            _ => u64::MAX,
        };
    }

    /// When request number `seq` may start, if the budget holds it back at `now`.
    pub(super) fn holds(&self, seq: u64, now: Instant) -> Option<Instant> {
        if self.sliding() && self.sliding_window().is_some() && self.quota.is_some() {
            // Paced at the quota over the window (see `sliding`): a spent quota waits only
            // for the reset at its earliest, which a reset rounded up from less than a
            // second puts at once, and a quota spent for long (an hour's) still holds.
            let until = self.earliest_end?;
            return (seq >= self.allowed && until > now).then_some(until);
        }
        let end = self.end?;
        (seq >= self.allowed && end > now).then_some(end)
    }

    /// The pace the advertised limit allows, requests per second: the quota over its window
    /// once a window boundary has been seen; before that (the window's end known only to
    /// the reset's rounding), or with no window known, no faster than what is left spread
    /// until the reset, so that a window is not spent long before it may end (the request
    /// after would wait for that rounded reset).
    pub(super) fn pace(&self, now: Instant, sent: u64) -> Option<f64> {
        let quota = self.quota? as f64;
        if self.sliding()
            && let Some(window) = self.sliding_window()
        {
            return Some(LEVEL * quota / window.as_secs_f64());
        }
        let sustained = self.window.map(|window| quota / window.as_secs_f64());
        if self.boundary.is_some()
            && let Some(sustained) = sustained
        {
            return Some(sustained);
        }
        let spread = self
            .end
            .and_then(|end| end.checked_duration_since(now))
            .map(|left| {
                let remaining = self.allowed.saturating_sub(sent).max(1) as f64;
                remaining / left.as_secs_f64().max(1e-3)
            });
        match (sustained, spread) {
            (Some(sustained), Some(spread)) => Some(sustained.min(spread)),
            (sustained, spread) => sustained.or(spread),
        }
    }
}

/// What the server advertised, as the pool's end reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdvertisedLimit {
    /// The header family it came in.
    pub family: Family,
    /// Requests per window, when given.
    pub limit: Option<u64>,
    /// The window: as advertised, or learnt from the reset after the window turned over.
    pub window: Option<Duration>,
    /// Whether the window was advertised (`w=`) rather than learnt.
    pub window_advertised: bool,
    /// Requests that waited for the window's end because its budget was spent.
    pub budget_waits: u64,
}

impl AdvertisedLimit {
    /// The sustained rate: limit ÷ window, requests per second.
    pub fn per_second(&self) -> Option<f64> {
        Some(self.limit? as f64 / self.window?.as_secs_f64())
    }
}
