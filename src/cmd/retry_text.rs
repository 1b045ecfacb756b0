//! `blockade retry` of emails and IPs: re-send the values whose latest outcome in the
//! ledger is failed, for a ledger whose failures are of `type` email or ip.
//!
//! Bounded memory: the first pass keeps the latest state per value by hash
//! (`LatestText`, about 25 bytes per value) with the line that says it; the second pass
//! (on the producer thread, while sending) reads the ledger again and takes the strings
//! to re-send from exactly those lines, so no value is sent twice and the strings are
//! never all held at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use chrono::{DateTime, Utc};

use crate::cli::{LogArgs, RetryArgs};
use crate::cmd::{self, SendJob};
use crate::exit::ExitStatus;
use crate::input::value::value_hash;
use crate::input::{Origin, TextRow, ValueType};
use crate::ledger::{
    LatestText, LedgerWriter, Record, Status, TargetFilter, TextState, read_records,
};
use crate::send::counters::Counters;
use crate::send::pipeline::Sink;
use crate::send::pool::PoolConfig;
use crate::values::text_batch::TextChunker;

/// The text types whose failures a retry could re-send, loaded in one pass.
pub struct TextFailures {
    pub by_type: Vec<(LatestText, u64)>,
}

/// Loads the latest state of the ledger's emails and IPs (this target's lines) and counts
/// what a retry would re-send of each.
pub fn load(path: &Path, target: &str, include_refused: bool) -> anyhow::Result<TextFailures> {
    let mut filter = TargetFilter::new(target);
    let mut email = LatestText::new(ValueType::Email);
    let mut ip = LatestText::new(ValueType::Ip);
    read_records(path, |line, record| {
        if matches!(record, Record::Text(_) | Record::Run(_)) && filter.admits(&record) {
            email.apply(line, &record);
            ip.apply(line, &record);
        }
    })?;
    let by_type = [email, ip]
        .into_iter()
        .map(|latest| {
            let to_send = latest.count_where(|state| {
                state == TextState::Failed || (include_refused && state == TextState::Refused)
            });
            (latest, to_send)
        })
        .collect();
    Ok(TextFailures { by_type })
}

/// Which type this retry re-sends: `--type` if given, else the one type with failures.
/// `None` means the contacts (the existing path).
pub fn pick(
    asked: Option<ValueType>,
    contact_failures: u64,
    failures: TextFailures,
) -> anyhow::Result<Option<LatestText>> {
    let mut with_failures: Vec<(LatestText, u64)> = failures
        .by_type
        .into_iter()
        .filter(|(latest, count)| match asked {
            Some(value_type) => latest.value_type() == value_type,
            None => *count > 0,
        })
        .collect();
    match asked {
        Some(ValueType::Contact) => return Ok(None),
        Some(_) => return Ok(with_failures.pop().map(|(latest, _)| latest)),
        None => {}
    }
    if with_failures.is_empty() {
        return Ok(None);
    }
    if contact_failures > 0 || with_failures.len() > 1 {
        let mut kinds: Vec<String> = Vec::new();
        if contact_failures > 0 {
            kinds.push(format!("{contact_failures} contact"));
        }
        for (latest, count) in &with_failures {
            kinds.push(format!("{count} {}", latest.value_type().as_str()));
        }
        bail!(
            "the ledger has failures of more than one type ({}); retry one type at a time: give --type contact, --type email or --type ip",
            kinds.join(", ")
        );
    }
    Ok(with_failures.pop().map(|(latest, _)| latest))
}

/// Streams the values to re-send: for each failed line of this type (of this target),
/// the values whose latest line it is, with that line's block-till.
fn for_each_to_resend(
    path: &Path,
    target: &str,
    latest: &LatestText,
    include_refused: bool,
    mut each: impl FnMut(String, DateTime<Utc>) -> bool,
) -> anyhow::Result<()> {
    let mut filter = TargetFilter::new(target);
    let wanted =
        |state| state == TextState::Failed || (include_refused && state == TextState::Refused);
    let mut going = true;
    read_records(path, |line, record| {
        if !going || !filter.admits(&record) {
            return;
        }
        let Record::Text(text) = record else { return };
        if text.is_unblock()
            || text.value_type() != Some(latest.value_type())
            || !(text.status == Status::Failed || text.status == Status::Refused)
        {
            return;
        }
        let Some(till) = text.block_till else { return };
        for value in text.ids {
            if going
                && let Some((state, at)) = latest.get(value_hash(&value))
                && at == line
                && wanted(state)
            {
                going = each(value, till);
            }
        }
    })?;
    Ok(())
}

/// What `retry.rs` has checked before handing a text retry over.
pub struct Checked {
    pub ledger_path: PathBuf,
    pub results: PathBuf,
    pub target: String,
    pub ledger: Option<LedgerWriter>,
    pub pool_config: PoolConfig,
    pub override_till: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub async fn run(
    args: RetryArgs,
    latest: LatestText,
    checked: Checked,
    log: &LogArgs,
) -> anyhow::Result<ExitStatus> {
    let Checked {
        ledger_path,
        results,
        target,
        ledger,
        pool_config,
        override_till,
        now,
    } = checked;
    let value_type = latest.value_type();
    let noun = value_type.as_str();
    let include_refused = args.include_refused;
    let refused_left = if include_refused {
        0
    } else {
        latest.count_where(|state| state == TextState::Refused)
    };
    let send_till = move |till: DateTime<Utc>| match override_till {
        Some(new_till) => Some(new_till),
        None if till <= now => None,
        None => Some(till),
    };
    if args.dry_run {
        let (mut resend, mut past) = (0u64, 0u64);
        for_each_to_resend(
            &ledger_path,
            &target,
            &latest,
            include_refused,
            |_, till| {
                match send_till(till) {
                    Some(_) => resend += 1,
                    None => past += 1,
                }
                true
            },
        )?;
        let mut out = format!(
            "Plan (dry run: nothing sent, nothing written)\n  target    {target} (checked, with a key; nothing sent)\n  ledger    {}\n  re-send   {}\n",
            ledger_path.display(),
            crate::ui::summary::plural(resend, &format!("failed {noun}")),
        );
        if past > 0 {
            out += &format!(
                "  skip      {} whose block-till is past (give --block-for to send them)\n",
                crate::ui::summary::plural(past, noun)
            );
        }
        if refused_left > 0 {
            out += &format!(
                "  refused   {} left alone (give --include-refused to send them)\n",
                crate::ui::summary::plural(refused_left, noun)
            );
        }
        cmd::print_stdout(&out);
        return Ok(ExitStatus::Success);
    }
    if refused_left > 0 {
        tracing::info!(
            refused = refused_left,
            "Leaving alone the values the server refused by name; give --include-refused to send them again"
        );
    }
    let Some(ledger) = ledger else {
        return Ok(ExitStatus::Success);
    };
    let expected = latest.count_where(|state| {
        state == TextState::Failed || (include_refused && state == TextState::Refused)
    });
    tracing::info!(
        values = expected,
        r#type = noun,
        "Re-sending the values whose latest outcome is failed"
    );
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
        value_type,
    };
    let batch_size = args.batch_size as usize;
    let origin_path: Arc<str> = Arc::from(format!("retry of {}", ledger_path.display()));
    let counters = Arc::new(Counters::default());
    let reader_counters = counters.clone();
    cmd::send(job, counters, move |sink| {
        let mut chunker = TextChunker::new(batch_size, value_type);
        let mut line = 0u64;
        let mut past = 0u64;
        let read = for_each_to_resend(&ledger_path, &target, &latest, include_refused, |value, till| {
            if sink.stopping() {
                return false;
            }
            line += 1;
            Counters::add(&reader_counters.rows, 1);
            let Some(block_till) = send_till(till) else {
                past += 1;
                Counters::add(&reader_counters.not_sent, 1);
                return true;
            };
            let row = TextRow {
                value,
                block_till,
                origin: Origin {
                    path: origin_path.clone(),
                    line,
                },
            };
            match chunker.push(row) {
                Some(batch) => sink.batch(batch),
                None => true,
            }
        });
        if let Err(error) = read {
            tracing::error!(%error, "The ledger could not be read again; what was not read is not re-sent");
        }
        if past > 0 {
            tracing::warn!(values = past, "Skipped failed values whose block-till is already past; give --block-for or --block-till to send them");
        }
        cmd::block_text::flush(&mut chunker, &reader_counters, sink);
    })
    .await
}
