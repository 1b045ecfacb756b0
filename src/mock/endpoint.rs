//! The mock's routes: `POST /api/v1/crm/block-visitor` imitating Acquire (the list, get
//! and delete calls are in `records.rs`), plus `GET /_mock/stats`, `GET /_mock/health`,
//! the admin routes of `admin.rs` and a JSON 404 for anything else.
//!
//! Constraint: the checks run in a fixed order (reset, key, rate limit, body, latency,
//! server failure, `{"data": false}`, success) so that tests and clients can predict
//! which answer wins, and the success path allocates little: the body is parsed into a
//! struct borrowing from the request bytes and the answers are static bytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde::Deserialize;

use super::blocklist::{BlockList, Kind, lock};
use super::faults::{FaultPlan, Revocation, ServerFailure};
use super::limiter::{LimitState, Limiter, retry_after_secs};
use super::stats::{Stats, StatsRecorder};
use super::text::quoted;
use super::{Faults, MockConfig};

/// The path of Acquire's block endpoint.
pub const BLOCK_PATH: &str = "/api/v1/crm/block-visitor";
/// Larger bodies are refused: 32 MiB is over 1.5 million 20-digit IDs in one batch.
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

const BLOCKED_BODY: &[u8] = br#"{"data":true}"#;
pub(crate) const NOT_BLOCKED_BODY: &[u8] = br#"{"data":false}"#;
/// A 200 in neither documented form (the odd-answer fault).
pub(crate) const ODD_BODY: &[u8] = br#"{"status":"ok"}"#;

tokio::task_local! {
    /// The limit's state when this request was counted (or refused), for
    /// `--ratelimit-headers`: set by the check, read by `advertise` around the handler.
    static LIMIT_STATE: std::cell::Cell<Option<LimitState>>;
}

/// Counts a request against the limit (when there is one): `Err(wait)` when refused. With
/// `--ratelimit-headers`, notes the limit's state for `advertise`.
fn check_limit(state: &MockState) -> Result<(), std::time::Duration> {
    let Some(limiter) = &state.limiter else {
        return Ok(());
    };
    let now = std::time::Instant::now();
    if state.faults.ratelimit_headers.is_none() {
        return limiter.admit(now);
    }
    let (admitted, told) = limiter.admit_telling(now);
    let _ = LIMIT_STATE.try_with(|cell| cell.set(Some(told)));
    admitted
}

/// `--ratelimit-headers`: every answer of the API's routes says the limit, as it stood when
/// the request was counted (or now, for a request refused before that).
pub(crate) async fn advertise(
    State(state): State<Arc<MockState>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    LIMIT_STATE
        .scope(std::cell::Cell::new(None), async move {
            let mut response = next.run(request).await;
            let told = LIMIT_STATE.with(std::cell::Cell::get).or_else(|| {
                state
                    .limiter
                    .as_ref()
                    .map(|limiter| limiter.state(std::time::Instant::now()))
            });
            if let (Some(family), Some(told)) = (state.faults.ratelimit_headers, told) {
                let headers = response.headers_mut();
                for (name, value) in told.headers(family, std::time::SystemTime::now()) {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
            }
            response
        })
        .await
}

/// Put in a response's extensions to ask the connection layer to drop the connection
/// instead of answering (the reset fault).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropConnection;

/// Everything the handlers share.
pub(crate) struct MockState {
    key: String,
    faults: Faults,
    pub(crate) stats: StatsRecorder,
    limiter: Option<Limiter>,
    revocation: Revocation,
    /// The records, when kept (see `BlockListOptions::keeps_list`); `None` is the fast path.
    pub(crate) block_list: Option<Mutex<BlockList>>,
}

impl MockState {
    pub(crate) fn new(config: MockConfig) -> Self {
        let keeps_list = config.faults.block_list.keeps_list(config.record_ids);
        MockState {
            block_list: keeps_list.then(|| Mutex::new(BlockList::new())),
            stats: StatsRecorder::new(config.record_ids),
            limiter: config.faults.rate_limit.map(|limit| {
                let faults = &config.faults;
                Limiter::new(
                    faults.limit_kind,
                    limit,
                    faults.limit_burst,
                    std::time::Instant::now(),
                )
            }),
            revocation: Revocation::new(config.faults.revoke_after),
            key: config.key,
            faults: config.faults,
        }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The expected key (never printed).
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The rate limit's R (0 when there is none).
    fn limit(&self) -> u32 {
        self.limiter.as_ref().map_or(0, Limiter::limit)
    }

    /// The counters plus the block list's figures.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = self.stats.snapshot();
        if let Some(list) = &self.block_list {
            stats.add_list(&lock(list));
        }
        stats
    }
}

/// Why a request body was refused; each message says what to send instead.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InvalidBody {
    #[error(
        "could not read the request body ({0}); bodies are limited to 32 MiB: send smaller batches"
    )]
    Unreadable(String),
    #[error(
        "request body is not valid JSON ({0}); send {{\"data\": [827, 828], \"type\": \"contact\", \"blockTill\": \"2021-09-09T07:08:12.658Z\"}}"
    )]
    NotJson(serde_json::Error),
    #[error(
        "request body does not have the expected shape ({0}); send {{\"data\": [positive integer IDs], \"type\": \"contact\", \"blockTill\": RFC 3339 time}}"
    )]
    WrongShape(serde_json::Error),
    #[error(
        "`data` is missing or null; send a non-empty array of contact IDs (or strings for type email or ip)"
    )]
    MissingData,
    #[error("`data` is empty; send at least one contact ID, email or IP")]
    EmptyData,
    #[error("`data[{index}]` is 0; contact IDs are positive integers")]
    ZeroId { index: usize },
    #[error("`type` is missing; send \"type\": \"contact\"")]
    MissingType,
    #[error("`type` is {found}; the supported types are {}", Kind::ALL.map(|k| format!("\"{}\"", k.as_str())).join(", "))]
    WrongType { found: String },
    #[error("`data` holds strings but `type` is \"contact\"; contact IDs are positive integers")]
    TextsForContact,
    #[error("`data` holds numbers but `type` is \"{}\"; send an array of strings", kind.as_str())]
    IdsForText { kind: Kind },
    #[error("`data[{index}]` {value} is not {}", kind.what())]
    BadText {
        index: usize,
        value: String,
        kind: Kind,
    },
    #[error("`blockTill` is missing; send an RFC 3339 time such as \"2021-09-09T07:08:12.658Z\"")]
    MissingBlockTill,
    #[error(
        "`blockTill` {value} is not an RFC 3339 time ({reason}); send one such as \"2021-09-09T07:08:12.658Z\""
    )]
    BadBlockTill { value: String, reason: String },
    #[error("contact ID {id} cannot be blocked (poisoned in the mock); leave it out of the batch")]
    Poisoned { id: u64 },
}

/// The body exactly as sent; strings borrow from the request bytes when they hold no escapes.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with `data`, `type` and `blockTill`")]
struct RawBlockRequest<'a> {
    #[serde(borrow)]
    data: Option<RawData<'a>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(rename = "blockTill", borrow)]
    block_till: Option<Text<'a>>,
}

/// A JSON string that borrows unless it holds escapes. The newtype is needed because
/// serde only borrows a `Cow` that is a field itself, not one inside an `Option`.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// `data`: an array of contact IDs, or of strings (emails, IPs). The first element
/// decides which; the rest must match. Contact IDs take the same path as a plain
/// `Vec<u64>` (no buffering), so the contact fast path is unchanged.
enum RawData<'a> {
    Ids(Vec<u64>),
    Texts(Vec<Cow<'a, str>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for RawData<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RawDataVisitor(std::marker::PhantomData))
    }
}

struct RawDataVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for RawDataVisitor<'a> {
    type Value = RawData<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of contact IDs (positive integers) or of strings")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        match seq.next_element::<Element<'a>>()? {
            None => Ok(RawData::Ids(Vec::new())),
            Some(Element::Id(first)) => {
                let mut ids = vec![first];
                while let Some(id) = seq.next_element::<u64>()? {
                    ids.push(id);
                }
                Ok(RawData::Ids(ids))
            }
            Some(Element::Text(first)) => {
                let mut texts = vec![first];
                while let Some(Text(text)) = seq.next_element::<Text<'a>>()? {
                    texts.push(text);
                }
                Ok(RawData::Texts(texts))
            }
        }
    }
}

/// The first element of `data`.
enum Element<'a> {
    Id(u64),
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Element<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementVisitor(std::marker::PhantomData))
    }
}

struct ElementVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for ElementVisitor<'a> {
    type Value = Element<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a contact ID (positive integer) or a string")
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Element::Id(value))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
        u64::try_from(value).map(Element::Id).map_err(|_| {
            E::invalid_value(serde::de::Unexpected::Signed(value), &"a positive integer")
        })
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Element::Text(Cow::Borrowed(value)))
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Element::Text(Cow::Owned(value.to_owned())))
    }
}

/// The values of a body that passed every check.
#[derive(Debug)]
pub(crate) enum RequestData<'a> {
    Contacts(Vec<u64>),
    /// Emails or IPs (IPs in their canonical form), checked.
    Texts(Kind, Vec<Cow<'a, str>>),
}

/// A body that passed every check.
#[derive(Debug)]
pub(crate) struct BlockRequest<'a> {
    pub(crate) data: RequestData<'a>,
    pub(crate) block_till: Cow<'a, str>,
}

/// Checks every string of an email or IP block, each in its kind's canonical form.
fn check_texts<'a>(kind: Kind, texts: Vec<Cow<'a, str>>) -> Result<RequestData<'a>, InvalidBody> {
    let mut checked = Vec::with_capacity(texts.len());
    for (index, text) in texts.into_iter().enumerate() {
        match kind.canonical(&text) {
            Some(canonical) if canonical == text => checked.push(text),
            Some(canonical) => checked.push(Cow::Owned(canonical)),
            None => {
                return Err(InvalidBody::BadText {
                    index,
                    value: quoted(&text),
                    kind,
                });
            }
        }
    }
    Ok(RequestData::Texts(kind, checked))
}

/// Checks a block request body the way the mock's contract describes.
pub(crate) fn parse_block_request<'a>(
    bytes: &'a [u8],
    poison: &[u64],
) -> Result<BlockRequest<'a>, InvalidBody> {
    let raw: RawBlockRequest<'a> = serde_json::from_slice(bytes).map_err(|error| {
        if error.is_data() {
            InvalidBody::WrongShape(error)
        } else {
            InvalidBody::NotJson(error)
        }
    })?;
    let data = raw.data.ok_or(InvalidBody::MissingData)?;
    let kind = match raw.kind.as_ref().map(|Text(kind)| kind.as_ref()) {
        None => return Err(InvalidBody::MissingType),
        Some(name) => Kind::parse(name).ok_or_else(|| InvalidBody::WrongType {
            found: quoted(name),
        })?,
    };
    let data = match (kind, data) {
        (_, RawData::Ids(ids)) if ids.is_empty() => return Err(InvalidBody::EmptyData),
        (Kind::Contact, RawData::Ids(ids)) => {
            if let Some(index) = ids.iter().position(|&id| id == 0) {
                return Err(InvalidBody::ZeroId { index });
            }
            RequestData::Contacts(ids)
        }
        (Kind::Contact, RawData::Texts(_)) => return Err(InvalidBody::TextsForContact),
        (kind, RawData::Ids(_)) => return Err(InvalidBody::IdsForText { kind }),
        (kind, RawData::Texts(texts)) => check_texts(kind, texts)?,
    };
    let Text(block_till) = raw.block_till.ok_or(InvalidBody::MissingBlockTill)?;
    if let Err(error) = chrono::DateTime::parse_from_rfc3339(&block_till) {
        return Err(InvalidBody::BadBlockTill {
            value: quoted(&block_till),
            reason: error.to_string(),
        });
    }
    if !poison.is_empty()
        && let RequestData::Contacts(ids) = &data
        && let Some(&id) = ids.iter().find(|id| poison.contains(id))
    {
        return Err(InvalidBody::Poisoned { id });
    }
    Ok(BlockRequest { data, block_till })
}

/// Why a request was refused for its credentials.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unauthorized {
    #[error("missing Authorization header; send `Authorization: Bearer <API key>`")]
    Missing,
    #[error("invalid API key; send `Authorization: Bearer <API key>` with the account's key")]
    WrongKey,
    #[error("API key revoked after {0} successful requests (mock revoke_after); use a valid key")]
    Revoked(u64),
}

// The key sent is never echoed back: it may be a real one sent to the wrong place.
pub(crate) fn check_key(headers: &HeaderMap, key: &str) -> Result<(), Unauthorized> {
    let sent = headers
        .get(header::AUTHORIZATION)
        .ok_or(Unauthorized::Missing)?;
    match sent.as_bytes().strip_prefix(b"Bearer ") {
        Some(token) if token == key.as_bytes() => Ok(()),
        _ => Err(Unauthorized::WrongKey),
    }
}

/// Counts a blocked batch in the stats.
pub(crate) fn record_blocked(stats: &StatsRecorder, block: &BlockRequest<'_>) {
    match &block.data {
        RequestData::Contacts(ids) => stats.record_blocked(ids, &block.block_till),
        RequestData::Texts(_, texts) => {
            stats.record_blocked_strings(texts.len(), &block.block_till)
        }
    }
}

/// 200 `{"data": true}`.
pub(crate) fn blocked_true() -> Response {
    json_bytes(StatusCode::OK, Bytes::from_static(BLOCKED_BODY))
}

/// The 401 for a key revoked by `revoke_after`.
pub(crate) fn revoked(state: &MockState) -> (u16, Response) {
    let why = Unauthorized::Revoked(state.faults.revoke_after.unwrap_or_default());
    error_answer(StatusCode::UNAUTHORIZED, "ERROR_UNAUTHORIZED", &why)
}

/// What every API call meets first, in the contract's order: the reset fault, the key
/// (and its revocation), the rate limit. The call's fault plan comes back for
/// [`after_checks`], which runs once the call has checked its own input.
#[allow(clippy::result_large_err)] // an error is an answer like any other, sent once
pub(crate) fn admit(
    state: &MockState,
    sequence: u64,
    headers: &HeaderMap,
) -> Result<FaultPlan, (u16, Response)> {
    let faults = &state.faults;
    let plan = faults.plan(sequence);
    if plan.reset {
        let mut dropped = Response::new(Body::empty());
        dropped.extensions_mut().insert(DropConnection);
        return Err((0, dropped));
    }
    let authorized = check_key(headers, &state.key).and_then(|()| {
        if state.revocation.is_revoked() {
            Err(Unauthorized::Revoked(
                faults.revoke_after.unwrap_or_default(),
            ))
        } else {
            Ok(())
        }
    });
    if let Err(why) = authorized {
        return Err(error_answer(
            StatusCode::UNAUTHORIZED,
            "ERROR_UNAUTHORIZED",
            &why,
        ));
    }
    if let Err(wait) = check_limit(state) {
        let retry_after = retry_after_secs(wait, faults.retry_after_secs);
        return Err(rate_limited(state.limit(), retry_after));
    }
    Ok(plan)
}

/// The faults that come after a call's own checks: the latency, then a 500 or 503.
pub(crate) async fn after_checks(plan: &FaultPlan) -> Result<(), (u16, Response)> {
    if let Some(delay) = plan.latency {
        tokio::time::sleep(delay).await;
    }
    match plan.failure {
        Some(ServerFailure::Internal) => Err(error_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERROR_INTERNAL",
            &"internal error (mock fail_rate); retry later",
        )),
        Some(ServerFailure::Maintenance) => Err(error_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR_MAINTENANCE",
            &"service under maintenance (mock fail_rate); retry later",
        )),
        None => Ok(()),
    }
}

/// The checks a call with no body of its own runs before its work (list, get, delete):
/// [`admit`], then [`after_checks`]. (`{"data": false}` and `poison` are block answers
/// only.)
pub(crate) async fn answer_prelude(
    state: &MockState,
    sequence: u64,
    headers: &HeaderMap,
) -> Result<(), (u16, Response)> {
    let plan = admit(state, sequence, headers)?;
    after_checks(&plan).await
}

/// The query string's parameters; a malformed one is a 400.
pub(crate) fn query_params(uri: &Uri) -> Result<HashMap<String, String>, String> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|Query(params)| params)
        .map_err(|error| format!("malformed query string ({error})"))
}

/// Takes one of `revoke_after`'s successes; false when the key is now revoked.
pub(crate) fn claim_success(state: &MockState) -> bool {
    state.revocation.claim_success()
}

pub(crate) fn rate_limited(limit: u32, retry_after_secs: u64) -> (u16, Response) {
    let message = format!(
        "rate limit of {limit} requests per second exceeded (mock rate_limit); retry after {retry_after_secs} s"
    );
    let (status, mut response) =
        error_answer(StatusCode::TOO_MANY_REQUESTS, "ERROR_RATE_LIMIT", &message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    (status, response)
}

/// An Acquire-style error: `{"error": {"code": ..., "message": ...}}`.
pub(crate) fn error_answer(
    status: StatusCode,
    code: &str,
    message: &dyn std::fmt::Display,
) -> (u16, Response) {
    let body = serde_json::json!({ "error": { "code": code, "message": message.to_string() } });
    (
        status.as_u16(),
        json_bytes(status, Bytes::from(body.to_string())),
    )
}

pub(crate) fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TILL: &str = "2021-09-09T07:08:12.658Z";

    fn parse(body: &str) -> Result<BlockRequest<'_>, InvalidBody> {
        parse_block_request(body.as_bytes(), &[])
    }

    #[test]
    fn valid_body_is_accepted_and_keeps_the_block_till_string() {
        let body = format!(r#"{{"data": [827, 828], "type": "contact", "blockTill": "{TILL}"}}"#);
        let block = parse(&body).expect("valid body");
        assert!(matches!(&block.data, RequestData::Contacts(ids) if ids == &[827, 828]));
        assert_eq!(block.block_till, TILL);
        assert!(matches!(block.block_till, Cow::Borrowed(_)));
    }

    #[test]
    fn any_rfc3339_form_is_accepted() {
        let body = r#"{"data": [1], "type": "contact", "blockTill": "2030-01-01T10:00:00+02:00"}"#;
        assert_eq!(
            parse(body).map(|b| b.block_till.into_owned()).ok(),
            Some("2030-01-01T10:00:00+02:00".to_owned())
        );
    }

    #[test]
    fn each_body_error_is_named() {
        type IsExpected = fn(&InvalidBody) -> bool;
        let cases: [(&str, IsExpected); 16] = [
            ("{not json", |e| matches!(e, InvalidBody::NotJson(_))),
            ("", |e| matches!(e, InvalidBody::NotJson(_))),
            ("[1, 2]", |e| matches!(e, InvalidBody::WrongShape(_))),
            (
                r#"{"data": [-1], "type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::WrongShape(_)),
            ),
            (
                r#"{"data": ["82"], "type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::TextsForContact),
            ),
            (
                r#"{"data": [1, "82"], "type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::WrongShape(_)),
            ),
            (
                r#"{"data": ["a@b.co", 5], "type": "email", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::WrongShape(_)),
            ),
            (
                r#"{"data": [5], "type": "ip", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::IdsForText { kind: Kind::Ip }),
            ),
            (
                r#"{"data": [null], "type": "ip", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::WrongShape(_)),
            ),
            (
                r#"{"data": [], "type": "email", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::EmptyData),
            ),
            (
                r#"{"type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::MissingData),
            ),
            (
                r#"{"data": [], "type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::EmptyData),
            ),
            (
                r#"{"data": [5, 0], "type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::ZeroId { index: 1 }),
            ),
            (
                r#"{"data": [5], "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::MissingType),
            ),
            (
                r#"{"data": [5], "type": "visitor", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::WrongType { .. }),
            ),
            (r#"{"data": [5], "type": "contact"}"#, |e| {
                matches!(e, InvalidBody::MissingBlockTill)
            }),
        ];
        for (body, expected) in cases {
            match parse(body) {
                Ok(_) => panic!("accepted {body:?}"),
                Err(error) => assert!(expected(&error), "{body:?} gave {error:?}"),
            }
        }
    }

    #[test]
    fn bad_block_till_names_the_value() {
        let body = r#"{"data": [5], "type": "contact", "blockTill": "next tuesday"}"#;
        let error = parse(body).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("\"next tuesday\""), "{error}");
        assert!(error.contains("RFC 3339"), "{error}");
    }

    #[test]
    fn emails_and_ips_are_checked_and_ips_made_canonical() {
        let body = format!(
            r#"{{"data": ["a@b.co", "x.y+z@mail.example.org"], "type": "email", "blockTill": "{TILL}"}}"#
        );
        let block = parse(&body).expect("valid emails");
        assert!(matches!(&block.data,
            RequestData::Texts(Kind::Email, texts) if texts == &["a@b.co", "x.y+z@mail.example.org"]));
        let body = format!(
            r#"{{"data": ["10.0.0.1", "2001:DB8:0:0::1"], "type": "ip", "blockTill": "{TILL}"}}"#
        );
        let block = parse(&body).expect("valid IPs");
        assert!(matches!(&block.data,
            RequestData::Texts(Kind::Ip, texts) if texts == &["10.0.0.1", "2001:db8::1"]));

        for (kind, bad) in [
            ("email", "no-at-sign.example"),
            ("email", "a b@c.co"),
            ("email", "@c.co"),
            ("email", "a@nodot"),
            ("email", "a@b."),
            ("email", "a@b@c.co"),
            ("email", ""),
            ("ip", "10.0.0.256"),
            ("ip", "10.0.0.1 "),
            ("ip", "localhost"),
        ] {
            let good = if kind == "ip" {
                "10.1.1.1"
            } else {
                "ok@fine.co"
            };
            let body = json!({ "data": [good, bad], "type": kind, "blockTill": TILL }).to_string();
            match parse(&body) {
                Err(error @ InvalidBody::BadText { index: 1, .. }) => {
                    let message = error.to_string();
                    assert!(message.contains(&format!("{bad:?}")), "{message}");
                }
                other => panic!("{kind} {bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn quoted_values_are_capped() {
        let long = "x".repeat(10_000);
        let body = json!({ "data": [long], "type": "email", "blockTill": TILL }).to_string();
        let message = parse(&body)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.len() < 300, "{}", message.len());
        assert_eq!(quoted("short"), "\"short\"");
    }

    #[test]
    fn poisoned_id_is_refused_by_name() {
        let body = format!(r#"{{"data": [1, 66, 2], "type": "contact", "blockTill": "{TILL}"}}"#);
        let error = parse_block_request(body.as_bytes(), &[99, 66]);
        assert!(matches!(error, Err(InvalidBody::Poisoned { id: 66 })));
        let message = error.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("66"), "{message}");
    }

    #[test]
    fn authorization_must_be_exactly_bearer_and_the_key() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("header value"),
            );
            check_key(&headers, "k3y")
        };
        assert!(with("Bearer k3y").is_ok());
        assert!(matches!(with("bearer k3y"), Err(Unauthorized::WrongKey)));
        assert!(matches!(with("Bearer k3y "), Err(Unauthorized::WrongKey)));
        assert!(matches!(with("k3y"), Err(Unauthorized::WrongKey)));
        assert!(matches!(
            check_key(&HeaderMap::new(), "k3y"),
            Err(Unauthorized::Missing)
        ));
    }
}
