//! `--concurrency N|auto`: how many requests may be in flight at once.
//!
//! With a fixed N the pool keeps at most N in flight. With `auto` (the default) it keeps
//! just enough in flight to reach `--rate` given the latency it observes (Little's law:
//! in flight = rate × latency), plus a margin, bounded by `--max-concurrency`. The rate gate
//! still paces every request, so a higher bound never means a burst over the rate; it only
//! avoids holding batches (memory) and connections that could not be used.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The `--concurrency` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    Fixed(usize),
    Auto,
}

impl FromStr for Concurrency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "auto" => Ok(Concurrency::Auto),
            n => match n.parse::<usize>() {
                Ok(n) if (1..=4096).contains(&n) => Ok(Concurrency::Fixed(n)),
                _ => Err(format!(
                    "'{text}': expected auto or a whole number from 1 to 4096"
                )),
            },
        }
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concurrency::Fixed(n) => write!(f, "{n}"),
            Concurrency::Auto => f.write_str("auto"),
        }
    }
}

/// Headroom over Little's law, so latency jitter does not starve the rate.
const AUTO_MARGIN: f64 = 1.25;

/// In flight needed to sustain `rate_per_sec` at `latency`, with margin, within 1..=max.
pub fn auto_target(rate_per_sec: f64, latency: Duration, max: usize) -> usize {
    let needed = (rate_per_sec * latency.as_secs_f64() * AUTO_MARGIN).ceil() as usize + 1;
    needed.clamp(1, max.max(1))
}

/// The in-flight bound shared by the dispatcher and the workers.
pub struct InFlight {
    mode: Concurrency,
    max: usize,
    rate_per_sec: f64,
    count: AtomicUsize,
    /// Smoothed request latency in microseconds; 0 until the first answer.
    latency_us: AtomicU64,
    freed: Notify,
}

impl InFlight {
    /// `max` is the most ever in flight (`PoolConfig::max_in_flight`): the fixed number,
    /// or the bound of `auto`.
    pub fn new(mode: Concurrency, max: usize, rate_per_sec: f64) -> Arc<InFlight> {
        Arc::new(InFlight {
            mode,
            max: max.max(1),
            rate_per_sec,
            count: AtomicUsize::new(0),
            latency_us: AtomicU64::new(0),
            freed: Notify::new(),
        })
    }

    /// The most requests that may be in flight at once, ever.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The bound right now.
    pub fn limit(&self) -> usize {
        match self.mode {
            Concurrency::Fixed(n) => n,
            Concurrency::Auto => {
                let latency = Duration::from_micros(self.latency_us.load(Ordering::Relaxed));
                auto_target(self.rate_per_sec, latency, self.max)
            }
        }
    }

    /// Feeds one observed request latency into the smoothed estimate.
    pub fn observe(&self, latency: Duration) {
        let sample = latency.as_micros().min(u128::from(u64::MAX)) as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        // An exponentially weighted mean (1/5 new); a lost update between racing workers
        // only drops one sample.
        let new = if old == 0 {
            sample
        } else {
            (old * 4 + sample) / 5
        };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }

    /// Waits for room under the bound; `None` when `stop` fires first.
    pub async fn acquire(self: &Arc<Self>, stop: &CancellationToken) -> Option<Slot> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let now = self.count.load(Ordering::Acquire);
            if now < self.limit() {
                if self
                    .count
                    .compare_exchange(now, now + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(Slot(self.clone()));
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = stop.cancelled() => return None,
                _ = &mut freed => {}
            }
        }
    }

    pub fn in_flight(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// One request's place in flight; dropping it frees the place.
pub struct Slot(Arc<InFlight>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_auto_or_a_number() {
        assert_eq!("auto".parse(), Ok(Concurrency::Auto));
        assert_eq!("8".parse(), Ok(Concurrency::Fixed(8)));
        assert!("0".parse::<Concurrency>().is_err());
        assert!(
            "many"
                .parse::<Concurrency>()
                .unwrap_err()
                .contains("auto or a whole number")
        );
    }

    #[test]
    fn auto_follows_littles_law_with_margin_and_bounds() {
        let ms = Duration::from_millis;
        // 100/s at 50 ms: 5 in flight needed, 6.25 with margin → 7, + 1.
        assert_eq!(auto_target(100.0, ms(50), 64), 8);
        // Before any answer the latency is unknown: start with one.
        assert_eq!(auto_target(100.0, Duration::ZERO, 64), 1);
        // Never above the maximum, never below one.
        assert_eq!(auto_target(10_000.0, ms(500), 64), 64);
        assert_eq!(auto_target(0.001, ms(1), 64), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_bound_is_never_exceeded() {
        let limit = InFlight::new(Concurrency::Fixed(2), 2, 10.0);
        let stop = CancellationToken::new();
        let a = limit.acquire(&stop).await.unwrap();
        let _b = limit.acquire(&stop).await.unwrap();
        assert_eq!(limit.in_flight(), 2);
        // Paused clock: the timeout fires only if acquire is truly stuck waiting.
        let third = tokio::time::timeout(Duration::from_secs(60), limit.acquire(&stop)).await;
        assert!(third.is_err(), "a third request must wait");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(60), limit.acquire(&stop)).await;
        assert!(matches!(third, Ok(Some(_))), "a freed place is taken");
    }

    #[tokio::test]
    async fn stop_releases_a_waiting_dispatcher() {
        let limit = InFlight::new(Concurrency::Fixed(1), 1, 10.0);
        let stop = CancellationToken::new();
        let _held = limit.acquire(&stop).await.unwrap();
        stop.cancel();
        assert!(limit.acquire(&stop).await.is_none());
    }

    #[test]
    fn auto_limit_grows_with_observed_latency() {
        let limit = InFlight::new(Concurrency::Auto, 64, 200.0);
        assert_eq!(limit.limit(), 1);
        for _ in 0..20 {
            limit.observe(Duration::from_millis(100));
        }
        // 200/s × 100 ms = 20, × 1.25 = 25, + 1.
        assert_eq!(limit.limit(), 26);
    }
}
