//! Block: `POST /crm/block-visitor` with a batch of contact IDs. The request body and the
//! answer's reading stay in `client.rs` (`BlockRequest`, `classify`); this file says what
//! they mean to the pool: a duplicate or refused batch is bisected, a single duplicate ID
//! is blocked already, a single refused one is refused.

use crate::api::{HttpCall, Operation, Step, common_step_of};
use crate::net::client::{
    Answer, BlockRequest, BlockedRecord, Client, MAX_BODY, Verdict, align_block_ids, classify,
};
use crate::values::batch::Batch;

/// What a block request's success tells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockDone {
    /// The server's block record id per ID, when it answered with records.
    pub block_ids: Option<Vec<Option<u64>>>,
    /// The server said the batch's one ID was already blocked.
    pub already: bool,
}

/// How the answer to a block request of `size` values reads, whatever the values are
/// (contact IDs, emails, IPs): `align` turns a records answer into each value's block
/// record id. A duplicate or refused batch is bisected; a single duplicate is blocked
/// already, a single refused one is refused; the rest as for every operation.
pub fn block_step(
    answer: &Answer,
    size: usize,
    align: impl FnOnce(Vec<BlockedRecord>) -> Option<Vec<Option<u64>>>,
) -> Step<BlockDone> {
    match classify(answer) {
        Verdict::Blocked { records } => Step::Done(BlockDone {
            block_ids: records.and_then(align),
            already: false,
        }),
        Verdict::Duplicate { reason } | Verdict::Split { reason } if size > 1 => {
            Step::Split { reason }
        }
        // One value the server says it already blocks: it is blocked, as asked.
        Verdict::Duplicate { .. } => Step::Done(BlockDone {
            block_ids: None,
            already: true,
        }),
        Verdict::Split { reason } => Step::Refused { reason },
        other => common_step_of(other, answer),
    }
}

/// A block request, built once for all attempts; the ledger copies its ID list.
pub struct PreparedBlock {
    pub request: BlockRequest,
    call: HttpCall,
}

impl Operation for Batch {
    type Request = PreparedBlock;
    type Done = BlockDone;

    fn prepare(&self, _client: &Client) -> PreparedBlock {
        let request = BlockRequest::new(&self.ids, self.block_till);
        let call = HttpCall {
            method: hyper::Method::POST,
            target: None,
            body: request.body(),
            max_body: MAX_BODY,
        };
        PreparedBlock { request, call }
    }

    fn http(request: &PreparedBlock) -> &HttpCall {
        &request.call
    }

    fn judge(&self, answer: &Answer) -> Step<BlockDone> {
        block_step(answer, self.ids.len(), |records| {
            Some(align_block_ids(&self.ids, &records))
        })
    }

    fn size(&self) -> u64 {
        self.ids.len() as u64
    }

    fn split(&self) -> (Batch, Batch) {
        Batch::split(self)
    }

    fn seq(&self) -> u64 {
        self.seq
    }
}
