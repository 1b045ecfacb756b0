//! Test-only routes that act on the account behind the client's back, as another user in
//! Acquire's web app would, and read its state for assertions:
//! - `GET  /_mock/records`: the account's records (filters: `type`, `value`, `id`,
//!   `blockBy`, `expired`, `offset`, `limit`);
//! - `POST /_mock/unblock`: delete the records named by id, or every record holding one
//!   of the values named (all of a record's values go with it, as in the web app);
//! - `POST /_mock/expire`: give those records another `blockTill` (default: a second ago);
//! - `POST /_mock/seed`: add records made by others (the seed file's shapes).
//!
//! Constraint: these calls are not the client's, so they take none of its faults (no
//! reset, latency, rate limit, failure or revocation) and count in none of its stats:
//! only in `admin_requests` and the `admin_*`/`records_seeded` figures. They still
//! need the key (`Authorization: Bearer KEY`): the records are the account's data.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::blocklist::{BlockList, Blocked, Kind, RecordView, lock};
use super::endpoint::{self, MockState, error_answer, json_bytes};
use super::seed::{self, Seed, SeedTill};
use super::text::quoted;

/// Largest admin body: seeds may be long.
const MAX_ADMIN_BODY: usize = 64 * 1024 * 1024;

/// What a record blocks, as `/_mock/records` shows it: `[827]` or `["a@b.co", ...]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordValues {
    Contact([u64; 1]),
    Texts(Vec<String>),
}

impl RecordValues {
    /// Each value as text (a contact ID in decimal).
    pub fn strings(&self) -> Vec<String> {
        match self {
            RecordValues::Contact([id]) => vec![id.to_string()],
            RecordValues::Texts(texts) => texts.clone(),
        }
    }

    /// True when it holds `value` (a contact ID in decimal).
    pub fn holds(&self, value: &str) -> bool {
        match self {
            RecordValues::Contact([id]) => value.parse() == Ok(*id),
            RecordValues::Texts(texts) => texts.iter().any(|text| text == value),
        }
    }
}

/// One record of the account, owned: what `GET /_mock/records` answers and
/// [`super::MockServer::records`] returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MockRecord {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub values: RecordValues,
    /// RFC 3339, UTC, milliseconds.
    pub block_till: String,
    pub date_created: String,
    /// 1: the API key's user (made through the API); others: seeded.
    pub block_by: u32,
    /// Its `blockTill` has passed (it is still listed).
    pub expired: bool,
}

impl MockRecord {
    pub(crate) fn of(view: &RecordView<'_>, now_ms: i64) -> MockRecord {
        MockRecord {
            id: view.id,
            kind: view.kind,
            values: match view.blocked {
                Blocked::Contact(id) => RecordValues::Contact([id]),
                Blocked::Texts(texts) => {
                    RecordValues::Texts(texts.iter().map(|t| t.to_string()).collect())
                }
            },
            block_till: view.block_till.to_owned(),
            date_created: super::blocklist::format_ms(view.created_ms),
            block_by: view.block_by,
            expired: view.expired(now_ms),
        }
    }

    /// `blockTill` as a time.
    pub fn block_till_time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.block_till)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Which records: by id, and/or every record holding one of `values`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Record ids.
    pub ids: Vec<u64>,
    /// The kind of `values`; `None`: contacts for numbers, emails and IPs for strings.
    pub kind: Option<Kind>,
    /// Contact IDs (in decimal), emails or IPs.
    pub values: Vec<String>,
}

impl Selector {
    pub fn ids(ids: impl IntoIterator<Item = u64>) -> Self {
        Selector {
            ids: ids.into_iter().collect(),
            ..Selector::default()
        }
    }

    pub fn contacts(contacts: impl IntoIterator<Item = u64>) -> Self {
        Selector {
            kind: Some(Kind::Contact),
            values: contacts.into_iter().map(|id| id.to_string()).collect(),
            ..Selector::default()
        }
    }

    pub fn texts<S: Into<String>>(kind: Kind, values: impl IntoIterator<Item = S>) -> Self {
        Selector {
            kind: Some(kind),
            values: values.into_iter().map(Into::into).collect(),
            ..Selector::default()
        }
    }

    /// From a JSON body: `{"ids": [3, 4], "type": "email", "values": ["a@b.co"]}`
    /// (values may be numbers for contacts).
    fn from_json(body: &Value) -> Result<Selector, String> {
        let object = body.as_object().ok_or(
            "send a JSON object such as {\"ids\": [3]} or {\"type\": \"email\", \"values\": [\"a@b.co\"]}",
        )?;
        let ids = match object.get("ids") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| {
                    id.as_u64()
                        .ok_or_else(|| format!("record id {id} is not a positive integer"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("`ids` {other} is not an array")),
        };
        let kind = seed::kind_field(object.get("type"))?;
        let values = match object.get("values") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(values)) => values
                .iter()
                .map(|value| match value {
                    Value::String(text) => Ok(text.clone()),
                    Value::Number(n) if n.is_u64() => Ok(n.to_string()),
                    other => Err(format!("value {other} is not a string or a contact ID")),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("`values` {other} is not an array")),
        };
        if ids.is_empty() && values.is_empty() {
            return Err("name the records: `ids` (record ids) or `values` (with `type`)".into());
        }
        Ok(Selector { ids, kind, values })
    }

    /// The ids of the live records it names, ascending, each once.
    pub(crate) fn select(&self, list: &BlockList) -> Vec<u64> {
        let mut ids: BTreeSet<u64> = self
            .ids
            .iter()
            .copied()
            .filter(|&id| list.get(id).is_some())
            .collect();
        for value in &self.values {
            for (kind, value) in lookups(self.kind, value) {
                ids.extend(list.records_holding(kind, &value));
            }
        }
        ids.into_iter().collect()
    }
}

/// Where to look a value up: its kind (given, or guessed), IPs in canonical form.
fn lookups(kind: Option<Kind>, value: &str) -> Vec<(Kind, String)> {
    let canonical = |value: &str| {
        value
            .parse::<IpAddr>()
            .map_or_else(|_| value.to_owned(), |ip| ip.to_string())
    };
    match kind {
        Some(Kind::Contact) => vec![(Kind::Contact, value.trim().to_owned())],
        Some(kind) => vec![(kind, canonical(value))],
        None if value.trim().parse::<u64>().is_ok() => {
            vec![(Kind::Contact, value.trim().to_owned())]
        }
        None => Kind::ALL
            .into_iter()
            .filter(|kind| *kind != Kind::Contact)
            .map(|kind| (kind, canonical(value)))
            .collect(),
    }
}

/// Which records `/_mock/records` shows; every filter is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordQuery {
    pub kind: Option<Kind>,
    /// Records holding this value (a contact ID in decimal, an email, an IP).
    pub value: Option<String>,
    pub id: Option<u64>,
    pub block_by: Option<u32>,
    /// Only expired (`true`) or unexpired (`false`) records.
    pub expired: Option<bool>,
    pub offset: usize,
    pub limit: Option<usize>,
}

impl RecordQuery {
    fn from_uri(uri: &Uri) -> Result<RecordQuery, String> {
        let params = endpoint::query_params(uri)?;
        let mut query = RecordQuery::default();
        for (name, text) in &params {
            let bad = || format!("`{name}` {} is not valid here", quoted(text));
            match name.as_str() {
                "type" => query.kind = Some(Kind::parse(text).ok_or_else(bad)?),
                "value" => query.value = Some(text.clone()),
                "id" => query.id = Some(text.trim().parse().map_err(|_| bad())?),
                "blockBy" => query.block_by = Some(text.trim().parse().map_err(|_| bad())?),
                "expired" => query.expired = Some(text.trim().parse().map_err(|_| bad())?),
                "offset" => query.offset = text.trim().parse().map_err(|_| bad())?,
                "limit" => query.limit = Some(text.trim().parse().map_err(|_| bad())?),
                other => {
                    return Err(format!(
                        "unknown parameter {}; filter with type, value, id, blockBy, expired, offset, limit",
                        quoted(other)
                    ));
                }
            }
        }
        Ok(query)
    }

    /// The matching records in id order (all, before `offset`/`limit`: their count),
    /// and the page asked for.
    pub(crate) fn run(&self, list: &BlockList, now_ms: i64) -> (usize, Vec<MockRecord>) {
        let candidates: Vec<RecordView<'_>> = match (&self.value, self.id) {
            (Some(value), _) => {
                let selector = Selector {
                    kind: self.kind,
                    values: vec![value.clone()],
                    ..Selector::default()
                };
                selector
                    .select(list)
                    .into_iter()
                    .filter_map(|id| list.get(id))
                    .collect()
            }
            (None, Some(id)) => list.get(id).into_iter().collect(),
            (None, None) => list.views().collect(),
        };
        let matching: Vec<RecordView<'_>> = candidates
            .into_iter()
            .filter(|r| self.kind.is_none_or(|kind| r.kind == kind))
            .filter(|r| self.id.is_none_or(|id| r.id == id))
            .filter(|r| self.block_by.is_none_or(|by| r.block_by == by))
            .filter(|r| self.expired.is_none_or(|e| r.expired(now_ms) == e))
            .collect();
        let page = matching
            .iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .map(|view| MockRecord::of(view, now_ms))
            .collect();
        (matching.len(), page)
    }
}

/// The 401 unless the key is right; `None` when it is.
fn refuse(state: &MockState, request: &Request) -> Option<Response> {
    state.stats.on_admin();
    endpoint::check_key(request.headers(), state.key())
        .err()
        .map(|why| error_answer(StatusCode::UNAUTHORIZED, "ERROR_UNAUTHORIZED", &why).1)
}

fn no_list() -> Response {
    error_answer(
        StatusCode::NOT_FOUND,
        "ERROR_NOT_FOUND",
        &"this imitation keeps no block list: start it with --block-list (or --seed-records, --seed-range)",
    )
    .1
}

fn bad_request(why: &str) -> Response {
    error_answer(StatusCode::BAD_REQUEST, "ERROR_INVALID_INPUT", &why).1
}

fn answer(value: &Value) -> Response {
    json_bytes(StatusCode::OK, Bytes::from(value.to_string()))
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

async fn body_json(request: Request) -> Result<Value, String> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_ADMIN_BODY)
        .await
        .map_err(|e| format!("could not read the body ({e})"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON ({e})"))
}

/// `GET /_mock/records`: `{"now", "count", "records": [record, ...]}`.
pub(crate) async fn list_records(
    State(state): State<Arc<MockState>>,
    request: Request,
) -> Response {
    if let Some(refused) = refuse(&state, &request) {
        return refused;
    }
    let Some(list) = &state.block_list else {
        return no_list();
    };
    let query = match RecordQuery::from_uri(request.uri()) {
        Ok(query) => query,
        Err(why) => return bad_request(&why),
    };
    let now = now();
    let (count, records) = query.run(&lock(list), now.timestamp_millis());
    answer(&json!({
        "now": super::blocklist::format_ms(now.timestamp_millis()),
        "count": count,
        "records": records,
    }))
}

/// `POST /_mock/unblock`: deletes the records named; `{"affected", "deleted": [record]}`.
pub(crate) async fn unblock(State(state): State<Arc<MockState>>, request: Request) -> Response {
    if let Some(refused) = refuse(&state, &request) {
        return refused;
    }
    let Some(list) = &state.block_list else {
        return no_list();
    };
    let selector = match body_json(request)
        .await
        .and_then(|body| Selector::from_json(&body))
    {
        Ok(selector) => selector,
        Err(why) => return bad_request(&why),
    };
    let deleted = delete(&mut lock(list), &selector, now().timestamp_millis());
    answer(&json!({ "affected": deleted.len(), "deleted": deleted }))
}

/// Deletes the records `selector` names, as an admin would; returns them as they were.
pub(crate) fn delete(list: &mut BlockList, selector: &Selector, now_ms: i64) -> Vec<MockRecord> {
    let ids = selector.select(list);
    let mut deleted = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(view) = list.get(id) {
            deleted.push(MockRecord::of(&view, now_ms));
        }
        list.delete_by_admin(id);
    }
    deleted
}

/// `POST /_mock/expire`: `{"ids"|"type"+"values", "blockTill": optional}` gives those
/// records that `blockTill` (RFC 3339 or an offset such as `-1d`; default `-1s`);
/// answers `{"affected", "records": [record as it is now]}`.
pub(crate) async fn expire(State(state): State<Arc<MockState>>, request: Request) -> Response {
    if let Some(refused) = refuse(&state, &request) {
        return refused;
    }
    let Some(list) = &state.block_list else {
        return no_list();
    };
    let body = match body_json(request).await {
        Ok(body) => body,
        Err(why) => return bad_request(&why),
    };
    let till = match body.get("blockTill") {
        None | Some(Value::Null) => Ok(SeedTill::FromNow(chrono::TimeDelta::seconds(-1))),
        Some(Value::String(text)) => text.parse(),
        Some(other) => Err(format!("`blockTill` {other} is not a string")),
    };
    let (selector, till) = match Selector::from_json(&body).and_then(|s| till.map(|t| (s, t))) {
        Ok(both) => both,
        Err(why) => return bad_request(&why),
    };
    let records = retime(&mut lock(list), &selector, till, now());
    answer(&json!({ "affected": records.len(), "records": records }))
}

/// Gives the records `selector` names the `blockTill` `till`; returns them as they are now.
pub(crate) fn retime(
    list: &mut BlockList,
    selector: &Selector,
    till: SeedTill,
    now: DateTime<Utc>,
) -> Vec<MockRecord> {
    let till_ms = till.ms(now);
    let now_ms = now.timestamp_millis();
    let retimed: Vec<u64> = selector
        .select(list)
        .into_iter()
        .filter(|&id| list.retime(id, till_ms))
        .collect();
    retimed
        .into_iter()
        .filter_map(|id| list.get(id).map(|view| MockRecord::of(&view, now_ms)))
        .collect()
}

/// `POST /_mock/seed`: one seed record, an array, or JSON Lines (the seed file's shapes,
/// `{"range": ...}` included); answers `{"created": [record ids]}`. All or nothing.
pub(crate) async fn add_seeds(State(state): State<Arc<MockState>>, request: Request) -> Response {
    if let Some(refused) = refuse(&state, &request) {
        return refused;
    }
    let Some(list) = &state.block_list else {
        return no_list();
    };
    let bytes = match axum::body::to_bytes(request.into_body(), MAX_ADMIN_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => return bad_request(&format!("could not read the body ({e})")),
    };
    let text = String::from_utf8_lossy(&bytes);
    let seeds: Vec<Seed> = match Seed::from_json_text(&text) {
        Ok(seeds) => seeds,
        Err(why) => return bad_request(&why),
    };
    match seed::apply(&mut lock(list), &seeds, now()) {
        Ok(ids) => answer(&json!({ "created": ids })),
        Err(why) => bad_request(&why),
    }
}
/// Adds the seeds to the imitation's block list (which they make it keep).
pub(crate) fn seed(state: &MockState, seeds: &[Seed]) -> Result<Vec<u64>, String> {
    let list = state
        .block_list
        .as_ref()
        .ok_or("this imitation keeps no block list to seed")?;
    seed::apply(&mut lock(list), seeds, chrono::Utc::now())
}
