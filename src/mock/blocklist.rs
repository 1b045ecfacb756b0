//! The imitation's block list: the records `POST /crm/block-visitor` creates and the
//! list, get and delete calls read, as Acquire's settings → security → block visitor
//! pages describe them. It is the account's state: records made by others (seeded, or
//! added through `/_mock/seed`), expired records (still listed, with their old
//! `blockTill`, as the docs' own example shows), and email/IP records holding several
//! strings (the docs' record 6 holds two).
//!
//! Constraint: benches push millions of IDs through the imitation, so a record is a
//! 32-byte struct (contact ID or a range of strings, interned `blockTill`, creation time
//! in milliseconds, blocking user) in a `Vec` sorted by record id; strings (emails, IPs,
//! `blockTill` values) are stored once per distinct value. Deleting leaves a tombstone
//! that the next listing compacts away, so a run of deletes costs O(1) each and paging
//! stays O(page). The list is only kept when asked for (see
//! [`BlockListOptions::keeps_list`]): 1M contact records take about 68 MB (measured).
//! A value normally has one record; one with several (`OnDuplicate::Add`, seeds) keeps
//! the older ones in a side map that stays empty otherwise.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// What the block list and the block answers imitate; part of [`super::Faults`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockListOptions {
    /// Keep the block list even when the answers do not need it (so that list, get
    /// and delete work).
    pub keep: bool,
    /// What a successful block answers.
    pub answer: AnswerMode,
    /// What blocking a value that already has a record does.
    pub on_duplicate: OnDuplicate,
    /// The same when that record has expired (its `blockTill` has passed; it is still
    /// listed). `None`: as `on_duplicate`.
    pub on_expired_duplicate: Option<OnDuplicate>,
    /// Emails or IPs per record a block creates: the new values of one request go into
    /// records of this many strings each, in request order (1: one record per value;
    /// `usize::MAX`: one record per request, as the docs' example answer). 0 counts as 1.
    /// Contact records always hold one contact.
    pub values_per_record: usize,
    /// The list call always answers the first page, whatever `offset` asks (a fault;
    /// keeps the list).
    pub list_ignores_offset: bool,
    /// What a block's `blockTill` becomes when kept (keeps the list unless `None`).
    pub block_till_rounding: TillRounding,
}

/// What the server makes of the `blockTill` a block sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TillRounding {
    /// Kept to the millisecond.
    #[default]
    None,
    /// The end of its UTC day, 23:59:59.000: every `blockTill` the docs' answers show has
    /// that form, and their add example answers 23:59:59.000Z for a request that sent
    /// 08:19:24.627Z on the same day.
    EndOfDay,
}

impl TillRounding {
    /// `ms` as kept.
    pub fn apply(self, ms: i64) -> i64 {
        const DAY: i64 = 86_400_000;
        match self {
            TillRounding::None => ms,
            TillRounding::EndOfDay => ms.div_euclid(DAY) * DAY + DAY - 1_000,
        }
    }
}

impl Default for BlockListOptions {
    fn default() -> Self {
        BlockListOptions {
            keep: false,
            answer: AnswerMode::default(),
            on_duplicate: OnDuplicate::default(),
            on_expired_duplicate: None,
            values_per_record: 1,
            list_ignores_offset: false,
            block_till_rounding: TillRounding::None,
        }
    }
}

impl BlockListOptions {
    /// True when the imitation must keep records: asked for, or needed by an answer.
    pub fn keeps_list(&self, record_ids: bool) -> bool {
        record_ids
            || self.keep
            || self.answer == AnswerMode::Records
            || self.on_duplicate != OnDuplicate::Update
            || self
                .on_expired_duplicate
                .is_some_and(|rule| rule != OnDuplicate::Update)
            || self.values_per_record > 1
            || self.list_ignores_offset
            || self.block_till_rounding != TillRounding::None
    }

    /// What blocking a value again does, given whether its record has expired.
    pub fn rule(&self, expired: bool) -> OnDuplicate {
        match self.on_expired_duplicate {
            Some(rule) if expired => rule,
            _ => self.on_duplicate,
        }
    }

    /// True when some duplicate is answered 400.
    fn refuses_any(&self) -> bool {
        self.on_duplicate == OnDuplicate::Reject
            || self.on_expired_duplicate == Some(OnDuplicate::Reject)
    }
}

/// The two success answers the docs show for a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AnswerMode {
    /// `{"data": true}` (the customer page).
    #[default]
    True,
    /// `{"data": [block record, ...]}`: each record the request created or updated, once,
    /// in the order of its first value in the request (the settings page).
    Records,
}

/// Blocking a value that already has a record (expired or not: see
/// [`BlockListOptions::on_expired_duplicate`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnDuplicate {
    /// Give the existing record the new `blockTill` and answer as if it were created (an
    /// email/IP record's other strings get it too).
    #[default]
    Update,
    /// 400 `ERROR_DUPLICATE_RECORD_FOUND` naming the value; nothing in the request is kept.
    #[value(name = "400")]
    Reject,
    /// Create another record for the value (it then has two, as an account blocked
    /// twice by hand may); the old one stays, and `unblock` must delete both.
    Add,
}

/// The three block types the API knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Contact,
    Email,
    Ip,
}

/// How many kinds there are (`Kind::ALL`).
const KINDS: usize = 3;

impl Kind {
    pub const ALL: [Kind; KINDS] = [Kind::Contact, Kind::Email, Kind::Ip];

    /// The `type` string of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contact => "contact",
            Kind::Email => "email",
            Kind::Ip => "ip",
        }
    }

    /// The value number `n` of this kind, for seeds: a contact ID, `seedN@example.com`,
    /// or 10.0.0.0 + N.
    pub fn generated(self, n: u64) -> String {
        match self {
            Kind::Contact => n.to_string(),
            Kind::Email => format!("seed{n}@example.com"),
            Kind::Ip => {
                std::net::Ipv4Addr::from(0x0A00_0000_u32.wrapping_add(n as u32)).to_string()
            }
        }
    }

    /// What a value of this kind is, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Kind::Contact => "a contact ID",
            Kind::Email => "an email address (local@domain.tld, no spaces)",
            Kind::Ip => "an IP address",
        }
    }

    /// A string value of this kind in its canonical form, or `None` when it is not one
    /// (a contact ID is a number, never a string).
    pub fn canonical(self, text: &str) -> Option<String> {
        match self {
            Kind::Contact => None,
            Kind::Email => is_email(text).then(|| text.to_owned()),
            Kind::Ip => text
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| ip.to_string()),
        }
    }

    /// The kind a `type` string names.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// local@domain.tld: one `@`, something before it, a dot inside the domain with
/// something on both sides, no whitespace or control characters, at most 254 bytes.
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let Some((name, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && !name.is_empty()
        && !tld.is_empty()
        && !domain.contains('@')
        && !name.starts_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The values of one block request: contact IDs, or strings of one kind.
#[derive(Clone, Copy, Debug)]
pub enum Values<'a> {
    Contacts(&'a [u64]),
    Texts(Kind, &'a [&'a str]),
}

/// What a record blocks, borrowed from the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked<'a> {
    Contact(u64),
    /// The strings of an email or IP record (one or more).
    Texts(&'a [Box<str>]),
}

/// One record, borrowed from the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub id: u64,
    pub kind: Kind,
    pub blocked: Blocked<'a>,
    /// RFC 3339, UTC, milliseconds (`2021-09-09T07:08:12.658Z`), whatever form was sent.
    pub block_till: &'a str,
    /// The same, in milliseconds since the Unix epoch.
    pub block_till_ms: i64,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The user who blocked it: [`BLOCK_BY`] for the API key's, others for seeds.
    pub block_by: u32,
}

impl RecordView<'_> {
    /// True once its `blockTill` has passed (it is still listed).
    pub fn expired(&self, now_ms: i64) -> bool {
        self.block_till_ms <= now_ms
    }
}

/// The user id of records made through the API: the API key's user.
pub const BLOCK_BY: u32 = 1;
/// The user id seeded records get unless they name one: someone else in the web app.
pub const OTHER_USER: u32 = 2;

/// Refused because one of the values already has a record whose rule is
/// `OnDuplicate::Reject`, or repeats an earlier value of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// Position of the value in the request's `data` array.
    pub index: usize,
    /// The value as the API prints it (`827`, `a@b.co`).
    pub value: String,
    /// The record that already blocks it; `None` when it repeats an earlier value of the
    /// same request.
    pub record: Option<u64>,
    /// That record's `blockTill` has passed.
    pub expired: bool,
}

/// What happened to the list, for the stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListCounts {
    /// Records created by blocks.
    pub created: u64,
    /// Values blocked again whose existing record took the new `blockTill`.
    pub updated: u64,
    /// Records deleted by the API's DELETE (`affected: 1`).
    pub deleted: u64,
    /// Blocks answered 400 `ERROR_DUPLICATE_RECORD_FOUND`.
    pub refused: u64,
    /// Records created by seeds (at start, or through `/_mock/seed`).
    pub seeded: u64,
    /// Records deleted behind the client's back (`/_mock/unblock`).
    pub admin_deleted: u64,
    /// Records whose `blockTill` was changed behind the client's back (`/_mock/expire`).
    pub admin_retimed: u64,
}

/// A value to look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key<'a> {
    Contact(u64),
    Text(Kind, &'a str),
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Contact(contact) => write!(f, "{contact}"),
            Key::Text(_, text) => f.write_str(text),
        }
    }
}

/// Bit layout of a string record's `Slot::value`: first string's index << 32 | count.
const TEXT_COUNT_BITS: u32 = 32;

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The contact ID, or where the record's strings are in `texts` (see `TEXT_COUNT_BITS`).
    value: u64,
    created_ms: i64,
    /// Record id, from 1 upward (u32: four billion records is beyond any test).
    id: u32,
    /// Index into `tills`.
    till: u32,
    block_by: u32,
    kind: Kind,
    live: bool,
}

/// Value → the ids of its live records: the newest in a map, any older ones beside it
/// (empty unless a value has several records).
struct ValueIndex<K> {
    newest: HashMap<K, u32>,
    older: HashMap<K, Vec<u32>>,
}

impl<K> Default for ValueIndex<K> {
    fn default() -> Self {
        ValueIndex {
            newest: HashMap::new(),
            older: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> ValueIndex<K> {
    fn insert(&mut self, key: K, id: u32) {
        match self.newest.get_mut(&key) {
            Some(newest) => {
                let old = std::mem::replace(newest, id);
                self.older.entry(key).or_default().push(old);
            }
            None => {
                self.newest.insert(key, id);
            }
        }
    }

    fn newest<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
    {
        self.newest.get(key).copied()
    }

    /// The value's records, newest first.
    fn ids<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> impl Iterator<Item = u32> + '_
    where
        K: Borrow<Q>,
    {
        let newest = self.newest.get(key).copied();
        let older = if self.older.is_empty() {
            &[][..]
        } else {
            self.older.get(key).map_or(&[][..], Vec::as_slice)
        };
        newest.into_iter().chain(older.iter().rev().copied())
    }

    fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q, id: u32)
    where
        K: Borrow<Q>,
    {
        if self.newest.get(key) == Some(&id) {
            let next = match self.older.get_mut(key) {
                Some(older) => {
                    let next = older.pop();
                    if older.is_empty() {
                        self.older.remove(key);
                    }
                    next
                }
                None => None,
            };
            match (next, self.newest.get_mut(key)) {
                (Some(next), Some(newest)) => *newest = next,
                _ => {
                    self.newest.remove(key);
                }
            }
        } else if let Some(older) = self.older.get_mut(key) {
            older.retain(|&other| other != id);
            if older.is_empty() {
                self.older.remove(key);
            }
        }
    }
}

/// The records, in id order.
#[derive(Default)]
pub struct BlockList {
    slots: Vec<Slot>,
    next_id: u32,
    /// Slots in `slots` that are deleted but not yet compacted away.
    tombstones: usize,
    contacts: ValueIndex<u64>,
    /// Per kind, for the string kinds (email, ip); the contact slot stays empty.
    by_text: [ValueIndex<Box<str>>; KINDS],
    /// Every string of every record, each record's contiguous.
    texts: Vec<Box<str>>,
    /// Distinct `blockTill` values: the RFC 3339 text, its milliseconds, live records with it.
    tills: Vec<Box<str>>,
    till_ms: Vec<i64>,
    till_live: Vec<u64>,
    till_index: HashMap<i64, u32>,
    live_by_kind: [u64; KINDS],
    live_by_user: BTreeMap<u32, u64>,
    counts: ListCounts,
}

/// `ms` as the API prints a time: RFC 3339, UTC, milliseconds.
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl BlockList {
    pub fn new() -> Self {
        BlockList::default()
    }

    /// Blocks every value until `till_ms`, creating records (ids in request order) or,
    /// for a value that has one already, per the options' rule for it (expired or not
    /// at `now_ms`). Returns each value's record id, aligned with `values`. On `Err`
    /// nothing was changed.
    pub fn block(
        &mut self,
        values: Values<'_>,
        till_ms: i64,
        now_ms: i64,
        rules: &BlockListOptions,
    ) -> Result<Vec<u64>, Duplicate> {
        if rules.refuses_any() {
            self.check(values, now_ms, rules)?;
        }
        let till = self.intern_till(till_ms);
        // Records with an id above this one were made by this request.
        let before = self.next_id;
        match values {
            Values::Contacts(contacts) => {
                let mut ids = Vec::with_capacity(contacts.len());
                for &contact in contacts {
                    // One lookup for a contact with no record (the benchmarks' case).
                    let existing = match self.contacts.newest(&contact) {
                        None => None,
                        // A repeat of a value this request already made a record for.
                        Some(id) if id > before => {
                            ids.push(u64::from(id));
                            continue;
                        }
                        Some(_) => self.current(Key::Contact(contact), now_ms),
                    };
                    let id = match existing {
                        Some((id, expired)) if rules.rule(expired) == OnDuplicate::Update => {
                            self.update_till(id, till);
                            self.counts.updated += 1;
                            id
                        }
                        _ => {
                            self.counts.created += 1;
                            self.push_contact(contact, till, now_ms, BLOCK_BY)
                        }
                    };
                    ids.push(u64::from(id));
                }
                Ok(ids)
            }
            Values::Texts(kind, texts) => {
                let mut ids = vec![0; texts.len()];
                // New values (no record, or `Add`), each once, and where each goes.
                let mut fresh: Vec<&str> = Vec::new();
                let mut fresh_at: HashMap<&str, usize> = HashMap::new();
                let mut waiting: Vec<(usize, usize)> = Vec::new();
                for (position, &text) in texts.iter().enumerate() {
                    if let Some(&at) = fresh_at.get(text) {
                        waiting.push((position, at));
                        continue;
                    }
                    match self.current(Key::Text(kind, text), now_ms) {
                        Some((id, expired)) if rules.rule(expired) == OnDuplicate::Update => {
                            self.update_till(id, till);
                            self.counts.updated += 1;
                            ids[position] = u64::from(id);
                        }
                        _ => {
                            fresh_at.insert(text, fresh.len());
                            waiting.push((position, fresh.len()));
                            fresh.push(text);
                        }
                    }
                }
                let mut record_of = Vec::with_capacity(fresh.len());
                for chunk in fresh.chunks(rules.values_per_record.max(1)) {
                    let id = self.push_texts(kind, chunk, till, now_ms, BLOCK_BY);
                    self.counts.created += 1;
                    record_of.extend(std::iter::repeat_n(u64::from(id), chunk.len()));
                }
                for (position, at) in waiting {
                    ids[position] = record_of[at];
                }
                Ok(ids)
            }
        }
    }

    /// The first value that the rules refuse (its record's rule is `Reject`), or that
    /// repeats an earlier one of the request while `on_duplicate` is `Reject`.
    pub fn check<'v>(
        &self,
        values: Values<'v>,
        now_ms: i64,
        rules: &BlockListOptions,
    ) -> Result<(), Duplicate> {
        if !rules.refuses_any() {
            return Ok(());
        }
        let repeats_refused = rules.on_duplicate == OnDuplicate::Reject;
        let mut seen = std::collections::HashSet::new();
        let mut look = |index: usize, key: Key<'v>| {
            let (record, expired) = match self.current(key, now_ms) {
                Some((id, expired)) if rules.rule(expired) == OnDuplicate::Reject => {
                    (Some(u64::from(id)), expired)
                }
                _ if repeats_refused && !seen.insert(key) => (None, false),
                _ => return Ok(()),
            };
            Err(Duplicate {
                index,
                value: key.to_string(),
                record,
                expired,
            })
        };
        match values {
            Values::Contacts(contacts) => {
                for (index, &contact) in contacts.iter().enumerate() {
                    look(index, Key::Contact(contact))?;
                }
            }
            Values::Texts(kind, texts) => {
                for (index, &text) in texts.iter().enumerate() {
                    look(index, Key::Text(kind, text))?;
                }
            }
        }
        Ok(())
    }

    /// Counts a block refused as a duplicate.
    pub fn count_refused(&mut self) {
        self.counts.refused += 1;
    }

    /// The record a value is blocked by: its newest unexpired one, else its newest; and
    /// whether that one has expired.
    fn current(&self, key: Key<'_>, now_ms: i64) -> Option<(u32, bool)> {
        match key {
            Key::Contact(contact) => self.pick(self.contacts.ids(&contact), now_ms),
            Key::Text(kind, text) => self.pick(self.text_index(kind).ids(text), now_ms),
        }
    }

    fn pick(&self, ids: impl Iterator<Item = u32>, now_ms: i64) -> Option<(u32, bool)> {
        let mut newest = None;
        for id in ids {
            let Some(position) = self.position(u64::from(id)) else {
                continue;
            };
            if self.till_ms[self.slots[position].till as usize] > now_ms {
                return Some((id, false));
            }
            newest.get_or_insert((id, true));
        }
        newest
    }

    /// The live records holding `value` (a contact in decimal), newest first.
    fn ids_of(&self, kind: Kind, value: &str) -> Vec<u32> {
        match kind {
            Kind::Contact => match value.parse::<u64>() {
                // The common case, one record, allocates nothing beyond the Vec.
                Ok(contact) => self.contacts.ids(&contact).collect(),
                Err(_) => Vec::new(),
            },
            _ => self.text_index(kind).ids(value).collect(),
        }
    }

    /// The ids of the live records holding `value` (a contact ID in decimal), ascending.
    pub fn records_holding(&self, kind: Kind, value: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .ids_of(kind, value)
            .into_iter()
            .map(u64::from)
            .collect();
        ids.sort_unstable();
        ids
    }

    fn text_index(&self, kind: Kind) -> &ValueIndex<Box<str>> {
        &self.by_text[kind.index()]
    }

    fn intern_till(&mut self, ms: i64) -> u32 {
        if let Some(&index) = self.till_index.get(&ms) {
            return index;
        }
        let index = u32::try_from(self.tills.len()).unwrap_or(u32::MAX);
        self.tills.push(format_ms(ms).into());
        self.till_ms.push(ms);
        self.till_live.push(0);
        self.till_index.insert(ms, index);
        index
    }

    fn push_slot(&mut self, kind: Kind, value: u64, till: u32, created_ms: i64, by: u32) -> u32 {
        self.next_id = self.next_id.saturating_add(1);
        self.slots.push(Slot {
            value,
            created_ms,
            id: self.next_id,
            till,
            block_by: by,
            kind,
            live: true,
        });
        self.live_by_kind[kind.index()] += 1;
        self.till_live[till as usize] += 1;
        *self.live_by_user.entry(by).or_insert(0) += 1;
        self.next_id
    }

    fn push_contact(&mut self, contact: u64, till: u32, created_ms: i64, by: u32) -> u32 {
        let id = self.push_slot(Kind::Contact, contact, till, created_ms, by);
        self.contacts.insert(contact, id);
        id
    }

    fn push_texts(
        &mut self,
        kind: Kind,
        texts: &[&str],
        till: u32,
        created_ms: i64,
        by: u32,
    ) -> u32 {
        let start = self.texts.len() as u64;
        self.texts
            .extend(texts.iter().map(|&text| Box::<str>::from(text)));
        let value = (start << TEXT_COUNT_BITS) | texts.len() as u64;
        let id = self.push_slot(kind, value, till, created_ms, by);
        let index = &mut self.by_text[kind.index()];
        for &text in texts {
            index.insert(text.into(), id);
        }
        id
    }

    /// Adds a record made by someone else (a seed): never merged with another record
    /// of the same value. Contacts are one ID; strings are taken as given (checked by
    /// the caller). Returns its id.
    pub fn insert(
        &mut self,
        values: Values<'_>,
        till_ms: i64,
        created_ms: i64,
        block_by: u32,
    ) -> u64 {
        let till = self.intern_till(till_ms);
        self.counts.seeded += 1;
        let id = match values {
            Values::Contacts(contacts) => {
                let contact = contacts.first().copied().unwrap_or_default();
                self.push_contact(contact, till, created_ms, block_by)
            }
            Values::Texts(kind, texts) => self.push_texts(kind, texts, till, created_ms, block_by),
        };
        u64::from(id)
    }

    fn update_till(&mut self, id: u32, till: u32) {
        if let Some(position) = self.position(u64::from(id)) {
            let slot = &mut self.slots[position];
            self.till_live[slot.till as usize] -= 1;
            self.till_live[till as usize] += 1;
            slot.till = till;
        }
    }

    /// Gives record `id` a new `blockTill` behind the client's back; false when there is
    /// no such live record.
    pub fn retime(&mut self, id: u64, till_ms: i64) -> bool {
        if self.position(id).is_none() {
            return false;
        }
        let till = self.intern_till(till_ms);
        self.update_till(u32::try_from(id).unwrap_or(u32::MAX), till);
        self.counts.admin_retimed += 1;
        true
    }

    /// Where the live record `id` is in `slots`.
    fn position(&self, id: u64) -> Option<usize> {
        let id = u32::try_from(id).ok()?;
        let position = self.slots.binary_search_by_key(&id, |slot| slot.id).ok()?;
        self.slots[position].live.then_some(position)
    }

    fn text_range(slot: &Slot) -> std::ops::Range<usize> {
        let start = usize::try_from(slot.value >> TEXT_COUNT_BITS).unwrap_or(usize::MAX);
        let count = usize::try_from(slot.value & ((1 << TEXT_COUNT_BITS) - 1)).unwrap_or(0);
        start..start.saturating_add(count)
    }

    fn view(&self, slot: &Slot) -> RecordView<'_> {
        let blocked = match slot.kind {
            Kind::Contact => Blocked::Contact(slot.value),
            _ => Blocked::Texts(self.texts.get(Self::text_range(slot)).unwrap_or_default()),
        };
        let till = slot.till as usize;
        RecordView {
            id: u64::from(slot.id),
            kind: slot.kind,
            blocked,
            block_till: self.tills.get(till).map_or("", |till| till),
            block_till_ms: self.till_ms.get(till).copied().unwrap_or_default(),
            created_ms: slot.created_ms,
            block_by: slot.block_by,
        }
    }

    /// The live record `id`.
    pub fn get(&self, id: u64) -> Option<RecordView<'_>> {
        self.position(id)
            .map(|position| self.view(&self.slots[position]))
    }

    /// Every live record, in id order.
    pub fn views(&self) -> impl Iterator<Item = RecordView<'_>> + '_ {
        self.slots
            .iter()
            .filter(|slot| slot.live)
            .map(|slot| self.view(slot))
    }

    /// Deletes record `id` through the API (unblocks all its values); false when there
    /// is no such live record.
    pub fn delete(&mut self, id: u64) -> bool {
        let deleted = self.remove(id);
        if deleted {
            self.counts.deleted += 1;
        }
        deleted
    }

    /// Deletes record `id` behind the client's back, as an admin in the web app would.
    pub fn delete_by_admin(&mut self, id: u64) -> bool {
        let deleted = self.remove(id);
        if deleted {
            self.counts.admin_deleted += 1;
        }
        deleted
    }

    fn remove(&mut self, id: u64) -> bool {
        let Some(position) = self.position(id) else {
            return false;
        };
        let slot = &mut self.slots[position];
        slot.live = false;
        let slot = *slot;
        self.live_by_kind[slot.kind.index()] -= 1;
        self.till_live[slot.till as usize] -= 1;
        if let Some(count) = self.live_by_user.get_mut(&slot.block_by) {
            *count -= 1;
            if *count == 0 {
                self.live_by_user.remove(&slot.block_by);
            }
        }
        self.tombstones += 1;
        match slot.kind {
            Kind::Contact => self.contacts.remove(&slot.value, slot.id),
            _ => {
                // The strings stay in `texts` (a later record may not reuse their place).
                let BlockList { texts, by_text, .. } = self;
                let index = &mut by_text[slot.kind.index()];
                for text in texts.get(Self::text_range(&slot)).unwrap_or_default() {
                    index.remove(&**text, slot.id);
                }
            }
        }
        true
    }

    /// Up to `limit` live records from position `offset` (in id order), and how many
    /// live records there are in all.
    pub fn page(&mut self, offset: usize, limit: usize) -> (usize, Vec<RecordView<'_>>) {
        if self.tombstones > 0 {
            self.slots.retain(|slot| slot.live);
            self.tombstones = 0;
        }
        let total = self.slots.len();
        let start = offset.min(total);
        let end = start.saturating_add(limit).min(total);
        let page = self.slots[start..end]
            .iter()
            .map(|slot| self.view(slot))
            .collect();
        (total, page)
    }

    /// Live records in all (expired ones included: they are still listed).
    pub fn live(&self) -> u64 {
        self.live_by_kind.iter().sum()
    }

    /// Live records of one kind.
    pub fn live_of(&self, kind: Kind) -> u64 {
        self.live_by_kind[kind.index()]
    }

    /// Live records whose `blockTill` has passed at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> u64 {
        self.till_ms
            .iter()
            .zip(&self.till_live)
            .filter(|&(&ms, _)| ms <= now_ms)
            .map(|(_, &live)| live)
            .sum()
    }

    /// Live records by the user who blocked them.
    pub fn live_by_user(&self) -> &BTreeMap<u32, u64> {
        &self.live_by_user
    }

    /// What happened to the list so far.
    pub fn counts(&self) -> ListCounts {
        self.counts
    }
}

/// Locks the block list; a panic elsewhere cannot leave it worse than one request
/// half-applied, so a poisoned lock is still used.
pub(crate) fn lock(list: &Mutex<BlockList>) -> MutexGuard<'_, BlockList> {
    list.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2030-01-01T00:00:00.000Z and a year later, in milliseconds.
    const TILL: i64 = 1_893_456_000_000;
    const LATER: i64 = 1_924_992_000_000;
    const TILL_TEXT: &str = "2030-01-01T00:00:00.000Z";
    const LATER_TEXT: &str = "2031-01-01T00:00:00.000Z";
    /// Before both.
    const NOW: i64 = 1_000;

    fn rules(on_duplicate: OnDuplicate) -> BlockListOptions {
        BlockListOptions {
            on_duplicate,
            ..BlockListOptions::default()
        }
    }

    fn contacts(list: &mut BlockList, ids: &[u64], till: i64) -> Result<Vec<u64>, Duplicate> {
        list.block(
            Values::Contacts(ids),
            till,
            NOW,
            &rules(OnDuplicate::Update),
        )
    }

    fn texts(
        list: &mut BlockList,
        kind: Kind,
        values: &[&str],
        till: i64,
        rules: &BlockListOptions,
    ) -> Result<Vec<u64>, Duplicate> {
        list.block(Values::Texts(kind, values), till, NOW, rules)
    }

    fn strings(view: &RecordView<'_>) -> Vec<String> {
        match view.blocked {
            Blocked::Texts(texts) => texts.iter().map(|t| t.to_string()).collect(),
            Blocked::Contact(id) => vec![id.to_string()],
        }
    }

    #[test]
    fn ids_are_assigned_from_one_in_request_order() {
        let mut list = BlockList::new();
        assert_eq!(contacts(&mut list, &[827, 828], TILL), Ok(vec![1, 2]));
        assert_eq!(
            texts(
                &mut list,
                Kind::Email,
                &["a@b.co", "c@d.org"],
                TILL,
                &rules(OnDuplicate::Update)
            ),
            Ok(vec![3, 4])
        );
        let record = list.get(2).expect("record 2");
        assert_eq!(record.blocked, Blocked::Contact(828));
        assert_eq!(record.kind, Kind::Contact);
        assert_eq!(record.block_till, TILL_TEXT);
        assert_eq!(record.block_till_ms, TILL);
        assert_eq!(record.created_ms, NOW);
        assert_eq!(record.block_by, BLOCK_BY);
        let email = list.get(4).expect("record 4");
        assert_eq!(
            (email.kind, strings(&email)),
            (Kind::Email, vec!["c@d.org".to_owned()])
        );
        assert_eq!(list.get(5), None);
        assert_eq!(list.get(0), None);
        assert_eq!(list.get(u64::MAX), None);
        assert_eq!(list.live(), 4);
        assert_eq!(list.live_of(Kind::Email), 2);
        assert_eq!(list.live_of(Kind::Ip), 0);
        assert_eq!(list.counts().created, 4);
    }

    #[test]
    fn update_keeps_the_record_and_changes_block_till() {
        let mut list = BlockList::new();
        contacts(&mut list, &[5, 6], TILL).expect("first block");
        assert_eq!(contacts(&mut list, &[7, 6], LATER), Ok(vec![3, 2]));
        let six = list.get(2).expect("record 2");
        assert_eq!((six.block_till, six.created_ms), (LATER_TEXT, NOW));
        assert_eq!(list.get(1).map(|r| r.block_till), Some(TILL_TEXT));
        assert_eq!(list.live(), 3);
        assert_eq!(list.counts().updated, 1);
        // A value repeated inside one request is one record.
        assert_eq!(contacts(&mut list, &[9, 9], TILL), Ok(vec![4, 4]));
    }

    #[test]
    fn reject_names_the_duplicate_and_changes_nothing() {
        let mut list = BlockList::new();
        contacts(&mut list, &[5], TILL).expect("first block");
        let reject = rules(OnDuplicate::Reject);
        let refused = list.block(Values::Contacts(&[8, 5]), LATER, NOW, &reject);
        assert_eq!(
            refused,
            Err(Duplicate {
                index: 1,
                value: "5".into(),
                record: Some(1),
                expired: false,
            })
        );
        assert_eq!(list.live(), 1);
        assert_eq!(list.get(1).map(|r| r.block_till), Some(TILL_TEXT));
        let repeated = list.block(Values::Contacts(&[8, 8]), TILL, NOW, &reject);
        assert_eq!(repeated.map_err(|d| (d.index, d.record)), Err((1, None)));
        let ip = texts(
            &mut list,
            Kind::Ip,
            &["10.0.0.1", "10.0.0.1"],
            TILL,
            &reject,
        );
        assert_eq!(ip.map_err(|d| d.value), Err("10.0.0.1".to_owned()));
        assert_eq!(list.live(), 1);
        // The next id is still 2: a refused request takes none.
        assert_eq!(contacts(&mut list, &[8], TILL), Ok(vec![2]));
    }

    #[test]
    fn same_string_of_different_kinds_are_different_records() {
        let mut list = BlockList::new();
        let reject = rules(OnDuplicate::Reject);
        let email = texts(&mut list, Kind::Email, &["x"], TILL, &reject);
        let ip = texts(&mut list, Kind::Ip, &["x"], TILL, &reject);
        assert_eq!((email, ip), (Ok(vec![1]), Ok(vec![2])));
    }

    #[test]
    fn delete_once_then_not_found_and_the_value_can_be_blocked_again() {
        let mut list = BlockList::new();
        let reject = rules(OnDuplicate::Reject);
        contacts(&mut list, &[5, 6], TILL).expect("block");
        assert!(list.delete(1));
        assert!(!list.delete(1));
        assert!(!list.delete(99));
        assert_eq!(list.get(1), None);
        assert_eq!((list.live(), list.counts().deleted), (1, 1));
        // Blocking 5 again makes a new record, even with Reject.
        assert_eq!(
            list.block(Values::Contacts(&[5]), TILL, NOW, &reject),
            Ok(vec![3])
        );
        texts(
            &mut list,
            Kind::Ip,
            &["::1"],
            TILL,
            &rules(OnDuplicate::Update),
        )
        .expect("ip");
        assert!(list.delete(4));
        assert_eq!(list.live_of(Kind::Ip), 0);
        assert_eq!(
            texts(&mut list, Kind::Ip, &["::1"], TILL, &reject),
            Ok(vec![5])
        );
    }

    #[test]
    fn pages_skip_deleted_records_and_count_the_live_ones() {
        let mut list = BlockList::new();
        let ids: Vec<u64> = (100..110).collect();
        contacts(&mut list, &ids, TILL).expect("block");
        for id in [2, 5, 6] {
            assert!(list.delete(id));
        }
        let ids_of = |page: &[RecordView<'_>]| page.iter().map(|r| r.id).collect::<Vec<_>>();
        let (total, first) = list.page(0, 3);
        assert_eq!((total, ids_of(&first)), (7, vec![1, 3, 4]));
        let (_, second) = list.page(3, 3);
        assert_eq!(ids_of(&second), [7, 8, 9]);
        let (_, last) = list.page(6, 3);
        assert_eq!(ids_of(&last), [10]);
        let (_, beyond) = list.page(50, 3);
        assert!(beyond.is_empty());
        let (_, huge) = list.page(usize::MAX, usize::MAX);
        assert!(huge.is_empty());
        // Compaction keeps get and delete working by id.
        assert_eq!(list.get(8).map(|r| r.blocked), Some(Blocked::Contact(107)));
        assert!(list.delete(8));
        assert_eq!(list.page(0, 100).0, 6);
    }

    #[test]
    fn options_keep_the_list_only_when_needed() {
        let plain = BlockListOptions::default();
        assert_eq!(plain.values_per_record, 1);
        assert!(!plain.keeps_list(false));
        assert!(plain.keeps_list(true));
        let needs: [BlockListOptions; 7] = [
            BlockListOptions {
                answer: AnswerMode::Records,
                ..plain.clone()
            },
            rules(OnDuplicate::Reject),
            rules(OnDuplicate::Add),
            BlockListOptions {
                on_expired_duplicate: Some(OnDuplicate::Add),
                ..plain.clone()
            },
            BlockListOptions {
                values_per_record: 2,
                ..plain.clone()
            },
            BlockListOptions {
                list_ignores_offset: true,
                ..plain.clone()
            },
            BlockListOptions {
                keep: true,
                ..plain.clone()
            },
        ];
        for options in needs {
            assert!(options.keeps_list(false), "{options:?}");
        }
        let expired_update = BlockListOptions {
            on_expired_duplicate: Some(OnDuplicate::Update),
            ..plain
        };
        assert!(!expired_update.keeps_list(false));
    }

    #[test]
    fn a_million_records_stay_compact() {
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        let mut list = BlockList::new();
        let ids: Vec<u64> = (1..=1_000_000).collect();
        contacts(&mut list, &ids, TILL).expect("block");
        assert_eq!(list.live(), 1_000_000);
        assert_eq!(list.tills.len(), 1);
        assert!(list.contacts.older.is_empty());
        let (total, page) = list.page(999_999, 10);
        assert_eq!((total, page.len()), (1_000_000, 1));
    }

    #[test]
    fn end_of_day_rounding_gives_the_docs_form() {
        // 2020-03-26T08:19:24.627Z, the docs' request, answered 2020-03-26T23:59:59.000Z.
        let sent = 1_585_210_764_627;
        let kept = TillRounding::EndOfDay.apply(sent);
        assert_eq!(format_ms(kept), "2020-03-26T23:59:59.000Z");
        assert_eq!(TillRounding::EndOfDay.apply(kept), kept);
        assert_eq!(TillRounding::None.apply(sent), sent);
        // Before 1970 too.
        assert_eq!(
            format_ms(TillRounding::EndOfDay.apply(-1)),
            "1969-12-31T23:59:59.000Z"
        );
    }

    #[test]
    fn expired_records_stay_listed_and_are_counted() {
        let mut list = BlockList::new();
        contacts(&mut list, &[1, 2], TILL).expect("block");
        contacts(&mut list, &[3], LATER).expect("block");
        assert_eq!(list.expired(NOW), 0);
        assert_eq!(list.expired(TILL - 1), 0);
        assert_eq!(
            list.expired(TILL),
            2,
            "blockTill has passed at that instant"
        );
        assert_eq!(list.expired(LATER + 1), 3);
        assert_eq!(list.page(0, 10).0, 3);
        assert!(
            list.get(1)
                .is_some_and(|r| r.expired(TILL) && !r.expired(NOW))
        );
        // Updating 2 to LATER moves it out of the expired count.
        contacts(&mut list, &[2], LATER).expect("update");
        assert_eq!(list.expired(TILL), 1);
        assert!(list.delete(1));
        assert_eq!(list.expired(TILL), 0);
    }

    /// One contact with an expired record (1) and one with a live record (2), at `now`.
    fn expired_and_live() -> (BlockList, i64) {
        let mut list = BlockList::new();
        list.insert(Values::Contacts(&[10]), TILL, NOW, OTHER_USER);
        list.insert(Values::Contacts(&[20]), LATER, NOW, OTHER_USER);
        (list, TILL + 1)
    }

    #[test]
    fn each_rule_applies_to_expired_and_to_live_records() {
        const NEW: i64 = LATER + 1_000;
        for rule in [OnDuplicate::Update, OnDuplicate::Reject, OnDuplicate::Add] {
            for value in [10, 20] {
                let options = rules(rule);
                let (mut list, now) = expired_and_live();
                let answer = list.block(Values::Contacts(&[value]), NEW, now, &options);
                let holding = list.records_holding(Kind::Contact, &value.to_string());
                let expired = value == 10;
                match rule {
                    OnDuplicate::Update => {
                        let old = if expired { 1 } else { 2 };
                        assert_eq!(answer, Ok(vec![old]));
                        assert_eq!(holding, [old]);
                        assert_eq!(list.get(old).map(|r| r.block_till_ms), Some(NEW));
                    }
                    OnDuplicate::Reject => {
                        let refused = answer.expect_err("refused");
                        assert_eq!((refused.expired, refused.index), (expired, 0));
                        assert_eq!(holding.len(), 1);
                    }
                    OnDuplicate::Add => {
                        assert_eq!(answer, Ok(vec![3]));
                        assert_eq!(holding.len(), 2, "the old record stays");
                        assert_eq!(list.get(3).map(|r| r.block_by), Some(BLOCK_BY));
                    }
                }
            }
        }
    }

    #[test]
    fn expired_records_can_have_their_own_rule() {
        let options = BlockListOptions {
            on_duplicate: OnDuplicate::Reject,
            on_expired_duplicate: Some(OnDuplicate::Add),
            ..BlockListOptions::default()
        };
        let (mut list, now) = expired_and_live();
        let live = list.block(Values::Contacts(&[20]), LATER, now, &options);
        assert_eq!(live.map_err(|d| d.record), Err(Some(2)));
        assert_eq!(
            list.block(Values::Contacts(&[10]), LATER, now, &options),
            Ok(vec![3])
        );
        // Now 10 has a live record (3): the rule for it is Reject again.
        let again = list.block(Values::Contacts(&[10]), LATER, now, &options);
        assert_eq!(
            again.map_err(|d| (d.record, d.expired)),
            Err((Some(3), false))
        );
    }

    #[test]
    fn values_per_record_groups_new_strings_and_update_reaches_the_whole_record() {
        let options = BlockListOptions {
            values_per_record: 2,
            ..BlockListOptions::default()
        };
        let mut list = BlockList::new();
        let emails = ["a@x.co", "b@x.co", "c@x.co", "a@x.co", "d@x.co", "e@x.co"];
        assert_eq!(
            texts(&mut list, Kind::Email, &emails, TILL, &options),
            Ok(vec![1, 1, 2, 1, 2, 3])
        );
        let first = list.get(1).expect("record 1");
        assert_eq!(strings(&first), ["a@x.co", "b@x.co"]);
        assert_eq!(list.live_of(Kind::Email), 3);
        // b is in record 1 with a, so blocking b again re-dates a too; f is new.
        assert_eq!(
            texts(
                &mut list,
                Kind::Email,
                &["f@x.co", "b@x.co"],
                LATER,
                &options
            ),
            Ok(vec![4, 1])
        );
        assert_eq!(list.get(1).map(|r| r.block_till_ms), Some(LATER));
        // Deleting record 2 unblocks both its strings, and only those.
        assert!(list.delete(2));
        assert!(list.records_holding(Kind::Email, "c@x.co").is_empty());
        assert!(list.records_holding(Kind::Email, "d@x.co").is_empty());
        assert_eq!(list.records_holding(Kind::Email, "a@x.co"), [1]);
        let whole = BlockListOptions {
            values_per_record: usize::MAX,
            ..BlockListOptions::default()
        };
        assert_eq!(
            texts(
                &mut list,
                Kind::Ip,
                &["10.0.0.1", "10.0.0.2", "10.0.0.3"],
                TILL,
                &whole
            ),
            Ok(vec![5, 5, 5])
        );
    }

    #[test]
    fn add_gives_strings_a_second_record_and_deleting_either_keeps_the_other() {
        let add = rules(OnDuplicate::Add);
        let mut list = BlockList::new();
        texts(&mut list, Kind::Email, &["a@x.co"], TILL, &add).expect("first");
        assert_eq!(
            texts(&mut list, Kind::Email, &["a@x.co"], LATER, &add),
            Ok(vec![2])
        );
        assert_eq!(list.records_holding(Kind::Email, "a@x.co"), [1, 2]);
        // The newest goes first: the value is still blocked by the older.
        assert!(list.delete(2));
        assert_eq!(list.records_holding(Kind::Email, "a@x.co"), [1]);
        assert_eq!(
            texts(&mut list, Kind::Email, &["a@x.co"], LATER, &add),
            Ok(vec![3])
        );
        assert!(list.delete_by_admin(1));
        assert_eq!(list.records_holding(Kind::Email, "a@x.co"), [3]);
        assert!(list.delete(3));
        assert!(list.records_holding(Kind::Email, "a@x.co").is_empty());
        assert!(list.by_text[1].older.is_empty() && list.by_text[1].newest.is_empty());
        assert_eq!((list.counts().deleted, list.counts().admin_deleted), (2, 1));
    }

    #[test]
    fn a_live_record_wins_over_a_newer_expired_one() {
        let mut list = BlockList::new();
        list.insert(Values::Contacts(&[7]), LATER, NOW, OTHER_USER);
        list.insert(Values::Contacts(&[7]), TILL, NOW, OTHER_USER);
        let now = TILL + 1;
        // Record 2 (newest) has expired; record 1 still holds: 7 counts as blocked.
        let refused = list.block(
            Values::Contacts(&[7]),
            LATER,
            now,
            &rules(OnDuplicate::Reject),
        );
        assert_eq!(
            refused.map_err(|d| (d.record, d.expired)),
            Err((Some(1), false))
        );
    }

    #[test]
    fn seeds_and_admin_changes_are_counted_apart_from_the_clients() {
        let mut list = BlockList::new();
        assert_eq!(
            list.insert(Values::Texts(Kind::Ip, &["10.0.0.1", "::1"]), TILL, NOW, 7),
            1
        );
        assert_eq!(
            list.insert(Values::Contacts(&[5]), TILL, NOW, OTHER_USER),
            2
        );
        contacts(&mut list, &[6], TILL).expect("block");
        assert_eq!(
            list.live_by_user(),
            &BTreeMap::from([(BLOCK_BY, 1), (OTHER_USER, 1), (7, 1)])
        );
        assert!(list.retime(2, NOW));
        assert!(!list.retime(99, NOW));
        assert_eq!(list.get(2).map(|r| r.block_till_ms), Some(NOW));
        assert_eq!(list.expired(NOW), 1);
        assert!(list.delete_by_admin(1));
        assert!(list.records_holding(Kind::Ip, "::1").is_empty());
        let counts = list.counts();
        assert_eq!(
            (
                counts.seeded,
                counts.created,
                counts.admin_retimed,
                counts.admin_deleted,
                counts.deleted
            ),
            (2, 1, 1, 1, 0)
        );
        assert_eq!(
            list.live_by_user(),
            &BTreeMap::from([(BLOCK_BY, 1), (OTHER_USER, 1)])
        );
        assert_eq!(list.views().map(|r| r.id).collect::<Vec<_>>(), [2, 3]);
    }
}
