//! `blockade block`: block every contact ID in the inputs.
//!
//! Reads every input (checked up front: a file that cannot be opened or has no ID column
//! is exit 2 before anything is sent), dedupes across inputs, cuts batches per block-till,
//! sends them through the pool and records every outcome and every bad row in the ledger.
//! `--resume` skips the IDs the ledger already shows blocked; `--dry-run` prints the plan.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::cli::{BlockArgs, LogArgs};
use crate::cmd::{self, SendJob};
use crate::config::{self, ConfigError};
use crate::exit::ExitStatus;
use crate::input::reject_limit::RejectLimit;
use crate::input::{self, Item, ReadOptions, Reject, STDIN_NAME, Source};
use crate::ledger::{LatestStatus, LedgerWriter, TargetFilter};
use crate::send::counters::Counters;
use crate::send::pipeline::{self, Sink};
use crate::ui::summary::group_digits;
use crate::values::batch::{Batch, Chunker};
use crate::values::dedupe::{Dedupe, Seen};
use crate::values::shard::Shard;

pub async fn run(args: BlockArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let summary_json = args.summary_json.clone();
    let result = run_checked(args, log).await;
    if let Err(error) = &result {
        cmd::write_error_summary(summary_json.as_deref(), "block", error);
    }
    result
}

async fn run_checked(mut args: BlockArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    // Everything that can be checked before sending is checked first: exit 2.
    let now = Utc::now();
    let default_till = config::block_till(&args.till, now)?;
    if default_till.is_none() && args.block_till_field.is_none() {
        return Err(ConfigError::NoBlockTill.into());
    }
    if args.inputs.is_empty() {
        // No INPUT: read a pipe or a redirect, never wait on a terminal (issue 12).
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!(
                "no INPUT given: name the files to read, or pipe a list into blockade (give - for standard input)"
            );
        }
        args.inputs.push("-".to_owned());
    }
    if args.inputs.iter().filter(|i| *i == "-").count() > 1 {
        bail!("'-' (stdin) can be given only once");
    }
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| cmd::default_results(args.connection.sandbox));
    refuse_input_as_results(&args.inputs, &results)?;
    let options = ReadOptions {
        format: args.format,
        id_field: args.id_field.clone(),
        delimiter: args.delimiter.unwrap_or(b','),
        delimiter_set: args.delimiter.is_some(),
        no_header: args.no_header,
        block_till_field: args.block_till_field.clone(),
        default_block_till: default_till,
        value_type: args.value_type,
    };
    let sources = args
        .inputs
        .iter()
        .map(|path| input::open(path, &options))
        .collect::<Result<Vec<_>, _>>()?;
    let pool_config = config::pool_config(&args.connection)?;
    let batch_size = args.batch_size as usize;
    if let Some(limit) = args.max_rejects {
        check_reject_limit(&args.inputs, &options, limit)?;
    }
    if args.value_type != input::ValueType::Contact {
        // Emails and IPs: their own batches and ledger lines (`block_text.rs`).
        let plan = cmd::block_text::TextRun {
            sources,
            pool_config,
            results,
            now,
        };
        return cmd::block_text::run(args, plan, log).await;
    }

    if args.dry_run {
        // A preflight: the target and the key are checked (nothing is sent), and
        // --resume is applied as the real run would.
        let target = cmd::target_name(&args.connection)?;
        let dedupe = if args.resume {
            resume_from(&results, &target, false)?
        } else {
            Dedupe::new()
        };
        let plan = PlanInput {
            sources,
            shard: args.shard,
            dedupe,
            batch_size,
            now,
        };
        return Ok(dry_run(plan, &pool_config.rate, &target, &results));
    }

    let connected = cmd::connect(&args.connection).await?;
    let ledger = LedgerWriter::open(&results)?;
    let dedupe = if args.resume {
        resume_from(&results, &connected.target.name, true)?
    } else {
        Dedupe::new()
    };

    let job = SendJob {
        command: "block",
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        // Only the progress display uses it, and counting reads every input once more.
        expected_rows: if log.quiet {
            None
        } else {
            estimate_rows(
                &args.inputs,
                args.no_header || args.format == Some(input::Format::Plain),
            )
        },
        summary_json: args.summary_json.as_deref(),
        log,
        next: cmd::next_commands("block", &args.connection, &results),
        value_type: crate::input::ValueType::Contact,
    };
    let counters = Arc::new(Counters::default());
    let reader_counters = counters.clone();
    let shard = args.shard;
    cmd::send(job, counters, move |sink| {
        read_inputs(
            sources,
            shard,
            dedupe,
            Chunker::new(batch_size),
            &reader_counters,
            sink,
            now,
        )
    })
    .await
}

/// `--resume`: the IDs this target's lines of the ledger show blocked. Lines of other
/// targets (a sandbox run, another account) are named in a warning and never used.
fn resume_from(results: &Path, target: &str, must_exist: bool) -> anyhow::Result<Dedupe> {
    if !must_exist && !results.exists() {
        return Ok(Dedupe::new());
    }
    let mut filter = TargetFilter::new(target);
    let (latest, stats) = LatestStatus::load_for(results, &mut filter)?;
    filter.warn_skipped(results);
    tracing::info!(
        already_blocked = latest.blocked().len(),
        unreadable_lines = stats.bad_line_count,
        "Resuming: IDs the ledger shows blocked are skipped"
    );
    Ok(Dedupe::resuming(latest.into_blocked()))
}

/// `--results` must not be one of the inputs: appending JSON lines to a user's CSV
/// destroys it.
pub(crate) fn refuse_input_as_results(inputs: &[String], results: &Path) -> anyhow::Result<()> {
    let Ok(results_meta) = std::fs::metadata(results) else {
        return Ok(());
    };
    for input in inputs.iter().filter(|input| *input != "-") {
        if let Ok(meta) = std::fs::metadata(input)
            && same_file(&meta, &results_meta)
        {
            bail!(
                "--results {} is also an input: the ledger would be appended to your input; pass another ledger path with --results",
                results.display()
            );
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

/// The producer: reads every source in order, leaves other shards' rows alone, drops
/// duplicates (and, with `--resume`, IDs already blocked), and cuts batches.
pub fn read_inputs(
    sources: Vec<Source>,
    shard: Option<Shard>,
    mut dedupe: Dedupe,
    mut chunker: Chunker,
    counters: &Counters,
    sink: &mut impl Sink,
    now: DateTime<Utc>,
) {
    let mut tally = RowTally::default();
    let mut sources = sources.into_iter();
    'sources: while let Some(mut source) = sources.next() {
        while let Some(item) = source.next() {
            if tally.due() {
                tally.publish(counters);
                if sink.stopping() {
                    // Not sent, but not lost from sight: the summary counts what is left.
                    count_unread(1, source, sources, counters);
                    break 'sources;
                }
            }
            match item {
                // A row's own block-till already past would block nothing: a bad row.
                Item::Row(row) if row.block_till <= now => {
                    if shard.is_some_and(|shard| !shard.owns(row.id)) {
                        tally.other_shards += 1;
                        continue;
                    }
                    sink.reject(Reject {
                        input: row.id.to_string(),
                        reason: format!(
                            "block-till {} is in the past: it would block nothing",
                            row.block_till.to_rfc3339_opts(SecondsFormat::Millis, true)
                        ),
                        origin: row.origin,
                    });
                }
                Item::Row(row) => {
                    if shard.is_some_and(|shard| !shard.owns(row.id)) {
                        tally.other_shards += 1;
                        continue;
                    }
                    tally.rows += 1;
                    match dedupe.check(row.id) {
                        Seen::New => {
                            if let Some(batch) = chunker.push(row)
                                && !sink.batch(batch)
                            {
                                tally.publish(counters);
                                count_unread(0, source, sources, counters);
                                break 'sources;
                            }
                        }
                        Seen::Duplicate => tally.duplicates += 1,
                        Seen::AlreadyBlocked => tally.already_blocked += 1,
                    }
                }
                // A bad row has no ID to hash: the shard owning its line number records it,
                // so that merged shard ledgers hold each reject once.
                Item::Reject(reject) | Item::Broken(reject)
                    if shard.is_some_and(|shard| !shard.owns(reject.origin.line)) =>
                {
                    tally.other_shards += 1;
                }
                Item::Reject(reject) => sink.reject(reject),
                // Only read with --type email|ip, which `block_text` reads.
                Item::Text(row) => sink.reject(Reject {
                    input: row.value,
                    reason: "an email or IP in a run of contact IDs".to_owned(),
                    origin: row.origin,
                }),
                Item::Broken(reject) => {
                    tracing::error!(source = %reject.origin, reason = %reject.reason, "An input could not be read to its end; the rows after this point were not read");
                    Counters::add(&counters.inputs_broken, 1);
                    sink.reject(reject);
                }
            }
        }
    }
    tally.publish(counters);
    pipeline::flush(&mut chunker, counters, sink);
}

/// Per-row counts, kept here and published to the shared counters every `PUBLISH_EVERY`
/// rows: the shared ones sit on cache lines the collector writes too, and touching them on
/// every row showed in the profile. The stop check rides on the same beat.
#[derive(Default)]
pub(crate) struct RowTally {
    items: u64,
    pub(crate) rows: u64,
    pub(crate) duplicates: u64,
    pub(crate) already_blocked: u64,
    pub(crate) other_shards: u64,
}

const PUBLISH_EVERY: u64 = 1024;

impl RowTally {
    /// Counts one item; true every `PUBLISH_EVERY` items.
    pub(crate) fn due(&mut self) -> bool {
        self.items += 1;
        self.items.is_multiple_of(PUBLISH_EVERY)
    }

    pub(crate) fn publish(&mut self, counters: &Counters) {
        for (counter, count) in [
            (&counters.rows, &mut self.rows),
            (&counters.duplicates, &mut self.duplicates),
            (&counters.already_blocked, &mut self.already_blocked),
            (&counters.other_shards, &mut self.other_shards),
        ] {
            if *count > 0 {
                Counters::add(counter, std::mem::take(count));
            }
        }
    }
}

/// How long a stopped run goes on reading, only to count the rows it leaves unread.
const COUNT_UNREAD_FOR: Duration = Duration::from_secs(2);

/// After a stop: counts the rows not read (`in_hand` already taken, the rest of `current`,
/// and the sources after it), so that the summary accounts for every row. Stdin, or input
/// too long to count in `COUNT_UNREAD_FOR`, is flagged as not counted instead.
pub(crate) fn count_unread(
    in_hand: u64,
    current: Source,
    rest: impl Iterator<Item = Source>,
    counters: &Counters,
) {
    let deadline = Instant::now() + COUNT_UNREAD_FOR;
    let mut unread = in_hand;
    'sources: for source in std::iter::once(current).chain(rest) {
        if source.path() == STDIN_NAME {
            Counters::add(&counters.unread_uncounted, 1);
            continue;
        }
        for _ in source {
            unread += 1;
            if unread.is_multiple_of(4096) && Instant::now() > deadline {
                Counters::add(&counters.unread_uncounted, 1);
                break 'sources;
            }
        }
    }
    Counters::add(&counters.unread, unread);
}

/// `--max-rejects`: reads every input once, before anything is sent, and refuses the run
/// when too many rows are bad, showing the first few.
fn check_reject_limit(
    inputs: &[String],
    options: &ReadOptions,
    limit: RejectLimit,
) -> anyhow::Result<()> {
    if inputs.iter().any(|i| i == "-") {
        bail!(
            "--max-rejects reads the inputs once before sending, which stdin does not allow: save stdin to a file first"
        );
    }
    let (mut rows, mut rejected) = (0u64, 0u64);
    let mut first = Vec::new();
    for path in inputs {
        for item in input::open(path, options)? {
            rows += 1;
            if let Item::Reject(reject) | Item::Broken(reject) = item {
                rejected += 1;
                if first.len() < 5 {
                    first.push(format!(
                        "  {}  {}  {:?}",
                        reject.origin, reject.reason, reject.input
                    ));
                }
            }
        }
    }
    if limit.exceeded(rejected, rows) {
        bail!(
            "bad rows: {rejected} of {rows}, more than --max-rejects {limit}; nothing was sent. First bad rows:\n{}\n\
             Check that the input is the file you meant (format, --id-field, --delimiter), or raise --max-rejects.",
            first.join("\n")
        );
    }
    Ok(())
}

/// A cheap estimate of the rows to come (line count of plain files), for the progress bar.
/// `None` when any input is stdin, compressed, or not a regular file: opening a FIFO (or
/// `<(cmd)`) a second time would steal its rows from the real reader, or block forever once
/// the writer is gone, and `/dev/zero` never ends.
pub(crate) fn estimate_rows(inputs: &[String], no_header: bool) -> Option<u64> {
    let mut total = 0u64;
    for path in inputs {
        if path == "-" || path.ends_with(".gz") || !std::fs::metadata(path).ok()?.is_file() {
            return None;
        }
        let mut file = std::fs::File::open(path).ok()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut lines = 0u64;
        let mut last = b'\n';
        loop {
            let n = file.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            last = buf[n - 1];
        }
        if last != b'\n' {
            lines += 1;
        }
        let header =
            u64::from(!no_header && input::format_from_extension(path) == Some(input::Format::Csv));
        total += lines.saturating_sub(header);
    }
    Some(total)
}

/// What a dry run learns without sending.
#[derive(Default)]
struct Plan {
    batches: u64,
    ids: u64,
    by_block_till: BTreeMap<DateTime<Utc>, (u64, u64)>,
    rejects: Vec<Reject>,
    reject_count: u64,
}

impl Sink for Plan {
    fn batch(&mut self, batch: Batch) -> bool {
        self.batches += 1;
        self.ids += batch.ids.len() as u64;
        let group = self.by_block_till.entry(batch.block_till).or_default();
        group.0 += 1;
        group.1 += batch.ids.len() as u64;
        true
    }

    fn reject(&mut self, reject: Reject) {
        self.reject_count += 1;
        if self.rejects.len() < 10 {
            self.rejects.push(reject);
        }
    }

    fn stopping(&self) -> bool {
        false
    }
}

/// What a dry run reads.
struct PlanInput {
    sources: Vec<Source>,
    shard: Option<Shard>,
    dedupe: Dedupe,
    batch_size: usize,
    now: DateTime<Utc>,
}

fn dry_run(
    input: PlanInput,
    rate: &crate::send::rate::Rate,
    target: &str,
    results: &Path,
) -> ExitStatus {
    let counters = Counters::default();
    let mut plan = Plan::default();
    let batch_size = input.batch_size;
    read_inputs(
        input.sources,
        input.shard,
        input.dedupe,
        Chunker::new(batch_size),
        &counters,
        &mut plan,
        input.now,
    );
    let n = group_digits;
    let mut out = format!(
        "Plan (dry run: nothing sent, no ledger written)\n  target    {target} (checked, with a key; nothing sent)\n  ledger    {}\n  rows      {} valid, {} rejected, {} duplicates, {} already blocked per the ledger (--resume)\n  send      {} in {} of up to {}\n",
        results.display(),
        n(Counters::get(&counters.rows)),
        n(plan.reject_count),
        n(Counters::get(&counters.duplicates)),
        n(Counters::get(&counters.already_blocked)),
        crate::ui::summary::plural(plan.ids, "ID"),
        crate::ui::summary::plural(plan.batches, "batch"),
        batch_size,
    );
    for (till, (batches, ids)) in &plan.by_block_till {
        out += &format!(
            "  until     {}  {} in {}\n",
            till.to_rfc3339_opts(SecondsFormat::Millis, true),
            crate::ui::summary::plural(*ids, "ID"),
            crate::ui::summary::plural(*batches, "batch")
        );
    }
    let status = finish_plan(&mut out, plan.batches, rate, &plan.rejects, &counters, "ID");
    cmd::print_stdout(&out);
    status
}

/// The end of a dry run's plan, for IDs or emails/IPs (`noun`): the time at `rate`, the
/// first rejected rows, broken inputs, and nothing valid at all. The status is the real
/// run's: a broken input, or no valid value, is an input error (exit 2), since nothing
/// is sent (a real run would exit 1 on a broken input: rows lost from sight).
pub(crate) fn finish_plan(
    out: &mut String,
    batches: u64,
    rate: &crate::send::rate::Rate,
    rejects: &[Reject],
    counters: &Counters,
    noun: &str,
) -> ExitStatus {
    let seconds = batches as f64 / rate.per_second();
    *out += &format!(
        "  time      about {} at {rate} (at least; retries add to it)\n",
        humantime::format_duration(Duration::from_secs(seconds.ceil() as u64))
    );
    if !rejects.is_empty() {
        *out += "  rejected rows (first 10):\n";
        for reject in rejects {
            *out += &format!(
                "    {}  {}  {:?}\n",
                reject.origin, reject.reason, reject.input
            );
        }
    }
    let broken = Counters::get(&counters.inputs_broken);
    if broken > 0 {
        *out += &format!(
            "  broken    {broken} input(s) could not be read to the end (see the rejected rows): fix them before the real run\n"
        );
    }
    let nothing = Counters::get(&counters.rows) == 0;
    if nothing {
        *out += &format!("  nothing   no valid {noun} in the inputs: the real run would exit 2\n");
    }
    if broken > 0 || nothing {
        ExitStatus::Usage
    } else {
        ExitStatus::Success
    }
}
