//! The rate gate every attempt passes before it is sent: `--rate`, `--burst`, and the
//! pool-wide pause and the control law that 429s drive.
//!
//! Pacing is GCRA (the algorithm governor implements) in reservation form: each attempt
//! reserves the next slot on a shared schedule and sleeps until it. The theoretical arrival
//! time advances by one interval per reservation, never from the moment a sleeper actually
//! woke, so timer lateness does not accumulate. (governor checks at wake-up time instead;
//! at `--rate 100/s --burst 1` its pace measured 2% slow because every late wake-up pushed
//! the whole schedule back: see BENCHMARKS.md.) Slots are `interval` apart after any burst,
//! so a sliding second holds at most rate + burst requests.
//!
//! 429s: the server's limit is unknown (sliding or fixed window, token bucket), so the gate
//! measures what it admits. Every answer that is not a 429 is logged by its send time in
//! 10 ms buckets. A 429 moves a shared "not before" instant to its `Retry-After` for
//! everyone; the first 429 of an *episode* (for a request sent after the previous episode
//! began) also sets the pace: the server's admitted rate is estimated as the admitted
//! requests sent in the 2 s before the refused one (answers still in flight are added as
//! they come), and the pace restarts after the pause at `BETA` (97 %) of that estimate, not
//! at a fraction of `--rate`. 429s for requests sent before the episode began only extend
//! the pause: a burst of them from one window counts once. From there the pace grows
//! cubically (CUBIC's curve, normalised): it flattens out at the estimate `RECOVERY` (30 s)
//! after the pause, then probes above it, slowly at first, up to `--rate` if the server
//! allows. A probe that finds the limit again costs one pause every 40 s or so, so the long
//! run stays above 95 % of what the server admits. Never above `--rate`.
//!
//! Sleepers that reserved before a 429 wake, see the schedule changed, and queue again
//! behind the pause. A sleeper that wakes much later than timer jitter (a stalled thread)
//! queues again too, so a stall never turns into a burst.
//!
//! Time arithmetic on server input is capped: a pause never exceeds `MAX_PAUSE` (one day)
//! and every instant sum is checked, so no Retry-After can panic the gate.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::send::rate::Rate;

/// Wait used when a 429 comes without a usable Retry-After.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The longest pause a 429 can impose (longer Retry-Afters are cut to this).
pub const MAX_PAUSE: Duration = crate::net::client::MAX_RETRY_AFTER;
/// After a 429 episode the pace restarts at this share of the admitted rate measured.
const BETA: f64 = 0.97;
/// Time from the end of a pause until the pace is back at the measured rate (CUBIC's K).
const RECOVERY: Duration = Duration::from_secs(30);
/// The admitted rate is measured over this much time before the refused request…
const MEASURE_WINDOW: Duration = Duration::from_secs(2);
/// …but never over less than this (the limit counts per second).
const MIN_MEASURE: Duration = Duration::from_secs(1);
/// Below this many admitted requests in the window, the window starts at the end of the
/// last pause (see `Schedule::rate_limited`).
const FEW_ADMITTED: u64 = 10;
/// The lowest pace 429s can push the gate to, as a share of `--rate`.
const MIN_SHARE: f64 = 1e-4;

/// Admitted requests counted by send time in 10 ms buckets, for the last 2.56 s.
#[derive(Debug)]
struct AdmittedLog {
    /// Bucket number (10 ms since the origin) each slot holds, and its count.
    slots: Box<[(u64, u64)]>,
    origin: Option<Instant>,
}

const BUCKET: Duration = Duration::from_millis(10);
const BUCKETS: usize = 256;
/// Buckets in `MEASURE_WINDOW`.
const WINDOW_BUCKETS: u64 = 200;

impl AdmittedLog {
    fn new() -> AdmittedLog {
        AdmittedLog {
            slots: vec![(u64::MAX, 0); BUCKETS].into_boxed_slice(),
            origin: None,
        }
    }

    fn bucket(&self, at: Instant) -> u64 {
        let since = self.origin.map_or(Duration::ZERO, |origin| {
            at.saturating_duration_since(origin)
        });
        u64::try_from(since.as_millis() / BUCKET.as_millis()).unwrap_or(u64::MAX / 2)
    }

    fn record(&mut self, sent: Instant) {
        let bucket = self.bucket(sent);
        let slot = &mut self.slots[(bucket % BUCKETS as u64) as usize];
        if slot.0 == bucket {
            slot.1 += 1;
        } else if slot.0 == u64::MAX || slot.0 < bucket {
            *slot = (bucket, 1);
        }
        // Else an answer older than the log's reach: not needed any more.
    }

    /// Admitted requests sent in buckets `first..=last`.
    fn count(&self, first: u64, last: u64) -> u64 {
        (first..=last)
            .map(|bucket| self.slots[(bucket % BUCKETS as u64) as usize])
            .filter(|&(held, _)| (first..=last).contains(&held))
            .map(|(_, count)| count)
            .sum()
    }
}

/// One 429 episode: what the server admitted before it, and where the pace restarts.
#[derive(Debug)]
struct Episode {
    /// When its first 429 came back: 429s for requests sent before this belong to it.
    began: Instant,
    /// The buckets measured, and the admitted requests sent in them (answers that come
    /// after the 429 are added as they arrive).
    first_bucket: u64,
    last_bucket: u64,
    admitted: u64,
    /// The time the count is divided by.
    span: Duration,
    /// The pace the pool was sending at when the 429 came: the estimate never exceeds it.
    rate_then: f64,
    /// When the pause ends: the recovery curve starts here.
    resume: Instant,
}

impl Episode {
    /// The server's admitted rate, requests per second.
    fn admitted_rate(&self) -> f64 {
        if self.admitted == 0 {
            // Nothing went through: no measure, so halve the pace (multiplicative decrease).
            return self.rate_then / 2.0;
        }
        (self.admitted as f64 / self.span.as_secs_f64()).min(self.rate_then)
    }
}

/// The shared schedule. Pure: every method takes `now`, so it is tested without a clock.
#[derive(Debug)]
pub struct Schedule {
    /// `--rate`'s interval: the pace never gets shorter than this.
    interval: Duration,
    /// `--rate` in requests per second.
    ceiling: f64,
    burst: u32,
    /// When the next request would go if requests were perfectly spaced (GCRA's TAT).
    next: Option<Instant>,
    /// No request starts before this (a 429's Retry-After).
    not_before: Option<Instant>,
    /// Changes whenever a 429 reshapes the schedule; a sleeper holding an older epoch
    /// must reserve again.
    epoch: u64,
    admitted: AdmittedLog,
    /// The latest 429 episode, which sets the pace.
    episode: Option<Episode>,
}

/// `at + by`, or `at` if that overflowed (`by` is capped by the callers anyway).
fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by.min(MAX_PAUSE)).unwrap_or(at)
}

impl Schedule {
    pub fn new(rate: Rate, burst: u32) -> Schedule {
        Schedule {
            interval: rate.interval(),
            ceiling: rate.per_second(),
            burst: burst.max(1),
            next: None,
            not_before: None,
            epoch: 0,
            admitted: AdmittedLog::new(),
            episode: None,
        }
    }

    /// The pace at `now`, in requests per second: `--rate`, or after a 429 episode the
    /// recovery curve through the measured admitted rate, never above `--rate`.
    pub fn rate_at(&self, now: Instant) -> f64 {
        let Some(episode) = &self.episode else {
            return self.ceiling;
        };
        let target = episode.admitted_rate();
        let since = now.saturating_duration_since(episode.resume).as_secs_f64();
        let x = 1.0 - since / RECOVERY.as_secs_f64();
        let rate = target * (1.0 - (1.0 - BETA) * x * x * x);
        if rate.is_nan() {
            return self.ceiling;
        }
        rate.clamp(self.ceiling * MIN_SHARE, self.ceiling)
    }

    fn interval_at(&self, now: Instant) -> Duration {
        let rate = self.rate_at(now);
        if rate >= self.ceiling {
            return self.interval;
        }
        Duration::try_from_secs_f64(1.0 / rate)
            .unwrap_or(MAX_PAUSE)
            .clamp(self.interval, MAX_PAUSE)
    }

    /// Reserves the next slot for a request arriving at `now`: when it may start, and the
    /// epoch it was reserved in.
    pub fn reserve(&mut self, now: Instant) -> (Instant, u64) {
        self.admitted.origin.get_or_insert(now);
        let interval = self.interval_at(now);
        // GCRA: up to `burst` requests may run ahead of the theoretical time.
        let tolerance = interval
            .checked_mul(self.burst - 1)
            .unwrap_or(MAX_PAUSE)
            .min(MAX_PAUSE);
        let next = self.next.unwrap_or(now);
        let earliest = next.checked_sub(tolerance).unwrap_or(next);
        let mut slot = earliest.max(now);
        if let Some(not_before) = self.not_before {
            slot = slot.max(not_before);
        }
        self.next = Some(later(next.max(slot), interval));
        (slot, self.epoch)
    }

    /// The server answered (anything but a 429) a request sent at `sent`: it was admitted.
    pub fn admitted(&mut self, sent: Instant) {
        self.admitted.record(sent);
        if let Some(episode) = &mut self.episode {
            let bucket = self.admitted.bucket(sent);
            if sent < episode.began
                && (episode.first_bucket..=episode.last_bucket).contains(&bucket)
            {
                // Admitted before the episode but answered after its first 429.
                episode.admitted += 1;
            }
        }
    }

    /// A 429 answered at `now` to a request sent at `sent`: nobody starts before
    /// `now + wait`; the first 429 of an episode sets the pace (see the module docs).
    pub fn rate_limited(&mut self, now: Instant, sent: Instant, wait: Duration) {
        let until = later(now, wait);
        let not_before = self.not_before.map_or(until, |at| at.max(until));
        let same_episode = self
            .episode
            .as_ref()
            .is_some_and(|episode| sent < episode.began);
        if same_episode {
            if let Some(episode) = &mut self.episode {
                episode.resume = episode.resume.max(not_before);
            }
            if Some(not_before) != self.not_before {
                self.not_before = Some(not_before);
                self.next = Some(self.next.map_or(not_before, |next| next.max(not_before)));
                self.epoch += 1;
            }
            return;
        }
        let rate_then = self.rate_at(now);
        let last_bucket = self.admitted.bucket(sent);
        let mut first_bucket = last_bucket.saturating_sub(WINDOW_BUCKETS - 1);
        // A window holding only a handful of admitted requests is mostly quantisation: at
        // 1/s, a window half taken by the last pause read as 0.5/s. Then measure from the
        // end of that pause. With more in the window, keep the whole 2 s: after a pause a
        // token bucket lets its stored burst through at once, and a window starting at
        // the pause's end would take that burst for the sustained rate.
        if let Some(previous) = &self.episode
            && self.admitted.count(first_bucket, last_bucket) < FEW_ADMITTED
        {
            first_bucket = first_bucket.max(self.admitted.bucket(previous.resume).min(last_bucket));
        }
        let measured = BUCKET * u32::try_from(last_bucket - first_bucket + 1).unwrap_or(0);
        self.episode = Some(Episode {
            began: now,
            first_bucket,
            last_bucket,
            admitted: self.admitted.count(first_bucket, last_bucket),
            span: measured.clamp(MIN_MEASURE, MEASURE_WINDOW),
            rate_then,
            resume: not_before,
        });
        self.not_before = Some(not_before);
        // Restart the schedule after the pause, at the new pace.
        self.next = Some(not_before);
        self.epoch += 1;
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The server's admitted rate as the latest 429 episode measured it; `None` before any
    /// 429.
    pub fn admitted_per_second(&self) -> Option<f64> {
        self.episode.as_ref().map(Episode::admitted_rate)
    }
}

/// The `--rate` to suggest when the server admitted `per_second`: what the gate paces at
/// right after a 429 episode, in the unit that keeps it a whole number.
pub fn suggested_rate(per_second: f64) -> Rate {
    let target = (per_second * BETA).max(0.0);
    let (requests, per) = if target >= 1.0 {
        (target, 1)
    } else if target * 60.0 >= 1.0 {
        (target * 60.0, 60)
    } else {
        (target * 3600.0, 3600)
    };
    Rate {
        requests: (requests.floor() as u32).clamp(1, 1_000_000_000),
        per: Duration::from_secs(per),
    }
}

/// The summary's line about the server's limit, e.g. "the server admitted about 48 req/s;
/// consider --rate 46/s".
pub fn limit_hint(per_second: f64) -> String {
    let about = if per_second >= 10.0 {
        format!("{per_second:.0}")
    } else {
        format!("{per_second:.2}")
    };
    format!(
        "the server admitted about {about} req/s; consider --rate {}",
        suggested_rate(per_second)
    )
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

    /// A 429 answered now to a request sent at `sent`: everyone waits `wait` (at most
    /// `MAX_PAUSE`), and the first 429 of an episode sets the pace.
    pub fn rate_limited(&self, sent: Instant, wait: Duration) {
        self.schedule().rate_limited(Instant::now(), sent, wait);
    }

    /// Any answer but a 429, to a request sent at `sent`: the server admitted it.
    pub fn admitted(&self, sent: Instant) {
        self.schedule().admitted(sent);
    }

    /// The server's admitted rate measured at the latest 429 episode, if there was one.
    pub fn admitted_per_second(&self) -> Option<f64> {
        self.schedule().admitted_per_second()
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

    /// Sends at `rate` per second from `from` for `seconds`, every request admitted and
    /// answered at once; returns when the next one would go.
    fn admit_steadily(s: &mut Schedule, from: Instant, rate: u64, seconds: u64) -> Instant {
        let gap = Duration::from_secs(1) / u32::try_from(rate).unwrap();
        let mut at = from;
        for _ in 0..rate * seconds {
            s.admitted(at);
            at += gap;
        }
        at
    }

    #[test]
    fn a_429_pauses_everyone_then_paces_just_under_what_the_server_admitted() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        let (_, epoch) = s.reserve(t0);
        // The server admitted 50/s for 3 s, then refused.
        let now = admit_steadily(&mut s, t0, 50, 3);
        s.rate_limited(now, now, Duration::from_secs(1));
        assert_ne!(s.epoch(), epoch, "sleepers from before must queue again");
        let first = s.reserve(now).0 - now;
        let second = s.reserve(now).0 - now;
        assert_eq!(
            first,
            Duration::from_secs(1),
            "nobody goes during the pause"
        );
        let estimate = s.admitted_per_second().unwrap();
        assert!((49.0..=50.5).contains(&estimate), "{estimate}");
        // Right after the pause: 97 % of it, not a fraction of --rate.
        let gap = (second - first).as_secs_f64();
        assert!((1.0 / gap - 0.97 * estimate).abs() < 0.5, "{gap}");
    }

    #[test]
    fn the_time_of_the_last_pause_is_not_measured_as_refusals() {
        let t0 = Instant::now();
        let mut s = schedule("2/s", 1);
        s.reserve(t0);
        // A server admitting 1/s (t0, t0+1 s, t0+2 s), refusing at t0+2.5 s: 1/s.
        admit_steadily(&mut s, t0, 1, 3);
        let first = t0 + ms(2500);
        s.rate_limited(first, first, Duration::from_secs(1));
        assert!((0.9..=1.1).contains(&s.admitted_per_second().unwrap()));
        // After the 1 s pause: one admitted at once, the next refused 1 s later. The 2 s
        // window before it is half pause: counted whole, it would read 0.5/s.
        let resumed = first + Duration::from_secs(1);
        s.admitted(resumed);
        let refused = resumed + Duration::from_secs(1);
        s.rate_limited(refused, refused, Duration::from_secs(1));
        let estimate = s.admitted_per_second().unwrap();
        assert!((0.9..=1.1).contains(&estimate), "{estimate}");
    }

    #[test]
    fn a_burst_of_429s_from_one_window_is_one_episode() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        s.reserve(t0);
        let now = admit_steadily(&mut s, t0, 50, 2);
        // Ten requests sent before the first 429 came back, all refused.
        for i in 0..10 {
            s.rate_limited(now + ms(i), now - ms(10 - i), Duration::from_secs(1));
        }
        let resume = now + ms(9) + Duration::from_secs(1);
        let rate = s.rate_at(resume);
        assert!(
            rate > 0.95 * 50.0 && rate < 50.0,
            "cut once, not ten times: {rate}"
        );
    }

    #[test]
    fn answers_still_in_flight_at_the_429_count_toward_the_estimate() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        s.reserve(t0);
        let gap = ms(20);
        let mut at = t0;
        let mut late = Vec::new();
        for i in 0..100 {
            // The last five were answered only after the 429.
            if i < 95 {
                s.admitted(at);
            } else {
                late.push(at);
            }
            at += gap;
        }
        s.rate_limited(at, at, Duration::from_secs(1));
        let before = s.admitted_per_second().unwrap();
        for sent in late {
            s.admitted(sent);
        }
        let after = s.admitted_per_second().unwrap();
        assert!(after > before, "{before} -> {after}");
        assert!((49.0..=50.5).contains(&after), "{after}");
    }

    #[test]
    fn the_pace_recovers_to_the_estimate_then_probes_up_to_the_ceiling_never_above() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        s.reserve(t0);
        let now = admit_steadily(&mut s, t0, 50, 2);
        s.rate_limited(now, now, Duration::from_secs(1));
        let resume = now + Duration::from_secs(1);
        let estimate = s.admitted_per_second().unwrap();
        assert!((49.0..=50.5).contains(&estimate), "{estimate}");
        let at = |secs: u64| s.rate_at(resume + Duration::from_secs(secs));
        assert!(
            at(0) >= 0.96 * estimate,
            "the seconds after the pause keep their allowance"
        );
        assert!(at(10) > at(0) && at(30) > at(10), "grows back");
        assert!(
            (at(30) - estimate).abs() < 1e-9,
            "back at the estimate after RECOVERY"
        );
        assert!(at(45) < estimate + 1.0, "probes slowly just past it");
        assert!(
            at(120) > 60.0,
            "probes further when the server keeps admitting"
        );
        assert_eq!(at(1000), 100.0, "up to --rate, never above");
    }

    #[test]
    fn an_episode_with_nothing_admitted_halves_the_pace() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 1);
        s.reserve(t0);
        let now = t0 + Duration::from_secs(3);
        s.rate_limited(now, now, Duration::ZERO);
        assert_eq!(s.admitted_per_second(), Some(50.0));
        // A new 429 after the pause (sent after the episode began) is a new episode.
        let rate_then = s.rate_at(now + ms(10));
        s.rate_limited(now + ms(10), now + ms(5), Duration::ZERO);
        assert_eq!(s.admitted_per_second(), Some(rate_then / 2.0));
        assert!((24.0..25.0).contains(&(rate_then / 2.0)), "{rate_then}");
    }

    #[test]
    fn a_huge_retry_after_is_capped_and_never_panics() {
        let t0 = Instant::now();
        let mut s = schedule("100/s", 10_000);
        s.reserve(t0);
        s.rate_limited(t0, t0, Duration::MAX);
        s.rate_limited(t0, t0 - ms(1), Duration::from_secs(u64::MAX));
        let (slot, _) = s.reserve(t0);
        assert_eq!(slot - t0, MAX_PAUSE);
        for _ in 0..1000 {
            s.reserve(t0);
        }
        assert!(s.rate_at(t0) > 0.0);
    }

    #[test]
    fn the_suggested_rate_is_a_whole_number_in_a_fitting_unit() {
        assert_eq!(suggested_rate(50.0).to_string(), "48/s");
        assert_eq!(suggested_rate(0.5).to_string(), "29/m");
        assert_eq!(suggested_rate(0.001).to_string(), "3/h");
        assert_eq!(suggested_rate(0.0).to_string(), "1/h");
        assert_eq!(
            limit_hint(49.6),
            "the server admitted about 50 req/s; consider --rate 48/s"
        );
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
        gate.rate_limited(Instant::now(), Duration::from_secs(5));
        let went_at = waiter.await.unwrap();
        assert!(
            went_at >= paused_at + Duration::from_secs(5),
            "the waiter respected the pause"
        );
    }
}
