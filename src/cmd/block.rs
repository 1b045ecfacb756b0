//! `blockade block`: block every value in the inputs (contact IDs, emails or IPs).
//!
//! Reads every input (checked up front: a file that cannot be opened or has no value
//! column is exit 2 before anything is sent), dedupes across inputs, cuts batches per
//! block-till, sends them through the pool and records every outcome and every bad row in
//! the ledger. `--resume` skips the values the ledger shows blocked now; `--dry-run`
//! prints the plan.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use crate::cli::{BlockArgs, LogArgs};
use crate::config::{self, ConfigError};
use crate::exit::ExitStatus;
use crate::job::history::resume_from;
use crate::job::output::{print_stdout, summarising_errors};
use crate::job::plan::{Plan, PlanHeader};
use crate::job::preflight::{preflight, worse};
use crate::job::read::{
    check_reject_limit, estimate_rows, open_inputs, read_inputs, refuse_input_as_results,
};
use crate::job::send::{SendJob, send};
use crate::job::target::{connect, default_results, target_name};
use crate::ledger::{LedgerWriter, Op};
use crate::send::counters::Counters;
use crate::values::dedupe::Dedupe;
use crate::values::sets::SeenSet;
use crate::values::{Chunker, Kind, with_kind};

/// Most values the dedupe table is sized for up front (about 600 MB of input lines).
const MAX_PRESIZE: u64 = 16_000_000;

pub async fn run(args: BlockArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let summary_json = args.summary_json.clone();
    summarising_errors(summary_json, Op::Block.command(), async move {
        with_kind!(args.value_type, |kind| run_kind(kind, args, log).await)
    })
    .await
}

async fn run_kind<K: Kind>(
    kind: K,
    mut args: BlockArgs,
    log: &LogArgs,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    // Everything that can be checked before sending is checked first: exit 2.
    let now = Utc::now();
    let default_till = config::block_till(&args.till, now)?;
    if default_till.is_none() && args.block_till_field.is_none() {
        return Err(ConfigError::NoBlockTill.into());
    }
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| default_results(args.connection.sandbox));
    let options = args
        .read
        .options(args.block_till_field.clone(), default_till);
    let sources = open_inputs(&mut args.inputs, &options, kind)?;
    refuse_input_as_results(&args.inputs, &results)?;
    let pool_config = config::pool_config(&args.connection)?;
    let batch_size = args.batch_size as usize;
    if let Some(limit) = args.max_rejects {
        check_reject_limit(&args.inputs, &options, kind, limit)?;
    }
    // The line count of the inputs: the progress bar's total, and for strings an upper
    // bound of the distinct values, so that the dedupe table is sized once instead of
    // growing (a growing table is briefly held twice). Capped: a bogus count cannot
    // reserve much. It reads every input once more, so not when nobody needs it.
    let rows_estimate = (!log.quiet || K::Seen::PRESIZE)
        .then(|| estimate_rows(&args.inputs, args.read.plain()))
        .flatten();
    let capacity = rows_estimate.unwrap_or(0).min(MAX_PRESIZE) as usize;
    let chunker = Chunker::new(kind, batch_size);

    if args.dry_run {
        // A preflight: one read-only request checks the target, and --resume is applied
        // as the real run would.
        let checked = preflight(&args.connection, &pool_config, args.offline).await?;
        let target = target_name(&args.connection)?;
        let dedupe = if args.resume {
            resume_from(&results, &target, kind, now)?
        } else {
            Dedupe::new()
        }
        .with_capacity(capacity);
        let counters = Counters::default();
        let mut plan = Plan::default();
        read_inputs(
            sources, args.shard, dedupe, chunker, &counters, &mut plan, now,
        );
        let header = PlanHeader {
            target: &checked.line,
            ledger: &results,
            noun: kind.value_type().noun(),
            batch_size,
            rate: &pool_config.rate,
        };
        let (text, status) = plan.render(&header, &counters);
        print_stdout(&text);
        return Ok(worse(checked.status, status));
    }

    let connected = connect(&args.connection).await?;
    let ledger = LedgerWriter::open(&results)?;
    let dedupe = if args.resume {
        resume_from(&results, &connected.target.name, kind, now)?
    } else {
        Dedupe::new()
    }
    .with_capacity(capacity);
    let job = SendJob {
        op: Op::Block,
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        expected_rows: rows_estimate,
        summary_json: args.summary_json.as_deref(),
        log,
        value_type: kind.value_type(),
        started,
    };
    let counters = Arc::new(Counters::default());
    let reader_counters = counters.clone();
    let shard = args.shard;
    send(job, counters, move |sink| {
        read_inputs(sources, shard, dedupe, chunker, &reader_counters, sink, now)
    })
    .await
}
