//! `blockade unblock`: delete the block records of the values listed (contact IDs, emails
//! or IPs), or of what a ledger (a run) blocked.
//!
//! The values wanted come from the inputs (read as `block` reads them) or from this
//! target's `blocked` lines of the ledger (of `--run`; their type, unless `--type` says).
//! Records the ledger names are deleted by id; the others are found by listing the block
//! list (through the pool, in constant memory). One DELETE per record through the same
//! pool as `block`; values with no record get a `not_blocked` line (no request), or
//! `failed` (kind `not_listed`) when the list could not be read to its end. See
//! `job/unblock.rs` for how.

use std::sync::Arc;
use std::time::Instant;

use crate::cli::{LogArgs, UnblockArgs};
use crate::exit::ExitStatus;
use crate::job::history::{check_ledger_read, latest, one_type, types_in};
use crate::job::listing::list_account;
use crate::job::output::{print_stdout, summarising_errors};
use crate::job::preflight::{Checked, preflight};
use crate::job::read::{open_inputs, refuse_input_as_results};
use crate::job::send::{SendJob, apply_plan};
use crate::job::signals::watch_signals;
use crate::job::target::{connect, default_results, target_name};
use crate::job::unblock::{
    DRY_RUN_SHOWN, DeletePlan, Deletes, Found, Wanted, unblock_read_options,
};
use crate::ledger::{LedgerError, LedgerWriter, Op, Status, TargetFilter};
use crate::send::counters::Counters;
use crate::values::count::{group_digits, plural};
use crate::values::{Kind, ValueType, with_kind};

pub async fn run(args: UnblockArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    summarising_errors(
        args.summary_json.clone(),
        Op::Unblock.command(),
        run_checked(args, log),
    )
    .await
}

async fn run_checked(args: UnblockArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    if let Some(ledger) = &args.from_ledger
        && !ledger.exists()
    {
        // Not "nothing to undo", and it must not be created.
        return Err(LedgerError::NotFound {
            path: ledger.clone(),
        }
        .into());
    }
    // `--type`, or the type of what the ledger's run blocked.
    let value_type = match (args.value_type, &args.from_ledger) {
        (Some(value_type), _) => value_type,
        (None, None) => ValueType::Contact,
        (None, Some(ledger)) => {
            let target = target_name(&args.connection)?;
            let blocked = types_in(ledger, args.run.as_deref(), &target, |line| {
                // What the runs blocked (a block again of a deleted record's other values is left
                // alone, as undoing leaves it).
                line.blocks()
                    && !line.reblocked
                    && matches!(line.status, Status::Blocked | Status::Renewed)
            })?;
            let what = match &args.run {
                Some(run) => format!("run {run} blocked"),
                None => format!("{} blocked", ledger.display()),
            };
            one_type(&blocked, &what)?.unwrap_or(ValueType::Contact)
        }
    };
    with_kind!(value_type, |kind| unblock(kind, args, log).await)
}

async fn unblock<K: Kind>(
    kind: K,
    mut args: UnblockArgs,
    log: &LogArgs,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    // Undoing a ledger's runs appends to that ledger (as `retry` does), so that its latest
    // status says unblocked.
    let results = args.results.clone().unwrap_or_else(|| {
        args.from_ledger
            .clone()
            .unwrap_or_else(|| default_results(args.connection.sandbox))
    });
    let pool_config = crate::config::pool_config(&args.connection)?;
    let target = target_name(&args.connection)?;
    let noun = kind.value_type().thing();
    // A ledger undone is locked before it is read, so that no other run appends in
    // between; with inputs, the ledger is only created once they are read.
    let mut ledger = None;
    if args.from_ledger.is_some() && !args.dry_run {
        ledger = Some(LedgerWriter::open(&results)?);
    }
    let resume_state = if args.resume && results.exists() {
        Some(latest(&results, &target, kind)?.0)
    } else {
        None
    };
    let mut wanted = Wanted::new(kind, resume_state)?;
    match &args.from_ledger {
        Some(path) => {
            let mut filter = TargetFilter::new(&target);
            let (_, run_seen) =
                wanted.read_ledger(path, args.run.as_deref(), &mut filter, chrono::Utc::now())?;
            filter.warn_skipped(path);
            check_ledger_read(path, &filter, args.run.as_deref(), run_seen)?;
        }
        None => {
            let options = unblock_read_options(&args.read);
            let sources = open_inputs(&mut args.inputs, &options, kind)?;
            refuse_input_as_results(&args.inputs, &results)?;
            wanted.read_inputs(&args.inputs, sources)?;
        }
    }
    if args.resume {
        tracing::info!(
            already_unblocked = wanted.resumed,
            "Resuming: values the ledger shows unblocked are skipped"
        );
    }
    if ledger.is_none() && !args.dry_run {
        ledger = Some(LedgerWriter::open(&results)?);
    }
    let settled = wanted.settle();

    // Listing (dry runs too: it only reads).
    let connected = connect(&args.connection).await?;
    let interrupt = watch_signals();
    let mut found = Found::new()?;
    let mut list_end = None;
    if settled.unknown > 0 && !args.offline {
        tracing::info!(
            values = settled.unknown,
            r#type = %kind.value_type(),
            "Listing the block list to find the records of the values the ledger does not name"
        );
        let end = list_account(
            &connected,
            &args.connection,
            &pool_config,
            args.page_size,
            interrupt.clone(),
            log,
            |records| {
                for record in records {
                    found.consider(record, &wanted, &settled)?;
                }
                Ok(())
            },
        )
        .await?;
        tracing::info!(
            records = end.records,
            pages = end.pages,
            requests = end.requests,
            found = found.records,
            "Listed the block list"
        );
        if let Some(why) = &end.incomplete {
            tracing::warn!(%why, "The block list could not be read to its end: values it did not show are recorded failed (not_listed)");
        }
        list_end = Some(end);
    }
    let incomplete = match &list_end {
        Some(end) => end.incomplete.clone(),
        None if args.offline && settled.unknown > 0 => {
            Some("--offline: the block list was not read".to_owned())
        }
        None => None,
    };
    let (count, duplicates, expired, rejects) = (
        wanted.count(),
        wanted.duplicates,
        wanted.expired,
        std::mem::take(&mut wanted.rejects),
    );
    let resumed = wanted.resumed - found.revived();
    let known_records = settled.per_record.len() as u64;
    let (found_records, others, with_others) = (found.records, found.others(), found.with_others);
    let deletes = Deletes::new(wanted, settled, found, incomplete)?;
    let total = deletes.total;

    if args.dry_run {
        let mut plan = DeletePlan::default();
        deletes.produce(&mut plan, None);
        let listed = list_end.as_ref().map_or(0, |end| end.records);
        // The listing checked the target already; else one read-only request does.
        let checked = match &list_end {
            Some(_) => Checked {
                line: format!(
                    "{} (checked: its block list was read with the key)",
                    connected.target.name
                ),
                status: ExitStatus::Success,
            },
            None => preflight(&args.connection, &pool_config, args.offline).await?,
        };
        let mut out = format!(
            "Plan (dry run: nothing deleted, nothing written)\n  target    {}\n  type      {}\n  values    {} to unblock ({} duplicates, {} already unblocked per the ledger, {} rejected rows)\n  delete    {} named in the ledger\n  delete    {} found by listing ({} records listed in {})\n",
            checked.line,
            kind.value_type(),
            group_digits(count),
            group_digits(duplicates),
            group_digits(resumed),
            group_digits(rejects.len() as u64),
            plural(known_records, "block record"),
            plural(found_records, "block record"),
            group_digits(listed),
            plural(list_end.as_ref().map_or(0, |end| end.pages), "page"),
        );
        if expired > 0 {
            out += &format!(
                "  expired   {} whose block has run out: not blocked any more, nothing to delete\n",
                plural(expired, noun)
            );
        }
        if others > 0 {
            out += &format!(
                "  re-block  {} not asked for, held by {}: each is blocked again at once after its record's delete, until the record's blockTill\n",
                plural(others, noun),
                plural(with_others, "record"),
            );
        }
        if plan.looked_at > 0 && !K::WHOLE_NUMBERS {
            out += &format!(
                "  look at   {} named in the ledger, just before its delete: values it holds that were not asked for are blocked again at once\n",
                plural(plan.looked_at, "block record")
            );
        }
        out += &format!(
            "  not blocked {} (no block record found)\n",
            plural(plan.not_blocked, noun)
        );
        if plan.unknown > 0 {
            out += &format!(
                "  unknown   {}: the list could not be read to its end\n",
                plural(plan.unknown, noun)
            );
        }
        if !plan.shown.is_empty() {
            out += "  would delete (block record: values)\n";
            for line in &plan.shown {
                out += &format!("    {line}\n");
            }
            if plan.records > DRY_RUN_SHOWN as u64 {
                out += &format!(
                    "    ... and {} more\n",
                    group_digits(plan.records - DRY_RUN_SHOWN as u64)
                );
            }
        }
        print_stdout(&out);
        connected.close().await;
        return Ok(checked.status);
    }
    let Some(ledger) = ledger else {
        return Ok(ExitStatus::Success);
    };

    let counters = Arc::new(Counters::default());
    Counters::add(&counters.rows, total + duplicates + resumed);
    Counters::add(&counters.duplicates, duplicates);
    Counters::add(&counters.already_blocked, resumed);
    if let Some(end) = &list_end {
        end.count_in(&counters);
    }
    let job = SendJob {
        op: Op::Unblock,
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        expected_rows: Some(total),
        summary_json: args.summary_json.as_deref(),
        log,
        value_type: kind.value_type(),
        started,
    };
    let reader_counters = counters.clone();
    apply_plan(
        job,
        counters,
        kind,
        rejects,
        move |sink| deletes.produce(sink, Some(&reader_counters)),
        interrupt,
    )
    .await
}
