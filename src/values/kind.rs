//! What a run's values are: the one place where contact IDs and strings (emails, IPs)
//! differ.
//!
//! Everything downstream of the readers (dedupe, `--shard`, the chunker, the block and
//! delete operations, the ledger's lines, latest status, resume, retry, unblock, sync,
//! verify and report) is written once, generic over a [`Kind`], and monomorphised: the
//! contact path compiles to what it was when it had code of its own. A kind says only
//! what really differs:
//! - the value (`u64`, or a normalised `String`) and how a cell or a JSON value reads as
//!   one (normalisation and validation, with the reason a bad one is rejected);
//! - its key for sets (the ID itself, or a 128-bit hash: strings are never all held in
//!   memory) and the set type (a roaring bitmap, or a hash set of keys);
//! - how a block record names it (`data.id`, or one of `data`'s strings);
//! - where the values to unblock wait while the block list is read (the bitmap itself, or
//!   a temporary file of strings).
//!
//! Adding a value kind that is a string (say phone numbers) is a [`ValueType`] variant
//! with its normalisation (`values/text.rs`): `Text` takes it as it takes emails and IPs.

use std::fmt;
use std::hash::Hash;
use std::io;

use serde::Serialize;

use super::id::{id_reason, parse_id};
use super::sets::{GroupedIds, HashedTags, KeyMap, SeenSet, StringSet};
use super::spool::{IdSpool, Spool, StringSpool};
use super::text::{self, clip_str, value_hash};

/// What the values of a run are (`--type`), and the API's and the ledger's name for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum ValueType {
    /// Acquire contact IDs (positive integers).
    #[default]
    Contact,
    /// Email addresses.
    Email,
    /// IPv4 or IPv6 addresses.
    Ip,
}

impl ValueType {
    /// Every type, for whatever must list them (report's rows, `--type` checks).
    pub const ALL: [ValueType; 3] = [ValueType::Contact, ValueType::Email, ValueType::Ip];

    /// The API's `type` value, and the ledger's.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Contact => "contact",
            ValueType::Email => "email",
            ValueType::Ip => "ip",
        }
    }

    /// `contact` → `ValueType::Contact`, and so on; `None` for a type this version does
    /// not know.
    pub fn parse(text: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// What one value is called in counts: an ID, an email, an IP address.
    pub fn noun(self) -> &'static str {
        match self {
            ValueType::Contact => "ID",
            ValueType::Email => "email",
            ValueType::Ip => "IP address",
        }
    }

    /// What one value is called where "ID" would read oddly (an unblocked contact).
    pub fn thing(self) -> &'static str {
        match self {
            ValueType::Contact => "contact",
            other => other.noun(),
        }
    }

    /// The column or key read when no `--id-field` is given.
    pub fn default_fields(self) -> &'static [&'static str] {
        match self {
            ValueType::Contact => &["id", "contact_id", "contactId"],
            ValueType::Email => &["email", "e-mail", "mail"],
            ValueType::Ip => &["ip", "ip_address", "ipAddress", "address"],
        }
    }

    /// The string kind of this type, or `None` for contact IDs. Each command dispatches
    /// on this once, at its top: `Contact` or `Text`.
    pub fn text_kind(self) -> Option<Text> {
        match self {
            ValueType::Contact => None,
            ValueType::Email | ValueType::Ip => Some(Text(self)),
        }
    }
}

/// Runs `$body` with `$kind` bound to the kind of `$value_type`: `Contact`, or the `Text`
/// kind of a string type. Each command dispatches once, at its top:
/// `with_kind!(args.value_type, |kind| run_kind(kind, args, log).await)`.
macro_rules! with_kind {
    ($value_type:expr, |$kind:ident| $body:expr) => {
        match $crate::values::ValueType::text_kind($value_type) {
            None => {
                let $kind = $crate::values::Contact;
                $body
            }
            Some($kind) => $body,
        }
    };
}
pub(crate) use with_kind;

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The values one ledger line names: contact IDs (numbers), or strings in normal form.
/// Serialized as the plain JSON array (`[827,828]`, `["a@b.com"]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Values {
    Contacts(Vec<u64>),
    Strings(Vec<String>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Contacts(ids) => ids.len(),
            Values::Strings(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each value as text (for reports and messages).
    pub fn texts(&self) -> Box<dyn Iterator<Item = String> + '_> {
        match self {
            Values::Contacts(ids) => Box::new(ids.iter().map(u64::to_string)),
            Values::Strings(values) => Box::new(values.iter().cloned()),
        }
    }
}

/// What differs between contact IDs and strings; see the module doc.
pub trait Kind: Copy + fmt::Debug + Send + Sync + 'static {
    type Value: Clone
        + fmt::Debug
        + fmt::Display
        + PartialEq
        + Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static;
    type Key: Copy + Eq + Hash + Ord + fmt::Debug + Send + Sync + 'static;
    /// A set of keys in bounded memory.
    type Seen: SeenSet<Self::Key>;
    /// A map of keys to a small tag (the ledger's latest state of each value).
    type Map: KeyMap<Self::Key>;
    /// Where the values to unblock wait.
    type Spool: Spool<Self::Value>;

    /// Whether a cell of plain digits is a value as it stands (the readers' fast path).
    const WHOLE_NUMBERS: bool;

    fn value_type(self) -> ValueType;

    /// One input cell as a value in its normal form, or the reason it is rejected.
    fn parse(self, text: &str) -> Result<Self::Value, String>;

    /// A JSON value's text (a JSONL field) as a value, or the reason it is rejected.
    fn parse_json(self, json: &str) -> Result<Self::Value, String>;

    /// A run of ASCII digits already read as a number (not zero), when this kind takes it.
    fn whole_number(self, number: u64) -> Option<Self::Value>;

    fn key(value: &Self::Value) -> Self::Key;

    /// What `--shard` splits on.
    fn shard_key(key: Self::Key) -> u64;

    /// The values as a ledger line holds them, and back.
    fn to_values(values: Vec<Self::Value>) -> Values;
    fn of_values(values: &Values) -> Option<&[Self::Value]>;

    /// The values a block record of this kind names, in normal form: its contact
    /// (`data.id`), or its strings (`data: [...]`).
    fn named_by(self, contact: Option<u64>, strings: &[String]) -> Vec<Self::Value>;

    /// An empty spool.
    fn spool(self) -> io::Result<Self::Spool>;
}

/// Contact IDs: positive integers, kept in roaring bitmaps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contact;

impl Kind for Contact {
    type Value = u64;
    type Key = u64;
    type Seen = roaring::RoaringTreemap;
    type Map = GroupedIds;
    type Spool = IdSpool;

    const WHOLE_NUMBERS: bool = true;

    fn value_type(self) -> ValueType {
        ValueType::Contact
    }

    fn parse(self, text: &str) -> Result<u64, String> {
        parse_id(text).map_err(|error| id_reason(text, &error))
    }

    fn parse_json(self, json: &str) -> Result<u64, String> {
        let what = match json.as_bytes().first() {
            Some(b'"') => {
                // Borrow when the string has no escapes; fall back to an owned copy.
                return match serde_json::from_str::<&str>(json) {
                    Ok(text) => self.parse(text),
                    Err(_) => match serde_json::from_str::<String>(json) {
                        Ok(text) => self.parse(&text),
                        Err(error) => Err(format!("ID string cannot be read: {error}")),
                    },
                };
            }
            Some(b'n') => "null",
            Some(b't' | b'f') => "a boolean",
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            // A JSON number: its exact text goes through the same rules as a CSV field, so
            // `1.5`, `1e5`, `-5` and 5,000 digits get the same reasons there and here.
            _ => return self.parse(json),
        };
        Err(format!(
            "ID is {what}, not a number (give the contact ID as 827 or \"827\")"
        ))
    }

    #[inline]
    fn whole_number(self, number: u64) -> Option<u64> {
        Some(number)
    }

    #[inline]
    fn key(value: &u64) -> u64 {
        *value
    }

    fn shard_key(key: u64) -> u64 {
        key
    }

    fn to_values(values: Vec<u64>) -> Values {
        Values::Contacts(values)
    }

    fn of_values(values: &Values) -> Option<&[u64]> {
        match values {
            Values::Contacts(ids) => Some(ids),
            // An empty list reads as either.
            Values::Strings(values) if values.is_empty() => Some(&[]),
            Values::Strings(_) => None,
        }
    }

    fn named_by(self, contact: Option<u64>, _strings: &[String]) -> Vec<u64> {
        contact.into_iter().collect()
    }

    fn spool(self) -> io::Result<IdSpool> {
        Ok(IdSpool::default())
    }
}

/// Strings in a normal form (emails, IP addresses): kept in memory as 128-bit hashes,
/// never as the strings themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text(ValueType);

impl Text {
    /// The string kind of `value_type` (not `Contact`).
    pub fn new(value_type: ValueType) -> Option<Text> {
        value_type.text_kind()
    }

    /// The normal form of `raw`, or why it is not one of this type.
    pub fn normalize(self, raw: &str) -> Result<String, String> {
        match self.0 {
            ValueType::Email => text::normalize_email(raw),
            ValueType::Ip => text::normalize_ip(raw),
            ValueType::Contact => Err("a contact ID is a number, not text".into()),
        }
    }
}

impl Kind for Text {
    type Value = String;
    type Key = u128;
    type Seen = StringSet;
    type Map = HashedTags;
    type Spool = StringSpool;

    const WHOLE_NUMBERS: bool = false;

    fn value_type(self) -> ValueType {
        self.0
    }

    fn parse(self, raw: &str) -> Result<String, String> {
        self.normalize(raw).map_err(|why| match raw.trim() {
            "" => format!("empty {}", self.0),
            trimmed => format!("bad {} {:?}: {why}", self.0, clip_str(trimmed, 60)),
        })
    }

    fn parse_json(self, json: &str) -> Result<String, String> {
        let what = self.0.as_str();
        let text = match json.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(json)
                .map_err(|err| format!("{what} string cannot be read: {err}"))?,
            Some(b'n') => return Err(format!("{what} is null, not a string")),
            _ => return Err(format!("{what} is {}, not a string", clip_str(json, 40))),
        };
        self.parse(&text)
    }

    fn whole_number(self, _number: u64) -> Option<String> {
        None
    }

    fn key(value: &String) -> u128 {
        value_hash(value)
    }

    fn shard_key(key: u128) -> u64 {
        key as u64 ^ (key >> 64) as u64
    }

    fn to_values(values: Vec<String>) -> Values {
        Values::Strings(values)
    }

    fn of_values(values: &Values) -> Option<&[String]> {
        match values {
            Values::Strings(values) => Some(values),
            Values::Contacts(ids) if ids.is_empty() => Some(&[]),
            Values::Contacts(_) => None,
        }
    }

    fn named_by(self, _contact: Option<u64>, strings: &[String]) -> Vec<String> {
        strings
            .iter()
            .filter_map(|raw| self.normalize(raw).ok())
            .collect()
    }

    fn spool(self) -> io::Result<StringSpool> {
        StringSpool::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_name() {
        for value_type in ValueType::ALL {
            assert_eq!(ValueType::parse(value_type.as_str()), Some(value_type));
        }
        assert_eq!(ValueType::parse("phone"), None);
        assert!(ValueType::Contact.text_kind().is_none());
        assert!(ValueType::Email.text_kind().is_some());
    }

    #[test]
    fn kinds_parse_cells_and_json_with_the_reasons_of_their_type() {
        assert_eq!(Contact.parse(" 827 "), Ok(827));
        assert!(Contact.parse("abc").unwrap_err().contains("bad ID \"abc\""));
        assert_eq!(Contact.parse_json("827"), Ok(827));
        assert_eq!(Contact.parse_json("\"828\""), Ok(828));
        assert!(Contact.parse_json("null").unwrap_err().contains("null"));
        let email = Text::new(ValueType::Email).unwrap();
        assert_eq!(
            email.parse(" Bob@Example.COM"),
            Ok("bob@example.com".into())
        );
        assert_eq!(email.parse("  ").unwrap_err(), "empty email");
        assert!(
            email
                .parse("bob")
                .unwrap_err()
                .starts_with("bad email \"bob\"")
        );
        assert!(email.parse_json("5").unwrap_err().contains("not a string"));
        let ip = Text::new(ValueType::Ip).unwrap();
        assert_eq!(ip.parse("2001:0DB8::1"), Ok("2001:db8::1".into()));
    }

    #[test]
    fn records_name_their_values_in_normal_form() {
        assert_eq!(Contact.named_by(Some(7), &[]), [7]);
        assert!(Contact.named_by(None, &["a@b.co".into()]).is_empty());
        let email = Text::new(ValueType::Email).unwrap();
        assert_eq!(
            email.named_by(None, &["A@B.co".into(), "junk".into(), "c@d.io".into()]),
            ["a@b.co", "c@d.io"]
        );
    }

    #[test]
    fn ledger_values_keep_their_kind() {
        let ids = Contact::to_values(vec![1, 2]);
        assert_eq!(Contact::of_values(&ids), Some(&[1u64, 2][..]));
        assert_eq!(Text::of_values(&ids), None);
        assert_eq!(serde_json::to_string(&ids).unwrap(), "[1,2]");
        let strings = Text::to_values(vec!["a@b.co".into()]);
        assert_eq!(serde_json::to_string(&strings).unwrap(), r#"["a@b.co"]"#);
        assert_eq!(Contact::of_values(&strings), None);
    }
}
