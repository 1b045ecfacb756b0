//! `blockade unblock`: delete the block records of the contacts listed, or of what a ledger
//! (a run) blocked.
//!
//! 1. The wanted contacts, as a roaring bitmap: from the inputs (read as `block` reads
//!    them), or from the ledger's `blocked` lines of this target (of `--run`). The ledger's
//!    `block_ids` name their records; `--resume` drops contacts whose latest line is
//!    `unblocked` or `not_blocked`.
//! 2. Contacts with no known record: the block list is listed (`listing.rs`, through the
//!    pool) and every record of a wanted contact is kept (a contact with two records gets
//!    both deleted). Memory: the bitmap, and 16 bytes per record found.
//! 3. One DELETE per record through the same pool as block (`api::delete`); contacts with
//!    no record get a `not_blocked` line (no request); if the listing could not be read to
//!    its end, the contacts it did not show get a `failed` line (kind `not_listed`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use roaring::RoaringTreemap;

use crate::api::delete::{Delete, DeleteWhat};
use crate::cli::{LogArgs, UnblockArgs};
use crate::cmd::{self, SendJob, listing, unblock_text};
use crate::exit::ExitStatus;
use crate::input::{self, Item, ReadOptions, Reject, ValueType};
use crate::ledger::LedgerReadStats;
use crate::ledger::{
    LatestStatus, LedgerError, LedgerWriter, Record, Status, TargetFilter, UNBLOCK_OP,
    UnblockRecord, read_records,
};
use crate::net::client::Client;
use crate::send::counters::Counters;
use crate::send::pipeline::{Recorded, Sink};
use crate::send::pool::{BatchStatus, Outcome, Stop};
use crate::ui::summary::{group_digits, plural};

/// Records a dry run names one by one.
const DRY_RUN_SHOWN: usize = 20;

/// Contacts per `not_blocked` (or `not_listed`) line.
const CONTACTS_PER_LINE: usize = 1000;

pub async fn run(args: UnblockArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let summary_json = args.summary_json.clone();
    let result = run_checked(args, log).await;
    if let Err(error) = &result {
        cmd::write_error_summary(summary_json.as_deref(), "unblock", error);
    }
    result
}

/// What to unblock, before any request.
#[derive(Default)]
struct Wanted {
    /// Every wanted contact (after --resume).
    contacts: RoaringTreemap,
    /// Block record ids the ledger names, per contact.
    known: HashMap<u64, u64>,
    rejects: Vec<Reject>,
    duplicates: u64,
    /// Dropped by --resume.
    resumed: u64,
    /// Where the contacts came from, for the ledger's `source`.
    source: String,
}

async fn run_checked(args: UnblockArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    // Undoing a ledger's runs appends to that ledger (as `retry` does), so that its latest
    // status says unblocked.
    let results = args.results.clone().unwrap_or_else(|| {
        args.from_ledger
            .clone()
            .unwrap_or_else(|| cmd::default_results(args.connection.sandbox))
    });
    crate::cmd::block::refuse_input_as_results(&args.inputs, &results)?;
    let pool_config = config_pool(&args)?;
    let target = cmd::target_name(&args.connection)?;
    if let Some(ledger) = &args.from_ledger
        && !ledger.exists()
    {
        // Not "nothing to undo", and it must not be created.
        return Err(LedgerError::NotFound {
            path: ledger.clone(),
        }
        .into());
    }
    // Emails and IPs: `--type`, or the type of what the ledger's run blocked.
    let value_type = match (args.value_type, &args.from_ledger) {
        (Some(value_type), _) => value_type,
        (None, None) => ValueType::Contact,
        (None, Some(ledger)) => unblock_text::ledger_type(ledger, args.run.as_deref(), &target)?,
    };
    if value_type != ValueType::Contact {
        let checked = unblock_text::Checked {
            value_type,
            results,
            target,
            pool_config,
        };
        return unblock_text::run(args, checked, log).await;
    }
    // A ledger undone is locked before it is read, so that no other run appends in
    // between; with inputs, the ledger is only created once they are read.
    let mut ledger = None;
    if args.from_ledger.is_some() && !args.dry_run {
        ledger = Some(LedgerWriter::open(&results)?);
    }
    let mut wanted = match &args.from_ledger {
        Some(ledger) => from_ledger(ledger, args.run.as_deref(), &target)?,
        None => from_inputs(&args)?,
    };
    if ledger.is_none() && !args.dry_run {
        ledger = Some(LedgerWriter::open(&results)?);
    }
    // --resume: contacts the ledger shows unblocked are skipped. When the list is read
    // anyway, they are looked for too: a live record of one (a second record, left by an
    // interrupt between a contact's two deletes) is still deleted.
    let mut done = RoaringTreemap::new();
    if args.resume && results.exists() {
        let mut filter = TargetFilter::new(&target);
        let (latest, _) = LatestStatus::load_for(&results, &mut filter)?;
        filter.warn_skipped(&results);
        done = &wanted.contacts & latest.unblocked();
        wanted.contacts -= &done;
        tracing::info!(
            already_unblocked = done.len(),
            "Resuming: contacts the ledger shows unblocked are skipped"
        );
    }
    wanted
        .known
        .retain(|contact, _| wanted.contacts.contains(*contact));
    let unknown = {
        let mut unknown = wanted.contacts.clone();
        for contact in wanted.known.keys() {
            unknown.remove(*contact);
        }
        unknown
    };
    let to_list = if unknown.is_empty() {
        RoaringTreemap::new()
    } else {
        &unknown | &done
    };

    // Listing (dry runs too: it only reads).
    let connected = cmd::connect(&args.connection).await?;
    let interrupt = cmd::watch_signals();
    let mut found: Vec<(u64, u64)> = Vec::new();
    let mut list_end = None;
    if !to_list.is_empty() {
        let t = &connected.target;
        let client = Client::with_extra_roots(
            t.url.clone(),
            &t.key,
            args.connection.timeout,
            pool_config.max_in_flight(),
            &t.ca_certs,
        )?;
        tracing::info!(
            contacts = to_list.len(),
            "Listing the block list to find the records of the contacts the ledger does not name"
        );
        let end = listing::list_all(
            client,
            pool_config.clone(),
            args.page_size,
            interrupt.clone(),
            |records| {
                found.extend(records.iter().filter_map(|record| {
                    let contact = record.contact.filter(|c| to_list.contains(*c))?;
                    (record.kind == "contact").then_some((contact, record.id))
                }));
                Ok(())
            },
        )
        .await?;
        if let Some(stop) = &end.stop {
            return listing_stopped(stop, &end);
        }
        tracing::info!(
            records = end.records,
            pages = end.pages,
            requests = end.requests,
            rate_limited = end.rate_limited,
            "Listed the block list"
        );
        if let Some(why) = &end.incomplete {
            tracing::warn!(%why, "The block list could not be read to its end: contacts it did not show are recorded failed (not_listed)");
        }
        list_end = Some(end);
    }
    found.sort_unstable();
    let found_contacts: RoaringTreemap = found.iter().map(|&(contact, _)| contact).collect();
    let not_found = &unknown - &found_contacts;
    wanted.resumed = (&done - &found_contacts).len();
    let incomplete = list_end.as_ref().and_then(|end| end.incomplete.clone());

    if args.dry_run {
        let listed = list_end.as_ref().map_or(0, |end| end.records);
        let mut out = format!(
            "Plan (dry run: nothing deleted, nothing written)\n  target    {}\n  contacts  {} to unblock ({} duplicates, {} already unblocked per the ledger, {} rejected rows)\n  delete    {} named in the ledger\n  delete    {} found by listing ({} records listed in {})\n",
            connected.target.name,
            group_digits(wanted.contacts.len()),
            group_digits(wanted.duplicates),
            group_digits(wanted.resumed),
            group_digits(wanted.rejects.len() as u64),
            plural(wanted.known.len() as u64, "block record"),
            plural(found.len() as u64, "block record"),
            group_digits(listed),
            plural(list_end.as_ref().map_or(0, |end| end.pages), "page"),
        );
        out += &format!(
            "  not blocked {} (no block record found)\n",
            plural(
                if incomplete.is_some() {
                    0
                } else {
                    not_found.len()
                },
                "contact"
            )
        );
        if let Some(why) = &incomplete {
            out += &format!(
                "  unknown   {}: the list could not be read to its end ({why})\n",
                plural(not_found.len(), "contact")
            );
        }
        let mut known: Vec<(u64, u64)> = wanted.known.iter().map(|(&c, &b)| (c, b)).collect();
        known.sort_unstable();
        let deletes = known.len() + found.len();
        if deletes > 0 {
            out += "  would delete (contact: block record)
";
            for (contact, block_id) in known.iter().chain(&found).take(DRY_RUN_SHOWN) {
                out += &format!("    {contact}: {block_id}\n");
            }
            if deletes > DRY_RUN_SHOWN {
                out += &format!(
                    "    ... and {} more\n",
                    group_digits((deletes - DRY_RUN_SHOWN) as u64)
                );
            }
        }
        cmd::print_stdout(&out);
        if let Some(server) = connected.sandbox {
            server.shutdown().await;
        }
        return Ok(ExitStatus::Success);
    }
    let Some(ledger) = ledger else {
        return Ok(ExitStatus::Success);
    };

    // The deletes, in contact order; then the contacts with no record.
    let counters = Arc::new(Counters::default());
    let source: Arc<str> = Arc::from(wanted.source.as_str());
    let mut known: Vec<(u64, u64)> = wanted.known.into_iter().collect();
    known.sort_unstable();
    let total = known.len() as u64 + found.len() as u64 + not_found.len();
    Counters::add(&counters.rows, total + wanted.duplicates + wanted.resumed);
    Counters::add(&counters.duplicates, wanted.duplicates);
    Counters::add(&counters.already_blocked, wanted.resumed);
    if let Some(end) = &list_end {
        Counters::add(&counters.list_requests, end.requests);
        Counters::add(&counters.records_listed, end.records);
    }
    let next = cmd::next_commands("unblock", &args.connection, &results);
    let job = SendJob {
        command: "unblock",
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        expected_rows: Some(total),
        summary_json: args.summary_json.as_deref(),
        log,
        next,
        value_type: crate::input::ValueType::Contact,
    };
    let rejects = wanted.rejects;
    let reader_counters = counters.clone();
    cmd::send_with_interrupt(
        job,
        counters,
        move |sink| {
            for reject in rejects {
                sink.reject(reject);
            }
            let mut seq = 0u64;
            let mut left = total;
            let records = known.into_iter().chain(found);
            let mut send = |sink: &mut dyn Sink<Delete>, delete: Delete| -> bool {
                left -= delete.contacts.len() as u64;
                if sink.batch(delete) {
                    true
                } else {
                    // The sink counted the one it refused; the rest are not sent either.
                    Counters::add(&reader_counters.not_sent, left);
                    false
                }
            };
            for (contact, block_id) in records {
                seq += 1;
                let delete = Delete {
                    seq,
                    contacts: vec![contact],
                    what: DeleteWhat::Record(block_id),
                    source: source.clone(),
                };
                if !send(sink, delete) {
                    return;
                }
            }
            let what = match incomplete {
                Some(why) => DeleteWhat::NotListed(Arc::from(format!(
                    "no block record found, but the list could not be read to its end ({why}); run again with --resume"
                ))),
                None => DeleteWhat::NoRecord,
            };
            let not_found: Vec<u64> = not_found.iter().collect();
            for chunk in not_found.chunks(CONTACTS_PER_LINE) {
                seq += 1;
                let delete = Delete {
                    seq,
                    contacts: chunk.to_vec(),
                    what: what.clone(),
                    source: source.clone(),
                };
                if !send(sink, delete) {
                    return;
                }
            }
        },
        interrupt,
    )
    .await
}

fn config_pool(args: &UnblockArgs) -> anyhow::Result<crate::send::pool::PoolConfig> {
    Ok(crate::config::pool_config(&args.connection)?)
}

/// The listing stopped the run (credentials refused, interrupt, unreachable): nothing was
/// deleted and nothing is written.
pub(crate) fn listing_stopped(stop: &Stop, end: &listing::ListEnd) -> anyhow::Result<ExitStatus> {
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
    eprintln!(
        "blockade unblock: stopped while listing the block list ({}, {}), before any delete: {why}",
        plural(end.pages, "page"),
        plural(end.requests, "request")
    );
    Ok(status)
}

/// The contacts of the inputs, deduplicated; bad rows kept for the ledger.
fn from_inputs(args: &UnblockArgs) -> anyhow::Result<Wanted> {
    if args.inputs.iter().filter(|i| *i == "-").count() > 1 {
        bail!("'-' (stdin) can be given only once");
    }
    let options = ReadOptions {
        format: args.format,
        id_field: args.id_field.clone(),
        delimiter: args.delimiter.unwrap_or(b','),
        delimiter_set: args.delimiter.is_some(),
        no_header: args.no_header,
        block_till_field: None,
        // Not used: an unblock has no block-till, but the reader wants one per row.
        default_block_till: Some(chrono::DateTime::<chrono::Utc>::MAX_UTC),
        value_type: input::ValueType::Contact,
    };
    let sources = args
        .inputs
        .iter()
        .map(|path| input::open(path, &options))
        .collect::<Result<Vec<_>, _>>()?;
    let mut wanted = Wanted {
        source: format!("unblock of {}", args.inputs.join(", ")),
        ..Wanted::default()
    };
    for source in sources {
        for item in source {
            match item {
                Item::Row(row) => {
                    if !wanted.contacts.insert(row.id) {
                        wanted.duplicates += 1;
                    }
                }
                Item::Reject(reject) | Item::Broken(reject) => wanted.rejects.push(reject),
                Item::Text(_) => {}
            }
        }
    }
    if wanted.contacts.is_empty() && wanted.duplicates == 0 {
        bail!(
            "no valid contact ID in the inputs ({} rows rejected): nothing to unblock; check the file, --id-field and --format",
            wanted.rejects.len()
        );
    }
    Ok(wanted)
}

/// The contacts this target's `blocked` lines name (of `run`, if given), with the block
/// record ids the ledger knows (the latest per contact, from any run of this target).
fn from_ledger(ledger: &Path, run: Option<&str>, target: &str) -> anyhow::Result<Wanted> {
    if !ledger.exists() {
        return Err(LedgerError::NotFound {
            path: ledger.to_owned(),
        }
        .into());
    }
    let mut filter = TargetFilter::new(target);
    let mut wanted = Wanted {
        source: match run {
            Some(run) => format!("unblock of run {run} in {}", ledger.display()),
            None => format!("unblock of {}", ledger.display()),
        },
        ..Wanted::default()
    };
    let mut run_seen = false;
    let mut already = RoaringTreemap::new();
    let stats = read_records(ledger, |_, record| {
        if let Record::Run(line) = &record
            && Some(line.run.as_str()) == run
            && line.target == target
        {
            run_seen = true;
        }
        if !filter.admits(&record) {
            return;
        }
        let Record::Batch(batch) = record else { return };
        if batch.status != Status::Blocked {
            return;
        }
        if let Some(block_ids) = &batch.block_ids {
            for (contact, block_id) in batch.ids.iter().zip(block_ids) {
                if let Some(block_id) = block_id {
                    wanted.known.insert(*contact, *block_id);
                }
            }
        }
        if run.is_none_or(|run| run == batch.run) {
            // "Already blocked" lines: the run did not block those contacts (someone
            // did before it), so undoing the run leaves them alone.
            if batch.already {
                already.extend(batch.ids.iter().copied());
            } else {
                wanted.contacts.extend(batch.ids.iter().copied());
            }
        }
    })?;
    let left_alone = (&already - &wanted.contacts).len();
    if left_alone > 0 {
        tracing::info!(
            contacts = left_alone,
            "Leaving alone the contacts the server said were blocked already before this ledger's runs blocked them"
        );
    }
    after_ledger_read(ledger, &filter, &stats, run, run_seen, target)?;
    Ok(wanted)
}

/// After reading a ledger to undo: names the lines of other targets and the unreadable
/// ones, and refuses a `--run` the ledger does not hold for this target.
pub(crate) fn after_ledger_read(
    ledger: &Path,
    filter: &TargetFilter,
    stats: &LedgerReadStats,
    run: Option<&str>,
    run_seen: bool,
    target: &str,
) -> anyhow::Result<()> {
    filter.warn_skipped(ledger);
    if stats.bad_line_count > 0 {
        tracing::warn!(
            unreadable_lines = stats.bad_line_count,
            "Some ledger lines could not be read and were skipped"
        );
    }
    if let Some(run) = run
        && !run_seen
    {
        bail!(
            "{} has no run {run} against {target}: see its run lines (\"status\":\"run\") for the run ids",
            ledger.display()
        );
    }
    Ok(())
}

/// The ledger status of a delete's `n` values, counted: deleted (`affected` > 0), not
/// blocked (nothing to delete), or failed (a refusal included: the values stay blocked).
pub(crate) fn unblock_status(
    status: BatchStatus,
    affected: Option<u64>,
    n: u64,
    counters: &Counters,
) -> Status {
    match (status, affected) {
        (BatchStatus::Done, Some(affected)) if affected > 0 => {
            Counters::add(&counters.ids_unblocked, n);
            Status::Unblocked
        }
        (BatchStatus::Done, _) => {
            Counters::add(&counters.ids_not_blocked, n);
            Status::NotBlocked
        }
        (BatchStatus::Refused, _) => {
            Counters::add(&counters.ids_refused, n);
            Status::Failed
        }
        (BatchStatus::Failed, _) => {
            Counters::add(&counters.ids_failed, n);
            Counters::add(&counters.batches_failed, 1);
            Status::Failed
        }
    }
}

impl Recorded for Delete {
    fn record(run_id: &str, outcome: Outcome<Delete>, counters: &Counters) -> Record {
        let n = outcome.batch.contacts.len() as u64;
        let affected = outcome.done.as_ref().map(|done| done.affected);
        let status = unblock_status(outcome.status, affected, n, counters);
        let block_ids = match outcome.batch.what {
            DeleteWhat::Record(id) => Some(vec![Some(id)]),
            DeleteWhat::NoRecord | DeleteWhat::NotListed(_) => None,
        };
        let ms = (outcome.finished_at - outcome.started_at)
            .num_milliseconds()
            .max(0) as u64;
        Record::Unblock(UnblockRecord {
            run: run_id.to_owned(),
            batch: outcome.batch.seq,
            status,
            op: UNBLOCK_OP.to_owned(),
            ids: outcome.batch.contacts,
            block_ids,
            attempts: outcome.attempts,
            http_status: outcome.http_status,
            error: outcome.error,
            kind: outcome.kind.map(str::to_owned),
            source: outcome.batch.source.to_string(),
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
            ms,
        })
    }
}
