//! `sync`'s states and its plan, for every kind of value: the values listed (the state
//! wanted), what this target's ledger says earlier syncs blocked (for `--prune`), and the
//! account's block records of the kind (the state as it is), each read into sets of keys
//! in bounded memory; then the plan, made lazily from them (see `job/apply/` for how
//! it is applied).
//!
//! Memory: the wanted values wait in the kind's spool (a bitmap of contact IDs, a
//! temporary file of strings); the records that concern them wait in a temporary file
//! of JSON lines; memory holds only sets of keys (bitmaps, or 128-bit hashes).
//!
//! The plan, a pure function of the three states and the clock:
//! - **block**: listed values with no record at all;
//! - **renew**: listed values whose live records all end before `renew_before`: each gets
//!   the new block-till (through the one record it is renewed on: the first listed);
//! - **block again**: listed values whose every record has expired (they are not blocked);
//! - **prune** (`--prune`): values the inputs no longer name whose latest line in this
//!   target's ledger is a sync's block still running, on records that sync made (the
//!   record ids its lines name, or a blockTill equal to the one its latest line asked
//!   for): records made by anyone else are never touched;
//! - nothing for a listed value held long enough: a second sync right after sends no write.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use roaring::RoaringTreemap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::apply::{Held, Renewal, Replace, Work, WorkSink};
use crate::api::list::ListedRecord;
use crate::input::{Item, Reject, Source};
use crate::ledger::{Latest, Op, Record, Status, TargetFilter, read_records};
use crate::send::counters::Counters;
use crate::values::count::{group_digits, plural};
use crate::values::dedupe::{Dedupe, Seen};
use crate::values::sets::SeenSet;
use crate::values::spool::Spool;
use crate::values::{Kind, ValueType};

/// The values the inputs list: the state wanted.
pub struct Desired<K: Kind> {
    dedupe: Dedupe<K>,
    spool: K::Spool,
    pub rejects: Vec<Reject>,
    pub duplicates: u64,
    /// Inputs that could not be read to their end (a truncated gzip, a read error): the
    /// list is then known only in part, and nothing may be pruned for not being on it.
    pub broken: u64,
    /// Where the values came from, for the ledger's `source`.
    pub source: String,
}

impl<K: Kind> Desired<K> {
    /// Reads every input (as `block` reads them); bad rows are kept for the ledger.
    pub fn read(kind: K, inputs: &[String], sources: Vec<Source<K>>) -> anyhow::Result<Self> {
        let mut desired: Desired<K> = Desired {
            dedupe: Dedupe::new(),
            spool: kind.spool().context("a temporary spool file")?,
            rejects: Vec::new(),
            duplicates: 0,
            broken: 0,
            source: format!("sync of {}", inputs.join(", ")),
        };
        for source in sources {
            for item in source {
                match item {
                    Item::Row(row) => match desired.dedupe.check(K::key(&row.value)) {
                        Seen::New => desired
                            .spool
                            .push(&row.value)
                            .context("writing the spool file of the values listed")?,
                        Seen::Duplicate | Seen::AlreadyBlocked => desired.duplicates += 1,
                    },
                    Item::Reject(reject) => desired.rejects.push(reject),
                    Item::Broken(reject) => {
                        desired.broken += 1;
                        desired.rejects.push(reject);
                    }
                }
            }
        }
        if desired.count() == 0 {
            bail!(
                "no valid {} in the inputs ({} rows rejected): nothing to sync, and a sync of an empty list would prune everything; check the file, --type, --id-field and --format",
                kind.value_type().noun(),
                desired.rejects.len()
            );
        }
        Ok(desired)
    }

    /// Distinct values listed.
    pub fn count(&self) -> u64 {
        self.spool.len()
    }

    fn contains(&self, key: K::Key) -> bool {
        self.dedupe.contains(key)
    }
}

/// What this target's ledger says earlier syncs blocked (for `--prune`).
pub struct Synced<K: Kind> {
    latest: Latest<K>,
    /// Values whose latest line is a sync's block (`blocked` or `renewed`).
    synced: K::Seen,
    /// The block record ids sync lines name.
    ours: RoaringTreemap,
}

impl<K: Kind> Synced<K> {
    /// Reads the lines of `kind` of runs against `target` (none when the ledger does not
    /// exist yet). Always read: a renewal deletes an old record left beside a new one only
    /// when a sync made it; `--prune` also takes the values to prune from it.
    pub fn load(ledger: &Path, target: &str, kind: K) -> anyhow::Result<Synced<K>> {
        let mut synced = Synced {
            latest: Latest::new(kind),
            synced: K::Seen::default(),
            ours: RoaringTreemap::new(),
        };
        if !ledger.exists() {
            return Ok(synced);
        }
        let mut filter = TargetFilter::new(target);
        read_records(ledger, |_, record| {
            if !filter.admits(&record) {
                return;
            }
            synced.latest.apply(&record);
            let Record::Outcome(line) = &record else {
                return;
            };
            let Some(values) = synced.latest.of_kind(line) else {
                return;
            };
            // Values blocked again only because a deleted record also held them are not
            // values a sync was asked to block.
            let by_sync = line.op == Op::Sync
                && line.blocks()
                && !line.reblocked
                && matches!(line.status, Status::Blocked | Status::Renewed);
            for value in values {
                if by_sync {
                    synced.synced.insert(K::key(value));
                } else {
                    synced.synced.remove(K::key(value));
                }
            }
            if line.op == Op::Sync
                && let Some(ids) = &line.block_ids
            {
                synced.ours.extend(ids.iter().flatten().copied());
            }
        })?;
        filter.warn_skipped(ledger);
        Ok(synced)
    }

    /// Whether a sync blocked `key` and its block is still running at `now`.
    fn candidate(&self, key: K::Key, now: DateTime<Utc>) -> bool {
        self.synced.contains(key)
            && self
                .latest
                .entry(key)
                .is_some_and(|entry| entry.blocked_at(now))
    }

    /// Whether `record` is one a sync made for the value with this key: its id is in a
    /// sync line, or its blockTill is the one the value's latest line asked for.
    fn made(&self, record: u64, till: Option<DateTime<Utc>>, key: K::Key) -> bool {
        self.ours.contains(record)
            || self.latest.entry(key).is_some_and(|entry| {
                entry.till.map(|t| t.timestamp_millis()) == till.map(|t| t.timestamp_millis())
            })
    }
}

/// The instants a plan is made at.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: DateTime<Utc>,
    /// The block-till of every block and renewal.
    pub till: DateTime<Utc>,
    /// A block ending before this is renewed.
    pub renew_before: DateTime<Utc>,
}

/// The account's records of the kind, as listed: sets of keys of the values listed, and a
/// spool of the records that concern them.
pub struct View<K: Kind> {
    kind: K,
    /// Listed values some record holds (expired or not), some live record holds, and a
    /// live record holds long enough.
    listed: K::Seen,
    live: K::Seen,
    held: K::Seen,
    /// Values to prune that a sync's live record holds.
    prune: K::Seen,
    spool: BufWriter<File>,
    /// Records spooled.
    pub records: u64,
}

/// One spooled record: id, blockTill as listed, its values of the kind.
type Spooled<V> = (u64, String, Vec<V>);

fn till_of(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

impl<K: Kind> View<K> {
    pub fn new(kind: K) -> anyhow::Result<View<K>> {
        Ok(View {
            kind,
            listed: K::Seen::default(),
            live: K::Seen::default(),
            held: K::Seen::default(),
            prune: K::Seen::default(),
            spool: BufWriter::new(tempfile::tempfile().context("a temporary spool file")?),
            records: 0,
        })
    }

    /// Takes in one listed record.
    pub fn consider(
        &mut self,
        record: &ListedRecord,
        desired: &Desired<K>,
        synced: Option<&Synced<K>>,
        clock: &Clock,
    ) -> std::io::Result<()>
    where
        K::Value: Serialize,
    {
        let values = record.values_of(self.kind);
        if values.is_empty() {
            return Ok(());
        }
        let till = till_of(&record.block_till);
        let live = till.is_some_and(|till| till > clock.now);
        let mut keep = false;
        for value in &values {
            let key = K::key(value);
            if desired.contains(key) {
                keep = true;
                self.listed.insert(key);
                if live {
                    self.live.insert(key);
                    if till.is_some_and(|till| till >= clock.renew_before) {
                        self.held.insert(key);
                    }
                }
            } else if let Some(synced) = synced
                && live
                && synced.candidate(key, clock.now)
                && synced.made(record.id, till, key)
            {
                keep = true;
                self.prune.insert(key);
            }
        }
        if keep {
            self.records += 1;
            serde_json::to_writer(&mut self.spool, &(record.id, &record.block_till, &values))?;
            self.spool.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Listed values the account holds long enough: nothing to do.
    pub fn held(&self) -> u64 {
        self.held.count()
    }
}

/// Everything the plan is made from, after listing.
pub struct Plan<K: Kind> {
    desired: K::Spool,
    view: View<K>,
    synced: Synced<K>,
    prune: bool,
    clock: Clock,
    batch_size: usize,
    source: Arc<str>,
}

impl<K: Kind> Plan<K>
where
    K::Value: DeserializeOwned,
{
    pub fn new(
        desired: Desired<K>,
        view: View<K>,
        synced: Synced<K>,
        prune: bool,
        clock: Clock,
        batch_size: usize,
    ) -> Plan<K> {
        Plan {
            desired: desired.spool,
            view,
            synced,
            prune,
            clock,
            batch_size: batch_size.max(1),
            source: Arc::from(desired.source.as_str()),
        }
    }

    /// Hands the plan's work to `sink`: blocks of fresh values, then per record its
    /// renewals, blocks again and prunes. With `counters`, pruned values are counted as
    /// read (they are not in the inputs) and what is left once the sink stops is counted
    /// not sent.
    pub fn produce(self, sink: &mut dyn WorkSink<K>, counters: Option<&Counters>) {
        let mut out = Out {
            sink,
            counters,
            going: true,
        };
        if let Err(error) = self.produce_with(&mut out) {
            tracing::error!(%error, "A spool file could not be read again; what was not read is not sent");
        }
    }

    fn produce_with(self, out: &mut Out<'_, K>) -> anyhow::Result<()> {
        let Plan {
            desired,
            view,
            synced,
            prune: pruning,
            clock,
            batch_size,
            source,
        } = self;
        // 1. Values no record holds.
        let mut fresh = Vec::with_capacity(batch_size);
        for value in desired.drain().context("reading the spool file")? {
            let value = value?;
            if !view.listed.contains(K::key(&value)) {
                fresh.push(value);
                if fresh.len() == batch_size {
                    out.emit(Work::Block {
                        values: std::mem::take(&mut fresh),
                        till: clock.till,
                        source: source.clone(),
                    });
                }
            }
        }
        if !fresh.is_empty() {
            out.emit(Work::Block {
                values: fresh,
                till: clock.till,
                source: source.clone(),
            });
        }
        // 2. Per record: renewals, blocks again, prunes.
        let mut file = view
            .spool
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing the spool file")?;
        file.rewind()?;
        let mut assigned = K::Seen::default();
        let batch = |live: bool| Renewal {
            till: clock.till,
            live,
            records: Vec::new(),
            source: source.clone(),
        };
        let (mut renewals, mut expired) = (batch(true), batch(false));
        let (mut renewals_n, mut expired_n) = (0usize, 0usize);
        let prune_why: Arc<str> = Arc::from(
            "the list no longer names it (--prune): its record is deleted; the record's other values are blocked again at once",
        );
        let expired_why: Arc<str> = Arc::from(
            "an expired record that also holds values the list does not name is deleted first (it blocks nothing), so that a block of the listed ones cannot renew the others with it",
        );
        for line in BufReader::new(file).lines() {
            let (id, block_till, values): Spooled<K::Value> =
                serde_json::from_str(&line?).context("a line of the spool file")?;
            let till = till_of(&block_till);
            let live = till.is_some_and(|till| till > clock.now);
            // Known to have expired (a record whose blockTill cannot be read is neither).
            let ran_out = till.is_some() && !live;
            let (mut renew, mut again, mut prune) = (Vec::new(), Vec::new(), Vec::new());
            for value in &values {
                let key = K::key(value);
                if view.listed.contains(key) {
                    if view.held.contains(key) || assigned.contains(key) {
                        continue;
                    }
                    if live {
                        assigned.insert(key);
                        renew.push(value.clone());
                    } else if !view.live.contains(key) {
                        assigned.insert(key);
                        again.push(value.clone());
                    }
                } else if pruning && live && view.prune.contains(key) && synced.made(id, till, key)
                {
                    prune.push(value.clone());
                }
            }
            // A sync made it if it made it for one of the values it renews.
            let ours = renew.iter().any(|v| synced.made(id, till, K::key(v)));
            let held = || Held {
                id,
                till,
                values: values.clone(),
                ours,
            };
            // Replaced (deleted, then what must stay blocked blocked again at once): a
            // record holding values to prune, whose other values are blocked again with
            // its blockTill; and an expired record that also holds values not listed,
            // since a server that updates a record in place would block those again with
            // the listed ones (it blocks nothing: they get a record of their own).
            let replace = if !prune.is_empty() {
                let renew = std::mem::take(&mut renew);
                Some((prune, renew, Status::Renewed, true, &prune_why))
            } else if ran_out && !again.is_empty() && values.len() > again.len() {
                let again = std::mem::take(&mut again);
                Some((Vec::new(), again, Status::Blocked, false, &expired_why))
            } else {
                None
            };
            if let Some((unblock, block, status, keep_others, why)) = replace {
                out.emit(Work::Replace(Replace {
                    unblock,
                    ..Replace::renewing(
                        held(),
                        block,
                        (clock.till, status),
                        keep_others,
                        source.clone(),
                        why.clone(),
                    )
                }));
                continue;
            }
            if !renew.is_empty() {
                renewals_n += renew.len();
                renewals.records.push((held(), renew));
                if renewals_n >= batch_size {
                    renewals_n = 0;
                    out.emit(Work::Renew(std::mem::replace(&mut renewals, batch(true))));
                }
            }
            if !again.is_empty() {
                expired_n += again.len();
                expired.records.push((held(), again));
                if expired_n >= batch_size {
                    expired_n = 0;
                    out.emit(Work::Renew(std::mem::replace(&mut expired, batch(false))));
                }
            }
        }
        for last in [renewals, expired] {
            if !last.records.is_empty() {
                out.emit(Work::Renew(last));
            }
        }
        Ok(())
    }
}

/// The producer's end of the sink: counts the values to prune (values, not rows read),
/// and once the sink stops, counts the rest as not sent.
struct Out<'a, K: Kind> {
    sink: &'a mut dyn WorkSink<K>,
    counters: Option<&'a Counters>,
    going: bool,
}

impl<K: Kind> Out<'_, K> {
    fn emit(&mut self, work: Work<K>) {
        if let (Some(counters), Work::Replace(replace)) = (self.counters, &work) {
            Counters::add(&counters.ids_to_prune, replace.unblock.len() as u64);
        }
        if self.going {
            self.going = self.sink.work(work);
        } else if let Some(counters) = self.counters {
            Counters::add(&counters.not_sent, work.counted());
        }
    }
}

/// Examples a dry run shows of each part of the plan.
const EXAMPLES: usize = 5;

/// What a dry run prints: the plan, with counts and a few examples of each part.
#[derive(Default)]
pub struct DryRun {
    pub block: u64,
    pub renew: u64,
    pub again: u64,
    pub prune: u64,
    /// Values not asked about that pruned records also hold: blocked again at once.
    pub reblock: u64,
    /// Expired records holding values not listed, deleted before their listed values are
    /// blocked again.
    pub cleared: u64,
    pub requests: u64,
    block_examples: Vec<String>,
    renew_examples: Vec<String>,
    again_examples: Vec<String>,
    prune_examples: Vec<String>,
}

fn example(list: &mut Vec<String>, text: impl FnOnce() -> String) {
    if list.len() < EXAMPLES {
        list.push(text());
    }
}

/// A value as a dry run's example names it: with its record and until when it holds.
fn held_example(
    value: &impl std::fmt::Display,
    record: u64,
    till: Option<DateTime<Utc>>,
) -> String {
    format!("{value} (block record {record}, until {})", stamp(till))
}

fn stamp(till: Option<DateTime<Utc>>) -> String {
    till.map_or_else(
        || "?".to_owned(),
        |till| till.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

impl<K: Kind> WorkSink<K> for DryRun {
    fn work(&mut self, work: Work<K>) -> bool {
        match work {
            Work::Block { values, .. } => {
                self.block += values.len() as u64;
                self.requests += 1;
                for value in values.iter().take(EXAMPLES) {
                    example(&mut self.block_examples, || value.to_string());
                }
            }
            Work::Renew(renewal) => {
                self.requests += 1;
                let (count, examples) = if renewal.live {
                    (&mut self.renew, &mut self.renew_examples)
                } else {
                    (&mut self.again, &mut self.again_examples)
                };
                for (held, values) in &renewal.records {
                    *count += values.len() as u64;
                    for value in values.iter().take(EXAMPLES) {
                        example(examples, || held_example(value, held.id, held.till));
                    }
                }
            }
            Work::Replace(replace) => {
                let held = replace.held.as_ref();
                self.prune += replace.unblock.len() as u64;
                if replace.renew_status == Status::Renewed {
                    self.renew += replace.renew.len() as u64;
                } else {
                    self.again += replace.renew.len() as u64;
                    self.cleared += 1;
                    for value in replace.renew.iter().take(EXAMPLES) {
                        example(&mut self.again_examples, || {
                            held_example(value, replace.record, held.and_then(|h| h.till))
                        });
                    }
                }
                let others = match held {
                    Some(held) if replace.keep_others => held
                        .values
                        .len()
                        .saturating_sub(replace.unblock.len() + replace.renew.len()),
                    _ => 0,
                };
                self.reblock += others as u64;
                self.requests += 1 + u64::from(others > 0) + u64::from(!replace.renew.is_empty());
                for value in replace.unblock.iter().take(EXAMPLES) {
                    example(&mut self.prune_examples, || {
                        held_example(value, replace.record, held.and_then(|h| h.till))
                    });
                }
            }
            Work::Absent { .. } => {}
        }
        true
    }
}

/// The header of a dry run's plan.
pub struct DryRunHeader<'a> {
    pub target: &'a str,
    pub value_type: ValueType,
    pub listed_records: u64,
    pub pages: u64,
    pub values: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub held: u64,
    pub clock: Clock,
    pub prune: bool,
    /// Inputs that could not be read to their end: nothing is pruned.
    pub broken: u64,
}

impl DryRun {
    pub fn render(&self, header: &DryRunHeader<'_>) -> String {
        let noun = header.value_type.noun();
        let n = group_digits;
        let mut out = format!(
            "Plan (dry run: the account was listed; nothing blocked, nothing unblocked, nothing written)\n  target    {}\n  type      {}\n  listed    {} in {}\n  values    {} listed ({} duplicates, {} rejected rows)\n  until     {} (renewing blocks that end before {})\n",
            header.target,
            header.value_type,
            plural(header.listed_records, "block record"),
            plural(header.pages, "page"),
            n(header.values),
            n(header.duplicates),
            n(header.rejected),
            stamp(Some(header.clock.till)),
            stamp(Some(header.clock.renew_before)),
        );
        let part = |out: &mut String, label: &str, count: u64, what: &str, examples: &[String]| {
            *out += &format!("  {label:<9} {} {what}\n", plural(count, noun));
            if !examples.is_empty() {
                let more = if count > examples.len() as u64 {
                    format!(", ... ({} more)", n(count - examples.len() as u64))
                } else {
                    String::new()
                };
                *out += &format!("            e.g. {}{more}\n", examples.join(", "));
            }
        };
        for (label, count, what, examples) in [
            (
                "block",
                self.block,
                "with no block record",
                &self.block_examples,
            ),
            (
                "renew",
                self.renew,
                "whose block ends too soon",
                &self.renew_examples,
            ),
            (
                "re-block",
                self.again,
                "whose every record has expired",
                &self.again_examples,
            ),
        ] {
            part(&mut out, label, count, what, examples);
        }
        if self.cleared > 0 {
            out += &format!(
                "            {} also holding values not listed: each deleted first (an expired record blocks nothing), so that only the listed values are blocked again\n",
                plural(self.cleared, "expired record")
            );
        }
        out += &format!(
            "  held      {} blocked long enough: nothing to send\n",
            plural(header.held, noun)
        );
        if header.prune && header.broken > 0 {
            out += &format!(
                "  prune     none: {} could not be read to the end (see the rejected rows), so what the list no longer names is not known; a real run would exit 1\n",
                plural(header.broken, "input")
            );
        } else if header.prune {
            part(
                &mut out,
                "prune",
                self.prune,
                "an earlier sync blocked that the list no longer names",
                &self.prune_examples,
            );
            if self.reblock > 0 {
                out += &format!(
                    "            and {} not asked about that those records also hold: blocked again at once with their blockTill\n",
                    plural(self.reblock, noun)
                );
            }
        } else {
            out += "  prune     off (--prune unblocks what earlier syncs blocked and the list no longer names)\n";
        }
        out += &format!(
            "  requests  about {} (more if the server refuses or adds a second record on renewal)\n",
            n(self.requests)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Contact;

    fn record(id: u64, contact: u64, till: &str) -> ListedRecord {
        ListedRecord {
            id,
            kind: "contact".into(),
            contact: Some(contact),
            block_till: till.into(),
            ..ListedRecord::default()
        }
    }

    fn desired(values: &[u64]) -> Desired<Contact> {
        let mut desired: Desired<Contact> = Desired {
            dedupe: Dedupe::new(),
            spool: Contact.spool().unwrap(),
            rejects: Vec::new(),
            duplicates: 0,
            broken: 0,
            source: "sync of test".into(),
        };
        for value in values {
            desired.dedupe.check(*value);
            desired.spool.push(value).unwrap();
        }
        desired
    }

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl WorkSink<Contact> for Collect {
        fn work(&mut self, work: Work<Contact>) -> bool {
            self.0.push(match work {
                Work::Block { values, .. } => format!("block {values:?}"),
                Work::Renew(renewal) => format!(
                    "{} {:?}",
                    if renewal.live { "renew" } else { "again" },
                    renewal
                        .records
                        .iter()
                        .map(|(held, values)| (held.id, values.clone()))
                        .collect::<Vec<_>>()
                ),
                Work::Replace(replace) => {
                    format!("replace {} unblock {:?}", replace.record, replace.unblock)
                }
                Work::Absent { .. } => "absent".into(),
            });
            true
        }
    }

    #[test]
    fn the_plan_blocks_renews_blocks_again_and_leaves_alone_what_is_held() {
        let clock = Clock {
            now: "2030-01-10T00:00:00Z".parse().unwrap(),
            till: "2030-02-10T00:00:00Z".parse().unwrap(),
            renew_before: "2030-01-20T00:00:00Z".parse().unwrap(),
        };
        let desired = desired(&[1, 2, 3, 4, 5]);
        let mut view = View::new(Contact).unwrap();
        for record in [
            // 1: held long enough; 2: ends too soon; 3: expired only; 4: expired and soon.
            record(10, 1, "2030-02-01T00:00:00.000Z"),
            record(11, 2, "2030-01-15T00:00:00.000Z"),
            record(12, 3, "2030-01-01T00:00:00.000Z"),
            record(13, 4, "2030-01-01T00:00:00.000Z"),
            record(14, 4, "2030-01-12T00:00:00.000Z"),
            // Not listed, and no sync of ours: left alone.
            record(15, 9, "2030-01-12T00:00:00.000Z"),
        ] {
            view.consider(&record, &desired, None, &clock).unwrap();
        }
        assert_eq!(view.held(), 1);
        assert_eq!(view.records, 5);
        let mut sink = Collect::default();
        let synced = Synced {
            latest: Latest::new(Contact),
            synced: RoaringTreemap::new(),
            ours: RoaringTreemap::new(),
        };
        Plan::new(desired, view, synced, false, clock, 100).produce(&mut sink, None);
        assert_eq!(
            sink.0,
            [
                "block [5]",
                "renew [(11, [2]), (14, [4])]",
                "again [(12, [3])]"
            ]
        );
    }
}
