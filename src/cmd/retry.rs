//! `blockade retry`: re-send the IDs whose latest outcome in a ledger is failed.
//!
//! IDs keep the block-till they failed with (`--block-till`/`--block-for` override it); a
//! block-till already in the past is skipped with a warning unless overridden. Outcomes are
//! appended to the same ledger (or `--results`), so the latest line per ID stays the truth.

use std::sync::Arc;

use chrono::Utc;

use crate::cli::{LogArgs, RetryArgs};
use crate::cmd::{self, SendJob};
use crate::config;
use crate::exit::ExitStatus;
use crate::input::{Origin, Row};
use crate::ledger::{LatestStatus, LedgerError, LedgerWriter, TargetFilter};
use crate::send::counters::Counters;
use crate::send::pipeline::{self, Sink};
use crate::values::batch::Chunker;

pub async fn run(args: RetryArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let summary_json = args.summary_json.clone();
    let result = run_checked(args, log).await;
    if let Err(error) = &result {
        cmd::write_error_summary(summary_json.as_deref(), "retry", error);
    }
    result
}

async fn run_checked(args: RetryArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let now = Utc::now();
    let override_till = config::block_till(&args.till, now)?;
    let pool_config = config::pool_config(&args.connection)?;
    let ledger_path = args
        .ledger
        .clone()
        .unwrap_or_else(|| cmd::default_results(args.connection.sandbox));
    // A ledger that is not there is a mistake in the command, not "nothing to retry";
    // and it must not be created.
    if !ledger_path.exists() {
        return Err(LedgerError::NotFound { path: ledger_path }.into());
    }
    let results = args.results.clone().unwrap_or_else(|| ledger_path.clone());
    let target = cmd::target_name(&args.connection)?;
    // Lock before reading, so no other run appends between the read and the retry.
    let ledger = if args.dry_run {
        None
    } else {
        Some(LedgerWriter::open(&results)?)
    };
    let mut filter = TargetFilter::new(&target);
    let (latest, stats) = LatestStatus::load_for(&ledger_path, &mut filter)?;
    filter.warn_skipped(&ledger_path);
    if stats.bad_line_count > 0 {
        tracing::warn!(
            unreadable_lines = stats.bad_line_count,
            "Some ledger lines could not be read and were skipped"
        );
    }
    // Emails and IPs follow their own path (`retry_text.rs`) when they are what failed.
    let contact_failures: u64 = latest
        .to_retry(args.include_refused)
        .iter()
        .map(|(_, ids)| ids.len())
        .sum();
    let texts = cmd::retry_text::load(&ledger_path, &target, args.include_refused)?;
    if let Some(text_latest) = cmd::retry_text::pick(args.value_type, contact_failures, texts)? {
        let checked = cmd::retry_text::Checked {
            ledger_path,
            results,
            target,
            ledger,
            pool_config,
            override_till,
            now,
        };
        return cmd::retry_text::run(args, text_latest, checked, log).await;
    }
    let refused_left = if args.include_refused {
        0
    } else {
        latest.refused().len()
    };

    let counters = Arc::new(Counters::default());
    let mut groups = Vec::new();
    let mut past_till = 0u64;
    for (till, ids) in latest.to_retry(args.include_refused) {
        let till = match override_till {
            Some(new_till) => new_till,
            None if till <= now => {
                tracing::warn!(block_till = %till, ids = ids.len(), "Skipping failed IDs whose block-till is already past; give --block-for or --block-till to send them");
                past_till += ids.len();
                continue;
            }
            None => till,
        };
        groups.push((till, ids));
    }
    // Those skipped count as read and not sent, so that the summary adds up.
    Counters::add(&counters.rows, past_till);
    Counters::add(&counters.not_sent, past_till);
    let expected: u64 = groups.iter().map(|(_, ids)| ids.len()).sum();
    if refused_left > 0 {
        tracing::info!(
            refused = refused_left,
            "Leaving alone the IDs the server refused by name; give --include-refused to send them again"
        );
    }
    if args.dry_run {
        let mut out = format!(
            "Plan (dry run: nothing sent, nothing written)\n  target    {target} (checked, with a key; nothing sent)\n  ledger    {}\n  re-send   {}\n",
            ledger_path.display(),
            crate::ui::summary::plural(expected, "failed ID"),
        );
        if past_till > 0 {
            out += &format!(
                "  skip      {} whose block-till is past (give --block-for to send them)\n",
                crate::ui::summary::plural(past_till, "ID")
            );
        }
        if refused_left > 0 {
            out += &format!(
                "  refused   {} left alone (give --include-refused to send them)\n",
                crate::ui::summary::plural(refused_left, "ID")
            );
        }
        cmd::print_stdout(&out);
        return Ok(ExitStatus::Success);
    }
    tracing::info!(
        ids = expected,
        "Re-sending the IDs whose latest outcome is failed"
    );
    let Some(ledger) = ledger else {
        return Ok(ExitStatus::Success);
    };
    let connected = cmd::connect(&args.connection).await?;

    let job = SendJob {
        command: "retry",
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        expected_rows: Some(expected),
        summary_json: args.summary_json.as_deref(),
        log,
        next: cmd::next_commands("retry", &args.connection, &ledger_path),
        value_type: crate::input::ValueType::Contact,
    };
    let batch_size = args.batch_size as usize;
    let origin_path: Arc<str> = Arc::from(format!("retry of {}", ledger_path.display()));
    let reader_counters = counters.clone();
    cmd::send(job, counters, move |sink| {
        let mut chunker = Chunker::new(batch_size);
        let mut line = 0u64;
        'groups: for (till, ids) in groups {
            for id in ids {
                if sink.stopping() {
                    break 'groups;
                }
                line += 1;
                Counters::add(&reader_counters.rows, 1);
                let row = Row {
                    id,
                    block_till: till,
                    origin: Origin {
                        path: origin_path.clone(),
                        line,
                    },
                };
                if let Some(batch) = chunker.push(row)
                    && !sink.batch(batch)
                {
                    break 'groups;
                }
            }
        }
        pipeline::flush(&mut chunker, &reader_counters, sink);
    })
    .await
}
