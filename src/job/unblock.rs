//! What an unblock sends, worked out once for every kind of value: the values wanted, the
//! block records that hold them, and the deletes (or `not_blocked` lines) that follow.
//!
//! 1. [`Wanted`]: the values to unblock, deduplicated by key, from inputs or from a
//!    ledger's `blocked` lines; the values themselves wait in the kind's spool (a bitmap
//!    of contact IDs, a temporary file of strings), so memory holds only keys. The
//!    ledger's `block_ids` name records; `--resume` drops values whose latest line is
//!    `unblocked` or `not_blocked`.
//! 2. [`Found`]: values with no known record are looked for in the block list; every
//!    record of the kind holding at least one of them is kept (a value with two records
//!    gets both deleted), spooled with the values asked for and the others it holds.
//! 3. [`Deletes`]: the plan's work (`job/apply/`): one [`Replace`] per record (the
//!    DELETE, and at once the block again of the values it held that were not asked for,
//!    with its blockTill: the unblock is exact; an email or IP record the ledger names is
//!    looked at first to learn them), then the values with no record (`not_blocked`, or
//!    `failed` kind `not_listed` when the list could not be read to its end). `sync
//!    --prune` deletes through the same [`Replace`].

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::apply::{Held, Replace, Work, WorkSink};
use crate::api::delete::DeleteWhat;
use crate::api::list::ListedRecord;
use crate::input::{Item, ReadOptions, Reject, Source};
use crate::ledger::{
    Latest, LedgerReadStats, Op, Record, State, Status, TargetFilter, read_records,
};
use crate::send::counters::Counters;
use crate::values::Kind;
use crate::values::count::{group_digits, plural};
use crate::values::dedupe::{Dedupe, Seen};
use crate::values::sets::SeenSet;
use crate::values::spool::Spool;

/// Values per `not_blocked` (or `not_listed`) line.
const VALUES_PER_LINE: usize = 1000;

/// The values to unblock.
pub struct Wanted<K: Kind> {
    kind: K,
    dedupe: Dedupe<K>,
    /// `--resume`: the latest state of each value.
    latest: Option<Latest<K>>,
    /// Wanted values the ledger shows unblocked already (`--resume`): not deleted by id,
    /// but a live record of one found by listing is still deleted.
    done: K::Seen,
    /// Block record ids the ledger names, per value.
    known: HashMap<K::Key, u64>,
    /// The wanted values (not the done ones).
    spool: K::Spool,
    pub rejects: Vec<Reject>,
    pub duplicates: u64,
    /// Dropped by `--resume`.
    pub resumed: u64,
    /// Values of the ledger whose block has run out: nothing to undo (from a ledger).
    pub expired: u64,
    /// Where the values came from, for the ledger's `source`.
    pub source: String,
}

impl<K: Kind> Wanted<K> {
    pub fn new(kind: K, latest: Option<Latest<K>>) -> anyhow::Result<Wanted<K>> {
        Ok(Wanted {
            kind,
            dedupe: Dedupe::new(),
            latest,
            done: K::Seen::default(),
            known: HashMap::new(),
            spool: kind.spool().context("a temporary spool file")?,
            rejects: Vec::new(),
            duplicates: 0,
            resumed: 0,
            expired: 0,
            source: String::new(),
        })
    }

    /// Values wanted and not done.
    pub fn count(&self) -> u64 {
        self.spool.len()
    }

    /// One value; `count_duplicate` for inputs (a ledger names a value again whenever it
    /// was blocked again).
    fn add(&mut self, value: &K::Value, count_duplicate: bool) -> std::io::Result<()> {
        let key = K::key(value);
        match self.dedupe.check(key) {
            Seen::New => {
                let unblocked = self.latest.as_ref().is_some_and(|latest| {
                    latest
                        .entry(key)
                        .is_some_and(|entry| entry.state == State::Unblocked)
                });
                if unblocked {
                    self.done.insert(key);
                    self.resumed += 1;
                } else {
                    self.spool.push(value)?;
                }
            }
            Seen::Duplicate if count_duplicate => self.duplicates += 1,
            Seen::Duplicate | Seen::AlreadyBlocked => {}
        }
        Ok(())
    }

    /// Whether a listed value is one to look for: wanted (or done, so that a live record
    /// of it is still deleted) and with no record named.
    fn looked_for(&self, key: K::Key) -> bool {
        self.dedupe.contains(key) && !self.known.contains_key(&key)
    }

    /// The values of the inputs (read as `block` reads them); bad rows kept for the ledger.
    pub fn read_inputs(
        &mut self,
        inputs: &[String],
        sources: Vec<Source<K>>,
    ) -> anyhow::Result<()> {
        self.source = format!("unblock of {}", inputs.join(", "));
        for source in sources {
            for item in source {
                match item {
                    Item::Row(row) => self.add(&row.value, true)?,
                    Item::Reject(reject) | Item::Broken(reject) => self.rejects.push(reject),
                }
            }
        }
        if self.count() + self.resumed == 0 && self.duplicates == 0 {
            bail!(
                "no valid {} in the inputs ({} rows rejected): nothing to unblock; check the file, --type, --id-field and --format",
                self.kind.value_type().noun(),
                self.rejects.len()
            );
        }
        Ok(())
    }

    /// The values of this kind this target's `blocked` lines name (of `run`), with the
    /// block record ids the ledger knows (the latest per value, from any run). Values
    /// the server said were blocked already before the run are left alone: the run did
    /// not block them. Values whose block has run out by `now` are not deleted: they are
    /// not blocked any more (their record may still be listed, expired).
    pub fn read_ledger(
        &mut self,
        ledger: &Path,
        run: Option<&str>,
        filter: &mut TargetFilter,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<(LedgerReadStats, bool)> {
        self.source = match run {
            Some(run) => format!("unblock of run {run} in {}", ledger.display()),
            None => format!("unblock of {}", ledger.display()),
        };
        let mut run_seen = false;
        let mut left_alone = 0u64;
        let mut failure = None;
        let value_type = self.kind.value_type();
        // A value the run failed and a later `retry` blocked is the run's too: undoing a
        // run undoes what following its `Next:` hint blocked. (The ledger is in order:
        // the run's failures come before the retries that send them again.)
        let mut failed_in_run = K::Seen::default();
        let mut retries: HashSet<String> = HashSet::new();
        let stats = read_records(ledger, |_, record| {
            if let Record::Run(line) = &record
                && line.target == filter.target()
            {
                if Some(line.run.as_str()) == run {
                    run_seen = true;
                } else if run_seen && line.command == Op::Retry.command() {
                    retries.insert(line.run.clone());
                }
            }
            if failure.is_some() || !filter.admits(&record) {
                return;
            }
            let Record::Outcome(line) = record else {
                return;
            };
            if !line.blocks() || line.value_type != value_type {
                return;
            }
            let Some(values) = K::of_values(&line.ids) else {
                return;
            };
            if line.status == Status::Failed && run == Some(line.run.as_str()) {
                for value in values.iter() {
                    failed_in_run.insert(K::key(value));
                }
                return;
            }
            if !matches!(line.status, Status::Blocked | Status::Renewed) {
                return;
            }
            if let Some(block_ids) = &line.block_ids {
                for (value, block_id) in values.iter().zip(block_ids) {
                    if let Some(block_id) = block_id {
                        self.known.insert(K::key(value), *block_id);
                    }
                }
            }
            // The run's own values, or of a retry after it, those the run failed.
            let retried = retries.contains(&line.run);
            if retried || run.is_none_or(|run| run == line.run) {
                let values: Vec<&K::Value> = values
                    .iter()
                    .filter(|value| !retried || failed_in_run.contains(K::key(value)))
                    .collect();
                if line.already || line.reblocked {
                    left_alone += values.len() as u64;
                    return;
                }
                if line.block_till.is_some_and(|till| till <= now) {
                    self.expired += values.len() as u64;
                    return;
                }
                for value in values {
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
                "Leaving alone the values the server said were blocked already before this ledger's runs blocked them, and those blocked again only because a deleted record also held them"
            );
        }
        if self.expired > 0 {
            tracing::info!(
                values = self.expired,
                "Leaving alone the values whose block has run out: they are not blocked any more"
            );
        }
        Ok((stats, run_seen))
    }

    /// Keeps only the records of values still wanted, and counts the values whose
    /// record is not known (to be found by listing).
    pub fn settle(&mut self) -> Settled {
        self.latest = None;
        let Wanted {
            dedupe,
            done,
            known,
            ..
        } = self;
        known.retain(|key, _| dedupe.contains(*key) && !done.contains(*key));
        let mut per_record: HashMap<u64, u64> = HashMap::new();
        for block_id in self.known.values() {
            *per_record.entry(*block_id).or_default() += 1;
        }
        Settled {
            unknown: self.count() - self.known.len() as u64,
            known_values: self.known.len() as u64,
            per_record,
        }
    }
}

/// What is known before listing.
pub struct Settled {
    /// Wanted values whose record the ledger does not name.
    pub unknown: u64,
    /// Wanted values whose record it names.
    pub known_values: u64,
    /// Wanted values per record the ledger names.
    pub per_record: HashMap<u64, u64>,
}

/// Records found by listing, spooled as JSON lines
/// `[record id, blockTill, [values asked for], [other values]]`.
pub struct Found<K: Kind> {
    spool: BufWriter<File>,
    pub records: u64,
    /// Every value of those records.
    pub values: u64,
    /// Of those, the values asked for.
    pub asked: u64,
    /// Records that also hold values not asked for.
    pub with_others: u64,
    /// Record ids seen (a record is listed once, but a hostile server may repeat one).
    ids: HashSet<u64>,
    /// Wanted (not done) values a found record holds.
    covered: K::Seen,
    /// Done values (`--resume`) a found record still holds: deleted after all.
    revived: K::Seen,
}

impl<K: Kind> Found<K> {
    pub fn new() -> anyhow::Result<Found<K>> {
        Ok(Found {
            spool: BufWriter::new(tempfile::tempfile().context("a temporary spool file")?),
            records: 0,
            values: 0,
            asked: 0,
            with_others: 0,
            ids: HashSet::new(),
            covered: K::Seen::default(),
            revived: K::Seen::default(),
        })
    }

    /// Keeps `record` if it holds a value looked for; records the ledger names are
    /// deleted anyway.
    pub fn consider(
        &mut self,
        record: &ListedRecord,
        wanted: &Wanted<K>,
        settled: &Settled,
    ) -> std::io::Result<()>
    where
        K::Value: Serialize,
    {
        if settled.per_record.contains_key(&record.id) || self.ids.contains(&record.id) {
            return Ok(());
        }
        let values = record.values_of(wanted.kind);
        let (mut asked, mut others) = (Vec::new(), Vec::new());
        for value in values {
            let key = K::key(&value);
            if wanted.looked_for(key) {
                if wanted.done.contains(key) {
                    self.revived.insert(key);
                } else {
                    self.covered.insert(key);
                }
                asked.push(value);
            } else {
                others.push(value);
            }
        }
        if asked.is_empty() {
            return Ok(());
        }
        self.ids.insert(record.id);
        self.records += 1;
        self.values += (asked.len() + others.len()) as u64;
        self.asked += asked.len() as u64;
        if !others.is_empty() {
            self.with_others += 1;
        }
        serde_json::to_writer(
            &mut self.spool,
            &(record.id, &record.block_till, &asked, &others),
        )?;
        self.spool.write_all(b"\n")
    }

    /// Values not asked for that the found records hold: blocked again at once after
    /// their record is deleted.
    pub fn others(&self) -> u64 {
        self.values - self.asked
    }

    /// Wanted values a found record holds.
    pub fn covered(&self) -> u64 {
        self.covered.count()
    }

    /// Values `--resume` skipped that a found record still holds (they are deleted with
    /// it, so they are not skipped after all).
    pub fn revived(&self) -> u64 {
        self.revived.count()
    }
}

/// Everything the deletes are made from, after listing.
pub struct Deletes<K: Kind> {
    kind: K,
    wanted: Box<dyn Iterator<Item = std::io::Result<K::Value>> + Send>,
    found: File,
    known: HashMap<K::Key, u64>,
    per_record: HashMap<u64, u64>,
    covered: K::Seen,
    source: Arc<str>,
    /// Why the list could not be read to its end, if it could not.
    incomplete: Option<String>,
    /// Values the work decides, in all (a value held by two records counts twice).
    pub total: u64,
}

impl<K: Kind> Deletes<K>
where
    K::Value: DeserializeOwned,
{
    pub fn new(
        wanted: Wanted<K>,
        settled: Settled,
        found: Found<K>,
        incomplete: Option<String>,
    ) -> anyhow::Result<Deletes<K>> {
        let not_found = settled.unknown - found.covered();
        let total = settled.known_values + found.asked + not_found;
        let mut found_file = found
            .spool
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing the spool file")?;
        found_file.rewind()?;
        Ok(Deletes {
            kind: wanted.kind,
            wanted: wanted.spool.drain().context("reading the spool file")?,
            found: found_file,
            known: wanted.known,
            per_record: settled.per_record,
            covered: found.covered,
            source: Arc::from(wanted.source.as_str()),
            incomplete,
            total,
        })
    }

    /// Hands every piece of work to `sink`: the records the ledger names (each once, with
    /// the wanted values it holds), the values with no record, then the records found by
    /// listing. With `counters`, what is left once the sink stops is counted not sent.
    pub fn produce(self, sink: &mut dyn WorkSink<K>, counters: Option<&Counters>) {
        let mut emitter = Emitter {
            left: self.total,
            counters,
        };
        if let Err(error) = self.produce_with(sink, &mut emitter) {
            tracing::error!(%error, "The spool file could not be read again; what was not read is not sent");
            emitter.stop();
        }
    }

    fn produce_with(
        self,
        sink: &mut dyn WorkSink<K>,
        emitter: &mut Emitter<'_>,
    ) -> anyhow::Result<()> {
        let none = match &self.incomplete {
            Some(why) => DeleteWhat::NotListed(Arc::from(format!(
                "no block record found, but the list could not be read to its end ({why}); run again with --resume"
            ))),
            None => DeleteWhat::NoRecord,
        };
        // A contact record holds one contact; an email or IP record may hold values that
        // were not asked for, so a record the ledger names is looked at (GET) first.
        let contact = K::WHOLE_NUMBERS;
        let replace = |record: u64, held: Option<Held<K>>, unblock: Vec<K::Value>, others: u64| {
            let why = if others > 0 {
                format!(
                    "the record also held {} not asked for: deleted, and those blocked again at once",
                    plural(others, self.kind.value_type().noun())
                )
            } else {
                "the record held values not asked for: deleted, and those blocked again at once"
                    .to_owned()
            };
            Work::Replace(Replace {
                record,
                held,
                unblock,
                renew: Vec::new(),
                renew_till: None,
                renew_status: Status::Blocked,
                superseded: Vec::new(),
                keep_others: true,
                source: self.source.clone(),
                why: Arc::from(why),
            })
        };
        // The records the ledger names, gathered per record; values with no record.
        let mut pending: HashMap<u64, Vec<K::Value>> = HashMap::new();
        let mut not_found: Vec<K::Value> = Vec::new();
        let named = |block_id: u64, values: Vec<K::Value>| {
            let held = contact.then(|| Held {
                id: block_id,
                till: None,
                values: values.clone(),
                ours: false,
            });
            replace(block_id, held, values, 0)
        };
        for value in self.wanted {
            let value = value?;
            let key = K::key(&value);
            if let Some(&block_id) = self.known.get(&key) {
                let group = pending.entry(block_id).or_default();
                group.push(value);
                if group.len() as u64 >= self.per_record.get(&block_id).copied().unwrap_or(1) {
                    let values = pending.remove(&block_id).unwrap_or_default();
                    if !emitter.emit(sink, named(block_id, values)) {
                        return Ok(());
                    }
                }
            } else if !self.covered.contains(key) {
                not_found.push(value);
                if not_found.len() == VALUES_PER_LINE {
                    let work = Work::Absent {
                        values: std::mem::take(&mut not_found),
                        what: none.clone(),
                        source: self.source.clone(),
                    };
                    if !emitter.emit(sink, work) {
                        return Ok(());
                    }
                }
            }
        }
        let mut rest: Vec<(u64, Vec<K::Value>)> = pending.into_iter().collect();
        rest.sort_unstable_by_key(|(block_id, _)| *block_id);
        for (block_id, values) in rest {
            if !emitter.emit(sink, named(block_id, values)) {
                return Ok(());
            }
        }
        if !not_found.is_empty() {
            let work = Work::Absent {
                values: not_found,
                what: none,
                source: self.source.clone(),
            };
            if !emitter.emit(sink, work) {
                return Ok(());
            }
        }
        // The records found by listing: the values asked for are unblocked, the others
        // blocked again at once with the record's blockTill.
        for line in BufReader::new(self.found).lines() {
            let (block_id, block_till, asked, others): (u64, String, Vec<K::Value>, Vec<K::Value>) =
                serde_json::from_str(&line?).context("a line of the spool file")?;
            let till = chrono::DateTime::parse_from_rfc3339(block_till.trim())
                .ok()
                .map(|at| at.with_timezone(&chrono::Utc));
            let n_others = others.len() as u64;
            let mut values = asked.clone();
            values.extend(others);
            let held = Held {
                id: block_id,
                till,
                values,
                ours: false,
            };
            if !emitter.emit(sink, replace(block_id, Some(held), asked, n_others)) {
                return Ok(());
            }
        }
        Ok(())
    }
}

struct Emitter<'a> {
    left: u64,
    counters: Option<&'a Counters>,
}

impl Emitter<'_> {
    /// Hands one piece of work to the sink; `false` once it stops.
    fn emit<K: Kind>(&mut self, sink: &mut dyn WorkSink<K>, work: Work<K>) -> bool {
        self.left = self.left.saturating_sub(work.counted());
        if sink.work(work) {
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

/// Records a dry run names one by one.
pub const DRY_RUN_SHOWN: usize = 20;

/// What a dry run would do.
#[derive(Default)]
pub struct DeletePlan {
    pub not_blocked: u64,
    pub unknown: u64,
    pub records: u64,
    /// Records the ledger names whose other values are learned only when they are looked
    /// at (GET), just before the delete.
    pub looked_at: u64,
    /// Values not asked for, blocked again at once after their record's delete.
    pub reblocked: u64,
    pub shown: Vec<String>,
}

impl<K: Kind> WorkSink<K> for DeletePlan {
    fn work(&mut self, work: Work<K>) -> bool {
        match work {
            Work::Replace(replace) => {
                self.records += 1;
                let others = replace.held.as_ref().map_or(0, |held| {
                    held.values.len().saturating_sub(replace.unblock.len())
                });
                self.reblocked += others as u64;
                if replace.held.is_none() {
                    self.looked_at += 1;
                }
                if self.shown.len() < DRY_RUN_SHOWN {
                    let values: Vec<String> =
                        replace.unblock.iter().map(|v| v.to_string()).collect();
                    let mut line = format!("{}: {}", replace.record, values.join(", "));
                    if others > 0 {
                        line += &format!(
                            " (and {} not asked for: blocked again until {})",
                            group_digits(others as u64),
                            replace.held.as_ref().and_then(|h| h.till).map_or_else(
                                || "their blockTill".to_owned(),
                                |till| till.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                            )
                        );
                    }
                    self.shown.push(line);
                }
            }
            Work::Absent { values, what, .. } => match what {
                DeleteWhat::NotListed(_) => self.unknown += values.len() as u64,
                DeleteWhat::Record(_) | DeleteWhat::NoRecord => {
                    self.not_blocked += values.len() as u64
                }
            },
            Work::Block { .. } | Work::Renew(_) => {}
        }
        true
    }
}

/// The read options of an unblock's inputs: as `block` reads them, with no block-till
/// (the readers want one per row; it is not used).
pub fn unblock_read_options(read: &crate::cli::ReadArgs) -> ReadOptions {
    read.options(None, Some(chrono::DateTime::<chrono::Utc>::MAX_UTC))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Text, ValueType};

    fn record(id: u64, kind: &str, values: &[&str]) -> ListedRecord {
        ListedRecord {
            id,
            kind: kind.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            ..ListedRecord::default()
        }
    }

    #[test]
    fn a_record_holding_any_wanted_value_is_kept_with_all_its_values() {
        let email = Text::new(ValueType::Email).unwrap();
        let mut wanted = Wanted::new(email, None).unwrap();
        wanted.add(&"a@x.io".to_owned(), true).unwrap();
        wanted.add(&"k@x.io".to_owned(), true).unwrap();
        wanted.known.insert(Text::key(&"k@x.io".to_owned()), 50);
        let settled = wanted.settle();
        assert_eq!((settled.unknown, settled.known_values), (1, 1));
        let mut found = Found::<Text>::new().unwrap();
        // Several strings, one wanted (written otherwise): kept, all strings named.
        found
            .consider(
                &record(1, "email", &["Other@X.io", " A@X.IO"]),
                &wanted,
                &settled,
            )
            .unwrap();
        // Another type, a record named by the ledger, a record of a known value, none
        // wanted: left out.
        for (id, kind, value) in [
            (2, "ip", "a@x.io"),
            (50, "email", "a@x.io"),
            (3, "email", "k@x.io"),
            (4, "email", "z@x.io"),
        ] {
            found
                .consider(&record(id, kind, &[value]), &wanted, &settled)
                .unwrap();
        }
        assert_eq!((found.records, found.values, found.asked), (1, 2, 1));
        assert_eq!((found.others(), found.with_others), (1, 1));
        assert_eq!(found.covered(), 1);
        let deletes = Deletes::new(wanted, settled, found, None).unwrap();
        let mut plan = DeletePlan::default();
        deletes.produce(&mut plan, None);
        assert_eq!(plan.records, 2);
        // The record the ledger names is looked at first; the listed one's other value is
        // blocked again, not unblocked with it.
        assert_eq!(
            plan.shown,
            [
                "50: k@x.io",
                "1: a@x.io (and 1 not asked for: blocked again until their blockTill)"
            ]
        );
        assert_eq!((plan.looked_at, plan.reblocked), (1, 1));
        assert_eq!(plan.not_blocked, 0);
    }
}
