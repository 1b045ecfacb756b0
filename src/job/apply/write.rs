//! The requests a plan sends (`sync`, and `unblock` since it is exact): a block (POST), a
//! look at one record (GET) or the delete of one (DELETE), as one operation type for the
//! pool, each tagged with the task of `job/apply/` it belongs to. What each answer means
//! is the operation's own (`api/block.rs`, `api/get.rs`, `api/delete.rs`); the one thing
//! added here is that a block of values that already have records may take the server's
//! `ERROR_DUPLICATE_RECORD_FOUND` as an answer (the server refuses a second record: the
//! task then replaces the record) instead of bisecting the batch down to single values.

use crate::api::block::{BlockDone, align, block_body, block_step};
use crate::api::delete::{Delete, DeleteDone};
use crate::api::get::GetRecord;
use crate::api::list::ListedRecord;
use crate::api::{HttpCall, Operation, Step, http_parts, names_duplicate};
use crate::net::client::{Answer, Client, MAX_BODY};
use crate::values::{Batch, Kind};

/// One request of a plan.
#[derive(Clone, Debug)]
pub struct Write<K: Kind> {
    /// The task it belongs to.
    pub task: u64,
    pub call: Call<K>,
}

/// What the request is.
#[derive(Clone, Debug)]
pub enum Call<K: Kind> {
    /// Block the batch's values until its block-till.
    Post {
        batch: Batch<K>,
        /// A 400 `ERROR_DUPLICATE_RECORD_FOUND` is an answer ([`WriteDone::Duplicate`]),
        /// whatever the batch's size: its values have records, and the server will not
        /// add another.
        duplicate_is_answer: bool,
    },
    /// Look at one record.
    Get(GetRecord),
    /// Delete one record (or record values that need no request).
    Delete(Delete<K>),
}

/// What a request's success told.
#[derive(Debug)]
pub enum WriteDone {
    Blocked(BlockDone),
    /// The server refused the block: its values have records and it adds no second one.
    Duplicate,
    Looked(Option<ListedRecord>),
    Deleted(DeleteDone),
}

impl<K: Kind> Write<K> {
    /// A block of `values` until `till`.
    pub fn post(task: u64, batch: Batch<K>, duplicate_is_answer: bool) -> Write<K> {
        Write {
            task,
            call: Call::Post {
                batch,
                duplicate_is_answer,
            },
        }
    }
}

fn map_step<A, B>(step: Step<A>, done: impl FnOnce(A) -> B) -> Step<B> {
    match step {
        Step::Done(a) => Step::Done(done(a)),
        Step::Retry {
            reason,
            server_fault,
        } => Step::Retry {
            reason,
            server_fault,
        },
        Step::RateLimited {
            retry_after,
            reason,
        } => Step::RateLimited {
            retry_after,
            reason,
        },
        Step::Split { reason } => Step::Split { reason },
        Step::Refused { reason } => Step::Refused { reason },
        Step::Abort { reason } => Step::Abort { reason },
        Step::Failed { reason, kind } => Step::Failed { reason, kind },
    }
}

impl<K: Kind> Operation for Write<K> {
    type Request = HttpCall;
    type Done = WriteDone;

    fn prepare(&self, client: &Client) -> HttpCall {
        match &self.call {
            Call::Post { batch, .. } => HttpCall {
                method: hyper::Method::POST,
                target: None,
                body: block_body(
                    &batch.values,
                    batch.kind.value_type().as_str(),
                    &batch.block_till,
                ),
                max_body: MAX_BODY,
            },
            Call::Get(get) => get.prepare(client),
            Call::Delete(delete) => delete.prepare(client),
        }
    }

    fn http(request: &HttpCall) -> &HttpCall {
        request
    }

    fn judge(&self, answer: &Answer) -> Step<WriteDone> {
        match &self.call {
            Call::Post {
                batch,
                duplicate_is_answer,
            } => {
                if *duplicate_is_answer
                    && let Some((400, body)) = http_parts(answer)
                    && names_duplicate(body)
                {
                    return Step::Done(WriteDone::Duplicate);
                }
                let step = block_step(answer, batch.values.len(), |records| {
                    align(batch.kind, &batch.values, &records)
                });
                map_step(step, WriteDone::Blocked)
            }
            Call::Get(get) => map_step(get.judge(answer), WriteDone::Looked),
            Call::Delete(delete) => map_step(delete.judge(answer), WriteDone::Deleted),
        }
    }

    fn without_request(&self) -> Option<Step<WriteDone>> {
        match &self.call {
            Call::Delete(delete) => delete
                .without_request()
                .map(|step| map_step(step, WriteDone::Deleted)),
            Call::Post { .. } | Call::Get(_) => None,
        }
    }

    fn size(&self) -> u64 {
        match &self.call {
            Call::Post { batch, .. } => batch.values.len() as u64,
            Call::Get(_) => 1,
            Call::Delete(delete) => (delete.values.len() as u64).max(1),
        }
    }

    fn split(&self) -> (Write<K>, Write<K>) {
        match &self.call {
            Call::Post {
                batch,
                duplicate_is_answer,
            } => {
                let (left, right) = batch.split();
                (
                    Write::post(self.task, left, *duplicate_is_answer),
                    Write::post(self.task, right, *duplicate_is_answer),
                )
            }
            Call::Get(_) | Call::Delete(_) => (self.clone(), self.clone()),
        }
    }

    fn seq(&self) -> u64 {
        match &self.call {
            Call::Post { batch, .. } => batch.seq,
            Call::Get(get) => get.seq,
            Call::Delete(delete) => delete.seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::values::{Contact, Origin};

    fn http(status: u16, body: &str) -> Answer {
        Answer::of(status, body)
    }

    fn post(values: Vec<u64>, duplicate_is_answer: bool) -> Write<Contact> {
        let origin = Origin {
            path: Arc::from("test"),
            line: 0,
        };
        Write::post(
            7,
            Batch {
                seq: 1,
                kind: Contact,
                values,
                block_till: "2030-01-01T00:00:00Z".parse().unwrap(),
                first: origin.clone(),
                last: origin,
            },
            duplicate_is_answer,
        )
    }

    #[test]
    fn a_duplicate_is_an_answer_only_where_asked() {
        let duplicate = r#"{"error":{"code":"ERROR_DUPLICATE_RECORD_FOUND"}}"#;
        assert!(matches!(
            post(vec![1, 2], true).judge(&http(400, duplicate)),
            Step::Done(WriteDone::Duplicate)
        ));
        assert!(matches!(
            post(vec![1, 2], false).judge(&http(400, duplicate)),
            Step::Split { .. }
        ));
        assert!(matches!(
            post(vec![1, 2], true).judge(&http(400, r#"{"error":"ERROR_INVALID_INPUT"}"#)),
            Step::Split { .. }
        ));
        assert!(matches!(
            post(vec![1], true).judge(&http(200, r#"{"data":true}"#)),
            Step::Done(WriteDone::Blocked(_))
        ));
        let (left, right) = post(vec![1, 2, 3], true).split();
        assert_eq!((left.task, left.size(), right.size()), (7, 1, 2));
    }
}
