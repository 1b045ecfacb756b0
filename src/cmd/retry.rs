//! `blockade retry`: re-send the values whose latest outcome in a ledger is failed.
//!
//! Values keep the block-till they failed with (`--block-till`/`--block-for` override it);
//! a block-till already in the past is skipped with a warning unless overridden. Outcomes
//! are appended to the same ledger (or `--results`), so the latest line per value stays
//! the truth. A ledger whose failures are of several types is retried one type at a time
//! (`--type`).
//!
//! Bounded memory for every kind: the first pass keeps the latest state per value (a
//! bitmap per state for contact IDs, hashes for strings); the second pass (on the
//! producer thread, while sending) reads the ledger again and takes the values to re-send
//! from the lines that set their state, so no value is sent twice and strings are never
//! all held at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::cli::{LogArgs, RetryArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::job::history::{self, one_type, types_in};
use crate::job::output::{print_stdout, summarising_errors};
use crate::job::preflight::preflight;
use crate::job::read::flush;
use crate::job::send::{SendJob, send};
use crate::job::target::{connect, default_results, target_name};
use crate::ledger::{
    LedgerError, LedgerWriter, Op, Record, State, Status, TargetFilter, read_records, to_retry,
};
use crate::send::counters::Counters;
use crate::send::pipeline::Sink;
use crate::send::pool::PoolConfig;
use crate::values::count::plural;
use crate::values::sets::SeenSet;
use crate::values::{Chunker, Kind, Origin, Row, ValueType, with_kind};

pub async fn run(args: RetryArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    summarising_errors(
        args.summary_json.clone(),
        Op::Retry.command(),
        run_checked(args, log),
    )
    .await
}

/// What is checked before the retry of one kind.
struct Checked {
    ledger_path: PathBuf,
    results: PathBuf,
    target: String,
    /// Locked before the ledger is read (not for a dry run).
    ledger: Option<LedgerWriter>,
    pool_config: PoolConfig,
    override_till: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    started: Instant,
}

async fn run_checked(args: RetryArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let now = Utc::now();
    let override_till = config::block_till(&args.till, now)?;
    let pool_config = config::pool_config(&args.connection)?;
    let ledger_path = args
        .ledger
        .clone()
        .unwrap_or_else(|| default_results(args.connection.sandbox));
    // A ledger that is not there is a mistake in the command, not "nothing to retry";
    // and it must not be created.
    if !ledger_path.exists() {
        return Err(LedgerError::NotFound { path: ledger_path }.into());
    }
    let results = args.results.clone().unwrap_or_else(|| ledger_path.clone());
    let target = target_name(&args.connection)?;
    history::refuse_other_targets(&ledger_path, &target)?;
    // Lock before reading, so no other run appends between the read and the retry.
    let ledger = if args.dry_run {
        None
    } else {
        Some(LedgerWriter::open(&results)?)
    };
    let value_type = match args.value_type {
        Some(value_type) => value_type,
        None => failed_type(&ledger_path, &target, args.include_refused)?,
    };
    let checked = Checked {
        ledger_path,
        results,
        target,
        ledger,
        pool_config,
        override_till,
        now,
        started,
    };
    with_kind!(value_type, |kind| retry(kind, &args, checked, log).await)
}

/// The type whose values failed (now), when `--type` is not given: contact IDs when
/// nothing failed; an error naming them when several types did.
fn failed_type(ledger: &Path, target: &str, include_refused: bool) -> anyhow::Result<ValueType> {
    let ever_failed = types_in(ledger, None, target, |line| {
        line.blocks() && matches!(line.status, Status::Failed | Status::Refused)
    })?;
    let mut failing = Vec::new();
    for (value_type, _) in ever_failed {
        let now = with_kind!(value_type, |kind| {
            let (latest, _, _) = history::latest(ledger, target, kind)?;
            latest.count_where(|entry| to_retry(entry.state, include_refused))
        });
        if now > 0 {
            failing.push((value_type, now));
        }
    }
    Ok(one_type(&failing, "the ledger has failures of")?.unwrap_or(ValueType::Contact))
}

async fn retry<K: Kind>(
    kind: K,
    args: &RetryArgs,
    checked: Checked,
    log: &LogArgs,
) -> anyhow::Result<ExitStatus> {
    let noun = kind.value_type().noun();
    let include_refused = args.include_refused;
    let (latest, _, _) = history::latest(&checked.ledger_path, &checked.target, kind)?;
    let refused_left = if include_refused {
        0
    } else {
        latest.count_where(|entry| entry.state == State::Refused)
    };
    // The block-till to send a value with: the override, else its own unless past.
    let send_till = move |till: Option<DateTime<Utc>>| match (checked.override_till, till) {
        (Some(new_till), _) => Some(new_till),
        (None, Some(till)) if till > checked.now => Some(till),
        (None, _) => None,
    };
    let wanted = move |state| to_retry(state, include_refused);
    let resend = latest.count_where(|e| wanted(e.state) && send_till(e.till).is_some());
    let past = latest.count_where(|e| wanted(e.state) && send_till(e.till).is_none());
    if refused_left > 0 {
        tracing::info!(
            refused = refused_left,
            "Leaving alone the values the server refused by name; give --include-refused to send them again"
        );
    }
    if args.dry_run {
        let answer = preflight(&args.connection, &checked.pool_config, args.offline).await?;
        let mut out = format!(
            "Plan (dry run: nothing sent, nothing written)\n  target    {}\n  ledger    {}\n  re-send   {}\n",
            answer.line,
            checked.ledger_path.display(),
            plural(resend, &format!("failed {noun}")),
        );
        if past > 0 {
            out += &format!(
                "  skip      {} whose block-till is past (give --block-for to send them)\n",
                plural(past, noun)
            );
        }
        if refused_left > 0 {
            out += &format!(
                "  refused   {} left alone (give --include-refused to send them)\n",
                plural(refused_left, noun)
            );
        }
        let counts = latest.counts(checked.now);
        out += &format!(
            "  blocked   {} now; {} blocked once whose block has run out (retry re-sends failures only: block --resume blocks expired ones again)\n",
            plural(counts.blocked, noun),
            crate::values::count::group_digits(counts.expired),
        );
        print_stdout(&out);
        return Ok(answer.status);
    }
    let Some(ledger) = checked.ledger else {
        return Ok(ExitStatus::Success);
    };
    if past > 0 {
        tracing::warn!(
            values = past,
            "Skipping failed values whose block-till is already past; give --block-for or --block-till to send them"
        );
    }
    tracing::info!(
        values = resend,
        r#type = %kind.value_type(),
        "Re-sending the values whose latest outcome is failed"
    );
    let connected = connect(&args.connection).await?;
    let job = SendJob {
        op: Op::Retry,
        connected,
        connection: &args.connection,
        pool: checked.pool_config,
        ledger,
        results: &checked.results,
        expected_rows: Some(resend),
        summary_json: args.summary_json.as_deref(),
        log,
        value_type: kind.value_type(),
        started: checked.started,
    };
    let batch_size = args.batch_size as usize;
    let origin_path: Arc<str> = Arc::from(format!("retry of {}", checked.ledger_path.display()));
    let counters = Arc::new(Counters::default());
    let reader_counters = counters.clone();
    // Those skipped count as read and not sent, so that the summary adds up.
    Counters::add(&counters.rows, past);
    Counters::add(&counters.not_sent, past);
    send(job, counters, move |sink| {
        let mut chunker = Chunker::new(kind, batch_size);
        let mut sent = K::Seen::default();
        let mut line_no = 0u64;
        let mut going = true;
        let mut filter = TargetFilter::new(&checked.target);
        let read = read_records(&checked.ledger_path, |_, record| {
            if !going || !filter.admits(&record) {
                return;
            }
            let Record::Outcome(line) = record else { return };
            let state = match line.status {
                Status::Failed => State::Failed,
                Status::Refused => State::Refused,
                _ => return,
            };
            let Some(values) = latest.of_kind(&line) else { return };
            if !line.blocks() || !wanted(state) {
                return;
            }
            let Some(block_till) = send_till(line.block_till) else {
                return;
            };
            for value in values {
                if !latest.says(&line, value, state) || !sent.insert(K::key(value)) {
                    continue;
                }
                if sink.stopping() {
                    going = false;
                    return;
                }
                line_no += 1;
                Counters::add(&reader_counters.rows, 1);
                let row = Row {
                    value: value.clone(),
                    block_till,
                    origin: Origin {
                        path: origin_path.clone(),
                        line: line_no,
                    },
                };
                if let Some(batch) = chunker.push(row)
                    && !sink.batch(batch)
                {
                    going = false;
                    return;
                }
            }
        });
        if let Err(error) = read {
            tracing::error!(%error, "The ledger could not be read again; what was not read is not re-sent");
        }
        flush(&mut chunker, &reader_counters, sink);
    })
    .await
}
