//! A discrete-event simulation of pools sending through their gates to one rate-limited
//! server, in virtual time: the law's behaviour over a 30 s run in a few milliseconds, for
//! every kind of limit, phase and shard count. The server's limits are the imitation's
//! (`mock/limiter.rs`: sliding window, fixed window, token bucket) with its `Retry-After`
//! (the wait rounded up to whole seconds) and, when asked, its advertised headers.
//!
//! The tests here assert the law's outcome on a few cases; the sweep
//! (`cargo test --lib gate::sim::sweep -- --ignored --nocapture`) prints every case.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::net::ratelimit_headers::{Advertised, Family};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Shape {
    Sliding,
    /// Windows starting at `phase` (seconds, 0..1) after the client's start.
    Fixed(f64),
    /// A bucket of `limit` capacity.
    Bucket,
}

struct Server {
    shape: Shape,
    limit: u32,
    log: VecDeque<Duration>,
    window: u64,
    count: u32,
    tokens: f64,
    last: Duration,
    headers: Option<Family>,
}

const SECOND: Duration = Duration::from_secs(1);

impl Server {
    fn new(shape: Shape, limit: u32, headers: Option<Family>) -> Server {
        Server {
            shape,
            limit,
            log: VecDeque::new(),
            window: u64::MAX,
            count: 0,
            tokens: f64::from(limit),
            last: Duration::ZERO,
            headers,
        }
    }

    fn fixed_window(&self, t: Duration, phase: f64) -> (u64, Duration) {
        // Windows [phase + k - 1, phase + k): number k, and the time to its end.
        let shifted = t.as_secs_f64() + 1.0 - phase;
        let k = shifted.floor() as u64;
        let end = (k as f64 + 1.0 - shifted).max(0.0);
        (k, Duration::from_secs_f64(end))
    }

    fn admit(&mut self, t: Duration) -> Result<(), Duration> {
        match self.shape {
            Shape::Sliding => {
                while self
                    .log
                    .front()
                    .is_some_and(|&o| t.saturating_sub(o) >= SECOND)
                {
                    self.log.pop_front();
                }
                if self.log.len() < self.limit as usize {
                    self.log.push_back(t);
                    return Ok(());
                }
                let oldest = self.log.front().copied().unwrap_or(t);
                Err(SECOND.saturating_sub(t.saturating_sub(oldest)))
            }
            Shape::Fixed(phase) => {
                let (k, end) = self.fixed_window(t, phase);
                if k != self.window {
                    self.window = k;
                    self.count = 0;
                }
                if self.count < self.limit {
                    self.count += 1;
                    return Ok(());
                }
                Err(end)
            }
            Shape::Bucket => {
                let rate = f64::from(self.limit);
                let elapsed = t.saturating_sub(self.last).as_secs_f64();
                self.tokens = (self.tokens + elapsed * rate).min(rate);
                self.last = self.last.max(t);
                if self.tokens >= 1.0 {
                    self.tokens -= 1.0;
                    return Ok(());
                }
                Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
            }
        }
    }

    /// The headers the imitation would send with an answer at `t` (fixed windows only).
    fn advertise(&mut self, t: Duration) -> Option<Advertised> {
        let family = self.headers?;
        let Shape::Fixed(phase) = self.shape else {
            return None;
        };
        let (k, end) = self.fixed_window(t, phase);
        let used = if k == self.window { self.count } else { 0 };
        let remaining = u64::from(self.limit.saturating_sub(used));
        let ceil = Duration::from_secs(end.as_secs() + u64::from(end.subsec_nanos() > 0));
        Some(Advertised {
            family,
            limit: Some(u64::from(self.limit)),
            window: (family == Family::Policy).then_some(SECOND),
            remaining: Some(remaining),
            // GitHub's Unix-time reset: the window's end rounded up to a whole second of a
            // wall clock whose seconds start 0.37 s into the run.
            reset: Some(if family == Family::Github {
                let at = (t + end).as_secs_f64() + 0.37;
                Duration::from_secs_f64(at.ceil() - 0.37 - t.as_secs_f64())
            } else {
                ceil
            }),
            reset_precision: SECOND,
        })
    }
}

/// One pool: its gate's schedule, workers, and the requests it has left.
struct Client {
    schedule: Schedule,
    workers: usize,
    left: u64,
    done: u64,
    refused: u64,
    requests: u64,
    finished: Duration,
    per_second: Vec<u64>,
}

#[derive(Debug)]
enum Event {
    /// A worker looks for its next slot.
    Reserve { client: usize },
    Wake {
        client: usize,
        slot: Duration,
        epoch: u64,
    },
    Answer {
        client: usize,
        seq: u64,
        sent: Duration,
        refused: Option<Duration>,
        advertised: Option<Advertised>,
    },
}

/// Events in time order (ties in the order they were pushed).
#[derive(Default)]
struct Events {
    heap: BinaryHeap<Reverse<(Duration, usize)>>,
    payloads: Vec<Option<Event>>,
}

impl Events {
    fn push(&mut self, t: Duration, event: Event) {
        self.payloads.push(Some(event));
        self.heap.push(Reverse((t, self.payloads.len() - 1)));
    }

    fn pop(&mut self) -> Option<(Duration, Event)> {
        let Reverse((t, index)) = self.heap.pop()?;
        Some((t, self.payloads[index].take()?))
    }
}

/// What one simulated run gave.
#[derive(Debug)]
pub(super) struct Outcome {
    /// Whole-run goodput ÷ limit, and the 429 share.
    pub goodput: f64,
    pub share_429: f64,
    pub estimate: Option<f64>,
    pub seconds: f64,
}

pub(super) struct Case {
    pub shape: Shape,
    pub limit: u32,
    /// `--rate` of each client.
    pub rate: u32,
    pub clients: usize,
    pub seconds: u64,
    pub headers: Option<Family>,
    pub seed: u64,
}

/// A small deterministic generator for latencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub(super) fn run(case: &Case) -> Outcome {
    let base = Instant::now();
    let at = |d: Duration| base + d;
    let since = |i: Instant| i.saturating_duration_since(base);
    let mut server = Server::new(case.shape, case.limit, case.headers);
    let total = u64::from(case.limit) * case.seconds;
    let share = total / case.clients as u64;
    let mut clients: Vec<Client> = (0..case.clients)
        .map(|k| Client {
            schedule: Schedule::new(
                Rate {
                    requests: case.rate,
                    per: SECOND,
                },
                1,
            ),
            // Little's law at 30 ms, with margin, as `auto` settles.
            workers: (f64::from(case.rate) * 0.03 * 1.25).ceil() as usize + 1,
            left: if k == 0 {
                total - share * (case.clients as u64 - 1)
            } else {
                share
            },
            done: 0,
            refused: 0,
            requests: 0,
            finished: Duration::ZERO,
            per_second: Vec::new(),
        })
        .collect();
    let mut rng = Rng(case.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut events = Events::default();
    for (index, client) in clients.iter().enumerate() {
        for _ in 0..client.workers {
            events.push(Duration::ZERO, Event::Reserve { client: index });
        }
    }
    let max_lateness = Duration::from_millis(3);
    while let Some((t, event)) = events.pop() {
        match event {
            Event::Reserve { client } => {
                let c = &mut clients[client];
                if c.left == 0 {
                    continue;
                }
                c.left -= 1;
                match c.schedule.reserve(at(t)) {
                    Reserved::Now(seq) => {
                        let e = send(&mut server, &mut rng, client, seq, t);
                        c.requests += 1;
                        events.push(e.0, e.1);
                    }
                    Reserved::At(slot, epoch) => {
                        events.push(
                            since(slot),
                            Event::Wake {
                                client,
                                slot: since(slot),
                                epoch,
                            },
                        );
                    }
                    Reserved::Exhausted(_) => panic!("no max wait in the simulation"),
                }
            }
            Event::Wake {
                client,
                slot,
                epoch,
            } => {
                let c = &mut clients[client];
                match c.schedule.claim(at(t), at(slot), epoch, max_lateness) {
                    Some(seq) => {
                        let e = send(&mut server, &mut rng, client, seq, t);
                        c.requests += 1;
                        events.push(e.0, e.1);
                    }
                    None => {
                        c.left += 1;
                        events.push(t, Event::Reserve { client });
                    }
                }
            }
            Event::Answer {
                client,
                seq,
                sent,
                refused,
                advertised,
            } => {
                let c = &mut clients[client];
                let reply = match refused {
                    Some(wait) => Reply::RateLimited(wait),
                    None => Reply::Admitted,
                };
                c.schedule
                    .answered(at(t), seq, at(sent), reply, advertised.as_ref());
                if refused.is_some() {
                    c.refused += 1;
                    c.left += 1;
                } else {
                    c.done += 1;
                    c.finished = t;
                    let second = sent.as_secs() as usize;
                    if c.per_second.len() <= second {
                        c.per_second.resize(second + 1, 0);
                    }
                    c.per_second[second] += 1;
                }
                events.push(t, Event::Reserve { client });
            }
        }
    }
    let end = clients.iter().map(|c| c.finished).max().unwrap_or_default();
    let done: u64 = clients.iter().map(|c| c.done).sum();
    let requests: u64 = clients.iter().map(|c| c.requests).sum();
    let refused: u64 = clients.iter().map(|c| c.refused).sum();
    if std::env::var_os("SIM_TRACE").is_some() {
        for c in &clients {
            println!("{:?}", c.per_second);
            println!("{:?}", c.schedule.report());
        }
    }
    Outcome {
        goodput: done as f64 / end.as_secs_f64() / f64::from(case.limit),
        share_429: refused as f64 / requests.max(1) as f64,
        estimate: clients[0].schedule.admitted_per_second(),
        seconds: end.as_secs_f64(),
    }
}

fn send(
    server: &mut Server,
    rng: &mut Rng,
    client: usize,
    seq: u64,
    t: Duration,
) -> (Duration, Event) {
    let latency = Duration::from_secs_f64(0.005 + 0.025 * rng.next());
    let refused = server.admit(t).err().map(|wait| {
        Duration::from_secs((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
    });
    let advertised = server.advertise(t);
    (
        t + latency,
        Event::Answer {
            client,
            seq,
            sent: t,
            refused,
            advertised,
        },
    )
}

fn name(shape: Shape) -> String {
    match shape {
        Shape::Sliding => "sliding".into(),
        Shape::Fixed(phase) => format!("fixed@{phase:.2}"),
        Shape::Bucket => "bucket".into(),
    }
}

#[test]
#[ignore = "a sweep for tuning the law; prints a table"]
fn sweep() {
    let phases = [0.05, 0.3, 0.55, 0.8];
    let mut shapes = vec![Shape::Sliding, Shape::Bucket];
    shapes.extend(phases.iter().map(|&p| Shape::Fixed(p)));
    for clients in [1, 3] {
        for &limit in &[20u32, 50, 200] {
            for &shape in &shapes {
                let rate = if clients == 1 {
                    limit * 2
                } else {
                    (limit * 2).div_ceil(3)
                };
                let mut line = format!("{clients} × {:>10} {limit:>3}/{rate:<3}", name(shape));
                for seed in 1..=3 {
                    let out = run(&Case {
                        shape,
                        limit,
                        rate,
                        clients,
                        seconds: 30,
                        headers: None,
                        seed,
                    });
                    line += &format!(
                        " | {:.3} {:.2}% {:>6.1} {:>5.1}s",
                        out.goodput,
                        out.share_429 * 100.0,
                        out.estimate.unwrap_or(0.0),
                        out.seconds
                    );
                }
                println!("{line}");
            }
        }
    }
    for family in [Family::Github, Family::Draft, Family::Policy] {
        for &limit in &[20u32, 50, 200] {
            let mut line = format!("{family:?} {limit}/{}", limit * 2);
            for (seed, &phase) in phases.iter().chain(&[0.99]).enumerate() {
                let out = run(&Case {
                    shape: Shape::Fixed(phase),
                    limit,
                    rate: limit * 2,
                    clients: 1,
                    seconds: 30,
                    headers: Some(family),
                    seed: seed as u64 + 1,
                });
                line += &format!(" | {:.3} {:.2}%", out.goodput, out.share_429 * 100.0);
            }
            println!("{line}");
        }
    }
}

#[test]
#[ignore = "prints one case second by second"]
fn trace() {
    let shape = match std::env::var("SIM_SHAPE").as_deref() {
        Ok("sliding") => Shape::Sliding,
        Ok("bucket") => Shape::Bucket,
        _ => Shape::Fixed(
            std::env::var("SIM_PHASE")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0.05),
        ),
    };
    let family = match std::env::var("SIM_HEADERS").as_deref() {
        Ok("github") => Some(Family::Github),
        Ok("draft") => Some(Family::Draft),
        Ok("policy") => Some(Family::Policy),
        _ => None,
    };
    let limit: u32 = std::env::var("SIM_LIMIT")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(50);
    let clients: usize = std::env::var("SIM_CLIENTS")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(1);
    let seconds: u64 = std::env::var("SIM_SECONDS")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(30);
    let out = run(&Case {
        shape,
        limit,
        rate: if clients == 1 {
            limit * 2
        } else {
            (limit * 2).div_ceil(3)
        },
        clients,
        seconds,
        headers: family,
        seed: 1,
    });
    println!("{out:?}");
}
