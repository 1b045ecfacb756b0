//! The ledger's lines, as types: a run's first line ([`RunRecord`]), a bad input row
//! ([`RejectRecord`]), and the outcome of one request ([`OutcomeRecord`]: one type for
//! every operation and every kind of value).
//!
//! Constraint kept here: the JSON shape is the product contract (README.md, "The
//! ledger"): the same keys in every line of a kind, `null` rather than a missing key where
//! the contract says so, timestamps with milliseconds and `Z`, and the very bytes that
//! earlier versions wrote, so that a ledger's lines read the same whichever version wrote
//! them (`fixtures/ledgers/` holds ledgers of 0.1.0; a test re-writes each line and
//! compares). A line's kind is decided by its `"status"`.

use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use super::op::Op;
use super::timestamp;
use crate::values::{ValueType, Values};

/// The outcome a ledger line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The server answered that the values are blocked.
    Blocked,
    /// The request was given up on; `blockade retry` re-sends a block's values.
    Failed,
    /// The server refused this single value with a 400 (after bisection): sending it
    /// again will not help, so `blockade retry` skips it unless `--include-refused`.
    Refused,
    /// An input row was not a valid value; it was never sent.
    Rejected,
    /// A run's first line: which command ran against which target (`RunRecord`).
    Run,
    /// An unblock (or a sync's prune) deleted the value's block record.
    Unblocked,
    /// No block record was found for the value, or the server deleted nothing
    /// (`affected: 0`): the value is not blocked.
    #[serde(rename = "not_blocked")]
    NotBlocked,
    /// A sync gave the value a new, later blockTill (its block was about to end).
    Renewed,
    /// A 429 episode: every request of the run waited ([`PauseRecord`]). About no value.
    #[serde(rename = "rate_limited")]
    RateLimited,
    /// The run stopped early, and why ([`StopRecord`]). About no value.
    Stopped,
}

impl Status {
    /// The word the ledger uses for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Blocked => "blocked",
            Status::Failed => "failed",
            Status::Refused => "refused",
            Status::Rejected => "rejected",
            Status::Run => "run",
            Status::Unblocked => "unblocked",
            Status::NotBlocked => "not_blocked",
            Status::Renewed => "renewed",
            Status::RateLimited => "rate_limited",
            Status::Stopped => "stopped",
        }
    }
}

/// The outcome of one request (a block batch, the DELETE of one record), or of values
/// that needed no request (an unblock's values with no record: `attempts` 0).
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeRecord {
    pub run: String,
    pub batch: u64,
    /// Which operation: a block (`op` absent from the line), an unblock, a sync's write.
    pub op: Op,
    pub status: Status,
    /// `type` on the line, absent for contacts.
    pub value_type: ValueType,
    /// The values, in their normal form.
    pub ids: Values,
    /// The blockTill asked for (blocks); none on an unblock's line.
    pub block_till: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// `None` when no HTTP answer arrived (network error, timeout).
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// What kind of failure, where the error text alone would not tell it apart
    /// (`unrecognized_answer`, `internal`, `unreachable`, `not_listed`, ...).
    pub kind: Option<String>,
    /// The server's block record id for each of `ids` (aligned; `null` where the answer
    /// named none): from a block's records answer, or the record an unblock deleted.
    pub block_ids: Option<Vec<Option<u64>>>,
    /// The server said these values were already blocked (a duplicate record).
    pub already: bool,
    /// Values nobody asked about, blocked again (with their record's blockTill) because
    /// a record that also held them was deleted: an exact unblock's, a prune's or a
    /// renewal's. `unblock --from-ledger` leaves them alone, and `sync --prune` does not
    /// take them for values a sync blocked.
    pub reblocked: bool,
    /// Where the values came from: `path:first-last`, `retry of ...`, `unblock of ...`.
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub ms: u64,
}

impl OutcomeRecord {
    /// Whether the line blocks (it says until when): a block's and a retry's always; a
    /// sync's or an unblock's when it has a `block_till` (a sync's `blocked`, `renewed` or
    /// failed block; the block again of values a deleted record also held), not when it
    /// deletes (`unblocked`, `not_blocked`, a failed delete).
    pub fn blocks(&self) -> bool {
        self.op.line_blocks(self.block_till.is_some())
    }

    /// Contact unblock lines of 0.1.0 carry `block_ids` right after `ids`, always (`null`
    /// when no record was found); every other line carries it after `kind`, when known.
    fn legacy_block_ids(&self) -> bool {
        self.value_type == ValueType::Contact && self.op == Op::Unblock
    }
}

impl Serialize for OutcomeRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Stamp<'a>(&'a DateTime<Utc>);
        impl Serialize for Stamp<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                timestamp::serialize(self.0, serializer)
            }
        }
        let contact = self.value_type == ValueType::Contact;
        let legacy = self.legacy_block_ids();
        let mut line = serializer.serialize_struct("OutcomeRecord", 18)?;
        line.serialize_field("run", &self.run)?;
        line.serialize_field("batch", &self.batch)?;
        line.serialize_field("status", &self.status)?;
        if !contact {
            line.serialize_field("type", self.value_type.as_str())?;
        }
        if let Some(op) = self.op.ledger_op() {
            line.serialize_field("op", op)?;
        }
        line.serialize_field("ids", &self.ids)?;
        if let Some(till) = &self.block_till {
            line.serialize_field("block_till", &Stamp(till))?;
        }
        if legacy {
            line.serialize_field("block_ids", &self.block_ids)?;
        }
        line.serialize_field("attempts", &self.attempts)?;
        line.serialize_field("http_status", &self.http_status)?;
        line.serialize_field("error", &self.error)?;
        if let Some(kind) = &self.kind {
            line.serialize_field("kind", kind)?;
        }
        if !legacy && let Some(block_ids) = &self.block_ids {
            line.serialize_field("block_ids", block_ids)?;
        }
        if self.already {
            line.serialize_field("already", &true)?;
        }
        if self.reblocked {
            line.serialize_field("reblocked", &true)?;
        }
        line.serialize_field("source", &self.source)?;
        line.serialize_field("started_at", &Stamp(&self.started_at))?;
        line.serialize_field("finished_at", &Stamp(&self.finished_at))?;
        line.serialize_field("ms", &self.ms)?;
        line.end()
    }
}

/// One input row that was not a valid value (`status` is always `rejected`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectRecord {
    pub run: String,
    pub status: Status,
    /// Where the row came from: `path:line`.
    pub source: String,
    /// The offending input, as read.
    pub input: String,
    pub error: String,
}

/// A run's first line: which command, against which target. `--resume`, `retry`,
/// `verify` and `unblock --from-ledger` trust a run's lines only when its target is
/// theirs, so that a sandbox run never passes for a real one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: String,
    pub status: Status,
    pub command: String,
    /// `sandbox`, or the API base URL (`https://acme.acquire.io/api/v1`).
    pub target: String,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    /// The blockade version that wrote the run.
    pub version: String,
}

/// A 429 episode of a run: from `started_at` every request waited `wait_ms`; the gate then
/// took the server's limit for `admitted_per_s` and paced at `pace_per_s`. Written when
/// the run ends (a run killed mid-way leaves none); what reads values skips it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PauseRecord {
    pub run: String,
    pub status: Status,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    pub wait_ms: u64,
    pub admitted_per_s: f64,
    pub pace_per_s: f64,
    /// The 429 answers of the episode.
    pub answers: u64,
}

/// How a run stopped early: `reason` is the summary's `stopped_by` (`aborted`,
/// `interrupted`, `unreachable`, `max_wait`), `until` when the server asked to come back
/// (`max_wait`), `detail` the error that stopped it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopRecord {
    pub run: String,
    pub status: Status,
    pub reason: String,
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    #[serde(with = "timestamp::option")]
    pub until: Option<DateTime<Utc>>,
    pub detail: String,
}

/// Any ledger line.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawRecord")]
pub enum Record {
    Run(RunRecord),
    Reject(RejectRecord),
    Outcome(OutcomeRecord),
    Pause(PauseRecord),
    Stop(StopRecord),
}

impl Record {
    pub fn status(&self) -> Status {
        match self {
            Record::Run(run) => run.status,
            Record::Reject(reject) => reject.status,
            Record::Outcome(outcome) => outcome.status,
            Record::Pause(pause) => pause.status,
            Record::Stop(stop) => stop.status,
        }
    }

    /// Appends the line's JSON (without the newline) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }

    pub fn run(&self) -> &str {
        match self {
            Record::Run(run) => &run.run,
            Record::Reject(reject) => &reject.run,
            Record::Outcome(outcome) => &outcome.run,
            Record::Pause(pause) => &pause.run,
            Record::Stop(stop) => &stop.run,
        }
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Record::Run(run) => run.serialize(serializer),
            Record::Reject(reject) => reject.serialize(serializer),
            Record::Outcome(outcome) => outcome.serialize(serializer),
            Record::Pause(pause) => pause.serialize(serializer),
            Record::Stop(stop) => stop.serialize(serializer),
        }
    }
}

/// Every key any line may carry. Parsing into this flat shape first (rather than
/// `#[serde(untagged)]`) keeps one pass over the line and lets the error say which key a
/// line of its status lacks. Unknown keys are ignored so that a newer blockade's ledger
/// still loads.
#[derive(Deserialize)]
struct RawRecord {
    run: String,
    status: Status,
    #[serde(default)]
    source: Option<String>,
    batch: Option<u64>,
    ids: Option<RawIds>,
    /// `email` or `ip` on the lines of those types; absent (contact) otherwise.
    #[serde(default, rename = "type")]
    value_type: Option<String>,
    #[serde(default, with = "timestamp::option")]
    block_till: Option<DateTime<Utc>>,
    attempts: Option<u32>,
    http_status: Option<u16>,
    error: Option<String>,
    kind: Option<String>,
    block_ids: Option<Vec<Option<u64>>>,
    #[serde(default)]
    already: bool,
    #[serde(default)]
    reblocked: bool,
    input: Option<String>,
    op: Option<String>,
    command: Option<String>,
    target: Option<String>,
    version: Option<String>,
    #[serde(default, with = "timestamp::option")]
    started_at: Option<DateTime<Utc>>,
    #[serde(default, with = "timestamp::option")]
    finished_at: Option<DateTime<Utc>>,
    ms: Option<u64>,
    wait_ms: Option<u64>,
    admitted_per_s: Option<f64>,
    pace_per_s: Option<f64>,
    answers: Option<u64>,
    reason: Option<String>,
    #[serde(default, with = "timestamp::option")]
    at: Option<DateTime<Utc>>,
    #[serde(default, with = "timestamp::option")]
    until: Option<DateTime<Utc>>,
    detail: Option<String>,
}

impl TryFrom<RawRecord> for Record {
    type Error = String;

    fn try_from(raw: RawRecord) -> Result<Self, Self::Error> {
        let status = raw.status;
        let required = |key: &str| format!("a `{}` line lacks the key `{key}`", status.as_str());
        match status {
            Status::Run => Ok(Record::Run(RunRecord {
                run: raw.run,
                status,
                command: raw.command.ok_or_else(|| required("command"))?,
                target: raw.target.ok_or_else(|| required("target"))?,
                started_at: raw.started_at.ok_or_else(|| required("started_at"))?,
                version: raw.version.unwrap_or_default(),
            })),
            Status::Rejected => Ok(Record::Reject(RejectRecord {
                run: raw.run,
                status,
                source: raw.source.ok_or_else(|| required("source"))?,
                input: raw.input.ok_or_else(|| required("input"))?,
                error: raw.error.ok_or_else(|| required("error"))?,
            })),
            Status::RateLimited => Ok(Record::Pause(PauseRecord {
                run: raw.run,
                status,
                started_at: raw.started_at.ok_or_else(|| required("started_at"))?,
                wait_ms: raw.wait_ms.ok_or_else(|| required("wait_ms"))?,
                admitted_per_s: raw.admitted_per_s.unwrap_or_default(),
                pace_per_s: raw.pace_per_s.unwrap_or_default(),
                answers: raw.answers.unwrap_or(1),
            })),
            Status::Stopped => Ok(Record::Stop(StopRecord {
                run: raw.run,
                status,
                reason: raw.reason.ok_or_else(|| required("reason"))?,
                at: raw.at.ok_or_else(|| required("at"))?,
                until: raw.until,
                detail: raw.detail.unwrap_or_default(),
            })),
            _ => outcome(raw).map(Record::Outcome),
        }
    }
}

fn outcome(raw: RawRecord) -> Result<OutcomeRecord, String> {
    let status = raw.status;
    let value_type = match raw.value_type.as_deref() {
        None => ValueType::Contact,
        Some(text) => ValueType::parse(text)
            .ok_or_else(|| format!("a `{}` line has the unknown type {text:?}", status.as_str()))?,
    };
    let op = match raw.op.as_deref() {
        None => Op::Block,
        Some(text) => Op::from_ledger(text)
            .ok_or_else(|| format!("a `{}` line has the unknown op {text:?}", status.as_str()))?,
    };
    let what = match (value_type, op.ledger_op()) {
        (ValueType::Contact, None) => String::new(),
        (ValueType::Contact, Some(op)) => format!(" {op}"),
        (value_type, _) => format!(" {value_type}"),
    };
    let required = |key: &str| format!("a `{}`{what} line lacks the key `{key}`", status.as_str());
    // A line of a command whose lines always block says until when; an unblock's never does.
    if matches!(status, Status::Unblocked | Status::NotBlocked) && op == Op::Block {
        return Err(required("op"));
    }
    if op.line_blocks(false) && raw.block_till.is_none() {
        return Err(required("block_till"));
    }
    let ids = raw.ids.ok_or_else(|| required("ids"))?;
    let ids = match (value_type, ids) {
        (ValueType::Contact, RawIds::Strings(_)) => {
            return Err("`ids` holds strings, but the line has no `type` email or ip".to_owned());
        }
        (ValueType::Contact, RawIds::Numbers(ids)) => Values::Contacts(ids),
        (_, RawIds::Strings(values)) => Values::Strings(values),
        (_, RawIds::Numbers(ids)) if ids.is_empty() => Values::Strings(Vec::new()),
        (_, RawIds::Numbers(_)) => {
            return Err("`ids` holds numbers, but the line's `type` is email or ip".to_owned());
        }
    };
    Ok(OutcomeRecord {
        run: raw.run,
        batch: raw.batch.ok_or_else(|| required("batch"))?,
        op,
        status,
        value_type,
        ids,
        block_till: raw.block_till,
        attempts: raw.attempts.ok_or_else(|| required("attempts"))?,
        http_status: raw.http_status,
        error: raw.error,
        kind: raw.kind,
        block_ids: raw.block_ids,
        already: raw.already,
        reblocked: raw.reblocked,
        source: raw.source.ok_or_else(|| required("source"))?,
        started_at: raw.started_at.ok_or_else(|| required("started_at"))?,
        finished_at: raw.finished_at.ok_or_else(|| required("finished_at"))?,
        ms: raw.ms.ok_or_else(|| required("ms"))?,
    })
}

/// A line's `ids`: contact IDs (numbers) or, on email and IP lines, strings. Read in one
/// pass: the first element says which.
enum RawIds {
    Numbers(Vec<u64>),
    Strings(Vec<String>),
}

impl<'de> Deserialize<'de> for RawIds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RawIdsVisitor)
    }
}

struct RawIdsVisitor;

impl<'de> serde::de::Visitor<'de> for RawIdsVisitor {
    type Value = RawIds;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of contact IDs or of strings")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawIds, A::Error> {
        // Bounded: the line itself is capped by the reader.
        let room = seq.size_hint().unwrap_or(0).min(4096);
        match seq.next_element::<RawId>()? {
            None => Ok(RawIds::Numbers(Vec::new())),
            Some(RawId::Number(first)) => {
                let mut ids = Vec::with_capacity(room + 1);
                ids.push(first);
                while let Some(id) = seq.next_element::<u64>()? {
                    ids.push(id);
                }
                Ok(RawIds::Numbers(ids))
            }
            Some(RawId::Text(first)) => {
                let mut ids = Vec::with_capacity(room + 1);
                ids.push(first);
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(RawIds::Strings(ids))
            }
        }
    }
}

/// The first element of `ids`.
enum RawId {
    Number(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawIdVisitor;
        impl serde::de::Visitor<'_> for RawIdVisitor {
            type Value = RawId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a contact ID or a string")
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<RawId, E> {
                Ok(RawId::Number(value))
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<RawId, E> {
                Ok(RawId::Text(value.to_owned()))
            }
        }
        deserializer.deserialize_any(RawIdVisitor)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::Value;

    pub(crate) fn at(seconds: i64, millis: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_000_000 + seconds, millis * 1_000_000)
            .single()
            .expect("valid test instant")
    }

    /// A contact block line.
    pub(crate) fn batch(
        run: &str,
        status: Status,
        ids: &[u64],
        block_till: DateTime<Utc>,
    ) -> OutcomeRecord {
        OutcomeRecord {
            run: run.to_owned(),
            batch: 12,
            op: Op::Block,
            status,
            value_type: ValueType::Contact,
            ids: Values::Contacts(ids.to_vec()),
            block_till: Some(block_till),
            attempts: 1,
            http_status: Some(200),
            error: None,
            kind: None,
            block_ids: None,
            already: false,
            reblocked: false,
            source: "lists/a.csv:1101-1200".to_owned(),
            started_at: at(0, 5),
            finished_at: at(0, 148),
            ms: 143,
        }
    }

    /// A contact unblock line.
    pub(crate) fn unblock(status: Status, ids: &[u64], block_id: Option<u64>) -> OutcomeRecord {
        OutcomeRecord {
            run: "u1".to_owned(),
            batch: 3,
            op: Op::Unblock,
            status,
            value_type: ValueType::Contact,
            ids: Values::Contacts(ids.to_vec()),
            block_till: None,
            attempts: 1,
            http_status: Some(200),
            error: None,
            kind: None,
            block_ids: block_id.map(|id| vec![Some(id)]),
            already: false,
            reblocked: false,
            source: "unblock of run r1 in results.jsonl".to_owned(),
            started_at: at(0, 5),
            finished_at: at(0, 9),
            ms: 4,
        }
    }

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("a JSON object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Every line of the ledgers 0.1.0 wrote (blocks, refusals, duplicates, retries and
    /// unblocks of contacts, emails and IPs) reads, and writes back byte for byte.
    #[test]
    fn ledgers_of_0_1_read_and_write_back_byte_for_byte() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ledgers");
        let mut lines = 0;
        for entry in std::fs::read_dir(&dir).expect("fixtures/ledgers") {
            let path = entry.expect("a directory entry").path();
            let text = std::fs::read_to_string(&path).expect("a ledger");
            for line in text.lines() {
                let record: Record = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: {e}: {line}", path.display()));
                let mut again = Vec::new();
                record.write_json(&mut again).expect("writes");
                assert_eq!(
                    String::from_utf8(again).unwrap(),
                    line,
                    "{}",
                    path.display()
                );
                lines += 1;
            }
        }
        assert!(lines > 50, "{lines} lines");
    }

    #[test]
    fn batch_line_has_the_contract_keys_and_timestamp_format() {
        let record = Record::Outcome(batch("r1", Status::Blocked, &[827, 828], at(86_400, 658)));
        let line = serde_json::to_string(&record).expect("serializes");
        let value: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(
            keys(&value),
            [
                "attempts",
                "batch",
                "block_till",
                "error",
                "finished_at",
                "http_status",
                "ids",
                "ms",
                "run",
                "source",
                "started_at",
                "status"
            ]
        );
        assert_eq!(value["status"], "blocked");
        assert_eq!(value["block_till"], "2026-11-19T11:06:40.658Z");
        assert_eq!(value["started_at"], "2026-11-18T11:06:40.005Z");
        assert_eq!(value["error"], Value::Null);
        assert_eq!(value["ids"], serde_json::json!([827, 828]));
        let back: Record = serde_json::from_str(&line).expect("parses back");
        assert_eq!(back, record);
    }

    #[test]
    fn a_batch_line_is_written_byte_for_byte_in_the_contract_order() {
        let mut record = batch("r1", Status::Failed, &[827, u64::MAX], at(86_400, 658));
        record.error = Some("http 503 \"busy\"".to_owned());
        record.kind = Some("server_fault".to_owned());
        record.block_ids = Some(vec![Some(6), None]);
        let mut line = Vec::new();
        Record::Outcome(record)
            .write_json(&mut line)
            .expect("writes");
        assert_eq!(
            String::from_utf8(line).unwrap(),
            concat!(
                r#"{"run":"r1","batch":12,"status":"failed","ids":[827,18446744073709551615],"#,
                r#""block_till":"2026-11-19T11:06:40.658Z","attempts":1,"http_status":200,"#,
                r#""error":"http 503 \"busy\"","kind":"server_fault","block_ids":[6,null],"#,
                r#""source":"lists/a.csv:1101-1200","started_at":"2026-11-18T11:06:40.005Z","#,
                r#""finished_at":"2026-11-18T11:06:40.148Z","ms":143}"#
            )
        );
    }

    #[test]
    fn failed_line_without_http_answer_keeps_null_status() {
        let mut failed = batch("r1", Status::Failed, &[5], at(0, 0));
        failed.http_status = None;
        failed.error = Some("timeout after 30s".to_owned());
        let line = serde_json::to_string(&Record::Outcome(failed.clone())).expect("serializes");
        assert!(line.contains(r#""http_status":null"#), "{line}");
        let back: Record = serde_json::from_str(&line).expect("parses back");
        assert_eq!(back, Record::Outcome(failed));
    }

    #[test]
    fn reject_line_round_trips_with_the_contract_keys() {
        let record = Record::Reject(RejectRecord {
            run: "r1".to_owned(),
            status: Status::Rejected,
            source: "lists/a.csv:17".to_owned(),
            input: "abc".to_owned(),
            error: "not a positive integer".to_owned(),
        });
        let line = serde_json::to_string(&record).expect("serializes");
        let value: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(keys(&value), ["error", "input", "run", "source", "status"]);
        assert_eq!(value["status"], "rejected");
        assert_eq!(
            serde_json::from_str::<Record>(&line).expect("parses back"),
            record
        );
    }

    #[test]
    fn timestamps_with_an_offset_are_read_as_utc() {
        let line = r#"{"run":"r","batch":1,"status":"failed","ids":[1],"block_till":"2026-12-01T02:00:00.000+02:00",
            "attempts":5,"http_status":503,"error":"http 503","source":"a.csv:1-1",
            "started_at":"2026-11-24T14:20:01.000Z","finished_at":"2026-11-24T14:20:02.000Z","ms":1000}"#;
        let Record::Outcome(record) = serde_json::from_str::<Record>(line).expect("parses") else {
            panic!("expected an outcome line");
        };
        assert_eq!(
            timestamp::format(&record.block_till.unwrap()),
            "2026-12-01T00:00:00.000Z"
        );
    }

    #[test]
    fn a_batch_line_missing_ids_is_refused_with_the_key_named() {
        let line = r#"{"run":"r","batch":1,"status":"blocked","block_till":"2026-12-01T00:00:00.000Z",
            "attempts":1,"source":"a.csv:1-1","started_at":"2026-11-24T14:20:01.000Z",
            "finished_at":"2026-11-24T14:20:02.000Z","ms":1}"#;
        let error = serde_json::from_str::<Record>(line).expect_err("ids are required");
        assert!(error.to_string().contains("`ids`"), "{error}");
    }

    #[test]
    fn block_ids_already_and_kind_round_trip_and_are_absent_when_unset() {
        let mut record = batch("r1", Status::Blocked, &[827, 828], at(0, 0));
        let plain = serde_json::to_string(&Record::Outcome(record.clone())).expect("serializes");
        for key in ["block_ids", "already", "kind"] {
            assert!(!plain.contains(key), "{plain}");
        }
        record.block_ids = Some(vec![Some(6), None]);
        record.already = true;
        let line = serde_json::to_string(&Record::Outcome(record.clone())).expect("serializes");
        assert!(line.contains(r#""block_ids":[6,null]"#), "{line}");
        assert!(line.contains(r#""already":true"#), "{line}");
        assert_eq!(
            serde_json::from_str::<Record>(&line).expect("parses"),
            Record::Outcome(record)
        );
    }

    #[test]
    fn sync_lines_round_trip_and_say_whether_they_block() {
        let mut renewed = batch("r1", Status::Renewed, &[5], at(0, 0));
        renewed.op = Op::Sync;
        let line = serde_json::to_string(&Record::Outcome(renewed.clone())).expect("serializes");
        assert!(line.contains(r#""status":"renewed""#), "{line}");
        assert!(line.contains(r#""op":"sync""#), "{line}");
        assert!(!line.contains("reblocked"), "{line}");
        assert!(renewed.blocks());
        let mut reblocked = renewed.clone();
        reblocked.status = Status::Blocked;
        reblocked.reblocked = true;
        let again = serde_json::to_string(&Record::Outcome(reblocked.clone())).expect("serializes");
        assert!(again.contains(r#""reblocked":true"#), "{again}");
        for record in [renewed, reblocked] {
            let text = serde_json::to_string(&Record::Outcome(record.clone())).unwrap();
            assert_eq!(
                serde_json::from_str::<Record>(&text).expect("parses"),
                Record::Outcome(record)
            );
        }
        // A sync's (or an unblock's) delete says no block-till: it does not block.
        let mut deleted = unblock(Status::Unblocked, &[5], Some(3));
        deleted.op = Op::Sync;
        assert!(!deleted.blocks());
        let mut unblock_reblock = batch("r1", Status::Blocked, &[6], at(0, 0));
        unblock_reblock.op = Op::Unblock;
        assert!(unblock_reblock.blocks());
    }

    #[test]
    fn a_run_line_names_its_target_and_round_trips() {
        let record = Record::Run(RunRecord {
            run: "r1".to_owned(),
            status: Status::Run,
            command: "block".to_owned(),
            target: "sandbox".to_owned(),
            started_at: at(0, 0),
            version: "0.1.0".to_owned(),
        });
        let line = serde_json::to_string(&record).expect("serializes");
        let value: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(
            keys(&value),
            [
                "command",
                "run",
                "started_at",
                "status",
                "target",
                "version"
            ]
        );
        assert_eq!(value["status"], "run");
        assert_eq!(
            serde_json::from_str::<Record>(&line).expect("parses"),
            record
        );
    }

    #[test]
    fn an_unknown_status_is_refused() {
        let line = r#"{"run":"r","status":"pending","source":"a.csv:1","input":"1","error":"x"}"#;
        let error = serde_json::from_str::<Record>(line).expect_err("unknown status");
        assert!(error.to_string().contains("pending"), "{error}");
    }

    #[test]
    fn episode_and_stop_lines_round_trip_byte_for_byte() {
        for text in [
            r#"{"run":"r1","status":"rate_limited","started_at":"2026-12-05T03:00:00.250Z","wait_ms":1000,"admitted_per_s":49.5,"pace_per_s":44.55,"answers":3}"#,
            r#"{"run":"r1","status":"stopped","reason":"max_wait","at":"2026-12-05T03:00:01.000Z","until":"2026-12-05T04:00:01.000Z","detail":"HTTP 429"}"#,
            r#"{"run":"r1","status":"stopped","reason":"interrupted","at":"2026-12-05T03:00:01.000Z","until":null,"detail":""}"#,
        ] {
            let record: Record = serde_json::from_str(text).expect(text);
            assert!(
                matches!(record, Record::Pause(_) | Record::Stop(_)),
                "{text}"
            );
            assert_eq!(serde_json::to_string(&record).unwrap(), text);
        }
        let no_wait =
            r#"{"run":"r1","status":"rate_limited","started_at":"2026-12-05T03:00:00.250Z"}"#;
        let error = serde_json::from_str::<Record>(no_wait).unwrap_err();
        assert!(error.to_string().contains("`wait_ms`"), "{error}");
    }

    #[test]
    fn unblock_lines_round_trip_and_their_failed_lines_are_told_apart() {
        for status in [Status::Unblocked, Status::NotBlocked, Status::Failed] {
            let record = Record::Outcome(unblock(status, &[827], Some(6)));
            let mut line = Vec::new();
            record.write_json(&mut line).expect("writes");
            let text = String::from_utf8(line).expect("utf-8");
            assert!(text.contains(r#""op":"unblock""#), "{text}");
            let back: Record = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, record, "{text}");
        }
        let line =
            serde_json::to_string(&Record::Outcome(unblock(Status::NotBlocked, &[1, 2], None)))
                .expect("serializes");
        assert!(line.contains(r#""status":"not_blocked""#), "{line}");
        assert!(line.contains(r#""block_ids":null"#), "{line}");
        // A block's failed line (no `op`) needs its block_till.
        let failed = line
            .replace(r#""status":"not_blocked""#, r#""status":"failed""#)
            .replace(r#","op":"unblock""#, "");
        assert!(
            serde_json::from_str::<Record>(&failed).is_err(),
            "no block_till"
        );
    }

    #[test]
    fn lines_of_another_type_carry_type_and_strings() {
        let mut record = batch("r1", Status::Blocked, &[], at(0, 0));
        record.value_type = ValueType::Ip;
        record.ids = Values::Strings(vec!["10.0.0.1".into()]);
        record.block_ids = Some(vec![Some(4)]);
        let line = serde_json::to_string(&Record::Outcome(record.clone())).unwrap();
        assert!(
            line.starts_with(
                r#"{"run":"r1","batch":12,"status":"blocked","type":"ip","ids":["10.0.0.1"],"block_till""#
            ),
            "{line}"
        );
        assert_eq!(
            serde_json::from_str::<Record>(&line).unwrap(),
            Record::Outcome(record)
        );
        let strings_without_type = line.replace(r#""type":"ip","#, "");
        assert!(serde_json::from_str::<Record>(&strings_without_type).is_err());
        let unknown = line.replace(r#""type":"ip""#, r#""type":"fax""#);
        let error = serde_json::from_str::<Record>(&unknown).unwrap_err();
        assert!(error.to_string().contains("fax"), "{error}");
    }
}
