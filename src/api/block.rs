//! Block: `POST /crm/block-visitor` with a batch of values, and the reading of its answer.
//!
//! Both documented success answers mean blocked: `{"data": true}` (the customer page's;
//! checked first, without parsing) and `{"data": [block record, ...]}` (the settings
//! page's), whose records' ids go into the ledger's `block_ids`. `{"data": false}` is
//! retried. Any other 200 is failed at once (`unrecognized_answer`): re-sending a POST that
//! may have worked only creates more block records. A 400 bisects the batch; a single value
//! still refused is refused, and a single value answered `ERROR_DUPLICATE_RECORD_FOUND` is
//! blocked already.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::api::{
    HttpCall, Operation, Step, UNRECOGNIZED, body_snippet, common_step, names_duplicate,
    refusal_reason,
};
use crate::ledger::timestamp;
use crate::net::client::{Answer, Client, MAX_BODY};
use crate::values::{Batch, Kind};

/// What a block request's success tells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockDone {
    /// The server's block record id per value, when it answered with records.
    pub block_ids: Option<Vec<Option<u64>>>,
    /// The server said the batch's one value was already blocked.
    pub already: bool,
}

/// One block record from a records-form answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedRecord {
    /// The block record's id (what `DELETE /crm/block-visitor?id=` takes).
    pub block_id: u64,
    /// The contact the record blocks (`data.id`), when it names one.
    pub contact: Option<u64>,
    /// The strings an email or IP record blocks (`data: [strings]`), as the server wrote
    /// them.
    pub strings: Vec<String>,
}

/// What a 200 to a block request says.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockAnswer {
    /// `{"data": true}`, or `{"data": [records]}` (then `Some`).
    Blocked(Option<Vec<BlockedRecord>>),
    /// `{"data": false}`: not blocked, worth another attempt.
    NotBlocked,
    /// Neither documented form; the reason says what came.
    Unrecognized(String),
}

/// Reads a 200's body.
pub fn read_block_answer(body: &[u8]) -> BlockAnswer {
    // The common answer, checked without parsing or allocating.
    if body == br#"{"data":true}"# {
        return BlockAnswer::Blocked(None);
    }
    let snippet = || body_snippet(body);
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return BlockAnswer::Unrecognized(format!(
            "HTTP 200 with a body that is not JSON: {}",
            snippet()
        ));
    };
    match json.get("data") {
        Some(serde_json::Value::Bool(true)) => BlockAnswer::Blocked(None),
        Some(serde_json::Value::Bool(false)) => BlockAnswer::NotBlocked,
        Some(serde_json::Value::Array(records)) if !records.is_empty() => {
            match records.iter().map(block_record).collect::<Option<Vec<_>>>() {
                Some(records) => BlockAnswer::Blocked(Some(records)),
                None => BlockAnswer::Unrecognized(format!(
                    "HTTP 200 with records this client cannot read: {}",
                    snippet()
                )),
            }
        }
        _ => BlockAnswer::Unrecognized(format!(
            "HTTP 200 with an answer that is neither documented success form: {}",
            snippet()
        )),
    }
}

/// Most strings kept of one record (a hostile answer may hold millions).
const MAX_RECORD_STRINGS: usize = 10_000;

/// Reads one block record: its `id` must be a positive integer; `data.id` (a contact) or
/// `data: [strings]` (an email or IP record) is kept when it is one. Anything odd (huge
/// numbers, strings for ids) is not trusted.
fn block_record(record: &serde_json::Value) -> Option<BlockedRecord> {
    let block_id = positive_integer(record.get("id")?)?;
    let data = record.get("data");
    let contact = data
        .and_then(|data| data.get("id"))
        .and_then(positive_integer);
    let strings = data
        .and_then(serde_json::Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(serde_json::Value::as_str)
                .take(MAX_RECORD_STRINGS)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(BlockedRecord {
        block_id,
        contact,
        strings,
    })
}

fn positive_integer(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().filter(|&n| n > 0),
        serde_json::Value::String(s) => s.parse::<u64>().ok().filter(|&n| n > 0),
        _ => None,
    }
}

/// How the answer to a block request of `size` values reads, whatever the values are:
/// `align` turns a records answer into each value's block record id.
pub fn block_step(
    answer: &Answer,
    size: usize,
    align: impl FnOnce(Vec<BlockedRecord>) -> Option<Vec<Option<u64>>>,
) -> Step<BlockDone> {
    match answer {
        Answer::Http {
            status: 200, body, ..
        } => match read_block_answer(body) {
            BlockAnswer::Blocked(records) => Step::Done(BlockDone {
                block_ids: records.and_then(align),
                already: false,
            }),
            BlockAnswer::NotBlocked => Step::Retry {
                reason: format!("HTTP 200 but not blocked: {}", body_snippet(body)),
                server_fault: false,
            },
            BlockAnswer::Unrecognized(reason) => Step::Failed {
                reason,
                kind: Some(UNRECOGNIZED),
            },
        },
        Answer::Http {
            status: 400, body, ..
        } => {
            if size > 1 {
                Step::Split {
                    reason: refusal_reason(body, &body_snippet(body)),
                }
            } else if names_duplicate(body) {
                // One value the server says it already blocks: it is blocked, as asked.
                Step::Done(BlockDone {
                    block_ids: None,
                    already: true,
                })
            } else {
                Step::Refused {
                    reason: refusal_reason(body, &body_snippet(body)),
                }
            }
        }
        _ => common_step(answer),
    }
}

/// The request body, exactly as the API documents it
/// (`{"data":[…],"type":"contact","blockTill":"2021-09-09T07:08:12.658Z"}`), built once for
/// all its attempts. `values` is any serializable list (contact IDs, or strings).
pub fn block_body<V: serde::Serialize>(
    values: &[V],
    api_type: &str,
    block_till: &DateTime<Utc>,
) -> Bytes {
    let mut body = Vec::with_capacity(values.len() * 21 + 80);
    body.extend_from_slice(br#"{"data":"#);
    // A slice of numbers or strings serializes infallibly into a Vec<u8>.
    let _ = serde_json::to_writer(&mut body, values);
    body.extend_from_slice(br#","type":""#);
    body.extend_from_slice(api_type.as_bytes());
    body.extend_from_slice(br#"","blockTill":""#);
    // A timestamp in this form holds nothing JSON would escape.
    timestamp::write(&mut body, block_till);
    body.extend_from_slice(br#""}"#);
    Bytes::from(body)
}

/// Aligns a records answer with the values sent: each value takes the id of the record
/// that names it (a contact record's `data.id`; one of an email or IP record's strings,
/// in normal form: one record may hold several values). Records that name no value at all
/// are taken in request order when there is one per value; otherwise nothing is known.
pub fn align<K: Kind>(
    kind: K,
    values: &[K::Value],
    records: &[BlockedRecord],
) -> Option<Vec<Option<u64>>> {
    let named: std::collections::HashMap<K::Key, u64> = records
        .iter()
        .flat_map(|record| {
            kind.named_by(record.contact, &record.strings)
                .into_iter()
                .map(move |value| (K::key(&value), record.block_id))
        })
        .collect();
    if named.is_empty() {
        return (records.len() == values.len())
            .then(|| records.iter().map(|r| Some(r.block_id)).collect());
    }
    Some(
        values
            .iter()
            .map(|value| named.get(&K::key(value)).copied())
            .collect(),
    )
}

/// A block request, built once for all attempts.
pub struct PreparedBlock {
    call: HttpCall,
}

impl PreparedBlock {
    pub fn http(&self) -> &HttpCall {
        &self.call
    }

    pub fn new(body: Bytes) -> PreparedBlock {
        PreparedBlock {
            call: HttpCall {
                method: hyper::Method::POST,
                target: None,
                body,
                max_body: MAX_BODY,
            },
        }
    }
}

impl<K: Kind> Operation for Batch<K> {
    type Request = PreparedBlock;
    type Done = BlockDone;

    fn prepare(&self, _client: &Client) -> PreparedBlock {
        PreparedBlock::new(block_body(
            &self.values,
            self.kind.value_type().as_str(),
            &self.block_till,
        ))
    }

    fn http(request: &PreparedBlock) -> &HttpCall {
        &request.call
    }

    fn judge(&self, answer: &Answer) -> Step<BlockDone> {
        block_step(answer, self.values.len(), |records| {
            align(self.kind, &self.values, &records)
        })
    }

    fn size(&self) -> u64 {
        self.values.len() as u64
    }

    fn split(&self) -> (Batch<K>, Batch<K>) {
        Batch::split(self)
    }

    fn seq(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(body_status: u16, body: &str, size: usize) -> Step<BlockDone> {
        block_step(&Answer::of(body_status, body), size, |records| {
            Some(records.iter().map(|r| Some(r.block_id)).collect())
        })
    }

    #[test]
    fn body_is_exactly_the_documented_shape() {
        let till: DateTime<Utc> = "2021-09-09T07:08:12.658Z".parse().unwrap();
        let body = block_body(&[827u64, 828], "contact", &till);
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"data":[827,828],"type":"contact","blockTill":"2021-09-09T07:08:12.658Z"}"#
        );
        let whole_second: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let body = block_body(&[1u64], "contact", &whole_second);
        assert!(
            std::str::from_utf8(&body)
                .unwrap()
                .contains("\"2030-01-01T00:00:00.000Z\"")
        );
        let emails = block_body(&["a@b.com", "q\"uote@x.org"], "email", &till);
        assert_eq!(
            std::str::from_utf8(&emails).unwrap(),
            r#"{"data":["a@b.com","q\"uote@x.org"],"type":"email","blockTill":"2021-09-09T07:08:12.658Z"}"#
        );
    }

    #[test]
    fn both_documented_success_forms_are_blocked() {
        let blocked = Step::Done(BlockDone::default());
        assert_eq!(step(200, r#"{"data": true}"#, 2), blocked);
        assert_eq!(step(200, r#"{"data":true}"#, 2), blocked);
        // The settings page's answer: the created block records.
        let records = r#"{"data":[{"id":6,"data":{"id":827,"ip":null,"email":null,"phone":null},
            "type":"contact","blockTill":"2021-09-09T07:08:12.658Z","dateCreated":"2021-09-02T07:08:12.000Z","blockBy":1},
            {"id":7,"data":{"id":"828"},"type":"contact"}]}"#;
        let BlockAnswer::Blocked(Some(read)) = read_block_answer(records.as_bytes()) else {
            panic!()
        };
        assert_eq!(
            read.iter()
                .map(|r| (r.block_id, r.contact))
                .collect::<Vec<_>>(),
            [(6, Some(827)), (7, Some(828))]
        );
        let emails = r#"{"data":[{"id":9,"type":"email","data":["a@x.io","B@x.io"]}]}"#;
        let BlockAnswer::Blocked(Some(read)) = read_block_answer(emails.as_bytes()) else {
            panic!()
        };
        assert_eq!(read[0].strings, ["a@x.io", "B@x.io"]);
        assert!(matches!(
            step(500, r#"{"data":true}"#, 2),
            Step::Retry {
                server_fault: true,
                ..
            }
        ));
    }

    #[test]
    fn data_false_is_retried_and_unknown_200s_are_not() {
        assert!(matches!(
            step(200, r#"{"data": false}"#, 1),
            Step::Retry {
                server_fault: false,
                ..
            }
        ));
        for body in [
            r#"{"ok": 1}"#,
            r#"{"data": []}"#,
            r#"{"data": [{"id": -1}]}"#,
            r#"{"data": 1e999}"#,
            r#"{"data": [{"id": 99999999999999999999999}]}"#,
        ] {
            assert!(
                matches!(
                    step(200, body, 1),
                    Step::Failed {
                        kind: Some(UNRECOGNIZED),
                        ..
                    }
                ),
                "{body}"
            );
        }
        let Step::Failed { reason, .. } = step(200, "<html>", 1) else {
            panic!()
        };
        assert!(reason.contains("not JSON"));
    }

    #[test]
    fn a_refused_batch_is_bisected_and_a_single_duplicate_is_blocked_already() {
        let duplicate = r#"{"error":{"type":"ERROR_DUPLICATE_RECORD_FOUND","message":"exists"}}"#;
        let invalid = r#"{"error":"ERROR_INVALID_INPUT"}"#;
        assert!(matches!(step(400, duplicate, 2), Step::Split { .. }));
        assert!(matches!(step(400, invalid, 2), Step::Split { .. }));
        assert_eq!(
            step(400, duplicate, 1),
            Step::Done(BlockDone {
                block_ids: None,
                already: true
            })
        );
        assert!(matches!(step(400, invalid, 1), Step::Refused { .. }));
        assert!(matches!(step(401, "", 2), Step::Abort { .. }));
        assert!(matches!(step(429, "", 2), Step::RateLimited { .. }));
    }

    #[test]
    fn block_ids_align_with_the_values_each_record_names() {
        use crate::values::{Contact, Text, ValueType};
        let record = |contact, block_id, strings: &[&str]| BlockedRecord {
            contact,
            block_id,
            strings: strings.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert_eq!(
            align(
                Contact,
                &[1, 2, 3],
                &[record(Some(3), 30, &[]), record(Some(1), 10, &[])]
            ),
            Some(vec![Some(10), None, Some(30)])
        );
        assert_eq!(
            align(
                Contact,
                &[1, 2],
                &[record(None, 5, &[]), record(None, 6, &[])]
            ),
            Some(vec![Some(5), Some(6)])
        );
        assert_eq!(align(Contact, &[1, 2], &[record(None, 5, &[])]), None);
        // One email record holding both values (in another spelling) and a third.
        let email = Text::new(ValueType::Email).unwrap();
        let values = ["a@b.com".to_owned(), "c@d.com".to_owned()];
        assert_eq!(
            align(
                email,
                &values,
                &[record(None, 9, &["C@D.com", "a@b.com", "x@y.io"])]
            ),
            Some(vec![Some(9), Some(9)])
        );
    }
}
