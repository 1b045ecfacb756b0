//! The Acquire client: builds one block request, reads the answer, and classifies it.
//!
//! `classify` is a pure function from an answer to a verdict, so the whole retry policy can
//! be tested without a network. The constraint kept here: the key goes only into a header
//! marked sensitive, redirects are never followed (the key must not travel to another
//! host), and at most `MAX_BODY` bytes of any answer are read.

use std::time::Duration;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::http::uri::Scheme;
use hyper::{Method, Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ClientConfig;
use rustls_platform_verifier::ConfigVerifierExt;
use tokio::net::TcpStream;
use tower_service::Service;
use url::Url;

use crate::api_key::ApiKey;
use crate::id_list::write_json_ids;
use crate::ledger::timestamp;

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

/// The request body exactly as the API documents it:
/// `{"data":[…],"type":"contact","blockTill":"2021-09-09T07:08:12.658Z"}`.
pub fn request_body(ids: &[u64], block_till: DateTime<Utc>) -> Vec<u8> {
    // Written by hand around the ID list (see `id_list`); a timestamp in this form holds
    // nothing JSON would escape.
    let mut body = Vec::with_capacity(ids.len() * 21 + 80);
    body.extend_from_slice(br#"{"data":"#);
    write_json_ids(&mut body, ids);
    body.extend_from_slice(br#","type":"contact","blockTill":""#);
    timestamp::write(&mut body, &block_till);
    body.extend_from_slice(br#""}"#);
    body
}

/// Sends block requests to one endpoint with one key.
///
/// Built on hyper's pooled client rather than reqwest: reqwest's per-request layers
/// (redirect policy, URL re-parsing, default-header copies) were a tenth of a run's CPU,
/// and this client needs none of them. What reqwest gave that is kept here: rustls with
/// the platform's roots, keep-alive, a timeout, and `HTTPS_PROXY`/`NO_PROXY`.
#[derive(Clone)]
pub struct Client {
    http: HttpClient<HttpsConnector<Dialer>, Full<Bytes>>,
    url: Url,
    uri: Uri,
    /// `Bearer <key>`, marked sensitive so hyper never shows it.
    auth: HeaderValue,
    timeout: Duration,
}

const USER_AGENT_VALUE: &str = concat!("blockade/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// Builds the client. `idle_per_host` should be the concurrency, so connections are
    /// kept and reused instead of opened per request.
    pub fn new(
        url: Url,
        key: &ApiKey,
        timeout: Duration,
        idle_per_host: usize,
    ) -> Result<Client, ClientError> {
        // rustls is built with ring only (see DEPENDENCIES.md): install it as the process
        // default. An error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| ClientError::Build("the API key is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let uri: Uri = url
            .as_str()
            .parse()
            .map_err(|e| ClientError::Build(format!("the URL {url} is not usable: {e}")))?;
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeout.min(Duration::from_secs(10))));
        let dialer = Dialer::for_target(&uri, tcp);
        let tls = if uri.scheme() == Some(&Scheme::HTTPS) {
            ClientConfig::with_platform_verifier().map_err(|e| {
                ClientError::Build(format!("cannot load the system's TLS roots: {e}"))
            })?
        } else {
            // A plain-HTTP target (the imitation) never uses TLS: loading the system's
            // roots would only add a few milliseconds to every start.
            ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(dialer);
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(idle_per_host)
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(Client {
            http,
            url,
            uri,
            auth,
            timeout,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends one batch and reads the answer. Never fails: transport trouble is an `Answer`.
    pub async fn send(&self, ids: &[u64], block_till: DateTime<Utc>) -> Answer {
        let mut request = Request::new(Full::new(Bytes::from(request_body(ids, block_till))));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, self.auth.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        let exchange = async {
            match self.http.request(request).await {
                Ok(response) => read_answer(response).await,
                Err(error) => transport_answer(&error),
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
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
}

async fn read_answer(response: Response<Incoming>) -> Answer {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(RetryAfter::parse);
    let mut incoming = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        match frame {
            Ok(frame) => {
                let Ok(chunk) = frame.into_data() else {
                    continue; // trailers
                };
                let room = MAX_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY {
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
    }
}

fn transport_answer(error: &hyper_util::client::legacy::Error) -> Answer {
    let kind = if error.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    };
    Answer::Transport {
        kind,
        message: error_chain("request failed", error),
    }
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

/// Opens the TCP connection under TLS: directly, or, when `HTTPS_PROXY` (or `ALL_PROXY`)
/// names a proxy and `NO_PROXY` does not exempt the host, through a CONNECT tunnel.
/// Plain-HTTP targets (the imitation) are always reached directly.
#[derive(Clone)]
enum Dialer {
    Direct(HttpConnector),
    Tunnel(Tunnel<HttpConnector>),
}

impl Dialer {
    fn for_target(target: &Uri, tcp: HttpConnector) -> Dialer {
        if target.scheme() != Some(&Scheme::HTTPS) {
            return Dialer::Direct(tcp);
        }
        match Matcher::from_env().intercept(target) {
            Some(proxy) => {
                tracing::info!(proxy = %proxy_without_credentials(proxy.uri()), "Connecting through a proxy");
                let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Dialer::Tunnel(tunnel)
            }
            None => Dialer::Direct(tcp),
        }
    }
}

/// A proxy URL for the log, without any `user:password@`.
fn proxy_without_credentials(uri: &Uri) -> String {
    let host = uri.host().unwrap_or("?");
    match uri.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Dialer::Direct(tcp) => tcp.poll_ready(cx).map_err(Into::into),
            Dialer::Tunnel(tunnel) => tunnel.poll_ready(cx).map_err(Into::into),
        }
    }

    // Called once per new connection, not per request: the box costs nothing that shows.
    fn call(&mut self, target: Uri) -> Self::Future {
        match self {
            Dialer::Direct(tcp) => {
                let connecting = tcp.call(target);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Dialer::Tunnel(tunnel) => {
                let connecting = tunnel.call(target);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
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
