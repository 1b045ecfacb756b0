//! One 429 episode: the estimate of the server's limit it measured, and the pace after it
//! (a restart under the estimate, a concave rise to just under it, a plateau, then
//! probing above it, as CUBIC does).

use std::time::Duration;

use tokio::time::Instant;

/// After a 429 episode the pace restarts at this share of the estimate…
pub(super) const BETA: f64 = 0.97;
/// …or this share, when the estimate is the run's first (not confirmed yet: a fixed
/// window's boundary inside the measured second reads up to 11 % high without a second
/// episode).
pub(super) const BETA_FIRST: f64 = 0.9;
/// The pace is back at the estimate this long after the pause…
pub(super) const RISE: Duration = Duration::from_secs(10);
/// …just under it: a timer's lateness bunches two requests now and then, and at the
/// limit exactly a sliding window refuses the one too many.
pub(super) const LEVEL: f64 = 0.99;

/// One 429 episode: what the server admitted before it, and how the pace recovers.
#[derive(Debug)]
pub(super) struct Episode {
    /// When its first 429 came back: 429s for requests sent before this belong to it.
    pub(super) began: Instant,
    /// When the refused request was sent.
    pub(super) refused: Instant,
    /// The span measured, `[from, refused]`, and the admitted requests sent in it (answers
    /// that come after the 429 are added as they arrive).
    pub(super) from: Instant,
    pub(super) counted: u64,
    /// The time the count is divided by.
    pub(super) span: Duration,
    /// The pace the pool was sending at when the 429 came: the estimate never exceeds it.
    pub(super) rate_then: f64,
    /// For a quick episode, the admitted rate since the previous episode, pause included:
    /// the estimate never exceeds it.
    pub(super) sustained: Option<f64>,
    /// What the server admitted from the previous episode's refused request to this one,
    /// pause included, requests per second (any episode but the first).
    pub(super) cycle: Option<f64>,
    /// Admitted requests sent since `refused` (for the next episode's `cycle`).
    pub(super) admitted_since: u64,
    /// When the pause ends: the recovery curve starts here.
    pub(super) resume: Instant,
    /// The share of the estimate the pace restarts at.
    pub(super) restart: f64,
    /// CUBIC's K for this episode: the end of the plateau, where probing starts.
    pub(super) recovery: Duration,
}

impl Episode {
    /// What the server admitted in the window it enforces, requests per second: the
    /// count, never above the pace the pool was sending at.
    pub(super) fn counted_rate(&self) -> f64 {
        if self.counted == 0 {
            // Nothing went through: no measure, so halve the pace (multiplicative decrease).
            return self.rate_then / 2.0;
        }
        (self.counted as f64 / self.span.as_secs_f64()).min(self.rate_then)
    }

    /// The server's admitted rate, requests per second: the count, or after a quick
    /// episode what the server sustained since the previous one.
    pub(super) fn estimate(&self) -> f64 {
        match self.sustained {
            // Never below half the pace that was refused: a shard starved by the others
            // sustained next to nothing, and that is no measure of the limit.
            Some(sustained) => sustained.max(self.rate_then / 2.0).min(self.counted_rate()),
            None => self.counted_rate(),
        }
    }

    /// Where the pace levels off: the estimate, or after a quick episode just under the
    /// count (the limit lies between what was sustained and the pace that was refused).
    pub(super) fn plateau(&self) -> f64 {
        match self.sustained {
            Some(sustained) => (BETA * self.counted_rate()).max(sustained.min(self.counted_rate())),
            None => LEVEL * self.counted_rate(),
        }
    }

    /// The pace at `now` (after the pause): from `restart` × the estimate up to the
    /// plateau over `RISE` (concave), level until `recovery`, then probing above it
    /// (convex).
    pub(super) fn rate_at(&self, now: Instant) -> f64 {
        let target = self.plateau();
        let since = now.saturating_duration_since(self.resume).as_secs_f64();
        let start = self.restart * self.estimate();
        let rise = RISE.as_secs_f64();
        if since < rise {
            let x = 1.0 - since / rise;
            return target - (target - start) * x * x * x;
        }
        let recovery = self.recovery.as_secs_f64();
        if since < recovery {
            return target;
        }
        let y = (since - recovery) / recovery;
        target * (1.0 + (1.0 - BETA) * y * y * y)
    }
}
