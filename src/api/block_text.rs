//! Block of emails or IPs: `POST /crm/block-visitor` with
//! `{"data":["a@b.com",...],"type":"email","blockTill":...}` for a [`TextBatch`]. The
//! answer reads as for contacts (`client::classify`): a duplicate or refused batch is
//! bisected, a single duplicate value is blocked already, a single refused one is refused.

use crate::api::block::{BlockDone, BlockedRecord, PreparedBlock, block_body, block_step};
use crate::api::{HttpCall, Operation, Step};
use crate::input::ValueType;
use crate::net::client::{Answer, Client};
use crate::values::text_batch::TextBatch;

/// The block record ids of a records answer, aligned with the values: each value takes the
/// id of the record whose strings (normalised) include it. Records that name no string at
/// all are taken in request order when there is one per value.
fn align_text_block_ids(
    values: &[String],
    value_type: ValueType,
    records: &[BlockedRecord],
) -> Option<Vec<Option<u64>>> {
    if records.iter().all(|r| r.strings.is_empty()) {
        return (records.len() == values.len())
            .then(|| records.iter().map(|r| Some(r.block_id)).collect());
    }
    let by_value: std::collections::HashMap<String, u64> = records
        .iter()
        .flat_map(|r| {
            r.strings
                .iter()
                .filter_map(move |s| value_type.normalize(s).ok().map(|v| (v, r.block_id)))
        })
        .collect();
    Some(values.iter().map(|v| by_value.get(v).copied()).collect())
}

impl Operation for TextBatch {
    type Request = PreparedBlock;
    type Done = BlockDone;

    fn prepare(&self, _client: &Client) -> PreparedBlock {
        PreparedBlock::new(block_body(
            &self.values,
            self.value_type.as_str(),
            &self.block_till,
        ))
    }

    fn http(request: &PreparedBlock) -> &HttpCall {
        request.http()
    }

    fn judge(&self, answer: &Answer) -> Step<BlockDone> {
        block_step(answer, self.values.len(), |records| {
            align_text_block_ids(&self.values, self.value_type, &records)
        })
    }

    fn size(&self) -> u64 {
        self.values.len() as u64
    }

    fn split(&self) -> (TextBatch, TextBatch) {
        TextBatch::split(self)
    }

    fn seq(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Origin, ValueType};
    use std::sync::Arc;

    fn batch(values: &[&str]) -> TextBatch {
        let origin = Origin {
            path: Arc::from("a.txt"),
            line: 1,
        };
        TextBatch {
            seq: 1,
            value_type: ValueType::Email,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            block_till: "2030-01-02T03:04:05.678Z".parse().unwrap(),
            first: origin.clone(),
            last: origin,
        }
    }

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_read_as_for_contacts() {
        let two = batch(&["a@b.com", "c@d.com"]);
        assert_eq!(
            two.judge(&http(200, r#"{"data":true}"#)),
            Step::Done(BlockDone::default())
        );
        assert_eq!(
            two.judge(&http(
                200,
                r#"{"data":[{"id":7,"data":["a@b.com"]},{"id":8,"data":["c@d.com"]}]}"#
            )),
            Step::Done(BlockDone {
                block_ids: Some(vec![Some(7), Some(8)]),
                already: false
            })
        );
        // One record holding both values, named in another spelling: both get its id.
        assert_eq!(
            two.judge(&http(
                200,
                r#"{"data":[{"id":9,"data":["C@D.com","a@b.com","x@y.io"]}]}"#
            )),
            Step::Done(BlockDone {
                block_ids: Some(vec![Some(9), Some(9)]),
                already: false
            })
        );
        assert!(matches!(two.judge(&http(400, "{}")), Step::Split { .. }));
        let one = batch(&["a@b.com"]);
        assert!(matches!(one.judge(&http(400, "{}")), Step::Refused { .. }));
        assert_eq!(
            one.judge(&http(400, r#"{"error":"ERROR_DUPLICATE_RECORD_FOUND"}"#)),
            Step::Done(BlockDone {
                block_ids: None,
                already: true
            })
        );
        assert!(matches!(two.judge(&http(503, "")), Step::Retry { .. }));
        assert!(matches!(two.judge(&http(401, "")), Step::Abort { .. }));
    }
}
