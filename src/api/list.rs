//! List: `GET /crm/block-visitor?offset=&limit=`, one page of the account's block records,
//! answered as `{"data": {"offset": 0, "count": N, "data": [record, ...]}}`.
//!
//! Paging beyond `offset`/`count` is not documented: the caller (`job/listing.rs`) sends
//! `offset` and `limit`, and never trusts the server to honour them. A page's body may be
//! large (a record with its user is about 600 bytes), so it is capped at
//! [`LIST_MAX_BODY`], well above a 1000-record page; a page beyond it is not read.

use serde_json::Value;

use crate::api::body_snippet;
use crate::api::{HttpCall, Operation, Step, common_step, http_parts};
use crate::net::client::{Answer, Client};
use crate::values::Kind;

/// Records asked for per page (the imitation's most; a page is then about 600 kB).
pub const DEFAULT_PAGE_SIZE: u64 = 1000;

/// Most bytes of one list page read.
pub const LIST_MAX_BODY: usize = 8 * 1024 * 1024;

/// One page to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListPage {
    pub offset: u64,
    pub limit: u64,
}

/// One block record, as listed. Strings are kept as the server sent them (capped in
/// length); `contact` only when `data.id` is a positive integer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedRecord {
    /// The block record's id (what DELETE takes).
    pub id: u64,
    /// `contact`, `email` or `ip` (as sent).
    pub kind: String,
    pub contact: Option<u64>,
    /// The blocked value: an email or IP record's strings (joined by a space), or a
    /// contact's email, else its IP, else its phone.
    pub value: String,
    pub block_till: String,
    pub date_created: String,
    pub blocked_by: String,
    /// An email or IP record's strings, one by one (each capped, at most
    /// [`MAX_VALUES`] of them), for matching them one by one (`unblock --type`).
    pub values: Vec<String>,
}

impl ListedRecord {
    /// The values of `kind` this record blocks, in normal form: none when it is a record
    /// of another type.
    pub fn values_of<K: Kind>(&self, kind: K) -> Vec<K::Value> {
        if self.kind != kind.value_type().as_str() {
            return Vec::new();
        }
        kind.named_by(self.contact, &self.values)
    }

    /// Its `blockTill`, when it reads as RFC 3339.
    pub fn block_till_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(self.block_till.trim())
            .ok()
            .map(|at| at.with_timezone(&chrono::Utc))
    }
}

/// Most strings kept from one email or IP record's `data`.
pub const MAX_VALUES: usize = 10_000;

/// What one page held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The answer's `count` (all records), when it gave one.
    pub count: Option<u64>,
    pub records: Vec<ListedRecord>,
    /// Records without a usable id (a positive integer): they cannot be deleted.
    pub unreadable: u64,
}

/// Longest string kept from a record's field.
const MAX_FIELD: usize = 512;

impl Operation for ListPage {
    type Request = HttpCall;
    type Done = Page;

    fn prepare(&self, client: &Client) -> HttpCall {
        HttpCall {
            method: hyper::Method::GET,
            target: Some(
                client.target("", &format!("offset={}&limit={}", self.offset, self.limit)),
            ),
            body: bytes::Bytes::new(),
            max_body: LIST_MAX_BODY,
        }
    }

    fn http(request: &HttpCall) -> &HttpCall {
        request
    }

    fn judge(&self, answer: &Answer) -> Step<Page> {
        match http_parts(answer) {
            Some((200, body)) => match read_page(body) {
                Some(page) => Step::Done(page),
                None => Step::Failed {
                    reason: format!(
                        "HTTP 200 with a list page this client cannot read ({} bytes{}): {}",
                        body.len(),
                        if body.len() >= LIST_MAX_BODY {
                            ", cut at the cap"
                        } else {
                            ""
                        },
                        body_snippet(body)
                    ),
                    kind: Some("unrecognized_answer"),
                },
            },
            _ => common_step(answer),
        }
    }

    fn size(&self) -> u64 {
        1
    }

    fn split(&self) -> (ListPage, ListPage) {
        (*self, *self)
    }

    fn seq(&self) -> u64 {
        self.offset
    }
}

/// Reads `{"data": {"count", "data": [...]}}` (or, tolerated, `{"data": [...]}`).
pub fn read_page(body: &[u8]) -> Option<Page> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let data = json.get("data")?;
    let (count, records) = match data {
        Value::Array(records) => (None, records),
        Value::Object(_) => (
            data.get("count").and_then(number),
            data.get("data")?.as_array()?,
        ),
        _ => return None,
    };
    let mut page = Page {
        count,
        records: Vec::with_capacity(records.len()),
        unreadable: 0,
    };
    for record in records {
        match read_record(record) {
            Some(record) => page.records.push(record),
            None => page.unreadable += 1,
        }
    }
    Some(page)
}

pub(crate) fn read_record(record: &Value) -> Option<ListedRecord> {
    let id = number(record.get("id")?).filter(|&id| id > 0)?;
    let kind = text(record.get("type")).unwrap_or_else(|| "contact".to_owned());
    let data = record.get("data");
    let mut strings = Vec::new();
    let (contact, value) = match data {
        Some(Value::Array(values)) => {
            strings = values
                .iter()
                .filter_map(|v| text(Some(v)))
                .take(MAX_VALUES)
                .collect::<Vec<_>>();
            (None, cap(strings.join(" ")))
        }
        Some(object @ Value::Object(_)) => {
            let contact = object.get("id").and_then(number).filter(|&id| id > 0);
            let value = ["email", "ip", "phone"]
                .iter()
                .filter_map(|key| text(object.get(*key)))
                .find(|v| !v.is_empty())
                .unwrap_or_default();
            (contact, value)
        }
        _ => (None, String::new()),
    };
    Some(ListedRecord {
        id,
        kind,
        contact,
        value,
        block_till: text(record.get("blockTill")).unwrap_or_default(),
        date_created: text(record.get("dateCreated")).unwrap_or_default(),
        blocked_by: text(record.get("blockBy")).unwrap_or_default(),
        values: strings,
    })
}

/// A non-negative integer, or a string of digits.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A string or a number as text, control characters dropped, capped.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(cap(s.chars().filter(|c| !c.is_control()).collect())),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn cap(mut text: String) -> String {
    if text.len() > MAX_FIELD {
        let mut end = MAX_FIELD;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_page_and_each_kind_of_record() {
        let body = br#"{"data":{"offset":0,"count":6,"data":[
            {"id":6,"data":{"id":827,"ip":"","email":"a@example.com","phone":""},"type":"contact",
             "blockTill":"2030-01-01T00:00:00.000Z","dateCreated":"2021-09-02T07:08:12.000Z","blockBy":1,"user":{}},
            {"id":"7","data":["spam@example.com"],"type":"email"},
            {"id":8,"data":{"id":"828"},"type":"contact"},
            {"id":-1,"data":{"id":9}},
            {"data":{"id":10}}
        ]}}"#;
        let page = read_page(body).expect("a page");
        assert_eq!(page.count, Some(6));
        assert_eq!(page.unreadable, 2);
        assert_eq!(page.records.len(), 3);
        assert_eq!(page.records[0].id, 6);
        assert_eq!(page.records[0].contact, Some(827));
        assert_eq!(page.records[0].value, "a@example.com");
        assert_eq!(page.records[0].blocked_by, "1");
        assert_eq!(page.records[1].kind, "email");
        assert_eq!(page.records[1].contact, None);
        assert_eq!(page.records[1].value, "spam@example.com");
        assert_eq!(page.records[2].contact, Some(828));
    }

    #[test]
    fn an_email_or_ip_record_keeps_each_of_its_strings() {
        let body = br#"{"data":{"data":[
            {"id":9,"data":["A@example.com"," b@example.com",5,{"x":1}],"type":"email"}
        ]}}"#;
        let page = read_page(body).expect("a page");
        assert_eq!(
            page.records[0].values,
            ["A@example.com", " b@example.com", "5"]
        );
        assert_eq!(page.records[0].value, "A@example.com  b@example.com 5");
        let many = format!(
            r#"{{"data":[{{"id":1,"type":"ip","data":[{}"10.0.0.1"]}}]}}"#,
            "\"10.0.0.2\",".repeat(MAX_VALUES + 5)
        );
        let page = read_page(many.as_bytes()).expect("a page");
        assert_eq!(page.records[0].values.len(), MAX_VALUES);
    }

    #[test]
    fn odd_pages_are_not_read() {
        for body in [
            &b"<html>"[..],
            br#"{"data":true}"#,
            br#"{"data":{"count":1}}"#,
        ] {
            assert_eq!(read_page(body), None);
        }
        let bare = read_page(br#"{"data":[{"id":1,"data":{"id":2}}]}"#).expect("bare array");
        assert_eq!(bare.count, None);
        assert_eq!(bare.records[0].contact, Some(2));
    }
}
