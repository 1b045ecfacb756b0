//! The end of every sending command: build the client, write the run line, run the
//! pipeline (producer → pool → collector), then print the summary and write
//! `--summary-json`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::apply::{self, WorkSink};
use super::next::next_commands;
use super::output::{print_stdout, write_summary_json};
use super::signals::watch_signals;
use super::target::Connected;
use crate::cli::{ConnectionArgs, LogArgs};
use crate::exit::ExitStatus;
use crate::exit::RuntimeError;
use crate::input::Reject;
use crate::ledger::{LedgerWriter, Op, Record, RunRecord, Status, new_run_id};
use crate::send::counters::Counters;
use crate::send::pipeline::{self, ChannelSink, Recorded, Run, RunEnd};
use crate::send::pool::{PoolConfig, PoolCounters};
use crate::ui::logging;
use crate::ui::progress::{self, Progress, RunGauge};
use crate::ui::summary::{RunFacts, Summary, plural};
use crate::values::{Kind, ValueType};

/// What a sending command hands to `send`.
pub struct SendJob<'a> {
    pub op: Op,
    pub connected: Connected,
    pub connection: &'a ConnectionArgs,
    pub pool: PoolConfig,
    pub ledger: LedgerWriter,
    pub results: &'a Path,
    pub expected_rows: Option<u64>,
    pub summary_json: Option<&'a Path>,
    pub log: &'a LogArgs,
    /// What the run's values are: the summary names them (IDs, emails, IP addresses).
    pub value_type: ValueType,
    /// When the command started: the summary's time includes what came before sending
    /// (listing, reading a ledger).
    pub started: Instant,
}

/// Build the client, run the pipeline with `produce` as its producer, then print the
/// summary, write `--summary-json` and stop the sandbox.
pub async fn send<W, P>(
    job: SendJob<'_>,
    counters: Arc<Counters>,
    produce: P,
) -> anyhow::Result<ExitStatus>
where
    W: Recorded,
    P: FnOnce(&mut ChannelSink<W>) + Send + 'static,
{
    let engine_counters = counters.clone();
    run_job(job, counters, watch_signals(), move |run| {
        pipeline::execute(run, engine_counters, produce)
    })
    .await
}

/// [`send`] for a plan whose requests may depend on answers (`sync`,
/// `unblock`): `produce` makes the plan's work, `job/apply/` sends it.
pub async fn apply_plan<K, P>(
    job: SendJob<'_>,
    counters: Arc<Counters>,
    kind: K,
    rejects: Vec<Reject>,
    produce: P,
    interrupt: CancellationToken,
) -> anyhow::Result<ExitStatus>
where
    K: Kind,
    P: FnOnce(&mut dyn WorkSink<K>) + Send + 'static,
{
    let engine_counters = counters.clone();
    run_job(job, counters, interrupt, move |run| {
        apply::execute(run, engine_counters, kind, rejects, produce)
    })
    .await
}

/// Build the client, write the run line, show progress while `engine` runs, then print
/// the summary, write `--summary-json` and stop the sandbox.
async fn run_job<E, F>(
    job: SendJob<'_>,
    counters: Arc<Counters>,
    interrupt: CancellationToken,
    engine: E,
) -> anyhow::Result<ExitStatus>
where
    E: FnOnce(Run) -> F,
    F: std::future::Future<Output = Result<RunEnd, RuntimeError>>,
{
    let target = &job.connected.target;
    let client = target.client(job.connection.timeout, job.pool.max_in_flight())?;
    let run_id = new_run_id();
    tracing::info!(run = %run_id, url = %target.url, rate = %job.pool.rate, concurrency = %job.pool.concurrency, "Starting");
    // The run line first: it binds every later line of this run to its target.
    let mut ledger = job.ledger;
    ledger.append(&Record::Run(RunRecord {
        run: run_id.clone(),
        status: Status::Run,
        command: job.op.command().to_owned(),
        target: target.name.clone(),
        started_at: chrono::Utc::now(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))?;
    let target_name = target.name.clone();
    let pool_counters = Arc::new(PoolCounters::default());
    let display = Progress::start(
        progress::Mode::for_log(job.log),
        Arc::new(RunGauge {
            counters: counters.clone(),
            pool: pool_counters.clone(),
            expected: job.expected_rows,
            unit: crate::values::count::many(if job.op.blocks() {
                job.value_type.noun()
            } else {
                job.value_type.thing()
            }),
        }),
    );
    let run = Run {
        run_id: run_id.clone(),
        op: job.op,
        client,
        pool: job.pool,
        ledger,
        interrupt,
        pool_counters,
    };
    let end = engine(run).await;
    display.finish().await;
    let end = end?;
    Counters::add(&counters.not_sent, end.pool.ids_not_sent);
    let facts = RunFacts {
        op: job.op,
        run: &run_id,
        target: &target_name,
        ledger: job.results,
        next: &next_commands(job.op, job.value_type, job.connection, job.results),
        value_type: job.value_type,
        elapsed: job.started.elapsed(),
    };
    let summary = Summary::new(facts, &counters, &end);
    let status = summary.exit_status();
    let mut text = summary.render();
    if let Some(server) = job.connected.sandbox {
        let stats = server.stats();
        text += &format!(
            "  sandbox   the imitation answered {}\n",
            plural(stats.api_calls(), "request")
        );
        server.shutdown().await;
    }
    // With JSON logs, the summary is also one event on stderr with the JSON's fields.
    if logging::json() {
        let fields = serde_json::to_value(&summary).context("cannot encode the summary")?;
        logging::event("INFO", "Summary", fields);
    }
    // With `--summary-json -` stdout is the JSON alone (for a pipe into jq); the text
    // summary goes to stderr instead (not with JSON logs: the event above carries it).
    match job.summary_json {
        Some(path) if path == Path::new("-") => {
            if !logging::json() {
                logging::event("INFO", &text, serde_json::Value::Null);
            }
        }
        _ => print_stdout(&text),
    }
    if let Some(path) = job.summary_json {
        let json = serde_json::to_vec_pretty(&summary).context("cannot encode the summary")?;
        write_summary_json(path, &json)?;
    }
    Ok(status)
}
