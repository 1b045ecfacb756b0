//! The gate's unit tests: the schedule is pure (every method takes `now`), the `Gate` runs
//! on tokio's paused clock.

use super::admitted::LOG_MAX;
use super::episode::LEVEL;
use super::*;
use crate::net::ratelimit_headers::{Advertised, Family};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn schedule(rate: &str, burst: u32) -> Schedule {
    Schedule::new(rate.parse().unwrap(), burst)
}

/// The slot a reservation at `now` gets (`now` when it may go at once).
fn slot(s: &mut Schedule, now: Instant) -> Instant {
    match s.reserve(now) {
        Reserved::Now(_) => now,
        Reserved::At(slot, _) => slot,
        Reserved::Exhausted(until) => panic!("budget spent until {until:?}"),
    }
}

#[test]
fn burst_one_spaces_requests_evenly() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    let slots: Vec<_> = (0..4).map(|_| slot(&mut s, t0) - t0).collect();
    assert_eq!(slots, [ms(0), ms(10), ms(20), ms(30)]);
}

#[test]
fn burst_lets_that_many_go_at_once_then_paces() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 3);
    let slots: Vec<_> = (0..5).map(|_| slot(&mut s, t0) - t0).collect();
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
        let at = slot(&mut s, arrival);
        last = at.max(arrival);
        arrival = at + ms(3);
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
    let slots: Vec<_> = (0..4).map(|_| slot(&mut s, later) - later).collect();
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
fn a_429_pauses_everyone_then_paces_under_what_the_server_admitted() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    s.reserve(t0);
    let epoch = s.epoch();
    // The server admitted 50/s for 3 s, then refused.
    let now = admit_steadily(&mut s, t0, 50, 3);
    s.rate_limited(now, now, Duration::from_secs(1));
    assert_ne!(s.epoch(), epoch, "sleepers from before must queue again");
    let first = slot(&mut s, now) - now;
    let second = slot(&mut s, now) - now;
    assert_eq!(
        first,
        Duration::from_secs(1),
        "nobody goes during the pause"
    );
    // The second before the refused request held 49 (the 50th went at its very start).
    let estimate = s.admitted_per_second().unwrap();
    assert!((49.0..=50.0).contains(&estimate), "{estimate}");
    // Right after the pause: 97 % of it, not a fraction of --rate.
    let gap = (second - first).as_secs_f64();
    assert!((1.0 / gap - BETA * estimate).abs() < 0.5, "{gap}");
}

#[test]
fn the_discovery_restarts_lower_than_a_refusal_after_a_steady_run() {
    // Refused 0.5 s after the start, sent at twice the limit: a fixed window's boundary may
    // sit inside the measured second, so the pace restarts at 90 % of the count.
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    s.reserve(t0);
    let at = admit_steadily(&mut s, t0, 100, 1) - ms(500);
    s.rate_limited(at, at, Duration::from_secs(1));
    let resume = at + Duration::from_secs(1);
    let estimate = s.admitted_per_second().unwrap();
    assert!((s.rate_at(resume) - BETA_FIRST * estimate).abs() < 1e-9);
}

#[test]
fn the_count_is_of_the_second_the_limit_enforces_not_of_the_pace_before() {
    // A sliding window of 50/s hit at twice that pace after a slow start: the second before
    // the refusal holds exactly the limit, whatever was sent before it. (The 2 s average of
    // the previous law read this as 37.5/s.)
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    s.reserve(t0);
    let at = admit_steadily(&mut s, t0, 25, 1);
    let gap = ms(10);
    let mut sent = at;
    for _ in 0..33 {
        s.admitted(sent);
        sent += gap;
    }
    // Refused when the second before held 50: 16 sent at 25/s, 33 at 100/s, and this one.
    s.rate_limited(sent + ms(20), sent, Duration::from_secs(1));
    let estimate = s.admitted_per_second().unwrap();
    assert!((49.0..=50.0).contains(&estimate), "{estimate}");
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
    let mut once = schedule("100/s", 1);
    let mut ten = schedule("100/s", 1);
    for s in [&mut once, &mut ten] {
        s.reserve(t0);
        admit_steadily(s, t0, 50, 2);
    }
    let now = t0 + Duration::from_secs(2);
    once.rate_limited(now, now - ms(10), Duration::from_secs(1));
    // Ten requests sent before the first 429 came back, all refused.
    for i in 0..10 {
        ten.rate_limited(now + ms(i), now - ms(10 - i), Duration::from_secs(1));
    }
    let resume = now + ms(9) + Duration::from_secs(1);
    assert_eq!(ten.episodes, 1);
    // The ledger's record of it: one pause, ten answers, the last one's wait.
    let [pause] = ten.pauses() else {
        panic!("one pause: {:?}", ten.pauses())
    };
    assert_eq!(
        (pause.began, pause.wait, pause.answers),
        (now, resume - now, 10)
    );
    assert_eq!(pause.pace_per_second, ten.rate_at(resume));
    assert_eq!(once.pauses()[0].answers, 1);
    assert_eq!(
        once.rate_at(resume - ms(9)),
        ten.rate_at(resume),
        "cut once, not ten times"
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
fn the_pace_rises_to_just_under_the_estimate_stays_then_probes_up_to_the_ceiling() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    s.reserve(t0);
    let now = admit_steadily(&mut s, t0, 50, 2);
    s.rate_limited(now, now, Duration::from_secs(1));
    let resume = now + Duration::from_secs(1);
    let estimate = s.admitted_per_second().unwrap();
    assert!((49.0..=50.0).contains(&estimate), "{estimate}");
    let at = |secs: u64| s.rate_at(resume + Duration::from_secs(secs));
    assert!((at(0) - BETA * estimate).abs() < 1e-9, "{}", at(0));
    assert!(at(5) > at(1) && at(1) > at(0), "rises");
    let level = LEVEL * estimate;
    for secs in [10, 20, 30] {
        assert!(
            (at(secs) - level).abs() < 1e-9,
            "level at {secs} s: {}",
            at(secs)
        );
    }
    assert!(at(45) > level && at(45) < estimate, "probes slowly past it");
    assert!(
        at(120) > 60.0,
        "probes further when the server keeps admitting"
    );
    assert_eq!(at(1000), 100.0, "up to --rate, never above");
}

#[test]
fn a_probe_that_finds_the_same_limit_makes_the_next_probe_later() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    s.reserve(t0);
    let mut at = admit_steadily(&mut s, t0, 50, 2);
    s.rate_limited(at, at, Duration::from_secs(1));
    assert_eq!(s.episode.as_ref().unwrap().recovery, RECOVERY);
    for expected in [2, 4, 8, 8] {
        // The probe after the plateau finds 50/s again.
        at += Duration::from_secs(1) + s.episode.as_ref().unwrap().recovery * 2;
        let next = admit_steadily(&mut s, at, 50, 2);
        s.rate_limited(next, next, Duration::from_secs(1));
        at = next;
        assert_eq!(
            s.episode.as_ref().unwrap().recovery,
            (RECOVERY * expected).min(MAX_RECOVERY)
        );
    }
    // A different limit starts over.
    at += Duration::from_secs(300);
    let next = admit_steadily(&mut s, at, 30, 2);
    s.rate_limited(next, next, Duration::from_secs(1));
    assert_eq!(s.episode.as_ref().unwrap().recovery, RECOVERY);
}

#[test]
fn a_refusal_soon_after_the_pause_measures_what_the_server_sustained() {
    // A token bucket of 20/s holding 20: 40/s for 1 s empties it, and the count of that
    // second (40) is its stored burst plus its rate.
    let t0 = Instant::now();
    let mut s = schedule("40/s", 1);
    s.reserve(t0);
    let at = admit_steadily(&mut s, t0, 40, 1);
    s.rate_limited(at, at, Duration::from_secs(1));
    assert_eq!(
        s.admitted_per_second(),
        Some(39.0),
        "(the very first went at t0)"
    );
    // After the pause (refilled: 20 stored), 36/s drains it again in 1.25 s: 45 admitted.
    let resume = at + Duration::from_secs(1);
    let mut next = resume;
    for _ in 0..45 {
        s.admitted(next);
        next += Duration::from_secs(1) / 36;
    }
    s.rate_limited(next, next, Duration::from_secs(1));
    // 45 (+1) admitted over the 2.25 s since the first refusal, the pause included: 20/s.
    let estimate = s.admitted_per_second().unwrap();
    assert!((19.0..=21.5).contains(&estimate), "{estimate}");
    assert!(s.episode.as_ref().unwrap().sustained.is_some());
    let reported = s.report().estimate.unwrap();
    assert_eq!(reported.per_second, estimate);
    assert_eq!(reported.sustained_per_second, Some(estimate));
    assert_eq!(reported.episodes, 2);
    // The pace levels off under the count that was refused.
    let level = s.rate_at(next + Duration::from_secs(20));
    assert!(level < 36.0 && level >= estimate, "{level}");
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
    assert!(rate_then / 2.0 < 25.0, "{rate_then}");
}

#[test]
fn a_huge_retry_after_is_capped_and_never_panics() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 10_000);
    s.reserve(t0);
    s.rate_limited(t0, t0, Duration::MAX);
    s.rate_limited(t0, t0 - ms(1), Duration::from_secs(u64::MAX));
    assert_eq!(slot(&mut s, t0) - t0, MAX_PAUSE);
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
        limit_hint(49.6, 1.0),
        "the server admitted about 50 ± 1 req/s; consider --rate 48/s"
    );
    assert_eq!(
        limit_hint(0.5, 0.25),
        "the server admitted about 0.50 ± 0.25 req/s; consider --rate 29/m"
    );
    assert_eq!(
        limit_hint(200.0, 0.2),
        "the server admitted about 200 req/s; consider --rate 194/s",
        "an error that rounds to 0 is not shown"
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
    gate.wait_turn().await.unwrap();
    let waiter = tokio::spawn({
        let gate = gate.clone();
        async move {
            gate.wait_turn().await.unwrap();
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

fn policy(quota: u64, window: u64, remaining: u64, reset_ms: u64) -> Advertised {
    Advertised {
        family: Family::Policy,
        limit: Some(quota),
        window: Some(Duration::from_secs(window)),
        remaining: Some(remaining),
        reset: Some(ms(reset_ms)),
        reset_precision: Duration::from_secs(1),
    }
}

/// The first request, started at `t0` and answered `after` it with the `quota` advertised;
/// its sequence number.
fn answer_first(s: &mut Schedule, t0: Instant, after: Duration, quota: &Advertised) -> u64 {
    let (seq, sent) = start(s, t0);
    s.answered(t0 + after, seq, sent, Reply::Admitted, Some(quota));
    seq
}

/// Reserves and, when it must wait, claims at its slot: when request `n` starts.
fn start(s: &mut Schedule, now: Instant) -> (u64, Instant) {
    match s.reserve(now) {
        Reserved::Now(seq) => (seq, now),
        Reserved::At(slot, epoch) => {
            let seq = s.claim(slot, slot, epoch, ms(3)).expect("claims its slot");
            (seq, slot)
        }
        Reserved::Exhausted(until) => panic!("budget spent until {until:?}"),
    }
}

#[test]
fn an_advertised_quota_sets_the_pace_from_the_first_answer() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    let (seq, sent) = start(&mut s, t0);
    assert_eq!(s.rate_at(t0), 100.0);
    s.answered(
        t0 + ms(20),
        seq,
        sent,
        Reply::Admitted,
        Some(&policy(50, 1, 49, 1000)),
    );
    // The quota over its window, no faster than the 49 left spread until the reset (the
    // window's end is known to a second only, before a boundary has been seen).
    assert_eq!(s.rate_at(t0 + ms(20)), 49.0);
    assert_eq!(s.rate_at(t0 + ms(520)), 50.0);
    let report = s.report().advertised.unwrap();
    assert_eq!(report.family, Family::Policy);
    assert_eq!(report.per_second(), Some(50.0));
    assert!(report.window_advertised);
}

/// A sliding window of 20 a second that says so in `family`'s headers: what is left of the
/// last second, and a reset (rounded up to a second) for when its oldest request leaves.
/// The first 200 requests' send times; panics if the window would refuse one.
fn through_a_sliding_window(family: Family, window: Option<Duration>) -> Vec<Instant> {
    let t0 = Instant::now();
    let mut s = schedule("40/s", 1);
    sliding_window_answers(&mut s, t0, family, window)
}

/// 200 requests through `s` from `t0`, answered as a sliding window of 20 a second would.
fn sliding_window_answers(
    s: &mut Schedule,
    t0: Instant,
    family: Family,
    window: Option<Duration>,
) -> Vec<Instant> {
    let mut counted: std::collections::VecDeque<Instant> = Default::default();
    let mut sent_at = Vec::new();
    let mut now = t0;
    for _ in 0..200 {
        let (seq, sent) = start(s, now);
        counted.retain(|&at| sent.saturating_duration_since(at) < Duration::from_secs(1));
        assert!(counted.len() < 20, "{family:?}: refused at {:?}", sent - t0);
        counted.push_back(sent);
        let told = Advertised {
            family,
            limit: Some(20),
            window,
            remaining: Some(20 - counted.len() as u64),
            reset: Some(Duration::from_secs(1)),
            reset_precision: Duration::from_secs(1),
        };
        now = sent + ms(10);
        s.answered(now, seq, sent, Reply::Admitted, Some(&told));
        sent_at.push(sent);
    }
    sent_at
}

#[test]
fn a_sliding_window_that_says_its_limit_is_paced_at_it_not_held_for_each_rounded_reset() {
    for (family, window) in [
        (Family::Policy, Some(Duration::from_secs(1))),
        (Family::Draft, None),
        (Family::Github, None),
    ] {
        let sent = through_a_sliding_window(family, window);
        // Once the first second's budget is spent, the pace is the quota's (19.8/s: 180
        // requests in about 9.1 s), not one window's worth per rounded reset (about 18 s).
        let took = sent[199] - sent[20];
        assert!(
            took < Duration::from_secs(10),
            "{family:?}: 180 requests took {took:?}"
        );
    }
}

#[test]
fn a_sliding_quota_spent_for_long_still_holds_until_its_reset() {
    let t0 = Instant::now();
    let mut s = schedule("40/s", 1);
    // Paced as a sliding window (remaining comes back by ones)...
    sliding_window_answers(&mut s, t0, Family::Policy, Some(Duration::from_secs(1)));
    // ...until an answer says nothing is left for ten minutes.
    let now = t0 + Duration::from_secs(30);
    let (seq, sent) = start(&mut s, now);
    let spent = Advertised {
        remaining: Some(0),
        reset: Some(Duration::from_secs(600)),
        ..policy(20, 1, 0, 0)
    };
    s.answered(sent + ms(10), seq, sent, Reply::Admitted, Some(&spent));
    let next = slot(&mut s, sent + ms(20));
    assert!(
        next >= sent + ms(10) + Duration::from_secs(599),
        "waits for the reset at its earliest: {:?}",
        next - sent
    );
}

#[test]
fn never_spends_past_remaining_before_the_reset() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    // Two left in a window ending in 400 ms (the reset says 1 s, rounded up).
    answer_first(&mut s, t0, ms(10), &policy(3, 1, 2, 1000));
    let after = t0 + ms(10);
    let (_, a) = start(&mut s, after);
    let (_, b) = start(&mut s, after);
    let (_, c) = start(&mut s, after);
    assert!(a < b && b < t0 + ms(1010), "{:?} {:?}", a - t0, b - t0);
    assert!(c >= t0 + ms(1010), "the third waits for the reset");
}

#[test]
fn a_refill_shows_the_window_boundary_and_the_budget_waits_only_until_the_next() {
    let t0 = Instant::now();
    let mut s = schedule("10/s", 1);
    let answer = |s: &mut Schedule, at: Instant, remaining: u64| {
        let (seq, sent) = start(s, at);
        let answered = sent + ms(20);
        let quota = policy(20, 1, remaining, 1000);
        s.answered(answered, seq, sent, Reply::Admitted, Some(&quota));
        (sent, answered)
    };
    // 20 per second, shared: others spend most of it. Nothing left, reset "1" (rounded
    // up): held until that answer + 1 s, nothing saying where the boundary is.
    answer(&mut s, t0, 19);
    let (_, spent) = answer(&mut s, t0 + ms(100), 0);
    let (sent, refill) = answer(&mut s, t0 + ms(200), 19);
    assert_eq!(sent, spent + Duration::from_secs(1));
    // That answer shows a fresh window (19 left of 20): a boundary passed since the
    // previous answer's request, at the latest at this answer. Spent again: the next waits
    // for the boundary learnt (the refill + 1 s), not for the rounded reset (its answer
    // + 1 s).
    let (_, spent) = answer(&mut s, sent + ms(100), 0);
    let (_, next) = start(&mut s, spent + ms(10));
    assert_eq!(next, refill + Duration::from_secs(1));
    assert!(next < spent + Duration::from_secs(1));
    // And with a boundary known, the pace is the quota over its window (here --rate's 10).
    assert_eq!(s.rate_at(next), 10.0);
    assert!(s.report().advertised.unwrap().budget_waits >= 1);
}

#[test]
fn answers_from_a_window_that_has_ended_do_not_spend_the_next_one() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    answer_first(&mut s, t0, ms(10), &policy(10, 1, 9, 500));
    // A request sent before the window's end, answered after it, saying 0 left (of the
    // old window): the new window is not spent.
    let (old, old_sent) = start(&mut s, t0 + ms(400));
    let past = t0 + ms(600);
    let (_, first_new) = start(&mut s, past);
    s.answered(
        past + ms(1),
        old,
        old_sent,
        Reply::Admitted,
        Some(&policy(10, 1, 0, 1000)),
    );
    let (_, next) = start(&mut s, past + ms(2));
    assert_eq!(next, first_new + ms(100), "paced at 10/s, not held");
}

#[test]
fn a_budget_spent_longer_than_max_wait_is_reported_not_waited_for() {
    let t0 = Instant::now();
    let mut s = schedule("100/s", 1);
    s.max_wait = Duration::from_secs(60);
    let (seq, sent) = start(&mut s, t0);
    // Nothing left for an hour (GitHub's hourly quota spent).
    let hour = Advertised {
        family: Family::Github,
        limit: Some(5000),
        window: None,
        remaining: Some(0),
        reset: Some(Duration::from_secs(3600)),
        reset_precision: Duration::from_secs(1),
    };
    s.answered(t0 + ms(10), seq, sent, Reply::Admitted, Some(&hour));
    match s.reserve(t0 + ms(20)) {
        Reserved::Exhausted(until) => assert_eq!(until, t0 + ms(10) + Duration::from_secs(3600)),
        other => panic!("{other:?}"),
    }
    // A hostile reset is capped at a day, and with no --max-wait it is waited for.
    let mut s = schedule("100/s", 1);
    let (seq, sent) = start(&mut s, t0);
    let forever = Advertised {
        reset: Some(Duration::MAX),
        ..hour
    };
    s.answered(t0 + ms(10), seq, sent, Reply::Admitted, Some(&forever));
    assert_eq!(slot(&mut s, t0 + ms(20)), t0 + ms(10) + MAX_PAUSE);
}

#[test]
fn the_429s_a_server_sends_below_what_it_advertises_still_set_the_pace() {
    let t0 = Instant::now();
    let mut s = schedule("200/s", 1);
    let seq = answer_first(&mut s, t0, ms(5), &policy(100, 1, 99, 1000));
    assert!((99.0..=100.0).contains(&s.rate_at(t0 + ms(5))));
    // It admits 40/s and refuses the rest, with plenty "remaining".
    let now = admit_steadily(&mut s, t0, 40, 2);
    s.answered(
        now,
        seq + 1,
        now,
        Reply::RateLimited(Duration::from_secs(1)),
        Some(&policy(100, 1, 60, 1000)),
    );
    let later = now + Duration::from_secs(20);
    assert!(s.rate_at(later) < 40.0, "{}", s.rate_at(later));
}

#[tokio::test(start_paused = true)]
async fn one_gate_shared_by_two_runs_shares_their_pause() {
    let gate = std::sync::Arc::new(Gate::new("10/s".parse().unwrap(), 1));
    let listing = gate.clone();
    let deleting = gate.clone();
    let ticket = listing.wait_turn().await.unwrap();
    // The listing's request is refused with a 5 s Retry-After…
    listing.answered(&ticket, Reply::RateLimited(Duration::from_secs(5)), None);
    let refused_at = Instant::now();
    // …so the deletes that follow (another pool run, the same gate) wait it out too.
    let ticket = deleting.wait_turn().await.unwrap();
    assert!(ticket.sent >= refused_at + Duration::from_secs(5));
    assert_eq!(deleting.report().estimate.unwrap().episodes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_before_its_turn_gives_its_place_back() {
    let gate = Gate::new("1/s".parse().unwrap(), 1);
    gate.wait_turn().await.unwrap();
    // A waiter for the next slot, cancelled (a stop) before it comes.
    let waited = tokio::time::timeout(ms(100), gate.wait_turn()).await;
    assert!(waited.is_err());
    assert_eq!(gate.schedule().waiting, 0);
}

#[test]
fn the_admitted_log_stays_bounded() {
    let t0 = Instant::now();
    let mut s = schedule("1000000/s", 1);
    s.reserve(t0);
    let mut at = t0;
    for _ in 0..200_000 {
        s.admitted(at);
        at += Duration::from_micros(33);
    }
    assert!(s.admitted.sent.capacity() <= LOG_MAX);
    // At 30,000/s the last second is more than it holds: the count is scaled from the
    // span it holds.
    let counted = s.admitted.count(at - Duration::from_secs(1), at);
    assert!((29_000..=31_000).contains(&counted), "{counted}");
}

#[test]
fn every_request_gets_its_own_sequence_number() {
    let t0 = Instant::now();
    let mut s = schedule("10/s", 2);
    let mut seqs = Vec::new();
    for _ in 0..2 {
        let Reserved::Now(seq) = s.reserve(t0) else {
            panic!("the burst goes at once")
        };
        seqs.push(seq);
    }
    // One sleeps toward its slot; another, reserving later, may go at once before it wakes.
    let Reserved::At(slot, epoch) = s.reserve(t0) else {
        panic!("paced")
    };
    let Reserved::Now(seq) = s.reserve(t0 + ms(200)) else {
        panic!("its slot is due")
    };
    seqs.push(seq);
    seqs.push(s.claim(t0 + ms(201), slot, epoch, ms(200)).unwrap());
    assert_eq!(seqs, [0, 1, 2, 3]);
}
