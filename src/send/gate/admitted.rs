//! What the server admitted: the send times of the requests it answered (not with a 429),
//! counted over the window a limit enforces when a 429 episode begins.

use std::time::Duration;

use tokio::time::Instant;

/// The send times of admitted requests, for the last `LOG_REACH` (at most `LOG_MAX` of
/// them: past 3,000/s the log holds less than its reach, and when a count asks for more
/// than it holds, the count is scaled from the span it does hold). Kept as nanoseconds
/// since the first request, 8 bytes each: 64 kB at most. (128 kB put the buffer in the
/// allocator's large-object class and added 2 MB to a loopback run's peak RSS.) Answers
/// come back out of order, so the log is not sorted; it is only searched when a 429
/// episode begins.
#[derive(Debug, Default)]
pub(super) struct AdmittedLog {
    pub(super) sent: std::collections::VecDeque<u64>,
    pub(super) newest: u64,
    /// When the first request was reserved: nothing was sent before.
    pub(super) origin: Option<Instant>,
}

pub(super) const LOG_REACH: Duration = Duration::from_millis(2500);
pub(super) const LOG_MAX: usize = 1 << 13;

impl AdmittedLog {
    pub(super) fn offset(&self, at: Instant) -> u64 {
        let since = self.origin.map_or(Duration::ZERO, |origin| {
            at.saturating_duration_since(origin)
        });
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(super) fn record(&mut self, sent: Instant) {
        let sent = self.offset(sent);
        self.newest = self.newest.max(sent);
        let horizon = self.newest.saturating_sub(LOG_REACH.as_nanos() as u64);
        while self.sent.len() >= LOG_MAX || self.sent.front().is_some_and(|&f| f < horizon) {
            self.sent.pop_front();
        }
        self.sent.push_back(sent);
    }

    /// Admitted requests sent in `[from, to]`.
    pub(super) fn count(&self, from: Instant, to: Instant) -> u64 {
        let (from, to) = (self.offset(from), self.offset(to));
        let counted = self
            .sent
            .iter()
            .filter(|&&sent| from <= sent && sent <= to)
            .count() as u64;
        // A full log that starts after `from` holds only part of the span: scale up.
        let oldest = self.sent.iter().min().copied().unwrap_or(from);
        if self.sent.len() < LOG_MAX || oldest <= from || to <= oldest {
            return counted;
        }
        let scaled = counted as f64 * (to - from) as f64 / (to - oldest) as f64;
        scaled.round() as u64
    }
}
