//! What the mock saw: the counters behind `GET /_mock/stats` and [`MockServer::stats`].
//!
//! Constraint: counting must stay cheap on the fast path, because benchmarks compare
//! blockade against `wrk` posting to this server and the server must not be the
//! bottleneck. Everything a benchmark needs is an atomic counter; only the detailed
//! record (per-ID counts, arrival times, `blockTill` values) takes a lock, and only
//! when `record_ids` asked for it.
//!
//! [`MockServer::stats`]: super::MockServer::stats

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::blocklist::{BlockList, Kind};

use serde::{Deserialize, Serialize};

/// A snapshot of everything the mock counted, as served by `GET /_mock/stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every POST to the block endpoint, whatever its answer.
    pub requests: u64,
    /// Answers by HTTP status; connections dropped by the reset fault count under 0.
    pub by_status: BTreeMap<u16, u64>,
    /// IDs in batches answered 200 `{"data": true}`, repeats included.
    pub ids_blocked: u64,
    /// Distinct IDs blocked (`record_ids` only; 0 otherwise).
    pub unique_ids_blocked: u64,
    /// Size of each accepted (blocked) batch -> how many such batches.
    pub batch_sizes: BTreeMap<usize, u64>,
    /// Most block requests being handled at the same time.
    pub max_in_flight: u64,
    /// TCP connections accepted: with keep-alive, no more than the client's concurrency.
    pub connections: u64,
    /// Most requests that arrived within any sliding 1 s window (`record_ids` only; 0 otherwise).
    pub max_per_second: u64,
    /// Requests per whole second since the first request (`record_ids` only).
    pub per_second: Vec<u64>,
    /// Blocked ID -> times blocked (`record_ids` only).
    pub ids: Option<BTreeMap<u64, u64>>,
    /// `blockTill` value -> IDs blocked with it (`record_ids` only).
    pub block_tills: BTreeMap<String, u64>,
    /// `GET /api/v1/crm/block-visitor` calls (list), whatever their answer.
    #[serde(default)]
    pub list_requests: u64,
    /// `GET /api/v1/crm/block-visitor/{id}` calls, whatever their answer.
    #[serde(default)]
    pub get_requests: u64,
    /// `DELETE /api/v1/crm/block-visitor?id=N` calls, whatever their answer.
    #[serde(default)]
    pub delete_requests: u64,
    /// Records in the block list now (0 when the mock keeps no list).
    #[serde(default)]
    pub live_records: u64,
    /// Live records by type ("contact", "email", "ip"); types with none are left out.
    #[serde(default)]
    pub live_by_type: BTreeMap<String, u64>,
    /// Records deleted (DELETE answered `affected: 1`).
    #[serde(default)]
    pub records_deleted: u64,
    /// Requests that may change the account: POSTs to the block endpoint plus DELETEs,
    /// whatever their answer. 0 means the client sent no write.
    #[serde(default)]
    pub writes: u64,
    /// Per route ("POST /api/v1/crm/block-visitor", "DELETE /api/v1/crm/block-visitor",
    /// "GET /api/v1/crm/block-visitor", "GET /api/v1/crm/block-visitor/{id}"): its requests
    /// and their answers by status. Routes never called are left out.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteStats>,
    /// Live records whose `blockTill` has passed (still listed; counted in `live_records`).
    #[serde(default)]
    pub expired_records: u64,
    /// Live records by the user who blocked them (1: through the API; others: seeded).
    #[serde(default)]
    pub live_by_block_by: BTreeMap<u32, u64>,
    /// Records created by the client's blocks.
    #[serde(default)]
    pub records_created: u64,
    /// Values the client blocked again whose existing record took the new `blockTill`
    /// (`--on-duplicate update`).
    #[serde(default)]
    pub values_updated: u64,
    /// Blocks answered 400 `ERROR_DUPLICATE_RECORD_FOUND`.
    #[serde(default)]
    pub duplicates_refused: u64,
    /// Calls to the `/_mock/` admin routes other than stats and health (not counted above).
    #[serde(default)]
    pub admin_requests: u64,
    /// Records added by seeds (at start and through `/_mock/seed`).
    #[serde(default)]
    pub records_seeded: u64,
    /// Records deleted behind the client's back (`/_mock/unblock`).
    #[serde(default)]
    pub admin_records_deleted: u64,
    /// Records given another `blockTill` behind the client's back (`/_mock/expire`).
    #[serde(default)]
    pub admin_records_retimed: u64,
}

/// One route's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStats {
    /// Requests, whatever their answer.
    pub requests: u64,
    /// Answers by HTTP status (0: connection dropped).
    pub by_status: BTreeMap<u16, u64>,
}

/// The calls besides a block, each counted on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    List,
    Get,
    Delete,
}

/// The API's routes, each counted on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Block,
    List,
    Get,
    Delete,
}

impl Route {
    const ALL: [Route; 4] = [Route::Block, Route::List, Route::Get, Route::Delete];

    /// Its name in `Stats::routes`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Route::Block => "POST /api/v1/crm/block-visitor",
            Route::List => "GET /api/v1/crm/block-visitor",
            Route::Get => "GET /api/v1/crm/block-visitor/{id}",
            Route::Delete => "DELETE /api/v1/crm/block-visitor",
        }
    }
}

impl From<Call> for Route {
    fn from(call: Call) -> Route {
        match call {
            Call::List => Route::List,
            Call::Get => Route::Get,
            Call::Delete => Route::Delete,
        }
    }
}

/// The statuses the endpoint can answer, each with its own lock-free counter.
/// 0 stands for "connection dropped without an answer".
const COUNTED_STATUSES: [u16; 8] = [0, 200, 400, 401, 404, 429, 500, 503];

/// Batches up to this size are counted in a lock-free table; larger ones are rare
/// enough to go through a lock.
const SMALL_BATCH_LIMIT: usize = 1024;

/// The live counters one server updates while it answers.
pub(crate) struct StatsRecorder {
    requests: AtomicU64,
    by_status: [AtomicU64; COUNTED_STATUSES.len()],
    /// Statuses outside `COUNTED_STATUSES`: none today, but a new answer must never vanish.
    other_statuses: Mutex<BTreeMap<u16, u64>>,
    ids_blocked: AtomicU64,
    small_batches: Box<[AtomicU64]>,
    large_batches: Mutex<BTreeMap<usize, u64>>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    connections: AtomicU64,
    /// List, get, delete calls (indexed by `Call as usize`).
    calls: [AtomicU64; 3],
    /// Answers by route (`Route as usize`) and status (as `by_status`); others in the map.
    route_statuses: [[AtomicU64; COUNTED_STATUSES.len()]; 4],
    route_other_statuses: Mutex<BTreeMap<(usize, u16), u64>>,
    admin: AtomicU64,
    detail: Option<Mutex<DetailedRecord>>,
}

/// The expensive, exact record kept only when `record_ids` is on.
#[derive(Default)]
struct DetailedRecord {
    first_arrival: Option<Instant>,
    /// Offsets from `first_arrival`, in arrival order (taken under the lock, so sorted).
    arrivals: Vec<Duration>,
    per_second: Vec<u64>,
    ids: BTreeMap<u64, u64>,
    block_tills: BTreeMap<String, u64>,
}

/// Marks one request as being handled; dropping it marks the request done.
pub(crate) struct InFlightGuard<'a> {
    in_flight: &'a AtomicU64,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    /// Fills in the block list's figures.
    pub(crate) fn add_list(&mut self, list: &BlockList) {
        self.live_records = list.live();
        self.live_by_type = Kind::ALL
            .iter()
            .map(|&kind| (kind.as_str().to_owned(), list.live_of(kind)))
            .filter(|&(_, count)| count > 0)
            .collect();
        self.expired_records = list.expired(chrono::Utc::now().timestamp_millis());
        self.live_by_block_by = list.live_by_user().clone();
        let counts = list.counts();
        self.records_deleted = counts.deleted;
        self.records_created = counts.created;
        self.values_updated = counts.updated;
        self.duplicates_refused = counts.refused;
        self.records_seeded = counts.seeded;
        self.admin_records_deleted = counts.admin_deleted;
        self.admin_records_retimed = counts.admin_retimed;
    }

    /// Every call of the API the imitation answered: blocks, lists, gets and deletes.
    pub fn api_calls(&self) -> u64 {
        self.requests + self.list_requests + self.get_requests + self.delete_requests
    }
}

impl StatsRecorder {
    pub(crate) fn new(record_ids: bool) -> Self {
        StatsRecorder {
            requests: AtomicU64::new(0),
            by_status: std::array::from_fn(|_| AtomicU64::new(0)),
            other_statuses: Mutex::new(BTreeMap::new()),
            ids_blocked: AtomicU64::new(0),
            small_batches: (0..=SMALL_BATCH_LIMIT).map(|_| AtomicU64::new(0)).collect(),
            large_batches: Mutex::new(BTreeMap::new()),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            calls: std::array::from_fn(|_| AtomicU64::new(0)),
            route_statuses: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            route_other_statuses: Mutex::new(BTreeMap::new()),
            admin: AtomicU64::new(0),
            detail: record_ids.then(|| Mutex::new(DetailedRecord::default())),
        }
    }

    /// Counts a request arriving at the endpoint and returns its sequence number
    /// (0 for the first), which seeds that request's fault dice.
    pub(crate) fn on_arrival(&self) -> u64 {
        let sequence = self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(detail) = &self.detail {
            let mut detail = lock(detail);
            let now = Instant::now();
            let first = *detail.first_arrival.get_or_insert(now);
            let offset = now.saturating_duration_since(first);
            detail.arrivals.push(offset);
            let second = usize::try_from(offset.as_secs()).unwrap_or(usize::MAX);
            if detail.per_second.len() <= second {
                detail.per_second.resize(second.saturating_add(1), 0);
            }
            if let Some(count) = detail.per_second.get_mut(second) {
                *count += 1;
            }
        }
        sequence
    }

    /// Counts a list, get or delete call and returns its sequence number for the fault
    /// dice: distinct from every block's, so adding such calls does not change the
    /// faults a seed gives the blocks.
    pub(crate) fn on_call(&self, call: Call) -> u64 {
        let n = self.calls[call as usize].fetch_add(1, Ordering::Relaxed);
        (1 << 62) | ((call as u64) << 56) | (n & ((1 << 56) - 1))
    }

    /// Counts a call to an admin route.
    pub(crate) fn on_admin(&self) {
        self.admin.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answer of `route`, in `by_status` and in the route's own figures.
    pub(crate) fn record_route_status(&self, route: Route, status: u16) {
        self.record_status(status);
        match COUNTED_STATUSES.iter().position(|&known| known == status) {
            Some(slot) => {
                self.route_statuses[route as usize][slot].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                *lock(&self.route_other_statuses)
                    .entry((route as usize, status))
                    .or_insert(0) += 1;
            }
        }
    }

    /// Counts an accepted connection.
    pub(crate) fn on_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a request as in flight until the returned guard is dropped.
    pub(crate) fn enter(&self) -> InFlightGuard<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlightGuard {
            in_flight: &self.in_flight,
        }
    }

    /// Counts one answer (0 = connection dropped).
    pub(crate) fn record_status(&self, status: u16) {
        match COUNTED_STATUSES.iter().position(|&known| known == status) {
            Some(slot) => {
                self.by_status[slot].fetch_add(1, Ordering::Relaxed);
            }
            None => *lock(&self.other_statuses).entry(status).or_insert(0) += 1,
        }
    }

    /// Counts a batch answered 200 `{"data": true}`.
    pub(crate) fn record_blocked(&self, ids: &[u64], block_till: &str) {
        self.record_batch(ids.len(), ids, block_till);
    }

    /// Counts a batch of `size` emails or IPs answered 200.
    pub(crate) fn record_blocked_strings(&self, size: usize, block_till: &str) {
        self.record_batch(size, &[], block_till);
    }

    /// Counts a batch of `size` values; `ids` are the contact IDs among them.
    fn record_batch(&self, size: usize, ids: &[u64], block_till: &str) {
        self.ids_blocked.fetch_add(size as u64, Ordering::Relaxed);
        match self.small_batches.get(size) {
            Some(counter) => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            None => *lock(&self.large_batches).entry(size).or_insert(0) += 1,
        }
        if let Some(detail) = &self.detail {
            let mut detail = lock(detail);
            for &id in ids {
                *detail.ids.entry(id).or_insert(0) += 1;
            }
            match detail.block_tills.get_mut(block_till) {
                Some(count) => *count += size as u64,
                None => {
                    detail
                        .block_tills
                        .insert(block_till.to_owned(), size as u64);
                }
            }
        }
    }

    /// A consistent-enough snapshot: each counter is read once, without stopping traffic.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut by_status: BTreeMap<u16, u64> = COUNTED_STATUSES
            .iter()
            .zip(&self.by_status)
            .map(|(&status, count)| (status, count.load(Ordering::Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect();
        by_status.extend(lock(&self.other_statuses).iter().map(|(&s, &c)| (s, c)));

        let mut batch_sizes: BTreeMap<usize, u64> = self
            .small_batches
            .iter()
            .enumerate()
            .map(|(size, count)| (size, count.load(Ordering::Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect();
        batch_sizes.extend(lock(&self.large_batches).iter().map(|(&s, &c)| (s, c)));

        let mut stats = Stats {
            requests: self.requests.load(Ordering::Relaxed),
            by_status,
            ids_blocked: self.ids_blocked.load(Ordering::Relaxed),
            batch_sizes,
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            list_requests: self.calls[Call::List as usize].load(Ordering::Relaxed),
            get_requests: self.calls[Call::Get as usize].load(Ordering::Relaxed),
            delete_requests: self.calls[Call::Delete as usize].load(Ordering::Relaxed),
            ..Stats::default()
        };
        stats.writes = stats.requests + stats.delete_requests;
        stats.admin_requests = self.admin.load(Ordering::Relaxed);
        let other_routes = lock(&self.route_other_statuses).clone();
        for route in Route::ALL {
            let requests = match route {
                Route::Block => stats.requests,
                Route::List => stats.list_requests,
                Route::Get => stats.get_requests,
                Route::Delete => stats.delete_requests,
            };
            if requests == 0 {
                continue;
            }
            let mut by_status: BTreeMap<u16, u64> = COUNTED_STATUSES
                .iter()
                .zip(&self.route_statuses[route as usize])
                .map(|(&status, count)| (status, count.load(Ordering::Relaxed)))
                .filter(|&(_, count)| count > 0)
                .collect();
            by_status.extend(
                other_routes
                    .iter()
                    .filter(|((r, _), _)| *r == route as usize)
                    .map(|(&(_, status), &count)| (status, count)),
            );
            stats.routes.insert(
                route.name().to_owned(),
                RouteStats {
                    requests,
                    by_status,
                },
            );
        }
        if let Some(detail) = &self.detail {
            let detail = lock(detail);
            stats.unique_ids_blocked = detail.ids.len() as u64;
            stats.max_per_second = max_in_sliding_second(&detail.arrivals);
            stats.per_second = detail.per_second.clone();
            stats.ids = Some(detail.ids.clone());
            stats.block_tills = detail.block_tills.clone();
        }
        stats
    }
}

/// The most arrivals within any window of one second, given sorted arrival offsets.
fn max_in_sliding_second(arrivals: &[Duration]) -> u64 {
    let window = Duration::from_secs(1);
    let mut start = 0;
    let mut best = 0;
    for (end, &arrival) in arrivals.iter().enumerate() {
        while arrival - arrivals[start] >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as u64
}

/// Locks a stats mutex. A panic elsewhere while holding it cannot leave the counters
/// in a state worse than "slightly behind", so a poisoned lock is still used.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&ms| Duration::from_millis(ms)).collect()
    }

    #[test]
    fn sliding_window_finds_the_densest_second_across_whole_second_boundaries() {
        // 0.9 s .. 1.5 s holds four arrivals although no whole second holds more than three.
        let arrivals = millis(&[0, 900, 1000, 1100, 1500, 2600]);
        assert_eq!(max_in_sliding_second(&arrivals), 4);
    }

    #[test]
    fn sliding_window_excludes_an_arrival_exactly_one_second_later() {
        assert_eq!(max_in_sliding_second(&millis(&[0, 1000, 2000])), 1);
        assert_eq!(max_in_sliding_second(&[]), 0);
    }

    #[test]
    fn blocked_batches_count_ids_sizes_and_repeats() {
        let recorder = StatsRecorder::new(true);
        recorder.record_blocked(&[1, 2, 3], "2030-01-01T00:00:00.000Z");
        recorder.record_blocked(&[3], "2031-01-01T00:00:00.000Z");
        let big: Vec<u64> = (1..=2000).collect();
        recorder.record_blocked(&big, "2030-01-01T00:00:00.000Z");
        let stats = recorder.snapshot();
        assert_eq!(stats.ids_blocked, 2004);
        assert_eq!(stats.unique_ids_blocked, 2000);
        assert_eq!(
            stats.batch_sizes,
            BTreeMap::from([(1, 1), (3, 1), (2000, 1)])
        );
        let ids = stats.ids.unwrap_or_default();
        assert_eq!(ids.get(&3), Some(&3));
        assert_eq!(ids.get(&1), Some(&2));
        assert_eq!(ids.get(&2000), Some(&1));
        assert_eq!(
            stats.block_tills,
            BTreeMap::from([
                ("2030-01-01T00:00:00.000Z".to_owned(), 2003),
                ("2031-01-01T00:00:00.000Z".to_owned(), 1),
            ])
        );
    }

    #[test]
    fn fast_path_keeps_no_per_id_record() {
        let recorder = StatsRecorder::new(false);
        recorder.on_arrival();
        recorder.record_blocked(&[7, 7], "2030-01-01T00:00:00.000Z");
        let stats = recorder.snapshot();
        assert_eq!(stats.requests, 1);
        assert_eq!(stats.ids_blocked, 2);
        assert_eq!(stats.ids, None);
        assert!(stats.per_second.is_empty());
        assert!(stats.block_tills.is_empty());
        assert_eq!(stats.max_per_second, 0);
    }

    #[test]
    fn other_calls_are_counted_apart_with_sequences_no_block_uses() {
        let recorder = StatsRecorder::new(false);
        let block = recorder.on_arrival();
        let list = [recorder.on_call(Call::List), recorder.on_call(Call::List)];
        let delete = recorder.on_call(Call::Delete);
        assert_ne!(list[0], list[1]);
        assert!(![list[0], list[1], delete].contains(&block));
        assert_ne!(list[0], delete);
        recorder.record_blocked_strings(3, "2030-01-01T00:00:00.000Z");
        let stats = recorder.snapshot();
        assert_eq!(
            (
                stats.requests,
                stats.list_requests,
                stats.get_requests,
                stats.delete_requests
            ),
            (1, 2, 0, 1)
        );
        assert_eq!(stats.ids_blocked, 3);
        assert_eq!(stats.batch_sizes, BTreeMap::from([(3, 1)]));
    }

    #[test]
    fn routes_count_their_own_answers_and_writes_add_posts_and_deletes() {
        let recorder = StatsRecorder::new(false);
        recorder.on_arrival();
        recorder.record_route_status(Route::Block, 200);
        recorder.on_call(Call::Delete);
        recorder.record_route_status(Route::Delete, 418);
        recorder.on_call(Call::List);
        recorder.on_call(Call::List);
        recorder.record_route_status(Route::List, 200);
        recorder.record_route_status(Route::List, 0);
        recorder.on_admin();
        let stats = recorder.snapshot();
        assert_eq!((stats.writes, stats.admin_requests), (2, 1));
        assert_eq!(
            stats.by_status,
            BTreeMap::from([(0, 1), (200, 2), (418, 1)])
        );
        let route = |name: &str| stats.routes.get(name).cloned().unwrap_or_default();
        assert_eq!(
            route("POST /api/v1/crm/block-visitor"),
            RouteStats {
                requests: 1,
                by_status: BTreeMap::from([(200, 1)])
            }
        );
        assert_eq!(
            route("DELETE /api/v1/crm/block-visitor").by_status,
            BTreeMap::from([(418, 1)])
        );
        assert_eq!(
            route("GET /api/v1/crm/block-visitor"),
            RouteStats {
                requests: 2,
                by_status: BTreeMap::from([(0, 1), (200, 1)])
            }
        );
        assert!(
            !stats
                .routes
                .contains_key("GET /api/v1/crm/block-visitor/{id}")
        );
    }

    #[test]
    fn statuses_are_counted_including_unexpected_ones() {
        let recorder = StatsRecorder::new(false);
        for status in [0, 200, 200, 429, 418] {
            recorder.record_status(status);
        }
        assert_eq!(
            recorder.snapshot().by_status,
            BTreeMap::from([(0, 1), (200, 2), (418, 1), (429, 1)])
        );
    }

    #[test]
    fn in_flight_guard_tracks_the_maximum_and_releases() {
        let recorder = StatsRecorder::new(false);
        let first = recorder.enter();
        let second = recorder.enter();
        drop(first);
        drop(second);
        let third = recorder.enter();
        drop(third);
        assert_eq!(recorder.snapshot().max_in_flight, 2);
        assert_eq!(recorder.in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn arrivals_fill_per_second_when_recording() {
        let recorder = StatsRecorder::new(true);
        assert_eq!(recorder.on_arrival(), 0);
        assert_eq!(recorder.on_arrival(), 1);
        let stats = recorder.snapshot();
        // Both arrivals are within the first second of each other or straddle one boundary;
        // either way they are all counted somewhere.
        assert_eq!(stats.per_second.iter().sum::<u64>(), 2);
        assert!(stats.max_per_second >= 1);
    }
}
