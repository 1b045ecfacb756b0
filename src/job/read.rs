//! The producer of a run that reads inputs (`block`, `sync`): every source in order, other
//! shards' rows left alone, duplicates (and, with `--resume`, values blocked now) dropped,
//! rows cut into batches. Written once for every kind of value; it runs on its own thread
//! (file reading and gzip block).

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::input::reject_limit::RejectLimit;
use crate::input::{self, Item, ReadOptions, Reject, STDIN_NAME, Source};
use crate::send::counters::Counters;
use crate::send::pipeline::Sink;
use crate::values::dedupe::{Dedupe, Seen};
use crate::values::shard::Shard;
use crate::values::{Batch, Chunker, Kind};

/// Opens every input (checked up front: a file that cannot be opened or has no value
/// column is exit 2 before anything is sent). No INPUT reads stdin when it is a pipe or a
/// redirect, never a terminal.
pub fn open_inputs<K: Kind>(
    inputs: &mut Vec<String>,
    options: &ReadOptions,
    kind: K,
) -> anyhow::Result<Vec<Source<K>>> {
    if inputs.is_empty() {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!(
                "no INPUT given: name the files to read, or pipe a list into blockade (give - for standard input)"
            );
        }
        inputs.push("-".to_owned());
    }
    if inputs.iter().filter(|i| *i == "-").count() > 1 {
        bail!("'-' (stdin) can be given only once");
    }
    Ok(inputs
        .iter()
        .map(|path| input::open(path, options, kind))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The producer: reads every source in order, leaves other shards' rows alone, drops
/// duplicates (and, with `--resume`, values blocked now), and cuts batches.
pub fn read_inputs<K: Kind>(
    sources: Vec<Source<K>>,
    shard: Option<Shard>,
    mut dedupe: Dedupe<K>,
    mut chunker: Chunker<K>,
    counters: &Counters,
    sink: &mut impl Sink<Batch<K>>,
    now: DateTime<Utc>,
) {
    let mut tally = RowTally::default();
    let mut sources = sources.into_iter();
    let (soonest, latest) = (
        now + chrono::Duration::minutes(1),
        crate::config::latest_block_till(now),
    );
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
                Item::Row(row) => {
                    let key = K::key(&row.value);
                    if shard.is_some_and(|shard| !shard.owns(K::shard_key(key))) {
                        tally.other_shards += 1;
                        continue;
                    }
                    // A row's own block-till must make a block of a minute to 10 years, as
                    // the flags must: a past one would block nothing. (Formatted only for
                    // a reject: per row it was a third of the reader's time.)
                    let till = || row.block_till.to_rfc3339_opts(SecondsFormat::Millis, true);
                    let bad_till = if row.block_till <= now {
                        Some(format!(
                            "block-till {} is in the past: it would block nothing",
                            till()
                        ))
                    } else if row.block_till < soonest {
                        Some(format!(
                            "block-till {} is less than a minute away: a block that short protects nothing",
                            till()
                        ))
                    } else if row.block_till > latest {
                        Some(format!("block-till {} is more than 10 years away", till()))
                    } else {
                        None
                    };
                    if let Some(reason) = bad_till {
                        sink.reject(Reject {
                            input: row.value.to_string(),
                            reason,
                            origin: row.origin,
                        });
                        continue;
                    }
                    tally.rows += 1;
                    match dedupe.check(key) {
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
                // A bad row has no value to hash: the shard owning its line number records
                // it, so that merged shard ledgers hold each reject once.
                Item::Reject(reject) | Item::Broken(reject)
                    if shard.is_some_and(|shard| !shard.owns(reject.origin.line)) =>
                {
                    tally.other_shards += 1;
                }
                Item::Reject(reject) => sink.reject(reject),
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

/// Sends what is left in the chunker at the end of input. Once the sink refuses a batch
/// (the run is stopping, and the sink counted that one as not sent), the rest are counted
/// as not sent here.
pub fn flush<K: Kind>(
    chunker: &mut Chunker<K>,
    counters: &Counters,
    sink: &mut impl Sink<Batch<K>>,
) {
    let mut sending = true;
    for batch in chunker.finish() {
        if sending {
            sending = sink.batch(batch);
        } else {
            Counters::add(&counters.not_sent, batch.values.len() as u64);
        }
    }
}

/// Per-row counts, kept here and published to the shared counters every `PUBLISH_EVERY`
/// rows: the shared ones sit on cache lines the collector writes too, and touching them on
/// every row showed in the profile. The stop check rides on the same beat.
#[derive(Default)]
struct RowTally {
    items: u64,
    rows: u64,
    duplicates: u64,
    already_blocked: u64,
    other_shards: u64,
}

const PUBLISH_EVERY: u64 = 1024;

impl RowTally {
    /// Counts one item; true every `PUBLISH_EVERY` items.
    #[inline]
    fn due(&mut self) -> bool {
        self.items += 1;
        self.items.is_multiple_of(PUBLISH_EVERY)
    }

    fn publish(&mut self, counters: &Counters) {
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
fn count_unread<K: Kind>(
    in_hand: u64,
    current: Source<K>,
    rest: impl Iterator<Item = Source<K>>,
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
pub fn check_reject_limit<K: Kind>(
    inputs: &[String],
    options: &ReadOptions,
    kind: K,
    limit: RejectLimit,
) -> anyhow::Result<()> {
    if inputs.iter().any(|i| i == "-") {
        bail!(
            "--max-rejects reads the inputs once before sending, which stdin does not allow: save stdin to a file first"
        );
    }
    let (mut rows, mut first) = (0u64, Vec::new());
    let mut rejected = 0u64;
    for path in inputs {
        for item in input::open(path, options, kind)? {
            rows += 1;
            if let Item::Reject(reject) | Item::Broken(reject) = item {
                rejected += 1;
                if first.len() < 5 {
                    first.push(reject);
                }
            }
        }
    }
    refuse_over_limit(limit, rejected, rows, &first)
}

/// `--max-rejects`: the error that sends nothing (exit 2) when `rejected` of `rows` is
/// over `limit`, naming the first bad rows (`first`, a few).
pub fn refuse_over_limit(
    limit: RejectLimit,
    rejected: u64,
    rows: u64,
    first: &[Reject],
) -> anyhow::Result<()> {
    if limit.exceeded(rejected, rows) {
        let first: Vec<String> = first
            .iter()
            .take(5)
            .map(|reject| format!("  {}  {}  {:?}", reject.origin, reject.reason, reject.input))
            .collect();
        bail!(
            "bad rows: {rejected} of {rows}, more than --max-rejects {limit}; nothing was sent. First bad rows:\n{}\n\
             Check that the input is the file you meant (format, --id-field, --delimiter), or raise --max-rejects.",
            first.join("\n")
        );
    }
    Ok(())
}

/// A cheap estimate of the rows to come (line count of plain files), for the progress bar
/// and the dedupe table's size. `None` when any input is stdin, compressed, or not a
/// regular file: opening a FIFO (or `<(cmd)`) a second time would steal its rows from the
/// real reader, or block forever once the writer is gone, and `/dev/zero` never ends.
pub fn estimate_rows(inputs: &[String], no_header: bool) -> Option<u64> {
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

/// `--results` must not be one of the inputs: appending JSON lines to a user's CSV
/// destroys it.
pub fn refuse_input_as_results(inputs: &[String], results: &Path) -> anyhow::Result<()> {
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
