//! The API's calls and answers, one operation per file: what HTTP request each needs and
//! how its answer reads as a [`Step`] for the sending machinery (`pool.rs`), which knows
//! nothing of which operation it sends.
//!
//! - `block`: `POST /crm/block-visitor` for a batch of IDs (a [`crate::values::batch::Batch`]);
//! - `delete`: `DELETE /crm/block-visitor?id=N` for one block record (`delete_text`: the
//!   same for an email or IP record, carrying its strings);
//! - `list`: `GET /crm/block-visitor?offset=&limit=`, one page of block records.
//!
//! A fourth operation is a type implementing [`Operation`] in a new file here; the pool,
//! the gate, the retry loop and the collector take it as it is.

pub mod block;
pub mod block_text;
pub mod delete;
pub mod delete_text;
pub mod list;

use bytes::Bytes;
use hyper::{Method, Uri};

use crate::net::client::{Answer, Client, RetryAfter, Verdict, body_snippet, classify};

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

/// One HTTP request as the client sends it: built once per operation, for all attempts.
#[derive(Clone, Debug)]
pub struct HttpCall {
    pub method: Method,
    /// Path and query; `None` is the endpoint's own path (`/api/v1/crm/block-visitor`).
    pub target: Option<Uri>,
    pub body: Bytes,
    /// Most bytes of the answer read (hostile servers are capped).
    pub max_body: usize,
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

/// The answers every operation reads alike (transport, 429, 401/403/404, 5xx, other
/// statuses), from `client::classify`; a 400 is `Refused` (the caller looks at 400s that
/// mean something to it first) and any 200 is `unrecognized` (the caller reads its own).
pub fn common_step<D>(answer: &Answer) -> Step<D> {
    common_step_of(classify(answer), answer)
}

/// [`common_step`] for an answer already classified (`verdict` is `classify(answer)`).
pub fn common_step_of<D>(verdict: Verdict, answer: &Answer) -> Step<D> {
    match verdict {
        Verdict::Retry {
            reason,
            server_fault,
        } => Step::Retry {
            reason,
            server_fault,
        },
        Verdict::RateLimited {
            retry_after,
            reason,
        } => Step::RateLimited {
            retry_after,
            reason,
        },
        Verdict::Abort { reason } => Step::Abort { reason },
        Verdict::Duplicate { reason } | Verdict::Split { reason } => Step::Refused { reason },
        Verdict::Failed { reason } => Step::Failed { reason, kind: None },
        Verdict::Unrecognized { reason } => Step::Failed {
            reason,
            kind: Some("unrecognized_answer"),
        },
        Verdict::Blocked { .. } => Step::Failed {
            reason: format!(
                "HTTP 200 with an answer this client cannot read: {}",
                http_parts(answer).map_or_else(String::new, |(_, body)| body_snippet(body))
            ),
            kind: Some("unrecognized_answer"),
        },
    }
}

/// The status and body of an HTTP answer (none for a transport failure).
pub fn http_parts(answer: &Answer) -> Option<(u16, &[u8])> {
    match answer {
        Answer::Http { status, body, .. } => Some((*status, body)),
        Answer::Transport { .. } => None,
    }
}
