//! The mock's routes: `POST /api/v1/crm/block-visitor` imitating Acquire, plus
//! `GET /_mock/stats`, `GET /_mock/health` and a JSON 404 for anything else.
//!
//! Constraint: the checks run in a fixed order (reset, key, rate limit, body, latency,
//! server failure, `{"data": false}`, success) so that tests and clients can predict
//! which answer wins, and the success path allocates little: the body is parsed into a
//! struct borrowing from the request bytes and the answers are static bytes.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::faults::{Revocation, ServerFailure};
use super::limiter::{Limiter, retry_after_secs};
use super::stats::{Stats, StatsRecorder};
use super::{Faults, MockConfig};

/// The path of Acquire's block endpoint.
pub const BLOCK_PATH: &str = "/api/v1/crm/block-visitor";
/// Larger bodies are refused: 32 MiB is over 1.5 million 20-digit IDs in one batch.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

const BLOCKED_BODY: &[u8] = br#"{"data":true}"#;
const NOT_BLOCKED_BODY: &[u8] = br#"{"data":false}"#;

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
}

impl MockState {
    pub(crate) fn new(config: MockConfig) -> Self {
        MockState {
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
}

pub(crate) fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route(BLOCK_PATH, post(block_visitor))
        .route("/_mock/stats", get(stats))
        .route("/_mock/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(state)
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
    #[error("`data` is missing or null; send a non-empty array of contact IDs")]
    MissingData,
    #[error("`data` is empty; send at least one contact ID")]
    EmptyData,
    #[error("`data[{index}]` is 0; contact IDs are positive integers")]
    ZeroId { index: usize },
    #[error("`type` is missing; send \"type\": \"contact\"")]
    MissingType,
    #[error("`type` is {found:?}; the only supported type is \"contact\"")]
    WrongType { found: String },
    #[error("`blockTill` is missing; send an RFC 3339 time such as \"2021-09-09T07:08:12.658Z\"")]
    MissingBlockTill,
    #[error(
        "`blockTill` {value:?} is not an RFC 3339 time ({reason}); send one such as \"2021-09-09T07:08:12.658Z\""
    )]
    BadBlockTill { value: String, reason: String },
    #[error("contact ID {id} cannot be blocked (poisoned in the mock); leave it out of the batch")]
    Poisoned { id: u64 },
}

/// The body exactly as sent; strings borrow from the request bytes when they hold no escapes.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with `data`, `type` and `blockTill`")]
struct RawBlockRequest<'a> {
    data: Option<Vec<u64>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(rename = "blockTill", borrow)]
    block_till: Option<Text<'a>>,
}

/// A JSON string that borrows unless it holds escapes. The newtype is needed because
/// serde only borrows a `Cow` that is a field itself, not one inside an `Option`.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// A body that passed every check.
#[derive(Debug)]
pub(crate) struct BlockRequest<'a> {
    pub(crate) ids: Vec<u64>,
    pub(crate) block_till: Cow<'a, str>,
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
    let ids = raw.data.ok_or(InvalidBody::MissingData)?;
    if ids.is_empty() {
        return Err(InvalidBody::EmptyData);
    }
    if let Some(index) = ids.iter().position(|&id| id == 0) {
        return Err(InvalidBody::ZeroId { index });
    }
    match raw.kind.as_ref().map(|Text(kind)| kind.as_ref()) {
        None => return Err(InvalidBody::MissingType),
        Some("contact") => {}
        Some(other) => {
            return Err(InvalidBody::WrongType {
                found: other.to_owned(),
            });
        }
    }
    let Text(block_till) = raw.block_till.ok_or(InvalidBody::MissingBlockTill)?;
    if let Err(error) = chrono::DateTime::parse_from_rfc3339(&block_till) {
        return Err(InvalidBody::BadBlockTill {
            value: block_till.into_owned(),
            reason: error.to_string(),
        });
    }
    if !poison.is_empty()
        && let Some(&id) = ids.iter().find(|id| poison.contains(id))
    {
        return Err(InvalidBody::Poisoned { id });
    }
    Ok(BlockRequest { ids, block_till })
}

/// Why a request was refused for its credentials.
#[derive(Debug, thiserror::Error)]
enum Unauthorized {
    #[error("missing Authorization header; send `Authorization: Bearer <API key>`")]
    Missing,
    #[error("invalid API key; send `Authorization: Bearer <API key>` with the account's key")]
    WrongKey,
    #[error("API key revoked after {0} successful requests (mock revoke_after); use a valid key")]
    Revoked(u64),
}

// The key sent is never echoed back: it may be a real one sent to the wrong place.
fn check_key(headers: &HeaderMap, key: &str) -> Result<(), Unauthorized> {
    let sent = headers
        .get(header::AUTHORIZATION)
        .ok_or(Unauthorized::Missing)?;
    match sent.as_bytes().strip_prefix(b"Bearer ") {
        Some(token) if token == key.as_bytes() => Ok(()),
        _ => Err(Unauthorized::WrongKey),
    }
}

async fn block_visitor(State(state): State<Arc<MockState>>, request: Request) -> Response {
    let sequence = state.stats.on_arrival();
    let _in_flight = state.stats.enter();
    let (status, response) = answer_block(&state, sequence, request).await;
    state.stats.record_status(status);
    response
}

/// Runs the checks in contract order; returns the status to count (0 = dropped) and the response.
async fn answer_block(state: &MockState, sequence: u64, request: Request) -> (u16, Response) {
    let faults = &state.faults;
    let plan = faults.plan(sequence);
    if plan.reset {
        let mut dropped = Response::new(Body::empty());
        dropped.extensions_mut().insert(DropConnection);
        return (0, dropped);
    }

    let (parts, body) = request.into_parts();
    let authorized = check_key(&parts.headers, &state.key).and_then(|()| {
        if state.revocation.is_revoked() {
            Err(Unauthorized::Revoked(
                faults.revoke_after.unwrap_or_default(),
            ))
        } else {
            Ok(())
        }
    });
    if let Err(why) = authorized {
        return error_answer(StatusCode::UNAUTHORIZED, "ERROR_UNAUTHORIZED", &why);
    }

    if let Some(limiter) = &state.limiter
        && let Err(wait) = limiter.admit(std::time::Instant::now())
    {
        let retry_after = retry_after_secs(wait, faults.retry_after_secs);
        return rate_limited(limiter.limit(), retry_after);
    }

    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let why = InvalidBody::Unreadable(error.to_string());
            return error_answer(StatusCode::BAD_REQUEST, "ERROR_INVALID_INPUT", &why);
        }
    };
    let block = match parse_block_request(&bytes, &faults.poison) {
        Ok(block) => block,
        Err(why) => return error_answer(StatusCode::BAD_REQUEST, "ERROR_INVALID_INPUT", &why),
    };

    if let Some(delay) = plan.latency {
        tokio::time::sleep(delay).await;
    }
    match plan.failure {
        Some(ServerFailure::Internal) => {
            return error_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ERROR_INTERNAL",
                &"internal error (mock fail_rate); retry later",
            );
        }
        Some(ServerFailure::Maintenance) => {
            return error_answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "ERROR_MAINTENANCE",
                &"service under maintenance (mock fail_rate); retry later",
            );
        }
        None => {}
    }
    if plan.answer_false {
        return (
            200,
            json_bytes(StatusCode::OK, Bytes::from_static(NOT_BLOCKED_BODY)),
        );
    }
    if !state.revocation.claim_success() {
        let why = Unauthorized::Revoked(faults.revoke_after.unwrap_or_default());
        return error_answer(StatusCode::UNAUTHORIZED, "ERROR_UNAUTHORIZED", &why);
    }
    state.stats.record_blocked(&block.ids, &block.block_till);
    (
        200,
        json_bytes(StatusCode::OK, Bytes::from_static(BLOCKED_BODY)),
    )
}

fn rate_limited(limit: u32, retry_after_secs: u64) -> (u16, Response) {
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
fn error_answer(
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

fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn stats(State(state): State<Arc<MockState>>) -> axum::Json<Stats> {
    axum::Json(state.stats.snapshot())
}

async fn health() -> Response {
    json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let message = format!(
        "no route for {method} {}; the mock serves POST {BLOCK_PATH}, GET /_mock/stats and GET /_mock/health",
        uri.path()
    );
    error_answer(StatusCode::NOT_FOUND, "ERROR_NOT_FOUND", &message).1
}

#[cfg(test)]
mod tests {
    use super::*;

    const TILL: &str = "2021-09-09T07:08:12.658Z";

    fn parse(body: &str) -> Result<BlockRequest<'_>, InvalidBody> {
        parse_block_request(body.as_bytes(), &[])
    }

    #[test]
    fn valid_body_is_accepted_and_keeps_the_block_till_string() {
        let body = format!(r#"{{"data": [827, 828], "type": "contact", "blockTill": "{TILL}"}}"#);
        let block = parse(&body).expect("valid body");
        assert_eq!(block.ids, [827, 828]);
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
        let cases: [(&str, IsExpected); 11] = [
            ("{not json", |e| matches!(e, InvalidBody::NotJson(_))),
            ("", |e| matches!(e, InvalidBody::NotJson(_))),
            ("[1, 2]", |e| matches!(e, InvalidBody::WrongShape(_))),
            (
                r#"{"data": [-1], "type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::WrongShape(_)),
            ),
            (
                r#"{"data": ["82"], "type": "contact", "blockTill": "2021-09-09T07:08:12.658Z"}"#,
                |e| matches!(e, InvalidBody::WrongShape(_)),
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
