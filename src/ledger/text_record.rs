//! The ledger line of an email or IP block (or unblock): like a contact batch line, with
//! `"type": "email"` or `"ip"` and `ids` holding the normalised strings.
//!
//! Contact lines keep their own type (`BatchRecord`) and their hand-written serializer
//! untouched; these lines go through serde (they are not the hot path).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Status, timestamp};
use crate::input::ValueType;

/// One request for emails or IPs and how it ended: a block (`blocked`, `failed`,
/// `refused`; `block_till` set) or, with `op: "unblock"`, an unblock (`unblocked`,
/// `not_blocked`, `failed`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextRecord {
    pub run: String,
    pub batch: u64,
    pub status: Status,
    /// `email` or `ip`.
    #[serde(rename = "type")]
    pub value_type: String,
    /// `unblock` on an unblock's lines; absent on a block's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// The values, in their normal form.
    pub ids: Vec<String>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_till: Option<DateTime<Utc>>,
    pub attempts: u32,
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The server's block record id for each value, when it named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_ids: Option<Vec<Option<u64>>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
    pub source: String,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub finished_at: DateTime<Utc>,
    pub ms: u64,
}

impl TextRecord {
    /// The line's value type (`None` for a type this blockade does not know).
    pub fn value_type(&self) -> Option<ValueType> {
        parse_value_type(&self.value_type)
    }

    /// Whether this is an unblock's line.
    pub fn is_unblock(&self) -> bool {
        self.op.as_deref() == Some(super::UNBLOCK_OP)
    }
}

/// `email` → `ValueType::Email`, and so on.
pub fn parse_value_type(text: &str) -> Option<ValueType> {
    [ValueType::Contact, ValueType::Email, ValueType::Ip]
        .into_iter()
        .find(|value_type| value_type.as_str() == text)
}

#[cfg(test)]
mod tests {
    use super::super::Record;

    #[test]
    fn an_email_line_round_trips_with_type_and_string_ids() {
        let line = r#"{"run":"r","batch":1,"status":"failed","type":"email","ids":["a@b.co","c@d.co"],"block_till":"2030-01-01T00:00:00.000Z","attempts":1,"http_status":500,"error":"HTTP 500","source":"a.txt:1-2","started_at":"2030-01-01T00:00:00.000Z","finished_at":"2030-01-01T00:00:00.001Z","ms":1}"#;
        let record: Record = serde_json::from_str(line).expect("an email line");
        let Record::Text(text) = &record else {
            panic!("{record:?}")
        };
        assert_eq!(text.ids, ["a@b.co", "c@d.co"]);
        assert_eq!(text.value_type(), Some(crate::input::ValueType::Email));
        let mut out = Vec::new();
        record.write_json(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), line);
    }

    #[test]
    fn strings_without_a_type_and_numbers_with_one_are_refused() {
        let base = r#""block_till":"2030-01-01T00:00:00.000Z","attempts":1,"source":"s","started_at":"2030-01-01T00:00:00.000Z","finished_at":"2030-01-01T00:00:00.000Z","ms":1}"#;
        let untyped =
            format!(r#"{{"run":"r","batch":1,"status":"blocked","ids":["a@b.co"],{base}"#);
        let error = serde_json::from_str::<Record>(&untyped).unwrap_err();
        assert!(error.to_string().contains("strings"), "{error}");
        let numbers =
            format!(r#"{{"run":"r","batch":1,"status":"blocked","type":"ip","ids":[5],{base}"#);
        let error = serde_json::from_str::<Record>(&numbers).unwrap_err();
        assert!(error.to_string().contains("numbers"), "{error}");
        let unknown = format!(
            r#"{{"run":"r","batch":1,"status":"blocked","type":"phone","ids":["1"],{base}"#
        );
        assert!(serde_json::from_str::<Record>(&unknown).is_err());
    }
}
