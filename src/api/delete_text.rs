//! Delete of an email or IP block record: the same `DELETE /crm/block-visitor?id=N` as a
//! contact's ([`Delete`]), carrying the record's strings instead of contact IDs, so that its
//! ledger line (`TextRecord`, `op: "unblock"`) names the values it unblocked.
//!
//! A record may hold several strings (the docs' example does): deleting it unblocks all of
//! them, so `values` holds every string of the record, asked for or not.

use crate::api::delete::{Delete, DeleteDone};
use crate::api::{HttpCall, Operation, Step};
use crate::client::{Answer, Client};
use crate::input::ValueType;

/// One email or IP block record to delete, or values with none (`delete.what`).
#[derive(Clone, Debug, PartialEq)]
pub struct TextDelete {
    /// The request and how its answer reads (its `contacts` stay empty).
    pub delete: Delete,
    pub value_type: ValueType,
    /// The values (normal forms) it concerns: every string of the record, or the values
    /// no record was found for.
    pub values: Vec<String>,
}

impl Operation for TextDelete {
    type Request = HttpCall;
    type Done = DeleteDone;

    fn prepare(&self, client: &Client) -> HttpCall {
        self.delete.prepare(client)
    }

    fn http(request: &HttpCall) -> &HttpCall {
        request
    }

    fn judge(&self, answer: &Answer) -> Step<DeleteDone> {
        self.delete.judge(answer)
    }

    fn without_request(&self) -> Option<Step<DeleteDone>> {
        self.delete.without_request()
    }

    fn size(&self) -> u64 {
        self.values.len() as u64
    }

    fn split(&self) -> (TextDelete, TextDelete) {
        (self.clone(), self.clone())
    }

    fn seq(&self) -> u64 {
        self.delete.seq
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::delete::DeleteWhat;

    fn text_delete(what: DeleteWhat) -> TextDelete {
        TextDelete {
            delete: Delete {
                seq: 3,
                contacts: Vec::new(),
                what,
                source: Arc::from("ips.txt"),
            },
            value_type: ValueType::Ip,
            values: vec!["10.0.0.1".into(), "2001:db8::1".into()],
        }
    }

    #[test]
    fn a_record_is_one_delete_whatever_its_strings_and_answers_read_as_a_contacts() {
        let d = text_delete(DeleteWhat::Record(6));
        assert_eq!(d.size(), 2);
        assert_eq!(d.seq(), 3);
        assert_eq!(d.without_request(), None);
        let ok = Answer::Http {
            status: 200,
            retry_after: None,
            body: br#"{"data":{"deleted":{"affected":1}}}"#.to_vec(),
            advertised: None,
        };
        assert_eq!(d.judge(&ok), Step::Done(DeleteDone { affected: 1 }));
        let busy = Answer::Http {
            status: 503,
            retry_after: None,
            body: Vec::new(),
            advertised: None,
        };
        assert!(matches!(d.judge(&busy), Step::Retry { .. }));
    }

    #[test]
    fn values_without_a_record_need_no_request() {
        let d = text_delete(DeleteWhat::NoRecord);
        assert_eq!(
            d.without_request(),
            Some(Step::Done(DeleteDone { affected: 0 }))
        );
    }
}
