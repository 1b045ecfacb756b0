//! The API's calls and answers, one operation per file: what HTTP request each needs and
//! how its answer reads as a [`Step`] for the send engine (`send/pool.rs`), which knows
//! nothing of which operation it sends. Every operation is generic over the kind of value
//! (`values::Kind`): one file serves contact IDs, emails and IPs.
//!
//! - `block`: `POST /crm/block-visitor` for a batch of values (a [`crate::values::Batch`]);
//! - `delete`: `DELETE /crm/block-visitor?id=N` for one block record, with the values it
//!   holds;
//! - `get`: `GET /crm/block-visitor/{id}`, one block record;
//! - `list`: `GET /crm/block-visitor?offset=&limit=`, one page of block records.
//!
//! Another operation is a type implementing [`Operation`] in a new file here; the pool,
//! the gate, the retry loop and the collector take it as it is.

pub mod block;
pub mod delete;
pub mod get;
pub mod list;

pub use crate::net::client::HttpCall;
use crate::net::client::{Answer, Client, RetryAfter, TransportKind};

/// What one answer means for the request that got it. Every reason goes into the ledger.
#[derive(Clone, Debug, PartialEq)]
pub enum Step<D> {
    /// Done as asked, with what the answer told (block record ids, `affected`, a page).
    Done(D),
    /// A fault worth another attempt; `server_fault` counts toward the circuit breaker.
    Retry { reason: String, server_fault: bool },
    /// 429: the whole pool waits; no attempt is used.
    RateLimited {
        retry_after: Option<RetryAfter>,
        reason: String,
    },
    /// Refused as a whole, and it can be cut in two ([`Operation::split`]): bisect.
    Split { reason: String },
    /// The server refused this one request by name: sending it again will not help.
    Refused { reason: String },
    /// Stop the run (credentials, account, certificate).
    Abort { reason: String },
    /// Give up on it; `kind` names the failure where the text does not.
    Failed {
        reason: String,
        kind: Option<&'static str>,
    },
}

/// Something the pool can send: one request's worth of work.
pub trait Operation: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The request, prepared once (the block body, the DELETE's URL...).
    type Request: Send + Sync + 'static;
    /// What a success carries to whoever collects outcomes.
    type Done: std::fmt::Debug + Send + 'static;

    fn prepare(&self, client: &Client) -> Self::Request;
    fn http(request: &Self::Request) -> &HttpCall;
    /// How the answer reads, for this operation.
    fn judge(&self, answer: &Answer) -> Step<Self::Done>;
    /// The values it concerns (IDs for a block, 1 for a delete): progress and "not sent".
    fn size(&self) -> u64;
    /// The outcome when no request is needed at all (contacts an unblock found no record
    /// for): the pool records it without sending. Only `Done` and `Failed` are used.
    fn without_request(&self) -> Option<Step<Self::Done>> {
        None
    }
    /// Its two halves, after [`Step::Split`] (only asked when `size() > 1`).
    fn split(&self) -> (Self, Self);
    /// Where it came from, for logs.
    fn seq(&self) -> u64;
}

/// The answers every operation reads alike: no answer (retried; an unverifiable
/// certificate aborts), 429 (the pool waits), 400 (refused: an operation that gives a 400
/// a meaning of its own reads it first), 401/403/404 (abort), 408/5xx (retried), any other
/// status (failed). A 200 is the operation's own to read: here it is `unrecognized_answer`.
pub fn common_step<D>(answer: &Answer) -> Step<D> {
    let (status, retry_after, body) = match answer {
        Answer::Transport {
            kind: TransportKind::Certificate,
            message,
        } => {
            return Step::Abort {
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
            return Step::Retry {
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
    let snippet = body_snippet(body);
    match status {
        200 => Step::Failed {
            reason: format!("HTTP 200 with an answer this client cannot read: {snippet}"),
            kind: Some(UNRECOGNIZED),
        },
        429 => Step::RateLimited {
            retry_after,
            reason: format!("HTTP 429 rate limited: {snippet}"),
        },
        400 => Step::Refused {
            reason: refusal_reason(body, &snippet),
        },
        401 | 403 => Step::Abort {
            reason: format!(
                "HTTP {status}: the server refused the API key (check ACQUIRE_API_KEY or --api-key-file): {snippet}"
            ),
        },
        404 => Step::Abort {
            reason: format!(
                "HTTP 404: no such endpoint (check --account or --base-url): {snippet}"
            ),
        },
        408 | 500 | 502 | 503 | 504 => Step::Retry {
            reason: format!("HTTP {status}: {snippet}"),
            server_fault: true,
        },
        _ => Step::Failed {
            reason: format!("HTTP {status}: {snippet}"),
            kind: None,
        },
    }
}

/// Names the kind of a failure for counting and grouping (summaries, reports, the HTML
/// picture): the HTTP status, or for failures without an answer a class read from the
/// error text (`dns`, `connection refused`, `tls`, `timeout`, `connection reset`, ...).
pub fn failure_kind(http_status: Option<u16>, error: Option<&str>) -> String {
    let error = error.unwrap_or_default().to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| error.contains(word));
    match http_status {
        Some(200) => "not blocked".to_owned(),
        Some(400) if error.contains("invalid") => "invalid input".to_owned(),
        Some(status) => format!("http {status}"),
        None if has(&["dns error", "lookup address", "name or service not known"]) => {
            "dns".to_owned()
        }
        None if has(&["certificate", "tls", "handshake"]) => "tls".to_owned(),
        None if has(&["refused"]) => "connection refused".to_owned(),
        None if has(&["timed out", "timeout", "no whole answer"]) => "timeout".to_owned(),
        None if has(&[
            "reset",
            "broken pipe",
            "broke off",
            "connection closed",
            "incomplete",
        ]) =>
        {
            "connection reset".to_owned()
        }
        None if has(&["connect", "unreachable"]) => "connection".to_owned(),
        None if has(&["interrupt", "cancel"]) => "interrupted".to_owned(),
        None if error.trim().is_empty() => "unknown".to_owned(),
        None => "other".to_owned(),
    }
}

/// The `kind` of a failure whose answer this client could not read.
pub const UNRECOGNIZED: &str = "unrecognized_answer";

/// The API's documented error type for "already there".
pub const DUPLICATE_ERROR: &str = "ERROR_DUPLICATE_RECORD_FOUND";

/// Whether a 400's body names the documented duplicate-record error.
pub fn names_duplicate(body: &[u8]) -> bool {
    memchr::memmem::find(body, DUPLICATE_ERROR.as_bytes()).is_some()
}

/// What a 400 says, for the ledger: already blocked (a duplicate record), or invalid input.
pub fn refusal_reason(body: &[u8], snippet: &str) -> String {
    if names_duplicate(body) {
        format!("HTTP 400 already blocked: {snippet}")
    } else {
        format!("HTTP 400 invalid input: {snippet}")
    }
}

/// The status and body of an HTTP answer (none for a transport failure).
pub fn http_parts(answer: &Answer) -> Option<(u16, &[u8])> {
    match answer {
        Answer::Http { status, body, .. } => Some((*status, body)),
        Answer::Transport { .. } => None,
    }
}

/// How much of a body goes into a ledger error.
const SNIPPET: usize = 200;

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::net::client::RetryAfter;

    fn step(answer: &Answer) -> Step<()> {
        common_step(answer)
    }

    #[test]
    fn server_faults_and_network_errors_are_retried() {
        for status in [408, 500, 502, 503, 504] {
            assert!(
                matches!(
                    step(&Answer::of(status, "oops")),
                    Step::Retry {
                        server_fault: true,
                        ..
                    }
                ),
                "{status}"
            );
        }
        let reset = Answer::Transport {
            kind: TransportKind::Other,
            message: "connection reset".into(),
        };
        assert!(matches!(step(&reset), Step::Retry { .. }));
    }

    #[test]
    fn refusals_are_refused_credentials_abort_and_other_statuses_fail() {
        let Step::Refused { reason } = step(&Answer::of(400, r#"{"error":"ERROR_INVALID_INPUT"}"#))
        else {
            panic!()
        };
        assert!(reason.contains("invalid input"), "{reason}");
        let Step::Refused { reason } = step(&Answer::of(
            400,
            r#"{"error":"ERROR_DUPLICATE_RECORD_FOUND"}"#,
        )) else {
            panic!()
        };
        assert!(reason.contains("already blocked"), "{reason}");
        for status in [401, 403, 404] {
            assert!(
                matches!(step(&Answer::of(status, "")), Step::Abort { .. }),
                "{status}"
            );
        }
        assert!(matches!(
            step(&Answer::of(422, "")),
            Step::Failed { kind: None, .. }
        ));
        assert!(matches!(
            step(&Answer::of(200, "{}")),
            Step::Failed {
                kind: Some(UNRECOGNIZED),
                ..
            }
        ));
    }

    #[test]
    fn rate_limits_keep_retry_after() {
        let answer = Answer::Http {
            status: 429,
            retry_after: RetryAfter::parse("3"),
            body: vec![],
            advertised: None,
        };
        let Step::RateLimited { retry_after, .. } = step(&answer) else {
            panic!()
        };
        assert_eq!(retry_after, Some(RetryAfter::Delay(Duration::from_secs(3))));
    }

    #[test]
    fn an_unverifiable_certificate_aborts_and_says_what_to_check() {
        let answer = Answer::Transport {
            kind: TransportKind::Certificate,
            message: "invalid peer certificate: UnknownIssuer".into(),
        };
        let Step::Abort { reason } = step(&answer) else {
            panic!("{:?}", step(&answer))
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
        assert!(matches!(step(&refused), Step::Retry { .. }));
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
