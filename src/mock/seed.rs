//! Seeds: block records the account holds that the tool did not make (another user in
//! the web app, an earlier tool, an expired block nobody removed). They are given as
//! records ([`SeedRecord`]: a file of JSON Lines or CSV, `--seed-records`) or generated
//! ([`SeedRange`]: `--seed-range contact:1-1000,till=-1d`), and added before the first
//! request, or later through `POST /_mock/seed`.
//!
//! Constraint: a seed goes in whole or not at all, so every seed of a call is checked
//! (and IPs made canonical, as a block's are) before the first record is added. Emails
//! are checked like a block's, except that an email record may also hold IP addresses:
//! the docs' own example record (id 6, `"type": "email"`) holds two.

use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::blocklist::{BlockList, Kind, OTHER_USER, Values};
use super::text::quoted;

/// The most values all the ranges of one call may generate.
pub const MAX_RANGE_VALUES: u64 = 10_000_000;

/// When a seeded record's block ends: a time, or an offset from the moment it is added
/// (negative: already expired).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedTill {
    At(DateTime<Utc>),
    FromNow(TimeDelta),
}

impl Default for SeedTill {
    /// 30 days from now.
    fn default() -> Self {
        SeedTill::FromNow(TimeDelta::days(30))
    }
}

impl SeedTill {
    /// `blockTill` in milliseconds since the epoch, for a record added at `now`.
    pub fn ms(self, now: DateTime<Utc>) -> i64 {
        match self {
            SeedTill::At(at) => at.timestamp_millis(),
            SeedTill::FromNow(offset) => now
                .timestamp_millis()
                .saturating_add(offset.num_milliseconds()),
        }
    }

    /// An offset from now: `-1d` has expired a day ago.
    pub fn from_now(offset: TimeDelta) -> Self {
        SeedTill::FromNow(offset)
    }
}

impl FromStr for SeedTill {
    type Err = String;

    /// RFC 3339 (`2030-01-01T00:00:00.000Z`), `now`, or a signed offset from now:
    /// `+30d`, `-1h`, `-90s`, `2w` (units s, min, h, d, w).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "now" {
            return Ok(SeedTill::FromNow(TimeDelta::zero()));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(SeedTill::At(at.with_timezone(&Utc)));
        }
        parse_offset(text).map(SeedTill::FromNow).ok_or_else(|| {
            format!(
                "blockTill {} is neither an RFC 3339 time (2030-01-01T00:00:00.000Z) nor an offset from now (+30d, -1h, -90s, now; units s, min, h, d, w)",
                quoted(text)
            )
        })
    }
}

fn parse_offset(text: &str) -> Option<TimeDelta> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (number, unit) = rest.split_at(digits);
    let count: i64 = number.parse().ok()?;
    let seconds: i64 = match unit {
        "s" => 1,
        "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    TimeDelta::try_seconds(count.checked_mul(seconds)?.checked_mul(sign)?)
}

/// What one seeded record blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeedValues {
    Contact(u64),
    /// Emails or IPs: one record holding them all.
    Texts(Kind, Vec<String>),
}

/// One record made by someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRecord {
    pub values: SeedValues,
    pub block_till: SeedTill,
    /// The blocking user: [`OTHER_USER`] (2) unless set; 1 is the API key's user, as if
    /// the tool had made it.
    pub block_by: u32,
    /// `dateCreated`; when it is added if `None`.
    pub date_created: Option<DateTime<Utc>>,
}

impl SeedRecord {
    fn new(values: SeedValues) -> Self {
        SeedRecord {
            values,
            block_till: SeedTill::default(),
            block_by: OTHER_USER,
            date_created: None,
        }
    }

    /// A contact record, blocked by another user for 30 days.
    pub fn contact(id: u64) -> Self {
        SeedRecord::new(SeedValues::Contact(id))
    }

    /// One email record holding all these strings.
    pub fn emails<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        SeedRecord::new(SeedValues::Texts(
            Kind::Email,
            values.into_iter().map(Into::into).collect(),
        ))
    }

    /// One IP record holding all these addresses.
    pub fn ips<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        SeedRecord::new(SeedValues::Texts(
            Kind::Ip,
            values.into_iter().map(Into::into).collect(),
        ))
    }

    /// With this `blockTill`.
    pub fn till(self, block_till: SeedTill) -> Self {
        SeedRecord { block_till, ..self }
    }

    /// Blocked by this user.
    pub fn by(self, block_by: u32) -> Self {
        SeedRecord { block_by, ..self }
    }

    /// Created at this time.
    pub fn created(self, at: DateTime<Utc>) -> Self {
        SeedRecord {
            date_created: Some(at),
            ..self
        }
    }

    pub fn kind(&self) -> Kind {
        match &self.values {
            SeedValues::Contact(_) => Kind::Contact,
            SeedValues::Texts(kind, _) => *kind,
        }
    }

    /// A record from JSON: `{"type": "email", "values": ["a@b.co"], "blockTill": "-1d",
    /// "blockBy": 7, "dateCreated": "..."}`. `data` may stand for `values`, in the
    /// API's shapes too (`{"id": 827, ...}` for a contact), so a record from a list
    /// answer seeds as it is; its `id` and `user` are ignored. Without `type`, numbers
    /// are contacts, strings with an `@` emails, other strings IPs.
    pub fn from_json(value: &Value) -> Result<SeedRecord, String> {
        let object = value
            .as_object()
            .ok_or_else(|| "a seed record is a JSON object such as {\"type\": \"contact\", \"values\": [827], \"blockTill\": \"-1d\", \"blockBy\": 2}".to_owned())?;
        let kind = kind_field(object.get("type"))?;
        let values = object
            .get("values")
            .or_else(|| object.get("data"))
            .ok_or("`values` is missing: the contact ID, or the emails or IPs")?;
        let values = seed_values(kind, values)?;
        let block_till = match object.get("blockTill") {
            None | Some(Value::Null) => SeedTill::default(),
            Some(Value::String(text)) => text.parse()?,
            Some(other) => return Err(format!("`blockTill` {other} is not a string")),
        };
        let block_by = match object.get("blockBy") {
            None | Some(Value::Null) => OTHER_USER,
            Some(value) => number(value)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("`blockBy` {value} is not a user id"))?,
        };
        let date_created = match object.get("dateCreated") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(
                DateTime::parse_from_rfc3339(text)
                    .map_err(|e| format!("`dateCreated` {} is not RFC 3339 ({e})", quoted(text)))?
                    .with_timezone(&Utc),
            ),
            Some(other) => return Err(format!("`dateCreated` {other} is not a string")),
        };
        Ok(SeedRecord {
            values,
            block_till,
            block_by,
            date_created,
        })
    }

    /// Checked, with IPs in canonical form.
    fn checked(&self) -> Result<SeedRecord, String> {
        let values = match &self.values {
            SeedValues::Contact(0) => {
                return Err("contact ID 0: contact IDs are positive integers".to_owned());
            }
            SeedValues::Contact(id) => SeedValues::Contact(*id),
            SeedValues::Texts(kind, texts) => {
                if texts.is_empty() {
                    return Err(format!(
                        "an {} record holds at least one string",
                        kind.as_str()
                    ));
                }
                let checked = texts
                    .iter()
                    .map(|text| check_text(*kind, text))
                    .collect::<Result<Vec<_>, _>>()?;
                SeedValues::Texts(*kind, checked)
            }
        };
        Ok(SeedRecord {
            values,
            ..self.clone()
        })
    }
}

/// A number, or a string holding one.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn seed_values(kind: Option<Kind>, values: &Value) -> Result<SeedValues, String> {
    let items: Vec<&Value> = match values {
        Value::Array(items) => items.iter().collect(),
        // The API's contact shape: {"id": 827, "ip": ..., "email": ..., "phone": ...}.
        Value::Object(object) => vec![object.get("id").unwrap_or(&Value::Null)],
        single => vec![single],
    };
    let kind = kind.unwrap_or_else(|| match items.first() {
        Some(Value::String(text)) if text.contains('@') => Kind::Email,
        Some(Value::String(text)) if text.parse::<u64>().is_err() => Kind::Ip,
        _ => Kind::Contact,
    });
    match kind {
        Kind::Contact => match items.as_slice() {
            [one] => number(one)
                .map(SeedValues::Contact)
                .ok_or_else(|| format!("contact ID {one} is not a positive integer")),
            _ => Err(format!(
                "a contact record holds one contact ID, not {}",
                items.len()
            )),
        },
        _ => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{} value {item} is not a string", kind.as_str()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|texts| SeedValues::Texts(kind, texts)),
    }
}

fn check_text(kind: Kind, text: &str) -> Result<String, String> {
    // Acquire's own example has an email record holding an IP address.
    let ip_in_email = || {
        (kind == Kind::Email)
            .then(|| Kind::Ip.canonical(text))
            .flatten()
    };
    kind.canonical(text)
        .or_else(ip_in_email)
        .ok_or_else(|| format!("{} is not {}", quoted(text), kind.what()))
}

/// Generated records: values FIRST..=LAST, contacts one per record, emails
/// (`seedN@example.com`) and IPs (10.0.0.0 + N) `per_record` to a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub kind: Kind,
    pub first: u64,
    pub last: u64,
    /// Strings per email/IP record (contacts: always 1).
    pub per_record: usize,
    pub block_till: SeedTill,
    pub block_by: u32,
}

impl SeedRange {
    /// Contacts `first..=last`, one record each, blocked by another user for 30 days.
    pub fn contacts(first: u64, last: u64) -> Self {
        SeedRange {
            kind: Kind::Contact,
            first,
            last,
            per_record: 1,
            block_till: SeedTill::default(),
            block_by: OTHER_USER,
        }
    }

    /// The generated value number `n` (see [`Kind::generated`]).
    pub fn value(kind: Kind, n: u64) -> String {
        kind.generated(n)
    }

    /// How many values it generates.
    pub fn len(&self) -> u64 {
        self.last.saturating_sub(self.first).saturating_add(1)
    }

    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }

    fn check(&self) -> Result<(), String> {
        if self.is_empty() {
            return Err(format!(
                "range {}-{} is empty: write FIRST-LAST with FIRST <= LAST",
                self.first, self.last
            ));
        }
        if self.kind == Kind::Contact && self.first == 0 {
            return Err("contact IDs start at 1".to_owned());
        }
        Ok(())
    }
}

impl FromStr for SeedRange {
    type Err = String;

    /// `TYPE:FIRST-LAST[,per=K][,till=T][,by=U]`, e.g. `contact:1-1000`,
    /// `email:1-300,per=100,till=-1d,by=7`, `ip:5`.
    fn from_str(text: &str) -> Result<Self, String> {
        const FORM: &str = "write TYPE:FIRST-LAST[,per=K][,till=T][,by=U], e.g. contact:1-1000,till=-1d or email:1-300,per=100";
        let mut parts = text.split(',');
        let head = parts.next().unwrap_or_default();
        let (kind, span) = head
            .split_once(':')
            .ok_or_else(|| format!("{} has no TYPE: ({FORM})", quoted(text)))?;
        let kind = Kind::parse(kind.trim())
            .ok_or_else(|| format!("type {} is not contact, email or ip ({FORM})", quoted(kind)))?;
        let (first, last) = span.split_once('-').unwrap_or((span, span));
        let bound = |text: &str| {
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("{} is not a whole number ({FORM})", quoted(text)))
        };
        let mut range = SeedRange {
            kind,
            first: bound(first)?,
            last: bound(last)?,
            ..SeedRange::contacts(1, 1)
        };
        for part in parts {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{} is not NAME=VALUE ({FORM})", quoted(part)))?;
            match name.trim() {
                "per" => {
                    range.per_record = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|&per| per > 0)
                        .ok_or_else(|| format!("per={} is not a positive number", quoted(value)))?;
                }
                "till" => range.block_till = value.parse()?,
                "by" => {
                    range.block_by = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("by={} is not a user id", quoted(value)))?;
                }
                other => {
                    return Err(format!(
                        "unknown setting {} (per, till, by) ({FORM})",
                        quoted(other)
                    ));
                }
            }
        }
        range.check()?;
        Ok(range)
    }
}

/// Records to add: given one by one, or generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seed {
    Record(SeedRecord),
    Range(SeedRange),
}

impl From<SeedRecord> for Seed {
    fn from(record: SeedRecord) -> Self {
        Seed::Record(record)
    }
}

impl From<SeedRange> for Seed {
    fn from(range: SeedRange) -> Self {
        Seed::Range(range)
    }
}

impl Seed {
    /// Checked, IPs made canonical.
    fn checked(self) -> Result<Seed, String> {
        match self {
            Seed::Record(record) => record.checked().map(Seed::Record),
            Seed::Range(range) => range.check().map(|()| Seed::Range(range)),
        }
    }

    /// A seed from JSON: a record (see [`SeedRecord::from_json`]), or `{"range":
    /// "contact:1-100,till=-1d"}`.
    pub fn from_json(value: &Value) -> Result<Seed, String> {
        match value.get("range") {
            Some(Value::String(spec)) => spec.parse().map(Seed::Range),
            Some(other) => Err(format!("`range` {other} is not a string")),
            None => SeedRecord::from_json(value).map(Seed::Record),
        }
    }

    /// Seeds from a body: one JSON object, an array of them, or JSON Lines.
    pub fn from_json_text(text: &str) -> Result<Vec<Seed>, String> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    Seed::from_json(item).map_err(|why| format!("[{index}]: {why}"))
                })
                .collect(),
            Ok(single) => Seed::from_json(&single).map(|seed| vec![seed]),
            Err(_) => {
                json_lines(text.as_bytes()).map_err(|(line, why)| format!("line {line}: {why}"))
            }
        }
    }
}

/// Why a seed file could not be read; names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum SeedFileError {
    #[error("cannot read the seed file {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}:{line}: {why}")]
    Bad {
        path: String,
        line: u64,
        why: String,
    },
}

/// Reads a seed file: JSON Lines (one record or `{"range": ...}` per line; `.jsonl`,
/// `.ndjson`, `.json`, or a first character `{`) or CSV with a header naming `type`,
/// `values` (several emails or IPs separated by spaces), `blockTill`, `blockBy`,
/// `dateCreated` (only `values` is required). Blank lines are skipped.
pub fn read_seed_file(path: &Path) -> Result<Vec<Seed>, SeedFileError> {
    let name = path.display().to_string();
    let io = |error| SeedFileError::Io {
        path: name.clone(),
        error,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let is_json = match extension.as_deref() {
        Some("jsonl" | "ndjson" | "json") => true,
        Some("csv") => false,
        _ => bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    };
    let parsed = if is_json {
        json_lines(&bytes)
    } else {
        csv_records(&bytes)
    };
    parsed.map_err(|(line, why)| SeedFileError::Bad {
        path: name,
        line,
        why,
    })
}

fn json_lines(bytes: &[u8]) -> Result<Vec<Seed>, (u64, String)> {
    let mut seeds = Vec::new();
    for (index, line) in bytes.lines().enumerate() {
        let number = index as u64 + 1;
        let line = line.map_err(|e| (number, format!("not UTF-8 text ({e})")))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|e| (number, format!("not JSON ({e})")))?;
        seeds.push(
            Seed::from_json(&value)
                .and_then(Seed::checked)
                .map_err(|why| (number, why))?,
        );
    }
    Ok(seeds)
}

fn csv_records(bytes: &[u8]) -> Result<Vec<Seed>, (u64, String)> {
    const COLUMNS: [&str; 6] = [
        "type",
        "values",
        "data",
        "blockTill",
        "blockBy",
        "dateCreated",
    ];
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| (1, format!("unreadable CSV header ({e})")))?
        .clone();
    if !headers.iter().any(|h| h == "values" || h == "data") {
        return Err((
            1,
            format!(
                "the CSV header has no `values` column; write a header such as type,values,blockTill,blockBy (found {})",
                quoted(&headers.iter().collect::<Vec<_>>().join(","))
            ),
        ));
    }
    let mut seeds = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            (line, format!("unreadable CSV record ({e})"))
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut object = Map::new();
        for (header, cell) in headers.iter().zip(record.iter()) {
            if cell.is_empty() || !COLUMNS.contains(&header) {
                continue;
            }
            let value = if header == "values" || header == "data" {
                Value::Array(
                    cell.split_whitespace()
                        .map(|v| Value::String(v.to_owned()))
                        .collect(),
                )
            } else {
                Value::String(cell.to_owned())
            };
            object.insert(header.to_owned(), value);
        }
        let seed = SeedRecord::from_json(&Value::Object(object))
            .and_then(|record| record.checked())
            .map_err(|why| (line, why))?;
        seeds.push(Seed::Record(seed));
    }
    Ok(seeds)
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seed::Record(record) => match record.kind() {
                Kind::Contact => f.write_str("a contact record"),
                kind => write!(f, "an {} record", kind.as_str()),
            },
            Seed::Range(range) => {
                write!(f, "{} {}-{}", range.kind.as_str(), range.first, range.last)
            }
        }
    }
}

/// Checks every seed, then adds their records in order at `now`; returns the new
/// records' ids. On `Err` (naming the seed) nothing was added.
pub(crate) fn apply(
    list: &mut BlockList,
    seeds: &[Seed],
    now: DateTime<Utc>,
) -> Result<Vec<u64>, String> {
    let mut checked = Vec::with_capacity(seeds.len());
    let mut generated: u64 = 0;
    for (index, seed) in seeds.iter().enumerate() {
        let why = |why: String| format!("seed {} ({seed}): {why}", index + 1);
        match seed {
            Seed::Record(record) => checked.push(Seed::Record(record.checked().map_err(why)?)),
            Seed::Range(range) => {
                range.check().map_err(why)?;
                generated = generated.saturating_add(range.len());
                if generated > MAX_RANGE_VALUES {
                    return Err(format!(
                        "the ranges generate more than {MAX_RANGE_VALUES} values; seed fewer"
                    ));
                }
                checked.push(Seed::Range(range.clone()));
            }
        }
    }
    let now_ms = now.timestamp_millis();
    let mut ids = Vec::new();
    for seed in &checked {
        match seed {
            Seed::Record(record) => {
                let till = record.block_till.ms(now);
                let created = record
                    .date_created
                    .map_or(now_ms, |at| at.timestamp_millis());
                let id = match &record.values {
                    SeedValues::Contact(id) => {
                        list.insert(Values::Contacts(&[*id]), till, created, record.block_by)
                    }
                    SeedValues::Texts(kind, texts) => {
                        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                        list.insert(Values::Texts(*kind, &texts), till, created, record.block_by)
                    }
                };
                ids.push(id);
            }
            Seed::Range(range) => {
                let till = range.block_till.ms(now);
                if range.kind == Kind::Contact {
                    for contact in range.first..=range.last {
                        ids.push(list.insert(
                            Values::Contacts(&[contact]),
                            till,
                            now_ms,
                            range.block_by,
                        ));
                    }
                    continue;
                }
                let values: Vec<String> = (range.first..=range.last)
                    .map(|n| SeedRange::value(range.kind, n))
                    .collect();
                for chunk in values.chunks(range.per_record.max(1)) {
                    let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    ids.push(list.insert(
                        Values::Texts(range.kind, &texts),
                        till,
                        now_ms,
                        range.block_by,
                    ));
                }
            }
        }
    }
    Ok(ids)
}

/// A JSON object's `type`: a kind's name, or absent (`null`).
pub(crate) fn kind_field(value: Option<&Value>) -> Result<Option<Kind>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Kind::parse(text).map(Some).ok_or_else(|| {
            format!(
                "`type` {} is not \"contact\", \"email\" or \"ip\"",
                quoted(text)
            )
        }),
        Some(other) => Err(format!("`type` {other} is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000).expect("a valid time")
    }

    #[test]
    fn block_till_takes_times_and_offsets_from_now() {
        let at: SeedTill = "2030-01-01T02:00:00+02:00".parse().expect("RFC 3339");
        assert_eq!(at.ms(now()), 1_893_456_000_000);
        for (text, offset_ms) in [
            ("now", 0),
            ("-1d", -86_400_000),
            ("+2h", 7_200_000),
            ("90s", 90_000),
            ("-5min", -300_000),
            ("1w", 604_800_000),
        ] {
            let till: SeedTill = text.parse().expect(text);
            assert_eq!(
                till.ms(now()) - now().timestamp_millis(),
                offset_ms,
                "{text}"
            );
        }
        for bad in ["", "5m", "1mo", "soon", "-d", "2030-13-01T00:00:00Z"] {
            let error = bad.parse::<SeedTill>().expect_err(bad);
            assert!(error.contains("offset from now"), "{error}");
        }
        assert_eq!(SeedTill::default(), SeedTill::FromNow(TimeDelta::days(30)));
    }

    #[test]
    fn records_read_from_their_json_shapes() {
        let email = SeedRecord::from_json(&json!({
            "type": "email", "values": ["a@b.co", "c@d.org"], "blockTill": "-1d", "blockBy": 7
        }))
        .expect("email record");
        assert_eq!(
            email,
            SeedRecord::emails(["a@b.co", "c@d.org"])
                .till(SeedTill::FromNow(TimeDelta::days(-1)))
                .by(7)
        );
        // A record as the list answers it seeds as it is (id and user ignored).
        let listed = SeedRecord::from_json(&json!({
            "id": 1, "data": {"id": 597304, "ip": "", "email": "", "phone": ""},
            "dateCreated": "2021-02-04T20:00:46.000Z", "blockTill": "2022-02-04T23:59:59.000Z",
            "blockBy": 1, "type": "contact", "user": {"id": 1}
        }))
        .expect("listed record");
        assert_eq!(listed.values, SeedValues::Contact(597304));
        assert_eq!(listed.block_by, 1);
        assert!(listed.date_created.is_some());
        let inferred = [
            (json!({"values": 5}), SeedValues::Contact(5)),
            (json!({"values": ["6"]}), SeedValues::Contact(6)),
            (
                json!({"data": "x@y.io"}),
                SeedValues::Texts(Kind::Email, vec!["x@y.io".into()]),
            ),
            (
                json!({"values": ["::1"]}),
                SeedValues::Texts(Kind::Ip, vec!["::1".into()]),
            ),
        ];
        for (json, values) in inferred {
            let record = SeedRecord::from_json(&json).expect("record");
            assert_eq!(record.values, values, "{json}");
            assert_eq!(record.block_by, OTHER_USER);
        }
        for (bad, says) in [
            (json!([1]), "JSON object"),
            (json!({"type": "visitor", "values": [1]}), "visitor"),
            (json!({"type": "contact"}), "`values` is missing"),
            (
                json!({"type": "contact", "values": [1, 2]}),
                "one contact ID",
            ),
            (
                json!({"type": "contact", "values": "x"}),
                "positive integer",
            ),
            (json!({"type": "email", "values": [1]}), "not a string"),
            (
                json!({"values": [1], "blockTill": "soon"}),
                "offset from now",
            ),
            (json!({"values": [1], "blockBy": -1}), "user id"),
            (json!({"values": [1], "dateCreated": "x"}), "RFC 3339"),
        ] {
            let error = SeedRecord::from_json(&bad).expect_err("refused");
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn ranges_parse_with_their_settings() {
        let range: SeedRange = "email:1-300,per=100,till=-1d,by=7".parse().expect("range");
        assert_eq!(
            range,
            SeedRange {
                kind: Kind::Email,
                first: 1,
                last: 300,
                per_record: 100,
                block_till: SeedTill::FromNow(TimeDelta::days(-1)),
                block_by: 7,
            }
        );
        assert_eq!(
            "ip:5".parse::<SeedRange>().map(|r| (r.first, r.last)),
            Ok((5, 5))
        );
        assert_eq!("contact:1-10".parse(), Ok(SeedRange::contacts(1, 10)));
        for (bad, says) in [
            ("1-10", "no TYPE"),
            ("user:1-10", "not contact, email or ip"),
            ("contact:a-10", "whole number"),
            ("contact:10-1", "empty"),
            ("contact:0-1", "start at 1"),
            ("email:1-3,per=0", "positive"),
            ("email:1-3,every=2", "unknown setting"),
            ("email:1-3,per", "NAME=VALUE"),
        ] {
            let error = bad.parse::<SeedRange>().expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
        assert_eq!(SeedRange::value(Kind::Email, 3), "seed3@example.com");
        assert_eq!(SeedRange::value(Kind::Ip, 258), "10.0.1.2");
    }

    #[test]
    fn apply_checks_everything_first_and_makes_ips_canonical() {
        let mut list = BlockList::new();
        let seeds: Vec<Seed> = vec![
            SeedRecord::ips(["2001:DB8::1"]).into(),
            SeedRecord::emails(["10.10.10.10", "11.11.11.11"]).into(),
            "email:1-5,per=2"
                .parse::<SeedRange>()
                .expect("range")
                .into(),
            SeedRange::contacts(7, 9).into(),
        ];
        let ids = apply(&mut list, &seeds, now()).expect("seeds");
        assert_eq!(ids, (1..=8).collect::<Vec<u64>>());
        assert_eq!(list.records_holding(Kind::Ip, "2001:db8::1"), [1]);
        assert_eq!(list.records_holding(Kind::Email, "11.11.11.11"), [2]);
        assert_eq!(list.records_holding(Kind::Email, "seed4@example.com"), [4]);
        assert_eq!(list.records_holding(Kind::Email, "seed5@example.com"), [5]);
        assert_eq!(list.records_holding(Kind::Contact, "9"), [8]);
        for bad in [
            Seed::from(SeedRecord::ips(["10.0.0.300"])),
            SeedRecord::emails(["not an email"]).into(),
            SeedRecord::emails(Vec::<String>::new()).into(),
            SeedRecord::contact(0).into(),
            SeedRange {
                last: MAX_RANGE_VALUES + 1,
                ..SeedRange::contacts(1, 1)
            }
            .into(),
        ] {
            let before = list.live();
            let seeds = [SeedRecord::contact(99).into(), bad.clone()];
            let error = apply(&mut list, &seeds, now()).expect_err("refused");
            assert!(
                error.contains("seed 2") || error.contains("more than"),
                "{error}"
            );
            assert_eq!(list.live(), before, "nothing added for {bad:?}");
        }
    }

    #[test]
    fn files_of_json_lines_and_csv_are_read_with_their_line_numbers() {
        let (dir, jsonl) = crate::testing::temp_file(
            "seed.jsonl",
            "{\"type\":\"contact\",\"values\":[827],\"blockTill\":\"-1d\"}\n\n{\"range\":\"ip:1-4,per=2\"}\n",
        );
        let seeds = read_seed_file(&jsonl).expect("JSON Lines");
        assert_eq!(seeds.len(), 2);
        assert!(matches!(&seeds[1], Seed::Range(r) if r.kind == Kind::Ip && r.per_record == 2));

        let csv = dir.path().join("seed.csv");
        std::fs::write(
            &csv,
            "type,values,blockTill,blockBy\ncontact,5,,\nemail,a@b.co c@d.org,-2h,9\n",
        )
        .expect("write");
        let seeds = read_seed_file(&csv).expect("CSV");
        assert_eq!(
            seeds,
            [
                Seed::Record(SeedRecord::contact(5)),
                Seed::Record(
                    SeedRecord::emails(["a@b.co", "c@d.org"])
                        .till(SeedTill::FromNow(TimeDelta::hours(-2)))
                        .by(9)
                ),
            ]
        );

        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, "{\"values\":[1]}\n{\"values\":[1],\"type\":\"x\"}\n").expect("write");
        let error = read_seed_file(&bad).expect_err("refused").to_string();
        assert!(
            error.ends_with("bad.jsonl:2: `type` \"x\" is not \"contact\", \"email\" or \"ip\""),
            "{error}"
        );
        std::fs::write(
            &bad,
            "{\"values\":[1]}\n\n{\"type\":\"ip\",\"values\":[\"::1\",\"10.0.0.300\"]}\n",
        )
        .expect("write");
        let error = read_seed_file(&bad).expect_err("refused").to_string();
        assert!(
            error.ends_with("bad.jsonl:3: \"10.0.0.300\" is not an IP address"),
            "{error}"
        );
        let no_values = dir.path().join("bad.csv");
        std::fs::write(&no_values, "type,value\ncontact,1\n").expect("write");
        let error = read_seed_file(&no_values).expect_err("refused").to_string();
        assert!(
            error.contains("bad.csv:1: the CSV header has no `values`"),
            "{error}"
        );
        let missing = read_seed_file(&dir.path().join("none.csv")).expect_err("refused");
        assert!(missing.to_string().starts_with("cannot read the seed file"));
    }

    #[test]
    fn bodies_may_be_an_object_an_array_or_json_lines() {
        let one = Seed::from_json_text(r#"{"values": [1]}"#).expect("object");
        let array =
            Seed::from_json_text(r#"[{"values": [1]}, {"range": "contact:2-3"}]"#).expect("array");
        let lines = Seed::from_json_text("{\"values\": [1]}\n{\"range\": \"contact:2-3\"}\n")
            .expect("lines");
        assert_eq!(one.len(), 1);
        assert_eq!(array, lines);
        let error = Seed::from_json_text(r#"[{"values": [1]}, {"values": []}]"#).expect_err("bad");
        assert!(error.starts_with("[1]:"), "{error}");
    }
}
