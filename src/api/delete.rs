//! Delete: `DELETE /crm/block-visitor?id=N`, one block record, for unblock and sync. A
//! record may hold several values (an email or IP record's strings): deleting it unblocks
//! them all, so the operation carries every value the record holds (`job/apply/` blocks
//! again at once those that were not asked for). Values for which no record was
//! found need no request: they are `not_blocked` (or `failed`, kind `not_listed`, when the
//! list could not be read to its end).

use std::sync::Arc;

use crate::api::{HttpCall, Operation, Step, UNRECOGNIZED, body_snippet, common_step, http_parts};
use crate::net::client::{Answer, Client, MAX_BODY};
use crate::values::Kind;

/// The API's documented error for a record that is not there (deleted already).
pub const NOT_FOUND_ERROR: &str = "ERROR_RECORD_NOT_FOUND";

/// One record to delete (with the values it holds), or values with no record.
#[derive(Clone, Debug, PartialEq)]
pub struct Delete<K: Kind> {
    pub seq: u64,
    pub kind: K,
    /// The values the delete concerns (a record's, or those without one).
    pub values: Vec<K::Value>,
    pub what: DeleteWhat,
    /// Where the values came from, for the ledger's `source`.
    pub source: Arc<str>,
}

/// What a delete is about.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteWhat {
    /// The block record with this id.
    Record(u64),
    /// No block record was found: not blocked, nothing to send.
    NoRecord,
    /// No record found, but the list could not be read to its end (why): unknown.
    NotListed(Arc<str>),
}

/// What a delete's success tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeleteDone {
    /// Records the server deleted (0: it was gone already).
    pub affected: u64,
}

impl<K: Kind> Operation for Delete<K> {
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
                        body_snippet(body)
                    ),
                    kind: Some(UNRECOGNIZED),
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
        self.values.len() as u64
    }

    /// A record is one request whatever it holds: never split.
    fn split(&self) -> (Delete<K>, Delete<K>) {
        (self.clone(), self.clone())
    }

    fn seq(&self) -> u64 {
        self.seq
    }
}

/// `data.deleted.affected` of a delete's answer (a number, or a string holding one).
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
    use crate::values::{Contact, Text, ValueType};

    fn delete() -> Delete<Contact> {
        Delete {
            seq: 1,
            kind: Contact,
            values: vec![827],
            what: DeleteWhat::Record(6),
            source: Arc::from("test"),
        }
    }

    #[test]
    fn affected_one_is_unblocked_and_zero_or_not_found_is_not_blocked() {
        let d = delete();
        let ok = r#"{"data":{"deleted":{"raw":{"affectedRows":1},"affected":1}}}"#;
        assert_eq!(
            d.judge(&Answer::of(200, ok)),
            Step::Done(DeleteDone { affected: 1 })
        );
        let none = r#"{"data":{"deleted":{"affected":0}}}"#;
        assert_eq!(
            d.judge(&Answer::of(200, none)),
            Step::Done(DeleteDone { affected: 0 })
        );
        let gone = r#"{"error":{"code":"ERROR_RECORD_NOT_FOUND","message":"no"}}"#;
        assert_eq!(
            d.judge(&Answer::of(400, gone)),
            Step::Done(DeleteDone { affected: 0 })
        );
    }

    #[test]
    fn other_answers_retry_refuse_abort_or_fail() {
        let d = delete();
        assert!(matches!(
            d.judge(&Answer::of(503, "")),
            Step::Retry {
                server_fault: true,
                ..
            }
        ));
        assert!(matches!(
            d.judge(&Answer::of(429, "")),
            Step::RateLimited { .. }
        ));
        assert!(matches!(d.judge(&Answer::of(401, "")), Step::Abort { .. }));
        assert!(matches!(
            d.judge(&Answer::of(400, r#"{"error":"ERROR_INVALID_INPUT"}"#)),
            Step::Refused { .. }
        ));
        for body in [r#"{"data":true}"#, r#"{"data":{"deleted":{}}}"#, "<html>"] {
            assert!(
                matches!(
                    d.judge(&Answer::of(200, body)),
                    Step::Failed {
                        kind: Some(UNRECOGNIZED),
                        ..
                    }
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn values_without_a_record_need_no_request() {
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

    #[test]
    fn a_record_of_several_strings_is_one_delete() {
        let d = Delete {
            seq: 3,
            kind: Text::new(ValueType::Ip).unwrap(),
            values: vec!["10.0.0.1".into(), "2001:db8::1".into()],
            what: DeleteWhat::Record(6),
            source: Arc::from("ips.txt"),
        };
        assert_eq!(d.size(), 2);
        assert_eq!(d.seq(), 3);
        assert_eq!(d.without_request(), None);
        assert_eq!(
            d.judge(&Answer::of(200, r#"{"data":{"deleted":{"affected":1}}}"#)),
            Step::Done(DeleteDone { affected: 1 })
        );
    }
}
