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
