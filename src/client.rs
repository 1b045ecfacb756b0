//! The Acquire client: builds one block request, reads the answer, and classifies it.
//!
//! `classify` is a pure function from an answer to a verdict, so the whole retry policy can
//! be tested without a network. The constraint kept here: the key goes only into a header
//! marked sensitive, redirects are never followed (the key must not travel to another
//! host), and at most `MAX_BODY` bytes of any answer are read.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, Response, Uri};
use url::Url;

use crate::api_key::ApiKey;
use crate::connections::{self, HttpClient};
use crate::ledger::timestamp;
use crate::ratelimit_headers::{self, Advertised};

/// Most bytes of an answer body read; the rest is dropped.
pub const MAX_BODY: usize = 64 * 1024;
/// How much of a body goes into a ledger error.
const SNIPPET: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// What came back for one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// An HTTP answer: status, `Retry-After` if any, the (capped) body, and the limit the
    /// server advertised in its rate-limit headers, if it did (`ratelimit_headers`; boxed:
    /// most answers carry none).
    Http {
        status: u16,
        retry_after: Option<RetryAfter>,
        body: Vec<u8>,
        advertised: Option<Box<Advertised>>,
    },
    /// No HTTP answer: timeout, refused, reset, broken body.
    Transport {
        kind: TransportKind,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Timeout,
    Connect,
    /// The server's certificate could not be verified (unknown issuer, another host's
    /// name, expired...): retrying cannot help, so the run stops.
    Certificate,
    Other,
}

/// A `Retry-After` header: seconds, or an HTTP date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    Delay(Duration),
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// Parses the header value; `None` when it is neither form. Delays are capped at
    /// `gate::MAX_PAUSE` (a day): the value is the server's, not to be trusted.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Any run of digits, however long: a number past u64 is "very long", not junk.
            let secs = value.parse::<u64>().unwrap_or(u64::MAX);
            let delay = Duration::from_secs(secs).min(crate::gate::MAX_PAUSE);
            return Some(RetryAfter::Delay(delay));
        }
        DateTime::parse_from_rfc2822(value)
            .ok()
            .map(|t| RetryAfter::At(t.with_timezone(&Utc)))
    }

    /// How long to wait from `now`, at most `gate::MAX_PAUSE`.
    pub fn delay_from(&self, now: DateTime<Utc>) -> Duration {
        let delay = match self {
            RetryAfter::Delay(delay) => *delay,
            RetryAfter::At(at) => at
                .signed_duration_since(now)
                .to_std()
                .unwrap_or(Duration::ZERO),
        };
        delay.min(crate::gate::MAX_PAUSE)
    }
}

/// What to do about an answer. Every reason goes straight into the ledger's `error`.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// 200 `{"data": true}` (the customer page's answer), or 200 with the created block
    /// records (the settings page's): `records` pairs each record's contact id (when it
    /// names one) with the record's own id.
    Blocked { records: Option<Vec<BlockedRecord>> },
    /// A fault worth another attempt (5xx, network, 200 `{"data": false}`). `server_fault`
    /// marks the ones that count toward the circuit breaker (no answer, or a 5xx).
    Retry { reason: String, server_fault: bool },
    /// 429: wait (the whole pool), does not use an attempt.
    RateLimited {
        retry_after: Option<RetryAfter>,
        reason: String,
    },
    /// 400 naming a duplicate record: some contact in the batch is already blocked.
    /// Bisect; a single ID answered so is blocked already.
    Duplicate { reason: String },
    /// 400: the batch holds something the API refuses; bisect it. A single ID answered so
    /// is refused.
    Split { reason: String },
    /// 401/403/404: the credentials or the account are wrong; stop the run.
    Abort { reason: String },
    /// A 200 that is neither documented success form nor `{"data": false}`. Not retried
    /// blindly: the POST may have worked. Recorded failed (`unrecognized_answer`) for a
    /// deliberate `retry`.
    Unrecognized { reason: String },
    /// Anything else: record it as failed, do not retry.
    Failed { reason: String },
}

/// One block record from a records-form answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockedRecord {
    /// The contact the record blocks (`data.id`), when the record names one.
    pub contact: Option<u64>,
    /// The block record's id (what `DELETE /crm/block-visitor?id=` takes).
    pub block_id: u64,
}

/// The API's documented error type for "already there".
pub const DUPLICATE_ERROR: &str = "ERROR_DUPLICATE_RECORD_FOUND";

/// The retry policy, as one pure function. See the table in the resilience issue.
pub fn classify(answer: &Answer) -> Verdict {
    let (status, retry_after, body) = match answer {
        Answer::Transport {
            kind: TransportKind::Certificate,
            message,
        } => {
            return Verdict::Abort {
                reason: format!(
                    "the server's certificate could not be verified ({message}). Check: \
                     behind a TLS-inspecting proxy, trust its CA with --ca-cert PATH (or SSL_CERT_FILE); \
                     the host name in --account or --base-url; the system clock"
                ),
            };
        }
        Answer::Transport { kind, message } => {
            let what = match kind {
                TransportKind::Timeout => "timeout",
                TransportKind::Connect => "connection failed",
                TransportKind::Other | TransportKind::Certificate => "network error",
            };
            // The message often names its kind already ("connection failed: ...").
            let reason = if message.starts_with(what) {
                message.clone()
            } else {
                format!("{what}: {message}")
            };
            return Verdict::Retry {
                reason,
                server_fault: true,
            };
        }
        Answer::Http {
            status,
            retry_after,
            body,
            ..
        } => (*status, *retry_after, body),
    };
    // The common answer, checked without parsing or allocating; anything else is parsed.
    if status == 200 && body == br#"{"data":true}"# {
        return Verdict::Blocked { records: None };
    }
    let snippet = body_snippet(body);
    match status {
        200 => classify_ok(body, snippet),
        429 => Verdict::RateLimited {
            retry_after,
            reason: format!("HTTP 429 rate limited: {snippet}"),
        },
        400 if names_duplicate(body) => Verdict::Duplicate {
            reason: format!("HTTP 400 already blocked: {snippet}"),
        },
        400 => Verdict::Split {
            reason: format!("HTTP 400 invalid input: {snippet}"),
        },
        401 | 403 => Verdict::Abort {
            reason: format!(
                "HTTP {status}: the server refused the API key (check ACQUIRE_API_KEY or --api-key-file): {snippet}"
            ),
        },
        404 => Verdict::Abort {
            reason: format!(
                "HTTP 404: no such endpoint (check --account or --base-url): {snippet}"
            ),
        },
        408 | 500 | 502 | 503 | 504 => Verdict::Retry {
            reason: format!("HTTP {status}: {snippet}"),
            server_fault: true,
        },
        _ => Verdict::Failed {
            reason: format!("HTTP {status}: {snippet}"),
        },
    }
}

/// A 200: `{"data": true}`, `{"data": [record, ...]}`, `{"data": false}`, or something
/// this client does not know.
fn classify_ok(body: &[u8], snippet: String) -> Verdict {
    let unrecognized = |what: &str| Verdict::Unrecognized {
        reason: format!("HTTP 200 {what}: {snippet}"),
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return unrecognized("with a body that is not JSON");
    };
    match json.get("data") {
        Some(serde_json::Value::Bool(true)) => Verdict::Blocked { records: None },
        Some(serde_json::Value::Bool(false)) => Verdict::Retry {
            reason: format!("HTTP 200 but not blocked: {snippet}"),
            server_fault: false,
        },
        Some(serde_json::Value::Array(records)) if !records.is_empty() => {
            match records.iter().map(block_record).collect::<Option<Vec<_>>>() {
                Some(records) => Verdict::Blocked {
                    records: Some(records),
                },
                None => unrecognized("with records this client cannot read"),
            }
        }
        _ => unrecognized("with an answer that is neither documented success form"),
    }
}

/// Reads one block record: its `id` must be a positive integer; `data.id` (the contact)
/// is kept when it is one. Anything odd (huge numbers, strings) is not trusted.
fn block_record(record: &serde_json::Value) -> Option<BlockedRecord> {
    let block_id = positive_integer(record.get("id")?)?;
    let contact = record
        .get("data")
        .and_then(|data| data.get("id"))
        .and_then(positive_integer);
    Some(BlockedRecord { contact, block_id })
}

fn positive_integer(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().filter(|&n| n > 0),
        serde_json::Value::String(s) => s.parse::<u64>().ok().filter(|&n| n > 0),
        _ => None,
    }
}

/// Whether a 400's body names the documented duplicate-record error.
fn names_duplicate(body: &[u8]) -> bool {
    memchr::memmem::find(body, DUPLICATE_ERROR.as_bytes()).is_some()
}

/// Aligns a records answer with the batch's IDs: the block record id of each ID, `None`
/// where no record names it. Records that name no contact fill the unnamed IDs in order
/// only when every record lacks a contact and the counts match (the answer is then
/// taken to be in request order).
pub fn align_block_ids(ids: &[u64], records: &[BlockedRecord]) -> Vec<Option<u64>> {
    if records.len() == ids.len() && records.iter().all(|r| r.contact.is_none()) {
        return records.iter().map(|r| Some(r.block_id)).collect();
    }
    let by_contact: std::collections::HashMap<u64, u64> = records
        .iter()
        .filter_map(|r| r.contact.map(|contact| (contact, r.block_id)))
        .collect();
    ids.iter().map(|id| by_contact.get(id).copied()).collect()
}

/// A short, single-line, printable piece of a body for the ledger.
pub fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIPPET * 4)]);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET)
        .collect();
    if text.chars().count() > SNIPPET {
        out.push('…');
    }
    if out.trim().is_empty() {
        out = "(empty body)".into();
    }
    out
}

/// One batch's request body, exactly as the API documents it
/// (`{"data":[…],"type":"contact","blockTill":"2021-09-09T07:08:12.658Z"}`), built once for
/// all its attempts.
#[derive(Clone, Debug)]
pub struct BlockRequest {
    body: Bytes,
}

const BODY_START: &[u8] = br#"{"data":"#;

impl BlockRequest {
    pub fn new(ids: &[u64], block_till: DateTime<Utc>) -> BlockRequest {
        // Written around the ID list; a timestamp in this form holds nothing JSON would
        // escape.
        let mut body = Vec::with_capacity(ids.len() * 21 + 80);
        body.extend_from_slice(BODY_START);
        serde_json::to_writer(&mut body, ids).expect("writing to a Vec cannot fail");
        body.extend_from_slice(br#","type":"contact","blockTill":""#);
        timestamp::write(&mut body, &block_till);
        body.extend_from_slice(br#""}"#);
        BlockRequest {
            body: Bytes::from(body),
        }
    }

    /// The whole body (a cheap reference-counted copy).
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }
}

/// Sends block requests to one endpoint with one key, over kept-alive connections
/// (`connections`).
///
/// Built on hyper rather than reqwest: reqwest's per-request layers (redirect policy, URL
/// re-parsing, default-header copies) were a tenth of a run's CPU, and this client needs
/// none of them. What reqwest gave that is kept: rustls with the platform's roots,
/// keep-alive, a timeout, and `HTTPS_PROXY`/`NO_PROXY`.
#[derive(Clone)]
pub struct Client {
    http: HttpClient,
    url: Url,
    /// The endpoint's URI, absolute (the pooled client sends its path and query).
    endpoint: Uri,
    host: HeaderValue,
    /// `Bearer <key>`, marked sensitive so hyper never shows it.
    auth: HeaderValue,
    timeout: Duration,
}

const USER_AGENT_VALUE: &str = concat!("blockade/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// Builds the client. `max_in_flight` is the most requests at once: that many
    /// connections are kept open between requests.
    pub fn new(
        url: Url,
        key: &ApiKey,
        timeout: Duration,
        max_in_flight: usize,
    ) -> Result<Client, ClientError> {
        Client::with_extra_roots(url, key, timeout, max_in_flight, &[])
    }

    /// [`Client::new`], also trusting `extra_roots` (`--ca-cert`) beside the platform's
    /// certificate store.
    pub fn with_extra_roots(
        url: Url,
        key: &ApiKey,
        timeout: Duration,
        max_in_flight: usize,
        extra_roots: &[rustls::pki_types::CertificateDer<'static>],
    ) -> Result<Client, ClientError> {
        // rustls is built with ring only (see DEPENDENCIES.md): install it as the process
        // default. An error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| ClientError::Build("the API key is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let unusable =
            |what: String| ClientError::Build(format!("the URL {url} is not usable: {what}"));
        let uri: Uri = url.as_str().parse().map_err(|e| unusable(format!("{e}")))?;
        let host = uri
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
            .ok_or_else(|| unusable("no host".into()))?;
        let connect_timeout = timeout.min(Duration::from_secs(10));
        let http = connections::client(&uri, connect_timeout, max_in_flight, extra_roots)
            .map_err(ClientError::Build)?;
        Ok(Client {
            http,
            url,
            endpoint: uri,
            host,
            auth,
            timeout,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends one batch and reads the answer. Never fails: transport trouble is an `Answer`.
    pub async fn send(&self, request: &BlockRequest) -> Answer {
        self.send_http(&Method::POST, None, request.body.clone(), MAX_BODY)
            .await
    }

    /// Sends one prepared call of any operation (`api::HttpCall`).
    pub async fn send_call(&self, call: &crate::api::HttpCall) -> Answer {
        self.send_http(
            &call.method,
            call.target.as_ref(),
            call.body.clone(),
            call.max_body,
        )
        .await
    }

    /// Sends `method` to `target` (path and query; `None` = the endpoint's path) with
    /// `body`, reading at most `max_body` bytes of the answer. Never fails: transport
    /// trouble is an `Answer`.
    pub async fn send_http(
        &self,
        method: &Method,
        target: Option<&Uri>,
        body: Bytes,
        max_body: usize,
    ) -> Answer {
        let target = target.unwrap_or(&self.endpoint);
        match tokio::time::timeout(self.timeout, self.exchange(method, target, body, max_body))
            .await
        {
            Ok(answer) => answer,
            Err(_) => Answer::Transport {
                kind: TransportKind::Timeout,
                message: format!(
                    "no whole answer within {} (--timeout)",
                    humantime::format_duration(self.timeout)
                ),
            },
        }
    }

    /// The endpoint's path with `query` (`id=6`, `offset=0&limit=1000`), as a request
    /// target; `sub` is a path below it (`/6`), or empty.
    pub fn target(&self, sub: &str, query: &str) -> Uri {
        let mut url = self.url.clone();
        let path = format!("{}{sub}", url.path());
        url.set_path(&path);
        url.set_query((!query.is_empty()).then_some(query));
        // Built from a valid URL and URL-safe parts (digits, `&`, `=`).
        url.as_str()
            .parse()
            .unwrap_or_else(|_| self.endpoint.clone())
    }

    /// A kept-alive connection the server closed just as the request was handed to it
    /// (nothing written) is retried on another by the pooled client: not an attempt.
    async fn exchange(
        &self,
        method: &Method,
        target: &Uri,
        body: Bytes,
        max_body: usize,
    ) -> Answer {
        match self.http.request(self.request(method, target, body)).await {
            Ok(response) => read_answer(response, max_body).await,
            Err(error) => {
                let (kind, what) = if certificate_error(&error).is_some() {
                    (TransportKind::Certificate, "connection failed")
                } else if error.is_connect() {
                    (TransportKind::Connect, "connection failed")
                } else {
                    (TransportKind::Other, "request failed")
                };
                Answer::Transport {
                    kind,
                    message: error_chain(what, &error),
                }
            }
        }
    }

    fn request(&self, method: &Method, target: &Uri, body: Bytes) -> Request<Full<Bytes>> {
        let has_body = !body.is_empty();
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = target.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(AUTHORIZATION, self.auth.clone());
        if has_body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        request
    }
}

/// The answer, its body capped at `max_body`; a body not read to the end closes its
/// connection.
async fn read_answer(response: Response<Incoming>, max_body: usize) -> Answer {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(RetryAfter::parse);
    let advertised = ratelimit_headers::read(
        response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
        std::time::SystemTime::now,
    )
    .map(Box::new);
    let mut incoming = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        match frame {
            Ok(frame) => {
                let Ok(chunk) = frame.into_data() else {
                    continue; // trailers
                };
                let room = max_body - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= max_body {
                    break;
                }
            }
            // A body cut off mid-way is no answer at all: the server may or may not have
            // acted, and blocking is idempotent, so it is retried like a reset.
            Err(error) => {
                return Answer::Transport {
                    kind: TransportKind::Other,
                    message: error_chain("the answer broke off", &error),
                };
            }
        }
    }
    Answer::Http {
        status: status.as_u16(),
        retry_after,
        body,
        advertised,
    }
}

/// The certificate error somewhere in `error`'s causes, if the handshake failed on the
/// server's certificate. `io::Error::source` skips the error it wraps (tokio-rustls hands
/// rustls's error over inside an `io::Error`), so each `io::Error` is opened by hand.
pub fn certificate_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::CertificateError> {
    let mut next = Some(error);
    // Bounded: a cause chain is short, and a cyclic one must not hang the run.
    for _ in 0..32 {
        let current = next?;
        if let Some(rustls::Error::InvalidCertificate(cause)) =
            current.downcast_ref::<rustls::Error>()
        {
            return Some(cause);
        }
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => current.source(),
        };
    }
    None
}

/// The error and its causes on one line (hyper's own message is terse, the cause says
/// what happened). None of them holds a header: the key cannot appear here.
fn error_chain(what: &str, error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = format!("{what}: {error}");
    let mut source = error.source();
    while let Some(inner) = source {
        message = format!("{message}: {inner}");
        source = inner.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
            advertised: None,
        }
    }

    #[test]
    fn body_is_exactly_the_documented_shape() {
        let till: DateTime<Utc> = "2021-09-09T07:08:12.658Z".parse().unwrap();
        let body = String::from_utf8(BlockRequest::new(&[827, 828], till).body.to_vec()).unwrap();
        assert_eq!(
            body,
            r#"{"data":[827,828],"type":"contact","blockTill":"2021-09-09T07:08:12.658Z"}"#
        );
        let whole_second: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        assert!(
            String::from_utf8(BlockRequest::new(&[1], whole_second).body.to_vec())
                .unwrap()
                .contains("\"2030-01-01T00:00:00.000Z\"")
        );
    }

    #[test]
    fn both_documented_success_forms_are_blocked() {
        let blocked = Verdict::Blocked { records: None };
        assert_eq!(classify(&http(200, r#"{"data": true}"#)), blocked);
        assert_eq!(classify(&http(200, r#"{"data":true}"#)), blocked);
        // The settings page's answer: the created block records.
        let records = r#"{"data":[{"id":6,"data":{"id":827,"ip":null,"email":null,"phone":null},
            "type":"contact","blockTill":"2021-09-09T07:08:12.658Z","dateCreated":"2021-09-02T07:08:12.000Z","blockBy":1},
            {"id":7,"data":{"id":"828"},"type":"contact"}]}"#;
        assert_eq!(
            classify(&http(200, records)),
            Verdict::Blocked {
                records: Some(vec![
                    BlockedRecord {
                        contact: Some(827),
                        block_id: 6
                    },
                    BlockedRecord {
                        contact: Some(828),
                        block_id: 7
                    },
                ])
            }
        );
        assert!(matches!(
            classify(&http(500, r#"{"data":true}"#)),
            Verdict::Retry {
                server_fault: true,
                ..
            }
        ));
    }

    #[test]
    fn data_false_is_retried_and_unknown_200s_are_not() {
        assert!(matches!(
            classify(&http(200, r#"{"data": false}"#)),
            Verdict::Retry {
                server_fault: false,
                ..
            }
        ));
        for body in [
            r#"{"ok": 1}"#,
            r#"{"data": []}"#,
            r#"{"data": [{"id": -1}]}"#,
            r#"{"data": 1e999}"#,
            r#"{"data": [{"id": 99999999999999999999999}]}"#,
        ] {
            assert!(
                matches!(classify(&http(200, body)), Verdict::Unrecognized { .. }),
                "{body}"
            );
        }
        let Verdict::Unrecognized { reason } = classify(&http(200, "<html>")) else {
            panic!()
        };
        assert!(reason.contains("not JSON"));
    }

    #[test]
    fn block_ids_align_with_the_ids_sent() {
        let record = |contact, block_id| BlockedRecord { contact, block_id };
        assert_eq!(
            align_block_ids(&[1, 2, 3], &[record(Some(3), 30), record(Some(1), 10)]),
            [Some(10), None, Some(30)]
        );
        assert_eq!(
            align_block_ids(&[1, 2], &[record(None, 5), record(None, 6)]),
            [Some(5), Some(6)]
        );
        assert_eq!(align_block_ids(&[1, 2], &[record(None, 5)]), [None, None]);
    }

    #[test]
    fn a_duplicate_record_error_is_told_apart_from_invalid_input() {
        assert!(matches!(
            classify(&http(
                400,
                r#"{"error":{"type":"ERROR_DUPLICATE_RECORD_FOUND","message":"exists"}}"#
            )),
            Verdict::Duplicate { .. }
        ));
        assert!(matches!(
            classify(&http(400, r#"{"error":"ERROR_INVALID_INPUT"}"#)),
            Verdict::Split { .. }
        ));
    }

    #[test]
    fn server_faults_and_network_errors_are_retried() {
        for status in [500, 502, 503, 504] {
            assert!(
                matches!(classify(&http(status, "oops")), Verdict::Retry { .. }),
                "{status}"
            );
        }
        let reset = Answer::Transport {
            kind: TransportKind::Other,
            message: "connection reset".into(),
        };
        assert!(matches!(classify(&reset), Verdict::Retry { .. }));
    }

    #[test]
    fn refusals_split_abort_or_fail() {
        assert!(matches!(
            classify(&http(400, r#"{"error":"ERROR_INVALID_INPUT"}"#)),
            Verdict::Split { .. }
        ));
        for status in [401, 403, 404] {
            assert!(
                matches!(classify(&http(status, "")), Verdict::Abort { .. }),
                "{status}"
            );
        }
        assert!(matches!(classify(&http(422, "")), Verdict::Failed { .. }));
    }

    #[test]
    fn rate_limits_keep_retry_after() {
        let answer = Answer::Http {
            status: 429,
            retry_after: RetryAfter::parse("3"),
            body: vec![],
            advertised: None,
        };
        let Verdict::RateLimited { retry_after, .. } = classify(&answer) else {
            panic!()
        };
        assert_eq!(retry_after, Some(RetryAfter::Delay(Duration::from_secs(3))));
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now: DateTime<Utc> = "2015-10-21T07:28:00Z".parse().unwrap();
        let date = RetryAfter::parse("Wed, 21 Oct 2015 07:28:05 GMT").unwrap();
        assert_eq!(date.delay_from(now), Duration::from_secs(5));
        assert_eq!(
            RetryAfter::parse(" 7 ").unwrap().delay_from(now),
            Duration::from_secs(7)
        );
        assert_eq!(RetryAfter::parse("soon"), None);
        let past = RetryAfter::parse("Wed, 21 Oct 2015 07:27:00 GMT").unwrap();
        assert_eq!(past.delay_from(now), Duration::ZERO);
    }

    #[test]
    fn a_huge_retry_after_is_capped_at_a_day() {
        let now: DateTime<Utc> = "2015-10-21T07:28:00Z".parse().unwrap();
        let day = Duration::from_secs(24 * 60 * 60);
        for huge in [
            "10000000000000000000",
            "18446744073709551615",
            "99999999999999999999999",
        ] {
            let parsed = RetryAfter::parse(huge).unwrap();
            assert_eq!(parsed.delay_from(now), day, "{huge}");
        }
        let far = RetryAfter::parse("Fri, 31 Dec 9999 23:59:59 GMT").unwrap();
        assert_eq!(far.delay_from(now), day);
        // And the gate takes it without overflowing its instants.
        let gate = crate::gate::Gate::new("10/s".parse().unwrap(), 1);
        gate.rate_limited(
            tokio::time::Instant::now(),
            parsed_delay("10000000000000000000", now),
        );
        assert!(gate.admitted_per_second().is_some());
    }

    fn parsed_delay(value: &str, now: DateTime<Utc>) -> Duration {
        RetryAfter::parse(value).unwrap().delay_from(now)
    }

    #[test]
    fn builds_an_https_client_with_the_ring_provider() {
        // reqwest is built without a TLS provider of its own: building must install one
        // rather than panic, and it must work twice (tests build many clients).
        let key = ApiKey::new("k", "test").unwrap();
        let url: Url = "https://acme.acquire.io/api/v1/crm/block-visitor"
            .parse()
            .unwrap();
        for _ in 0..2 {
            let client = Client::new(url.clone(), &key, Duration::from_secs(1), 4).unwrap();
            assert_eq!(client.url().scheme(), "https");
        }
    }

    #[test]
    fn an_unverifiable_certificate_aborts_and_says_what_to_check() {
        let answer = Answer::Transport {
            kind: TransportKind::Certificate,
            message: "invalid peer certificate: UnknownIssuer".into(),
        };
        let Verdict::Abort { reason } = classify(&answer) else {
            panic!("{:?}", classify(&answer))
        };
        for hint in [
            "UnknownIssuer",
            "--ca-cert",
            "SSL_CERT_FILE",
            "--account",
            "--base-url",
            "clock",
        ] {
            assert!(reason.contains(hint), "{hint}: {reason}");
        }
        // Any other connection failure is still worth another attempt.
        let refused = Answer::Transport {
            kind: TransportKind::Connect,
            message: "connection refused".into(),
        };
        assert!(matches!(classify(&refused), Verdict::Retry { .. }));
    }

    /// How hyper-rustls reports a refused certificate: rustls's error inside an
    /// `io::Error` (whose `source()` skips it), inside the connector's boxed error.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect")]
    struct Wrapper(#[source] Box<dyn std::error::Error + Send + Sync>);

    #[test]
    fn certificate_errors_are_found_inside_io_errors_in_the_cause_chain() {
        use rustls::CertificateError;
        let wrap = |inner: rustls::Error| {
            Wrapper(Box::new(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                inner,
            )))
        };
        let unknown = wrap(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(
            certificate_error(&unknown),
            Some(&CertificateError::UnknownIssuer)
        );
        let expired = wrap(rustls::Error::InvalidCertificate(CertificateError::Expired));
        assert_eq!(
            certificate_error(&expired),
            Some(&CertificateError::Expired)
        );
        // Other TLS failures and plain network errors are not certificate errors.
        let alert = wrap(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert_eq!(certificate_error(&alert), None);
        let refused = Wrapper(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(certificate_error(&refused), None);
    }

    #[test]
    fn snippets_are_short_single_lines() {
        let long = "x\n".repeat(1000);
        let snippet = body_snippet(long.as_bytes());
        assert!(!snippet.contains('\n'));
        assert!(snippet.chars().count() <= SNIPPET + 1);
        assert_eq!(body_snippet(b""), "(empty body)");
    }
}
