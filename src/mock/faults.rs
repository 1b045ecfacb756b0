//! Fault injection for the mock: which failures to imitate, and the per-request draw.
//!
//! Constraint: the same seed gives the same sequence of outcomes. Each request's faults
//! are drawn once, up front, from a generator seeded by (seed, arrival number), so no
//! lock guards a shared generator and the draw does not depend on how requests
//! interleave while being handled. With every fault off nothing is drawn at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::blocklist::BlockListOptions;
use super::limiter::{LimitKind, RateLimitHeaders};

/// Which failures the mock imitates. All off by default.
#[derive(Clone, Debug)]
pub struct Faults {
    /// 429 with `Retry-After` past this many requests per second.
    pub rate_limit: Option<u32>,
    /// The shape of that limit (see `limiter.rs`).
    pub limit_kind: LimitKind,
    /// The token bucket's capacity (default: the limit).
    pub limit_burst: Option<u32>,
    /// The least `Retry-After` sent with those 429s (default 1); the header says when the
    /// limit admits again, rounded up to whole seconds, if that is later.
    pub retry_after_secs: u64,
    /// Advertise that limit on every answer in these headers (`--ratelimit-headers`).
    pub ratelimit_headers: Option<RateLimitHeaders>,
    /// Probability of a 500 or 503 (half each).
    pub fail_rate: f64,
    /// Probability of 200 `{"data": false}`.
    pub false_rate: f64,
    /// Probability of a 200 whose body is neither documented form (`{"status":"ok"}`).
    pub odd_answer_rate: f64,
    /// Uniform delay between the two bounds before answering.
    pub latency: Option<(Duration, Duration)>,
    /// Probability of dropping the connection without an answer.
    pub reset_rate: f64,
    /// 400 ERROR_INVALID_INPUT for any batch containing one of these IDs.
    pub poison: Vec<u64>,
    /// 401 for every request after this many successful ones.
    pub revoke_after: Option<u64>,
    /// Deterministic randomness: same seed, same sequence of outcomes.
    pub seed: Option<u64>,
    /// The block list and the documented variants of the block answer (not faults as
    /// such, but server behaviours a client must cope with).
    pub block_list: BlockListOptions,
}

// Written by hand because `Retry-After: 0` would tell clients to hammer the server.
impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit: None,
            limit_kind: LimitKind::default(),
            limit_burst: None,
            retry_after_secs: 1,
            ratelimit_headers: None,
            fail_rate: 0.0,
            false_rate: 0.0,
            odd_answer_rate: 0.0,
            latency: None,
            reset_rate: 0.0,
            poison: Vec::new(),
            revoke_after: None,
            seed: None,
            block_list: BlockListOptions::default(),
        }
    }
}

/// A server-side failure answered instead of blocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerFailure {
    /// 500 ERROR_INTERNAL.
    Internal,
    /// 503 ERROR_MAINTENANCE.
    Maintenance,
}

/// What happens to one request, decided when it arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FaultPlan {
    pub(crate) reset: bool,
    pub(crate) latency: Option<Duration>,
    pub(crate) failure: Option<ServerFailure>,
    pub(crate) answer_false: bool,
    /// 200 with an undocumented body instead of blocking.
    pub(crate) answer_odd: bool,
}

impl Faults {
    fn draws_anything(&self) -> bool {
        self.reset_rate > 0.0
            || self.fail_rate > 0.0
            || self.false_rate > 0.0
            || self.odd_answer_rate > 0.0
            || self.latency.is_some()
    }

    /// Draws the plan for the request that arrived as number `sequence`.
    pub(crate) fn plan(&self, sequence: u64) -> FaultPlan {
        if !self.draws_anything() {
            return FaultPlan::default();
        }
        match self.seed {
            Some(seed) => {
                // Spread neighbouring arrival numbers apart before seeding.
                let mixed = seed ^ sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                self.draw(&mut StdRng::seed_from_u64(mixed))
            }
            None => self.draw(&mut rand::rng()),
        }
    }

    /// Always draws in the same order, so a seed replays the same plans.
    fn draw(&self, rng: &mut impl Rng) -> FaultPlan {
        let reset = chance(rng, self.reset_rate);
        let latency = self.latency.map(|(a, b)| {
            let (low, high) = (a.min(b), a.max(b));
            if low == high {
                low
            } else {
                rng.random_range(low..=high)
            }
        });
        let failure = chance(rng, self.fail_rate).then(|| {
            if rng.random_bool(0.5) {
                ServerFailure::Internal
            } else {
                ServerFailure::Maintenance
            }
        });
        let answer_false = chance(rng, self.false_rate);
        // Drawn last, so that adding it leaves the other faults' sequences for a seed as
        // they were.
        let answer_odd = chance(rng, self.odd_answer_rate);
        FaultPlan {
            reset,
            latency,
            failure,
            answer_false,
            answer_odd,
        }
    }
}

/// True with probability `p`; out-of-range or NaN probabilities are clamped instead of
/// panicking (`random_bool` panics outside 0..=1).
fn chance(rng: &mut impl Rng, p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        rng.random_bool(p)
    }
}

/// Counts successful blocks for `revoke_after`: after N of them the key stops working.
pub(crate) struct Revocation {
    allowed: Option<u64>,
    successes: AtomicU64,
}

impl Revocation {
    pub(crate) fn new(allowed: Option<u64>) -> Self {
        Revocation {
            allowed,
            successes: AtomicU64::new(0),
        }
    }

    /// True once N successes have been answered.
    pub(crate) fn is_revoked(&self) -> bool {
        self.allowed
            .is_some_and(|allowed| self.successes.load(Ordering::Relaxed) >= allowed)
    }

    /// Takes one of the N successes; false when none is left. Taking the slot atomically
    /// keeps the count exact when requests race past `is_revoked` together.
    pub(crate) fn claim_success(&self) -> bool {
        let Some(allowed) = self.allowed else {
            return true;
        };
        self.successes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |done| {
                (done < allowed).then_some(done + 1)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(seed: Option<u64>) -> Faults {
        Faults {
            fail_rate: 0.3,
            false_rate: 0.3,
            reset_rate: 0.2,
            latency: Some((Duration::from_millis(1), Duration::from_millis(50))),
            seed,
            ..Faults::default()
        }
    }

    #[test]
    fn same_seed_replays_the_same_plans() {
        let plans = |faults: &Faults| (0..200).map(|n| faults.plan(n)).collect::<Vec<_>>();
        assert_eq!(plans(&noisy(Some(7))), plans(&noisy(Some(7))));
        assert_ne!(plans(&noisy(Some(7))), plans(&noisy(Some(8))));
    }

    #[test]
    fn quiet_faults_plan_nothing() {
        assert_eq!(Faults::default().plan(3), FaultPlan::default());
        assert_eq!(Faults::default().retry_after_secs, 1);
    }

    #[test]
    fn certain_faults_always_fire_and_failures_take_both_kinds() {
        let faults = Faults {
            fail_rate: 1.0,
            false_rate: 1.0,
            odd_answer_rate: 1.0,
            reset_rate: 1.0,
            seed: Some(1),
            ..Faults::default()
        };
        let plans: Vec<FaultPlan> = (0..100).map(|n| faults.plan(n)).collect();
        assert!(
            plans
                .iter()
                .all(|p| p.reset && p.answer_false && p.answer_odd)
        );
        assert!(
            plans
                .iter()
                .any(|p| p.failure == Some(ServerFailure::Internal))
        );
        assert!(
            plans
                .iter()
                .any(|p| p.failure == Some(ServerFailure::Maintenance))
        );
        assert!(plans.iter().all(|p| p.failure.is_some()));
    }

    #[test]
    fn out_of_range_probabilities_do_not_panic() {
        let faults = Faults {
            fail_rate: f64::NAN,
            false_rate: 7.0,
            reset_rate: -1.0,
            ..Faults::default()
        };
        let plan = faults.plan(0);
        assert!(!plan.reset && plan.failure.is_none() && plan.answer_false);
    }

    #[test]
    fn latency_stays_within_bounds_even_when_given_backwards() {
        let (low, high) = (Duration::from_millis(10), Duration::from_millis(20));
        let faults = Faults {
            latency: Some((high, low)),
            seed: Some(3),
            ..Faults::default()
        };
        for n in 0..100 {
            let latency = faults.plan(n).latency.unwrap_or_default();
            assert!(low <= latency && latency <= high, "{latency:?}");
        }
    }

    #[test]
    fn revocation_allows_exactly_n_successes() {
        let revocation = Revocation::new(Some(2));
        assert!(!revocation.is_revoked());
        assert!(revocation.claim_success());
        assert!(revocation.claim_success());
        assert!(revocation.is_revoked());
        assert!(!revocation.claim_success());

        let never = Revocation::new(None);
        assert!((0..10).all(|_| never.claim_success()));
        assert!(!never.is_revoked());
    }
}
