//! Delete: `DELETE /crm/block-visitor?id={block record id}`, which unblocks the record's
//! contact. The id is the block record's, not the contact's. The answer is
//! `{"data": {"deleted": {..., "affected": N}}}`: 0 means nothing was deleted (the record
//! was gone already), which is "not blocked", not a failure; so is a 400 naming
//! `ERROR_RECORD_NOT_FOUND`. A DELETE is safe to retry.
//!
//! Contacts for which no record was found need no request: they travel as a `Delete`
//! without a record, so that their ledger line goes through the same collector, in order.

use std::sync::Arc;

use crate::api::{HttpCall, Operation, Step, common_step, http_parts};
use crate::client::{Answer, Client, MAX_BODY};

/// The documented error type for an unknown record.
pub const NOT_FOUND_ERROR: &str = "ERROR_RECORD_NOT_FOUND";

/// One block record to delete, or contacts with none.
#[derive(Clone, Debug, PartialEq)]
pub struct Delete {
    /// Sequence number within the run, from 1.
    pub seq: u64,
    /// The contact(s) it concerns: one for a record; several for `NoRecord`.
    pub contacts: Vec<u64>,
    pub what: DeleteWhat,
    /// Where the contacts came from, for the ledger's `source`.
    pub source: Arc<str>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeleteWhat {
    /// Delete this block record.
    Record(u64),
    /// The listing found no record for these contacts: not blocked, nothing to send.
    NoRecord,
    /// The listing could not be finished: whether these contacts have a record is not
    /// known; recorded failed (kind `not_listed`) so that `--resume` looks again.
    NotListed(Arc<str>),
}

/// What a DELETE's answer told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeleteDone {
    /// Records deleted: 1, or 0 when there was none (no request: 0 too).
    pub affected: u64,
}

impl Operation for Delete {
    type Request = HttpCall;
    type Done = DeleteDone;

    fn prepare(&self, client: &Client) -> HttpCall {
        let target = match self.what {
            DeleteWhat::Record(id) => Some(client.target("", &format!("id={id}"))),
            DeleteWhat::NoRecord | DeleteWhat::NotListed(_) => None,
        };
        HttpCall {
            method: hyper::Method::DELETE,
            target,
            body: bytes::Bytes::new(),
            max_body: MAX_BODY,
        }
    }

    fn http(request: &HttpCall) -> &HttpCall {
        request
    }

    fn judge(&self, answer: &Answer) -> Step<DeleteDone> {
        match http_parts(answer) {
            Some((200, body)) => match affected(body) {
                Some(affected) => Step::Done(DeleteDone { affected }),
                None => Step::Failed {
                    reason: format!(
                        "HTTP 200 without data.deleted.affected: {}",
                        crate::client::body_snippet(body)
                    ),
                    kind: Some("unrecognized_answer"),
                },
            },
            Some((400, body))
                if memchr::memmem::find(body, NOT_FOUND_ERROR.as_bytes()).is_some() =>
            {
                Step::Done(DeleteDone { affected: 0 })
            }
            _ => common_step(answer),
        }
    }

    fn without_request(&self) -> Option<Step<DeleteDone>> {
        match &self.what {
            DeleteWhat::Record(_) => None,
            DeleteWhat::NoRecord => Some(Step::Done(DeleteDone { affected: 0 })),
            DeleteWhat::NotListed(why) => Some(Step::Failed {
                reason: why.to_string(),
                kind: Some("not_listed"),
            }),
        }
    }

    fn size(&self) -> u64 {
        self.contacts.len() as u64
    }

    fn split(&self) -> (Delete, Delete) {
        (self.clone(), self.clone())
    }

    fn seq(&self) -> u64 {
        self.seq
    }
}

/// `data.deleted.affected` (a number, or a string of digits), when the body has it.
pub fn affected(body: &[u8]) -> Option<u64> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    match json.get("data")?.get("deleted")?.get("affected")? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
            advertised: None,
        }
    }

    fn delete() -> Delete {
        Delete {
            seq: 1,
            contacts: vec![827],
            what: DeleteWhat::Record(6),
            source: Arc::from("test"),
        }
    }

    #[test]
    fn affected_one_is_unblocked_and_zero_or_not_found_is_not_blocked() {
        let d = delete();
        let ok = r#"{"data":{"deleted":{"raw":{"affectedRows":1},"affected":1}}}"#;
        assert_eq!(
            d.judge(&http(200, ok)),
            Step::Done(DeleteDone { affected: 1 })
        );
        let none = r#"{"data":{"deleted":{"affected":0}}}"#;
        assert_eq!(
            d.judge(&http(200, none)),
            Step::Done(DeleteDone { affected: 0 })
        );
        let gone = r#"{"error":{"code":"ERROR_RECORD_NOT_FOUND","message":"no"}}"#;
        assert_eq!(
            d.judge(&http(400, gone)),
            Step::Done(DeleteDone { affected: 0 })
        );
    }

    #[test]
    fn other_answers_retry_refuse_abort_or_fail() {
        let d = delete();
        assert!(matches!(
            d.judge(&http(503, "")),
            Step::Retry {
                server_fault: true,
                ..
            }
        ));
        assert!(matches!(d.judge(&http(429, "")), Step::RateLimited { .. }));
        assert!(matches!(d.judge(&http(401, "")), Step::Abort { .. }));
        assert!(matches!(
            d.judge(&http(400, r#"{"error":"ERROR_INVALID_INPUT"}"#)),
            Step::Refused { .. }
        ));
        for body in [r#"{"data":true}"#, r#"{"data":{"deleted":{}}}"#, "<html>"] {
            assert!(
                matches!(
                    d.judge(&http(200, body)),
                    Step::Failed {
                        kind: Some("unrecognized_answer"),
                        ..
                    }
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn contacts_without_a_record_need_no_request() {
        let mut d = delete();
        assert_eq!(d.without_request(), None);
        d.what = DeleteWhat::NoRecord;
        assert_eq!(
            d.without_request(),
            Some(Step::Done(DeleteDone { affected: 0 }))
        );
        d.what = DeleteWhat::NotListed(Arc::from("the list repeated a page"));
        assert!(matches!(
            d.without_request(),
            Some(Step::Failed {
                kind: Some("not_listed"),
                ..
            })
        ));
    }
}
