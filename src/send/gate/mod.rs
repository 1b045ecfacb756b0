//! The rate gate every attempt passes before it is sent: `--rate`, `--burst`, the limit a
//! server advertises in its headers, and the pool-wide pause and control law that 429s
//! drive. One gate may serve several pool runs (`Arc<Gate>`): a command's listing and its
//! deletes then share one pace and one 429 state.
//!
//! **Pacing** is GCRA (the algorithm governor implements) in reservation form: each attempt
//! reserves the next slot on a shared schedule and sleeps until it. The theoretical arrival
//! time advances by one interval per reservation, never from the moment a sleeper actually
//! woke, so timer lateness does not accumulate. (governor checks at wake-up time instead;
//! at `--rate 100/s --burst 1` its pace measured 2% slow because every late wake-up pushed
//! the whole schedule back: see BENCHMARKS.md.) Slots are `interval` apart after any burst,
//! so a sliding second holds at most rate + burst requests. A sleeper that wakes much later
//! than timer jitter (a stalled thread) queues again, so a stall never turns into a burst.
//!
//! **An advertised limit** (`ratelimit_headers`: GitHub's, the IETF draft's and its
//! structured fields) is read on every answer. From the first one the pace is the quota over
//! its window (or, with no window given, what remains spread until the reset), and a budget
//! keeps the count of requests started against the `Remaining` of the latest answer: the
//! request after the last one it allows waits for the window's end. That end is the
//! answer's reset, a whole number of seconds and so up to a second late for a one-second
//! window; once a refill has been seen (an answer whose remaining jumped up), the window's
//! boundaries are known to within the time between two answers and the budget waits only
//! until the next one. A quota that comes back a little at a time instead (a sliding
//! window, a token bucket: `remaining` rising by ones, never a refill) has a reset that only
//! says when its oldest request leaves, rounded up to a second: waiting for it at every
//! `remaining: 0` halved the pace, so such a limit is paced at 99 % of the quota over its
//! window (as said, or the longest reset seen), and a spent quota holds requests only until
//! its reset at the earliest (at once for one rounded up from under a second; an hour's
//! quota spent still waits). The 429 law below stays on top: a server that refuses below
//! what it advertises is paced by what it admits.
//!
//! **429s with no advertised limit**: the server's limit is unknown (sliding or fixed
//! window, token bucket), so the gate measures what it admits. Every answer that is not a
//! 429 is logged by its send time. A 429 moves a shared "not before"
//! instant to its `Retry-After` for everyone; the first 429 of an *episode* (for a request
//! sent after the previous episode began) also sets the pace from an estimate of the
//! server's limit: the admitted requests sent in the second before the refused one (the
//! window a per-second limit enforces: for a sliding window that count *is* the limit,
//! whatever the pace before it), answers still in flight added as they come, never more
//! than the pace the pool was sending at. The pace restarts after the pause at 90 % of a
//! first estimate (97 % of later ones), rises back over `RISE` (10 s, concave) to 99 % of
//! the estimate (`LEVEL`: at the limit exactly, a timer's lateness bunching two requests
//! makes a sliding window refuse one), stays there until `recovery` (30 s) after the
//! pause, then probes above it, slowly at first, up to `--rate` if the server allows. When
//! a probe confirms the estimate (the next episode finds the same limit, within 2 %),
//! `recovery` doubles (up to `MAX_RECOVERY`), so probes that cost a pause each grow rarer
//! the longer a run goes.
//!
//! Two cases where the count of one second says more than the server sustains: a token
//! bucket refilled during the pause spends its stored burst, and a fixed window whose
//! boundary falls inside the measured second holds two windows' worth. Both show as a
//! *quick* episode: a refusal within 5 s of the pause's end. Then the estimate is
//! what the server admitted since the previous episode, pause included (what a bucket
//! sustains; never below half the pace refused), and the pace rises from there to 97 % of
//! the count that was refused: the limit lies between the two, and the next refusal, if
//! any, comes at a pace near it, where the one-second count is right again.
//!
//! 429s for requests sent before the episode began only extend the pause: a burst of them
//! from one window counts once. Time arithmetic on server input is capped: a pause never
//! exceeds `MAX_PAUSE` (one day) and every instant sum is checked, so no header can panic
//! the gate.
//!
//! Files: `clock.rs` (capped time arithmetic), `admitted.rs` (the log of admitted send
//! times), `episode.rs` (one episode's estimate and the pace after it), `budget.rs` (an
//! advertised limit); this file holds the schedule that uses them and the `Gate` the
//! pool shares.

mod admitted;
mod budget;
mod clock;
mod episode;

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use self::admitted::AdmittedLog;
pub use self::budget::AdvertisedLimit;
use self::budget::Budget;
pub use self::clock::MAX_PAUSE;
use self::clock::later;
use self::episode::{BETA, BETA_FIRST, Episode};
use crate::net::ratelimit_headers::Advertised;
use crate::send::rate::Rate;

/// Wait used when a 429 comes without a usable Retry-After.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Time from the end of a pause until the pace probes above the estimate (CUBIC's K), at
/// first…
const RECOVERY: Duration = Duration::from_secs(30);
/// …doubling each time an episode confirms the estimate, up to this.
const MAX_RECOVERY: Duration = Duration::from_secs(240);
/// Two estimates within this share of each other confirm each other.
const CONFIRMED: f64 = 0.02;
/// The window a per-second limit enforces: the estimate counts what it admitted.
const ENFORCED_WINDOW: Duration = Duration::from_secs(1);
/// With fewer admitted requests than this in that window, the estimate measures over up
/// to `LONG_WINDOW` instead, from the end of the last pause (see `Schedule::rate_limited`).
const FEW_ADMITTED: u64 = 10;
const LONG_WINDOW: Duration = Duration::from_secs(2);
/// A refusal this soon after the pause ended is a *quick* episode (a bucket's stored burst
/// lasts a few seconds at the paces the rise goes through; other clients' traffic crossing
/// the limit comes later in the rise, near its top)…
const QUICK: Duration = Duration::from_secs(5);
/// …and a first refusal this soon after the first request is the discovery.
const DISCOVERY: Duration = Duration::from_secs(2);
/// The lowest pace 429s or headers can push the gate to, as a share of `--rate`.
const MIN_SHARE: f64 = 1e-4;
/// The most 429 episodes the gate keeps for the ledger (`rate_limited` lines); later ones
/// are still counted in `episodes`.
const PAUSES_KEPT: usize = 10_000;

/// The server's admitted rate as the gate estimated it from its 429s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Requests per second (the latest episode's estimate: its count of the second before
    /// the refusal, or after a quick episode what the server sustained).
    pub per_second: f64,
    /// Admitted requests it counted, and over how long.
    pub counted: u64,
    pub window: Duration,
    /// The estimate's own uncertainty: one request either way in its count, requests per
    /// second.
    pub plus_minus: f64,
    /// What the server admitted from the episode before to this one, pause included: what
    /// a token bucket sustains, while the count of one second holds its stored burst too.
    /// `None` after the first episode.
    pub sustained_per_second: Option<f64>,
    /// 429 episodes in the run (each one pause).
    pub episodes: u64,
}

/// One 429 episode, as the ledger records it (a `rate_limited` line): when it began, how
/// long every request waited, what the gate then took the limit for and paced at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pause {
    pub began: Instant,
    /// From the first 429 to the end of the pause (later 429s of the episode may extend it).
    pub wait: Duration,
    /// The estimate of what the server admits, and the pace the schedule restarted at,
    /// requests per second.
    pub admitted_per_second: f64,
    pub pace_per_second: f64,
    /// The 429 answers of the episode.
    pub answers: u64,
}

/// What the gate learnt about the server's limit, for the pool's end and the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GateReport {
    pub estimate: Option<Estimate>,
    pub advertised: Option<AdvertisedLimit>,
}

/// How a reservation went.
#[derive(Debug, PartialEq, Eq)]
pub enum Reserved {
    /// Go now: the request's sequence number.
    Now(u64),
    /// Sleep until the slot, then `claim` it with the epoch.
    At(Instant, u64),
    /// The advertised budget is spent until this instant, beyond the longest wait allowed.
    Exhausted(Instant),
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
    episodes: u64,
    /// The first `PAUSES_KEPT` episodes, for the ledger.
    pauses: Vec<Pause>,
    /// Requests started so far (the next one's sequence number), and reservations
    /// sleeping toward their slot.
    sent: u64,
    waiting: u64,
    budget: Option<Budget>,
    /// The budget never holds a request longer than this (`--max-wait`).
    max_wait: Duration,
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
            admitted: AdmittedLog::default(),
            episode: None,
            episodes: 0,
            pauses: Vec::new(),
            sent: 0,
            waiting: 0,
            budget: None,
            max_wait: MAX_PAUSE,
        }
    }

    /// The pace at `now`, in requests per second: `--rate`, the advertised limit, and after
    /// a 429 episode the recovery curve through the estimate; never above `--rate`.
    pub fn rate_at(&self, now: Instant) -> f64 {
        let mut rate = self.ceiling;
        if let Some(episode) = &self.episode {
            rate = rate.min(episode.rate_at(now));
        }
        if let Some(pace) = self.budget.as_ref().and_then(|b| b.pace(now, self.sent)) {
            rate = rate.min(pace);
        }
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

    /// Reserves the next slot for a request arriving at `now`.
    pub fn reserve(&mut self, now: Instant) -> Reserved {
        self.admitted.origin.get_or_insert(now);
        if let Some(budget) = &mut self.budget {
            budget.roll(now, self.sent);
        }
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
        // The budget counts this request after those already sleeping toward their slots.
        let position = self.sent + self.waiting;
        if let Some(until) = self.budget.as_ref().and_then(|b| b.holds(position, slot)) {
            if until.saturating_duration_since(now) > self.max_wait {
                return Reserved::Exhausted(until);
            }
            slot = until;
            if let Some(budget) = &mut self.budget {
                budget.waits += 1;
            }
        }
        self.next = Some(later(next.max(slot), interval));
        if slot <= now {
            self.sent += 1;
            return Reserved::Now(self.sent - 1);
        }
        self.waiting += 1;
        Reserved::At(slot, self.epoch)
    }

    /// A sleeper woke at `now` for `slot`, reserved in `epoch`: its sequence number if it
    /// may go, or `None` to reserve again (a 429 reshaped the schedule, it woke far too
    /// late, or the budget now holds it back).
    pub fn claim(
        &mut self,
        now: Instant,
        slot: Instant,
        epoch: u64,
        max_lateness: Duration,
    ) -> Option<u64> {
        self.waiting = self.waiting.saturating_sub(1);
        // A sleeper woken late would bunch with the slots after it; with the server's own
        // count of what is left (an advertised budget over a known window) it may go all the
        // same: the budget holds back whatever would be one too many.
        let counted_by_server = self
            .budget
            .as_ref()
            .is_some_and(|b| b.window.is_some() && b.end.is_some());
        if epoch != self.epoch || (now > slot + max_lateness && !counted_by_server) {
            return None;
        }
        if let Some(budget) = &mut self.budget {
            budget.roll(now, self.sent);
        }
        if self
            .budget
            .as_ref()
            .is_some_and(|b| b.holds(self.sent, now).is_some())
        {
            return None;
        }
        self.sent += 1;
        Some(self.sent - 1)
    }

    /// A sleeper gave up its reservation (its future was dropped).
    pub fn abandon(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// The answer to request `seq`, sent at `sent`, came at `now`: admitted (any answer
    /// but a 429), refused with a 429 asking to wait `wait`, or none at all; with the
    /// limit the server advertised in it, if any.
    pub fn answered(
        &mut self,
        now: Instant,
        seq: u64,
        sent: Instant,
        reply: Reply,
        advertised: Option<&Advertised>,
    ) {
        if let Some(advertised) = advertised {
            self.budget
                .get_or_insert_with(|| Budget::new(advertised.family))
                .update(now, seq, sent, advertised, self.sent);
        }
        match reply {
            Reply::Admitted => self.admitted(sent),
            Reply::RateLimited(wait) => self.rate_limited(now, sent, wait),
            Reply::None => {}
        }
    }

    /// The server answered (anything but a 429) a request sent at `sent`: it was admitted.
    pub fn admitted(&mut self, sent: Instant) {
        self.admitted.record(sent);
        if let Some(episode) = &mut self.episode {
            if sent >= episode.refused {
                episode.admitted_since += 1;
            }
            if sent < episode.began && episode.from <= sent && sent <= episode.refused {
                // Admitted before the episode but answered after its first 429.
                episode.counted += 1;
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
            if let Some(pause) = self.current_pause() {
                pause.wait = not_before.saturating_duration_since(pause.began);
                pause.answers += 1;
            }
            if Some(not_before) != self.not_before {
                self.not_before = Some(not_before);
                self.next = Some(self.next.map_or(not_before, |next| next.max(not_before)));
                self.epoch += 1;
            }
            return;
        }
        let rate_then = self.rate_at(now);
        // The second before the refused request: the window a per-second limit enforces.
        let origin = self.admitted.origin.unwrap_or(sent).min(sent);
        // (A sliding window's second is open at its old end.)
        let second_before = |span: Duration| {
            sent.checked_sub(span)
                .map_or(sent, |from| from + Duration::from_nanos(1))
                .max(origin)
        };
        let mut from = second_before(ENFORCED_WINDOW);
        if self.admitted.count(from, sent) < FEW_ADMITTED {
            // A handful of requests is mostly quantisation (at 1/s, one request either
            // way is the whole estimate): measure over the longer window, but from the
            // end of the last pause at the earliest (a window half taken by the last pause
            // read as 0.5/s at 1/s).
            from = second_before(LONG_WINDOW);
            if let Some(previous) = &self.episode {
                from = from.max(previous.resume.min(sent));
            }
        }
        let measured = sent.saturating_duration_since(from);
        // A refusal while the pace was still rising back after the previous episode: that
        // estimate was too high (a bucket's stored burst, a fixed window's boundary inside
        // the measured second). What the server admitted since then, pause included, is
        // what it sustains. (Not from a handful of requests: quantisation, again.)
        let counted = self.admitted.count(from, sent);
        let cycle = self.episode.as_ref().and_then(|previous| {
            let since = sent.checked_duration_since(previous.refused)?;
            (since > Duration::ZERO).then(|| previous.admitted_since as f64 / since.as_secs_f64())
        });
        let quick = self
            .episode
            .as_ref()
            .is_some_and(|previous| sent < later(previous.resume, QUICK));
        let sustained = cycle.filter(|_| quick && counted >= FEW_ADMITTED);
        let mut episode = Episode {
            began: now,
            refused: sent,
            from,
            counted,
            span: measured.clamp(ENFORCED_WINDOW, LONG_WINDOW),
            rate_then,
            sustained,
            cycle,
            admitted_since: 0,
            resume: not_before,
            // The discovery: refused within 2 s of the first request, sent well above the
            // limit (where a fixed window's boundary may sit inside the measured second).
            restart: if self.episode.is_none() && sent < later(origin, DISCOVERY) {
                BETA_FIRST
            } else {
                BETA
            },
            recovery: RECOVERY,
        };
        // A probe that found the same limit again: probe less often from now on.
        let estimate = episode.estimate();
        if let Some(previous) = &self.episode
            && sustained.is_none()
            && (estimate - previous.estimate()).abs() <= CONFIRMED * estimate
        {
            episode.recovery = (previous.recovery * 2).min(MAX_RECOVERY);
        }
        tracing::debug!(
            estimate,
            counted = episode.counted,
            rate_then,
            ?sustained,
            ?cycle,
            recovery = ?episode.recovery,
            pause = ?not_before.saturating_duration_since(now),
            "429 episode: pacing at what the server admits"
        );
        self.episode = Some(episode);
        self.episodes += 1;
        self.not_before = Some(not_before);
        // Restart the schedule after the pause, at the new pace.
        self.next = Some(not_before);
        self.epoch += 1;
        if self.pauses.len() < PAUSES_KEPT {
            self.pauses.push(Pause {
                began: now,
                wait: not_before.saturating_duration_since(now),
                admitted_per_second: estimate,
                pace_per_second: self.rate_at(not_before),
                answers: 1,
            });
        }
    }

    /// The kept record of the episode under way, if it was kept.
    fn current_pause(&mut self) -> Option<&mut Pause> {
        if self.pauses.len() as u64 == self.episodes {
            self.pauses.last_mut()
        } else {
            None
        }
    }

    /// The 429 episodes so far (the first `PAUSES_KEPT`).
    pub fn pauses(&self) -> &[Pause] {
        &self.pauses
    }

    #[cfg(test)]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The server's admitted rate as the latest 429 episode measured it; `None` before any
    /// 429.
    pub fn admitted_per_second(&self) -> Option<f64> {
        self.episode.as_ref().map(Episode::estimate)
    }

    /// What the gate learnt about the server's limit.
    pub fn report(&self) -> GateReport {
        let estimate = self.episode.as_ref().map(|episode| Estimate {
            per_second: episode.estimate(),
            counted: episode.counted,
            window: episode.span,
            plus_minus: 1.0 / episode.span.as_secs_f64(),
            sustained_per_second: episode.cycle,
            episodes: self.episodes,
        });
        let advertised = self.budget.as_ref().map(|budget| AdvertisedLimit {
            family: budget.family,
            limit: budget.quota,
            window: budget.window,
            window_advertised: budget.window_advertised,
            budget_waits: budget.waits,
        });
        GateReport {
            estimate,
            advertised,
        }
    }
}

/// What came back for a request, as the gate needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Any HTTP answer but a 429: the server counted it.
    Admitted,
    /// A 429: wait this long (at most `MAX_PAUSE`).
    RateLimited(Duration),
    /// No HTTP answer (timeout, connection trouble).
    None,
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

/// The summary's line about the server's limit, with the estimate's own error, e.g. "the
/// server admitted about 48 ± 1 req/s; consider --rate 46/s".
pub fn limit_hint(per_second: f64, plus_minus: f64) -> String {
    let (about, error) = if per_second >= 10.0 {
        (format!("{per_second:.0}"), format!("{plus_minus:.0}"))
    } else {
        (format!("{per_second:.2}"), format!("{plus_minus:.2}"))
    };
    // An error that rounds to nothing at the figure's precision is not worth a "± 0".
    let error = if error.trim_start_matches(['0', '.']).is_empty() {
        String::new()
    } else {
        format!(" ± {error}")
    };
    format!(
        "the server admitted about {about}{error} req/s; consider --rate {}",
        suggested_rate(per_second)
    )
}

/// One request let through the gate: its sequence number and when it went.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    pub seq: u64,
    pub sent: Instant,
}

/// The advertised budget is spent until `until`, later than the longest wait allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetSpent {
    pub until: Instant,
}

/// The schedule, shared by every worker of the pool, and by several pool runs of one
/// command when the caller hands the same `Arc<Gate>` to each.
pub struct Gate {
    schedule: Mutex<Schedule>,
    /// How late a sleeper may wake and still take its slot: half an interval keeps any
    /// second within rate + burst; never below a few timer ticks, or at high rates every
    /// wake-up would count as late and queue again forever.
    max_lateness: Duration,
}

/// The floor of `Gate::max_lateness`: tokio's timer has millisecond ticks.
const TIMER_SLACK: Duration = Duration::from_millis(3);

/// Gives a sleeper's reservation back if its future is dropped before it woke.
struct Sleeping<'a> {
    gate: &'a Gate,
    armed: bool,
}

impl Drop for Sleeping<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.gate.schedule().abandon();
        }
    }
}

impl Gate {
    pub fn new(rate: Rate, burst: u32) -> Gate {
        Gate {
            schedule: Mutex::new(Schedule::new(rate, burst)),
            max_lateness: (rate.interval() / 2).max(TIMER_SLACK),
        }
    }

    /// The longest the advertised budget may hold a request (`--max-wait`): a spent budget
    /// that resets later makes `wait_turn` return `BudgetSpent` instead of waiting.
    pub fn with_max_wait(self, max_wait: Duration) -> Gate {
        self.schedule().max_wait = max_wait.min(MAX_PAUSE);
        self
    }

    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule> {
        // The lock is never held across a panic point that could poison it; recover anyway.
        self.schedule
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until this attempt may start; the ticket goes back with its answer.
    pub async fn wait_turn(&self) -> Result<Ticket, BudgetSpent> {
        loop {
            let now = Instant::now();
            let reserved = self.schedule().reserve(now);
            let (slot, epoch) = match reserved {
                // A slot already due: go now. (A timer even for "now" would wait for the
                // next tick of tokio's millisecond wheel.)
                Reserved::Now(seq) => return Ok(Ticket { seq, sent: now }),
                Reserved::At(slot, epoch) => (slot, epoch),
                Reserved::Exhausted(until) => return Err(BudgetSpent { until }),
            };
            let mut sleeping = Sleeping {
                gate: self,
                armed: true,
            };
            tokio::time::sleep_until(slot).await;
            sleeping.armed = false;
            // A 429 while we slept (our slot may fall inside the pause), a wake-up far later
            // than timer jitter (going now would bunch with the slots after ours), or a
            // budget spent meanwhile: queue again.
            let now = Instant::now();
            let claimed = self.schedule().claim(now, slot, epoch, self.max_lateness);
            if let Some(seq) = claimed {
                return Ok(Ticket { seq, sent: now });
            }
        }
    }

    /// The answer to a request let through with `ticket` came now.
    pub fn answered(&self, ticket: &Ticket, reply: Reply, advertised: Option<&Advertised>) {
        self.schedule()
            .answered(Instant::now(), ticket.seq, ticket.sent, reply, advertised);
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

    /// What the gate learnt about the server's limit (estimate, advertised limit).
    pub fn report(&self) -> GateReport {
        self.schedule().report()
    }

    /// The 429 episodes of every run through this gate so far, for the ledger.
    pub fn pauses(&self) -> Vec<Pause> {
        self.schedule().pauses().to_vec()
    }

    /// The pace right now, requests per second.
    pub fn rate_now(&self) -> f64 {
        self.schedule().rate_at(Instant::now())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sim;
