//! Block of emails or IPs: `POST /crm/block-visitor` with
//! `{"data":["a@b.com",...],"type":"email","blockTill":...}` for a [`TextBatch`]. The
//! answer reads as for contacts (`client::classify`): a duplicate or refused batch is
//! bisected, a single duplicate value is blocked already, a single refused one is refused.

use bytes::Bytes;

use crate::api::block::{BlockDone, block_step};
use crate::api::{HttpCall, Operation, Step};
use crate::client::{Answer, BlockedRecord, Client, MAX_BODY};
use crate::ledger::timestamp;
use crate::text_batch::TextBatch;

/// A text block request, built once for all attempts.
pub struct PreparedTextBlock {
    call: HttpCall,
}

/// The request body, as the API documents it.
pub fn text_block_body(batch: &TextBatch) -> Bytes {
    let mut body = Vec::with_capacity(batch.values.iter().map(|v| v.len() + 3).sum::<usize>() + 80);
    body.extend_from_slice(br#"{"data":"#);
    // Strings of a Vec serialize infallibly into a Vec<u8>.
    let _ = serde_json::to_writer(&mut body, &batch.values);
    body.extend_from_slice(br#","type":""#);
    body.extend_from_slice(batch.value_type.as_str().as_bytes());
    body.extend_from_slice(br#"","blockTill":""#);
    timestamp::write(&mut body, &batch.block_till);
    body.extend_from_slice(br#""}"#);
    Bytes::from(body)
}

/// The block record ids of a records answer, aligned with the values: records of email
/// and IP blocks name no contact, so they are taken in request order when there is one
/// per value; otherwise none is kept (`unblock` then finds them by listing).
fn align_text_block_ids(values: usize, records: &[BlockedRecord]) -> Option<Vec<Option<u64>>> {
    (records.len() == values).then(|| records.iter().map(|r| Some(r.block_id)).collect())
}

impl Operation for TextBatch {
    type Request = PreparedTextBlock;
    type Done = BlockDone;

    fn prepare(&self, _client: &Client) -> PreparedTextBlock {
        PreparedTextBlock {
            call: HttpCall {
                method: hyper::Method::POST,
                target: None,
                body: text_block_body(self),
                max_body: MAX_BODY,
            },
        }
    }

    fn http(request: &PreparedTextBlock) -> &HttpCall {
        &request.call
    }

    fn judge(&self, answer: &Answer) -> Step<BlockDone> {
        block_step(answer, self.values.len(), |records| {
            align_text_block_ids(self.values.len(), &records)
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
            advertised: None,
        }
    }

    #[test]
    fn the_body_is_the_documented_one() {
        let body = text_block_body(&batch(&["a@b.com", "q\"uote@x.org"]));
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"data":["a@b.com","q\"uote@x.org"],"type":"email","blockTill":"2030-01-02T03:04:05.678Z"}"#
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["data"][1], "q\"uote@x.org");
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
