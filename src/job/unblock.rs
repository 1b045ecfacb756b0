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
//!    gets both deleted), spooled with all the values it holds. Deleting a record unblocks
//!    every value it holds, asked for or not: its ledger line names them all.
//! 3. [`Deletes`]: one DELETE per record, then the values with no record (`not_blocked`,
//!    or `failed` kind `not_listed` when the list could not be read to its end).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::delete::{Delete, DeleteWhat};
use crate::api::list::ListedRecord;
use crate::input::{Item, ReadOptions, Reject, Source};
use crate::ledger::{Latest, LedgerReadStats, Record, State, Status, TargetFilter, read_records};
use crate::send::counters::Counters;
use crate::send::pipeline::Sink;
use crate::values::Kind;
use crate::values::count::plural;
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
                "no valid {} in the inputs ({} rows rejected): nothing to unblock; check the file, --id-field and --format",
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
        let stats = read_records(ledger, |_, record| {
            if let Record::Run(line) = &record
                && Some(line.run.as_str()) == run
                && line.target == filter.target()
            {
                run_seen = true;
            }
            if failure.is_some() || !filter.admits(&record) {
                return;
            }
            let Record::Outcome(line) = record else {
                return;
            };
            if !line.op.blocks() || line.status != Status::Blocked || line.value_type != value_type
            {
                return;
            }
            let Some(values) = K::of_values(&line.ids) else {
                return;
            };
            if let Some(block_ids) = &line.block_ids {
                for (value, block_id) in values.iter().zip(block_ids) {
                    if let Some(block_id) = block_id {
                        self.known.insert(K::key(value), *block_id);
                    }
                }
            }
            if run.is_none_or(|run| run == line.run) {
                if line.already {
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
                "Leaving alone the values the server said were blocked already before this ledger's runs blocked them"
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

/// Records found by listing, spooled as JSON lines `[record id, [values], asked]`.
pub struct Found<K: Kind> {
    spool: BufWriter<File>,
    pub records: u64,
    /// Every value of those records.
    pub values: u64,
    /// Of those, the values asked for.
    pub asked: u64,
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
        let mut asked = 0u64;
        for value in &values {
            let key = K::key(value);
            if wanted.looked_for(key) {
                asked += 1;
                if wanted.done.contains(key) {
                    self.revived.insert(key);
                } else {
                    self.covered.insert(key);
                }
            }
        }
        if asked == 0 {
            return Ok(());
        }
        self.ids.insert(record.id);
        self.records += 1;
        self.values += values.len() as u64;
        self.asked += asked;
        serde_json::to_writer(&mut self.spool, &(record.id, &values, asked))?;
        self.spool.write_all(b"\n")
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
    /// Values the deletes and the record-less lines name, in all.
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
        let total = settled.known_values + found.values + not_found;
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

    /// Hands every delete to `sink`: the records the ledger names (each once, with the
    /// wanted values it holds), the values with no record, then the records found by
    /// listing. With `counters`, what is left once the sink stops is counted not sent.
    pub fn produce(self, sink: &mut dyn Sink<Delete<K>>, counters: Option<&Counters>) {
        let mut emitter = Emitter {
            seq: 0,
            left: self.total,
            kind: self.kind,
            counters,
        };
        if let Err(error) = self.produce_with(sink, &mut emitter) {
            tracing::error!(%error, "The spool file could not be read again; what was not read is not sent");
            emitter.stop();
        }
    }

    fn produce_with(
        self,
        sink: &mut dyn Sink<Delete<K>>,
        emitter: &mut Emitter<'_, K>,
    ) -> anyhow::Result<()> {
        let none = match &self.incomplete {
            Some(why) => DeleteWhat::NotListed(Arc::from(format!(
                "no block record found, but the list could not be read to its end ({why}); run again with --resume"
            ))),
            None => DeleteWhat::NoRecord,
        };
        // The records the ledger names, gathered per record; values with no record.
        let mut pending: HashMap<u64, Vec<K::Value>> = HashMap::new();
        let mut not_found: Vec<K::Value> = Vec::new();
        for value in self.wanted {
            let value = value?;
            let key = K::key(&value);
            if let Some(&block_id) = self.known.get(&key) {
                let group = pending.entry(block_id).or_default();
                group.push(value);
                if group.len() as u64 >= self.per_record.get(&block_id).copied().unwrap_or(1) {
                    let values = pending.remove(&block_id).unwrap_or_default();
                    if !emitter.emit(sink, DeleteWhat::Record(block_id), values, &self.source) {
                        return Ok(());
                    }
                }
            } else if !self.covered.contains(key) {
                not_found.push(value);
                if not_found.len() == VALUES_PER_LINE
                    && !emitter.emit(
                        sink,
                        none.clone(),
                        std::mem::take(&mut not_found),
                        &self.source,
                    )
                {
                    return Ok(());
                }
            }
        }
        let mut rest: Vec<(u64, Vec<K::Value>)> = pending.into_iter().collect();
        rest.sort_unstable_by_key(|(block_id, _)| *block_id);
        for (block_id, values) in rest {
            if !emitter.emit(sink, DeleteWhat::Record(block_id), values, &self.source) {
                return Ok(());
            }
        }
        if !not_found.is_empty() && !emitter.emit(sink, none, not_found, &self.source) {
            return Ok(());
        }
        // The records found by listing, each with all its values.
        for line in BufReader::new(self.found).lines() {
            let (block_id, values, asked): (u64, Vec<K::Value>, u64) =
                serde_json::from_str(&line?).context("a line of the spool file")?;
            let extra = (values.len() as u64).saturating_sub(asked);
            let source = if extra > 0 {
                Arc::from(format!(
                    "{}; the record also held {} not asked for, unblocked with it",
                    self.source,
                    plural(extra, self.kind.value_type().noun())
                ))
            } else {
                self.source.clone()
            };
            if !emitter.emit(sink, DeleteWhat::Record(block_id), values, &source) {
                return Ok(());
            }
        }
        Ok(())
    }
}

struct Emitter<'a, K: Kind> {
    seq: u64,
    left: u64,
    kind: K,
    counters: Option<&'a Counters>,
}

impl<K: Kind> Emitter<'_, K> {
    /// Hands one delete (or record-less values) to the sink; `false` once it stops.
    fn emit(
        &mut self,
        sink: &mut dyn Sink<Delete<K>>,
        what: DeleteWhat,
        values: Vec<K::Value>,
        source: &Arc<str>,
    ) -> bool {
        self.seq += 1;
        self.left = self.left.saturating_sub(values.len() as u64);
        let delete = Delete {
            seq: self.seq,
            kind: self.kind,
            values,
            what,
            source: source.clone(),
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

/// Records a dry run names one by one.
pub const DRY_RUN_SHOWN: usize = 20;

/// What a dry run would do.
#[derive(Default)]
pub struct DeletePlan {
    pub not_blocked: u64,
    pub unknown: u64,
    pub records: u64,
    pub shown: Vec<String>,
}

impl<K: Kind> Sink<Delete<K>> for DeletePlan {
    fn batch(&mut self, batch: Delete<K>) -> bool {
        let n = batch.values.len() as u64;
        match batch.what {
            DeleteWhat::Record(block_id) => {
                self.records += 1;
                if self.shown.len() < DRY_RUN_SHOWN {
                    let values: Vec<String> = batch.values.iter().map(|v| v.to_string()).collect();
                    self.shown
                        .push(format!("{block_id}: {}", values.join(", ")));
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
        assert_eq!(found.covered(), 1);
        let deletes = Deletes::new(wanted, settled, found, None).unwrap();
        let mut plan = DeletePlan::default();
        deletes.produce(&mut plan, None);
        assert_eq!(plan.records, 2);
        assert_eq!(plan.shown, ["50: k@x.io", "1: other@x.io, a@x.io"]);
        assert_eq!(plan.not_blocked, 0);
    }
}
