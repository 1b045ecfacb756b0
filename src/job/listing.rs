//! Reading the whole block list, page by page, through the pool (the same gate, retries,
//! 429 pauses, circuit breaker and interrupt as every other request), for `unblock`
//! (value → block records), `sync` and `verify` (the account's state) and `blocked`
//! (the export).
//!
//! Never trusting the server's paging: `offset` and `limit` are sent, a short page ends
//! the list unless the answer's `count` says there is more, an empty page ends it, and a
//! page that brings no record not seen before (a server that ignores `offset`, or repeats
//! itself) ends it as incomplete instead of looping. Records seen twice are handed over
//! once. Memory: one page, and a bitmap of the record ids seen.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use roaring::RoaringTreemap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::list::{ListPage, ListedRecord};
use crate::cli::{ConnectionArgs, LogArgs};
use crate::exit::{ExitStatus, Stopped};
use crate::job::target::Connected;
use crate::net::client::Client;
use crate::send::counters::Counters;
use crate::send::pool::{self, BatchStatus, PoolConfig, PoolCounters, Stop};
use crate::ui::progress::{ListGauge, Mode, Progress};
use crate::values::count::plural;

/// How a listing ended.
#[derive(Debug, Default)]
pub struct ListEnd {
    /// Every page was read and the list ended as documented.
    pub complete: bool,
    /// Why not, when not complete (a page failed, a repeated page, a stop).
    pub incomplete: Option<String>,
    /// The pool stopped (abort, interrupt, breaker, a 429 beyond --max-wait).
    pub stop: Option<Stop>,
    pub pages: u64,
    pub records: u64,
    /// Records the server listed without a usable id.
    pub unreadable: u64,
    pub requests: u64,
    pub rate_limited: u64,
}

impl ListEnd {
    /// Adds the listing's requests and records to a run's figures.
    pub fn count_in(&self, counters: &Counters) {
        Counters::add(&counters.list_requests, self.requests);
        Counters::add(&counters.records_listed, self.records);
    }
}

/// Lists the account's block records before a command writes (or checks) anything:
/// through the target's client, with the progress display the logging options ask for.
/// A stop (an interrupt, a refused key, an unreachable server, a 429 past --max-wait)
/// is the error that ends the command before any write.
pub async fn list_account(
    connected: &Connected,
    connection: &ConnectionArgs,
    config: &PoolConfig,
    page_size: u64,
    interrupt: CancellationToken,
    log: &LogArgs,
    on_page: impl FnMut(&[ListedRecord]) -> anyhow::Result<()>,
) -> anyhow::Result<ListEnd> {
    let client = connected
        .target
        .client(connection.timeout, config.max_in_flight())?;
    let end = list_all(
        client,
        config.clone(),
        page_size,
        interrupt,
        Mode::for_log(log),
        on_page,
    )
    .await?;
    if let Some(stop) = &end.stop {
        return Err(listing_stopped(stop, &end));
    }
    Ok(end)
}

/// Lists every block record, handing each page's new records to `on_page`, with a
/// progress display (`display`: pages, records, a rate and an ETA once the first page
/// gives the count).
pub async fn list_all(
    client: Client,
    config: PoolConfig,
    page_size: u64,
    interrupt: CancellationToken,
    display: Mode,
    mut on_page: impl FnMut(&[ListedRecord]) -> anyhow::Result<()>,
) -> anyhow::Result<ListEnd> {
    let gauge = Arc::new(ListGauge::default());
    let progress = Progress::start(display, gauge.clone());
    let end = list_pages(client, config, page_size, interrupt, &gauge, &mut on_page).await;
    progress.finish().await;
    end
}

async fn list_pages(
    client: Client,
    config: PoolConfig,
    page_size: u64,
    interrupt: CancellationToken,
    gauge: &ListGauge,
    on_page: &mut impl FnMut(&[ListedRecord]) -> anyhow::Result<()>,
) -> anyhow::Result<ListEnd> {
    let (page_tx, page_rx) = mpsc::channel::<Vec<ListPage>>(1);
    let (outcome_tx, mut outcome_rx) = mpsc::channel(1);
    let counters = Arc::new(PoolCounters::default());
    let pool = tokio::spawn(pool::run(
        client,
        config,
        page_rx,
        outcome_tx,
        counters.clone(),
        interrupt,
    ));
    let mut end = ListEnd::default();
    let mut seen = RoaringTreemap::new();
    let mut offset = 0u64;
    let mut result = Ok(());
    loop {
        let page = ListPage {
            offset,
            limit: page_size,
        };
        if page_tx.send(vec![page]).await.is_err() {
            break;
        }
        let Some(outcome) = outcome_rx.recv().await else {
            break; // the pool stopped before answering: `stop` says why
        };
        end.pages += 1;
        let (BatchStatus::Done, Some(page)) = (outcome.status, outcome.done) else {
            end.incomplete = Some(format!(
                "the list page at offset {offset} failed: {}",
                outcome.error.unwrap_or_default()
            ));
            break;
        };
        end.unreadable += page.unreadable;
        let listed = page.records.len() as u64 + page.unreadable;
        let fresh: Vec<ListedRecord> = page
            .records
            .into_iter()
            .filter(|record| seen.insert(record.id))
            .collect();
        end.records += fresh.len() as u64;
        gauge.pages.store(end.pages, Ordering::Relaxed);
        gauge.records.store(end.records, Ordering::Relaxed);
        if let Some(count) = page.count {
            gauge.count.store(count, Ordering::Relaxed);
        }
        if let Err(error) = on_page(&fresh) {
            result = Err(error);
            break;
        }
        let more_by_count = page.count.is_some_and(|count| seen.len() < count);
        if listed == 0 {
            if more_by_count {
                end.incomplete = Some(format!(
                    "the list ended at {} records, but the server counts {}",
                    seen.len(),
                    page.count.unwrap_or_default()
                ));
            } else {
                end.complete = true;
            }
            break;
        }
        if fresh.is_empty() && page.unreadable == 0 {
            if more_by_count || listed >= page_size {
                end.incomplete = Some(format!(
                    "the server answered the page at offset {offset} with records it had listed already (it seems to ignore `offset`); {} records were listed",
                    seen.len()
                ));
            } else {
                end.complete = true;
            }
            break;
        }
        if listed < page_size && !more_by_count {
            end.complete = true;
            break;
        }
        offset += listed;
    }
    drop(page_tx);
    // Drain whatever the pool still sends, so that it can end.
    while outcome_rx.recv().await.is_some() {}
    let pool_end = pool
        .await
        .map_err(|e| anyhow::anyhow!("the worker pool stopped: {e}"))?;
    end.stop = pool_end.stop;
    if end.stop.is_some() {
        end.complete = false;
        if end.incomplete.is_none() {
            end.incomplete = Some("the run stopped before the list was read to its end".into());
        }
    }
    end.requests = counters.requests.load(Ordering::Relaxed);
    end.rate_limited = counters.rate_limited.load(Ordering::Relaxed);
    result.map(|()| end)
}

/// The listing stopped the run (credentials refused, interrupt, unreachable): nothing
/// was sent but the listing, and nothing is written. The error says so, with the status.
pub fn listing_stopped(stop: &Stop, end: &ListEnd) -> anyhow::Error {
    let (status, why) = match stop {
        Stop::Aborted(reason) => (ExitStatus::Aborted, reason.clone()),
        Stop::Interrupted => (crate::exit::interrupted_status(), "interrupted".to_owned()),
        Stop::Unreachable(reason) => (
            ExitStatus::Failed,
            format!("the server is unreachable or failing every request: {reason}"),
        ),
        Stop::RateLimited { until, reason } => (
            ExitStatus::Failed,
            format!(
                "the server asked to wait until {} (longer than --max-wait): {reason}",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ),
    };
    Stopped {
        status,
        reason: format!(
            "stopped while listing the block list ({}, {}), before any write: {why}",
            plural(end.pages, "page"),
            plural(end.requests, "request")
        ),
    }
    .into()
}
