//! `blockade unblock --type email|ip`: delete the block records of the emails or IP
//! addresses listed, or of what a ledger (a run) blocked of that type.
//!
//! The same three steps as for contacts (`unblock.rs`), with text values in bounded memory:
//!
//! 1. The wanted values, in their normal form, deduplicated by their 128-bit hash
//!    (`HashedDedupe`, never the strings): from the inputs (read as `block --type` reads
//!    them) or from this target's `blocked` lines of that type (of `--run`). The strings
//!    themselves go to a temporary spool file, read again when sending. The ledger's
//!    `block_ids` name records (hash → record id); `--resume` drops values whose latest
//!    line says unblocked (or not blocked).
//! 2. Values with no known record: the block list is listed and every record of the type
//!    holding at least one wanted string (each string normalised) is kept, spooled with
//!    all its strings. Deleting a record unblocks every string it holds, asked for or
//!    not: its ledger line names them all, and its `source` says how many were not asked.
//! 3. One DELETE per record through the pool (`api::delete_text`), one `TextRecord` line
//!    (`op: "unblock"`) per DELETE; values with no record get `not_blocked` lines (no
//!    request), or `failed` (kind `not_listed`) when the list could not be read to its end.
//!
//! Memory: about 17 bytes per wanted value (the hash set), plus 40 per value the ledger
//! names a record for and 17 per value found by listing; the strings stay on disk.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::api::delete::{Delete, DeleteWhat};
use crate::api::delete_text::TextDelete;
use crate::api::list::ListedRecord;
use crate::cli::{LogArgs, UnblockArgs};
use crate::cmd::{self, SendJob, listing};
use crate::exit::ExitStatus;
use crate::input::value::value_hash;
use crate::input::{self, Item, ReadOptions, Reject, ValueType};
use crate::ledger::{
    LatestText, LedgerWriter, Record, Status, TargetFilter, TextRecord, TextState, UNBLOCK_OP,
    read_records,
};
use crate::net::client::Client;
use crate::send::counters::Counters;
use crate::send::pipeline::{Recorded, Sink};
use crate::send::pool::{Outcome, PoolConfig};
use crate::ui::summary::{group_digits, plural};
use crate::values::dedupe::{HashedDedupe, Seen};

/// Records a dry run names one by one.
const DRY_RUN_SHOWN: usize = 20;

/// Values per `not_blocked` (or `not_listed`) line.
const VALUES_PER_LINE: usize = 1000;

/// The types of what `run` blocked in `ledger` (this target's `blocked` lines, of `run`
/// if given): the type to undo when `--type` is not given. Several types are an error
/// naming them; none is `contact` (the contact path says there is nothing to undo).
pub fn ledger_type(ledger: &Path, run: Option<&str>, target: &str) -> anyhow::Result<ValueType> {
    let mut filter = TargetFilter::new(target);
    let mut counts = [0u64; 3];
    read_records(ledger, |_, record| {
        if !filter.admits(&record) {
            return;
        }
        match &record {
            Record::Batch(batch)
                if batch.status == Status::Blocked && run.is_none_or(|r| r == batch.run) =>
            {
                counts[0] += batch.ids.len() as u64;
            }
            Record::Text(text)
                if !text.is_unblock()
                    && text.status == Status::Blocked
                    && run.is_none_or(|r| r == text.run) =>
            {
                match text.value_type() {
                    Some(ValueType::Email) => counts[1] += text.ids.len() as u64,
                    Some(ValueType::Ip) => counts[2] += text.ids.len() as u64,
                    _ => {}
                }
            }
            _ => {}
        }
    })?;
    let types = [ValueType::Contact, ValueType::Email, ValueType::Ip];
    let present: Vec<(ValueType, u64)> = types
        .into_iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .collect();
    match present.as_slice() {
        [] => Ok(ValueType::Contact),
        [(value_type, _)] => Ok(*value_type),
        several => {
            let kinds: Vec<String> = several
                .iter()
                .map(|(t, n)| format!("{} {}", group_digits(*n), t.as_str()))
                .collect();
            bail!(
                "{} blocked more than one type ({}); undo one type at a time: give --type contact, --type email or --type ip",
                match run {
                    Some(run) => format!("run {run}"),
                    None => ledger.display().to_string(),
                },
                kinds.join(", ")
            )
        }
    }
}

/// What `unblock.rs` has checked before handing an email or IP unblock over.
pub struct Checked {
    pub value_type: ValueType,
    pub results: PathBuf,
    pub target: String,
    pub pool_config: PoolConfig,
}

/// The wanted values: hashes in memory, strings in a spool file.
struct Wanted {
    value_type: ValueType,
    dedupe: HashedDedupe,
    /// `--resume`: the latest state per value of this type.
    latest: Option<LatestText>,
    /// Wanted values the ledger shows unblocked already (--resume).
    done: HashSet<u128>,
    /// Block record ids the ledger names, per value hash.
    known: HashMap<u128, u64>,
    /// The wanted values' strings (not the done ones), one a line.
    spool: BufWriter<File>,
    /// Values in the spool.
    count: u64,
    rejects: Vec<Reject>,
    duplicates: u64,
    resumed: u64,
    source: String,
}

impl Wanted {
    fn new(value_type: ValueType, latest: Option<LatestText>) -> anyhow::Result<Wanted> {
        Ok(Wanted {
            value_type,
            dedupe: HashedDedupe::new(),
            latest,
            done: HashSet::new(),
            known: HashMap::new(),
            spool: BufWriter::new(tempfile::tempfile().context("a temporary spool file")?),
            count: 0,
            rejects: Vec::new(),
            duplicates: 0,
            resumed: 0,
            source: String::new(),
        })
    }

    /// One value (a normal form); `count_duplicate` for inputs (a ledger names a value
    /// again whenever it was blocked again).
    fn add(&mut self, value: &str, count_duplicate: bool) -> std::io::Result<()> {
        let hash = value_hash(value);
        match self.dedupe.check(hash) {
            Seen::New => {
                let unblocked = self.latest.as_ref().is_some_and(|latest| {
                    matches!(latest.get(hash), Some((TextState::Unblocked, _)))
                });
                if unblocked {
                    self.done.insert(hash);
                    self.resumed += 1;
                } else {
                    writeln!(self.spool, "{value}")?;
                    self.count += 1;
                }
            }
            Seen::Duplicate if count_duplicate => self.duplicates += 1,
            Seen::Duplicate | Seen::AlreadyBlocked => {}
        }
        Ok(())
    }

    /// Whether a listed string (normal form, hashed) is one to look for: wanted (or done,
    /// so that a live record of it is still deleted) and with no record named.
    fn looked_for(&self, hash: u128) -> bool {
        self.dedupe.contains(hash) && !self.known.contains_key(&hash)
    }

    fn read_inputs(&mut self, args: &UnblockArgs) -> anyhow::Result<()> {
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
            value_type: self.value_type,
        };
        let sources = args
            .inputs
            .iter()
            .map(|path| input::open(path, &options))
            .collect::<Result<Vec<_>, _>>()?;
        self.source = format!("unblock of {}", args.inputs.join(", "));
        for source in sources {
            for item in source {
                match item {
                    Item::Text(row) => self.add(&row.value, true)?,
                    Item::Reject(reject) | Item::Broken(reject) => self.rejects.push(reject),
                    // Not produced when reading emails or IPs.
                    Item::Row(row) => self.rejects.push(Reject {
                        input: row.id.to_string(),
                        reason: "a contact ID in an unblock of emails or IPs".to_owned(),
                        origin: row.origin,
                    }),
                }
            }
        }
        if self.count + self.resumed == 0 && self.duplicates == 0 {
            bail!(
                "no valid {} in the inputs ({} rows rejected): nothing to unblock; check the file, --id-field and --format",
                self.value_type.as_str(),
                self.rejects.len()
            );
        }
        Ok(())
    }

    /// The values of this type this target's `blocked` lines name (of `run`), with the
    /// block record ids the ledger knows (the latest per value, from any run).
    fn read_ledger(
        &mut self,
        ledger: &Path,
        run: Option<&str>,
        target: &str,
    ) -> anyhow::Result<()> {
        let mut filter = TargetFilter::new(target);
        self.source = match run {
            Some(run) => format!("unblock of run {run} in {}", ledger.display()),
            None => format!("unblock of {}", ledger.display()),
        };
        let mut run_seen = false;
        let mut left_alone = 0u64;
        let mut failure = None;
        let value_type = self.value_type;
        let stats = read_records(ledger, |_, record| {
            if let Record::Run(line) = &record
                && Some(line.run.as_str()) == run
                && line.target == target
            {
                run_seen = true;
            }
            if failure.is_some() || !filter.admits(&record) {
                return;
            }
            let Record::Text(text) = record else { return };
            if text.is_unblock()
                || text.status != Status::Blocked
                || text.value_type() != Some(value_type)
            {
                return;
            }
            if let Some(block_ids) = &text.block_ids {
                for (value, block_id) in text.ids.iter().zip(block_ids) {
                    if let Some(block_id) = block_id {
                        self.known.insert(value_hash(value), *block_id);
                    }
                }
            }
            if run.is_none_or(|run| run == text.run) {
                // Blocked already before this run: it did not block them, so undoing
                // it leaves them alone.
                if text.already {
                    left_alone += text.ids.len() as u64;
                    return;
                }
                for value in &text.ids {
                    if let Err(error) = self.add(value, false) {
                        failure = Some(error);
                        return;
                    }
                }
            }
        })?;
        if let Some(error) = failure {
            return Err(error).context("writing the spool file of the values to unblock");
        }
        if left_alone > 0 {
            tracing::info!(
                values = left_alone,
                "Leaving alone the values the server said were blocked already before this ledger's runs blocked them"
            );
        }
        super::unblock::after_ledger_read(ledger, &filter, &stats, run, run_seen, target)
    }
}

/// Records found by listing, spooled as JSON lines: `[record id, [strings], asked]`.
struct Found {
    spool: BufWriter<File>,
    records: u64,
    /// Every string of those records.
    values: u64,
    /// Of those, the strings asked for.
    asked: u64,
    /// Record ids seen (a record is listed once, but a hostile server may repeat one).
    ids: HashSet<u64>,
    /// Wanted (not done) values a found record holds.
    covered: HashSet<u128>,
}

impl Found {
    fn new() -> anyhow::Result<Found> {
        Ok(Found {
            spool: BufWriter::new(tempfile::tempfile().context("a temporary spool file")?),
            records: 0,
            values: 0,
            asked: 0,
            ids: HashSet::new(),
            covered: HashSet::new(),
        })
    }

    /// Keeps `record` if it holds a value looked for; `known_ids` are deleted anyway.
    fn consider(
        &mut self,
        record: &ListedRecord,
        wanted: &Wanted,
        known_ids: &HashSet<u64>,
    ) -> std::io::Result<()> {
        if record.kind != wanted.value_type.as_str()
            || known_ids.contains(&record.id)
            || self.ids.contains(&record.id)
        {
            return Ok(());
        }
        let mut asked = 0u64;
        let mut values = Vec::with_capacity(record.values.len());
        let mut hits = Vec::new();
        for raw in &record.values {
            match wanted.value_type.normalize(raw) {
                Ok(normal) => {
                    let hash = value_hash(&normal);
                    if wanted.looked_for(hash) {
                        asked += 1;
                        hits.push(hash);
                    }
                    values.push(normal);
                }
                // Not an address: named as listed (capped, without control characters).
                Err(_) => values.push(raw.clone()),
            }
        }
        if asked == 0 {
            return Ok(());
        }
        for hash in hits {
            if !wanted.done.contains(&hash) {
                self.covered.insert(hash);
            }
        }
        self.ids.insert(record.id);
        self.records += 1;
        self.values += values.len() as u64;
        self.asked += asked.min(values.len() as u64);
        serde_json::to_writer(&mut self.spool, &(record.id, &values, asked))?;
        self.spool.write_all(b"\n")
    }
}

pub async fn run(args: UnblockArgs, checked: Checked, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let Checked {
        value_type,
        results,
        target,
        pool_config,
    } = checked;
    let noun = value_type.as_str();
    // A ledger undone is locked before it is read (as for contacts).
    let mut ledger = None;
    if args.from_ledger.is_some() && !args.dry_run {
        ledger = Some(LedgerWriter::open(&results)?);
    }
    let latest = if args.resume && results.exists() {
        let mut filter = TargetFilter::new(&target);
        let (latest, _) = LatestText::load_for(&results, &mut filter, value_type)?;
        filter.warn_skipped(&results);
        Some(latest)
    } else {
        None
    };
    let mut wanted = Wanted::new(value_type, latest)?;
    match &args.from_ledger {
        Some(path) => wanted.read_ledger(path, args.run.as_deref(), &target)?,
        None => wanted.read_inputs(&args)?,
    }
    wanted.latest = None;
    if args.resume {
        tracing::info!(
            already_unblocked = wanted.resumed,
            "Resuming: values the ledger shows unblocked are skipped"
        );
    }
    if ledger.is_none() && !args.dry_run {
        ledger = Some(LedgerWriter::open(&results)?);
    }
    // Only the records of wanted values (not done) are deleted by id.
    {
        let Wanted {
            dedupe,
            done,
            known,
            ..
        } = &mut wanted;
        known.retain(|hash, _| dedupe.contains(*hash) && !done.contains(hash));
    }
    let mut per_record: HashMap<u64, u64> = HashMap::new();
    for block_id in wanted.known.values() {
        *per_record.entry(*block_id).or_default() += 1;
    }
    let known_ids: HashSet<u64> = per_record.keys().copied().collect();
    let unknown = wanted.count - wanted.known.len() as u64;

    // Listing (dry runs too: it only reads).
    let connected = cmd::connect(&args.connection).await?;
    let interrupt = cmd::watch_signals();
    let mut found = Found::new()?;
    let mut list_end = None;
    if unknown > 0 {
        let t = &connected.target;
        let client = Client::with_extra_roots(
            t.url.clone(),
            &t.key,
            args.connection.timeout,
            pool_config.max_in_flight(),
            &t.ca_certs,
        )?;
        tracing::info!(
            values = unknown,
            r#type = noun,
            "Listing the block list to find the records of the values the ledger does not name"
        );
        let end = listing::list_all(
            client,
            pool_config.clone(),
            args.page_size,
            interrupt.clone(),
            |records| {
                for record in records {
                    found.consider(record, &wanted, &known_ids)?;
                }
                Ok(())
            },
        )
        .await?;
        if let Some(stop) = &end.stop {
            return crate::cmd::unblock::listing_stopped(stop, &end);
        }
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
    let not_found = unknown - found.covered.len() as u64;
    let incomplete = list_end.as_ref().and_then(|end| end.incomplete.clone());
    let known_values = wanted.count - unknown;
    let total = known_values + found.values + not_found;
    let (known_records, listed_records) = (per_record.len() as u64, found.records);
    let extra = found.values - found.asked;

    let mut wanted_spool = wanted
        .spool
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the spool file")?;
    let mut found_spool = found
        .spool
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the spool file")?;
    wanted_spool.rewind()?;
    found_spool.rewind()?;
    let producer = Producer {
        value_type,
        wanted: wanted_spool,
        found: found_spool,
        known: wanted.known,
        per_record,
        covered: found.covered,
        source: Arc::from(wanted.source.as_str()),
        incomplete,
        total,
    };

    if args.dry_run {
        let mut plan = Plan::default();
        producer.produce(&mut plan, None);
        let listed = list_end.as_ref().map_or(0, |end| end.records);
        let mut out = format!(
            "Plan (dry run: nothing deleted, nothing written)\n  target    {}\n  type      {noun}\n  values    {} to unblock ({} duplicates, {} already unblocked per the ledger, {} rejected rows)\n  delete    {} named in the ledger\n  delete    {} found by listing ({} records listed in {})\n",
            connected.target.name,
            group_digits(wanted.count),
            group_digits(wanted.duplicates),
            group_digits(wanted.resumed),
            group_digits(wanted.rejects.len() as u64),
            plural(known_records, "block record"),
            plural(listed_records, "block record"),
            group_digits(listed),
            plural(list_end.as_ref().map_or(0, |end| end.pages), "page"),
        );
        if extra > 0 {
            out += &format!(
                "  also      {} not asked for, held by those records, would be unblocked with them\n",
                plural(extra, noun)
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
            let records = known_records + listed_records;
            if records > DRY_RUN_SHOWN as u64 {
                out += &format!(
                    "    ... and {} more\n",
                    group_digits(records - DRY_RUN_SHOWN as u64)
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

    let counters = Arc::new(Counters::default());
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
        value_type,
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
            producer.produce(sink, Some(&reader_counters));
        },
        interrupt,
    )
    .await
}

/// The deletes and `not_blocked` lines, streamed from the spools (for the send, and for
/// the dry run's plan).
struct Producer {
    value_type: ValueType,
    wanted: File,
    found: File,
    known: HashMap<u128, u64>,
    /// Wanted values per record the ledger names.
    per_record: HashMap<u64, u64>,
    covered: HashSet<u128>,
    source: Arc<str>,
    incomplete: Option<String>,
    total: u64,
}

struct Emitter<'a> {
    seq: u64,
    left: u64,
    value_type: ValueType,
    counters: Option<&'a Counters>,
}

impl Emitter<'_> {
    /// Hands one delete (or record-less values) to the sink; `false` once it stops.
    fn emit(
        &mut self,
        sink: &mut dyn Sink<TextDelete>,
        what: DeleteWhat,
        values: Vec<String>,
        source: Arc<str>,
    ) -> bool {
        self.seq += 1;
        self.left = self.left.saturating_sub(values.len() as u64);
        let delete = TextDelete {
            delete: Delete {
                seq: self.seq,
                contacts: Vec::new(),
                what,
                source,
            },
            value_type: self.value_type,
            values,
        };
        if sink.batch(delete) {
            return true;
        }
        // The sink counted the one it refused; the rest are not sent either.
        self.stop();
        false
    }

    fn stop(&mut self) {
        if let Some(counters) = self.counters {
            Counters::add(&counters.not_sent, self.left);
        }
        self.left = 0;
    }
}

impl Producer {
    fn produce(self, sink: &mut dyn Sink<TextDelete>, counters: Option<&Counters>) {
        let mut emitter = Emitter {
            seq: 0,
            left: self.total,
            value_type: self.value_type,
            counters,
        };
        if let Err(error) = self.produce_with(sink, &mut emitter) {
            tracing::error!(%error, "The spool file could not be read again; what was not read is not sent");
            emitter.stop();
        }
    }

    fn produce_with(
        self,
        sink: &mut dyn Sink<TextDelete>,
        emitter: &mut Emitter<'_>,
    ) -> anyhow::Result<()> {
        let none = match &self.incomplete {
            Some(why) => DeleteWhat::NotListed(Arc::from(format!(
                "no block record found, but the list could not be read to its end ({why}); run again with --resume"
            ))),
            None => DeleteWhat::NoRecord,
        };
        // The records the ledger names, gathered per record; values with no record.
        let mut pending: HashMap<u64, Vec<String>> = HashMap::new();
        let mut not_found: Vec<String> = Vec::new();
        for line in BufReader::new(self.wanted).lines() {
            let value = line?;
            let hash = value_hash(&value);
            if let Some(&block_id) = self.known.get(&hash) {
                let group = pending.entry(block_id).or_default();
                group.push(value);
                if group.len() as u64 >= self.per_record.get(&block_id).copied().unwrap_or(1) {
                    let values = pending.remove(&block_id).unwrap_or_default();
                    if !emitter.emit(
                        sink,
                        DeleteWhat::Record(block_id),
                        values,
                        self.source.clone(),
                    ) {
                        return Ok(());
                    }
                }
            } else if !self.covered.contains(&hash) {
                not_found.push(value);
                if not_found.len() == VALUES_PER_LINE
                    && !emitter.emit(
                        sink,
                        none.clone(),
                        std::mem::take(&mut not_found),
                        self.source.clone(),
                    )
                {
                    return Ok(());
                }
            }
        }
        let mut rest: Vec<(u64, Vec<String>)> = pending.into_iter().collect();
        rest.sort_unstable();
        for (block_id, values) in rest {
            if !emitter.emit(
                sink,
                DeleteWhat::Record(block_id),
                values,
                self.source.clone(),
            ) {
                return Ok(());
            }
        }
        if !not_found.is_empty() && !emitter.emit(sink, none, not_found, self.source.clone()) {
            return Ok(());
        }
        // The records found by listing, each with all its strings.
        for line in BufReader::new(self.found).lines() {
            let (block_id, values, asked): (u64, Vec<String>, u64) =
                serde_json::from_str(&line?).context("a line of the spool file")?;
            let extra = (values.len() as u64).saturating_sub(asked);
            let source = if extra > 0 {
                Arc::from(format!(
                    "{}; the record also held {} not asked for, unblocked with it",
                    self.source,
                    plural(extra, self.value_type.as_str())
                ))
            } else {
                self.source.clone()
            };
            if !emitter.emit(sink, DeleteWhat::Record(block_id), values, source) {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// What a dry run would do.
#[derive(Default)]
struct Plan {
    not_blocked: u64,
    unknown: u64,
    shown: Vec<String>,
}

impl Sink<TextDelete> for Plan {
    fn batch(&mut self, batch: TextDelete) -> bool {
        let n = batch.values.len() as u64;
        match batch.delete.what {
            DeleteWhat::Record(block_id) => {
                if self.shown.len() < DRY_RUN_SHOWN {
                    self.shown
                        .push(format!("{block_id}: {}", batch.values.join(", ")));
                }
            }
            DeleteWhat::NoRecord => self.not_blocked += n,
            DeleteWhat::NotListed(_) => self.unknown += n,
        }
        true
    }

    fn reject(&mut self, _: Reject) {}

    fn stopping(&self) -> bool {
        false
    }
}

impl Recorded for TextDelete {
    fn record(run_id: &str, outcome: Outcome<TextDelete>, counters: &Counters) -> Record {
        let n = outcome.batch.values.len() as u64;
        let affected = outcome.done.as_ref().map(|done| done.affected);
        let status = super::unblock::unblock_status(outcome.status, affected, n, counters);
        let block_ids = match outcome.batch.delete.what {
            DeleteWhat::Record(id) => Some(vec![Some(id); outcome.batch.values.len()]),
            DeleteWhat::NoRecord | DeleteWhat::NotListed(_) => None,
        };
        let ms = (outcome.finished_at - outcome.started_at)
            .num_milliseconds()
            .max(0) as u64;
        Record::Text(TextRecord {
            run: run_id.to_owned(),
            batch: outcome.batch.delete.seq,
            status,
            value_type: outcome.batch.value_type.as_str().to_owned(),
            op: Some(UNBLOCK_OP.to_owned()),
            ids: outcome.batch.values,
            block_till: None,
            attempts: outcome.attempts,
            http_status: outcome.http_status,
            error: outcome.error,
            kind: outcome.kind.map(str::to_owned),
            block_ids,
            already: false,
            source: outcome.batch.delete.source.to_string(),
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
            ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn record(id: u64, kind: &str, values: &[&str]) -> ListedRecord {
        ListedRecord {
            id,
            kind: kind.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            ..ListedRecord::default()
        }
    }

    #[test]
    fn a_record_holding_any_wanted_string_is_kept_with_all_its_strings() {
        let mut wanted = Wanted::new(ValueType::Email, None).unwrap();
        wanted.add("a@x.io", true).unwrap();
        wanted.add("k@x.io", true).unwrap();
        wanted.known.insert(value_hash("k@x.io"), 50);
        let known_ids: HashSet<u64> = [50].into_iter().collect();
        let mut found = Found::new().unwrap();
        // Several strings, one wanted (written otherwise): kept, all strings named.
        found
            .consider(
                &record(1, "email", &["Other@X.io", " A@X.IO", "not an email"]),
                &wanted,
                &known_ids,
            )
            .unwrap();
        // Another type, a record named by the ledger, a record of a known value, none
        // wanted: left out.
        found
            .consider(&record(2, "ip", &["a@x.io"]), &wanted, &known_ids)
            .unwrap();
        found
            .consider(&record(50, "email", &["a@x.io"]), &wanted, &known_ids)
            .unwrap();
        found
            .consider(&record(3, "email", &["k@x.io"]), &wanted, &known_ids)
            .unwrap();
        found
            .consider(&record(4, "email", &["z@x.io"]), &wanted, &known_ids)
            .unwrap();
        assert_eq!((found.records, found.values, found.asked), (1, 3, 1));
        assert!(found.covered.contains(&value_hash("a@x.io")));
        let mut file = found.spool.into_inner().unwrap();
        file.rewind().unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "[1,[\"other@x.io\",\"a@x.io\",\"not an email\"],1]\n");
    }
}
