//! The circuit breaker: stop a run whose server is unreachable or down, within seconds,
//! instead of spending every attempt of every batch on it.
//!
//! Constraint kept here: only answers that say "the server is not there or not well"
//! count (no answer at all, or a 5xx); any success closes the breaker again. A flaky but
//! working server (every other request a 503) must never trip it: it trips only after a
//! run of failures with no success in between that is both long (`MAX_CONSECUTIVE`) and
//! lasting (`MIN_SPAN`), or after `MAX_SPAN` with no success at all, or after
//! `MAX_BURST` failures in a row however fast they came. Pure: every method
//! takes `now`, so it is tested without a clock.

use std::time::Duration;

use tokio::time::Instant;

/// Failures in a row, with no success between, that trip the breaker (with `MIN_SPAN`).
///
/// Not 10: at a 50 % failure rate, a run of 10 failures comes once in about a thousand
/// answers, and an unblock of a few hundred records against such a server tripped it
/// (seen by hand). A run of 20 comes once in a million, and a dead server still
/// gathers 20 in seconds.
pub const MAX_CONSECUTIVE: u32 = 20;
/// How long the failures must have gone on for `MAX_CONSECUTIVE` to trip it: a burst of
/// failures from requests that were all in flight at one moment is one event, not ten.
pub const MIN_SPAN: Duration = Duration::from_secs(3);
/// With no success for this long, a second failure trips it whatever the count.
pub const MAX_SPAN: Duration = Duration::from_secs(30);
/// So many failures in a row trip it however fast they came (a refused connection fails
/// in microseconds: 200 of them with no success is no flaky server). Above the largest
/// burst of requests in flight at once under the default `--max-concurrency` (64).
pub const MAX_BURST: u32 = 200;

#[derive(Debug, Default)]
pub struct Breaker {
    consecutive: u32,
    /// When the current run of failures began.
    since: Option<Instant>,
}

impl Breaker {
    /// A success: the server is there.
    pub fn success(&mut self) {
        self.consecutive = 0;
        self.since = None;
    }

    /// A server fault (no answer, or a 5xx) at `now`; true when the run should stop.
    pub fn failure(&mut self, now: Instant) -> bool {
        self.consecutive = self.consecutive.saturating_add(1);
        let since = *self.since.get_or_insert(now);
        let span = now.saturating_duration_since(since);
        (self.consecutive >= MAX_CONSECUTIVE && span >= MIN_SPAN)
            || (self.consecutive >= 2 && span >= MAX_SPAN)
            || self.consecutive >= MAX_BURST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_server_trips_it_after_a_lasting_run_of_failures() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        // Many failures at once (everything in flight failing together) are not enough.
        for _ in 0..MAX_CONSECUTIVE {
            assert!(!breaker.failure(start));
        }
        assert!(breaker.failure(start + MIN_SPAN));
    }

    #[test]
    fn an_unlucky_run_of_a_flaky_server_does_not_trip_it() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        // Fifteen failures in a row over 7 s, as a server failing half its answers gives
        // now and then, then a success.
        for i in 0..15u64 {
            assert!(
                !breaker.failure(start + Duration::from_millis(i * 500)),
                "{i}"
            );
        }
        breaker.success();
        assert!(!breaker.failure(start + Duration::from_secs(8)));
    }

    #[test]
    fn any_success_closes_it_again() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        for i in 0..100u32 {
            let now = start + Duration::from_millis(u64::from(i) * 500);
            // A server that fails nine times in ten but answers in between stays usable.
            if i % 10 == 9 {
                breaker.success();
            } else {
                assert!(!breaker.failure(now), "tripped at {i}");
            }
        }
    }

    #[test]
    fn a_long_run_of_instant_failures_trips_it() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        for _ in 1..MAX_BURST {
            assert!(!breaker.failure(start));
        }
        assert!(breaker.failure(start));
    }

    #[test]
    fn slow_failures_trip_it_after_the_long_span() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        assert!(!breaker.failure(start));
        assert!(!breaker.failure(start + Duration::from_secs(29)));
        assert!(breaker.failure(start + MAX_SPAN));
    }
}
