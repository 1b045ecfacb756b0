//! The rate gate every attempt passes before it is sent: `--rate`, `--burst`, and the
//! pool-wide pause and slowdown that 429s cause.
//!
//! Pacing is GCRA (the algorithm governor implements) in reservation form: each attempt
//! reserves the next slot on a shared schedule and sleeps until it. The theoretical arrival
//! time advances by one interval per reservation, never from the moment a sleeper actually
//! woke, so timer lateness does not accumulate. (governor checks at wake-up time instead;
//! at `--rate 100/s --burst 1` its pace measured 2% slow because every late wake-up pushed
//! the whole schedule back: see BENCHMARKS.md.) Slots are `interval` apart after any burst,
//! so a sliding second holds at most rate + burst requests.
//!
//! A 429 moves a shared "not before" instant forward for everyone and doubles a slowdown
//! factor (the schedule's interval grows); each success shrinks it again by 5%, never below
//! 1 (never above `--rate`). Sleepers that reserved before a 429 wake, see the schedule
//! changed, and queue again behind the pause. A sleeper that wakes much later than timer
//! jitter (a stalled thread) queues again too, so a stall never turns into a burst.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::rate::Rate;

/// Wait used when a 429 comes without a usable Retry-After.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Highest slowdown factor 429s can push the pacing to (rate / 64).
const MAX_SLOWDOWN: f64 = 64.0;

/// The shared schedule. Pure: every method takes `now`, so it is tested without a clock.
#[derive(Debug)]
pub struct Schedule {
    interval: Duration,
    burst: u32,
    /// When the next request would go if requests were perfectly spaced (GCRA's TAT).
    next: Option<Instant>,
    /// No request starts before this (a 429's Retry-After).
    not_before: Option<Instant>,
    /// ≥ 1: the effective interval is `interval × slowdown`.
    slowdown: f64,
    /// Changes whenever a 429 reshapes the schedule; a sleeper holding an older epoch
    /// must reserve again.
    epoch: u64,
}

impl Schedule {
    pub fn new(rate: Rate, burst: u32) -> Schedule {
        Schedule {
            interval: rate.interval(),
            burst: burst.max(1),
            next: None,
            not_before: None,
            slowdown: 1.0,
            epoch: 0,
        }
    }

    fn current_interval(&self) -> Duration {
        self.interval.mul_f64(self.slowdown)
    }

    /// Reserves the next slot for a request arriving at `now`: when it may start, and the
    /// epoch it was reserved in.
    pub fn reserve(&mut self, now: Instant) -> (Instant, u64) {
        let interval = self.current_interval();
        // GCRA: up to `burst` requests may run ahead of the theoretical time.
        let tolerance = interval * (self.burst - 1);
        let next = self.next.unwrap_or(now);
        let earliest = next.checked_sub(tolerance).unwrap_or(next);
        let mut slot = earliest.max(now);
        if let Some(not_before) = self.not_before {
            slot = slot.max(not_before);
        }
        self.next = Some(next.max(slot) + interval);
        (slot, self.epoch)
    }

    /// A 429: nobody starts before `now + wait`, and the pace halves.
    pub fn rate_limited(&mut self, now: Instant, wait: Duration) {
        let until = now + wait;
        self.not_before = Some(self.not_before.map_or(until, |at| at.max(until)));
        self.slowdown = (self.slowdown * 2.0).min(MAX_SLOWDOWN);
        // Restart the schedule after the pause, at the slower pace.
        self.next = Some(until);
        self.epoch += 1;
    }

    /// A request went through: the pace recovers slowly.
    pub fn succeeded(&mut self) {
        if self.slowdown > 1.0 {
            self.slowdown = (self.slowdown * 0.95).max(1.0);
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn slowdown(&self) -> f64 {
        self.slowdown
    }
}

/// The schedule, shared by every worker of the pool.
pub struct Gate {
    schedule: Mutex<Schedule>,
    /// How late a sleeper may wake and still take its slot: half an interval keeps any
    /// second within rate + burst; never below a few timer ticks, or at high rates every
    /// wake-up would count as late and queue again forever.
    max_lateness: Duration,
}

/// The floor of `Gate::max_lateness`: tokio's timer has millisecond ticks.
const TIMER_SLACK: Duration = Duration::from_millis(3);

impl Gate {
    pub fn new(rate: Rate, burst: u32) -> Gate {
        Gate {
            schedule: Mutex::new(Schedule::new(rate, burst)),
            max_lateness: (rate.interval() / 2).max(TIMER_SLACK),
        }
    }

    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule> {
        // The lock is never held across a panic point that could poison it; recover anyway.
        self.schedule
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until this attempt may start.
    pub async fn wait_turn(&self) {
        loop {
            let now = Instant::now();
            let (slot, epoch) = self.schedule().reserve(now);
            if slot <= now {
                // A slot already due: go now. (A timer even for "now" would wait for the next
                // tick of tokio's millisecond wheel.)
                return;
            }
            tokio::time::sleep_until(slot).await;
            // A 429 while we slept: our slot may fall inside the pause; queue again.
            if self.schedule().epoch() != epoch {
                continue;
            }
            // Woken far later than timer jitter (the thread was stalled): going now would
            // bunch with the slots after ours and break rate + burst in some second, so
            // queue again instead.
            if Instant::now() <= slot + self.max_lateness {
                return;
            }
        }
    }

    /// A 429 answered now: everyone waits `wait`, and the pace halves.
    pub fn rate_limited(&self, wait: Duration) {
        self.schedule().rate_limited(Instant::now(), wait);
    }

    pub fn succeeded(&self) {
        self.schedule().succeeded();
    }

    /// The current slowdown factor (1 = full `--rate`).
    pub fn slowdown(&self) -> f64 {
        self.schedule().slowdown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn schedule(rate: &str, burst: u32) -> Schedule {
        Schedule::new(rate.parse().unwrap(), burst)
    }

    #[test]
    fn burst_one_spaces_requests_evenly() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        let slots: Vec<_> = (0..4).map(|_| s.reserve(t0).0 - t0).collect();
        assert_eq!(slots, [ms(0), ms(10), ms(20), ms(30)]);
    }

    #[test]
    fn burst_lets_that_many_go_at_once_then_paces() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 3);
        let slots: Vec<_> = (0..5).map(|_| s.reserve(t0).0 - t0).collect();
        assert_eq!(slots, [ms(0), ms(0), ms(0), ms(10), ms(20)]);
    }

    #[test]
    fn late_wake_ups_do_not_slow_the_long_run_rate() {
        // Each request arrives 3 ms after its slot (a late timer): the schedule keeps its
        // own time, so 1,000 requests still take 10 s at 100/s, not 13 s.
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        let mut arrival = t0;
        let mut last = t0;
        for _ in 0..1000 {
            let (slot, _) = s.reserve(arrival);
            last = slot.max(arrival);
            arrival = slot + ms(3);
        }
        let took = last - t0;
        assert!(took <= ms(10_000), "{took:?}");
        assert!(took >= ms(9_980), "{took:?}");
    }

    #[test]
    fn idle_time_is_not_banked_beyond_the_burst() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 2);
        s.reserve(t0);
        let later = t0 + Duration::from_secs(60);
        let slots: Vec<_> = (0..4).map(|_| s.reserve(later).0 - later).collect();
        assert_eq!(slots, [ms(0), ms(0), ms(10), ms(20)]);
    }

    #[test]
    fn a_429_pauses_everyone_and_slows_the_pace_until_successes_restore_it() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        let (_, epoch) = s.reserve(t0);
        s.rate_limited(t0, Duration::from_secs(2));
        assert_ne!(s.epoch(), epoch, "sleepers from before must queue again");
        let first = s.reserve(t0).0 - t0;
        let second = s.reserve(t0).0 - t0;
        assert_eq!(first, Duration::from_secs(2));
        assert_eq!(second - first, ms(20), "half the rate after one 429");
        for _ in 0..100 {
            s.succeeded();
        }
        assert_eq!(s.slowdown(), 1.0, "recovers fully, never above --rate");
    }

    #[test]
    fn repeated_429s_slow_down_to_a_floor() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        for _ in 0..20 {
            s.rate_limited(t0, Duration::ZERO);
        }
        assert_eq!(s.slowdown(), MAX_SLOWDOWN);
    }

    #[test]
    fn allowed_lateness_is_half_an_interval_but_never_below_the_timer_slack() {
        assert_eq!(Gate::new("10/s".parse().unwrap(), 1).max_lateness, ms(50));
        assert_eq!(
            Gate::new("1000/s".parse().unwrap(), 1).max_lateness,
            TIMER_SLACK
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_queue_behind_a_pause_that_starts_while_they_sleep() {
        let gate = std::sync::Arc::new(Gate::new("10/s".parse().unwrap(), 1));
        gate.wait_turn().await;
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move {
                gate.wait_turn().await;
                Instant::now()
            }
        });
        tokio::task::yield_now().await;
        let paused_at = Instant::now();
        gate.rate_limited(Duration::from_secs(5));
        let went_at = waiter.await.unwrap();
        assert!(
            went_at >= paused_at + Duration::from_secs(5),
            "the waiter respected the pause"
        );
    }
}
