//! The two kinds of ledger line, as serde types.
//!
//! Constraint kept here: the JSON shape is the product contract (README.md, "The
//! ledger"): the same keys in every line of a kind, `null` rather than a missing key,
//! timestamps with milliseconds and `Z`. A line's kind is decided by its `"status"`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::text_record::{TextRecord, parse_value_type};
use super::timestamp;
use crate::input::ValueType;

/// The outcome a ledger line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The endpoint answered that the batch's contacts are blocked.
    Blocked,
    /// The batch was given up on; `blockade retry` re-sends its IDs.
    Failed,
    /// The server refused this single ID with a 400 (after bisection): sending it again
    /// will not help, so `blockade retry` skips it unless `--include-refused`.
    Refused,
    /// An input row was not a valid contact ID; it was never sent.
    Rejected,
    /// A run's first line: which command ran against which target (`RunRecord`).
    Run,
    /// `unblock` deleted the contact's block record (`UnblockRecord`).
    Unblocked,
    /// `unblock` found no block record for the contact, or the server deleted nothing
    /// (`affected: 0`): the contact is not blocked.
    #[serde(rename = "not_blocked")]
    NotBlocked,
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
        }
    }
}

/// One sent batch and how it ended (`status` is `blocked`, `failed` or `refused`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub run: String,
    pub batch: u64,
    pub status: Status,
    pub ids: Vec<u64>,
    #[serde(with = "timestamp")]
    pub block_till: DateTime<Utc>,
    pub attempts: u32,
    /// `None` when no HTTP answer arrived (network error, timeout).
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(default)]
    pub error: Option<String>,
    /// What kind of failure, where the error text alone would not tell it apart
    /// (`unrecognized_answer`, `internal`, `unreachable`, ...). Only on failed lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The server's block record id for each of `ids` (aligned; `null` where the answer
    /// named none). Only when the server answered with block records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_ids: Option<Vec<Option<u64>>>,
    /// The server said these contacts were already blocked (a duplicate record).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
    /// Where the batch's rows came from: `path:first-last`.
    pub source: String,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub finished_at: DateTime<Utc>,
    pub ms: u64,
}

/// One input row that was not a valid contact ID (`status` is always `rejected`).
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

/// A run's first line: which command, against which target. `--resume`, `retry` and
/// `unblock --from-ledger` trust a run's lines only when its target is theirs, so that a
/// sandbox run never passes for a real one.
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

/// The `op` of every unblock line: it tells an unblock's `failed` line from a block's.
pub const UNBLOCK_OP: &str = "unblock";

/// One unblock request (the DELETE of one block record), or contacts for which no block
/// record was found (no request, `attempts` 0). `status` is `unblocked`, `not_blocked` or
/// `failed`; `op` is always `unblock`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnblockRecord {
    pub run: String,
    pub batch: u64,
    pub status: Status,
    pub op: String,
    /// The contacts.
    pub ids: Vec<u64>,
    /// The block record deleted (aligned with `ids`); `null` when none was found.
    pub block_ids: Option<Vec<Option<u64>>>,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Where the contacts came from (`retry of ...`, an input's `path:line`, `listing`).
    pub source: String,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub finished_at: DateTime<Utc>,
    pub ms: u64,
}

/// Any ledger line.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawRecord")]
pub enum Record {
    Batch(BatchRecord),
    Reject(RejectRecord),
    Run(RunRecord),
    Unblock(UnblockRecord),
    /// A block or unblock of emails or IPs (`"type"` is not contact).
    Text(TextRecord),
}

impl Record {
    pub fn status(&self) -> Status {
        match self {
            Record::Batch(batch) => batch.status,
            Record::Reject(reject) => reject.status,
            Record::Run(run) => run.status,
            Record::Unblock(unblock) => unblock.status,
            Record::Text(text) => text.status,
        }
    }

    /// Appends the line's JSON (without the newline) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }

    pub fn run(&self) -> &str {
        match self {
            Record::Batch(batch) => &batch.run,
            Record::Reject(reject) => &reject.run,
            Record::Run(run) => &run.run,
            Record::Unblock(unblock) => &unblock.run,
            Record::Text(text) => &text.run,
        }
    }
}

impl From<BatchRecord> for Record {
    fn from(batch: BatchRecord) -> Self {
        Record::Batch(batch)
    }
}

impl From<RejectRecord> for Record {
    fn from(reject: RejectRecord) -> Self {
        Record::Reject(reject)
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Record::Batch(batch) => batch.serialize(serializer),
            Record::Reject(reject) => reject.serialize(serializer),
            Record::Run(run) => run.serialize(serializer),
            Record::Unblock(unblock) => unblock.serialize(serializer),
            Record::Text(text) => text.serialize(serializer),
        }
    }
}

/// Every key either kind of line may carry. Parsing into this flat shape first (rather
/// than `#[serde(untagged)]`) keeps one pass over the line and lets the error say which
/// key a line of its status lacks. Unknown keys are ignored so that a newer blockade's
/// ledger still loads.
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
}

impl TryFrom<RawRecord> for Record {
    type Error = String;

    fn try_from(raw: RawRecord) -> Result<Self, Self::Error> {
        fn required<T>(value: Option<T>, key: &str, status: Status) -> Result<T, String> {
            value.ok_or_else(|| format!("a `{}` line lacks the key `{key}`", status.as_str()))
        }
        let status = raw.status;
        if status != Status::Run
            && status != Status::Rejected
            && let Some(value_type) = raw.value_type.clone()
            && value_type != "contact"
        {
            return text_record(raw, &value_type);
        }
        match status {
            Status::Run => Ok(Record::Run(RunRecord {
                run: raw.run,
                status,
                command: required(raw.command, "command", status)?,
                target: required(raw.target, "target", status)?,
                started_at: required(raw.started_at, "started_at", status)?,
                version: raw.version.unwrap_or_default(),
            })),
            Status::Unblocked | Status::NotBlocked => unblock_record(raw),
            Status::Failed if raw.op.as_deref() == Some(UNBLOCK_OP) => unblock_record(raw),
            Status::Blocked | Status::Failed | Status::Refused => Ok(Record::Batch(BatchRecord {
                run: raw.run,
                batch: required(raw.batch, "batch", status)?,
                status,
                ids: required(raw.ids, "ids", status)?.numbers()?,
                block_till: required(raw.block_till, "block_till", status)?,
                attempts: required(raw.attempts, "attempts", status)?,
                http_status: raw.http_status,
                error: raw.error,
                kind: raw.kind,
                block_ids: raw.block_ids,
                already: raw.already,
                started_at: required(raw.started_at, "started_at", status)?,
                finished_at: required(raw.finished_at, "finished_at", status)?,
                ms: required(raw.ms, "ms", status)?,
                source: required(raw.source, "source", status)?,
            })),
            Status::Rejected => Ok(Record::Reject(RejectRecord {
                run: raw.run,
                status,
                source: required(raw.source, "source", status)?,
                input: required(raw.input, "input", status)?,
                error: required(raw.error, "error", status)?,
            })),
        }
    }
}

/// A line of `"type": "email"` or `"ip"`.
fn text_record(raw: RawRecord, value_type: &str) -> Result<Record, String> {
    let status = raw.status;
    if parse_value_type(value_type).is_none_or(|known| known == ValueType::Contact) {
        return Err(format!(
            "a `{}` line has the unknown type {value_type:?}",
            status.as_str()
        ));
    }
    let required = |key: &str| {
        format!(
            "a `{}` {value_type} line lacks the key `{key}`",
            status.as_str()
        )
    };
    let op = raw.op.filter(|op| op == UNBLOCK_OP);
    if op.is_none() && raw.block_till.is_none() {
        return Err(required("block_till"));
    }
    Ok(Record::Text(TextRecord {
        run: raw.run,
        batch: raw.batch.ok_or_else(|| required("batch"))?,
        status,
        value_type: value_type.to_owned(),
        op,
        ids: raw.ids.ok_or_else(|| required("ids"))?.texts()?,
        block_till: raw.block_till,
        attempts: raw.attempts.ok_or_else(|| required("attempts"))?,
        http_status: raw.http_status,
        error: raw.error,
        kind: raw.kind,
        block_ids: raw.block_ids,
        already: raw.already,
        source: raw.source.ok_or_else(|| required("source"))?,
        started_at: raw.started_at.ok_or_else(|| required("started_at"))?,
        finished_at: raw.finished_at.ok_or_else(|| required("finished_at"))?,
        ms: raw.ms.ok_or_else(|| required("ms"))?,
    }))
}

/// A line's `ids`: contact IDs (numbers) or, on email and IP lines, strings. Read in one
/// pass: the first element says which.
enum RawIds {
    Numbers(Vec<u64>),
    Texts(Vec<String>),
}

impl RawIds {
    fn numbers(self) -> Result<Vec<u64>, String> {
        match self {
            RawIds::Numbers(ids) => Ok(ids),
            RawIds::Texts(_) => {
                Err("`ids` holds strings, but the line has no `type` email or ip".to_owned())
            }
        }
    }

    fn texts(self) -> Result<Vec<String>, String> {
        match self {
            RawIds::Texts(ids) => Ok(ids),
            RawIds::Numbers(ids) if ids.is_empty() => Ok(Vec::new()),
            RawIds::Numbers(_) => {
                Err("`ids` holds numbers, but the line's `type` is email or ip".to_owned())
            }
        }
    }
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
                Ok(RawIds::Texts(ids))
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

fn unblock_record(raw: RawRecord) -> Result<Record, String> {
    let status = raw.status;
    let required =
        |key: &str| format!("a `{}` unblock line lacks the key `{key}`", status.as_str());
    Ok(Record::Unblock(UnblockRecord {
        run: raw.run,
        batch: raw.batch.ok_or_else(|| required("batch"))?,
        status,
        op: UNBLOCK_OP.to_owned(),
        ids: raw.ids.ok_or_else(|| required("ids"))?.numbers()?,
        block_ids: raw.block_ids,
        attempts: raw.attempts.ok_or_else(|| required("attempts"))?,
        http_status: raw.http_status,
        error: raw.error,
        kind: raw.kind,
        source: raw.source.ok_or_else(|| required("source"))?,
        started_at: raw.started_at.ok_or_else(|| required("started_at"))?,
        finished_at: raw.finished_at.ok_or_else(|| required("finished_at"))?,
        ms: raw.ms.ok_or_else(|| required("ms"))?,
    }))
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

    pub(crate) fn batch(
        run: &str,
        status: Status,
        ids: &[u64],
        block_till: DateTime<Utc>,
    ) -> BatchRecord {
        BatchRecord {
            run: run.to_owned(),
            batch: 12,
            status,
            ids: ids.to_vec(),
            block_till,
            attempts: 1,
            http_status: Some(200),
            error: None,
            kind: None,
            block_ids: None,
            already: false,
            source: "lists/a.csv:1101-1200".to_owned(),
            started_at: at(0, 5),
            finished_at: at(0, 148),
            ms: 143,
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

    #[test]
    fn batch_line_has_the_contract_keys_and_timestamp_format() {
        let record = Record::Batch(batch("r1", Status::Blocked, &[827, 828], at(86_400, 658)));
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
        Record::Batch(record).write_json(&mut line).expect("writes");
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
        let line = serde_json::to_string(&Record::Batch(failed.clone())).expect("serializes");
        assert!(line.contains(r#""http_status":null"#), "{line}");
        let back: Record = serde_json::from_str(&line).expect("parses back");
        assert_eq!(back, Record::Batch(failed));
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
        let Record::Batch(record) = serde_json::from_str::<Record>(line).expect("parses") else {
            panic!("expected a batch line");
        };
        assert_eq!(
            timestamp::format(&record.block_till),
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
        let plain = serde_json::to_string(&Record::Batch(record.clone())).expect("serializes");
        for key in ["block_ids", "already", "kind"] {
            assert!(!plain.contains(key), "{plain}");
        }
        record.block_ids = Some(vec![Some(6), None]);
        record.already = true;
        let line = serde_json::to_string(&Record::Batch(record.clone())).expect("serializes");
        assert!(line.contains(r#""block_ids":[6,null]"#), "{line}");
        assert!(line.contains(r#""already":true"#), "{line}");
        assert_eq!(
            serde_json::from_str::<Record>(&line).expect("parses"),
            Record::Batch(record)
        );
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
}

#[cfg(test)]
mod unblock_tests {
    use super::tests::at;
    use super::*;

    pub(crate) fn unblock(status: Status, ids: &[u64], block_id: Option<u64>) -> UnblockRecord {
        UnblockRecord {
            run: "u1".to_owned(),
            batch: 3,
            status,
            op: UNBLOCK_OP.to_owned(),
            ids: ids.to_vec(),
            block_ids: block_id.map(|id| vec![Some(id)]),
            attempts: 1,
            http_status: Some(200),
            error: None,
            kind: None,
            source: "unblock of run r1 in results.jsonl".to_owned(),
            started_at: at(0, 5),
            finished_at: at(0, 9),
            ms: 4,
        }
    }

    #[test]
    fn unblock_lines_round_trip_and_their_failed_lines_are_told_apart() {
        for status in [Status::Unblocked, Status::NotBlocked, Status::Failed] {
            let record = Record::Unblock(unblock(status, &[827], Some(6)));
            let mut line = Vec::new();
            record.write_json(&mut line).expect("writes");
            let text = String::from_utf8(line).expect("utf-8");
            assert!(text.contains(r#""op":"unblock""#), "{text}");
            let back: Record = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, record, "{text}");
        }
        let line =
            serde_json::to_string(&Record::Unblock(unblock(Status::NotBlocked, &[1, 2], None)))
                .expect("serializes");
        assert!(line.contains(r#""status":"not_blocked""#), "{line}");
        assert!(line.contains(r#""block_ids":null"#), "{line}");
        // A block's failed line (no `op`) is still a batch line.
        let failed = line
            .replace(r#""status":"not_blocked""#, r#""status":"failed""#)
            .replace(r#","op":"unblock""#, "");
        assert!(
            serde_json::from_str::<Record>(&failed).is_err(),
            "no block_till"
        );
    }
}
