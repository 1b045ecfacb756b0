//! The imitation's rate limit (`blockade mock --rate-limit R --limit-kind K`): three shapes a
//! real per-account limit takes, each a small pure type that decides with an explicit `now`.
//!
//! - `sliding`: at most R requests admitted in any 1 s window (a log of admission times);
//! - `fixed`: at most R per whole second, the count resetting on each second;
//! - `bucket`: a token bucket refilled at R per second holding at most `--limit-burst`
//!   tokens (default R), starting full.
//!
//! Only admitted requests count, as most servers do. A refusal says how long until the
//! limit admits again; the 429's `Retry-After` is that, in whole seconds rounded up, as a
//! real server would send it.
//!
//! `--ratelimit-headers github|draft|policy` makes every answer (429s included) say the
//! limit in one of the three header families a client may meet (`LimitState::headers`):
//! the limit R per 1 s window, what remains of it when the request was counted, and when
//! that resets (rounded up to whole seconds, as the families write it): for a fixed window
//! its end, for a sliding window when its oldest admission leaves, for a bucket when it is
//! full again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SECOND: Duration = Duration::from_secs(1);

/// `--limit-kind`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LimitKind {
    /// At most R requests in any 1 s window.
    #[default]
    Sliding,
    /// At most R requests per whole second (the count resets each second).
    Fixed,
    /// A token bucket: R per second, up to --limit-burst at once.
    Bucket,
}

/// Which rate-limit headers the imitation sends (`--ratelimit-headers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RateLimitHeaders {
    /// GitHub's X-RateLimit-Limit, -Remaining, -Reset (Unix seconds), -Used, -Resource.
    Github,
    /// The IETF draft's RateLimit-Limit, -Remaining, -Reset (seconds from now).
    Draft,
    /// The draft's structured fields: RateLimit-Policy: "default";q=R;w=1 and
    /// RateLimit: "default";r=..;t=...
    Policy,
}

/// What the limit looks like when a request is counted (or refused): for the headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LimitState {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Until the quota resets (see the module docs for each shape).
    pub(crate) reset: Duration,
}

impl LimitState {
    /// The headers of `family` saying this state, `now` being the wall clock.
    pub(crate) fn headers(
        &self,
        family: RateLimitHeaders,
        now: std::time::SystemTime,
    ) -> Vec<(&'static str, String)> {
        let reset_secs = self.reset.as_secs() + u64::from(self.reset.subsec_nanos() > 0);
        let (limit, remaining) = (self.limit, self.remaining);
        match family {
            RateLimitHeaders::Github => {
                let at = now + self.reset;
                let epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                let epoch = epoch.as_secs() + u64::from(epoch.subsec_nanos() > 0);
                vec![
                    ("x-ratelimit-limit", limit.to_string()),
                    ("x-ratelimit-remaining", remaining.to_string()),
                    ("x-ratelimit-reset", epoch.to_string()),
                    ("x-ratelimit-used", (limit - remaining).to_string()),
                    ("x-ratelimit-resource", "core".to_owned()),
                ]
            }
            RateLimitHeaders::Draft => vec![
                ("ratelimit-limit", limit.to_string()),
                ("ratelimit-remaining", remaining.to_string()),
                ("ratelimit-reset", reset_secs.to_string()),
            ],
            RateLimitHeaders::Policy => vec![
                ("ratelimit-policy", format!("\"default\";q={limit};w=1")),
                (
                    "ratelimit",
                    format!("\"default\";r={remaining};t={reset_secs}"),
                ),
            ],
        }
    }
}

/// At most `limit` admissions in any window of one second.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: u32,
    admitted: VecDeque<Instant>,
}

impl SlidingWindow {
    pub(crate) fn new(limit: u32) -> Self {
        SlidingWindow {
            limit: limit.max(1),
            admitted: VecDeque::new(),
        }
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&oldest) = self.admitted.front() {
            if now.saturating_duration_since(oldest) >= SECOND {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        if self.admitted.len() < self.limit as usize {
            self.admitted.push_back(now);
            return Ok(());
        }
        // Full: the oldest admission leaves the window one second after it came.
        let oldest = self.admitted.front().copied().unwrap_or(now);
        Err(SECOND.saturating_sub(now.saturating_duration_since(oldest)))
    }

    fn state(&self, now: Instant) -> LimitState {
        let live = |at: &&Instant| now.saturating_duration_since(**at) < SECOND;
        let used = self.admitted.iter().filter(live).count() as u32;
        let oldest = self.admitted.iter().find(live);
        LimitState {
            limit: self.limit,
            remaining: self.limit.saturating_sub(used),
            reset: oldest.map_or(Duration::ZERO, |&oldest| {
                SECOND.saturating_sub(now.saturating_duration_since(oldest))
            }),
        }
    }
}

/// At most `limit` admissions per whole second counted from `origin`.
#[derive(Debug)]
pub(crate) struct FixedWindow {
    limit: u32,
    origin: Instant,
    window: u64,
    count: u32,
}

impl FixedWindow {
    pub(crate) fn new(limit: u32, origin: Instant) -> Self {
        FixedWindow {
            limit: limit.max(1),
            origin,
            window: 0,
            count: 0,
        }
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        let since = now.saturating_duration_since(self.origin);
        let window = since.as_secs();
        if window != self.window {
            self.window = window;
            self.count = 0;
        }
        if self.count < self.limit {
            self.count += 1;
            return Ok(());
        }
        // The count resets at the next whole second.
        Err(SECOND.saturating_sub(Duration::from_nanos(u64::from(since.subsec_nanos()))))
    }

    fn state(&self, now: Instant) -> LimitState {
        let since = now.saturating_duration_since(self.origin);
        let used = if since.as_secs() == self.window {
            self.count
        } else {
            0
        };
        LimitState {
            limit: self.limit,
            remaining: self.limit.saturating_sub(used),
            reset: SECOND.saturating_sub(Duration::from_nanos(u64::from(since.subsec_nanos()))),
        }
    }
}

/// A token bucket: `rate` tokens a second, at most `capacity`, one per admission.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: u32, capacity: u32, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        TokenBucket {
            rate: f64::from(rate.max(1)),
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / self.rate;
        Err(Duration::try_from_secs_f64(wait).unwrap_or(SECOND))
    }

    fn state(&self, now: Instant) -> LimitState {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        let tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        let full = (self.capacity - tokens) / self.rate;
        LimitState {
            limit: self.rate as u32,
            remaining: tokens.floor() as u32,
            reset: Duration::try_from_secs_f64(full).unwrap_or(SECOND),
        }
    }
}

#[derive(Debug)]
enum Shape {
    Sliding(SlidingWindow),
    Fixed(FixedWindow),
    Bucket(TokenBucket),
}

/// The limit one imitation enforces, shared by its handlers.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: u32,
    shape: Mutex<Shape>,
}

impl Limiter {
    /// `burst` is the bucket's capacity (default: `limit`); the windows ignore it.
    pub(crate) fn new(kind: LimitKind, limit: u32, burst: Option<u32>, now: Instant) -> Self {
        let shape = match kind {
            LimitKind::Sliding => Shape::Sliding(SlidingWindow::new(limit)),
            LimitKind::Fixed => Shape::Fixed(FixedWindow::new(limit, now)),
            LimitKind::Bucket => {
                Shape::Bucket(TokenBucket::new(limit, burst.unwrap_or(limit), now))
            }
        };
        Limiter {
            limit,
            shape: Mutex::new(shape),
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts a request arriving `now`; `Err(wait)` when refused, with the time until the
    /// limit admits again.
    pub(crate) fn admit(&self, now: Instant) -> Result<(), Duration> {
        self.admit_telling(now).0
    }

    /// The limit's state at `now`, counting nothing.
    pub(crate) fn state(&self, now: Instant) -> LimitState {
        let shape = self
            .shape
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*shape {
            Shape::Sliding(s) => s.state(now),
            Shape::Fixed(s) => s.state(now),
            Shape::Bucket(s) => s.state(now),
        }
    }

    /// [`Limiter::admit`], and the limit's state right after (for the headers).
    pub(crate) fn admit_telling(&self, now: Instant) -> (Result<(), Duration>, LimitState) {
        let mut shape = self
            .shape
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &mut *shape {
            Shape::Sliding(s) => (s.admit(now), s.state(now)),
            Shape::Fixed(s) => (s.admit(now), s.state(now)),
            Shape::Bucket(s) => (s.admit(now), s.state(now)),
        }
    }
}

/// The `Retry-After` seconds for a refusal: the wait rounded up to whole seconds, at least
/// one, and at least `floor` (`--retry-after`).
pub(crate) fn retry_after_secs(wait: Duration, floor: u64) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn sliding_admits_the_limit_in_any_second_and_says_when_the_oldest_leaves() {
        let t0 = Instant::now();
        let mut s = SlidingWindow::new(3);
        assert!(s.admit(t0).is_ok());
        assert!(s.admit(t0 + ms(400)).is_ok());
        assert!(s.admit(t0 + ms(800)).is_ok());
        assert_eq!(s.admit(t0 + ms(900)), Err(ms(100)));
        // The refusal did not count: at 1 s the first admission has left.
        assert!(s.admit(t0 + ms(1000)).is_ok());
        assert_eq!(s.admit(t0 + ms(1100)), Err(ms(300)));
        assert!(s.admit(t0 + ms(1400)).is_ok());
    }

    #[test]
    fn sliding_never_admits_more_than_the_limit_in_a_second_window() {
        let t0 = Instant::now();
        let mut s = SlidingWindow::new(10);
        // Twice the limit, evenly, for 5 s.
        let admitted: Vec<Duration> = (0..100)
            .map(|i| ms(i * 50))
            .filter(|&at| s.admit(t0 + at).is_ok())
            .collect();
        for (i, &start) in admitted.iter().enumerate() {
            let within = admitted[i..].iter().take_while(|&&t| t < start + ms(1000));
            assert!(within.count() <= 10);
        }
        assert_eq!(admitted.len(), 50);
    }

    #[test]
    fn fixed_resets_on_each_second() {
        let t0 = Instant::now();
        let mut s = FixedWindow::new(2, t0);
        assert!(s.admit(t0 + ms(100)).is_ok());
        assert!(s.admit(t0 + ms(200)).is_ok());
        assert_eq!(s.admit(t0 + ms(300)), Err(ms(700)));
        assert!(s.admit(t0 + ms(1000)).is_ok());
        assert!(s.admit(t0 + ms(1999)).is_ok());
        assert_eq!(s.admit(t0 + ms(1999)), Err(ms(1)));
        // Both windows' worth in 2 ms across the boundary: a fixed window allows it.
        assert!(s.admit(t0 + ms(2000)).is_ok());
    }

    #[test]
    fn bucket_spends_its_burst_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut s = TokenBucket::new(10, 3, t0);
        assert!((0..3).all(|_| s.admit(t0).is_ok()));
        assert_eq!(s.admit(t0), Err(ms(100)));
        assert_eq!(s.admit(t0 + ms(50)), Err(ms(50)));
        assert!(s.admit(t0 + ms(100)).is_ok());
        // A long idle time refills only up to the capacity.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| s.admit(later).is_ok()));
        assert!(s.admit(later).is_err());
    }

    #[test]
    fn limiter_dispatches_to_its_kind() {
        let t0 = Instant::now();
        let bucket = Limiter::new(LimitKind::Bucket, 1, Some(5), t0);
        assert_eq!((0..6).filter(|_| bucket.admit(t0).is_ok()).count(), 5);
        let sliding = Limiter::new(LimitKind::Sliding, 2, Some(5), t0);
        assert_eq!((0..6).filter(|_| sliding.admit(t0).is_ok()).count(), 2);
        assert_eq!(sliding.limit(), 2);
    }

    #[test]
    fn each_shape_tells_what_remains_and_when_it_resets() {
        let t0 = Instant::now();
        let fixed = Limiter::new(LimitKind::Fixed, 3, None, t0);
        let (admitted, state) = fixed.admit_telling(t0 + ms(250));
        assert!(admitted.is_ok());
        assert_eq!(
            state,
            LimitState {
                limit: 3,
                remaining: 2,
                reset: ms(750)
            }
        );
        fixed.admit(t0 + ms(300)).unwrap();
        fixed.admit(t0 + ms(400)).unwrap();
        let (refused, state) = fixed.admit_telling(t0 + ms(500));
        assert_eq!(refused, Err(ms(500)));
        assert_eq!((state.remaining, state.reset), (0, ms(500)));

        let sliding = Limiter::new(LimitKind::Sliding, 2, None, t0);
        sliding.admit(t0).unwrap();
        let (_, state) = sliding.admit_telling(t0 + ms(600));
        assert_eq!((state.remaining, state.reset), (0, ms(400)));
        let (_, state) = sliding.admit_telling(t0 + ms(1000));
        assert_eq!((state.remaining, state.reset), (0, ms(600)));

        let bucket = Limiter::new(LimitKind::Bucket, 10, Some(5), t0);
        let (_, state) = bucket.admit_telling(t0);
        assert_eq!((state.remaining, state.reset), (4, ms(100)));
    }

    #[test]
    fn the_three_header_families_say_the_same_state() {
        let state = LimitState {
            limit: 50,
            remaining: 20,
            reset: ms(300),
        };
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let github = state.headers(RateLimitHeaders::Github, now);
        assert!(github.contains(&("x-ratelimit-limit", "50".into())));
        assert!(github.contains(&("x-ratelimit-remaining", "20".into())));
        assert!(github.contains(&("x-ratelimit-reset", "1700000001".into())));
        assert!(github.contains(&("x-ratelimit-used", "30".into())));
        let draft = state.headers(RateLimitHeaders::Draft, now);
        assert_eq!(
            draft,
            [
                ("ratelimit-limit", "50".to_owned()),
                ("ratelimit-remaining", "20".to_owned()),
                ("ratelimit-reset", "1".to_owned()),
            ]
        );
        let policy = state.headers(RateLimitHeaders::Policy, now);
        assert_eq!(
            policy,
            [
                ("ratelimit-policy", "\"default\";q=50;w=1".to_owned()),
                ("ratelimit", "\"default\";r=20;t=1".to_owned()),
            ]
        );
        // And the client reads back what was said.
        for (family, headers) in [
            (crate::net::ratelimit_headers::Family::Github, github),
            (crate::net::ratelimit_headers::Family::Draft, draft),
            (crate::net::ratelimit_headers::Family::Policy, policy),
        ] {
            let read = crate::net::ratelimit_headers::read(
                headers.iter().map(|(n, v)| (*n, v.as_bytes())),
                || now,
            )
            .unwrap();
            assert_eq!(
                (read.family, read.limit, read.remaining),
                (family, Some(50), Some(20))
            );
            assert_eq!(read.reset, Some(Duration::from_secs(1)));
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(ms(20), 1), 1);
        assert_eq!(retry_after_secs(ms(1000), 1), 1);
        assert_eq!(retry_after_secs(ms(1001), 0), 2);
        assert_eq!(retry_after_secs(Duration::ZERO, 0), 1);
        assert_eq!(retry_after_secs(ms(20), 7), 7);
    }
}
