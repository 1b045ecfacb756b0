//! The Acquire client: builds one block request, reads the answer, and classifies it.
//!
//! `classify` is a pure function from an answer to a verdict, so the whole retry policy can
//! be tested without a network. The constraint kept here: the key goes only into a header
//! marked sensitive, redirects are never followed (the key must not travel to another
//! host), and at most `MAX_BODY` bytes of any answer are read.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use serde::Serialize;

use crate::api_key::ApiKey;

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
    /// An HTTP answer: status, `Retry-After` if any, and the (capped) body.
    Http {
        status: u16,
        retry_after: Option<RetryAfter>,
        body: Vec<u8>,
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
    Other,
}

/// A `Retry-After` header: seconds, or an HTTP date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    Delay(Duration),
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// Parses the header value; `None` when it is neither form.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(RetryAfter::Delay(Duration::from_secs(secs)));
        }
        DateTime::parse_from_rfc2822(value)
            .ok()
            .map(|t| RetryAfter::At(t.with_timezone(&Utc)))
    }

    /// How long to wait from `now`.
    pub fn delay_from(&self, now: DateTime<Utc>) -> Duration {
        match self {
            RetryAfter::Delay(delay) => *delay,
            RetryAfter::At(at) => (*at - now).to_std().unwrap_or(Duration::ZERO),
        }
    }
}

/// What to do about an answer. Every reason goes straight into the ledger's `error`.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// 200 `{"data": true}`.
    Blocked,
    /// A fault worth another attempt (5xx, network, a 200 that does not say true).
    Retry { reason: String },
    /// 429: wait (the whole pool), does not use an attempt.
    RateLimited {
        retry_after: Option<RetryAfter>,
        reason: String,
    },
    /// 400: the batch holds something the API refuses; bisect it.
    Split { reason: String },
    /// 401/403/404: the credentials or the account are wrong; stop the run.
    Abort { reason: String },
    /// Anything else: record it as failed, do not retry.
    Failed { reason: String },
}

/// The retry policy, as one pure function. See the table in the resilience issue.
pub fn classify(answer: &Answer) -> Verdict {
    let (status, retry_after, body) = match answer {
        Answer::Transport { kind, message } => {
            let what = match kind {
                TransportKind::Timeout => "timeout",
                TransportKind::Connect => "connection failed",
                TransportKind::Other => "network error",
            };
            return Verdict::Retry {
                reason: format!("{what}: {message}"),
            };
        }
        Answer::Http {
            status,
            retry_after,
            body,
        } => (*status, *retry_after, body),
    };
    // The common answer, checked without parsing or allocating; anything else is parsed.
    if status == 200 && body == br#"{"data":true}"# {
        return Verdict::Blocked;
    }
    let snippet = body_snippet(body);
    match status {
        200 => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(json) if json.get("data") == Some(&serde_json::Value::Bool(true)) => {
                Verdict::Blocked
            }
            Ok(_) => Verdict::Retry {
                reason: format!("HTTP 200 but not blocked: {snippet}"),
            },
            Err(_) => Verdict::Retry {
                reason: format!("HTTP 200 with a body that is not JSON: {snippet}"),
            },
        },
        429 => Verdict::RateLimited {
            retry_after,
            reason: format!("HTTP 429 rate limited: {snippet}"),
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
        },
        _ => Verdict::Failed {
            reason: format!("HTTP {status}: {snippet}"),
        },
    }
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

#[derive(Serialize)]
struct BlockBody<'a> {
    data: &'a [u64],
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "blockTill")]
    block_till: String,
}

/// The request body exactly as the API documents it.
pub fn request_body(ids: &[u64], block_till: DateTime<Utc>) -> Vec<u8> {
    // Sized up front: growing it while writing the IDs showed as copying in the profile.
    let mut body = Vec::with_capacity(ids.len() * 21 + 80);
    let fields = BlockBody {
        data: ids,
        kind: "contact",
        block_till: block_till.to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    serde_json::to_writer(&mut body, &fields)
        .expect("serializing integers and strings cannot fail");
    body
}

/// Sends block requests to one endpoint with one key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: Url,
}

impl Client {
    /// Builds the client. `idle_per_host` should be the concurrency, so connections are
    /// kept and reused instead of opened per request.
    pub fn new(
        url: Url,
        key: &ApiKey,
        timeout: Duration,
        idle_per_host: usize,
    ) -> Result<Client, ClientError> {
        // reqwest is built without a default TLS provider (see DEPENDENCIES.md): install
        // ring's. An error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| ClientError::Build("the API key is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("blockade/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .pool_max_idle_per_host(idle_per_host)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Client { http, url })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends one batch and reads the answer. Never fails: transport trouble is an `Answer`.
    pub async fn send(&self, ids: &[u64], block_till: DateTime<Utc>) -> Answer {
        let request = self
            .http
            .post(self.url.clone())
            .body(request_body(ids, block_till));
        match request.send().await {
            Ok(response) => read_answer(response).await,
            Err(error) => transport_answer(&error),
        }
    }
}

async fn read_answer(mut response: reqwest::Response) -> Answer {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(RetryAfter::parse);
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Ok(None) => break,
            // A body cut off mid-way is no answer at all: the server may or may not have
            // acted, and blocking is idempotent, so it is retried like a reset.
            Err(error) => return transport_answer(&error),
        }
    }
    Answer::Http {
        status: status.as_u16(),
        retry_after,
        body,
    }
}

fn transport_answer(error: &reqwest::Error) -> Answer {
    let kind = if error.is_timeout() {
        TransportKind::Timeout
    } else if error.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    };
    // reqwest's Display names the URL (never the headers); keep the innermost cause too.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message = format!("{message}: {inner}");
        source = inner.source();
    }
    Answer::Transport { kind, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn body_is_exactly_the_documented_shape() {
        let till: DateTime<Utc> = "2021-09-09T07:08:12.658Z".parse().unwrap();
        let body = String::from_utf8(request_body(&[827, 828], till)).unwrap();
        assert_eq!(
            body,
            r#"{"data":[827,828],"type":"contact","blockTill":"2021-09-09T07:08:12.658Z"}"#
        );
        let whole_second: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        assert!(
            String::from_utf8(request_body(&[1], whole_second))
                .unwrap()
                .contains("\"2030-01-01T00:00:00.000Z\"")
        );
    }

    #[test]
    fn only_data_true_is_blocked() {
        assert_eq!(classify(&http(200, r#"{"data": true}"#)), Verdict::Blocked);
        assert_eq!(classify(&http(200, r#"{"data":true}"#)), Verdict::Blocked);
        assert!(matches!(
            classify(&http(500, r#"{"data":true}"#)),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            classify(&http(200, r#"{"data": false}"#)),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            classify(&http(200, r#"{"ok": 1}"#)),
            Verdict::Retry { .. }
        ));
        let Verdict::Retry { reason } = classify(&http(200, "<html>")) else {
            panic!()
        };
        assert!(reason.contains("not JSON"));
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
    fn snippets_are_short_single_lines() {
        let long = "x\n".repeat(1000);
        let snippet = body_snippet(long.as_bytes());
        assert!(!snippet.contains('\n'));
        assert!(snippet.chars().count() <= SNIPPET + 1);
        assert_eq!(body_snippet(b""), "(empty body)");
    }
}
