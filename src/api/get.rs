//! Get: `GET /crm/block-visitor/{id}`, one block record, answered as `{"data": record}`
//! (the settings page's "get" call). What a record holds now and until when: `sync` asks
//! it after a renewal to tell a record the server updated from an old one it left beside
//! a new one, and an exact unblock asks it before deleting a record the ledger names, to
//! learn which other values it holds. A record that is not there is an answer too
//! (`ERROR_RECORD_NOT_FOUND`), not a failure.

use crate::api::delete::NOT_FOUND_ERROR;
use crate::api::list::{ListedRecord, read_record};
use crate::api::{HttpCall, Operation, Step, UNRECOGNIZED, body_snippet, common_step, http_parts};
use crate::net::client::{Answer, Client, MAX_BODY};

/// One record to look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetRecord {
    pub seq: u64,
    /// The block record's id.
    pub id: u64,
}

impl Operation for GetRecord {
    type Request = HttpCall;
    /// The record, or `None` when the server has no record by that id.
    type Done = Option<ListedRecord>;

    fn prepare(&self, client: &Client) -> HttpCall {
        HttpCall {
            method: hyper::Method::GET,
            target: Some(client.target(&format!("/{}", self.id), "")),
            body: bytes::Bytes::new(),
            max_body: MAX_BODY,
        }
    }

    fn http(request: &HttpCall) -> &HttpCall {
        request
    }

    fn judge(&self, answer: &Answer) -> Step<Option<ListedRecord>> {
        match http_parts(answer) {
            Some((200, body)) => match read_get(body) {
                Some(record) => Step::Done(Some(record)),
                None => Step::Failed {
                    reason: format!(
                        "HTTP 200 with a block record this client cannot read: {}",
                        body_snippet(body)
                    ),
                    kind: Some(UNRECOGNIZED),
                },
            },
            Some((400, body))
                if memchr::memmem::find(body, NOT_FOUND_ERROR.as_bytes()).is_some() =>
            {
                Step::Done(None)
            }
            _ => common_step(answer),
        }
    }

    fn size(&self) -> u64 {
        1
    }

    fn split(&self) -> (GetRecord, GetRecord) {
        (*self, *self)
    }

    fn seq(&self) -> u64 {
        self.seq
    }
}

/// Reads `{"data": record}` (or, tolerated, the record alone).
pub fn read_get(body: &[u8]) -> Option<ListedRecord> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let record = match json.get("data") {
        Some(record @ serde_json::Value::Object(_)) if record.get("id").is_some() => record,
        _ => &json,
    };
    read_record(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_read_and_a_missing_one_is_an_answer() {
        let get = GetRecord { seq: 1, id: 7 };
        let body = r#"{"data":{"id":7,"type":"email","data":["a@x.io","b@x.io"],
            "blockTill":"2030-01-01T00:00:00.000Z","dateCreated":"2021-01-01T00:00:00.000Z","blockBy":1}}"#;
        let Step::Done(Some(record)) = get.judge(&Answer::of(200, body)) else {
            panic!()
        };
        assert_eq!((record.id, record.values.len()), (7, 2));
        assert_eq!(record.block_till, "2030-01-01T00:00:00.000Z");
        let gone = r#"{"error":{"code":"ERROR_RECORD_NOT_FOUND","message":"no"}}"#;
        assert_eq!(get.judge(&Answer::of(400, gone)), Step::Done(None));
        assert!(matches!(
            get.judge(&Answer::of(200, "{}")),
            Step::Failed {
                kind: Some(UNRECOGNIZED),
                ..
            }
        ));
        assert!(matches!(
            get.judge(&Answer::of(401, "")),
            Step::Abort { .. }
        ));
    }
}
