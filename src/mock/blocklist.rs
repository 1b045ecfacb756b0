//! The imitation's block list: the records `POST /crm/block-visitor` creates and the
//! list, get and delete calls read, as Acquire's settings → security → block visitor
//! pages describe them.
//!
//! Constraint: benches push millions of IDs through the imitation, so a record is a
//! 32-byte struct (contact ID or string index, interned `blockTill`, creation time in
//! milliseconds) in a `Vec` sorted by record id; strings (emails, IPs, `blockTill`
//! values) are stored once per distinct value. Deleting leaves a tombstone that the next
//! listing compacts away, so a run of deletes costs O(1) each and paging stays O(page).
//! The list is only kept when asked for (see [`BlockListOptions::keeps_list`]): 1M contact
//! records take about 68 MB (measured).

use std::collections::HashMap;

/// What the block list and the block answers imitate; part of [`super::Faults`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockListOptions {
    /// Keep the block list even when the answers do not need it (so that list, get
    /// and delete work).
    pub keep: bool,
    /// What a successful block answers.
    pub answer: AnswerMode,
    /// What blocking an already blocked value does.
    pub on_duplicate: OnDuplicate,
    /// The list call always answers the first page, whatever `offset` asks (a fault;
    /// keeps the list).
    pub list_ignores_offset: bool,
}

impl BlockListOptions {
    /// True when the imitation must keep records: asked for, or needed by an answer.
    pub fn keeps_list(&self, record_ids: bool) -> bool {
        record_ids
            || self.keep
            || self.answer == AnswerMode::Records
            || self.on_duplicate != OnDuplicate::Update
            || self.list_ignores_offset
    }
}

/// The two success answers the docs show for a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AnswerMode {
    /// `{"data": true}` (the customer page).
    #[default]
    True,
    /// `{"data": [block record, ...]}`, one per value sent, in request order (the settings page).
    Records,
}

/// Blocking a value that already has a live record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnDuplicate {
    /// Give the existing record the new `blockTill` and answer as if it were created.
    #[default]
    Update,
    /// 400 `ERROR_DUPLICATE_RECORD_FOUND` naming the value; nothing in the request is kept.
    #[value(name = "400")]
    Reject,
    /// Create another record for a contact already blocked (it then has two records, as
    /// an account blocked twice by hand may); `unblock` must delete both. Emails and IPs
    /// are updated.
    Add,
}

/// The three block types the API knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Contact,
    Email,
    Ip,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Contact, Kind::Email, Kind::Ip];

    /// The `type` string of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contact => "contact",
            Kind::Email => "email",
            Kind::Ip => "ip",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
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
    Text(&'a str),
}

/// One record, borrowed from the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub id: u64,
    pub kind: Kind,
    pub blocked: Blocked<'a>,
    pub block_till: &'a str,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The user who blocked it: the imitation's one API user.
    pub block_by: u32,
}

/// The user id every record is blocked by: the API key's user.
pub const BLOCK_BY: u32 = 1;

/// Refused because one of the values is already blocked (with `OnDuplicate::Reject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// Position of the value in the request's `data` array.
    pub index: usize,
    /// The value as the API prints it (`827`, `a@b.co`).
    pub value: String,
    /// The record that already blocks it; `None` when it repeats an earlier value of the
    /// same request.
    pub record: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The contact ID, or an index into `texts`.
    value: u64,
    created_ms: i64,
    /// Record id, from 1 upward (u32: four billion records is beyond any test).
    id: u32,
    /// Index into `tills`.
    till: u32,
    kind: Kind,
    live: bool,
}

/// The records, in id order.
#[derive(Default)]
pub struct BlockList {
    slots: Vec<Slot>,
    next_id: u32,
    /// Slots in `slots` that are deleted but not yet compacted away.
    tombstones: usize,
    contacts: HashMap<u64, u32>,
    /// Per string kind (email, ip): value -> record id.
    by_text: [HashMap<Box<str>, u32>; 2],
    texts: Vec<Box<str>>,
    tills: Vec<Box<str>>,
    till_index: HashMap<Box<str>, u32>,
    live_by_kind: [u64; 3],
    deleted: u64,
}

impl BlockList {
    pub fn new() -> Self {
        BlockList::default()
    }

    /// Blocks every value until `block_till`, creating records (ids in request order)
    /// or, for a value already blocked, per `on_duplicate`. Returns each value's record
    /// id, aligned with `values`. On `Err` nothing was changed.
    pub fn block(
        &mut self,
        values: Values<'_>,
        block_till: &str,
        created_ms: i64,
        on_duplicate: OnDuplicate,
    ) -> Result<Vec<u64>, Duplicate> {
        if on_duplicate == OnDuplicate::Reject {
            self.check(values)?;
        }
        let till = self.intern_till(block_till);
        let mut ids = Vec::with_capacity(match values {
            Values::Contacts(contacts) => contacts.len(),
            Values::Texts(_, texts) => texts.len(),
        });
        match values {
            Values::Contacts(contacts) => {
                for &contact in contacts {
                    let existing = self.contacts.get(&contact).copied();
                    let id = match existing {
                        Some(id) if on_duplicate != OnDuplicate::Add => self.update_till(id, till),
                        Some(_) => {
                            let id = self.push(Kind::Contact, contact, till, created_ms);
                            self.contacts.insert(contact, id);
                            id
                        }
                        None => {
                            let id = self.push(Kind::Contact, contact, till, created_ms);
                            self.contacts.insert(contact, id);
                            id
                        }
                    };
                    ids.push(u64::from(id));
                }
            }
            Values::Texts(kind, texts) => {
                for &text in texts {
                    let existing = self.text_map(kind).get(text).copied();
                    let id = match existing {
                        Some(id) => self.update_till(id, till),
                        None => {
                            let index = self.texts.len() as u64;
                            self.texts.push(text.into());
                            let id = self.push(kind, index, till, created_ms);
                            self.text_map_mut(kind).insert(text.into(), id);
                            id
                        }
                    };
                    ids.push(u64::from(id));
                }
            }
        }
        Ok(ids)
    }

    /// The first value already blocked or repeated in `values`, if any.
    pub fn check(&self, values: Values<'_>) -> Result<(), Duplicate> {
        match values {
            Values::Contacts(contacts) => {
                let mut seen = std::collections::HashSet::with_capacity(contacts.len());
                for (index, &contact) in contacts.iter().enumerate() {
                    let record = self.contacts.get(&contact).map(|&id| u64::from(id));
                    if record.is_some() || !seen.insert(contact) {
                        return Err(Duplicate {
                            index,
                            value: contact.to_string(),
                            record,
                        });
                    }
                }
            }
            Values::Texts(kind, texts) => {
                let mut seen = std::collections::HashSet::with_capacity(texts.len());
                for (index, &text) in texts.iter().enumerate() {
                    let record = self.text_map(kind).get(text).map(|&id| u64::from(id));
                    if record.is_some() || !seen.insert(text) {
                        return Err(Duplicate {
                            index,
                            value: text.to_owned(),
                            record,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn text_map(&self, kind: Kind) -> &HashMap<Box<str>, u32> {
        &self.by_text[usize::from(kind == Kind::Ip)]
    }

    fn text_map_mut(&mut self, kind: Kind) -> &mut HashMap<Box<str>, u32> {
        &mut self.by_text[usize::from(kind == Kind::Ip)]
    }

    fn intern_till(&mut self, block_till: &str) -> u32 {
        if let Some(&index) = self.till_index.get(block_till) {
            return index;
        }
        let index = u32::try_from(self.tills.len()).unwrap_or(u32::MAX);
        self.tills.push(block_till.into());
        self.till_index.insert(block_till.into(), index);
        index
    }

    fn push(&mut self, kind: Kind, value: u64, till: u32, created_ms: i64) -> u32 {
        self.next_id = self.next_id.saturating_add(1);
        self.slots.push(Slot {
            value,
            created_ms,
            id: self.next_id,
            till,
            kind,
            live: true,
        });
        self.live_by_kind[kind.index()] += 1;
        self.next_id
    }

    fn update_till(&mut self, id: u32, till: u32) -> u32 {
        if let Some(position) = self.position(u64::from(id)) {
            self.slots[position].till = till;
        }
        id
    }

    /// Where the live record `id` is in `slots`.
    fn position(&self, id: u64) -> Option<usize> {
        let id = u32::try_from(id).ok()?;
        let position = self.slots.binary_search_by_key(&id, |slot| slot.id).ok()?;
        self.slots[position].live.then_some(position)
    }

    fn view(&self, slot: &Slot) -> RecordView<'_> {
        let blocked = match slot.kind {
            Kind::Contact => Blocked::Contact(slot.value),
            Kind::Email | Kind::Ip => Blocked::Text(
                usize::try_from(slot.value)
                    .ok()
                    .and_then(|index| self.texts.get(index))
                    .map_or("", |text| text),
            ),
        };
        RecordView {
            id: u64::from(slot.id),
            kind: slot.kind,
            blocked,
            block_till: self.tills.get(slot.till as usize).map_or("", |till| till),
            created_ms: slot.created_ms,
            block_by: BLOCK_BY,
        }
    }

    /// The live record `id`.
    pub fn get(&self, id: u64) -> Option<RecordView<'_>> {
        self.position(id)
            .map(|position| self.view(&self.slots[position]))
    }

    /// Deletes record `id` (unblocks its value); false when there is no such live record.
    pub fn delete(&mut self, id: u64) -> bool {
        let Some(position) = self.position(id) else {
            return false;
        };
        let slot = &mut self.slots[position];
        slot.live = false;
        let (kind, value) = (slot.kind, slot.value);
        self.live_by_kind[kind.index()] -= 1;
        self.tombstones += 1;
        self.deleted += 1;
        match kind {
            Kind::Contact => {
                // With `OnDuplicate::Add` the map names the newest of several records.
                if self.contacts.get(&value).copied() == u32::try_from(id).ok() {
                    self.contacts.remove(&value);
                }
            }
            Kind::Email | Kind::Ip => {
                // The string stays in `texts` (a later record may not reuse its index).
                let text = usize::try_from(value)
                    .ok()
                    .and_then(|index| self.texts.get(index))
                    .cloned();
                if let Some(text) = text {
                    self.text_map_mut(kind).remove(&text);
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

    /// Live records in all.
    pub fn live(&self) -> u64 {
        self.live_by_kind.iter().sum()
    }

    /// Live records of one kind.
    pub fn live_of(&self, kind: Kind) -> u64 {
        self.live_by_kind[kind.index()]
    }

    /// Records deleted so far.
    pub fn deleted(&self) -> u64 {
        self.deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TILL: &str = "2030-01-01T00:00:00.000Z";
    const LATER: &str = "2031-01-01T00:00:00.000Z";

    fn contacts(list: &mut BlockList, ids: &[u64], till: &str) -> Result<Vec<u64>, Duplicate> {
        list.block(Values::Contacts(ids), till, 1_000, OnDuplicate::Update)
    }

    #[test]
    fn ids_are_assigned_from_one_in_request_order() {
        let mut list = BlockList::new();
        assert_eq!(contacts(&mut list, &[827, 828], TILL), Ok(vec![1, 2]));
        assert_eq!(
            list.block(
                Values::Texts(Kind::Email, &["a@b.co", "c@d.org"]),
                TILL,
                2_000,
                OnDuplicate::Update
            ),
            Ok(vec![3, 4])
        );
        let record = list.get(2).expect("record 2");
        assert_eq!(record.blocked, Blocked::Contact(828));
        assert_eq!(record.kind, Kind::Contact);
        assert_eq!(record.block_till, TILL);
        assert_eq!(record.created_ms, 1_000);
        assert_eq!(record.block_by, BLOCK_BY);
        let email = list.get(4).expect("record 4");
        assert_eq!(
            (email.kind, email.blocked, email.created_ms),
            (Kind::Email, Blocked::Text("c@d.org"), 2_000)
        );
        assert_eq!(list.get(5), None);
        assert_eq!(list.get(0), None);
        assert_eq!(list.get(u64::MAX), None);
        assert_eq!(list.live(), 4);
        assert_eq!(list.live_of(Kind::Email), 2);
        assert_eq!(list.live_of(Kind::Ip), 0);
    }

    #[test]
    fn update_keeps_the_record_and_changes_block_till() {
        let mut list = BlockList::new();
        contacts(&mut list, &[5, 6], TILL).expect("first block");
        assert_eq!(contacts(&mut list, &[7, 6], LATER), Ok(vec![3, 2]));
        let six = list.get(2).expect("record 2");
        assert_eq!((six.block_till, six.created_ms), (LATER, 1_000));
        assert_eq!(list.get(1).map(|r| r.block_till), Some(TILL));
        assert_eq!(list.live(), 3);
        // A value repeated inside one request is one record.
        assert_eq!(contacts(&mut list, &[9, 9], TILL), Ok(vec![4, 4]));
    }

    #[test]
    fn reject_names_the_duplicate_and_changes_nothing() {
        let mut list = BlockList::new();
        contacts(&mut list, &[5], TILL).expect("first block");
        let refused = list.block(Values::Contacts(&[8, 5]), LATER, 0, OnDuplicate::Reject);
        assert_eq!(
            refused,
            Err(Duplicate {
                index: 1,
                value: "5".into(),
                record: Some(1)
            })
        );
        assert_eq!(list.live(), 1);
        assert_eq!(list.get(1).map(|r| r.block_till), Some(TILL));
        let repeated = list.block(Values::Contacts(&[8, 8]), TILL, 0, OnDuplicate::Reject);
        assert_eq!(repeated.map_err(|d| (d.index, d.record)), Err((1, None)));
        let ip = list.block(
            Values::Texts(Kind::Ip, &["10.0.0.1", "10.0.0.1"]),
            TILL,
            0,
            OnDuplicate::Reject,
        );
        assert_eq!(ip.map_err(|d| d.value), Err("10.0.0.1".to_owned()));
        assert_eq!(list.live(), 1);
        // The next id is still 2: a refused request takes none.
        assert_eq!(contacts(&mut list, &[8], TILL), Ok(vec![2]));
    }

    #[test]
    fn same_string_of_different_kinds_are_different_records() {
        let mut list = BlockList::new();
        let one = ["x"];
        let email = list.block(
            Values::Texts(Kind::Email, &one),
            TILL,
            0,
            OnDuplicate::Reject,
        );
        let ip = list.block(Values::Texts(Kind::Ip, &one), TILL, 0, OnDuplicate::Reject);
        assert_eq!((email, ip), (Ok(vec![1]), Ok(vec![2])));
    }

    #[test]
    fn delete_once_then_not_found_and_the_value_can_be_blocked_again() {
        let mut list = BlockList::new();
        contacts(&mut list, &[5, 6], TILL).expect("block");
        assert!(list.delete(1));
        assert!(!list.delete(1));
        assert!(!list.delete(99));
        assert_eq!(list.get(1), None);
        assert_eq!((list.live(), list.deleted()), (1, 1));
        // Blocking 5 again makes a new record, even with Reject.
        assert_eq!(
            list.block(Values::Contacts(&[5]), TILL, 0, OnDuplicate::Reject),
            Ok(vec![3])
        );
        list.block(
            Values::Texts(Kind::Ip, &["::1"]),
            TILL,
            0,
            OnDuplicate::Update,
        )
        .expect("ip");
        assert!(list.delete(4));
        assert_eq!(list.live_of(Kind::Ip), 0);
        assert_eq!(
            list.block(
                Values::Texts(Kind::Ip, &["::1"]),
                TILL,
                0,
                OnDuplicate::Reject
            ),
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
        assert!(!plain.keeps_list(false));
        assert!(plain.keeps_list(true));
        let records = BlockListOptions {
            answer: AnswerMode::Records,
            ..plain.clone()
        };
        assert!(records.keeps_list(false));
        let reject = BlockListOptions {
            on_duplicate: OnDuplicate::Reject,
            ..plain.clone()
        };
        assert!(reject.keeps_list(false));
        let ignores = BlockListOptions {
            list_ignores_offset: true,
            ..plain.clone()
        };
        assert!(ignores.keeps_list(false));
        let keep = BlockListOptions {
            keep: true,
            ..plain
        };
        assert!(keep.keeps_list(false));
    }

    #[test]
    fn a_million_records_stay_compact() {
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        let mut list = BlockList::new();
        let ids: Vec<u64> = (1..=1_000_000).collect();
        contacts(&mut list, &ids, TILL).expect("block");
        assert_eq!(list.live(), 1_000_000);
        assert_eq!(list.tills.len(), 1);
        let (total, page) = list.page(999_999, 10);
        assert_eq!((total, page.len()), (1_000_000, 1));
    }
}
