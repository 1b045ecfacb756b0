//! `blockade sync`: make the account hold a block on every value listed (of `--type`)
//! lasting at least until now + `--renew-within`; with `--prune`, unblock what earlier
//! syncs blocked and the list no longer names. The nightly import.
//!
//! Plan, then apply: the inputs are read (the state wanted), this target's ledger tells
//! what earlier syncs blocked (for `--prune`), the account's records of the type are
//! listed through the pool (the state as it is), and the plan is made from the three
//! (`job/sync.rs`). `--dry-run` prints it after the real, read-only listing; a real run
//! applies it (`job/apply/`: renewals that the server refuses or answers with a second
//! record are handled there). A second run right after finds nothing to do. There is no
//! `--resume`: each run plans from the account, so running it again does what an
//! interrupted or failed run left undone.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::cli::{BlockTillArgs, LogArgs, SyncArgs};
use crate::config;
use crate::exit::{ExitStatus, Stopped};
use crate::job::listing::list_account;
use crate::job::output::{print_stdout, summarising_errors};
use crate::job::read::{open_inputs, refuse_input_as_results, refuse_over_limit};
use crate::job::send::{SendJob, apply_plan};
use crate::job::signals::watch_signals;
use crate::job::sync::{Clock, Desired, DryRun, DryRunHeader, Plan, Synced, View};
use crate::job::target::{connect, default_results};
use crate::job::unblock::unblock_read_options;
use crate::ledger::{LedgerWriter, Op};
use crate::send::counters::Counters;
use crate::values::{Kind, with_kind};

pub async fn run(args: SyncArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let summary_json = args.summary_json.clone();
    summarising_errors(summary_json, Op::Sync.command(), async move {
        with_kind!(args.value_type, |kind| sync(kind, args, log).await)
    })
    .await
}

async fn sync<K: Kind>(kind: K, mut args: SyncArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let started = std::time::Instant::now();
    // Everything that can be checked before sending is checked first: exit 2.
    let now = Utc::now();
    let till_args = BlockTillArgs {
        block_till: None,
        block_for: Some(args.block_for),
    };
    let till = config::block_till(&till_args, now)?
        .ok_or_else(|| anyhow::anyhow!("--block-for is required"))?;
    let length = (till - now).to_std().unwrap_or_default();
    let renew_within = args.renew_within.unwrap_or(length / 4);
    if renew_within >= length {
        anyhow::bail!(
            "--renew-within {} is not shorter than --block-for ({}): every block would be renewed on every run; give a shorter --renew-within (the default is a quarter of --block-for)",
            humantime::format_duration(renew_within),
            humantime::format_duration(round_seconds(length)),
        );
    }
    let renew_before = now
        + chrono::Duration::from_std(renew_within)
            .map_err(|_| anyhow::anyhow!("--renew-within is too long"))?;
    let clock = Clock {
        now,
        till,
        renew_before,
    };
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| default_results(args.connection.sandbox));
    let pool_config = config::pool_config(&args.connection)?;
    let options = unblock_read_options(&args.read);
    let sources = open_inputs(&mut args.inputs, &options, kind)?;
    refuse_input_as_results(&args.inputs, &results)?;
    let target = crate::job::target::target_name(&args.connection)?;
    // Locked before the ledger is read, so that no other run appends in between.
    let ledger = if args.dry_run {
        None
    } else {
        Some(LedgerWriter::open(&results)?)
    };
    let mut desired = Desired::read(kind, &args.inputs, sources)?;
    let rejected = desired.rejects.len() as u64;
    if let Some(limit) = args.max_rejects {
        let rows = desired.count() + desired.duplicates + rejected;
        refuse_over_limit(limit, rejected, rows, &desired.rejects)?;
    } else if args.prune && desired.broken == 0 && rejected > 0 {
        tracing::warn!(
            rejected,
            "Rows were rejected (see the ledger's rejected lines): with --prune, the value of a rejected row counts as no longer listed; --max-rejects N sends nothing when more rows than N are bad"
        );
    }
    let synced = Synced::load(&results, &target, kind)?;
    // A list read only in part says nothing of the values missing from it.
    let broken = desired.broken;
    let prune = args.prune && broken == 0;
    if args.prune && !prune {
        tracing::warn!(
            inputs = broken,
            "An input could not be read to its end (see the rejected lines): nothing is pruned this run, since what the list no longer names is not known"
        );
    }

    // The account, listed (dry runs too: it only reads).
    let connected = connect(&args.connection).await?;
    let interrupt = watch_signals();
    tracing::info!(r#type = %kind.value_type(), "Listing the account's block records");
    let mut view = View::new(kind)?;
    let end = list_account(
        &connected,
        &args.connection,
        &pool_config,
        args.page_size,
        interrupt.clone(),
        log,
        |records| {
            for record in records {
                view.consider(record, &desired, prune.then_some(&synced), &clock)?;
            }
            Ok(())
        },
    )
    .await?;
    if let Some(why) = &end.incomplete {
        // A plan from part of the account would block again what it holds, and miss what
        // to renew or prune.
        return Err(Stopped {
            status: ExitStatus::Failed,
            reason: format!(
                "the block list could not be read to its end ({why}); nothing was sent. Run it again"
            ),
        }
        .into());
    }
    tracing::info!(
        records = end.records,
        pages = end.pages,
        concern = view.records,
        "Listed the account's block records"
    );
    let held = view.held();
    let (count, duplicates, rejects) = (
        desired.count(),
        desired.duplicates,
        std::mem::take(&mut desired.rejects),
    );
    let plan = Plan::new(
        desired,
        view,
        synced,
        prune,
        clock,
        args.batch_size as usize,
    );

    if args.dry_run {
        let mut dry = DryRun::default();
        plan.produce(&mut dry, None);
        let header = DryRunHeader {
            target: &connected.target.name,
            value_type: kind.value_type(),
            listed_records: end.records,
            pages: end.pages,
            values: count,
            duplicates,
            rejected: rejects.len() as u64,
            held,
            clock,
            prune: args.prune,
            broken,
        };
        print_stdout(&dry.render(&header));
        connected.close().await;
        // As `block --dry-run`: a broken input is an input error.
        return Ok(if broken > 0 {
            ExitStatus::Usage
        } else {
            ExitStatus::Success
        });
    }
    let Some(ledger) = ledger else {
        return Ok(ExitStatus::Success);
    };
    let counters = Arc::new(Counters::default());
    Counters::add(&counters.rows, count + duplicates);
    Counters::add(&counters.duplicates, duplicates);
    Counters::add(&counters.ids_held, held);
    Counters::add(&counters.inputs_broken, broken);
    end.count_in(&counters);
    let job = SendJob {
        op: Op::Sync,
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        expected_rows: Some(count + duplicates),
        summary_json: args.summary_json.as_deref(),
        log,
        value_type: kind.value_type(),
        started,
    };
    let producer_counters = counters.clone();
    apply_plan(
        job,
        counters,
        kind,
        rejects,
        move |sink| plan.produce(sink, Some(&producer_counters)),
        interrupt,
    )
    .await
}

fn round_seconds(span: Duration) -> Duration {
    Duration::from_secs(span.as_secs())
}
