//! `blockade block --type email|ip`: block every email or IP address in the inputs.
//!
//! The same stages as a contact run (`block.rs`), with text values: the readers give each
//! value in its normal form (`Item::Text`), dedupe keeps the 128-bit hash of each
//! (`HashedDedupe`, never the strings), `--shard` splits on that hash, batches are
//! `TextBatch`es sent as `{"data":["a@b.com",...],"type":"email",...}`, and each outcome is
//! a ledger line with `"type"` and the strings in `ids` (`TextRecord`). `--resume` skips
//! the values this target's lines of the same type show blocked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::cli::{BlockArgs, LogArgs};
use crate::cmd::block::{RowTally, count_unread, estimate_rows};
use crate::cmd::{self, SendJob};
use crate::exit::ExitStatus;
use crate::input::value::value_hash;
use crate::input::{self, Item, Reject, Source, ValueType};
use crate::ledger::{LatestText, LedgerWriter, Record, Status, TargetFilter, TextRecord};
use crate::send::counters::Counters;
use crate::send::pipeline::{Recorded, Sink};
use crate::send::pool::{BatchStatus, Outcome, PoolConfig};
use crate::ui::summary::{group_digits, plural};
use crate::values::dedupe::{HashedDedupe, Seen};
use crate::values::shard::Shard;
use crate::values::text_batch::{TextBatch, TextChunker};

/// Most values the dedupe table is sized for up front (about 600 MB of input lines).
const MAX_PRESIZE: u64 = 16_000_000;

/// What `block.rs` has checked and opened before handing an email or IP run over.
pub struct TextRun {
    pub sources: Vec<Source>,
    pub pool_config: PoolConfig,
    pub results: PathBuf,
    pub now: DateTime<Utc>,
}

pub async fn run(args: BlockArgs, checked: TextRun, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let TextRun {
        sources,
        pool_config,
        results,
        now,
    } = checked;
    let value_type = args.value_type;
    let batch_size = args.batch_size as usize;
    // The line count of the inputs (plain files only), an upper bound of the distinct
    // values: the dedupe table is sized once instead of growing (a growing table is
    // briefly held twice). Capped, so that a bogus count cannot reserve much.
    let rows_estimate = estimate_rows(
        &args.inputs,
        args.no_header || args.format == Some(input::Format::Plain),
    );
    let capacity = rows_estimate.unwrap_or(0).min(MAX_PRESIZE) as usize;
    if args.dry_run {
        let target = cmd::target_name(&args.connection)?;
        let dedupe = if args.resume {
            resume_from(&results, &target, value_type, false)?
        } else {
            HashedDedupe::new()
        }
        .with_capacity(capacity);
        let mut plan = TextPlan::default();
        let counters = Counters::default();
        read_text_inputs(
            sources,
            args.shard,
            dedupe,
            TextChunker::new(batch_size, value_type),
            &counters,
            &mut plan,
            now,
        );
        return Ok(plan.print(
            &counters,
            value_type,
            batch_size,
            &pool_config.rate,
            &target,
            &results,
        ));
    }

    let connected = cmd::connect(&args.connection).await?;
    let ledger = LedgerWriter::open(&results)?;
    let dedupe = if args.resume {
        resume_from(&results, &connected.target.name, value_type, true)?
    } else {
        HashedDedupe::new()
    }
    .with_capacity(capacity);
    let job = SendJob {
        command: "block",
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        expected_rows: rows_estimate,
        summary_json: args.summary_json.as_deref(),
        log,
        next: cmd::next_commands("block", &args.connection, &results),
        value_type,
    };
    let counters = Arc::new(Counters::default());
    let reader_counters = counters.clone();
    let shard = args.shard;
    cmd::send(job, counters, move |sink| {
        read_text_inputs(
            sources,
            shard,
            dedupe,
            TextChunker::new(batch_size, value_type),
            &reader_counters,
            sink,
            now,
        )
    })
    .await
}

/// `--resume`: the hashes of the values of `value_type` this target's lines show blocked.
fn resume_from(
    results: &Path,
    target: &str,
    value_type: ValueType,
    must_exist: bool,
) -> anyhow::Result<HashedDedupe> {
    if !must_exist && !results.exists() {
        return Ok(HashedDedupe::new());
    }
    let mut filter = TargetFilter::new(target);
    let (latest, stats) = LatestText::load_for(results, &mut filter, value_type)?;
    filter.warn_skipped(results);
    let dedupe = HashedDedupe::resuming(latest.blocked_hashes());
    tracing::info!(
        already_blocked = latest.counts().blocked,
        unreadable_lines = stats.bad_line_count,
        "Resuming: values the ledger shows blocked are skipped"
    );
    Ok(dedupe)
}

/// Whether `shard` (if any) owns the value with this hash.
pub fn shard_owns(shard: Option<Shard>, hash: u128) -> bool {
    shard.is_none_or(|shard| shard.owns(hash as u64 ^ (hash >> 64) as u64))
}

/// The producer: as `block::read_inputs`, for emails and IPs.
pub fn read_text_inputs(
    sources: Vec<Source>,
    shard: Option<Shard>,
    mut dedupe: HashedDedupe,
    mut chunker: TextChunker,
    counters: &Counters,
    sink: &mut impl Sink<TextBatch>,
    now: DateTime<Utc>,
) {
    let mut tally = RowTally::default();
    let mut sources = sources.into_iter();
    'sources: while let Some(mut source) = sources.next() {
        while let Some(item) = source.next() {
            if tally.due() {
                tally.publish(counters);
                if sink.stopping() {
                    count_unread(1, source, sources, counters);
                    break 'sources;
                }
            }
            match item {
                Item::Text(row) => {
                    let hash = value_hash(&row.value);
                    if !shard_owns(shard, hash) {
                        tally.other_shards += 1;
                        continue;
                    }
                    if row.block_till <= now {
                        sink.reject(Reject {
                            input: row.value,
                            reason: format!(
                                "block-till {} is in the past: it would block nothing",
                                row.block_till.to_rfc3339_opts(SecondsFormat::Millis, true)
                            ),
                            origin: row.origin,
                        });
                        continue;
                    }
                    tally.rows += 1;
                    match dedupe.check(hash) {
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
                Item::Reject(reject) | Item::Broken(reject)
                    if shard.is_some_and(|shard| !shard.owns(reject.origin.line)) =>
                {
                    tally.other_shards += 1;
                }
                Item::Reject(reject) => sink.reject(reject),
                // Not produced when reading emails or IPs.
                Item::Row(row) => sink.reject(Reject {
                    input: row.id.to_string(),
                    reason: "a contact ID in a run of emails or IPs".to_owned(),
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
    flush(&mut chunker, counters, sink);
}

/// Sends what is left in the chunker at the end of input (as `pipeline::flush`).
pub fn flush(chunker: &mut TextChunker, counters: &Counters, sink: &mut impl Sink<TextBatch>) {
    let mut sending = true;
    for batch in chunker.finish() {
        if sending {
            sending = sink.batch(batch);
        } else {
            Counters::add(&counters.not_sent, batch.values.len() as u64);
        }
    }
}

impl Recorded for TextBatch {
    fn record(run_id: &str, outcome: Outcome<TextBatch>, counters: &Counters) -> Record {
        let values = outcome.batch.values.len() as u64;
        let done = outcome.done.unwrap_or_default();
        let status = match outcome.status {
            BatchStatus::Done => {
                Counters::add(&counters.ids_blocked, values);
                Counters::add(&counters.batches_blocked, 1);
                Status::Blocked
            }
            BatchStatus::Failed => {
                Counters::add(&counters.ids_failed, values);
                Counters::add(&counters.batches_failed, 1);
                Status::Failed
            }
            BatchStatus::Refused => {
                Counters::add(&counters.ids_refused, values);
                Status::Refused
            }
        };
        if done.already {
            Counters::add(&counters.ids_already, values);
        }
        let ms = (outcome.finished_at - outcome.started_at)
            .num_milliseconds()
            .max(0) as u64;
        let source = outcome.batch.source();
        Record::Text(TextRecord {
            run: run_id.to_owned(),
            batch: outcome.batch.seq,
            status,
            value_type: outcome.batch.value_type.as_str().to_owned(),
            op: None,
            ids: outcome.batch.values,
            block_till: Some(outcome.batch.block_till),
            attempts: outcome.attempts,
            http_status: outcome.http_status,
            error: outcome.error,
            kind: outcome.kind.map(str::to_owned),
            block_ids: done.block_ids,
            already: done.already,
            source,
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
            ms,
        })
    }
}

/// What a dry run learns without sending.
#[derive(Default)]
struct TextPlan {
    batches: u64,
    values: u64,
    by_block_till: BTreeMap<DateTime<Utc>, (u64, u64)>,
    rejects: Vec<Reject>,
    reject_count: u64,
}

impl Sink<TextBatch> for TextPlan {
    fn batch(&mut self, batch: TextBatch) -> bool {
        let size = batch.values.len() as u64;
        self.batches += 1;
        self.values += size;
        let group = self.by_block_till.entry(batch.block_till).or_default();
        group.0 += 1;
        group.1 += size;
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

impl TextPlan {
    fn print(
        &self,
        counters: &Counters,
        value_type: ValueType,
        batch_size: usize,
        rate: &crate::send::rate::Rate,
        target: &str,
        results: &Path,
    ) -> ExitStatus {
        let n = group_digits;
        let noun = value_type.as_str();
        let mut out = format!(
            "Plan (dry run: nothing sent, no ledger written)\n  target    {target} (checked, with a key; nothing sent)\n  ledger    {}\n  type      {noun}\n  rows      {} valid, {} rejected, {} duplicates, {} already blocked per the ledger (--resume)\n  send      {} in {} of up to {}\n",
            results.display(),
            n(Counters::get(&counters.rows)),
            n(self.reject_count),
            n(Counters::get(&counters.duplicates)),
            n(Counters::get(&counters.already_blocked)),
            plural(self.values, noun),
            plural(self.batches, "batch"),
            batch_size,
        );
        for (till, (batches, values)) in &self.by_block_till {
            out += &format!(
                "  until     {}  {} in {}\n",
                till.to_rfc3339_opts(SecondsFormat::Millis, true),
                plural(*values, noun),
                plural(*batches, "batch")
            );
        }
        let status =
            super::block::finish_plan(&mut out, self.batches, rate, &self.rejects, counters, noun);
        cmd::print_stdout(&out);
        status
    }
}
